// glibc's pthread_*_clock* and sem_clockwait: the timed calls with a
// deadline on CLOCK_MONOTONIC or CLOCK_REALTIME. gpthread's timed calls take
// a CLOCK_REALTIME deadline; a monotonic one is converted (it measures the
// same remaining time). Also pthread_sigqueue and pthread_yield.
#include <pthread.h>  // first: it says which libc this is
#ifdef __GLIBC__
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>

#include "gpt/profile.h"
#include "sync_common.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

// The CLOCK_REALTIME deadline equivalent to `deadline` on `clock`.
bool realtime_deadline(clockid_t clock, const struct timespec* deadline, struct timespec* out) {
  if (clock == CLOCK_REALTIME) {
    *out = *deadline;
    return true;
  }
  if (clock != CLOCK_MONOTONIC) return false;
  struct timespec mono, real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  long long left = (deadline->tv_sec - mono.tv_sec) * 1000000000LL + (deadline->tv_nsec - mono.tv_nsec);
  long long at = real.tv_sec * 1000000000LL + real.tv_nsec + (left > 0 ? left : 0);
  out->tv_sec = static_cast<time_t>(at / 1000000000LL);
  out->tv_nsec = static_cast<long>(at % 1000000000LL);
  return true;
}

}  // namespace

GPT_API int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  struct timespec real;
  if (!realtime_deadline(clock, t, &real)) return EINVAL;
  return pthread_mutex_timedlock(m, &real);
}

GPT_API int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                   const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return EINVAL;
  return gpt::threads::cond_wait_until(c, m, t, clock);
}

GPT_API int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t clock, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  struct timespec real;
  if (!realtime_deadline(clock, t, &real)) return EINVAL;
  return pthread_rwlock_timedrdlock(l, &real);
}

GPT_API int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t clock, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  struct timespec real;
  if (!realtime_deadline(clock, t, &real)) return EINVAL;
  return pthread_rwlock_timedwrlock(l, &real);
}

GPT_API int sem_clockwait(sem_t* s, clockid_t clock, const struct timespec* t) {
  GPT_PROFILE_CALL_SITE();
  struct timespec real;
  if (!realtime_deadline(clock, t, &real)) {
    errno = EINVAL;
    return -1;
  }
  return sem_timedwait(s, &real);
}

GPT_API int pthread_sigqueue(pthread_t thread, int sig, const union sigval) {
  // The value cannot travel with pthread_kill; a thread of this node gets
  // the signal (as pthread_kill), others ENOTSUP from pthread_kill.
  return pthread_kill(thread, sig);
}

// pthread_yield: glibc's header turns it into sched_yield, which is the
// kernel's and right on every node (the symbol stays listed as data-only).
#endif
