// Guard pages under the stacks of gpthread threads (thread_state.h). A
// stack is global memory, and its bottom page is an ordinary heap page to
// the coherence protocol; on the node where the thread runs that page is
// taken out of the protocol (kGuard, PROT_NONE), so a thread that runs past
// its stack faults there and the fault is reported as an overflow instead
// of silently writing the heap object below.
#include <sys/mman.h>

#include "coherence.h"
#include "global_space.h"
#include "page_ops.h"
#include "thread_state.h"

namespace gpt::galloc {
namespace {

[[nodiscard]] bool guardable(const GlobalSpace& s, const void* p) {
  return s.coherent && p && s.in_heap(p) && (reinterpret_cast<std::uintptr_t>(p) & (region::kPageSize - 1)) == 0;
}

}  // namespace

void guard_stack(void* page_address) {
  GlobalSpace& s = space();
  if (!guardable(s, page_address)) return;
  const std::uint64_t page = s.geometry.page_of(reinterpret_cast<std::uintptr_t>(page_address));
  for (;;) {
    const std::uint32_t was = claim(page, bit(kValid) | bit(kInvalid));
    if (was == kGuard) return;
    if (was == kDirty) {
      // Written here since the last release (the memory was something else
      // a moment ago): its diff must go home before the page leaves the
      // protocol (a home page no other node holds stays dirty across plain
      // releases: release it too).
      release_all();
      continue;
    }
    protect(page, PROT_NONE);
    settle(page, kGuard);
    return;
  }
}

void unguard_stack(void* page_address) {
  GlobalSpace& s = space();
  if (!guardable(s, page_address)) return;
  const std::uint64_t page = s.geometry.page_of(reinterpret_cast<std::uintptr_t>(page_address));
  if (claim(page, bit(kGuard)) != kGuard) return;
  // Nobody wrote it while it was a guard: the home's copy is still current
  // (readable as every home page is); elsewhere, fetch it on the next access.
  if (s.is_home(page) || !s.tracks_writes()) {
    protect(page, s.tracks_writes() ? PROT_READ : PROT_READ | PROT_WRITE);
    settle(page, kValid);
  } else {
    settle(page, kInvalid);
  }
}

bool is_stack_guard(std::uintptr_t address) {
  const GlobalSpace& s = space();
  if (!s.coherent || !s.in_heap(reinterpret_cast<const void*>(address))) return false;
  return s.states[s.geometry.page_of(address)].load(std::memory_order_relaxed) == kGuard;
}

}  // namespace gpt::galloc
