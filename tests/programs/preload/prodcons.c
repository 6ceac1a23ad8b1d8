/* A bounded buffer between producers and consumers on a condition
 * variable: every item is taken exactly once. Built with plain gcc -pthread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { kSlots = 8, kProducers = 2, kConsumers = 2, kItemsEach = 500 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static long slots[kSlots];
static int head, count, producers_left = kProducers;
static long taken_sum[kConsumers];
static long taken_count[kConsumers];

static void* produce(void* arg) {
  const long base = (long)arg * kItemsEach;
  for (long i = 1; i <= kItemsEach; ++i) {
    pthread_mutex_lock(&lock);
    while (count == kSlots) pthread_cond_wait(&not_full, &lock);
    slots[(head + count) % kSlots] = base + i;
    ++count;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
  }
  pthread_mutex_lock(&lock);
  --producers_left;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void* consume(void* arg) {
  const long me = (long)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (count == 0 && producers_left > 0) pthread_cond_wait(&not_empty, &lock);
    if (count == 0) {
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    const long item = slots[head];
    head = (head + 1) % kSlots;
    --count;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    taken_sum[me] += item;
    ++taken_count[me];
  }
}

int main(void) {
  pthread_t p[kProducers], c[kConsumers];
  for (long i = 0; i < kConsumers; ++i) pthread_create(&c[i], NULL, consume, (void*)i);
  for (long i = 0; i < kProducers; ++i) pthread_create(&p[i], NULL, produce, (void*)i);
  for (int i = 0; i < kProducers; ++i) pthread_join(p[i], NULL);
  for (int i = 0; i < kConsumers; ++i) pthread_join(c[i], NULL);
  long sum = 0, items = 0;
  for (int i = 0; i < kConsumers; ++i) sum += taken_sum[i], items += taken_count[i];
  const long n = (long)kProducers * kItemsEach;
  printf("consumed %ld items, sum %ld (expected %ld)\n", items, sum, n * (n + 1) / 2);
  return items == n && sum == n * (n + 1) / 2 ? 0 : 3;
}
