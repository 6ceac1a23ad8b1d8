// Blocking system calls that are cancellation points (docs/threads.md,
// "Cancellation"). The cancel signal's handler (libgpthread's cancel.cc)
// must end such a call only if the call did not complete: a read that
// consumed data returns it. So the call runs in a window of code whose
// bounds the handler knows (cancellable_syscall.S, as musl does it): the
// window checks the thread's cancel word and then enters the kernel. A
// cancel that finds the thread inside the window (before the kernel call,
// or in it and about to be restarted) sends it to the exit of the window,
// which returns -ECANCELED without running the call; a call interrupted
// without restart returns -EINTR and its wrapper acts. A call that
// returned is past the window and keeps its result.
//
// libgpthread registers the hooks once per process, before the program's
// threads run (the shim, a floor below, calls through them).
#pragma once

#include <cstdint>

namespace gpt::rt {

// Bits of the cancel word the window checks: a cancel is due when it is
// pending and neither disabled nor being acted on.
inline constexpr std::uint32_t kCancelDisabled = 1;
inline constexpr std::uint32_t kCancelAsync = 2;
inline constexpr std::uint32_t kCancelPending = 4;
inline constexpr std::uint32_t kCancelActing = 8;

struct CancelHooks {
  const std::uint32_t* (*word)();  // the calling thread's cancel word
  void (*act)();                   // acts on a due cancel (does not return)
};

void set_cancel_hooks(const CancelHooks& hooks);
// Null members until libgpthread registered them (a process without it).
[[nodiscard]] const CancelHooks& cancel_hooks();

}  // namespace gpt::rt

// Runs system call `nr` unless a cancel is due by `word` (then, or if a
// cancel interrupted it before it completed, -ECANCELED). -errno on error.
// In the program's code section: on nodes that forward their calls it is
// trapped like the libc's own.
extern "C" long gpt_cancellable_syscall(const std::uint32_t* word, long nr, long a, long b, long c, long d, long e,
                                        long f);
// The window's bounds and exit (for the cancel signal's handler).
extern "C" char gpt_cancel_window_begin[], gpt_cancel_window_end[], gpt_cancel_window_exit[];
