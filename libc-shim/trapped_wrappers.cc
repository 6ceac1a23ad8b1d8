// The libc functions that hand the program's buffers (or buffers the libc
// allocated with the program's malloc: stdio's, readdir's) to the kernel.
// Where the program's calls reach the kernel directly (the origin), each
// runs inside a TrappedCalls scope: its system calls are trapped and run
// through private buffers, so no release or invalidation by another thread
// can make them fail with EFAULT or come back short (bounce.h,
// docs/libc-shim.md). On other nodes every call is trapped anyway, and in a
// one-node job nothing can move: the scope costs nothing there. musl
// programs link with --wrap for these (gpt-cc); glibc programs find them in
// libgpthread.so before the libc.
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>


#include <errno.h>
#include <sys/syscall.h>

#include <type_traits>

#include "bounce.h"
#include "cancellable.h"
#include "trapped_calls.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

using gpt::shim::TrappedCalls;

#ifdef __GLIBC__
#include <dlfcn.h>
template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
// Named by asm label: glibc's headers may redirect pread to pread64 (with
// _FILE_OFFSET_BITS=64), and both symbols must be ours.
#define GPT_TRAPPED(ret, name, params, args)              \
  GPT_API ret gpt_trapped_##name params __asm__(#name);   \
  ret gpt_trapped_##name params {                         \
    static auto real = next<ret(*) params>(#name);        \
    TrappedCalls here;                                    \
    return real args;                                     \
  }
#else
#define GPT_TRAPPED(ret, name, params, args) \
  extern "C" ret __real_##name params;      \
  GPT_API ret __wrap_##name params {        \
    TrappedCalls here;                      \
    return __real_##name args;              \
  }
#endif

// Functions that are one system call of a known shape and a cancellation
// point: run as one here (cancellable.h), through private buffers where
// the program's buffers can move (cheaper than the trap and the two prctl
// of a TrappedCalls scope). The libc's own wrapper would add only its
// cancellation point, which gpthread's replaces.
namespace {
long result(long r) {
  if (r >= 0) return r;
  errno = static_cast<int>(-r);
  return -1;
}
template <class T>
long as_argument(T v) {
  if constexpr (std::is_pointer_v<T>) return reinterpret_cast<long>(v);
  else return static_cast<long>(v);
}
template <class... T>
long cancellable(long nr, T... v) {
  const long a[6] = {as_argument(v)...};
  return result(gpt::shim::cancellable_call(nr, a));
}
}  // namespace
#ifdef __GLIBC__
#define GPT_CANCELLABLE(ret, name, params, raw)                   \
  GPT_API ret gpt_trapped_##name params __asm__(#name);          \
  ret gpt_trapped_##name params { return static_cast<ret>(cancellable raw); }
#else
#define GPT_CANCELLABLE(ret, name, params, raw) \
  GPT_API ret __wrap_##name params { return static_cast<ret>(cancellable raw); }
#endif

GPT_CANCELLABLE(ssize_t, write, (int fd, const void* b, size_t n),
                (SYS_write, fd, b, n))
GPT_CANCELLABLE(ssize_t, read, (int fd, void* b, size_t n),
                (SYS_read, fd, b, n))
GPT_CANCELLABLE(ssize_t, pwrite, (int fd, const void* b, size_t n, off_t o),
                (SYS_pwrite64, fd, b, n, o))
GPT_CANCELLABLE(ssize_t, pread, (int fd, void* b, size_t n, off_t o),
                (SYS_pread64, fd, b, n, o))
GPT_CANCELLABLE(ssize_t, writev, (int fd, const struct iovec* v, int c),
                (SYS_writev, fd, v, c))
GPT_CANCELLABLE(ssize_t, readv, (int fd, const struct iovec* v, int c),
                (SYS_readv, fd, v, c))
GPT_CANCELLABLE(ssize_t, send, (int fd, const void* b, size_t n, int f),
                (SYS_sendto, fd, b, n, f, 0, 0))
