// pthread_create and friends across nodes (docs/threads.md). pthread_t is
// the global address of the thread's control block (tcb.h).
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "cancel.h"
#include "coherence.h"
#include "diag.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "futex_lock.h"
#include "gpt/raw_syscall.h"
#include "gpthread.h"
#include "libc_threads.h"
#include "process_signals.h"
#include "runtime.h"
#include "scheduling.h"
#include "service.h"
#include "sync_common.h"
#include "tcb.h"
#include "thread_body.h"
#include "thread_state.h"
#include "vehicles.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::threads {
namespace {

constexpr std::size_t kDefaultStack = 8u << 20;
constexpr std::size_t kMinStack = 16u << 10;  // glibc's PTHREAD_STACK_MIN

// gpt_attr_setnode keeps the node in the attribute object itself, in its
// last 8 bytes: neither libc uses them (glibc's `unused` pointer, musl's
// __i[12..13]) and both zero the whole object in pthread_attr_init, so an
// attribute initialised again (a reused stack slot) carries no stale node.
static_assert(sizeof(pthread_attr_t) == 56, "the attribute layout gpt_attr_setnode relies on");
constexpr std::uint64_t kAttrNodeTag = 0x6770744e00000000ull;  // "gptN" << 32 | node
constexpr std::size_t kAttrNodeOffset = sizeof(pthread_attr_t) - sizeof(std::uint64_t);

int attr_node(const pthread_attr_t* attr) {
  if (!attr) return -1;
  std::uint64_t word;
  memcpy(&word, reinterpret_cast<const char*>(attr) + kAttrNodeOffset, sizeof word);
  return (word >> 32) == (kAttrNodeTag >> 32) ? static_cast<int>(word & 0xffffffffu) : -1;
}

// GPT_PLACEMENT: spread (default: round-robin over all nodes, origin
// included), local, or node:K. Spread starts at the node after the
// creator's: the creator is busy too (in the common "main is worker 0"
// pattern, N threads on N nodes then use every node once), and threads
// created on different nodes do not all start on node 0.
int choose_node(const pthread_attr_t* attr) {
  const int nodes = rt::state().node_count;
  if (int n = attr_node(attr); n >= 0) return n % nodes;
  static std::atomic<unsigned> next{static_cast<unsigned>(rt::state().node_id) + 1};
  const char* policy = getenv("GPT_PLACEMENT");
  if (policy && strcmp(policy, "local") == 0) return rt::state().node_id;
  if (policy && strncmp(policy, "node:", 5) == 0) {
    int k = atoi(policy + 5);
    if (k < 0 || k >= nodes) {
      rt::diag().text("GPT_PLACEMENT=").text(policy).text(" names no node of this job").emit();
      abort();
    }
    return k;
  }
  return static_cast<int>(next.fetch_add(1, std::memory_order_relaxed) % static_cast<unsigned>(nodes));
}

bool distributed() { return galloc::space().coherent; }

// What a kernel thread that ran a program thread gives up at its end.
void end_kernel_thread() {
  run_key_destructors();
  unmap_key_values();
  galloc::leave_thread();
}

// One node without an agent: the libc runs the thread; this wrapper gives it
// gpthread's key destructors at its end.
struct LocalStart {
  void* (*start)(void*);
  void* arg;
};

// Kernel thread ids of the libc threads we started (for pthread_kill; musl
// exports no way to signal a thread by another name than pthread_kill).
struct LocalTid {
  pthread_t thread;
  std::int32_t tid;
  // Left its start routine (pthread_tryjoin_np); a futex word, which a
  // joiner waits on where a cancel can reach it.
  std::atomic<std::uint32_t> finished;
  bool cancelled;  // before its tid was known: it takes the cancel as it starts
};
// LocalTid::tid of a thread created and not yet running.
constexpr std::int32_t kNotStarted = -1;
LocalTid g_local_tids[1024];
FutexLock g_local_tids_lock;

LocalTid* entry_of(pthread_t thread) {
  for (auto& e : g_local_tids)
    if (e.tid != 0 && e.thread == thread) return &e;
  return nullptr;
}

LocalTid* free_entry() {
  for (auto& e : g_local_tids)
    if (e.tid == 0) return &e;
  return nullptr;
}

// As the thread starts; true if it was cancelled before (pthread_cancel
// left an entry for it then).
bool remember_tid(pthread_t self, std::int32_t tid) {
  Held<FutexLock> hold(g_local_tids_lock);
  LocalTid* e = entry_of(self);
  const bool cancelled = e && e->tid == kNotStarted && e->cancelled;
  if (!e && !(e = free_entry())) return false;
  e->thread = self;
  e->tid = tid;
  e->cancelled = false;
  e->finished.store(0, std::memory_order_release);
  return cancelled;
}

// A joined thread's entry is free again (its handle may name a new thread).
void forget_tid(pthread_t thread) {
  Held<FutexLock> hold(g_local_tids_lock);
  if (LocalTid* e = entry_of(thread)) {
    e->tid = 0;
    e->thread = 0;
    e->cancelled = false;
  }
}

// pthread_cancel of a libc thread (one node, no agent): signalled if it
// runs, noted for it if it has not started yet.
int cancel_local(pthread_t thread) {
  std::int32_t tid = 0;
  {
    Held<FutexLock> hold(g_local_tids_lock);
    LocalTid* e = entry_of(thread);
    if (!e) {
      if (!(e = free_entry())) return EAGAIN;
      e->thread = thread;
      e->tid = kNotStarted;
      e->finished.store(0, std::memory_order_release);
    }
    if (e->tid == kNotStarted) e->cancelled = true;
    else if (e->finished.load(std::memory_order_acquire) == 0) tid = e->tid;
  }
  if (tid > 0) (void)syscall(SYS_tgkill, getpid(), tid, kCancelSignal);
  return 0;
}

void mark_finished(pthread_t self) {
  Held<FutexLock> hold(g_local_tids_lock);
  for (auto& e : g_local_tids)
    if (e.tid != 0 && e.thread == self) {
      e.finished.store(1, std::memory_order_release);
      futex::wake_all(&e.finished);
    }
}

bool local_finished(pthread_t thread) {
  Held<FutexLock> hold(g_local_tids_lock);
  for (const auto& e : g_local_tids)
    if (e.tid != 0 && e.thread == thread) return e.finished.load(std::memory_order_acquire) != 0;
  return false;
}

// One node without an agent: pthread_join is a cancellation point too. The
// joiner waits for the thread's end on its entry's word (a cancel
// interrupts the wait, or is seen within 50 ms), then lets the libc join.
int local_join(pthread_t thread, void** result) {
  std::atomic<std::uint32_t>* finished = nullptr;
  if (thread != libc_self()) {  // itself: the libc says EDEADLK
    Held<FutexLock> hold(g_local_tids_lock);
    for (auto& e : g_local_tids)
      if (e.tid != 0 && e.thread == thread) finished = &e.finished;
  }
  while (finished && finished->load(std::memory_order_acquire) == 0) {
    testcancel();
    futex::wait(finished, 0, 50'000'000);
  }
  const int err = libc_join_with_result(thread, result);
  if (err == 0) forget_tid(thread);
  return err;
}

std::int32_t local_tid_of(pthread_t thread) {
  if (thread == libc_self()) return static_cast<std::int32_t>(syscall(SYS_gettid));
  Held<FutexLock> hold(g_local_tids_lock);
  for (const auto& e : g_local_tids)
    if (e.tid > 0 && e.thread == thread) return e.tid;
  return 0;
}

void* local_trampoline(void* p) {
  LocalStart s = *static_cast<LocalStart*>(p);
  free(p);
  if (remember_tid(libc_self(), static_cast<std::int32_t>(syscall(SYS_gettid)))) cancel_self();
  void* result = s.start(s.arg);
  end_kernel_thread();
  mark_finished(libc_self());
  return result;
}

// The stack pthread_attr_setstack gave, if any. glibc's getstack answers
// even when none was set: the address is then the size below 0 (its
// stackaddr, null, minus the size); musl's says EINVAL.
bool given_stack_of(const pthread_attr_t* attr, void** addr, std::size_t* size) {
  if (pthread_attr_getstack(attr, addr, size) != 0 || !*addr) return false;
  return reinterpret_cast<std::uintptr_t>(*addr) + *size != 0;
}

// The smallest stack a program may give: glibc's PTHREAD_STACK_MIN (musl's
// is 2 KiB). The runtime's calls on it stay small (releases and the fault
// handler run on stacks of their own); measured in tests/conformance
// (conf_thread.c, given_stacks): a thread that locks, waits, signals and
// migrates across nodes on such a stack uses less than half of it.
constexpr std::size_t kMinGivenStack = 16 * 1024;

// Attributes gpthread cannot honour fail pthread_create with the POSIX
// error and a message. A stack the program provides in the global space
// (malloc'd, or a global array) is reachable from every node; one in memory
// of this node only (an mmap, a local array) pins the thread to this node.
int check_unsupported(const pthread_attr_t* attr, void** stack, std::size_t* bytes, bool* pinned) {
  void* addr = nullptr;
  std::size_t size = 0;
  if (given_stack_of(attr, &addr, &size)) {
    if (size < kMinGivenStack) {
      rt::diag().text("pthread_create: a stack given with pthread_attr_setstack must be at least 16 KiB "
                      "(gpthread runs its own calls on it too)").emit();
      return EINVAL;
    }
    *pinned = !galloc::space().contains(addr) ||
              !galloc::space().contains(static_cast<char*>(addr) + size - 1);
    if (*pinned && attr_node(attr) >= 0 && attr_node(attr) % rt::state().node_count != rt::state().node_id) {
      rt::diag().text("pthread_create: a stack outside the global space (a node-local mapping) is memory of "
                      "this node only; its thread cannot run on another node").emit();
      return EINVAL;
    }
    *stack = addr;
    *bytes = size;
  }
  return 0;
}

// POSIX: a new thread starts with its creator's signal mask.
std::uint64_t creator_signal_mask() {
  std::uint64_t mask = 0;
  sys::call(SYS_rt_sigprocmask, SIG_BLOCK, 0, sys::arg(&mask), 8);
  return mask;
}

channel::CallResult call(channel::Op op, const void* req, std::size_t len) {
  channel::Client client(rt::state().channel);
  return client.call(op, req, len, nullptr, 0);
}

// The control block of a thread gpthread did not start (main, or a thread
// asking for pthread_self before anything else), made on first use.
Tcb* adopt_current() {
  Tcb* tcb = current();
  if (tcb) return tcb;
  tcb = static_cast<Tcb*>(calloc(1, sizeof(Tcb)));
  if (!tcb) rt::die("cannot allocate a thread control block", 134);
  tcb->magic = kTcbMagic;
  tcb->node = static_cast<std::uint32_t>(rt::state().node_id);
  set_current(tcb);
  return tcb;
}

}  // namespace
}  // namespace gpt::threads

