/* pthread_cond_* and pthread_condattr_*. */
#include <semaphore.h>

#include "conf.h"

static void attributes(void) {
  pthread_condattr_t a;
  clockid_t c = -1;
  int v = -1;
  EXPECT(pthread_condattr_init(&a), 0);
  EXPECT(pthread_condattr_getclock(&a, &c), 0);
  EXPECT(c, CLOCK_REALTIME);
  EXPECT(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), 0);
  EXPECT(pthread_condattr_getclock(&a, &c), 0);
  EXPECT(c, CLOCK_MONOTONIC);
  EXPECT(pthread_condattr_setclock(&a, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
  EXPECT(pthread_condattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_PRIVATE);
  EXPECT(pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
  EXPECT(pthread_condattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_SHARED);
  EXPECT(pthread_condattr_setpshared(&a, 12345), EINVAL);
  EXPECT(pthread_condattr_destroy(&a), 0);
}

static void no_waiters(void) {
  pthread_cond_t c;
  EXPECT(pthread_cond_init(&c, NULL), 0);
  EXPECT(pthread_cond_signal(&c), 0);
  EXPECT(pthread_cond_broadcast(&c), 0);
  EXPECT(pthread_cond_destroy(&c), 0);
}

static void timed_wait_times_out(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t c = PTHREAD_COND_INITIALIZER;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_mutex_lock(&m);
  struct timespec soon = conf_in_ms(CLOCK_REALTIME, 100);
  EXPECT(pthread_cond_timedwait(&c, &m, &soon), ETIMEDOUT);
  EXPECT_TRUE(conf_ms_since(&start) >= 90);
  /* The mutex is held again on return, also after a timeout. */
  EXPECT(pthread_mutex_trylock(&m), EBUSY);
  struct timespec past = {1, 0};
  EXPECT(pthread_cond_timedwait(&c, &m, &past), ETIMEDOUT);
  struct timespec bad = {0, -1};
  EXPECT(pthread_cond_timedwait(&c, &m, &bad), EINVAL);
  pthread_mutex_unlock(&m);

  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_t mono;
  EXPECT(pthread_cond_init(&mono, &a), 0);
  pthread_condattr_destroy(&a);
  pthread_mutex_lock(&m);
  clock_gettime(CLOCK_MONOTONIC, &start);
  soon = conf_in_ms(CLOCK_MONOTONIC, 100);
  EXPECT(pthread_cond_timedwait(&mono, &m, &soon), ETIMEDOUT);
  long waited = conf_ms_since(&start);
  EXPECT_TRUE(waited >= 90 && waited < 5000);
  pthread_mutex_unlock(&m);
  EXPECT(pthread_cond_destroy(&mono), 0);
}

/* Waiters on another node, woken one by one (signal) or all (broadcast). */
struct shared_state {
  pthread_mutex_t m;
  pthread_cond_t c;
  pthread_cond_t back;
  int waiting;
  int go;
  int woken;
};

static void* waiter(void* arg) {
  struct shared_state* s = arg;
  long err = pthread_mutex_lock(&s->m);
  s->waiting++;
  pthread_cond_signal(&s->back);
  while (!s->go) err |= pthread_cond_wait(&s->c, &s->m);
  s->go--;
  s->woken++;
  pthread_cond_signal(&s->back);
  err |= pthread_mutex_unlock(&s->m);
  return (void*)err;
}

static void wake_across_nodes(void) {
  enum { kWaiters = 3 };
  struct shared_state* s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->m, NULL);
  pthread_cond_init(&s->c, NULL);
  pthread_cond_init(&s->back, NULL);
  pthread_t t[kWaiters];
  for (int i = 0; i < kWaiters; ++i) EXPECT(conf_start_on(&t[i], conf_other_node(), waiter, s), 0);
  pthread_mutex_lock(&s->m);
  while (s->waiting < kWaiters) pthread_cond_wait(&s->back, &s->m);
  s->go = 1;
  EXPECT(pthread_cond_signal(&s->c), 0);
  while (s->woken < 1) pthread_cond_wait(&s->back, &s->m);
  s->go = kWaiters - 1;
  EXPECT(pthread_cond_broadcast(&s->c), 0);
  while (s->woken < kWaiters) pthread_cond_wait(&s->back, &s->m);
  pthread_mutex_unlock(&s->m);
  for (int i = 0; i < kWaiters; ++i) {
    void* r = (void*)1;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r, 0);
  }
  EXPECT(s->woken, kWaiters);
  EXPECT(pthread_cond_destroy(&s->c), 0);
  EXPECT(pthread_cond_destroy(&s->back), 0);
  EXPECT(pthread_mutex_destroy(&s->m), 0);
  free(s);
}

/* pthread_cond_broadcast and pthread_cond_wait synchronise memory (POSIX
 * 4.12): what the waker wrote before it broadcast, even outside the mutex,
 * is seen by the waiter when its wait returns. The waker never takes the
 * mutex, so the waiter's lock stays where the waiter is. */
struct handoff {
  pthread_mutex_t m;
  pthread_cond_t c;
  sem_t started, done;
  int payload; /* written outside the mutex */
};

static void* wait_for_payload(void* arg) {
  struct handoff* h = arg;
  pthread_mutex_lock(&h->m);
  sem_post(&h->started);
  int r = pthread_cond_wait(&h->c, &h->m);
  int seen = h->payload;
  pthread_mutex_unlock(&h->m);
  sem_post(&h->done);
  return (void*)(long)(r == 0 ? seen : -r);
}

static void wake_publishes(void) {
  struct handoff* h = calloc(1, sizeof *h);
  pthread_mutex_init(&h->m, NULL);
  pthread_cond_init(&h->c, NULL);
  sem_init(&h->started, 0, 0);
  sem_init(&h->done, 0, 0);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), wait_for_payload, h), 0);
  EXPECT(sem_wait(&h->started), 0);
  h->payload = 42;
  /* Again until it wakes: the first may come before it waits. */
  int woken = -1;
  for (int i = 0; i < 500 && woken != 0; ++i) {
    EXPECT(pthread_cond_broadcast(&h->c), 0);
    struct timespec soon = conf_in_ms(CLOCK_REALTIME, 20);
    woken = sem_timedwait(&h->done, &soon);
  }
  EXPECT(woken, 0);
  void* r = NULL;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 42);
  sem_destroy(&h->started);
  sem_destroy(&h->done);
  pthread_cond_destroy(&h->c);
  pthread_mutex_destroy(&h->m);
  free(h);
}

CONF_MAIN("cond", {"attributes", attributes}, {"no_waiters", no_waiters},
          {"timed_wait_times_out", timed_wait_times_out}, {"wake_across_nodes", wake_across_nodes},
          {"wake_publishes", wake_publishes})
