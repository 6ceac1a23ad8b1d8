// Which chunks of a node's partition are free, kept as runs of neighbouring
// free chunks, so that memory freed by any allocation serves any later one
// (a large block, or a slab of any size class):
//  - a freed run merges with its free neighbours at once (boundary tags: a
//    run's length at its first chunk, its start at its last);
//  - a request takes a good fit: runs sit in size-segregated bins (one per
//    length below 32 chunks, four per power of two above, as TLSF does) and
//    a bitmap finds the smallest non-empty bin that surely fits;
//  - chunks past the high-water mark were never handed out (they are still
//    zero on every node): they serve a request only when no run fits, and a
//    run that ends at the mark grows into them instead of leaving a hole.
// It also knows which free chunks may still hold pages ("dirty": freed since
// they were last given back) and hands a run's dirty chunks back to the
// system once they add up to kReturnBytes; once all runs together hold more
// than kKeptDirtyBytes of them, all runs give theirs back.
//
// Chunk indices only: the caller owns the memory and holds the lock. The
// bookkeeping lives in private mappings, never in the program's allocator.
#pragma once

#include <cstddef>
#include <cstdint>

#include "chunk_table.h"

namespace gpt::galloc {

// Free runs holding this much dirty memory go back to the system at once.
// Below it, a program that frees and takes again a block of a few hundred
// KiB (glibc keeps those in its heap too) pays no system call and no page
// faults each time.
inline constexpr std::size_t kReturnBytes = 2u << 20;
inline constexpr std::size_t kReturnChunks = kReturnBytes / kChunkBytes;
// Smaller runs keep theirs (taking them again then costs no page faults)
// while all of them together hold no more than this.
inline constexpr std::size_t kKeptDirtyBytes = 16u << 20;
inline constexpr std::size_t kKeptDirtyChunks = kKeptDirtyBytes / kChunkBytes;

class ChunkRuns {
 public:
  // Gives [first, first + count) back to the system (the caller's memory).
  using ReturnMemory = void (*)(void* context, std::size_t first, std::size_t count);

  // `chunks` chunks in all (at most 2^28), of which [0, reserved) are never
  // handed out. `phase` is the address of chunk 0 in chunks (alignment is of
  // addresses, not indices).
  void init(std::size_t chunks, std::size_t reserved, std::uint64_t phase, ReturnMemory give_back,
            void* context);

  struct Taken {
    std::size_t first = 0;  // 0: nothing fits (chunk 0 is always reserved)
    bool fresh = false;     // never handed out before: still zero everywhere
  };
  // `count` chunks whose first is aligned to `align_chunks` (a power of two).
  [[nodiscard]] Taken take(std::size_t count, std::size_t align_chunks = 1);
  // Frees [first, first + count), which take() or extend() handed out.
  void release(std::size_t first, std::size_t count);
  // Grows the block [first, first + count) to `new_count` chunks in place,
  // if the chunks after it are free (or were never handed out).
  [[nodiscard]] bool extend(std::size_t first, std::size_t count, std::size_t new_count);

  // At most `chunks` handed out at once (the process's data-size limit, set
  // by the heap before it takes): take() and extend() beyond it fail.
  void set_limit(std::size_t chunks) { limit_ = chunks; }
  [[nodiscard]] std::size_t in_use() const { return next_ - reserved_ - free_chunks_; }

  [[nodiscard]] std::size_t free_chunks() const { return free_chunks_; }    // in runs
  [[nodiscard]] std::size_t dirty_chunks() const { return dirty_chunks_; }  // of those
  [[nodiscard]] std::size_t high_water() const { return next_; }
  [[nodiscard]] std::size_t run_count() const { return runs_; }

 private:
  static constexpr std::size_t kExactBins = 32;
  static constexpr std::size_t kBins = kExactBins + 4 * (28 - 5 + 1);
  static constexpr std::size_t kBinWords = (kBins + 63) / 64;
  // How many runs of the bin a request first falls in are tried before the
  // next bin up (whose runs all fit).
  static constexpr int kBinScan = 16;

  struct ChunkMeta {
    std::uint32_t run_length;  // at a free run's first chunk, else 0
    std::uint32_t run_first;   // at a free run's last chunk: its first + 1, else 0
    std::uint32_t prev, next;  // the run's bin list (first chunks; 0 = none)
    std::uint32_t dirty;       // at a free run's first chunk: its dirty chunks
  };

  [[nodiscard]] static std::size_t bin_of(std::size_t length);
  [[nodiscard]] std::size_t align_up(std::size_t chunk, std::size_t align_chunks) const {
    return chunk + ((align_chunks - ((phase_ + chunk) & (align_chunks - 1))) & (align_chunks - 1));
  }
  [[nodiscard]] std::size_t find(std::size_t count, std::size_t align_chunks) const;
  void insert(std::size_t first, std::size_t length, std::size_t dirty);
  void remove(std::size_t first);
  // Takes [at, at + count) out of the free run starting at `first` (already
  // removed, `length` long with `dirty` dirty chunks); the rest stays free.
  void split(std::size_t first, std::size_t length, std::size_t dirty, std::size_t at,
             std::size_t count);
  void give_back_dirty(std::size_t first, std::size_t length);
  void give_back_all_dirty(std::size_t except);

  [[nodiscard]] std::size_t count_dirty(std::size_t from, std::size_t to) const;
  void mark_dirty(std::size_t from, std::size_t to, bool dirty);

  ChunkMeta* meta_ = nullptr;
  std::uint64_t* dirty_bits_ = nullptr;
  std::size_t chunks_ = 0;
  std::size_t reserved_ = 0;
  std::uint64_t phase_ = 0;
  std::size_t next_ = 0;  // high-water mark
  ReturnMemory give_back_ = nullptr;
  void* context_ = nullptr;

  std::uint32_t bins_[kBins] = {};
  std::uint64_t nonempty_[kBinWords] = {};
  std::size_t free_chunks_ = 0;
  std::size_t limit_ = ~std::size_t{0};
  std::size_t dirty_chunks_ = 0;
  std::size_t runs_ = 0;
};

}  // namespace gpt::galloc
