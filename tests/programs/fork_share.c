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
 *   pshared a process-shared mutex, condition, rwlock, barrier and
 *           semaphore in a MAP_SHARED mapping the last node made; five
 *           children each use one (the last posts twice): each says once
 *           that its object is its own copy. Prints their addresses. */
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
  pthread_cond_t cond;
  pthread_rwlock_t rwlock;
  pthread_barrier_t barrier;
  sem_t sem;
};

/* One call on one process-shared object, in a fork child. */
static int use_in_child(struct shared_objects* o, int which) {
  switch (which) {
    case 0: return pthread_mutex_lock(&o->mutex) == 0 && pthread_mutex_unlock(&o->mutex) == 0;
    case 1: return pthread_cond_signal(&o->cond) == 0;
    case 2: return pthread_rwlock_rdlock(&o->rwlock) == 0 && pthread_rwlock_unlock(&o->rwlock) == 0;
    case 3: return pthread_barrier_wait(&o->barrier) == PTHREAD_BARRIER_SERIAL_THREAD;
    default: return sem_post(&o->sem) == 0 && sem_post(&o->sem) == 0;
  }
}

static int pshared_mode(void) {
  /* Mapped on the last node: the origin, which forks, learns of it from
   * there alone. */
  struct shared_objects* o = run_on_node(gpt_node_count() - 1, map_shared, NULL);
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  pthread_rwlockattr_t ra;
  pthread_barrierattr_t ba;
  CHECK(pthread_mutexattr_init(&ma) == 0 && pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutex_init(&o->mutex, &ma) == 0,
        "a process-shared mutex");
  CHECK(pthread_condattr_init(&ca) == 0 && pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_cond_init(&o->cond, &ca) == 0,
        "a process-shared condition");
  CHECK(pthread_rwlockattr_init(&ra) == 0 && pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_rwlock_init(&o->rwlock, &ra) == 0,
        "a process-shared rwlock");
  CHECK(pthread_barrierattr_init(&ba) == 0 &&
            pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_barrier_init(&o->barrier, &ba, 1) == 0,
        "a process-shared barrier");
  CHECK(sem_init(&o->sem, 1, 0) == 0, "sem_init: %s", strerror(errno));
  for (int which = 0; which < 5; ++which) {
    pid_t child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) _exit(use_in_child(o, which) ? 0 : 2);
    wait_for(child);
  }
  /* The posts were to the child's copy: nothing to take here. */
  CHECK(sem_trywait(&o->sem) == -1 && errno == EAGAIN, "the parent saw the child's post");
  printf("pshared: 5 children used their copies\nobjects: %p %p %p %p %p\n", (void*)&o->mutex,
         (void*)&o->cond, (void*)&o->rwlock, (void*)&o->barrier, (void*)&o->sem);
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc == 2, "usage: fork_share shared|plain|pshared");
  if (strcmp(argv[1], "shared") == 0) return shared_mode();
  if (strcmp(argv[1], "plain") == 0) return plain_mode();
  if (strcmp(argv[1], "pshared") == 0) return pshared_mode();
  CHECK(0, "unknown mode %s", argv[1]);
}
