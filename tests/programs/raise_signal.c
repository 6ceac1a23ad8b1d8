/* Test program: main kills itself with the signal number in argv[1]. */
#include <signal.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  int sig = argc > 1 ? atoi(argv[1]) : SIGABRT;
  signal(sig, SIG_DFL);
  raise(sig);
  return 99; /* not reached for fatal signals */
}
