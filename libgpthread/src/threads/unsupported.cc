// pthread calls whose meaning across nodes is narrower than in one process
// (docs/threads.md, "Limits").
#include <errno.h>
#include <pthread.h>

#ifdef __GLIBC__
#include <dlfcn.h>

#include "diag.h"
#endif

#define GPT_API extern "C" __attribute__((visibility("default")))

// A mutex's priority ceiling is the libc's: glibc keeps it in the mutex's
// lock word, which gpthread never uses for a mutex it manages (the lock is
// the agents' token), so glibc's own calls read and change it; they fail
// with EINVAL for a mutex without PTHREAD_PRIO_PROTECT, as natively. The
// ceiling raises no priority across nodes: the mutex locks as a plain one.
// musl has no priority-protect mutexes (its pthread_mutexattr_setprotocol
// refuses PTHREAD_PRIO_PROTECT), so no mutex has a ceiling: EINVAL, as musl.
#ifdef __GLIBC__
namespace {
template <class F>
F libc_call(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (!p) gpt::rt::die("cannot find the libc's mutex priority ceiling calls", 127);
  return reinterpret_cast<F>(p);
}
}  // namespace

GPT_API int pthread_mutex_getprioceiling(const pthread_mutex_t* m, int* ceiling) {
  using Fn = int (*)(const pthread_mutex_t*, int*);
  static Fn fn = libc_call<Fn>("pthread_mutex_getprioceiling");
  return fn(m, ceiling);
}
GPT_API int pthread_mutex_setprioceiling(pthread_mutex_t* m, int ceiling, int* old) {
  using Fn = int (*)(pthread_mutex_t*, int, int*);
  static Fn fn = libc_call<Fn>("pthread_mutex_setprioceiling");
  return fn(m, ceiling, old);
}
#else
GPT_API int pthread_mutex_getprioceiling(const pthread_mutex_t*, int*) { return EINVAL; }
GPT_API int pthread_mutex_setprioceiling(pthread_mutex_t*, int, int*) { return EINVAL; }
#endif

#ifdef __GLIBC__
// LinuxThreads' leftover: kills the other threads before an exec, which
// only the origin may do; nothing to do here.
GPT_API void pthread_kill_other_threads_np(void) {}
#endif
