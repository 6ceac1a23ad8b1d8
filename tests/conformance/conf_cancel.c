/* pthread_cancel, pthread_setcancelstate, pthread_setcanceltype,
 * pthread_testcancel, pthread_cleanup_push/pop, and the cancellation points
 * a thread blocks in: condition waits (the mutex is locked again before the
 * cleanup handlers run), pthread_join, sem_wait/sem_timedwait, sleep,
 * usleep, nanosleep. Helpers run on another node than the case, so the
 * cancel crosses the network on 2 and 4 nodes. */
#include <sched.h>
#include <semaphore.h>
#include <unistd.h>

#include "conf.h"

/* What a helper saw, handed back to the case (which alone checks). */
struct trace {
  sem_t ready;
  int order[8]; /* cleanup handlers and destructors, in the order they ran */
  int count;
  int after;          /* set by code the cancel must not let run */
  int unlock_result;  /* the cleanup handler's pthread_mutex_unlock */
  pthread_mutex_t m;
  pthread_cond_t c;
  int waiting, go;
  sem_t never;
  pthread_t joined;
  const char* scan; /* pages a scanner reads */
};

static struct trace* new_trace(void) {
  struct trace* t = calloc(1, sizeof *t);
  sem_init(&t->ready, 0, 0);
  sem_init(&t->never, 0, 0);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&t->m, &a);
  pthread_mutexattr_destroy(&a);
  pthread_cond_init(&t->c, NULL);
  t->unlock_result = -1;
  return t;
}

static void free_trace(struct trace* t) {
  sem_destroy(&t->ready);
  sem_destroy(&t->never);
  pthread_mutex_destroy(&t->m);
  pthread_cond_destroy(&t->c);
  free(t);
}

static pthread_key_t g_key;
static void note(struct trace* t, int what) {
  if (t->count < 8) t->order[t->count++] = what;
}
static void cleanup_1(void* arg) { note(arg, 1); }
static void cleanup_2(void* arg) { note(arg, 2); }
static void key_destructor(void* value) { note(value, 9); }
static void cleanup_unlock(void* arg) {
  struct trace* t = arg;
  t->unlock_result = pthread_mutex_unlock(&t->m);
}

static void state_and_type(void) {
  int old = -1;
  EXPECT(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
  EXPECT(old, PTHREAD_CANCEL_ENABLE);
  EXPECT(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
  EXPECT(old, PTHREAD_CANCEL_DISABLE);
  EXPECT(pthread_setcancelstate(12345, &old), EINVAL);
  EXPECT(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old), 0);
  EXPECT(old, PTHREAD_CANCEL_DEFERRED);
  EXPECT(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old), 0);
  EXPECT(old, PTHREAD_CANCEL_ASYNCHRONOUS);
  EXPECT(pthread_setcanceltype(12345, &old), EINVAL);
  pthread_testcancel(); /* nothing pending: returns */
}

/* Cleanup handlers run innermost first, then thread-specific destructors. */
static void* testcancel_loop(void* arg) {
  struct trace* t = arg;
  pthread_setspecific(g_key, t);
  pthread_cleanup_push(cleanup_1, t);
  pthread_cleanup_push(cleanup_2, t);
  sem_post(&t->ready);
  for (;;) {
    pthread_testcancel();
    sched_yield();
  }
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void deferred_with_handlers(void) {
  struct trace* t = new_trace();
  EXPECT(pthread_key_create(&g_key, key_destructor), 0);
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), testcancel_loop, t), 0);
  sem_wait(&t->ready);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->count, 3);
  EXPECT(t->order[0], 2);
  EXPECT(t->order[1], 1);
  EXPECT(t->order[2], 9);
  EXPECT(pthread_key_delete(g_key), 0);
  free_trace(t);
}

/* pthread_exit runs the handlers too; pop(0) drops one, pop(1) runs it. */
static void* exiter(void* arg) {
  struct trace* t = arg;
  pthread_cleanup_push(cleanup_1, t);
  pthread_cleanup_push(cleanup_2, t);
  pthread_cleanup_push(cleanup_2, t);
  pthread_cleanup_push(cleanup_1, t);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(1);
  pthread_exit((void*)7L);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void exit_runs_handlers(void) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), exiter, t), 0);
  EXPECT((long)conf_join_result(h), 7);
  EXPECT(t->count, 3);
  EXPECT(t->order[0], 2); /* pop(1) */
  EXPECT(t->order[1], 2); /* then at exit, innermost first */
  EXPECT(t->order[2], 1);
  free_trace(t);
}

/* Disabled: the cancel waits, through a cancellation point, until enabled. */
static void* disabled_first(void* arg) {
  struct trace* t = arg;
  int old;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  sem_post(&t->ready);
  sem_wait(&t->never); /* posted once the case has cancelled */
  t->after = 1;
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  pthread_testcancel();
  t->after = 2;
  return NULL;
}

