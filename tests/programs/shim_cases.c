/* The libc shim: what a thread on another node does to the process behaves
 * as in one process. Modes (argv[1]):
 *   files N   4 threads (on the nodes other than the origin) each write N numbered lines
 *             to one file main opened, read a file main wrote, open a file
 *             main then writes to, compare getpid with main's, print a line
 *             to stdout without flushing; main checks everything.
 *   errno     failing calls from a remote thread give the kernel's errno.
 *   exit      a remote thread prints (unflushed) and calls exit(3).
 *   abort     a remote thread calls abort().
 *   buffers   remote threads fill a 256 KiB global buffer; main, on the origin,
 *             fwrites and writes it to files and reads one back into it,
 *             sends it through sockets (send, sendto, sendmsg) and receives
 *             it (recv, recvfrom, recvmsg) into a buffer another node
 *             allocated and wrote, and polls descriptors kept there: the
 *             pages are not present on the origin after the join, and the
 *             calls must neither fail with EFAULT nor come up short; the
 *             same for paths (open, fopen, rename...), getrusage, epoll_ctl.
 *   orphan    a remote thread keeps forwarding writes while main is killed
 *             (SIGKILL): the job must end, not hang.
 *   masks     threads on every node block every signal, then fault on
 *             shared memory (a blocked SIGSEGV or SIGSYS would kill them).
 * Prints one summary line; exits 1 with the reason on the first failure. */
#include <errno.h>
#include <fcntl.h>
#include <gpthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[256];
static int shared_fd;
static int lines;
static pid_t main_pid;
static time_t g_main_time;
static int opened_by[4];

static void path_of(char* out, size_t n, const char* name) { snprintf(out, n, "%s/%s", dir, name); }

/* Runs fn(0..3) on four threads on the nodes other than the origin (when
 * there are any) and joins them. */
static void run_four_away(void* (*fn)(void*)) {
  pthread_t t[4];
  int nodes = gpt_node_count();
  for (long i = 0; i < 4; ++i) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    if (nodes > 1) gpt_attr_setnode(&a, 1 + (int)(i % (nodes - 1)));
    CHECK(pthread_create(&t[i], &a, fn, (void*)i) == 0, "create");
  }
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
}

static void* writer(void* arg) {
  long id = (long)arg;
  int node = gpt_self_node();
  CHECK(getpid() == main_pid, "thread %ld on node %d: getpid %d, main's %d", id, node, (int)getpid(), (int)main_pid);
  for (int i = 0; i < lines; ++i) {
    char line[64];
    int n = snprintf(line, sizeof line, "%ld %d\n", id, i);
    CHECK(write(shared_fd, line, n) == n, "thread %ld: write: %s", id, strerror(errno));
  }
  /* A file main wrote, read here. */
  char path[300], buf[64];
  path_of(path, sizeof path, "from-main");
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0, "thread %ld: open %s: %s", id, path, strerror(errno));
  ssize_t got = read(fd, buf, sizeof buf - 1);
  CHECK(got > 0, "thread %ld: read: %s", id, strerror(errno));
  buf[got] = 0;
  CHECK(strcmp(buf, "written by main\n") == 0, "thread %ld read '%s'", id, buf);
  /* And mapped (a private copy on nodes other than the origin). */
  char* map = mmap(NULL, 16, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(map != MAP_FAILED && memcmp(map, "written by main\n", 16) == 0, "thread %ld: mmap of a file", id);
  munmap(map, 16);
  close(fd);
  /* A file opened here, written by main after the join. */
  char name[32];
  snprintf(name, sizeof name, "from-thread-%ld", id);
  path_of(path, sizeof path, name);
  opened_by[id] = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  CHECK(opened_by[id] >= 0, "thread %ld: create %s: %s", id, path, strerror(errno));
  /* Each way of printing, and the clock. */
  char line2[64];
  int n2 = snprintf(line2, sizeof line2, "thread %ld write(1)\n", id);
  CHECK(write(1, line2, n2) == n2, "write(1): %s", strerror(errno));
  fprintf(stderr, "thread %ld on stderr\n", id);
  snprintf(line2, sizeof line2, "thread %ld puts", id);
  puts(line2);
  time_t now = time(NULL);
  CHECK(now >= g_main_time && now - g_main_time < 60, "time() %ld vs main's %ld", (long)now, (long)g_main_time);
  /* Unflushed when the thread ends: stdout must still reach the launcher. */
  printf("thread %ld says goodbye\n", id);
  return NULL;
}

