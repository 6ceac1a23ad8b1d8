// System calls that read or fill a buffer in the global space must find its
// pages present: the kernel does not take coherence faults, it answers
// EFAULT (and fwrite of a large buffer would silently come up short). On
// nodes other than the origin the shim copies buffers itself; here, on
// every node, the calls that take a buffer touch its pages first, so the
// fault handler brings them in (docs/libc-shim.md). musl programs link
// with --wrap for these (gpt-cc); glibc programs find them in
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

#include <cstdint>

#include "global_space.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

bool global(const void* p) {
  const auto& s = gpt::galloc::space();
  return s.coherent && s.contains(p);
}

// One access per page: a read for data the call reads, a read and a write
// of the same byte for a buffer the call fills.
void touch(const void* p, std::size_t n, bool for_writing) {
  if (n == 0 || !global(p)) return;
  auto at = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t last = at + n - 1;
  for (;; at = (at | 4095) + 1) {
    auto* byte = reinterpret_cast<volatile unsigned char*>(at > last ? last : at);
    unsigned char v = *byte;
    if (for_writing) *byte = v;
    if (at >= last) break;
  }
}

void touch_vector(const struct iovec* iov, int count, bool for_writing) {
  for (int i = 0; i < count; ++i) touch(iov[i].iov_base, iov[i].iov_len, for_writing);
}

// A socket message: the header, the iovecs, the address and the control
// data (the kernel fills all of them but the iovec array on receive).
void touch_message(const struct msghdr* m, bool for_writing) {
  if (!m) return;
  touch(m, sizeof *m, for_writing);
  touch(m->msg_iov, m->msg_iovlen * sizeof(struct iovec), false);
  touch_vector(m->msg_iov, static_cast<int>(m->msg_iovlen), for_writing);
  touch(m->msg_name, m->msg_namelen, for_writing);
  touch(m->msg_control, m->msg_controllen, for_writing);
}

void touch_address(const struct sockaddr* a, const socklen_t* length) {
  if (!length) return;
  touch(length, sizeof *length, true);
  touch(a, *length, true);
}

// A path the kernel reads: reading it here faults its pages in (through a
// volatile pointer: a strlen whose result is unused is optimised away).
void touch_path(const char* path) {
  if (!path || !global(path)) return;
  for (auto* c = reinterpret_cast<const volatile char*>(path); *c; ++c) {
  }
}

void touch_fd_sets(int n, fd_set* r, fd_set* w, fd_set* e) {
  const std::size_t bytes = n <= 0 ? 0 : (static_cast<std::size_t>(n) + 7) / 8;
  touch(r, bytes, true);
  touch(w, bytes, true);
  touch(e, bytes, true);
}

// An ioctl's argument: its size and direction are in the request number
// for _IOC-style requests; for older ones (FIONREAD...) only its first
// bytes are certainly the argument's.
// (The kernel's asm-generic encoding, which x86-64 uses: 2 direction bits,
// 14 size bits; musl's headers do not spell it out.)
void touch_ioctl(unsigned long request, void* arg) {
  constexpr unsigned kIocNone = 0, kIocRead = 2;  // read: the kernel fills it
  const auto dir = static_cast<unsigned>((request >> 30) & 3);
  const auto size = static_cast<std::size_t>((request >> 16) & 0x3fff);
  if (dir == kIocNone || size == 0) {
    touch(arg, 1, true);
    return;
  }
  touch(arg, size, (dir & kIocRead) != 0);
}

}  // namespace

#ifdef __GLIBC__
#include <dlfcn.h>
template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
// Named by asm label: glibc's headers may redirect pread to pread64 (with
// _FILE_OFFSET_BITS=64), and both symbols must be ours.
#define GPT_TOUCHING(ret, name, params, args, prepare)             \
  GPT_API ret gpt_touching_##name params __asm__(#name);           \
  ret gpt_touching_##name params {                                 \
    prepare;                                                       \
    static auto real = next<ret(*) params>(#name);                 \
    return real args;                                              \
  }
