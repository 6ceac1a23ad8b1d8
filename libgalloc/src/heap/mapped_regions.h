// Blocks of the global space for the program's own mappings (its mmap of
// anonymous memory or of a file, libc-shim/program_mappings.cc): large
// blocks of the allocator, so their addresses are valid on every node and
// their pages coherent like any heap memory. The heap's chunk table, which
// every node can read, finds a block from any address inside it, so a
// mapping made on one node can be unmapped or resized on another.
#pragma once

#include <cstddef>
#include <cstdint>

#include "chunk_table.h"

namespace gpt::galloc {

// A block of at least `bytes` bytes, aligned to a chunk (kChunkBytes), from this
// node's partition; nullptr when the partition has no room. *zeroed says
// whether its memory was never handed out before (zero on every node).
[[nodiscard]] void* alloc_region(std::size_t bytes, bool* zeroed);

// Frees a block alloc_region gave, on any node (another node's block is
// sent home, as free() does, after a release: what this node wrote to it
// reaches home first).
void free_region(void* block);

// The start of the live large block of the global heap that holds `p`, and
// its size in bytes; {nullptr, 0} if `p` is not inside one (a slab object,
// free memory, the globals, or not in the heap at all).
struct RegionSpan {
  void* block = nullptr;
  std::size_t bytes = 0;
};
[[nodiscard]] RegionSpan region_containing(const void* p);

// Grows or shrinks, without moving, a block of this node's partition to
// `bytes`; false if it would have to move (or the block is another node's).
[[nodiscard]] bool resize_region(void* block, std::size_t bytes);

}  // namespace gpt::galloc
