/* Test program: a real bug. argv[1] = "null" (write through a null pointer)
 * or "code" (write into the program's own code): must die of SIGSEGV with a
 * report, not hang and not be "served" as a coherence fault. Heap misuse:
 * "double_free", "free_static", "free_interior": must abort with a message
 * naming the address. Across nodes (2+ nodes): "remote_double_free" (a
 * thread on node 1 frees node 0's object twice, meets main at a barrier
 * (a release: the frees go to their home), then both wait forever: the
 * home must report it while the job runs) and
 * "remote_double_free_exit" (the thread ends, main joins it and exits at
 * once: still reported), both naming node 1 as the node that freed.
 * "stack_overflow N": a thread on node N with a 64 KiB stack recurses
 * without end; heap objects allocated around its stack keep their canaries
 * (the overflow must be reported, never silently write the heap). */
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* The misuse is the point of this program. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

static char* g_object;
static pthread_barrier_t g_met;

static void* free_twice(void* forever) {
  free(g_object);
  free(g_object);
  if (forever) {
    pthread_barrier_wait(&g_met);
    for (;;) pause();
  }
  return NULL;
}

/* Node 0's object freed twice by a thread on node 1. */
static void free_twice_on_node_1(int forever) {
  g_object = malloc(40);
  printf("pointer %p\n", (void*)g_object);
  fflush(stdout);
  pthread_barrier_init(&g_met, NULL, 2);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  gpt_attr_setnode(&attr, 1);
  pthread_t t;
  if (pthread_create(&t, &attr, free_twice, (void*)(long)forever) != 0) return;
  if (forever) pthread_barrier_wait(&g_met);
  pthread_join(t, NULL);
}

/* Each frame writes a kilobyte: the stack runs out after about 64 calls. */
static int __attribute__((noinline)) recurse(int depth) {
  volatile char frame[1024];
  memset((char*)frame, (char)depth, sizeof frame);
  return recurse(depth + 1) + frame[depth % 1024];
}

static void* overflow(void* arg) {
  (void)arg;
  return (void*)(long)recurse(0);
}

enum { kCanaries = 64, kCanaryBytes = 4096 };

static void overflow_on(int node) {
  char* canaries[kCanaries];
  for (int i = 0; i < kCanaries; ++i) {
    canaries[i] = malloc(kCanaryBytes);
    memset(canaries[i], 0x5a, kCanaryBytes);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  gpt_attr_setnode(&attr, node);
  pthread_t t;
  if (pthread_create(&t, &attr, overflow, NULL) != 0) return;
  pthread_join(t, NULL);
  int spoiled = 0;
  for (int i = 0; i < kCanaries; ++i)
    for (int b = 0; b < kCanaryBytes; ++b) spoiled += canaries[i][b] != 0x5a;
  printf("the thread returned; %d canary bytes overwritten\n", spoiled);
}

static void __attribute__((noinline)) crash_here(const char* how) {
  if (strncmp(how, "stack_overflow", 14) == 0) {
    overflow_on(atoi(how + 14));
    return;
  }
  if (strcmp(how, "remote_double_free") == 0) {
    free_twice_on_node_1(1);
    return;
  }
  if (strcmp(how, "remote_double_free_exit") == 0) {
    free_twice_on_node_1(0);
    return;
  }
  if (strcmp(how, "double_free") == 0) {
    char* p = malloc(40);
    printf("pointer %p\n", (void*)p);
    fflush(stdout);
    free(p);
    free(p);
  } else if (strcmp(how, "free_static") == 0) {
    static const char text[] = "read-only data";
    printf("pointer %p\n", (void*)text);
    fflush(stdout);
    free((void*)text);
  } else if (strcmp(how, "free_interior") == 0) {
    char* p = malloc(100);
    printf("pointer %p\n", (void*)(p + 16));
    fflush(stdout);
    free(p + 16);
  } else if (strcmp(how, "code") == 0) {
    volatile unsigned char* code = (volatile unsigned char*)(void*)&crash_here;
    code[0] = 0xc3;
  } else {
    volatile int* p = 0;
    *p = 1;
  }
}

int main(int argc, char** argv) {
  printf("about to crash\n");
  fflush(stdout);
  crash_here(argc > 1 ? argv[1] : "null");
  return 0;
}
