/* The pthread calls that take a thread handle, and the ones gpthread
 * refuses: names, scheduling, affinity, CPU clocks, attributes, tryjoin and
 * timedjoin, a stack given by the program, the creator's signal mask, and
 * the POSIX errors for robust and priority-protocol mutexes and explicit
 * scheduling. Works on any number of nodes (and without gpt-launch). */
#define _GNU_SOURCE
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static sem_t g_release; /* shared memory needs synchronisation, not polling */

static void* self_checks(void* arg) {
  (void)arg;
  pthread_t me = pthread_self();
  char name[16];
  CHECK(pthread_setname_np(me, "gpt-worker") == 0, "setname self");
  CHECK(pthread_getname_np(me, name, sizeof name) == 0 && strcmp(name, "gpt-worker") == 0, "getname self: %s", name);
  int policy;
  struct sched_param sp;
  CHECK(pthread_getschedparam(me, &policy, &sp) == 0 && policy == SCHED_OTHER, "getschedparam");
  cpu_set_t set;
  CHECK(pthread_getaffinity_np(me, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1, "getaffinity");
  CHECK(pthread_setaffinity_np(me, sizeof set, &set) == 0, "setaffinity");
  clockid_t clock;
  struct timespec cpu;
  CHECK(pthread_getcpuclockid(me, &clock) == 0 && clock_gettime(clock, &cpu) == 0, "cpu clock");
  pthread_attr_t a;
  size_t bytes = 0;
  void* stack = NULL;
  CHECK(pthread_getattr_np(me, &a) == 0, "getattr_np");
  if (gpt_node_count() > 1 || getenv("GPT_CHANNEL_FD")) {
    CHECK(pthread_attr_getstack(&a, &stack, &bytes) == 0 && bytes >= 64 * 1024 && stack, "stack %p %zu", stack, bytes);
    CHECK((char*)&a > (char*)stack && (char*)&a < (char*)stack + bytes, "a local is not on the stack getattr_np gave");
  }
  pthread_attr_destroy(&a);
  /* The creator's mask: main blocked SIGUSR1 before creating us. */
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "the creator's signal mask was not inherited");
  sem_wait(&g_release);
  return (void*)7L;
}

static void* on_given_stack(void* arg) {
  char probe;
  return (void*)(long)((char*)&probe > (char*)arg && (char*)&probe < (char*)arg + 256 * 1024);
}

int main(void) {
  int nodes = gpt_node_count();
  sem_init(&g_release, 0, 0);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);

  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, nodes - 1);
  pthread_t t;
  void* r;
  CHECK(pthread_create(&t, &a, self_checks, NULL) == 0, "create");
  CHECK(pthread_tryjoin_np(t, &r) == EBUSY, "tryjoin of a running thread");
  struct timespec soon;
  clock_gettime(CLOCK_REALTIME, &soon);
  soon.tv_nsec += 20 * 1000000;
  if (soon.tv_nsec >= 1000000000) soon.tv_sec++, soon.tv_nsec -= 1000000000;
  CHECK(pthread_timedjoin_np(t, &r, &soon) == ETIMEDOUT, "timedjoin of a running thread");
  if (nodes > 1) {
    char name[16];
    CHECK(pthread_getname_np(t, name, sizeof name) == ENOTSUP, "getname of a thread on another node");
  }
  sem_post(&g_release);
  struct timespec later;
  clock_gettime(CLOCK_REALTIME, &later);
  later.tv_sec += 20;
  int err;
  while ((err = pthread_timedjoin_np(t, &r, &later)) == EBUSY) {
  }
  CHECK(err == 0 && (long)r == 7, "timedjoin: %d", err);

  /* A stack the program gives: global memory goes anywhere; memory of
   * this node only (mmap) keeps its thread on this node. */
  void* stack = malloc(256 * 1024);
  pthread_attr_t s;
  pthread_attr_init(&s);
  pthread_attr_setstack(&s, stack, 256 * 1024);
  CHECK(pthread_create(&t, &s, on_given_stack, stack) == 0 && pthread_join(t, &r) == 0 && r == (void*)1,
        "a thread on its given stack");
  if (getenv("GPT_CHANNEL_FD")) {
    void* private_stack = mmap(NULL, 256 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_attr_setstack(&s, private_stack, 256 * 1024);
    CHECK(pthread_create(&t, &s, on_given_stack, private_stack) == 0 && pthread_join(t, &r) == 0 && r == (void*)1,
          "a thread on a stack of this node");
    munmap(private_stack, 256 * 1024);
    pthread_attr_t f;
    pthread_attr_init(&f);
    pthread_attr_setinheritsched(&f, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&f, SCHED_FIFO);
    struct sched_param fifo = {.sched_priority = sched_get_priority_min(SCHED_FIFO)};
    pthread_attr_setschedparam(&f, &fifo);
    /* As the kernel allows it: root here, else EPERM without RLIMIT_RTPRIO. */
    int created = pthread_create(&t, &f, on_given_stack, NULL);
    CHECK(created == 0 || created == EPERM, "explicit SCHED_FIFO: %d", created);
    if (created == 0) pthread_join(t, NULL);
    pthread_mutexattr_t m;
    pthread_mutexattr_init(&m);
    CHECK(pthread_mutexattr_setrobust(&m, PTHREAD_MUTEX_ROBUST) == ENOTSUP, "robust mutexes");
    CHECK(pthread_mutexattr_setrobust(&m, PTHREAD_MUTEX_STALLED) == 0, "stalled mutexes");
    CHECK(pthread_mutexattr_setprotocol(&m, PTHREAD_PRIO_INHERIT) == 0, "priority inheritance");
    CHECK(pthread_mutexattr_setprotocol(&m, PTHREAD_PRIO_NONE) == 0, "no protocol");
    pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER;
    CHECK(pthread_mutex_consistent(&mx) == EINVAL, "consistent");
  }
  printf("thread calls: ok on %d nodes\n", nodes);
  return 0;
}
