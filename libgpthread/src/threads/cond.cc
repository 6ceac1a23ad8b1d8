// Condition variables across nodes (docs/threads.md). A waiter is queued
// at the condition's manager before it unlocks the mutex, so a signal sent
// after that unlock always finds it; then it sleeps on its ticket in its
// agent, and locks the mutex again (which acquires if the lock's token
// came from another node). Signal and broadcast release first.
//
// Conditions outside the global space, and every condition when there is
// no agent (a one-node run), use a local futex condition in the object.
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "cancel.h"
#include "coherence.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "runtime.h"
#include "sync_common.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

// The condition's words, in the libc's pthread_cond_t (zeros for
// PTHREAD_COND_INITIALIZER): the local futex sequence, whether its timed
// waits measure CLOCK_MONOTONIC (pthread_condattr_setclock), and whether it
// was made process-shared (pthread_condattr_setpshared: only a fork child
// looks, sync_common.h).
struct LocalCond {
  std::atomic<std::uint32_t> seq;
  std::uint32_t monotonic;
  std::uint32_t pshared;
};
static_assert(sizeof(LocalCond) <= sizeof(pthread_cond_t));

using Head = gpt::channel::CondHead;

Head head_of(const pthread_cond_t* c, std::uint32_t extra) {
  return Head{reinterpret_cast<std::uintptr_t>(c), gpt::threads::manager_of(c), extra};
}

clockid_t clock_of(const pthread_cond_t* c) {
  return reinterpret_cast<const LocalCond*>(c)->monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

// A cancel interrupts the futex wait; one sent just before it is seen
// within kCancelCheckNs.
constexpr std::int64_t kCancelCheckNs = 50'000'000;

int local_wait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime, clockid_t clock) {
  auto* lc = reinterpret_cast<LocalCond*>(c);
  gpt::threads::check_in_fork_child(c, lc->pshared != 0, "condition variable");
  std::uint32_t seq = lc->seq.load(std::memory_order_acquire);
  pthread_mutex_unlock(m);
  for (;;) {
    std::int64_t ns = gpt::threads::ns_until(abstime, clock);
    if (ns == 0 || gpt::threads::cancel_due()) break;
    gpt::futex::wait(&lc->seq, seq, ns < 0 || ns > kCancelCheckNs ? kCancelCheckNs : ns);
    if (lc->seq.load(std::memory_order_acquire) != seq) break;
  }
  pthread_mutex_lock(m);
  gpt::threads::testcancel();  // with the mutex held again, as POSIX says
  if (abstime && gpt::threads::ns_until(abstime, clock) == 0 && lc->seq.load(std::memory_order_acquire) == seq)
    return ETIMEDOUT;
  return 0;
}

void local_wake(pthread_cond_t* c, bool all) {
  auto* lc = reinterpret_cast<LocalCond*>(c);
  gpt::threads::check_in_fork_child(c, lc->pshared != 0, "condition variable");
  lc->seq.fetch_add(1, std::memory_order_acq_rel);
  if (all) gpt::futex::wake_all(&lc->seq);
  else gpt::futex::wake(&lc->seq, 1);
}

}  // namespace

GPT_API int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attr) {
  clockid_t clock = CLOCK_REALTIME;
  int pshared = PTHREAD_PROCESS_PRIVATE;
  if (attr) {
    pthread_condattr_getclock(attr, &clock);
    pthread_condattr_getpshared(attr, &pshared);
  }
  auto* lc = reinterpret_cast<LocalCond*>(c);
  lc->seq.store(0, std::memory_order_relaxed);
  lc->monotonic = clock == CLOCK_MONOTONIC ? 1 : 0;
  lc->pshared = pshared == PTHREAD_PROCESS_SHARED ? 1 : 0;
  return 0;
}

GPT_API int pthread_cond_destroy(pthread_cond_t*) { return 0; }

// The libc headers declare abstime non-null for pthread_cond_timedwait;
// pthread_cond_wait passes none; all of them go through cond_wait_until.
int gpt::threads::cond_wait_until(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime,
                                  clockid_t clock) {
  gpt::rt::ensure_started();
  gpt::threads::testcancel();
  if (abstime && (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L)) return EINVAL;
  if (!gpt::threads::in_global_space(c)) return local_wait(c, m, abstime, clock);
  gpt::channel::Client client(gpt::rt::state().channel);
  Head h = head_of(c, 0);
  gpt::channel::CondEnqueueReply queued{};
  auto r = client.call(gpt::channel::Op::kCondEnqueue, h, queued);
  if (r.status != 0) return EINVAL;
  pthread_mutex_unlock(m);
  // About to sleep: what it wrote becomes visible first (mutex.cc).
  gpt::galloc::release();
  const gpt::channel::CondSleepRequest sleep{h, queued.ticket, gpt::threads::ns_until(abstime, clock)};
  // A cancellation point: a cancel withdraws the ticket (a signal that
  // crossed it goes on to another waiter), and the handlers run with the
  // mutex locked again, as POSIX says.
  r = gpt::threads::cancellable_call(gpt::channel::Op::kCondSleep, &sleep, sizeof sleep);
  // Woken by a signal or broadcast, which released first: POSIX counts both
  // calls among those that synchronise memory, so the waiter sees what the
  // waker wrote, also outside the mutex (whose token, still on this node,
  // would bring no acquire).
  if (r.status == 0) gpt::galloc::acquire();
  pthread_mutex_lock(m);
  if (r.status == -ECANCELED) gpt::threads::act_on_cancel();
  return r.status == -ETIMEDOUT ? ETIMEDOUT : 0;
}

GPT_API int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
  GPT_PROFILE_CALL_SITE();
  return gpt::threads::cond_wait_until(c, m, abstime, clock_of(c));
}

GPT_API int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  GPT_PROFILE_CALL_SITE();
  return gpt::threads::cond_wait_until(c, m, nullptr, CLOCK_REALTIME);
}

static int signal_cond(pthread_cond_t* c, bool all) {
  gpt::rt::ensure_started();
  if (!gpt::threads::in_global_space(c)) {
    local_wake(c, all);
    return 0;
  }
  gpt::galloc::release();
  Head h = head_of(c, all ? 1 : 0);
  gpt::channel::Client client(gpt::rt::state().channel);
  return client.call(gpt::channel::Op::kCondSignal, h).status == 0 ? 0 : EINVAL;
}

GPT_API int pthread_cond_signal(pthread_cond_t* c) { return signal_cond(c, false); }
GPT_API int pthread_cond_broadcast(pthread_cond_t* c) { return signal_cond(c, true); }
