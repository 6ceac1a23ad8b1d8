/* migrate: one thread walks every node with gpt_migrate and back to where
 * it started, carrying state that lives on its stack (an array and a
 * pointer into it), in a __thread variable, in a thread-specific value and
 * in errno (whose addresses do not change). At each stop it checks all of it, adds to a running checksum
 * on its stack, and notes the node. main also migrates to the last node
 * and back. stdout is the same on any number of nodes (and with the
 * system's pthreads); the route goes to stderr. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_id.h"

#ifdef GPTHREAD
static int move_to(int node) { return gpt_migrate(node); }
#else
static int move_to(int node) { return node == 0 ? 0 : -1; }
#endif

enum { kWords = 2048 }; /* 16 KiB of live stack */

static __thread long hops_tls;
static pthread_key_t key;
static int route[130];

static int check(const long* words, const long* cursor, pthread_t self, int hop) {
  for (int i = 0; i < kWords; ++i)
    if (words[i] != (long)i * 7 + hop) return 0;
  return cursor == &words[kWords / 2] && hops_tls == hop && pthread_getspecific(key) == &key &&
         pthread_equal(self, pthread_self()) && errno == 1000 + hop;
}

static void* walker(void* arg) {
  (void)arg;
  long words[kWords];
  long* cursor = &words[kWords / 2];
  pthread_t self = pthread_self();
  pthread_setspecific(key, &key);
  long checksum = 0;
  int nodes = sample_nodes(), start = sample_node(), ok = 1;
  int stops = nodes < 64 ? nodes : 64;
  for (int hop = 0; hop <= stops; ++hop) {
    int to = (start + hop) % nodes;
    for (int i = 0; i < kWords; ++i) words[i] = (long)i * 7 + hop;
    hops_tls = hop;
    long* tls_var = &hops_tls; /* pointers into TLS stay valid: the thread's */
    int* err = &errno;         /* TLS has the same address on every node */
    errno = 1000 + hop;
    if (move_to(to) != 0) ok = 0;
    route[hop] = sample_node();
    if (route[hop] != to || !check(words, cursor, self, hop)) ok = 0;
    if (*tls_var != hop || err != &errno || *err != 1000 + hop) ok = 0;
    checksum += *cursor + words[kWords - 1];
  }
  long want = 0;
  for (int hop = 0; hop <= stops; ++hop) want += (long)(kWords / 2) * 7 + hop + (long)(kWords - 1) * 7 + hop;
  return (void*)(long)(ok && checksum == want);
}

int main(void) {
  pthread_key_create(&key, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, walker, NULL) != 0) return 2;
  void* ok;
  pthread_join(t, &ok);
  int nodes = sample_nodes(), stops = nodes < 64 ? nodes : 64;
  for (int hop = 0; hop <= stops; ++hop) fprintf(stderr, "hop %d: node %d\n", hop, route[hop]);

  /* main itself: to the last node and home again, with a local that says so. */
  char where[32];
  int last = nodes - 1, main_ok = 1;
  snprintf(where, sizeof where, "from node %d", sample_node());
  if (move_to(last) != 0 || sample_node() != last) main_ok = 0;
  if (move_to(0) != 0 || sample_node() != 0 || strcmp(where, "from node 0") != 0) main_ok = 0;

  int good = ok && main_ok;
  printf("migrate: a thread visited every node and came back with its stack, TLS, key and errno: %s\n",
         good ? "ok" : "WRONG");
  return good ? 0 : 1;
}