using namespace gpt;
using namespace gpt::threads;

GPT_API int pthread_create(pthread_t* out, const pthread_attr_t* attr, void* (*start)(void*),
                           void* arg) {
  rt::ensure_started();
  if (!distributed()) {
    auto* s = static_cast<LocalStart*>(malloc(sizeof(LocalStart)));
    if (!s) return EAGAIN;
    *s = LocalStart{start, arg};
    int err = libc_create(out, attr, local_trampoline, s);
    if (err) free(s);
    return err;
  }
  int detach = PTHREAD_CREATE_JOINABLE;
  std::size_t stack = kDefaultStack;
  void* given_stack = nullptr;
  bool pinned = false;  // the stack is memory of this node only
  if (attr) {
    pthread_attr_getdetachstate(attr, &detach);
    std::size_t requested = 0;
    // The size asked for, as the libcs give it (a thread that runs past it
    // meets its guard page), but never below what the runtime's own calls
    // on the stack need (musl accepts 2 KiB).
    if (pthread_attr_getstacksize(attr, &requested) == 0 && requested != 0)
      stack = requested < kMinStack ? kMinStack : requested;
    if (int err = check_unsupported(attr, &given_stack, &stack, &pinned)) return err;
  }
  const std::uint32_t slot = vehicles::allocate();
  if (slot == vehicles::kNoSlot) return EAGAIN;
  auto* tcb = static_cast<Tcb*>(calloc(1, sizeof(Tcb)));
  if (!tcb) {
    vehicles::free_slot(slot);
    return EAGAIN;
  }
  const int node = pinned ? rt::state().node_id : choose_node(attr);
  tcb->slot = slot;
  tcb->magic = kTcbMagic;
  tcb->start = start;
  tcb->arg = arg;
  tcb->stack_bytes = stack;
  tcb->stack = given_stack;  // null: the running node allocates one
  tcb->given_stack = pinned ? kStackOfThisNode : given_stack != nullptr ? kStackGiven : 0;
  tcb->signal_mask = creator_signal_mask();
  if (int err = choose_sched(attr, tcb)) {
    free(tcb);
    vehicles::free_slot(slot);
    return err;
  }
  tcb->node = static_cast<std::uint32_t>(node);
  tcb->detached = detach == PTHREAD_CREATE_DETACHED;
  // The stack comes from the running node's partition. One larger than a
  // partition fits on no node; one for this node is allocated here, so that
  // a heap too full for it is this call's EAGAIN (POSIX), not the job's end.
  // (Another node allocates as it starts the thread: a failure there still
  // ends the job, with a message.)
  const bool cannot_fit = !given_stack && stack + 4096 > galloc::space().geometry.partition_bytes();
  if (cannot_fit || (!given_stack && node == rt::state().node_id && !allocate_stack(tcb))) {
    free(tcb);
    vehicles::free_slot(slot);
    return EAGAIN;
  }
  // The handle is stored before the thread exists, as glibc does: the new
  // thread may read it from the creator's variable (a global, say).
  *out = reinterpret_cast<pthread_t>(tcb);
  // Everything the creator wrote (the argument, the control block, the
  // handle) must be visible to the new thread: creation is a release,
  // thread start an acquire.
  galloc::release();
  const channel::SpawnRequest req{static_cast<std::uint32_t>(node), slot, reinterpret_cast<std::uintptr_t>(tcb),
                                  tcb->detached};
  if (call(channel::Op::kSpawn, &req, sizeof req).status != 0) {
    if (tcb->stack && !given_stack) free_stack(tcb);
    free(tcb);
    vehicles::free_slot(slot);
    return EAGAIN;
  }
  return 0;
}