GPT_CANCELLABLE(ssize_t, recv, (int fd, void* b, size_t n, int f),
                (SYS_recvfrom, fd, b, n, f, 0, 0))
GPT_CANCELLABLE(ssize_t, sendto, (int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l),
                (SYS_sendto, fd, b, n, f, a, l))
GPT_CANCELLABLE(ssize_t, recvfrom, (int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l),
                (SYS_recvfrom, fd, b, n, f, a, l))
GPT_CANCELLABLE(ssize_t, sendmsg, (int fd, const struct msghdr* m, int f),
                (SYS_sendmsg, fd, m, f))
GPT_CANCELLABLE(ssize_t, recvmsg, (int fd, struct msghdr* m, int f),
                (SYS_recvmsg, fd, m, f))
GPT_TRAPPED(size_t, fwrite, (const void* b, size_t s, size_t n, FILE* f), (b, s, n, f))
GPT_TRAPPED(size_t, fread, (void* b, size_t s, size_t n, FILE* f), (b, s, n, f))
GPT_CANCELLABLE(int, poll, (struct pollfd* p, nfds_t n, int t), (SYS_poll, p, n, t))
GPT_TRAPPED(int, stat, (const char* p, struct stat* st), (p, st))
GPT_TRAPPED(int, lstat, (const char* p, struct stat* st), (p, st))
GPT_TRAPPED(int, fstat, (int fd, struct stat* st), (fd, st))
GPT_TRAPPED(int, fstatat, (int dir, const char* p, struct stat* st, int f), (dir, p, st, f))
GPT_CANCELLABLE(int, select, (int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* t), (SYS_select, n, r, w, e, t))
GPT_CANCELLABLE(int, epoll_wait, (int fd, struct epoll_event* ev, int n, int t), (SYS_epoll_wait, fd, ev, n, t))
GPT_TRAPPED(int, pipe, (int fds[2]), (fds))
GPT_TRAPPED(int, pipe2, (int fds[2], int f), (fds, f))
GPT_TRAPPED(int, socketpair, (int d, int t, int p, int fds[2]), (d, t, p, fds))
GPT_CANCELLABLE(int, accept, (int fd, struct sockaddr* a, socklen_t* l), (SYS_accept, fd, a, l))
GPT_CANCELLABLE(int, accept4, (int fd, struct sockaddr* a, socklen_t* l, int f), (SYS_accept4, fd, a, l, f))
GPT_TRAPPED(int, getsockname, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l))
GPT_TRAPPED(int, getpeername, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l))
GPT_TRAPPED(int, getsockopt, (int fd, int lv, int o, void* v, socklen_t* l), (fd, lv, o, v, l))
GPT_CANCELLABLE(ssize_t, preadv, (int fd, const struct iovec* v, int c, off_t o), (SYS_preadv, fd, v, c, o, 0))
GPT_CANCELLABLE(ssize_t, pwritev, (int fd, const struct iovec* v, int c, off_t o), (SYS_pwritev, fd, v, c, o, 0))

