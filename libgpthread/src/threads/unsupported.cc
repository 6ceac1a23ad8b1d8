// pthread calls whose single-process meaning gpthread cannot keep across
// nodes: they fail with the POSIX error instead of falling through to the
// libc (docs/threads.md, "Limits").
#include <errno.h>
#include <pthread.h>

#define GPT_API extern "C" __attribute__((visibility("default")))

// Priority protocols (pthread_mutexattr_setprotocol) are the attribute's
// and the libc's: a mutex with one behaves as a plain one across nodes,
// since priorities mean nothing between nodes. Its ceiling cannot be read
// or changed through the libc, whose lock word gpthread does not use.
GPT_API int pthread_mutex_getprioceiling(const pthread_mutex_t*, int*) { return EINVAL; }
GPT_API int pthread_mutex_setprioceiling(pthread_mutex_t*, int, int*) { return EINVAL; }

#ifdef __GLIBC__
// LinuxThreads' leftover: kills the other threads before an exec, which
// only the origin may do; nothing to do here.
GPT_API void pthread_kill_other_threads_np(void) {}
#endif
