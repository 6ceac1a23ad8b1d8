/* pthread_create/join across nodes, run without --spmd: main on node 0
 * creates threads (spread over the nodes by default), passes each a
 * pointer to main's own locals and gets a result back through join. */
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct work {
  int index;
  long input[64];
  long sum;   /* written by the thread */
  int node;   /* where it ran */
};

static long g_total; /* a global the threads do not touch; main sums */

static void* worker(void* arg) {
  struct work* w = arg;
  long s = 0;
  for (int i = 0; i < 64; ++i) s += w->input[i];
  w->sum = s;
  w->node = gpt_self_node();
  long* result = malloc(sizeof *result); /* allocated on the thread's node */
  *result = s * 2;
  return result;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  int nodes = gpt_node_count();
  struct work items[128]; /* on main's stack: must be visible on every node */
  pthread_t t[128];
  if (threads > 128) threads = 128;
  for (int i = 0; i < threads; ++i) {
    items[i].index = i;
    for (int k = 0; k < 64; ++k) items[i].input[k] = i * 1000 + k;
    items[i].sum = -1;
    items[i].node = -1;
    if (pthread_create(&t[i], NULL, worker, &items[i]) != 0) {
      fprintf(stderr, "pthread_create %d failed\n", i);
      return 1;
    }
  }
  int per_node[64] = {0};
  for (int i = 0; i < threads; ++i) {
    void* r = NULL;
    if (pthread_join(t[i], &r) != 0) {
      fprintf(stderr, "pthread_join %d failed\n", i);
      return 1;
    }
    long want = 0;
    for (int k = 0; k < 64; ++k) want += i * 1000 + k;
    if (items[i].sum != want || *(long*)r != 2 * want) {
      fprintf(stderr, "thread %d: sum %ld result %ld, want %ld\n", i, items[i].sum, *(long*)r, want);
      return 1;
    }
    free(r); /* another node's memory: goes home */
    if (items[i].node < 0 || items[i].node >= nodes) return 1;
    per_node[items[i].node]++;
    g_total += items[i].sum;
  }
  printf("%d threads joined, total %ld; per node:", threads, g_total);
  for (int n = 0; n < nodes; ++n) printf(" %d", per_node[n]);
  printf("\n");
  return 0;
}
