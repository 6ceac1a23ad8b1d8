/* pi: numerical integration of 4/(1+x^2) over [0,1] by 8 threads, each
 * adding its partial sum to a shared total under a mutex. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>

#define THREADS 8
#define STEPS 4000000L

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static double g_pi;

static void* integrate(void* arg) {
  long id = (long)arg;
  const double h = 1.0 / STEPS;
  double sum = 0;
  for (long i = id; i < STEPS; i += THREADS) {
    double x = (i + 0.5) * h;
    sum += 4.0 / (1.0 + x * x);
  }
  pthread_mutex_lock(&g_lock);
  g_pi += sum * h;
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, integrate, (void*)i);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  int ok = fabs(g_pi - 3.14159265358979) < 1e-9;
  printf("pi = %.10f (%s)\n", g_pi, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
