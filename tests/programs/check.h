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
#endif
