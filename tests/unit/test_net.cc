// The message layer: codec round trips, every way a frame can be bad, and
// the gate that drops bad frames (against the fake transport and ZeroMQ).
#include <gtest/gtest.h>

#include <random>
#include <span>
#include <string>
#include <zmq.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "curve_keys.h"
#include "frame_seal.h"
#include "fake_transport.h"
#include "log_throttle.h"
#include "message_gate.h"
#include "wire.h"
#include "zmq_transport.h"

namespace {

using namespace gpt;
using namespace std::chrono_literals;

std::vector<wire::Message> one_of_each() {
  std::vector<std::byte> page(wire::kPageBytes, std::byte{0x5a});
  return {
      wire::Hello{3, "tcp://127.0.0.1:5555", 1234},
      wire::PeerTable{{"tcp://a:1", "tcp://b:2", ""}},
      wire::AppStarted{2, 999},
      wire::MainExited{0x0900},
      wire::NodeFailed{1, 77, "killed by signal 9 (SIGKILL)"},
      wire::Shutdown{"main returned"},
      wire::Ping{7, 3, {std::byte{1}, std::byte{2}, std::byte{3}}},
      wire::Pong{7, {std::byte{9}}},
      wire::PageRequest{11, 4096, 8},
      wire::PageData{11, 4096, page},
      wire::DiffBatch{12, {1, 2}, {{std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0}, std::byte{7}}, {}}, {1, 2}},
      wire::DiffAck{12, 1, 5},
      wire::NoticeQuery{14},
      wire::NoticeList{14, {99, {5, 6}, {5}, page}},
      wire::BarrierArrive{3},
      wire::BarrierRelease{3, {18, {4, 5}, {}, {}}},
      wire::RemoteFrees{{0x200000001000, 0x200000002000}},
      wire::SpawnThread{0x200000003000, 9, {9, {1}, {}, {}}},
      wire::ThreadExited{0x200000003000, 4},
      wire::JoinWait{21, 0x200000003000},
      wire::JoinDone{21, -16, 4, {4, {7}, {}, {}}},
      wire::MigrateThread{0x200000001000, wire::kEpochUnknown, {}},
      wire::SyscallRequest{7, {std::byte{1}, std::byte{2}, std::byte{3}}},
      wire::SyscallReply{7, {}},
      wire::FlushStdio{8},
      wire::StdioFlushed{8},
      wire::KillThread{0x200000001000, 10, 2},
      wire::DetachThread{0x200000002000},
      wire::SignalAction{10, 0x401000, 0x4000000, 1},
      wire::ProcessSignalProbe{12, 10},
      wire::ProcessSignalTaker{12, 10, 1},
      wire::ProcessSignal{10, -1, 4242, 1000, 0x1234567890},
      wire::LockRequest{0x200000004000},
      wire::LockGrant{0x200000004000, 7, {7, {1}, {}, {}}},
      wire::LockRecall{0x200000004000},
      wire::LockReturn{0x200000004000, 7},
      wire::LockRequest{0x200000004000, true},
      wire::LockRecall{0x200000004000, true},
      wire::LockKept{0x200000004000},
      wire::LockBusy{0x200000004000},
      wire::LockUnlock{0x200000004000, 9, 2, 17},
      wire::LockUnlock{0x200000004000, 9, 2, 17, true},
      wire::LockUnlocked{0x200000004000, 17},
      wire::BarrierWaitRequest{5, 0x200000005000, 3, 11},
      wire::BarrierWaitDone{5, 1, 11, {11, {2, 3}, {}, {}}},
      wire::BarrierWaitRequest{6, 0x200000005000, 3, 12, 2, 1},
      wire::BarrierWaitDone{6, 0, 12, {}, 3, 0x200000005000},
      wire::BarrierRecall{0x200000005000},
      wire::CondEnqueue{6, 0x200000006000},
      wire::CondEnqueued{6},
      wire::CondSignal{0x200000006000, 1},
      wire::CondWake{6},
      wire::CondCancel{0x200000006000, 6},
      wire::SemWait{7, 0x200000007000, 3, 2, 1},
      wire::SemGranted{7, 11, 19, {19, {3}, {}, {}}},
      wire::SemPost{0x200000007000, 3, 2, 17},
      wire::SemCancel{7, 0x200000007000, 3},
      wire::SemValueQuery{8, 0x200000007000, 3, 2},
      wire::SemValue{8, -1},
      wire::RwRequest{9, 0x200000008000, 1, 0},
      wire::RwGranted{9, 16, 23, {23, {4}, {4}, page}},
      wire::RwRelease{0x200000008000, 1, 21},
      wire::RwCancel{9, 0x200000008000},
      wire::KeyOp{10, 1, 0, 0x401000},
      wire::KeyReply{10, 0, 3, 0x401000},
      wire::FramePart{1, {std::byte{4}, std::byte{5}}},
  };
}

TEST(Wire, EveryMessageRoundTrips) {
  for (const auto& m : one_of_each()) {
    auto bytes = wire::encode(5, m);
    auto decoded = wire::decode(bytes);
    ASSERT_TRUE(std::holds_alternative<wire::Envelope>(decoded))
        << wire::name_of(wire::type_of(m)) << ": "
        << wire::describe(std::get<wire::DecodeError>(decoded));
    const auto& env = std::get<wire::Envelope>(decoded);
    EXPECT_EQ(env.from, 5u);
    EXPECT_EQ(env.body.index(), m.index());
    // Re-encoding the decoded message gives the same bytes: nothing lost.
    EXPECT_EQ(wire::encode(5, env.body), bytes) << wire::name_of(wire::type_of(m));
  }
}

