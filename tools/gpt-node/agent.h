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
#include "profile_dump.h"
#include "remote_memory.h"
#include "service.h"
#include "signals.h"
#include "wire.h"

namespace gpt::node {

class ChannelMemory;
class ChannelServer;
class HeapMemory;
class NodeServices;
class Liveness;

struct AgentConfig {
  wire::NodeId node = 0;
  std::uint32_t node_count = 1;
  std::vector<std::string> program_argv;  // argv[0] is an absolute path
  bool verbose = false;
  bool spmd = false;   // every node runs main (tests and SPMD programs)
  bool stats = false;  // print the node's counters when its program ends
  bool profile = false;  // record waits, sent to the launcher at the end (GPT_PROFILE)
  std::uint64_t heap_bytes = 0;  // the global heap (GPT_HEAP_SIZE)
  std::uint32_t wait_spin_us = 0;  // callers' spin before sleeping (GPT_SPIN_US)
  bool trace_faults = false;  // the program times its faults' hops (GPT_TRACE_FAULTS)
};

// What the agent needs from its transport beyond sending and receiving.
struct TransportHooks {
  std::function<void(const std::vector<std::string>& endpoints)> connect_peers;
  std::function<void(int fd, net::SpinDoorbell* bell)> set_wakeup;
  // Offers the node's memory to peers' one-sided reads (remote_memory.h)
  // before the Hello goes; returns what reads theirs and the endpoint to
  // announce (it carries the memory keys), or nothing when the data plane
  // does not read remote memory.
  struct Exposed {
    net::RemoteMemory* remote;
    std::string endpoint;
  };
  std::function<std::optional<Exposed>(const HeapMemory& heap)> expose_heap;
};

class Agent {
 public:
  Agent(AgentConfig config, net::MessageGate& gate, std::string data_endpoint,
        TransportHooks hooks, const util::SignalPoller& signals);
  ~Agent();

  // Runs until the launcher ends the job (returns 0), a signal ends the agent
  // (128+signal) or the launcher goes away (1).
  [[nodiscard]] int run();

 private:
  enum class Phase { kJoining, kRunning, kAppEnded };

  void handle(const wire::Envelope& env);
  void serve_channel();
  void print_stats() const;
  [[nodiscard]] Stats collect_stats() const;
  void send_profile();
  void start_application();
  void reap_application();
  void stop_application();
  void end_leftover_processes();
  void fail(const std::string& cause);

  AgentConfig config_;
  net::MessageGate& gate_;
  std::string data_endpoint_;
  TransportHooks hooks_;
  const util::SignalPoller& signals_;

  Phase phase_ = Phase::kJoining;
  std::unique_ptr<Liveness> liveness_;  // the heartbeat, the program's stops, the launcher link
  std::optional<int> exit_code_;
  TickClock app_started_;  // the origin of the profile's times, and their rate
  bool profile_sent_ = false;
  pid_t app_pid_ = -1;
  std::chrono::steady_clock::time_point app_ended_at_;  // on the liveness clock (awake time)
  bool expect_shutdown_ = true;  // the launcher must end the job soon
  int doorbell_fd_ = -1;
  std::unique_ptr<ChannelMemory> channel_;
  std::unique_ptr<HeapMemory> heap_;
  std::unique_ptr<ChannelServer> server_;
  std::unique_ptr<NodeServices> services_;
  // Peers' messages that arrived before the peer table (a fast peer).
  std::vector<wire::Envelope> early_;
};

}  // namespace gpt::node
