/* Fragmentation: what an allocator keeps resident while the mix of sizes it
 * is asked for keeps changing. Built twice from this file, like
 * malloc_bench.c: against the system allocator (the baseline) and with
 * gpt-cc (libgalloc), run in the same ./dev bench.
 *
 * usage: frag_bench TOTAL_MIB LIVE_MIB
 * Allocates TOTAL_MIB in all, never more than LIVE_MIB live at once: each
 * allocation first frees objects picked at random until it fits. The sizes
 * come in phases (small objects, medium, large, very large, all of them
 * mixed), each phase allocating about 1.5 times LIVE_MIB, so the live set
 * turns over from one mix of sizes to the next while the objects of the
 * previous mix are freed at random, all over the heap. Every page of every
 * object is written. Prints the peak resident memory the allocator added
 * (the process's peak minus what it had before the first malloc), the peak
 * live bytes, and the time taken. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define MiB (1024.0 * 1024.0)
/* Bounds the bookkeeping below (and so the small phases' live bytes). */
#define MAX_OBJECTS (4u << 20)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Log-uniform in [lo, hi) (powers of two): as many objects of 16-32 B as of
 * 1-2 KiB. */
static size_t size_between(size_t lo, size_t hi) {
  const unsigned lo_bits = 63 - __builtin_clzll(lo), hi_bits = 63 - __builtin_clzll(hi);
  const unsigned bits = lo_bits + (unsigned)(next_random() % (hi_bits - lo_bits));
  size_t size = ((size_t)1 << bits) + next_random() % ((size_t)1 << bits);
  return size < lo ? lo : size > hi ? hi : size;
}

struct phase {
  const char* name;
  size_t lo, hi;
};
static const struct phase phases[] = {
    {"small", 16, 512},
    {"large", 16 << 10, 1 << 20},
    {"medium", 512, 16 << 10},
    {"very large", 1 << 20, 8 << 20},
    {"mixed", 16, 8 << 20},
};

static void** objects;  /* the live set, in no order */
static uint32_t* sizes;
static size_t live_count, live_bytes;

static void free_one_at_random(void) {
  const size_t i = next_random() % live_count;
  live_bytes -= sizes[i];
  free(objects[i]);
  --live_count;
  objects[i] = objects[live_count];
  sizes[i] = sizes[live_count];
}

static long resident_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * 4;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: frag_bench TOTAL_MIB LIVE_MIB\n");
    return 2;
  }
  const size_t total = (size_t)atol(argv[1]) << 20, limit = (size_t)atol(argv[2]) << 20;
  /* The bookkeeping: mmap, not malloc, and resident before the baseline is
   * taken, so it counts for neither allocator. */
  objects = mmap(NULL, MAX_OBJECTS * sizeof *objects, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  sizes = mmap(NULL, MAX_OBJECTS * sizeof *sizes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (objects == MAP_FAILED || sizes == MAP_FAILED) return 1;
  memset(objects, 0, MAX_OBJECTS * sizeof *objects);
  memset(sizes, 0, MAX_OBJECTS * sizeof *sizes);
  const long before_kib = resident_kib();

  const double t0 = now_s();
  size_t allocated = 0, peak_live = 0, in_phase = 0;
  unsigned phase = 0;
  while (allocated < total) {
    if (in_phase >= limit + limit / 2) {
      phase = (phase + 1) % (sizeof phases / sizeof phases[0]);
      in_phase = 0;
    }
    const size_t size = size_between(phases[phase].lo, phases[phase].hi);
    while (live_count && (live_bytes + size > limit || live_count == MAX_OBJECTS)) free_one_at_random();
    unsigned char* p = malloc(size);
    if (!p) {
      fprintf(stderr, "frag_bench: malloc(%zu) failed with %.0f MiB live, %.0f MiB allocated so far\n", size,
              live_bytes / MiB, allocated / MiB);
      return 1;
    }
    for (size_t at = 0; at < size; at += 4096) p[at] = (unsigned char)at;
    p[size - 1] = 1;
    objects[live_count] = p;
    sizes[live_count] = (uint32_t)size;
    ++live_count;
    live_bytes += size;
    if (live_bytes > peak_live) peak_live = live_bytes;
    allocated += size;
    in_phase += size;
  }
  const double seconds = now_s() - t0;
  while (live_count) free_one_at_random();

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  printf("frag_peak_resident %.0f MiB\n", (usage.ru_maxrss - before_kib) / 1024.0);
  printf("frag_peak_live %.0f MiB\n", peak_live / MiB);
  printf("frag_allocated %.0f MiB\n", allocated / MiB);
  printf("frag_time %.2f s\n", seconds);
  return 0;
}
