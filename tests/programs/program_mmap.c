/* The program's own mmap family, with threads spread over every node.
 * Modes (argv[1]); each prints one line and exits 0, or says what failed
 * and exits 1:
 *   mapreduce DIR  main writes an input file (words of random letters), maps
 *                  it read-only and hands the pointer to 2 workers per
 *                  node; each counts the words that start in its slice and
 *                  a histogram of its bytes into an anonymous shared
 *                  mapping; main sums them and checks against one pass of
 *                  read() over the file.
 *   anon           anonymous mappings (shared and private) written on one
 *                  node and read on another, both ways; a mapping made on
 *                  the last node, read and unmapped by main; fresh mappings
 *                  read as zeros everywhere.
 *   remap          mremap grows (moving, contents kept, checked on another
 *                  node) and shrinks; munmap of the head, the tail, then
 *                  the rest; madvise(MADV_DONTNEED) zeroes a private
 *                  mapping on every node and keeps a shared one's data;
 *                  mprotect is accepted; MAP_FIXED inside a mapping
 *                  replaces its pages.
 *   errors DIR     the errno of each bad call, in main and in a thread on
 *                  the last node: the kernel's, or gpthread's documented
 *                  refusal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <galloc.h>

#include "check.h"

#define PAGE 4096

static int last_node(void) { return gpt_node_count() - 1; }

/* ---- mapreduce ---- */

struct slice_result {
  long words;
  long histogram[256];
};

struct job {
  const unsigned char* text;
  size_t size, from, to;
  struct slice_result* out; /* in an anonymous shared mapping */
};

static int is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t'; }

/* Words that start in [from, to), and the histogram of those bytes. */
static void count(const unsigned char* text, size_t from, size_t to, struct slice_result* r) {
  memset(r, 0, sizeof *r);
  for (size_t i = from; i < to; ++i) {
    ++r->histogram[text[i]];
    if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1]))) ++r->words;
  }
}

static void* worker(void* arg) {
  struct job* j = arg;
  count(j->text, j->from, j->to, j->out);
  return NULL;
}

static size_t write_input(const char* path) {
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  CHECK(fd >= 0, "open %s for writing: %s", path, strerror(errno));
  static char chunk[1 << 16];
  uint64_t seed = 12345;
  size_t total = 0;
  for (int round = 0; round < 96; ++round) { /* 6 MiB, then an odd tail */
    for (size_t i = 0; i < sizeof chunk; ++i) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      unsigned v = (unsigned)(seed >> 33) % 40;
      chunk[i] = v < 26 ? (char)('a' + v) : v < 34 ? ' ' : v < 38 ? 'A' + (char)(v - 34) : '\n';
    }
    size_t n = round == 95 ? 12345 : sizeof chunk;
    CHECK(write(fd, chunk, n) == (ssize_t)n, "write the input");
    total += n;
  }
  CHECK(close(fd) == 0, "close the input");
  return total;
}

static int mapreduce(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/input.txt", dir);
  const size_t size = write_input(path);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "open %s", path);
  const unsigned char* text = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(text != MAP_FAILED, "mmap of the input: %s", strerror(errno));
  CHECK(galloc_is_global(text), "the input's mapping is not in the global space");
  CHECK(close(fd) == 0, "close after mmap");

  const int workers = 2 * gpt_node_count();
  struct slice_result* results =
      mmap(NULL, workers * sizeof *results, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(results != MAP_FAILED, "mmap of the results: %s", strerror(errno));
  struct job jobs[64];
  pthread_t threads[64];
  for (int i = 0; i < workers; ++i) {
    jobs[i] = (struct job){text, size, size * i / workers, size * (i + 1) / workers, &results[i]};
    pthread_attr_t a;
    pthread_attr_init(&a);
    gpt_attr_setnode(&a, i % gpt_node_count());
    CHECK(pthread_create(&threads[i], &a, worker, &jobs[i]) == 0, "pthread_create");
    pthread_attr_destroy(&a);
  }
  struct slice_result sum;
  memset(&sum, 0, sizeof sum);
  for (int i = 0; i < workers; ++i) {
    CHECK(pthread_join(threads[i], NULL) == 0, "pthread_join");
    sum.words += results[i].words;
    for (int b = 0; b < 256; ++b) sum.histogram[b] += results[i].histogram[b];
  }

  /* The reference: one thread, the file read with read(). */
  static unsigned char copy[7 << 20];
  CHECK(size <= sizeof copy, "input too big");
  fd = open(path, O_RDONLY);
  size_t got = 0;
  for (ssize_t r; got < size && (r = read(fd, copy + got, size - got)) > 0;) got += (size_t)r;
  close(fd);
  CHECK(got == size, "read the input back: %zu of %zu", got, size);
  struct slice_result expected;
  count(copy, 0, size, &expected);
  CHECK(sum.words == expected.words, "words: %ld, expected %ld", sum.words, expected.words);
  for (int b = 0; b < 256; ++b)
    CHECK(sum.histogram[b] == expected.histogram[b], "histogram[%d]: %ld, expected %ld", b, sum.histogram[b],
          expected.histogram[b]);
  CHECK(memcmp(text, copy, size) == 0, "the mapping differs from the file");
  CHECK(munmap((void*)text, size) == 0, "munmap the input");
  CHECK(munmap(results, workers * sizeof *results) == 0, "munmap the results");
  unlink(path);
  printf("mapreduce: %d workers on %d nodes counted %ld words of an mmap'd file, as one pass does\n", workers,
         gpt_node_count(), expected.words);
  return 0;
}

