/* Unlocking a lock another thread holds. A normal (default) mutex or a
 * spinlock: any thread unlocks it (0) as with glibc, on any node, and the
 * next taker gets it and sees what the unlocker wrote before (a normal
 * mutex used as a binary semaphore: a "done" latch). POSIX leaves that
 * undefined; it requires EPERM for errorcheck, recursive and robust
 * mutexes. The mutex's locker may migrate once it is unlocked.
 *
 * The case's thread A locks; B, on another node, unlocks; C, on a third
 * node (A's own on 2 nodes), takes the lock next. */
#include "conf.h"

enum { kWritten = 4242 };

struct shared {
  pthread_mutex_t m;
  pthread_spinlock_t s;
  int data;
};

static int third_node(void) {
  int n = gpt_node_count();
  return n > 1 ? (conf_case_node + 2) % n : 0;
}

static long join_long(pthread_t t) { return (long)conf_join_result(t); }

/* B: writes, then unlocks a lock it never locked. */
static void* write_and_unlock_mutex(void* arg) {
  struct shared* sh = arg;
  sh->data = kWritten;
  return (void*)(long)pthread_mutex_unlock(&sh->m);
}

static void* write_and_unlock_spin(void* arg) {
  struct shared* sh = arg;
  sh->data = kWritten;
  return (void*)(long)pthread_spin_unlock(&sh->s);
}

/* C: takes the lock; returns what it read under it, or -error. */
static void* lock_and_read_mutex(void* arg) {
  struct shared* sh = arg;
  int err = pthread_mutex_lock(&sh->m);
  if (err) return (void*)(long)-err;
  long seen = sh->data;
  err = pthread_mutex_unlock(&sh->m);
  return (void*)(err ? (long)-err : seen);
}

static void* lock_and_read_spin(void* arg) {
  struct shared* sh = arg;
  int err = pthread_spin_lock(&sh->s);
  if (err) return (void*)(long)-err;
  long seen = sh->data;
  err = pthread_spin_unlock(&sh->s);
  return (void*)(err ? (long)-err : seen);
}

static struct shared* new_shared(const pthread_mutexattr_t* attr) {
  struct shared* sh = calloc(1, sizeof *sh);
  EXPECT(pthread_mutex_init(&sh->m, attr), 0);
  EXPECT(pthread_spin_init(&sh->s, PTHREAD_PROCESS_PRIVATE), 0);
  return sh;
}

static void free_shared(struct shared* sh) {
  EXPECT(pthread_mutex_destroy(&sh->m), 0);
  EXPECT(pthread_spin_destroy(&sh->s), 0);
  free(sh);
}

/* A locks, B unlocks elsewhere, then C locks and sees B's write; A moves. */
static void normal_unlocked_elsewhere(void) {
  struct shared* sh = new_shared(NULL);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  if (gpt_node_count() > 1) EXPECT(gpt_migrate(conf_other_node()), EBUSY); /* held: pinned */
  pthread_t b, c;
  EXPECT(conf_start_on(&b, conf_other_node(), write_and_unlock_mutex, sh), 0);
  EXPECT(join_long(b), 0);
  EXPECT(conf_start_on(&c, third_node(), lock_and_read_mutex, sh), 0);
  EXPECT(join_long(c), kWritten);
  EXPECT(pthread_mutex_trylock(&sh->m), 0);
  EXPECT(pthread_mutex_unlock(&sh->m), 0);
  /* A's lock was ended by others: A is free to move, and back. */
  EXPECT(gpt_migrate(conf_other_node()), 0);
  EXPECT(gpt_self_node(), conf_other_node());
  EXPECT(gpt_migrate(conf_case_node), 0);
  free_shared(sh);
}

/* C waits for the lock first; B's unlock hands it to C. */
static void normal_waiter_gets_it(void) {
  struct shared* sh = new_shared(NULL);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  pthread_t b, c;
  EXPECT(conf_start_on(&c, third_node(), lock_and_read_mutex, sh), 0);
  conf_pause_ms(50); /* C is most likely blocked by now */
  EXPECT(conf_start_on(&b, conf_other_node(), write_and_unlock_mutex, sh), 0);
  EXPECT(join_long(b), 0);
  EXPECT(join_long(c), kWritten);
  free_shared(sh);
}

/* The latch: A locks, B does the work and unlocks, A's second lock waits
 * for it and sees the work. */
static void normal_as_latch(void) {
  struct shared* sh = new_shared(NULL);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  pthread_t b;
  EXPECT(conf_start_on(&b, conf_other_node(), write_and_unlock_mutex, sh), 0);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  EXPECT(sh->data, kWritten);
  EXPECT(pthread_mutex_unlock(&sh->m), 0);
  EXPECT(join_long(b), 0);
  EXPECT(gpt_migrate(conf_other_node()), 0);
  EXPECT(gpt_migrate(conf_case_node), 0);
  free_shared(sh);
}

