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

#include <cstdint>
#include <cstring>

#include "gpt/raw_syscall.h"
#include "global_space.h"
#include "gpt/channel_client.h"
#include "cancel.h"
#include "runtime.h"
#include "service.h"
#include "signal_deferral.h"
#include "shim.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

#include "diag.h"

#ifdef __GLIBC__
#include <dlfcn.h>

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

namespace {

// The program's handlers, which the kernel reaches through
// program_signal_entry (base/signal_deferral.h says why). One entry per
// signal, read inside handlers: plain atomics, no lock.
struct ProgramAction {
  void* handler;  // sa_handler or sa_sigaction, as the program gave it
  int flags;      // the program's sa_flags
};
ProgramAction g_program[65];

// Faults and traps are the thread's own instruction's: they cannot wait.
bool synchronous(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS;
}

void reset_to_default(int sig) {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    std::uint64_t mask;
  } dfl{nullptr, 0, nullptr, 0};  // SIG_DFL
  (void)gpt::sys::call(SYS_rt_sigaction, sig, gpt::sys::arg(&dfl), 0, 8);
}

void program_signal_entry(int sig, siginfo_t* info, void* context) {
  if (gpt::rt::defer_if_critical(sig, info, context)) return;
  void* handler = __atomic_load_n(&g_program[sig].handler, __ATOMIC_ACQUIRE);
  const int flags = __atomic_load_n(&g_program[sig].flags, __ATOMIC_RELAXED);
  // Changed meanwhile to the default or to ignore: this one came before.
  if (handler == reinterpret_cast<void*>(SIG_DFL) || handler == reinterpret_cast<void*>(SIG_IGN)) return;
  if (flags & SA_RESETHAND) {  // emulated: a deferred signal must still find the handler
    __atomic_store_n(&g_program[sig].handler, reinterpret_cast<void*>(SIG_DFL), __ATOMIC_RELEASE);
    reset_to_default(sig);
  }
  if (flags & SA_SIGINFO)
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(handler)(sig, info, context);
  else
    reinterpret_cast<void (*)(int)>(handler)(sig);
}

void* handler_of(const struct sigaction& act) {
  return (act.sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(act.sa_sigaction)
                                     : reinterpret_cast<void*>(act.sa_handler);
}

// What the program set, where the kernel holds program_signal_entry.
void report_program_action(struct sigaction* old, const ProgramAction& was) {
  if (!old || handler_of(*old) != reinterpret_cast<void*>(&program_signal_entry)) return;
  old->sa_flags = was.flags;
  if (was.flags & SA_SIGINFO)
    old->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(was.handler);
  else
    old->sa_handler = reinterpret_cast<void (*)(int)>(was.handler);
}

// Installs a disposition on this node only.
int install_here(int sig, const struct sigaction* act, struct sigaction* old) {
  const bool in_table = sig > 0 && sig < 65;
  const ProgramAction was = in_table ? ProgramAction{__atomic_load_n(&g_program[sig].handler, __ATOMIC_ACQUIRE),
                                                     __atomic_load_n(&g_program[sig].flags, __ATOMIC_RELAXED)}
                                     : ProgramAction{};
  if (!act || act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN || !in_table) {
    const int r = libc_sigaction(sig, act, old);
    if (r == 0 && in_table && act) __atomic_store_n(&g_program[sig].handler, handler_of(*act), __ATOMIC_RELEASE);
    if (r == 0) report_program_action(old, was);
    return r;
  }
  if (synchronous(sig)) {
    struct sigaction on_stack;
    std::memcpy(&on_stack, act, sizeof on_stack);
    on_stack.sa_flags |= SA_ONSTACK;
    const int r = libc_sigaction(sig, &on_stack, old);
    if (r == 0) {
      __atomic_store_n(&g_program[sig].handler, handler_of(*act), __ATOMIC_RELEASE);
      report_program_action(old, was);
      gpt::shim::use_our_restorer(sig, on_stack);
    }
    return r;
  }
  struct sigaction entry;
  std::memcpy(&entry, act, sizeof entry);
  entry.sa_sigaction = program_signal_entry;
  entry.sa_flags = (act->sa_flags | SA_SIGINFO | SA_ONSTACK) & ~SA_RESETHAND;
  __atomic_store_n(&g_program[sig].flags, act->sa_flags, __ATOMIC_RELAXED);
  __atomic_store_n(&g_program[sig].handler, handler_of(*act), __ATOMIC_RELEASE);
  const int r = libc_sigaction(sig, &entry, old);
  if (r != 0) {
    __atomic_store_n(&g_program[sig].flags, was.flags, __ATOMIC_RELAXED);
    __atomic_store_n(&g_program[sig].handler, was.handler, __ATOMIC_RELEASE);
    return r;
  }
  report_program_action(old, was);
  gpt::shim::use_our_restorer(sig, entry);
  return 0;
}

// The runtime's own signals stay per node; every other disposition the
// program sets is set on every node, where its threads may be signalled.
bool shared_across_nodes(int sig) {
  return sig != SIGSEGV && sig != SIGSYS && gpt::rt::state().channel && gpt::galloc::space().coherent;
}

}  // namespace

