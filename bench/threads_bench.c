/* Thread and lock benchmarks. Built with gpt-cc (run under gpt-launch) and
 * with plain gcc (the system's pthreads, the baseline in the same run).
 * Prints "name value unit". */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef GPTHREAD
#include <gpthread.h>
#endif

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t g_barrier;
static volatile long g_shared;
static int g_rounds;

static void* nothing(void* arg) { return arg; }

/* Two threads (on two nodes under gpt-launch -n 2) take turns on one lock.
 * A thread that gets the lock out of turn yields before it tries again:
 * spinning on a lock that stays on its node would take a core from the
 * agents that carry the handoff (this VM has two cores for two nodes). */
static void* pingpong(void* arg) {
  long me = (long)arg;
  for (int i = 0; i < g_rounds; ++i) {
    for (;;) {
      pthread_mutex_lock(&g_lock);
      if (g_shared % 2 == me) break;
      pthread_mutex_unlock(&g_lock);
      sched_yield();
    }
    ++g_shared;
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

static void* barrier_loop(void* arg) {
  for (int i = 0; i < g_rounds; ++i) pthread_barrier_wait(&g_barrier);
  return arg;
}

#ifdef GPTHREAD
/* A thread with `bytes` of live stack (written before each move, read
 * after it) hops between nodes 0 and 1: microseconds per hop. */
static long g_stack_bytes;
static double g_hop_us;
static void* hopper(void* arg) {
  (void)arg;
  volatile char live[g_stack_bytes];
  const int hops = 100;
  long sum = 0;
  double t0 = now_us();
  for (int i = 0; i < hops; ++i) {
    for (long k = 0; k < g_stack_bytes; k += 64) live[k] = (char)i;
    gpt_migrate(1 - gpt_self_node());
    for (long k = 0; k < g_stack_bytes; k += 64) sum += live[k];
  }
  g_hop_us = (now_us() - t0) / hops;
  return (void*)sum;
}

static void bench_migration(pthread_attr_t* a, long bytes) {
  g_stack_bytes = bytes;
  pthread_t t;
  pthread_create(&t, a, hopper, NULL);
  pthread_join(t, NULL);
  printf("migrate_%ldKiB_stack %.1f us\n", bytes / 1024, g_hop_us);
}
#endif

static pthread_attr_t* on_node(pthread_attr_t* a, int node) {
  pthread_attr_init(a);
#ifdef GPTHREAD
  gpt_attr_setnode(a, node % gpt_node_count());
#else
  (void)node;
#endif
  return a;
}

/* Uncontended lock/unlock, in a thread of its own: the process has two
 * threads, as any program that needs a mutex does (glibc takes a mutex
 * without atomics while a process has one thread only). */
static double g_uncontended_us;
static void* uncontended(void* arg) {
  const int n = 200000;
  double t0 = now_us();
  for (int i = 0; i < n; ++i) {
    pthread_mutex_lock(&g_lock);
    pthread_mutex_unlock(&g_lock);
  }
  g_uncontended_us = (now_us() - t0) / n;
  return arg;
}

int main(void) {
  pthread_attr_t a, b;
  pthread_t u;
  pthread_create(&u, on_node(&a, 0), uncontended, NULL);
  pthread_join(u, NULL);
  printf("lock_unlock_uncontended %.3f us\n", g_uncontended_us);
  double t0;

  /* Create + join of a thread on another node (node 1). */
  const int creates = 200;
  t0 = now_us();
  for (int i = 0; i < creates; ++i) {
    pthread_t t;
    pthread_create(&t, on_node(&a, 1), nothing, NULL);
    pthread_join(t, NULL);
  }
  printf("create_join_remote %.1f us\n", (now_us() - t0) / creates);

  /* Lock handoff between two threads on two nodes. */
  g_rounds = 500;
  g_shared = 0;
  pthread_t p0, p1;
  t0 = now_us();
  pthread_create(&p0, on_node(&a, 0), pingpong, (void*)0L);
  pthread_create(&p1, on_node(&b, 1), pingpong, (void*)1L);
  pthread_join(p0, NULL);
  pthread_join(p1, NULL);
  printf("lock_handoff_2_nodes %.1f us\n", (now_us() - t0) / (2.0 * g_rounds));

  /* A barrier of 4 threads, one per node (when there are 4 nodes). */
  g_rounds = 300;
  pthread_barrier_init(&g_barrier, NULL, 4);
  pthread_t bt[4];
  t0 = now_us();
  for (int i = 0; i < 4; ++i) pthread_create(&bt[i], on_node(&a, i), barrier_loop, NULL);
  for (int i = 0; i < 4; ++i) pthread_join(bt[i], NULL);
  printf("barrier_4_threads %.1f us\n", (now_us() - t0) / g_rounds);

#ifdef GPTHREAD
  if (gpt_node_count() >= 2) {
    bench_migration(on_node(&a, 0), 4096);
    bench_migration(on_node(&a, 0), 65536);
  }
#endif
  return 0;
}
