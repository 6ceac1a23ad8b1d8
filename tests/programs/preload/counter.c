/* Threads on every node increment one counter under a mutex and print a
 * line each (stdout from other nodes). Built with plain gcc -pthread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "node_of.h"

enum { kThreads = 8, kRounds = 2000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int seen_on_node[64];

static void* add(void* arg) {
  const long id = (long)arg;
  const int node = node_of_this_thread();
  for (int i = 0; i < kRounds; ++i) {
    pthread_mutex_lock(&lock);
    ++counter;
    pthread_mutex_unlock(&lock);
  }
  pthread_mutex_lock(&lock);
  if (node >= 0 && node < 64) seen_on_node[node] = 1;
  pthread_mutex_unlock(&lock);
  printf("thread %ld ran on node %d\n", id, node);
  return NULL;
}

int main(void) {
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; ++i)
    if (pthread_create(&threads[i], NULL, add, (void*)i) != 0) return 1;
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  int nodes = 0;
  for (int n = 0; n < 64; ++n) nodes += seen_on_node[n];
  printf("counter %ld of %d, threads ran on %d nodes\n", counter, kThreads * kRounds, nodes);
  return counter == kThreads * kRounds ? 0 : 3;
}
