// Loading a dlopen'ed library on the node where a thread first reaches it
// through a pointer (library_fault.cc; glibc programs only: a static musl
// program cannot dlopen).
#pragma once

namespace gpt::dl {

// Lets the SIGSEGV handler send such threads to the loader. Called once at
// start-up on every node (attach.cc): worker nodes never run the
// constructors that come after the runtime's own.
void install_library_fault_hook();

}  // namespace gpt::dl
