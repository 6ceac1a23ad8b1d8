/* malloc/free throughput. Built twice from this file: against the system
 * allocator (baseline) and with gpt-cc (libgalloc), run in the same
 * ./dev bench. Prints "name ns-per-op". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static unsigned long rng_state = 88172645463325252ul;
static unsigned long xorshift(unsigned long* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Pairs of malloc(64)/free. */
static double pairs(long n) {
  double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    void* volatile p = malloc(64);
    free(p);
  }
  return (now_ns() - t0) / n;
}

/* A working set of 4096 live objects of random sizes 16..1024, replaced at
 * random: exercises refills, flushes and slab reuse. */
static void* churn_thread(void* arg) {
  long n = *(long*)arg;
  unsigned long s = rng_state ^ (unsigned long)(size_t)&n;
  void* live[4096] = {0};
  for (long i = 0; i < n; ++i) {
    unsigned long r = xorshift(&s);
    size_t slot = r % 4096;
    free(live[slot]);
    live[slot] = malloc(16 + (r >> 20) % 1009);
    if (live[slot]) *(char*)live[slot] = (char)i;
  }
  for (int i = 0; i < 4096; ++i) free(live[i]);
  return NULL;
}

static double churn(long n, int threads) {
  pthread_t t[8];
  double t0 = now_ns();
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, churn_thread, &n);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  return (now_ns() - t0) / ((double)n * threads);
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 5000000;
  pairs(n / 10); /* warm up */
  printf("malloc_free_64 %.1f ns\n", pairs(n));
  printf("churn_1_thread %.1f ns\n", churn(n, 1));
  printf("churn_2_threads %.1f ns\n", churn(n, 2));
  return 0;
}
