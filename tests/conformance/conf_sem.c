/* sem_init, sem_wait, sem_trywait, sem_timedwait, sem_post, sem_getvalue,
 * sem_destroy (unnamed semaphores). */
#include <limits.h>
#include <semaphore.h>

#include "conf.h"

static void counting(void) {
  sem_t s;
  int v = -1;
  EXPECT(sem_init(&s, 0, 2), 0);
  EXPECT(sem_getvalue(&s, &v), 0);
  EXPECT(v, 2);
  EXPECT(sem_wait(&s), 0);
  EXPECT(sem_trywait(&s), 0);
  EXPECT_ERRNO(sem_trywait(&s), EAGAIN);
  EXPECT(sem_getvalue(&s, &v), 0);
  EXPECT(v, 0);
  EXPECT(sem_post(&s), 0);
  EXPECT(sem_getvalue(&s, &v), 0);
  EXPECT(v, 1);
  EXPECT(sem_destroy(&s), 0);
  EXPECT_ERRNO(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1u), EINVAL);
  EXPECT(sem_init(&s, 1, 0), 0); /* pshared */
  EXPECT(sem_post(&s), 0);
  EXPECT(sem_wait(&s), 0);
  EXPECT(sem_destroy(&s), 0);
}

static void timed(void) {
  sem_t s;
  EXPECT(sem_init(&s, 0, 0), 0);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = conf_in_ms(CLOCK_REALTIME, 100);
  EXPECT_ERRNO(sem_timedwait(&s, &soon), ETIMEDOUT);
  EXPECT_TRUE(conf_ms_since(&start) >= 90);
  struct timespec bad = {0, 1000000000L};
  EXPECT_ERRNO(sem_timedwait(&s, &bad), EINVAL);
  /* (With a unit there, POSIX lets the time go unchecked: musl takes the
   * unit, glibc says EINVAL. Not checked.) */
  EXPECT(sem_post(&s), 0);
  EXPECT(sem_wait(&s), 0);
  EXPECT(sem_destroy(&s), 0);
}

struct pingpong {
  sem_t ping, pong;
  int value;
};

static void* ponger(void* arg) {
  struct pingpong* p = arg;
  long err = 0;
  for (int i = 0; i < 20; ++i) {
    err |= sem_wait(&p->ping);
    p->value++;
    err |= sem_post(&p->pong);
  }
  return (void*)err;
}

static void across_nodes(void) {
  struct pingpong* p = calloc(1, sizeof *p);
  EXPECT(sem_init(&p->ping, 0, 0), 0);
  EXPECT(sem_init(&p->pong, 0, 0), 0);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), ponger, p), 0);
  int bad = 0;
  for (int i = 0; i < 20; ++i) {
    sem_post(&p->ping);
    sem_wait(&p->pong);
    if (p->value != i + 1) ++bad;
  }
  EXPECT(bad, 0);
  void* r = (void*)1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  EXPECT(sem_destroy(&p->ping), 0);
  EXPECT(sem_destroy(&p->pong), 0);
  free(p);
}

CONF_MAIN("sem", {"counting", counting}, {"timed", timed}, {"across_nodes", across_nodes})
