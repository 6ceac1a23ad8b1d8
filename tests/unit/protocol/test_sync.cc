// The synchronisation families over the fake network: pthread barriers,
// condition variables, semaphores, rwlocks and thread-specific data keys,
// each queued or counted at its manager.
#include "protocol_test.h"

namespace gpt::test {
namespace {

// ---- pthread barriers ---------------------------------------------------------

// A wait with nothing released first: the request without its token.
std::uint32_t wait_at(FakeNode& node, const channel::BarrierWaitRequest& request) {
  return node.post_bytes(Op::kBarrierWait,
                         std::span(reinterpret_cast<const unsigned char*>(&request), channel::kBarrierWaitBytes));
}

TEST(Barriers, ThreadsLeaveTogetherAndOneOfThemIsSerial) {
  FakeCluster c(3);
  const channel::BarrierWaitRequest barrier{0x700, 1, 3, 0};
  for (int round = 0; round < 2; ++round) {
    const std::uint32_t s0 = wait_at(c[0], barrier);
    const std::uint32_t s2 = wait_at(c[2], barrier);
    c.pump();
    EXPECT_FALSE(c[0].answered(s0));
    EXPECT_FALSE(c[2].answered(s2));
    const std::uint32_t s1 = wait_at(c[1], barrier);
    c.pump();
    const std::uint32_t slots[] = {s0, s1, s2};
    int serial = 0;
    for (wire::NodeId n = 0; n < 3; ++n) {
      const std::int32_t status = c[n].status(slots[n]);
      EXPECT_TRUE(status == 0 || status == 1) << status;
      serial += status;
      EXPECT_TRUE(listed_pages(c[n], slots[n]).empty());  // the departure's acquire, answered here
      c[n].free(slots[n]);
    }
    EXPECT_EQ(serial, 1);
  }
}

// A thread with pages to release: its agent arrives for it once they are
// on their way, and its kBarrierWait (with the same token) joins that
// arrival, even after the barrier has opened.
TEST(Barriers, AWaitJoinsTheArrivalItsReleaseMade) {
  FakeCluster c(3);
  const channel::BarrierWaitRequest barrier{0x700, 1, 2, 0xabc};
  const std::uint64_t page = c.page_of(2, 1);
  c[0].write(page, 0, std::byte{1});
  const std::uint32_t r = c[0].post(Op::kReleaseForBarrierWait, barrier, {page});
  c.pump();
  EXPECT_EQ(c[0].status(r), 0);
  const std::uint32_t other = wait_at(c[2], barrier);
  c.pump();
  ASSERT_TRUE(c[2].answered(other));
  const std::uint32_t joined = c[0].post(Op::kBarrierWait, barrier);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[0].status(joined) + c[2].status(other), 1);  // one serial thread
}

// ---- lent barriers (gpt/barrier_table.h) ------------------------------------------

// Rounds whose threads all come from node 0 (the manager is node 1).
void rounds_from_node_zero(FakeCluster& c, const channel::BarrierWaitRequest& barrier, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::uint32_t> slots;
    for (std::uint32_t i = 0; i < barrier.count; ++i) slots.push_back(wait_at(c[0], barrier));
    c.pump();
    int serial = 0;
    for (std::uint32_t s : slots) {
      ASSERT_TRUE(c[0].answered(s));
      serial += c[0].status(s);
      c[0].free(s);
    }
    EXPECT_EQ(serial, 1);
  }
}

channel::BarrierEntry* entry_at(FakeNode& node, std::uint64_t barrier) {
  return channel::find_barrier(node.layout().barriers, barrier);
}

// The program's side of a leased arrival, as pthread_barrier_wait does it.
// The program's answer to a recall (service.cc): its release is done.
std::uint32_t post_flushed(FakeNode& node, const channel::BarrierWaitRequest& barrier) {
  return node.post_bytes(Op::kBarrierFlushed,
                         std::span(reinterpret_cast<const unsigned char*>(&barrier), channel::kBarrierWaitBytes));
}

// The agent asked its program, once, to flush for `barrier`'s recall.
void expect_flush_asked(FakeNode& node, const channel::BarrierWaitRequest& barrier) {
  const auto downcalls = node.take_downcalls();
  ASSERT_EQ(downcalls.size(), 1u);
  EXPECT_EQ(downcalls[0].op, static_cast<std::uint32_t>(channel::Downcall::kFlushBarrier));
  EXPECT_EQ(downcalls[0].arg, barrier.barrier);
}

