// The shared-memory channel between a node's agent and its application
// process: one memfd, created by the agent, mapped by both.
//
// Layout: a Header, then kSlotCount request slots. An application thread
// makes a synchronous call to its agent by claiming a free slot, writing the
// request, publishing it (state kRequest, and its bit in Header::published)
// and ringing the agent's doorbell;
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

#include "gpt/barrier_table.h"
#include "gpt/channel_ops.h"
#include "gpt/lock_table.h"
#include "gpt/profile.h"

namespace gpt::channel {

inline constexpr std::uint64_t kMagic = 0x4c4e4e4148435047ull;  // "GPCHANNL"
inline constexpr std::uint32_t kVersion = 14;
// One slot per thread blocked in a call (a lock, a join, a condition wait):
// thousands of threads may wait at once. Slots are touched only when used,
// so most of their memory is never backed.
inline constexpr std::uint32_t kSlotCount = 4096;
inline constexpr std::size_t kSlotBytes = 16384;

enum class SlotState : std::uint32_t {
  kFree = 0,     // nobody owns it
  kClaimed = 1,  // an application thread is writing a request
  kRequest = 2,  // published, waiting for the agent
  kServing = 3,  // the agent is working on it
  kReply = 4,    // reply written; the claiming thread reads it and frees it
};

// Every operation's request and reply are structs of channel_ops.h (named
// below); the layouts are defined and pinned there only.
enum class Op : std::uint32_t {
  kEcho = 1,  // reply = request payload (health check, benchmarks)
  // Coherence (docs/coherence.md). Page numbers are u64 indices into the heap.
  kFetchPage = 2,  // FetchPageRequest; reply: empty or FetchPageReply. The agent
                   // fetches the pages from their home into the memfd.
  kRelease = 3,    // u64 pages[], write-protected by the caller. The agent
                   // sends their diffs home and the write notices to node 0;
                   // it replies (ReleaseReply) once nothing can overtake them.
  kAcquire = 4,    // empty, or AcquireRequest (synced: the agent may answer
                   // without asking node 0, docs/coherence.md). Reply: an
                   // acquire answer (AcquireAnswerHead, read_acquire_answer):
                   // the pages written by other nodes since the epoch this
                   // node applied (Header::acquired_epoch), and copies.
  kRemoteFree = 6,  // RemoteFreeHead, u64 pointers[] to free at their home.
                    // One-way: reply at once.
  // Threads (docs/threads.md). A thread is named by its control block's
  // global address (u64 tcb).
  kSpawn = 8,       // SpawnRequest. Node runs the thread; the home frees its
                    // vehicle slot (kFreeSlot) at its end.
  kThreadExit = 9,  // ThreadRequest. The thread has ended (after its release).
  kJoin = 10,       // JoinRequest. Returns once that thread has ended; with
                    // try_only at once, -EBUSY if it has not.
  kDetach = 35,     // ThreadRequest: nobody will join it; its home frees the
                    // control block when it ends (kFreeTcb)
  kMigrate = 28,    // MigrateRequest. The thread left this node (released,
                    // context saved); node resumes it.
  kWithdraw = 41,   // WithdrawRequest: a cancelled thread's wait in another
                    // slot ends with -ECANCELED (docs/threads.md)
  kThreadCensus = 39,  // empty; ThreadCensusReply: threads created and ended
                       // on every node so far (pthread_exit from main waits
                       // for the last thread with it).
  // The libc shim (docs/libc-shim.md). A forwarded call's request and reply
  // are the blobs of libc-shim/forwarded_call.h; the agents only
  // carry them.
  kForward = 29,       // remote node: run this call on the origin; reply: its result
  kFlushNodes = 30,    // origin, at exit: FlushNodesRequest. Returns once every
                       // other node has flushed its stdio (or 2 s passed).
  kStdioFlushed = 31,  // a node's service thread: its kFlushStdio is done.
  // Signals across nodes (docs/threads.md).
  kKill = 32,          // KillRequest: signal that thread there
  kSignalAction = 33,  // SignalDisposition: a handler set here, for every node
  kSignalQuery = 34,   // SignalQueryRequest; reply: SignalDisposition (what to install)
  // Process-directed signals (docs/threads.md, "Process-directed signals"):
  // the node's signal watcher found one pending that no thread here takes.
  kProcessSignalOffer = 43,  // ProcessSignalOffer; status: a node with a thread that
                             // can take it (does not block it, or waits for it), or
                             // -EAGAIN when no other node has one now
  kProcessSignalSend = 44,   // ProcessSignalSend: raise it (dequeued here) in that
                             // node's process
  // Locks: LockRequest (TimedLockRequest for kTimedLock).
  kLock = 12,       // returns holding the lock's token: status 0 (it never
                    // left this node: nothing to acquire) or kLockFromAfar
  kTryLock = 13,    // as kLock, or -EBUSY at once (then the token is asked
                    // for, so a later try can succeed)
  kUnlock = 14,
  kTimedLock = 27,  // as kLock, or -ETIMEDOUT
  kUnlockReleased = 36,  // LockRequest, then u64 pages[] the caller
                         // write-protected: release them, then unlock. The
                         // token may leave before the release completes
                         // (docs/coherence.md); ReleaseReply once it has.
  kLockFlushed = 20,  // LockRequest: the service thread released; the
                      // token may leave this node now.
  kUnlockAnyHolder = 42,  // LockRequest, after a release: unlock the lock
                          // whichever node's thread holds it (a normal
                          // mutex, a spinlock); 0 once it is free.
  // Condition variables.
  kCondEnqueue = 16,  // CondHead; CondEnqueueReply once queued at the manager
  kCondSleep = 17,    // CondSleepRequest: 0 or -ETIMEDOUT
  kCondSignal = 18,   // CondHead (extra: 1 wakes all)
  // Semaphores.
  kSemWait = 21,      // SemWaitRequest: 0, -EAGAIN or -ETIMEDOUT
  kSemPost = 22,      // SemHead
  kSemGetValue = 23,  // SemHead; SemValueReply
  kSemName = 40,      // SemNameRequest; SemNameReply: sem_open/close/unlink
                      // in the job's one namespace (node 0 keeps it)
  // Rwlocks: 0, -EBUSY or -ETIMEDOUT.
  kRwLock = 24,    // RwLockRequest
  kRwUnlock = 25,  // RwLockHead
  // Keys: KeyRequest; KeyReply, status 0 or a negative errno.
  kKey = 26,
  kBarrierWait = 15,  // BarrierWaitRequest (kBarrierWaitBytes, or with its
                      // token after kReleaseForBarrierWait). Returns when
                      // `count` threads arrived; status 1 for one of them.
  kAcquireMore = 11,  // the rest of a long kAcquire/kBarrier list:
                      // AcquireMoreRequest; reply: u64 pages[] from there.
  kBarrier = 5,    // empty. Returns when every node has arrived, with an
                   // acquire answer (the barrier's acquire).
  kReleaseForBarrier = 37,  // as kRelease, and a kBarrier follows: once the
                            // release is on its way, the agent arrives at the
                            // barrier for it (the program's kBarrier joins it).
  kReleaseForBarrierWait = 38,  // BarrierWaitRequest with its token (the
                                // thread), then u64 pages[]: as kRelease, and
                                // the agent arrives at that barrier for the
                                // thread; its kBarrierWait (same request and
                                // token) joins the arrival.
  kBarrierFlushed = 45,  // BarrierWaitRequest (kBarrierWaitBytes, manager and
                         // count unused): the service thread released after
                         // kFlushBarrier; the agent arrives for the threads
                         // that wait here at that barrier.
};

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
// channel_ops.h reads u64 arrays in place in the payload.
static_assert(offsetof(Slot, payload) % alignof(std::uint64_t) == 0);

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
  // Non-zero: the program traces its remote page faults hop by hop
  // (GPT_TRACE_FAULTS=1; FetchPageRequest::traced_ns, fault_trace below).
  std::uint32_t trace_faults;
  // Bumped by the application after publishing a request.
  alignas(64) std::atomic<std::uint32_t> agent_doorbell;
  // Non-zero while the agent polls `agent_doorbell` (it spins after
  // traffic): ringing it then needs no write to doorbell_fd, one system
  // call less per request (channel_client.h, ring_agent).
  std::atomic<std::uint32_t> agent_polling;
  // A bit per slot, set by the application once the slot's request is
  // published: the agent reads 64 words, not 4096 slot states, per turn.
  alignas(64) std::atomic<std::uint64_t> published[kSlotCount / 64];
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
  // Dirty home pages releases left writable (no other node held them).
  std::atomic<std::uint64_t> sole_pages_kept;
  // Pages a write fault twinned after the faulting one (sequential writes).
  std::atomic<std::uint64_t> pages_written_ahead;
  // Counters the agent keeps, for the application to read (galloc_stats).
  std::atomic<std::uint64_t> acquires_answered_here;  // no message to node 0
  std::atomic<std::uint64_t> fetches_from_copies;     // faults served by page copies
  // Traced faults (trace_faults) and the time their hops took, summed in
  // ns: program to agent (the fault, the request, the agent's wake-up),
  // agent out (until the request left), wire and home (until the pages
  // were here), agent in (until the reply), agent to program (the
  // thread's wake-up), mapping (mprotect and settling).
  alignas(64) std::atomic<std::uint64_t> traced_faults;
  std::atomic<std::uint64_t> fault_hop_ns[6];
  // Raised (never lowered) by the application once every page noticed up
  // to this epoch is invalid here, so later acquires need not list them.
  // Until then concurrent acquires get them again (harmless).
  alignas(64) std::atomic<std::uint64_t> acquired_epoch;
};