static void disabled_then_enabled(void) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), disabled_first, t), 0);
  sem_wait(&t->ready);
  EXPECT(pthread_cancel(h), 0);
  conf_pause_ms(20);
  sem_post(&t->never);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->after, 1);
  free_trace(t);
}

/* A cancel while the thread waits on a condition: the wait ends with the
 * mutex locked by the thread (its handler's unlock succeeds on an
 * errorcheck mutex), and the condition keeps working for others. */
static void* cond_waiter(void* arg) {
  struct trace* t = arg;
  pthread_mutex_lock(&t->m);
  pthread_cleanup_push(cleanup_unlock, t);
  t->waiting = 1;
  while (!t->go) pthread_cond_wait(&t->c, &t->m);
  t->after = 1;
  pthread_cleanup_pop(1);
  return NULL;
}

static void* cond_timed_waiter(void* arg) {
  struct trace* t = arg;
  pthread_mutex_lock(&t->m);
  pthread_cleanup_push(cleanup_unlock, t);
  t->waiting = 1;
  struct timespec later = conf_in_ms(CLOCK_REALTIME, 20000);
  while (!t->go) pthread_cond_timedwait(&t->c, &t->m, &later);
  t->after = 1;
  pthread_cleanup_pop(1);
  return NULL;
}

static void wait_until_waiting(struct trace* t) {
  for (;;) {
    pthread_mutex_lock(&t->m);
    int w = t->waiting;
    pthread_mutex_unlock(&t->m);
    if (w) break;
    conf_pause_ms(2);
  }
  conf_pause_ms(20); /* it holds the mutex until it sleeps on the condition */
}

static void cancel_cond_wait(void* (*waiter)(void*)) {
  struct trace* t = new_trace();
  pthread_t h;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  EXPECT(conf_start_on(&h, conf_other_node(), waiter, t), 0);
  wait_until_waiting(t);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->unlock_result, 0);
  EXPECT(t->after, 0);
  EXPECT_TRUE(conf_ms_since(&start) < 10000);
  EXPECT(pthread_mutex_trylock(&t->m), 0);
  EXPECT(pthread_mutex_unlock(&t->m), 0);
  /* A new waiter gets the next signal: the cancelled one left no ticket. */
  t->waiting = 0;
  t->unlock_result = -1;
  EXPECT(conf_start_on(&h, conf_other_node(), cond_waiter, t), 0);
  wait_until_waiting(t);
  pthread_mutex_lock(&t->m);
  t->go = 1;
  pthread_cond_signal(&t->c);
  pthread_mutex_unlock(&t->m);
  EXPECT(conf_join_result(h) == NULL, 1);
  EXPECT(t->after, 1);
  EXPECT(t->unlock_result, 0);
  free_trace(t);
}

static void cond_wait_is_a_point(void) { cancel_cond_wait(cond_waiter); }
static void cond_timedwait_is_a_point(void) { cancel_cond_wait(cond_timed_waiter); }

/* sem_wait: the cancelled waiter takes no unit with it. */
static void* sem_waiter(void* arg) {
  struct trace* t = arg;
  sem_post(&t->ready);
  sem_wait(&t->never);
  t->after = 1;
  return NULL;
}

static void* sem_timed_waiter(void* arg) {
  struct trace* t = arg;
  sem_post(&t->ready);
  struct timespec later = conf_in_ms(CLOCK_REALTIME, 20000);
  sem_timedwait(&t->never, &later);
  t->after = 1;
  return NULL;
}

static void cancel_sem_wait(void* (*waiter)(void*)) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), waiter, t), 0);
  sem_wait(&t->ready);
  conf_pause_ms(20);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->after, 0);
  EXPECT(sem_post(&t->never), 0);
  int v = -1;
  EXPECT(sem_getvalue(&t->never, &v), 0);
  EXPECT(v, 1);
  EXPECT(sem_trywait(&t->never), 0);
  free_trace(t);
}

static void sem_wait_is_a_point(void) { cancel_sem_wait(sem_waiter); }
static void sem_timedwait_is_a_point(void) { cancel_sem_wait(sem_timed_waiter); }

/* pthread_join: the cancelled joiner leaves its target joinable. */
static void* blocked(void* arg) {
  struct trace* t = arg;
  sem_wait(&t->never);
  return (void*)5L;
}

static void* joiner(void* arg) {
  struct trace* t = arg;
  sem_post(&t->ready);
  pthread_join(t->joined, NULL);
  t->after = 1;
  return NULL;
}

static void join_is_a_point(void) {
  struct trace* t = new_trace();
  pthread_t target, h;
  EXPECT(conf_start_on(&target, conf_case_node, blocked, t), 0);
  t->joined = target;
  EXPECT(conf_start_on(&h, conf_other_node(), joiner, t), 0);
  sem_wait(&t->ready);
  conf_pause_ms(20);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->after, 0);
  EXPECT(sem_post(&t->never), 0);
  EXPECT((long)conf_join_result(target), 5);
  free_trace(t);
}

