// The in-process runtime's global state: which node this is and the channel
// to the agent. Every floor reads it; the top floor fills it once before
// main (libgpthread/src/attach.cc), read-only afterwards.
#pragma once

#include <atomic>
#include <cstdint>

#include "gpt/channel.h"

namespace gpt::rt {

struct RuntimeState {
  int node_id = 0;
  int node_count = 1;
  // Null when the program runs without gpt-launch (one-node job).
  channel::Layout* channel = nullptr;
  // A child of fork(): a plain process of its own, with a private copy of
  // the pages its parent's node held, no longer part of the job.
  bool fork_child = false;
};

// Lives in the runtime's own .bss, never in the shared global space.
extern RuntimeState g_state;
[[nodiscard]] inline RuntimeState& state() { return g_state; }

// Attaches, maps the global space and readies the heap, once per process;
// safe to call from malloc before the runtime's constructor has run. Inline:
// every pthread call starts with it.
extern std::atomic<int> g_started;  // 2 once running
// Defined by the top floor (libgpthread/src/attach.cc), the one that knows
// every floor's start-up. A link-time hook, not a pointer registered at run
// time: malloc may need it before any constructor has run.
void start_once();
inline void ensure_started() {
  if (__builtin_expect(g_started.load(std::memory_order_acquire) != 2, 0)) start_once();
}

}  // namespace gpt::rt
