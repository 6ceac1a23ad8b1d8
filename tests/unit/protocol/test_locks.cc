// Lock tokens (locks.h): FIFO at the manager, trylocks, recalls while the
// lock is held, timed waits, and the release an unlock hands over.
#include "gpt/lock_table.h"
#include "locks.h"
#include "protocol_test.h"

namespace gpt::test {
namespace {

constexpr std::uint64_t kLockAddress = 0x5000;
constexpr channel::LockRequest kLockOn0{kLockAddress, 0, 0};  // managed by node 0

TEST(Locks, TheFirstLockerGetsTheTokenFromTheManager) {
  FakeCluster c(2);
  const std::uint32_t s = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(s), channel::kLockFromAfar);  // from another node: acquire
  c[1].free(s);
  // Unlocked and locked again here: no message, nothing to acquire.
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  c[1].free(u);
  const std::uint32_t again = c[1].post(Op::kLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);  // the request only
  EXPECT_EQ(c[1].status(again), 0);
}

TEST(Locks, WaitersGetTheTokenInTheOrderTheyAsked) {
  FakeCluster c(3);
  const std::uint32_t first = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(first), channel::kLockFromAfar);
  const std::uint32_t second = c[2].post(Op::kLock, kLockOn0);
  c.pump();
  const std::uint32_t third = c[0].post(Op::kLock, kLockOn0);
  c.pump();
  EXPECT_FALSE(c[2].answered(second));
  EXPECT_FALSE(c[0].answered(third));

  const std::uint32_t u1 = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u1), 0);
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[2].status(second), channel::kLockFromAfar);
  EXPECT_FALSE(c[0].answered(third));

  const std::uint32_t u2 = c[2].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[2].status(u2), 0);
  EXPECT_EQ(answer_lock_flushes(c, c[2]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[0].status(third), channel::kLockFromAfar);
  EXPECT_EQ(stat(c[1], "lock_handoffs"), 1u);
  EXPECT_EQ(stat(c[2], "lock_handoffs"), 1u);
}

TEST(Locks, ARecallWhileHeldWaitsForTheUnlockAndTheFlush) {
  FakeCluster c(3);
  const std::uint32_t held = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t wanted = c[2].post(Op::kLock, kLockOn0);
  c.pump();  // the manager recalls the token; node 1 still holds the lock
  EXPECT_TRUE(c[1].take_downcalls().empty());
  EXPECT_FALSE(c[2].answered(wanted));
  // A second lock on the holder's node waits behind the recall.
  const std::uint32_t local = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  EXPECT_FALSE(c[1].answered(local));

  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  // The program releases its pages before the token may leave.
  EXPECT_FALSE(c[2].answered(wanted));
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[2].status(wanted), channel::kLockFromAfar);
  EXPECT_FALSE(c[1].answered(local));  // queued again at the manager, behind node 2

  const std::uint32_t u2 = c[2].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[2].status(u2), 0);
  answer_lock_flushes(c, c[2]);
  EXPECT_EQ(c[1].status(local), channel::kLockFromAfar);
}

TEST(Locks, TryLockOfALockHeldElsewhereIsBusy) {
  FakeCluster c(3);
  const std::uint32_t held = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t t = c[2].post(Op::kTryLock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[2].status(t), -EBUSY);
  // The holder kept its token: no flush, and unlocking needs nobody.
  EXPECT_TRUE(c[1].take_downcalls().empty());
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  EXPECT_TRUE(c[1].take_downcalls().empty());
}

// What the program's trylock reads in the lock's word: busy elsewhere, and
// no acquire since the trylock that heard so.
bool busy_hint_in_word(FakeNode& node) {
  const channel::LockEntry* e = channel::find_lock(node.layout().locks, kLockAddress);
  return e && channel::busy_elsewhere(*e, node.layout().header.acquires.load());
}

// A program polling trylock on a lock held elsewhere: after the manager's
// first "busy", trylocks here are answered at once, with no message.
TEST(Locks, PollingTryLocksOfALockHeldElsewhereStayOnTheirNode) {
  FakeCluster c(3);
  const std::uint32_t held = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t first = c[2].post(Op::kTryLock, kLockOn0);
  EXPECT_GT(c.pump(), 1u);  // request, recall, kept, busy
  EXPECT_EQ(c[2].status(first), -EBUSY);
  c[2].free(first);
  // The program reads the hint in the lock's word and need not even call.
  const channel::LockEntry* e = channel::find_lock(c[2].layout().locks, kLockAddress);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(busy_hint_in_word(c[2]));
  EXPECT_EQ(e->state.load() & channel::lock_bits::kToken, 0u);
  for (int i = 0; i < 100; ++i) {
    const std::uint32_t t = c[2].post(Op::kTryLock, kLockOn0);
    EXPECT_EQ(c.pump(), 1u);  // the call only
    EXPECT_EQ(c[2].status(t), -EBUSY);
    c[2].free(t);
  }
  EXPECT_EQ(stat(c[2], "trylocks_busy_here"), 100u);
  EXPECT_EQ(stat(c[1], "lock_handoffs"), 0u);
  EXPECT_TRUE(c[1].take_downcalls().empty());
}

