// One job from the launcher's point of view: wait until every agent said
// Hello, hand out the peer table, then watch until main ends, a node fails
// or stops answering the heartbeat, the time limit passes or a signal
// arrives; then end every node.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "heartbeat.h"
#include "launch_options.h"
#include "message_gate.h"
#include "node_processes.h"
#include "signals.h"

namespace gpt::launch {

class Job {
 public:
  Job(const LaunchOptions& options, net::MessageGate& gate, Agents& agents,
      const util::SignalPoller& signals);

  // Returns the launcher's exit status: main's, 128+signal, 124 on timeout,
  // or non-zero when a node failed.
  [[nodiscard]] int run();

 private:
  void handle(const wire::Envelope& env);
  void on_agent_exit(const AgentExit& e);
  // Handles what has already arrived, without waiting: an agent's last
  // messages (main's exit status) come before its exit is acted on.
  void drain_messages();
  void on_silence(const Heartbeat::Silence& s);
  void end(int status, const std::string& why);
  void shutdown_nodes(const std::string& reason);

  const LaunchOptions& options_;
  net::MessageGate& gate_;
  Agents& agents_;
  const util::SignalPoller& signals_;

  std::vector<std::string> endpoints_;  // per node, "" until Hello
  std::uint32_t hellos_ = 0;
  std::uint32_t started_ = 0;
  // SPMD: the nodes whose main has returned, and node 0's wait status; the
  // job ends when every main has returned (a worker may still print).
  std::vector<bool> main_returned_;
  std::uint32_t mains_returned_ = 0;
  int origin_status_ = 0;
  std::optional<int> result_;
  std::chrono::steady_clock::time_point began_;
  // When joining began, moved on by the time the launcher was stopped.
  std::chrono::steady_clock::time_point join_began_;
  Heartbeat heartbeat_;
  std::uint64_t heartbeats_ = 0;
  std::vector<std::int32_t> program_pids_;  // per node, from AppStarted (0: not yet)
  std::optional<std::uint32_t> silent_node_;
  std::vector<std::string> profiles_;  // --profile: each node's ProfileReport
  std::uint32_t profiles_received_ = 0;
  void collect_profiles();  // ended the job by not answering
};

}  // namespace gpt::launch
