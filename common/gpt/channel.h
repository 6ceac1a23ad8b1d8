// The shared-memory channel between a node's agent and its application
// process: one memfd, created by the agent, mapped by both.
//
// Layout: a Header, then kSlotCount request slots. An application thread
// makes a synchronous call to its agent by claiming a free slot, writing the
// request, publishing it (state kRequest) and ringing the agent's doorbell;
// the agent's channel server serves it, writes the reply (state kReply) and
// wakes the waiting thread with a futex on the slot's state word. No locks,
// no allocation: the client side is async-signal-safe, so the page-fault
// handler can use it. The agent tells the application to end through
// `shutdown` (a futex word the worker threads wait on).
//
// This header is shared by glibc C++20 code and the freestanding runtime:
// only <atomic>/<cstdint>/<cstddef>, no library calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gpt/lock_table.h"

namespace gpt::channel {

inline constexpr std::uint64_t kMagic = 0x4c4e4e4148435047ull;  // "GPCHANNL"
inline constexpr std::uint32_t kVersion = 7;
inline constexpr std::uint32_t kSlotCount = 64;
inline constexpr std::size_t kSlotBytes = 16384;

enum class SlotState : std::uint32_t {
  kFree = 0,     // nobody owns it
  kClaimed = 1,  // an application thread is writing a request
  kRequest = 2,  // published, waiting for the agent
  kServing = 3,  // the agent is working on it
  kReply = 4,    // reply written; the claiming thread reads it and frees it
};

enum class Op : std::uint32_t {
  kEcho = 1,  // reply = request payload (health check, benchmarks)
  // Coherence (docs/coherence.md). Page numbers are u64 indices into the heap.
  kFetchPage = 2,  // req: u64 first page, u64 count (same home, <= 16). The
                   // agent fetches them from their home into the memfd;
                   // reply: nothing (all of them), or u64 n: only the first
                   // n (>= 1) are in (copies the agent had).
  kRelease = 3,    // req: u64 pages[], write-protected by the caller. The agent
                   // sends their diffs home and the write notices to node 0;
                   // it replies once nothing can overtake them (u64 epoch,
                   // 0 if node 0 has not numbered them yet).
  kAcquire = 4,    // req: nothing, or u32 synced: 1 after a lock token from
                   // another node, a barrier departure, a thread's start or
                   // a join (the agent may answer without asking node 0,
                   // docs/coherence.md). reply:
                   // u64 cursor, u64 total, u64 epoch, u64 copies, then the
                   // first u64 pages[] written by other nodes since the epoch
                   // this node applied (Header::acquired_epoch); kAcquireMore
                   // fetches the rest. Then u64 copy_pages[copies] and their
                   // bytes: current copies of some listed pages (from node 0).
  kRemoteFree = 6,  // req: u32 home, u32 0, u64 pointers[] to free at `home`
                    // (their memory is home's). One-way: reply at once.
  // Threads (docs/threads.md). A thread is named by its control block's
  // global address (u64 tcb).
  kSpawn = 8,       // req: u32 node, u32 slot, u64 tcb [, u64 detached]. Node runs the thread;
                    // the home frees its vehicle slot (kFreeSlot) at its end.
  kThreadExit = 9,  // req: u64 tcb. The thread has ended (after its release).
  kJoin = 10,       // req: u64 tcb [, u64 try]. Returns once that thread has
                    // ended; with try != 0 at once, -EBUSY if it has not.
  kDetach = 35,     // req: u64 tcb: nobody will join it; its home frees the
                    // control block when it ends (kFreeTcb)
  kMigrate = 28,    // req: u32 node, u32 0, u64 tcb. The thread left this
                    // node (released, context saved); node resumes it.
  // The libc shim (docs/libc-shim.md). A forwarded call's request and reply
  // are the blobs of libc-shim/forwarded_call.h; the agents only
  // carry them.
  kForward = 29,       // remote node: run this call on the origin; reply: its result
  kFlushNodes = 30,    // origin, at exit: req u32 node to skip (or ~0). Returns once
                       // every other node has flushed its stdio (or 2 s passed).
  kStdioFlushed = 31,  // a node's service thread: its kFlushStdio is done.
  // Signals across nodes (docs/threads.md).
  kKill = 32,          // req: KillRequest: signal that thread there
  kSignalAction = 33,  // req: SignalDisposition: a handler set here, for every node
  kSignalQuery = 34,   // req: u32 sig; reply: SignalDisposition (what to install)
  // Locks: req u64 lock address, u32 manager node, u32 0.
  kLock = 12,       // returns holding the lock's token: status 0 (it never
                    // left this node: nothing to acquire) or kLockFromAfar
  kTryLock = 13,    // as kLock, or -EBUSY at once (then the token is asked
                    // for, so a later try can succeed)
  kUnlock = 14,
  kTimedLock = 27,  // as kLock, + i64 timeout ns: or -ETIMEDOUT
  kUnlockReleased = 36,  // kUnlock's request, then u64 pages[] the caller
                         // write-protected: release them, then unlock. The
                         // token may leave before the release completes
                         // (docs/coherence.md); reply u64 epoch once it has.
  kLockFlushed = 20,  // req: u64 lock: the service thread released; the
                      // token may leave this node now.
  // Condition variables: req u64 cond, u32 manager, u32 0 (+ below).
  kCondEnqueue = 16,  // returns u64 ticket once queued at the manager
  kCondSleep = 17,    // + u64 ticket, i64 timeout ns (< 0: none); 0 or -ETIMEDOUT
  kCondSignal = 18,   // + u32 all (0: one waiter)
  // Semaphores: req u64 sem, u32 manager, u32 initial, u64 incarnation (+ below).
  kSemWait = 21,      // + i64 timeout ns (< 0: none), u32 try: 0, -EAGAIN or -ETIMEDOUT
  kSemPost = 22,
  kSemGetValue = 23,  // reply: i64 value
  // Rwlocks: req u64 lock, u32 manager, u32 write (+ i64 timeout ns, u32 try
  // for kRwLock): 0, -EBUSY or -ETIMEDOUT.
  kRwLock = 24,
  kRwUnlock = 25,
  // Keys: req u32 op (1 create, 2 delete, 3 query), u32 key, u64 destructor;
  // reply u32 key, u32 0, u64 destructor; status 0 or a negative errno.
  kKey = 26,
  kBarrierWait = 15,  // req: u64 barrier, u32 manager, u32 count [, u64 token
                      // after kReleaseForBarrierWait]. Returns when `count`
                      // threads arrived; status 1 for one of them.
  kAcquireMore = 11,  // the rest of a long kAcquire/kBarrier list: req u64
                      // cursor, u64 offset; reply: u64 pages[] from there.
  kBarrier = 5,    // req: nothing. Returns when every node has arrived, with
                   // the same reply as kAcquire (the barrier's acquire).
  kReleaseForBarrier = 37,  // as kRelease, and a kBarrier follows: once the
                            // release is on its way, the agent arrives at the
                            // barrier for it (the program's kBarrier joins it).
  kReleaseForBarrierWait = 38,  // kBarrierWait's request with u64 token (the
                                // thread), then u64 pages[]: as kRelease, and
                                // the agent arrives at that barrier for the
                                // thread; its kBarrierWait (same request and
                                // token) joins the arrival.
};



// kLock/kTryLock status: the token came from another node; acquire. The
// reply may carry the acquire's whole answer already (kAcquire's reply
// format, no cursor): then the program applies it without a kAcquire.
inline constexpr std::int32_t kLockFromAfar = 1;

// kKill: signal the thread `tcb` on `node`. A node the thread has left
// passes the signal on to where the thread went (its control block says),
// `hops` counting how often that happened already, so a signal follows a
// migrating thread instead of being lost, and a stale view cannot pass it
// round for ever (kMaxKillHops).
struct KillRequest {
  std::uint32_t node = 0, sig = 0;
  std::uint64_t tcb = 0;
  std::uint32_t hops = 0, pad = 0;
};
inline constexpr std::uint32_t kMaxKillHops = 8;
// The kKillThread downcall's argument: tcb in the low kKillTcbBits bits
// (the global space lies below 2^48), hops in the next 8, the signal in the
// top 8.
inline constexpr unsigned kKillTcbBits = 48;

struct alignas(64) SlotHeader {
  std::atomic<std::uint32_t> state;
  std::uint32_t op;
  std::uint32_t length;  // valid payload bytes (request, then reply)
  std::int32_t status;   // reply status: 0, or a negative errno
};

inline constexpr std::size_t kSlotPayload = kSlotBytes - sizeof(SlotHeader);

struct alignas(64) Slot {
  SlotHeader h;
  unsigned char payload[kSlotPayload];
};
static_assert(sizeof(Slot) == kSlotBytes);

struct alignas(64) Header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t node_id;
  std::uint32_t node_count;
  std::uint32_t slot_count;
  // The global address space (gpt/region.h): base, heap size, and the memfd
  // that backs it (an inherited fd number; -1 when there is no heap).
  std::uint64_t region_base;
  std::uint64_t heap_bytes;
  std::int32_t heap_fd;
  // The agent's eventfd: the application writes 1 to it after publishing a
  // request, which wakes the agent's poll loop. -1: futex-wake
  // `agent_doorbell` instead (unit tests without an agent loop).
  std::int32_t doorbell_fd;
  // Non-zero in SPMD mode (gpt-launch --spmd): every node runs main.
  std::uint32_t spmd;
  // How long a caller yields its core waiting for a reply before it sleeps
  // (GPT_SPIN_US; 0: sleep at once). See Client::await_reply.
  std::uint32_t wait_spin_us;
  // Bumped by the application after publishing a request.
  alignas(64) std::atomic<std::uint32_t> agent_doorbell;
  // Set to 1 by the agent when the job ends; worker threads wait on it.
  alignas(64) std::atomic<std::uint32_t> shutdown;
  // Counters the application keeps; the agent reads them for GPT_STATS.
  alignas(64) std::atomic<std::uint64_t> read_faults;
  std::atomic<std::uint64_t> write_faults;
  std::atomic<std::uint64_t> invalidations;
  std::atomic<std::uint64_t> releases;
  std::atomic<std::uint64_t> acquires;
  std::atomic<std::uint64_t> remote_frees_sent;
  std::atomic<std::uint64_t> remote_free_batches;  // messages carrying them
  std::atomic<std::uint64_t> remote_frees_received;
  std::atomic<std::uint64_t> bad_remote_frees;
  std::atomic<std::uint64_t> copies_installed;  // page copies an acquire installed
  // Counters the agent keeps, for the application to read (galloc_stats).
  std::atomic<std::uint64_t> acquires_answered_here;  // no message to node 0
  std::atomic<std::uint64_t> fetches_from_copies;     // faults served by page copies
  // Raised (never lowered) by the application once every page noticed up
  // to this epoch is invalid here, so later acquires need not list them.
  // Until then concurrent acquires get them again (harmless).
  alignas(64) std::atomic<std::uint64_t> acquired_epoch;
};