channel::LeasedArrival arrive_here(FakeNode& node, const channel::BarrierWaitRequest& barrier) {
  channel::BarrierEntry* e = entry_at(node, barrier.barrier);
  std::uint32_t state = 0;
  return e ? channel::arrive_leased(*e, barrier.count, &state) : channel::LeasedArrival::kNotLeased;
}

TEST(LentBarriers, TwoRoundsFromOneNodeLendItThereAndItsThreadsMeetAlone) {
  FakeCluster c(3);
  const channel::BarrierWaitRequest barrier{0x700, 1, 3, 0};
  rounds_from_node_zero(c, barrier, 1);
  EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kNotLeased);  // one round is not enough
  rounds_from_node_zero(c, barrier, 1);
  EXPECT_EQ(stat(c[0], "barrier_leases_taken"), 1u);
  // Three rounds with no message and no call: the last arriver ends each.
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
    EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
    EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kLast);
  }
  EXPECT_EQ(c.pump(), 0u);
  // A wait with another count is not the lease's: it goes to the manager.
  EXPECT_EQ(arrive_here(c[0], channel::BarrierWaitRequest{0x700, 1, 2, 0}), channel::LeasedArrival::kNotLeased);
}

// A thread of node 2 arrives while two of node 0's wait at the lent
// barrier: the manager recalls it, node 0 releases (the flush) and its two
// arrive as one; the departure wakes them, and exactly one thread of the
// three is serial.
TEST(LentBarriers, AnArrivalFromElsewhereRecallsTheLeaseAndItsWaitersLeaveWithIt) {
  FakeCluster c(3);
  const channel::BarrierWaitRequest barrier{0x700, 1, 3, 0};
  rounds_from_node_zero(c, barrier, 2);
  ASSERT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
  ASSERT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
  channel::BarrierEntry* e = entry_at(c[0], barrier.barrier);
  const std::uint32_t generation = channel::barrier_bits::generation(e->state.load());
  const std::uint32_t other = wait_at(c[2], barrier);
  c.pump();
  EXPECT_FALSE(c[2].answered(other));  // node 0 releases first
  expect_flush_asked(c[0], barrier);
  EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kNotLeased);  // the lease is over
  const std::uint32_t flushed = post_flushed(c[0], barrier);
  c.pump();
  EXPECT_EQ(c[0].status(flushed), 0);
  ASSERT_TRUE(c[2].answered(other));
  const std::uint32_t s = e->state.load();
  EXPECT_EQ(channel::barrier_bits::generation(s), generation + 1);  // the waiters' generation ended
  EXPECT_EQ(channel::barrier_bits::arrived(s), 0u);
  EXPECT_EQ(e->remote_generation.load(), generation + 1);  // so they acquire
  EXPECT_EQ(c[2].status(other) + static_cast<std::int32_t>(e->remote_serial.load()), 1);
  EXPECT_EQ(stat(c[0], "barrier_leases_recalled"), 1u);
  // Mixed rounds go through the manager as before.
  const std::uint32_t a = wait_at(c[0], barrier), b = wait_at(c[0], barrier), d = wait_at(c[2], barrier);
  c.pump();
  EXPECT_EQ(c[0].status(a) + c[0].status(b) + c[2].status(d), 1);
}

// Recalled with nobody waiting there: node 0 answers at once (no flush).
TEST(LentBarriers, ARecallWithNobodyWaitingCostsNoFlush) {
  FakeCluster c(3);
  const channel::BarrierWaitRequest barrier{0x700, 1, 2, 0};
  rounds_from_node_zero(c, barrier, 2);
  const std::uint32_t first = wait_at(c[2], barrier);
  c.pump();
  EXPECT_TRUE(c[0].take_downcalls().empty());
  EXPECT_FALSE(c[2].answered(first));
  const std::uint32_t second = wait_at(c[0], barrier);  // the manager counts again
  c.pump();
  EXPECT_EQ(c[2].status(first) + c[0].status(second), 1);
}