static int files(void) {
  main_pid = getpid();
  g_main_time = time(NULL);
  char path[300];
  path_of(path, sizeof path, "shared");
  shared_fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
  CHECK(shared_fd >= 0, "open %s: %s", path, strerror(errno));
  path_of(path, sizeof path, "from-main");
  FILE* f = fopen(path, "w");
  CHECK(f && fputs("written by main\n", f) >= 0 && fclose(f) == 0, "write %s", path);
  run_four_away(writer);
  close(shared_fd);
  /* Every thread's lines, each in order. */
  path_of(path, sizeof path, "shared");
  f = fopen(path, "r");
  CHECK(f, "reopen shared");
  int next[4] = {0, 0, 0, 0}, total = 0;
  long id;
  int n;
  while (fscanf(f, "%ld %d", &id, &n) == 2) {
    CHECK(id >= 0 && id < 4 && n == next[id], "line '%ld %d' out of order (want %d)", id, n, next[id]);
    ++next[id];
    ++total;
  }
  fclose(f);
  CHECK(total == 4 * lines, "%d lines, want %d", total, 4 * lines);
  /* Descriptors the threads opened, on whatever node, work here. */
  for (int i = 0; i < 4; ++i) {
    CHECK(write(opened_by[i], "from main\n", 10) == 10, "write to fd %d opened by thread %d: %s", opened_by[i], i,
          strerror(errno));
    close(opened_by[i]);
    char name[32];
    struct stat st;
    snprintf(name, sizeof name, "from-thread-%d", i);
    path_of(path, sizeof path, name);
    CHECK(stat(path, &st) == 0 && st.st_size == 10, "%s has %ld bytes", path, (long)st.st_size);
  }
  printf("files: %d lines from 4 threads in order; descriptors shared both ways\n", total);
  return 0;
}

static void* failing(void* arg) {
  (void)arg;
  char buf[8];
  char path[300];
  path_of(path, sizeof path, "errno-data");
  int data = open(path, O_RDONLY);
  CHECK(data >= 0, "open %s: %s", path, strerror(errno));
  errno = 0;
  CHECK(open("/nonexistent-dir/x", O_RDONLY) == -1 && errno == ENOENT, "open missing: errno %d", errno);
  CHECK(write(987, "x", 1) == -1 && errno == EBADF, "write to a bad fd: errno %d", errno);
  void* volatile bad = (void*)16;
  CHECK(read(data, bad, 8) == -1 && errno == EFAULT, "read into a bad pointer: errno %d", errno);
  CHECK(read(data, buf, 8) == 8 && memcmp(buf, "12345678", 8) == 0, "the failed read consumed data");
  close(data);
  CHECK(close(-1) == -1 && errno == EBADF, "close(-1): errno %d", errno);
  CHECK(mkdir(dir, 0755) == -1 && errno == EEXIST, "mkdir of an existing dir: errno %d", errno);
  CHECK(chdir("/nonexistent-dir") == -1 && errno == ENOENT, "chdir missing: errno %d", errno);
  /* fork() moves the thread to the origin for the call (the child is the
   * origin's); the raw system call is still refused on this node. */
  pid_t child = fork();
  if (child == 0) _exit(42);
  int status = 0;
  CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 42,
        "fork from a remote thread: pid %d, status %#x, errno %d", (int)child, status, errno);
  CHECK(gpt_self_node() == gpt_node_count() - 1, "back on node %d after fork: on %d", gpt_node_count() - 1,
        gpt_self_node());
  CHECK(syscall(SYS_fork) == -1 && errno == ENOSYS, "raw fork system call on a remote node: errno %d", errno);
  (void)buf;
  return (void*)(long)gpt_self_node();
}

