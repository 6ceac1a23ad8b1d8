/* Test program: a real bug. argv[1] = "null" (write through a null pointer)
 * or "code" (write into the program's own code). Must die of SIGSEGV with a
 * report, not hang and not be "served" as a coherence fault. */
#include <stdio.h>
#include <string.h>

static void __attribute__((noinline)) crash_here(const char* how) {
  if (strcmp(how, "code") == 0) {
    volatile unsigned char* code = (volatile unsigned char*)(void*)&crash_here;
    code[0] = 0xc3;
  } else {
    volatile int* p = 0;
    *p = 1;
  }
}

int main(int argc, char** argv) {
  printf("about to crash\n");
  fflush(stdout);
  crash_here(argc > 1 ? argv[1] : "null");
  return 0;
}
