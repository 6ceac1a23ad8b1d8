// sleep, usleep and clock_nanosleep (nanosleep comes here through the
// libc shim): cancellation points. The cancel signal interrupts the sleep
// (EINTR, whatever SA_RESTART says), and a cancelled thread acts instead of
// returning. The sleep runs on the thread's node, also on nodes other than
// the origin (a system call of the runtime's own, not forwarded).
//
// A sleep is also a point of coherence: the thread releases before it and
// acquires after it (docs/coherence.md). No program may count on it, but a
// program that polls another thread's progress with a sleep between looks
// (a flag, without a lock) then sees it as with one process; a sleep lasts
// far longer than the round trip this costs.
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "coherence.h"
#include "gpt/raw_syscall.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

GPT_API int clock_nanosleep(clockid_t clock, int flags, const struct timespec* request, struct timespec* remain) {
  gpt::threads::testcancel();
  // Copies in this frame, whose page is present and writable here (the
  // kernel cannot fault in a global page the program's buffer may be on).
  const struct timespec wanted = *request;
  struct timespec left = {0, 0};
  gpt::galloc::release();
  const long r = gpt::sys::call(SYS_clock_nanosleep, clock, flags, gpt::sys::arg(&wanted), gpt::sys::arg(&left));
  gpt::galloc::acquire();
  if (r == -EINTR) {
    gpt::threads::testcancel();
    if (remain && !(flags & TIMER_ABSTIME)) *remain = left;
  }
  return static_cast<int>(-r);
}

GPT_API unsigned sleep(unsigned seconds) {
  const struct timespec wanted = {static_cast<time_t>(seconds), 0};
  struct timespec left = {0, 0};
  if (clock_nanosleep(CLOCK_REALTIME, 0, &wanted, &left) != EINTR) return 0;
  return static_cast<unsigned>(left.tv_sec) + (left.tv_nsec > 0 ? 1u : 0u);
}

GPT_API int usleep(useconds_t microseconds) {
  const struct timespec wanted = {static_cast<time_t>(microseconds / 1000000),
                                  static_cast<long>(microseconds % 1000000) * 1000};
  const int err = clock_nanosleep(CLOCK_REALTIME, 0, &wanted, nullptr);
  if (err == 0) return 0;
  errno = err;
  return -1;
}