TEST(Wire, EveryTruncationIsRejected) {
  for (const auto& m : one_of_each()) {
    auto bytes = wire::encode(1, m);
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      auto decoded = wire::decode(std::span(bytes.data(), len));
      EXPECT_TRUE(std::holds_alternative<wire::DecodeError>(decoded))
          << wire::name_of(wire::type_of(m)) << " truncated to " << len;
    }
  }
}

TEST(Wire, HeaderErrorsAreNamed) {
  auto good = wire::encode(1, wire::Shutdown{"x"});
  auto bad_magic = good;
  bad_magic[0] = std::byte{0};
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(bad_magic)), wire::DecodeError::kBadMagic);
  auto bad_version = good;
  bad_version[4] = std::byte{7};
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(bad_version)), wire::DecodeError::kBadVersion);
  auto bad_type = good;
  bad_type[6] = std::byte{0xee};
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(bad_type)), wire::DecodeError::kUnknownType);
  auto trailing = good;
  trailing.push_back(std::byte{0});
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(trailing)), wire::DecodeError::kTrailingBytes);
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(std::span(good.data(), 5))),
            wire::DecodeError::kTooShort);
}

// Page copies riding on write notices must be whole pages, one per named page.
TEST(Wire, NoticeCopiesMustMatchTheirPages) {
  std::vector<std::byte> page(wire::kPageBytes, std::byte{1});
  wire::NoticeList good{5, {9, {3}, {3}, page}};
  EXPECT_TRUE(std::holds_alternative<wire::Envelope>(wire::decode(wire::encode(0, good))));
  wire::NoticeList short_copy{5, {9, {3}, {3}, std::vector<std::byte>(page.begin(), page.end() - 1)}};
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(wire::encode(0, short_copy))),
            wire::DecodeError::kMalformed);
  wire::NoticeList too_many{5, {9, {}, std::vector<std::uint64_t>(wire::kMaxUpdatePages + 1, 3), {}}};
  too_many.notices.update_bytes.resize(too_many.notices.update_pages.size() * wire::kPageBytes);
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(wire::encode(0, too_many))),
            wire::DecodeError::kMalformed);
}

// A length field claiming 2^62 bytes must be refused before any allocation.
TEST(Wire, HugeDeclaredLengthsAreRefusedWithoutAllocating) {
  for (auto m : std::vector<wire::Message>{wire::Shutdown{""}, wire::PeerTable{},
                                           wire::RemoteFrees{{}}}) {
    auto bytes = wire::encode(1, m);
    std::uint64_t huge = 1ull << 62;
    // The length is the last 8 bytes of these encodings.
    std::memcpy(bytes.data() + bytes.size() - 8, &huge, 8);
    EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(bytes)), wire::DecodeError::kMalformed)
        << wire::name_of(wire::type_of(m));
  }
}

TEST(Wire, OverlongTextIsRefused) {
  auto bytes = wire::encode(1, wire::Shutdown{std::string(wire::kMaxText + 1, 'x')});
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(bytes)), wire::DecodeError::kMalformed);
}

TEST(Wire, PageDataMustBeWholePagesWithinTheFetchLimit) {
  auto partial = wire::encode(1, wire::PageData{1, 2, std::vector<std::byte>(100)});
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(partial)), wire::DecodeError::kMalformed);
  auto too_many = wire::encode(
      1, wire::PageData{1, 2, std::vector<std::byte>((wire::kMaxPagesPerFetch + 1) * wire::kPageBytes)});
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(too_many)), wire::DecodeError::kMalformed);
  auto zero = wire::encode(1, wire::PageRequest{1, 2, 0});
  EXPECT_EQ(std::get<wire::DecodeError>(wire::decode(zero)), wire::DecodeError::kMalformed);
}

TEST(Wire, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(42);
  auto valid = one_of_each();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> bytes;
    if (i % 2 == 0) {
      // Mutate a valid frame (keeps the header plausible, so bodies get fuzzed).
      bytes = wire::encode(1, valid[rng() % valid.size()]);
      // Every encoding is longer than the 12-byte header.
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k)
        bytes[12 + rng() % (bytes.size() - 12)] = static_cast<std::byte>(rng());
    } else {
      bytes.resize(rng() % 64);
      for (auto& b : bytes) b = static_cast<std::byte>(rng());
    }
    auto decoded = wire::decode(bytes);
    if (std::holds_alternative<wire::Envelope>(decoded)) ++accepted;
  }
  // Some mutations keep a frame valid (e.g. a changed payload byte); the
  // point is that none crashed or hung.
  SUCCEED() << accepted << " mutated frames were still valid";
}

// ---- the gate against the fake transport ---------------------------------------

struct GateFixture : ::testing::Test {
  net::FakeNetwork network;
  std::unique_ptr<net::Transport> node0 = network.endpoint(0);
  std::unique_ptr<net::Transport> node1 = network.endpoint(1);
  std::vector<std::string> log;
  net::MessageGate gate0{*node0, "node 0", [this](std::string_view l) { log.emplace_back(l); }};
  net::MessageGate gate1{*node1, "node 1", [](std::string_view) {}};
};

