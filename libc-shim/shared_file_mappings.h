// Writable MAP_SHARED mappings of a file (docs/user-guide.md, "Memory"):
// a block of the global space like every other mapping of the program
// (mapping_blocks.h), filled from the file, whose contents reach the file
// at the points where a program can rely on them: msync, munmap of (part
// of) it, and the end of the process. The write-back copies what the
// calling thread sees (its own writes and those it acquired) into a local
// bounce buffer and pwrites it on the origin, through a descriptor the
// origin keeps for the mapping. Bytes past the file's end at that moment
// are dropped, as the kernel never extends a file through a mapping.
#pragma once

#include <cstdint>

#include "mapping_blocks.h"

namespace gpt::shim {

// A descriptor of the origin for the file `fd` names, that stays valid
// after the program closes its own (a dup on the origin, close-on-exec);
// -errno on failure.
[[nodiscard]] long keep_file(int fd);
// keep_file on the origin itself (also for a request from another node,
// delegate.cc): the origin then knows that the end of the process has a
// mapping to write back, and looks for them.
[[nodiscard]] long keep_file_here(int fd);
// On the origin: whether keep_file_here ever ran.
[[nodiscard]] bool any_file_kept_here();
// Closes a descriptor keep_file gave, on the origin.
void let_go_of_file(int fd);

// Writes the data offsets [from, to) of `m` (clipped to what is still
// mapped, and to the file's size now) back to its file; no-op for mappings
// of other kinds. 0 or the errno of the failed call.
[[nodiscard]] long write_back(const Mapping& m, std::uint64_t from, std::uint64_t to);

// msync of [from, to) (page-aligned, checked by the caller): writes back
// every shared file mapping the range meets; `durable` (MS_SYNC) also has
// the origin fdatasync the file. 0, ENOMEM if part of the range is no
// mapping (the rest is still written, as the kernel does), or the errno of
// a failed write.
[[nodiscard]] long sync_range(std::byte* from, std::byte* to, bool durable);

// Writes back every live writable shared file mapping, as this thread sees
// it: the end of the process. Only in a job that made one (the origin is
// asked, from other nodes). Async-signal-safe (a remote node calls it from
// the SIGSYS handler of its exit_group, before the origin ends the job).
// Takes no lock: the process is ending.
void write_back_all();

// The origin's atexit handler: write_back_all, unless the exit came from a
// thread on another node (which wrote back what it saw before asking) or
// this is a child of fork() (its copy is private: only its own msync or
// munmap writes back).
void write_back_at_origin_exit();

// True while the origin carries out an exit that a thread on another node
// asked for (delegate.cc).
[[nodiscard]] bool exit_came_from_another_node();

}  // namespace gpt::shim
