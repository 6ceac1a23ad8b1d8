// The global address space: where it is and who is home for each page.
//
// Pages are numbered in one index space:
//   [0, heap_pages)            the heap, mapped at kRegionBase on every node:
//                              node_count equal partitions; partition k is
//                              allocated from, and homed at, node k;
//   [heap_pages, page_count()) the program's own globals (its .data and
//                              .bss, gathered by gpt-cc's link script into
//                              two page-aligned windows at the program's link
//                              addresses, or a preloaded executable's
//                              writable pages); node 0 is their home.
// The agent backs every page with its node's memfd at page * kPageSize;
// twins of dirty pages live in the same memfd, page_count() pages further,
// and after them one byte per page saying whether the home's copy is the
// only one (the sole-copy marks, see sole_copy.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::region {

inline constexpr std::uintptr_t kRegionBase = 0x200000000000ull;  // 32 TiB
inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kDefaultHeapBytes = 64ull << 30;  // GPT_HEAP_SIZE default
inline constexpr std::size_t kMinHeapBytes = 64ull << 20;
inline constexpr std::size_t kMaxHeapBytes = 16ull << 40;
inline constexpr std::size_t kMaxGlobalsBytes = 1ull << 30;
// gpt-cc's link script makes two (.data-like and .bss-like); a program run
// with --preload has up to three runs of its executable's pages and the
// layout page (libgalloc/src/exe_windows.h).
inline constexpr int kGlobalWindows = 4;

// One page-aligned range of the program's globals.
struct Window {
  std::uintptr_t base = 0;
  std::size_t bytes = 0;
};

struct Geometry {
  std::uintptr_t base = kRegionBase;
  std::size_t heap_bytes = kDefaultHeapBytes;
  std::uint32_t node_count = 1;
  // Known to the program's runtime only (the agent needs just page numbers).
  Window globals[kGlobalWindows];

  [[nodiscard]] constexpr std::size_t partition_bytes() const {
    // 2 MiB-aligned: no page has two homes, and the allocator's 64 KiB
    // chunks are naturally aligned.
    return (heap_bytes / node_count) & ~((std::size_t{2} << 20) - 1);
  }
  [[nodiscard]] constexpr std::uint64_t heap_pages() const { return heap_bytes / kPageSize; }
  [[nodiscard]] constexpr std::uint64_t page_count() const {
    return heap_pages() + kMaxGlobalsBytes / kPageSize;
  }
  [[nodiscard]] constexpr bool in_heap(std::uintptr_t addr) const {
    return addr >= base && addr - base < heap_bytes;
  }
  [[nodiscard]] constexpr int window_of(std::uintptr_t addr) const {
    for (int w = 0; w < kGlobalWindows; ++w)
      if (addr >= globals[w].base && addr - globals[w].base < globals[w].bytes) return w;
    return -1;
  }
  [[nodiscard]] constexpr bool contains(std::uintptr_t addr) const {
    return in_heap(addr) || window_of(addr) >= 0;
  }
  // First page index of window w.
  [[nodiscard]] constexpr std::uint64_t window_first_page(int w) const {
    std::uint64_t p = heap_pages();
    for (int i = 0; i < w; ++i) p += globals[i].bytes / kPageSize;
    return p;
  }
  // Page index of an address for which contains() holds.
  [[nodiscard]] constexpr std::uint64_t page_of(std::uintptr_t addr) const {
    if (in_heap(addr)) return (addr - base) / kPageSize;
    int w = window_of(addr);
    return window_first_page(w) + (addr - globals[w].base) / kPageSize;
  }
  // The address of a page, or 0 for a globals index this program lacks.
  [[nodiscard]] constexpr std::uintptr_t address_of_page(std::uint64_t page) const {
    if (page < heap_pages()) return base + page * kPageSize;
    for (int w = 0; w < kGlobalWindows; ++w) {
      std::uint64_t first = window_first_page(w);
      if (page >= first && page < first + globals[w].bytes / kPageSize)
        return globals[w].base + (page - first) * kPageSize;
    }
    return 0;
  }
  // The home node of a page: its partition's node for heap pages, node 0
  // for globals; node_count for pages past the last partition (the unused
  // tail, never handed out) or past the globals limit.
  [[nodiscard]] constexpr std::uint32_t home_of_page(std::uint64_t page) const {
    if (page >= heap_pages()) return page < page_count() ? 0 : node_count;
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
    return (page_count() + page) * kPageSize;
  }
  [[nodiscard]] constexpr std::uint64_t sole_copy_offset() const { return 2 * page_count() * kPageSize; }
  [[nodiscard]] constexpr std::uint64_t sole_copy_bytes() const {
    return (page_count() + kPageSize - 1) / kPageSize * kPageSize;
  }
  [[nodiscard]] constexpr std::uint64_t backing_bytes() const { return sole_copy_offset() + sole_copy_bytes(); }
};

}  // namespace gpt::region
