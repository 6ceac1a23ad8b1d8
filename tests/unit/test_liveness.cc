// The agent's half of liveness (tools/gpt-node/liveness.h) against a
// scripted transport and a real child process: the heartbeat is answered,
// a lost launcher connection ends the node after the limit (but only time
// the agent was running counts), and a program stopped for the limit is
// reported once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "liveness.h"
#include "message_gate.h"
#include "wire.h"

namespace {

using namespace gpt;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ScriptedTransport final : public net::Transport {
 public:
  [[nodiscard]] wire::NodeId self() const override { return 2; }
  [[nodiscard]] bool send(wire::NodeId to, std::span<const std::byte> frame) override {
    auto decoded = wire::decode(frame);
    if (auto* env = std::get_if<wire::Envelope>(&decoded)) sent.emplace_back(to, env->body);
    return true;
  }
  [[nodiscard]] std::optional<net::Frame> receive(std::chrono::milliseconds) override { return std::nullopt; }
  [[nodiscard]] LauncherLink launcher_link() const override { return link; }

  LauncherLink link;
  std::vector<std::pair<wire::NodeId, wire::Message>> sent;
};

// A 1 s limit, set before the Liveness below reads it.
struct OneSecondLimit {
  OneSecondLimit() { setenv("GPT_NODE_TIMEOUT", "1", 1); }
  ~OneSecondLimit() { unsetenv("GPT_NODE_TIMEOUT"); }
};

struct LivenessFixture : ::testing::Test {
  OneSecondLimit limit;
  ScriptedTransport transport;
  net::MessageGate gate{transport, "node 2", [](std::string_view) {}};
  node::Liveness liveness{2, gate};
  Clock::time_point now = Clock::now();

  // Ticks as the agent's loop does, every 20 ms of (simulated) time, for
  // `span`; returns the first verdict.
  std::optional<std::string> run_for(Clock::duration span, pid_t program = -1) {
    const auto until = now + span;
    for (; now < until; now += 20ms)
      if (auto v = liveness.check(now, program)) return v;
    return std::nullopt;
  }
};

TEST_F(LivenessFixture, AnswersTheLaunchersHeartbeat) {
  EXPECT_TRUE(liveness.on_launcher_message({wire::kLauncherId, wire::Ping{41, 0, {}}}));
  ASSERT_EQ(transport.sent.size(), 1u);
  EXPECT_EQ(transport.sent[0].first, wire::kLauncherId);
  EXPECT_EQ(std::get<wire::Pong>(transport.sent[0].second).seq, 41u);
  EXPECT_FALSE(liveness.on_launcher_message({wire::kLauncherId, wire::Shutdown{"bye"}}));
  EXPECT_EQ(transport.sent.size(), 1u);
}

TEST_F(LivenessFixture, ALostLauncherConnectionEndsTheNodeAfterTheLimit) {
  EXPECT_EQ(run_for(2s), std::nullopt) << "the link is up";
  transport.link = {true, now};
  EXPECT_EQ(run_for(900ms), std::nullopt);
  auto verdict = run_for(300ms);
  ASSERT_TRUE(verdict);
  EXPECT_NE(verdict->find("lost the connection to the launcher"), std::string::npos) << *verdict;
}

TEST_F(LivenessFixture, AConnectionBackInTimeIsForgiven) {
  transport.link = {true, now};
  EXPECT_EQ(run_for(800ms), std::nullopt);
  transport.link = {true, std::nullopt};
  EXPECT_EQ(run_for(100ms), std::nullopt);
  transport.link = {true, now};  // a new outage counts from its own start
  EXPECT_EQ(run_for(800ms), std::nullopt);
}

// The agent itself was stopped (the whole job suspended) or starved: that
// gap is nobody's fault.
TEST_F(LivenessFixture, TimeTheAgentWasStoppedDoesNotCount) {
  transport.link = {true, now};
  EXPECT_EQ(run_for(500ms), std::nullopt);
  now += 60s;  // one tick a minute later
  EXPECT_EQ(run_for(400ms), std::nullopt);
  EXPECT_TRUE(run_for(300ms));
}

TEST_F(LivenessFixture, ALauncherNeverReachedGetsAsLongAsTheJoin) {
  transport.link = {false, now};
  EXPECT_EQ(run_for(25s), std::nullopt);
  auto verdict = run_for(6s);
  ASSERT_TRUE(verdict);
  EXPECT_NE(verdict->find("could not connect to the launcher"), std::string::npos) << *verdict;
}

// A child that waits; stopped and continued by the test.
struct Child {
  pid_t pid = fork();
  Child() {
    if (pid == 0) {
      alarm(60);
      for (;;) pause();
    }
  }
  ~Child() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  void stop() const {
    kill(pid, SIGSTOP);
    int st;
    waitpid(pid, &st, WUNTRACED);
  }
  void resume() const {
    kill(pid, SIGCONT);
    int st;
    waitpid(pid, &st, WCONTINUED);
  }
};

std::size_t failures(const ScriptedTransport& t) {
  std::size_t n = 0;
  for (const auto& [to, m] : t.sent)
    if (to == wire::kLauncherId && std::holds_alternative<wire::NodeFailed>(m)) ++n;
  return n;
}

TEST_F(LivenessFixture, AProgramStoppedForTheLimitIsReportedOnce) {
  Child program;
  ASSERT_GT(program.pid, 0);
  EXPECT_EQ(run_for(2s, program.pid), std::nullopt);
  EXPECT_EQ(failures(transport), 0u) << "a running program was reported";
  program.stop();
  EXPECT_EQ(run_for(700ms, program.pid), std::nullopt);
  EXPECT_EQ(failures(transport), 0u) << "reported before the limit";
  EXPECT_EQ(run_for(2s, program.pid), std::nullopt) << "a stopped program does not end the agent by itself";
  ASSERT_EQ(failures(transport), 1u);
  const auto& f = std::get<wire::NodeFailed>(transport.sent.back().second);
  EXPECT_EQ(f.node, 2u);
  EXPECT_EQ(f.pid, program.pid);
  EXPECT_NE(f.cause.find("program (pid " + std::to_string(program.pid) + ") has been stopped for"), std::string::npos)
      << f.cause;
  EXPECT_EQ(run_for(2s, program.pid), std::nullopt);
  EXPECT_EQ(failures(transport), 1u) << "reported twice";
}

TEST_F(LivenessFixture, AProgramContinuedInTimeIsNotReported) {
  Child program;
  ASSERT_GT(program.pid, 0);
  program.stop();
  EXPECT_EQ(run_for(600ms, program.pid), std::nullopt);
  program.resume();
  EXPECT_EQ(run_for(2s, program.pid), std::nullopt);
  EXPECT_EQ(failures(transport), 0u);
}

}  // namespace
