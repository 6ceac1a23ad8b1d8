/* Globals, initialised and zeroed, written by one thread (GPT_PLACEMENT
 * puts it on another node) and read by main after the join; the heap too.
 * Writes to stderr and stdout by name, so that libc's stdout/stderr are
 * copied into the program's .bss next to its own globals. Built with plain
 * gcc -pthread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_of.h"

int initialised = 7;
char message[64] = "written by nobody";
static long zeroed[3000];  /* several pages of .bss */
static char* from_heap;
static int writer_node = -1;

static void* write_globals(void* arg) {
  (void)arg;
  writer_node = node_of_this_thread();
  initialised = 42;
  snprintf(message, sizeof message, "written on node %d", writer_node);
  for (int i = 0; i < 3000; ++i) zeroed[i] = i * 3L;
  from_heap = malloc(32);
  strcpy(from_heap, "heap");
  fprintf(stderr, "writer: on node %d\n", writer_node);
  return NULL;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, write_globals, NULL) != 0) return 1;
  pthread_join(t, NULL);
  long sum = 0;
  for (int i = 0; i < 3000; ++i) sum += zeroed[i];
  const int ok = initialised == 42 && sum == 3L * 2999 * 3000 / 2 && from_heap && strcmp(from_heap, "heap") == 0;
  /* The runtime took itself out of the environment programs started from here inherit. */
  fprintf(stdout, "main on node %d: initialised %d, message '%s', zeroed sum %ld, heap '%s', LD_PRELOAD %s\n",
          node_of_this_thread(), initialised, message, sum, from_heap ? from_heap : "(null)",
          getenv("LD_PRELOAD") ? "set" : "clean");
  return ok ? 0 : 3;
}
