// UcxTransport (the --fabric ucx data plane) between workers of one process,
// each progressed by its own thread as an agent's is.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "curve_keys.h"
#include "message_gate.h"
#include "ucx_transport.h"
#include "wire.h"

namespace gpt {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> pattern(std::size_t size, unsigned seed) {
  std::vector<std::byte> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return v;
}

// Sends back every frame it receives until told to stop; runs on its own
// thread, the only one that touches `t`.
class Echo {
 public:
  explicit Echo(net::UcxTransport& t) : t_(t), thread_([this] { run(); }) {}
  ~Echo() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    while (!stop_) {
      auto f = t_.receive(10ms);
      if (f && f->peer) (void)t_.send(*f->peer, f->bytes);
    }
  }
  net::UcxTransport& t_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::optional<net::Frame> receive_within(net::Transport& t, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until)
    if (auto f = t.receive(50ms)) return f;
  return std::nullopt;
}

struct Pair {
  std::vector<std::string> log;
  net::UcxOptions options;
  std::unique_ptr<net::UcxTransport> t0, t1;
  explicit Pair(std::optional<net::CurveKeys> keys) {
    options.curve = keys;
    options.log = [this](const std::string& line) { log.push_back(line); };
    t0 = std::make_unique<net::UcxTransport>(0, 2, options);
    t1 = std::make_unique<net::UcxTransport>(1, 2, net::UcxOptions{"127.0.0.1", keys, {}, {}});
    std::vector<std::string> table{t0->address(), t1->address()};
    t0->connect_peers(table);
    t1->connect_peers(table);
  }
};

TEST(Ucx, AddressesAreUcxAddresses) {
  net::UcxTransport t(0, 1, {});
  EXPECT_TRUE(net::UcxTransport::is_address(t.address()));
  EXPECT_FALSE(net::UcxTransport::is_address("tcp://127.0.0.1:5555"));
  // It travels in a Hello: within the wire's limit on text.
  EXPECT_LE(t.address().size(), wire::kMaxText);
}

TEST(Ucx, SealedFramesBothWaysSmallAndLarge) {
  Pair p(net::generate_curve_keys());
  Echo echo(*p.t1);
  for (std::size_t size : {std::size_t{1}, std::size_t{64}, std::size_t{4096}, std::size_t{65536},
                           wire::kMaxFrameBytes}) {
    auto frame = pattern(size, static_cast<unsigned>(size));
    ASSERT_TRUE(p.t0->send(1, frame));
    auto back = receive_within(*p.t0, 10s);
    ASSERT_TRUE(back) << "no echo of " << size << " bytes";
    ASSERT_TRUE(back->peer);
    EXPECT_EQ(*back->peer, 1u);
    EXPECT_EQ(back->bytes, frame) << size << " bytes";
  }
  EXPECT_TRUE(p.log.empty());
}

TEST(Ucx, ManyFramesArriveInOrder) {
  Pair p(std::nullopt);
  Echo echo(*p.t1);
  constexpr unsigned kCount = 300;
  for (unsigned i = 0; i < kCount; ++i)
    ASSERT_TRUE(p.t0->send(1, pattern(i % 3 == 0 ? 70000 : 100, i)));
  for (unsigned i = 0; i < kCount; ++i) {
    auto back = receive_within(*p.t0, 10s);
    ASSERT_TRUE(back) << "frame " << i;
    EXPECT_EQ(back->bytes, pattern(i % 3 == 0 ? 70000 : 100, i)) << "frame " << i;
  }
}

TEST(Ucx, MessagesThroughTheGate) {
  Pair p(net::generate_curve_keys());
  net::MessageGate g0(*p.t0, "node 0", [](std::string_view) {});
  std::thread other([&] {
    net::MessageGate g1(*p.t1, "node 1", [](std::string_view) {});
    for (int i = 0; i < 200; ++i) {
      auto ping = g1.next(100ms);
      if (!ping) continue;
      (void)g1.send(ping->from, wire::Pong{std::get<wire::Ping>(ping->body).seq, {}});
      return;
    }
  });
  ASSERT_TRUE(g0.send(1, wire::Ping{7, 0, {}}));
  std::optional<wire::Envelope> pong;
  for (int i = 0; i < 200 && !pong; ++i) pong = g0.next(50ms);
  other.join();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->from, 1u);
  EXPECT_EQ(std::get<wire::Pong>(pong->body).seq, 7u);
}

