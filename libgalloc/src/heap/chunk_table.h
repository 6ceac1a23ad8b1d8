// How a node's partition is carved: 64 KiB chunks, each a slab of one size
// class or part of a large allocation. The descriptor of every chunk is a
// 32-bit word in a table at the start of the partition, in the global space
// itself: the home writes it before handing out the memory, so any node that
// received a pointer through synchronisation can read its size class
// (realloc and malloc_usable_size of another node's memory).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpt/region.h"

namespace gpt::galloc {

inline constexpr std::size_t kChunkBytes = 64 * 1024;

enum class ChunkKind : std::uint32_t {
  kUnused = 0,
  kSlab = 1,        // value: size class
  kLargeStart = 2,  // value: number of chunks
  kLargeTail = 3,   // value: 0
};

[[nodiscard]] constexpr std::uint32_t make_descriptor(ChunkKind kind, std::uint32_t value) {
  return static_cast<std::uint32_t>(kind) << 28 | (value & 0x0fffffffu);
}
[[nodiscard]] constexpr ChunkKind kind_of(std::uint32_t d) { return static_cast<ChunkKind>(d >> 28); }
[[nodiscard]] constexpr std::uint32_t value_of(std::uint32_t d) { return d & 0x0fffffffu; }

struct PartitionLayout {
  std::uintptr_t base = 0;  // partition start (the descriptor table)
  std::size_t chunks = 0;   // chunks in the partition, table included
  std::size_t table_chunks = 0;

  static PartitionLayout of(const region::Geometry& g, std::uint32_t node) {
    PartitionLayout p;
    p.base = g.partition_base(node);
    p.chunks = g.partition_bytes() / kChunkBytes;
    std::size_t table_bytes = p.chunks * sizeof(std::uint32_t);
    p.table_chunks = (table_bytes + kChunkBytes - 1) / kChunkBytes;
    return p;
  }
  [[nodiscard]] volatile std::uint32_t* table() const {
    return reinterpret_cast<volatile std::uint32_t*>(base);
  }
  [[nodiscard]] std::size_t chunk_of(std::uintptr_t p) const { return (p - base) / kChunkBytes; }
  [[nodiscard]] std::uintptr_t chunk_base(std::size_t c) const { return base + c * kChunkBytes; }
};

}  // namespace gpt::galloc
