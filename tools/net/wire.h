// The message layer between agents (and between the launcher and agents).
//
// Every frame is: a fixed header {magic, version, type, from} followed by the
// cereal-serialised body of one message type. Decoding never throws and never
// trusts a length field: a frame that is short, has a wrong magic or version,
// names an unknown type, declares a string longer than its bound or carries
// trailing bytes is reported as a DecodeError, which the caller logs and drops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gpt::wire {

using NodeId = std::uint32_t;

inline constexpr std::uint32_t kMagic = 0x31545047;  // "GPT1" little-endian
inline constexpr std::uint16_t kVersion = 4;
// The launcher takes part in the control plane under this id.
inline constexpr NodeId kLauncherId = 0xFFFFFFFFu;
// Upper bound on any free-text field (endpoints, causes, reasons).
inline constexpr std::size_t kMaxText = 4096;
// Upper bound on the number of nodes in a job (bounds the peer table).
inline constexpr std::size_t kMaxNodes = 4096;
inline constexpr std::size_t kMaxForwardedBytes = 65536;  // a forwarded call's blob

// No frame on the wire is longer than this. A longer message (a release's
// DiffBatch of many pages, a large job's PeerTable) travels as FrameParts
// that the receiver's gate puts back together (message_gate.h); transports
// refuse a longer frame before reading it (ZeroMQ's ZMQ_MAXMSGSIZE), so a
// peer that claims a huge frame costs nothing.
inline constexpr std::size_t kMaxFrameBytes = std::size_t{1} << 20;
// What one FramePart carries: the frame bound less room for its header.
inline constexpr std::size_t kMaxPartBytes = kMaxFrameBytes - 64;
// The longest message put back together from parts (a DiffBatch of
// kMaxPagesPerMessage full diffs is ~672 MiB).
inline constexpr std::size_t kMaxAssembledBytes = std::size_t{1} << 30;

// ---- control plane: launcher <-> agents -----------------------------------
// Agent -> launcher: "I am up; peers reach me at data_endpoint".
struct Hello {
  NodeId node = 0;
  std::string data_endpoint;
  std::int32_t agent_pid = 0;
};
// Launcher -> agents: every node's data endpoint, indexed by node id.
struct PeerTable {
  std::vector<std::string> endpoints;
};
// Agent -> launcher: the application process of `node` runs as `app_pid`.
struct AppStarted {
  NodeId node = 0;
  std::int32_t app_pid = 0;
};
// Agent 0 -> launcher: main returned / the origin process ended.
// `wait_status` is the raw waitpid() status.
struct MainExited {
  std::int32_t wait_status = 0;
};
// Agent -> launcher: something on `node` died or failed; `cause` is for humans.
struct NodeFailed {
  NodeId node = 0;
  std::int32_t pid = 0;
  std::string cause;
  std::int32_t wait_status = 0;  // the program's, if it died (the job ends as it did)
};
// Agent -> launcher (gpt-launch --profile), once the job ends: the node's
// wait records as JSON (tools/gpt-node/profile_dump.h).
struct ProfileReport {
  std::string json;
};
inline constexpr std::size_t kMaxProfileBytes = std::size_t{64} << 20;
// Launcher -> agents: end the job now.
struct Shutdown {
  std::string reason;
};

// ---- framing ---------------------------------------------------------------
// Any sender -> any receiver: the next piece of one encoded message longer
// than kMaxFrameBytes; the pieces of one message follow each other from
// one sender, the last one marked.
struct FramePart {
  std::uint8_t last = 0;
  std::vector<std::byte> bytes;  // at most kMaxPartBytes
};

// ---- data plane: agent <-> agent -------------------------------------------
struct Ping {
  std::uint64_t seq = 0;
  std::uint64_t payload_bytes = 0;  // size of `pad`, for benchmarks
  std::vector<std::byte> pad;
};
struct Pong {
  std::uint64_t seq = 0;
  std::vector<std::byte> pad;
};