// The manager's own node may hold the lease too.
TEST(LentBarriers, TheManagersOwnThreadsAreLentItToo) {
  FakeCluster c(2);
  const channel::BarrierWaitRequest barrier{0x700, 0, 2, 0};
  rounds_from_node_zero(c, barrier, 2);
  EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
  EXPECT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kLast);
  ASSERT_EQ(arrive_here(c[0], barrier), channel::LeasedArrival::kWait);
  const std::uint32_t other = wait_at(c[1], barrier);
  c.pump();
  expect_flush_asked(c[0], barrier);
  const std::uint32_t flushed = post_flushed(c[0], barrier);
  c.pump();
  EXPECT_EQ(c[0].status(flushed), 0);
  ASSERT_TRUE(c[1].answered(other));
  EXPECT_EQ(c[1].status(other) + static_cast<std::int32_t>(entry_at(c[0], 0x700)->remote_serial.load()), 1);
}

// A flush the agent did not ask for is refused.
TEST(LentBarriers, AFlushForNoRecalledLeaseIsRefused) {
  FakeCluster c(2);
  const channel::BarrierWaitRequest barrier{0x700, 1, 2, 0};
  const std::uint32_t flushed = post_flushed(c[0], barrier);
  c.pump();
  EXPECT_EQ(c[0].status(flushed), -EINVAL);
}

TEST(Barriers, BadWaitsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t unknown_token = c[0].post(Op::kBarrierWait, channel::BarrierWaitRequest{0x700, 1, 2, 0x1});
  const std::uint32_t no_count = wait_at(c[0], channel::BarrierWaitRequest{0x700, 1, 0, 0});
  const std::uint32_t bad_manager = wait_at(c[0], channel::BarrierWaitRequest{0x700, 2, 2, 0});
  const std::uint32_t ragged = c[0].post_bytes(Op::kBarrierWait, std::vector<unsigned char>(20));
  c.pump();
  EXPECT_EQ(c[0].status(unknown_token), -EINVAL);
  EXPECT_EQ(c[0].status(no_count), -EINVAL);
  EXPECT_EQ(c[0].status(bad_manager), -EINVAL);
  EXPECT_EQ(c[0].status(ragged), -EINVAL);
}

// ---- condition variables --------------------------------------------------------

constexpr channel::CondHead kCond{0x800, 0, 0};
constexpr channel::CondHead kSignalOne{0x800, 0, 0};
constexpr channel::CondHead kSignalAll{0x800, 0, 1};

// Enqueues a waiter and returns its ticket (then the program unlocks its
// mutex and sleeps on it).
std::uint64_t enqueue(FakeCluster& c, FakeNode& node) {
  const std::uint32_t s = node.post(Op::kCondEnqueue, kCond);
  c.pump();
  EXPECT_EQ(node.status(s), 0);
  const std::uint64_t ticket = node.reply_as<channel::CondEnqueueReply>(s).ticket;
  node.free(s);
  return ticket;
}

std::uint32_t sleep_on(FakeNode& node, std::uint64_t ticket, std::int64_t timeout_ns = -1) {
  return node.post(Op::kCondSleep, channel::CondSleepRequest{kCond, ticket, timeout_ns});
}

std::int32_t signal(FakeCluster& c, FakeNode& node, const channel::CondHead& how) {
  const std::uint32_t s = node.post(Op::kCondSignal, how);
  c.pump();
  const std::int32_t status = node.status(s);
  node.free(s);
  return status;
}

TEST(Conds, ASignalWakesTheOldestWaiter) {
  FakeCluster c(3);
  const std::uint32_t w1 = sleep_on(c[1], enqueue(c, c[1]));
  const std::uint32_t w2 = sleep_on(c[2], enqueue(c, c[2]));
  c.pump();
  EXPECT_FALSE(c[1].answered(w1));
  EXPECT_EQ(signal(c, c[0], kSignalOne), 0);
  EXPECT_EQ(c[1].status(w1), 0);
  EXPECT_FALSE(c[2].answered(w2));
  EXPECT_EQ(signal(c, c[1], kSignalOne), 0);
  EXPECT_EQ(c[2].status(w2), 0);
}

TEST(Conds, ABroadcastWakesEveryWaiter) {
  FakeCluster c(3);
  const std::uint32_t w1 = sleep_on(c[1], enqueue(c, c[1]));
  const std::uint32_t w2 = sleep_on(c[2], enqueue(c, c[2]));
  const std::uint32_t w0 = sleep_on(c[0], enqueue(c, c[0]));
  c.pump();
  EXPECT_EQ(signal(c, c[2], kSignalAll), 0);
  EXPECT_EQ(c[0].status(w0), 0);
  EXPECT_EQ(c[1].status(w1), 0);
  EXPECT_EQ(c[2].status(w2), 0);
}