TEST_F(GateFixture, ValidMessagesArriveInOrder) {
  ASSERT_TRUE(gate1.send(0, wire::Ping{1, 0, {}}));
  ASSERT_TRUE(gate1.send(0, wire::Ping{2, 0, {}}));
  auto a = gate0.next(1s);
  auto b = gate0.next(1s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(std::get<wire::Ping>(a->body).seq, 1u);
  EXPECT_EQ(std::get<wire::Ping>(b->body).seq, 2u);
  EXPECT_EQ(a->from, 1u);
  EXPECT_EQ(gate0.counters().accepted, 2u);
}

TEST_F(GateFixture, BadFramesAreDroppedCountedLoggedAndTheNextGoodOneArrives) {
  auto good = wire::encode(1, wire::Ping{5, 0, {}});
  auto wrong_version = good;
  wrong_version[4] = std::byte{9};
  auto malformed = good;
  malformed.resize(good.size() - 1);
  network.inject(0, 1, wrong_version);
  network.inject(0, 1, malformed);
  network.inject(0, std::nullopt, good);  // a sender the transport cannot name
  network.inject(0, 1, wire::encode(3, wire::Ping{6, 0, {}}));  // claims to be node 3
  network.inject(0, 1, std::vector<std::byte>{std::byte{1}, std::byte{2}});
  ASSERT_TRUE(gate1.send(0, wire::Ping{7, 0, {}}));

  auto env = gate0.next(1s);
  ASSERT_TRUE(env);
  EXPECT_EQ(std::get<wire::Ping>(env->body).seq, 7u);
  const auto& c = gate0.counters();
  EXPECT_EQ(c.bad_version, 1u);
  EXPECT_EQ(c.malformed, 2u);
  EXPECT_EQ(c.unknown_peer, 1u);
  EXPECT_EQ(c.spoofed, 1u);
  EXPECT_EQ(c.accepted, 1u);
  ASSERT_EQ(log.size(), 5u);
  EXPECT_NE(log[0].find("node 0: dropped frame from node 1: bad version 9 (expected " + std::to_string(wire::kVersion) + ")"),
            std::string::npos)
      << log[0];
  EXPECT_NE(log[1].find("malformed"), std::string::npos) << log[1];
  EXPECT_NE(log[2].find("dropped frame from unknown peer"), std::string::npos) << log[2];
  EXPECT_NE(log[3].find("header claims node 3"), std::string::npos) << log[3];
}

// Node 1 sends; nodes 0 and 2 receive (the gate-hold tests).
struct GateHold : ::testing::Test {
  net::FakeNetwork network;
  std::unique_ptr<net::Transport> n0 = network.endpoint(0), n1 = network.endpoint(1), n2 = network.endpoint(2);
  net::MessageGate sender{*n1, "node 1", [](std::string_view) {}};
  net::MessageGate at0{*n0, "node 0", [](std::string_view) {}};
  net::MessageGate at2{*n2, "node 2", [](std::string_view) {}};
};

// While a release is unacknowledged, messages to other nodes wait in order
// (node 0's pass: they follow the release on its connection); the last end
// of a hold lets them out.
TEST_F(GateHold, HoldsAllButNodeZeroUntilTheLastHoldEnds) {
  sender.hold_all_but(0);
  sender.hold_all_but(0);  // a second release meanwhile
  ASSERT_TRUE(sender.send(2, wire::Ping{1, 0, {}}));
  ASSERT_TRUE(sender.send(0, wire::Ping{2, 0, {}}));
  ASSERT_TRUE(sender.send(2, wire::Ping{3, 0, {}}));
  auto to0 = at0.next(1s);
  ASSERT_TRUE(to0);
  EXPECT_EQ(std::get<wire::Ping>(to0->body).seq, 2u);
  EXPECT_FALSE(at2.next(30ms));
  sender.end_hold();
  EXPECT_FALSE(at2.next(30ms));  // one release still unacknowledged
  sender.end_hold();
  auto first = at2.next(1s), second = at2.next(1s);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(std::get<wire::Ping>(first->body).seq, 1u);
  EXPECT_EQ(std::get<wire::Ping>(second->body).seq, 3u);
  ASSERT_TRUE(sender.send(2, wire::Ping{4, 0, {}}));  // no hold: straight out
  auto after = at2.next(1s);
  ASSERT_TRUE(after);
  EXPECT_EQ(std::get<wire::Ping>(after->body).seq, 4u);
}

// Messages made while a release was unnumbered carry an unknown epoch; the
// gate gives them the node's epoch when they leave for a node other than 0,
// so their takers need not ask node 0. Node 0 settles its own.
TEST_F(GateHold, UnknownEpochsAreFilledWhenTheMessagesLeave) {
  std::uint64_t epoch = wire::kEpochUnknown;
  sender.set_epoch_source([&] { return epoch; });
  sender.hold_all_but(0);
  ASSERT_TRUE(sender.send(2, wire::LockReturn{7, wire::kEpochUnknown}));
  ASSERT_TRUE(sender.send(0, wire::LockReturn{8, wire::kEpochUnknown}));
  ASSERT_TRUE(sender.send(2, wire::LockReturn{9, 5}));  // known: kept
  auto to0 = at0.next(1s);
  ASSERT_TRUE(to0);
  EXPECT_EQ(std::get<wire::LockReturn>(to0->body).epoch, wire::kEpochUnknown);
  epoch = 12;  // node 0 numbered the release
  sender.end_hold();
  auto first = at2.next(1s), second = at2.next(1s);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(std::get<wire::LockReturn>(first->body).epoch, 12u);
  EXPECT_EQ(std::get<wire::LockReturn>(second->body).epoch, 5u);
  ASSERT_TRUE(sender.send(2, wire::SemPost{1, 2, 0, wire::kEpochUnknown}));  // no hold: at once
  auto later = at2.next(1s);
  ASSERT_TRUE(later);
  EXPECT_EQ(std::get<wire::SemPost>(later->body).epoch, 12u);
}

// A release of many pages: far longer than one frame.
wire::DiffBatch big_batch(std::size_t pages) {
  wire::DiffBatch b;
  b.request = 42;
  for (std::size_t i = 0; i < pages; ++i) {
    b.pages.push_back(i);
    b.diffs.emplace_back(10240, static_cast<std::byte>(i));
  }
  return b;
}

TEST_F(GateFixture, AMessageLongerThanAFrameTravelsInPartsAndArrivesWhole) {
  const auto batch = big_batch(300);  // ~3 MiB
  ASSERT_GT(wire::encode(1, batch).size(), 2 * wire::kMaxFrameBytes);
  ASSERT_TRUE(gate1.send(0, batch));
  ASSERT_TRUE(gate1.send(0, wire::Ping{9, 0, {}}));
  auto env = gate0.next(1s);
  ASSERT_TRUE(env);
  const auto& got = std::get<wire::DiffBatch>(env->body);
  EXPECT_EQ(got.pages, batch.pages);
  EXPECT_EQ(got.diffs, batch.diffs);
  EXPECT_EQ(gate0.counters().assembled, 1u);
  auto next = gate0.next(1s);
  ASSERT_TRUE(next);
  EXPECT_EQ(std::get<wire::Ping>(next->body).seq, 9u);
  EXPECT_TRUE(log.empty()) << log[0];
}

TEST_F(GateFixture, PartsThatDoNotMakeAGoodMessageAreDropped) {
  // A part holding a part, and parts of garbage: dropped, logged, and the
  // next good message arrives.
  auto inner = wire::encode(1, wire::FramePart{1, {std::byte{1}}});
  network.inject(0, 1, wire::encode(1, wire::FramePart{1, inner}));
  network.inject(0, 1, wire::encode(1, wire::FramePart{0, std::vector<std::byte>(100, std::byte{7})}));
  network.inject(0, 1, wire::encode(1, wire::FramePart{1, std::vector<std::byte>(100, std::byte{7})}));
  ASSERT_TRUE(gate1.send(0, wire::Ping{3, 0, {}}));
  auto env = gate0.next(1s);
  ASSERT_TRUE(env);
  EXPECT_EQ(std::get<wire::Ping>(env->body).seq, 3u);
  EXPECT_EQ(gate0.counters().malformed, 2u);
  EXPECT_EQ(gate0.counters().assembled, 0u);
}

TEST(LogThrottle, WritesABurstThenCountsTheRest) {
  std::vector<std::string> lines;
  net::LogThrottle t([&](std::string_view l) { lines.emplace_back(l); }, "dropped frames");
  const auto start = std::chrono::steady_clock::now();
  t.tick(start);
  for (int i = 0; i < 1000; ++i) t.log("junk " + std::to_string(i));
  EXPECT_EQ(lines.size(), net::LogThrottle::kBurst);
  EXPECT_EQ(t.suppressed_total(), 1000u - net::LogThrottle::kBurst);
  t.tick(start + net::LogThrottle::kWindow + 1s);
  ASSERT_EQ(lines.size(), net::LogThrottle::kBurst + 1);
  EXPECT_NE(lines.back().find("and " + std::to_string(1000 - net::LogThrottle::kBurst) + " more dropped frames"),
            std::string::npos)
      << lines.back();
}

TEST_F(GateFixture, NextTimesOutWhenNothingValidArrives) {
  network.inject(0, 1, std::vector<std::byte>{std::byte{1}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(gate0.next(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
}

TEST_F(GateFixture, SendToAnUnknownEndpointFails) {
  EXPECT_FALSE(gate0.send(42, wire::Ping{1, 0, {}}));
}

// ---- ZeroMQ ------------------------------------------------------------------------

TEST(RoutingId, OnlyCanonicalIdsOfKnownNodesParse) {
  EXPECT_EQ(net::parse_routing_id("n0", 4), 0u);
  EXPECT_EQ(net::parse_routing_id("n3", 4), 3u);
  EXPECT_EQ(net::parse_routing_id("n4", 4), std::nullopt);
  EXPECT_EQ(net::parse_routing_id("n03", 4), std::nullopt);
  EXPECT_EQ(net::parse_routing_id("x1", 4), std::nullopt);
  EXPECT_EQ(net::parse_routing_id("n", 4), std::nullopt);
  EXPECT_EQ(net::parse_routing_id("n1a", 4), std::nullopt);
  EXPECT_EQ(net::routing_id(17), "n17");
}

TEST(Zmq, TwoAgentsExchangeMessages) {
  net::ZmqAgentTransport t0(0, 2, "", {});
  net::ZmqAgentTransport t1(1, 2, "", {});
  t0.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  t1.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  net::MessageGate g0(t0, "node 0", [](std::string_view) {});
  net::MessageGate g1(t1, "node 1", [](std::string_view) {});
  ASSERT_TRUE(g0.send(1, wire::Ping{1, 4, std::vector<std::byte>(4, std::byte{3})}));
  auto ping = g1.next(5s);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->from, 0u);
  ASSERT_TRUE(g1.send(0, wire::Pong{1, std::get<wire::Ping>(ping->body).pad}));
  auto pong = g0.next(5s);
  ASSERT_TRUE(pong);
  EXPECT_EQ(std::get<wire::Pong>(pong->body).pad.size(), 4u);
}

TEST(Zmq, LauncherAndAgentTalkOverTheControlPlane) {
  net::ZmqLauncherTransport launcher(2, {});
  net::ZmqAgentTransport agent(1, 2, launcher.control_endpoint(), {});
  net::MessageGate gl(launcher, "launcher", [](std::string_view) {});
  net::MessageGate ga(agent, "node 1", [](std::string_view) {});
  ASSERT_TRUE(ga.send(wire::kLauncherId, wire::Hello{1, agent.data_endpoint(), 42}));
  auto hello = gl.next(5s);
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->from, 1u);
  ASSERT_TRUE(gl.send(1, wire::Shutdown{"bye"}));
  auto bye = ga.next(5s);
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->from, wire::kLauncherId);
  EXPECT_EQ(std::get<wire::Shutdown>(bye->body).reason, "bye");
  // Node 0 never connected: the launcher cannot reach it and says so.
  EXPECT_FALSE(gl.send(0, wire::Shutdown{"x"}));
}

TEST(Zmq, AStrangerIsAnUnknownPeerAndIsDropped) {
  net::ZmqAgentTransport agent(0, 2, "", {});
  std::vector<std::string> log;
  net::MessageGate gate(agent, "node 0", [&](std::string_view l) { log.emplace_back(l); });
  zmq::context_t ctx;
  zmq::socket_t evil(ctx, zmq::socket_type::dealer);
  evil.set(zmq::sockopt::linger, 0);
  evil.set(zmq::sockopt::routing_id, "evil");
  evil.connect(agent.data_endpoint());
  auto frame = wire::encode(1, wire::Shutdown{"pretend"});
  evil.send(zmq::buffer(frame.data(), frame.size()));
  EXPECT_FALSE(gate.next(500ms));
  EXPECT_EQ(gate.counters().unknown_peer, 1u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("unknown peer"), std::string::npos);
}

// The job's keys on both sides; a log collecting refusals.
struct Secured {
  std::vector<std::string> log;
  net::ZmqOptions options;
  explicit Secured(const net::CurveKeys& keys) {
    options.curve = keys;
    options.log = [this](const std::string& line) { log.push_back(line); };
  }
};

TEST(Sealed, NodesWithTheJobsKeyTalk) {
  auto keys = net::generate_curve_keys();
  Secured s0(keys), s1(keys);
  net::ZmqAgentTransport t0(0, 2, "", s0.options);
  net::ZmqAgentTransport t1(1, 2, "", s1.options);
  t0.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  t1.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  net::MessageGate g0(t0, "node 0", [](std::string_view) {});
  net::MessageGate g1(t1, "node 1", [](std::string_view) {});
  ASSERT_TRUE(g0.send(1, wire::Ping{1, 0, {}}));
  auto ping = g1.next(5s);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->from, 0u);
  EXPECT_TRUE(s0.log.empty() && s1.log.empty());
}

// Receives for a while: nothing may come through.
bool receives_nothing(net::MessageGate& gate, std::chrono::milliseconds span) {
  auto until = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < until)
    if (gate.next(50ms)) return false;
  return true;
}

