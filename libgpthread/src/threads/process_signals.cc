#include "process_signals.h"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "diag.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "gpt/raw_syscall.h"
#include "global_space.h"
#include "libc_threads.h"
#include "runtime.h"

namespace gpt::threads {
namespace {

constexpr std::uint64_t bit(int sig) { return std::uint64_t{1} << (sig - 1); }

// What a runtime thread never blocks: faults (a fault signal blocked when
// the fault happens kills the process; the runtime's threads touch global
// memory), SIGSYS (calls trapped on nodes other than the origin), and the
// libcs' own 32-34 (glibc's cancel and setxid, musl's timer, cancel and
// synccall: setuid waits for every thread to take its signal).
constexpr std::uint64_t kRuntimeTakes = bit(SIGSEGV) | bit(SIGBUS) | bit(SIGFPE) | bit(SIGILL) | bit(SIGTRAP) |
                                        bit(SIGSYS) | bit(32) | bit(33) | bit(34);
// Never offered to another node: the per-thread ones (a fault, a write's
// SIGPIPE) and the runtime's and libcs' own; SIGKILL and SIGSTOP are never
// pending for long anyway.
constexpr std::uint64_t kNeverOffered = kRuntimeTakes | bit(SIGPIPE) | bit(SIGKILL) | bit(SIGSTOP);

// How often the watcher looks; a signal seen for the first time is looked
// at again sooner and offered if still pending then (a thread of this node
// that does not block it takes it within microseconds of its sending; one
// that is slow to run is at worst outrun by a thread of another node, which
// takes it as well). And how long a signal nobody took waits before it is
// offered again (a thread may unblock it, or start waiting for it,
// meanwhile).
constexpr long long kLookNs = 5'000'000;
constexpr long long kConfirmNs = 1'000'000;
constexpr long long kOfferAgainNs = 200'000'000;

// How often the agent raised each signal here for the job
// (note_signal_from_elsewhere): a watcher of a node other than the origin
// offers on only those.
std::atomic<std::uint32_t> g_raised[channel::kMaxSignal + 1];

long long now_ns() {
  struct timespec ts;
  (void)sys::call(SYS_clock_gettime, CLOCK_MONOTONIC, sys::arg(&ts));
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

void set_mask(std::uint64_t mask) { (void)sys::call(SYS_rt_sigprocmask, SIG_SETMASK, sys::arg(&mask), 0, 8); }

// The signal is taken here (dequeued by the watcher, which blocks it) and
// sent to `node`. False if nothing was pending any more (a thread here took
// it, having unblocked it since the look): then nothing is sent.
bool take_and_send(int sig, std::uint32_t node) {
  const std::uint64_t set = bit(sig);
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  struct timespec zero = {0, 0};
  if (sys::call(SYS_rt_sigtimedwait, sys::arg(&set), sys::arg(&info), sys::arg(&zero), 8) != sig) return false;
  const channel::ProcessSignalSend send{node,
                                        static_cast<std::uint32_t>(sig),
                                        info.si_code,
                                        info.si_pid,
                                        info.si_uid,
                                        0,
                                        reinterpret_cast<std::uintptr_t>(info.si_value.sival_ptr)};
  channel::Client client(rt::state().channel);
  if (client.call(channel::Op::kProcessSignalSend, send).status == 0) return true;
  // It could not leave: pending for this process again, as it was (a
  // process queueing to itself may give any code).
  (void)sys::call(SYS_rt_sigqueueinfo, sys::call(SYS_getpid), sig, sys::arg(&info));
  rt::diag().text("a signal ").num(sig).text(" could not be passed on to node ").num(node).emit();
  return false;
}

void* watch(void*) {
  auto& header = rt::state().channel->header;
  const bool origin = rt::state().node_id == 0 || header.spmd;
  std::uint64_t seen = 0;                      // pending at the last look
  std::uint32_t settled[channel::kMaxSignal + 1] = {};  // g_raised when last seen taken
  long long declined_at[channel::kMaxSignal + 1] = {};  // no taker then (0: offer at once)
  channel::Client client(rt::state().channel);
  long long wait_ns = kLookNs;
  for (;;) {
    (void)futex::wait(&header.shutdown, 0, wait_ns);
    if (header.shutdown.load(std::memory_order_acquire)) return nullptr;
    // Read before the pending set: a raise counted here was made before
    // the set is read.
    std::uint32_t raised[channel::kMaxSignal + 1];
    std::uint64_t mine = 0;
    if (!origin)
      for (int sig = 1; sig <= static_cast<int>(channel::kMaxSignal); ++sig) {
        raised[sig] = g_raised[sig].load(std::memory_order_acquire);
        if (raised[sig] != settled[sig]) mine |= bit(sig);
      }
    // This thread blocks all of them: the set is the process's (nothing is
    // ever sent to this thread itself).
    std::uint64_t pending = 0;
    if (sys::call(SYS_rt_sigpending, sys::arg(&pending), 8) != 0) continue;
    pending &= ~kNeverOffered;
    if (!origin) {
      // Raised here and no longer pending: a thread here took it.
      for (int sig = 1; sig <= static_cast<int>(channel::kMaxSignal); ++sig)
        if ((mine & bit(sig)) && !(pending & bit(sig))) settled[sig] = raised[sig];
      pending &= mine;
    }
    const std::uint64_t steady = pending & seen;  // no thread here took it since the last look
    wait_ns = pending & ~seen ? kConfirmNs : kLookNs;
    seen = pending;
    if (!steady) continue;
    const long long now = now_ns();
    for (int sig = 1; sig <= static_cast<int>(channel::kMaxSignal); ++sig) {
      if (!(steady & bit(sig))) continue;
      if (declined_at[sig] && now - declined_at[sig] < kOfferAgainNs) continue;
      const channel::ProcessSignalOffer offer{static_cast<std::uint32_t>(sig), 0};
      const auto r = client.call(channel::Op::kProcessSignalOffer, offer);
      if (r.status < 0) {
        declined_at[sig] = now;
        continue;
      }
      declined_at[sig] = 0;
      if (take_and_send(sig, static_cast<std::uint32_t>(r.status))) seen &= ~bit(sig);
    }
  }
}

}  // namespace

void note_signal_from_elsewhere(int sig) {
  if (sig > 0 && sig <= static_cast<int>(channel::kMaxSignal)) g_raised[sig].fetch_add(1, std::memory_order_acq_rel);
}

void block_program_signals() { set_mask(~kRuntimeTakes); }

int create_runtime_thread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  const std::uint64_t all = ~kRuntimeTakes;
  std::uint64_t was = 0;
  (void)sys::call(SYS_rt_sigprocmask, SIG_SETMASK, sys::arg(&all), sys::arg(&was), 8);
  const int err = libc_create(thread, attr, start, arg);
  set_mask(was);
  return err;
}

void start_signal_watcher() {
  const auto& s = rt::state();
  // Dispositions are shared across nodes only then (signals.cc).
  if (!s.channel || s.node_count < 2 || !galloc::space().coherent) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // More than 4x PTHREAD_STACK_MIN: after a fork the child's libc keeps
  // this stack in its cache and would give it to a thread that asked for
  // a small one, whose overflow would then miss its guard page.
  pthread_attr_setstacksize(&attr, 128 * 1024);
  pthread_t t;
  const int err = create_runtime_thread(&t, &attr, watch, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) rt::die("cannot start the runtime's signal watcher", 127);
}

}  // namespace gpt::threads