#else
#define GPT_TOUCHING(ret, name, params, args, prepare) \
  extern "C" ret __real_##name params;                 \
  GPT_API ret __wrap_##name params {                   \
    prepare;                                           \
    return __real_##name args;                         \
  }
#endif

// The libc headers mark read buffers write-only; reading a byte back before
// writing it unchanged is the point here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

GPT_TOUCHING(ssize_t, write, (int fd, const void* b, size_t n), (fd, b, n), touch(b, n, false))
GPT_TOUCHING(ssize_t, read, (int fd, void* b, size_t n), (fd, b, n), touch(b, n, true))
GPT_TOUCHING(ssize_t, pwrite, (int fd, const void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, false))
GPT_TOUCHING(ssize_t, pread, (int fd, void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, true))
GPT_TOUCHING(ssize_t, writev, (int fd, const struct iovec* v, int c), (fd, v, c), touch_vector(v, c, false))
GPT_TOUCHING(ssize_t, readv, (int fd, const struct iovec* v, int c), (fd, v, c), touch_vector(v, c, true))
GPT_TOUCHING(size_t, fwrite, (const void* b, size_t s, size_t n, FILE* f), (b, s, n, f), touch(b, s * n, false))
GPT_TOUCHING(size_t, fread, (void* b, size_t s, size_t n, FILE* f), (b, s, n, f), touch(b, s * n, true))
GPT_TOUCHING(ssize_t, send, (int fd, const void* b, size_t n, int f), (fd, b, n, f), touch(b, n, false))
GPT_TOUCHING(ssize_t, recv, (int fd, void* b, size_t n, int f), (fd, b, n, f), touch(b, n, true))
GPT_TOUCHING(ssize_t, sendto,
             (int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l),
             (fd, b, n, f, a, l), (touch(b, n, false), touch(a, l, false)))
GPT_TOUCHING(ssize_t, recvfrom, (int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l),
             (fd, b, n, f, a, l), (touch(b, n, true), touch_address(a, l)))
GPT_TOUCHING(ssize_t, sendmsg, (int fd, const struct msghdr* m, int f), (fd, m, f), touch_message(m, false))
GPT_TOUCHING(ssize_t, recvmsg, (int fd, struct msghdr* m, int f), (fd, m, f), touch_message(m, true))
GPT_TOUCHING(int, poll, (struct pollfd* p, nfds_t n, int t), (p, n, t), touch(p, n * sizeof *p, true))
GPT_TOUCHING(int, stat, (const char* p, struct stat* st), (p, st), (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, lstat, (const char* p, struct stat* st), (p, st), (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, fstat, (int fd, struct stat* st), (fd, st), touch(st, sizeof *st, true))
GPT_TOUCHING(int, fstatat, (int dir, const char* p, struct stat* st, int f), (dir, p, st, f),
             (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, select, (int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* t), (n, r, w, e, t),
             (touch_fd_sets(n, r, w, e), touch(t, sizeof *t, true)))
GPT_TOUCHING(int, epoll_wait, (int fd, struct epoll_event* ev, int n, int t), (fd, ev, n, t),
             touch(ev, n > 0 ? static_cast<std::size_t>(n) * sizeof *ev : 0, true))
GPT_TOUCHING(int, pipe, (int fds[2]), (fds), touch(fds, 2 * sizeof(int), true))
GPT_TOUCHING(int, pipe2, (int fds[2], int f), (fds, f), touch(fds, 2 * sizeof(int), true))
GPT_TOUCHING(int, socketpair, (int d, int t, int p, int fds[2]), (d, t, p, fds), touch(fds, 2 * sizeof(int), true))
GPT_TOUCHING(int, accept, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l), touch_address(a, l))
GPT_TOUCHING(int, accept4, (int fd, struct sockaddr* a, socklen_t* l, int f), (fd, a, l, f), touch_address(a, l))
GPT_TOUCHING(int, getsockname, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l), touch_address(a, l))
GPT_TOUCHING(int, getpeername, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l), touch_address(a, l))
GPT_TOUCHING(int, getsockopt, (int fd, int lv, int o, void* v, socklen_t* l), (fd, lv, o, v, l),
             (touch(l, sizeof *l, true), touch(v, l ? *l : 0, true)))
