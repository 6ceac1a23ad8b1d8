// pthread rwlocks across nodes: readers and writer are counted at the
// lock's manager (tools/gpt-node/rwlocks.cc); taking it acquires, unlocking
// releases. Rwlocks outside the global space, and all of them in a one-node
// run without an agent, are a local futex rwlock in the object's first word
// (-1: a writer, n > 0: n readers).
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "coherence.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "runtime.h"
#include "sync_common.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

std::atomic<std::uint32_t>* word_of(pthread_rwlock_t* l) {
  return reinterpret_cast<std::atomic<std::uint32_t>*>(l);
}
constexpr std::uint32_t kWriter = 0xffffffffu;

// The second word holds the incarnation pthread_rwlock_init gave it (0 for
// the static initialiser): part of its name at the agents (sync_common.h).
std::atomic<std::uint32_t>* incarnation_of(pthread_rwlock_t* l) { return word_of(l) + 1; }
std::uintptr_t key_of(pthread_rwlock_t* l) {
  return gpt::threads::incarnated_key(l, incarnation_of(l)->load(std::memory_order_relaxed));
}
// The third word: 1 if pthread_rwlock_init made it process-shared (only a
// fork child looks, sync_common.h).
std::uint32_t* pshared_of(pthread_rwlock_t* l) { return reinterpret_cast<std::uint32_t*>(l) + 2; }
void check_local(pthread_rwlock_t* l) { gpt::threads::check_in_fork_child(l, *pshared_of(l) != 0, "rwlock"); }

int local_lock(pthread_rwlock_t* l, bool write, bool try_only, const struct timespec* abstime) {
  auto* w = word_of(l);
  for (;;) {
    std::uint32_t v = w->load(std::memory_order_acquire);
    bool free = write ? v == 0 : v != kWriter;
    if (free && w->compare_exchange_weak(v, write ? kWriter : v + 1, std::memory_order_acquire)) return 0;
    if (free) continue;
    if (try_only) return EBUSY;
    std::int64_t ns = gpt::threads::ns_until(abstime);
    if (ns == 0) return ETIMEDOUT;
    gpt::futex::wait(w, v, ns);
  }
}

int lock(pthread_rwlock_t* l, bool write, bool try_only, const struct timespec* abstime) {
  gpt::rt::ensure_started();
  if (abstime && (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L)) return EINVAL;
  if (!gpt::threads::in_global_space(l)) {
    check_local(l);
    return local_lock(l, write, try_only, abstime);
  }
  const gpt::channel::RwLockRequest req{
      {key_of(l), gpt::threads::manager_of(l), write ? 1u : 0u},
      try_only ? 0 : gpt::threads::ns_until(abstime),
      try_only ? 1u : 0u,
      0};
  // A thread that may wait releases first, as a mutex's (mutex.cc).
  if (!try_only) gpt::galloc::release();
  const std::int32_t status = gpt::threads::acquiring_call(gpt::channel::Op::kRwLock, &req, sizeof req);
  if (status == -EBUSY) return EBUSY;
  if (status == -ETIMEDOUT) return ETIMEDOUT;
  if (status != 0) return EINVAL;
  gpt::threads::count_lock_held(1);
  return 0;
}

}  // namespace

GPT_API int pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* attr) {
  word_of(l)->store(0, std::memory_order_relaxed);
  int pshared = PTHREAD_PROCESS_PRIVATE;
  if (attr) pthread_rwlockattr_getpshared(attr, &pshared);
  *pshared_of(l) = pshared == PTHREAD_PROCESS_SHARED ? 1 : 0;
  gpt::rt::ensure_started();
  incarnation_of(l)->store(gpt::threads::in_global_space(l) ? gpt::threads::next_incarnation() : 0,
                           std::memory_order_relaxed);
  return 0;
}
GPT_API int pthread_rwlock_destroy(pthread_rwlock_t*) { return 0; }

GPT_API int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  GPT_PROFILE_CALL_SITE();
  return lock(l, false, false, nullptr);
}
GPT_API int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) { return lock(l, false, true, nullptr); }
GPT_API int pthread_rwlock_timedrdlock(pthread_rwlock_t* l, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  return lock(l, false, false, t);
}
GPT_API int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  GPT_PROFILE_CALL_SITE();
  return lock(l, true, false, nullptr);
}
GPT_API int pthread_rwlock_trywrlock(pthread_rwlock_t* l) { return lock(l, true, true, nullptr); }
GPT_API int pthread_rwlock_timedwrlock(pthread_rwlock_t* l, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  return lock(l, true, false, t);
}

GPT_API int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  gpt::rt::ensure_started();
  if (!gpt::threads::in_global_space(l)) {
    check_local(l);
    auto* w = word_of(l);
    std::uint32_t v = w->load(std::memory_order_relaxed);
    if (v == 0) return EPERM;
    if (v == kWriter) w->store(0, std::memory_order_release);
    else w->fetch_sub(1, std::memory_order_release);  // readers leave concurrently
    gpt::futex::wake_all(w);
    return 0;
  }
  gpt::galloc::release();
  const gpt::channel::RwLockHead req{key_of(l), gpt::threads::manager_of(l), 0};
  gpt::channel::Client client(gpt::rt::state().channel);
  if (client.call(gpt::channel::Op::kRwUnlock, req).status != 0) return EPERM;
  gpt::threads::count_lock_held(-1);
  return 0;
}
