/* C11 threads, which glibc implements inside libc: gpt-launch --preload
 * says they stay on node 0, and the program still runs correctly there.
 * Built with plain gcc -pthread. */
#include <stdio.h>
#include <threads.h>

static mtx_t lock;
static long counter;

static int add(void* arg) {
  (void)arg;
  for (int i = 0; i < 1000; ++i) {
    mtx_lock(&lock);
    ++counter;
    mtx_unlock(&lock);
  }
  return 0;
}

int main(void) {
  thrd_t t[4];
  if (mtx_init(&lock, mtx_plain) != thrd_success) return 1;
  for (int i = 0; i < 4; ++i) thrd_create(&t[i], add, NULL);
  for (int i = 0; i < 4; ++i) thrd_join(t[i], NULL);
  printf("counter %ld\n", counter);
  return counter == 4000 ? 0 : 3;
}