// ---- coherence (docs/coherence.md) -----------------------------------------
// Upper bound on the pages (or diffs) one message may carry.
inline constexpr std::size_t kMaxPagesPerMessage = 1u << 16;
inline constexpr std::size_t kPageBytes = 4096;

// Upper bound on the pages one PageRequest may ask for (prefetching).
inline constexpr std::size_t kMaxPagesPerFetch = 16;

// Requester -> home: send me `count` pages from `page` on (page indices,
// region.h), all homed at the receiver.
struct PageRequest {
  std::uint64_t request = 0;
  std::uint64_t page = 0;
  std::uint32_t count = 1;
};
// Home -> requester: the pages' current contents (count * kPageBytes).
struct PageData {
  std::uint64_t request = 0;
  std::uint64_t page = 0;
  std::vector<std::byte> bytes;
};
// Writer -> home: diffs (tools/gpt-node/page_diff.h format) to apply, one per page.
// `notices`, only ever sent to node 0 (the notice manager) and only once
// every other home has acknowledged its diffs: the write notices of the
// whole release, logged right after these diffs are applied (the release
// then costs one round trip to node 0 instead of two).
struct DiffBatch {
  std::uint64_t request = 0;
  std::vector<std::uint64_t> pages;
  std::vector<std::vector<std::byte>> diffs;  // diffs[i] belongs to pages[i]
  std::vector<std::uint64_t> notices;
};
// Home -> writer: the diffs were applied (`rejected` of them were malformed);
// `epoch` is the notices' epoch when the batch carried notices, else 0.
struct DiffAck {
  std::uint64_t request = 0;
  std::uint32_t rejected = 0;
  std::uint64_t epoch = 0;
};
// Write notices from the notice manager (node 0) to one node: the pages
// other nodes wrote in the epochs after the last list node 0 sent that node,
// up to `epoch`. Node 0 adds the current contents of a few of them (homed at
// node 0, and fetched by that node before), so that node reads them again
// without a fetch. Rides on NoticeList, BarrierRelease and LockGrant.
inline constexpr std::size_t kMaxUpdatePages = 8;
// The epoch a lock or barrier message carries when its sender's latest
// release is not numbered yet: its taker asks node 0. A message that also
// gathers others' epochs (a barrier's departure, a semaphore's grant)
// carries a *pending* epoch instead: at least `floor`, and this node's own
// once node 0 has numbered it. The sender's gate (net::MessageGate) turns
// either into a plain epoch when the message leaves for a node other than
// 0; node 0 settles them itself (it has the release); anyone else holding
// one asks node 0. kEpochUnknown is the pending epoch with floor 0.
inline constexpr std::uint64_t kEpochPendingBit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kEpochUnknown = ~std::uint64_t{0};
[[nodiscard]] constexpr bool epoch_pending(std::uint64_t epoch) { return (epoch & kEpochPendingBit) != 0; }
[[nodiscard]] constexpr std::uint64_t pending_epoch(std::uint64_t floor) { return floor | kEpochPendingBit; }
[[nodiscard]] constexpr std::uint64_t epoch_floor(std::uint64_t epoch) {
  return epoch == kEpochUnknown ? 0 : epoch & ~kEpochPendingBit;
}
struct Notices {
  std::uint64_t epoch = 0;  // 0: carries nothing
  std::vector<std::uint64_t> pages;
  std::vector<std::uint64_t> update_pages;
  std::vector<std::byte> update_bytes;  // update_pages.size() * kPageBytes
};
// Acquirer -> notice manager: the notices I have not been sent yet.
struct NoticeQuery {
  std::uint64_t request = 0;
};
struct NoticeList {
  std::uint64_t request = 0;
  Notices notices;
};
// Node -> barrier manager (node 0): arrived at barrier generation
// `generation` (its release, sent before, is logged first).
struct BarrierArrive {
  std::uint64_t generation = 0;
};
// Barrier manager -> each node: everyone arrived at `generation`. Carries
// that node's write notices (pages others wrote after its `since`), so the
// acquire at barrier departure costs no extra round trip.
struct BarrierRelease {
  std::uint64_t generation = 0;
  Notices notices;
};

