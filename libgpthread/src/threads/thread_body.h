// How a kernel thread runs a gpthread thread. The kernel thread (the libc's,
// on a private stack) is only a vehicle: the thread itself lives on a stack
// in the global space and can leave this vehicle, either because it ended
// or because it migrated to another node (docs/threads.md).
#pragma once

#include "context.h"
#include "tcb.h"

namespace gpt::threads {

enum class Leave : int { kFinished = 1, kMigrated = 2 };

// Runs tcb's thread on the calling kernel thread, from its start routine or
// from where it left another node, until it ends (its result is in the
// control block) or migrates away (it has been handed over by then).
[[nodiscard]] Leave run_gpthread(Tcb* tcb);

// The thread's stack in this node's partition of the global heap, with a
// guard page under it (tcb->stack, tcb->guard); false if the heap is full.
[[nodiscard]] bool allocate_stack(Tcb* tcb);
// Gives that allocation back.
void free_stack(Tcb* tcb);

// From the thread's global stack: back into run_gpthread on this node.
[[noreturn]] void leave_global_stack(Leave why);

using rt::Context;  // base/context.h
// Where leave_global_stack goes (run_gpthread sets it; a migrated thread's
// TLS image overwrites it, so resuming sets it again).
void set_exit_context(Context* exit);

}  // namespace gpt::threads
