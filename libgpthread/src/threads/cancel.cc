// Cancellation (cancel.h, docs/threads.md "Cancellation"): the state of the
// calling thread, the cancel signal's handler, the cleanup handlers of
// both libcs' pthread_cleanup_push/pop, and pthread_setcancelstate/type,
// pthread_testcancel.
#include "cancel.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>

#include <cstdint>

#include "cancel_point.h"
#include "diag.h"
#include "gpt/raw_syscall.h"
#include "signal_deferral.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

extern "C" void gpt_signal_restorer();  // base/raw_syscall.S

namespace gpt::threads {
namespace {

// CancelState::flags: the cancel word a cancellable system call's window
// checks (cancel_point.h).
constexpr std::uint32_t kDisabled = rt::kCancelDisabled;  // PTHREAD_CANCEL_DISABLE
constexpr std::uint32_t kAsync = rt::kCancelAsync;        // PTHREAD_CANCEL_ASYNCHRONOUS
constexpr std::uint32_t kPending = rt::kCancelPending;    // cancelled, not acted on yet
constexpr std::uint32_t kActing = rt::kCancelActing;      // ending: the cleanup handlers run

// Written by the thread and by its signal handler (which runs on the same
// thread, hence atomics without fences between threads).
struct CancelState {
  std::uint32_t flags;
  std::uint32_t wait_slot;    // 1 + the slot of a cancellable wait in progress
  void* cleanup;              // the innermost cleanup handler (the libc's record)
  void* exit_result;          // pthread_exit's value, while the handlers run
  std::int32_t retry_timer;   // 1 + the kernel timer that repeats a cancel (below)
};
thread_local CancelState t_cancel __attribute__((tls_model("initial-exec")));

std::uint32_t flags() { return __atomic_load_n(&t_cancel.flags, __ATOMIC_RELAXED); }
void set_flags(std::uint32_t bits) { __atomic_fetch_or(&t_cancel.flags, bits, __ATOMIC_RELAXED); }
void clear_flags(std::uint32_t bits) { __atomic_fetch_and(&t_cancel.flags, ~bits, __ATOMIC_RELAXED); }
bool must_act(std::uint32_t f) { return (f & kPending) && !(f & (kDisabled | kActing)); }

void withdraw(std::uint32_t slot) {
  channel::Client client(rt::state().channel);
  (void)client.call(channel::Op::kWithdraw, channel::WithdrawRequest{slot, 0});
}

// True if `sp` lies on the calling thread's signal stack: the interrupted
// code was a signal handler (the page-fault handler, a call forwarded to
// the origin), which must not be left half done.
bool on_signal_stack(std::uintptr_t sp) {
  stack_t ss{};
  if (sys::call(SYS_sigaltstack, 0, sys::arg(&ss)) != 0 || (ss.ss_flags & SS_DISABLE)) return false;
  const auto base = reinterpret_cast<std::uintptr_t>(ss.ss_sp);
  return sp >= base && sp < base + ss.ss_size;
}

// An asynchronous cancel that found the thread in a signal handler (the
// page-fault handler) cannot act there, and a loop without cancellation
// points would never see it: the signal comes again in 2 ms, from a timer
// of the thread's own, until it finds the thread in its program's code.
void retry_soon() {
  if (!t_cancel.retry_timer) {
    struct {
      std::uint64_t value;
      std::int32_t signo, notify, tid, pad[11];
    } event{0, kCancelSignal, SIGEV_THREAD_ID, static_cast<std::int32_t>(sys::call(SYS_gettid)), {}};
    std::int32_t id = -1;
    if (sys::call(SYS_timer_create, CLOCK_MONOTONIC, sys::arg(&event), sys::arg(&id)) != 0) return;
    t_cancel.retry_timer = id + 1;
  }
  const struct itimerspec soon = {{0, 0}, {0, 2'000'000}};
  (void)sys::call(SYS_timer_settime, t_cancel.retry_timer - 1, 0, sys::arg(&soon), 0);
}

void drop_retry_timer() {
  if (!t_cancel.retry_timer) return;
  (void)sys::call(SYS_timer_delete, t_cancel.retry_timer - 1);
  t_cancel.retry_timer = 0;
}

void on_cancel_signal(int, siginfo_t* info, void* context) {
  // pthread_cancel's come by tgkill; repeats from the thread's own timer.
  if (info->si_code != SI_TKILL && !(info->si_code == SI_TIMER && t_cancel.retry_timer)) return;
  set_flags(kPending);
  const std::uint32_t f = flags();
  if (f & (kDisabled | kActing)) return;
  if (const std::uint32_t slot = __atomic_load_n(&t_cancel.wait_slot, __ATOMIC_RELAXED)) {
    withdraw(slot - 1);  // the wait returns -ECANCELED; its caller acts
    return;
  }
  greg_t* g = static_cast<ucontext_t*>(context)->uc_mcontext.gregs;
  // In a cancellable system call that has not completed (not entered yet,
  // or interrupted and about to be restarted): it ends without running,
  // -ECANCELED, and its wrapper acts.
  const auto ip = static_cast<std::uintptr_t>(g[REG_RIP]);
  if (ip >= reinterpret_cast<std::uintptr_t>(gpt_cancel_window_begin) &&
      ip < reinterpret_cast<std::uintptr_t>(gpt_cancel_window_end)) {
    g[REG_RIP] = reinterpret_cast<greg_t>(gpt_cancel_window_exit);
    return;
  }
  if (!(f & kAsync)) return;
  // Asynchronous: the thread acts as soon as this handler returns, as if
  // it had called act_on_cancel where it was (below its red zone).
  const auto sp = static_cast<std::uintptr_t>(g[REG_RSP]);
  // In a release or an invalidation (on a private stack, holding the
  // node's locks: base/signal_deferral.h) as in the fault handler.
  if (on_signal_stack(sp) || rt::in_critical_section()) {
    retry_soon();
    return;
  }
  // Its return address is where the thread was, so that unwinding (glibc's
  // pthread_exit) walks on through the thread's frames.
  auto* frame = reinterpret_cast<std::uintptr_t*>(((sp - 128) & ~std::uintptr_t{15}) - 8);
  *frame = static_cast<std::uintptr_t>(g[REG_RIP]);
  g[REG_RSP] = reinterpret_cast<greg_t>(frame);
  g[REG_RIP] = reinterpret_cast<greg_t>(&act_on_cancel);
}

#ifdef __GLIBC__
// glibc's pthread_cleanup_push keeps the handler in the pusher's frame and
// registers a jump buffer (__pthread_unwind_buf_t); running the handler is a
// longjmp there, after which the program calls __pthread_unwind_next. The
// buffer's spare words: [0] the next outer buffer, [2] the type saved by
// pthread_cleanup_push_defer_np, [3] the pointer guard it was made with.
using CleanupRecord = __pthread_unwind_buf_t;

std::uintptr_t pointer_guard() {
  std::uintptr_t guard;
  asm("mov %%fs:0x30, %0" : "=r"(guard));
  return guard;
}

// glibc mangles the saved frame, stack and instruction pointers with its
// per-process pointer guard: a buffer made on another node (before a
// migration) is mangled again with this process's.
void adopt_buffer(CleanupRecord* buf) {
  const auto made_with = reinterpret_cast<std::uintptr_t>(buf->__pad[3]);
  const std::uintptr_t guard = pointer_guard();
  if (made_with == guard) return;
  constexpr int kMangled[] = {1, 6, 7};  // JB_RBP, JB_RSP, JB_PC
  for (int i : kMangled) {
    auto v = static_cast<std::uintptr_t>(buf->__cancel_jmp_buf[0].__cancel_jmp_buf[i]);
    v = ((v >> 17) | (v << 47)) ^ made_with;
    v ^= guard;
    buf->__cancel_jmp_buf[0].__cancel_jmp_buf[i] = static_cast<long>((v << 17) | (v >> 47));
  }
  buf->__pad[3] = reinterpret_cast<void*>(guard);
}

[[noreturn]] void run_next_cleanup() {
  auto* buf = static_cast<CleanupRecord*>(t_cancel.cleanup);
  if (!buf) end_thread(t_cancel.exit_result);
  t_cancel.cleanup = buf->__pad[0];
  adopt_buffer(buf);
  longjmp(reinterpret_cast<struct __jmp_buf_tag*>(buf->__cancel_jmp_buf), 1);
}
#else
// musl's pthread_cleanup_push passes a record with the handler itself.
[[noreturn]] void run_next_cleanup() {
  while (auto* cb = static_cast<struct __ptcb*>(t_cancel.cleanup)) {
    t_cancel.cleanup = cb->__next;
    cb->__f(cb->__x);
  }
  end_thread(t_cancel.exit_result);
}
#endif

const std::uint32_t* cancel_word() { return &t_cancel.flags; }
void act_if_due() {
  if (must_act(flags())) act_on_cancel();
}

}  // namespace

void install_cancel_handler() {
  rt::set_cancel_hooks({cancel_word, act_if_due});
  // The libcs' sigaction refuse their own cancel signal: the kernel's
  // call, with gpthread's restorer (the one syscall user dispatch lets
  // through on nodes other than the origin). SA_RESTART: calls that are no
  // cancellation points go on; sleeps return EINTR whatever the flags.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    std::uint64_t mask;
  } action{reinterpret_cast<void*>(&on_cancel_signal), SA_SIGINFO | SA_ONSTACK | SA_RESTART | 0x04000000ul,
           reinterpret_cast<void*>(&gpt_signal_restorer), 0};
  if (sys::call(SYS_rt_sigaction, kCancelSignal, sys::arg(&action), 0, 8) != 0)
    rt::die("cannot install the handler of thread cancellation", 127);
}

