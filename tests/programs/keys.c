/* Thread-specific data across nodes: a key made by main is used by threads
 * on every node; each thread's value is its own; the destructor runs for
 * every thread that set a value, on the node where it ran. */
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_key_t g_key;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_destroyed;
static long g_destroyed_sum;

static void destroy(void* value) {
  pthread_mutex_lock(&g_lock);
  ++g_destroyed;
  g_destroyed_sum += *(long*)value;
  pthread_mutex_unlock(&g_lock);
  free(value);
}

static void* work(void* arg) {
  long id = (long)arg;
  if (pthread_getspecific(g_key) != NULL) return (void*)1;
  long* mine = malloc(sizeof *mine);
  *mine = id + 1;
  pthread_setspecific(g_key, mine);
  long* back = pthread_getspecific(g_key);
  return back == mine && *back == id + 1 ? NULL : (void*)1;
}

int main(void) {
  if (pthread_key_create(&g_key, destroy) != 0) return 1;
  pthread_t t[8];
  for (long i = 0; i < 8; ++i) pthread_create(&t[i], NULL, work, (void*)i);
  for (int i = 0; i < 8; ++i) {
    void* r;
    pthread_join(t[i], &r);
    if (r) return fprintf(stderr, "thread %d saw the wrong value\n", i), 1;
  }
  /* join acquires: the destructors' writes (made before each thread ended) are visible. */
  pthread_mutex_lock(&g_lock);
  int destroyed = g_destroyed;
  long sum = g_destroyed_sum;
  pthread_mutex_unlock(&g_lock);
  if (destroyed != 8 || sum != 36) return fprintf(stderr, "%d destructors ran, sum %ld\n", destroyed, sum), 1;
  if (pthread_key_delete(g_key) != 0) return 1;
  printf("keys: 8 threads, 8 destructors on %d nodes: ok\n", gpt_node_count());
  return 0;
}
