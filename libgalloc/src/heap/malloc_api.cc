// The malloc family, backed by the global space: every pointer it returns is
// valid on every node. See node_heap.h for the layout, thread_cache.h for the
// fast paths.
#include <errno.h>
#include <stdlib.h>

#include <cstring>

#include "aligned_request.h"
#include "global_space.h"
#include "runtime.h"
#include "thread_cache.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::galloc {
namespace {

[[nodiscard]] void* allocate_small(std::size_t c) {
  ThreadCache* cache = try_thread_cache();
  if (__builtin_expect(!cache, 0)) return nullptr;
  ThreadCache& tc = *cache;
  if (FreeObject* o = tc.head[c]) {
    tc.head[c] = o->next;
    --tc.count[c];
    o->key = 0;
    return o;
  }
  rt::ensure_started();
  return refill_and_allocate(c);
}

[[nodiscard]] void* allocate_large(std::size_t size, std::size_t alignment, bool* fresh = nullptr) {
  rt::ensure_started();
  // Frees other nodes made of our memory first: they may be what makes room.
  drain_inbox();
  void* p = node_heap().alloc_large(size, alignment, fresh);
  while (!p && drain_held_frees()) p = node_heap().alloc_large(size, alignment, fresh);
  return p;
}

[[nodiscard]] void* allocate(std::size_t size) {
  if (size <= kMaxSmall) return allocate_small(size_to_class(size ? size : 1));
  return allocate_large(size, kChunkBytes);
}

// `alignment` is a power of two and `size` at most PTRDIFF_MAX
// (aligned_request.h): nothing here can wrap around.
[[nodiscard]] void* allocate_aligned(std::size_t alignment, std::size_t size) {
  if (alignment <= kMinAlign) return allocate(size);
  // Power-of-two classes are naturally aligned (chunks are 64 KiB-aligned).
  const std::size_t want = size > alignment ? size : alignment;
  if (want <= kMaxSmall) {
    const std::size_t pow2 = std::size_t{1} << (64 - __builtin_clzll(want - 1));
    if (pow2 <= kMaxSmall) return allocate_small(size_to_class(pow2));
  }
  return allocate_large(size, alignment);
}

// posix_memalign's answer; the others set errno from it.
[[nodiscard]] int allocate_checked(AlignedCall call, std::size_t alignment, std::size_t size, void** out) {
  const AlignedRequest r = aligned_request(call, alignment, size);
  if (r.error) return r.error;
  void* p = allocate_aligned(r.alignment, r.size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void* allocate_or_set_errno(AlignedCall call, std::size_t alignment, std::size_t size) {
  void* p = nullptr;
  if (int error = allocate_checked(call, alignment, size, &p)) {
    errno = error;
    return nullptr;
  }
  return p;
}

// Room to grow for a large block that realloc must move to make it bigger:
// a buffer grown step by step is then copied a logarithmic number of times,
// not at every step, when other allocations keep taking the chunks after it.
[[nodiscard]] std::size_t with_room_to_grow(std::size_t size) {
  std::size_t roomy;
  return __builtin_add_overflow(size, size / 2, &roomy) ? size : roomy;
}

bool is_double_free(std::size_t c, FreeObject* o) {
  for (FreeObject* f = thread_cache().head[c]; f; f = f->next)
    if (f == o) return true;
  return node_heap().in_slab_free_list(reinterpret_cast<std::uintptr_t>(o));
}

void release_memory(void* p) {
  if (!p) return;
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  NodeHeap& heap = node_heap();
  const PartitionLayout& part = heap.layout();
  const std::uintptr_t in_partition = addr - part.base;
  if (__builtin_expect(in_partition >= part.chunks * kChunkBytes, 0)) {
    if (!space().in_heap(p)) bad_pointer("free", p, "not in the global heap (not from malloc)");
    add_remote_free(addr);  // another node's memory: batched, sent home
    return;
  }
  const std::uint32_t d = part.table()[in_partition / kChunkBytes];
  if (__builtin_expect(kind_of(d) == ChunkKind::kSlab, 1)) {
    const std::size_t c = value_of(d);
    const std::size_t offset = in_partition % kChunkBytes;
    if (index_in_slab(c, offset) * class_size(c) != offset)
      bad_pointer("free", p, "not the start of an allocated object");
    auto* o = static_cast<FreeObject*>(p);
    if (o->key == heap.key() && is_double_free(c, o)) bad_pointer("free", p, "double free");
    ThreadCache& tc = thread_cache();
    o->key = heap.key();
    o->next = tc.head[c];
    tc.head[c] = o;
    if (++tc.count[c] > 2 * batch_for(c)) flush_class(c);
    return;
  }
  if (const char* why = NodeHeap::check_object(part, addr, d)) bad_pointer("free", p, why);
  heap.free_large(addr);
}

// Size of a live allocation of any node (reads that node's chunk table).
std::size_t usable_size(const void* p, const char* call) {
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const region::Geometry& g = space().geometry;
  if (!space().in_heap(p)) bad_pointer(call, p, "not in the global heap (not from malloc)");
  const std::uint32_t owner = g.home_of_page(g.page_of(addr));
  if (owner >= g.node_count) bad_pointer(call, p, "not in any node's heap partition");
  const PartitionLayout part = PartitionLayout::of(g, owner);
  const std::uint32_t d = part.table()[part.chunk_of(addr)];
  if (const char* why = NodeHeap::check_object(part, addr, d)) bad_pointer(call, p, why);
  return kind_of(d) == ChunkKind::kSlab ? class_size(value_of(d))
                                        : static_cast<std::size_t>(value_of(d)) * kChunkBytes;
}

void* fail_enomem() {
  errno = ENOMEM;
  return nullptr;
}

}  // namespace
}  // namespace gpt::galloc

using namespace gpt::galloc;

GPT_API void* malloc(size_t size) {
  void* p = allocate(size);
  return p ? p : fail_enomem();
}

GPT_API void free(void* p) { release_memory(p); }

GPT_API void* calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return fail_enomem();
  if (total > kMaxSmall) {
    // Never-used memory of the global space is zero on every node: clearing
    // it would only fault in (and dirty) every page.
    bool fresh = false;
    void* p = allocate_large(total, kChunkBytes, &fresh);
    if (!p) return fail_enomem();
    if (!fresh) std::memset(p, 0, total);
    return p;
  }
  void* p = allocate(total);
  if (!p) return fail_enomem();
  std::memset(p, 0, total);
  return p;
}

