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
//
// At every other node the page's byte holds release hints for a page it
// writes (docs/coherence.md, "Written pages stay writable"):
//   quiet (4 bits) how many releases in a row the agent found nothing
//                  written since the previous diff (up to 15): from
//                  kQuietReleases on, the next release write-protects it;
//   kFlushNext     the program must write-protect and release the page at
//                  the next release (an invalidation is waiting for it);
//   kContended     another node wrote the page too: it is write-protected at
//                  every release, as a page that moves between writers gains
//                  nothing from staying writable (its copy is dropped at each
//                  acquire); the quiet bits then count the releases of it
//                  since the last such write, and after kUncontendedReleases
//                  the page may stay writable again.
#pragma once

#include <atomic>
#include <cstdint>

namespace gpt::sole_copy {

inline constexpr std::uint8_t kNoticed = 1;
inline constexpr std::uint8_t kSent = 2;
inline constexpr std::uint8_t kContended = 4;
inline constexpr std::uint8_t kFlushNext = 8;
inline constexpr std::uint8_t kQuietOne = 16;
inline constexpr std::uint8_t kQuietMask = 0xf0;
inline constexpr std::uint8_t kQuietMost = 15;
// A page written every few releases stays writable: several threads of a
// node each release once per round, and a round may use two buffers in turn.
inline constexpr std::uint8_t kQuietReleases = 8;
inline constexpr std::uint8_t kUncontendedReleases = 3;

[[nodiscard]] constexpr std::uint8_t quiet_releases(std::uint8_t mark) { return (mark & kQuietMask) / kQuietOne; }

using Mark = std::atomic<std::uint8_t>;
static_assert(sizeof(Mark) == 1 && Mark::is_always_lock_free);

[[nodiscard]] constexpr bool sole(std::uint8_t mark) { return mark == kNoticed; }
[[nodiscard]] constexpr bool sent(std::uint8_t mark) { return (mark & kSent) != 0; }

// The agent, before it copies `count` pages from `page` on to another node.
inline void note_sent(Mark* marks, std::uint64_t page, std::uint64_t count) {
  for (std::uint64_t p = page; p < page + count; ++p) marks[p].fetch_or(kSent, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// The agent, after a diff of a page written here and homed elsewhere.
inline void note_diff(Mark& mark, bool empty) {
  if (mark.load(std::memory_order_relaxed) & kContended) return;  // the bits count releases then
  if (!empty) {
    mark.fetch_and(static_cast<std::uint8_t>(~kQuietMask), std::memory_order_relaxed);
    return;
  }
  std::uint8_t m = mark.load(std::memory_order_relaxed);
  while (quiet_releases(m) < kQuietMost &&
         !mark.compare_exchange_weak(m, static_cast<std::uint8_t>(m + kQuietOne), std::memory_order_relaxed)) {
  }
}

}  // namespace gpt::sole_copy
