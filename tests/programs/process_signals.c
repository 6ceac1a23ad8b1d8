/* Process-directed signals (kill(getpid()), sigqueue) reach a thread on
 * another node when every thread of the origin blocks them, exactly once:
 *   handler  - main blocks SIGUSR1, a thread on the last node does not and
 *              has a handler: it runs there, once per kill (20 rounds; the
 *              delay from kill to the handler is printed on stderr);
 *   sigwait  - main blocks SIGUSR2, a thread on the last node takes it in
 *              sigwait; the kill comes from another thread of that node
 *              (so through the origin, where kill runs);
 *   later    - a signal that no thread takes stays pending (main's
 *              sigpending shows it) and is taken once a thread unblocks it;
 *   sigqueue - sigqueue's value, code and sender pid arrive, from main and
 *              from a thread on the last node;
 *   terminate (argument) - a thread on the last node kills the process
 *              with SIGTERM, which nobody blocks: the job ends by it.
 * On one node (no launcher) the same holds within the one process. */
#define _GNU_SOURCE
#include <gpthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { kRounds = 20 };

static __thread volatile sig_atomic_t t_count;
static __thread volatile int t_code, t_value, t_pid;
static __thread volatile long long t_when;

static pthread_barrier_t g_barrier;
static long long g_when[kRounds];
static int g_taken_sig, g_code, g_value, g_pid, g_node;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static void on_signal(int sig, siginfo_t* info, void* uc) {
  (void)sig;
  (void)uc;
  t_when = now_ns();
  t_code = info->si_code;
  t_value = info->si_value.sival_int;
  t_pid = info->si_pid;
  t_count = t_count + 1;
}

/* Up to 5 s for the handler to have run `want` times on this thread. */
static int wait_count(int want) {
  for (int i = 0; i < 100000 && t_count < want; ++i) nap_us(50);
  return t_count >= want;
}

static void set_blocked(int how, int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  CHECK(pthread_sigmask(how, &set, NULL) == 0, "pthread_sigmask");
}

static int pending_here(int sig) {
  sigset_t set;
  CHECK(sigpending(&set) == 0, "sigpending");
  return sigismember(&set, sig);
}

static pthread_t start_on(int node, void* (*fn)(void*), void* arg) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  CHECK(gpt_attr_setnode(&a, node) == 0, "gpt_attr_setnode %d", node);
  pthread_t t;
  CHECK(pthread_create(&t, &a, fn, arg) == 0, "pthread_create on node %d", node);
  pthread_attr_destroy(&a);
  return t;
}

static void* handler_taker(void* arg) {
  (void)arg;
  g_node = gpt_node_id();
  set_blocked(SIG_UNBLOCK, SIGUSR1);
  for (int r = 0; r < kRounds; ++r) {
    pthread_barrier_wait(&g_barrier);
    CHECK(wait_count(r + 1), "round %d: SIGUSR1 did not reach the thread on node %d", r, g_node);
    g_when[r] = t_when;
    pthread_barrier_wait(&g_barrier);
  }
  nap_us(300000);  /* a second delivery would come by now */
  CHECK(t_count == kRounds, "SIGUSR1 ran the handler %d times for %d kills", (int)t_count, kRounds);
  set_blocked(SIG_BLOCK, SIGUSR1);
  return NULL;
}

