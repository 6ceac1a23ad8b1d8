/* hello: one thread per node (spread placement starts at the node after
 * main's: thread i runs on node (i + 1) mod n, the last on node 0);
 * each reports where it ran. stdout is the same everywhere; where each
 * thread ran goes to stderr. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "node_id.h"

static int ran_on[64];

static void* greet(void* arg) {
  long i = (long)arg;
  ran_on[i] = sample_node();
  return (void*)(i * i);
}

int main(void) {
  int n = sample_nodes();
  pthread_t t[64];
  for (long i = 0; i < n; ++i) pthread_create(&t[i], NULL, greet, (void*)i);
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    void* r;
    pthread_join(t[i], &r);
    sum += (long)r;
    fprintf(stderr, "thread %ld ran on node %d\n", i, ran_on[i]);
  }
  long want = 0;
  for (long i = 0; i < n; ++i) want += i * i;
  printf("hello: one thread per node, each reported where it ran: %s\n", sum == want ? "ok" : "WRONG");
  return sum == want ? 0 : 1;
}
