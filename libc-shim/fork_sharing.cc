// The program's MAP_SHARED mappings and fork() (fork_sharing.h).
#include "fork_sharing.h"

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "diag.h"
#include "forwarded_call.h"
#include "global_space.h"
#include "mapping_blocks.h"
#include "origin_calls.h"
#include "runtime.h"
#include "shim.h"

namespace gpt::shim {
namespace {

// On the origin: whether a MAP_SHARED mapping was ever made in the job.
// Without one a fork looks through nothing: the walk of the heap costs
// tens of ms with the default 64 GiB heap (one look at each chunk's
// descriptor), several times the fork itself.
std::atomic<bool> g_noted{false};
// On another node: whether the origin was told already.
std::atomic<bool> g_origin_told{false};
// Whether this process printed its line at a fork.
std::atomic<bool> g_said{false};
// In a fork child: whether it said that an object is its own copy.
std::atomic<bool> g_said_in_child{false};

[[nodiscard]] bool shares_with_a_child_in_posix(const Header& h) {
  return (h.kind == Kind::kAnonymousShared || h.kind == Kind::kSharedFile) && h.low < h.high;
}

}  // namespace

void note_shared_mapping_here() { g_noted.store(true, std::memory_order_release); }

void note_shared_mapping() {
  if (!forwarding()) {
    note_shared_mapping_here();
    return;
  }
  if (g_origin_told.load(std::memory_order_acquire)) return;
  // Before mmap returns, so a pointer to the mapping that reaches a thread
  // which forks comes after the origin knows (a failed request leaves the
  // fork silent, as before; the next mapping asks again).
  if (ask_origin(kSharedMappingRequest, 0) >= 0) g_origin_told.store(true, std::memory_order_release);
}

void tell_of_shared_mappings_at_fork() {
  if (g_said.load(std::memory_order_relaxed) || !g_noted.load(std::memory_order_acquire)) return;
  const galloc::GlobalSpace& s = galloc::space();
  if (!s.coherent || !s.heap) return;  // a fork child's mappings are the kernel's
  const std::byte* first = nullptr;
  std::uint64_t first_bytes = 0;
  long more = 0;
  each_mapping(s.heap, s.heap + s.geometry.heap_bytes, [&](const Mapping& m) {
    const Header& h = *m.header;
    if (!shares_with_a_child_in_posix(h)) return;
    if (first) {
      ++more;
      return;
    }
    first = m.data + h.low;
    first_bytes = h.high - h.low;
  });
  // All unmapped again: nothing to say (yet).
  if (!first || g_said.exchange(true, std::memory_order_relaxed)) return;
  rt::DiagLine line = rt::diag();
  line.text("fork(): the child gets a private copy of the MAP_SHARED mapping at ")
      .hex(reinterpret_cast<std::uintptr_t>(first))
      .text(" (")
      .num(static_cast<long long>(first_bytes))
      .text(" bytes)");
  if (more) line.text(" and of ").num(more).text(" more");
  line.text("; memory shared with a fork child is not supported (docs/threads.md, \"fork\")").emit();
}

void tell_of_unshared_object(const void* object, const char* what) {
  if (g_said_in_child.load(std::memory_order_relaxed)) return;
  const galloc::GlobalSpace& s = galloc::space();
  if (!rt::state().fork_child || !s.heap || !s.contains(object)) return;
  // The child's copy of the parent's heap, mapping headers included: the
  // pages the origin held at the fork, all of them fetched first (fork.cc).
  const Mapping m = find_mapping(object);
  if (!m || !shares_with_a_child_in_posix(*m.header)) return;
  const auto at = static_cast<const std::byte*>(object);
  if (at < m.data + m.header->low || at >= m.data + m.header->high) return;
  if (g_said_in_child.exchange(true, std::memory_order_relaxed)) return;
  rt::diag()
      .text("fork() child: the process-shared ")
      .text(what)
      .text(" at ")
      .hex(reinterpret_cast<std::uintptr_t>(object))
      .text(" is in this process's private copy of a MAP_SHARED mapping of its parent: it does not "
            "synchronise with the parent (docs/threads.md, \"fork\")")
      .emit();
}

}  // namespace gpt::shim