// nanosleep is clock_nanosleep on CLOCK_REALTIME, and goes through it:
// gpthread's is a cancellation point (libgpthread/src/threads/sleeps.cc).
#ifdef __GLIBC__
GPT_API int gpt_touching_nanosleep(const struct timespec* q, struct timespec* r) __asm__("nanosleep");
int gpt_touching_nanosleep(const struct timespec* q, struct timespec* r) {
#else
GPT_API int __wrap_nanosleep(const struct timespec* q, struct timespec* r) {
#endif
  touch(q, sizeof *q, false);
  touch(r, sizeof *r, true);
  const int err = clock_nanosleep(CLOCK_REALTIME, 0, q, r);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

// Paths: the kernel reads them (and musl's stdio and directory calls make
// their system calls inline, so fopen and opendir are wrapped themselves).
GPT_TOUCHING(int, creat, (const char* p, mode_t m), (p, m), touch_path(p))
GPT_TOUCHING(FILE*, fopen, (const char* p, const char* mode), (p, mode), (touch_path(p), touch_path(mode)))
GPT_TOUCHING(FILE*, freopen, (const char* p, const char* mode, FILE* f), (p, mode, f),
             (touch_path(p), touch_path(mode)))
GPT_TOUCHING(DIR*, opendir, (const char* p), (p), touch_path(p))
GPT_TOUCHING(int, access, (const char* p, int m), (p, m), touch_path(p))
GPT_TOUCHING(int, faccessat, (int d, const char* p, int m, int f), (d, p, m, f), touch_path(p))
GPT_TOUCHING(int, rename, (const char* a, const char* b), (a, b), (touch_path(a), touch_path(b)))
GPT_TOUCHING(int, renameat, (int da, const char* a, int db, const char* b), (da, a, db, b),
             (touch_path(a), touch_path(b)))
GPT_TOUCHING(int, unlink, (const char* p), (p), touch_path(p))
GPT_TOUCHING(int, unlinkat, (int d, const char* p, int f), (d, p, f), touch_path(p))
GPT_TOUCHING(int, mkdir, (const char* p, mode_t m), (p, m), touch_path(p))
GPT_TOUCHING(int, mkdirat, (int d, const char* p, mode_t m), (d, p, m), touch_path(p))
GPT_TOUCHING(int, rmdir, (const char* p), (p), touch_path(p))
GPT_TOUCHING(int, chdir, (const char* p), (p), touch_path(p))
GPT_TOUCHING(int, truncate, (const char* p, off_t n), (p, n), touch_path(p))
GPT_TOUCHING(ssize_t, readlink, (const char* p, char* b, size_t n), (p, b, n), (touch_path(p), touch(b, n, true)))
GPT_TOUCHING(ssize_t, readlinkat, (int d, const char* p, char* b, size_t n), (d, p, b, n),
             (touch_path(p), touch(b, n, true)))
GPT_TOUCHING(int, symlink, (const char* a, const char* b), (a, b), (touch_path(a), touch_path(b)))
GPT_TOUCHING(int, link, (const char* a, const char* b), (a, b), (touch_path(a), touch_path(b)))
GPT_TOUCHING(int, chmod, (const char* p, mode_t m), (p, m), touch_path(p))
GPT_TOUCHING(char*, realpath, (const char* p, char* out), (p, out), (touch_path(p), touch(out, PATH_MAX, true)))
GPT_TOUCHING(char*, getcwd, (char* b, size_t n), (b, n), touch(b, n, true))
GPT_TOUCHING(int, getrusage, (int who, struct rusage* u), (who, u), touch(u, sizeof *u, true))
GPT_TOUCHING(int, epoll_ctl, (int ep, int op, int fd, struct epoll_event* e), (ep, op, fd, e),
             touch(e, sizeof *e, false))

// open and openat are variadic (the mode, with O_CREAT or O_TMPFILE), so
// they are written out; the mode is passed on whatever the flags.
#ifdef __GLIBC__
#define GPT_TOUCHING_OPEN(name)                                                   \
  GPT_API int gpt_touching_##name(const char* p, int flags, ...) __asm__(#name); \
  int gpt_touching_##name(const char* p, int flags, ...) {                        \
    va_list ap;                                                                   \
    va_start(ap, flags);                                                          \
    const mode_t mode = va_arg(ap, mode_t);                                       \
    va_end(ap);                                                                   \
    touch_path(p);                                                                \
    static auto real = next<int (*)(const char*, int, ...)>(#name);              \
    return real(p, flags, mode);                                                  \
  }
#define GPT_TOUCHING_OPENAT(name)                                                         \
  GPT_API int gpt_touching_##name(int d, const char* p, int flags, ...) __asm__(#name); \
  int gpt_touching_##name(int d, const char* p, int flags, ...) {                        \
    va_list ap;                                                                          \
    va_start(ap, flags);                                                                 \
    const mode_t mode = va_arg(ap, mode_t);                                              \
    va_end(ap);                                                                          \
    touch_path(p);                                                                       \
    static auto real = next<int (*)(int, const char*, int, ...)>(#name);                \
    return real(d, p, flags, mode);                                                      \
  }
GPT_TOUCHING_OPEN(open)
GPT_TOUCHING_OPEN(open64)
GPT_TOUCHING_OPENAT(openat)
GPT_TOUCHING_OPENAT(openat64)
#else
extern "C" int __real_open(const char* p, int flags, ...);
GPT_API int __wrap_open(const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_arg(ap, mode_t);
  va_end(ap);
  touch_path(p);
  return __real_open(p, flags, mode);
}
extern "C" int __real_openat(int d, const char* p, int flags, ...);
GPT_API int __wrap_openat(int d, const char* p, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_arg(ap, mode_t);
  va_end(ap);
  touch_path(p);
  return __real_openat(d, p, flags, mode);
}
#endif

// ioctl is variadic (one optional pointer argument), so it is written out.
#ifdef __GLIBC__
GPT_API int gpt_touching_ioctl(int fd, unsigned long request, ...) __asm__("ioctl");
int gpt_touching_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  touch_ioctl(request, arg);
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
  touch_ioctl(static_cast<unsigned>(request), arg);
  return __real_ioctl(fd, request, arg);
}
#endif

#ifdef __GLIBC__
// What glibc's headers turn pread/pwrite into with _FILE_OFFSET_BITS=64.
GPT_TOUCHING(ssize_t, pwrite64, (int fd, const void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, false))
GPT_TOUCHING(ssize_t, pread64, (int fd, void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, true))
GPT_TOUCHING(int, stat64, (const char* p, struct stat* st), (p, st), (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, lstat64, (const char* p, struct stat* st), (p, st), (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, fstat64, (int fd, struct stat* st), (fd, st), touch(st, sizeof *st, true))
GPT_TOUCHING(int, fstatat64, (int dir, const char* p, struct stat* st, int f), (dir, p, st, f),
             (touch_path(p), touch(st, sizeof *st, true)))
GPT_TOUCHING(int, creat64, (const char* p, mode_t m), (p, m), touch_path(p))
GPT_TOUCHING(FILE*, fopen64, (const char* p, const char* mode), (p, mode), (touch_path(p), touch_path(mode)))
GPT_TOUCHING(FILE*, freopen64, (const char* p, const char* mode, FILE* f), (p, mode, f),
             (touch_path(p), touch_path(mode)))
GPT_TOUCHING(int, truncate64, (const char* p, off_t n), (p, n), touch_path(p))
#endif
