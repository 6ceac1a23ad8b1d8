/* Test program: main reports the job and exits with the status in argv[1].
 * With GPT_TEST_LATE_MS set, every node but 0 (SPMD) waits that long before
 * it returns, its line still in its stdio buffer. */
#include <gpthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  printf("main on node %d of %d\n", gpt_node_id(), gpt_node_count());
  for (int i = 2; i < argc; ++i) printf("arg: %s\n", argv[i]);
  const char* late = getenv("GPT_TEST_LATE_MS");
  if (late && gpt_node_id() != 0) {
    long ms = atol(late);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
  }
  return argc > 1 ? atoi(argv[1]) : 0;
}
