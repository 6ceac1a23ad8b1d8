/* pthread_once and pthread_key_*: one run of the routine job-wide,
 * per-thread values on every node, destructors at thread exit. */
#include <limits.h>

#include "conf.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_once_runs;
static void once_routine(void) { g_once_runs++; }

static void* call_once(void* arg) {
  (void)arg;
  return (void*)(long)pthread_once(&g_once, once_routine);
}

static void once(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; ++i) EXPECT(conf_start_on(&t[i], i % gpt_node_count(), call_once, NULL), 0);
  for (int i = 0; i < 4; ++i) {
    void* r = (void*)1;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r, 0);
  }
  EXPECT(pthread_once(&g_once, once_routine), 0);
  EXPECT(g_once_runs, 1);
}

/* A routine that is cancelled leaves its once as if never called: the
 * next pthread_once runs its own routine. */
#include <semaphore.h>
#include <unistd.h>
static pthread_once_t g_cancelled_once;
static sem_t g_routine_entered;
static int g_second_runs;
static void endless_routine(void) {
  sem_post(&g_routine_entered);
  for (;;) {
    pthread_testcancel();
    usleep(1000);
  }
}
static void second_routine(void) { g_second_runs++; }

static void* call_endless_once(void* arg) {
  (void)arg;
  pthread_once(&g_cancelled_once, endless_routine);
  return NULL;
}

static void cancelled_once(void) {
  g_cancelled_once = (pthread_once_t)PTHREAD_ONCE_INIT;
  g_second_runs = 0;
  EXPECT(sem_init(&g_routine_entered, 0, 0), 0);
  pthread_t t;
  EXPECT(conf_start_on(&t, gpt_node_count() - 1, call_endless_once, NULL), 0);
  EXPECT(sem_wait(&g_routine_entered), 0);
  EXPECT(pthread_cancel(t), 0);
  void* r = NULL;
  EXPECT(pthread_join(t, &r), 0);
  EXPECT(r == PTHREAD_CANCELED, 1);
  EXPECT(pthread_once(&g_cancelled_once, second_routine), 0);
  EXPECT(g_second_runs, 1);
  EXPECT(sem_destroy(&g_routine_entered), 0);
}

static pthread_key_t g_key;
static int g_destructor_runs;
static pthread_mutex_t g_destructor_lock = PTHREAD_MUTEX_INITIALIZER;
static void destructor(void* value) {
  pthread_mutex_lock(&g_destructor_lock);
  g_destructor_runs += (int)(long)value;
  pthread_mutex_unlock(&g_destructor_lock);
}

static void* use_key(void* arg) {
  long mine = (long)arg;
  long wrong = pthread_getspecific(g_key) != NULL;
  wrong |= pthread_setspecific(g_key, (void*)mine);
  wrong |= pthread_getspecific(g_key) != (void*)mine;
  return (void*)wrong;
}

static void keys(void) {
  EXPECT(pthread_key_create(&g_key, destructor), 0);
  EXPECT(pthread_getspecific(g_key) == NULL, 1);
  EXPECT(pthread_setspecific(g_key, (void*)5L), 0);
  g_destructor_runs = 0;
  pthread_t t[3];
  for (int i = 0; i < 3; ++i) EXPECT(conf_start_on(&t[i], i % gpt_node_count(), use_key, (void*)(long)(i + 1)), 0);
  for (int i = 0; i < 3; ++i) {
    void* r = (void*)1;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r, 0);
  }
  pthread_mutex_lock(&g_destructor_lock);
  EXPECT(g_destructor_runs, 1 + 2 + 3); /* each thread's own value, once */
  pthread_mutex_unlock(&g_destructor_lock);
  EXPECT(pthread_getspecific(g_key) == (void*)5L, 1);
  EXPECT(pthread_setspecific(g_key, NULL), 0);
  EXPECT(pthread_key_delete(g_key), 0);
  pthread_key_t k2;
  EXPECT(pthread_key_create(&k2, NULL), 0);
  EXPECT(pthread_key_delete(k2), 0);
}

CONF_MAIN("once_key", {"once", once}, {"cancelled_once", cancelled_once}, {"keys", keys})
