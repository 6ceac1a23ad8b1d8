// The lock tokens of one node, in the channel memory its agent and its
// program share (docs/threads.md, "Locks"). While the agent leaves a lock's
// word to the program (no waiters, no recall, token here), a program thread
// takes the lock with one compare-and-swap and gives it back with another:
// no call, no message. The agent takes the word back (sets kAgent) whenever
// it has something to decide; the program's CASes then fail and it calls
// the agent, which sees the word as it was.
//
// Only the agent inserts entries (a lock's first call), never removes them;
// the program only looks them up. Header-only, no library calls: the
// freestanding runtime uses it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gpt::channel {

namespace lock_bits {
inline constexpr std::uint32_t kToken = 1;  // the token is on this node
inline constexpr std::uint32_t kHeld = 2;   // a thread of this node holds the lock
inline constexpr std::uint32_t kAgent = 4;  // the agent owns the word: call it
inline constexpr std::uint32_t kAfar = 8;   // the token came from another node:
                                            // its next taker must acquire
inline constexpr std::uint32_t kRecall = 16;  // (with kAgent) another node waits for
                                              // the token: the unlocker may release
                                              // first and say so, saving a flush
inline constexpr std::uint32_t kBusy = 32;  // (with kAgent, no kToken) the manager said
                                            // lately that another node holds the lock:
                                            // a trylock is EBUSY without a call
}  // namespace lock_bits

inline constexpr std::size_t kLockEntries = 16384;  // a power of two
inline constexpr std::size_t kLockProbes = 64;

struct LockEntry {
  std::atomic<std::uint64_t> lock;   // the lock's global address; 0: free entry
  std::atomic<std::uint32_t> state;  // lock_bits
  // With kBusy: the node's acquire count (Header::acquires, low bits) when
  // the trylock that heard "busy" asked. An acquire since may have made
  // this node see the lock's unlock: then the hint does not answer.
  std::atomic<std::uint32_t> busy_stamp;
};

struct alignas(64) LockTable {
  LockEntry entries[kLockEntries];
};

[[nodiscard]] inline std::size_t lock_home_index(std::uint64_t lock) {
  return static_cast<std::size_t>((lock >> 3) * 0x9e3779b97f4a7c15ull >> 50) & (kLockEntries - 1);
}

// The program's lookup (nullptr: not in the table, call the agent).
[[nodiscard]] inline LockEntry* find_lock(LockTable& t, std::uint64_t lock) {
  std::size_t i = lock_home_index(lock);
  for (std::size_t probe = 0; probe < kLockProbes; ++probe, i = (i + 1) & (kLockEntries - 1)) {
    const std::uint64_t at = t.entries[i].lock.load(std::memory_order_acquire);
    if (at == lock) return &t.entries[i];
    if (at == 0) return nullptr;
  }
  return nullptr;
}

// The agent's insertion (single writer), state 0: kAgent clear but no
// token, so the program still calls. nullptr when the table is full there.
[[nodiscard]] inline LockEntry* insert_lock(LockTable& t, std::uint64_t lock) {
  std::size_t i = lock_home_index(lock);
  for (std::size_t probe = 0; probe < kLockProbes; ++probe, i = (i + 1) & (kLockEntries - 1)) {
    const std::uint64_t at = t.entries[i].lock.load(std::memory_order_relaxed);
    if (at == lock) return &t.entries[i];
    if (at == 0) {
      t.entries[i].state.store(0, std::memory_order_relaxed);
      t.entries[i].lock.store(lock, std::memory_order_release);
      return &t.entries[i];
    }
  }
  return nullptr;
}

// The program's fast paths. try_take: true if this thread now holds the
// lock (*afar: it must acquire first). try_give: true if it was released.
[[nodiscard]] inline bool try_take(LockEntry& e, bool* afar) {
  using namespace lock_bits;
  std::uint32_t s = e.state.load(std::memory_order_relaxed);
  if (s != kToken && s != (kToken | kAfar)) return false;
  if (!e.state.compare_exchange_strong(s, kToken | kHeld, std::memory_order_acquire,
                                       std::memory_order_relaxed))
    return false;
  *afar = (s & kAfar) != 0;
  return true;
}

// A trylock that failed try_take: true if the lock's word says it is busy
// elsewhere (kBusy) and this node made no acquire since (`acquires`, the
// node's count now), so EBUSY needs no call.
[[nodiscard]] inline bool busy_elsewhere(const LockEntry& e, std::uint64_t acquires) {
  return (e.state.load(std::memory_order_acquire) & lock_bits::kBusy) != 0 &&
         e.busy_stamp.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(acquires);
}

[[nodiscard]] inline bool try_give(LockEntry& e) {
  using namespace lock_bits;
  std::uint32_t s = kToken | kHeld;
  return e.state.compare_exchange_strong(s, kToken, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace gpt::channel
