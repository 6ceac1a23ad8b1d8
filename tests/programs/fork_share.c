/* fork() with memory the program meant to share (docs/threads.md, "fork").
 * A child gets a private copy of the global space, MAP_SHARED mappings
 * included: not supported, but said on stderr (the cluster test,
 * tests/cluster/test_fork_share.cc, reads it). Modes:
 *   shared  two MAP_SHARED anonymous mappings of 2 pages (one made in main,
 *           one on the last node) and a private one; two forks, whose
 *           children write to them: the parent sees none of it. gpthread's
 *           line comes once, at the first fork. Prints both addresses.
 *   plain   a MAP_SHARED mapping unmapped again, a private one, malloc;
 *           a fork whose child exits and one whose child execs: nothing
 *           on stderr.
 *   pshared a process-shared mutex and semaphore in a MAP_SHARED mapping
 *           the last node made; the child locks, unlocks and posts twice:
 *           it says once that the mutex is its own copy. Prints the mutex's address. */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PAGE 4096

static void* map_shared(void* arg) {
  (void)arg;
  void* m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap MAP_SHARED on node %d: %s", gpt_self_node(), strerror(errno));
  return m;
}

static void wait_for(pid_t child) {
  int status;
  CHECK(waitpid(child, &status, 0) == child, "waitpid: %s", strerror(errno));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status %#x", status);
}

static int shared_mode(void) {
  unsigned char* here = map_shared(NULL);
  unsigned char* there = run_on_node(gpt_node_count() - 1, map_shared, NULL);
  unsigned char* own = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(own != MAP_FAILED, "mmap MAP_PRIVATE: %s", strerror(errno));
  for (int i = 1; i <= 2; ++i) {
    pid_t child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
      here[0] = there[PAGE] = own[0] = (unsigned char)i;
      _exit(0);
    }
    wait_for(child);
    /* What the user guide says: the child's writes were to its own copy. */
    CHECK(here[0] == 0 && there[PAGE] == 0 && own[0] == 0, "the parent saw a child's write");
  }
  printf("shared: 2 forks, each child's writes stayed its own\nmaps: %p %p\n", (void*)here, (void*)there);
  return 0;
}

static int plain_mode(void) {
  void* gone = map_shared(NULL);
  CHECK(munmap(gone, 2 * PAGE) == 0, "munmap: %s", strerror(errno));
  unsigned char* own = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(own != MAP_FAILED, "mmap MAP_PRIVATE: %s", strerror(errno));
  char* heap = malloc(100);
  CHECK(heap != NULL, "malloc");
  pid_t child = fork();
  CHECK(child >= 0, "fork: %s", strerror(errno));
  if (child == 0) {
    own[0] = 1;
    heap[0] = 1;
    _exit(0);
  }
  wait_for(child);
  child = fork();
  CHECK(child >= 0, "fork: %s", strerror(errno));
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", "exit 0", (char*)NULL);
    _exit(127);
  }
  wait_for(child);
  free(heap);
  printf("plain: 2 forks without a MAP_SHARED mapping\n");
  return 0;
}

struct shared_objects {
  pthread_mutex_t mutex;
  sem_t sem;
};

static int pshared_mode(void) {
  /* Mapped on the last node: the origin, which forks, learns of it from
   * there alone. */
  struct shared_objects* o = run_on_node(gpt_node_count() - 1, map_shared, NULL);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  CHECK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) == 0, "setpshared");
  CHECK(pthread_mutex_init(&o->mutex, &ma) == 0, "pthread_mutex_init");
  CHECK(sem_init(&o->sem, 1, 0) == 0, "sem_init: %s", strerror(errno));
  pid_t child = fork();
  CHECK(child >= 0, "fork: %s", strerror(errno));
  if (child == 0) {
    if (pthread_mutex_lock(&o->mutex) != 0 || pthread_mutex_unlock(&o->mutex) != 0) _exit(2);
    if (sem_post(&o->sem) != 0 || sem_post(&o->sem) != 0) _exit(3);
    _exit(0);
  }
  wait_for(child);
  /* The posts were to the child's copy: nothing to take here. */
  CHECK(sem_trywait(&o->sem) == -1 && errno == EAGAIN, "the parent saw the child's post");
  printf("pshared: the child's posts stayed its own\nmutex: %p\n", (void*)&o->mutex);
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc == 2, "usage: fork_share shared|plain|pshared");
  if (strcmp(argv[1], "shared") == 0) return shared_mode();
  if (strcmp(argv[1], "plain") == 0) return plain_mode();
  if (strcmp(argv[1], "pshared") == 0) return pshared_mode();
  CHECK(0, "unknown mode %s", argv[1]);
}
