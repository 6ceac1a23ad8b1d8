/* The allocator reuses what is freed, whatever the sizes, through the real
 * malloc family. Modes (argv[1]); each prints one line and exits 0, or
 * says what failed and exits 1:
 *   aligned   every aligned entry point with sizes and alignments near 2^64
 *             fails with glibc's errno; ordinary requests are aligned.
 *   realloc   one buffer grows by 64 KiB at a time to 1 GiB with realloc
 *             while small allocations go on; every step's bytes survive.
 *   blocks    (run with a small GPT_HEAP_SIZE) 64 KiB blocks fill the
 *             node's memory; once all are freed, a 128 KiB block, then one
 *             of almost all of that memory, fit.
 *   sizes     (small GPT_HEAP_SIZE) 1 MiB blocks fill the node's memory;
 *             once freed, 64-byte objects use nearly all of it, and once
 *             those are freed, 1 MiB blocks again.
 *   remote    (small GPT_HEAP_SIZE, 2 nodes or more) a thread on the last
 *             node fills its memory with small objects; main frees them
 *             all (frees sent home); once they are in, a thread there gets
 *             1 MiB blocks for nearly all of it. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <galloc.h>

#include "check.h"

/* glibc's, and gpthread's for both libcs: musl's headers do not declare it. */
void* pvalloc(size_t size);

#define MiB (1024 * 1024)

static int aligned(void) {
  /* volatile: the compiler must not judge these sizes itself. */
  volatile size_t top = SIZE_MAX, half = (size_t)1 << 63, ptrdiff_max = PTRDIFF_MAX;
  const size_t sizes[] = {top, top - 4095, half, half + 1, ptrdiff_max + 1};
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    const size_t size = sizes[i];
    void* p = NULL;
    CHECK(posix_memalign(&p, 64, size) == ENOMEM && !p, "posix_memalign(64, %zx)", size);
    CHECK(posix_memalign(&p, 4096, size) == ENOMEM && !p, "posix_memalign(4096, %zx)", size);
    CHECK(posix_memalign(&p, 24, size) == EINVAL && !p, "posix_memalign(24, %zx)", size);
    errno = 0;
    CHECK(!aligned_alloc(64, size) && errno == ENOMEM, "aligned_alloc(64, %zx): errno %d", size, errno);
    errno = 0;
    CHECK(!aligned_alloc(1 << 20, size) && errno == ENOMEM, "aligned_alloc(1 MiB, %zx)", size);
    errno = 0;
    CHECK(!memalign(128, size) && errno == ENOMEM, "memalign(128, %zx): errno %d", size, errno);
    errno = 0;
    CHECK(!memalign(top, size) && errno == EINVAL, "memalign(SIZE_MAX, %zx): errno %d", size, errno);
    errno = 0;
    CHECK(!valloc(size) && errno == ENOMEM, "valloc(%zx): errno %d", size, errno);
    errno = 0;
    CHECK(!pvalloc(size) && errno == ENOMEM, "pvalloc(%zx): errno %d", size, errno);
  }
  /* Alignments no block of the heap can have. */
  void* p = NULL;
  CHECK(posix_memalign(&p, half, 64) == ENOMEM, "posix_memalign(2^63, 64)");
  errno = 0;
  CHECK(!aligned_alloc(half + 1, 64) && errno == EINVAL, "aligned_alloc(2^63 + 1, 64)");
  /* What is asked for sensibly is given, aligned. */
  const size_t alignments[] = {8, 16, 64, 4096, 65536, 1 << 20, 4 << 20};
  for (unsigned i = 0; i < sizeof alignments / sizeof alignments[0]; ++i)
    for (size_t size = 1; size <= (3 << 20); size = size * 7 + 1) {
      const size_t a = alignments[i];
      CHECK(posix_memalign(&p, a, size) == 0 && (uintptr_t)p % a == 0, "posix_memalign(%zu, %zu)", a, size);
      memset(p, 1, size);
      free(p);
      void* q = aligned_alloc(a, size);
      CHECK(q && (uintptr_t)q % a == 0, "aligned_alloc(%zu, %zu)", a, size);
      free(q);
    }
  void* odd = memalign(24, 100); /* glibc rounds the alignment up */
  CHECK(odd && (uintptr_t)odd % 32 == 0, "memalign(24, 100)");
  free(odd);
  void* v = valloc(10);
  void* pv = pvalloc(5000);
  CHECK(v && (uintptr_t)v % 4096 == 0 && pv && (uintptr_t)pv % 4096 == 0 && malloc_usable_size(pv) >= 8192,
        "valloc/pvalloc");
  free(v);
  free(pv);
  printf("aligned: every overflowing size and alignment refused as glibc does\n");
  return 0;
}

