/* Mutexes across nodes: threads spread over the nodes increment shared
 * counters under a mutex (static initialiser); the invariant is checked at
 * the end. Then recursive and errorcheck semantics, and trylock. */
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_counter;
static long g_pairs[2]; /* always equal when the lock is free */
static int g_rounds;
static pthread_barrier_t g_start; /* all threads contend from the start */

static void* bump(void* arg) {
  (void)arg;
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < g_rounds; ++i) {
    pthread_mutex_lock(&g_lock);
    if (g_pairs[0] != g_pairs[1]) {
      fprintf(stderr, "invariant broken on node %d: %ld != %ld\n", gpt_self_node(), g_pairs[0], g_pairs[1]);
      exit(3);
    }
    ++g_counter;
    ++g_pairs[0];
    ++g_pairs[1];
    pthread_mutex_unlock(&g_lock);
    /* Outside the lock a little while, as real code is: other nodes get
     * their turn (an uncontended lock never leaves its node). */
    struct timespec pause = {0, 20000};
    nanosleep(&pause, NULL);
  }
  return NULL;
}

static int semantics(void) {
  pthread_mutexattr_t a;
  pthread_mutex_t rec, chk;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&rec, &a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&chk, &a);
  if (pthread_mutex_lock(&rec) || pthread_mutex_lock(&rec) || pthread_mutex_unlock(&rec) ||
      pthread_mutex_unlock(&rec)) return fprintf(stderr, "recursive lock failed\n"), 1;
  if (pthread_mutex_unlock(&rec) != EPERM) return fprintf(stderr, "recursive over-unlock not EPERM\n"), 1;
  if (pthread_mutex_lock(&chk)) return 1;
  if (pthread_mutex_lock(&chk) != EDEADLK) return fprintf(stderr, "errorcheck relock not EDEADLK\n"), 1;
  if (pthread_mutex_unlock(&chk)) return 1;
  if (pthread_mutex_unlock(&chk) != EPERM) return fprintf(stderr, "errorcheck unlock not EPERM\n"), 1;
  if (pthread_mutex_trylock(&chk) != 0) return fprintf(stderr, "trylock of a free local mutex failed\n"), 1;
  if (pthread_mutex_trylock(&chk) != EBUSY) return fprintf(stderr, "trylock of a held mutex not EBUSY\n"), 1;
  pthread_mutex_unlock(&chk);
  return 0;
}

/* pthread_mutex_timedlock: times out while a thread on another node holds
 * the mutex, succeeds once it is free. */
static pthread_mutex_t g_held = PTHREAD_MUTEX_INITIALIZER;
static sem_t g_ready, g_done;

static void* hold(void* arg) {
  pthread_mutex_t* m = arg;
  pthread_mutex_lock(m);
  sem_post(&g_ready);
  sem_wait(&g_done);
  pthread_mutex_unlock(m);
  return NULL;
}

static struct timespec in_ms(long ms) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_nsec += ms * 1000000L;
  t.tv_sec += t.tv_nsec / 1000000000L;
  t.tv_nsec %= 1000000000L;
  return t;
}

static int timed(void) {
  sem_init(&g_ready, 0, 0);
  sem_init(&g_done, 0, 0);
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() > 1 ? 1 : 0);
  pthread_t t;
  pthread_create(&t, &a, hold, &g_held);
  sem_wait(&g_ready);
  struct timespec soon = in_ms(100);
  int r = pthread_mutex_timedlock(&g_held, &soon);
  sem_post(&g_done);
  pthread_join(t, NULL);
  if (r != ETIMEDOUT) return fprintf(stderr, "timedlock on a held mutex returned %d\n", r), 1;
  struct timespec later = in_ms(5000);
  if (pthread_mutex_timedlock(&g_held, &later) != 0) return fprintf(stderr, "timedlock on a free mutex failed\n"), 1;
  pthread_mutex_unlock(&g_held);
  return 0;
}

/* pthread_mutex_trylock: EBUSY exactly while some thread holds the mutex,
 * wherever its token is (POSIX), 0 when it is free. */
static pthread_mutex_t g_tried = PTHREAD_MUTEX_INITIALIZER;

static void* try_there(void* arg) {
  (void)arg;
  int r = pthread_mutex_trylock(&g_tried);
  if (r == 0) pthread_mutex_unlock(&g_tried);
  return (void*)(long)r;
}

static long try_on(pthread_attr_t* a) {
  pthread_t t;
  void* r;
  pthread_create(&t, a, try_there, NULL);
  pthread_join(t, &r);
  return (long)r;
}

static int trylock_across(void) {
  sem_init(&g_ready, 0, 0);
  sem_init(&g_done, 0, 0);
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() > 1 ? 1 : 0);
  pthread_mutex_lock(&g_tried); /* the token is here now, and free after */
  pthread_mutex_unlock(&g_tried);
  long r = try_on(&a);
  if (r != 0) return fprintf(stderr, "trylock of a free mutex from another node returned %ld\n", r), 1;
  if ((r = pthread_mutex_trylock(&g_tried)) != 0) /* its token stayed there */
    return fprintf(stderr, "trylock of a free mutex whose token is elsewhere returned %ld\n", r), 1;
  r = try_on(&a);
  pthread_mutex_unlock(&g_tried);
  if (r != EBUSY) return fprintf(stderr, "trylock from another node of a held mutex returned %ld\n", r), 1;
  pthread_t t;
  pthread_create(&t, &a, hold, &g_tried);
  sem_wait(&g_ready);
  r = pthread_mutex_trylock(&g_tried);
  sem_post(&g_done);
  pthread_join(t, NULL);
  if (r != EBUSY) return fprintf(stderr, "trylock of a mutex held on another node returned %ld\n", r), 1;
  if ((r = pthread_mutex_trylock(&g_tried)) != 0)
    return fprintf(stderr, "trylock after the other node unlocked returned %ld\n", r), 1;
  pthread_mutex_unlock(&g_tried);
  return 0;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  g_rounds = argc > 2 ? atoi(argv[2]) : 200;
  pthread_t t[256];
  pthread_barrier_init(&g_start, NULL, (unsigned)threads);
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, bump, NULL);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  long want = (long)threads * g_rounds;
  if (g_counter != want || g_pairs[0] != want) {
    fprintf(stderr, "counter %ld, want %ld\n", g_counter, want);
    return 1;
  }
  if (semantics() || timed() || trylock_across()) return 1;
  printf("%d threads x %d locked increments on %d nodes: %ld\n", threads, g_rounds, gpt_node_count(), g_counter);
  return 0;
}
