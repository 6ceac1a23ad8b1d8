/* Coherence micro-benchmarks, SPMD on 2+ nodes:
 *   gpt-launch --spmd -n 2 dsm_bench [faults]
 * ("faults": the remote read faults only, e.g. to trace them hop by hop with
 * GPT_TRACE_FAULTS=1 GPT_STATS=1: bench/fault_trace) 
 * Node 0 is the home of the pages used (node 1 of those of the invalidating
 * barrier); node 1 measures, node 0 the barriers. Prints one
 * "name value unit" line per figure (bench/run turns them into ratios). */
#include <galloc.h>
#include <gpthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, n, sizeof *v, cmp);
  return v[n / 2];
}

/* Reads the first byte of `n` pages in order; returns their sum (each is 1)
 * and stores the time per page. */
static int scan_pages(volatile unsigned char* from, int n, double* per_page_us) {
  double t0 = now_us();
  int sum = 0;
  for (int p = 0; p < n; ++p) sum += from[(size_t)p * PAGE];
  *per_page_us = (now_us() - t0) / n;
  return sum;
}

/* A block allocated by node 0 (its home), published through a global. */
static volatile unsigned char* g_home0;
static volatile unsigned char* g_long;    /* node 0's, for the long scan */
static volatile unsigned char* g_home1;   /* node 1's, for the invalidating barrier */

int main(int argc, char** argv) {
  const int faults_only = argc > 1 && strcmp(argv[1], "faults") == 0;
  int me = gpt_node_id();
  int nodes = gpt_node_count();
  if (me == 0) g_home0 = calloc(8192, PAGE);
  gpt_barrier_all();
  volatile unsigned char* home0 = g_home0;
  double samples[256];

  /* 1. One remote read fault: node 0 writes a page node 1 never read, so
   *    node 1's acquire invalidates it (and gets no copy of it: copies go
   *    only to nodes that fetched the page before) and the next read
   *    fetches it. 16 pages apart: a read fault fetches up to 8. */
  const int rounds = 200;
  for (int r = 0; r < rounds; ++r) {
    volatile unsigned char* fresh = home0 + (4096 + 16 * (size_t)r) * PAGE;
    if (me == 0) fresh[0] = (unsigned char)(r + 1);
    gpt_barrier_all();
    if (me == 1) {
      double t0 = now_us();
      unsigned v = fresh[0];
      double t1 = now_us();
      if (v != (unsigned char)(r + 1)) { fprintf(stderr, "bad value\n"); return 1; }
      if (r < 256) samples[r] = t1 - t0;
    }
    gpt_barrier_all();
  }
  if (me == 1) printf("remote_read_fault %.1f us\n", median(samples, rounds));
  if (faults_only) return 0;

  /* 2. Sequential scan of 1000 remote pages, and a long one (8000 pages,
   *    31 MiB): the read-ahead window at work. */
  const int scan = 1000, long_scan = 8000;
  volatile unsigned char* area = home0 + 64 * PAGE;
  if (me == 0) {
    g_long = calloc(long_scan, PAGE);
    for (int p = 0; p < scan; ++p) area[(size_t)p * PAGE] = 1;
    for (int p = 0; p < long_scan; ++p) g_long[(size_t)p * PAGE] = 1;
  }
  gpt_barrier_all();
  if (me == 1) {
    double per_page;
    if (scan_pages(area, scan, &per_page) != scan) return 1;
    printf("scan_per_page %.1f us\n", per_page);
    if (scan_pages(g_long, long_scan, &per_page) != long_scan) return 1;
    printf("long_scan_per_page %.1f us\n", per_page);
  }
  gpt_barrier_all();

  /* 3. Release of 1, 16, 256 dirty pages (node 1 writes pages homed at 0). */
  static const int counts[] = {1, 16, 256};
  volatile unsigned char* target = home0 + 2048 * PAGE;
  for (int c = 0; c < 3; ++c) {
    const int reps = 30;
    for (int r = 0; r < reps; ++r) {
      if (me == 1) {
        for (int p = 0; p < counts[c]; ++p) target[(size_t)p * PAGE + (size_t)r] = (unsigned char)(r + 1);
        double t0 = now_us();
        galloc_release();
        samples[r] = now_us() - t0;
      }
    }
    if (me == 1) printf("release_%d_pages %.1f us\n", counts[c], median(samples, reps));
    gpt_barrier_all();
  }

  /* 4. Empty barrier across all nodes. */
  for (int r = 0; r < 100; ++r) {
    double t0 = now_us();
    gpt_barrier_all();
    samples[r] = now_us() - t0;
  }
  if (me == 0) printf("barrier_%d_nodes %.1f us\n", nodes, median(samples, 100));
  /* 5. Barrier with one dirty page per node. */
  for (int r = 0; r < 100; ++r) {
    home0[3000 * PAGE + me] = (unsigned char)r;
    double t0 = now_us();
    gpt_barrier_all();
    samples[r] = now_us() - t0;
  }
  if (me == 0) printf("barrier_dirty_%d_nodes %.1f us\n", nodes, median(samples, 100));
  gpt_barrier_all();

  /* 6. A barrier whose acquire invalidates 256 pages on node 0: node 0 has
   *    read them, node 1 (their home) writes a byte of each. */
  enum { kInvalidated = 256 };
  if (me == 1) g_home1 = calloc(kInvalidated, PAGE);
  gpt_barrier_all();
  for (int r = 0; r < 30; ++r) {
    if (me == 0) {
      unsigned sum = 0;
      for (int p = 0; p < kInvalidated; ++p) sum += g_home1[(size_t)p * PAGE];
      if (sum == 1) return 1; /* never: keeps the reads */
    }
    gpt_barrier_all();
    if (me == 1)
      for (int p = 0; p < kInvalidated; ++p) g_home1[(size_t)p * PAGE + 8] = (unsigned char)r;
    double t0 = now_us();
    gpt_barrier_all();
    samples[r] = now_us() - t0;
  }
  if (me == 0) printf("barrier_invalidating_%d_pages_%d_nodes %.1f us\n", kInvalidated, nodes, median(samples, 30));
  gpt_barrier_all();
  return 0;
}
