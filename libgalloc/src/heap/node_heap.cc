#include "node_heap.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "global_space.h"

namespace gpt::galloc {
namespace {

void* map_private(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) rt::die("cannot map the allocator's bookkeeping", 127);
  return p;
}

std::uint64_t make_key() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::uint64_t k = static_cast<std::uint64_t>(ts.tv_nsec) * 0x9e3779b97f4a7c15ull ^
                    static_cast<std::uint64_t>(getpid()) << 32 ^
                    reinterpret_cast<std::uintptr_t>(&ts);
  return k | 1;  // never 0, which fresh memory holds
}

}  // namespace

NodeHeap g_node_heap;

void NodeHeap::init(const region::Geometry& geometry, std::uint32_t self) {
  part_ = PartitionLayout::of(geometry, self);
  slabs_ = static_cast<SlabMeta*>(map_private(part_.chunks * sizeof(SlabMeta)));
  free_run_capacity_ = part_.chunks / 2 + 1;
  free_runs_ = static_cast<FreeRun*>(map_private(free_run_capacity_ * sizeof(FreeRun)));
  next_chunk_ = part_.table_chunks;
  key_ = make_key();
}

void NodeHeap::set_descriptor(std::size_t chunk, std::uint32_t d) { part_.table()[chunk] = d; }

std::size_t NodeHeap::new_chunks(std::size_t count) {
  if (next_chunk_ + count > part_.chunks) return 0;
  std::size_t c = next_chunk_;
  next_chunk_ += count;
  return c;
}

std::size_t NodeHeap::take(std::size_t c, FreeObject** list, std::size_t want) {
  const std::size_t size = class_size(c);
  const std::size_t per_slab = objects_per_slab(c);
  std::size_t got = 0;
  Held<FutexLock> hold(class_locks_[c]);
  while (got < want) {
    std::uint32_t s = partial_[c];
    if (s == 0) {
      std::size_t chunk;
      {
        Held<FutexLock> chunks(chunk_lock_);
        chunk = new_chunks(1);
      }
      if (chunk == 0) break;
      slabs_[chunk] = SlabMeta{nullptr, 0, 0, 0, 1};
      set_descriptor(chunk, make_descriptor(ChunkKind::kSlab, static_cast<std::uint32_t>(c)));
      partial_[c] = s = static_cast<std::uint32_t>(chunk);
    }
    SlabMeta& m = slabs_[s];
    while (got < want && m.free_list) {
      FreeObject* o = m.free_list;
      m.free_list = o->next;
      --m.free_count;
      o->next = *list;
      *list = o;
      ++got;
    }
    while (got < want && m.bump < per_slab) {
      auto* o = reinterpret_cast<FreeObject*>(part_.chunk_base(s) + m.bump++ * size);
      o->next = *list;
      *list = o;
      ++got;
    }
    if (!m.free_list && m.bump == per_slab) {  // exhausted: off the partial list
      partial_[c] = m.next_partial;
      m.in_partial = 0;
    }
  }
  return got;
}

void NodeHeap::give_back(std::size_t c, FreeObject* list) {
  Held<FutexLock> hold(class_locks_[c]);
  while (list) {
    FreeObject* o = list;
    list = list->next;
    auto chunk = static_cast<std::uint32_t>(part_.chunk_of(reinterpret_cast<std::uintptr_t>(o)));
    SlabMeta& m = slabs_[chunk];
    o->next = m.free_list;
    o->key = key_;
    m.free_list = o;
    ++m.free_count;
    if (!m.in_partial) {
      m.in_partial = 1;
      m.next_partial = partial_[c];
      partial_[c] = chunk;
    }
  }
}

