/* pthread_create, pthread_join, pthread_detach, pthread_exit, pthread_self,
 * pthread_equal and pthread_attr_*. */
#define _GNU_SOURCE /* the _np calls and cpu_set_t */
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

static void attributes(void) {
  pthread_attr_t a;
  int v = -1;
  size_t size = 0;
  struct sched_param sp = {.sched_priority = -1};
  EXPECT(pthread_attr_init(&a), 0);
  /* No stack given yet: answered (as glibc does), with no address. */
  void* no_stack = &a;
  EXPECT(pthread_attr_getstack(&a, &no_stack, &size), 0);
  EXPECT_TRUE(no_stack == NULL);
  EXPECT(pthread_attr_getdetachstate(&a, &v), 0);
  EXPECT(v, PTHREAD_CREATE_JOINABLE);
  EXPECT(pthread_attr_setdetachstate(&a, 12345), EINVAL);
  EXPECT(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
  EXPECT(pthread_attr_getdetachstate(&a, &v), 0);
  EXPECT(v, PTHREAD_CREATE_DETACHED);
  EXPECT(pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1), EINVAL);
  EXPECT(pthread_attr_setstacksize(&a, 1 << 20), 0);
  EXPECT(pthread_attr_getstacksize(&a, &size), 0);
  EXPECT(size, 1 << 20);
  EXPECT(pthread_attr_setguardsize(&a, 8192), 0);
  EXPECT(pthread_attr_getguardsize(&a, &size), 0);
  EXPECT(size, 8192);
  EXPECT(pthread_attr_getscope(&a, &v), 0);
  EXPECT(v, PTHREAD_SCOPE_SYSTEM);
  EXPECT(pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM), 0);
  EXPECT(pthread_attr_setscope(&a, PTHREAD_SCOPE_PROCESS), ENOTSUP);
  EXPECT(pthread_attr_getinheritsched(&a, &v), 0);
  EXPECT(v, PTHREAD_INHERIT_SCHED);
  EXPECT(pthread_attr_setinheritsched(&a, 12345), EINVAL);
  EXPECT(pthread_attr_getschedpolicy(&a, &v), 0);
  EXPECT(v, SCHED_OTHER);
  EXPECT(pthread_attr_getschedparam(&a, &sp), 0);
  EXPECT(sp.sched_priority, 0);
  EXPECT(pthread_attr_destroy(&a), 0);
}

static void* give_back(void* arg) { return arg; }

static void* exit_with(void* arg) {
  pthread_exit((char*)arg + 1);
  return NULL;
}

static void* join_self(void* arg) {
  (void)arg;
  return (void*)(long)pthread_join(pthread_self(), NULL);
}

static void create_join(void) {
  pthread_t t;
  void* r = NULL;
  int x;
  EXPECT(conf_start_on(&t, conf_other_node(), give_back, &x), 0);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT(r == &x, 1);
  EXPECT(conf_start_on(&t, conf_other_node(), exit_with, &x), 0);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT(r == (char*)&x + 1, 1);
  EXPECT(pthread_create(&t, NULL, give_back, NULL), 0);
  EXPECT(pthread_join(t, NULL), 0);
  EXPECT(conf_start_on(&t, conf_other_node(), join_self, NULL), 0);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, EDEADLK);
}

static void self_equal(void) {
  pthread_t me = pthread_self();
  EXPECT(pthread_equal(me, pthread_self()) != 0, 1);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), give_back, NULL), 0);
  EXPECT(pthread_equal(me, t), 0);
  EXPECT(pthread_join(t, NULL), 0);
}

struct flag {
  pthread_mutex_t m;
  pthread_cond_t c;
  int done;
};

static void* set_flag(void* arg) {
  struct flag* f = arg;
  pthread_mutex_lock(&f->m);
  f->done = 1;
  pthread_cond_signal(&f->c);
  pthread_mutex_unlock(&f->m);
  return NULL;
}

static void detached(void) {
  struct flag* f = calloc(1, sizeof *f);
  pthread_mutex_init(&f->m, NULL);
  pthread_cond_init(&f->c, NULL);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (gpt_node_count() > 1) gpt_attr_setnode(&a, conf_other_node());
  pthread_t t;
  EXPECT(pthread_create(&t, &a, set_flag, f), 0);
  pthread_attr_destroy(&a);
  pthread_mutex_lock(&f->m);
  while (!f->done) pthread_cond_wait(&f->c, &f->m);
  pthread_mutex_unlock(&f->m);
  f->done = 0;
  EXPECT(conf_start_on(&t, conf_other_node(), set_flag, f), 0);
  EXPECT(pthread_detach(t), 0);
  pthread_mutex_lock(&f->m);
  while (!f->done) pthread_cond_wait(&f->c, &f->m);
  pthread_mutex_unlock(&f->m);
  /* Leave the detached threads time to end before their memory goes. */
  struct timespec pause = {0, 50 * 1000000L};
  nanosleep(&pause, NULL);
  pthread_mutex_destroy(&f->m);
  pthread_cond_destroy(&f->c);
  free(f);
}

