// This process's view of the global address space: the heap mapped at the
// region's fixed address (backed by the agent's memfd), the twin area, and
// one state word per heap page.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "futex_lock.h"
#include "gpt/region.h"
#include "gpt/sole_copy.h"

namespace gpt::galloc {

// Per-page coherence state (docs/coherence.md).
enum PageState : std::uint32_t {
  kValid = 0,    // readable copy, current as of this node's last acquire
  kInvalid = 1,  // PROT_NONE: the next access fetches it from its home
  kDirty = 2,    // writable; written since the last release (twin kept)
  kBusy = 3,     // a thread is changing it; others wait on the word
  kGuard = 4,    // PROT_NONE: the guard page under the stack of a thread running here
};

struct GlobalSpace {
  region::Geometry geometry;
  std::uint32_t self = 0;
  bool coherent = false;  // false: one node, no agent (nothing to keep coherent)
  std::byte* heap = nullptr;
  std::byte* twins = nullptr;
  std::atomic<std::uint32_t>* states = nullptr;
  // One byte per page (gpt/sole_copy.h), in the memfd, shared with the
  // agent: for a home page whether it was noticed and sent since (the agent
  // marks a page sent when its bytes leave the node); for a page homed
  // elsewhere the release hints of a page written here.
  sole_copy::Mark* sole = nullptr;

  // Pages written since the last release. Guarded by dirty_lock; the fault
  // handler appends, release() takes the list.
  FutexLock dirty_lock;
  std::uint64_t* dirty = nullptr;
  std::uint64_t dirty_count = 0;
  std::uint64_t* flushing = nullptr;  // release()'s copy, guarded by release_lock
  FutexLock release_lock;
  // Bumped whenever page contents may have moved on without an acquire (a
  // release, a fetch, a copy installed): a page copy an acquire answer
  // brought is installed only if this did not move since the call was made
  // (docs/coherence.md, "page copies").
  std::atomic<std::uint64_t> content_generation{0};
  // The memfd behind the space (a descriptor of its own, far above the
  // program's usual ones), to give freed memory back; -1 without an agent.
  int memory_fd = -1;

  [[nodiscard]] bool contains(const void* p) const {
    return geometry.contains(reinterpret_cast<std::uintptr_t>(p));
  }
  [[nodiscard]] std::byte* page_address(std::uint64_t page) const {
    return reinterpret_cast<std::byte*>(geometry.address_of_page(page));
  }
  // Writes are tracked, released and acquired only when other nodes could
  // read them: with one node the space is plain memory, mapped writable.
  [[nodiscard]] bool tracks_writes() const { return coherent && geometry.node_count > 1; }
  [[nodiscard]] bool in_heap(const void* p) const {
    return geometry.in_heap(reinterpret_cast<std::uintptr_t>(p));
  }
  [[nodiscard]] bool is_home(std::uint64_t page) const {
    return geometry.home_of_page(page) == self;
  }
};

extern GlobalSpace g_space;  // this process's, in the runtime's own .bss
[[nodiscard]] inline GlobalSpace& space() { return g_space; }

// Maps the global space (from the channel's geometry, or a private one when
// running without an agent). Ends the process with a clear message if the
// fixed address is taken. Installs the fault handler.
void map_global_space();
// Gives the memory of a freed run back to the system (this node is its
// home): its pages read as zeros afterwards. Best effort.
void return_to_system(std::uintptr_t address, std::size_t bytes);

// The SIGSEGV handler's work for a fault inside the heap. Returns false if
// the fault is not a coherence fault (a real bug).
bool handle_fault(std::uintptr_t address, bool is_write);

void install_fault_handler();

// Called by the SIGSEGV handler, on the faulting thread, for a fault that is
// not a coherence fault, before it is reported as a crash. A hook that takes
// the fault over does not return: the libc shim jumps out of a guarded copy
// and fails the call with EFAULT (libc-shim/program_memory.cc). Set once at
// start-up, before the handler is installed; it runs in the signal handler,
// so it must be async-signal-safe.
using UnhandledFaultHook = void (*)();
void set_unhandled_fault_hook(UnhandledFaultHook hook);

}  // namespace gpt::galloc
