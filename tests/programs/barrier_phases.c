/* pthread barriers across nodes, reused many times: in each phase every
 * thread writes its slot of a shared array, waits, checks every slot of the
 * phase, waits again. Exactly one serial thread per phase. With "remote"
 * the barrier lives in memory the last node allocated (that node manages
 * it, not node 0). With "wander" thread 0 moves to the next node every 10
 * phases: with GPT_PLACEMENT=local the barrier's rounds then alternate
 * between all threads on node 0 (the barrier is lent there) and threads
 * on two nodes (the lease is recalled, its waiters leave with the others). */
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define MAX_THREADS 64
static pthread_barrier_t g_barrier_storage;
static pthread_barrier_t* g_bar = &g_barrier_storage;
static int g_threads, g_phases, g_wander;
static long g_slots[MAX_THREADS];
static int g_serials;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void* phase_worker(void* arg) {
  long me = (long)arg;
  for (int phase = 1; phase <= g_phases; ++phase) {
    if (g_wander && me == 0 && phase % 10 == 0 && gpt_migrate((phase / 10) % gpt_node_count()) != 0) {
      fprintf(stderr, "phase %d: gpt_migrate failed\n", phase);
      exit(4);
    }
    g_slots[me] = phase * 1000 + me;
    int r = pthread_barrier_wait(g_bar);
    if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
      pthread_mutex_lock(&g_lock);
      ++g_serials;
      pthread_mutex_unlock(&g_lock);
    } else if (r != 0) {
      fprintf(stderr, "barrier wait returned %d\n", r);
      exit(2);
    }
    for (int k = 0; k < g_threads; ++k)
      if (g_slots[k] != phase * 1000 + k) {
        fprintf(stderr, "phase %d: thread %ld on node %d sees slot %d = %ld\n", phase, me,
                gpt_self_node(), k, g_slots[k]);
        exit(3);
      }
    pthread_barrier_wait(g_bar);
  }
  return NULL;
}

static void* allocate_barrier(void* arg) {
  (void)arg;
  g_bar = malloc(sizeof *g_bar);
  return NULL;
}

int main(int argc, char** argv) {
  g_threads = argc > 1 ? atoi(argv[1]) : 4;
  g_phases = argc > 2 ? atoi(argv[2]) : 50;
  if (g_threads > MAX_THREADS) g_threads = MAX_THREADS;
  if (argc > 3 && argv[3][0] == 'r') run_on_node(gpt_node_count() - 1, allocate_barrier, NULL);
  g_wander = argc > 3 && argv[3][0] == 'w';
  pthread_barrier_init(g_bar, NULL, (unsigned)g_threads);
  pthread_t t[MAX_THREADS];
  for (long i = 0; i < g_threads; ++i) pthread_create(&t[i], NULL, phase_worker, (void*)i);
  for (int i = 0; i < g_threads; ++i) pthread_join(t[i], NULL);
  pthread_barrier_destroy(g_bar);
  if (g_serials != g_phases) {
    fprintf(stderr, "%d serial threads for %d phases\n", g_serials, g_phases);
    return 1;
  }
  printf("%d threads, %d phases on %d nodes: ok\n", g_threads, g_phases, gpt_node_count());
  return 0;
}