// The job's admission password, as a peer that holds the job's key (or
// read it off the network: PLAIN sends it in the clear) would present it.
std::string password_of(const net::CurveKeys& keys) {
  unsigned char secret[32];
  if (zmq_z85_decode(secret, keys.secret_key.c_str()) == nullptr) throw std::runtime_error("bad key");
  return net::admission_password(std::span<const unsigned char, 32>(secret));
}

bool log_has(const std::vector<std::string>& log, const std::string& needle) {
  for (const auto& l : log)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

// Only peers with the job's admission password get a connection to an
// agent's data port: nobody else can have a single frame queued there.
TEST(Admission, AStrangerGetsNoConnection) {
  Secured secured(net::generate_curve_keys());
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  zmq::context_t ctx;
  zmq::socket_t plain(ctx, zmq::socket_type::dealer);  // ZeroMQ's NULL mechanism
  plain.set(zmq::sockopt::linger, 0);
  plain.set(zmq::sockopt::routing_id, "n1");  // even posing as a node
  plain.connect(agent.data_endpoint());
  zmq::socket_t guesser(ctx, zmq::socket_type::dealer);  // PLAIN, a wrong password
  guesser.set(zmq::sockopt::linger, 0);
  guesser.set(zmq::sockopt::plain_username, "gpthread");
  guesser.set(zmq::sockopt::plain_password, std::string(64, '0'));
  guesser.connect(agent.data_endpoint());
  auto frame = wire::encode(1, wire::Shutdown{"pretend to be node 1"});
  (void)plain.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  (void)guesser.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_TRUE(log_has(secured.log, "refused a connection on " + agent.data_endpoint() + ": handshake failed"))
      << ::testing::PrintToString(secured.log);
  EXPECT_TRUE(log_has(secured.log, "refused a connection from 127.0.0.1: not a node of this job"))
      << ::testing::PrintToString(secured.log);
}

TEST(Admission, AnotherJobsNodeGetsNoConnection) {
  Secured secured(net::generate_curve_keys());
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  // A stranger running our very code, with a job key of its own.
  Secured other(net::generate_curve_keys());
  net::ZmqAgentTransport stranger(1, 2, "", other.options);
  stranger.connect_peers({agent.data_endpoint(), stranger.data_endpoint()});
  net::MessageGate sgate(stranger, "stranger", [](std::string_view) {});
  ASSERT_TRUE(sgate.send(0, wire::Shutdown{"pretend"}));
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_TRUE(log_has(secured.log, "not a node of this job")) << ::testing::PrintToString(secured.log);
}

// Frames between agents are sealed (frame_seal.h): one that is not, or is
// sealed with another key, is dropped and logged even when its sender got
// a connection (say it read the password off the network).
TEST(Sealed, AnUnsealedFrameIsDroppedAndLogged) {
  auto keys = net::generate_curve_keys();
  Secured secured(keys);
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  zmq::context_t ctx;
  zmq::socket_t plain(ctx, zmq::socket_type::dealer);
  plain.set(zmq::sockopt::linger, 0);
  plain.set(zmq::sockopt::plain_username, "gpthread");
  plain.set(zmq::sockopt::plain_password, password_of(keys));
  plain.connect(agent.data_endpoint());
  auto frame = wire::encode(1, wire::Shutdown{"pretend to be node 1, long enough to look sealed"});
  (void)plain.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_TRUE(log_has(secured.log, "dropped a frame on " + agent.data_endpoint() + ": not sealed with the job's key"))
      << ::testing::PrintToString(secured.log);
}

TEST(Sealed, AFrameSealedWithAnotherKeyIsDroppedAndLogged) {
  auto keys = net::generate_curve_keys();
  Secured secured(keys);
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  zmq::context_t ctx;
  zmq::socket_t forger(ctx, zmq::socket_type::dealer);
  forger.set(zmq::sockopt::linger, 0);
  forger.set(zmq::sockopt::plain_username, "gpthread");
  forger.set(zmq::sockopt::plain_password, password_of(keys));
  forger.connect(agent.data_endpoint());
  unsigned char other_secret[32];
  for (int i = 0; i < 32; ++i) other_secret[i] = static_cast<unsigned char>(i * 7 + 1);
  net::FrameSeal other(std::span<const unsigned char, 32>(other_secret), 1);
  auto sealed = other.seal(wire::encode(1, wire::Shutdown{"pretend"}));
  (void)forger.send(zmq::buffer(sealed.data(), sealed.size()), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_TRUE(log_has(secured.log, "not sealed with the job's key")) << ::testing::PrintToString(secured.log);
}

// Junk is logged at a bounded rate: a few lines, then a count.
TEST(Sealed, AFloodOfJunkIsLoggedAtABoundedRate) {
  auto keys = net::generate_curve_keys();
  Secured secured(keys);
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  zmq::context_t ctx;
  zmq::socket_t junk(ctx, zmq::socket_type::dealer);
  junk.set(zmq::sockopt::linger, 0);
  junk.set(zmq::sockopt::plain_username, "gpthread");
  junk.set(zmq::sockopt::plain_password, password_of(keys));
  junk.connect(agent.data_endpoint());
  const std::string frame(100, 'x');
  for (int i = 0; i < 900; ++i) (void)junk.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_EQ(secured.log.size(), net::LogThrottle::kBurst) << ::testing::PrintToString(secured.log);
}

// A TCP relay between one client and a server that records what the
// client sent: a wiretap, to replay a legitimate session later.
class Wiretap {
 public:
  explicit Wiretap(const std::string& server_endpoint) {
    listen_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_, 1) != 0 ||
        getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("wiretap: cannot listen");
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    server_port_ = std::stoi(server_endpoint.substr(server_endpoint.rfind(':') + 1));
    relay_ = std::thread([this] { relay(); });
  }
  ~Wiretap() {
    stop_ = true;
    if (relay_.joinable()) relay_.join();
    close(listen_);
  }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  [[nodiscard]] std::string recorded() {
    stop_ = true;
    if (relay_.joinable()) relay_.join();
    return recorded_;
  }

 private:
  void relay() {
    pollfd l{listen_, POLLIN, 0};
    while (!stop_ && poll(&l, 1, 50) == 0) {
    }
    if (stop_) return;
    int client = accept(listen_, nullptr, nullptr);
    int server = connect_to(server_port_);
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[65536];
    while (!stop_) {
      if (poll(fds, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          stop_ = true;
          break;
        }
        if (i == 0) recorded_.append(buf, static_cast<std::size_t>(n));
        (void)!write(fds[1 - i].fd, buf, static_cast<std::size_t>(n));
      }
    }
    close(client);
    close(server);
  }

 public:
  static int connect_to(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    return s;
  }

 private:
  int listen_ = -1;
  int server_port_ = 0;
  std::string endpoint_;
  std::string recorded_;
  std::atomic<bool> stop_{false};
  std::thread relay_;
};

// The messages in a recorded ZMTP 3 stream (after the 64-byte greeting;
// commands skipped).
std::vector<std::string> zmtp_messages(const std::string& stream) {
  std::vector<std::string> out;
  std::size_t at = 64;
  while (at + 2 <= stream.size()) {
    const auto flags = static_cast<unsigned char>(stream[at]);
    std::size_t size = 0, head = 2;
    if (flags & 0x02) {  // long frame: 8-byte big-endian size
      head = 9;
      if (at + head > stream.size()) break;
      for (int i = 1; i <= 8; ++i) size = size << 8 | static_cast<unsigned char>(stream[at + i]);
    } else {
      size = static_cast<unsigned char>(stream[at + 1]);
    }
    if (at + head + size > stream.size()) break;
    if (!(flags & 0x04)) out.push_back(stream.substr(at + head, size));
    at += head + size;
  }
  return out;
}

// The user name and password of a PLAIN HELLO command in a recorded ZMTP 3
// stream (commands are frames with flag 0x04: name length, name, then
// length-prefixed user name and password).
std::pair<std::string, std::string> zmtp_plain_credentials(const std::string& stream) {
  std::size_t at = 64;
  while (at + 2 <= stream.size()) {
    const auto flags = static_cast<unsigned char>(stream[at]);
    std::size_t size = 0, head = 2;
    if (flags & 0x02) {
      head = 9;
      for (int i = 1; i <= 8; ++i) size = size << 8 | static_cast<unsigned char>(stream[at + i]);
    } else {
      size = static_cast<unsigned char>(stream[at + 1]);
    }
    const std::string body = stream.substr(at + head, size);
    if ((flags & 0x04) && body.size() > 6 && body.compare(0, 6, "\x05HELLO") == 0) {
      std::size_t p = 6;
      const std::size_t ul = static_cast<unsigned char>(body[p++]);
      std::string user = body.substr(p, ul);
      p += ul;
      const std::size_t pl = static_cast<unsigned char>(body[p++]);
      return {user, body.substr(p, pl)};
    }
    at += head + size;
  }
  return {};
}

// Someone who recorded a legitimate node's session (its PLAIN password in
// the clear, then its sealed frames) and plays it back gets a connection,
// and nothing through: the frames' counters were seen already, so the
// replay is refused and logged.
TEST(Sealed, AReplayedSessionIsRefused) {
  auto keys = net::generate_curve_keys();
  Secured server_side(keys), client_side(keys);
  net::ZmqAgentTransport server(0, 2, "", server_side.options);
  net::MessageGate gate(server, "node 0", [](std::string_view) {});
  std::string recorded;
  {
    Wiretap tap(server.data_endpoint());
    net::ZmqAgentTransport client(1, 2, "", client_side.options);
    client.connect_peers({tap.endpoint(), client.data_endpoint()});
    net::MessageGate cgate(client, "node 1", [](std::string_view) {});
    ASSERT_TRUE(cgate.send(0, wire::Shutdown{"the real one"}));
    auto got = gate.next(5s);
    ASSERT_TRUE(got) << "the legitimate message did not arrive through the tap";
    EXPECT_EQ(std::get<wire::Shutdown>(got->body).reason, "the real one");
    // Everything the server received passed the tap, which records before
    // it forwards: the session is on the record.
    recorded = tap.recorded();
  }
  // ZMTP's 64-byte greeting, then at least the sealed frame.
  ASSERT_GT(recorded.size(), 64u + net::FrameSeal::kOverhead) << "the tap recorded no session";
  auto [user, password] = zmtp_plain_credentials(recorded);
  ASSERT_EQ(password, password_of(keys)) << "the recorded session has no PLAIN hello";
  // The attacker opens a session of its own with the recorded password and
  // sends the recorded messages again.
  auto messages = zmtp_messages(recorded);
  ASSERT_EQ(messages.size(), 1u);
  zmq::context_t ctx;
  zmq::socket_t attacker(ctx, zmq::socket_type::dealer);
  attacker.set(zmq::sockopt::linger, 0);
  attacker.set(zmq::sockopt::plain_username, user);
  attacker.set(zmq::sockopt::plain_password, password);
  attacker.connect(server.data_endpoint());
  for (const auto& m : messages) (void)attacker.send(zmq::buffer(m), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s)) << "a replayed message got through";
  ASSERT_FALSE(server_side.log.empty()) << "the replay was not logged";
  EXPECT_NE(server_side.log.back().find("a replay of a frame already received"), std::string::npos)
      << server_side.log.back();
}

