// pthread_once and spinlocks across nodes, on the token lock
// (token_lock.h). Objects outside the global space stay local: once keeps
// the libc's, a spinlock spins on its own word.
#include <errno.h>
#include <pthread.h>

#include <atomic>

#include "cancel.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "libc_threads.h"
#include "runtime.h"
#include "sync_common.h"
#include "token_lock.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kOnceDone = 0x0ACE;  // written by the thread that ran the routine

// pthread_spinlock_t is a volatile int: its address as a plain lock word.
std::atomic<int>* word_of(pthread_spinlock_t* lock) {
  return reinterpret_cast<std::atomic<int>*>(const_cast<int*>(lock));
}

}  // namespace

GPT_API int pthread_once(pthread_once_t* once, void (*routine)(void)) {
  gpt::rt::ensure_started();
  if (!gpt::threads::in_global_space(once)) return gpt::threads::libc_once(once, routine);
  auto* word = reinterpret_cast<volatile int*>(once);
  if (*word == kOnceDone) return 0;  // possibly stale: the slow path decides
  if (gpt::threads::token_lock(once, false) != 0) return EINVAL;
  // The lock acquired: a routine run on another node is visible now.
  if (*word != kOnceDone) {
    // POSIX: a routine that is cancelled leaves the once as if never
    // called; the lock must be given back or every later caller waits.
    struct Run {
      pthread_once_t* once;
      void (*routine)(void);
    } run{once, routine};
    gpt::threads::run_with_cleanup([](void* r) { static_cast<Run*>(r)->routine(); },
                                   [](void* r) { (void)gpt::threads::token_unlock(static_cast<Run*>(r)->once); },
                                   &run);
    *word = kOnceDone;
  }
  return gpt::threads::token_unlock(once);
}

GPT_API int pthread_spin_init(pthread_spinlock_t* lock, int) {
  word_of(lock)->store(0, std::memory_order_relaxed);
  return 0;
}

GPT_API int pthread_spin_destroy(pthread_spinlock_t*) { return 0; }

GPT_API int pthread_spin_lock(pthread_spinlock_t* lock) {
  GPT_PROFILE_CALL_SITE();
  gpt::rt::ensure_started();
  if (gpt::threads::in_global_space(word_of(lock))) return gpt::threads::token_lock(word_of(lock), false);
  auto* word = word_of(lock);
  int expected = 0;
  while (!word->compare_exchange_weak(expected, 1, std::memory_order_acquire)) {
    expected = 0;
    __builtin_ia32_pause();
  }
  return 0;
}

GPT_API int pthread_spin_trylock(pthread_spinlock_t* lock) {
  gpt::rt::ensure_started();
  if (gpt::threads::in_global_space(word_of(lock))) return gpt::threads::token_lock(word_of(lock), true);
  auto* word = word_of(lock);
  int expected = 0;
  return word->compare_exchange_strong(expected, 1, std::memory_order_acquire) ? 0 : EBUSY;
}

GPT_API int pthread_spin_unlock(pthread_spinlock_t* lock) {
  if (gpt::threads::in_global_space(word_of(lock))) return gpt::threads::token_unlock(word_of(lock));
  word_of(lock)->store(0, std::memory_order_release);
  return 0;
}
