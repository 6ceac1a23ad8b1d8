/* Test program: copies stdin to stdout (stdin belongs to node 0). */
#include <stdio.h>

int main(void) {
  int c;
  while ((c = getchar()) != EOF) putchar(c);
  return 0;
}
