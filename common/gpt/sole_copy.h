// Sole-copy marks (docs/coherence.md, "Exclusive pages"): one byte per page
// in the node's memfd, read and written by the program and its agent, only
// meaningful at the page's home. Two bits:
//
//   kNoticed  the home has sent a write notice for the page: every copy
//             that left before it (and the image every node starts from)
//             is outdated by it at the acquire that could make later writes
//             visible;
//   kSent     the page's bytes left the node since its last notice.
//
// So a page is:
//   0                  as it started: every node may hold the starting image,
//                      nobody was sent the page;
//   kNoticed           the home's sole copy: it writes the page with no
//                      protection, twin or notice;
//   kSent (+kNoticed)  another node may hold a copy of it as it was sent.
//
// The program stores kNoticed when it releases the page with a notice
// (before the notice goes); the agent sets kSent (an atomic OR, or one done
// by a peer's network card), then a full fence, then copies the page,
// whenever the page's bytes leave the node. The program checks the mark
// after a full fence at every release: either it sees kSent, or the copy
// that left holds every write made before the check (the two fences order
// the store and the load against each other).
#pragma once

#include <atomic>
#include <cstdint>

namespace gpt::sole_copy {

inline constexpr std::uint8_t kNoticed = 1;
inline constexpr std::uint8_t kSent = 2;

using Mark = std::atomic<std::uint8_t>;
static_assert(sizeof(Mark) == 1 && Mark::is_always_lock_free);

[[nodiscard]] constexpr bool sole(std::uint8_t mark) { return mark == kNoticed; }
[[nodiscard]] constexpr bool sent(std::uint8_t mark) { return (mark & kSent) != 0; }

// The agent, before it copies `count` pages from `page` on to another node.
inline void note_sent(Mark* marks, std::uint64_t page, std::uint64_t count) {
  for (std::uint64_t p = page; p < page + count; ++p) marks[p].fetch_or(kSent, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace gpt::sole_copy
