/* POSIX semaphores across nodes: a producer and a consumer on different
 * nodes hand items through a one-slot buffer guarded by two semaphores;
 * a counting semaphore bounds concurrent workers; trywait and timedwait
 * return codes. */
#include <errno.h>
#include <gpthread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static sem_t g_empty, g_full, g_slots;
static long g_box;
static int g_items;
static long g_received_sum;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_inside, g_max_inside;

static void* producer(void* arg) {
  (void)arg;
  for (int i = 1; i <= g_items; ++i) {
    sem_wait(&g_empty);
    g_box = i;
    sem_post(&g_full);
  }
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (int i = 1; i <= g_items; ++i) {
    sem_wait(&g_full);
    g_received_sum += g_box;
    sem_post(&g_empty);
  }
  return NULL;
}

static void* limited(void* arg) {
  (void)arg;
  for (int i = 0; i < 20; ++i) {
    sem_wait(&g_slots);
    pthread_mutex_lock(&g_lock);
    if (++g_inside > g_max_inside) g_max_inside = g_inside;
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_lock(&g_lock);
    --g_inside;
    pthread_mutex_unlock(&g_lock);
    sem_post(&g_slots);
  }
  return NULL;
}

int main(int argc, char** argv) {
  g_items = argc > 1 ? atoi(argv[1]) : 200;
  sem_init(&g_empty, 0, 1);
  sem_init(&g_full, 0, 0);
  sem_init(&g_slots, 0, 2);
  pthread_t p, c, w[6];
  pthread_create(&p, NULL, producer, NULL);
  pthread_create(&c, NULL, consumer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  long want = (long)g_items * (g_items + 1) / 2;
  if (g_received_sum != want) {
    fprintf(stderr, "received sum %ld, want %ld\n", g_received_sum, want);
    return 1;
  }
  for (int i = 0; i < 6; ++i) pthread_create(&w[i], NULL, limited, NULL);
  for (int i = 0; i < 6; ++i) pthread_join(w[i], NULL);
  if (g_max_inside > 2) {
    fprintf(stderr, "%d workers inside a 2-slot semaphore\n", g_max_inside);
    return 1;
  }
  int v = -1;
  sem_getvalue(&g_slots, &v);
  if (v != 2) return fprintf(stderr, "sem_getvalue %d, want 2\n", v), 1;
  if (sem_trywait(&g_full) != -1 || errno != EAGAIN) return fprintf(stderr, "trywait not EAGAIN\n"), 1;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 100 * 1000 * 1000;
  if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000L; }
  if (sem_timedwait(&g_full, &deadline) != -1 || errno != ETIMEDOUT) return fprintf(stderr, "timedwait not ETIMEDOUT\n"), 1;
  /* pshared: accepted, and the semaphore works as a private one. */
  if (sem_init(&g_full, 1, 1) != 0 || sem_trywait(&g_full) != 0) return fprintf(stderr, "pshared sem_init\n"), 1;
  printf("semaphores: %d items handed over, at most %d of 6 workers inside 2 slots on %d nodes: ok\n",
         g_items, g_max_inside, gpt_node_count());
  return 0;
}
