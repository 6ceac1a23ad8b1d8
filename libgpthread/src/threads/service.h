// The runtime's service thread: starts the threads the agent hands to this
// node, and reaps the ones that ended (joins the kernel thread, frees its
// stack, tells the thread's home). On worker nodes the process's first
// thread does this; on node 0 (and SPMD nodes) a thread started before main.
#pragma once

#include "tcb.h"

namespace gpt::threads {

// Runs the service loop on the calling thread until the job ends; then
// leaves the process with _exit(0).
[[noreturn]] void serve_forever();
// Starts the service thread (node 0, SPMD nodes).
void start_service_thread();
// Called by a gpthread thread that is about to end: queues it for reaping.
void thread_finished(Tcb* tcb);
// Runs the thread's key destructors (keys.cc), as POSIX says, at its end.
void run_key_destructors();
// A private signal stack for the calling thread: the fault handler must not
// run on a stack page that is itself write-protected global memory.
void install_signal_stack();

}  // namespace gpt::threads