GPT_API int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  int r = install_here(sig, act, old);
  if (r != 0 || !act || !shared_across_nodes(sig)) return r;
  gpt::channel::SignalDisposition d{static_cast<std::uint32_t>(sig), 0,
                                    reinterpret_cast<std::uint64_t>(act->sa_handler),
                                    static_cast<std::uint64_t>(static_cast<unsigned>(act->sa_flags)), 0};
  std::memcpy(&d.mask, &act->sa_mask, sizeof d.mask);
  gpt::channel::Client client(gpt::rt::state().channel);
  (void)client.call(gpt::channel::Op::kSignalAction, d);
  return 0;
}

namespace gpt::threads {

void apply_disposition_from_elsewhere(int sig) {
  channel::SignalDisposition d{};
  const channel::SignalQueryRequest query{static_cast<std::uint32_t>(sig)};
  channel::Client client(rt::state().channel);
  auto r = client.call(channel::Op::kSignalQuery, query, d);
  if (r.status != 0 || r.length != sizeof d) return;
  struct sigaction act;
  std::memset(&act, 0, sizeof act);
  act.sa_handler = reinterpret_cast<void (*)(int)>(d.handler);
  act.sa_flags = static_cast<int>(d.flags);
  std::memcpy(&act.sa_mask, &d.mask, sizeof d.mask);
  (void)install_here(sig, &act, nullptr);
}

void deliver_here(Tcb* tcb, int sig, std::uint32_t hops) {
  if (!galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) {
    // A cancel for a thread that has ended has nothing left to do.
    if (sig != kCancelSignal) rt::diag().text("a signal ").num(sig).text(" for a thread that has ended was dropped").emit();
    return;
  }
  const auto here = static_cast<std::uint32_t>(rt::state().node_id);
  if (tcb->node != here) {
    // It migrated away: this node wrote where it went before it left.
    if (hops >= channel::kMaxKillHops || tcb->node >= static_cast<std::uint32_t>(rt::state().node_count)) {
      rt::diag().text("a signal ").num(sig).text(" for a thread that keeps migrating was dropped after ")
          .num(hops).text(" hops").emit();
      return;
    }
    channel::KillRequest req{tcb->node, static_cast<std::uint32_t>(sig), reinterpret_cast<std::uintptr_t>(tcb),
                             hops + 1, 0};
    channel::Client client(rt::state().channel);
    if (client.call(channel::Op::kKill, req).status != 0)
      rt::diag().text("a signal ").num(sig).text(" could not be passed on to node ").num(tcb->node).emit();
    return;
  }
  // A cancel finds its mark in the control block as the thread resumes.
  if (!signal_here(tcb, sig) && sig != kCancelSignal)
    rt::diag().text("a signal ").num(sig).text(" for a thread that is between nodes was dropped").emit();
}

bool signal_here(Tcb* tcb, int sig) {
  if (__atomic_load_n(&tcb->kernel_tid, __ATOMIC_ACQUIRE) == 0) {
    __atomic_fetch_or(&tcb->pending_signals, 1ull << (sig - 1), __ATOMIC_ACQ_REL);
    // Its kernel thread may have started meanwhile and looked already.
    if (__atomic_load_n(&tcb->kernel_tid, __ATOMIC_ACQUIRE) == 0) return true;
    raise_pending_signals(tcb);
    return true;
  }
  return sys::call(SYS_tgkill, sys::call(SYS_getpid), __atomic_load_n(&tcb->kernel_tid, __ATOMIC_ACQUIRE), sig) == 0;
}

void raise_pending_signals(Tcb* tcb) {
  std::uint64_t pending = __atomic_exchange_n(&tcb->pending_signals, 0, __ATOMIC_ACQ_REL);
  const long pid = sys::call(SYS_getpid);
  for (int sig = 1; pending; ++sig, pending >>= 1)
    if (pending & 1) (void)sys::call(SYS_tgkill, pid, __atomic_load_n(&tcb->kernel_tid, __ATOMIC_ACQUIRE), sig);
}

}  // namespace gpt::threads

