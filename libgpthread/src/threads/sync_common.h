// Small pieces every synchronisation object across nodes needs.
#pragma once

#include <time.h>

#include <cstdint>

#include "global_space.h"

namespace gpt::threads {

// True when `object` lives in the global space of a job with an agent: then
// threads on every node can reach it, and it is synchronised through the
// agents. Anything else is local to this node.
[[nodiscard]] inline bool in_global_space(const void* object) {
  const auto& s = galloc::space();
  return s.coherent && s.contains(object);
}

// The node that manages an object of the global space: the home of its page.
[[nodiscard]] inline std::uint32_t manager_of(const void* object) {
  const auto& g = galloc::space().geometry;
  auto a = reinterpret_cast<std::uintptr_t>(object);
  return g.home_of_page(g.page_of(a));
}

// Nanoseconds from now until an absolute CLOCK_REALTIME deadline (0 if it
// passed), or -1 for none.
[[nodiscard]] inline std::int64_t ns_until(const struct timespec* abstime) {
  if (!abstime) return -1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  std::int64_t ns = (abstime->tv_sec - now.tv_sec) * 1000000000LL + (abstime->tv_nsec - now.tv_nsec);
  return ns < 0 ? 0 : ns;
}

// Counts the mutexes and rwlocks the calling thread holds: a thread holding
// one cannot migrate (its ownership is recorded on this node). In TLS, not
// in the control block: a write there would dirty a global page per lock.
extern thread_local std::uint32_t t_locks_held __attribute__((tls_model("initial-exec")));
inline void count_lock_held(int delta) { t_locks_held += static_cast<std::uint32_t>(delta); }
[[nodiscard]] inline std::uint32_t locks_held() { return t_locks_held; }

}  // namespace gpt::threads
