// Faults at addresses that belong to a dlopen'ed library's slot (the job's
// range of library addresses, libgpthread/src/library_fault.cc): the floor
// above knows libraries, this floor owns the SIGSEGV handler, which asks the
// registered hook before it reports a crash.
#pragma once

#include <signal.h>

namespace gpt::galloc {

// Runs in the SIGSEGV handler, on the faulting thread, for a fault the
// coherence protocol does not own. True: the hook redirected the thread
// (the handler returns and the thread goes on where the hook sent it).
// False: a crash, reported as usual (the hook may say first what it knows
// about the address). Must be async-signal-safe.
using LibraryFaultHook = bool (*)(const siginfo_t* info, void* context);
void set_library_fault_hook(LibraryFaultHook hook);

[[nodiscard]] bool take_library_fault(const siginfo_t* info, void* context);

}  // namespace gpt::galloc
