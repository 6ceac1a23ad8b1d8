/* Reads environ, which libc copies into the program's .bss next to the
 * program's own globals: gpt-launch --preload keeps that page per node and
 * says so. The program's other globals are shared as usual. Built with
 * plain gcc -pthread. */
#include <pthread.h>
#include <stdio.h>

extern char** environ;
int near_environ;  /* likely on environ's page */

static void* count_environment(void* arg) {
  int n = 0;
  for (char** e = environ; e && *e; ++e) ++n;
  *(int*)arg = n > 0;
  return NULL;
}

int main(void) {
  int had_environment = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, count_environment, &had_environment) != 0) return 1;
  pthread_join(t, NULL);
  printf("environment seen by a thread: %s\n", had_environment ? "yes" : "no");
  return had_environment ? 0 : 3;
}
