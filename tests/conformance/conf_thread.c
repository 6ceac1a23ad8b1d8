/* pthread_create, pthread_join, pthread_detach, pthread_exit, pthread_self,
 * pthread_equal and pthread_attr_*. */
#define _GNU_SOURCE /* the _np calls and cpu_set_t */
#include <limits.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

/* The smallest stack POSIX lets a program give (glibc's PTHREAD_STACK_MIN,
 * 16 KiB): a thread runs on it, locks a mutex another node uses, waits on a
 * condition and a semaphore across nodes, and leaves most of it unused. */
enum { kSmallStack = 16 * 1024 };

struct small_stack_run {
  pthread_mutex_t m;
  pthread_cond_t c;
  sem_t done;
  int count;
  const char* stack;
};

static void* small_stack_user(void* arg) {
  struct small_stack_run* s = arg;
  char probe;
  long on_it = &probe > s->stack && &probe < s->stack + kSmallStack;
  for (int i = 0; i < 50; ++i) {
    pthread_mutex_lock(&s->m);
    ++s->count;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
  }
  pthread_mutex_lock(&s->m);
  while (s->count < 100) pthread_cond_wait(&s->c, &s->m);
  pthread_mutex_unlock(&s->m);
  sem_wait(&s->done);
  return (void*)on_it;
}

static void* small_stack_partner(void* arg) {
  struct small_stack_run* s = arg;
  for (int i = 0; i < 50; ++i) {
    pthread_mutex_lock(&s->m);
    ++s->count;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
  }
  sem_post(&s->done);
  return NULL;
}

static void small_given_stack(void) {
  unsigned char* stack = NULL;
  EXPECT(posix_memalign((void**)&stack, 4096, kSmallStack), 0);
  memset(stack, 0xab, kSmallStack);
  struct small_stack_run* s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->m, NULL);
  pthread_cond_init(&s->c, NULL);
  sem_init(&s->done, 0, 0);
  s->stack = (const char*)stack;
  pthread_attr_t a;
  pthread_attr_init(&a);
  EXPECT(pthread_attr_setstack(&a, stack, kSmallStack), 0);
  if (gpt_node_count() > 1) gpt_attr_setnode(&a, conf_other_node());
  pthread_t t, partner;
  EXPECT(pthread_create(&t, &a, small_stack_user, s), 0);
  EXPECT(pthread_create(&partner, NULL, small_stack_partner, s), 0);
  void* r = NULL;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT(pthread_join(partner, NULL), 0);
  EXPECT((long)r, 1); /* it ran on the given stack */
  size_t untouched = 0;
  while (untouched < kSmallStack && stack[untouched] == 0xab) ++untouched;
  EXPECT_TRUE(untouched > kSmallStack / 2);
  pthread_attr_destroy(&a);
  sem_destroy(&s->done);
  pthread_cond_destroy(&s->c);
  pthread_mutex_destroy(&s->m);
  free(s);
  free(stack);
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

/* Scheduling policy and priority: given at creation (PTHREAD_EXPLICIT_SCHED)
 * or inherited from the creator, read and changed by any thread, also one on
 * another node. A real-time policy needs the right to it (the kernel's rule:
 * root, or a priority within RLIMIT_RTPRIO); without it, EPERM. */
static int may_use_real_time(int priority) {
  struct rlimit l;
  if (geteuid() == 0) return 1;
  return getrlimit(RLIMIT_RTPRIO, &l) == 0 && (l.rlim_cur == RLIM_INFINITY || (rlim_t)priority <= l.rlim_cur);
}

struct sched_report {
  pthread_barrier_t changed; /* waited twice: the thread looked, then the creator looked and changed it */
  int first_policy, first_priority;
  int then_policy, then_priority;
};

static void* report_sched(void* arg) {
  struct sched_report* s = arg;
  struct sched_param sp;
  long err = pthread_getschedparam(pthread_self(), &s->first_policy, &sp);
  s->first_priority = sp.sched_priority;
  pthread_barrier_wait(&s->changed);
  pthread_barrier_wait(&s->changed);
  err |= pthread_getschedparam(pthread_self(), &s->then_policy, &sp);
  s->then_priority = sp.sched_priority;
  return (void*)err;
}

