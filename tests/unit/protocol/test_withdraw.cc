// kWithdraw over the fake network: a cancelled thread's wait (a condition
// sleep, a semaphore wait, a join) ends with -ECANCELED and leaves nothing
// behind at the manager or the thread's home.
#include "protocol_test.h"

namespace gpt::test {
namespace {

constexpr channel::CondHead kCond{0x800, 0, 0};
constexpr channel::SemHead kSem{0x900, 0, 0, 1};

std::int32_t call(FakeCluster& c, FakeNode& node, Op op, const auto& request) {
  const std::uint32_t s = node.post(op, request);
  c.pump();
  const std::int32_t status = node.status(s);
  node.free(s);
  return status;
}

std::int32_t withdraw(FakeCluster& c, FakeNode& node, std::uint32_t slot) {
  return call(c, node, Op::kWithdraw, channel::WithdrawRequest{slot, 0});
}

std::uint32_t cond_sleeper(FakeCluster& c, FakeNode& node) {
  const std::uint32_t s = node.post(Op::kCondEnqueue, kCond);
  c.pump();
  const std::uint64_t ticket = node.reply_as<channel::CondEnqueueReply>(s).ticket;
  node.free(s);
  const std::uint32_t sleep = node.post(Op::kCondSleep, channel::CondSleepRequest{kCond, ticket, -1});
  c.pump();
  return sleep;
}

std::int64_t sem_value(FakeCluster& c, FakeNode& node) {
  const std::uint32_t s = node.post(Op::kSemGetValue, kSem);
  c.pump();
  const std::int64_t value = node.reply_as<channel::SemValueReply>(s).value;
  node.free(s);
  return value;
}

std::uint64_t tcb_of(FakeCluster& c, wire::NodeId home) {
  return c.geometry().base + c.page_of(home, 100) * region::kPageSize;
}

TEST(Withdraw, ACancelledCondWaiterLeavesTheQueue) {
  FakeCluster c(3);
  const std::uint32_t cancelled = cond_sleeper(c, c[1]);
  const std::uint32_t other = cond_sleeper(c, c[2]);
  EXPECT_EQ(withdraw(c, c[1], cancelled), 0);
  EXPECT_EQ(c[1].status(cancelled), -ECANCELED);
  c[1].free(cancelled);
  // The next signal is the other waiter's.
  EXPECT_EQ(call(c, c[0], Op::kCondSignal, kCond), 0);
  EXPECT_EQ(c[2].status(other), 0);
  EXPECT_EQ(stat(c[1], "waits_withdrawn"), 1u);
}

// A signal already on its way to the cancelled waiter goes on to the next.
TEST(Withdraw, AWakeThatCrossedTheCancelIsPassedOn) {
  FakeCluster c(3);
  const std::uint32_t cancelled = cond_sleeper(c, c[1]);
  const std::uint32_t other = cond_sleeper(c, c[2]);
  const std::uint32_t signal = c[0].post(Op::kCondSignal, kCond);
  c[0].serve();  // the manager (node 0) wakes node 1's ticket
  const std::uint32_t w = c[1].post(Op::kWithdraw, channel::WithdrawRequest{cancelled, 0});
  c[1].serve();  // before the wake arrives
  EXPECT_EQ(c[1].status(w), 0);
  EXPECT_EQ(c[1].status(cancelled), -ECANCELED);
  c.pump();
  EXPECT_EQ(c[0].status(signal), 0);
  EXPECT_EQ(c[2].status(other), 0);
}

TEST(Withdraw, ACancelledSemWaitTakesNoUnit) {
  FakeCluster c(3);
  const std::uint32_t cancelled = c[1].post(Op::kSemWait, channel::SemWaitRequest{kSem, -1, 0, 0});
  c.pump();
  EXPECT_EQ(withdraw(c, c[1], cancelled), 0);
  EXPECT_EQ(c[1].status(cancelled), -ECANCELED);
  EXPECT_EQ(call(c, c[2], Op::kSemPost, kSem), 0);
  EXPECT_EQ(sem_value(c, c[2]), 1);
}

TEST(Withdraw, AGrantThatCrossedTheCancelIsGivenBack) {
  FakeCluster c(3);
  const std::uint32_t cancelled = c[2].post(Op::kSemWait, channel::SemWaitRequest{kSem, -1, 0, 0});
  c.pump();
  const std::uint32_t post = c[1].post(Op::kSemPost, kSem);
  c[1].serve();    // the post leaves for the manager
  c[0].deliver();  // which grants it to node 2's waiter
  const std::uint32_t w = c[2].post(Op::kWithdraw, channel::WithdrawRequest{cancelled, 0});
  c[2].serve();
  EXPECT_EQ(c[2].status(w), 0);
  EXPECT_EQ(c[2].status(cancelled), -ECANCELED);
  c.pump();
  EXPECT_EQ(c[1].status(post), 0);
  EXPECT_EQ(sem_value(c, c[1]), 1);
}

// A joiner on another node than the thread's home: the end still reaches
// the home, and the thread can be joined.
TEST(Withdraw, ACancelledRemoteJoinerLeavesTheThreadJoinable) {
  FakeCluster c(3);
  const std::uint64_t tcb = tcb_of(c, 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{2, 7, tcb, 0}), 0);
  const std::uint32_t join = c[1].post(Op::kJoin, channel::JoinRequest{tcb, 0});
  c.pump();
  EXPECT_EQ(withdraw(c, c[1], join), 0);
  EXPECT_EQ(c[1].status(join), -ECANCELED);
  c[1].free(join);
  EXPECT_EQ(call(c, c[2], Op::kThreadExit, channel::ThreadRequest{tcb}), 0);
  EXPECT_EQ(call(c, c[0], Op::kJoin, channel::JoinRequest{tcb, 1}), 0);
}

TEST(Withdraw, ACancelledLocalJoinerLeavesTheThreadJoinable) {
  FakeCluster c(2);
  const std::uint64_t tcb = tcb_of(c, 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 7, tcb, 0}), 0);
  const std::uint32_t join = c[0].post(Op::kJoin, channel::JoinRequest{tcb, 0});
  c.pump();
  EXPECT_EQ(withdraw(c, c[0], join), 0);
  EXPECT_EQ(c[0].status(join), -ECANCELED);
  c[0].free(join);
  EXPECT_EQ(call(c, c[1], Op::kThreadExit, channel::ThreadRequest{tcb}), 0);
  EXPECT_EQ(call(c, c[1], Op::kJoin, channel::JoinRequest{tcb, 1}), 0);
}