// Node -> home: free these objects of the home's partition (batched frees
// of another node's memory, snmalloc-style). One-way.
struct RemoteFrees {
  std::vector<std::uint64_t> pointers;
};

// ---- threads (docs/threads.md) -----------------------------------------------
// Creator's agent -> the chosen node's agent: run the thread whose control
// block is at `tcb` (global address).
struct SpawnThread {
  std::uint64_t tcb = 0;
  // Like a lock token: the notices its creator saw (and node 0's notices
  // when node 0 sends it), so the thread's start acquires without asking.
  std::uint64_t epoch = 0;
  Notices notices;
};
// The node a thread left -> the node it migrates to: resume it (its context
// is in its control block, released).
struct MigrateThread {
  std::uint64_t tcb = 0;
  std::uint64_t epoch = 0;  // as SpawnThread
  Notices notices;
};
// ---- the libc shim (docs/libc-shim.md) --------------------------------------
// A node -> the origin: run this call there (an opaque blob, see
// libc-shim/forwarded_call.h); the reply carries its result.
struct SyscallRequest {
  std::uint64_t request = 0;
  std::vector<std::byte> blob;
};
struct SyscallReply {
  std::uint64_t request = 0;
  std::vector<std::byte> blob;
};
// The origin -> every node, as the job ends: flush your stdio; and back.
struct FlushStdio {
  std::uint64_t request = 0;
};
struct StdioFlushed {
  std::uint64_t request = 0;
};

// ---- signals (docs/threads.md) -------------------------------------------------
// Any node -> the node a thread runs on: deliver `sig` to it.
struct KillThread {
  std::uint64_t tcb = 0;
  std::int32_t sig = 0;
  std::uint32_t hops = 0;  // nodes that passed it on (the thread had left them)
};
// A node -> every other: the program set this disposition; set it too.
struct SignalAction {
  std::int32_t sig = 0;
  std::uint64_t handler = 0;
  std::uint64_t flags = 0;
  std::uint64_t mask = 0;
};
// A node -> every other: `sig` is pending for my process and no thread of
// it takes it; has yours a thread that does (not blocked, or in sigwait)?
struct ProcessSignalProbe {
  std::uint64_t request = 0;
  std::int32_t sig = 0;
};
// The answer to a ProcessSignalProbe.
struct ProcessSignalTaker {
  std::uint64_t request = 0;
  std::int32_t sig = 0;
  std::uint32_t can_take = 0;  // 1: a thread of this node's process takes it now
};
// A node -> the taker: raise `sig` in your process (the sender dequeued it),
// with its siginfo's code, sender pid and uid, and sigqueue's value.
struct ProcessSignal {
  std::int32_t sig = 0;
  std::int32_t code = 0;
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint64_t value = 0;
};

// Any node -> the home of `tcb`: nobody will join that thread.
struct DetachThread {
  std::uint64_t tcb = 0;
};
// Running node -> the home of `tcb`: that thread has ended.
struct ThreadExited {
  std::uint64_t tcb = 0;
  std::uint64_t epoch = 0;  // the notices the thread's node saw, its release included
};
// Joiner -> the home of `tcb`: tell me when that thread has ended.
struct JoinWait {
  std::uint64_t request = 0;
  std::uint64_t tcb = 0;
  std::uint8_t try_only = 0;  // answer at once: ended (consumed) or busy
};
struct JoinDone {
  std::uint64_t request = 0;
  std::int32_t status = 0;  // 0, or -EBUSY for a try that found it running
  std::uint64_t epoch = 0;  // the joiner needs the notices up to it
  Notices notices;          // from node 0
};

// Node 0 -> every node (itself included): your thread counts, for the
// census pthread_exit from main waits on. Counts only grow.
struct CensusQuery {
  std::uint64_t round = 0;
};
struct CensusReply {
  std::uint64_t round = 0;
  std::uint64_t spawned = 0;  // kSpawn requests of this node's program
  std::uint64_t ended = 0;    // kThreadExit requests of this node's program
};

