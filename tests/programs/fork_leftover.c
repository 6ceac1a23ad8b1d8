/* A program that forks a child and ends without waiting for it: the job
 * must not leave the child running (the agent ends it). Prints the pid. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  pid_t child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  printf("%d\n", (int)child);
  return 0;
}
