// Whether a thread of the program could take a process-directed signal
// now, read from the kernel's view of its threads (/proc/PID/task/*/status):
// a thread whose SigBlk lacks the signal. A thread waiting in sigwait,
// sigwaitinfo or sigtimedwait counts too: while it waits the kernel clears
// the waited signals from its blocked set, which SigBlk shows. The
// runtime's own threads block every signal a program may send (gpthread's
// process_signals.h), so they never count.
#pragma once

#include <sys/types.h>

namespace gpt::node {

[[nodiscard]] bool some_thread_takes(pid_t pid, int sig);

}  // namespace gpt::node