// Frees of this node's memory made on other nodes, delivered by the agent
// (producer) to the application's allocator (consumer), which drains them
// in its slow paths. Single producer, single consumer.
inline constexpr std::size_t kInboxEntries = 32768;
struct alignas(64) RemoteFreeInbox {
  alignas(64) std::atomic<std::uint64_t> head;  // next slot the agent fills
  alignas(64) std::atomic<std::uint64_t> tail;  // next slot the application reads
  std::uint64_t ring[kInboxEntries];
};

// Work the agent hands to the application's service thread (start a thread
// here). Single producer (agent), single consumer (service thread), which
// sleeps on `bell`.
inline constexpr std::size_t kDowncallEntries = 4096;
enum class Downcall : std::uint32_t {
  kRunThread = 1,  // arg: tcb of a thread to start on this node
  kFlushLock = 2,  // arg: lock whose token must leave: release, then kLockFlushed
  kFreeSlot = 3,   // arg: vehicle slot of a thread of ours that has ended
  kFlushStdio = 4, // the job is ending: fflush(NULL), then kStdioFlushed
  kKillThread = 5, // arg: tcb | sig << 56: signal that thread, if it runs here
  kSignalAction = 6, // arg: sig: another node set its disposition; kSignalQuery
  kFreeTcb = 7,    // arg: tcb of a detached thread of ours that has ended
};

