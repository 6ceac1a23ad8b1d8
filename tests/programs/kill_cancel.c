/* pthread_kill delivers the signal to a thread of this node and to a thread
 * on another node (whose process got main's handler), and on 4+ nodes to a
 * thread that migrated away from the node the sender believes it is on (the
 * node it left passes the signal on). pthread_cancel reaches the same
 * threads the same way: each, blocked in sem_wait, ends with
 * PTHREAD_CANCELED after its cleanup handler ran. */
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sem_t g_ready, g_go, g_never, g_armed;
static volatile sig_atomic_t g_got;
static int g_cleanups;

static void count_cleanup(void* arg) {
  (void)arg;
  __atomic_fetch_add(&g_cleanups, 1, __ATOMIC_RELAXED);
}

/* Blocked until cancelled (nobody posts g_never). `armed`, if given, is
 * posted once the cleanup handler is pushed. */
static void* wait_for_armed_cancel(sem_t* armed) {
  void* r = NULL;
  pthread_cleanup_push(count_cleanup, NULL);
  if (armed) sem_post(armed);
  sem_wait(&g_never);
  r = (void*)9L;
  pthread_cleanup_pop(0);
  return r;
}
static void* wait_for_cancel(void) { return wait_for_armed_cancel(NULL); }

static void on_usr1(int sig) { (void)sig; g_got = 1; }

/* Waits (up to 5 s) for the handler to run on this thread's node. */
static void* wait_for_signal(void) {
  for (int i = 0; i < 5000 && !g_got; ++i) {
    struct timespec nap = {0, 1000000};
    nanosleep(&nap, NULL);
  }
  return (void*)(long)g_got;
}

/* On another node: waits for the signal to arrive there. */
static void* remote_target(void* arg) {
  (void)arg;
  sem_post(&g_ready);
  sem_wait(&g_go);
  return wait_for_signal();
}

static void* target(void* arg) {
  (void)arg;
  sem_post(&g_ready);
  sem_wait(&g_go); /* a cancellation point: the cancel must come after it */
  return wait_for_armed_cancel(&g_armed);
}

static void* cancel_target(void* arg) {
  (void)arg;
  sem_post(&g_ready);
  return wait_for_cancel();
}

/* Its cleanup handler is pushed on node 1 and runs on node 0 (with glibc,
 * the handler's jump buffer was mangled by node 1's process). */
static void* migrating_cancel_target(void* arg) {
  (void)arg;
  void* r = NULL;
  pthread_cleanup_push(count_cleanup, NULL);
  if (gpt_migrate(0) != 0) return (void*)3L;
  sem_post(&g_ready);
  sem_wait(&g_never);
  r = (void*)9L;
  pthread_cleanup_pop(0);
  return r;
}

/* The migrated-away case: the mover starts on node 1; the sender, on node 3,
 * looks at it (pthread_kill 0 caches its control block there), then the
 * mover goes to node 2 and says so through a pipe (no acquire: the
 * sender's view stays stale) and waits for the signal. */
static int g_looked[2], g_moved[2];
static pthread_t g_mover;
static int g_cancel_mover; /* cancel it instead of signalling it */

static void* mover(void* arg) {
  (void)arg;
  char c;
  if (read(g_looked[0], &c, 1) != 1) return (void*)2L;
  if (gpt_migrate(2) != 0) return (void*)3L;
  if (write(g_moved[1], "m", 1) != 1) return (void*)4L;
  return g_cancel_mover ? wait_for_cancel() : wait_for_signal();
}

static void* sender(void* arg) {
  (void)arg;
  char c;
  if (pthread_kill(g_mover, 0) != 0) return (void*)2L;
  if (write(g_looked[1], "l", 1) != 1 || read(g_moved[0], &c, 1) != 1) return (void*)3L;
  return (void*)(long)(g_cancel_mover ? pthread_cancel(g_mover) : pthread_kill(g_mover, SIGUSR1));
}

