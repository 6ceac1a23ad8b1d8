/* pthread_exit from main: the process goes on while threads remain and ends
 * as by exit(0) once the last one has ended, running atexit handlers; main's
 * thread-specific values get their destructors. Threads here start further
 * threads on other nodes, so main's end is followed by a chain of creations
 * across nodes (docs/threads.md, "pthread_exit from main"). */
#include <unistd.h>

#include "conf.h"

enum { kChains = 3, kDepth = 3 };

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_finished;        /* threads that ran to their end */
static int g_main_destructor; /* main's key value was destroyed */
static pthread_key_t g_key;

static void destroy(void* value) {
  pthread_mutex_lock(&g_lock);
  g_main_destructor += value == (void*)&g_key;
  pthread_mutex_unlock(&g_lock);
}

static void* link_of_chain(void* arg) {
  long depth = (long)arg;
  usleep(30 * 1000); /* main is gone by now */
  if (depth + 1 < kDepth) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (gpt_node_count() > 1) gpt_attr_setnode(&a, (int)(depth + 1) % gpt_node_count());
    pthread_t t;
    int err = pthread_create(&t, &a, link_of_chain, (void*)(depth + 1));
    pthread_attr_destroy(&a);
    if (err) return NULL;
  }
  pthread_mutex_lock(&g_lock);
  g_finished++;
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

static void at_exit(void) {
  conf_case = "after main's pthread_exit";
  pthread_mutex_lock(&g_lock);
  EXPECT(g_finished, kChains * kDepth);
  EXPECT(g_main_destructor, 1);
  pthread_mutex_unlock(&g_lock);
  printf("main_exit: %d checks, %d failed\n", conf_checks, conf_failures);
  fflush(stdout);
  if (conf_failures) _exit(1);
}

int main(void) {
  conf_case = "main";
  EXPECT(atexit(at_exit), 0);
  EXPECT(pthread_key_create(&g_key, destroy), 0);
  EXPECT(pthread_setspecific(g_key, &g_key), 0);
  for (long i = 0; i < kChains; ++i) {
    pthread_t t;
    EXPECT(conf_start_on(&t, (int)(i + 1) % gpt_node_count(), link_of_chain, (void*)0), 0);
    EXPECT(pthread_detach(t), 0);
  }
  pthread_exit(NULL);
}
