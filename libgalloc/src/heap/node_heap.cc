#include "node_heap.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "gpt/raw_syscall.h"
#include "global_space.h"
#include "local_memory.h"

namespace gpt::galloc {
namespace {

void* map_private(std::size_t bytes) {
  void* p = rt::map_local(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
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
  runs_.init(part_.chunks, part_.table_chunks, part_.base / kChunkBytes, &NodeHeap::return_chunks, this);
  key_ = make_key();
}

void NodeHeap::return_chunks(void* heap, std::size_t first, std::size_t count) {
  const auto& part = static_cast<NodeHeap*>(heap)->part_;
  return_to_system(part.chunk_base(first), count * kChunkBytes);
}

void NodeHeap::set_descriptor(std::size_t chunk, std::uint32_t d) { part_.table()[chunk] = d; }

void NodeHeap::mark_large(std::size_t first, std::size_t from, std::size_t count) {
  set_descriptor(first, make_descriptor(ChunkKind::kLargeStart, static_cast<std::uint32_t>(count)));
  for (std::size_t i = from > 1 ? from : 1; i < count; ++i)
    set_descriptor(first + i, make_descriptor(ChunkKind::kLargeTail, 0));
}

void NodeHeap::link_partial(std::size_t c, std::uint32_t slab) {
  SlabMeta& m = slabs_[slab];
  m.in_partial = 1;
  m.prev_partial = 0;
  m.next_partial = partial_[c];
  if (m.next_partial) slabs_[m.next_partial].prev_partial = slab;
  partial_[c] = slab;
}

void NodeHeap::unlink_partial(std::size_t c, std::uint32_t slab) {
  SlabMeta& m = slabs_[slab];
  if (m.prev_partial) slabs_[m.prev_partial].next_partial = m.next_partial;
  else partial_[c] = m.next_partial;
  if (m.next_partial) slabs_[m.next_partial].prev_partial = m.prev_partial;
  m.in_partial = 0;
}

void NodeHeap::apply_data_limit() {
  std::size_t limit = ~std::size_t{0};
  for (const int resource : {RLIMIT_DATA, RLIMIT_AS}) {
    struct rlimit r{};
    if (sys::call(SYS_prlimit64, 0, resource, 0, sys::arg(&r)) == 0 && r.rlim_cur != RLIM_INFINITY &&
        r.rlim_cur / kChunkBytes < limit)
      limit = r.rlim_cur / kChunkBytes;
  }
  runs_.set_limit(limit);
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
        apply_data_limit();
        chunk = runs_.take(1).first;
      }
      if (chunk == 0) break;
      s = static_cast<std::uint32_t>(chunk);
      slabs_[s] = SlabMeta{nullptr, 0, 0, 0, 0, 0, 0};
      set_descriptor(s, make_descriptor(ChunkKind::kSlab, static_cast<std::uint32_t>(c)));
      link_partial(c, s);
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
    if (!m.free_list && m.bump == per_slab) unlink_partial(c, s);  // exhausted
  }
  return got;
}

void NodeHeap::give_back(std::size_t c, FreeObject* list) {
  Held<FutexLock> hold(class_locks_[c]);
  std::uint32_t emptied = 0;
  while (list) {
    FreeObject* o = list;
    list = list->next;
    auto chunk = static_cast<std::uint32_t>(part_.chunk_of(reinterpret_cast<std::uintptr_t>(o)));
    SlabMeta& m = slabs_[chunk];
    o->next = m.free_list;
    o->key = key_;
    m.free_list = o;
    if (!m.in_partial) link_partial(c, chunk);
    if (++m.free_count == m.bump) {
      m.next_emptied = emptied;
      emptied = chunk;
    }
  }
  if (emptied) release_emptied(c, emptied);
}

// After the whole list is in: no object of an emptied slab is still being
// linked when its chunk goes (and its pages, possibly, back to the system).
void NodeHeap::release_emptied(std::size_t c, std::uint32_t emptied) {
  while (emptied) {
    const std::uint32_t s = emptied;
    SlabMeta& m = slabs_[s];
    emptied = m.next_emptied;
    // The class keeps its last slab even when empty: a thread freeing and
    // allocating around one object would otherwise take and give back a
    // chunk every time.
    if (m.free_count != m.bump || (partial_[c] == s && m.next_partial == 0)) continue;
    unlink_partial(c, s);
    set_descriptor(s, make_descriptor(ChunkKind::kUnused, 0));
    Held<FutexLock> chunks(chunk_lock_);
    runs_.release(s, 1);
  }
}

void* NodeHeap::alloc_large(std::size_t size, std::size_t alignment, bool* fresh) {
  if (fresh) *fresh = false;
  if (size > part_.chunks * kChunkBytes || alignment > part_.chunks * kChunkBytes) return nullptr;
  // (0 bytes: an aligned request for nothing still gets its own chunk.)
  const std::size_t count = size ? (size + kChunkBytes - 1) / kChunkBytes : 1;
  const std::size_t align_chunks = alignment > kChunkBytes ? alignment / kChunkBytes : 1;
  Held<FutexLock> hold(chunk_lock_);
  apply_data_limit();
  const ChunkRuns::Taken got = runs_.take(count, align_chunks);
  if (got.first == 0) return nullptr;
  if (fresh) *fresh = got.fresh;
  mark_large(got.first, 0, count);
  return reinterpret_cast<void*>(part_.chunk_base(got.first));
}

void NodeHeap::free_large(std::uintptr_t p) {
  const std::size_t first = part_.chunk_of(p);
  Held<FutexLock> hold(chunk_lock_);
  const std::size_t count = value_of(part_.table()[first]);
  for (std::size_t i = 0; i < count; ++i) set_descriptor(first + i, 0);
  // Merged with its free neighbours; their dirty memory goes back to the
  // system once it adds up (chunk_runs.h), a big block's at once.
  runs_.release(first, count);
}

bool NodeHeap::resize_large(std::uintptr_t p, std::size_t size) {
  const std::size_t first = part_.chunk_of(p);
  const std::size_t want = (size + kChunkBytes - 1) / kChunkBytes;
  if (size > part_.chunks * kChunkBytes) return false;
  Held<FutexLock> hold(chunk_lock_);
  const std::size_t count = value_of(part_.table()[first]);
  if (want < count) {
    set_descriptor(first, make_descriptor(ChunkKind::kLargeStart, static_cast<std::uint32_t>(want)));
    for (std::size_t i = want; i < count; ++i) set_descriptor(first + i, 0);
    runs_.release(first + want, count - want);
    return true;
  }
  apply_data_limit();
  if (!runs_.extend(first, count, want)) return false;
  mark_large(first, count, want);
  return true;
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

void NodeHeap::lock_for_fork() {
  for (FutexLock& l : class_locks_) l.lock();
  chunk_lock_.lock();
}

void NodeHeap::unlock_after_fork() {
  chunk_lock_.unlock();
  for (std::size_t c = kClassCount; c-- > 0;) class_locks_[c].unlock();
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
