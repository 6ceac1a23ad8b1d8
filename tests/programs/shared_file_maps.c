/* Writable MAP_SHARED file mappings write through to the file, with threads
 * on every node. Modes (argv[1], then a scratch directory); each prints one
 * line and exits 0, or says what failed and exits 1:
 *   msync      2 threads per node write disjoint slices of a mapping of a
 *              file (whose descriptor main closed at once); after the joins
 *              main msyncs and every byte is in the file (pread); a thread
 *              on the last node writes and msyncs itself (MS_ASYNC): its
 *              bytes are in the file when it returns; a write past the end
 *              of the file, within the last page, is not appended; munmap
 *              without msync writes back.
 *   remap      mremap grows a mapping of part of a file, in place and
 *              moved: the grown parts show the file, writes reach it;
 *              madvise(MADV_DONTNEED) keeps the contents; shrinking writes
 *              back what it drops; a thread on the last node writes the
 *              rest and unmaps it.
 *   exit       the threads write their slices, main returns without munmap
 *              or msync: the file holds them (the test reads it afterwards).
 *   exit_remote the same, then a thread on the last node rewrites the first
 *              page and calls exit(0) (the test reads the file).
 *   fork       a child of fork() writes to the mapping and exits: the file
 *              is unchanged; a second child writes and msyncs: it changed.
 *   errors     an O_RDONLY descriptor with PROT_WRITE, MAP_SHARED: EACCES;
 *              msync's EINVAL and ENOMEM, in main and on the last node. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PAGE 4096
/* 40 pages and an odd tail: the last page is partly past the end. Known
 * to the cluster test (tests/cluster/test_shared_file_maps.cc). */
#define FILE_SIZE (40 * PAGE + 100)

static unsigned char byte_at(size_t i, int round) { return (unsigned char)(i * 131 + i / PAGE * 7 + round); }

static int last_node(void) { return gpt_node_count() - 1; }

static char g_path[512];

/* A file of FILE_SIZE zero bytes, mapped writable and shared; the
 * program's descriptor is closed at once, as the kernel allows. */
static unsigned char* map_new_file(const char* dir, const char* name) {
  snprintf(g_path, sizeof g_path, "%s/%s", dir, name);
  int fd = open(g_path, O_CREAT | O_TRUNC | O_RDWR, 0600);
  CHECK(fd >= 0, "open %s: %s", g_path, strerror(errno));
  CHECK(ftruncate(fd, FILE_SIZE) == 0, "ftruncate");
  unsigned char* m = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap of %s: %s", g_path, strerror(errno));
  close(fd);
  return m;
}

/* Every byte of the file [from, to) is byte_at(i, round), read with pread. */
static void check_file(size_t from, size_t to, int round, const char* what) {
  int fd = open(g_path, O_RDONLY);
  CHECK(fd >= 0, "open %s", g_path);
  static unsigned char buffer[FILE_SIZE];
  CHECK(pread(fd, buffer, to - from, (off_t)from) == (ssize_t)(to - from), "pread %s", what);
  for (size_t i = from; i < to; ++i)
    CHECK(buffer[i - from] == byte_at(i, round), "%s: byte %zu of the file is %d, expected %d", what, i,
          buffer[i - from], byte_at(i, round));
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == FILE_SIZE, "%s: the file is %lld bytes, not %d", what,
        (long long)st.st_size, FILE_SIZE);
  close(fd);
}

struct slice {
  unsigned char* map;
  size_t from, to;
  int round;
};

static void* write_slice(void* arg) {
  struct slice* s = arg;
  for (size_t i = s->from; i < s->to; ++i) s->map[i] = byte_at(i, s->round);
  return NULL;
}

/* 2 threads per node, each on its node, write disjoint slices of [0, FILE_SIZE). */
static int write_everywhere(unsigned char* map, int round) {
  const int workers = 2 * gpt_node_count();
  pthread_t threads[64];
  struct slice slices[64];
  for (int w = 0; w < workers; ++w) {
    slices[w] = (struct slice){map, (size_t)FILE_SIZE * w / workers, (size_t)FILE_SIZE * (w + 1) / workers, round};
    pthread_attr_t a;
    pthread_attr_init(&a);
    gpt_attr_setnode(&a, w % gpt_node_count());
    CHECK(pthread_create(&threads[w], &a, write_slice, &slices[w]) == 0, "pthread_create");
    pthread_attr_destroy(&a);
  }
  for (int w = 0; w < workers; ++w) pthread_join(threads[w], NULL);
  return workers;
}

static void* write_and_msync(void* arg) {
  struct slice* s = arg;
  write_slice(s);
  CHECK(msync(s->map, PAGE, MS_ASYNC) == 0, "msync on node %d: %s", gpt_self_node(), strerror(errno));
  return NULL;
}