namespace {
// try_only: EBUSY at once if the thread has not ended.
int join(pthread_t thread, void** result, bool try_only) {
  Tcb* tcb = from_handle(thread);
  if (!tcb || !galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) return ESRCH;
  if (tcb == current()) return EDEADLK;
  if (tcb->detached) return EINVAL;
  const channel::JoinRequest req{reinterpret_cast<std::uintptr_t>(tcb), try_only ? 1u : 0u};
  // A blocking join is a cancellation point; the thread stays joinable.
  int status = try_only ? call(channel::Op::kJoin, &req, sizeof req).status
                        : cancellable_call(channel::Op::kJoin, &req, sizeof req).status;
  if (status == -ECANCELED) act_on_cancel();
  if (status == -EBUSY) return EBUSY;
  if (status != 0) return ESRCH;
  galloc::acquire_synced();  // the thread's writes, and its result (the end carried its epoch)
  if (result) *result = tcb->result;
  tcb->magic = 0;
  free(tcb);
  return 0;
}

// One node without an agent: the libc's threads, whose end we note.
int try_local_join(pthread_t thread, void** result) {
  if (!local_finished(thread)) return EBUSY;
  const int err = libc_join_with_result(thread, result);
  if (err == 0) forget_tid(thread);
  return err;
}

// A join with a deadline: tries, then sleeps a little (5 ms at most) and
// tries again. The home answers each try at once; nothing waits there.
int join_until(pthread_t thread, void** result, clockid_t clock, const struct timespec* deadline) {
  if (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000L) return EINVAL;
  for (;;) {
    testcancel();
    int err = distributed() ? join(thread, result, true) : try_local_join(thread, result);
    if (err != EBUSY) return err;
    struct timespec now;
    clock_gettime(clock, &now);
    long long left = (deadline->tv_sec - now.tv_sec) * 1000000000LL + (deadline->tv_nsec - now.tv_nsec);
    if (left <= 0) return ETIMEDOUT;
    struct timespec nap = {0, static_cast<long>(left < 5000000 ? left : 5000000)};
    nanosleep(&nap, nullptr);
  }
}
}  // namespace

