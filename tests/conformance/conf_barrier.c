/* pthread_barrier_* and pthread_barrierattr_*. */
#include "conf.h"

static void attributes(void) {
  pthread_barrierattr_t a;
  int v = -1;
  EXPECT(pthread_barrierattr_init(&a), 0);
  EXPECT(pthread_barrierattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_PRIVATE);
  EXPECT(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
  EXPECT(pthread_barrierattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_SHARED);
  EXPECT(pthread_barrierattr_setpshared(&a, 12345), EINVAL);
  EXPECT(pthread_barrierattr_destroy(&a), 0);
  pthread_barrier_t b;
  EXPECT(pthread_barrier_init(&b, NULL, 0), EINVAL);
}

static void one_thread(void) {
  pthread_barrier_t b;
  EXPECT(pthread_barrier_init(&b, NULL, 1), 0);
  EXPECT(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
  EXPECT(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
  EXPECT(pthread_barrier_destroy(&b), 0);
}

enum { kThreads = 4, kRounds = 5 };
struct phases {
  pthread_barrier_t b;
  int slot[kThreads];
};

struct arg {
  struct phases* p;
  int index;
};

/* Each round every thread writes its slot, waits, and checks the others'. */
static void* phase_worker(void* v) {
  struct arg* a = v;
  long serial = 0, wrong = 0;
  for (int round = 1; round <= kRounds; ++round) {
    a->p->slot[a->index] = round;
    int r = pthread_barrier_wait(&a->p->b);
    if (r == PTHREAD_BARRIER_SERIAL_THREAD) serial++;
    else if (r != 0) wrong += 1000;
    for (int i = 0; i < kThreads; ++i)
      if (a->p->slot[i] != round) wrong++;
    if (pthread_barrier_wait(&a->p->b) == PTHREAD_BARRIER_SERIAL_THREAD) serial++;
  }
  return (void*)(serial * 1000000 + wrong);
}

static void rounds_across_nodes(void) {
  struct phases* p = calloc(1, sizeof *p);
  EXPECT(pthread_barrier_init(&p->b, NULL, kThreads), 0);
  struct arg args[kThreads];
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    args[i] = (struct arg){p, i};
    EXPECT(conf_start_on(&t[i], i % gpt_node_count(), phase_worker, &args[i]), 0);
  }
  long serial = 0;
  for (int i = 0; i < kThreads; ++i) {
    void* r = NULL;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r % 1000000, 0); /* every thread saw every slot of its round */
    serial += (long)r / 1000000;
  }
  EXPECT(serial, 2 * kRounds); /* one serial thread per barrier round */
  EXPECT(pthread_barrier_destroy(&p->b), 0);
  free(p);
}

CONF_MAIN("barrier", {"attributes", attributes}, {"one_thread", one_thread},
          {"rounds_across_nodes", rounds_across_nodes})
