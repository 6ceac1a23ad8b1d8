// The agent core's table (service_table.h): every op and message type goes
// to the one service that registered it, and what nobody serves is refused.
#include <stdexcept>

#include "protocol_test.h"
#include "service_table.h"

namespace gpt::test {
namespace {

// Every op of channel.h: each has a service (an empty request is refused
// as malformed, or served, never ENOSYS).
constexpr Op kEveryOp[] = {
    Op::kFetchPage,   Op::kRelease,     Op::kAcquire,     Op::kBarrier,       Op::kRemoteFree,
    Op::kSpawn,       Op::kThreadExit,  Op::kJoin,        Op::kAcquireMore,   Op::kLock,
    Op::kTryLock,     Op::kUnlock,      Op::kBarrierWait, Op::kCondEnqueue,   Op::kCondSleep,
    Op::kCondSignal,  Op::kLockFlushed, Op::kSemWait,     Op::kSemPost,       Op::kSemGetValue,
    Op::kRwLock,      Op::kRwUnlock,    Op::kKey,         Op::kTimedLock,     Op::kMigrate,
    Op::kForward,     Op::kFlushNodes,  Op::kStdioFlushed, Op::kKill,         Op::kSignalAction,
    Op::kSignalQuery, Op::kDetach,      Op::kUnlockReleased, Op::kReleaseForBarrier,
    Op::kReleaseForBarrierWait, Op::kProcessSignalOffer, Op::kProcessSignalSend, Op::kBarrierFlushed,
};

TEST(Routing, EveryOpHasAService) {
  FakeCluster c(1);
  for (Op op : kEveryOp) {
    const std::uint32_t slot = c[0].post_empty(op);
    c.pump();
    ASSERT_TRUE(c[0].answered(slot)) << "op " << static_cast<int>(op);
    EXPECT_NE(c[0].status(slot), -ENOSYS) << "op " << static_cast<int>(op);
    c[0].free(slot);
  }
}

TEST(Routing, AnOpNobodyServesIsRefused) {
  FakeCluster c(1);
  const std::uint32_t slot = c[0].post_empty(static_cast<Op>(999));
  c.pump();
  EXPECT_EQ(c[0].status(slot), -ENOSYS);
}

TEST(Routing, EchoIsBuiltIn) {
  FakeCluster c(1);
  const std::uint64_t word = 0x1234;
  const std::uint32_t slot = c[0].post(Op::kEcho, word);
  c.pump();
  EXPECT_EQ(c[0].status(slot), 0);
  EXPECT_EQ(c[0].reply_as<std::uint64_t>(slot), word);
}

TEST(Routing, AMessageNobodyHandlesIsNotDelivered) {
  FakeCluster c(1);
  // Control-plane messages are the agent core's own (and the launcher's).
  EXPECT_FALSE(c[0].table().deliver(wire::Envelope{0, wire::Ping{1, 0, {}}}));
  EXPECT_FALSE(c[0].table().deliver(wire::Envelope{0, wire::Shutdown{"end"}}));
  EXPECT_TRUE(c[0].table().deliver(wire::Envelope{0, wire::CondWake{7}}));
}

class OneOp final : public node::ServiceBase<OneOp, wire::CondWake> {
 public:
  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  std::optional<node::Reply> on_request(std::uint32_t, channel::Op, std::span<const unsigned char>,
                                        std::span<unsigned char>) override {
    return node::Reply{42, 0};
  }
  void on(const wire::CondWake&, wire::NodeId) { ++woken; }
  int woken = 0;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kCondSleep};
};

TEST(Routing, AnOpOrATypeHasOneServiceOnly) {
  node::ServiceTable table;
  OneOp first, second;
  table.add(first);
  EXPECT_THROW(table.add(second), std::logic_error);
}

TEST(Routing, RequestsAndMessagesReachTheirService) {
  node::ServiceTable table;
  OneOp service;
  table.add(service);
  unsigned char payload[8] = {};
  auto r = table.serve(0, Op::kCondSleep, {}, payload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 42);
  EXPECT_EQ(table.serve(0, Op::kLock, {}, payload)->status, -ENOSYS);
  EXPECT_TRUE(table.deliver(wire::Envelope{1, wire::CondWake{3}}));
  EXPECT_FALSE(table.deliver(wire::Envelope{1, wire::CondEnqueued{3}}));
  EXPECT_EQ(service.woken, 1);
}

// Frames that do not decode never reach a service; the agent goes on.
TEST(Routing, MalformedFramesAreDroppedAtTheGate) {
  FakeCluster c(2);
  c.network().inject(1, 0, {std::byte{1}, std::byte{2}, std::byte{3}});
  auto frame = wire::encode(0, wire::CondWake{1});
  frame.push_back(std::byte{0});  // trailing bytes
  c.network().inject(1, 0, frame);
  c.network().inject(1, std::nullopt, wire::encode(0, wire::CondWake{1}));  // unknown sender
  c.network().inject(1, 2, wire::encode(0, wire::CondWake{1}));  // claims to be node 0, comes from 2
  EXPECT_EQ(c.pump(), 4u);
  const auto& counters = c[1].gate().counters();
  EXPECT_EQ(counters.malformed, 2u);
  EXPECT_EQ(counters.unknown_peer, 1u);
  EXPECT_EQ(counters.spoofed, 1u);
  EXPECT_EQ(counters.accepted, 0u);
}

}  // namespace
}  // namespace gpt::test