// The waiter is queued before it unlocks its mutex: a signal between the
// unlock and the sleep wakes it.
TEST(Conds, AWakeBeforeTheSleepIsNotLost) {
  FakeCluster c(2);
  const std::uint64_t ticket = enqueue(c, c[1]);
  EXPECT_EQ(signal(c, c[0], kSignalOne), 0);
  const std::uint32_t w = sleep_on(c[1], ticket);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[1].status(w), 0);
}

TEST(Conds, ATimedWaitEndsAtItsDeadlineAndLeavesTheQueue) {
  FakeCluster c(3);
  const std::uint32_t timed = sleep_on(c[1], enqueue(c, c[1]), 1'000'000);
  c.pump();
  const auto deadline = c[1].table().next_deadline();
  ASSERT_TRUE(deadline);
  c[1].table().expire(*deadline);
  EXPECT_EQ(c[1].status(timed), -ETIMEDOUT);
  c.pump();  // the manager forgets its ticket
  // The next signal is for the next waiter, not the one that left.
  const std::uint32_t w2 = sleep_on(c[2], enqueue(c, c[2]));
  EXPECT_EQ(signal(c, c[0], kSignalOne), 0);
  EXPECT_EQ(c[2].status(w2), 0);
}

TEST(Conds, BadRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t bad_manager = c[1].post(Op::kCondEnqueue, channel::CondHead{0x800, 5, 0});
  const std::uint32_t short_sleep = c[1].post(Op::kCondSleep, kCond);
  c.pump();
  EXPECT_EQ(c[1].status(bad_manager), -EINVAL);
  EXPECT_EQ(c[1].status(short_sleep), -EINVAL);
}

// ---- semaphores -----------------------------------------------------------------------

channel::SemHead semaphore(std::uint32_t initial) { return channel::SemHead{0x900, 0, initial, 1}; }

std::uint32_t sem_wait(FakeNode& node, std::uint32_t initial, std::int64_t timeout_ns = -1, bool try_only = false) {
  return node.post(Op::kSemWait, channel::SemWaitRequest{semaphore(initial), timeout_ns, try_only ? 1u : 0u, 0});
}

std::int64_t sem_value(FakeCluster& c, FakeNode& node, std::uint32_t initial) {
  const std::uint32_t s = node.post(Op::kSemGetValue, semaphore(initial));
  c.pump();
  EXPECT_EQ(node.status(s), 0);
  const std::int64_t value = node.reply_as<channel::SemValueReply>(s).value;
  node.free(s);
  return value;
}

TEST(Semaphores, WaitsAreGrantedInOrderAsPostsCome) {
  FakeCluster c(4);
  const std::uint32_t w1 = sem_wait(c[1], 1);
  c.pump();
  EXPECT_EQ(c[1].status(w1), 0);
  const std::uint32_t w2 = sem_wait(c[2], 1);
  c.pump();
  const std::uint32_t w3 = sem_wait(c[3], 1);
  c.pump();
  EXPECT_FALSE(c[2].answered(w2));
  EXPECT_FALSE(c[3].answered(w3));
  const std::uint32_t p1 = c[1].post(Op::kSemPost, semaphore(1));
  c.pump();
  EXPECT_EQ(c[1].status(p1), 0);
  EXPECT_EQ(c[2].status(w2), 0);
  EXPECT_FALSE(c[3].answered(w3));
  c[1].free(p1);
  const std::uint32_t p2 = c[1].post(Op::kSemPost, semaphore(1));
  c.pump();
  EXPECT_EQ(c[1].status(p2), 0);
  EXPECT_EQ(c[3].status(w3), 0);
  EXPECT_EQ(sem_value(c, c[2], 1), 0);
}

TEST(Semaphores, ATryOnZeroWouldBlock) {
  FakeCluster c(2);
  const std::uint32_t taken = sem_wait(c[1], 1);
  c.pump();
  EXPECT_EQ(c[1].status(taken), 0);
  const std::uint32_t t = sem_wait(c[1], 1, -1, true);
  c.pump();
  EXPECT_EQ(c[1].status(t), -EAGAIN);
  // A passed deadline asks as a try, and "would block" is a timeout.
  const std::uint32_t passed = sem_wait(c[1], 1, 0);
  c.pump();
  EXPECT_EQ(c[1].status(passed), -ETIMEDOUT);
}

