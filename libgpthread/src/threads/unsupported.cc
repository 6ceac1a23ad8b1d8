// pthread calls whose single-process meaning gpthread cannot keep across
// nodes: they fail with the POSIX error and say why, instead of falling
// through to the libc (docs/threads.md, "What is not supported").
#include <errno.h>
#include <pthread.h>

#include "diag.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

int refuse(const char* call, const char* why, int error) {
  gpt::rt::diag().text(call).text(": ").text(why).emit();
  return error;
}

#ifdef __GLIBC__
#include <dlfcn.h>
template <class F>
F libc(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
#define GPT_LIBC(name, type) libc<type>(#name)
#else
// musl programs link with --wrap for these (gpt-cc): __real_ is the libc's.
extern "C" int __real_pthread_mutexattr_setrobust(pthread_mutexattr_t*, int);
#define GPT_LIBC(name, type) static_cast<type>(__real_##name)
#endif

}  // namespace

// Robust mutexes: the owner's death on another node is not detected.
#ifdef __GLIBC__
GPT_API int pthread_mutexattr_setrobust(pthread_mutexattr_t* a, int robust) {
#else
GPT_API int __wrap_pthread_mutexattr_setrobust(pthread_mutexattr_t* a, int robust) {
#endif
  if (robust == PTHREAD_MUTEX_ROBUST)
    return refuse("pthread_mutexattr_setrobust", "robust mutexes are not supported by gpthread", ENOTSUP);
  using Fn = int (*)(pthread_mutexattr_t*, int);
  return GPT_LIBC(pthread_mutexattr_setrobust, Fn)(a, robust);
}

GPT_API int pthread_mutex_consistent(pthread_mutex_t*) { return EINVAL; }  // never robust
// Priority protocols (pthread_mutexattr_setprotocol) are the attribute's
// and the libc's: a mutex with one behaves as a plain one across nodes,
// since priorities mean nothing between nodes. Its ceiling cannot be read
// or changed through the libc, whose lock word gpthread does not use.
GPT_API int pthread_mutex_getprioceiling(const pthread_mutex_t*, int*) { return EINVAL; }
GPT_API int pthread_mutex_setprioceiling(pthread_mutex_t*, int, int*) { return EINVAL; }

#ifdef __GLIBC__
// (pthread_mutexattr_setrobust_np and pthread_mutex_consistent_np are the
// headers' aliases of the calls above.)
// LinuxThreads' leftover: kills the other threads before an exec, which
// only the origin may do; nothing to do here.
GPT_API void pthread_kill_other_threads_np(void) {}
#endif
