/* histogram: 16 threads count the values of a global input array into a
 * global histogram; each thread fills a private (global-array) row, then
 * merges it under a mutex. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 16
#define VALUES 200000
#define BINS 64

static unsigned g_input[VALUES];
static long g_rows[THREADS][BINS];
static long g_histogram[BINS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void* count(void* arg) {
  long id = (long)arg;
  for (long i = id; i < VALUES; i += THREADS) g_rows[id][g_input[i] % BINS]++;
  pthread_mutex_lock(&g_lock);
  for (int b = 0; b < BINS; ++b) g_histogram[b] += g_rows[id][b];
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(void) {
  unsigned x = 12345;
  for (long i = 0; i < VALUES; ++i) {
    x = x * 1103515245u + 12345u;
    g_input[i] = x >> 8;
  }
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, count, (void*)i);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  long want[BINS] = {0}, total = 0;
  for (long i = 0; i < VALUES; ++i) want[g_input[i] % BINS]++;
  int wrong = 0;
  for (int b = 0; b < BINS; ++b) {
    total += g_histogram[b];
    if (g_histogram[b] != want[b]) ++wrong;
  }
  printf("histogram: %ld values in %d bins, %d bins wrong (%s)\n", total, BINS, wrong, wrong ? "WRONG" : "ok");
  return wrong ? 1 : 0;
}
