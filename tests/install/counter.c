/* Built against an installed gpthread and run on 2 nodes by run_install_test.sh:
 * threads on both nodes add to one global counter under one mutex, and each
 * records the node it ran on in a global array. Prints what the test checks. */
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>

enum { kThreads = 4, kAdds = 1000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int ran_on[kThreads];

static void* add(void* arg) {
  int index = (int)(long)arg;
  ran_on[index] = gpt_self_node();
  for (int i = 0; i < kAdds; ++i) {
    pthread_mutex_lock(&lock);
    ++counter;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(void) {
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; ++i) {
    if (pthread_create(&threads[i], NULL, add, (void*)i) != 0) return 1;
  }
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  int nodes_used = 0;
  for (int node = 0; node < gpt_node_count(); ++node) {
    for (int i = 0; i < kThreads; ++i) {
      if (ran_on[i] == node) {
        ++nodes_used;
        break;
      }
    }
  }
  printf("counter %ld nodes %d used %d\n", counter, gpt_node_count(), nodes_used);
  return 0;
}