GPT_API int pthread_join(pthread_t thread, void** result) {
  GPT_PROFILE_CALL_SITE();
  testcancel();
  if (!distributed()) return local_join(thread, result);
  galloc::release();  // about to wait, as in a mutex (mutex.cc)
  return join(thread, result, false);
}

GPT_API int pthread_tryjoin_np(pthread_t thread, void** result) {
  if (!distributed()) return try_local_join(thread, result);
  return join(thread, result, true);
}

GPT_API int pthread_timedjoin_np(pthread_t thread, void** result, const struct timespec* abstime) {
  GPT_PROFILE_CALL_SITE();
  return join_until(thread, result, CLOCK_REALTIME, abstime);
}

#ifdef __GLIBC__
GPT_API int pthread_clockjoin_np(pthread_t thread, void** result, clockid_t clock, const struct timespec* abstime) {
  GPT_PROFILE_CALL_SITE();
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return EINVAL;
  return join_until(thread, result, clock, abstime);
}
#endif

// After the cleanup handlers (cancel.cc): the thread's end.
void gpt::threads::end_thread(void* result) {
  Tcb* tcb = distributed() ? current() : nullptr;
  if (tcb && tcb->start) {
    // main too: the process then ends when its last thread does
    // (gpt_run_main waits for that), and main's thread-specific values
    // have their destructors run like any thread's.
    if (tcb->is_main) tcb->is_main = kMainCalledExit;
    tcb->result = result;
    abandon_robust_mutexes();
    end_kernel_thread();
    // As run_gpthread does when a thread returns: its stack's guard page is
    // heap again here before the stack is freed.
    galloc::unguard_stack(tcb->guard);
    // The libc's exit ends the kernel thread without coming back to the
    // trampoline (glibc unwinds the global stack down to its outermost
    // frame, running C++ cleanups): queue it for reaping now.
    thread_finished(tcb, false);
  } else if (!distributed()) {
    end_kernel_thread();
    mark_finished(libc_self());
  }
  libc_exit(result);
}

