/* malloc under a data-size limit returns NULL with ENOMEM, as the libc's
 * does, instead of growing the heap or ending the program: in a fork child
 * that limits its address space and data before it allocates (the POSIX
 * suite's out-of-memory tests), and in the job itself (RLIMIT_DATA). */
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Allocates 64-byte objects until malloc fails; returns how many. */
static long exhaust(void) {
  void* prev = NULL;
  void* cur;
  long n = 0;
  errno = 0;
  while ((cur = malloc(64))) {
    *(void**)cur = prev;
    prev = cur;
    if (++n > 40L * 1000 * 1000) return -1; /* 2.5 GB: the limit did not hold */
  }
  int error = errno;
  while (prev) {
    void* next = *(void**)prev;
    free(prev);
    prev = next;
  }
  errno = error;
  return n;
}

int main(void) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    struct rlimit rl = {8 << 20, 8 << 20};
    if (setrlimit(RLIMIT_DATA, &rl) != 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
    long n = exhaust();
    if (n < 0) _exit(4);
    if (errno != ENOMEM) _exit(5);
    pthread_cond_t cond;
    int rc = pthread_cond_init(&cond, NULL);
    _exit(rc == 0 || rc == ENOMEM ? 0 : 6);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the fork child: status %#x", status);

  struct rlimit was;
  CHECK(getrlimit(RLIMIT_DATA, &was) == 0, "getrlimit");
  struct rlimit small = {64 << 20, was.rlim_max};
  CHECK(setrlimit(RLIMIT_DATA, &small) == 0, "setrlimit");
  long n = exhaust();
  CHECK(n >= 0, "malloc went on past RLIMIT_DATA");
  CHECK(errno == ENOMEM, "malloc failed with errno %d", errno);
  CHECK(setrlimit(RLIMIT_DATA, &was) == 0, "setrlimit back");
  void* p = malloc(1 << 20);
  CHECK(p != NULL, "malloc after the limit was lifted");
  free(p);
  printf("data limit: ok\n");
  return 0;
}
