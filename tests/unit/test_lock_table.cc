// The lock words the agent and the program share (gpt/lock_table.h).
#include "gpt/lock_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace gpt::channel;
using namespace gpt::channel::lock_bits;

struct TableTest : ::testing::Test {
  std::unique_ptr<LockTable> table = std::make_unique<LockTable>();
};

TEST_F(TableTest, AProgramFindsOnlyWhatTheAgentInserted) {
  EXPECT_EQ(find_lock(*table, 0x200000001000), nullptr);
  LockEntry* e = insert_lock(*table, 0x200000001000);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(find_lock(*table, 0x200000001000), e);
  EXPECT_EQ(insert_lock(*table, 0x200000001000), e);  // once per lock
  EXPECT_EQ(find_lock(*table, 0x200000001008), nullptr);
}

TEST_F(TableTest, TheFastPathNeedsTheTokenAndTheAgentsLeave) {
  LockEntry* e = insert_lock(*table, 0x200000002000);
  bool afar = false;
  EXPECT_FALSE(try_take(*e, &afar)) << "no token yet";
  e->state = kToken | kAgent;
  EXPECT_FALSE(try_take(*e, &afar)) << "the agent owns the word";
  e->state = kToken | kAfar;
  ASSERT_TRUE(try_take(*e, &afar));
  EXPECT_TRUE(afar);
  EXPECT_EQ(e->state.load(), kToken | kHeld);
  EXPECT_FALSE(try_take(*e, &afar)) << "held";
  ASSERT_TRUE(try_give(*e));
  EXPECT_EQ(e->state.load(), kToken);
  EXPECT_FALSE(try_give(*e)) << "not held";
  ASSERT_TRUE(try_take(*e, &afar));
  EXPECT_FALSE(afar);
  // The agent takes the word over while the lock is held: the unlock must
  // call the agent, and the agent sees the lock held.
  std::uint32_t before = e->state.fetch_or(kAgent);
  EXPECT_EQ(before, kToken | kHeld);
  EXPECT_FALSE(try_give(*e));
}

TEST_F(TableTest, CollidingLocksProbeAndAFullNeighbourhoodRefuses) {
  // Addresses that hash to one home index: step by multiples that wrap.
  std::vector<std::uint64_t> same_home;
  const std::size_t home = lock_home_index(0x200000000000);
  for (std::uint64_t a = 0x200000000000; same_home.size() < kLockProbes + 1; a += 8)
    if (lock_home_index(a) == home) same_home.push_back(a);
  for (std::size_t i = 0; i < kLockProbes; ++i) ASSERT_NE(insert_lock(*table, same_home[i]), nullptr) << i;
  for (std::size_t i = 0; i < kLockProbes; ++i) EXPECT_NE(find_lock(*table, same_home[i]), nullptr) << i;
  EXPECT_EQ(insert_lock(*table, same_home[kLockProbes]), nullptr);
  EXPECT_EQ(find_lock(*table, same_home[kLockProbes]), nullptr);
}

TEST_F(TableTest, FastTakersExcludeEachOther) {
  LockEntry* e = insert_lock(*table, 0x200000003000);
  e->state = kToken;
  long counter = 0;
  constexpr int kThreads = 4, kRounds = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        bool afar;
        while (!try_take(*e, &afar)) std::this_thread::yield();
        ++counter;
        ASSERT_TRUE(try_give(*e));
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, long{kThreads} * kRounds);
}

}  // namespace
