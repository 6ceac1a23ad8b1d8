/* hello: the first program to run under gpt-launch.
 * main() runs once, on node 0, and reports the size of the job. */
#include <gpthread.h>
#include <stdio.h>

int main(void) {
  int nodes = gpt_node_count();
  printf("hello from node %d: this job runs on %d node%s\n", gpt_node_id(), nodes,
         nodes == 1 ? "" : "s");
  return gpt_node_id() == 0 ? 0 : 1; /* main runs on the origin only */
}