TEST(Curve, KeysSurviveTheirPipeAndMalformedOnesAreRefused) {
  auto keys = net::generate_curve_keys();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto text = net::encode_curve_keys(keys);
  ASSERT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  std::string error;
  auto back = net::read_curve_keys(fds[0], error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->public_key, keys.public_key);
  EXPECT_EQ(back->secret_key, keys.secret_key);
  EXPECT_FALSE(net::decode_curve_keys("short\n"));
  EXPECT_FALSE(net::decode_curve_keys(std::string(40, '~') + "\n" + std::string(40, '~') + "\n"));
}

TEST(Zmq, AMessageLongerThanAFrameCrossesSealedConnections) {
  auto keys = net::generate_curve_keys();
  Secured s0(keys), s1(keys);
  net::ZmqAgentTransport t0(0, 2, "", s0.options);
  net::ZmqAgentTransport t1(1, 2, "", s1.options);
  t0.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  t1.connect_peers({t0.data_endpoint(), t1.data_endpoint()});
  net::MessageGate g0(t0, "node 0", [](std::string_view) {});
  net::MessageGate g1(t1, "node 1", [](std::string_view) {});
  const auto batch = big_batch(500);  // ~5 MiB
  ASSERT_TRUE(g1.send(0, batch));
  auto env = g0.next(10s);
  ASSERT_TRUE(env);
  EXPECT_EQ(std::get<wire::DiffBatch>(env->body).diffs, batch.diffs);
  EXPECT_TRUE(s0.log.empty()) << s0.log[0];
}

