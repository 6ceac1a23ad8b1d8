// The pthread barriers a node holds the lease of, in the channel memory its
// agent and its program share (docs/threads.md, "Barriers"). A barrier's
// manager lends it to a node when its last rounds' threads all arrived from
// there; while the lease lasts, that node's threads count their arrivals in
// the entry's word and the last one wakes the others with a futex, as a
// one-process barrier does: no call, no message, and no release or acquire
// (nothing crosses to another node; a later synchronisation that does
// releases the node's writes). A thread of another node arriving makes the
// manager recall the lease: the agent clears kLeased, and the threads that
// arrived here become one arrival of that weight at the manager; when the
// manager's departure comes back, the agent wakes them (they acquire).
//
// Only the agent inserts entries and sets or clears kLeased; the program
// only counts arrivals while kLeased is set. Header-only, no library
// calls: the freestanding runtime uses it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gpt::channel {

namespace barrier_bits {
inline constexpr std::uint32_t kLeased = 1u << 31;       // this node counts the arrivals
inline constexpr std::uint32_t kArrivedMask = 0xffff;    // threads arrived in this generation
inline constexpr std::uint32_t kGenerationShift = 16;    // 15 bits: bumped per departure
inline constexpr std::uint32_t kGenerationMask = 0x7fff;
inline constexpr std::uint32_t kMaxCount = kArrivedMask;  // larger barriers are never lent

[[nodiscard]] constexpr std::uint32_t arrived(std::uint32_t s) { return s & kArrivedMask; }
[[nodiscard]] constexpr std::uint32_t generation(std::uint32_t s) {
  return (s >> kGenerationShift) & kGenerationMask;
}
// The word of the next generation, nobody arrived, kLeased as `leased`.
[[nodiscard]] constexpr std::uint32_t departed(std::uint32_t s, bool leased) {
  return ((generation(s) + 1) & kGenerationMask) << kGenerationShift | (leased ? kLeased : 0);
}
}  // namespace barrier_bits

inline constexpr std::size_t kBarrierEntries = 1024;  // a power of two
inline constexpr std::size_t kBarrierProbes = 32;

struct BarrierEntry {
  std::atomic<std::uint64_t> barrier;  // the barrier's address; 0: free entry
  std::atomic<std::uint32_t> state;    // barrier_bits; also the waiters' futex word
  std::atomic<std::uint32_t> count;    // the lease's count (the program's must match)
  // Set by the agent before it ends a generation whose departure the
  // manager sent: the generation that starts (its waiters must acquire),
  // and 1 if the manager made one of them the serial thread.
  std::atomic<std::uint32_t> remote_generation;
  std::atomic<std::uint32_t> remote_serial;
};

struct alignas(64) BarrierTable {
  BarrierEntry entries[kBarrierEntries];
};

[[nodiscard]] inline std::size_t barrier_home_index(std::uint64_t barrier) {
  return static_cast<std::size_t>((barrier >> 3) * 0x9e3779b97f4a7c15ull >> 54) & (kBarrierEntries - 1);
}

// The program's lookup (nullptr: not in the table, call the agent).
[[nodiscard]] inline BarrierEntry* find_barrier(BarrierTable& t, std::uint64_t barrier) {
  std::size_t i = barrier_home_index(barrier);
  for (std::size_t probe = 0; probe < kBarrierProbes; ++probe, i = (i + 1) & (kBarrierEntries - 1)) {
    const std::uint64_t at = t.entries[i].barrier.load(std::memory_order_acquire);
    if (at == barrier) return &t.entries[i];
    if (at == 0) return nullptr;
  }
  return nullptr;
}

// The agent's insertion (single writer); a new entry is not leased.
// nullptr when the table is full there.
[[nodiscard]] inline BarrierEntry* insert_barrier(BarrierTable& t, std::uint64_t barrier) {
  std::size_t i = barrier_home_index(barrier);
  for (std::size_t probe = 0; probe < kBarrierProbes; ++probe, i = (i + 1) & (kBarrierEntries - 1)) {
    const std::uint64_t at = t.entries[i].barrier.load(std::memory_order_relaxed);
    if (at == barrier) return &t.entries[i];
    if (at == 0) {
      t.entries[i].state.store(0, std::memory_order_relaxed);
      t.entries[i].barrier.store(barrier, std::memory_order_release);
      return &t.entries[i];
    }
  }
  return nullptr;
}

// The program's arrival while the lease lasts.
enum class LeasedArrival {
  kNotLeased,  // call the agent
  kLast,       // this thread completed the generation: wake the others (serial)
  kWait,       // wait until the generation in *state changes
};
[[nodiscard]] inline LeasedArrival arrive_leased(BarrierEntry& e, std::uint32_t count, std::uint32_t* state) {
  using namespace barrier_bits;
  std::uint32_t s = e.state.load(std::memory_order_acquire);
  for (;;) {
    if (!(s & kLeased) || e.count.load(std::memory_order_relaxed) != count) return LeasedArrival::kNotLeased;
    const bool last = arrived(s) + 1 >= count;
    const std::uint32_t next = last ? departed(s, true) : s + 1;
    // acq_rel: the last arriver sees every earlier arriver's writes and
    // publishes them (with its own) to the waiters it wakes.
    if (e.state.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *state = next;
      return last ? LeasedArrival::kLast : LeasedArrival::kWait;
    }
  }
}

// The agent's recall: clears kLeased and returns the threads that arrived
// in the current generation (they wait for the manager's departure).
[[nodiscard]] inline std::uint32_t end_lease(BarrierEntry& e) {
  const std::uint32_t s = e.state.fetch_and(~barrier_bits::kLeased, std::memory_order_acq_rel);
  return barrier_bits::arrived(s);
}

}  // namespace gpt::channel
