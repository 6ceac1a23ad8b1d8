/* Test program: main says it is ready, then sleeps until killed (or until
 * argv[1] seconds pass, then exits 0). */
#include <gpthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  printf("ready on %d nodes\n", gpt_node_count());
  fflush(stdout);
  unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 3600;
  while (seconds > 0) seconds = sleep(seconds);
  return 0;
}
