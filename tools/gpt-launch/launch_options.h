// What the user asked gpt-launch for, after parsing and checking.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node_timeout.h"

namespace gpt::launch {

struct LaunchOptions {
  std::uint32_t nodes = 1;
  std::optional<double> timeout_seconds;  // whole-job limit
  // A node that has not answered the heartbeat for this long ends the job
  // (GPT_NODE_TIMEOUT, node_timeout.h).
  std::chrono::milliseconds node_timeout = util::kDefaultNodeTimeout;
  bool verbose = false;
  bool spmd = false;  // every node runs main
  std::string bind_host = "127.0.0.1";
  bool insecure = false;  // plain TCP: no CURVE, no sealed frames (benchmarks only)
  // The agents' data plane: "ucx" (UCX active messages over TCP, the
  // faster one measured: docs/user-guide.md) or "zmq" (ZeroMQ); the control
  // plane is ZeroMQ either way (GPT_FABRIC).
  std::string fabric = "ucx";
  int port_base = 0;      // 0: ports the OS picks; else control P, node K P+1+K
  std::vector<std::string> hosts;  // per node; empty: every node on this machine
  bool only_node0 = false;  // in an allocation: the other nodes are other tasks' agents
  std::string launcher_address;  // in an allocation: how the agents reach us
  std::string profile_path;  // --profile: the HTML report to write ("" : no recording)
  std::vector<std::string> program_argv;  // argv[0] resolved to an absolute path
};

}  // namespace gpt::launch