/* B on A's own node: A is not pinned by a lock it no longer holds. */
static void normal_unlocked_on_same_node(void) {
  struct shared* sh = new_shared(NULL);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  pthread_t b;
  EXPECT(conf_start_on(&b, conf_case_node, write_and_unlock_mutex, sh), 0);
  EXPECT(join_long(b), 0);
  EXPECT(gpt_migrate(conf_other_node()), 0);
  EXPECT(sh->data, kWritten);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  EXPECT(pthread_mutex_unlock(&sh->m), 0);
  EXPECT(gpt_migrate(conf_case_node), 0);
  free_shared(sh);
}

/* More normal mutexes held at once than the locker tracks one by one
 * (normal_holds.cc): pinned while any is held, free once it unlocked them. */
static void many_held_then_unlocked(void) {
  enum { kMany = 12 };
  pthread_mutex_t* m = calloc(kMany, sizeof *m);
  for (int i = 0; i < kMany; ++i) EXPECT(pthread_mutex_init(&m[i], NULL), 0);
  for (int i = 0; i < kMany; ++i) EXPECT(pthread_mutex_lock(&m[i]), 0);
  if (gpt_node_count() > 1) EXPECT(gpt_migrate(conf_other_node()), EBUSY);
  for (int i = 0; i < kMany - 1; ++i) EXPECT(pthread_mutex_unlock(&m[i]), 0);
  if (gpt_node_count() > 1) EXPECT(gpt_migrate(conf_other_node()), EBUSY);
  EXPECT(pthread_mutex_unlock(&m[kMany - 1]), 0);
  EXPECT(gpt_migrate(conf_other_node()), 0);
  EXPECT(gpt_migrate(conf_case_node), 0);
  for (int i = 0; i < kMany; ++i) EXPECT(pthread_mutex_destroy(&m[i]), 0);
  free(m);
}

static void spin_unlocked_elsewhere(void) {
  struct shared* sh = new_shared(NULL);
  EXPECT(pthread_spin_lock(&sh->s), 0);
  pthread_t b, c;
  EXPECT(conf_start_on(&b, conf_other_node(), write_and_unlock_spin, sh), 0);
  EXPECT(join_long(b), 0);
  EXPECT(conf_start_on(&c, third_node(), lock_and_read_spin, sh), 0);
  EXPECT(join_long(c), kWritten);
  EXPECT(pthread_spin_trylock(&sh->s), 0);
  EXPECT(pthread_spin_unlock(&sh->s), 0);
  /* And with C already spinning when B unlocks. */
  EXPECT(pthread_spin_lock(&sh->s), 0);
  sh->data = 0;
  EXPECT(conf_start_on(&c, third_node(), lock_and_read_spin, sh), 0);
  conf_pause_ms(50);
  EXPECT(conf_start_on(&b, conf_other_node(), write_and_unlock_spin, sh), 0);
  EXPECT(join_long(b), 0);
  EXPECT(join_long(c), kWritten);
  free_shared(sh);
}

/* B: unlocks a mutex it does not own; returns the error. */
static void* unlock_not_owner(void* arg) { return (void*)(long)pthread_mutex_unlock(arg); }

static void owned_types_refuse(int type, int robust) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, type);
  if (robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  struct shared* sh = new_shared(&a);
  pthread_mutexattr_destroy(&a);
  EXPECT(pthread_mutex_lock(&sh->m), 0);
  pthread_t b;
  EXPECT(conf_start_on(&b, conf_other_node(), unlock_not_owner, &sh->m), 0);
  EXPECT(join_long(b), EPERM);
  EXPECT(conf_start_on(&b, conf_case_node, unlock_not_owner, &sh->m), 0);
  EXPECT(join_long(b), EPERM);
  EXPECT(pthread_mutex_trylock(&sh->m), type == PTHREAD_MUTEX_RECURSIVE ? 0 : EBUSY);
  if (type == PTHREAD_MUTEX_RECURSIVE) EXPECT(pthread_mutex_unlock(&sh->m), 0);
  EXPECT(pthread_mutex_unlock(&sh->m), 0);
  free_shared(sh);
}

static void errorcheck_refuses(void) { owned_types_refuse(PTHREAD_MUTEX_ERRORCHECK, 0); }
static void recursive_refuses(void) { owned_types_refuse(PTHREAD_MUTEX_RECURSIVE, 0); }
static void robust_refuses(void) { owned_types_refuse(PTHREAD_MUTEX_NORMAL, 1); }

CONF_MAIN("unlock", {"normal_unlocked_elsewhere", normal_unlocked_elsewhere},
          {"normal_waiter_gets_it", normal_waiter_gets_it}, {"normal_as_latch", normal_as_latch},
          {"normal_unlocked_on_same_node", normal_unlocked_on_same_node},
          {"many_held_then_unlocked", many_held_then_unlocked},
          {"spin_unlocked_elsewhere", spin_unlocked_elsewhere}, {"errorcheck_refuses", errorcheck_refuses},
          {"recursive_refuses", recursive_refuses}, {"robust_refuses", robust_refuses})
