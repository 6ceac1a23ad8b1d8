/* Thousands of threads blocked at once: N threads wait on one mutex that
 * main holds, then on one condition, spread over the job's nodes (or all
 * on one with GPT_PLACEMENT=local). Each blocked thread holds a channel
 * slot of its node for as long as it waits. Usage: many_waiters N */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_arrived_cond = PTHREAD_COND_INITIALIZER;
static sem_t g_started;
static long g_count, g_arrived, g_woken;
static int g_go;

static void* waiter(void* arg) {
  (void)arg;
  sem_post(&g_started);
  pthread_mutex_lock(&g_lock); /* blocks: main holds it */
  g_count++;
  g_arrived++;
  pthread_cond_signal(&g_arrived_cond);
  while (!g_go) pthread_cond_wait(&g_cond, &g_lock); /* blocks until the broadcast */
  g_woken++;
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  pthread_t* t = malloc(sizeof(pthread_t) * (size_t)n);
  CHECK(t && sem_init(&g_started, 0, 0) == 0, "setup");
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 64 * 1024);
  pthread_mutex_lock(&g_lock);
  for (long i = 0; i < n; ++i) CHECK(pthread_create(&t[i], &a, waiter, NULL) == 0, "create %ld", i);
  for (long i = 0; i < n; ++i) sem_wait(&g_started);
  usleep(200 * 1000); /* let them reach the lock */
  while (g_arrived < n) pthread_cond_wait(&g_arrived_cond, &g_lock); /* releases the lock to them */
  CHECK(g_count == n, "%ld of %ld got the mutex", g_count, n);
  g_go = 1;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
  for (long i = 0; i < n; ++i) CHECK(pthread_join(t[i], NULL) == 0, "join %ld", i);
  CHECK(g_woken == n, "%ld of %ld woke", g_woken, n);
  printf("many_waiters: %ld threads waited on one mutex and one condition on %d nodes: ok\n", n, gpt_node_count());
  return 0;
}