GPT_API void pthread_exit(void* result) { exit_thread(result); }

GPT_API pthread_t pthread_self(void) {
  if (!distributed()) return libc_self();
  return reinterpret_cast<pthread_t>(adopt_current());
}

GPT_API int pthread_equal(pthread_t a, pthread_t b) { return a == b; }

// Signals go to the thread wherever it runs (a thread on another node gets
// it from its node's service thread).
GPT_API int pthread_kill(pthread_t thread, int sig) {
  if (sig < 0 || sig > static_cast<int>(channel::kMaxSignal)) return EINVAL;
  if (!distributed()) {
    std::int32_t tid = local_tid_of(thread);
    if (tid == 0) return ESRCH;
    if (sig == 0) return 0;
    return syscall(SYS_tgkill, getpid(), tid, sig) == 0 ? 0 : errno;
  }
  Tcb* tcb = from_handle(thread);
  if (!tcb || !galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) return ESRCH;
  if (tcb == current() && tcb->kernel_tid == 0) tcb->kernel_tid = static_cast<std::int32_t>(syscall(SYS_gettid));
  if (tcb->node != static_cast<std::uint32_t>(rt::state().node_id)) {
    // Its node delivers it (asynchronously, as signals are).
    if (sig == 0) return 0;
    channel::KillRequest req{tcb->node, static_cast<std::uint32_t>(sig), reinterpret_cast<std::uintptr_t>(tcb), 0, 0};
    return call(channel::Op::kKill, &req, sizeof req).status == 0 ? 0 : ESRCH;
  }
  if (sig == 0) return 0;
  // Not started yet: it gets the signal as it starts.
  return signal_here(tcb, sig) ? 0 : ESRCH;
}