void* NodeHeap::alloc_large(std::size_t size, std::size_t alignment, bool* fresh) {
  if (fresh) *fresh = false;
  if (size > part_.chunks * kChunkBytes) return nullptr;
  const std::size_t count = (size + kChunkBytes - 1) / kChunkBytes;
  const std::size_t align_chunks = alignment > kChunkBytes ? alignment / kChunkBytes : 1;
  const std::size_t need = count + align_chunks - 1;
  Held<FutexLock> hold(chunk_lock_);
  // Best fit: repeated same-size allocations reuse the same run, and big
  // runs are not chopped up for small requests.
  std::size_t start = 0, have = 0, best = free_run_count_;
  for (std::size_t i = 0; i < free_run_count_; ++i)
    if (free_runs_[i].count >= need && (best == free_run_count_ || free_runs_[i].count < free_runs_[best].count))
      best = i;
  if (best < free_run_count_) {
    start = free_runs_[best].start;
    have = free_runs_[best].count;
    free_runs_[best] = free_runs_[--free_run_count_];
  }
  if (have == 0) {
    start = new_chunks(need);
    if (start == 0) return nullptr;
    have = need;
    if (fresh) *fresh = true;
  }
  // Chunk indices are relative to the partition base, which is page- but
  // not necessarily alignment-aligned: align the address, not the index.
  std::size_t first = start;
  while ((part_.chunk_base(first) & (alignment - 1)) != 0 && alignment > kChunkBytes) ++first;
  auto give_run = [&](std::size_t s, std::size_t n) {
    if (n && free_run_count_ < free_run_capacity_)
      free_runs_[free_run_count_++] = FreeRun{static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(n)};
  };
  give_run(start, first - start);
  give_run(first + count, start + have - first - count);
  set_descriptor(first, make_descriptor(ChunkKind::kLargeStart, static_cast<std::uint32_t>(count)));
  for (std::size_t i = 1; i < count; ++i)
    set_descriptor(first + i, make_descriptor(ChunkKind::kLargeTail, 0));
  return reinterpret_cast<void*>(part_.chunk_base(first));
}

void NodeHeap::free_large(std::uintptr_t p) {
  const std::size_t first = part_.chunk_of(p);
  Held<FutexLock> hold(chunk_lock_);
  const std::size_t count = value_of(part_.table()[first]);
  for (std::size_t i = 0; i < count; ++i) set_descriptor(first + i, 0);
  // Big runs go back to the system (like glibc's munmap of mmapped chunks);
  // before the run is on the free list, so nobody can be using it again.
  if (count * kChunkBytes >= kReturnBytes) return_to_system(part_.chunk_base(first), count * kChunkBytes);
  if (free_run_count_ < free_run_capacity_)
    free_runs_[free_run_count_++] = FreeRun{static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(count)};
}

const char* NodeHeap::check_object(const PartitionLayout& part, std::uintptr_t p, std::uint32_t d) {
  const std::uintptr_t base = part.chunk_base(part.chunk_of(p));
  switch (kind_of(d)) {
    case ChunkKind::kSlab: {
      std::uint32_t c = value_of(d);
      if (c >= kClassCount) return "corrupt chunk descriptor";
      std::size_t size = class_size(c);
      if ((p - base) % size != 0 || (p - base) / size >= kChunkBytes / size)
        return "not the start of an allocated object";
      return nullptr;
    }
    case ChunkKind::kLargeStart:
      return p == base ? nullptr : "not the start of an allocated object";
    case ChunkKind::kLargeTail:
      return "points into the middle of a large allocation";
    case ChunkKind::kUnused:
      return "not allocated (double free or never allocated)";
  }
  return "corrupt chunk descriptor";
}

bool NodeHeap::in_slab_free_list(std::uintptr_t p) {
  const std::size_t chunk = part_.chunk_of(p);
  std::uint32_t d = part_.table()[chunk];
  if (kind_of(d) != ChunkKind::kSlab) return false;
  Held<FutexLock> hold(class_locks_[value_of(d)]);
  for (FreeObject* o = slabs_[chunk].free_list; o; o = o->next)
    if (reinterpret_cast<std::uintptr_t>(o) == p) return true;
  return false;
}

const char* NodeHeap::free_from_remote(std::uintptr_t p) {
  std::uint32_t d = part_.table()[part_.chunk_of(p)];
  if (const char* why = check_object(part_, p, d)) return why;
  if (kind_of(d) == ChunkKind::kLargeStart) {
    free_large(p);
    return nullptr;
  }
  auto* o = reinterpret_cast<FreeObject*>(p);
  if (o->key == key_ && in_slab_free_list(p)) return "double free";
  o->next = nullptr;
  give_back(value_of(d), o);
  return nullptr;
}

}  // namespace gpt::galloc