namespace {
// SIGSEGV and SIGSYS as the thread asked to block them: the kernel's mask
// never holds them (above), but the thread sees its own request in the old
// sets it gets back, as POSIX says. Per thread, in its TLS (which moves
// with it between nodes).
constexpr std::uint64_t kKeptUnblocked = (std::uint64_t{1} << (SIGSEGV - 1)) | (std::uint64_t{1} << (SIGSYS - 1));
thread_local std::uint64_t t_asked_blocked __attribute__((tls_model("initial-exec"))) = 0;
}  // namespace

// The sets go through copies in this frame: the program's may lie on a page
// of the global space (a stack, a global) that is not present or writable
// here, and the kernel cannot fault it in (EFAULT); the copy's touch does.
GPT_API int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return EINVAL;
  sigset_t wanted;
  std::uint64_t asked = 0;
  if (set) {
    std::memcpy(&wanted, set, sizeof wanted);
    std::uint64_t word;
    std::memcpy(&word, &wanted, sizeof word);
    asked = word & kKeptUnblocked;
    if (how == SIG_BLOCK || how == SIG_SETMASK) {
      // Never the cancel signal, as in both libcs (whose sigdelset refuses it).
      word &= ~(kKeptUnblocked | (std::uint64_t{1} << (gpt::threads::kCancelSignal - 1)));
      std::memcpy(&wanted, &word, sizeof word);
    }
  }
  sigset_t was;
  std::memset(&was, 0, sizeof was);
  long r = gpt::sys::call(SYS_rt_sigprocmask, how, gpt::sys::arg(set ? &wanted : nullptr),
                          gpt::sys::arg(old ? &was : nullptr), 8);
  if (r < 0) return static_cast<int>(-r);
  if (old) {
    std::uint64_t word;
    std::memcpy(&word, &was, sizeof word);
    word |= t_asked_blocked;
    std::memcpy(&was, &word, sizeof word);
    std::memcpy(old, &was, sizeof was);
  }
  if (set) {
    if (how == SIG_BLOCK) t_asked_blocked |= asked;
    else if (how == SIG_UNBLOCK) t_asked_blocked &= ~asked;
    else t_asked_blocked = asked;
  }
  return 0;
}

// The calling thread's own pending set, read on its node (a forwarded call
// would read the origin's thread); through a copy, as above.
GPT_API int sigpending(sigset_t* set) {
  sigset_t pending;
  std::memset(&pending, 0, sizeof pending);
  long r = gpt::sys::call(SYS_rt_sigpending, gpt::sys::arg(&pending), 8);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  std::memcpy(set, &pending, sizeof pending);
  return 0;
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
