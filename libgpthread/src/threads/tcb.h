// A thread's control block: allocated by the creating node in the global
// heap (so that node is its home), read by the node that runs it and by the
// joiner. pthread_t is its address, valid on every node.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>

namespace gpt::threads {

inline constexpr std::uint64_t kTcbMagic = 0x4250435444505447ull;  // "GPTDTCPB"

struct Tcb {
  std::uint64_t magic;
  void* (*start)(void*);
  void* arg;
  void* result;
  void* stack;              // in the global heap, allocated by the running node
  std::size_t stack_bytes;  // requested (pthread_attr_setstacksize) or default
  std::uint32_t node;       // where it runs
  std::uint32_t detached;
  std::int32_t kernel_tid;  // on its node, once started (pthread_kill)
  void* migration;          // MigrationRecord while it moves (migration.h)
  std::uint32_t is_main;    // main(), run as a gpthread thread (it may migrate);
                            // kMainCalledExit once it called pthread_exit
  std::uint32_t slot;       // its vehicle slot (vehicles.h)
  std::uint32_t given_stack;  // the program's (pthread_attr_setstack): not freed;
                              // kStackOfThisNode: outside the global space
  std::uint64_t signal_mask;  // its creator's, which it starts with
  // Signals sent to it on its node before its kernel thread ran: raised
  // there as it starts (POSIX: a signal for a live thread is not lost).
  std::uint64_t pending_signals;
  // The page under `stack` (its allocation starts there), guarded on the
  // node where the thread runs; nullptr for a stack the program gave.
  void* guard;
  // Set by pthread_cancel (and released) before its signal: a thread that
  // was between nodes when the signal came finds it as it resumes.
  std::uint32_t cancel_requested;
  // Its scheduling policy and priority (scheduling.h), applied on each node
  // it runs on; SCHED_OTHER (0) for the default.
  std::int32_t sched_policy;
  std::int32_t sched_priority;
  // Set when another node changed them: its kernel thread gets them when
  // the thread next asks for or changes its own, or arrives on a node.
  std::uint32_t sched_changed;
};

// Tcb::is_main: main, after it called pthread_exit.
inline constexpr std::uint32_t kMainCalledExit = 2;

// Tcb::given_stack: a stack given in the global space, or one in memory of
// the creating node only (the thread never leaves that node).
inline constexpr std::uint32_t kStackGiven = 1;
inline constexpr std::uint32_t kStackOfThisNode = 2;

// The calling thread's control block (nullptr for threads gpthread did not
// start, e.g. the runtime's own service thread).
Tcb* current();
void set_current(Tcb* tcb);

[[nodiscard]] inline Tcb* from_handle(pthread_t t) {
  auto* tcb = reinterpret_cast<Tcb*>(t);
  return tcb;
}

}  // namespace gpt::threads
