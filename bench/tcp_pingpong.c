/* The network's floor for ./dev bench: a plain TCP ping-pong between two
 * processes on loopback whose receivers poll (non-blocking recv in a loop),
 * so a halting virtual CPU's wake-up is not counted. Prints the median
 * round trip of 64 B and 4 KiB messages: "tcp_poll_rtt_64B US us". */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void send_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, 0);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (w <= 0) exit(1);
    p += w;
    n -= (size_t)w;
  }
}

static void recv_all_polling(int fd, char* p, size_t n) {
  while (n) {
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r <= 0) exit(1);
    p += r;
    n -= (size_t)r;
  }
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 2000;
  const size_t sizes[] = {64, 4096};
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) || listen(listener, 1) ||
      getsockname(listener, (struct sockaddr*)&addr, &len)) {
    perror("tcp_pingpong: listen");
    return 1;
  }
  const int one = 1;
  static char buf[4096];
  pid_t child = fork();
  if (child == 0) {  /* the echo side */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr*)&addr, sizeof addr)) _exit(1);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t s = 0; s < 2; ++s)
      for (int i = 0; i < rounds + 100; ++i) {
        recv_all_polling(fd, buf, sizes[s]);
        send_all(fd, buf, sizes[s]);
      }
    _exit(0);
  }
  int fd = accept(listener, NULL, NULL);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double* t = malloc(sizeof(double) * (size_t)rounds);
  for (size_t s = 0; s < 2; ++s) {
    for (int i = 0; i < rounds + 100; ++i) {  /* the first 100 warm up */
      const double t0 = now_us();
      send_all(fd, buf, sizes[s]);
      recv_all_polling(fd, buf, sizes[s]);
      if (i >= 100) t[i - 100] = now_us() - t0;
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp);
    if (sizes[s] == 64) printf("tcp_poll_rtt_64B %.1f us\n", t[rounds / 2]);
    else printf("tcp_poll_rtt_4KiB %.1f us\n", t[rounds / 2]);
  }
  waitpid(child, NULL, 0);
  return 0;
}
