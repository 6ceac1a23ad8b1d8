// pthread mutexes across nodes (docs/threads.md). The mutex's address is its
// identity; its token is managed by the agents (tools/gpt-node/locks.cc).
// Lock = acquire when the token came from another node; the release happens
// when the token leaves the node (the service thread does it on request), so
// whatever the holders wrote is at its homes before another node can lock.
// The libc's mutex struct only tells the type (recursive, errorcheck,
// robust); owners and recursion counts are kept here, per node, and a
// robust mutex's state in the mutex itself (robust_state_word).
#include <errno.h>
#include <pthread.h>

#include <atomic>

#include "coherence.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "futex_lock.h"
#include "libc_threads.h"
#include "runtime.h"
#include "sync_common.h"
#include "tcb.h"
#include "token_lock.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::threads {
namespace {

// Who holds which mutex on this node (open addressing; runtime-private).
struct Holder {
  std::uintptr_t mutex;  // its lock key (lock_key)
  pthread_mutex_t* object;
  Tcb* owner;
  unsigned count;
};
constexpr std::size_t kHolders = 8192;
Holder g_holders[kHolders];
FutexLock g_holders_lock;

Holder* find(std::uintptr_t m, bool create) {
  std::size_t i = (m >> 4) * 0x9e3779b97f4a7c15ull >> 51;  // 13 bits
  Holder* empty = nullptr;
  for (std::size_t probe = 0; probe < kHolders; ++probe, i = (i + 1) % kHolders) {
    Holder& h = g_holders[i];
    if (h.mutex == m) return &h;
    if (h.mutex == 0) {
      if (!empty) empty = &h;
      break;
    }
  }
  if (create && empty) {
    empty->mutex = m;
    return empty;
  }
  return nullptr;
}

// The lock's name at the agents: its address, and in the bits above any
// user address the incarnation pthread_mutex_init gave it (0 for a static
// initialiser), so a mutex initialised where one is still held (never
// unlocked nor destroyed) starts unlocked.
inline std::uintptr_t lock_key(const pthread_mutex_t* m) {
  return incarnated_key(m, static_cast<std::uint32_t>(*incarnation_word(m)));
}

// A lock call. A token from afar may come with its acquire's answer, which
// is applied where it lies in the reply: *answered says so.
int lock_call(channel::Op op, const void* m, std::uintptr_t key, std::int64_t timeout_ns = -1,
              bool* answered = nullptr) {
  const channel::TimedLockRequest req{{key, manager_of(m), 0}, timeout_ns};
  channel::Client client(rt::state().channel);
  const std::size_t size = op == channel::Op::kTimedLock ? sizeof req : sizeof req.head;
  const std::uint64_t generation = answered ? galloc::copy_generation() : 0;
  int result = -EINVAL;
  (void)client.call_in_place(op, &req, size, nullptr, 0,
                             [&](std::int32_t status, unsigned char* reply, std::uint32_t length) {
                               result = status;
                               if (answered && status == channel::kLockFromAfar && length > 0) {
                                 galloc::apply_acquire_answer(reply, length, generation);
                                 *answered = true;
                               }
                             });
  return result;
}

// Releases this node's writes and unlocks `m` in one call (kUnlockReleased).
int release_and_unlock(const void* m, std::uintptr_t key) {
  const channel::LockRequest req{key, manager_of(m), 0};
  return unlock_with_release(&req, sizeof req);
}

Tcb* self() { return reinterpret_cast<Tcb*>(pthread_self()); }

// The token is here and nobody else wants it: one CAS in the channel
// memory, no call (gpt/lock_table.h). Returns the kLock status, or -1.
inline __attribute__((always_inline)) int take_fast(std::uintptr_t key) {
  channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
  bool afar = false;
  if (!e || !channel::try_take(*e, &afar)) return -1;
  return afar ? channel::kLockFromAfar : 0;
}

inline __attribute__((always_inline)) bool give_fast(std::uintptr_t key) {
  channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
  return e && channel::try_give(*e);
}

// Takes the lock's token for this thread: fast, or through the agent.
inline __attribute__((always_inline)) int take(const void* m, std::uintptr_t key, bool try_only,
                                               const struct timespec* abstime) {
  int status = take_fast(key);
  if (status >= 0) {
    if (status == channel::kLockFromAfar) galloc::acquire_synced();
    return 0;
  }
  // Polling a lock another node holds: the agent's busy hint answers.
  if (try_only) {
    const channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
    const std::uint64_t acquires = rt::state().channel->header.acquires.load(std::memory_order_acquire);
    if (e && channel::busy_elsewhere(*e, acquires)) return EBUSY;
  }
  bool answered = false;
  // A thread that may wait makes what it wrote visible first, as it would
  // by blocking natively: a program that reads another thread's progress
  // (a flag set just before it blocked) from a node that acquires sees it.
  // Nothing dirty: no call.
  if (!try_only) galloc::release();
  status = try_only ? lock_call(channel::Op::kTryLock, m, key, -1, &answered)
           : abstime ? lock_call(channel::Op::kTimedLock, m, key, ns_until(abstime), &answered)
                     : lock_call(channel::Op::kLock, m, key, -1, &answered);
  if (status == -EBUSY) return EBUSY;
  if (status == -ETIMEDOUT) return ETIMEDOUT;
  if (status < 0) return EINVAL;
  if (status == channel::kLockFromAfar && !answered) galloc::acquire_synced();
  return 0;
}

// An unlock of a lock no thread of this node holds: a normal mutex or a
// spinlock that a thread of another node locked, which any thread may
// unlock (as with glibc). What this thread wrote is released first, as by
// the owner's unlock; the agents find the token's holder and its next
// taker acquires that release. Rare: out of the hot path.
__attribute__((noinline, cold)) int unlock_held_elsewhere(const void* m, std::uintptr_t key) {
  galloc::release();
  return lock_call(channel::Op::kUnlockAnyHolder, m, key) == 0 ? 0 : EPERM;
}

// `any_holder`: the caller need not hold the lock (a normal mutex, a
// spinlock); else EPERM when no thread of this node holds it.
inline __attribute__((always_inline)) int give(const void* m, std::uintptr_t key, bool any_holder = false) {
  // No release here: the agent has the service thread release before the
  // token leaves this node, so a lock used on one node stays local...
  if (give_fast(key)) return 0;
  // ...unless another node is already waiting for it: then this thread
  // releases now, in the unlock's own call, and the token leaves with it
  // (no flush request, and for a lock node 0 manages, without waiting for
  // the release's acknowledgement).
  channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
  const bool done = e && (e->state.load(std::memory_order_acquire) & channel::lock_bits::kRecall)
                        ? release_and_unlock(m, key) == 0
                        : lock_call(channel::Op::kUnlock, m, key) == 0;
  if (done) return 0;
  return any_holder ? unlock_held_elsewhere(m, key) : EPERM;
}

// A robust mutex's state (robust_state_word), changed only by the thread
// that holds its token.
enum RobustState : int {
  kConsistent = 0,
  kOwnerDied = 1,        // its owner ended holding it: the next taker hears EOWNERDEAD
  kInconsistent = 2,     // taken after that, not yet made consistent
  kNotRecoverable = 3,   // unlocked while inconsistent: unusable for good
};

// After the token was taken: what a robust mutex's state makes of it.
int check_robust(pthread_mutex_t* m) {
  int& state = *robust_state_word(m);
  if (state == kNotRecoverable) {
    (void)give(m, lock_key(m));
    return ENOTRECOVERABLE;
  }
  if (state == kOwnerDied) {
    state = kInconsistent;
    return EOWNERDEAD;
  }
  return 0;
}

int lock(pthread_mutex_t* m, bool try_only, const struct timespec* abstime = nullptr) {
  const int type = libc_mutex_type(m);
  const bool robust = libc_mutex_robust(m);
  if (type == PTHREAD_MUTEX_NORMAL && !robust) {
    // No owner to record: POSIX leaves relocking and foreign unlocking of a
    // normal mutex undefined (relocking deadlocks; trylock gives EBUSY; any
    // thread may unlock it, as with glibc). The locker only notes it, to
    // stay on this node while it is held.
    const std::uintptr_t key = lock_key(m);
    int err = take(m, key, try_only, abstime);
    if (err == 0) note_normal_locked(key);
    return err;
  }
  Tcb* me = self();
  const std::uintptr_t key = lock_key(m);
  {
    Held<FutexLock> hold(g_holders_lock);
    if (Holder* h = find(key, false); h && h->owner == me) {
      if (type == PTHREAD_MUTEX_RECURSIVE) {
        ++h->count;
        return 0;
      }
      // POSIX: trylock of a mutex the caller holds is EBUSY, whatever the type.
      if (try_only) return EBUSY;
      return EDEADLK;  // errorcheck, and robust ones (which own their owner)
    }
  }
  if (int err = take(m, key, try_only, abstime)) return err;
  const int robust_result = robust ? check_robust(m) : 0;
  if (robust_result == ENOTRECOVERABLE) return robust_result;
  Held<FutexLock> hold(g_holders_lock);
  Holder* h = find(key, true);
  if (!h) return EAGAIN;
  h->object = m;
  h->owner = me;
  h->count = 1;
  count_lock_held(1);
  return robust_result;
}

int unlock(pthread_mutex_t* m) {
  const int type = libc_mutex_type(m);
  const bool robust = libc_mutex_robust(m);
  if (type == PTHREAD_MUTEX_NORMAL && !robust) {
    // Whoever locked it, wherever: glibc unlocks it too.
    const std::uintptr_t key = lock_key(m);
    const int err = give(m, key, true);
    if (err == 0) note_normal_unlocked(key);
    return err;
  }
  {
    Held<FutexLock> hold(g_holders_lock);
    Holder* h = find(lock_key(m), false);
    if (!h || h->owner != self()) return EPERM;
    if (type == PTHREAD_MUTEX_RECURSIVE && h->count > 1) {
      --h->count;
      return 0;
    }
    // Tombstone-free delete: keep the slot, clear the owner (the mutex
    // address stays as its key; slots are reused by the same mutex).
    h->owner = nullptr;
    h->count = 0;
    // POSIX: unlocked without pthread_mutex_consistent after EOWNERDEAD,
    // the mutex can never be locked again.
    if (robust && *robust_state_word(m) == kInconsistent) *robust_state_word(m) = kNotRecoverable;
  }
  int err = give(m, lock_key(m));
  if (err == 0) count_lock_held(-1);
  return err;
}

int make_consistent(pthread_mutex_t* m) {
  if (!libc_mutex_robust(m) || *robust_state_word(m) != kInconsistent) return EINVAL;
  {
    Held<FutexLock> hold(g_holders_lock);
    Holder* h = find(lock_key(m), false);
    if (!h || h->owner != self()) return EPERM;
  }
  *robust_state_word(m) = kConsistent;
  return 0;
}

}  // namespace

