/* pthread_mutex_* and pthread_mutexattr_*: return values and errors as the
 * Open Group's pages give them (glibc's choices where POSIX allows several). */
#include <signal.h>
#include <unistd.h>

#include "conf.h"

static pthread_mutex_t g_static = PTHREAD_MUTEX_INITIALIZER;

static void attributes(void) {
  pthread_mutexattr_t a;
  int v = -1;
  EXPECT(pthread_mutexattr_init(&a), 0);
  EXPECT(pthread_mutexattr_gettype(&a, &v), 0);
  EXPECT(v, PTHREAD_MUTEX_DEFAULT);
  EXPECT(pthread_mutexattr_settype(&a, 12345), EINVAL);
  EXPECT(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
  EXPECT(pthread_mutexattr_gettype(&a, &v), 0);
  EXPECT(v, PTHREAD_MUTEX_RECURSIVE);
  EXPECT(pthread_mutexattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_PRIVATE);
  EXPECT(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
  EXPECT(pthread_mutexattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_SHARED);
  EXPECT(pthread_mutexattr_setpshared(&a, 12345), EINVAL);
  EXPECT(pthread_mutexattr_getprotocol(&a, &v), 0);
  EXPECT(v, PTHREAD_PRIO_NONE);
  EXPECT(pthread_mutexattr_getrobust(&a, &v), 0);
  EXPECT(v, PTHREAD_MUTEX_STALLED);
  EXPECT(pthread_mutexattr_destroy(&a), 0);
}

static void normal_lock_unlock(void) {
  pthread_mutex_t m;
  EXPECT(pthread_mutex_init(&m, NULL), 0);
  EXPECT(pthread_mutex_lock(&m), 0);
  EXPECT(pthread_mutex_trylock(&m), EBUSY);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_trylock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_destroy(&m), 0);
  EXPECT(pthread_mutex_lock(&g_static), 0);
  EXPECT(pthread_mutex_unlock(&g_static), 0);
}

static void errorcheck(void) {
  pthread_mutexattr_t a;
  pthread_mutex_t m;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  EXPECT(pthread_mutex_init(&m, &a), 0);
  pthread_mutexattr_destroy(&a);
  EXPECT(pthread_mutex_unlock(&m), EPERM);
  EXPECT(pthread_mutex_lock(&m), 0);
  EXPECT(pthread_mutex_lock(&m), EDEADLK);
  EXPECT(pthread_mutex_trylock(&m), EBUSY);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), EPERM);
  EXPECT(pthread_mutex_destroy(&m), 0);
}

static void recursive(void) {
  pthread_mutexattr_t a;
  pthread_mutex_t m;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  EXPECT(pthread_mutex_init(&m, &a), 0);
  pthread_mutexattr_destroy(&a);
  EXPECT(pthread_mutex_lock(&m), 0);
  EXPECT(pthread_mutex_lock(&m), 0);
  EXPECT(pthread_mutex_trylock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_unlock(&m), EPERM);
  EXPECT(pthread_mutex_destroy(&m), 0);
}

/* A helper on another node holds the mutex until told to let go. */
struct holder {
  pthread_mutex_t* m;
  pthread_mutex_t gate;  /* locked by the case until the holder may unlock */
  pthread_mutex_t ready_lock;
  pthread_cond_t ready_cond;
  int ready;
};

static void* hold(void* arg) {
  struct holder* h = arg;
  long r = pthread_mutex_lock(h->m);
  pthread_mutex_lock(&h->ready_lock);
  h->ready = 1;
  pthread_cond_signal(&h->ready_cond);
  pthread_mutex_unlock(&h->ready_lock);
  pthread_mutex_lock(&h->gate);
  pthread_mutex_unlock(&h->gate);
  r |= pthread_mutex_unlock(h->m);
  return (void*)r;
}

static void start_holder(struct holder* h, pthread_t* t, pthread_mutex_t* m) {
  h->m = m;
  h->ready = 0;
  pthread_mutex_init(&h->gate, NULL);
  pthread_mutex_init(&h->ready_lock, NULL);
  pthread_cond_init(&h->ready_cond, NULL);
  pthread_mutex_lock(&h->gate);
  EXPECT(conf_start_on(t, conf_other_node(), hold, h), 0);
  pthread_mutex_lock(&h->ready_lock);
  while (!h->ready) pthread_cond_wait(&h->ready_cond, &h->ready_lock);
  pthread_mutex_unlock(&h->ready_lock);
}

static void stop_holder(struct holder* h, pthread_t t) {
  void* r = (void*)1;
  pthread_mutex_unlock(&h->gate);
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  pthread_mutex_destroy(&h->gate);
  pthread_mutex_destroy(&h->ready_lock);
  pthread_cond_destroy(&h->ready_cond);
}