TEST(Semaphores, TheCountLivesAtTheManager) {
  FakeCluster c(2);
  EXPECT_EQ(sem_value(c, c[1], 3), 3);
  const std::uint32_t w = sem_wait(c[1], 3);
  c.pump();
  EXPECT_EQ(c[1].status(w), 0);
  EXPECT_EQ(sem_value(c, c[0], 3), 2);
}

TEST(Semaphores, ATimedWaitEndsAtItsDeadline) {
  FakeCluster c(2);
  const std::uint32_t timed = sem_wait(c[1], 0, 1'000'000);
  c.pump();
  ASSERT_FALSE(c[1].answered(timed));
  const auto deadline = c[1].table().next_deadline();
  ASSERT_TRUE(deadline);
  c[1].table().expire(*deadline);
  EXPECT_EQ(c[1].status(timed), -ETIMEDOUT);
  c.pump();
  // A post after it counts: nobody waits any more.
  const std::uint32_t p = c[0].post(Op::kSemPost, semaphore(0));
  c.pump();
  EXPECT_EQ(c[0].status(p), 0);
  EXPECT_EQ(sem_value(c, c[1], 0), 1);
}

// The grant crossed the expiry on the wire: the unit goes back, none is lost.
TEST(Semaphores, AGrantThatCrossedTheExpiryIsGivenBack) {
  FakeCluster c(3);
  const std::uint32_t timed = sem_wait(c[2], 0, 1'000'000);
  c.pump();
  const std::uint32_t p = c[1].post(Op::kSemPost, semaphore(0));
  c[1].serve();    // the post leaves for the manager
  c[0].deliver();  // which grants it to node 2's waiter
  c[2].table().expire(*c[2].table().next_deadline());
  EXPECT_EQ(c[2].status(timed), -ETIMEDOUT);
  c.pump();
  EXPECT_EQ(c[1].status(p), 0);
  EXPECT_EQ(sem_value(c, c[1], 0), 1);
}

TEST(Semaphores, BadRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t bad_manager = c[1].post(Op::kSemPost, channel::SemHead{0x900, 3, 0, 1});
  const std::uint32_t short_wait = c[1].post(Op::kSemWait, semaphore(1));
  c.pump();
  EXPECT_EQ(c[1].status(bad_manager), -EINVAL);
  EXPECT_EQ(c[1].status(short_wait), -EINVAL);
}

// ---- rwlocks ---------------------------------------------------------------------------

constexpr channel::RwLockHead kRead{0xa00, 0, 0};
constexpr channel::RwLockHead kWrite{0xa00, 0, 1};

std::uint32_t rw_lock(FakeNode& node, const channel::RwLockHead& how, std::int64_t timeout_ns = -1,
                      bool try_only = false) {
  return node.post(Op::kRwLock, channel::RwLockRequest{how, timeout_ns, try_only ? 1u : 0u, 0});
}

void rw_unlock(FakeCluster& c, FakeNode& node, const channel::RwLockHead& how) {
  const std::uint32_t s = node.post(Op::kRwUnlock, how);
  c.pump();
  EXPECT_EQ(node.status(s), 0);
  node.free(s);
}

TEST(RwLocks, ReadersShareAndAWriterWaitsForThemAll) {
  FakeCluster c(4);
  const std::uint32_t r1 = rw_lock(c[1], kRead);
  const std::uint32_t r2 = rw_lock(c[2], kRead);
  c.pump();
  EXPECT_EQ(c[1].status(r1), 0);
  EXPECT_EQ(c[2].status(r2), 0);
  const std::uint32_t w = rw_lock(c[3], kWrite);
  c.pump();
  EXPECT_FALSE(c[3].answered(w));
  rw_unlock(c, c[1], kRead);
  EXPECT_FALSE(c[3].answered(w));
  rw_unlock(c, c[2], kRead);
  EXPECT_EQ(c[3].status(w), 0);
}