TEST(Ucx, UnknownPeersAreNotBelieved) {
  // Without seals the header names the sender: an id outside the job is an
  // unknown peer, which the gate drops.
  net::UcxTransport agent(0, 2, {});
  net::UcxTransport stranger(5, 6, {});
  std::vector<std::string> table(6, agent.address());
  stranger.connect_peers(table);
  std::vector<std::string> log;
  net::MessageGate gate(agent, "node 0", [&](std::string_view l) { log.emplace_back(l); });
  ASSERT_TRUE(stranger.send(0, wire::encode(5, wire::Shutdown{"pretend"})));
  for (int i = 0; i < 100 && gate.counters().unknown_peer == 0; ++i) {
    (void)stranger.poll();
    EXPECT_FALSE(gate.next(20ms));
  }
  EXPECT_EQ(gate.counters().unknown_peer, 1u);
  EXPECT_EQ(gate.counters().accepted, 0u);
}

TEST(Ucx, FramesNotSealedWithTheJobsKeyAreDropped) {
  auto keys = net::generate_curve_keys();
  std::vector<std::string> log;
  net::UcxOptions options{"127.0.0.1", keys, [&](const std::string& l) { log.push_back(l); }, {}};
  net::UcxTransport agent(0, 2, options);
  net::UcxTransport impostor(1, 2, net::UcxOptions{"127.0.0.1", net::generate_curve_keys(), {}, {}});
  impostor.connect_peers({agent.address(), impostor.address()});
  ASSERT_TRUE(impostor.send(0, wire::encode(1, wire::Shutdown{"pretend"})));
  for (int i = 0; i < 100 && log.empty(); ++i) {
    (void)impostor.poll();
    EXPECT_FALSE(agent.receive(20ms));
  }
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("dropped a UCX frame"), std::string::npos) << log[0];
}

TEST(Ucx, NotConnectedOrOutOfRangeIsUnreachable) {
  net::UcxTransport t(0, 2, {});
  EXPECT_FALSE(t.send(1, pattern(8, 1)));  // no peer table yet
  EXPECT_FALSE(t.send(7, pattern(8, 1)));
  EXPECT_THROW(t.connect_peers({t.address(), "tcp://127.0.0.1:1"}), std::runtime_error);
}

TEST(Ucx, APeerThatDiesBecomesUnreachableWithAMessage) {
  Pair p(std::nullopt);
  {
    Echo echo(*p.t1);
    ASSERT_TRUE(p.t0->send(1, pattern(64, 1)));
    ASSERT_TRUE(receive_within(*p.t0, 10s));
  }
  p.t1.reset();
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    refused = !p.t0->send(1, pattern(64, 2));
    (void)p.t0->receive(10ms);
  }
  EXPECT_TRUE(refused);
  ASSERT_FALSE(p.log.empty());
  EXPECT_NE(p.log[0].find("node 1 is unreachable"), std::string::npos) << p.log[0];
}

// Two nodes exposing memory (remote_memory.h): node 0 reads node 1's pages
// one-sided while node 1's thread only progresses its worker, as an agent's
// poll loop does (over TCP, UCX serves the read there).
struct RmaPair {
  static constexpr std::size_t kBytes = 8 * 4096;
  static constexpr net::ExposedRange kReadable{0, 6 * 4096}, kWritable{6 * 4096, 2 * 4096};
  std::vector<std::byte> memory0 = std::vector<std::byte>(kBytes), memory1 = pattern(kBytes, 9);
  std::unique_ptr<net::UcxTransport> t0, t1;
  explicit RmaPair(bool rma1 = true) {
    auto keys = net::generate_curve_keys();
    t0 = std::make_unique<net::UcxTransport>(0, 2, net::UcxOptions{"127.0.0.1", keys, {}, {}, true});
    t1 = std::make_unique<net::UcxTransport>(1, 2, net::UcxOptions{"127.0.0.1", keys, {}, {}, rma1});
    t0->expose(memory0.data(), kReadable, kWritable);
    t1->expose(memory1.data(), kReadable, kWritable);
    std::vector<std::string> table{t0->address(), t1->address()};
    t0->connect_peers(table);
    t1->connect_peers(table);
  }
};

