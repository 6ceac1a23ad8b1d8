/* System calls on global memory while other threads synchronise across
 * nodes: a thread reads and writes through freshly malloc'ed buffers (pread,
 * read, write, recv, fread, fwrite) while a mutex is passed between a thread
 * on the origin and one on the last node, so the node keeps releasing
 * (write-protecting) and acquiring (invalidating) pages under the calls.
 * Every byte read is checked against the known content, every count against
 * the request; EFAULTs and short results are counted and printed:
 *   syscall_buffers DIR ROUNDS MODE...
 * prints "MODE: ROUNDS rounds, E efault, S short, B bad bytes" per mode
 * and exits 1 if any count is not 0. MODE: pread read write recv fread
 * fwrite (on the origin, where the calls reach the kernel directly) and
 * recv-remote (a socket pair a thread on the last node opens itself: its
 * calls run on that node), bad-pointers (a pointer outside any mapping
 * gets EFAULT and consumes nothing). */
#include <errno.h>
#include <fcntl.h>
#include <gpthread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define FILE_BYTES (4L << 20)
#define CHUNK (1L << 20)
#define STREAM_CHUNK (256L << 10)
/* Odd sizes make stdio use its own buffer for the tails. */
#define STDIO_CHUNK (CHUNK - 1000)

static const char* g_dir;
static int g_rounds;

static unsigned char content(long at) { return (unsigned char)((at * 131 + (at >> 12) * 7) ^ (at >> 20)); }

static void fill(unsigned char* b, long at, long n) {
  for (long i = 0; i < n; ++i) b[i] = content(at + i);
}

static long bad_bytes(const unsigned char* b, long at, long n) {
  long bad = 0;
  for (long i = 0; i < n; ++i) bad += b[i] != content(at + i);
  return bad;
}

struct counts {
  long efault, shorts, bad, other;
};

static void count_result(struct counts* c, long r, long want, int err) {
  if (r < 0 && err == EFAULT) ++c->efault;
  else if (r < 0) ++c->other;
  else if (r < want) ++c->shorts;
}

/* --- the background: a mutex passed between the origin and the last node,
 * with shared writes under it, so both nodes release and acquire. --- */
static pthread_mutex_t g_pass = PTHREAD_MUTEX_INITIALIZER;
static int g_stop; /* under g_pass: its write must be released to the other node */
static long* g_shared;  /* a few pages both nodes write */
#define SHARED_LONGS (8 * 4096 / sizeof(long))

static void* pass_mutex(void* arg) {
  long me = (long)arg;
  for (int stop = 0; !stop;) {
    pthread_mutex_lock(&g_pass);
    for (unsigned long k = (unsigned long)me; k < SHARED_LONGS; k += 512) g_shared[k] += 1;
    stop = g_stop;
    pthread_mutex_unlock(&g_pass);
  }
  return NULL;
}

static char* path(const char* name) {
  static char p[2][4096];
  static int which;
  char* out = p[which++ & 1];
  snprintf(out, sizeof p[0], "%s/%s", g_dir, name);
  return out;
}

