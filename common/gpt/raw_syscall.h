// System calls the runtime makes on its own behalf. Inside the program
// (GPT_IN_PROCESS_RUNTIME) they go through one stub that lies in the code
// range syscall user dispatch always allows (docs/libc-shim.md), so on a
// remote node the runtime's futexes, doorbells and page protections are
// never trapped, and the SIGSYS handler can make calls itself. Elsewhere
// (the agent, tests) the libc's syscall() does. Both return -errno on error.
#pragma once

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace gpt::sys {

#ifdef GPT_IN_PROCESS_RUNTIME
extern "C" long gpt_raw_syscall(long nr, long a, long b, long c, long d, long e, long f);
inline long call(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return gpt_raw_syscall(nr, a, b, c, d, e, f);
}
#else
inline long call(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long r = syscall(nr, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}
#endif

// A pointer or integer as a system call argument.
template <class T>
[[nodiscard]] inline long arg(T* p) {
  return reinterpret_cast<long>(p);
}
[[nodiscard]] inline long arg(std::uintptr_t v) { return static_cast<long>(v); }

}  // namespace gpt::sys
