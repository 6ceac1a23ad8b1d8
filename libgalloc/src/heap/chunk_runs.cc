#include "chunk_runs.h"

#include <sys/mman.h>

#include "diag.h"
#include "local_memory.h"

namespace gpt::galloc {
namespace {

void* map_bookkeeping(std::size_t bytes) {
  void* p = rt::map_local(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) rt::die("cannot map the allocator's bookkeeping", 127);
  return p;
}

// Calls f(word, mask) for the bits [from, to) of a bitmap, one word at a time.
template <class F>
void for_each_word(std::size_t from, std::size_t to, F f) {
  while (from < to) {
    const std::size_t word = from / 64;
    const std::size_t lo = from % 64;
    const std::size_t hi = to - word * 64 < 64 ? to - word * 64 : 64;
    const std::uint64_t upto = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
    f(word, upto & (~std::uint64_t{0} << lo));
    from = word * 64 + hi;
  }
}

}  // namespace

void ChunkRuns::init(std::size_t chunks, std::size_t reserved, std::uint64_t phase,
                     ReturnMemory give_back, void* context) {
  if (chunks > (std::size_t{1} << 28)) rt::die("the heap partition is too big for its chunk table", 127);
  meta_ = static_cast<ChunkMeta*>(map_bookkeeping(chunks * sizeof(ChunkMeta)));
  dirty_bits_ = static_cast<std::uint64_t*>(map_bookkeeping((chunks / 64 + 1) * sizeof(std::uint64_t)));
  chunks_ = chunks;
  reserved_ = reserved < 1 ? 1 : reserved;  // index 0 means "none"
  phase_ = phase;
  next_ = reserved_;
  give_back_ = give_back;
  context_ = context;
}

std::size_t ChunkRuns::bin_of(std::size_t length) {
  if (length < kExactBins) return length;
  const auto log = static_cast<std::size_t>(63 - __builtin_clzll(length));  // 5..28
  return kExactBins + (log - 5) * 4 + ((length >> (log - 2)) & 3);
}

void ChunkRuns::insert(std::size_t first, std::size_t length, std::size_t dirty) {
  const std::size_t bin = bin_of(length);
  ChunkMeta& head = meta_[first];
  head.run_length = static_cast<std::uint32_t>(length);
  head.dirty = static_cast<std::uint32_t>(dirty);
  meta_[first + length - 1].run_first = static_cast<std::uint32_t>(first + 1);
  // At the front of its bin: the most recently freed run is reused first,
  // while its pages are still in the caches (and possibly still resident).
  head.prev = 0;
  head.next = bins_[bin];
  if (head.next) meta_[head.next].prev = static_cast<std::uint32_t>(first);
  bins_[bin] = static_cast<std::uint32_t>(first);
  nonempty_[bin / 64] |= std::uint64_t{1} << (bin % 64);
  free_chunks_ += length;
  dirty_chunks_ += dirty;
  ++runs_;
}

void ChunkRuns::remove(std::size_t first) {
  ChunkMeta& head = meta_[first];
  const std::size_t length = head.run_length;
  const std::size_t bin = bin_of(length);
  if (head.prev) meta_[head.prev].next = head.next;
  else bins_[bin] = head.next;
  if (head.next) meta_[head.next].prev = head.prev;
  if (!bins_[bin]) nonempty_[bin / 64] &= ~(std::uint64_t{1} << (bin % 64));
  free_chunks_ -= length;
  dirty_chunks_ -= head.dirty;
  --runs_;
  meta_[first + length - 1].run_first = 0;
  head.run_length = 0;
  head.dirty = 0;
}

std::size_t ChunkRuns::find(std::size_t count, std::size_t align_chunks) const {
  const std::size_t need = count + align_chunks - 1;  // fits wherever the run starts
  const std::size_t bin = bin_of(need);
  if (bin >= kBins) return 0;
  // The runs of need's own bin may be shorter than need (above the exact
  // bins a bin holds a range of lengths): look at a few.
  std::uint32_t run = bins_[bin];
  for (int tried = 0; run && tried < kBinScan; ++tried, run = meta_[run].next)
    if (align_up(run, align_chunks) + count <= run + meta_[run].run_length) return run;
  // Every run of a higher bin is longer than need.
  for (std::size_t word = (bin + 1) / 64; word < kBinWords; ++word) {
    std::uint64_t bits = nonempty_[word];
    if (word == (bin + 1) / 64) bits &= ~std::uint64_t{0} << ((bin + 1) % 64);
    if (bits) return bins_[word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))];
  }
  return 0;
}

void ChunkRuns::split(std::size_t first, std::size_t length, std::size_t dirty, std::size_t at,
                      std::size_t count) {
  const std::size_t end = first + length;
  std::size_t head_dirty = 0;
  if (at > first) {
    head_dirty = count_dirty(first, at);
    insert(first, at - first, head_dirty);
  }
  if (at + count < end) {
    // The tail's share by difference: counting it could cost as much as the
    // whole run, the taken part costs no more than writing its descriptors.
    const std::size_t taken_dirty = count_dirty(at, at + count);
    insert(at + count, end - at - count, dirty - head_dirty - taken_dirty);
  }
}

