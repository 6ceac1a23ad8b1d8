/* pthread_spin_*. */
#include "conf.h"

static void one_thread(void) {
  pthread_spinlock_t s;
  EXPECT(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE), 0);
  EXPECT(pthread_spin_lock(&s), 0);
  EXPECT(pthread_spin_trylock(&s), EBUSY);
  EXPECT(pthread_spin_unlock(&s), 0);
  EXPECT(pthread_spin_trylock(&s), 0);
  EXPECT(pthread_spin_unlock(&s), 0);
  EXPECT(pthread_spin_destroy(&s), 0);
  EXPECT(pthread_spin_init(&s, PTHREAD_PROCESS_SHARED), 0);
  EXPECT(pthread_spin_destroy(&s), 0);
}

struct counter {
  pthread_spinlock_t s;
  long value;
};

static void* add(void* arg) {
  struct counter* c = arg;
  long err = 0;
  for (int i = 0; i < 300; ++i) {
    err |= pthread_spin_lock(&c->s);
    c->value++;
    err |= pthread_spin_unlock(&c->s);
  }
  return (void*)err;
}

static void mutual_exclusion(void) {
  struct counter* c = calloc(1, sizeof *c);
  EXPECT(pthread_spin_init(&c->s, PTHREAD_PROCESS_PRIVATE), 0);
  pthread_t t[3];
  for (int i = 0; i < 3; ++i) EXPECT(conf_start_on(&t[i], i % gpt_node_count(), add, c), 0);
  for (int i = 0; i < 3; ++i) {
    void* r = (void*)1;
    EXPECT(pthread_join(t[i], &r), 0);
    EXPECT((long)r, 0);
  }
  pthread_spin_lock(&c->s);
  EXPECT(c->value, 900);
  pthread_spin_unlock(&c->s);
  EXPECT(pthread_spin_destroy(&c->s), 0);
  free(c);
}

CONF_MAIN("spin", {"one_thread", one_thread}, {"mutual_exclusion", mutual_exclusion})
