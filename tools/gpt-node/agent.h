// The node agent: joins the job through the launcher, connects to its peers,
// starts the application process with the channel, serves peers and the
// application, and reports the application's end (or death) to the launcher.
//
// The agent's event loop is single-threaded (the channel server has its own
// thread). It ticks every kTick to poll signals and reap the application, so
// a dying program is noticed within a tick.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "message_gate.h"
#include "signals.h"
#include "wire.h"

namespace gpt::node {

class ChannelMemory;
class ChannelServer;

struct AgentConfig {
  wire::NodeId node = 0;
  std::uint32_t node_count = 1;
  std::vector<std::string> program_argv;  // argv[0] is an absolute path
  bool verbose = false;
};

class Agent {
 public:
  using ConnectPeers = std::function<void(const std::vector<std::string>& endpoints)>;

  Agent(AgentConfig config, net::MessageGate& gate, std::string data_endpoint,
        ConnectPeers connect_peers, const util::SignalPoller& signals);
  ~Agent();

  // Runs until the launcher ends the job (returns 0), a signal ends the agent
  // (128+signal) or the launcher goes away (1).
  [[nodiscard]] int run();

 private:
  enum class Phase { kJoining, kRunning, kAppEnded };

  void handle(const wire::Envelope& env);
  void start_application();
  void reap_application();
  void stop_application();
  void fail(const std::string& cause);

  AgentConfig config_;
  net::MessageGate& gate_;
  std::string data_endpoint_;
  ConnectPeers connect_peers_;
  const util::SignalPoller& signals_;

  Phase phase_ = Phase::kJoining;
  std::optional<int> exit_code_;
  pid_t app_pid_ = -1;
  std::chrono::steady_clock::time_point app_ended_at_;
  std::unique_ptr<ChannelMemory> channel_;
  std::unique_ptr<ChannelServer> server_;
};

}  // namespace gpt::node