int token_lock(const void* address, bool try_only) {
  return take(address, reinterpret_cast<std::uintptr_t>(address), try_only, nullptr);
}

// Spinlocks and once: any thread may unlock a spinlock (as with glibc).
int token_unlock(const void* address) { return give(address, reinterpret_cast<std::uintptr_t>(address), true); }

void abandon_robust_mutexes() {
  // Gathered first: giving a token back calls the agent, not under the table's lock.
  constexpr std::size_t kBatch = 64;
  pthread_mutex_t* held[kBatch];
  Tcb* me = self();
  for (;;) {
    std::size_t n = 0;
    {
      Held<FutexLock> hold(g_holders_lock);
      for (Holder& h : g_holders) {
        if (h.owner != me || !h.mutex) continue;
        pthread_mutex_t* m = h.object;
        if (!libc_mutex_robust(m)) continue;
        h.owner = nullptr;
        h.count = 0;
        held[n++] = m;
        if (n == kBatch) break;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      *robust_state_word(held[i]) = kOwnerDied;  // under its token: the next taker sees it
      if (give(held[i], lock_key(held[i])) == 0) count_lock_held(-1);
    }
    if (n < kBatch) return;
  }
}

}  // namespace gpt::threads

using namespace gpt;
using namespace gpt::threads;