// ---- locks (docs/threads.md): a token per lock, queued at its manager ------
struct LockRequest {  // node -> manager: I want the token
  std::uint64_t lock = 0;
  // A trylock: only if nobody holds the lock now; else LockBusy.
  bool try_only = false;
};
// Manager -> node: the token is yours. Whoever takes it must have seen the
// write notices up to `epoch`; when node 0 grants, it sends them along.
struct LockGrant {
  std::uint64_t lock = 0;
  std::uint64_t epoch = 0;
  Notices notices;
};
struct LockRecall {  // manager -> token holder: give it back when free
  std::uint64_t lock = 0;
  // For a trylock: give it back only if free now; else answer LockKept.
  bool if_free = false;
};
struct LockKept {  // holder -> manager: a conditional recall found it in use
  std::uint64_t lock = 0;
};
struct LockBusy {  // manager -> trylock's node: it is in use (EBUSY)
  std::uint64_t lock = 0;
};
struct LockReturn {  // holder -> manager: here it is (holders saw notices up to `epoch`)
  std::uint64_t lock = 0;
  std::uint64_t epoch = 0;
};
// A thread of a node without the token unlocks the lock (a normal mutex or a
// spinlock: any thread may, as with glibc): unlocker -> manager, which
// passes it on to the token's holder. The unlocker released its writes
// first; the lock's next taker must see notices up to `epoch`.
struct LockUnlock {
  std::uint64_t lock = 0;
  std::uint64_t epoch = 0;
  NodeId unlocker = 0;
  std::uint32_t slot = 0;  // the unlocker's channel slot, answered by LockUnlocked
  bool to_holder = false;  // passed on by the manager (else: for the manager)
};
struct LockUnlocked {  // holder (or manager) -> unlocker: the lock is free
  std::uint64_t lock = 0;
  std::uint32_t slot = 0;
};

// ---- pthread barriers: arrivals counted at the barrier's manager -----------
// Like lock tokens, arrivals carry the epoch of the notices their node saw
// (its release included) and departures the largest of them, with the
// notices themselves when node 0 manages the barrier.
// A manager lends a barrier to the node all of its last rounds' threads
// came from (`lease` in that node's last departure of the round); the node
// then counts its threads' arrivals itself (gpt/barrier_table.h) until an
// arrival from elsewhere makes the manager recall it. The node answers a
// recall with the threads that arrived there meanwhile: one arrival of that
// weight (maybe 0), marked `returned`.
struct BarrierWaitRequest {  // node -> manager: a thread arrived
  std::uint64_t request = 0;
  std::uint64_t barrier = 0;
  std::uint32_t count = 0;  // threads the barrier waits for
  std::uint64_t epoch = 0;
  std::uint32_t weight = 1;    // threads this arrival stands for
  std::uint32_t returned = 0;  // 1: the lease's end (answers BarrierRecall)
};
struct BarrierWaitDone {  // manager -> node: everyone arrived
  std::uint64_t request = 0;
  std::uint32_t serial = 0;  // 1 for exactly one waiter
  std::uint64_t epoch = 0;
  Notices notices;
  std::uint32_t lease = 0;  // non-zero: `barrier` is lent to this node, with this count
  std::uint64_t barrier = 0;
};
struct BarrierRecall {  // manager -> lessee: a thread arrived from elsewhere
  std::uint64_t barrier = 0;
};

// ---- condition variables: waiters queued FIFO at the condition's manager --
struct CondEnqueue {  // node -> manager: a thread will wait (ticket = request)
  std::uint64_t request = 0;
  std::uint64_t cond = 0;
};
struct CondEnqueued {  // manager -> node: queued (now the mutex may be unlocked)
  std::uint64_t request = 0;
};
struct CondSignal {  // any node -> manager: wake one (or all) waiters
  std::uint64_t cond = 0;
  std::uint32_t all = 0;
};
struct CondWake {  // manager -> waiter's node
  std::uint64_t ticket = 0;
};
struct CondCancel {  // waiter's node -> manager: timed out, forget the ticket
  std::uint64_t cond = 0;
  std::uint64_t ticket = 0;
};

