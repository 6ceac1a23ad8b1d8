#include "library_faults.h"

#include <atomic>

namespace gpt::galloc {
namespace {

// Set at start-up by libgpthread (library_fault.h), read in the signal handler.
std::atomic<LibraryFaultHook> g_hook{nullptr};

}  // namespace

void set_library_fault_hook(LibraryFaultHook hook) { g_hook.store(hook, std::memory_order_release); }

bool take_library_fault(const siginfo_t* info, void* context) {
  const LibraryFaultHook hook = g_hook.load(std::memory_order_acquire);
  return hook && hook(info, context);
}

}  // namespace gpt::galloc
