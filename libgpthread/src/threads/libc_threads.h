// The libc's own thread calls, which gpthread's pthread_create/pthread_exit
// replace but still use to run a kernel thread on this node. One file per
// libc: libc_threads_musl.cc, libc_threads_glibc.cc.
#pragma once

#include <pthread.h>

namespace gpt::threads {

[[nodiscard]] int libc_create(pthread_t* thread, const pthread_attr_t* attr,
                              void* (*start)(void*), void* arg);
[[noreturn]] void libc_exit(void* result);
// Waits for a (joinable) libc thread to end.
int libc_join(pthread_t thread);
// The libc's versions, for a one-node program without an agent.
int libc_join_with_result(pthread_t thread, void** result);

pthread_t libc_self();
// PTHREAD_MUTEX_NORMAL/RECURSIVE/ERRORCHECK, read from the libc's own
// mutex layout (set by its pthread_mutex_init or static initialisers).
// Inline: every lock and unlock asks.
[[nodiscard]] inline int libc_mutex_type(const pthread_mutex_t* m) {
#ifdef __GLIBC__
  // __data.__kind: the type in its low 2 bits (PTHREAD_MUTEX_KIND_MASK_NP),
  // robust and priority-protocol flags above them.
  int kind = reinterpret_cast<const int*>(m)[4] & 3;
  return kind == PTHREAD_MUTEX_RECURSIVE || kind == PTHREAD_MUTEX_ERRORCHECK ? kind
                                                                            : PTHREAD_MUTEX_NORMAL;
#else
  return reinterpret_cast<const int*>(m)[0] & 3;  // musl: the low bits of _m_type
#endif
}
// The libc's mutex calls, for a one-node program without an agent.
int libc_mutex_lock(pthread_mutex_t* m);
int libc_mutex_trylock(pthread_mutex_t* m);
int libc_mutex_unlock(pthread_mutex_t* m);
int libc_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime);
int libc_once(pthread_once_t* once, void (*routine)(void));

int libc_detach(pthread_t thread);

}  // namespace gpt::threads
