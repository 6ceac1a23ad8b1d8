#include "signal_deferral.h"

#include <sys/syscall.h>
#include <ucontext.h>

#include "gpt/raw_syscall.h"

namespace gpt::rt {

thread_local std::uint32_t t_critical_depth __attribute__((tls_model("initial-exec"))) = 0;
thread_local std::uint64_t t_deferred_signals __attribute__((tls_model("initial-exec"))) = 0;

void deliver_deferred_signals() {
  // A signal that comes between the exchange and the unblock finds the
  // depth 0 and runs at once: nothing is lost either way.
  const std::uint64_t deferred = __atomic_exchange_n(&t_deferred_signals, 0, __ATOMIC_RELAXED);
  if (deferred) (void)sys::call(SYS_rt_sigprocmask, SIG_UNBLOCK, sys::arg(&deferred), 0, 8);
}

bool defer_if_critical(int sig, const siginfo_t* info, void* context) {
  if (t_critical_depth == 0 || sig < 1 || sig > 64) return false;
  const std::uint64_t bit = 1ull << (sig - 1);
  // Blocked when this handler returns (the kernel restores the context's
  // mask), then queued again: it waits, pending, for the section's end.
  // Queued to this thread with its own siginfo, which the kernel allows
  // for a process's own threads whatever si_code says.
  auto* uc = static_cast<ucontext_t*>(context);
  *reinterpret_cast<std::uint64_t*>(&uc->uc_sigmask) |= bit;
  __atomic_fetch_or(&t_deferred_signals, bit, __ATOMIC_RELAXED);
  // Blocked now too: with SA_NODEFER the copy would come straight back.
  (void)sys::call(SYS_rt_sigprocmask, SIG_BLOCK, sys::arg(&bit), 0, 8);
  siginfo_t again = *info;
  (void)sys::call(SYS_rt_tgsigqueueinfo, sys::call(SYS_getpid), sys::call(SYS_gettid), sig, sys::arg(&again));
  return true;
}

}  // namespace gpt::rt
