// pthread calls that take a thread handle and ask about, or change, the
// kernel thread behind it: names, scheduling, CPU affinity, CPU clock,
// attributes, non-blocking joins. A pthread_t is gpthread's control block,
// never the libc's, so none of these may fall through to the libc. What
// acts on a kernel thread works for threads of this node (their vehicle's
// tid) and says ENOTSUP, with a message, for a thread on another node;
// scheduling is the thread's own and answers for every node (below).
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "global_space.h"
#include "gpt/raw_syscall.h"
#include "libc_threads.h"
#include "runtime.h"
#include "scheduling.h"
#include "tcb.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::threads {
namespace {

[[nodiscard]] bool distributed() { return galloc::space().coherent; }

[[nodiscard]] Tcb* valid_tcb(pthread_t thread) {
  Tcb* tcb = from_handle(thread);
  if (!tcb || !galloc::space().in_heap(tcb) || tcb->magic != kTcbMagic) return nullptr;
  return tcb;
}

// The kernel thread id behind `thread` on this node, or 0 with *err set.
std::int32_t tid_here(pthread_t thread, const char* call, int* err) {
  if (!distributed()) {
    if (thread == libc_self()) return static_cast<std::int32_t>(syscall(SYS_gettid));
    *err = ENOTSUP;  // another libc thread: no way to name it without its handle
    return 0;
  }
  Tcb* tcb = valid_tcb(thread);
  if (!tcb) {
    *err = ESRCH;
    return 0;
  }
  if (tcb == current()) return static_cast<std::int32_t>(syscall(SYS_gettid));
  if (tcb->node != static_cast<std::uint32_t>(rt::state().node_id)) {
    rt::diag().text(call).text(": the thread runs on node ").num(tcb->node)
        .text("; only threads of this node can be asked").emit();
    *err = ENOTSUP;
    return 0;
  }
  if (tcb->kernel_tid == 0) *err = ESRCH;
  return tcb->kernel_tid;
}

}  // namespace
}  // namespace gpt::threads

using namespace gpt;
using namespace gpt::threads;

GPT_API int pthread_setname_np(pthread_t thread, const char* name) {
  if (strlen(name) > 15) return ERANGE;
  int err = 0;
  std::int32_t tid = tid_here(thread, "pthread_setname_np", &err);
  if (!tid) return err;
  if (tid == syscall(SYS_gettid)) return prctl(PR_SET_NAME, name) == 0 ? 0 : errno;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
  long fd = sys::call(SYS_open, sys::arg(path), O_WRONLY);
  if (fd < 0) return static_cast<int>(-fd);
  long w = sys::call(SYS_write, fd, sys::arg(name), static_cast<long>(strlen(name)));
  sys::call(SYS_close, fd);
  return w < 0 ? static_cast<int>(-w) : 0;
}

GPT_API int pthread_getname_np(pthread_t thread, char* name, size_t len) {
  if (len < 16) return ERANGE;
  int err = 0;
  std::int32_t tid = tid_here(thread, "pthread_getname_np", &err);
  if (!tid) return err;
  if (tid == syscall(SYS_gettid)) return prctl(PR_GET_NAME, name) == 0 ? 0 : errno;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
  long fd = sys::call(SYS_open, sys::arg(path), O_RDONLY);
  if (fd < 0) return static_cast<int>(-fd);
  long n = sys::call(SYS_read, fd, sys::arg(name), static_cast<long>(len - 1));
  sys::call(SYS_close, fd);
  if (n < 0) return static_cast<int>(-n);
  name[n] = 0;
  if (n > 0 && name[n - 1] == '\n') name[n - 1] = 0;
  return 0;
}

// Scheduling: a thread of this node is asked and changed in the kernel; its
// control block keeps what was set, for the nodes it runs on later
// (scheduling.h). A thread on another node is answered from its control
// block, and a change to it is recorded there and applied to its kernel
// thread when it next starts on a node (it migrates): no call reaches
// another node's kernel thread.
namespace {

// The control block of a thread of this job, or nullptr (one node without
// an agent: threads are the libc's).
Tcb* sched_tcb(pthread_t thread, int* err) {
  if (!distributed()) return nullptr;
  Tcb* tcb = valid_tcb(thread);
  if (!tcb) *err = ESRCH;
  return tcb;
}

[[nodiscard]] bool runs_here(const Tcb* tcb) {
  return tcb == current() || (tcb->node == static_cast<std::uint32_t>(rt::state().node_id) && tcb->kernel_tid != 0);
}

int set_sched(pthread_t thread, int policy, int priority, bool keep_policy) {
  int err = 0;
  Tcb* tcb = sched_tcb(thread, &err);
  if (err) return err;
  if (tcb && !runs_here(tcb)) {
    if (keep_policy) policy = tcb->sched_policy;
    if ((err = check_sched(policy, priority))) return err;
    tcb->sched_policy = policy;
    tcb->sched_priority = priority;
    __atomic_store_n(&tcb->sched_changed, 1u, __ATOMIC_RELEASE);
    return 0;
  }
  if (tcb && tcb == current()) apply_sched_here(tcb);
  const std::int32_t tid = tcb ? (tcb == current() ? static_cast<std::int32_t>(syscall(SYS_gettid)) : tcb->kernel_tid)
                               : tid_here(thread, "pthread_setschedparam", &err);
  if (!tid) return err;
  struct sched_param param{};
  param.sched_priority = priority;
  const long r = keep_policy ? sys::call(SYS_sched_setparam, tid, sys::arg(&param))
                             : sys::call(SYS_sched_setscheduler, tid, policy, sys::arg(&param));
  if (r < 0) return static_cast<int>(-r);
  if (tcb) {
    if (!keep_policy) tcb->sched_policy = policy;
    tcb->sched_priority = priority;
  }
  return 0;
}

}  // namespace

