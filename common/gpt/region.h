// The global address space: where it is and who is home for each page.
//
// Every node maps the region at kRegionBase. It holds, in order:
//   the heap: node_count equal partitions; partition k is allocated from,
//             and homed at, node k;
// The program's globals are a second shared window at the program's own
// link address (see libgalloc/src/globals.cc); node 0 is their home.
// The agent backs the region with its node's memfd (offset = address -
// kRegionBase); twins for dirty pages live in the same memfd, one region
// size further on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::region {

inline constexpr std::uintptr_t kRegionBase = 0x200000000000ull;  // 32 TiB
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kDefaultHeapBytes = 64ull << 30;  // GPT_HEAP_SIZE default
inline constexpr std::size_t kMinHeapBytes = 64ull << 20;
inline constexpr std::size_t kMaxHeapBytes = 16ull << 40;

struct Geometry {
  std::uintptr_t base = kRegionBase;
  std::size_t heap_bytes = kDefaultHeapBytes;
  std::uint32_t node_count = 1;

  [[nodiscard]] constexpr std::size_t partition_bytes() const {
    // 2 MiB-aligned: no page has two homes, and the allocator's 64 KiB
    // chunks are naturally aligned.
    return (heap_bytes / node_count) & ~((std::size_t{2} << 20) - 1);
  }
  [[nodiscard]] constexpr bool contains(std::uintptr_t addr) const {
    return addr >= base && addr - base < heap_bytes;
  }
  [[nodiscard]] constexpr std::uint64_t page_of(std::uintptr_t addr) const {
    return (addr - base) / kPageSize;
  }
  [[nodiscard]] constexpr std::uintptr_t address_of_page(std::uint64_t page) const {
    return base + page * kPageSize;
  }
  [[nodiscard]] constexpr std::uint64_t page_count() const { return heap_bytes / kPageSize; }
  // The home node of a heap page; node_count for pages past the last
  // partition (the unused tail, never handed out).
  [[nodiscard]] constexpr std::uint32_t home_of_page(std::uint64_t page) const {
    std::uint64_t home = page * kPageSize / partition_bytes();
    return home < node_count ? static_cast<std::uint32_t>(home) : node_count;
  }
  [[nodiscard]] constexpr std::uintptr_t partition_base(std::uint32_t node) const {
    return base + static_cast<std::uintptr_t>(node) * partition_bytes();
  }
  // memfd layout of the agent's backing file.
  [[nodiscard]] constexpr std::uint64_t page_offset(std::uint64_t page) const {
    return page * kPageSize;
  }
  [[nodiscard]] constexpr std::uint64_t twin_offset(std::uint64_t page) const {
    return heap_bytes + page * kPageSize;
  }
  [[nodiscard]] constexpr std::uint64_t backing_bytes() const { return 2 * heap_bytes; }
};

}  // namespace gpt::region
