/* Detached threads across nodes, detached at creation or afterwards: they
 * run and end, nobody joins them, and their control blocks are freed (a
 * pthread_t is its control block's address, so the handles come round
 * again). Prints how many threads ran and whether handles were reused. */
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

enum { kThreads = 600 };
static sem_t g_done;
static pthread_t g_seen[kThreads];

static void* work(void* arg) {
  (void)arg;
  sem_post(&g_done);
  return NULL;
}

int main(void) {
  sem_init(&g_done, 0, 0);
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < kThreads; ++i) {
    pthread_t t;
    if (i % 2 == 0) {
      CHECK(pthread_create(&t, &detached, work, NULL) == 0, "create %d", i);
    } else {
      CHECK(pthread_create(&t, NULL, work, NULL) == 0, "create %d", i);
      CHECK(pthread_detach(t) == 0, "detach %d", i);
    }
    g_seen[i] = t;
    sem_wait(&g_done);
  }
  int reused = 0;
  for (int i = 1; i < kThreads && !reused; ++i)
    for (int j = 0; j < i; ++j)
      if (pthread_equal(g_seen[i], g_seen[j])) {
        reused = 1;
        break;
      }
  printf("detached: %d threads ran on %d nodes; handles reused: %s\n", kThreads, gpt_node_count(),
         reused ? "yes" : "no");
  return 0;
}
