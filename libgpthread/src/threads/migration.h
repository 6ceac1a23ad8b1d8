// Thread migration (docs/threads.md): gpt_migrate saves the thread's context
// and leaves its kernel thread; the node it leaves hands it over; the node
// it goes to resumes it on a new kernel thread. The stack needs no copying:
// it is global memory, released before the move.
#pragma once

#include "context.h"
#include "tcb.h"

namespace gpt::threads {

// On the node being left, on the private stack, after gpt_migrate's context
// was saved: records the TLS image, releases, asks the agent to move it.
void hand_over(Tcb* tcb);

// On the node arriving at, on the new kernel thread's private stack: installs
// the TLS image, keys, errno and signal mask, then jumps into gpt_migrate.
[[noreturn]] void resume_migrated(Tcb* tcb, rt::Context* exit);

}  // namespace gpt::threads
