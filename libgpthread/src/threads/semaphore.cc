// POSIX semaphores across nodes (docs/threads.md): the count lives at the
// semaphore's manager (tools/gpt-node/semaphores.cc); sem_post releases,
// a successful wait acquires. sem_t holds only our identity: a magic, the
// initial value and an incarnation number chosen by sem_init. Semaphores
// outside the global space, and all of them in a one-node run without an
// agent, are local futex semaphores in the same object.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "cancel.h"
#include "coherence.h"
#include "diag.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "runtime.h"
#include "sync_common.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr std::uint32_t kSemMagic = 0x4d455347;  // "GSEM"

struct Sem {
  std::uint32_t magic;
  std::uint32_t initial;
  std::uint64_t incarnation;
  std::atomic<std::uint32_t> local;  // the count of a local semaphore
  std::uint32_t pshared;             // sem_init's: only a fork child looks (sync_common.h)
};
static_assert(sizeof(Sem) <= sizeof(sem_t));

std::atomic<std::uint64_t> g_incarnations{1};

Sem* as_sem(sem_t* s) { return reinterpret_cast<Sem*>(s); }

int fail(int err) {
  errno = err;
  return -1;
}

using Head = gpt::channel::SemHead;

Head head_of(const sem_t* s) {
  const Sem* self = reinterpret_cast<const Sem*>(s);
  return Head{reinterpret_cast<std::uintptr_t>(s), gpt::threads::manager_of(s), self->initial,
              self->incarnation};
}

int local_wait(Sem* s, bool try_only, const struct timespec* abstime) {
  for (;;) {
    std::uint32_t v = s->local.load(std::memory_order_acquire);
    if (v > 0) {
      if (s->local.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return 0;
      continue;
    }
    if (try_only) return fail(EAGAIN);
    std::int64_t ns = gpt::threads::ns_until(abstime);
    if (ns == 0) return fail(ETIMEDOUT);
    gpt::threads::testcancel();
    // A cancel interrupts the wait; one sent just before it is seen within 50 ms.
    constexpr std::int64_t kCancelCheckNs = 50'000'000;
    gpt::futex::wait(&s->local, 0, ns < 0 || ns > kCancelCheckNs ? kCancelCheckNs : ns);
  }
}

int wait(sem_t* sem, bool try_only, const struct timespec* abstime) {
  gpt::rt::ensure_started();
  if (!try_only) gpt::threads::testcancel();  // sem_wait and sem_timedwait are cancellation points
  Sem* s = as_sem(sem);
  if (s->magic != kSemMagic) return fail(EINVAL);
  if (abstime && (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L)) return fail(EINVAL);
  if (!gpt::threads::in_global_space(sem)) {
    gpt::threads::check_in_fork_child(sem, s->pshared != 0, "semaphore");
    return local_wait(s, try_only, abstime);
  }
  const gpt::channel::SemWaitRequest req{head_of(sem), try_only ? 0 : gpt::threads::ns_until(abstime),
                                         try_only ? 1u : 0u, 0};
  // Success acquires: the poster's writes before its post are seen. A
  // cancel withdraws the wait (a unit granted meanwhile is given back).
  // A thread that may wait releases first (mutex.cc).
  if (!try_only) gpt::galloc::release();
  const std::int32_t status =
      gpt::threads::acquiring_call(gpt::channel::Op::kSemWait, &req, sizeof req, !try_only);
  if (status == -ECANCELED) gpt::threads::act_on_cancel();
  if (status == -EAGAIN) return fail(EAGAIN);
  if (status == -ETIMEDOUT) return fail(ETIMEDOUT);
  if (status != 0) return fail(EINVAL);
  return 0;
}

}  // namespace

GPT_API int sem_init(sem_t* sem, int pshared, unsigned value) {
  // pshared: the semaphore may sit in memory other processes map too. The
  // job's threads share it either way (it is global memory or local to this
  // node like any private one); what another process does with its own
  // mapping of the page is that process's (docs/threads.md, "Limits"). A
  // fork child's copy is its own: kept, so that the child can say so.
  if (value > SEM_VALUE_MAX) return fail(EINVAL);
  gpt::rt::ensure_started();
  Sem* s = as_sem(sem);
  s->magic = kSemMagic;
  s->initial = value;
  s->incarnation = static_cast<std::uint64_t>(gpt::rt::state().node_id) << 48 |
                   g_incarnations.fetch_add(1, std::memory_order_relaxed);
  s->local.store(value, std::memory_order_relaxed);
  s->pshared = pshared != 0 ? 1 : 0;
  return 0;
}

GPT_API int sem_destroy(sem_t* sem) {
  Sem* s = as_sem(sem);
  if (s->magic != kSemMagic) return fail(EINVAL);
  s->magic = 0;
  return 0;
}

GPT_API int sem_wait(sem_t* sem) {
  GPT_PROFILE_CALL_SITE();
  return wait(sem, false, nullptr);
}
GPT_API int sem_trywait(sem_t* sem) { return wait(sem, true, nullptr); }
GPT_API int sem_timedwait(sem_t* sem, const struct timespec* abstime) {
  GPT_PROFILE_CALL_SITE();
  return wait(sem, false, abstime);
}

GPT_API int sem_post(sem_t* sem) {
  gpt::rt::ensure_started();
  Sem* s = as_sem(sem);
  if (s->magic != kSemMagic) return fail(EINVAL);
  if (!gpt::threads::in_global_space(sem)) {
    gpt::threads::check_in_fork_child(sem, s->pshared != 0, "semaphore");
    if (s->local.fetch_add(1, std::memory_order_acq_rel) == SEM_VALUE_MAX) return fail(EOVERFLOW);
    gpt::futex::wake(&s->local, 1);
    return 0;
  }
  gpt::galloc::release();
  Head h = head_of(sem);
  gpt::channel::Client client(gpt::rt::state().channel);
  return client.call(gpt::channel::Op::kSemPost, h).status == 0 ? 0 : fail(EINVAL);
}

GPT_API int sem_getvalue(sem_t* sem, int* value) {
  gpt::rt::ensure_started();
  Sem* s = as_sem(sem);
  if (s->magic != kSemMagic) return fail(EINVAL);
  if (!gpt::threads::in_global_space(sem)) {
    *value = static_cast<int>(s->local.load(std::memory_order_acquire));
    return 0;
  }
  Head h = head_of(sem);
  gpt::channel::SemValueReply v{};
  gpt::channel::Client client(gpt::rt::state().channel);
  if (client.call(gpt::channel::Op::kSemGetValue, h, v).status != 0) return fail(EINVAL);
  *value = static_cast<int>(v.value);
  return 0;
}
