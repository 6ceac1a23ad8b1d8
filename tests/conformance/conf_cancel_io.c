/* Blocking I/O calls as cancellation points (the Open Group's "Cancellation
 * Points"): a thread blocked in read, accept, poll or waitpid is cancelled;
 * a pending cancel acts at such a call on every node, before the call runs;
 * a call that completed keeps its data (the cancel acts only if nothing was
 * transferred); with cancellation disabled the call runs on. The blocked
 * threads run on the origin, node 0 (also one that migrated there): calls
 * of threads on other nodes are forwarded to the origin, where they are not
 * interrupted yet (docs/threads.md, "Cancellation"). */
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

enum call { kRead, kAccept, kPoll, kWaitpid, kReadv };

struct io {
  sem_t ready;
  int fd;         /* what the helper blocks on */
  pid_t child;    /* kWaitpid */
  enum call call;
  int migrate;    /* the helper starts elsewhere and moves to node 0 */
  int disable;    /* cancellation disabled around the call */
  long result;    /* what the call returned, when it returned */
  int cleanup;    /* the cleanup handler ran */
  char got[8];
};

static void on_cleanup(void* arg) { ((struct io*)arg)->cleanup = 1; }

static void* blocker(void* arg) {
  struct io* io = arg;
  if (io->migrate) gpt_migrate(0);
  int old;
  if (io->disable) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  pthread_cleanup_push(on_cleanup, io);
  sem_post(&io->ready);
  switch (io->call) {
    case kRead:
      io->result = read(io->fd, io->got, sizeof io->got);
      break;
    case kReadv: {
      struct iovec v = {io->got, sizeof io->got};
      io->result = readv(io->fd, &v, 1);
      break;
    }
    case kAccept:
      io->result = accept(io->fd, NULL, NULL);
      break;
    case kPoll: {
      struct pollfd p = {io->fd, POLLIN, 0};
      io->result = poll(&p, 1, 20000);
      break;
    }
    case kWaitpid: {
      int status;
      io->result = waitpid(io->child, &status, 0);
      break;
    }
  }
  if (io->disable) {
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    pthread_testcancel();
  }
  pthread_cleanup_pop(0);
  return (void*)7;
}

static int blocker_node(const struct io* io) {
  return io->migrate ? conf_other_node() : 0;
}

/* A helper blocked in `call` on `fd` is cancelled: it ends with
 * PTHREAD_CANCELED, its cleanup handler ran, the call never returned. */
static void cancel_blocked(enum call call, int fd, pid_t child, int migrate) {
  struct io io = {.fd = fd, .child = child, .call = call, .migrate = migrate, .result = -99};
  sem_init(&io.ready, 0, 0);
  pthread_t h;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  EXPECT(conf_start_on(&h, blocker_node(&io), blocker, &io), 0);
  sem_wait(&io.ready);
  conf_pause_ms(30);
  EXPECT(pthread_cancel(h), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(io.cleanup, 1);
  EXPECT(io.result, -99);
  EXPECT_TRUE(conf_ms_since(&start) < 10000);
  sem_destroy(&io.ready);
}

static void read_on_empty_pipe(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  cancel_blocked(kRead, p[0], 0, 0);
  cancel_blocked(kReadv, p[0], 0, 0);
  /* The pipe lost nothing: what is written now is read whole. */
  EXPECT(write(p[1], "abc", 3), 3);
  char b[4];
  EXPECT(read(p[0], b, sizeof b), 3);
  close(p[0]);
  close(p[1]);
}

static void poll_on_empty_pipe(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  cancel_blocked(kPoll, p[0], 0, 0);
  close(p[0]);
  close(p[1]);
}

static void accept_without_client(void) {
  /* Sockets are the node's own: the listening one is made on the origin. */
  EXPECT(gpt_migrate(0), 0);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_TRUE(s >= 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "/tmp/conf_cancel_io.%d.%d", (int)getpid(), conf_case_node);
  unlink(a.sun_path);
  EXPECT(bind(s, (struct sockaddr*)&a, sizeof a), 0);
  EXPECT(listen(s, 1), 0);
  cancel_blocked(kAccept, s, 0, 0);
  close(s);
  unlink(a.sun_path);
}

static void waitpid_for_running_child(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(p[1]);
    (void)!read(p[0], &c, 1); /* until the parent closes its end */
    _exit(3);
  }
  EXPECT_TRUE(child > 0);
  close(p[0]);
  cancel_blocked(kWaitpid, -1, child, 0);
  close(p[1]);
  int status = 0;
  EXPECT(waitpid(child, &status, 0), child); /* the cancelled wait did not reap it */
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 3, 1);
}

