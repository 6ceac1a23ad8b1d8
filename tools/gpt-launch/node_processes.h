// The agents of a job running on this machine: started, watched and, at the
// end, stopped by the launcher.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "curve_keys.h"
#include "launch_options.h"

namespace gpt::launch {

struct AgentExit {
  std::uint32_t node;
  pid_t pid;
  int wait_status;
};

class LocalAgents {
 public:
  LocalAgents() = default;
  ~LocalAgents();  // kills and reaps whatever is still running
  LocalAgents(const LocalAgents&) = delete;
  LocalAgents& operator=(const LocalAgents&) = delete;

  // Starts one gpt-node per node, each given the job's keys through a pipe
  // (none with --insecure). Returns an error message on failure.
  [[nodiscard]] std::optional<std::string> start(const LaunchOptions& options,
                                                 const std::string& control_endpoint,
                                                 const std::optional<net::CurveKeys>& keys);
  // Reaps agents that ended, without waiting.
  [[nodiscard]] std::vector<AgentExit> reap();
  // Waits up to `grace` for every agent to end, then kills the rest.
  void stop_all(std::chrono::milliseconds grace);
  [[nodiscard]] bool any_running() const;
  [[nodiscard]] pid_t pid_of(std::uint32_t node) const { return pids_.at(node); }

 private:
  std::vector<pid_t> pids_;  // -1 once reaped
};

}  // namespace gpt::launch