namespace {
// The thread gets the cancel signal wherever it runs, like pthread_kill's
// (cancel.h). A thread that ended and was not joined yet is still a
// thread: 0, as glibc says.
int cancel(pthread_t thread) {
  if (!distributed()) {
    if (thread == libc_self()) {
      cancel_self();
      return 0;
    }
    return cancel_local(thread);
  }
  Tcb* tcb = from_handle(thread);
  if (!tcb || !galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) return ESRCH;
  if (tcb == current()) {
    cancel_self();
    return 0;
  }
  __atomic_store_n(&tcb->cancel_requested, 1u, __ATOMIC_RELEASE);
  if (tcb->node != static_cast<std::uint32_t>(rt::state().node_id)) {
    galloc::release();  // the mark above reaches the thread's next acquire
    channel::KillRequest req{tcb->node, static_cast<std::uint32_t>(kCancelSignal),
                             reinterpret_cast<std::uintptr_t>(tcb), 0, 0};
    (void)call(channel::Op::kKill, &req, sizeof req);
    return 0;
  }
  (void)signal_here(tcb, kCancelSignal);
  return 0;
}
}  // namespace

#ifdef __GLIBC__
GPT_API int pthread_cancel(pthread_t thread) { return cancel(thread); }
#else
// musl's pthread_cancel shares its object with the cancellation machinery,
// so gpt-cc links with --wrap=pthread_cancel instead of replacing it.
GPT_API int __wrap_pthread_cancel(pthread_t thread) { return cancel(thread); }
#endif

#ifndef __GLIBC__
// gpt-cc links musl programs with --wrap=pthread_attr_getstack. musl's says
// EINVAL for attributes without a stack; glibc's, which programs are written
// against (POSIX leaves it open), answers 0 with a null address and size 0.
// given_stack_of above reads that null address as "no stack given".
extern "C" int __real_pthread_attr_getstack(const pthread_attr_t*, void**, std::size_t*);

GPT_API int __wrap_pthread_attr_getstack(const pthread_attr_t* attr, void** addr, std::size_t* size) {
  if (__real_pthread_attr_getstack(attr, addr, size) == 0) return 0;
  *addr = nullptr;
  *size = 0;
  return 0;
}
#endif

GPT_API int pthread_detach(pthread_t thread) {
  if (!distributed()) return libc_detach(thread);
  Tcb* tcb = from_handle(thread);
  if (!tcb || !galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) return ESRCH;
  if (tcb->detached) return EINVAL;
  tcb->detached = 1;
  // Its home frees the control block when it ends (or now, if it has).
  const channel::ThreadRequest req{reinterpret_cast<std::uintptr_t>(tcb)};
  return call(channel::Op::kDetach, &req, sizeof req).status == 0 ? 0 : ESRCH;
}

GPT_API int gpt_attr_setnode(pthread_attr_t* attr, int node) {
  if (!attr || node < 0 || node >= rt::state().node_count) return EINVAL;
  const std::uint64_t word = kAttrNodeTag | static_cast<std::uint32_t>(node);
  memcpy(reinterpret_cast<char*>(attr) + kAttrNodeOffset, &word, sizeof word);
  return 0;
}

GPT_API int gpt_self_node(void) { return rt::state().node_id; }