static void make_input(void) {
  unsigned char* b = malloc(FILE_BYTES);
  CHECK(b, "malloc");
  fill(b, 0, FILE_BYTES);
  int fd = open(path("input"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "create the input file");
  CHECK(write(fd, b, FILE_BYTES) == FILE_BYTES, "write the input file");
  close(fd);
  free(b);
}

/* --- the modes --- */
static struct counts do_pread(void) {
  struct counts c = {0};
  int fd = open(path("input"), O_RDONLY);
  CHECK(fd >= 0, "open input");
  for (int i = 0; i < g_rounds; ++i) {
    unsigned char* b = malloc(CHUNK);
    const long at = (i % (FILE_BYTES / CHUNK)) * CHUNK;
    errno = 0;
    long r = pread(fd, b, CHUNK, at);
    count_result(&c, r, CHUNK, errno);
    if (r > 0) c.bad += bad_bytes(b, at, r);
    free(b);
  }
  close(fd);
  return c;
}

static struct counts do_read(void) {
  struct counts c = {0};
  int fd = open(path("input"), O_RDONLY);
  CHECK(fd >= 0, "open input");
  long at = 0;
  for (int i = 0; i < g_rounds; ++i) {
    if (at == FILE_BYTES) at = lseek(fd, 0, SEEK_SET);
    unsigned char* b = malloc(CHUNK);
    errno = 0;
    long r = read(fd, b, CHUNK);
    count_result(&c, r, CHUNK, errno);
    if (r > 0) {
      c.bad += bad_bytes(b, at, r);
      at += r;
    }
    free(b);
    if (r < 0) at = lseek(fd, at, SEEK_SET);
  }
  close(fd);
  return c;
}

/* Writes slot after slot of the output file from fresh buffers, then reads
 * the file back (plain reads into a buffer outside the churn) to check it. */
static void check_output(struct counts* c, const char* name, long slot_bytes, int slots) {
  int fd = open(path(name), O_RDONLY);
  CHECK(fd >= 0, "open %s", name);
  unsigned char* b = malloc(slot_bytes);
  for (int s = 0; s < slots; ++s) {
    long got = 0;
    while (got < slot_bytes) {
      long r = read(fd, b + got, slot_bytes - got);
      CHECK(r > 0, "read back %s", name);
      got += r;
    }
    c->bad += bad_bytes(b, (long)s * slot_bytes, slot_bytes);
  }
  free(b);
  close(fd);
}

static struct counts do_write(void) {
  struct counts c = {0};
  int fd = open(path("output"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "create output");
  const int slots = FILE_BYTES / CHUNK;
  for (int i = 0; i < g_rounds; ++i) {
    const long at = (i % slots) * CHUNK;
    if (at == 0) CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind output");
    unsigned char* b = malloc(CHUNK);
    fill(b, at, CHUNK);
    errno = 0;
    long r = write(fd, b, CHUNK);
    count_result(&c, r, CHUNK, errno);
    free(b);
    if (r != CHUNK) CHECK(lseek(fd, at + CHUNK, SEEK_SET) == at + CHUNK, "skip a failed slot");
  }
  close(fd);
  check_output(&c, "output", CHUNK, g_rounds < slots ? g_rounds : slots);
  return c;
}

static struct counts do_fread(void) {
  struct counts c = {0};
  FILE* f = fopen(path("input"), "r");
  CHECK(f, "fopen input");
  long at = 0;
  for (int i = 0; i < g_rounds; ++i) {
    long want = STDIO_CHUNK;
    if (at + want > FILE_BYTES) {
      rewind(f);
      at = 0;
    }
    unsigned char* b = malloc(want);
    errno = 0;
    long r = (long)fread(b, 1, want, f);
    if (r < want && ferror(f)) {
      if (errno == EFAULT) ++c.efault;
      else ++c.other;
      clearerr(f);
    } else if (r < want) {
      ++c.shorts;
    }
    c.bad += bad_bytes(b, at, r);
    at += r;
    free(b);
    if (r < want) {
      fseek(f, at, SEEK_SET);
    }
  }
  fclose(f);
  return c;
}

static struct counts do_fwrite(void) {
  struct counts c = {0};
  FILE* f = fopen(path("stdio-output"), "w");
  CHECK(f, "fopen stdio-output");
  const int slots = 4;
  for (int i = 0; i < g_rounds; ++i) {
    const long at = (i % slots) * STDIO_CHUNK;
    if (at == 0) CHECK(fseek(f, 0, SEEK_SET) == 0, "rewind stdio-output");
    unsigned char* b = malloc(STDIO_CHUNK);
    fill(b, at, STDIO_CHUNK);
    errno = 0;
    long r = (long)fwrite(b, 1, STDIO_CHUNK, f);
    if (r == STDIO_CHUNK && fflush(f) != 0) r = -1;
    if (r < STDIO_CHUNK || ferror(f)) {
      if (errno == EFAULT) ++c.efault;
      else if (r < 0 || ferror(f)) ++c.other;
      else ++c.shorts;
      clearerr(f);
      fseek(f, at + STDIO_CHUNK, SEEK_SET);
    }
    free(b);
  }
  CHECK(fclose(f) == 0, "fclose stdio-output");
  check_output(&c, "stdio-output", STDIO_CHUNK, g_rounds < slots ? g_rounds : slots);
  return c;
}

/* recv: a sender thread on the same node streams the known content through
 * a socket pair (from fresh buffers too); the receiver asks for whole
 * chunks (MSG_WAITALL), so anything less is short. */
struct stream {
  int fd;
  long bytes;
};

static void* send_stream(void* arg) {
  struct stream* s = arg;
  for (long at = 0; at < s->bytes; at += STREAM_CHUNK) {
    unsigned char* b = malloc(STREAM_CHUNK);
    fill(b, at % FILE_BYTES, STREAM_CHUNK);
    long sent = 0;
    while (sent < STREAM_CHUNK) {
      long r = send(s->fd, b + sent, STREAM_CHUNK - sent, MSG_NOSIGNAL);
      if (r < 0 && errno == EPIPE) { /* the receiver gave up: it counted why */
        free(b);
        return NULL;
      }
      CHECK(r > 0, "send: %s", strerror(errno));
      sent += r;
    }
    free(b);
  }
  return NULL;
}

static struct counts receive(void) {
  struct counts c = {0};
  int fds[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
  struct stream s = {fds[1], (long)g_rounds * STREAM_CHUNK};
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_self_node());
  pthread_t sender;
  CHECK(pthread_create(&sender, &a, send_stream, &s) == 0, "start the sender");
  long at = 0;
  for (int i = 0; i < g_rounds; ++i) {
    unsigned char* b = malloc(STREAM_CHUNK);
    errno = 0;
    long r = recv(fds[0], b, STREAM_CHUNK, MSG_WAITALL);
    count_result(&c, r, STREAM_CHUNK, errno);
    if (r > 0) {
      c.bad += bad_bytes(b, at % FILE_BYTES, r);
      at += r;
    }
    free(b);
    if (r < 0) break; /* the stream is out of step now */
  }
  close(fds[0]);
  pthread_join(sender, NULL);
  close(fds[1]);
  return c;
}

static void* receive_here(void* arg) {
  struct counts* c = arg;
  *c = receive();
  return NULL;
}

static struct counts do_recv_remote(void) {
  struct counts c = {0};
  run_on_node(gpt_node_count() - 1, receive_here, &c);
  return c;
}

/* A pointer outside any mapping still gets the kernel's EFAULT, with no
 * data consumed (counted as "other" when it does not). */
static struct counts bad_pointers(void) {
  struct counts c = {0};
  volatile unsigned long address = 8; /* hidden from the compiler's checks */
  void* nowhere = (void*)address;
  int fd = open(path("input"), O_RDONLY);
  int out = open(path("bad-pointer-output"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0 && out >= 0, "open input and output");
  for (int i = 0; i < g_rounds; ++i) {
    errno = 0;
    if (!(read(fd, nowhere, 100) == -1 && errno == EFAULT)) ++c.other;
    errno = 0;
    if (!(pread(fd, nowhere, 100, 0) == -1 && errno == EFAULT)) ++c.other;
    errno = 0;
    if (!(write(out, nowhere, 100) == -1 && errno == EFAULT)) ++c.other;
  }
  unsigned char first[16];
  CHECK(read(fd, first, sizeof first) == sizeof first, "read after the bad pointers");
  c.bad += bad_bytes(first, 0, sizeof first);
  close(fd);
  close(out);
  return c;
}

static const struct {
  const char* name;
  struct counts (*run)(void);
} kModes[] = {
    {"pread", do_pread}, {"read", do_read},     {"write", do_write},          {"recv", receive},
    {"fread", do_fread}, {"fwrite", do_fwrite}, {"recv-remote", do_recv_remote}, {"bad-pointers", bad_pointers},
};

int main(int argc, char** argv) {
  CHECK(argc >= 4, "usage: syscall_buffers DIR ROUNDS MODE...");
  g_dir = argv[1];
  g_rounds = atoi(argv[2]);
  g_shared = calloc(SHARED_LONGS, sizeof(long));
  make_input();

  pthread_t passers[2];
  pthread_attr_t a;
  pthread_attr_init(&a);
  for (long i = 0; i < 2; ++i) {
    gpt_attr_setnode(&a, i == 0 ? 0 : gpt_node_count() - 1);
    CHECK(pthread_create(&passers[i], &a, pass_mutex, (void*)i) == 0, "start a mutex passer");
  }
  int failed = 0;
  for (int m = 3; m < argc; ++m) {
    unsigned k = 0;
    while (k < sizeof kModes / sizeof kModes[0] && strcmp(kModes[k].name, argv[m]) != 0) ++k;
    CHECK(k < sizeof kModes / sizeof kModes[0], "unknown mode %s", argv[m]);
    struct counts c = kModes[k].run();
    printf("%s: %d rounds, %ld efault, %ld short, %ld bad bytes, %ld other errors\n", argv[m], g_rounds, c.efault,
           c.shorts, c.bad, c.other);
    fflush(stdout);
    failed |= c.efault || c.shorts || c.bad || c.other;
  }
  pthread_mutex_lock(&g_pass);
  g_stop = 1;
  pthread_mutex_unlock(&g_pass);
  for (int i = 0; i < 2; ++i) pthread_join(passers[i], NULL);
  return failed;
}