GPT_API int pthread_getschedparam(pthread_t thread, int* policy, struct sched_param* param) {
  int err = 0;
  Tcb* tcb = sched_tcb(thread, &err);
  if (err) return err;
  if (tcb && !runs_here(tcb)) {
    *policy = tcb->sched_policy;
    param->sched_priority = tcb->sched_priority;
    return 0;
  }
  if (tcb && tcb == current()) apply_sched_here(tcb);
  const std::int32_t tid = tcb ? (tcb == current() ? static_cast<std::int32_t>(syscall(SYS_gettid)) : tcb->kernel_tid)
                               : tid_here(thread, "pthread_getschedparam", &err);
  if (!tid) return err;
  long p = sys::call(SYS_sched_getscheduler, tid);
  if (p < 0) return static_cast<int>(-p);
  // Through a copy: the program's may be on a global page not present here.
  struct sched_param here{};
  long r = sys::call(SYS_sched_getparam, tid, sys::arg(&here));
  if (r < 0) return static_cast<int>(-r);
  *policy = static_cast<int>(p) & ~SCHED_RESET_ON_FORK;
  *param = here;
  return 0;
}

GPT_API int pthread_setschedparam(pthread_t thread, int policy, const struct sched_param* param) {
  return set_sched(thread, policy, param->sched_priority, false);
}

GPT_API int pthread_setschedprio(pthread_t thread, int prio) { return set_sched(thread, 0, prio, true); }

// musl keeps these in one object with sched_getaffinity/sched_setaffinity: a
// program calling those would link both definitions, so musl programs reach
// ours through --wrap (gpt-cc) and the libc's object stays whole.
#ifdef __GLIBC__
#define GPT_AFFINITY(name) name
#else
#define GPT_AFFINITY(name) __wrap_##name
#endif

GPT_API int GPT_AFFINITY(pthread_getaffinity_np)(pthread_t thread, size_t size, cpu_set_t* set) {
  int err = 0;
  std::int32_t tid = tid_here(thread, "pthread_getaffinity_np", &err);
  if (!tid) return err;
  long r = sys::call(SYS_sched_getaffinity, tid, static_cast<long>(size), sys::arg(set));
  if (r < 0) return static_cast<int>(-r);
  if (static_cast<size_t>(r) < size) memset(reinterpret_cast<char*>(set) + r, 0, size - static_cast<size_t>(r));
  return 0;
}

GPT_API int GPT_AFFINITY(pthread_setaffinity_np)(pthread_t thread, size_t size, const cpu_set_t* set) {
  int err = 0;
  std::int32_t tid = tid_here(thread, "pthread_setaffinity_np", &err);
  if (!tid) return err;
  long r = sys::call(SYS_sched_setaffinity, tid, static_cast<long>(size), sys::arg(set));
  return r < 0 ? static_cast<int>(-r) : 0;
}

GPT_API int pthread_getcpuclockid(pthread_t thread, clockid_t* clock) {
  int err = 0;
  std::int32_t tid = tid_here(thread, "pthread_getcpuclockid", &err);
  if (!tid) return err;
  // The kernel's per-thread CPU-time clock: MAKE_THREAD_CPUCLOCK(tid, SCHED).
  *clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  return 0;
}

// The thread's attributes as they are: its stack (in the global space),
// detach state; the libc fills in the rest of a fresh attribute object.
GPT_API int pthread_getattr_np(pthread_t thread, pthread_attr_t* attr) {
  if (!distributed()) {
    if (thread != libc_self()) return ENOTSUP;
    pthread_attr_init(attr);
    return 0;
  }
  Tcb* tcb = valid_tcb(thread);
  if (!tcb) return ESRCH;
  pthread_attr_init(attr);
  pthread_attr_setdetachstate(attr, tcb->detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
  if (tcb->stack) pthread_attr_setstack(attr, tcb->stack, tcb->stack_bytes);
  return 0;
}