std::optional<net::RemoteMemory::Done> completion_within(net::UcxTransport& t, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (auto d = t.completed()) return d;
    (void)t.receive(10ms);
  }
  return std::nullopt;
}

TEST(UcxRma, ReadsPagesAfterMarkingThem) {
  RmaPair p;
  ASSERT_TRUE(p.t0->reaches(1));
  EXPECT_FALSE(p.t0->reaches(0));
  EXPECT_LE(p.t0->address().size(), wire::kMaxText);
  Echo progress(*p.t1);
  const auto before = p.memory1;
  // Pages 1..3, then 2..4, then 3..5; marks set from 1, 2, 3 (3 each,
  // one 8-byte word), then 10 marks from 14 (two words).
  constexpr std::uint8_t kBits = 0x12;
  struct Case {
    std::uint64_t token, mark_at, mark_bytes;
  };
  for (Case c : {Case{1, 1, 3}, Case{2, 2, 3}, Case{3, 3, 3}, Case{4, 14, 10}}) {
    std::vector<std::byte> into(3 * 4096);
    const std::uint64_t at = (c.token == 4 ? 1 : c.token) * 4096;
    ASSERT_TRUE(p.t0->mark_then_read(1, RmaPair::kWritable.offset + c.mark_at, c.mark_bytes, kBits, at, into, c.token));
    auto done = completion_within(*p.t0, 10s);
    ASSERT_TRUE(done) << "read " << c.token << " did not finish";
    EXPECT_EQ(done->token, c.token);
    EXPECT_TRUE(done->ok);
    EXPECT_TRUE(std::equal(into.begin(), into.end(), before.begin() + static_cast<std::ptrdiff_t>(at)))
        << "read " << c.token;
  }
  // The bytes asked for have the bits set (and keep theirs), every other
  // one is as it was.
  for (std::size_t i = 0; i < RmaPair::kBytes; ++i) {
    const std::size_t mark = i - RmaPair::kWritable.offset;
    const bool marked = i >= RmaPair::kWritable.offset && ((mark >= 1 && mark <= 5) || (mark >= 14 && mark < 24));
    ASSERT_EQ(p.memory1[i], marked ? (before[i] | std::byte{kBits}) : before[i]) << "byte " << i;
  }
}

TEST(UcxRma, OutsideTheExposedRangesNothingStarts) {
  RmaPair p;
  std::vector<std::byte> into(4096);
  const std::uint64_t marks = RmaPair::kWritable.offset;
  EXPECT_FALSE(p.t0->mark_then_read(1, marks, 1, 2, marks, into, 1));        // reading the writable range
  EXPECT_FALSE(p.t0->mark_then_read(1, 0, 1, 2, 0, into, 2));                // marking the readable one
  EXPECT_FALSE(p.t0->mark_then_read(1, marks, 1, 2, RmaPair::kReadable.bytes, into, 3));  // past its end
  EXPECT_FALSE(p.t0->mark_then_read(1, ~std::uint64_t{0} - 3, 2, 2, 0, into, 4));         // wrapping around
  EXPECT_FALSE(p.t0->mark_then_read(1, marks, 64, 2, 0, into, 5));           // more words than one fetch needs
  EXPECT_FALSE(p.t0->mark_then_read(0, marks, 1, 2, 0, into, 6));            // ourselves
  EXPECT_FALSE(p.t0->completed());
}

TEST(UcxRma, APeerWithoutRmaIsReadByMessagesOnly) {
  // Node 1 neither exposes memory nor takes keys without UcxOptions::rma.
  RmaPair p(false);
  EXPECT_FALSE(p.t0->reaches(1));
  EXPECT_FALSE(p.t1->reaches(0));
  std::vector<std::byte> into(4096);
  EXPECT_FALSE(p.t0->mark_then_read(1, RmaPair::kWritable.offset, 1, 2, 0, into, 1));
}

}  // namespace
}  // namespace gpt