// Frees of this node's memory made on other nodes, delivered by the agent
// (producer) to the application's allocator (consumer), which drains them
// in its slow paths and, woken by kDrainFrees, in its service thread.
// Single producer, single consumer. An entry is the pointer with the node
// that freed it in the top bits, so a bad free names the node that made it.
inline constexpr std::size_t kInboxEntries = 32768;
inline constexpr unsigned kInboxNodeShift = 48;  // global addresses are below 2^47
[[nodiscard]] constexpr std::uint64_t pack_remote_free(std::uint32_t node, std::uint64_t pointer) {
  return (std::uint64_t{node} << kInboxNodeShift) | pointer;
}
[[nodiscard]] constexpr std::uint64_t remote_free_pointer(std::uint64_t entry) {
  return entry & ((std::uint64_t{1} << kInboxNodeShift) - 1);
}
[[nodiscard]] constexpr std::uint32_t remote_free_node(std::uint64_t entry) {
  return static_cast<std::uint32_t>(entry >> kInboxNodeShift);
}
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
  kKillThread = 5, // arg: pack_kill_arg (channel_ops.h): signal that thread, if it runs here
  kSignalAction = 6, // arg: sig: another node set its disposition; kSignalQuery
  kFreeTcb = 7,    // arg: tcb of a detached thread of ours that has ended
  kDrainFrees = 8, // the remote-free inbox has new entries: check and take them now
  kProcessSignalRaised = 9, // arg: sig: the agent raised this process-directed signal here
                            // for another node; offer it on if no thread here takes it
  kFlushBarrier = 10, // arg: barrier whose lease the manager recalled while threads here
                      // wait at it: release, then kBarrierFlushed (barrier_table.h)
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
  BarrierTable barriers;
  DelegateArea delegates;
  profile::ProfileArea profile;  // gpt-launch --profile (profile.h)
};

inline constexpr std::size_t kChannelBytes = sizeof(Layout);

static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "channel words must be lock-free to work across processes");

}  // namespace gpt::channel