static void* stack_user(void* arg) {
  volatile char big[256 * 1024];
  for (size_t i = 0; i < sizeof big; i += 4096) big[i] = (char)i;
  return (void*)(long)(big[4096] + (arg != NULL));
}

static void with_attributes(void) {
  pthread_attr_t a;
  size_t size = 0;
  pthread_attr_init(&a);
  EXPECT(pthread_attr_setstacksize(&a, 1 << 20), 0);
  if (gpt_node_count() > 1) gpt_attr_setnode(&a, conf_other_node());
  pthread_t t;
  void* r = NULL;
  EXPECT(pthread_create(&t, &a, stack_user, &size), 0);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 1);
  pthread_attr_destroy(&a);
}

static void* where_am_i(void* arg) {
  char probe;
  const char* stack = arg;
  long on_it = &probe > stack && &probe < stack + 256 * 1024;
  return (void*)(on_it | (long)gpt_self_node() << 1);
}

static char g_static_stack[256 * 1024] __attribute__((aligned(4096)));

/* A stack the program gives: malloc'd, global or mmap'd (the program's
 * mappings are global memory too): reachable from every node, the thread
 * goes where it is placed. */
static void given_stacks(void) {
  void* heap = NULL;
  EXPECT(posix_memalign(&heap, 4096, 256 * 1024), 0);
  void* mapped = mmap(NULL, 256 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_TRUE(mapped != MAP_FAILED);
  char* stacks[3] = {heap, g_static_stack, mapped};
  for (int i = 0; i < 3; ++i) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    EXPECT(pthread_attr_setstack(&a, stacks[i], 256 * 1024), 0);
    void* addr = NULL;
    size_t size = 0;
    EXPECT(pthread_attr_getstack(&a, &addr, &size), 0);
    EXPECT_TRUE(addr == stacks[i] && size == 256 * 1024);
    if (gpt_node_count() > 1) gpt_attr_setnode(&a, conf_other_node());
    pthread_t t;
    void* r = NULL;
    EXPECT(pthread_create(&t, &a, where_am_i, stacks[i]), 0);
    EXPECT(pthread_join(t, &r), 0);
    EXPECT((long)r & 1, 1); /* it ran on the given stack */
    EXPECT((long)r >> 1, conf_other_node());
    pthread_attr_destroy(&a);
  }
  munmap(mapped, 256 * 1024);
  free(heap);
}

/* pthread_kill right after pthread_create: the thread may not run yet, but
 * it exists, so the signal is delivered (when it starts), not lost. */
static __thread volatile sig_atomic_t t_got_signal;
static void note_signal(int sig) { t_got_signal = sig; }

static void* wait_for_signal(void* arg) {
  (void)arg;
  for (int i = 0; i < 5000 && !t_got_signal; ++i) usleep(1000);
  return (void*)(long)t_got_signal;
}

static void kill_right_after_create(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = note_signal;
  EXPECT(sigaction(SIGUSR2, &sa, NULL), 0);
  int nodes[2] = {gpt_self_node(), conf_other_node()};
  for (int i = 0; i < 2; ++i) {
    pthread_t t;
    EXPECT(conf_start_on(&t, nodes[i], wait_for_signal, NULL), 0);
    EXPECT(pthread_kill(t, SIGUSR2), 0);
    void* r = NULL;
    EXPECT(pthread_join(t, &r), 0);
    EXPECT((long)r, SIGUSR2);
  }
  EXPECT(pthread_kill(pthread_self(), 0), 0);
  EXPECT(pthread_kill(pthread_self(), 12345), EINVAL);
}

/* The thread's CPU affinity, and the process's through sched_*affinity in
 * the same program (with musl both live in one libc object: linking this
 * program statically is the check that they coexist with gpthread's). */
static void affinity(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_TRUE(CPU_COUNT(&set) >= 1);
  CPU_ZERO(&set);
  EXPECT(pthread_getaffinity_np(pthread_self(), sizeof set, &set), 0);
  EXPECT_TRUE(CPU_COUNT(&set) >= 1);
  EXPECT(pthread_setaffinity_np(pthread_self(), sizeof set, &set), 0);
}

CONF_MAIN("thread", {"attributes", attributes}, {"create_join", create_join}, {"self_equal", self_equal},
          {"detached", detached}, {"with_attributes", with_attributes}, {"given_stacks", given_stacks},
          {"kill_right_after_create", kill_right_after_create}, {"affinity", affinity})