static int errnos(void) {
  char path[300];
  path_of(path, sizeof path, "errno-data");
  FILE* f = fopen(path, "w");
  CHECK(f && fputs("12345678", f) >= 0 && fclose(f) == 0, "write %s", path);
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() - 1);
  pthread_t t;
  void* node;
  CHECK(pthread_create(&t, &a, failing, NULL) == 0, "create");
  pthread_join(t, &node);
  printf("errno: failing calls on node %ld gave the kernel's errno\n", (long)node);
  return 0;
}

static void* exiter(void* arg) {
  (void)arg;
  printf("printed on node %d right before exit(3)\n", gpt_self_node());
  exit(3);
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_cells[4096];

static void* masked(void* arg) {
  long id = (long)arg;
  sigset_t all, now;
  sigfillset(&all);
  CHECK(pthread_sigmask(SIG_BLOCK, &all, NULL) == 0, "pthread_sigmask");
  CHECK(pthread_sigmask(SIG_BLOCK, NULL, &now) == 0, "pthread_sigmask query");
  CHECK(sigismember(&now, SIGUSR1) && sigismember(&now, SIGTERM), "SIGUSR1 not blocked");
  /* The mask the thread asked for says so (POSIX), the kernel's does not
   * hold them: faults and trapped calls must still reach gpthread. */
  CHECK(sigismember(&now, SIGSEGV) && sigismember(&now, SIGSYS), "SIGSEGV or SIGSYS not reported blocked");
  unsigned long long kernel_mask = 0;
  CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kernel_mask, 8) == 0, "rt_sigprocmask");
  CHECK(!(kernel_mask & (1ull << (SIGSEGV - 1))) && !(kernel_mask & (1ull << (SIGSYS - 1))),
        "SIGSEGV or SIGSYS blocked in the kernel");
  for (int round = 0; round < 20; ++round) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < 4096; i += 512) g_cells[i] += id + 1;
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

static int masks(void) {
  pthread_t t[8];
  for (long i = 0; i < 8; ++i) CHECK(pthread_create(&t[i], NULL, masked, (void*)i) == 0, "create");
  for (int i = 0; i < 8; ++i) pthread_join(t[i], NULL);
  for (int i = 0; i < 4096; i += 512) CHECK(g_cells[i] == 20 * 36, "cell %d is %ld", i, g_cells[i]);
  printf("masks: 8 threads blocked every signal and still faulted on shared memory\n");
  return 0;
}

enum { kBufferBytes = 256 * 1024 };
static unsigned char* g_buffer;

static void* fill(void* arg) {
  long part = (long)arg;
  for (long i = part * kBufferBytes / 4; i < (part + 1) * kBufferBytes / 4; ++i) g_buffer[i] = (unsigned char)(i * 7 + 3);
  return NULL;
}

/* Memory a thread on another node allocated (its home is there) and wrote:
 * not present on the origin afterwards. */
enum { kSocketBytes = 48 * 1024 };
static unsigned char* g_inbox;
static struct pollfd* g_polled;
static void* allocate_inbox(void* arg) {
  (void)arg;
  free(g_inbox);
  free(g_polled);
  g_inbox = malloc(kSocketBytes);
  memset(g_inbox, 0xee, kSocketBytes);
  g_polled = calloc(2, sizeof *g_polled);
  return NULL;
}

static int received_right(size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (g_inbox[i] != (unsigned char)(i * 7 + 3)) return 0;
  return 1;
}

static void refill_elsewhere(void) {
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() - 1);
  pthread_create(&t, &a, allocate_inbox, NULL);
  pthread_join(t, NULL);
  run_four_away(fill);
}

