/* fork() from a threaded program (the Open Group's fork and pthread_atfork
 * pages): the child is a process of its own with a copy of the parent's
 * memory (heap, globals, the forking thread's stack) as it was at the fork,
 * one thread, working pthreads; writes on either side after the fork are
 * not seen by the other; fork handlers run in order (prepare in reverse
 * order of registration, parent and child in order). The case's thread
 * runs on node 0 and on the job's last node: from there gpthread moves it
 * to the origin for the call (docs/threads.md, "fork"). */
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

static long g_global = 1;             /* a global of the program */
static char g_order[16];              /* the fork handlers that ran */
static int g_recording;               /* only this suite's handlers case records */
static pthread_once_t g_registered = PTHREAD_ONCE_INIT;

static void note(char c) {
  if (!g_recording) return;
  size_t n = strlen(g_order);
  if (n + 1 < sizeof g_order) g_order[n] = c;
}
static void prepare_1(void) { note('P'); }
static void prepare_2(void) { note('Q'); }
static void parent_1(void) { note('a'); }
static void parent_2(void) { note('b'); }
static void child_1(void) { note('x'); }
static void child_2(void) { note('y'); }
static void register_handlers(void) {
  pthread_atfork(prepare_1, parent_1, child_1);
  pthread_atfork(prepare_2, parent_2, child_2);
}

/* Waits for `pid`; its exit status, or 100 + the signal that killed it. */
static int status_of(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 100 + WTERMSIG(status) : -2;
}

static void child_exit_status(void) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) _exit(getppid() == parent ? 7 : 8);
  EXPECT_TRUE(pid > 0);
  if (pid <= 0) return;
  EXPECT(status_of(pid), 7);
  EXPECT_TRUE(pid != parent);
}

/* The child sees what the parent wrote before the fork (a global, the heap
 * and the forking thread's stack), and nothing either side writes after. */
static void private_copy(void) {
  g_global = 41;
  char* heap = malloc(100000);
  EXPECT(heap != NULL, 1);
  if (!heap) return;
  memset(heap, 'h', 100000);
  volatile int on_stack = 5;
  int go[2];
  EXPECT(pipe(go), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char byte;
    int code = 0;
    if (g_global != 41 || heap[0] != 'h' || heap[99999] != 'h' || on_stack != 5) code = 1;
    g_global = 99; /* the parent must not see these */
    memset(heap, 'c', 100000);
    on_stack = 6;
    if (read(go[0], &byte, 1) != 1) code = 2; /* the parent has written by now */
    if (g_global != 99 || heap[50000] != 'c' || on_stack != 6) code = 3;
    _exit(code);
  }
  EXPECT_TRUE(pid > 0);
  if (pid > 0) {
    g_global = 42; /* the child must not see these */
    memset(heap, 'p', 100000);
    EXPECT(write(go[1], "g", 1), 1);
    EXPECT(status_of(pid), 0);
    EXPECT(g_global, 42);
    EXPECT(heap[0], 'p');
    EXPECT(heap[99999], 'p');
    EXPECT(on_stack, 5);
  }
  close(go[0]);
  close(go[1]);
  free(heap);
}

static void handlers_in_order(void) {
  EXPECT(pthread_once(&g_registered, register_handlers), 0);
  memset(g_order, 0, sizeof g_order);
  g_recording = 1;
  pid_t pid = fork();
  if (pid == 0) _exit(strcmp(g_order, "QPxy") == 0 ? 0 : 1);
  g_recording = 0;
  EXPECT_TRUE(pid > 0);
  if (pid <= 0) return;
  EXPECT(strcmp(g_order, "QPab"), 0);
  EXPECT(status_of(pid), 0);
}

static pthread_mutex_t g_unlocked = PTHREAD_MUTEX_INITIALIZER;
static void* add_one(void* arg) { return (void*)((long)arg + 1); }

/* A child may use pthreads: create and join a thread, take a mutex that was
 * unlocked at the fork, wait on a condition with a timeout. */
static void threads_in_child(void) {
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t;
    void* r = NULL;
    if (pthread_create(&t, NULL, add_one, (void*)41) != 0) _exit(1);
    if (pthread_join(t, &r) != 0 || (long)r != 42) _exit(2);
    if (pthread_mutex_lock(&g_unlocked) != 0) _exit(3);
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec soon = conf_in_ms(CLOCK_REALTIME, 20);
    if (pthread_cond_timedwait(&c, &g_unlocked, &soon) != ETIMEDOUT) _exit(4);
    if (pthread_mutex_unlock(&g_unlocked) != 0) _exit(5);
    _exit(0);
  }
  EXPECT_TRUE(pid > 0);
  if (pid > 0) EXPECT(status_of(pid), 0);
}

/* The child's only thread ending ends the process: pthread_exit gives
 * status 0 (as when a process's last thread ends), exit() its status. */
static void child_ends_like_a_process(void) {
  pid_t pid = fork();
  if (pid == 0) pthread_exit(NULL);
  EXPECT_TRUE(pid > 0);
  if (pid > 0) EXPECT(status_of(pid), 0);
  pid = fork();
  if (pid == 0) exit(5);
  EXPECT_TRUE(pid > 0);
  if (pid > 0) EXPECT(status_of(pid), 5);
}

/* Data another node wrote, published to the forking thread by a join: the
 * child's copy has it. */
static char* g_shared;
static void* fill(void* arg) {
  memset(g_shared, 's', (size_t)(long)arg);
  return NULL;
}
static void data_from_other_nodes(void) {
  enum { kBytes = 300000 };
  g_shared = malloc(kBytes);
  EXPECT(g_shared != NULL, 1);
  if (!g_shared) return;
  pthread_t t;
  EXPECT(conf_start_on(&t, conf_other_node(), fill, (void*)(long)kBytes), 0);
  EXPECT(pthread_join(t, NULL), 0);
  pid_t pid = fork();
  if (pid == 0) {
    for (long i = 0; i < kBytes; ++i)
      if (g_shared[i] != 's') _exit(1);
    _exit(0);
  }
  EXPECT_TRUE(pid > 0);
  if (pid > 0) EXPECT(status_of(pid), 0);
  free(g_shared);
}

CONF_MAIN("fork", {"child_exit_status", child_exit_status}, {"private_copy", private_copy},
          {"handlers_in_order", handlers_in_order}, {"threads_in_child", threads_in_child},
          {"child_ends_like_a_process", child_ends_like_a_process},
          {"data_from_other_nodes", data_from_other_nodes})