/* A thread that started on another node and moved to the origin. */
static void read_after_migrating(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  cancel_blocked(kRead, p[0], 0, 1);
  close(p[0]);
  close(p[1]);
}

/* Data and a cancel arrive together: either the read returned the data
 * (and the cancel acted at the next point), or it was cancelled and the
 * data is still in the pipe; never both cancelled and consumed. */
static void completed_read_keeps_data(void) {
  for (int round = 0; round < 20; ++round) {
    int p[2];
    EXPECT(pipe(p), 0);
    EXPECT(fcntl(p[0], F_SETFL, 0), 0);
    struct io io = {.fd = p[0], .call = kRead, .result = -99};
    sem_init(&io.ready, 0, 0);
    pthread_t h;
    EXPECT(conf_start_on(&h, 0, blocker, &io), 0);
    sem_wait(&io.ready);
    conf_pause_ms(round % 3);
    EXPECT(write(p[1], "xyz", 3), 3);
    EXPECT(pthread_cancel(h), 0);
    void* r = conf_join_result(h);
    EXPECT_TRUE(r == PTHREAD_CANCELED || r == (void*)7);
    /* The blocker has no cancellation point after its read: returned
     * data means it was not cancelled. */
    EXPECT_TRUE(r == PTHREAD_CANCELED ? io.result == -99 : io.result == 3);
    EXPECT(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    char b[4];
    const long left = read(p[0], b, sizeof b);
#ifndef CONF_NATIVE_GLIBC
    EXPECT(left, r == PTHREAD_CANCELED ? 3 : -1);
#else
    (void)left; /* glibc may lose the data (native/gpthread.h) */
#endif
    close(p[0]);
    close(p[1]);
    sem_destroy(&io.ready);
  }
}

/* Disabled: the call runs on, returns what it read; the cancel acts once
 * enabled again. */
static void disabled_call_runs_on(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  struct io io = {.fd = p[0], .call = kRead, .disable = 1, .result = -99};
  sem_init(&io.ready, 0, 0);
  pthread_t h;
  EXPECT(conf_start_on(&h, 0, blocker, &io), 0);
  sem_wait(&io.ready);
  conf_pause_ms(30);
  EXPECT(pthread_cancel(h), 0);
  conf_pause_ms(30);
  EXPECT(write(p[1], "ok", 2), 2);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(io.result, 2);
  EXPECT(io.got[0] == 'o' && io.got[1] == 'k', 1);
  sem_destroy(&io.ready);
  close(p[0]);
  close(p[1]);
}

/* A cancel already pending acts at read before it reads, on any node. */
static void* pending_reader(void* arg) {
  struct io* io = arg;
  int old;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  pthread_cancel(pthread_self());
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  pthread_cleanup_push(on_cleanup, io);
  io->result = read(io->fd, io->got, sizeof io->got);
  pthread_cleanup_pop(0);
  return NULL;
}

static void pending_cancel_acts_at_read(void) {
  int p[2];
  EXPECT(pipe(p), 0);
  EXPECT(write(p[1], "abc", 3), 3);
  struct io io = {.fd = p[0], .result = -99};
  pthread_t h;
  EXPECT(conf_start_on(&h, conf_other_node(), pending_reader, &io), 0);
  EXPECT(conf_join_result(h) == PTHREAD_CANCELED, 1);
  EXPECT(io.cleanup, 1);
  EXPECT(io.result, -99);
  char b[4];
  EXPECT(read(p[0], b, sizeof b), 3);
  close(p[0]);
  close(p[1]);
}

CONF_MAIN("conf_cancel_io", {"read_on_empty_pipe", read_on_empty_pipe}, {"poll_on_empty_pipe", poll_on_empty_pipe},
          {"accept_without_client", accept_without_client}, {"waitpid_for_running_child", waitpid_for_running_child},
          {"read_after_migrating", read_after_migrating}, {"completed_read_keeps_data", completed_read_keeps_data},
          {"disabled_call_runs_on", disabled_call_runs_on}, {"pending_cancel_acts_at_read", pending_cancel_acts_at_read})
