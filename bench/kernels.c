/* Whole-program kernels for ./dev bench, the shapes of the usual DSM suites:
 *   stencil    a 2-D five-point stencil over a grid split by rows, one
 *              pthread barrier per sweep (barrier-bound, neighbours share
 *              the boundary rows);
 *   transpose  an FFT-style pass: every thread transforms its rows, then
 *              the matrix is transposed (all-to-all: each thread reads a
 *              block from every other thread's rows), barrier, repeat;
 *   lu         a blocked LU factorisation without pivoting (the matrix is
 *              diagonally dominant), block columns dealt round-robin to the
 *              threads, barriers between the steps.
 * usage: kernels NAME [THREADS]; prints "kernel_NAME MS ms" and a checksum
 * that must not depend on where the threads ran. Threads go where
 * GPT_PLACEMENT puts them; the data is allocated by main. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_threads = 4;
static pthread_barrier_t g_barrier;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void range_of(int id, int n, int* from, int* to) {
  *from = (int)((long)n * id / g_threads);
  *to = (int)((long)n * (id + 1) / g_threads);
}

/* ---- stencil ---------------------------------------------------------------- */
enum { kGrid = 258, kSweeps = 100 };
static double* g_grid[2];

static void* stencil_worker(void* arg) {
  const int id = (int)(long)arg;
  int from, to;
  range_of(id, kGrid - 2, &from, &to);
  from += 1;
  to += 1;
  for (int s = 0; s < kSweeps; ++s) {
    const double* in = g_grid[s & 1];
    double* out = g_grid[(s + 1) & 1];
    for (int i = from; i < to; ++i)
      for (int j = 1; j < kGrid - 1; ++j)
        out[i * kGrid + j] = 0.2 * (in[i * kGrid + j] + in[(i - 1) * kGrid + j] + in[(i + 1) * kGrid + j] +
                                    in[i * kGrid + j - 1] + in[i * kGrid + j + 1]);
    pthread_barrier_wait(&g_barrier);
  }
  return NULL;
}

static double stencil_setup(void) {
  for (int k = 0; k < 2; ++k) {
    g_grid[k] = calloc((size_t)kGrid * kGrid, sizeof(double));
    for (int j = 0; j < kGrid; ++j) g_grid[k][j] = 100.0;  /* a hot top edge */
  }
  return 0;
}

static double stencil_checksum(void) {
  double sum = 0;
  for (int i = 0; i < kGrid * kGrid; ++i) sum += g_grid[kSweeps & 1][i];
  return sum;
}

/* ---- transpose -------------------------------------------------------------- */
enum { kSide = 256, kPasses = 16 };
static double* g_matrix[2];

static void* transpose_worker(void* arg) {
  const int id = (int)(long)arg;
  int from, to;
  range_of(id, kSide, &from, &to);
  for (int p = 0; p < kPasses; ++p) {
    double* a = g_matrix[p & 1];
    double* b = g_matrix[(p + 1) & 1];
    /* The row transform: a butterfly-like pass over each own row. */
    for (int i = from; i < to; ++i)
      for (int j = 0; j < kSide / 2; ++j) {
        const double x = a[i * kSide + j], y = a[i * kSide + j + kSide / 2];
        a[i * kSide + j] = 0.5 * (x + y);
        a[i * kSide + j + kSide / 2] = 0.5 * (x - y) + 1.0;
      }
    pthread_barrier_wait(&g_barrier);
    /* Own rows of b from every thread's rows of a. */
    for (int i = from; i < to; ++i)
      for (int j = 0; j < kSide; ++j) b[i * kSide + j] = a[j * kSide + i];
    pthread_barrier_wait(&g_barrier);
  }
  return NULL;
}

static double transpose_setup(void) {
  for (int k = 0; k < 2; ++k) g_matrix[k] = calloc((size_t)kSide * kSide, sizeof(double));
  for (int i = 0; i < kSide * kSide; ++i) g_matrix[0][i] = (double)(i % 97);
  return 0;
}