static int sockets(void) {
  int st[2], dg[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0 && socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) == 0, "socketpair");
  refill_elsewhere();
  CHECK(send(st[0], g_buffer, kSocketBytes, 0) == kSocketBytes, "send: %s", strerror(errno));
  CHECK(recv(st[1], g_inbox, kSocketBytes, MSG_WAITALL) == kSocketBytes, "recv: %s", strerror(errno));
  CHECK(received_right(kSocketBytes), "recv got other bytes");
  refill_elsewhere();
  CHECK(sendto(dg[0], g_buffer, 4096, 0, NULL, 0) == 4096, "sendto: %s", strerror(errno));
  CHECK(recvfrom(dg[1], g_inbox, 4096, 0, NULL, NULL) == 4096, "recvfrom: %s", strerror(errno));
  CHECK(received_right(4096), "recvfrom got other bytes");
  refill_elsewhere();
  struct iovec out[2] = {{g_buffer, kSocketBytes / 2}, {g_buffer + kSocketBytes / 2, kSocketBytes / 2}};
  struct iovec in[2] = {{g_inbox, kSocketBytes / 2}, {g_inbox + kSocketBytes / 2, kSocketBytes / 2}};
  struct msghdr send_msg = {.msg_iov = out, .msg_iovlen = 2};
  struct msghdr recv_msg = {.msg_iov = in, .msg_iovlen = 2};
  CHECK(sendmsg(st[0], &send_msg, 0) == kSocketBytes, "sendmsg: %s", strerror(errno));
  CHECK(recvmsg(st[1], &recv_msg, MSG_WAITALL) == kSocketBytes, "recvmsg: %s", strerror(errno));
  CHECK(received_right(kSocketBytes), "recvmsg got other bytes");
  refill_elsewhere();
  g_polled[0].fd = st[1];
  g_polled[0].events = POLLIN;
  g_polled[1].fd = dg[1];
  g_polled[1].events = POLLIN;
  CHECK(write(st[0], "x", 1) == 1, "write");
  CHECK(poll(g_polled, 2, 1000) == 1 && (g_polled[0].revents & POLLIN) && g_polled[1].revents == 0,
        "poll: %s", strerror(errno));
  for (int i = 0; i < 2; ++i) close(st[i]), close(dg[i]);
  return 0;
}

/* Other calls that fill or read a buffer, each into memory another node
 * allocated and wrote (absent here until touched): stat, pipe, ioctl,
 * select, getsockname. */
static const void* g_copy_from;
static size_t g_copy_bytes;
static void* copy_away(void* arg) {
  (void)arg;
  memcpy(g_inbox, g_copy_from, g_copy_bytes);
  return NULL;
}

static void copy_elsewhere(const void* from, size_t bytes) {
  refill_elsewhere();
  g_copy_from = from;
  g_copy_bytes = bytes;
  run_on_node(gpt_node_count() - 1, copy_away, NULL);
}

static int path_calls(void);