static void scheduling(void) {
  const int low = sched_get_priority_min(SCHED_FIFO);
  const int high = sched_get_priority_max(SCHED_FIFO);
  const int allowed = may_use_real_time(low);
  pthread_attr_t a;
  struct sched_param sp = {.sched_priority = low};
  int policy = -1;
  EXPECT(pthread_attr_init(&a), 0);
  EXPECT(pthread_attr_setschedpolicy(&a, 12345), EINVAL);
  EXPECT(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
  EXPECT(pthread_attr_setschedpolicy(&a, SCHED_FIFO), 0);
  EXPECT(pthread_attr_getschedpolicy(&a, &policy), 0);
  EXPECT(policy, SCHED_FIFO);
  EXPECT(pthread_attr_setschedparam(&a, &sp), 0);
  sp.sched_priority = high + 1;
  EXPECT(pthread_attr_setschedparam(&a, &sp), EINVAL);
  if (gpt_node_count() > 1) gpt_attr_setnode(&a, conf_other_node());

  struct sched_report* s = calloc(1, sizeof *s);
  pthread_barrier_init(&s->changed, NULL, 2);
  pthread_t t;
  const int created = pthread_create(&t, &a, report_sched, s);
  EXPECT(created, allowed ? 0 : EPERM);
  if (created == 0) {
    pthread_barrier_wait(&s->changed);
    EXPECT(pthread_getschedparam(t, &policy, &sp), 0);
    EXPECT(policy, SCHED_FIFO);
    EXPECT(sp.sched_priority, low);
    sp.sched_priority = high + 1;
    EXPECT(pthread_setschedparam(t, SCHED_FIFO, &sp), EINVAL);
    EXPECT(pthread_setschedparam(t, 12345, &sp), EINVAL);
    sp.sched_priority = 0;
    EXPECT(pthread_setschedparam(t, SCHED_OTHER, &sp), 0);
    EXPECT(pthread_getschedparam(t, &policy, &sp), 0);
    EXPECT(policy, SCHED_OTHER);
    EXPECT(sp.sched_priority, 0);
    pthread_barrier_wait(&s->changed);
    void* r = (void*)-1;
    EXPECT(pthread_join(t, &r), 0);
    EXPECT((long)r, 0);
    EXPECT(s->first_policy, SCHED_FIFO);
    EXPECT(s->first_priority, low);
    EXPECT(s->then_policy, SCHED_OTHER); /* changed from its creator's node */
    EXPECT(s->then_priority, 0);
  }
  pthread_barrier_destroy(&s->changed);

  /* Inherited (the default): the new thread starts with its creator's. */
  if (allowed) {
    sp.sched_priority = low;
    EXPECT(pthread_setschedparam(pthread_self(), SCHED_RR, &sp), 0);
    EXPECT(pthread_getschedparam(pthread_self(), &policy, &sp), 0);
    EXPECT(policy, SCHED_RR);
    pthread_barrier_init(&s->changed, NULL, 2);
    EXPECT(conf_start_on(&t, conf_other_node(), report_sched, s), 0);
    pthread_barrier_wait(&s->changed);
    pthread_barrier_wait(&s->changed);
    EXPECT(pthread_join(t, NULL), 0);
    EXPECT(s->first_policy, SCHED_RR);
    EXPECT(s->first_priority, low);
    pthread_barrier_destroy(&s->changed);
    sp.sched_priority = 0;
    EXPECT(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
  }
  EXPECT(pthread_getschedparam(pthread_self(), &policy, &sp), 0);
  EXPECT(policy, SCHED_OTHER);
  EXPECT(sp.sched_priority, 0);
  EXPECT(pthread_setschedprio(pthread_self(), low), EINVAL); /* SCHED_OTHER has priority 0 only */
  EXPECT(pthread_attr_destroy(&a), 0);
  free(s);
}

/* Signal sets the program passes may lie in memory another node wrote last
 * (not present on the caller's node): pthread_sigmask and sigpending read
 * and write them all the same. The helper runs on another node than the
 * one that filled the sets. */
static void* sets_from_elsewhere(void* arg) {
  sigset_t* sets = arg; /* [0] SIGUSR1, [1] old mask, [2] pending */
  if (pthread_sigmask(SIG_BLOCK, &sets[0], &sets[1]) != 0) return (void*)1;
  if (sigismember(&sets[1], SIGUSR1)) return (void*)2;
  if (pthread_kill(pthread_self(), SIGUSR1) != 0) return (void*)3;
  if (sigpending(&sets[2]) != 0 || !sigismember(&sets[2], SIGUSR1)) return (void*)4;
  int sig = 0;
  if (sigwait(&sets[0], &sig) != 0 || sig != SIGUSR1) return (void*)5;
  if (pthread_sigmask(SIG_UNBLOCK, &sets[0], &sets[3]) != 0 || !sigismember(&sets[3], SIGUSR1)) return (void*)6;
  if (pthread_sigmask(SIG_SETMASK, NULL, &sets[4]) != 0 || sigismember(&sets[4], SIGUSR1)) return (void*)7;
  return NULL;
}

static void signal_sets(void) {
  /* Pages of their own, written here only. */
  const size_t bytes = 64 * 1024;
  unsigned char* block = malloc(bytes);
  memset(block, 0xa5, bytes);
  sigset_t* sets = (sigset_t*)(block + bytes / 2);
  sigemptyset(&sets[0]);
  sigaddset(&sets[0], SIGUSR1);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), sets_from_elsewhere, sets), 0);
  void* r = (void*)-1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  free(block);
}

