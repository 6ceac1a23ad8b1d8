// Copies between the program's memory and the runtime's for a forwarded
// call. A bad address gives false (the call fails with EFAULT, as the
// kernel would say) instead of killing the thread; global pages that are
// not here yet fault in as usual.
#pragma once

#include <cstddef>

namespace gpt::shim {

[[nodiscard]] bool copy_from_program(void* to, const void* from, std::size_t n);
[[nodiscard]] bool copy_to_program(void* to, const void* from, std::size_t n);
// True if the program may write all of [p, p + n): checked before a call
// runs on the origin, so a bad buffer fails with EFAULT before any data is
// consumed, as the kernel would. Each page is read and written back.
[[nodiscard]] bool program_writable(void* p, std::size_t n);
// strlen of a program string, at most `max` bytes; -1 if it cannot be read.
[[nodiscard]] long program_strnlen(const char* s, std::size_t max);

// libgalloc's hook for a fault that is not a coherence fault (registered by
// init()): inside one of the copies above, jumps back out of it (the copy
// fails); anywhere else, returns and the fault is reported as a crash.
// Async-signal-safe.
void escape_from_guarded_copy();

}  // namespace gpt::shim