TEST(RwLocks, AWaitingWriterHoldsBackNewReaders) {
  FakeCluster c(4);
  const std::uint32_t r1 = rw_lock(c[1], kRead);
  c.pump();
  ASSERT_EQ(c[1].status(r1), 0);
  const std::uint32_t w = rw_lock(c[2], kWrite);
  c.pump();
  const std::uint32_t r3 = rw_lock(c[3], kRead);
  c.pump();
  EXPECT_FALSE(c[2].answered(w));
  EXPECT_FALSE(c[3].answered(r3));
  rw_unlock(c, c[1], kRead);
  EXPECT_EQ(c[2].status(w), 0);
  EXPECT_FALSE(c[3].answered(r3));
  rw_unlock(c, c[2], kWrite);
  EXPECT_EQ(c[3].status(r3), 0);
}

TEST(RwLocks, ATryIsBusyWhileAWriterHolds) {
  FakeCluster c(2);
  const std::uint32_t w = rw_lock(c[1], kWrite);
  c.pump();
  ASSERT_EQ(c[1].status(w), 0);
  const std::uint32_t t = rw_lock(c[0], kRead, -1, true);
  const std::uint32_t passed = rw_lock(c[0], kRead, 0);
  c.pump();
  EXPECT_EQ(c[0].status(t), -EBUSY);
  EXPECT_EQ(c[0].status(passed), -ETIMEDOUT);
}

TEST(RwLocks, ATimedLockEndsAtItsDeadlineAndLeavesTheQueue) {
  FakeCluster c(3);
  const std::uint32_t w = rw_lock(c[1], kWrite);
  c.pump();
  ASSERT_EQ(c[1].status(w), 0);
  const std::uint32_t timed = rw_lock(c[2], kWrite, 1'000'000);
  c.pump();
  c[2].table().expire(*c[2].table().next_deadline());
  EXPECT_EQ(c[2].status(timed), -ETIMEDOUT);
  c.pump();
  rw_unlock(c, c[1], kWrite);
  // Nobody holds it now: a try gets it.
  const std::uint32_t t = rw_lock(c[0], kWrite, -1, true);
  c.pump();
  EXPECT_EQ(c[0].status(t), 0);
}

TEST(RwLocks, BadRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t bad_manager = c[1].post(Op::kRwUnlock, channel::RwLockHead{0xa00, 9, 0});
  const std::uint32_t short_lock = c[1].post(Op::kRwLock, kRead);
  c.pump();
  EXPECT_EQ(c[1].status(bad_manager), -EINVAL);
  EXPECT_EQ(c[1].status(short_lock), -EINVAL);
}

// ---- keys ------------------------------------------------------------------------------

channel::KeyReply key_call(FakeCluster& c, FakeNode& node, channel::KeyOp op, std::uint32_t key,
                           std::uint64_t destructor, std::int32_t* status) {
  const std::uint32_t s =
      node.post(Op::kKey, channel::KeyRequest{static_cast<std::uint32_t>(op), key, destructor});
  c.pump();
  *status = node.status(s);
  const auto reply = node.reply_as<channel::KeyReply>(s);
  node.free(s);
  return reply;
}

