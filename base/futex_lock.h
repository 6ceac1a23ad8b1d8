// A sleeping lock for the in-process runtime's own use: a futex word, no
// libc, no allocation. (The program's pthread_mutex is not ours to use.)
#pragma once

#include <atomic>
#include <cstdint>

#include "gpt/futex.h"

namespace gpt {

class FutexLock {
 public:
  void lock() {
    std::uint32_t c = 0;
    if (word_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    // 2 = locked with waiters: the unlocker must wake someone.
    if (c != 2) c = word_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      futex::wait(&word_, 2);
      c = word_.exchange(2, std::memory_order_acquire);
    }
  }
  void unlock() {
    if (word_.exchange(0, std::memory_order_release) == 2) futex::wake(&word_);
  }

 private:
  std::atomic<std::uint32_t> word_{0};
};

// Scoped holder (std::lock_guard lives in <mutex>, which the runtime avoids).
template <class Lock>
class Held {
 public:
  explicit Held(Lock& l) : l_(l) { l_.lock(); }
  ~Held() { l_.unlock(); }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;

 private:
  Lock& l_;
};

}  // namespace gpt