/* sleep, usleep, nanosleep. */
static void* sleeper(void* arg) {
  struct trace* t = arg;
  sem_post(&t->ready);
  switch (t->count) {
    case 0:
      sleep(20);
      break;
    case 1:
      usleep(20000000);
      break;
    default: {
      struct timespec long_time = {20, 0};
      nanosleep(&long_time, NULL);
    }
  }
  t->after = 1;
  return NULL;
}

static void sleeps_are_points(void) {
  for (int kind = 0; kind < 3; ++kind) {
    struct trace* t = new_trace();
    t->count = kind;
    pthread_t h;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    EXPECT(conf_start_on(&h, conf_other_node(), sleeper, t), 0);
    sem_wait(&t->ready);
    conf_pause_ms(20);
    EXPECT(pthread_cancel(h), 0);
    EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
    EXPECT(t->after, 0);
    EXPECT_TRUE(conf_ms_since(&start) < 10000);
    free_trace(t);
  }
}

/* Asynchronous: acts in a loop without any cancellation point. */
static void* spinner(void* arg) {
  struct trace* t = arg;
  volatile unsigned long spins = 0;
  int old;
  pthread_cleanup_push(cleanup_1, t);
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
  sem_post(&t->ready);
  for (;;) ++spins;
  pthread_cleanup_pop(0);
  return NULL;
}

static void asynchronous(void) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), spinner, t), 0);
  sem_wait(&t->ready);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->count, 1);
  EXPECT(t->order[0], 1);
  free_trace(t);
}

/* Asynchronous while the thread mostly waits for pages of another node
 * (on 2+ nodes): a cancel that comes during a page fault acts after it. */
enum { kScanBytes = 8 << 20 };

static void* scanner(void* arg) {
  struct trace* t = arg;
  const volatile char* bytes = t->scan;
  volatile long sum = 0;
  int old;
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
  sem_post(&t->ready);
  for (;;)
    for (long i = 0; i < kScanBytes; i += 4096) sum += bytes[i];
  return NULL;
}

static void asynchronous_while_faulting(void) {
  char* bytes = malloc(kScanBytes);
  for (int round = 0; round < 5; ++round) {
    for (long i = 0; i < kScanBytes; i += 4096) bytes[i] = (char)round;
    struct trace* t = new_trace();
    t->scan = bytes;
    pthread_t h;
    EXPECT(conf_start_on(&h, conf_other_node(), scanner, t), 0);
    sem_wait(&t->ready);
    conf_pause_ms(1 + round);
    EXPECT(pthread_cancel(h), 0);
    EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
    free_trace(t);
  }
  free(bytes);
}

/* Cancelled before it ran: it acts at its first cancellation point. */
static void* late_starter(void* arg) {
  struct trace* t = arg;
  sem_wait(&t->never);
  t->after = 1;
  return NULL;
}

static void before_start(void) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), late_starter, t), 0);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->after, 0);
  free_trace(t);
}

/* A thread cancels itself: deferred, it goes on to the next point; with
 * asynchronous cancellation enabled later, it acts at once. */
static void* self_canceller(void* arg) {
  struct trace* t = arg;
  t->unlock_result = pthread_cancel(pthread_self());
  t->after = 1;
  pthread_testcancel();
  t->after = 2;
  return NULL;
}

static void* self_async(void* arg) {
  struct trace* t = arg;
  int old;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  pthread_cancel(pthread_self());
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
  t->after = 1;
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  t->after = 2;
  return NULL;
}

static void self_cancel(void) {
  struct trace* t = new_trace();
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), self_canceller, t), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->unlock_result, 0);
  EXPECT(t->after, 1);
  t->after = 0;
  EXPECT(conf_start_on(&h, conf_other_node(), self_async, t), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(t->after, 1);
  free_trace(t);
}

CONF_MAIN("conf_cancel", {"state_and_type", state_and_type}, {"deferred_with_handlers", deferred_with_handlers},
          {"exit_runs_handlers", exit_runs_handlers}, {"disabled_then_enabled", disabled_then_enabled},
          {"cond_wait_is_a_point", cond_wait_is_a_point}, {"cond_timedwait_is_a_point", cond_timedwait_is_a_point},
          {"sem_wait_is_a_point", sem_wait_is_a_point}, {"sem_timedwait_is_a_point", sem_timedwait_is_a_point},
          {"join_is_a_point", join_is_a_point}, {"sleeps_are_points", sleeps_are_points},
          {"asynchronous", asynchronous}, {"asynchronous_while_faulting", asynchronous_while_faulting},
          {"before_start", before_start}, {"self_cancel", self_cancel})