// ---- POSIX semaphores: the count lives at the semaphore's manager ----------
// A semaphore is (address, incarnation): sem_init picks a new incarnation, so
// a re-initialised semaphore never meets its predecessor's count.
struct SemWait {  // node -> manager: take one (or say EAGAIN when `try_only`)
  std::uint64_t request = 0;
  std::uint64_t sem = 0;
  std::uint64_t incarnation = 0;
  std::uint32_t initial = 0;
  std::uint32_t try_only = 0;
};
// Posts carry the epoch of the notices their node saw (its release
// included) and grants the newest epoch of all posts so far (a count does
// not say which post a wait consumed), with the notices themselves when node
// 0 manages the semaphore: as for lock tokens, the waiter's agent then
// answers its acquire without asking node 0.
struct SemGranted {  // manager -> node: 0 = taken, EAGAIN = would block
  std::uint64_t request = 0;
  std::uint32_t result = 0;
  std::uint64_t epoch = 0;
  Notices notices;
};
struct SemPost {  // node -> manager: give one back
  std::uint64_t sem = 0;
  std::uint64_t incarnation = 0;
  std::uint32_t initial = 0;
  std::uint64_t epoch = 0;
};
struct SemCancel {  // waiter's node -> manager: timed out, forget the request
  std::uint64_t request = 0;
  std::uint64_t sem = 0;
  std::uint64_t incarnation = 0;
};
struct SemValueQuery {  // node -> manager: the count now
  std::uint64_t request = 0;
  std::uint64_t sem = 0;
  std::uint64_t incarnation = 0;
  std::uint32_t initial = 0;
};
struct SemValue {
  std::uint64_t request = 0;
  std::int64_t value = 0;
};

// ---- rwlocks: readers and writers counted at the lock's manager -----------
struct RwRequest {  // node -> manager: take it for reading or writing
  std::uint64_t request = 0;
  std::uint64_t lock = 0;
  std::uint32_t write = 0;
  std::uint32_t try_only = 0;
};
// Epochs as for semaphores: every release of a holder (a reader may have
// written too) raises the lock's epoch; grants carry it.
struct RwGranted {  // manager -> node: 0 = taken, EBUSY = would block
  std::uint64_t request = 0;
  std::uint32_t result = 0;
  std::uint64_t epoch = 0;
  Notices notices;
};
struct RwRelease {  // node -> manager: one holder (reader or writer) is done
  std::uint64_t lock = 0;
  std::uint32_t write = 0;
  std::uint64_t epoch = 0;
};
struct RwCancel {  // waiter's node -> manager: timed out
  std::uint64_t request = 0;
  std::uint64_t lock = 0;
};

// ---- thread-specific data keys: one job-wide registry at node 0 -----------
// sem_open/sem_close/sem_unlink (docs/threads.md): node -> node 0, which
// keeps the job's namespace of named semaphores, and back.
struct SemNameOp {
  std::uint64_t request = 0;
  std::uint32_t op = 0;       // channel::SemNameOp
  std::uint32_t oflag = 0;
  std::uint64_t address = 0;
  std::string name;
};
struct SemNameResult {
  std::uint64_t request = 0;
  std::int32_t error = 0;  // 0 or a positive errno
  std::uint64_t address = 0;
  std::uint8_t created = 0;
  std::uint8_t free_it = 0;
};

struct KeyOp {  // node -> node 0
  std::uint64_t request = 0;
  std::uint32_t op = 0;  // 1 create (destructor), 2 delete (key), 3 query (key)
  std::uint32_t key = 0;
  std::uint64_t destructor = 0;  // code address, the same on every node
};
struct KeyReply {  // node 0 -> node: result 0 or an errno
  std::uint64_t request = 0;
  std::uint32_t result = 0;
  std::uint32_t key = 0;
  std::uint64_t destructor = 0;
};

