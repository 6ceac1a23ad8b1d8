/* Test program: main reports the job and exits with the status in argv[1]. */
#include <gpthread.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  printf("main on node %d of %d\n", gpt_node_id(), gpt_node_count());
  for (int i = 2; i < argc; ++i) printf("arg: %s\n", argv[i]);
  return argc > 1 ? atoi(argv[1]) : 0;
}