static int other_calls(void) {
  char path[300];
  path_of(path, sizeof path, "buffer-fwrite");
  refill_elsewhere();
  struct stat* st = (struct stat*)g_inbox;
  CHECK(stat(path, st) == 0 && st->st_size == kBufferBytes, "stat into another node's memory: %s", strerror(errno));
  refill_elsewhere();
  int* fds = (int*)(g_inbox + 4096);
  CHECK(pipe(fds) == 0, "pipe into another node's memory: %s", strerror(errno));
  int rd = fds[0], wr = fds[1];
  CHECK(write(wr, "abc", 3) == 3, "write to the pipe");
  refill_elsewhere();
  int* avail = (int*)g_inbox;
  CHECK(ioctl(rd, FIONREAD, avail) == 0 && *avail == 3, "ioctl(FIONREAD) into another node's memory: %s",
        strerror(errno));
  fd_set want;
  FD_ZERO(&want);
  FD_SET(rd, &want);
  copy_elsewhere(&want, sizeof want);
  fd_set* set = (fd_set*)g_inbox;
  CHECK(select(rd + 1, set, NULL, NULL, NULL) == 1 && FD_ISSET(rd, set), "select on another node's fd_set: %s",
        strerror(errno));
  close(rd);
  close(wr);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  socklen_t length = sizeof(struct sockaddr_storage);
  copy_elsewhere(&length, sizeof length);
  socklen_t* in_elsewhere = (socklen_t*)g_inbox;
  struct sockaddr* address = (struct sockaddr*)(g_inbox + 64);
  CHECK(getsockname(sv[0], address, in_elsewhere) == 0 && address->sa_family == AF_UNIX,
        "getsockname into another node's memory: %s", strerror(errno));
  close(sv[0]);
  close(sv[1]);
  CHECK(path_calls() == 0, "path calls");
  struct rusage* usage = (struct rusage*)g_inbox;
  refill_elsewhere();
  CHECK(getrusage(RUSAGE_SELF, usage) == 0 && usage->ru_maxrss > 0, "getrusage into another node's memory: %s",
        strerror(errno));
  int ep = epoll_create1(0), ev[2];
  CHECK(ep >= 0 && pipe(ev) == 0, "epoll_create1/pipe");
  struct epoll_event want_in = {.events = EPOLLIN, .data.u64 = 0x1234};
  copy_elsewhere(&want_in, sizeof want_in);
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ev[0], (struct epoll_event*)g_inbox) == 0,
        "epoll_ctl from another node's memory: %s", strerror(errno));
  struct epoll_event got;
  CHECK(write(ev[1], "e", 1) == 1 && epoll_wait(ep, &got, 1, 1000) == 1 && got.data.u64 == 0x1234, "epoll_wait");
  close(ep);
  close(ev[0]);
  close(ev[1]);
  return 0;
}

/* Paths another node wrote (a name built by a worker thread, used by
 * main): the kernel reads them, so their pages must be present here. */
static const char* path_elsewhere(const char* name) {
  char path[300];
  path_of(path, sizeof path, name);
  copy_elsewhere(path, strlen(path) + 1);
  return (const char*)g_inbox;
}

