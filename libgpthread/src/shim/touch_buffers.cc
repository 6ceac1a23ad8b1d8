// System calls that read or fill a buffer in the global space must find its
// pages present: the kernel does not take coherence faults, it answers
// EFAULT (and fwrite of a large buffer would silently come up short). On
// nodes other than the origin the shim copies buffers itself; here, on
// every node, the calls that take a buffer touch its pages first, so the
// fault handler brings them in (docs/libc-shim.md). musl programs link
// with --wrap for these (gpt-cc); glibc programs find them in
// libgpthread.so before the libc.
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
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
#ifdef __GLIBC__
// What glibc's headers turn pread/pwrite into with _FILE_OFFSET_BITS=64.
GPT_TOUCHING(ssize_t, pwrite64, (int fd, const void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, false))
GPT_TOUCHING(ssize_t, pread64, (int fd, void* b, size_t n, off_t o), (fd, b, n, o), touch(b, n, true))
#endif