// The withdrawal is served before the wait it names (a lower slot): the
// wait is taken first, so there is one to withdraw.
TEST(Withdraw, AWaitNotTakenYetIsServedThenWithdrawn) {
  FakeCluster c(2);
  const std::uint32_t filler = c[1].post(Op::kEcho, std::uint64_t{1});
  c.pump();
  const std::uint32_t wait = c[1].post(Op::kSemWait, channel::SemWaitRequest{kSem, -1, 0, 0});
  c[1].free(filler);
  const std::uint32_t w = c[1].post(Op::kWithdraw, channel::WithdrawRequest{wait, 0});
  ASSERT_LT(w, wait);
  c.pump();
  EXPECT_EQ(c[1].status(w), 0);
  EXPECT_EQ(c[1].status(wait), -ECANCELED);
  EXPECT_EQ(call(c, c[0], Op::kSemPost, kSem), 0);
  EXPECT_EQ(sem_value(c, c[0]), 1);
}

TEST(Withdraw, ASlotWaitingForNothingOrAnInvalidOneIsRefused) {
  FakeCluster c(2);
  const std::uint32_t done = c[1].post(Op::kEcho, std::uint64_t{1});
  c.pump();
  EXPECT_EQ(withdraw(c, c[1], done), -ESRCH);
  EXPECT_EQ(c[1].status(done), 0);
  EXPECT_EQ(withdraw(c, c[1], channel::kSlotCount), -EINVAL);
  EXPECT_EQ(call(c, c[1], Op::kWithdraw, std::uint32_t{0}), -EINVAL);
}

}  // namespace
}  // namespace gpt::test