// A signal's disposition as set by sigaction (the handler is a code address,
// the same on every node).
struct SignalDisposition {
  std::uint32_t sig;
  std::uint32_t pad;
  std::uint64_t handler;
  std::uint64_t flags;
  std::uint64_t mask;
};
struct alignas(64) DowncallQueue {
  alignas(64) std::atomic<std::uint64_t> head;  // agent fills
  alignas(64) std::atomic<std::uint64_t> tail;  // service thread reads
  alignas(64) std::atomic<std::uint32_t> bell;  // bumped (and futex-woken) per entry
  struct Entry {
    std::uint32_t op;
    std::uint32_t pad;
    std::uint64_t arg;
  } entries[kDowncallEntries];
};

// The origin's delegates (libc shim): the agent posts a call forwarded from
// another node into a free slot and bumps `bell`; a delegate thread of the
// origin program runs it and marks it done, ringing the agent's doorbell.
inline constexpr std::size_t kDelegateSlots = 8;
inline constexpr std::size_t kDelegateBytes = kSlotPayload;
enum class DelegateState : std::uint32_t { kFree = 0, kPosted = 1, kTaken = 2, kDone = 3 };
struct alignas(64) DelegateSlot {
  std::atomic<std::uint32_t> state;
  std::uint32_t length;  // bytes of the request, then of the reply, in data
  unsigned char data[kDelegateBytes];
};
struct alignas(64) DelegateArea {
  alignas(64) std::atomic<std::uint32_t> bell;
  DelegateSlot slots[kDelegateSlots];
};

struct Layout {
  Header header;
  Slot slots[kSlotCount];
  RemoteFreeInbox inbox;
  DowncallQueue downcalls;
  LockTable locks;
  DelegateArea delegates;
};

inline constexpr std::size_t kChannelBytes = sizeof(Layout);

static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "channel words must be lock-free to work across processes");

}  // namespace gpt::channel
