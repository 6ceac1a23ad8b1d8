/* matmul: C = A x B for NxN doubles on the heap (N = 256, or the first
 * argument, 8..2048), 8 threads, each owns a band of rows; phases (fill,
 * multiply, check) separated by a barrier. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8

static int N = 256;
static double *A, *B, *C;
static pthread_barrier_t g_phase;
static int g_errors[THREADS];

static void* band(void* arg) {
  long id = (long)arg;
  int lo = (int)(id * N / THREADS), hi = (int)((id + 1) * N / THREADS);
  for (int i = lo; i < hi; ++i)
    for (int j = 0; j < N; ++j) {
      A[i * N + j] = (i + j) % 7;
      B[i * N + j] = (i == j) ? 2.0 : 0.0; /* B = 2I */
      C[i * N + j] = 0;
    }
  pthread_barrier_wait(&g_phase);
  for (int i = lo; i < hi; ++i)
    for (int k = 0; k < N; ++k) {
      double a = A[i * N + k];
      for (int j = 0; j < N; ++j) C[i * N + j] += a * B[k * N + j];
    }
  pthread_barrier_wait(&g_phase);
  /* Check a band another thread computed. */
  long other = (id + 1) % THREADS;
  lo = (int)(other * N / THREADS);
  hi = (int)((other + 1) * N / THREADS);
  for (int i = lo; i < hi; ++i)
    for (int j = 0; j < N; ++j)
      if (C[i * N + j] != 2.0 * ((i + j) % 7)) ++g_errors[id];
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1) {
    N = atoi(argv[1]);
    if (N < 8 || N > 2048) {
      fprintf(stderr, "matmul: the size must be 8..2048, not '%s'\n", argv[1]);
      return 2;
    }
  }
  A = malloc(sizeof(double) * N * N);
  B = malloc(sizeof(double) * N * N);
  C = malloc(sizeof(double) * N * N);
  pthread_barrier_init(&g_phase, NULL, THREADS);
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, band, (void*)i);
  int errors = 0;
  for (int i = 0; i < THREADS; ++i) {
    pthread_join(t[i], NULL);
    errors += g_errors[i];
  }
  double trace = 0;
  for (int i = 0; i < N; ++i) trace += C[i * N + i];
  printf("matmul %dx%d: trace %.1f, %d wrong elements (%s)\n", N, N, trace, errors, errors ? "WRONG" : "ok");
  return errors ? 1 : 0;
}