static int compare(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

static void case_handler(int node) {
  pthread_t t = start_on(node, handler_taker, NULL);
  long long latency[kRounds];
  for (int r = 0; r < kRounds; ++r) {
    pthread_barrier_wait(&g_barrier);
    const long long sent = now_ns();
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill");
    pthread_barrier_wait(&g_barrier);
    latency[r] = g_when[r] - sent;
  }
  pthread_join(t, NULL);
  CHECK(g_node == node, "the taker ran on node %d, not %d", g_node, node);
  CHECK(t_count == 0, "main, which blocks SIGUSR1, ran its handler");
  CHECK(!pending_here(SIGUSR1), "SIGUSR1 still pending at the origin");
  qsort(latency, kRounds, sizeof latency[0], compare);
  fprintf(stderr, "process signal latency (kill to handler on node %d): min %lld us, median %lld us, max %lld us\n",
          node, latency[0] / 1000, latency[kRounds / 2] / 1000, latency[kRounds - 1] / 1000);
  printf("handler: %d kills, %d handled on node %d: ok\n", kRounds, kRounds, node);
}

static void* sigwait_taker(void* arg) {
  (void)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_barrier_wait(&g_barrier);
  int sig = 0;
  CHECK(sigwait(&set, &sig) == 0, "sigwait");
  g_taken_sig = sig;
  return NULL;
}

static void* sigwait_killer(void* arg) {
  (void)arg;
  pthread_barrier_wait(&g_barrier);
  CHECK(kill(getpid(), SIGUSR2) == 0, "kill from node %d", gpt_node_id());
  return NULL;
}

static void case_sigwait(int node) {
  g_taken_sig = 0;
  pthread_t taker = start_on(node, sigwait_taker, NULL);
  pthread_t killer = start_on(node, sigwait_killer, NULL);
  pthread_barrier_wait(&g_barrier);
  pthread_join(killer, NULL);
  pthread_join(taker, NULL);
  CHECK(g_taken_sig == SIGUSR2, "sigwait on node %d took %d", node, g_taken_sig);
  CHECK(!pending_here(SIGUSR2), "SIGUSR2 still pending at the origin");
  printf("sigwait: taken on node %d: ok\n", node);
}

static void* later_taker(void* arg) {
  (void)arg;
  pthread_barrier_wait(&g_barrier);  /* killed */
  pthread_barrier_wait(&g_barrier);  /* main saw it pending */
  CHECK(t_count == 0, "SIGUSR1 reached a thread that blocks it");
  set_blocked(SIG_UNBLOCK, SIGUSR1);
  CHECK(wait_count(1), "SIGUSR1 did not come once unblocked on node %d", gpt_node_id());
  nap_us(300000);
  CHECK(t_count == 1, "SIGUSR1 ran the handler %d times", (int)t_count);
  set_blocked(SIG_BLOCK, SIGUSR1);
  pthread_barrier_wait(&g_barrier);
  return NULL;
}

static void case_later(int node) {
  pthread_t t = start_on(node, later_taker, NULL);
  CHECK(kill(getpid(), SIGUSR1) == 0, "kill");
  pthread_barrier_wait(&g_barrier);
  nap_us(400000);  /* offered, twice over, and nobody took it */
  CHECK(pending_here(SIGUSR1), "SIGUSR1, blocked everywhere, is not pending at the origin");
  pthread_barrier_wait(&g_barrier);
  pthread_barrier_wait(&g_barrier);
  pthread_join(t, NULL);
  CHECK(!pending_here(SIGUSR1), "SIGUSR1 still pending at the origin after it was taken");
  printf("later: pending, then taken on node %d: ok\n", node);
}

static void* queue_taker(void* arg) {
  (void)arg;
  set_blocked(SIG_UNBLOCK, SIGUSR1);
  for (int r = 0; r < 2; ++r) {
    pthread_barrier_wait(&g_barrier);
    CHECK(wait_count(r + 1), "sigqueue %d did not reach node %d", r, gpt_node_id());
    g_code = t_code;
    g_value = t_value;
    g_pid = t_pid;
    pthread_barrier_wait(&g_barrier);
  }
  set_blocked(SIG_BLOCK, SIGUSR1);
  return NULL;
}

static void* queue_sender(void* arg) {
  union sigval v;
  v.sival_int = (int)(long)arg;
  CHECK(sigqueue(getpid(), SIGUSR1, v) == 0, "sigqueue from node %d", gpt_node_id());
  return NULL;
}

static void case_sigqueue(int node) {
  pthread_t t = start_on(node, queue_taker, NULL);
  for (int r = 0; r < 2; ++r) {
    const int value = r == 0 ? 4242 : 77;
    pthread_barrier_wait(&g_barrier);
    if (r == 0) queue_sender((void*)(long)value);
    else pthread_join(start_on(node, queue_sender, (void*)(long)value), NULL);
    pthread_barrier_wait(&g_barrier);
    CHECK(g_code == SI_QUEUE, "round %d: si_code %d, not SI_QUEUE", r, g_code);
    CHECK(g_value == value, "round %d: si_value %d, not %d", r, g_value, value);
    CHECK(g_pid == getpid(), "round %d: si_pid %d, not %d", r, g_pid, (int)getpid());
  }
  pthread_join(t, NULL);
  printf("sigqueue: values 4242 and 77 on node %d: ok\n", node);
}

static void* terminator(void* arg) {
  (void)arg;
  CHECK(kill(getpid(), SIGTERM) == 0, "kill from node %d", gpt_node_id());
  return NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "terminate") == 0) {
    /* Nothing blocks SIGTERM at the origin: its default action ends the job
     * at once, as in one process, whichever node sent it. */
    pthread_join(start_on(gpt_node_count() - 1, terminator, NULL), NULL);
    nap_us(5000000);
    printf("not terminated\n");
    return 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
  /* Every thread main creates inherits these blocked. */
  set_blocked(SIG_BLOCK, SIGUSR1);
  set_blocked(SIG_BLOCK, SIGUSR2);
  const int node = gpt_node_count() - 1;

  pthread_barrier_init(&g_barrier, NULL, 2);
  case_handler(node);
  pthread_barrier_destroy(&g_barrier);

  pthread_barrier_init(&g_barrier, NULL, 3);
  case_sigwait(node);
  pthread_barrier_destroy(&g_barrier);

  pthread_barrier_init(&g_barrier, NULL, 2);
  case_later(node);
  case_sigqueue(node);
  pthread_barrier_destroy(&g_barrier);
  return 0;
}
