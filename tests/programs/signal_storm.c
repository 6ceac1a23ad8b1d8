/* Signals that find a thread inside gpthread's release: a thread on the last
 * node locks, dirties a new page of a global array and unlocks (each unlock
 * releases, holding the node's locks) while main sends it SIGUSR1 over and
 * over; the handler writes a global, so it faults. The handler must run
 * only once the release is done (it waited for its own thread before).
 * Also: sigaction reports the program's handler back, and SA_RESETHAND
 * runs a handler once. */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "check.h"

static volatile long g_handled;
static volatile int g_winched;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_data[8 * 512]; /* 8 pages */
static volatile int g_stop;

static void on_usr1(int sig) { (void)sig; g_handled++; }
static void on_winch(int sig, siginfo_t* info, void* context) {
  (void)sig, (void)info, (void)context;
  g_winched++;
}

static void* worker(void* arg) {
  (void)arg;
  for (long i = 0; !g_stop; ++i) {
    pthread_mutex_lock(&g_lock);
    g_data[(i * 512) % (8 * 512)] += 1;
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

int main(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
  CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_usr1 && !(old.sa_flags & SA_SIGINFO),
        "sigaction reports the program's handler");

  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_winch;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  CHECK(sigaction(SIGWINCH, &sa, NULL) == 0, "sigaction SA_RESETHAND");
  CHECK(sigaction(SIGWINCH, NULL, &old) == 0 && old.sa_sigaction == on_winch &&
            (old.sa_flags & (SA_SIGINFO | SA_RESETHAND)) == (SA_SIGINFO | SA_RESETHAND),
        "sigaction reports SA_SIGINFO | SA_RESETHAND");
  raise(SIGWINCH);
  CHECK(sigaction(SIGWINCH, NULL, &old) == 0 && old.sa_handler == SIG_DFL, "SA_RESETHAND reset the handler");
  raise(SIGWINCH); /* ignored by default */
  CHECK(g_winched == 1, "the SA_RESETHAND handler ran %d times", g_winched);

  pthread_attr_t there;
  pthread_attr_init(&there);
  gpt_attr_setnode(&there, gpt_node_count() - 1);
  pthread_t t;
  CHECK(pthread_create(&t, &there, worker, NULL) == 0, "pthread_create");
  for (int i = 0; i < 1000; ++i) {
    CHECK(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
    struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
  }
  pthread_mutex_lock(&g_lock);
  g_stop = 1;
  pthread_mutex_unlock(&g_lock);
  pthread_join(t, NULL);
  CHECK(g_handled > 0, "no signal was handled");
  long sum = 0;
  for (int i = 0; i < 8; ++i) sum += g_data[i * 512];
  CHECK(sum > 0, "the worker made no progress");
  printf("signal storm: ok\n");
  return 0;
}