static void held_elsewhere(void) {
  pthread_mutexattr_t a;
  pthread_mutex_t m;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&m, &a);
  pthread_mutexattr_destroy(&a);
  struct holder h;
  pthread_t t;
  start_holder(&h, &t, &m);
  EXPECT(pthread_mutex_trylock(&m), EBUSY);
  EXPECT(pthread_mutex_unlock(&m), EPERM);  /* errorcheck: not the owner */
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = conf_in_ms(CLOCK_REALTIME, 100);
  EXPECT(pthread_mutex_timedlock(&m, &soon), ETIMEDOUT);
  EXPECT_TRUE(conf_ms_since(&start) >= 90);
  struct timespec bad = {0, 1000000000L};
  EXPECT(pthread_mutex_timedlock(&m, &bad), EINVAL);
  struct timespec past = {1, 0};
  EXPECT(pthread_mutex_timedlock(&m, &past), ETIMEDOUT);
  stop_holder(&h, t);
  /* Free now: a timed lock with a time in the past still takes it. */
  EXPECT(pthread_mutex_timedlock(&m, &past), 0);
  EXPECT(pthread_mutex_unlock(&m), 0);
  EXPECT(pthread_mutex_destroy(&m), 0);
}

/* A mutex destroyed and initialised again at the same address (a reused
 * stack slot, a freed and reallocated object) starts unlocked. */
static void init_reuses_storage(void) {
  pthread_mutex_t* m = malloc(sizeof *m);
  EXPECT(pthread_mutex_init(m, NULL), 0);
  EXPECT(pthread_mutex_lock(m), 0);
  EXPECT(pthread_mutex_unlock(m), 0);
  EXPECT(pthread_mutex_destroy(m), 0);
  EXPECT(pthread_mutex_init(m, NULL), 0);
  EXPECT(pthread_mutex_trylock(m), 0);
  EXPECT(pthread_mutex_unlock(m), 0);
  EXPECT(pthread_mutex_destroy(m), 0);
  free(m);
}

/* pthread_mutex_init where a mutex is still held (never unlocked nor
 * destroyed, by this thread or by one of another node that ended): the
 * new mutex is unlocked, as glibc's (it overwrites the old one). */
static void* lock_and_leave(void* arg) { return (void*)(long)pthread_mutex_lock(arg); }

static void __attribute__((noinline)) lock_a_local(void) {
  pthread_mutex_t local;
  EXPECT(pthread_mutex_init(&local, NULL), 0);
  EXPECT(pthread_mutex_lock(&local), 0);
}

static void __attribute__((noinline)) init_a_local(void) {
  pthread_mutex_t local; /* likely where lock_a_local's was */
  EXPECT(pthread_mutex_init(&local, NULL), 0);
  EXPECT(pthread_mutex_trylock(&local), 0);
  EXPECT(pthread_mutex_unlock(&local), 0);
  EXPECT(pthread_mutex_destroy(&local), 0);
}

static void init_where_one_is_held(void) {
  const int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_RECURSIVE};
  pthread_mutex_t* m = malloc(sizeof *m);
  for (int i = 0; i < 3; ++i) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, types[i]);
    EXPECT(pthread_mutex_init(m, &a), 0);
    EXPECT(pthread_mutex_lock(m), 0);
    EXPECT(pthread_mutex_init(m, &a), 0);
    EXPECT(pthread_mutex_trylock(m), 0);
    EXPECT(pthread_mutex_unlock(m), 0);
    pthread_t t;
    EXPECT(conf_start_on(&t, conf_other_node(), lock_and_leave, m), 0);
    void* r = (void*)-1;
    EXPECT(pthread_join(t, &r), 0);
    EXPECT((long)r, 0);
    EXPECT(pthread_mutex_init(m, &a), 0);
    EXPECT(pthread_mutex_trylock(m), 0);
    EXPECT(pthread_mutex_unlock(m), 0);
    EXPECT(pthread_mutex_destroy(m), 0);
    pthread_mutexattr_destroy(&a);
  }
  free(m);
  lock_a_local();
  init_a_local();
}

struct counter {
  pthread_mutex_t m;
  long value;
};

static void* add_many(void* arg) {
  struct counter* c = arg;
  for (int i = 0; i < 500; ++i) {
    if (pthread_mutex_lock(&c->m) != 0) return (void*)1;
    c->value++;
    if (pthread_mutex_unlock(&c->m) != 0) return (void*)1;
  }
  return NULL;
}

static void mutual_exclusion(void) {
  struct counter* c = malloc(sizeof *c);
  pthread_mutex_init(&c->m, NULL);
  c->value = 0;
  pthread_t t[4];
  for (int i = 0; i < 4; ++i) EXPECT(conf_start_on(&t[i], i % gpt_node_count(), add_many, c), 0);
  for (int i = 0; i < 4; ++i) {
    void* r = (void*)1;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r, 0);
  }
  pthread_mutex_lock(&c->m);
  EXPECT(c->value, 2000);
  pthread_mutex_unlock(&c->m);
  pthread_mutex_destroy(&c->m);
  free(c);
}

/* Priority protocols are accepted and reported back; such a mutex locks
 * as any other (priorities mean nothing between nodes). */
