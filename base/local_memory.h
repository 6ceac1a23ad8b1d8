// Memory the runtime maps for itself: thread caches, bookkeeping, stacks,
// the channel, the global space's own mappings. Always through the raw
// system call, never the libc's mmap: the program's mmap/munmap/mremap are
// gpthread's (libc-shim/program_mappings.cc), which turn anonymous mappings
// into global memory, and the runtime's private memory must stay private.
#pragma once

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <cstddef>

#include "gpt/raw_syscall.h"

namespace gpt::rt {

// mmap(2) as the libc spells it: MAP_FAILED and errno on failure.
[[nodiscard]] inline void* map_local(void* at, std::size_t bytes, int prot, int flags, int fd = -1,
                                     off_t offset = 0) {
  const long r = sys::call(SYS_mmap, sys::arg(at), static_cast<long>(bytes), prot, flags, fd, offset);
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return MAP_FAILED;
  }
  return reinterpret_cast<void*>(r);
}

inline void unmap_local(void* at, std::size_t bytes) {
  (void)sys::call(SYS_munmap, sys::arg(at), static_cast<long>(bytes));
}

// Code the runtime runs that maps memory through the libc's mmap by name,
// and whose mappings are its own: libunwind's, while a crash is reported.
// While one of these is alive on a thread, the program's mmap family runs
// as the libc's (node-local memory). Async-signal-safe.
extern thread_local bool t_local_mappings_only __attribute__((tls_model("initial-exec")));
class LocalMappingsOnly {
 public:
  LocalMappingsOnly() : was_(t_local_mappings_only) { t_local_mappings_only = true; }
  ~LocalMappingsOnly() { t_local_mappings_only = was_; }
  LocalMappingsOnly(const LocalMappingsOnly&) = delete;
  LocalMappingsOnly& operator=(const LocalMappingsOnly&) = delete;

 private:
  bool was_;
};

}  // namespace gpt::rt
