#include <dlfcn.h>

#include "diag.h"
#include "libc_threads.h"

namespace gpt::threads {
namespace {

template <class F>
F next_symbol(const char* name) {
  // RTLD_NEXT: the definition after ours in lookup order, i.e. libc's.
  void* p = dlsym(RTLD_NEXT, name);
  if (!p) rt::die("cannot find the libc's thread functions (dlsym RTLD_NEXT failed)", 127);
  return reinterpret_cast<F>(p);
}

}  // namespace

int libc_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  using Fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static Fn fn = next_symbol<Fn>("pthread_create");
  return fn(thread, attr, start, arg);
}

void libc_exit(void* result) {
  using Fn = void (*)(void*);
  static Fn fn = next_symbol<Fn>("pthread_exit");
  fn(result);
  __builtin_unreachable();
}

int libc_join(pthread_t thread) {
  using Fn = int (*)(pthread_t, void**);
  static Fn fn = next_symbol<Fn>("pthread_join");
  return fn(thread, nullptr);
}

int libc_join_with_result(pthread_t thread, void** result) {
  using Fn = int (*)(pthread_t, void**);
  static Fn fn = next_symbol<Fn>("pthread_join");
  return fn(thread, result);
}

pthread_t libc_self() {
  using Fn = pthread_t (*)();
  static Fn fn = next_symbol<Fn>("pthread_self");
  return fn();
}

int libc_detach(pthread_t thread) {
  using Fn = int (*)(pthread_t);
  static Fn fn = next_symbol<Fn>("pthread_detach");
  return fn(thread);
}

int libc_mutex_lock(pthread_mutex_t* m) {
  using Fn = int (*)(pthread_mutex_t*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_lock");
  return fn(m);
}

int libc_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  using Fn = int (*)(pthread_mutex_t*, const pthread_mutexattr_t*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_init");
  return fn(m, attr);
}

int libc_mutex_consistent(pthread_mutex_t* m) {
  using Fn = int (*)(pthread_mutex_t*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_consistent");
  return fn(m);
}

int libc_mutex_trylock(pthread_mutex_t* m) {
  using Fn = int (*)(pthread_mutex_t*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_trylock");
  return fn(m);
}

int libc_mutex_unlock(pthread_mutex_t* m) {
  using Fn = int (*)(pthread_mutex_t*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_unlock");
  return fn(m);
}

int libc_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  using Fn = int (*)(pthread_mutex_t*, const struct timespec*);
  static Fn fn = next_symbol<Fn>("pthread_mutex_timedlock");
  return fn(m, t);
}

int libc_once(pthread_once_t* once, void (*routine)(void)) {
  using Fn = int (*)(pthread_once_t*, void (*)(void));
  static Fn fn = next_symbol<Fn>("pthread_once");
  return fn(once, routine);
}

// glibc: __data.__kind, the fifth int; 3 (adaptive) behaves as normal.
}  // namespace gpt::threads
