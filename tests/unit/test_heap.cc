// The allocator's central heap and size classes, on a private mapping that
// plays one node's partition (no agent, no other nodes).
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <cstring>

#include <algorithm>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "heap/node_heap.h"
#include "heap/size_classes.h"

namespace {

using namespace gpt::galloc;

TEST(SizeClasses, CoverEverySmallSizeWithBoundedWaste) {
  for (std::size_t s = 1; s <= kMaxSmall; ++s) {
    std::size_t c = size_to_class(s);
    ASSERT_LT(c, kClassCount);
    ASSERT_GE(class_size(c), s) << s;
    if (c > 0) {
      ASSERT_LT(class_size(c - 1), s) << s;  // the smallest that fits
    }
    if (s > 64) {
      ASSERT_LE(class_size(c) - s, s / 4) << s;
    }
  }
  for (std::size_t c = 1; c < kClassCount; ++c) {
    EXPECT_GT(class_size(c), class_size(c - 1));
    EXPECT_EQ(class_size(c) % kMinAlign, 0u);
  }
}

TEST(SizeClasses, ReciprocalDivisionIsExactInAChunk) {
  for (std::size_t c = 0; c < kClassCount; ++c)
    for (std::size_t off = 0; off < kChunkBytes; off += 7)
      ASSERT_EQ(index_in_slab(c, off), off / class_size(c)) << c << " " << off;
}

// A heap of kBytes shared by 2 "nodes"; the tests use node 0's partition.
template <std::size_t kBytes>
struct HeapOf : ::testing::Test {
  void* area = nullptr;
  gpt::region::Geometry g;
  NodeHeap heap;