TEST(Keys, OneRegistryServesTheWholeJob) {
  FakeCluster c(3);
  std::int32_t status = -1;
  const auto made = key_call(c, c[1], channel::KeyOp::kCreate, 0, 0xdead, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(made.destructor, 0xdeadu);
  const auto seen = key_call(c, c[2], channel::KeyOp::kQuery, made.key, 0, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(seen.destructor, 0xdeadu);
  key_call(c, c[2], channel::KeyOp::kDelete, made.key, 0, &status);
  EXPECT_EQ(status, 0);
  key_call(c, c[1], channel::KeyOp::kQuery, made.key, 0, &status);
  EXPECT_EQ(status, -EINVAL);
  const auto again = key_call(c, c[0], channel::KeyOp::kCreate, 0, 0xbeef, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(again.key, made.key);  // free again
}

TEST(Keys, TheRegistryIsBounded) {
  FakeCluster c(2);
  constexpr std::uint32_t kBatch = 32;  // creates in flight at once
  for (std::uint32_t first = 0; first < channel::kMaxKeys; first += kBatch) {
    std::vector<std::uint32_t> slots;
    for (std::uint32_t k = first; k < first + kBatch; ++k)
      slots.push_back(c[1].post(Op::kKey, channel::KeyRequest{static_cast<std::uint32_t>(channel::KeyOp::kCreate), 0, k}));
    c.pump();
    for (std::uint32_t s : slots) {
      ASSERT_EQ(c[1].status(s), 0);
      c[1].free(s);
    }
  }
  std::int32_t status = -1;
  key_call(c, c[0], channel::KeyOp::kCreate, 0, 0, &status);
  EXPECT_EQ(status, -EAGAIN);
}

TEST(Keys, BadOperationsAreRefused) {
  FakeCluster c(2);
  std::int32_t status = 0;
  key_call(c, c[1], static_cast<channel::KeyOp>(9), 0, 0, &status);
  EXPECT_EQ(status, -EINVAL);
  key_call(c, c[1], channel::KeyOp::kDelete, channel::kMaxKeys, 0, &status);
  EXPECT_EQ(status, -EINVAL);
  const std::uint32_t ragged = c[1].post_bytes(Op::kKey, std::vector<unsigned char>(8));
  c.pump();
  EXPECT_EQ(c[1].status(ragged), -EINVAL);
}

}  // namespace
}  // namespace gpt::test

// ---- named semaphores ---------------------------------------------------------

namespace gpt::test {
namespace {

channel::SemNameReply sem_name_call(FakeCluster& c, FakeNode& node, channel::SemNameOp op, const char* name,
                                    std::uint32_t oflag, std::uint64_t address, std::int32_t* status) {
  channel::SemNameRequest req{static_cast<std::uint32_t>(op), oflag, address, {}};
  std::snprintf(req.name, sizeof req.name, "%s", name);
  const std::uint32_t s = node.post(Op::kSemName, req);
  c.pump();
  *status = node.status(s);
  const auto reply = node.reply_as<channel::SemNameReply>(s);
  node.free(s);
  return reply;
}

TEST(SemNames, ANameIsTheSameSemaphoreOnEveryNode) {
  FakeCluster c(3);
  using channel::SemNameOp;
  std::int32_t status = -1;
  auto made = sem_name_call(c, c[1], SemNameOp::kOpen, "queue", channel::kSemCreate, 0x1000, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(made.address, 0x1000u);
  EXPECT_EQ(made.created, 1u);
  // Another node's candidate is not taken: the name has its semaphore.
  auto seen = sem_name_call(c, c[2], SemNameOp::kOpen, "queue", channel::kSemCreate, 0x2000, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(seen.address, 0x1000u);
  EXPECT_EQ(seen.created, 0u);
  sem_name_call(c, c[0], SemNameOp::kOpen, "queue", channel::kSemCreate | channel::kSemExclusive, 0x3000, &status);
  EXPECT_EQ(status, -EEXIST);
  sem_name_call(c, c[2], SemNameOp::kOpen, "other", 0, 0, &status);
  EXPECT_EQ(status, -ENOENT);
  // Unlinked while open twice: the last close frees it.
  auto gone = sem_name_call(c, c[0], SemNameOp::kUnlink, "queue", 0, 0, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(gone.free_it, 0u);
  sem_name_call(c, c[2], SemNameOp::kOpen, "queue", 0, 0, &status);
  EXPECT_EQ(status, -ENOENT);
  auto closed = sem_name_call(c, c[1], SemNameOp::kClose, "", 0, 0x1000, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(closed.free_it, 0u);
  closed = sem_name_call(c, c[2], SemNameOp::kClose, "", 0, 0x1000, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(closed.free_it, 1u);
  sem_name_call(c, c[2], SemNameOp::kClose, "", 0, 0x1000, &status);
  EXPECT_EQ(status, -EINVAL);
}

TEST(SemNames, BadRequestsAreRefused) {
  FakeCluster c(2);
  std::int32_t status = 0;
  sem_name_call(c, c[1], static_cast<channel::SemNameOp>(9), "x", 0, 0, &status);
  EXPECT_EQ(status, -EINVAL);
  sem_name_call(c, c[1], channel::SemNameOp::kOpen, "", channel::kSemCreate, 0x1000, &status);
  EXPECT_EQ(status, -EINVAL);
  channel::SemNameRequest unterminated{static_cast<std::uint32_t>(channel::SemNameOp::kOpen), 0, 0, {}};
  std::memset(unterminated.name, 'x', sizeof unterminated.name);
  const std::uint32_t s = c[1].post(Op::kSemName, unterminated);
  c.pump();
  EXPECT_EQ(c[1].status(s), -EINVAL);
  c[1].free(s);
  const std::uint32_t empty = c[1].post_bytes(Op::kSemName, {});
  c.pump();
  EXPECT_EQ(c[1].status(empty), -EINVAL);
}

}  // namespace
}  // namespace gpt::test