using Message =
    std::variant<Hello, PeerTable, AppStarted, MainExited, NodeFailed, Shutdown, Ping, Pong,
                 PageRequest, PageData, DiffBatch, DiffAck, NoticeQuery,
                 NoticeList, BarrierArrive, BarrierRelease, RemoteFrees, SpawnThread,
                 ThreadExited, JoinWait, JoinDone, LockRequest, LockGrant, LockRecall,
                 LockReturn, LockKept, LockBusy, LockUnlock, LockUnlocked, BarrierWaitRequest, BarrierWaitDone, BarrierRecall, CondEnqueue, CondEnqueued,
                 CondSignal, CondWake, CondCancel, SemWait, SemGranted, SemPost, SemCancel,
                 SemValueQuery, SemValue, RwRequest, RwGranted, RwRelease, RwCancel, KeyOp,
                 KeyReply, MigrateThread, SyscallRequest, SyscallReply, FlushStdio,
                 StdioFlushed, KillThread, SignalAction, DetachThread, CensusQuery, CensusReply,
                 SemNameOp, SemNameResult, FramePart, ProfileReport, ProcessSignalProbe,
                 ProcessSignalTaker, ProcessSignal>;

// Type tags on the wire; the order of the variant is not the wire contract.
enum class Type : std::uint16_t {
  kHello = 1,
  kPeerTable = 2,
  kAppStarted = 3,
  kMainExited = 4,
  kNodeFailed = 5,
  kShutdown = 6,
  kProfileReport = 7,
  kPing = 16,
  kPong = 17,
  kFramePart = 18,
  kPageRequest = 32,
  kPageData = 33,
  kDiffBatch = 34,
  kDiffAck = 35,
  kNoticeQuery = 38,
  kNoticeList = 39,
  kBarrierArrive = 40,
  kBarrierRelease = 41,
  kRemoteFrees = 42,
  kSpawnThread = 48,
  kThreadExited = 49,
  kJoinWait = 50,
  kJoinDone = 51,
  kMigrateThread = 52,
  kSyscallRequest = 112,
  kSyscallReply = 113,
  kFlushStdio = 114,
  kStdioFlushed = 115,
  kKillThread = 116,
  kSignalAction = 117,
  kProcessSignalProbe = 118,
  kProcessSignalTaker = 119,
  kProcessSignal = 120,
  kDetachThread = 53,
  kCensusQuery = 54,
  kCensusReply = 55,
  kLockRequest = 64,
  kLockGrant = 65,
  kLockRecall = 66,
  kLockReturn = 67,
  kLockKept = 76,
  kLockBusy = 77,
  kLockUnlock = 78,
  kLockUnlocked = 79,
  kBarrierWaitRequest = 68,
  kBarrierWaitDone = 69,
  kBarrierRecall = 75,
  kCondEnqueue = 70,
  kCondEnqueued = 71,
  kCondSignal = 72,
  kCondWake = 73,
  kCondCancel = 74,
  kSemWait = 80,
  kSemGranted = 81,
  kSemPost = 82,
  kSemCancel = 83,
  kSemValueQuery = 84,
  kSemValue = 85,
  kRwRequest = 88,
  kRwGranted = 89,
  kRwRelease = 90,
  kRwCancel = 91,
  kKeyOp = 96,
  kKeyReply = 97,
  kSemNameOp = 98,
  kSemNameResult = 99,
};

struct Envelope {
  NodeId from = 0;
  Message body;
};

enum class DecodeError {
  kTooShort,
  kBadMagic,
  kBadVersion,
  kUnknownType,
  kMalformed,      // body did not parse or a bound was exceeded
  kTrailingBytes,  // body parsed but bytes were left over
};

[[nodiscard]] std::string_view describe(DecodeError e);
[[nodiscard]] Type type_of(const Message& m);
[[nodiscard]] std::string_view name_of(Type t);

[[nodiscard]] std::vector<std::byte> encode(NodeId from, const Message& m);
[[nodiscard]] std::variant<Envelope, DecodeError> decode(std::span<const std::byte> frame);

}  // namespace gpt::wire
