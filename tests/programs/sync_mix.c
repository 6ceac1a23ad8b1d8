/* Everything at once, to shake out races between the coherence shortcuts:
 * threads on every node, in rounds, take a mutex node 0 manages and one the
 * last node manages (each guarding a pair of counters that must always be
 * equal), hand heap blocks to each other through a mailbox (so they are
 * freed on other nodes than their home), post and wait a semaphore (and use
 * one the last node manages as a lock), meet at
 * barriers (one global, one the last node manages) where each checks what
 * every other wrote before it, and migrate now and then.
 * Usage: sync_mix THREADS ROUNDS. Prints one line; exits 1 on a mismatch. */
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAX_THREADS 64
enum { kBlockBytes = 200 };

static int g_threads, g_rounds;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_pair[2];
static pthread_mutex_t* h_lock;  /* in memory the last node allocated */
static long* h_pair;              /* likewise */
static unsigned char* g_mailbox[MAX_THREADS];  /* under h_lock */
static long g_delivered;                       /* under h_lock */
static sem_t g_sem;
static sem_t* h_sem;  /* managed by the last node */
static long* h_sem_pair;
static pthread_barrier_t g_barrier;
static pthread_barrier_t* h_barrier;
static long g_marks[MAX_THREADS];

static void fill(unsigned char* b, long tag) {
  for (int i = 0; i < kBlockBytes; ++i) b[i] = (unsigned char)(tag * 31 + i);
}

static void check_block(const unsigned char* b) {
  long tag = -1;
  for (long t = 0; t < 256 && tag < 0; ++t)
    if (b[0] == (unsigned char)(t * 31)) tag = t;
  for (int i = 0; i < kBlockBytes; ++i)
    CHECK(b[i] == (unsigned char)(tag * 31 + i), "a block handed over has byte %d = %u", i, b[i]);
}

static void* worker(void* arg) {
  const long me = (long)arg;
  for (int r = 0; r < g_rounds; ++r) {
    pthread_mutex_lock(&g_lock);
    CHECK(g_pair[0] == g_pair[1], "node 0's pair %ld != %ld", g_pair[0], g_pair[1]);
    ++g_pair[0];
    ++g_pair[1];
    pthread_mutex_unlock(&g_lock);

    unsigned char* mine = malloc(kBlockBytes);
    fill(mine, (me + r) % 256);
    pthread_mutex_lock(h_lock);
    CHECK(h_pair[0] == h_pair[1], "the last node's pair %ld != %ld", h_pair[0], h_pair[1]);
    ++h_pair[0];
    ++h_pair[1];
    const long to = (me + 1 + r) % g_threads;
    unsigned char* theirs = g_mailbox[me];
    g_mailbox[me] = NULL;
    if (g_mailbox[to] == NULL) {
      g_mailbox[to] = mine;
      mine = NULL;
    }
    pthread_mutex_unlock(h_lock);
    if (theirs) {
      check_block(theirs);
      free(theirs);
      pthread_mutex_lock(h_lock);
      ++g_delivered;
      pthread_mutex_unlock(h_lock);
    }
    free(mine);

    sem_post(&g_sem);
    sem_wait(&g_sem);
    /* The last node's semaphore as a lock (initial value 1) over a pair on
     * its heap: a wait must see what the previous poster wrote. */
    sem_wait(h_sem);
    CHECK(h_sem_pair[0] == h_sem_pair[1], "the semaphore's pair %ld != %ld", h_sem_pair[0], h_sem_pair[1]);
    ++h_sem_pair[0];
    ++h_sem_pair[1];
    sem_post(h_sem);

    if (r % 4 == 3) {
      pthread_barrier_t* b = (r / 4) % 2 ? h_barrier : &g_barrier;
      g_marks[me] = r;
      pthread_barrier_wait(b);
      for (int k = 0; k < g_threads; ++k)
        CHECK(g_marks[k] == r, "round %d: thread %ld on node %d sees mark %d = %ld", r, me,
              gpt_self_node(), k, g_marks[k]);
      pthread_barrier_wait(b);
    }
    if (r % 5 == 4) gpt_migrate((gpt_self_node() + 1) % gpt_node_count());
  }
  return NULL;
}

static void* set_up_elsewhere(void* arg) {
  (void)arg;
  h_lock = malloc(sizeof *h_lock);
  pthread_mutex_init(h_lock, NULL);
  h_pair = calloc(2, sizeof *h_pair);
  h_sem = malloc(sizeof *h_sem);
  sem_init(h_sem, 0, 1);
  h_sem_pair = calloc(2, sizeof *h_sem_pair);
  h_barrier = malloc(sizeof *h_barrier);
  pthread_barrier_init(h_barrier, NULL, (unsigned)g_threads);
  return NULL;
}

int main(int argc, char** argv) {
  g_threads = argc > 1 ? atoi(argv[1]) : 16;
  g_rounds = argc > 2 ? atoi(argv[2]) : 40;
  if (g_threads > MAX_THREADS) g_threads = MAX_THREADS;
  sem_init(&g_sem, 0, 0);
  pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
  run_on_node(gpt_node_count() - 1, set_up_elsewhere, NULL);
  pthread_t t[MAX_THREADS];
  for (long i = 0; i < g_threads; ++i) CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0, "create");
  for (int i = 0; i < g_threads; ++i) pthread_join(t[i], NULL);
  const long want = (long)g_threads * g_rounds;
  CHECK(g_pair[0] == want && g_pair[1] == want, "node 0's pair %ld/%ld, want %ld", g_pair[0], g_pair[1], want);
  CHECK(h_pair[0] == want && h_pair[1] == want, "the last node's pair %ld/%ld, want %ld", h_pair[0], h_pair[1], want);
  int left;
  sem_getvalue(&g_sem, &left);
  CHECK(left == 0, "semaphore left at %d", left);
  sem_getvalue(h_sem, &left);
  CHECK(left == 1, "the last node's semaphore left at %d", left);
  CHECK(h_sem_pair[0] == want && h_sem_pair[1] == want, "the semaphore's pair %ld/%ld, want %ld",
        h_sem_pair[0], h_sem_pair[1], want);
  long in_boxes = 0;
  for (int i = 0; i < g_threads; ++i) in_boxes += g_mailbox[i] != NULL;
  CHECK(g_delivered + in_boxes > 0, "no block was handed over");
  printf("%d threads x %d rounds on %d nodes: ok\n", g_threads, g_rounds, gpt_node_count());
  return 0;
}