void testcancel() {
  if (must_act(flags())) act_on_cancel();
}

bool cancel_due() { return must_act(flags()); }

void act_on_cancel() { exit_thread(PTHREAD_CANCELED); }

void exit_thread(void* result) {
  // POSIX: no cancellation while the thread ends (its cleanup handlers may
  // reach cancellation points).
  set_flags(kActing | kDisabled);
  drop_retry_timer();
  t_cancel.exit_result = result;
  run_next_cleanup();
}

void cancel_self() {
  set_flags(kPending);
  const std::uint32_t f = flags();
  if ((f & kAsync) && must_act(f)) act_on_cancel();
}

void cancellation_ends() {
  set_flags(kActing | kDisabled);
  drop_retry_timer();
}

CancelSnapshot save_cancel_state() { return CancelSnapshot{flags() & (kDisabled | kAsync | kPending), t_cancel.cleanup}; }

bool cancel_pending_here() { return (flags() & kPending) != 0; }

void restore_cancel_state(const CancelSnapshot& saved, bool cancelled_meanwhile) {
  t_cancel.cleanup = saved.cleanup;
  t_cancel.wait_slot = 0;
  t_cancel.retry_timer = 0;  // a timer is its process's: one left on the node before is not ours here
  __atomic_store_n(&t_cancel.flags, saved.flags | (cancelled_meanwhile ? kPending : 0), __ATOMIC_RELAXED);
}

