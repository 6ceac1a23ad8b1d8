/* gpt_migrate's contract, on any number of nodes: error returns, EBUSY
 * while holding a mutex, many threads hopping between nodes while sharing a
 * mutex-protected pair of counters, a migrated thread creating and joining
 * another, pthread_exit with a cleanup handler after migrating, and main
 * migrating. Prints one line; exits 1 with a reason on the first failure. */
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter_a, counter_b;
static int nodes, rounds;
static int cleanup_ran;

static void* child(void* arg) { return (void*)((long)arg * 3); }

static void* hopper(void* arg) {
  long id = (long)arg;
  long mine = 0;          /* on the stack: travels with the thread */
  char tag[16];
  snprintf(tag, sizeof tag, "hopper-%ld", id);
  const int start = gpt_self_node(); /* every hop goes to another node */
  for (int r = 0; r < rounds; ++r) {
    int to = (int)((start + r + 1) % nodes);
    CHECK(gpt_migrate(to) == 0, "%s: migrate to %d", tag, to);
    CHECK(gpt_self_node() == to, "%s: on node %d, want %d", tag, gpt_self_node(), to);
    pthread_mutex_lock(&lock);
    CHECK(counter_a == counter_b, "%s: counters differ inside the lock", tag);
    ++counter_a;
    ++counter_b;
    if (r == 0 && nodes > 1) {
      /* Holding a mutex pins the thread to its node. */
      int err = gpt_migrate((to + 1) % nodes);
      CHECK(err == EBUSY, "%s: migrate while holding a mutex gave %d", tag, err);
    }
    pthread_mutex_unlock(&lock);
    ++mine;
  }
  CHECK(strncmp(tag, "hopper-", 7) == 0, "stack contents lost");
  /* A migrated thread creates a thread (placed by the default policy) and joins it. */
  pthread_t t;
  void* r;
  CHECK(pthread_create(&t, NULL, child, (void*)id) == 0, "%s: create after migrating", tag);
  CHECK(pthread_join(t, &r) == 0 && (long)r == id * 3, "%s: join after migrating", tag);
  return (void*)mine;
}

static void note_cleanup(void* arg) { *(int*)arg = 1; }

static void* exiter(void* arg) {
  (void)arg;
  CHECK(gpt_migrate(nodes - 1) == 0, "exiter: migrate");
  pthread_cleanup_push(note_cleanup, &cleanup_ran);
  pthread_exit((void*)42L);
  pthread_cleanup_pop(0);
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  rounds = argc > 2 ? atoi(argv[2]) : 10;
  nodes = gpt_node_count();
  CHECK(gpt_migrate(-1) == EINVAL, "migrate(-1)");
  CHECK(gpt_migrate(nodes) == EINVAL, "migrate(nodes)");
  CHECK(gpt_migrate(gpt_self_node()) == 0, "migrate to where it is");

  pthread_t t[64];
  if (threads > 64) threads = 64;
  for (long i = 0; i < threads; ++i) CHECK(pthread_create(&t[i], NULL, hopper, (void*)i) == 0, "create %ld", i);
  long total = 0;
  for (int i = 0; i < threads; ++i) {
    void* r;
    CHECK(pthread_join(t[i], &r) == 0, "join %d", i);
    CHECK((long)r == rounds, "hopper %d counted %ld", i, (long)r);
    total += (long)r;
  }
  CHECK(counter_a == total && counter_b == total, "counters %ld/%ld, want %ld", counter_a, counter_b, total);

  pthread_t e;
  void* r;
  CHECK(pthread_create(&e, NULL, exiter, NULL) == 0, "create exiter");
  CHECK(pthread_join(e, &r) == 0 && (long)r == 42, "exiter's result");
  CHECK(cleanup_ran == 1, "cleanup handler after migrating");

  /* main too: away and back, with a thread created while away. */
  int away = nodes - 1;
  CHECK(gpt_migrate(away) == 0 && gpt_self_node() == away, "main away");
  CHECK(pthread_create(&e, NULL, child, (void*)5L) == 0 && pthread_join(e, &r) == 0 && (long)r == 15,
        "main creates a thread while away");
  CHECK(gpt_migrate(0) == 0 && gpt_self_node() == 0, "main back");

  printf("%d threads x %d hops on %d nodes: counter %ld\n", threads, rounds, nodes, counter_a);
  return 0;
}