/* ---- anon ---- */

struct area {
  unsigned char* p;
  size_t size;
  unsigned char value;
};

static void* fill(void* arg) {
  struct area* a = arg;
  memset(a->p, a->value, a->size);
  return NULL;
}

/* NULL if a->p holds a->value everywhere. */
static void* check_filled(void* arg) {
  struct area* a = arg;
  for (size_t i = 0; i < a->size; ++i)
    if (a->p[i] != a->value) return (void*)(a->p + i);
  return NULL;
}

static void* map_here(void* arg) {
  size_t size = *(size_t*)arg;
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  memset(p, 0x5a, size);
  return p;
}

static int anon(void) {
  const int far = last_node();
  const size_t size = 3 * 1024 * 1024 + 100;
  for (int shared = 0; shared < 2; ++shared) {
    unsigned char* p =
        mmap(NULL, size, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap anonymous: %s", strerror(errno));
    CHECK(((uintptr_t)p & (PAGE - 1)) == 0, "not page-aligned: %p", (void*)p);
    CHECK(galloc_is_global(p), "an anonymous mapping is not in the global space");
    struct area zero = {p, size, 0};
    CHECK(run_on_node(far, check_filled, &zero) == NULL, "a fresh mapping is not zero on node %d", far);
    struct area there = {p, size, 0xa5};
    run_on_node(far, fill, &there);
    CHECK(check_filled(&there) == NULL, "node %d's writes not seen by main", far);
    struct area here = {p, size, 0x3c};
    fill(&here);
    CHECK(run_on_node(far, check_filled, &here) == NULL, "main's writes not seen on node %d", far);
    CHECK(munmap(p, size) == 0, "munmap: %s", strerror(errno));
  }
  /* Made on the last node, used and unmapped by main. */
  size_t remote_size = 256 * 1024;
  unsigned char* q = run_on_node(far, map_here, &remote_size);
  CHECK(q != NULL, "mmap on node %d failed", far);
  struct area theirs = {q, remote_size, 0x5a};
  CHECK(check_filled(&theirs) == NULL, "node %d's mapping not readable by main", far);
  CHECK(munmap(q, remote_size) == 0, "munmap of node %d's mapping: %s", far, strerror(errno));
  /* Many small mappings, all distinct and writable. */
  unsigned char* small[64];
  for (int i = 0; i < 64; ++i) {
    small[i] = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(small[i] != MAP_FAILED, "small mmap %d", i);
    small[i][0] = (unsigned char)i;
    small[i][PAGE - 1] = (unsigned char)i;
  }
  for (int i = 0; i < 64; ++i) {
    CHECK(small[i][0] == i && small[i][PAGE - 1] == i, "small mapping %d overwritten", i);
    CHECK(munmap(small[i], PAGE) == 0, "munmap small %d", i);
  }
  printf("anon: anonymous mappings are shared by every node, both ways\n");
  return 0;
}

/* ---- remap ---- */

struct pattern {
  unsigned char* p;
  size_t size;
};

static unsigned char byte_at(size_t i) { return (unsigned char)(i * 7 + i / 4096); }

static void* check_pattern(void* arg) {
  struct pattern* a = arg;
  for (size_t i = 0; i < a->size; ++i)
    if (a->p[i] != byte_at(i)) return (void*)(a->p + i);
  return NULL;
}

static int remap(void) {
  const int far = last_node();
  size_t size = 1 << 20;
  unsigned char* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  for (size_t i = 0; i < size; ++i) p[i] = byte_at(i);
  /* Something right after it, so that growing has to move. */
  void* after = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(after != MAP_FAILED, "mmap after");
  unsigned char* q = mremap(p, size, 16 * size, MREMAP_MAYMOVE);
  CHECK(q != MAP_FAILED, "mremap grow: %s", strerror(errno));
  struct pattern kept = {q, size};
  CHECK(run_on_node(far, check_pattern, &kept) == NULL, "grown mapping lost contents on node %d", far);
  for (size_t i = size; i < 16 * size; ++i) CHECK(q[i] == 0, "grown part not zero at %zu", i);
  size *= 16;
  for (size_t i = 0; i < size; ++i) q[i] = byte_at(i);
  unsigned char* r = mremap(q, size, size / 2, 0);
  CHECK(r == q, "mremap shrink moved or failed: %s", strerror(errno));
  size /= 2;
  kept = (struct pattern){r, size};
  CHECK(run_on_node(far, check_pattern, &kept) == NULL, "shrunk mapping lost contents on node %d", far);
  /* Head, tail, then the rest: like a program trimming for alignment. */
  CHECK(munmap(r, 4 * PAGE) == 0, "munmap head");
  CHECK(munmap(r + size - 4 * PAGE, 4 * PAGE) == 0, "munmap tail");
  kept = (struct pattern){r + 4 * PAGE, size - 8 * PAGE};
  for (size_t i = 0; i < kept.size; ++i) CHECK(kept.p[i] == byte_at(i + 4 * PAGE), "middle changed at %zu", i);
  CHECK(munmap(r + 4 * PAGE, size - 8 * PAGE) == 0, "munmap the rest");
  CHECK(munmap(r, size) == 0, "munmap of what is gone already");
  CHECK(munmap(after, 1 << 20) == 0, "munmap after");

  /* madvise(MADV_DONTNEED): zeros in a private anonymous mapping, seen on
   * every node; a shared one keeps its contents, as with the kernel. */
  unsigned char* shared = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared != MAP_FAILED, "mmap shared for madvise");
  struct area kept_shared = {shared, 4 * PAGE, 0x66};
  run_on_node(far, fill, &kept_shared);
  CHECK(madvise(shared, 4 * PAGE, MADV_DONTNEED) == 0, "madvise shared: %s", strerror(errno));
  CHECK(run_on_node(far, check_filled, &kept_shared) == NULL, "MADV_DONTNEED lost a shared mapping's contents");
  CHECK(munmap(shared, 4 * PAGE) == 0, "munmap shared");
  unsigned char* z = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(z != MAP_FAILED, "mmap for madvise");
  struct area full = {z, 64 * PAGE, 0x77};
  run_on_node(far, fill, &full);
  CHECK(madvise(z + 8 * PAGE, 16 * PAGE, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
  struct area zeroed = {z + 8 * PAGE, 16 * PAGE, 0};
  CHECK(run_on_node(far, check_filled, &zeroed) == NULL, "MADV_DONTNEED pages not zero on node %d", far);
  struct area untouched = {z, 8 * PAGE, 0x77};
  CHECK(check_filled(&untouched) == NULL, "madvise touched pages outside its range");
  CHECK(madvise(z, 64 * PAGE, MADV_SEQUENTIAL) == 0, "madvise hint");
  /* mprotect: accepted (recorded, not enforced: docs/user-guide.md). */
  CHECK(mprotect(z, 64 * PAGE, PROT_READ) == 0, "mprotect PROT_READ: %s", strerror(errno));
  CHECK(mprotect(z, 64 * PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect back");
  /* MAP_FIXED inside a mapping: its pages replaced by zeros. */
  void* fixed = mmap(z + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(fixed == z + 4 * PAGE, "MAP_FIXED inside a mapping: %s", strerror(errno));
  struct area fixed_zero = {z + 4 * PAGE, 2 * PAGE, 0};
  CHECK(run_on_node(far, check_filled, &fixed_zero) == NULL, "MAP_FIXED pages not zero on node %d", far);
  CHECK(munmap(z, 64 * PAGE) == 0, "munmap z");
  printf("remap: mremap, munmap of parts, madvise and MAP_FIXED keep every node in step\n");
  return 0;
}

/* ---- errors ---- */


static void* errors_here(void* arg) {
  struct error_case* c = arg;
  char path[512];
  snprintf(path, sizeof path, "%s/errors-%d", c->dir, gpt_self_node());
  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
  CHECK(fd >= 0, "open %s", path);
  CHECK(write(fd, "hello", 5) == 5, "write");
  int wronly = open(path, O_WRONLY);
  int rdonly = open(path, O_RDONLY);
  int dir = open(c->dir, O_RDONLY);
  int pipe_fds[2];
  CHECK(pipe(pipe_fds) == 0, "pipe");
  const int rw = PROT_READ | PROT_WRITE;
  EXPECT_ERRNO(mmap(NULL, 0, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mmap(NULL, PAGE, rw, MAP_ANONYMOUS, -1, 0), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mmap(NULL, SIZE_MAX - 100, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), MAP_FAILED, ENOMEM);
  EXPECT_ERRNO(mmap(NULL, (size_t)1 << 60, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), MAP_FAILED, ENOMEM);
  EXPECT_ERRNO(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 987, 0), MAP_FAILED, EBADF);
  EXPECT_ERRNO(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wronly, 0), MAP_FAILED, EACCES);
  EXPECT_ERRNO(mmap(NULL, PAGE, rw, MAP_SHARED, rdonly, 0), MAP_FAILED, EACCES);
  /* Writable shared file mappings work (tests/programs/shared_file_maps.c). */
  EXPECT_ERRNO(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0), MAP_FAILED, ENODEV);
  EXPECT_ERRNO(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipe_fds[0], 0), MAP_FAILED, ENODEV);
  /* A private writable copy of a read-only file is fine, and holds the file. */
  char* copy = mmap(NULL, 3 * PAGE, rw, MAP_PRIVATE, rdonly, 0);
  CHECK(copy != MAP_FAILED, "private writable mapping of a read-only file: %s", strerror(errno));
  CHECK(memcmp(copy, "hello", 5) == 0 && copy[5] == 0 && copy[3 * PAGE - 1] == 0, "file mapping contents");
  copy[0] = 'j';
  char first;
  CHECK(pread(rdonly, &first, 1, 0) == 1 && first == 'h', "a private mapping's write reached the file");
  EXPECT_ERRNO(mmap(copy, PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), MAP_FAILED, EEXIST);
  EXPECT_ERRNO(mmap(copy + 1, PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(munmap(copy + 1, PAGE), -1, EINVAL);
  EXPECT_ERRNO(munmap(copy, 0), -1, EINVAL);
  EXPECT_ERRNO(mremap(copy + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mremap(copy, PAGE, 0, MREMAP_MAYMOVE), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mremap(copy, PAGE, 2 * PAGE, 0x100), MAP_FAILED, EINVAL);
  EXPECT_ERRNO(mremap(copy, PAGE, (size_t)1 << 62, MREMAP_MAYMOVE), MAP_FAILED, ENOMEM);
  EXPECT_ERRNO(munmap(copy, SIZE_MAX - PAGE), -1, EINVAL);
  EXPECT_ERRNO(mprotect(copy + 1, PAGE, PROT_READ), -1, EINVAL);
  EXPECT_ERRNO(mprotect(copy, PAGE, PROT_READ | PROT_EXEC), -1, EACCES); /* refused: documented */
  EXPECT_ERRNO(madvise(copy + 1, PAGE, MADV_DONTNEED), -1, EINVAL);
  CHECK(munmap(copy, 3 * PAGE) == 0, "munmap copy");
  /* Heap memory is not a mapping: MAP_FIXED over it, or mremap of it, fails. */
  char* heap = malloc(1 << 20);
  char* heap_page = (char*)(((uintptr_t)heap + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
  EXPECT_ERRNO(mmap(heap_page, PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), MAP_FAILED, ENOMEM);
  EXPECT_ERRNO(mremap(heap_page, PAGE, 2 * PAGE, MREMAP_MAYMOVE), MAP_FAILED, EFAULT);
  free(heap);
  errno = 0;
  EXPECT_ERRNO(sbrk(PAGE), (void*)-1, ENOMEM); /* refused: documented */
  CHECK(sbrk(0) != (void*)-1, "sbrk(0)");
  close(fd);
  close(wronly);
  close(rdonly);
  close(dir);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  unlink(path);
  return NULL;
}

static int errors(const char* dir) {
  struct error_case here = {dir, 0}, there = {dir, 0};
  errors_here(&here);
  run_on_node(last_node(), errors_here, &there);
  CHECK(here.failures == 0 && there.failures == 0, "%d failures on node 0, %d on node %d", here.failures,
        there.failures, last_node());
  printf("errors: every bad call fails with the kernel's errno, or gpthread's documented one\n");
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2, "usage: program_mmap mapreduce DIR | anon | remap | errors DIR");
  if (!strcmp(argv[1], "mapreduce") && argc == 3) return mapreduce(argv[2]);
  if (!strcmp(argv[1], "anon")) return anon();
  if (!strcmp(argv[1], "remap")) return remap();
  if (!strcmp(argv[1], "errors") && argc == 3) return errors(argv[2]);
  CHECK(0, "unknown mode %s", argv[1]);
  return 1;
}
