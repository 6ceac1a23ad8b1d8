// A backtrace of the interrupted code, printed from a signal handler.
#pragma once

namespace gpt::rt {

// Prints up to 32 frames, starting at the instruction the signal
// interrupted (`ucontext` is the handler's third argument), to stderr.
// Async-signal-safe: libunwind's local unwinder and write(2) only.
void print_backtrace(void* ucontext);

}  // namespace gpt::rt
