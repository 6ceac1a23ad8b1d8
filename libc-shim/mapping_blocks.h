// The blocks of the global space that hold the program's own mappings
// (program_mappings.cc): a large block of the allocator whose first page is
// the mapping's header and whose data starts at the next page. Shared by
// the mmap family and the write-back of shared file mappings
// (shared_file_mappings.cc), which both find a mapping from any address
// inside it, on any node.
#pragma once

#include <cstddef>
#include <cstdint>

#include "global_space.h"
#include "heap/mapped_regions.h"
#include "program_memory.h"

namespace gpt::shim {

inline constexpr std::uintptr_t kPage = 4096;
inline constexpr std::uint64_t kMappingMagic = 0x6770742d6d6d6170;  // "gpt-mmap"

// What madvise(MADV_DONTNEED) does to it: a private anonymous mapping
// reads as zeros afterwards, a shared one keeps its contents (the kernel
// drops the pages and brings back the shared memory), a file mapping too
// (here: its copy). A writable shared file mapping (kSharedFile) also
// writes its contents back to the file (shared_file_mappings.h).
enum class Kind : std::uint32_t { kAnonymousPrivate = 1, kAnonymousShared = 2, kFile = 3, kSharedFile = 4 };

// The first page of a mapping's block, in the global space: every node
// reads it (after the synchronisation that gave it the pointer).
struct Header {
  std::uint64_t magic;      // kMappingMagic ^ the data's address: a freed block's stale header never matches
  std::uint64_t bytes;      // the mapping's length, in whole pages
  std::uint64_t low, high;  // offsets [low, high) of the data still mapped
  Kind kind;
  std::uint32_t prot;
  // kSharedFile only: the origin's own descriptor of the file (a dup made
  // at mmap time, so the program may close its own), and the file offset
  // of the data's first byte.
  std::int32_t fd;
  std::uint32_t unused;
  std::uint64_t file_offset;
};

struct Mapping {
  Header* header = nullptr;
  std::byte* data = nullptr;
  std::size_t room = 0;  // bytes the block holds after the header page
  [[nodiscard]] explicit operator bool() const { return header != nullptr; }
};

[[nodiscard]] inline std::uint64_t magic_for(const std::byte* data) {
  return kMappingMagic ^ reinterpret_cast<std::uintptr_t>(data);
}

// The mapping whose block is `span` (a block of the allocator), or an
// empty one if the block is not a live mapping.
[[nodiscard]] inline Mapping mapping_of(const galloc::RegionSpan& span) {
  if (!span.block) return {};
  auto* header = static_cast<Header*>(span.block);
  auto* data = static_cast<std::byte*>(span.block) + kPage;
  // A guarded read: the first page of another large block may be the guard
  // page of a thread's stack (PROT_NONE on the node it runs on).
  std::uint64_t magic = 0;
  if (!copy_from_program(&magic, &header->magic, sizeof magic) || magic != magic_for(data)) return {};
  return {header, data, span.bytes - kPage};
}

// The live mapping whose block holds `p`, or an empty one.
[[nodiscard]] inline Mapping find_mapping(const void* p) { return mapping_of(galloc::region_containing(p)); }

// Calls on(mapping) for each live mapping whose block meets [from, to).
// Mappings live in the heap; its other memory (and the rest of the global
// space) holds none: free chunks and slabs are skipped a chunk at a time,
// other large blocks (big mallocs) at once, so that a walk of the whole
// heap costs one look per chunk at most.
template <class F>
void each_mapping(std::byte* from, std::byte* to, F&& on) {
  std::byte* const heap = galloc::space().heap;
  std::byte* const heap_end = heap + galloc::space().geometry.heap_bytes;
  std::byte* cursor = from < heap ? heap : from;
  std::byte* const end = to < heap_end ? to : heap_end;
  while (cursor < end) {
    const galloc::RegionSpan span = galloc::region_containing(cursor);
    if (!span.block) {
      cursor = reinterpret_cast<std::byte*>(
          (reinterpret_cast<std::uintptr_t>(cursor) | (galloc::kChunkBytes - 1)) + 1);
      continue;
    }
    if (const Mapping m = mapping_of(span)) on(m);
    cursor = static_cast<std::byte*>(span.block) + span.bytes;  // the block's end
  }
}

}  // namespace gpt::shim