// Node 1 holds the lock and node 2's trylock heard "busy" from the manager:
// node 2 now has the busy hint.
void hold_on_1_and_hear_busy_on_2(FakeCluster& c) {
  const std::uint32_t held = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t busy = c[2].post(Op::kTryLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[2].status(busy), -EBUSY);
  c[2].free(busy);
}

// Bounded staleness: the hint ends at its deadline, and the next trylock
// asks again and takes the lock that became free meanwhile.
TEST(Locks, ABusyHintEndsAndTheFreedLockIsTaken) {
  FakeCluster c(3);
  ASSERT_NO_FATAL_FAILURE(hold_on_1_and_hear_busy_on_2(c));
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  // Freed, but within the hint: still busy here.
  const std::uint32_t stale = c[2].post(Op::kTryLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[2].status(stale), -EBUSY);
  c[2].free(stale);
  const auto deadline = c[2].table().next_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_LE(*deadline, node::Clock::now() + node::Locks::kBusyHint);
  c[2].table().expire(*deadline - std::chrono::nanoseconds(1));
  const std::uint32_t still = c[2].post(Op::kTryLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[2].status(still), -EBUSY);
  c[2].free(still);
  EXPECT_TRUE(busy_hint_in_word(c[2]));
  c[2].table().expire(*deadline);
  EXPECT_FALSE(c[2].table().next_deadline());
  EXPECT_FALSE(busy_hint_in_word(c[2]));
  const std::uint32_t fresh = c[2].post(Op::kTryLock, kLockOn0);
  c.pump();
  EXPECT_FALSE(c[2].answered(fresh));  // node 1 flushes first
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[2].status(fresh), channel::kLockFromAfar);
}

// The holder unlocks and tells the poller so through some other
// synchronisation: the poller's acquire ends the hint, so its next trylock
// asks again and gets the lock (an unlock that happened before must not
// leave a trylock busy).
TEST(Locks, AnAcquireOnTheHintedNodeEndsTheHint) {
  FakeCluster c(3);
  ASSERT_NO_FATAL_FAILURE(hold_on_1_and_hear_busy_on_2(c));
  ASSERT_TRUE(busy_hint_in_word(c[2]));
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  c[2].layout().header.acquires.fetch_add(1);  // the program acquired (a barrier, a semaphore...)
  EXPECT_FALSE(busy_hint_in_word(c[2]));
  const std::uint32_t t = c[2].post(Op::kTryLock, kLockOn0);
  c.pump();
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[2].status(t), channel::kLockFromAfar);
  EXPECT_EQ(stat(c[2], "trylocks_busy_here"), 0u);
}

// A blocking lock on the hinted node is never answered from the hint, and
// once its token came, trylocks there see the lock as it is.
TEST(Locks, ALockEndsTheBusyHintOfItsNode) {
  FakeCluster c(3);
  ASSERT_NO_FATAL_FAILURE(hold_on_1_and_hear_busy_on_2(c));
  const std::uint32_t wait = c[2].post(Op::kLock, kLockOn0);
  c.pump();
  EXPECT_FALSE(c[2].answered(wait));
  EXPECT_FALSE(c[2].table().next_deadline());  // the hint is gone
  EXPECT_FALSE(busy_hint_in_word(c[2]));
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  answer_lock_flushes(c, c[1]);
  EXPECT_EQ(c[2].status(wait), channel::kLockFromAfar);
  c[2].free(wait);
  const std::uint32_t u2 = c[2].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[2].status(u2), 0);
  c[2].free(u2);
  const std::uint32_t t = c[2].post(Op::kTryLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[2].status(t), 0);  // the token is here and free
}

TEST(Locks, TryLockTakesAFreeTokenFromItsHolder) {
  FakeCluster c(3);
  const std::uint32_t l = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  c[1].free(l);
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  c[1].free(u);
  const std::uint32_t t = c[2].post(Op::kTryLock, kLockOn0);
  c.pump();
  EXPECT_FALSE(c[2].answered(t));  // node 1 flushes first
  EXPECT_EQ(answer_lock_flushes(c, c[1]), std::vector<std::uint64_t>{kLockAddress});
  EXPECT_EQ(c[2].status(t), channel::kLockFromAfar);
}

TEST(Locks, TryLockOfALockHeldHereIsBusyAtOnce) {
  FakeCluster c(2);
  const std::uint32_t l = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(l), channel::kLockFromAfar);
  const std::uint32_t t = c[1].post(Op::kTryLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[1].status(t), -EBUSY);
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  c[1].free(t);
  const std::uint32_t again = c[1].post(Op::kTryLock, kLockOn0);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[1].status(u), 0);
  EXPECT_EQ(c[1].status(again), 0);
}