// A frame longer than any we send is refused before it is read: the peer
// is disconnected as soon as its frame's header claims the length.
TEST(Zmq, AFrameLongerThanTheLimitIsNeverRead) {
  auto keys = net::generate_curve_keys();
  Secured secured(keys);
  net::ZmqAgentTransport agent(0, 2, "", secured.options);
  net::MessageGate gate(agent, "node 0", [](std::string_view) {});
  zmq::context_t ctx;
  zmq::socket_t big(ctx, zmq::socket_type::dealer);
  big.set(zmq::sockopt::linger, 0);
  big.set(zmq::sockopt::plain_username, "gpthread");
  big.set(zmq::sockopt::plain_password, password_of(keys));
  big.connect(agent.data_endpoint());
  const std::string huge(wire::kMaxFrameBytes + 64 * 1024, 'x');
  (void)big.send(zmq::buffer(huge), zmq::send_flags::dontwait);
  EXPECT_TRUE(receives_nothing(gate, 1s));
  EXPECT_TRUE(secured.log.empty()) << "the frame reached the seal: " << secured.log[0];
}

// The agent's view of its launcher connection: down until the first
// handshake, up while the launcher's process exists, down from the moment
// it goes away.
TEST(Zmq, TheLauncherLinkIsUpWhileTheLauncherIsThereAndDownWhenItGoes) {
  auto keys = net::generate_curve_keys();
  Secured ls(keys), as(keys);
  auto launcher = std::make_unique<net::ZmqLauncherTransport>(2, ls.options);
  net::ZmqAgentTransport agent(1, 2, launcher->control_endpoint(), as.options);
  net::MessageGate ga(agent, "node 1", [](std::string_view) {});
  EXPECT_FALSE(agent.launcher_link().ever_up);
  auto until = std::chrono::steady_clock::now() + 5s;
  // The launcher's loop answers the handshake (its ZAP handler): turn both.
  while (agent.launcher_link().down_since && std::chrono::steady_clock::now() < until) {
    (void)ga.next(10ms);
    (void)launcher->receive(10ms);
  }
  ASSERT_FALSE(agent.launcher_link().down_since) << "never connected";
  EXPECT_TRUE(agent.launcher_link().ever_up);
  launcher.reset();
  until = std::chrono::steady_clock::now() + 5s;
  while (!agent.launcher_link().down_since && std::chrono::steady_clock::now() < until) (void)ga.next(20ms);
  EXPECT_TRUE(agent.launcher_link().down_since) << "the launcher's end went unnoticed";
  EXPECT_TRUE(agent.launcher_link().ever_up);
}

