// Unlocks by a thread of a node without the lock's token (kUnlockAnyHolder,
// locks.h): a normal mutex or a spinlock that any thread may unlock. The
// lock becomes free where it is held, its next taker anywhere gets it, and
// sees what the unlocker wrote before.
#include "locks.h"
#include "protocol_test.h"

namespace gpt::test {
namespace {

constexpr std::uint64_t kLockAddress = 0x5000;
constexpr std::byte kValue{0x6b};

channel::LockRequest lock_managed_by(wire::NodeId manager) { return {kLockAddress, manager, 0}; }

std::uint32_t lock_and_hold(FakeCluster& c, wire::NodeId node, const channel::LockRequest& lock) {
  const std::uint32_t s = c[node].post(Op::kLock, lock);
  c.pump();
  EXPECT_EQ(c[node].status(s), channel::kLockFromAfar);
  c[node].free(s);
  return s;
}

TEST(UnlockAnyHolder, FreesTheLockOnTheNodeThatHoldsIt) {
  FakeCluster c(3);
  const auto lock = lock_managed_by(0);
  lock_and_hold(c, 1, lock);
  const std::uint32_t u = c[2].post(Op::kUnlockAnyHolder, lock);
  c.pump();
  EXPECT_EQ(c[2].status(u), 0);
  EXPECT_EQ(stat(c[1], "locks_unlocked_for_other_nodes"), 1u);
  // Free on node 1, whose next taker acquires what node 2 released.
  const std::uint32_t t = c[1].post(Op::kTryLock, lock);
  EXPECT_EQ(c.pump(), 1u);  // the call only: the token stayed
  EXPECT_EQ(c[1].status(t), channel::kLockFromAfar);
  // The plain unlock still refuses a lock this node does not hold.
  const std::uint32_t plain = c[2].post(Op::kUnlock, lock);
  c.pump();
  EXPECT_EQ(c[2].status(plain), -EPERM);
}

TEST(UnlockAnyHolder, OfAFreeLockOrOneHeldHereIsAnOrdinaryUnlock) {
  FakeCluster c(2);
  const auto lock = lock_managed_by(0);
  const std::uint32_t never_locked = c[1].post(Op::kUnlockAnyHolder, lock);
  c.pump();
  EXPECT_EQ(c[1].status(never_locked), 0);
  c[1].free(never_locked);
  lock_and_hold(c, 1, lock);
  const std::uint32_t here = c[1].post(Op::kUnlockAnyHolder, lock);
  EXPECT_EQ(c.pump(), 1u);  // no message
  EXPECT_EQ(c[1].status(here), 0);
  c[1].free(here);
  const std::uint32_t again = c[1].post(Op::kUnlockAnyHolder, lock);
  EXPECT_EQ(c.pump(), 1u);  // free already, token here
  EXPECT_EQ(c[1].status(again), 0);
  const std::uint32_t relock = c[1].post(Op::kTryLock, lock);
  c.pump();
  EXPECT_EQ(c[1].status(relock), 0);
}

TEST(UnlockAnyHolder, AWaiterOnTheHoldersNodeGetsItAndAcquires) {
  FakeCluster c(3);
  const auto lock = lock_managed_by(2);
  lock_and_hold(c, 1, lock);
  const std::uint32_t waiting = c[1].post(Op::kLock, lock);
  c.pump();
  ASSERT_FALSE(c[1].answered(waiting));
  const std::uint32_t u = c[0].post(Op::kUnlockAnyHolder, lock);
  c.pump();
  EXPECT_EQ(c[0].status(u), 0);
  EXPECT_EQ(c[1].status(waiting), channel::kLockFromAfar);
}

// Node 3 writes a page homed at node 0, releases and unlocks the lock node
// 1 holds; node 2, the lock's manager, waits for it. The token goes to node
// 2 with an epoch that covers node 3's release: node 2 sees the write.
TEST(UnlockAnyHolder, TheNextTakerElsewhereSeesTheUnlockersWrites) {
  FakeCluster c(4);
  const auto lock = lock_managed_by(2);
  const std::uint64_t page = c.page_of(0, 5);
  lock_and_hold(c, 1, lock);
  const std::uint32_t waiting = c[2].post(Op::kLock, lock);
  c.pump();
  ASSERT_FALSE(c[2].answered(waiting));

  c[3].write(page, 40, kValue);
  const std::uint32_t r = c[3].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[3].status(r), 0);
  const std::uint32_t u = c[3].post(Op::kUnlockAnyHolder, lock);
  c.pump();
  EXPECT_EQ(c[3].status(u), 0);
  // Node 1 held it and was asked for it: its program releases, the token goes.
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  ASSERT_EQ(c[2].status(waiting), channel::kLockFromAfar);
  const std::uint32_t acquire = c[2].post(Op::kAcquire, channel::AcquireRequest{1});
  c.pump();
  EXPECT_TRUE(contains(listed_pages(c[2], acquire), page));
  const std::uint32_t fetch = c[2].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  EXPECT_EQ(c[2].status(fetch), 0);
  EXPECT_EQ(c[2].read(page, 40), kValue);
}

// The same, the waiter on the holder's node: the local grant acquires.
TEST(UnlockAnyHolder, TheNextTakerOnTheHoldersNodeSeesTheUnlockersWrites) {
  FakeCluster c(3);
  const auto lock = lock_managed_by(1);
  const std::uint64_t page = c.page_of(0, 6);
  lock_and_hold(c, 1, lock);
  const std::uint32_t waiting = c[1].post(Op::kLock, lock);
  c.pump();
  c[2].write(page, 7, kValue);
  const std::uint32_t r = c[2].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[2].status(r), 0);
  const std::uint32_t u = c[2].post(Op::kUnlockAnyHolder, lock);
  c.pump();
  EXPECT_EQ(c[2].status(u), 0);
  ASSERT_EQ(c[1].status(waiting), channel::kLockFromAfar);
  const std::uint32_t acquire = c[1].post(Op::kAcquire, channel::AcquireRequest{1});
  c.pump();
  EXPECT_TRUE(contains(listed_pages(c[1], acquire), page));
}

}  // namespace
}  // namespace gpt::test