  void SetUp() override {
    // 2 MiB-aligned like the real region.
    void* raw = mmap(nullptr, kBytes + (2u << 20), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(raw, MAP_FAILED);
    auto base = (reinterpret_cast<std::uintptr_t>(raw) + (2u << 20) - 1) & ~std::uintptr_t{(2u << 20) - 1};
    area = raw;
    g.base = base;
    g.heap_bytes = kBytes;
    g.node_count = 2;
    heap.init(g, 0);
  }
  void TearDown() override { munmap(area, kBytes + (2u << 20)); }

  std::vector<FreeObject*> take(std::size_t c, std::size_t n) {
    FreeObject* list = nullptr;
    EXPECT_EQ(heap.take(c, &list, n), n);
    std::vector<FreeObject*> out;
    for (; list; list = list->next) out.push_back(list);
    return out;
  }
  std::size_t partition_chunks() const { return heap.layout().chunks - heap.layout().table_chunks; }
};
using HeapFixture = HeapOf<std::size_t{1} << 30>;  // 512 MiB partitions

TEST_F(HeapFixture, ObjectsAreDistinctAlignedAndInOurPartition) {
  std::set<std::uintptr_t> seen;
  const auto& part = heap.layout();
  for (std::size_t c = 0; c < kClassCount; ++c) {
    for (FreeObject* o : take(c, 40)) {
      auto a = reinterpret_cast<std::uintptr_t>(o);
      EXPECT_TRUE(seen.insert(a).second);
      EXPECT_EQ(a % kMinAlign, 0u);
      EXPECT_GE(a, part.base + part.table_chunks * kChunkBytes);  // never the table
      EXPECT_LT(a, g.partition_base(1));                        // never node 1's memory
      EXPECT_EQ(NodeHeap::check_object(part, a, part.table()[part.chunk_of(a)]), nullptr);
      // Power-of-two classes are naturally aligned.
      if ((class_size(c) & (class_size(c) - 1)) == 0) {
        EXPECT_EQ(a % class_size(c), 0u);
      }
    }
  }
}

TEST_F(HeapFixture, GivenBackObjectsAreReused) {
  auto first = take(3, 100);
  FreeObject* list = nullptr;
  for (FreeObject* o : first) {
    o->next = list;
    list = o;
  }
  heap.give_back(3, list);
  EXPECT_TRUE(heap.in_slab_free_list(reinterpret_cast<std::uintptr_t>(first[0])));
  auto again = take(3, 100);
  std::set<FreeObject*> a(first.begin(), first.end()), b(again.begin(), again.end());
  EXPECT_EQ(a, b);
}

TEST_F(HeapFixture, InteriorAndUnallocatedPointersAreRecognised) {
  auto objs = take(size_to_class(100), 1);
  auto a = reinterpret_cast<std::uintptr_t>(objs[0]);
  const auto& part = heap.layout();
  auto d = part.table()[part.chunk_of(a)];
  EXPECT_STREQ(NodeHeap::check_object(part, a + 16, d), "not the start of an allocated object");
  std::uintptr_t far = part.base + (part.table_chunks + 500) * kChunkBytes;
  EXPECT_STREQ(NodeHeap::check_object(part, far, part.table()[part.chunk_of(far)]),
               "not allocated (double free or never allocated)");
}

TEST_F(HeapFixture, LargeAllocationsHonourAlignmentAndAreRecycled) {
  for (std::size_t align : {std::size_t{64} << 10, std::size_t{1} << 20, std::size_t{4} << 20}) {
    void* p = heap.alloc_large(300 * 1024, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
    const auto& part = heap.layout();
    auto d = part.table()[part.chunk_of(reinterpret_cast<std::uintptr_t>(p))];
    EXPECT_EQ(kind_of(d), ChunkKind::kLargeStart);
    EXPECT_EQ(value_of(d), 5u);  // 300 KiB in 64 KiB chunks
    heap.free_large(reinterpret_cast<std::uintptr_t>(p));
    EXPECT_EQ(kind_of(part.table()[part.chunk_of(reinterpret_cast<std::uintptr_t>(p))]), ChunkKind::kUnused);
  }
  // Same-size allocations after a free reuse the run: the footprint stays put.
  void* a = heap.alloc_large(1 << 20, kChunkBytes);
  heap.free_large(reinterpret_cast<std::uintptr_t>(a));
  void* steady = heap.alloc_large(1 << 20, kChunkBytes);
  heap.free_large(reinterpret_cast<std::uintptr_t>(steady));
  for (int i = 0; i < 100; ++i) {
    void* b = heap.alloc_large(1 << 20, kChunkBytes);
    EXPECT_EQ(b, steady);
    heap.free_large(reinterpret_cast<std::uintptr_t>(b));
  }
}

// A big run goes back to the system when freed (here a private mapping:
// its pages read as zeros again); a small one keeps its memory.
TEST_F(HeapFixture, BigFreedRunsGoBackToTheSystem) {
  auto* big = static_cast<unsigned char*>(heap.alloc_large(kReturnBytes, kChunkBytes));
  auto* small = static_cast<unsigned char*>(heap.alloc_large(kChunkBytes, kChunkBytes));
  ASSERT_NE(big, nullptr);
  ASSERT_NE(small, nullptr);
  std::memset(big, 0xab, kReturnBytes);
  std::memset(small, 0xcd, kChunkBytes);
  heap.free_large(reinterpret_cast<std::uintptr_t>(big));
  heap.free_large(reinterpret_cast<std::uintptr_t>(small));
  for (std::size_t i = 0; i < kReturnBytes; i += 4096) ASSERT_EQ(big[i], 0) << i;
  EXPECT_EQ(small[100], 0xcd);
}

TEST_F(HeapFixture, RemoteFreesAreValidatedBeforeUse) {
  auto objs = take(2, 2);
  auto a = reinterpret_cast<std::uintptr_t>(objs[0]);
  EXPECT_EQ(heap.free_from_remote(a), nullptr);
  EXPECT_STREQ(heap.free_from_remote(a), "double free");
  EXPECT_STREQ(heap.free_from_remote(reinterpret_cast<std::uintptr_t>(objs[1]) + 8),
               "not the start of an allocated object");
}

TEST_F(HeapFixture, ThePartitionRunsOutCleanly) {
  // 512 MiB partition: a 1 GiB request fails with nullptr, not a crash.
  EXPECT_EQ(heap.alloc_large(std::size_t{1} << 30, kChunkBytes), nullptr);
}

// Reuse across sizes, on a small partition so that filling it is cheap.
using SmallHeap = HeapOf<std::size_t{64} << 20>;  // 32 MiB partitions

TEST_F(SmallHeap, EveryFreed64KiBBlockServesA128KiBOne) {
  std::vector<void*> blocks;
  while (void* p = heap.alloc_large(kChunkBytes, kChunkBytes)) blocks.push_back(p);
  ASSERT_EQ(blocks.size(), partition_chunks());
  for (std::size_t i = 0; i < blocks.size(); i += 2) heap.free_large(reinterpret_cast<std::uintptr_t>(blocks[i]));
  for (std::size_t i = 1; i < blocks.size(); i += 2) heap.free_large(reinterpret_cast<std::uintptr_t>(blocks[i]));
  void* p = heap.alloc_large(2 * kChunkBytes, kChunkBytes);
  ASSERT_NE(p, nullptr);
  heap.free_large(reinterpret_cast<std::uintptr_t>(p));
  // All of them merged: one block of the whole partition fits again.
  EXPECT_EQ(heap.runs().run_count(), 1u);
  EXPECT_NE(heap.alloc_large(blocks.size() * kChunkBytes, kChunkBytes), nullptr);
}

TEST_F(SmallHeap, Freed1MiBBlocksServe64ByteObjects) {
  std::vector<void*> blocks;
  while (void* p = heap.alloc_large(1 << 20, kChunkBytes)) blocks.push_back(p);
  ASSERT_GE(blocks.size() << 20, 30u << 20);
  for (void* p : blocks) heap.free_large(reinterpret_cast<std::uintptr_t>(p));
  const std::size_t c = size_to_class(64);
  std::size_t objects = 0;
  for (;;) {
    FreeObject* list = nullptr;
    const std::size_t got = heap.take(c, &list, 1024);
    objects += got;
    if (got < 1024) break;
  }
  // Every chunk the blocks had (and the rest of the partition) became slabs.
  EXPECT_EQ(objects * 64, partition_chunks() * kChunkBytes);
}

TEST_F(SmallHeap, EmptiedSlabsServeLargeBlocks) {
  const std::size_t c = size_to_class(48);
  FreeObject* all = nullptr;
  std::size_t objects = 0;
  for (std::size_t got = 1; got;) {
    FreeObject* list = nullptr;
    got = heap.take(c, &list, 4096);
    objects += got;
    while (list) {
      FreeObject* next = list->next;
      list->next = all;
      all = list;
      list = next;
    }
  }
  const std::size_t slabs = partition_chunks();
  ASSERT_EQ(objects, slabs * (kChunkBytes / 48));
  EXPECT_EQ(heap.alloc_large(kChunkBytes, kChunkBytes), nullptr);
  heap.give_back(c, all);
  // The class keeps one empty slab; every other chunk is free again and
  // merged with its neighbours.
  EXPECT_EQ(heap.runs().free_chunks(), slabs - 1);
  EXPECT_LE(heap.runs().run_count(), 2u);
  EXPECT_NE(heap.alloc_large((slabs - 1) / 2 * kChunkBytes, kChunkBytes), nullptr);
}

TEST_F(SmallHeap, FreeingSmallObjectsAtRandomEmptiesSlabs) {
  // Objects of two classes, freed in random order in small batches (as
  // thread caches flush): what ends up empty goes back, whatever the order.
  std::vector<std::pair<std::size_t, FreeObject*>> objects;
  for (std::size_t c : {size_to_class(100), size_to_class(3000)})
    for (FreeObject* o : take(c, 3000)) objects.emplace_back(c, o);
  const std::size_t used = heap.runs().high_water();
  std::mt19937 rng(3);
  std::shuffle(objects.begin(), objects.end(), rng);
  for (std::size_t i = 0; i < objects.size(); i += 7) {
    for (std::size_t j = i; j < i + 7 && j < objects.size(); ++j) {
      objects[j].second->next = nullptr;
      heap.give_back(objects[j].first, objects[j].second);
    }
  }
  // One kept slab per class; the rest free (table excluded).
  EXPECT_EQ(heap.runs().free_chunks(), used - heap.layout().table_chunks - 2);
}

TEST_F(SmallHeap, LargeBlocksShrinkAndGrowInPlace) {
  auto* p = static_cast<unsigned char*>(heap.alloc_large(16 * kChunkBytes, kChunkBytes));
  ASSERT_NE(p, nullptr);
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  const auto& part = heap.layout();
  p[0] = 42;
  ASSERT_TRUE(heap.resize_large(at, 3 * kChunkBytes - 100));
  EXPECT_EQ(value_of(part.table()[part.chunk_of(at)]), 3u);
  EXPECT_EQ(kind_of(part.table()[part.chunk_of(at) + 3]), ChunkKind::kUnused);
  EXPECT_EQ(heap.runs().free_chunks(), 13u);
  // Something takes the chunk right after it: growing must move then.
  void* blocker = heap.alloc_large(kChunkBytes, kChunkBytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(blocker), at + 3 * kChunkBytes);
  EXPECT_FALSE(heap.resize_large(at, 4 * kChunkBytes));
  heap.free_large(reinterpret_cast<std::uintptr_t>(blocker));
  ASSERT_TRUE(heap.resize_large(at, 40 * kChunkBytes));
  EXPECT_EQ(value_of(part.table()[part.chunk_of(at)]), 40u);
  EXPECT_EQ(kind_of(part.table()[part.chunk_of(at) + 39]), ChunkKind::kLargeTail);
  EXPECT_EQ(p[0], 42);
  EXPECT_FALSE(heap.resize_large(at, std::size_t{1} << 40));
}

// A buffer grown by 64 KiB at a time to 1 GiB while small objects keep
// taking chunks (what realloc does with it, without copying the bytes): it
// grows in place where it can, moves with room to grow where it cannot.
using BigHeap = HeapOf<std::size_t{4} << 30>;  // 2 GiB partitions

TEST_F(BigHeap, ABufferGrowsTo1GiBBy64KiBSteps) {
  std::uintptr_t buffer = reinterpret_cast<std::uintptr_t>(heap.alloc_large(kChunkBytes, kChunkBytes));
  std::size_t capacity = kChunkBytes, moves = 0;
  const std::size_t c = size_to_class(2000);
  for (std::size_t size = 2 * kChunkBytes; size <= (std::size_t{1} << 30); size += kChunkBytes) {
    if (size / kChunkBytes % 8 == 0) take(c, 32);  // a new slab now and then
    if (size <= capacity) continue;
    if (heap.resize_large(buffer, size)) {
      capacity = size;
      continue;
    }
    void* moved = heap.alloc_large(size + size / 2, kChunkBytes);
    ASSERT_NE(moved, nullptr) << (size >> 20) << " MiB";
    heap.free_large(buffer);
    buffer = reinterpret_cast<std::uintptr_t>(moved);
    capacity = size + size / 2;
    ++moves;
  }
  EXPECT_LT(moves, 40u);
  // What the buffer left behind was reused: far less than the sum of its sizes.
  EXPECT_LT(heap.runs().high_water() * kChunkBytes, std::size_t{3} << 30);
}

}  // namespace