namespace {
// Mutexes outside the global space (the libc's, libunwind's, other
// libraries' own) can only be shared by this node's threads: they stay the
// libc's (and never call into the runtime, which may run in a signal
// handler when libunwind takes its lock).
bool distributed(const pthread_mutex_t* m) { return in_global_space(m); }
void check_local(const pthread_mutex_t* m) { check_in_fork_child(m, libc_mutex_pshared(m), "mutex"); }
}  // namespace

// musl programs are linked with --wrap=pthread_mutex_init (gpt-cc): the
// libc's initialises the mutex's own fields.
#ifdef __GLIBC__
GPT_API int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
#else
GPT_API int __wrap_pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
#endif
  rt::ensure_started();
  const int err = libc_mutex_init(m, attr);
  if (err == 0 && distributed(m)) *incarnation_word(m) = static_cast<int>(next_incarnation());
  return err;
}

GPT_API int pthread_mutex_lock(pthread_mutex_t* m) {
  GPT_PROFILE_CALL_SITE();
  rt::ensure_started();
  if (!distributed(m)) {
    check_local(m);
    return libc_mutex_lock(m);
  }
  return lock(m, false);
}

GPT_API int pthread_mutex_trylock(pthread_mutex_t* m) {
  rt::ensure_started();
  if (!distributed(m)) {
    check_local(m);
    return libc_mutex_trylock(m);
  }
  return lock(m, true);
}

GPT_API int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  GPT_PROFILE_CALL_SITE();
  rt::ensure_started();
  if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L) return EINVAL;
  if (!distributed(m)) {
    check_local(m);
    return libc_mutex_timedlock(m, abstime);
  }
  return lock(m, false, abstime);
}

// musl programs are linked with --wrap=pthread_mutex_consistent (gpt-cc), so
// that the libc's stays reachable, as __real_, for mutexes outside the
// global space: the musl build must not define the plain name.
#ifdef __GLIBC__
GPT_API int pthread_mutex_consistent(pthread_mutex_t* m) {
#else
GPT_API int __wrap_pthread_mutex_consistent(pthread_mutex_t* m) {
#endif
  rt::ensure_started();
  if (!distributed(m)) return libc_mutex_consistent(m);
  return make_consistent(m);
}

GPT_API int pthread_mutex_unlock(pthread_mutex_t* m) {
  rt::ensure_started();
  if (!distributed(m)) return libc_mutex_unlock(m);
  return unlock(m);
}
