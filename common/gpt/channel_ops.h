// The payloads of the channel's operations (channel.h Op): one plain struct
// per request and reply, and the limits both sides share. The application
// (musl or glibc runtime) writes requests and reads replies; the agent
// (glibc) does the opposite. Both compile this header separately, so every
// layout is pinned below by static_asserts: a field moved on one side only
// would otherwise be read as garbage by the other.
//
// Little-endian x86-64 only, like the rest of gpthread: several requests
// are read by the agent as whole u64 words (kSpawn, kMigrate).
//
// Freestanding: no library calls, only <cstddef>/<cstdint>-level headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpt/region.h"

namespace gpt::channel {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the channel's layouts assume little-endian words");

// ---- Limits shared by the runtime and the agent ------------------------------

// Keys the job's registry (node 0's agent) hands out; PTHREAD_KEYS_MAX is
// 128 in both libcs, so programs never come near it.
inline constexpr std::uint32_t kMaxKeys = 1024;
// Pages one kFetchPage may ask for (one message from their home).
inline constexpr std::uint64_t kMaxPagesPerFetch = 16;
// The highest signal number either libc uses (SIGRTMAX).
inline constexpr std::uint32_t kMaxSignal = 64;
// kFlushNodes: no node to skip.
inline constexpr std::uint32_t kNoNode = ~std::uint32_t{0};

// ---- Trailing u64 arrays -------------------------------------------------------

// A view of u64 words in a slot payload (pages[] after a release's head,
// the pointers of a remote free, an acquire's page lists). `Word` is
// std::uint64_t or const std::uint64_t. Reading in place is sound because
// the slot payload is 64-byte aligned and every head below is a multiple
// of 8 bytes (asserted).
template <class Word>
class Words {
 public:
  constexpr Words() = default;
  constexpr Words(Word* data, std::size_t size) : data_(data), size_(size) {}

  [[nodiscard]] constexpr Word* data() const { return data_; }
  [[nodiscard]] constexpr std::size_t size() const { return size_; }
  [[nodiscard]] constexpr std::size_t bytes() const { return size_ * sizeof(std::uint64_t); }
  [[nodiscard]] constexpr bool empty() const { return size_ == 0; }
  [[nodiscard]] constexpr Word* begin() const { return data_; }
  [[nodiscard]] constexpr Word* end() const { return data_ + size_; }
  // Unchecked, as for an array: callers loop below size().
  [[nodiscard]] constexpr Word& operator[](std::size_t i) const { return data_[i]; }
  // At most `count` words from `offset`, clipped to this view (empty past its end).
  [[nodiscard]] constexpr Words sub(std::size_t offset, std::size_t count) const {
    if (offset >= size_) return Words(data_ + size_, 0);
    const std::size_t left = size_ - offset;
    return Words(data_ + offset, count < left ? count : left);
  }

