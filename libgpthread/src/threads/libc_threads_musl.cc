#include "libc_threads.h"

#include <errno.h>
#include <threads.h>

// musl's implementations behind its weak pthread_create/pthread_exit.
extern "C" int __pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
extern "C" [[noreturn]] void __pthread_exit(void*);
extern "C" int __pthread_join(pthread_t, void**);

extern "C" int __pthread_mutex_lock(pthread_mutex_t*);
extern "C" int __pthread_mutex_trylock(pthread_mutex_t*);
extern "C" int __pthread_mutex_unlock(pthread_mutex_t*);
extern "C" int __pthread_once(pthread_once_t*, void (*)(void));
extern "C" int __pthread_mutex_timedlock(pthread_mutex_t*, const struct timespec*);
// gpt-cc links musl programs with --wrap=pthread_mutex_consistent.
extern "C" int __real_pthread_mutex_consistent(pthread_mutex_t*);
extern "C" int __real_pthread_mutex_init(pthread_mutex_t*, const pthread_mutexattr_t*);

namespace gpt::threads {

int libc_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  return __pthread_create(thread, attr, start, arg);
}

void libc_exit(void* result) { __pthread_exit(result); }

int libc_join(pthread_t thread) { return __pthread_join(thread, nullptr); }

int libc_join_with_result(pthread_t thread, void** result) { return __pthread_join(thread, result); }


// musl's C11 aliases of its pthread_self/pthread_detach (the pthread_ names
// are ours now).
pthread_t libc_self() { return reinterpret_cast<pthread_t>(thrd_current()); }

int libc_detach(pthread_t thread) {
  return thrd_detach(reinterpret_cast<thrd_t>(thread)) == thrd_success ? 0 : ESRCH;
}

int libc_mutex_lock(pthread_mutex_t* m) { return __pthread_mutex_lock(m); }
int libc_mutex_trylock(pthread_mutex_t* m) { return __pthread_mutex_trylock(m); }
int libc_mutex_unlock(pthread_mutex_t* m) { return __pthread_mutex_unlock(m); }
int libc_mutex_consistent(pthread_mutex_t* m) { return __real_pthread_mutex_consistent(m); }
int libc_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) { return __real_pthread_mutex_init(m, attr); }
int libc_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  return __pthread_mutex_timedlock(m, t);
}
int libc_once(pthread_once_t* once, void (*routine)(void)) { return __pthread_once(once, routine); }

}  // namespace gpt::threads
