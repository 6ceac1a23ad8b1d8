// The central heap of this node: its partition of the global space, carved
// into 64 KiB chunks, each a slab of one size class or part of a large
// block. Free chunks are kept as coalesced runs (chunk_runs.h), and a slab
// whose objects are all free again goes back to them, so freed memory serves
// any size. Thread caches (thread_cache.h) sit in front of it; frees of this
// node's memory made on other nodes arrive here in batches.
//
// Bookkeeping lives in runtime-private memory (mmap), never in the program's
// allocator and never in pages other nodes read, except the chunk descriptor
// table (chunk_table.h), which is meant to be read by everyone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "chunk_runs.h"
#include "chunk_table.h"
#include "futex_lock.h"
#include "size_classes.h"

namespace gpt::galloc {

// A free object: the first word links the list, the second holds the
// process's free key (cheap double-free detection, as glibc's tcache does).
struct FreeObject {
  FreeObject* next;
  std::uint64_t key;
};

class NodeHeap {
 public:
  void init(const region::Geometry& geometry, std::uint32_t self);
  [[nodiscard]] bool ready() const { return slabs_ != nullptr; }

  // Moves up to `want` free objects of class `c` onto *list (linked through
  // FreeObject::next); returns how many. 0 only when the partition is full.
  std::size_t take(std::size_t c, FreeObject** list, std::size_t want);
  // Returns a list of objects of class `c` (possibly from many slabs).
  void give_back(std::size_t c, FreeObject* list);

  // `fresh` (optional) is set when the memory was never handed out before,
  // so it is still zero (calloc need not clear it).
  [[nodiscard]] void* alloc_large(std::size_t size, std::size_t alignment, bool* fresh = nullptr);
  void free_large(std::uintptr_t p);
  // Makes the large block at p (of this partition) `size` bytes long
  // (size > kMaxSmall) without moving it: shrinks it, or grows it over the
  // free chunks that follow it. False if it would have to move.
  [[nodiscard]] bool resize_large(std::uintptr_t p, std::size_t size);
  [[nodiscard]] bool owns(std::uintptr_t p) const {
    return p - part_.base < part_.chunks * kChunkBytes;
  }

  // Frees one object of this node's partition that came from another node:
  // validates it first. Returns a reason if it is not a live object start.
  [[nodiscard]] const char* free_from_remote(std::uintptr_t p);

  // The descriptor-based checks shared with free(): nullptr if `p` is the
  // start of an object in chunk descriptor `d`, else why not.
  [[nodiscard]] static const char* check_object(const PartitionLayout& part, std::uintptr_t p,
                                                std::uint32_t d);

  // Scans the slab's free list for p (slow path of double-free detection).
  [[nodiscard]] bool in_slab_free_list(std::uintptr_t p);

  // Around fork(): every lock of the heap taken (classes, then chunks), so
  // the child's copy is not caught in the middle of another thread's change;
  // then let go in the parent and in the child.
  void lock_for_fork();
  void unlock_after_fork();

  [[nodiscard]] const PartitionLayout& layout() const { return part_; }
  [[nodiscard]] std::uint64_t key() const { return key_; }
  // The free chunks, for tests and figures (unlocked: read it when idle).
  [[nodiscard]] const ChunkRuns& runs() const { return runs_; }

 private:
  // The process's RLIMIT_DATA and RLIMIT_AS, read now, bound the chunks this
  // node's heap hands out (a program that limits its data size gets NULL
  // from malloc, as with the libc's; the global space itself is reserved
  // at start-up and never counted). Under chunk_lock_.
  void apply_data_limit();

  struct SlabMeta {
    FreeObject* free_list;
    std::uint32_t free_count;  // objects on free_list
    std::uint32_t bump;        // objects never handed out start here
    std::uint32_t prev_partial, next_partial;  // the class's slabs with free objects (0 = none)
    std::uint32_t in_partial;
    std::uint32_t next_emptied;  // give_back's list of the slabs it emptied
  };

  void set_descriptor(std::size_t chunk, std::uint32_t d);
  // Descriptors of the large block at `first`, `count` chunks long, whose
  // chunks from `from` on were not part of it yet.
  void mark_large(std::size_t first, std::size_t from, std::size_t count);
  [[nodiscard]] std::size_t objects_per_slab(std::size_t c) const {
    return kChunkBytes / class_size(c);
  }
  void link_partial(std::size_t c, std::uint32_t slab);
  void unlink_partial(std::size_t c, std::uint32_t slab);
  void release_emptied(std::size_t c, std::uint32_t emptied);
  static void return_chunks(void* heap, std::size_t first, std::size_t count);

  PartitionLayout part_;
  std::uint64_t key_ = 0;
  SlabMeta* slabs_ = nullptr;  // per chunk
  FutexLock class_locks_[kClassCount];
  std::uint32_t partial_[kClassCount] = {};  // head chunk of slabs with free objects (0 = none)

  FutexLock chunk_lock_;  // guards runs_; taken inside a class lock, never around one
  ChunkRuns runs_;
};

// The process's heap (inline: on the free and malloc fast paths).
extern NodeHeap g_node_heap;
inline NodeHeap& node_heap() { return g_node_heap; }

}  // namespace gpt::galloc
