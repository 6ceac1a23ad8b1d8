// System calls on the origin's descriptors that the shim itself makes for
// the program, on any node (program_mappings.cc reads a file the program
// maps through them).
#pragma once

#include <cstdint>

namespace gpt::shim {

// System call `nr` on the origin: forwarded from a node whose process-level
// calls run there, made here otherwise. Only calls the forwarding table
// knows (read, pread64, fstat, fcntl...); pointer arguments must be this
// process's own memory, not the global space. -errno on failure.
[[nodiscard]] long call_as_origin(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0);

// A request to the origin's runtime (forwarded_call.h: kKeepFileRequest...)
// with one value argument, from a node whose process-level calls run there.
// Its result, or -errno.
[[nodiscard]] long ask_origin(std::uint32_t request, long a0);

// mmap of one of the origin's files as a private copy in this node's memory
// (the arguments of the mmap system call): what a node other than the
// origin does with a file mapping that stays node-local.
[[nodiscard]] long map_file_copy_here(const long* a);

}  // namespace gpt::shim
