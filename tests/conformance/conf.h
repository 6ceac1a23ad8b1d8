/* The conformance programs' checks: every pthread_ and sem_ call's return
 * value and errno as the Open Group's pages specify (and as glibc's own
 * pthreads answer where POSIX leaves a choice). A failed check is reported
 * and counted, not fatal, so one run lists every difference; the program's
 * exit status is 1 if any check failed.
 *
 * Each case runs twice: in a thread on node 0 and in a thread on the
 * job's last node, so on 2 and 4 nodes the same calls cross nodes. Cases
 * run one after the other; only the case's own thread records checks (its
 * helpers hand their results back through join), so the counters need no
 * lock: the join that ends a case publishes them. */
#ifndef TESTS_CONFORMANCE_CONF_H
#define TESTS_CONFORMANCE_CONF_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int conf_checks;
static int conf_failures;
static const char* conf_case = "";
static int conf_case_node;

static inline void conf_fail(const char* file, int line, const char* expr, long got, long want) {
  ++conf_failures;
  fprintf(stderr, "FAIL %s:%d [%s on node %d]: %s = %ld (%s), want %ld (%s)\n", file, line, conf_case,
          conf_case_node, expr, got, got > 0 && got < 200 ? strerror((int)got) : "-", want,
          want > 0 && want < 200 ? strerror((int)want) : "-");
}

/* EXPECT(expr, want): expr (a return value, an errno or a count) must equal want. */
#define EXPECT(expr, want)                                                           \
  do {                                                                               \
    long conf_got_ = (long)(expr), conf_want_ = (long)(want);                        \
    ++conf_checks;                                                                   \
    if (conf_got_ != conf_want_) conf_fail(__FILE__, __LINE__, #expr, conf_got_, conf_want_); \
  } while (0)

/* EXPECT_TRUE(cond): a condition on measured values (times, orders). */
#define EXPECT_TRUE(cond)                                                 \
  do {                                                                    \
    ++conf_checks;                                                        \
    if (!(cond)) {                                                        \
      ++conf_failures;                                                    \
      fprintf(stderr, "FAIL %s:%d [%s on node %d]: %s is false\n", __FILE__, __LINE__, conf_case, \
              conf_case_node, #cond);                                     \
    }                                                                     \
  } while (0)

/* EXPECT_ERRNO(expr, want): expr returns -1 and sets errno to want. */
#define EXPECT_ERRNO(expr, want)                                                    \
  do {                                                                              \
    errno = 0;                                                                      \
    long conf_r_ = (long)(expr);                                                    \
    int conf_e_ = errno;                                                            \
    ++conf_checks;                                                                  \
    if (conf_r_ != -1 || conf_e_ != (want)) conf_fail(__FILE__, __LINE__, #expr " errno", conf_r_ == -1 ? conf_e_ : 0, want); \
  } while (0)

/* An absolute CLOCK_REALTIME (or `clock`) time `ms` from now. */
static inline struct timespec conf_in_ms(clockid_t clock, long ms) {
  struct timespec t;
  clock_gettime(clock, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec += 1;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

static inline long conf_ms_since(const struct timespec* start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* A short pause (nanosleep, resumed after a signal), so a cancel or signal
 * sent next reaches a thread that is blocked by then. */
static inline void conf_pause_ms(long ms) {
  struct timespec t = {0, ms * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

/* pthread_join's result, or -error as a pointer when the join failed. */
static inline void* conf_join_result(pthread_t t) {
  void* r = NULL;
  int err = pthread_join(t, &r);
  return err == 0 ? r : (void*)(long)-err;
}

/* Starts fn(arg) in a thread on `node` (any node if gpthread has one node). */
static inline int conf_start_on(pthread_t* t, int node, void* (*fn)(void*), void* arg) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  if (node < gpt_node_count()) gpt_attr_setnode(&a, node);
  int r = pthread_create(t, &a, fn, arg);
  pthread_attr_destroy(&a);
  return r;
}

/* The node a case's helper threads go to: another node than the case's own
 * when there is one, so waits and wake-ups cross the network. */
static inline int conf_other_node(void) {
  int n = gpt_node_count();
  return n > 1 ? (conf_case_node + 1) % n : 0;
}

struct conf_case_def {
  const char* name;
  void (*fn)(void);
};

static void* conf_run_case(void* arg) {
  ((const struct conf_case_def*)arg)->fn();
  return NULL;
}

/* Runs every case on node 0 and on the last node; prints the tally. */
static inline int conf_main(const char* suite, const struct conf_case_def* cases, int count) {
  int nodes[2] = {0, gpt_node_count() - 1};
  int runs = nodes[1] == 0 ? 1 : 2;
  for (int r = 0; r < runs; ++r) {
    for (int i = 0; i < count; ++i) {
      conf_case = cases[i].name;
      conf_case_node = nodes[r];
      pthread_t t;
      if (conf_start_on(&t, nodes[r], conf_run_case, (void*)&cases[i]) != 0) {
        fprintf(stderr, "FAIL [%s]: cannot start its thread\n", cases[i].name);
        ++conf_failures;
        continue;
      }
      pthread_join(t, NULL);
    }
  }
  printf("%s: %d checks, %d failed\n", suite, conf_checks, conf_failures);
  fflush(stdout);
  return conf_failures ? 1 : 0;
}

#define CONF_MAIN(suite, ...)                                          \
  int main(void) {                                                     \
    static const struct conf_case_def cases[] = {__VA_ARGS__};         \
    return conf_main(suite, cases, (int)(sizeof cases / sizeof cases[0])); \
  }
#endif
