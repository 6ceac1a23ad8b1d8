/* pthread_rwlock_* and pthread_rwlockattr_*. */
#include "conf.h"

static void attributes(void) {
  pthread_rwlockattr_t a;
  int v = -1;
  EXPECT(pthread_rwlockattr_init(&a), 0);
  EXPECT(pthread_rwlockattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_PRIVATE);
  EXPECT(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
  EXPECT(pthread_rwlockattr_getpshared(&a, &v), 0);
  EXPECT(v, PTHREAD_PROCESS_SHARED);
  EXPECT(pthread_rwlockattr_setpshared(&a, 12345), EINVAL);
  EXPECT(pthread_rwlockattr_destroy(&a), 0);
}

static void one_thread(void) {
  pthread_rwlock_t l;
  EXPECT(pthread_rwlock_init(&l, NULL), 0);
  EXPECT(pthread_rwlock_rdlock(&l), 0);
  EXPECT(pthread_rwlock_tryrdlock(&l), 0);  /* readers share */
  EXPECT(pthread_rwlock_trywrlock(&l), EBUSY);
  EXPECT(pthread_rwlock_unlock(&l), 0);
  EXPECT(pthread_rwlock_unlock(&l), 0);
  EXPECT(pthread_rwlock_wrlock(&l), 0);
  EXPECT(pthread_rwlock_tryrdlock(&l), EBUSY);
  EXPECT(pthread_rwlock_trywrlock(&l), EBUSY);
  EXPECT(pthread_rwlock_unlock(&l), 0);
  EXPECT(pthread_rwlock_destroy(&l), 0);
  static pthread_rwlock_t s = PTHREAD_RWLOCK_INITIALIZER;
  EXPECT(pthread_rwlock_wrlock(&s), 0);
  EXPECT(pthread_rwlock_unlock(&s), 0);
}

/* A writer on another node holds the lock until told to let go. */
struct writer {
  pthread_rwlock_t l;
  pthread_mutex_t m;
  pthread_cond_t c;
  int holding;
  int release;
};

static void* write_hold(void* arg) {
  struct writer* w = arg;
  long err = pthread_rwlock_wrlock(&w->l);
  pthread_mutex_lock(&w->m);
  w->holding = 1;
  pthread_cond_broadcast(&w->c);
  while (!w->release) pthread_cond_wait(&w->c, &w->m);
  pthread_mutex_unlock(&w->m);
  err |= pthread_rwlock_unlock(&w->l);
  return (void*)err;
}

static void held_elsewhere(void) {
  struct writer* w = calloc(1, sizeof *w);
  pthread_rwlock_init(&w->l, NULL);
  pthread_mutex_init(&w->m, NULL);
  pthread_cond_init(&w->c, NULL);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), write_hold, w), 0);
  pthread_mutex_lock(&w->m);
  while (!w->holding) pthread_cond_wait(&w->c, &w->m);
  pthread_mutex_unlock(&w->m);
  EXPECT(pthread_rwlock_tryrdlock(&w->l), EBUSY);
  EXPECT(pthread_rwlock_trywrlock(&w->l), EBUSY);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = conf_in_ms(CLOCK_REALTIME, 100);
  EXPECT(pthread_rwlock_timedrdlock(&w->l, &soon), ETIMEDOUT);
  EXPECT_TRUE(conf_ms_since(&start) >= 90);
  soon = conf_in_ms(CLOCK_REALTIME, 50);
  EXPECT(pthread_rwlock_timedwrlock(&w->l, &soon), ETIMEDOUT);
  struct timespec bad = {0, 1000000000L};
  EXPECT(pthread_rwlock_timedwrlock(&w->l, &bad), EINVAL);
  pthread_mutex_lock(&w->m);
  w->release = 1;
  pthread_cond_broadcast(&w->c);
  pthread_mutex_unlock(&w->m);
  /* Blocks until the writer lets go, then reads. */
  EXPECT(pthread_rwlock_rdlock(&w->l), 0);
  EXPECT(pthread_rwlock_unlock(&w->l), 0);
  void* r = (void*)1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  EXPECT(pthread_rwlock_destroy(&w->l), 0);
  pthread_mutex_destroy(&w->m);
  pthread_cond_destroy(&w->c);
  free(w);
}

/* pthread_rwlock_init where an rwlock is still held (never unlocked nor
 * destroyed, by this thread or by one of another node that ended): the new
 * rwlock is unlocked, as glibc's (it overwrites the old one). */
static void* write_and_leave(void* arg) { return (void*)(long)pthread_rwlock_wrlock(arg); }

static void init_where_one_is_held(void) {
  pthread_rwlock_t* l = malloc(sizeof *l);
  EXPECT(pthread_rwlock_init(l, NULL), 0);
  EXPECT(pthread_rwlock_wrlock(l), 0);
  EXPECT(pthread_rwlock_init(l, NULL), 0);
  EXPECT(pthread_rwlock_trywrlock(l), 0);
  EXPECT(pthread_rwlock_unlock(l), 0);
  EXPECT(pthread_rwlock_rdlock(l), 0);
  EXPECT(pthread_rwlock_init(l, NULL), 0);
  EXPECT(pthread_rwlock_trywrlock(l), 0);
  EXPECT(pthread_rwlock_unlock(l), 0);
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), write_and_leave, l), 0);
  void* r = (void*)-1;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT((long)r, 0);
  EXPECT(pthread_rwlock_init(l, NULL), 0);
  EXPECT(pthread_rwlock_tryrdlock(l), 0);
  EXPECT(pthread_rwlock_unlock(l), 0);
  EXPECT(pthread_rwlock_destroy(l), 0);
  free(l);
}

CONF_MAIN("rwlock", {"attributes", attributes}, {"one_thread", one_thread}, {"held_elsewhere", held_elsewhere},
          {"init_where_one_is_held", init_where_one_is_held})