/* Every signal but SIGKILL and SIGSTOP can be added to the mask, and the old
 * set reports each one added before (SIGSEGV and SIGSYS too, although
 * gpthread keeps them deliverable underneath: the POSIX suite's
 * pthread_sigmask 7-1). */
static void mask_reports_every_signal(void) {
  static const int sigs[] = {SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT,
                             SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1,
                             SIGUSR2, SIGPROF, SIGSYS, SIGTRAP, SIGURG, SIGVTALRM, SIGXCPU, SIGXFSZ};
  const int n = (int)(sizeof sigs / sizeof sigs[0]);
  sigset_t saved, one, old;
  EXPECT(pthread_sigmask(SIG_SETMASK, NULL, &saved), 0);
  sigset_t none;
  sigemptyset(&none);
  EXPECT(pthread_sigmask(SIG_SETMASK, &none, NULL), 0);
  for (int i = 0; i < n; ++i) {
    sigemptyset(&one);
    sigaddset(&one, sigs[i]);
    EXPECT(pthread_sigmask(SIG_BLOCK, &one, &old), 0);
    for (int j = 0; j < n; ++j) EXPECT(sigismember(&old, sigs[j]), j < i);
  }
  sigemptyset(&one);
  sigaddset(&one, SIGSEGV);
  EXPECT(pthread_sigmask(SIG_UNBLOCK, &one, &old), 0);
  EXPECT(sigismember(&old, SIGSEGV), 1);
  EXPECT(pthread_sigmask(SIG_SETMASK, &saved, &old), 0);
  EXPECT(sigismember(&old, SIGSEGV), 0);
  EXPECT(sigismember(&old, SIGSYS), 1);
  EXPECT(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
  EXPECT(sigismember(&old, SIGSYS), sigismember(&saved, SIGSYS));
  EXPECT(pthread_sigmask(12345, &one, NULL), EINVAL);
}

/* The handle is in the creator's variable before the new thread runs, as
 * both libcs do (POSIX leaves it open): a thread may read its own handle
 * from a global its creator passed to pthread_create. */
static pthread_t g_handle;

static void* compare_handle(void* arg) {
  (void)arg;
  return (void*)(long)pthread_equal(g_handle, pthread_self());
}

static void handle_before_start(void) {
  int nodes[2] = {gpt_self_node(), conf_other_node()};
  for (int i = 0; i < 2; ++i) {
    void* r = NULL;
    EXPECT(conf_start_on(&g_handle, nodes[i], compare_handle, NULL), 0);
    EXPECT(pthread_join(g_handle, &r), 0);
    EXPECT_TRUE(r != NULL);
  }
}

/* A stack no memory can hold: pthread_create says EAGAIN (the system lacks
 * the resources), on this node and on another, and the process goes on. */
static void stack_too_large(void) {
  pthread_attr_t a;
  EXPECT(pthread_attr_init(&a), 0);
  EXPECT(pthread_attr_setstacksize(&a, SIZE_MAX / 4 & ~(size_t)0xffff), 0);
  int nodes[2] = {gpt_self_node(), conf_other_node()};
  for (int i = 0; i < 2; ++i) {
    if (gpt_node_count() > 1) gpt_attr_setnode(&a, nodes[i]);
    pthread_t t;
    EXPECT(pthread_create(&t, &a, give_back, NULL), EAGAIN);
  }
  EXPECT(pthread_attr_destroy(&a), 0);
  pthread_t t;
  void* r = NULL;
  EXPECT(conf_start_on(&t, conf_other_node(), give_back, &r), 0);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT_TRUE(r == &r);
}

CONF_MAIN("thread", {"attributes", attributes}, {"create_join", create_join}, {"self_equal", self_equal},
          {"detached", detached}, {"with_attributes", with_attributes}, {"given_stacks", given_stacks},
          {"small_given_stack", small_given_stack},
          {"kill_right_after_create", kill_right_after_create}, {"affinity", affinity},
          {"scheduling", scheduling}, {"signal_sets", signal_sets},
          {"mask_reports_every_signal", mask_reports_every_signal}, {"stack_too_large", stack_too_large},
          {"handle_before_start", handle_before_start})