static double transpose_checksum(void) {
  double sum = 0;
  for (int i = 0; i < kSide * kSide; ++i) sum += g_matrix[kPasses & 1][i] * (double)(i % 13 + 1);
  return sum;
}

/* ---- lu --------------------------------------------------------------------- */
enum { kN = 256, kBlock = 16, kBlocks = kN / kBlock };
static double* g_lu;
#define A(i, j) g_lu[(size_t)(i) * kN + (j)]

static int owner_of(int block_column) { return block_column % g_threads; }

static void* lu_worker(void* arg) {
  const int id = (int)(long)arg;
  for (int k = 0; k < kBlocks; ++k) {
    const int k0 = k * kBlock, k1 = k0 + kBlock;
    /* The diagonal block's column owner factors block column k. */
    if (owner_of(k) == id) {
      for (int c = k0; c < k1; ++c) {
        for (int r = c + 1; r < kN; ++r) A(r, c) /= A(c, c);
        for (int r = c + 1; r < kN; ++r)
          for (int c2 = c + 1; c2 < k1; ++c2) A(r, c2) -= A(r, c) * A(c, c2);
      }
    }
    pthread_barrier_wait(&g_barrier);
    /* Each owner updates its block columns right of k: the row panel, then
     * the trailing blocks. */
    for (int j = k + 1; j < kBlocks; ++j) {
      if (owner_of(j) != id) continue;
      const int j0 = j * kBlock, j1 = j0 + kBlock;
      for (int c = k0; c < k1; ++c)
        for (int r = c + 1; r < k1; ++r)
          for (int c2 = j0; c2 < j1; ++c2) A(r, c2) -= A(r, c) * A(c, c2);
      for (int r = k1; r < kN; ++r)
        for (int c = k0; c < k1; ++c) {
          const double l = A(r, c);
          for (int c2 = j0; c2 < j1; ++c2) A(r, c2) -= l * A(c, c2);
        }
    }
    pthread_barrier_wait(&g_barrier);
  }
  return NULL;
}

static double lu_setup(void) {
  g_lu = malloc((size_t)kN * kN * sizeof(double));
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kN; ++j) A(i, j) = i == j ? 2.0 * kN : (double)((i * 7 + j * 3) % 11) / 11.0;
  return 0;
}

static double lu_checksum(void) {
  double sum = 0;
  for (int i = 0; i < kN; ++i) sum += A(i, i) + A(i, (i * 5) % kN);
  return sum;
}

/* ---- driver ----------------------------------------------------------------- */
struct kernel {
  const char* name;
  double (*setup)(void);
  void* (*worker)(void*);
  double (*checksum)(void);
};

static const struct kernel kKernels[] = {
    {"stencil", stencil_setup, stencil_worker, stencil_checksum},
    {"transpose", transpose_setup, transpose_worker, transpose_checksum},
    {"lu", lu_setup, lu_worker, lu_checksum},
};

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: kernels stencil|transpose|lu [THREADS]\n");
    return 2;
  }
  if (argc > 2) g_threads = atoi(argv[2]);
  if (g_threads < 1 || g_threads > 64) return 2;
  for (size_t k = 0; k < sizeof kKernels / sizeof kKernels[0]; ++k) {
    if (strcmp(argv[1], kKernels[k].name) != 0) continue;
    kKernels[k].setup();
    pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
    pthread_t t[64];
    const double t0 = now_ms();
    for (int i = 0; i < g_threads; ++i) pthread_create(&t[i], NULL, kKernels[k].worker, (void*)(long)i);
    for (int i = 0; i < g_threads; ++i) pthread_join(t[i], NULL);
    const double ms = now_ms() - t0;
    printf("kernel_%s %.1f ms\n", kKernels[k].name, ms);
    printf("checksum_%s %.6e\n", kKernels[k].name, kKernels[k].checksum());
    return 0;
  }
  fprintf(stderr, "kernels: no kernel '%s'\n", argv[1]);
  return 2;
}