TEST(Locks, UnlockingALockNotHeldIsRefused) {
  FakeCluster c(2);
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), -EPERM);
}

TEST(Locks, ATimedLockEndsAtItsDeadline) {
  FakeCluster c(3);
  const std::uint32_t held = c[1].post(Op::kLock, kLockOn0);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t timed = c[2].post(Op::kTimedLock, channel::TimedLockRequest{kLockOn0, 1'000'000});
  c.pump();
  ASSERT_FALSE(c[2].answered(timed));
  const auto deadline = c[2].table().next_deadline();
  ASSERT_TRUE(deadline);
  c[2].table().expire(*deadline - std::chrono::nanoseconds(1));
  EXPECT_FALSE(c[2].answered(timed));
  c[2].table().expire(*deadline);
  EXPECT_EQ(c[2].status(timed), -ETIMEDOUT);
  EXPECT_FALSE(c[2].table().next_deadline());
  c[2].free(timed);
  // The token it asked for still comes, and serves the next locker.
  const std::uint32_t u = c[1].post(Op::kUnlock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[1].status(u), 0);
  answer_lock_flushes(c, c[1]);
  const std::uint32_t next = c[2].post(Op::kLock, kLockOn0);
  c.pump();
  EXPECT_EQ(c[2].status(next), channel::kLockFromAfar);
}

TEST(Locks, MalformedRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t short_one = c[1].post_bytes(Op::kLock, std::vector<unsigned char>(15));
  const std::uint32_t bad_manager = c[1].post(Op::kLock, channel::LockRequest{kLockAddress, 7, 0});
  const std::uint32_t untimed = c[1].post(Op::kTimedLock, kLockOn0);
  const std::uint32_t ragged = c[1].post_bytes(Op::kUnlockReleased, std::vector<unsigned char>(20));
  c.pump();
  EXPECT_EQ(c[1].status(short_one), -EINVAL);
  EXPECT_EQ(c[1].status(bad_manager), -EINVAL);
  EXPECT_EQ(c[1].status(untimed), -EINVAL);
  EXPECT_EQ(c[1].status(ragged), -EINVAL);
}

// An unlock that hands over dirty pages (kUnlockReleased): the token leaves
// once the release cannot be overtaken, and its next holder sees the
// writes. Node 1 writes a page homed at node 2, the lock's manager; node 3
// waits for the lock.
TEST(Locks, TheTokenNeverOvertakesTheReleaseItFollows) {
  FakeCluster c(4);
  const channel::LockRequest lock{kLockAddress, 2, 0};
  const std::uint64_t page = c.page_of(2, 5);
  const std::uint32_t held = c[1].post(Op::kLock, lock);
  c.pump();
  ASSERT_EQ(c[1].status(held), channel::kLockFromAfar);
  const std::uint32_t waiting = c[3].post(Op::kLock, lock);
  c.pump();
  ASSERT_FALSE(c[3].answered(waiting));

  c[1].write(page, 100, std::byte{0x5a});
  const std::uint32_t unlock = c[1].post(Op::kUnlockReleased, lock, {page});
  EXPECT_EQ(c[1].serve(), 1u);  // the diff leaves for the page's home
  EXPECT_EQ(c[2].deliver(), 1u);  // applied there
  EXPECT_EQ(c[2].read(page, 100), std::byte{0x5a});
  EXPECT_EQ(c[1].deliver(), 1u);  // acknowledged: the notices leave for node 0
  // The program goes on; the token has left too, but waits in the gate
  // until node 0 has the notices.
  EXPECT_EQ(c[1].status(unlock), 0);
  EXPECT_EQ(c[1].reply_as<channel::ReleaseReply>(unlock).epoch, 0u);  // not numbered yet
  EXPECT_EQ(c[2].deliver(), 0u);
  EXPECT_EQ(c[0].deliver(), 1u);  // logged
  EXPECT_EQ(c[2].deliver(), 0u);
  EXPECT_EQ(c[1].deliver(), 1u);  // numbered: the token goes out
  EXPECT_EQ(c[2].deliver(), 1u);
  EXPECT_EQ(c[3].deliver(), 1u);
  // The new holder needs the notices up to that release, and asks for them.
  EXPECT_EQ(c[3].status(waiting), channel::kLockFromAfar);
  EXPECT_EQ(c[3].reply(waiting).size(), 0u);
  const std::uint32_t acquire = c[3].post(Op::kAcquire, channel::AcquireRequest{1});
  c.pump();
  EXPECT_TRUE(contains(listed_pages(c[3], acquire), page));
  const std::uint32_t fetch = c[3].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  EXPECT_EQ(c[3].status(fetch), 0);
  EXPECT_EQ(c[3].read(page, 100), std::byte{0x5a});
}

}  // namespace
}  // namespace gpt::test
