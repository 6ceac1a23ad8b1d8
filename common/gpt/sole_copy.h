// Sole-copy marks (docs/coherence.md, "Exclusive pages"): one byte per page
// in the node's memfd, read and written by the program and its agent, only
// meaningful at the page's home.
//
//   kShared   another node may hold a copy the home has not invalidated by a
//             write notice yet (every page starts so: every node starts from
//             the same image);
//   kSole     since the page's last write notice no other node was sent its
//             bytes: every other copy will be invalidated by the acquire that
//             could make the home's new writes visible, so the home writes it
//             with no protection, no twin and no notice.
//
// The program sets kSole when it releases the page with a notice (before
// the notice goes); the agent sets kShared, then a full fence, then copies
// the page, whenever the page's bytes leave the node. The program checks the
// mark after a full fence at every release: either it sees kShared, or the
// copy that left holds every write made before the check (the two fences
// order the store and the load against each other).
#pragma once

#include <atomic>
#include <cstdint>

namespace gpt::sole_copy {

inline constexpr std::uint8_t kShared = 0;
inline constexpr std::uint8_t kSole = 1;

using Mark = std::atomic<std::uint8_t>;
static_assert(sizeof(Mark) == 1 && Mark::is_always_lock_free);

// The agent, before it copies `count` pages from `page` on to another node.
inline void note_sent(Mark* marks, std::uint64_t page, std::uint64_t count) {
  for (std::uint64_t p = page; p < page + count; ++p) marks[p].store(kShared, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace gpt::sole_copy