 private:
  Word* data_ = nullptr;
  std::size_t size_ = 0;
};

// Splits `length` bytes at `payload` into a `Head` and the u64 words after
// it. False (out untouched) if the bytes are shorter than the head, the
// rest is not whole words, or the payload is not 8-byte aligned.
template <class Head, class Byte, class Word>
[[nodiscard]] bool split_trailed(Byte* payload, std::size_t length, Head& head, Words<Word>& words) {
  static_assert(sizeof(Byte) == 1);
  static_assert(sizeof(Head) % sizeof(std::uint64_t) == 0, "the words after a head must stay aligned");
  if (length < sizeof(Head) || (length - sizeof(Head)) % sizeof(std::uint64_t) != 0) return false;
  if (reinterpret_cast<std::uintptr_t>(payload) % alignof(std::uint64_t) != 0) return false;
  __builtin_memcpy(&head, payload, sizeof(Head));
  words = Words<Word>(reinterpret_cast<Word*>(payload + sizeof(Head)),
                      (length - sizeof(Head)) / sizeof(std::uint64_t));
  return true;
}

// The same for a payload that is only words (kAcquireMore's reply).
template <class Byte, class Word>
[[nodiscard]] bool split_words(Byte* payload, std::size_t length, Words<Word>& words) {
  static_assert(sizeof(Byte) == 1);
  if (length % sizeof(std::uint64_t) != 0) return false;
  if (reinterpret_cast<std::uintptr_t>(payload) % alignof(std::uint64_t) != 0) return false;
  words = Words<Word>(reinterpret_cast<Word*>(payload), length / sizeof(std::uint64_t));
  return true;
}

// ---- Coherence (docs/coherence.md) ----------------------------------------------

// kFetchPage request. Same home for all, 1 <= count <= kMaxPagesPerFetch.
// `traced_ns` (may be left out): when the fault began (CLOCK_MONOTONIC),
// if the header's trace_faults asks the program to trace faults; 0: not.
struct FetchPageRequest {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  std::uint64_t traced_ns = 0;
};
// kFetchPage reply: empty when all `count` pages are in, else this: only
// the first `fetched` (>= 1) are (copies the agent had). A traced fetch
// the agent sent on is answered with this too, all its pages in, with
// when the agent took the request, sent it on, had the pages and replied
// (CLOCK_MONOTONIC; 0: not traced).
struct FetchPageReply {
  std::uint64_t fetched = 0;
  std::uint64_t picked_ns = 0;
  std::uint64_t sent_ns = 0;
  std::uint64_t arrived_ns = 0;
  std::uint64_t replied_ns = 0;
};

// kRelease, kReleaseForBarrier: the request is u64 pages[] alone; the
// others (kUnlockReleased, kReleaseForBarrierWait) put theirs after a head.
// Reply of every release: the epoch node 0 gave it, 0 if not yet numbered.
struct ReleaseReply {
  std::uint64_t epoch = 0;
};

// kAcquire request: empty, or this.
struct AcquireRequest {
  std::uint32_t synced = 0;  // 1 after a token from afar, a barrier departure, a start or a join
};

// The answer to an acquire (kAcquire, kBarrier; the reply of a lock or
// barrier wait whose token came from afar, then with cursor 0 and the
// whole list). Laid out as
//   AcquireAnswerHead, u64 pages[listed], u64 copy_pages[copies],
//   copies * region::kPageSize bytes (the copies, in copy_pages' order).
// `listed` is what fits in the slot; total > listed means kAcquireMore
// with `cursor` fetches the rest.
struct AcquireAnswerHead {
  std::uint64_t cursor = 0;  // 0: the whole list is here
  std::uint64_t total = 0;   // pages on the whole list
  std::uint64_t epoch = 0;   // the notices' epoch: the program marks it applied
  std::uint64_t copies = 0;  // page copies after the list
};
inline constexpr std::size_t kCopyBytes = sizeof(std::uint64_t) + region::kPageSize;  // per copy

// Bytes of an answer with `listed` pages and `copies` copies.
[[nodiscard]] constexpr std::size_t acquire_answer_bytes(std::size_t listed, std::size_t copies) {
  return sizeof(AcquireAnswerHead) + listed * sizeof(std::uint64_t) + copies * kCopyBytes;
}

// An acquire answer read in place: its page list may be written (the
// runtime marks the pages it installed copies of).
struct AcquireAnswer {
  AcquireAnswerHead head;
  Words<std::uint64_t> pages;             // listed
  Words<const std::uint64_t> copy_pages;  // head.copies of them
  const unsigned char* copy_bytes = nullptr;
};

// Reads an answer of `length` bytes at `payload` (8-byte aligned). False
// for a malformed one: shorter than its head, more copies than bytes, or
// a list that is not whole words.
[[nodiscard]] inline bool read_acquire_answer(unsigned char* payload, std::size_t length, AcquireAnswer& out) {
  AcquireAnswerHead head;
  if (length < sizeof head || reinterpret_cast<std::uintptr_t>(payload) % alignof(std::uint64_t) != 0) return false;
  __builtin_memcpy(&head, payload, sizeof head);
  const std::size_t after_head = length - sizeof head;
  if (head.copies > after_head / kCopyBytes) return false;
  const std::size_t list_bytes = after_head - static_cast<std::size_t>(head.copies) * kCopyBytes;
  if (list_bytes % sizeof(std::uint64_t) != 0) return false;
  const std::size_t listed = list_bytes / sizeof(std::uint64_t);
  auto* words = reinterpret_cast<std::uint64_t*>(payload + sizeof head);
  out.head = head;
  out.pages = Words<std::uint64_t>(words, listed);
  out.copy_pages = Words<const std::uint64_t>(words + listed, static_cast<std::size_t>(head.copies));
  out.copy_bytes = reinterpret_cast<const unsigned char*>(words + listed + head.copies);
  return true;
}

// kAcquireMore request; its reply is u64 pages[] from `offset` on.
struct AcquireMoreRequest {
  std::uint64_t cursor = 0;  // AcquireAnswerHead::cursor
  std::uint64_t offset = 0;  // pages of the list the program has already
};

// kRemoteFree request: this head, then u64 pointers[] into home's memory.
// One-way: the reply is empty.
struct RemoteFreeHead {
  std::uint32_t home = 0;
  std::uint32_t pad = 0;
};

// ---- Threads (docs/threads.md) ----------------------------------------------------

// kSpawn request (the agent reads it as u64 words: node | slot << 32, tcb,
// detached).
struct SpawnRequest {
  std::uint32_t node = 0;  // where the thread runs
  std::uint32_t slot = 0;  // its vehicle slot at home, freed (kFreeSlot) at its end
  std::uint64_t tcb = 0;
  std::uint64_t detached = 0;
};

// kThreadExit, kDetach request: the thread.
struct ThreadRequest {
  std::uint64_t tcb = 0;
};

// kJoin request. A bare ThreadRequest is a blocking join too.
struct JoinRequest {
  std::uint64_t tcb = 0;
  std::uint64_t try_only = 0;  // != 0: -EBUSY at once if it has not ended
};

// kThreadCensus reply: the sums over every node of the threads created there
// (kSpawn) and of the threads that ended there (kThreadExit, main's own end
// included), each node's counts read once, one node after the other.
struct ThreadCensusReply {
  std::uint64_t spawned = 0;
  std::uint64_t ended = 0;
};

// kMigrate request (the agent reads node as the low half of a u64).
struct MigrateRequest {
  std::uint32_t node = 0;  // where the thread resumes
  std::uint32_t pad = 0;
  std::uint64_t tcb = 0;
};

// kWithdraw request: a thread blocked in `slot` (a condition, semaphore or
// join wait) was cancelled; it sends this from another slot, still owning
// `slot`. The agent ends that wait with -ECANCELED and leaves no waiter
// behind; status 0, or -ESRCH when the slot waited for nothing (its answer
// is on its way).
struct WithdrawRequest {
  std::uint32_t slot = 0;
  std::uint32_t pad = 0;
};

// ---- The libc shim (docs/libc-shim.md) ----------------------------------------------

// kForward: the blobs of the shim's forwarded_call.h. kStdioFlushed: empty.
// kFlushNodes request (empty: skip none).
struct FlushNodesRequest {
  std::uint32_t skip = kNoNode;  // the node that is exiting flushes itself
};

// ---- Signals across nodes (docs/threads.md) -----------------------------------------

// kKill request: signal the thread `tcb` on `node`. A node the thread has
// left passes the signal on to where the thread went (its control block
// says), `hops` counting how often that happened already, so a signal
// follows a migrating thread instead of being lost, and a stale view cannot
// pass it round for ever (kMaxKillHops).
struct KillRequest {
  std::uint32_t node = 0, sig = 0;
  std::uint64_t tcb = 0;
  std::uint32_t hops = 0, pad = 0;
};
inline constexpr std::uint32_t kMaxKillHops = 8;

// The kKillThread downcall's argument (one u64): tcb in the low
// kKillTcbBits bits (the global space lies below 2^48), hops in the next 8,
// the signal in the top 8.
inline constexpr unsigned kKillTcbBits = 48;
inline constexpr unsigned kKillHopsShift = kKillTcbBits;
inline constexpr unsigned kKillSigShift = kKillHopsShift + 8;
static_assert(kKillSigShift + 8 == 64 && kMaxSignal < 256 && kMaxKillHops < 256);

struct KillArg {
  std::uint64_t tcb = 0;
  std::uint32_t hops = 0;
  std::uint32_t sig = 0;
};
// False if a field does not fit its bits (then nothing can be sent).
[[nodiscard]] constexpr bool fits_kill_arg(const KillArg& k) {
  return k.tcb >> kKillTcbBits == 0 && k.hops <= 0xff && k.sig <= 0xff;
}
[[nodiscard]] constexpr std::uint64_t pack_kill_arg(const KillArg& k) {
  return k.tcb | std::uint64_t{k.hops} << kKillHopsShift | std::uint64_t{k.sig} << kKillSigShift;
}
[[nodiscard]] constexpr KillArg unpack_kill_arg(std::uint64_t arg) {
  return KillArg{arg & ((std::uint64_t{1} << kKillTcbBits) - 1),
                 static_cast<std::uint32_t>((arg >> kKillHopsShift) & 0xff),
                 static_cast<std::uint32_t>(arg >> kKillSigShift)};
}

// A signal's disposition as set by sigaction (the handler is a code
// address, the same on every node): kSignalAction's request, kSignalQuery's
// reply.
struct SignalDisposition {
  std::uint32_t sig = 0;
  std::uint32_t pad = 0;
  std::uint64_t handler = 0;
  std::uint64_t flags = 0;
  std::uint64_t mask = 0;
};

// kSignalQuery request.
struct SignalQueryRequest {
  std::uint32_t sig = 0;
};

// kProcessSignalOffer request: `sig` is pending for this node's process and
// none of its threads takes it.
struct ProcessSignalOffer {
  std::uint32_t sig = 0;
  std::uint32_t pad = 0;
};

// kProcessSignalSend request: the signal, dequeued here, with what its
// siginfo said (code, sender's pid and uid, sigqueue's value), for `node`.
struct ProcessSignalSend {
  std::uint32_t node = 0;
  std::uint32_t sig = 0;
  std::int32_t code = 0;
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint32_t pad = 0;
  std::uint64_t value = 0;
};

// ---- Locks --------------------------------------------------------------------------

// kLock, kTryLock, kUnlock, kUnlockAnyHolder, kLockFlushed request; kUnlockReleased's head
// (u64 pages[] follow). The reply of a lock whose status is kLockFromAfar
// may be an acquire answer (AcquireAnswerHead, cursor 0); kUnlockReleased's
// is a ReleaseReply.
struct LockRequest {
  std::uint64_t lock = 0;
  std::uint32_t manager = 0;  // kLockFlushed: unused (0)
  std::uint32_t pad = 0;
};

// kTimedLock request.
struct TimedLockRequest {
  LockRequest head;
  std::int64_t timeout_ns = 0;
};

// kLock/kTryLock status: the token came from another node; acquire (unless
// the reply carried the acquire's answer already).
inline constexpr std::int32_t kLockFromAfar = 1;

// ---- Condition variables ------------------------------------------------------------

// kCondEnqueue, kCondSignal request; kCondSleep's head.
struct CondHead {
  std::uint64_t cond = 0;
  std::uint32_t manager = 0;
  std::uint32_t extra = 0;  // kCondSignal: 1 wakes all; otherwise 0
};
// kCondEnqueue reply.
struct CondEnqueueReply {
  std::uint64_t ticket = 0;
};
// kCondSleep request.
struct CondSleepRequest {
  CondHead head;
  std::uint64_t ticket = 0;
  std::int64_t timeout_ns = 0;  // < 0: none
};

// ---- Semaphores ---------------------------------------------------------------------

// kSemName: sem_open, sem_close and sem_unlink in the job's namespace
// (common/gpt/sem_names.h). Names are without their leading '/'.
inline constexpr std::size_t kSemNameMax = 251;     // as glibc: NAME_MAX less "sem."
inline constexpr std::size_t kMaxNamedSems = 1024;  // names in a job at once
inline constexpr std::uint32_t kSemCreate = 1;      // O_CREAT
inline constexpr std::uint32_t kSemExclusive = 2;   // O_EXCL
enum class SemNameOp : std::uint32_t { kOpen = 1, kClose = 2, kUnlink = 3 };
struct SemNameRequest {
  std::uint32_t op = 0;       // SemNameOp
  std::uint32_t oflag = 0;    // kSemCreate | kSemExclusive (open)
  std::uint64_t address = 0;  // open: the caller's initialised candidate; close: the semaphore
  char name[kSemNameMax + 5] = {};  // open, unlink: NUL-terminated
};
struct SemNameReply {
  std::uint64_t address = 0;  // open: the semaphore; close/unlink: the one to free
  std::uint32_t created = 0;  // open: the candidate became the name's
  std::uint32_t free_it = 0;  // close/unlink: the last reference went: free it
};

// kSemPost, kSemGetValue request; kSemWait's head.
struct SemHead {
  std::uint64_t sem = 0;
  std::uint32_t manager = 0;
  std::uint32_t initial = 0;      // the value it was made with
  std::uint64_t incarnation = 0;  // which sem_init of this address
};
// kSemWait request.
struct SemWaitRequest {
  SemHead head;
  std::int64_t timeout_ns = 0;  // < 0: none
  std::uint32_t try_only = 0;
  std::uint32_t pad = 0;
};
// kSemGetValue reply.
struct SemValueReply {
  std::int64_t value = 0;
};

// ---- Rwlocks ------------------------------------------------------------------------

// kRwUnlock request; kRwLock's head.
struct RwLockHead {
  std::uint64_t lock = 0;
  std::uint32_t manager = 0;
  std::uint32_t write = 0;
};
// kRwLock request.
struct RwLockRequest {
  RwLockHead head;
  std::int64_t timeout_ns = 0;  // < 0: none
  std::uint32_t try_only = 0;
  std::uint32_t pad = 0;
};

// ---- Keys ---------------------------------------------------------------------------

enum class KeyOp : std::uint32_t { kCreate = 1, kDelete = 2, kQuery = 3 };
// kKey request.
struct KeyRequest {
  std::uint32_t op = 0;  // a KeyOp
  std::uint32_t key = 0;
  std::uint64_t destructor = 0;
};
// kKey reply (status 0 or a negative errno).
struct KeyReply {
  std::uint32_t key = 0;
  std::uint32_t pad = 0;
  std::uint64_t destructor = 0;
};

// ---- Barriers -----------------------------------------------------------------------

// kBarrierWait request, without `token` (kBarrierWaitBytes) unless a
// kReleaseForBarrierWait arrived for the thread; kReleaseForBarrierWait's
// head (u64 pages[] follow). kBarrierWait's reply: status 1 for one
// thread, and maybe an acquire answer (cursor 0). kBarrier: empty request,
// acquire answer.
struct BarrierWaitRequest {
  std::uint64_t barrier = 0;
  std::uint32_t manager = 0;
  std::uint32_t count = 0;  // threads that meet there
  std::uint64_t token = 0;  // the thread: which early arrival its wait joins
};

// ---- The layouts, pinned --------------------------------------------------------------

#define GPT_CHANNEL_FIELD(type, field, offset) static_assert(offsetof(type, field) == (offset), #type "::" #field)

static_assert(sizeof(FetchPageRequest) == 24);
GPT_CHANNEL_FIELD(FetchPageRequest, first, 0);
GPT_CHANNEL_FIELD(FetchPageRequest, count, 8);
GPT_CHANNEL_FIELD(FetchPageRequest, traced_ns, 16);
static_assert(sizeof(FetchPageReply) == 40);
GPT_CHANNEL_FIELD(FetchPageReply, fetched, 0);
GPT_CHANNEL_FIELD(FetchPageReply, picked_ns, 8);
GPT_CHANNEL_FIELD(FetchPageReply, sent_ns, 16);
GPT_CHANNEL_FIELD(FetchPageReply, arrived_ns, 24);
GPT_CHANNEL_FIELD(FetchPageReply, replied_ns, 32);
static_assert(sizeof(ReleaseReply) == 8);
GPT_CHANNEL_FIELD(ReleaseReply, epoch, 0);
static_assert(sizeof(AcquireRequest) == 4);
GPT_CHANNEL_FIELD(AcquireRequest, synced, 0);
static_assert(sizeof(AcquireAnswerHead) == 32);
GPT_CHANNEL_FIELD(AcquireAnswerHead, cursor, 0);
GPT_CHANNEL_FIELD(AcquireAnswerHead, total, 8);
GPT_CHANNEL_FIELD(AcquireAnswerHead, epoch, 16);
GPT_CHANNEL_FIELD(AcquireAnswerHead, copies, 24);
static_assert(sizeof(AcquireMoreRequest) == 16);
GPT_CHANNEL_FIELD(AcquireMoreRequest, cursor, 0);
GPT_CHANNEL_FIELD(AcquireMoreRequest, offset, 8);
static_assert(sizeof(RemoteFreeHead) == 8);
GPT_CHANNEL_FIELD(RemoteFreeHead, home, 0);
GPT_CHANNEL_FIELD(RemoteFreeHead, pad, 4);

static_assert(sizeof(SpawnRequest) == 24);
GPT_CHANNEL_FIELD(SpawnRequest, node, 0);
GPT_CHANNEL_FIELD(SpawnRequest, slot, 4);
GPT_CHANNEL_FIELD(SpawnRequest, tcb, 8);
GPT_CHANNEL_FIELD(SpawnRequest, detached, 16);
static_assert(sizeof(SemNameRequest) == 272);
GPT_CHANNEL_FIELD(SemNameRequest, op, 0);
GPT_CHANNEL_FIELD(SemNameRequest, oflag, 4);
GPT_CHANNEL_FIELD(SemNameRequest, address, 8);
GPT_CHANNEL_FIELD(SemNameRequest, name, 16);
static_assert(sizeof(SemNameReply) == 16);
GPT_CHANNEL_FIELD(SemNameReply, address, 0);
GPT_CHANNEL_FIELD(SemNameReply, created, 8);
GPT_CHANNEL_FIELD(SemNameReply, free_it, 12);
static_assert(sizeof(ThreadRequest) == 8);
GPT_CHANNEL_FIELD(ThreadRequest, tcb, 0);
static_assert(sizeof(ThreadCensusReply) == 16);
GPT_CHANNEL_FIELD(ThreadCensusReply, spawned, 0);
GPT_CHANNEL_FIELD(ThreadCensusReply, ended, 8);
static_assert(sizeof(JoinRequest) == 16);
GPT_CHANNEL_FIELD(JoinRequest, tcb, 0);
GPT_CHANNEL_FIELD(JoinRequest, try_only, 8);
static_assert(sizeof(MigrateRequest) == 16);
GPT_CHANNEL_FIELD(MigrateRequest, node, 0);
GPT_CHANNEL_FIELD(MigrateRequest, pad, 4);
GPT_CHANNEL_FIELD(MigrateRequest, tcb, 8);

static_assert(sizeof(WithdrawRequest) == 8);
GPT_CHANNEL_FIELD(WithdrawRequest, slot, 0);
GPT_CHANNEL_FIELD(WithdrawRequest, pad, 4);

static_assert(sizeof(FlushNodesRequest) == 4);
GPT_CHANNEL_FIELD(FlushNodesRequest, skip, 0);

static_assert(sizeof(KillRequest) == 24);
GPT_CHANNEL_FIELD(KillRequest, node, 0);
GPT_CHANNEL_FIELD(KillRequest, sig, 4);
GPT_CHANNEL_FIELD(KillRequest, tcb, 8);
GPT_CHANNEL_FIELD(KillRequest, hops, 16);
GPT_CHANNEL_FIELD(KillRequest, pad, 20);
static_assert(sizeof(SignalDisposition) == 32);
GPT_CHANNEL_FIELD(SignalDisposition, sig, 0);
GPT_CHANNEL_FIELD(SignalDisposition, pad, 4);
GPT_CHANNEL_FIELD(SignalDisposition, handler, 8);
GPT_CHANNEL_FIELD(SignalDisposition, flags, 16);
GPT_CHANNEL_FIELD(SignalDisposition, mask, 24);
static_assert(sizeof(SignalQueryRequest) == 4);
static_assert(sizeof(ProcessSignalOffer) == 8);
GPT_CHANNEL_FIELD(ProcessSignalOffer, sig, 0);
static_assert(sizeof(ProcessSignalSend) == 32);
GPT_CHANNEL_FIELD(ProcessSignalSend, node, 0);
GPT_CHANNEL_FIELD(ProcessSignalSend, sig, 4);
GPT_CHANNEL_FIELD(ProcessSignalSend, code, 8);
GPT_CHANNEL_FIELD(ProcessSignalSend, pid, 12);
GPT_CHANNEL_FIELD(ProcessSignalSend, uid, 16);
GPT_CHANNEL_FIELD(ProcessSignalSend, value, 24);
GPT_CHANNEL_FIELD(SignalQueryRequest, sig, 0);

static_assert(sizeof(LockRequest) == 16);
GPT_CHANNEL_FIELD(LockRequest, lock, 0);
GPT_CHANNEL_FIELD(LockRequest, manager, 8);
GPT_CHANNEL_FIELD(LockRequest, pad, 12);
static_assert(sizeof(TimedLockRequest) == 24);
GPT_CHANNEL_FIELD(TimedLockRequest, head, 0);
GPT_CHANNEL_FIELD(TimedLockRequest, timeout_ns, 16);

static_assert(sizeof(CondHead) == 16);
GPT_CHANNEL_FIELD(CondHead, cond, 0);
GPT_CHANNEL_FIELD(CondHead, manager, 8);
GPT_CHANNEL_FIELD(CondHead, extra, 12);
static_assert(sizeof(CondEnqueueReply) == 8);
GPT_CHANNEL_FIELD(CondEnqueueReply, ticket, 0);
static_assert(sizeof(CondSleepRequest) == 32);
GPT_CHANNEL_FIELD(CondSleepRequest, head, 0);
GPT_CHANNEL_FIELD(CondSleepRequest, ticket, 16);
GPT_CHANNEL_FIELD(CondSleepRequest, timeout_ns, 24);

static_assert(sizeof(SemHead) == 24);
GPT_CHANNEL_FIELD(SemHead, sem, 0);
GPT_CHANNEL_FIELD(SemHead, manager, 8);
GPT_CHANNEL_FIELD(SemHead, initial, 12);
GPT_CHANNEL_FIELD(SemHead, incarnation, 16);
static_assert(sizeof(SemWaitRequest) == 40);
GPT_CHANNEL_FIELD(SemWaitRequest, head, 0);
GPT_CHANNEL_FIELD(SemWaitRequest, timeout_ns, 24);
GPT_CHANNEL_FIELD(SemWaitRequest, try_only, 32);
GPT_CHANNEL_FIELD(SemWaitRequest, pad, 36);
static_assert(sizeof(SemValueReply) == 8);
GPT_CHANNEL_FIELD(SemValueReply, value, 0);

static_assert(sizeof(RwLockHead) == 16);
GPT_CHANNEL_FIELD(RwLockHead, lock, 0);
GPT_CHANNEL_FIELD(RwLockHead, manager, 8);
GPT_CHANNEL_FIELD(RwLockHead, write, 12);
static_assert(sizeof(RwLockRequest) == 32);
GPT_CHANNEL_FIELD(RwLockRequest, head, 0);
GPT_CHANNEL_FIELD(RwLockRequest, timeout_ns, 16);
GPT_CHANNEL_FIELD(RwLockRequest, try_only, 24);
GPT_CHANNEL_FIELD(RwLockRequest, pad, 28);

static_assert(sizeof(KeyRequest) == 16);
GPT_CHANNEL_FIELD(KeyRequest, op, 0);
GPT_CHANNEL_FIELD(KeyRequest, key, 4);
GPT_CHANNEL_FIELD(KeyRequest, destructor, 8);
static_assert(sizeof(KeyReply) == 16);
GPT_CHANNEL_FIELD(KeyReply, key, 0);
GPT_CHANNEL_FIELD(KeyReply, pad, 4);
GPT_CHANNEL_FIELD(KeyReply, destructor, 8);

static_assert(sizeof(BarrierWaitRequest) == 24);
GPT_CHANNEL_FIELD(BarrierWaitRequest, barrier, 0);
GPT_CHANNEL_FIELD(BarrierWaitRequest, manager, 8);
GPT_CHANNEL_FIELD(BarrierWaitRequest, count, 12);
GPT_CHANNEL_FIELD(BarrierWaitRequest, token, 16);

#undef GPT_CHANNEL_FIELD

// kBarrierWait without its token: the request of a thread that had nothing
// to release first.
inline constexpr std::size_t kBarrierWaitBytes = offsetof(BarrierWaitRequest, token);
static_assert(kBarrierWaitBytes == 16);

}  // namespace gpt::channel