static int path_calls(void) {
  int fd = open(path_elsewhere("by-path-open"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  CHECK(fd >= 0 && close(fd) == 0, "open of a path another node wrote: %s", strerror(errno));
  fd = openat(AT_FDCWD, path_elsewhere("by-path-open"), O_RDONLY);
  CHECK(fd >= 0 && close(fd) == 0, "openat of a path another node wrote: %s", strerror(errno));
  fd = creat(path_elsewhere("by-path-creat"), 0644);
  CHECK(fd >= 0 && close(fd) == 0, "creat of a path another node wrote: %s", strerror(errno));
  FILE* f = fopen(path_elsewhere("by-path-fopen"), "w");
  CHECK(f && fputs("x\n", f) >= 0 && fclose(f) == 0, "fopen of a path another node wrote: %s", strerror(errno));
  CHECK(access(path_elsewhere("by-path-fopen"), R_OK) == 0, "access: %s", strerror(errno));
  char renamed[300];
  path_of(renamed, sizeof renamed, "by-path-renamed");
  CHECK(rename(path_elsewhere("by-path-fopen"), renamed) == 0, "rename from a path another node wrote: %s",
        strerror(errno));
  CHECK(unlink(path_elsewhere("by-path-renamed")) == 0, "unlink: %s", strerror(errno));
  CHECK(mkdir(path_elsewhere("by-path-dir"), 0755) == 0, "mkdir: %s", strerror(errno));
  CHECK(rmdir(path_elsewhere("by-path-dir")) == 0, "rmdir: %s", strerror(errno));
  CHECK(truncate(path_elsewhere("by-path-open"), 100) == 0, "truncate: %s", strerror(errno));
  char target[300];
  path_of(target, sizeof target, "by-path-open");
  char link_path[300];
  path_of(link_path, sizeof link_path, "by-path-link");
  unlink(link_path);  /* a run before this one, in the same directory */
  CHECK(symlink(target, link_path) == 0, "symlink: %s", strerror(errno));
  refill_elsewhere();
  char* into = (char*)g_inbox;
  ssize_t n = readlink(link_path, into, 299);
  CHECK(n == (ssize_t)strlen(target) && memcmp(into, target, (size_t)n) == 0,
        "readlink into another node's memory: %s", strerror(errno));
  refill_elsewhere();
  CHECK(getcwd(into, 300) == into, "getcwd into another node's memory: %s", strerror(errno));
  unlink(link_path);
  unlink(target);
  path_of(target, sizeof target, "by-path-creat");
  unlink(target);
  return 0;
}

static int buffers(void) {
  g_buffer = malloc(kBufferBytes);
  run_four_away(fill);
  pthread_t t[4];
  char path[300];
  path_of(path, sizeof path, "buffer-fwrite");
  FILE* f = fopen(path, "w");
  CHECK(f && fwrite(g_buffer, 1, kBufferBytes, f) == kBufferBytes && fclose(f) == 0, "fwrite: %s", strerror(errno));
  /* Others write again (the origin's copies go stale), then write(2). */
  for (long i = 0; i < 4; ++i) pthread_create(&t[i], NULL, fill, (void*)i);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  path_of(path, sizeof path, "buffer-write");
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  CHECK(fd >= 0 && write(fd, g_buffer, kBufferBytes) == kBufferBytes && close(fd) == 0, "write: %s", strerror(errno));
  /* And read back into it (pages being filled by the kernel). */
  fd = open(path, O_RDONLY);
  memset(g_buffer, 0, kBufferBytes);
  for (long i = 0; i < 4; ++i) pthread_create(&t[i], NULL, fill, (void*)i);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  ssize_t got = 0, n;
  while (got < kBufferBytes && (n = read(fd, g_buffer + got, kBufferBytes - got)) > 0) got += n;
  CHECK(got == kBufferBytes, "read: %zd bytes, %s", got, strerror(errno));
  close(fd);
  for (long i = 0; i < kBufferBytes; ++i) CHECK(g_buffer[i] == (unsigned char)(i * 7 + 3), "byte %ld", i);
  struct stat st;
  path_of(path, sizeof path, "buffer-fwrite");
  CHECK(stat(path, &st) == 0 && st.st_size == kBufferBytes, "fwrite's file has %ld bytes", (long)st.st_size);
  CHECK(sockets() == 0, "sockets");
  CHECK(other_calls() == 0, "other calls");
  printf("buffers: fwrite, write, read, sockets, poll, stat, pipe, ioctl, select, getsockname, paths, getrusage and epoll_ctl on global memory other nodes wrote: ok\n");
  return 0;
}

static void* forwarder(void* arg) {
  (void)arg;
  for (;;) {
    char line[] = "still here\n";
    if (write(2, line, 0) < 0) return NULL; /* a forwarded call, forever */
  }
}

static int orphan(void) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() - 1);
  pthread_t t;
  pthread_create(&t, &a, forwarder, NULL);
  struct timespec nap = {0, 300 * 1000000};
  nanosleep(&nap, NULL);
  raise(SIGKILL);
  return 0;
}

static void* aborter(void* arg) {
  (void)arg;
  abort();
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "files";
  lines = argc > 2 ? atoi(argv[2]) : 1000;
  snprintf(dir, sizeof dir, "%s", getenv("SHIM_DIR") ? getenv("SHIM_DIR") : "/tmp");
  if (strcmp(mode, "files") == 0) return files();
  if (strcmp(mode, "errno") == 0) return errnos();
  if (strcmp(mode, "masks") == 0) return masks();
  if (strcmp(mode, "orphan") == 0) return orphan();
  if (strcmp(mode, "buffers") == 0) return buffers();
  pthread_attr_t a;
  pthread_attr_init(&a);
  gpt_attr_setnode(&a, gpt_node_count() - 1);
  pthread_t t;
  pthread_create(&t, &a, strcmp(mode, "exit") == 0 ? exiter : aborter, NULL);
  pthread_join(t, NULL);
  printf("main: not reached\n");
  return 0;
}