// main runs as a gpthread thread on a stack in the global space (gpt-cc
// links with --wrap=main and the stub that calls this), so pointers to
// main's locals work everywhere and main can migrate. Its arguments are
// copied into the global space too: the process stack is this node's.
namespace {

struct MainCall {
  int (*main_fn)(int, char**, char**);
  int argc;
  char** argv;
  char** envp;
};

char** copy_strings(char** strings) {
  int n = 0;
  while (strings[n]) ++n;
  auto** copy = static_cast<char**>(calloc(static_cast<std::size_t>(n) + 1, sizeof(char*)));
  if (!copy) rt::die("cannot copy main's arguments into the global heap", 134);
  for (int i = 0; i < n; ++i)
    if (!(copy[i] = strdup(strings[i]))) rt::die("cannot copy main's arguments into the global heap", 134);
  return copy;
}

// Returns once no thread of the job is left (main has ended). Asks every
// node for its counts of threads created and ended, until two censuses in a
// row agree and every created thread has ended: the counts only grow, so
// two equal sums mean none changed in between, and at that moment none was
// running (a thread that is gone cannot start another). Main's own end is
// one of the ends counted.
void wait_for_last_thread() {
  channel::Client client(rt::state().channel);
  channel::ThreadCensusReply last{~0ull, ~0ull};
  for (;;) {
    channel::ThreadCensusReply now{};
    auto r = client.call(channel::Op::kThreadCensus, nullptr, 0, &now, sizeof now);
    if (r.status != 0 || r.length != sizeof now) rt::die("cannot count the job's threads", 134);
    if (now.spawned == last.spawned && now.ended == last.ended && now.ended == now.spawned + 1) {
      // As a join of every thread: see all they wrote (each released at its end).
      galloc::acquire();
      return;
    }
    last = now;
    struct timespec pause = {0, 10 * 1000 * 1000};
    (void)sys::call(SYS_nanosleep, sys::arg(&pause), 0);
  }
}

void* call_main(void* arg) {
  auto* call = static_cast<MainCall*>(arg);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(call->main_fn(call->argc, call->argv, call->envp)));
}

}  // namespace

GPT_API int gpt_run_main(int (*main_fn)(int, char**, char**), int argc, char** argv, char** envp) {
  rt::ensure_started();
  if (!distributed()) return main_fn(argc, argv, envp);
  auto* main_call = static_cast<MainCall*>(malloc(sizeof(MainCall)));
  if (!main_call) rt::die("cannot allocate main's arguments in the global heap", 134);
  *main_call = MainCall{main_fn, argc, copy_strings(argv), copy_strings(envp)};
  Tcb* tcb = adopt_current();
  tcb->start = call_main;
  tcb->arg = main_call;
  tcb->is_main = 1;
  tcb->slot = vehicles::allocate();
  tcb->stack_bytes = kDefaultStack;
  if (!allocate_stack(tcb) || tcb->slot == vehicles::kNoSlot) rt::die("cannot allocate main's stack", 134);
  // main runs on a vehicle like every other thread, wherever it migrates;
  // this process's first thread waits for it to return, then ends the
  // process with its status.
  // main keeps the mask the process started with (POSIX: exec keeps it).
  tcb->signal_mask = creator_signal_mask();
  set_current(nullptr);
  start_vehicle(tcb);
  // From here this thread only waits for main: a runtime thread, which
  // leaves the program's signals to the program's threads
  // (process_signals.h).
  block_program_signals();
  const channel::ThreadRequest join_main{reinterpret_cast<std::uintptr_t>(tcb)};  // a blocking kJoin
  if (call(channel::Op::kJoin, &join_main, sizeof join_main).status != 0) rt::die("lost track of main", 134);
  galloc::acquire_synced();
  if (tcb->is_main != kMainCalledExit) return static_cast<int>(reinterpret_cast<std::intptr_t>(tcb->result));
  // POSIX: after main's pthread_exit the process ends, as by exit(0), once
  // its last thread has ended.
  wait_for_last_thread();
  return 0;
}
