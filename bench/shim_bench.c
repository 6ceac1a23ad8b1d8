/* The libc shim's costs, under gpt-launch -n 2: a 64-byte write on the
 * origin (a plain system call) and the same write from a thread on node 1
 * (trapped by syscall user dispatch, carried out on the origin), and a call
 * that stays local (getuid) on each node: what the trap alone costs.
 * Prints "name value unit". */
#include <fcntl.h>
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int g_fd;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void measure(const char* where, double* write_us, double* local_us) {
  char buf[64] = {0};
  const int writes = 2000, locals = 20000;
  for (int i = 0; i < 50; ++i) (void)!write(g_fd, buf, sizeof buf); /* warm up */
  double t0 = now_us();
  for (int i = 0; i < writes; ++i) (void)!write(g_fd, buf, sizeof buf);
  *write_us = (now_us() - t0) / writes;
  t0 = now_us();
  for (int i = 0; i < locals; ++i) syscall(SYS_getuid);
  *local_us = (now_us() - t0) / locals;
  (void)where;
}

static double r_write, r_local;
static void* remote(void* arg) {
  measure("remote", &r_write, &r_local);
  return arg;
}

int main(void) {
  g_fd = open("/dev/null", O_WRONLY);
  double o_write, o_local;
  measure("origin", &o_write, &o_local);
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() > 1 ? 1 : 0);
  pthread_t t;
  pthread_create(&t, &a, remote, NULL);
  pthread_join(t, NULL);
  printf("write_64B_origin %.2f us\n", o_write);
  printf("write_64B_forwarded %.1f us\n", r_write);
  printf("local_syscall_origin %.3f us\n", o_local);
  printf("local_syscall_trapped %.3f us\n", r_local);
  return 0;
}
