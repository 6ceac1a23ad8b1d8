// Waiting on a channel word the way every program-side wait does: yield the
// core for up to the agent's spin budget (Header::wait_spin_us), then sleep
// on the word's futex. Why: on a virtual machine, waking a thread whose core
// went idle costs tens of µs, more than most answers take; a yielding waiter
// keeps its core warm yet gives it to any runnable thread (the agent
// included). GPT_SPIN_US=0 turns the spin off (nodes sharing few cores).
// Header-only, system calls only: the freestanding runtime uses it.
#pragma once

#include <errno.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "gpt/futex.h"
#include "gpt/raw_syscall.h"

namespace gpt::channel {

[[nodiscard]] inline long long monotonic_us() {
  struct timespec ts {};
  (void)sys::call(SYS_clock_gettime, CLOCK_MONOTONIC, sys::arg(&ts));
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Returns the word's value once `done(value)` holds. `interrupted` runs
// when a signal handler cut the sleep short.
template <class Done, class Interrupted>
std::uint32_t spin_then_sleep(std::atomic<std::uint32_t>& word, std::uint32_t budget_us, Done&& done,
                              Interrupted&& interrupted) {
  if (budget_us) {
    const long long deadline = monotonic_us() + budget_us;
    do {
      const std::uint32_t s = word.load(std::memory_order_acquire);
      if (done(s)) return s;
      (void)sys::call(SYS_sched_yield);
    } while (monotonic_us() < deadline);
  }
  for (;;) {
    const std::uint32_t s = word.load(std::memory_order_acquire);
    if (done(s)) return s;
    if (futex::wait(&word, s) == -EINTR) interrupted();
  }
}

}  // namespace gpt::channel
