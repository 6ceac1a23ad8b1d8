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
// Whether the mutex was initialised robust (pthread_mutexattr_setrobust).
[[nodiscard]] inline bool libc_mutex_robust(const pthread_mutex_t* m) {
#ifdef __GLIBC__
  return (reinterpret_cast<const int*>(m)[4] & 16) != 0;  // PTHREAD_MUTEX_ROBUST_NORMAL_NP in __kind
#else
  return (reinterpret_cast<const int*>(m)[0] & 4) != 0;  // musl's robust bit of _m_type
#endif
}
// Whether the mutex was initialised process-shared
// (pthread_mutexattr_setpshared): bit 7 of the word that holds the type.
[[nodiscard]] inline bool libc_mutex_pshared(const pthread_mutex_t* m) {
#ifdef __GLIBC__
  return (reinterpret_cast<const int*>(m)[4] & 128) != 0;  // PTHREAD_MUTEX_PSHARED_BIT in __kind
#else
  return (reinterpret_cast<const int*>(m)[0] & 128) != 0;  // musl's pshared bit of _m_type
#endif
}
// The int at byte 8 of the mutex: glibc's __owner, musl's _m_waiters. Both
// libcs zero it (initialisers, pthread_mutex_init) and neither touches it
// for a mutex gpthread manages, whose lock is the agents' token: gpthread
// keeps a robust mutex's state there, in the mutex, so that whichever node
// takes the token next sees it (it is written and read under the token).
[[nodiscard]] inline int* robust_state_word(pthread_mutex_t* m) { return reinterpret_cast<int*>(m) + 2; }
// The int at byte 4: glibc's __count, musl's _m_lock, zeroed by both
// libcs' initialisers and untouched for a mutex gpthread manages. gpthread's
// pthread_mutex_init keeps the mutex's incarnation there (mutex.cc): a
// mutex initialised where one is still held is another lock.
[[nodiscard]] inline const int* incarnation_word(const pthread_mutex_t* m) {
  return reinterpret_cast<const int*>(m) + 1;
}
[[nodiscard]] inline int* incarnation_word(pthread_mutex_t* m) { return reinterpret_cast<int*>(m) + 1; }
int libc_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr);
// The libc's mutex calls, for a one-node program without an agent.
int libc_mutex_lock(pthread_mutex_t* m);
int libc_mutex_consistent(pthread_mutex_t* m);
int libc_mutex_trylock(pthread_mutex_t* m);
int libc_mutex_unlock(pthread_mutex_t* m);
int libc_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime);
int libc_once(pthread_once_t* once, void (*routine)(void));

int libc_detach(pthread_t thread);

}  // namespace gpt::threads
