// The free-chunk runs of a partition (libgalloc/src/heap/chunk_runs.h):
// coalescing, good fit, alignment, growth in place, and which dirty chunks
// go back to the system. Indices only: no memory behind them.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "heap/chunk_runs.h"

namespace {

using gpt::galloc::ChunkRuns;
using gpt::galloc::kKeptDirtyChunks;
using gpt::galloc::kReturnChunks;

struct Runs : ::testing::Test {
  static constexpr std::size_t kChunks = 4096;
  static constexpr std::size_t kReserved = 3;  // like the descriptor table
  ChunkRuns runs;
  std::vector<std::pair<std::size_t, std::size_t>> returned;  // (first, count)

  void SetUp() override { init(0); }
  void init(std::uint64_t phase) {
    runs = ChunkRuns{};
    runs.init(kChunks, kReserved, phase, &Runs::record, this);
  }
  static void record(void* self, std::size_t first, std::size_t count) {
    static_cast<Runs*>(self)->returned.emplace_back(first, count);
  }
  std::size_t take(std::size_t count, std::size_t align = 1) {
    ChunkRuns::Taken t = runs.take(count, align);
    EXPECT_NE(t.first, 0u) << count;
    return t.first;
  }
};

TEST_F(Runs, NeighboursFreedInAnyOrderMergeIntoOneRun) {
  std::vector<std::size_t> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(take(1));
  const std::size_t top = runs.high_water();
  std::mt19937 rng(7);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  for (std::size_t b : blocks) runs.release(b, 1);
  EXPECT_EQ(runs.run_count(), 1u);
  EXPECT_EQ(runs.free_chunks(), 16u);
  // Sixteen one-chunk frees make room for one sixteen-chunk block.
  EXPECT_EQ(take(16), kReserved);
  EXPECT_EQ(runs.high_water(), top);
}

TEST_F(Runs, MemoryFreedAtOneSizeServesAnother) {
  std::vector<std::size_t> big;
  for (int i = 0; i < 8; ++i) big.push_back(take(20));
  const std::size_t top = runs.high_water();
  for (std::size_t b : big) runs.release(b, 20);
  for (int i = 0; i < 160; ++i) {
    std::size_t c = take(1);
    EXPECT_LT(c, top);
  }
  EXPECT_EQ(runs.high_water(), top);
  EXPECT_EQ(runs.free_chunks(), 0u);
}

TEST_F(Runs, TheSmallestRunThatFitsIsTaken) {
  // Free runs of 5, 9 and 44 chunks, kept apart by live blocks.
  const std::size_t a = take(5);
  take(1);
  const std::size_t b = take(9);
  take(1);
  const std::size_t c = take(44);
  take(1);
  runs.release(a, 5);
  runs.release(b, 9);
  runs.release(c, 44);
  EXPECT_EQ(take(8), b);  // not the 44-chunk run
  EXPECT_EQ(take(5), a);
  // 40..47 share a bin: its runs are looked at, not skipped for a new hole.
  const std::size_t top = runs.high_water();
  EXPECT_EQ(take(41), c);
  EXPECT_EQ(runs.high_water(), top);
}

TEST_F(Runs, AlignedBlocksAreAlignedInAddressesAndTheGapStaysFree) {
  init(5);  // chunk 0 sits at address chunk 5: index 3 is address chunk 8
  take(2);
  const std::size_t top = runs.high_water();
  const std::size_t a = take(4, 16);
  EXPECT_EQ((5 + a) % 16, 0u);
  // The chunks skipped for alignment are a free run: a small block uses them.
  const std::size_t gap = a - top;
  ASSERT_GT(gap, 0u);
  EXPECT_EQ(runs.free_chunks(), gap);
  EXPECT_EQ(take(gap), top);
  // From a free run too.
  runs.release(a, 4);
  const std::size_t b = take(2, 4);
  EXPECT_EQ((5 + b) % 4, 0u);
}

TEST_F(Runs, BlocksGrowInPlaceOverFreeAndNeverUsedChunks) {
  const std::size_t a = take(4);
  EXPECT_TRUE(runs.extend(a, 4, 10));  // into the never-used chunks
  const std::size_t b = take(3);
  EXPECT_EQ(b, a + 10);
  EXPECT_FALSE(runs.extend(a, 10, 11));  // b is in the way
  const std::size_t c = take(6);
  runs.release(b, 3);
  EXPECT_TRUE(runs.extend(a, 10, 12));  // over part of b's run
  EXPECT_EQ(runs.free_chunks(), 1u);
  EXPECT_FALSE(runs.extend(a, 12, 14));  // one free chunk, then c
  runs.release(c, 6);                    // now the free chunks reach the mark
  EXPECT_TRUE(runs.extend(a, 12, 30));
  EXPECT_EQ(runs.high_water(), a + 30);
  EXPECT_EQ(runs.free_chunks(), 0u);
  EXPECT_FALSE(runs.extend(a, 30, kChunks));  // past the partition
}

TEST_F(Runs, ARunAtTheHighWaterMarkGrowsIntoIt) {
  const std::size_t a = take(2);
  const std::size_t b = take(3);
  runs.release(b, 3);
  const ChunkRuns::Taken t = runs.take(5);
  EXPECT_EQ(t.first, b);  // not a new hole after b's run
  EXPECT_FALSE(t.fresh);
  EXPECT_EQ(runs.high_water(), b + 5);
  (void)a;
}

TEST_F(Runs, OnlyNeverUsedChunksAreFresh) {
  const ChunkRuns::Taken first = runs.take(2);
  EXPECT_TRUE(first.fresh);
  take(1);
  runs.release(first.first, 2);
  const ChunkRuns::Taken again = runs.take(2);
  EXPECT_EQ(again.first, first.first);
  EXPECT_FALSE(again.fresh);
}

TEST_F(Runs, ABigFreedBlockGoesBackAtOnce) {
  const std::size_t big = take(kReturnChunks + 2);
  take(1);
  runs.release(big, kReturnChunks + 2);
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_EQ(returned[0], std::make_pair(big, kReturnChunks + 2));
  EXPECT_EQ(runs.dirty_chunks(), 0u);
}

TEST_F(Runs, SmallRunsGoBackOnceMergedTheyHoldEnough) {
  // Neighbouring single chunks, freed every other one first: separate runs,
  // each too small to be worth a system call.
  std::vector<std::size_t> small;
  for (std::size_t i = 0; i < 2 * kReturnChunks; ++i) small.push_back(take(1));
  take(1);
  for (std::size_t i = 0; i < small.size(); i += 2) runs.release(small[i], 1);
  EXPECT_TRUE(returned.empty());
  EXPECT_EQ(runs.dirty_chunks(), kReturnChunks);
  // Then the ones between, from the start: one run grows by two chunks at a
  // time, and goes back (all of it, in one range) once it is big enough.
  std::size_t merged = 1;
  for (std::size_t i = 1; i + 1 < small.size(); i += 2) {
    runs.release(small[i], 1);
    merged += 2;
    if (merged < kReturnChunks) {
      ASSERT_TRUE(returned.empty()) << merged;
      continue;
    }
    ASSERT_EQ(returned.size(), 1u);
    EXPECT_EQ(returned[0], std::make_pair(small[0], merged));
    break;
  }
  EXPECT_FALSE(returned.empty());
}

TEST_F(Runs, DirtyChunksThatJoinACleanRunGoBackWithoutIt) {
  const std::size_t big = take(kReturnChunks + 6);
  const std::size_t one = take(1);
  const std::size_t rest = take(kReturnChunks - 1);
  take(1);
  runs.release(big, kReturnChunks + 6);  // given back: a clean run
  returned.clear();
  runs.release(one, 1);  // joins it: 1 dirty chunk, kept
  EXPECT_TRUE(returned.empty());
  runs.release(rest, kReturnChunks - 1);  // enough dirty chunks in the run: those go, not the clean ones
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_EQ(returned[0], std::make_pair(one, kReturnChunks));
  EXPECT_EQ(runs.run_count(), 1u);
  EXPECT_EQ(runs.dirty_chunks(), 0u);
}

TEST_F(Runs, SmallDirtyRunsTogetherKeepABoundedAmount) {
  // Single chunks kept apart by live ones: none of them alone is worth a
  // system call, but together they may hold no more than kKeptDirtyChunks.
  std::vector<std::size_t> singles;
  for (std::size_t i = 0; i < kKeptDirtyChunks + 100; ++i) {
    singles.push_back(take(1));
    take(1);
  }
  for (std::size_t i = 0; i <= kKeptDirtyChunks; ++i) runs.release(singles[i], 1);
  // One too many: all the others go back at once, the last one freed stays.
  EXPECT_EQ(returned.size(), kKeptDirtyChunks);
  EXPECT_EQ(runs.dirty_chunks(), 1u);
  for (auto [first, count] : returned) EXPECT_NE(first, singles[kKeptDirtyChunks]);
  returned.clear();
  for (std::size_t i = kKeptDirtyChunks + 1; i < singles.size(); ++i) runs.release(singles[i], 1);
  EXPECT_TRUE(returned.empty());
  EXPECT_EQ(runs.dirty_chunks(), 100u);
}

// Random takes, releases and growths against a model of who owns each chunk:
// blocks never overlap, the counts add up, and everything freed merges back.
TEST_F(Runs, RandomUseKeepsTheBooksStraight) {
  std::mt19937 rng(42);
  std::vector<int> owner(kChunks, -1);
  struct Block {
    std::size_t first, count;
  };
  std::vector<Block> live;
  int id = 0;
  std::size_t in_use = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned r = rng() % 100;
    if (r < 45 || live.empty()) {
      const std::size_t count = rng() % 4 == 0 ? 1 + rng() % 64 : 1 + rng() % 4;
      const std::size_t align = std::size_t{1} << (rng() % 8 == 0 ? rng() % 5 : 0);
      const ChunkRuns::Taken t = runs.take(count, align);
      if (t.first == 0) continue;
      ASSERT_EQ(t.first % align, 0u);
      ASSERT_LE(t.first + count, runs.high_water());
      for (std::size_t c = t.first; c < t.first + count; ++c) {
        ASSERT_EQ(owner[c], -1) << "chunk " << c << " handed out twice";
        owner[c] = id;
      }
      ++id;
      live.push_back({t.first, count});
      in_use += count;
    } else if (r < 90) {
      const std::size_t i = rng() % live.size();
      for (std::size_t c = live[i].first; c < live[i].first + live[i].count; ++c) owner[c] = -1;
      runs.release(live[i].first, live[i].count);
      in_use -= live[i].count;
      live[i] = live.back();
      live.pop_back();
    } else {
      Block& b = live[rng() % live.size()];
      const std::size_t grown = b.count + 1 + rng() % 8;
      if (runs.extend(b.first, b.count, grown)) {
        for (std::size_t c = b.first + b.count; c < b.first + grown; ++c) {
          ASSERT_EQ(owner[c], -1) << "grown over chunk " << c;
          owner[c] = owner[b.first];
        }
        in_use += grown - b.count;
        b.count = grown;
      }
    }
    ASSERT_EQ(runs.free_chunks() + in_use + kReserved, runs.high_water()) << step;
    ASSERT_LE(runs.dirty_chunks(), runs.free_chunks());
  }
  for (const Block& b : live) runs.release(b.first, b.count);
  EXPECT_EQ(runs.run_count(), 1u);
  EXPECT_EQ(runs.free_chunks(), runs.high_water() - kReserved);
  // And that one run serves a block of all of it.
  EXPECT_EQ(take(runs.high_water() - kReserved), kReserved);
}

TEST_F(Runs, RequestsBeyondThePartitionFailCleanly) {
  EXPECT_EQ(runs.take(kChunks).first, 0u);
  EXPECT_EQ(runs.take(1, std::size_t{1} << 40).first, 0u);
  EXPECT_EQ(runs.take(kChunks - kReserved).first, kReserved);
  EXPECT_EQ(runs.take(1).first, 0u);
}

}  // namespace
