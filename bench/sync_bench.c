/* Synchronisation across nodes, one thread per node (gpt-launch -n N):
 * a pthread barrier empty and with a dirty page per thread, a lock handed
 * back and forth, and a trylock polling a lock held on another node. Run
 * with GPT_STATS=1, the agents' counters then say where the barrier's time
 * went (bench/run prints them as the per-hop breakdown).
 * Prints "name value unit". */
#include <gpthread.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE 4096

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static pthread_barrier_t g_barrier;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long g_turn;
static pthread_barrier_t g_hold; /* brackets the time node 1 holds the lock */
static unsigned char* g_pages; /* one page per thread, homed at node 0 */
static int g_rounds;
static int g_dirty;
static double g_barrier_us;

static void* barrier_loop(void* arg) {
  long me = (long)arg;
  double t0 = now_us();
  for (int i = 0; i < g_rounds; ++i) {
    if (g_dirty) g_pages[(size_t)me * PAGE + (size_t)i % PAGE] = (unsigned char)i;
    pthread_barrier_wait(&g_barrier);
  }
  if (me == 0) g_barrier_us = (now_us() - t0) / g_rounds;
  return NULL;
}

static double barrier(int nodes, int dirty) {
  pthread_attr_t a[8];
  pthread_t t[8];
  g_rounds = 300;
  g_dirty = dirty;
  pthread_barrier_init(&g_barrier, NULL, (unsigned)nodes);
  for (long i = 0; i < nodes; ++i) {
    pthread_attr_init(&a[i]);
    gpt_attr_setnode(&a[i], (int)i);
    pthread_create(&t[i], &a[i], barrier_loop, (void*)i);
  }
  for (int i = 0; i < nodes; ++i) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&g_barrier);
  return g_barrier_us;
}

/* Two threads on nodes 0 and 1 take turns on one lock (yielding when they
 * got it out of turn). */
static void* pingpong(void* arg) {
  long me = (long)arg;
  for (int i = 0; i < g_rounds; ++i) {
    for (;;) {
      pthread_mutex_lock(&g_lock);
      if (g_turn % 2 == me) break;
      pthread_mutex_unlock(&g_lock);
      sched_yield();
    }
    ++g_turn;
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

/* Node 1 holds the lock between two barriers; node 0 polls it with
 * trylock in between. */
static void* holder(void* arg) {
  pthread_mutex_lock(&g_lock);
  pthread_barrier_wait(&g_hold);
  pthread_barrier_wait(&g_hold);
  pthread_mutex_unlock(&g_lock);
  return arg;
}

int main(void) {
  const int nodes = gpt_node_count();
  if (nodes < 2 || nodes > 8) {
    fprintf(stderr, "sync_bench: run on 2 to 8 nodes\n");
    return 1;
  }
  g_pages = calloc((size_t)nodes, PAGE);
  printf("pthread_barrier_%d_nodes %.1f us\n", nodes, barrier(nodes, 0));
  printf("pthread_barrier_dirty_%d_nodes %.1f us\n", nodes, barrier(nodes, 1));

  pthread_attr_t a0, a1;
  pthread_attr_init(&a0);
  pthread_attr_init(&a1);
  gpt_attr_setnode(&a0, 0);
  gpt_attr_setnode(&a1, 1);
  pthread_t p0, p1;
  g_rounds = 500;
  g_turn = 0;
  double t0 = now_us();
  pthread_create(&p0, &a0, pingpong, (void*)0L);
  pthread_create(&p1, &a1, pingpong, (void*)1L);
  pthread_join(p0, NULL);
  pthread_join(p1, NULL);
  printf("lock_handoff_2_nodes %.1f us\n", (now_us() - t0) / (2.0 * g_rounds));

  /* main (node 0) polls with trylock for 20 ms a lock held on node 1. */
  pthread_barrier_init(&g_hold, NULL, 2);
  pthread_create(&p1, &a1, holder, NULL);
  pthread_barrier_wait(&g_hold);
  long polls = 0, busy = 0;
  t0 = now_us();
  while (now_us() - t0 < 20000) {
    if (pthread_mutex_trylock(&g_lock) == 0) {
      pthread_mutex_unlock(&g_lock);
    } else {
      ++busy;
    }
    ++polls;
  }
  const double polled_us = now_us() - t0;
  pthread_barrier_wait(&g_hold);
  pthread_join(p1, NULL);
  printf("trylock_poll_held_elsewhere %.2f us\n", polled_us / (double)polls);
  printf("trylock_poll_busy_answers %ld of %ld\n", busy, polls);
  return 0;
}
