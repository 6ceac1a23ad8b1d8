// Where the dynamic loader maps a library that dlopen loads: at an address
// the caller chose, the same on every node (libgpthread's dynamic_loading.cc,
// docs/libc-shim.md "dlopen"). ld.so maps a library with its own inline
// system calls, so they are trapped (syscall user dispatch: always on nodes
// other than the origin, in a TrappedCalls scope on the origin) and the
// SIGSYS handler rewrites the first mapping of each new object, which ld.so
// asks for without an address, to the chosen one; ld.so maps the object's
// other segments relative to it, so the whole object follows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trapped_calls.h"

namespace gpt::shim {

// While alive, the calling thread's dlopen maps each new object it loads
// at the next free address of [base, base + room), in order. An object
// that does not fit fails to load (the mapping fails with ENOMEM, so the
// dlopen fails and dlerror says why).
class LibraryPlacement {
 public:
  LibraryPlacement(std::uintptr_t base, std::size_t room);
  ~LibraryPlacement();
  LibraryPlacement(const LibraryPlacement&) = delete;
  LibraryPlacement& operator=(const LibraryPlacement&) = delete;

  // True if some object was mapped in the range (false: dlopen found the
  // library loaded already, and mapped nothing).
  [[nodiscard]] bool placed() const;

 private:
  TrappedCalls trapped_;
};

// The SIGSYS handler's part, for a trapped mmap (its six arguments, which
// it may rewrite): true if the call is answered already, with *result.
// Async-signal-safe.
[[nodiscard]] bool place_library_mapping(long* args, long* result);

}  // namespace gpt::shim