static int grow_by_realloc(void) {
  const size_t step = 64 * 1024, limit = (size_t)1 << 30;
  unsigned char* buf = NULL;
  size_t moves = 0;
  void* smalls[4096];
  unsigned n_small = 0;
  for (size_t size = step; size <= limit; size += step) {
    unsigned char* grown = realloc(buf, size);
    CHECK(grown, "realloc to %zu MiB failed", size / MiB);
    CHECK(malloc_usable_size(grown) >= size, "usable size at %zu MiB", size / MiB);
    if (buf && grown != buf) ++moves;
    buf = grown;
    /* One marked byte per step, checked below after all the moves. */
    const size_t index = size / step - 1;
    buf[size - step] = (unsigned char)(index * 31 + 7);
    /* Other allocations take the memory after the buffer now and then. */
    if (index % 4 == 0) {
      if (n_small == 4096) {
        for (unsigned i = 0; i < n_small; i += 2) free(smalls[i]);
        n_small = 0;
      }
      smalls[n_small] = malloc(200 + index % 3000);
      CHECK(smalls[n_small], "small malloc at %zu MiB", size / MiB);
      ++n_small;
    }
  }
  for (size_t index = 0; index < limit / step; ++index)
    CHECK(buf[index * step] == (unsigned char)(index * 31 + 7), "byte of step %zu lost", index);
  free(buf);
  for (unsigned i = 0; i < n_small; ++i) free(smalls[i]);
  fprintf(stderr, "realloc: the buffer moved %zu times\n", moves);
  printf("realloc: grew to 1 GiB by 64 KiB steps (%s)\n", moves < 64 ? "few moves" : "many moves");
  return moves < 64 ? 0 : 1;
}

/* Blocks of `size` until malloc fails (at most `max`); returns how many. */
static size_t fill(void** blocks, size_t max, size_t size) {
  size_t n = 0;
  while (n < max && (blocks[n] = malloc(size)) != NULL) ++n;
  CHECK(n < max, "%zu blocks of %zu bytes and still no end to the heap: run with a small GPT_HEAP_SIZE",
        n, size);
  CHECK(errno == ENOMEM, "malloc failed with errno %d, not ENOMEM", errno);
  return n;
}

static void* g_blocks[1 << 20];

static int blocks(void) {
  const size_t n = fill(g_blocks, sizeof g_blocks / sizeof g_blocks[0], 64 * 1024);
  CHECK(n >= 512, "only %zu blocks of 64 KiB", n);
  for (size_t i = 0; i < n; i += 2) free(g_blocks[i]);
  for (size_t i = 1; i < n; i += 2) free(g_blocks[i]);
  void* p = malloc(128 * 1024);
  CHECK(p, "a 128 KiB malloc after freeing %zu blocks of 64 KiB", n);
  free(p);
  const size_t most = n * 64 * 1024 / 10 * 9;
  p = malloc(most);
  CHECK(p, "a %zu MiB malloc after freeing %zu MiB of 64 KiB blocks", most / MiB, n / 16);
  memset(p, 3, most);
  free(p);
  printf("blocks: freed 64 KiB blocks merge into any bigger block\n");
  return 0;
}