void cancellable_wait_begins(std::uint32_t slot) {
  __atomic_store_n(&t_cancel.wait_slot, slot + 1, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  // Cancelled before the slot was known to the handler: withdraw it here.
  if (must_act(flags())) withdraw(slot);
}

void cancellable_wait_over() {
  __atomic_store_n(&t_cancel.wait_slot, 0, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

}  // namespace gpt::threads

using namespace gpt::threads;

GPT_API int pthread_setcancelstate(int state, int* old) {
  if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
  const std::uint32_t f = flags();
  if (old) *old = (f & kDisabled) ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
  if (f & kActing) return 0;  // ending already: stays disabled
  if (state == PTHREAD_CANCEL_DISABLE) set_flags(kDisabled);
  else clear_flags(kDisabled);
  if ((f & kAsync) && must_act(flags())) act_on_cancel();
  return 0;
}

GPT_API int pthread_setcanceltype(int type, int* old) {
  if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
  const std::uint32_t f = flags();
  if (old) *old = (f & kAsync) ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
  if (type == PTHREAD_CANCEL_ASYNCHRONOUS) set_flags(kAsync);
  else clear_flags(kAsync);
  if (type == PTHREAD_CANCEL_ASYNCHRONOUS && must_act(flags())) act_on_cancel();
  return 0;
}

GPT_API void pthread_testcancel(void) { testcancel(); }

#ifdef __GLIBC__
GPT_API void __pthread_register_cancel(__pthread_unwind_buf_t* buf) {
  buf->__pad[0] = t_cancel.cleanup;
  buf->__pad[3] = reinterpret_cast<void*>(pointer_guard());
  t_cancel.cleanup = buf;
}

GPT_API void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf) { t_cancel.cleanup = buf->__pad[0]; }

// pthread_cleanup_push_defer_np / pthread_cleanup_pop_restore_np.
GPT_API void __pthread_register_cancel_defer(__pthread_unwind_buf_t* buf) {
  __pthread_register_cancel(buf);
  int old = PTHREAD_CANCEL_DEFERRED;
  (void)pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
  buf->__pad[2] = reinterpret_cast<void*>(static_cast<std::intptr_t>(old));
}

GPT_API void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t* buf) {
  __pthread_unregister_cancel(buf);
  (void)pthread_setcanceltype(static_cast<int>(reinterpret_cast<std::intptr_t>(buf->__pad[2])), nullptr);
}

// Called by the program once a cleanup handler ran during the thread's
// end: on to the next outer one.
GPT_API void __pthread_unwind_next(__pthread_unwind_buf_t*) { run_next_cleanup(); }

namespace gpt::threads {
// glibc's pthread_cleanup_push in C: a jump buffer the cancel returns to.
void run_with_cleanup(void (*body)(void*), void (*cleanup)(void*), void* arg) {
  __pthread_unwind_buf_t buf;
  if (__sigsetjmp(reinterpret_cast<struct __jmp_buf_tag*>(buf.__cancel_jmp_buf), 0)) {
    cleanup(arg);
    __pthread_unwind_next(&buf);
  }
  __pthread_register_cancel(&buf);
  body(arg);
  __pthread_unregister_cancel(&buf);
}
}  // namespace gpt::threads
#else
GPT_API void _pthread_cleanup_push(struct __ptcb* cb, void (*f)(void*), void* x) {
  cb->__f = f;
  cb->__x = x;
  cb->__next = static_cast<struct __ptcb*>(t_cancel.cleanup);
  t_cancel.cleanup = cb;
}

GPT_API void _pthread_cleanup_pop(struct __ptcb* cb, int run) {
  t_cancel.cleanup = cb->__next;
  if (run) cb->__f(cb->__x);
}
#endif

#ifndef __GLIBC__
namespace gpt::threads {
void run_with_cleanup(void (*body)(void*), void (*cleanup)(void*), void* arg) {
  struct __ptcb cb;
  _pthread_cleanup_push(&cb, cleanup, arg);
  body(arg);
  _pthread_cleanup_pop(&cb, 0);
}
}  // namespace gpt::threads
#endif