static void protocols(void) {
  pthread_mutexattr_t a;
  int v = -1;
  pthread_mutexattr_init(&a);
  EXPECT(pthread_mutexattr_setprotocol(&a, 12345), EINVAL);
  EXPECT(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT), 0);
  EXPECT(pthread_mutexattr_getprotocol(&a, &v), 0);
  EXPECT(v, PTHREAD_PRIO_INHERIT);
  EXPECT(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
  pthread_mutex_t* m = malloc(sizeof *m);
  EXPECT(pthread_mutex_init(m, &a), 0);
  EXPECT(pthread_mutex_lock(m), 0);
  EXPECT(pthread_mutex_lock(m), 0); /* still recursive */
  EXPECT(pthread_mutex_unlock(m), 0);
  EXPECT(pthread_mutex_unlock(m), 0);
  EXPECT(pthread_mutex_unlock(m), EPERM);
  EXPECT(pthread_mutex_destroy(m), 0);
  free(m);
  EXPECT(pthread_mutexattr_destroy(&a), 0);
}

/* Robust mutexes: the owner's end (on another node) makes the next lock
 * EOWNERDEAD; unlocked without pthread_mutex_consistent, the mutex is
 * unusable for good (ENOTRECOVERABLE). */
static void* lock_and_end(void* arg) {
  long r = pthread_mutex_lock(arg);
  if ((long)arg & 1) pthread_exit((void*)r); /* never: mutexes are aligned */
  return (void*)r;
}

static void* lock_and_exit(void* arg) { pthread_exit((void*)(long)pthread_mutex_lock(arg)); }

static void robust(void) {
  pthread_mutexattr_t a;
  int v = -1;
  pthread_mutexattr_init(&a);
  EXPECT(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
  EXPECT(pthread_mutexattr_getrobust(&a, &v), 0);
  EXPECT(v, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t* m = malloc(sizeof *m);
  EXPECT(pthread_mutex_init(m, &a), 0);
  pthread_mutexattr_destroy(&a);
  EXPECT(pthread_mutex_consistent(m), EINVAL); /* consistent already */
  void* (*enders[2])(void*) = {lock_and_end, lock_and_exit};
  for (int i = 0; i < 2; ++i) {
    pthread_t t;
    void* r = (void*)1;
    EXPECT(conf_start_on(&t, conf_other_node(), enders[i], m), 0);
    EXPECT(pthread_join(t, &r), 0);
    EXPECT((long)r, 0);
    EXPECT(pthread_mutex_lock(m), EOWNERDEAD);
    EXPECT(pthread_mutex_consistent(m), 0);
    EXPECT(pthread_mutex_unlock(m), 0);
    EXPECT(pthread_mutex_trylock(m), 0);
    EXPECT(pthread_mutex_unlock(m), 0);
  }
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), lock_and_end, m), 0);
  EXPECT(pthread_join(t, NULL), 0);
  EXPECT(pthread_mutex_trylock(m), EOWNERDEAD);
  EXPECT(pthread_mutex_unlock(m), 0); /* not made consistent */
  EXPECT(pthread_mutex_lock(m), ENOTRECOVERABLE);
  EXPECT(pthread_mutex_trylock(m), ENOTRECOVERABLE);
  EXPECT(pthread_mutex_destroy(m), 0);
  free(m);
  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
  EXPECT(pthread_mutex_lock(&plain), 0);
  EXPECT(pthread_mutex_consistent(&plain), EINVAL); /* not robust */
  EXPECT(pthread_mutex_unlock(&plain), 0);
}

/* Not POSIX's promise but what programs count on (as the public suite's
 * signal tests do): a flag a signal handler sets while its thread waits for
 * a mutex is seen by a thread that looks after a sleep, also when the
 * waiting thread is on another node. */
static volatile sig_atomic_t g_handler_ran;
static void set_handler_ran(int sig) { g_handler_ran = sig; }

static void* lock_once(void* arg) {
  long err = pthread_mutex_lock(arg);
  if (!err) err = pthread_mutex_unlock(arg);
  return (void*)err;
}

static void handler_seen_while_waiting(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = set_handler_ran;
  EXPECT(sigaction(SIGUSR1, &sa, NULL), 0);
  g_handler_ran = 0;
  pthread_mutex_t* m = malloc(sizeof *m);
  pthread_mutex_init(m, NULL);
  EXPECT(pthread_mutex_lock(m), 0);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), lock_once, m), 0);
  usleep(200 * 1000); /* it waits for the mutex by now */
  EXPECT(pthread_kill(t, SIGUSR1), 0);
  for (int i = 0; i < 300 && !g_handler_ran; ++i) usleep(10 * 1000);
  EXPECT(g_handler_ran, SIGUSR1);
  EXPECT(pthread_mutex_unlock(m), 0);
  void* r = (void*)-1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  pthread_mutex_destroy(m);
  free(m);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGUSR1, &sa, NULL);
}

CONF_MAIN("mutex", {"attributes", attributes}, {"normal", normal_lock_unlock}, {"errorcheck", errorcheck},
          {"recursive", recursive}, {"held_elsewhere", held_elsewhere},
          {"init_reuses_storage", init_reuses_storage}, {"init_where_one_is_held", init_where_one_is_held},
          {"mutual_exclusion", mutual_exclusion},
          {"protocols", protocols}, {"robust", robust},
          {"handler_seen_while_waiting", handler_seen_while_waiting})
