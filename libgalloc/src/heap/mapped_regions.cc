#include "mapped_regions.h"

#include "coherence.h"
#include "global_space.h"
#include "node_heap.h"
#include "runtime.h"
#include "thread_cache.h"

namespace gpt::galloc {

void* alloc_region(std::size_t bytes, bool* zeroed) {
  rt::ensure_started();
  // Frees other nodes made of our memory first: they may be what makes room.
  drain_inbox();
  // Whole chunks, even for a single page: every region starts a chunk, and
  // the chunk table finds it from any address inside.
  const std::size_t want = bytes > kChunkBytes ? bytes : kChunkBytes;
  void* p = node_heap().alloc_large(want, kChunkBytes, zeroed);
  while (!p && drain_held_frees()) p = node_heap().alloc_large(want, kChunkBytes, zeroed);
  return p;
}

void free_region(void* block) {
  const auto p = reinterpret_cast<std::uintptr_t>(block);
  NodeHeap& heap = node_heap();
  if (heap.owns(p)) {
    heap.free_large(p);
    return;
  }
  // What this node wrote to the block (the caller's header) must be at
  // home before the home may hand the block out again: a diff arriving
  // after that would land in someone else's memory.
  release();
  add_remote_free(p);
  flush_remote_frees();  // a mapping is big: give it back now, not with the next batch
}

RegionSpan region_containing(const void* p) {
  const GlobalSpace& s = space();
  if (!s.in_heap(p)) return {};
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const region::Geometry& g = s.geometry;
  const std::uint32_t owner = g.home_of_page(g.page_of(addr));
  if (owner >= g.node_count) return {};
  const PartitionLayout part = PartitionLayout::of(g, owner);
  std::size_t chunk = part.chunk_of(addr);
  if (chunk < part.table_chunks || chunk >= part.chunks) return {};
  // Back over the block's tail chunks to its first one.
  while (kind_of(part.table()[chunk]) == ChunkKind::kLargeTail && chunk > part.table_chunks) --chunk;
  const std::uint32_t d = part.table()[chunk];
  if (kind_of(d) != ChunkKind::kLargeStart) return {};
  const std::size_t bytes = static_cast<std::size_t>(value_of(d)) * kChunkBytes;
  const std::uintptr_t start = part.chunk_base(chunk);
  if (addr - start >= bytes) return {};
  return {reinterpret_cast<void*>(start), bytes};
}

bool resize_region(void* block, std::size_t bytes) {
  const auto p = reinterpret_cast<std::uintptr_t>(block);
  NodeHeap& heap = node_heap();
  return heap.owns(p) && heap.resize_large(p, bytes > kChunkBytes ? bytes : kChunkBytes);
}

}  // namespace gpt::galloc