static int sizes(void) {
  const size_t n = fill(g_blocks, sizeof g_blocks / sizeof g_blocks[0], MiB);
  CHECK(n >= 32, "only %zu blocks of 1 MiB", n);
  for (size_t i = 0; i < n; ++i) memset(g_blocks[i], 5, MiB);
  for (size_t i = 0; i < n; ++i) free(g_blocks[i]);
  /* 64-byte objects, linked through their first word. */
  void** head = NULL;
  size_t objects = 0;
  for (;;) {
    void** o = malloc(64);
    if (!o) break;
    *o = head;
    head = o;
    ++objects;
  }
  CHECK(objects * 64 >= n * MiB / 10 * 9, "64-byte objects: %zu KiB after freeing %zu MiB", objects * 64 / 1024, n);
  while (head) {
    void** next = *head;
    free(head);
    head = next;
  }
  const size_t again = fill(g_blocks, sizeof g_blocks / sizeof g_blocks[0], MiB);
  CHECK(again >= n / 10 * 9, "%zu blocks of 1 MiB after the small objects went, %zu before", again, n);
  for (size_t i = 0; i < again; ++i) free(g_blocks[i]);
  printf("sizes: memory freed as 1 MiB blocks served 64-byte objects and back\n");
  return 0;
}

/* The remote case: objects made on the last node, freed by main on node 0. */
static void** g_objects;
static size_t g_object_count;

static void* make_objects(void* arg) {
  (void)arg;
  void** head = NULL;
  size_t n = 0;
  for (;;) {
    void** o = malloc(48);
    if (!o) break;
    *o = head;
    head = o;
    ++n;
  }
  g_objects = head;
  g_object_count = n;
  return NULL;
}

/* Frees of another node's memory reach its home as messages, some time
 * after they were made: when malloc fails before all of them are in, wait
 * for the rest (at most 60 s) and go on. */
static void* blocks_after_remote_frees(void* arg) {
  (void)arg;
  size_t n = 0;
  for (int waits = 0; n < sizeof g_blocks / sizeof g_blocks[0];) {
    if ((g_blocks[n] = malloc(MiB)) != NULL) {
      ++n;
      continue;
    }
    struct galloc_stats stats;
    galloc_get_stats(&stats);
    if (stats.remote_frees_received >= g_object_count || waits++ == 6000) break;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  for (size_t i = 0; i < n; ++i) free(g_blocks[i]);
  return (void*)n;
}

static int remote(void) {
  const int last = gpt_node_count() - 1;
  CHECK(last > 0, "remote needs 2 nodes or more");
  run_on_node(last, make_objects, NULL);
  CHECK(g_object_count * 48 >= 16 * MiB, "only %zu objects of 48 bytes", g_object_count);
  size_t freed = 0;
  for (void** o = g_objects; o;) {
    void** next = *o;
    free(o); /* another node's memory: sent home */
    o = next;
    ++freed;
  }
  CHECK(freed == g_object_count, "freed %zu of %zu", freed, g_object_count);
  galloc_release(); /* the last batch of frees goes home */
  const size_t n = (size_t)run_on_node(last, blocks_after_remote_frees, NULL);
  /* (Less the 8 MiB stack of the thread, placed among them.) */
  CHECK(n * MiB >= g_object_count * 48 / 10 * 6, "%zu blocks of 1 MiB on node %d after its %zu MiB of objects were freed",
        n, last, g_object_count * 48 / MiB);
  printf("remote: objects freed by another node served 1 MiB blocks at home\n");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "aligned";
  if (strcmp(mode, "aligned") == 0) return aligned();
  if (strcmp(mode, "realloc") == 0) return grow_by_realloc();
  if (strcmp(mode, "blocks") == 0) return blocks();
  if (strcmp(mode, "sizes") == 0) return sizes();
  if (strcmp(mode, "remote") == 0) return remote();
  fprintf(stderr, "heap_reuse: unknown mode %s\n", mode);
  return 2;
}
