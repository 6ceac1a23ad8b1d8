/* rwlocks across nodes: readers check that a pair written by writers is
 * always consistent; two readers hold the lock at once (a writer cannot). */
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_rwlock_t g_rw = PTHREAD_RWLOCK_INITIALIZER;
static long g_a, g_b;
static sem_t g_reader_in, g_checked;
static int g_concurrent_ok;

static void* writer(void* arg) {
  (void)arg;
  for (int i = 0; i < 100; ++i) {
    pthread_rwlock_wrlock(&g_rw);
    ++g_a;
    ++g_b;
    pthread_rwlock_unlock(&g_rw);
  }
  return NULL;
}

static void* reader(void* arg) {
  (void)arg;
  for (int i = 0; i < 100; ++i) {
    pthread_rwlock_rdlock(&g_rw);
    if (g_a != g_b) {
      fprintf(stderr, "reader on node %d saw %ld != %ld\n", gpt_self_node(), g_a, g_b);
      exit(3);
    }
    pthread_rwlock_unlock(&g_rw);
  }
  return NULL;
}

static void* holder(void* arg) {
  (void)arg;
  pthread_rwlock_rdlock(&g_rw);
  sem_post(&g_reader_in);
  sem_wait(&g_checked);
  pthread_rwlock_unlock(&g_rw);
  return NULL;
}

static void* second_reader(void* arg) {
  (void)arg;
  sem_wait(&g_reader_in);
  int r = pthread_rwlock_tryrdlock(&g_rw);
  int w = pthread_rwlock_trywrlock(&g_rw);
  if (r == 0) pthread_rwlock_unlock(&g_rw);
  g_concurrent_ok = r == 0 && w == EBUSY;
  if (!g_concurrent_ok) fprintf(stderr, "tryrdlock %d, trywrlock %d while a reader holds it\n", r, w);
  sem_post(&g_checked);
  return NULL;
}

int main(void) {
  pthread_t t[8];
  for (int i = 0; i < 8; ++i) pthread_create(&t[i], NULL, i % 2 ? reader : writer, NULL);
  for (int i = 0; i < 8; ++i) pthread_join(t[i], NULL);
  if (g_a != 400 || g_b != 400) return fprintf(stderr, "pair %ld %ld\n", g_a, g_b), 1;
  sem_init(&g_reader_in, 0, 0);
  sem_init(&g_checked, 0, 0);
  pthread_t h, s;
  pthread_create(&h, NULL, holder, NULL);
  pthread_create(&s, NULL, second_reader, NULL);
  pthread_join(h, NULL);
  pthread_join(s, NULL);
  if (!g_concurrent_ok) return 1;
  printf("rwlock: 400 consistent writes, concurrent readers on %d nodes: ok\n", gpt_node_count());
  return 0;
}
