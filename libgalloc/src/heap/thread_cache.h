// Per-thread caches in front of the node heap: free lists per size class
// (no locks, no atomics on the fast path) and the batch of frees of other
// nodes' memory waiting to be sent home.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "node_heap.h"
#include "size_classes.h"

namespace gpt::galloc {

inline constexpr std::size_t kRemoteBatch = 256;

struct ThreadCache {
  FreeObject* head[kClassCount];
  std::uint32_t count[kClassCount];
  std::uint64_t remote[kRemoteBatch];
  std::uint32_t remote_count;
};

// Each kernel thread's cache is mapped on first use and only a pointer is
// in TLS: the TLS block must stay small enough for the libc to place it in
// a thread's vehicle slot (threads/vehicles.h), at the same address on
// every node.
extern thread_local ThreadCache* t_cache __attribute__((tls_model("initial-exec")));
[[nodiscard]] ThreadCache& map_thread_cache();
// Null if it cannot be mapped (RLIMIT_AS reached): malloc then fails.
[[nodiscard]] ThreadCache* try_map_thread_cache();
[[nodiscard]] inline ThreadCache& thread_cache() {
  ThreadCache* c = t_cache;
  return __builtin_expect(c != nullptr, 1) ? *c : map_thread_cache();
}
[[nodiscard]] inline ThreadCache* try_thread_cache() {
  ThreadCache* c = t_cache;
  return __builtin_expect(c != nullptr, 1) ? c : try_map_thread_cache();
}

// How many objects a refill fetches (and a flush returns) for a class: a
// table, so the free fast path does no division.
namespace detail {
constexpr auto make_batches() {
  std::array<std::uint32_t, kClassCount> b{};
  for (std::size_t c = 0; c < kClassCount; ++c) {
    std::size_t n = 16384 / class_size(c);
    b[c] = static_cast<std::uint32_t>(n < 4 ? 4 : n > 128 ? 128 : n);
  }
  return b;
}
inline constexpr auto kBatches = make_batches();
}  // namespace detail

[[nodiscard]] constexpr std::size_t batch_for(std::size_t c) { return detail::kBatches[c]; }

// Slow paths (heap_slow_paths.cc).
[[nodiscard]] void* refill_and_allocate(std::size_t c);
void flush_class(std::size_t c);
// Gives every cached object back to the node heap, sends the remote frees
// and unmaps the cache (the kernel thread stops running this gpthread
// thread).
void return_thread_cache();
// Gives up the cache without touching it (thread_state.h).
void forget_thread_cache();
// Sends this thread's batched remote frees to their homes.
void flush_remote_frees();
void add_remote_free(std::uintptr_t p);
// Frees of our memory that other nodes sent us; returns how many.
std::size_t drain_inbox();
// Before an allocation fails: takes in the frees of our memory the agent
// still holds (the inbox had no room for them), until no more come. True if
// any came.
[[nodiscard]] bool drain_held_frees();

// Reports a bad free of our memory made on another node (the address, that
// node and why) and aborts.
[[noreturn]] void bad_remote_free(const void* p, std::uint32_t node, const char* why);

// Reports a bad free or realloc (the address and why) and aborts.
[[noreturn]] void bad_pointer(const char* call, const void* p, const char* why);

}  // namespace gpt::galloc
