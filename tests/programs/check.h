/* CHECK(cond, fmt, ...): the test programs' assertion. On failure it says
 * what and where on stderr and exits 1, so the launcher's status shows it. */
#ifndef TESTS_PROGRAMS_CHECK_H
#define TESTS_PROGRAMS_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                         \
  do {                                           \
    if (!(cond)) {                               \
      fprintf(stderr, "FAILED: " __VA_ARGS__);   \
      fprintf(stderr, " (line %d)\n", __LINE__); \
      exit(1);                                   \
    }                                            \
  } while (0)

#include <gpthread.h>
#include <pthread.h>

/* Runs fn(arg) in a thread on `node` and waits for it: how a test gets
 * memory another node allocated (and so manages or is home of). */
static inline void *run_on_node(int node, void *(*fn)(void *), void *arg) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, node);
  pthread_t t;
  void *result = NULL;
  CHECK(pthread_create(&t, &a, fn, arg) == 0, "pthread_create on node %d", node);
  pthread_join(t, &result);
  pthread_attr_destroy(&a);
  return result;
}
/* The mapping tests' error cases: a call that must fail with `want` (its
 * failed value, e.g. -1 or MAP_FAILED); a miss is counted in c->failures,
 * where `c` is the case's struct error_case. */
#include <errno.h>
#include <string.h>
struct error_case {
  const char *dir;
  int failures;
};
#define EXPECT_ERRNO(call, failed_value, want)                                                    \
  do {                                                                                            \
    errno = 0;                                                                                    \
    if ((call) != (failed_value) || errno != (want)) {                                            \
      fprintf(stderr, "node %d: %s: errno %d (%s), expected %d\n", gpt_self_node(), #call, errno, \
              strerror(errno), want);                                                             \
      ++c->failures;                                                                              \
    }                                                                                             \
  } while (0)
#endif

