// The allocator's central heap and size classes, on a private mapping that
// plays one node's partition (no agent, no other nodes).
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <cstring>

#include <set>
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

struct HeapFixture : ::testing::Test {
  static constexpr std::size_t kBytes = std::size_t{1} << 30;  // 1 GiB, 2 "nodes"
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
};

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

}  // namespace
