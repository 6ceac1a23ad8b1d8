// Signal masks never block SIGSEGV (every fault of the global space is one:
// the kernel would kill a thread that faults with it blocked) nor SIGSYS
// (every system call of a thread on a node other than the origin is one,
// docs/libc-shim.md). Programs that block "all signals" get all the others.
//
// Signal handlers run on the thread's private signal stack. Threads run on
// stacks in the global space, whose pages are write-protected after each
// release: a signal frame pushed there would fault while the kernel writes
// it, and the thread would die. So every handler the program installs gets
// SA_ONSTACK (gpthread gives each of its threads a sigaltstack; a thread
// without one runs its handlers on its stack, as usual).
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#include <cstring>

#include "gpt/raw_syscall.h"
#include "shim/shim.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

#ifdef __GLIBC__
#include <dlfcn.h>

#include "diag.h"

namespace {
int libc_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  using Fn = int (*)(int, const struct sigaction*, struct sigaction*);
  static Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "sigaction"));
  if (!fn) gpt::rt::die("cannot find the libc's sigaction", 127);
  return fn(sig, act, old);
}
}  // namespace
#else
extern "C" int __sigaction(int, const struct sigaction*, struct sigaction*);
namespace {
int libc_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return __sigaction(sig, act, old);
}
}  // namespace
#endif

GPT_API int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!act || act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN)
    return libc_sigaction(sig, act, old);
  struct sigaction on_stack;
  std::memcpy(&on_stack, act, sizeof on_stack);
  on_stack.sa_flags |= SA_ONSTACK;
  int r = libc_sigaction(sig, &on_stack, old);
  if (r == 0) gpt::shim::use_our_restorer(sig, on_stack);
  return r;
}

GPT_API int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t allowed;
  if (set && (how == SIG_BLOCK || how == SIG_SETMASK)) {
    std::memcpy(&allowed, set, sizeof allowed);
    sigdelset(&allowed, SIGSEGV);
    sigdelset(&allowed, SIGSYS);
    set = &allowed;
  }
  long r = gpt::sys::call(SYS_rt_sigprocmask, how, gpt::sys::arg(set), gpt::sys::arg(old), 8);
  return r < 0 ? static_cast<int>(-r) : 0;
}

GPT_API int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  int err = pthread_sigmask(how, set, old);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

namespace {
sighandler_t install(int sig, sighandler_t handler) {
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
}  // namespace

#ifdef __GLIBC__
GPT_API sighandler_t signal(int sig, sighandler_t handler) { return install(sig, handler); }
#else
// musl's signal() calls its sigaction internally; gpt-cc links with
// --wrap=signal so the program's calls come here.
GPT_API sighandler_t __wrap_signal(int sig, sighandler_t handler) { return install(sig, handler); }
#endif
