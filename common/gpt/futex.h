// Futex wait/wake on 32-bit words, usable in both worlds: the agent (glibc)
// and the in-process runtime (musl or glibc, freestanding C++, possibly inside
// a signal handler). Shared (non-private) futexes, because the channel words
// live in a memfd mapped by two processes.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

#include "gpt/raw_syscall.h"

namespace gpt::futex {

// The kernel ABI's operation numbers (linux/futex.h is not on musl's include
// path).
inline constexpr int kWait = 0;
inline constexpr int kWake = 1;

// Sleeps while *word == expected, at most `timeout_ns` (< 0: no limit).
// Spurious returns are allowed; callers re-check their condition. Returns
// the system call's result (-EINTR: a signal handler ran).
inline long wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                 long long timeout_ns = -1) {
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000LL);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000LL);
    tsp = &ts;
  }
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  return sys::call(SYS_futex, sys::arg(word), kWait, expected, sys::arg(tsp));
}

inline void wake(std::atomic<std::uint32_t>* word, int count = 1) {
  sys::call(SYS_futex, sys::arg(word), kWake, count);
}

inline void wake_all(std::atomic<std::uint32_t>* word) { wake(word, 0x7fffffff); }

}  // namespace gpt::futex
