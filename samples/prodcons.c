/* prodcons: producers and consumers (spread over the nodes): a bounded queue guarded by a mutex
 * and two condition variables (static initialisers). Every item produced is
 * consumed exactly once; the checksum proves it. Then a timed wait that
 * must time out. */
#include <errno.h>
#include "node_id.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAPACITY 8
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_not_empty = PTHREAD_COND_INITIALIZER;
static long g_queue[CAPACITY];
static int g_head, g_count;
static int g_items_per_producer;
static long g_consumed_sum, g_consumed_count;

static void* producer(void* arg) {
  long id = (long)arg;
  for (int i = 1; i <= g_items_per_producer; ++i) {
    pthread_mutex_lock(&g_lock);
    while (g_count == CAPACITY) pthread_cond_wait(&g_not_full, &g_lock);
    g_queue[(g_head + g_count) % CAPACITY] = id * 100000 + i;
    ++g_count;
    pthread_cond_signal(&g_not_empty);
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

static void* consumer(void* arg) {
  long quota = (long)arg;
  for (long n = 0; n < quota; ++n) {
    pthread_mutex_lock(&g_lock);
    while (g_count == 0) pthread_cond_wait(&g_not_empty, &g_lock);
    long v = g_queue[g_head];
    g_head = (g_head + 1) % CAPACITY;
    --g_count;
    g_consumed_sum += v;
    ++g_consumed_count;
    pthread_cond_signal(&g_not_full);
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int producers = argc > 1 ? atoi(argv[1]) : 2;
  int consumers = argc > 2 ? atoi(argv[2]) : 2;
  g_items_per_producer = argc > 3 ? atoi(argv[3]) : 200;
  long total = (long)producers * g_items_per_producer;
  pthread_t t[64];
  int n = 0;
  for (long p = 0; p < producers; ++p) pthread_create(&t[n++], NULL, producer, (void*)(p + 1));
  for (long c = 0; c < consumers; ++c) {
    long quota = total / consumers + (c < total % consumers ? 1 : 0);
    pthread_create(&t[n++], NULL, consumer, (void*)quota);
  }
  for (int i = 0; i < n; ++i) pthread_join(t[i], NULL);
  long want = 0;
  for (long p = 1; p <= producers; ++p)
    for (long i = 1; i <= g_items_per_producer; ++i) want += p * 100000 + i;
  if (g_consumed_count != total || g_consumed_sum != want) {
    fprintf(stderr, "consumed %ld items, sum %ld; want %ld, %ld\n", g_consumed_count, g_consumed_sum, total, want);
    return 1;
  }
  /* Nobody signals: a timed wait must time out, with the mutex held again. */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 100 * 1000 * 1000;
  if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&g_lock);
  int r = pthread_cond_timedwait(&g_not_empty, &g_lock, &deadline);
  pthread_mutex_unlock(&g_lock);
  if (r != ETIMEDOUT) {
    fprintf(stderr, "timedwait returned %d, want ETIMEDOUT\n", r);
    return 1;
  }
  printf("prodcons: %d producers, %d consumers, %ld items: ok\n", producers, consumers, total);
  return 0;
}
