/* sem_open, sem_close, sem_unlink: one namespace for the whole job, so a
 * name opened on any node is the same semaphore. */
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>

#include "conf.h"

static void open_create_unlink(void) {
  char name[64];
  snprintf(name, sizeof name, "/conf-sem-%d", conf_case_node);
  sem_unlink(name); /* a leftover of an earlier run of the native baseline */
  errno = 0;
  EXPECT(sem_open(name, 0) == SEM_FAILED, 1);
  EXPECT(errno, ENOENT);
  sem_t* s = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
  EXPECT(s != SEM_FAILED, 1);
  if (s == SEM_FAILED) return;
  errno = 0;
  EXPECT(sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED, 1);
  EXPECT(errno, EEXIST);
  sem_t* again = sem_open(name, O_CREAT, 0600, 9); /* exists: the value is ignored */
  EXPECT(again != SEM_FAILED, 1);
  int v = -1;
  EXPECT(sem_getvalue(again, &v), 0);
  EXPECT(v, 2);
  EXPECT(sem_wait(s), 0);
  EXPECT(sem_getvalue(again, &v), 0);
  EXPECT(v, 1);
  EXPECT(sem_close(again), 0);
  EXPECT(sem_unlink(name), 0);
  EXPECT_ERRNO(sem_unlink(name), ENOENT);
  /* Unlinked but open: still usable; the name is free for a new one. */
  EXPECT(sem_post(s), 0);
  EXPECT(sem_getvalue(s, &v), 0);
  EXPECT(v, 2);
  sem_t* fresh = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
  EXPECT(fresh != SEM_FAILED && fresh != s, 1);
  EXPECT(sem_getvalue(fresh, &v), 0);
  EXPECT(v, 0);
  EXPECT(sem_close(fresh), 0);
  EXPECT(sem_unlink(name), 0);
  EXPECT(sem_close(s), 0);
}

static void bad_names(void) {
  errno = 0;
  EXPECT(sem_open("/a/b", O_CREAT, 0600, 0) == SEM_FAILED, 1);
  EXPECT(errno, EINVAL);
  char longname[NAME_MAX + 10];
  memset(longname, 'x', sizeof longname - 1);
  longname[0] = '/';
  longname[sizeof longname - 1] = 0;
  errno = 0;
  EXPECT(sem_open(longname, O_CREAT, 0600, 0) == SEM_FAILED, 1);
#ifdef __GLIBC__
  EXPECT(errno, EINVAL); /* glibc says EINVAL for every bad name */
#else
  EXPECT(errno, ENAMETOOLONG);
#endif
  errno = 0;
  EXPECT(sem_open("/conf-sem-big", O_CREAT, 0600, (unsigned)SEM_VALUE_MAX + 1u) == SEM_FAILED, 1);
  EXPECT(errno, EINVAL);
}

/* A helper on another node opens the same name and posts to it. */
static void* open_and_post(void* arg) {
  sem_t* s = sem_open((const char*)arg, 0);
  if (s == SEM_FAILED) return (void*)1;
  long err = 0;
  for (int i = 0; i < 5; ++i) err |= sem_post(s);
  err |= sem_close(s);
  return (void*)err;
}

static void one_name_across_nodes(void) {
  static char name[64];
  snprintf(name, sizeof name, "/conf-sem-x-%d", conf_case_node);
  sem_unlink(name);
  sem_t* s = sem_open(name, O_CREAT, 0600, 0);
  EXPECT(s != SEM_FAILED, 1);
  if (s == SEM_FAILED) return;
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), open_and_post, name), 0);
  for (int i = 0; i < 5; ++i) EXPECT(sem_wait(s), 0);
  void* r = (void*)1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  EXPECT(sem_close(s), 0);
  EXPECT(sem_unlink(name), 0);
}

CONF_MAIN("sem_named", {"open_create_unlink", open_create_unlink}, {"bad_names", bad_names},
          {"one_name_across_nodes", one_name_across_nodes})