static int migrated_away(int cancel) {
  g_cancel_mover = cancel;
  g_got = 0;
  if (pipe(g_looked) != 0 || pipe(g_moved) != 0) return fprintf(stderr, "pipe\n"), 1;
  pthread_attr_t one, three;
  pthread_attr_init(&one);
  pthread_attr_init(&three);
  gpt_attr_setnode(&one, 1);
  gpt_attr_setnode(&three, 3);
  pthread_t s;
  void *got, *sent;
  pthread_create(&g_mover, &one, mover, NULL);
  pthread_create(&s, &three, sender, NULL);
  pthread_join(s, &sent);
  pthread_join(g_mover, &got);
  if (sent != NULL) return fprintf(stderr, "the sender failed (%ld)\n", (long)sent), 1;
  if (cancel) {
    if (got != PTHREAD_CANCELED) return fprintf(stderr, "the cancel did not follow the thread that migrated away\n"), 1;
    return 0;
  }
  if (got != (void*)1L)
    return fprintf(stderr, "the signal did not follow the thread that migrated away (%ld)\n", (long)got), 1;
  return 0;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sem_init(&g_ready, 0, 0);
  sem_init(&g_go, 0, 0);
  sem_init(&g_never, 0, 0);
  sem_init(&g_armed, 0, 0);
  pthread_attr_t here;
  pthread_attr_init(&here);
  gpt_attr_setnode(&here, 0);
  pthread_t t;
  pthread_create(&t, &here, target, NULL);
  sem_wait(&g_ready);
  if (pthread_kill(t, 0) != 0) return fprintf(stderr, "pthread_kill(t, 0) failed\n"), 1;
  if (pthread_kill(t, SIGUSR1) != 0) return fprintf(stderr, "pthread_kill(t, SIGUSR1) failed\n"), 1;
  if (pthread_kill(pthread_self(), SIGUSR1) != 0) return 1;
  sem_post(&g_go);
  sem_wait(&g_armed);
  struct timespec nap = {0, 20 * 1000000L};
  nanosleep(&nap, NULL); /* it blocks in sem_wait meanwhile (or gets the cancel as it starts to) */
  int cancel = pthread_cancel(t);
  void* result;
  pthread_join(t, &result);
  if (cancel != 0) return fprintf(stderr, "pthread_cancel returned %d\n", cancel), 1;
  if (result != PTHREAD_CANCELED || g_cleanups != 1)
    return fprintf(stderr, "the thread of this node was not cancelled (%p, %d cleanups)\n", result, g_cleanups), 1;
  if (!g_got) return fprintf(stderr, "the signal did not arrive\n"), 1;
  if (gpt_node_count() > 1) {
    pthread_attr_t there;
    pthread_attr_init(&there);
    gpt_attr_setnode(&there, 1);
    pthread_create(&t, &there, remote_target, NULL);
    sem_wait(&g_ready);
    int r = pthread_kill(t, SIGUSR1);
    sem_post(&g_go);
    void* got;
    pthread_join(t, &got);
    if (r != 0) return fprintf(stderr, "remote pthread_kill returned %d\n", r), 1;
    if (got != (void*)1L) return fprintf(stderr, "the signal did not reach the thread on node 1\n"), 1;
    pthread_create(&t, &there, cancel_target, NULL);
    sem_wait(&g_ready);
    if (pthread_cancel(t) != 0) return fprintf(stderr, "remote pthread_cancel failed\n"), 1;
    pthread_join(t, &got);
    if (got != PTHREAD_CANCELED || g_cleanups != 2)
      return fprintf(stderr, "the thread on node 1 was not cancelled (%p, %d cleanups)\n", got, g_cleanups), 1;
    pthread_create(&t, &there, migrating_cancel_target, NULL);
    sem_wait(&g_ready);
    if (pthread_cancel(t) != 0) return fprintf(stderr, "pthread_cancel after a migration failed\n"), 1;
    pthread_join(t, &got);
    if (got != PTHREAD_CANCELED || g_cleanups != 3)
      return fprintf(stderr, "the thread that migrated was not cancelled (%p, %d cleanups)\n", got, g_cleanups), 1;
  }
  if (gpt_node_count() >= 4 && (migrated_away(0) != 0 || migrated_away(1) != 0)) return 1;
  printf("kill and cancel: ok\n");
  return 0;
}