static int msync_mode(const char* dir) {
  unsigned char* map = map_new_file(dir, "msync");
  const int workers = write_everywhere(map, 1);
  CHECK(msync(map, FILE_SIZE, MS_SYNC) == 0, "msync: %s", strerror(errno));
  check_file(0, FILE_SIZE, 1, "after msync");
  /* The last node's own msync: its writes, in the file when it returns. */
  struct slice first = {map, 0, PAGE, 2};
  run_on_node(last_node(), write_and_msync, &first);
  check_file(0, PAGE, 2, "after the last node's msync");
  check_file(PAGE, FILE_SIZE, 1, "the rest after the last node's msync");
  /* Past the end of the file, in the last page: dropped. */
  map[FILE_SIZE + 10] = 0xee;
  map[FILE_SIZE - 1] = byte_at(FILE_SIZE - 1, 1);
  CHECK(msync(map + 40 * PAGE, PAGE, MS_SYNC | MS_INVALIDATE) == 0, "msync of the last page: %s", strerror(errno));
  check_file(PAGE, FILE_SIZE, 1, "after a write past the end"); /* also: still FILE_SIZE bytes */
  /* munmap without msync. */
  struct slice again = {map, 0, FILE_SIZE, 3};
  run_on_node(last_node(), write_slice, &again);
  CHECK(munmap(map, FILE_SIZE) == 0, "munmap");
  check_file(0, FILE_SIZE, 3, "after munmap");
  unlink(g_path);
  printf("msync: %d workers on %d nodes wrote through a shared mapping\n", workers, gpt_node_count());
  return 0;
}

/* Writes the slice (at file offset 8 pages) and unmaps it, on this node. */
static void* write_and_unmap(void* arg) {
  struct slice* s = arg;
  for (size_t i = s->from; i < s->to; ++i) s->map[i] = byte_at(8 * PAGE + i, s->round);
  CHECK(munmap(s->map + s->from, s->to - s->from) == 0, "munmap on node %d: %s", gpt_self_node(), strerror(errno));
  return NULL;
}

static int remap_mode(const char* dir) {
  unsigned char* whole = map_new_file(dir, "remap");
  for (size_t i = 0; i < FILE_SIZE; ++i) whole[i] = byte_at(i, 4);
  CHECK(munmap(whole, FILE_SIZE) == 0, "munmap");
  int fd = open(g_path, O_RDWR);
  CHECK(fd >= 0, "open");
  /* Pages [8, 10) of the file, grown in place to [8, 20), then (past its
   * block, with another mapping after it) moved and grown to [8, 28): the
   * grown parts show the file. */
  unsigned char* map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8 * PAGE);
  CHECK(map != MAP_FAILED, "mmap at an offset: %s", strerror(errno));
  close(fd);
  unsigned char* blocker = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(blocker != MAP_FAILED, "mmap");
  for (size_t i = 0; i < 2 * PAGE; ++i) map[i] = byte_at(8 * PAGE + i, 5);
  CHECK(mremap(map, 2 * PAGE, 12 * PAGE, 0) == map, "mremap in place: %s", strerror(errno));
  for (size_t i = 2 * PAGE; i < 12 * PAGE; ++i)
    CHECK(map[i] == byte_at(8 * PAGE + i, 4), "mapping grown in place: byte %zu", i);
  map = mremap(map, 12 * PAGE, 20 * PAGE, MREMAP_MAYMOVE);
  CHECK(map != MAP_FAILED, "mremap: %s", strerror(errno));
  for (size_t i = 0; i < 20 * PAGE; ++i)
    CHECK(map[i] == byte_at(8 * PAGE + i, i < 2 * PAGE ? 5 : 4), "moved mapping: byte %zu", i);
  for (size_t i = 0; i < 20 * PAGE; ++i) map[i] = byte_at(8 * PAGE + i, 5);
  CHECK(madvise(map, 20 * PAGE, MADV_DONTNEED) == 0, "madvise");
  CHECK(map[5] == byte_at(8 * PAGE + 5, 5), "MADV_DONTNEED dropped a shared file mapping's contents");
  /* Shrinking writes back what it drops; the rest goes with munmap, from
   * a thread on the last node. */
  CHECK(mremap(map, 20 * PAGE, 4 * PAGE, 0) == map, "mremap shrink");
  check_file(12 * PAGE, 28 * PAGE, 5, "after shrinking");
  struct slice rest = {map, 0, 4 * PAGE, 6};
  run_on_node(last_node(), write_and_unmap, &rest);
  check_file(8 * PAGE, 12 * PAGE, 6, "after munmap of the moved mapping");
  check_file(0, 8 * PAGE, 4, "before the mapping");
  check_file(28 * PAGE, FILE_SIZE, 4, "after the mapping");
  munmap(blocker, PAGE);
  unlink(g_path);
  printf("remap: mremap and madvise keep a shared file mapping writing to its file\n");
  return 0;
}

static int exit_mode(const char* dir) {
  unsigned char* map = map_new_file(dir, "exit");
  const int workers = write_everywhere(map, 7);
  printf("exit: %d workers wrote %s\n", workers, g_path);
  fflush(stdout);
  return 0; /* no munmap, no msync */
}

