#include "scheduling.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "diag.h"
#include "gpt/raw_syscall.h"
#include "runtime.h"

namespace gpt::threads {
namespace {

[[nodiscard]] bool real_time(int policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }

}  // namespace

bool known_policy(int policy) {
  return policy == SCHED_OTHER || real_time(policy) || policy == SCHED_BATCH || policy == SCHED_IDLE;
}

int check_sched(int policy, int priority) {
  if (!known_policy(policy)) return EINVAL;
  const long low = sys::call(SYS_sched_get_priority_min, policy);
  const long high = sys::call(SYS_sched_get_priority_max, policy);
  if (low < 0 || high < 0 || priority < low || priority > high) return EINVAL;
  if (!real_time(policy)) return 0;
  if (sys::call(SYS_geteuid) == 0) return 0;
  struct rlimit limit{};
  if (sys::call(SYS_getrlimit, RLIMIT_RTPRIO, sys::arg(&limit)) < 0) return EPERM;
  return limit.rlim_cur == RLIM_INFINITY || static_cast<rlim_t>(priority) <= limit.rlim_cur ? 0 : EPERM;
}

int choose_sched(const pthread_attr_t* attr, Tcb* tcb) {
  int inherit = PTHREAD_INHERIT_SCHED;
  if (attr) pthread_attr_getinheritsched(attr, &inherit);
  struct sched_param param{};
  int policy = SCHED_OTHER;
  if (inherit == PTHREAD_EXPLICIT_SCHED) {
    pthread_attr_getschedpolicy(attr, &policy);
    pthread_attr_getschedparam(attr, &param);
    if (int err = check_sched(policy, param.sched_priority)) return err;
  } else {
    const long p = sys::call(SYS_sched_getscheduler, 0);
    if (p >= 0 && sys::call(SYS_sched_getparam, 0, sys::arg(&param)) == 0) policy = static_cast<int>(p);
    policy &= ~SCHED_RESET_ON_FORK;
  }
  tcb->sched_policy = policy;
  tcb->sched_priority = param.sched_priority;
  return 0;
}

void apply_sched_here(Tcb* tcb) {
  const bool changed = __atomic_exchange_n(&tcb->sched_changed, 0u, __ATOMIC_ACQ_REL) != 0;
  if (tcb->sched_policy == SCHED_OTHER && !changed) return;
  struct sched_param param{};
  param.sched_priority = tcb->sched_priority;
  const long r = sys::call(SYS_sched_setscheduler, 0, tcb->sched_policy, sys::arg(&param));
  // Another node (another machine) may give fewer rights than the creator's:
  // the thread runs, with the default policy there.
  if (r < 0)
    rt::diag().text("scheduling policy ").num(tcb->sched_policy).text(" (priority ").num(tcb->sched_priority)
        .text(") refused on this node (error ").num(-r).text("); the thread runs with the default").emit();
}

}  // namespace gpt::threads

#ifndef __GLIBC__
// gpt-cc links musl programs with --wrap for these two. musl stores any
// policy and priority and fails only when the thread is created; glibc,
// which programs are written against, refuses an unknown policy or a
// priority outside the attribute's policy's range at once (EINVAL).
extern "C" int __real_pthread_attr_setschedpolicy(pthread_attr_t*, int);
extern "C" int __real_pthread_attr_setschedparam(pthread_attr_t*, const struct sched_param*);

extern "C" __attribute__((visibility("default"))) int __wrap_pthread_attr_setschedpolicy(pthread_attr_t* attr,
                                                                                         int policy) {
  if (!gpt::threads::known_policy(policy)) return EINVAL;
  return __real_pthread_attr_setschedpolicy(attr, policy);
}

extern "C" __attribute__((visibility("default"))) int __wrap_pthread_attr_setschedparam(
    pthread_attr_t* attr, const struct sched_param* param) {
  int policy = SCHED_OTHER;
  pthread_attr_getschedpolicy(attr, &policy);
  const long low = gpt::sys::call(SYS_sched_get_priority_min, policy);
  const long high = gpt::sys::call(SYS_sched_get_priority_max, policy);
  if (low < 0 || param->sched_priority < low || param->sched_priority > high) return EINVAL;
  return __real_pthread_attr_setschedparam(attr, param);
}
#endif
