// Small pieces every synchronisation object across nodes needs.
#pragma once

#include <errno.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "cancel.h"
#include "coherence.h"
#include "global_space.h"
#include "normal_holds.h"
#include "gpt/channel_client.h"
#include "runtime.h"
#include "shim.h"

namespace gpt::threads {

// True when `object` lives in the global space of a job with an agent: then
// threads on every node can reach it, and it is synchronised through the
// agents. Anything else is local to this node.
[[nodiscard]] inline bool in_global_space(const void* object) {
  const auto& s = galloc::space();
  return s.coherent && s.contains(object);
}

// A child of fork() works on its private copy of the parent's MAP_SHARED
// mappings (docs/threads.md, "fork"): its first call on a process-shared
// object in one says the object does not synchronise with the parent.
// Elsewhere one load of the runtime's state; callers are the local paths
// (every object is local in a child, which has no agent).
inline void check_in_fork_child(const void* object, bool pshared, const char* what) {
  if (__builtin_expect(rt::state().fork_child, false) && pshared) shim::tell_of_unshared_object(object, what);
}

// Incarnations for pthread_mutex_init and pthread_rwlock_init: never 0,
// and different for the same address 65535 times in a row on one node (and
// nodes start apart). The agents know a lock by its address with the
// incarnation in the bits above any user address, so an object initialised
// where one is still held (never unlocked nor destroyed) starts unlocked.
[[nodiscard]] inline std::uint32_t next_incarnation() {
  static std::atomic<std::uint32_t> counter{0};
  const std::uint32_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return 1 + (static_cast<std::uint32_t>(rt::state().node_id) * 4099u + n) % 0xffffu;
}
[[nodiscard]] inline std::uintptr_t incarnated_key(const void* object, std::uint32_t incarnation) {
  return reinterpret_cast<std::uintptr_t>(object) | static_cast<std::uintptr_t>(incarnation & 0xffffu) << 48;
}

// The node that manages an object of the global space: the home of its page.
[[nodiscard]] inline std::uint32_t manager_of(const void* object) {
  const auto& g = galloc::space().geometry;
  auto a = reinterpret_cast<std::uintptr_t>(object);
  return g.home_of_page(g.page_of(a));
}

// Nanoseconds from now until an absolute deadline on `clock` (0 if it
// passed), or -1 for none.
[[nodiscard]] inline std::int64_t ns_until(const struct timespec* abstime, clockid_t clock = CLOCK_REALTIME) {
  if (!abstime) return -1;
  struct timespec now;
  clock_gettime(clock, &now);
  std::int64_t ns = (abstime->tv_sec - now.tv_sec) * 1000000000LL + (abstime->tv_nsec - now.tv_nsec);
  return ns < 0 ? 0 : ns;
}

// pthread_cond_timedwait with the deadline on `clock` (CLOCK_REALTIME or
// CLOCK_MONOTONIC), whatever clock the condition was initialised with:
// pthread_cond_clockwait's meaning.
int cond_wait_until(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime, clockid_t clock);

// Gives up the robust mutexes the calling thread holds as it ends: each is
// marked owner-dead and unlocked, so its next taker gets EOWNERDEAD.
void abandon_robust_mutexes();

// Counts the mutexes with an owner (errorcheck, recursive, robust) and the
// rwlocks the calling thread holds: a thread holding one cannot migrate
// (its ownership is recorded on this node). In TLS, not in the control
// block: a write there would dirty a global page per lock. Normal mutexes,
// which any thread may unlock, are listed apart (normal_holds.h), and
// pin their locker as long as they are held.
extern thread_local std::uint32_t t_locks_held __attribute__((tls_model("initial-exec")));
inline void count_lock_held(int delta) { t_locks_held += static_cast<std::uint32_t>(delta); }
[[nodiscard]] inline std::uint32_t locks_held() { return t_locks_held + normal_mutexes_held(); }

// A call whose success is an acquire (a semaphore wait, an rwlock): the
// grant carries its releasers' epoch, and the agent's answer to the acquire
// usually rides on the reply, applied where it lies in the slot; otherwise
// the acquire is asked for. Returns the call's status (0: granted).
// Releases, then unlocks a lock token (kUnlockReleased with the given
// request, the pages appended) in the same call to the agent, which may
// send the token on before the release is acknowledged. Returns the
// unlock's status (sync_release.cc).
[[nodiscard]] int unlock_with_release(const void* unlock_request, std::size_t length);
// Releases before a pthread barrier wait (kReleaseForBarrierWait with the
// wait's request and token): the agent arrives at the barrier as soon as
// the release is on its way. False if there was nothing to release (no call
// made: the wait must arrive itself).
[[nodiscard]] bool release_for_barrier_wait(const void* wait_request, std::size_t length);
// Has a thread that a signal handler interrupted in one of those waits
// release what the handler wrote (sync_release.cc). Once, at start-up.
void install_release_after_handlers();

// `cancellable`: a cancellation point (cancel.h), -ECANCELED when cancelled.
[[nodiscard]] inline std::int32_t acquiring_call(channel::Op op, const void* request, std::size_t length,
                                                 bool cancellable = false) {
  channel::Client client(rt::state().channel);
  const std::uint64_t generation = galloc::copy_generation();
  std::int32_t status = -EINVAL;
  bool answered = false;
  (void)client.call_in_place(
      op, request, length, nullptr, 0,
      [&](std::int32_t s, unsigned char* reply, std::uint32_t reply_length) {
        if (cancellable) cancellable_wait_over();
        status = s;
        if (s == 0 && reply_length > 0) {
          galloc::apply_acquire_answer(reply, reply_length, generation);
          answered = true;
        }
      },
      [&](std::uint32_t slot) {
        if (cancellable) cancellable_wait_begins(slot);
      });
  if (status == 0 && !answered) galloc::acquire_synced();
  return status;
}

}  // namespace gpt::threads
