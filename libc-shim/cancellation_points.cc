// The blocking calls POSIX makes cancellation points that the shim wraps
// for no other reason (read, write, accept, poll... are in
// trapped_wrappers.cc): each is its system call, run by cancellable_call
// (cancellable.h). musl programs link with --wrap for these (gpt-cc);
// glibc programs find them in libgpthread.so before the libc.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cancellable.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

#ifdef __GLIBC__
#define GPT_POINT(ret, name, params) \
  GPT_API ret gpt_point_##name params __asm__(#name); \
  ret gpt_point_##name params
#else
#define GPT_POINT(ret, name, params) GPT_API ret __wrap_##name params
#endif

namespace {

template <class T>
long as_argument(T v) {
  if constexpr (std::is_pointer_v<T>) return reinterpret_cast<long>(v);
  else if constexpr (std::is_null_pointer_v<T>) return 0;
  else return static_cast<long>(v);
}

template <class... T>
long call(long nr, T... v) {
  const long a[6] = {as_argument(v)...};
  return gpt::shim::cancellable_call(nr, a);
}

long result(long r) {
  if (r >= 0) return r;
  errno = static_cast<int>(-r);
  return -1;
}

constexpr std::size_t kSigsetBytes = 8;  // the kernel's sigset

// The signals a thread must never block while it waits: page faults of the
// global space (SIGSEGV), forwarded calls (SIGSYS), and the cancel signal
// (glibc's 32, musl's 33), as glibc's own sigsuspend keeps its cancel signal.
std::uint64_t waitable(const sigset_t* set) {
  std::uint64_t mask;
  std::memcpy(&mask, set, sizeof mask);
  constexpr auto bit = [](int sig) { return std::uint64_t{1} << (sig - 1); };
#ifdef __GLIBC__
  constexpr int kCancel = 32;
#else
  constexpr int kCancel = 33;
#endif
  return mask & ~(bit(SIGSEGV) | bit(SIGSYS) | bit(kCancel));
}

// rt_sigtimedwait with the set, the time and the information in this
// frame (outside the global space, whose pages may move under the call).
long timed_wait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
  std::uint64_t mask;
  std::memcpy(&mask, set, sizeof mask);
  siginfo_t here;
  struct timespec limit = {};
  if (timeout) limit = *timeout;
  const long r = call(SYS_rt_sigtimedwait, &mask, info ? &here : nullptr, timeout ? &limit : nullptr, kSigsetBytes);
  if (r > 0 && info) *info = here;
  return r;
}

}  // namespace

GPT_POINT(int, connect, (int fd, const struct sockaddr* address, socklen_t length)) {
  return static_cast<int>(result(call(SYS_connect, fd, address, length)));
}

GPT_POINT(int, ppoll, (struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* mask)) {
  // The kernel writes the time left: the caller's stays as it was.
  struct timespec left = {};
  if (timeout) left = *timeout;
  std::uint64_t kernel_mask = 0;
  if (mask) std::memcpy(&kernel_mask, mask, sizeof kernel_mask);
  return static_cast<int>(result(call(SYS_ppoll, fds, n, timeout ? &left : nullptr, mask ? &kernel_mask : nullptr,
                                      kSigsetBytes)));
}

GPT_POINT(int, pselect, (int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* timeout,
                         const sigset_t* mask)) {
  struct timespec left = {};
  if (timeout) left = *timeout;
  std::uint64_t kernel_mask = 0;
  if (mask) std::memcpy(&kernel_mask, mask, sizeof kernel_mask);
  const long pair[2] = {mask ? as_argument(&kernel_mask) : 0, static_cast<long>(kSigsetBytes)};
  return static_cast<int>(result(call(SYS_pselect6, n, r, w, e, timeout ? &left : nullptr, pair)));
}

GPT_POINT(int, epoll_pwait, (int fd, struct epoll_event* events, int n, int timeout, const sigset_t* mask)) {
  std::uint64_t kernel_mask = 0;
  if (mask) std::memcpy(&kernel_mask, mask, sizeof kernel_mask);
  return static_cast<int>(
      result(call(SYS_epoll_pwait, fd, events, n, timeout, mask ? &kernel_mask : nullptr, kSigsetBytes)));
}

GPT_POINT(pid_t, waitpid, (pid_t pid, int* status, int options)) {
  return static_cast<pid_t>(result(call(SYS_wait4, pid, status, options, nullptr)));
}

GPT_POINT(pid_t, wait, (int* status)) { return static_cast<pid_t>(result(call(SYS_wait4, -1, status, 0, nullptr))); }

GPT_POINT(int, pause, (void)) { return static_cast<int>(result(call(SYS_pause))); }

GPT_POINT(int, sigsuspend, (const sigset_t* mask)) {
  const std::uint64_t kernel_mask = waitable(mask);
  return static_cast<int>(result(call(SYS_rt_sigsuspend, &kernel_mask, kSigsetBytes)));
}

GPT_POINT(int, sigtimedwait, (const sigset_t* set, siginfo_t* info, const struct timespec* timeout)) {
  return static_cast<int>(result(timed_wait(set, info, timeout)));
}

GPT_POINT(int, sigwaitinfo, (const sigset_t* set, siginfo_t* info)) {
  return static_cast<int>(result(timed_wait(set, info, nullptr)));
}

GPT_POINT(int, sigwait, (const sigset_t* set, int* sig)) {
  // Another signal's handler interrupts the wait (EINTR): sigwait waits on.
  // A cancel acts inside timed_wait.
  long r;
  do r = timed_wait(set, nullptr, nullptr);
  while (r == -EINTR);
  if (r < 0) return static_cast<int>(-r);
  *sig = static_cast<int>(r);
  return 0;
}

GPT_POINT(int, fsync, (int fd)) { return static_cast<int>(result(call(SYS_fsync, fd))); }

GPT_POINT(int, fdatasync, (int fd)) { return static_cast<int>(result(call(SYS_fdatasync, fd))); }
