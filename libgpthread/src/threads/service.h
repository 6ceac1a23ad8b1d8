// The runtime's service thread: starts the threads the agent hands to this
// node, and reaps the ones that ended (joins the kernel thread, frees its
// stack, tells the thread's home). On worker nodes the process's first
// thread does this; on node 0 (and SPMD nodes) a thread started before main.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tcb.h"

namespace gpt::threads {

// Runs the service loop on the calling thread until the job ends; then
// leaves the process with _exit(0).
[[noreturn]] void serve_forever();
// Starts the service thread (node 0, SPMD nodes).
void start_service_thread();
// Called by a kernel thread that stopped running its gpthread thread (it
// ended, or migrated away): queues the kernel thread for reaping.
void thread_finished(Tcb* tcb, bool migrated);
// Starts a vehicle on this node (in the thread's slot) that runs or resumes
// tcb's thread.
void start_vehicle(Tcb* tcb);
// Signals from other nodes (signals.cc): a disposition set there, set here
// too; a signal for a thread of this node.
void apply_disposition_from_elsewhere(int sig);
// A signal the agent handed over for `tcb`, passed on `hops` times already:
// to the thread if it runs here, else on to the node it went to.
void deliver_here(Tcb* tcb, int sig, std::uint32_t hops);
// Signals `tcb`, a thread of this node: now, or as its kernel thread starts
// if it has not yet (kept in Tcb::pending_signals). False if it could not.
[[nodiscard]] bool signal_here(Tcb* tcb, int sig);
// Called by a thread's kernel thread once its tid is known: raises what was
// sent to it before.
void raise_pending_signals(Tcb* tcb);
// Runs the thread's key destructors (keys.cc), as POSIX says, at its end.
void run_key_destructors();
// The calling thread's pthread_setspecific values, to carry them to another
// node (migration) and set them there.
struct KeyValue {
  std::uint32_t key;
  void* value;
};
inline constexpr std::uint32_t kMaxKeyValues = 1024;
// With out == nullptr, only counts them.
[[nodiscard]] std::uint32_t save_key_values(KeyValue* out, std::uint32_t capacity);
void load_key_values(const KeyValue* values, std::uint32_t n);
// At the end of a kernel thread (after the destructors ran, or after its
// thread migrated away).
void unmap_key_values();
// A private signal stack for the calling thread while it lives: the fault
// handler must not run on a stack page that is itself write-protected
// global memory.
class SignalStack {
 public:
  SignalStack();
  ~SignalStack();
  SignalStack(const SignalStack&) = delete;
  SignalStack& operator=(const SignalStack&) = delete;

 private:
  // Roomy: the crash report runs libunwind on it.
  static constexpr std::size_t kBytes = 256 * 1024;
  void* memory_;
};

}  // namespace gpt::threads