static void* rewrite_and_exit(void* arg) {
  write_slice(arg);
  exit(0);
}

static int exit_remote_mode(const char* dir) {
  unsigned char* map = map_new_file(dir, "exit_remote");
  const int workers = write_everywhere(map, 7);
  printf("exit_remote: %d workers wrote %s\n", workers, g_path);
  fflush(stdout);
  struct slice first = {map, 0, PAGE, 8};
  run_on_node(last_node(), rewrite_and_exit, &first);
  CHECK(0, "exit on node %d came back", last_node());
  return 1;
}

static int fork_mode(const char* dir) {
  unsigned char* map = map_new_file(dir, "fork");
  write_everywhere(map, 9);
  CHECK(msync(map, FILE_SIZE, MS_SYNC) == 0, "msync");
  for (int syncs = 0; syncs < 2; ++syncs) {
    pid_t child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
      for (size_t i = 0; i < PAGE; ++i) map[i] = byte_at(i, 10);
      if (syncs && msync(map, PAGE, MS_SYNC) != 0) _exit(2);
      exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
    check_file(0, PAGE, syncs ? 10 : 9, syncs ? "after a child's msync" : "after a child's exit");
  }
  check_file(PAGE, FILE_SIZE, 9, "the rest after the children");
  unlink(g_path);
  printf("fork: a child's copy writes back only when it msyncs\n");
  return 0;
}


static void* errors_here(void* arg) {
  struct error_case* c = arg;
  char path[512];
  snprintf(path, sizeof path, "%s/errors-%d", c->dir, gpt_self_node());
  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
  CHECK(fd >= 0 && ftruncate(fd, 3 * PAGE) == 0, "open %s", path);
  int rdonly = open(path, O_RDONLY);
  const int rw = PROT_READ | PROT_WRITE;
  EXPECT_ERRNO(mmap(NULL, PAGE, rw, MAP_SHARED, rdonly, 0), MAP_FAILED, EACCES);
  EXPECT_ERRNO(mmap(NULL, PAGE, rw, MAP_SHARED_VALIDATE, rdonly, 0), MAP_FAILED, EACCES);
  unsigned char* map = mmap(NULL, 3 * PAGE, rw, MAP_SHARED, fd, 0);
  CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
  EXPECT_ERRNO(msync(map + 1, PAGE, MS_SYNC), -1, EINVAL);
  EXPECT_ERRNO(msync(map, PAGE, MS_SYNC | MS_ASYNC), -1, EINVAL);
  EXPECT_ERRNO(msync(map, PAGE, 0x100), -1, EINVAL);
  EXPECT_ERRNO(msync(map, SIZE_MAX - PAGE, MS_SYNC), -1, ENOMEM);
  EXPECT_ERRNO(msync(map, 4 * PAGE, MS_SYNC), -1, ENOMEM); /* past its end */
  CHECK(msync(map, 0, MS_SYNC) == 0 && msync(map, 3 * PAGE, 0) == 0, "msync: %s", strerror(errno));
  CHECK(munmap(map, PAGE) == 0, "munmap of the head");
  EXPECT_ERRNO(msync(map, PAGE, MS_SYNC), -1, ENOMEM);
  CHECK(msync(map + PAGE, 2 * PAGE, MS_ASYNC) == 0, "msync of the rest: %s", strerror(errno));
  CHECK(munmap(map + PAGE, 2 * PAGE) == 0, "munmap of the rest");
  EXPECT_ERRNO(msync(map + PAGE, PAGE, MS_SYNC), -1, ENOMEM);
  /* Memory outside the global space: the kernel's answers. */
  unsigned char* gone = (unsigned char*)(uintptr_t)0x10000;
  EXPECT_ERRNO(msync(gone, PAGE, MS_SYNC), -1, ENOMEM);
  close(fd);
  close(rdonly);
  unlink(path);
  return NULL;
}

static int errors(const char* dir) {
  struct error_case here = {dir, 0}, there = {dir, 0};
  errors_here(&here);
  run_on_node(last_node(), errors_here, &there);
  CHECK(here.failures == 0 && there.failures == 0, "%d failures on node 0, %d on node %d", here.failures,
        there.failures, last_node());
  printf("errors: msync and mmap fail with the kernel's errno\n");
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc == 3, "usage: shared_file_maps msync|remap|exit|exit_remote|fork|errors DIR");
  const char* dir = argv[2];
  if (!strcmp(argv[1], "msync")) return msync_mode(dir);
  if (!strcmp(argv[1], "remap")) return remap_mode(dir);
  if (!strcmp(argv[1], "exit")) return exit_mode(dir);
  if (!strcmp(argv[1], "exit_remote")) return exit_remote_mode(dir);
  if (!strcmp(argv[1], "fork")) return fork_mode(dir);
  if (!strcmp(argv[1], "errors")) return errors(dir);
  CHECK(0, "unknown mode %s", argv[1]);
  return 1;
}
