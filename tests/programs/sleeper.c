/* Test program: main says it is ready, then waits for a signal (the tests
 * kill it, or its launcher, and check what happens to the job). */
#include <gpthread.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("ready on %d nodes\n", gpt_node_count());
  fflush(stdout);
  for (;;) pause();
}