TEST(Zmq, WakeupFdInterruptsReceive) {
  net::ZmqAgentTransport agent(0, 1, "", {});
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  agent.set_wakeup_fd(fds[0]);
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(agent.receive(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  close(fds[0]);
  close(fds[1]);
}

// A doorbell word that the receiver polls while it spins (the agent's
// channel doorbell), counted the way ChannelServer does.
class CountingBell final : public net::SpinDoorbell {
 public:
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> seen{0};
  std::atomic<int> polling{-1};  // -1: never told
  bool rang() const override { return word.load() != seen.load(); }
  void set_polling(bool p) override { polling.store(p ? 1 : 0); }
};

// While it spins after traffic, receive() returns as soon as the bell moves,
// with no write to the wakeup fd; it says it polls while it does.
TEST(Zmq, ASpinningReceiveSeesTheDoorbellWithoutItsFd) {
  net::ZmqOptions options;
  options.spin = 2s;
  net::ZmqAgentTransport agent(0, 1, "", options);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  agent.set_wakeup_fd(fds[0]);
  CountingBell bell;
  agent.set_spin_doorbell(&bell);
  // Traffic first (a readable wakeup fd counts), so the next receive spins.
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  EXPECT_FALSE(agent.receive(5s));
  char drained;
  ASSERT_EQ(read(fds[0], &drained, 1), 1);
  std::thread ringer([&] {
    while (bell.polling.load() != 1) std::this_thread::yield();
    bell.word.fetch_add(1);  // no write to the fd: the agent polls
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(agent.receive(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ringer.join();
  EXPECT_TRUE(bell.rang());
  close(fds[0]);
  close(fds[1]);
}

// Before it blocks, receive() says it no longer polls, then looks at the bell
// once more: a ring that came just before is not slept through.
TEST(Zmq, ABlockingReceiveStopsPollingAndLooksOnceMore) {
  net::ZmqAgentTransport agent(0, 1, "", {});  // no spin: blocks at once
  CountingBell bell;
  bell.polling = 1;
  agent.set_spin_doorbell(&bell);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(agent.receive(100ms));  // nothing rang: waits it out
  EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
  EXPECT_EQ(bell.polling.load(), 0);
  bell.word.fetch_add(1);
  start = std::chrono::steady_clock::now();
  EXPECT_FALSE(agent.receive(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
