// Runtime sections that a program's signal handler must not interrupt.
//
// A release holds the node's release and dirty-list locks, an invalidation
// holds page claims, and the page-fault handler takes both kinds. A program
// handler that runs inside one of them and writes global memory (a flag in
// a global, the commonest handler there is) faults, and the fault waits for
// a lock its own thread holds: the thread, and every thread of its node
// that releases after it, hang. So while a thread is inside such a section
// a program signal is deferred: gpthread's entry for program handlers
// (libgpthread/src/threads/signals.cc) finds the section open, queues the
// signal again with its siginfo and leaves it blocked in the interrupted
// context's mask; the section's end unblocks it and the kernel delivers it
// then, as if it had come a moment later. Nothing is paid when no signal
// comes. Async-signal-safe.
#pragma once

#include <signal.h>

#include <cstdint>

namespace gpt::rt {

extern thread_local std::uint32_t t_critical_depth __attribute__((tls_model("initial-exec")));
extern thread_local std::uint64_t t_deferred_signals __attribute__((tls_model("initial-exec")));

// Unblocks what was deferred while the outermost section was open.
void deliver_deferred_signals();

class CriticalSection {
 public:
  CriticalSection() { ++t_critical_depth; }
  ~CriticalSection() {
    if (--t_critical_depth == 0 && t_deferred_signals) deliver_deferred_signals();
  }
  CriticalSection(const CriticalSection&) = delete;
  CriticalSection& operator=(const CriticalSection&) = delete;
};

[[nodiscard]] inline bool in_critical_section() { return t_critical_depth != 0; }

// Called first by a handler of the program's signals: true if the signal
// was deferred (the handler must return at once).
[[nodiscard]] bool defer_if_critical(int sig, const siginfo_t* info, void* context);

}  // namespace gpt::rt