// nanosleep is clock_nanosleep on CLOCK_REALTIME, and goes through it:
// gpthread's is a cancellation point, and copies the times into its own
// frame (libgpthread/src/threads/sleeps.cc).
#ifdef __GLIBC__
GPT_API int gpt_trapped_nanosleep(const struct timespec* q, struct timespec* r) __asm__("nanosleep");
int gpt_trapped_nanosleep(const struct timespec* q, struct timespec* r) {
#else
GPT_API int __wrap_nanosleep(const struct timespec* q, struct timespec* r) {
#endif
  const int err = clock_nanosleep(CLOCK_REALTIME, 0, q, r);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

// stdio and directories: the libc fills and empties its own buffers (from
// the program's malloc, so in the global space) with system calls made
// inside, which no wrapper of read() sees.
GPT_TRAPPED(char*, fgets, (char* s, int n, FILE* f), (s, n, f))
GPT_TRAPPED(ssize_t, getline, (char** line, size_t* n, FILE* f), (line, n, f))
GPT_TRAPPED(ssize_t, getdelim, (char** line, size_t* n, int delimiter, FILE* f), (line, n, delimiter, f))
GPT_TRAPPED(int, fputs, (const char* s, FILE* f), (s, f))
GPT_TRAPPED(int, fflush, (FILE* f), (f))
GPT_TRAPPED(int, fclose, (FILE* f), (f))
GPT_TRAPPED(struct dirent*, readdir, (DIR* d), (d))

// Paths: the kernel reads them (and musl's stdio and directory calls make
// their system calls inline, so fopen and opendir are wrapped themselves).
GPT_TRAPPED(int, creat, (const char* p, mode_t m), (p, m))
GPT_TRAPPED(FILE*, fopen, (const char* p, const char* mode), (p, mode))
GPT_TRAPPED(FILE*, freopen, (const char* p, const char* mode, FILE* f), (p, mode, f))
GPT_TRAPPED(DIR*, opendir, (const char* p), (p))
GPT_TRAPPED(int, access, (const char* p, int m), (p, m))
GPT_TRAPPED(int, faccessat, (int d, const char* p, int m, int f), (d, p, m, f))
GPT_TRAPPED(int, rename, (const char* a, const char* b), (a, b))
GPT_TRAPPED(int, renameat, (int da, const char* a, int db, const char* b), (da, a, db, b))
GPT_TRAPPED(int, unlink, (const char* p), (p))
GPT_TRAPPED(int, unlinkat, (int d, const char* p, int f), (d, p, f))
GPT_TRAPPED(int, mkdir, (const char* p, mode_t m), (p, m))
GPT_TRAPPED(int, mkdirat, (int d, const char* p, mode_t m), (d, p, m))
GPT_TRAPPED(int, rmdir, (const char* p), (p))
GPT_TRAPPED(int, chdir, (const char* p), (p))
GPT_TRAPPED(int, truncate, (const char* p, off_t n), (p, n))
GPT_TRAPPED(ssize_t, readlink, (const char* p, char* b, size_t n), (p, b, n))
GPT_TRAPPED(ssize_t, readlinkat, (int d, const char* p, char* b, size_t n), (d, p, b, n))
GPT_TRAPPED(int, symlink, (const char* a, const char* b), (a, b))
GPT_TRAPPED(int, link, (const char* a, const char* b), (a, b))
GPT_TRAPPED(int, chmod, (const char* p, mode_t m), (p, m))
GPT_TRAPPED(char*, realpath, (const char* p, char* out), (p, out))
GPT_TRAPPED(char*, getcwd, (char* b, size_t n), (b, n))
GPT_TRAPPED(int, getrusage, (int who, struct rusage* u), (who, u))
GPT_TRAPPED(int, epoll_ctl, (int ep, int op, int fd, struct epoll_event* e), (ep, op, fd, e))

// open and openat are variadic (the mode, with O_CREAT or O_TMPFILE), so
// they are written out; the mode is passed on whatever the flags.
#ifdef __GLIBC__
#define GPT_TRAPPED_OPEN(name)                                                   \
  GPT_API int gpt_trapped_##name(const char* p, int flags, ...) __asm__(#name); \
  int gpt_trapped_##name(const char* p, int flags, ...) {                        \
    va_list ap;                                                                   \
    va_start(ap, flags);                                                          \
    const mode_t mode = va_arg(ap, mode_t);                                       \
    va_end(ap);                                                                   \
    TrappedCalls here;                                                                \
    static auto real = next<int (*)(const char*, int, ...)>(#name);              \
    return real(p, flags, mode);                                                  \
  }
#define GPT_TRAPPED_OPENAT(name)                                                         \
  GPT_API int gpt_trapped_##name(int d, const char* p, int flags, ...) __asm__(#name); \
  int gpt_trapped_##name(int d, const char* p, int flags, ...) {                        \
    va_list ap;                                                                          \
    va_start(ap, flags);                                                                 \
    const mode_t mode = va_arg(ap, mode_t);                                              \
    va_end(ap);                                                                          \
    TrappedCalls here;                                                                       \
    static auto real = next<int (*)(int, const char*, int, ...)>(#name);                \
    return real(d, p, flags, mode);                                                      \
  }
GPT_TRAPPED_OPEN(open)
GPT_TRAPPED_OPEN(open64)
GPT_TRAPPED_OPENAT(openat)
GPT_TRAPPED_OPENAT(openat64)
#else
extern "C" int __real_open(const char* p, int flags, ...);
GPT_API int __wrap_open(const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_arg(ap, mode_t);
  va_end(ap);
  TrappedCalls here;
  return __real_open(p, flags, mode);
}
extern "C" int __real_openat(int d, const char* p, int flags, ...);
GPT_API int __wrap_openat(int d, const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_arg(ap, mode_t);
  va_end(ap);
  TrappedCalls here;
  return __real_openat(d, p, flags, mode);
}
#endif

// ioctl is variadic (one optional pointer argument), so it is written out.
#ifdef __GLIBC__
GPT_API int gpt_trapped_ioctl(int fd, unsigned long request, ...) __asm__("ioctl");
int gpt_trapped_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  TrappedCalls here;
  static auto real = next<int (*)(int, unsigned long, ...)>("ioctl");
  return real(fd, request, arg);
}
#else
extern "C" int __real_ioctl(int fd, int request, ...);
GPT_API int __wrap_ioctl(int fd, int request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  TrappedCalls here;
  return __real_ioctl(fd, request, arg);
}
#endif

#ifdef __GLIBC__
// What glibc's headers turn pread/pwrite into with _FILE_OFFSET_BITS=64.
GPT_CANCELLABLE(ssize_t, pwrite64, (int fd, const void* b, size_t n, off_t o),
                (SYS_pwrite64, fd, b, n, o))
GPT_CANCELLABLE(ssize_t, pread64, (int fd, void* b, size_t n, off_t o),
                (SYS_pread64, fd, b, n, o))
GPT_TRAPPED(int, stat64, (const char* p, struct stat* st), (p, st))
GPT_TRAPPED(int, lstat64, (const char* p, struct stat* st), (p, st))
GPT_TRAPPED(int, fstat64, (int fd, struct stat* st), (fd, st))
GPT_TRAPPED(int, fstatat64, (int dir, const char* p, struct stat* st, int f), (dir, p, st, f))
GPT_TRAPPED(int, creat64, (const char* p, mode_t m), (p, m))
GPT_TRAPPED(FILE*, fopen64, (const char* p, const char* mode), (p, mode))
GPT_TRAPPED(FILE*, freopen64, (const char* p, const char* mode, FILE* f), (p, mode, f))
GPT_TRAPPED(int, truncate64, (const char* p, off_t n), (p, n))
GPT_CANCELLABLE(ssize_t, preadv64, (int fd, const struct iovec* v, int c, off_t o), (SYS_preadv, fd, v, c, o, 0))
GPT_CANCELLABLE(ssize_t, pwritev64, (int fd, const struct iovec* v, int c, off_t o), (SYS_pwritev, fd, v, c, o, 0))
GPT_TRAPPED(struct dirent64*, readdir64, (DIR* d), (d))

// A character at a time: only a call that must refill the buffer makes a
// system call, and only that one pays for the trap (glibc's FILE is public).
#define GPT_TRAPPED_GETC(name)                                    \
  GPT_API int gpt_trapped_##name(FILE* f) __asm__(#name);         \
  int gpt_trapped_##name(FILE* f) {                               \
    static auto real = next<int (*)(FILE*)>(#name);               \
    if (f->_IO_read_ptr < f->_IO_read_end) return real(f);        \
    TrappedCalls here;                                            \
    return real(f);                                               \
  }
GPT_TRAPPED_GETC(fgetc)
GPT_TRAPPED_GETC(getc)
#endif
