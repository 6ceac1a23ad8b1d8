/* Test program: a real bug. argv[1] = "null" (write through a null pointer)
 * or "code" (write into the program's own code): must die of SIGSEGV with a
 * report, not hang and not be "served" as a coherence fault. Heap misuse:
 * "double_free", "free_static", "free_interior": must abort with a message
 * naming the address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The misuse is the point of this program. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

static void __attribute__((noinline)) crash_here(const char* how) {
  if (strcmp(how, "double_free") == 0) {
    char* p = malloc(40);
    printf("pointer %p\n", (void*)p);
    fflush(stdout);
    free(p);
    free(p);
  } else if (strcmp(how, "free_static") == 0) {
    static const char text[] = "read-only data";
    printf("pointer %p\n", (void*)text);
    fflush(stdout);
    free((void*)text);
  } else if (strcmp(how, "free_interior") == 0) {
    char* p = malloc(100);
    printf("pointer %p\n", (void*)(p + 16));
    fflush(stdout);
    free(p + 16);
  } else if (strcmp(how, "code") == 0) {
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