ChunkRuns::Taken ChunkRuns::take(std::size_t count, std::size_t align_chunks) {
  if (count == 0 || align_chunks == 0 || count > chunks_ || align_chunks > chunks_) return {};
  if (count > limit_ || in_use() > limit_ - count) return {};
  if (const std::size_t run = find(count, align_chunks)) {
    const std::size_t length = meta_[run].run_length, dirty = meta_[run].dirty;
    remove(run);
    const std::size_t at = align_up(run, align_chunks);
    split(run, length, dirty, at, count);
    return {at, false};
  }
  // The run that ends at the high-water mark, grown into never-used chunks.
  if (const std::size_t last = meta_[next_ - 1].run_first) {  // (chunk next_ - 1 is at worst reserved)
    const std::size_t run = last - 1;
    const std::size_t at = align_up(run, align_chunks);
    if (at + count <= chunks_) {
      const std::size_t length = meta_[run].run_length, dirty = meta_[run].dirty;
      remove(run);
      if (at + count < next_) {
        split(run, length, dirty, at, count);
      } else if (at > run) {
        insert(run, at - run, count_dirty(run, at));
      }
      if (at + count > next_) next_ = at + count;
      return {at, false};
    }
  }
  const std::size_t at = align_up(next_, align_chunks);
  if (at + count > chunks_) return {};
  if (at > next_) insert(next_, at - next_, 0);  // the alignment gap: never used, clean
  next_ = at + count;
  return {at, true};
}

void ChunkRuns::release(std::size_t first, std::size_t count) {
  mark_dirty(first, first + count, true);
  std::size_t start = first, length = count, dirty = count;
  if (const std::size_t left = meta_[first - 1].run_first) {  // (reserved chunks are never runs)
    start = left - 1;
    length += meta_[start].run_length;
    dirty += meta_[start].dirty;
    remove(start);
  }
  if (const std::size_t right = first + count; right < next_ && meta_[right].run_length) {
    length += meta_[right].run_length;
    dirty += meta_[right].dirty;
    remove(right);
  }
  if (dirty >= kReturnChunks) {
    give_back_dirty(start, length);
    dirty = 0;
  }
  insert(start, length, dirty);
  // Too much kept in small runs: every other run gives its pages back. Not
  // this one, the likeliest to be taken again; and the sweep comes once per
  // kKeptDirtyBytes freed, not at every free.
  if (dirty_chunks_ > kKeptDirtyChunks) give_back_all_dirty(start);
}

void ChunkRuns::give_back_all_dirty(std::size_t except) {
  for (std::size_t word = 0; word < kBinWords; ++word)
    for (std::uint64_t bits = nonempty_[word]; bits; bits &= bits - 1)
      for (std::uint32_t run = bins_[word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))]; run;
           run = meta_[run].next) {
        ChunkMeta& m = meta_[run];
        if (!m.dirty || run == except) continue;
        give_back_dirty(run, m.run_length);
        dirty_chunks_ -= m.dirty;
        m.dirty = 0;
      }
}

bool ChunkRuns::extend(std::size_t first, std::size_t count, std::size_t new_count) {
  if (new_count <= count) return true;
  if (new_count > chunks_ - first) return false;
  if (new_count - count > limit_ || in_use() > limit_ - (new_count - count)) return false;
  const std::size_t right = first + count, extra = new_count - count;
  if (right == next_) {
    next_ = first + new_count;
    return true;
  }
  if (!meta_[right].run_length) return false;  // allocated
  const std::size_t length = meta_[right].run_length, dirty = meta_[right].dirty;
  if (length >= extra) {
    remove(right);
    split(right, length, dirty, right, extra);
    return true;
  }
  if (right + length == next_) {  // the run, then never-used chunks
    remove(right);
    next_ = first + new_count;
    return true;
  }
  return false;
}

void ChunkRuns::give_back_dirty(std::size_t first, std::size_t length) {
  const std::size_t end = first + length;
  std::size_t at = first;
  while (at < end) {
    // Skip clean chunks a word at a time, then find where the dirty ones end.
    std::size_t word = at / 64;
    std::uint64_t bits = dirty_bits_[word] & (~std::uint64_t{0} << (at % 64));
    while (!bits && (word + 1) * 64 < end) bits = dirty_bits_[++word];
    if (!bits) break;
    const std::size_t from = word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
    if (from >= end) break;
    std::size_t to = from;
    word = to / 64;
    bits = ~dirty_bits_[word] & (~std::uint64_t{0} << (to % 64));
    while (!bits && (word + 1) * 64 < end) bits = ~dirty_bits_[++word];
    to = bits ? word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)) : end;
    if (to > end) to = end;
    mark_dirty(from, to, false);
    give_back_(context_, from, to - from);
    at = to;
  }
}

std::size_t ChunkRuns::count_dirty(std::size_t from, std::size_t to) const {
  std::size_t n = 0;
  for_each_word(from, to, [&](std::size_t word, std::uint64_t mask) {
    n += static_cast<std::size_t>(__builtin_popcountll(dirty_bits_[word] & mask));
  });
  return n;
}

void ChunkRuns::mark_dirty(std::size_t from, std::size_t to, bool dirty) {
  for_each_word(from, to, [&](std::size_t word, std::uint64_t mask) {
    if (dirty) dirty_bits_[word] |= mask;
    else dirty_bits_[word] &= ~mask;
  });
}

}  // namespace gpt::galloc