GPT_API void* realloc(void* p, size_t size) {
  if (!p) return malloc(size);
  if (size == 0) {
    free(p);
    return nullptr;
  }
  const size_t old = usable_size(p, "realloc");
  if (size <= old && size > old / 2) return p;  // fits without wasting half
  const bool large = old > kMaxSmall && size > kMaxSmall;
  NodeHeap& heap = node_heap();
  if (large && heap.owns(reinterpret_cast<std::uintptr_t>(p)) &&
      heap.resize_large(reinterpret_cast<std::uintptr_t>(p), size))
    return p;
  void* q = large && size > old ? allocate(with_room_to_grow(size)) : nullptr;
  if (!q) q = allocate(size);
  if (!q) return fail_enomem();  // p stays valid, as C says
  std::memcpy(q, p, size < old ? size : old);
  free(p);
  return q;
}

GPT_API void* reallocarray(void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return fail_enomem();
  return realloc(p, total);
}

GPT_API int posix_memalign(void** out, size_t alignment, size_t size) {
  return allocate_checked(AlignedCall::kPosixMemalign, alignment, size, out);
}

GPT_API void* aligned_alloc(size_t alignment, size_t size) {
  return allocate_or_set_errno(AlignedCall::kAlignedAlloc, alignment, size);
}

GPT_API void* memalign(size_t alignment, size_t size) {
  return allocate_or_set_errno(AlignedCall::kMemalign, alignment, size);
}

GPT_API void* valloc(size_t size) { return allocate_or_set_errno(AlignedCall::kValloc, 0, size); }

GPT_API void* pvalloc(size_t size) { return allocate_or_set_errno(AlignedCall::kPvalloc, 0, size); }

GPT_API size_t malloc_usable_size(void* p) { return p ? usable_size(p, "malloc_usable_size") : 0; }
