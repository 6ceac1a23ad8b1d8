// The agents of a job, one per node: started here, or on other hosts
// through the remote shell (GPT_RSH, default ssh); watched and, at the end,
// stopped by the launcher. Each gets the job's keys through its stdin or an
// inherited pipe, never on its command line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "curve_keys.h"
#include "launch_options.h"

namespace gpt::launch {

struct AgentExit {
  std::uint32_t node;
  pid_t pid;
  int wait_status;
};

class Agents {
 public:
  Agents() = default;
  ~Agents();  // kills and reaps whatever is still running
  Agents(const Agents&) = delete;
  Agents& operator=(const Agents&) = delete;

  // Starts one gpt-node per node (options.hosts[node], or here when there
  // are no hosts). Returns an error message on failure.
  [[nodiscard]] std::optional<std::string> start(const LaunchOptions& options,
                                                 const std::string& control_endpoint,
                                                 const std::optional<net::CurveKeys>& keys);
  // Reaps agents that ended, without waiting.
  [[nodiscard]] std::vector<AgentExit> reap();
  // Waits up to `grace` for every agent to end, then kills the rest.
  void stop_all(std::chrono::milliseconds grace);
  [[nodiscard]] bool any_running() const;
  [[nodiscard]] pid_t pid_of(std::uint32_t node) const { return pids_.at(node); }
  // Whether node's agent is our child on this machine (not behind a remote
  // shell, nor another task of an allocation).
  [[nodiscard]] bool is_local(std::uint32_t node) const {
    return node < pids_.size() && (node >= hosts_.size() || hosts_[node].empty());
  }
  // SIGKILL to the node's process (its agent, or its remote shell), now;
  // stop_all reaps it.
  void kill_now(std::uint32_t node);
  // "node 2" or "node 2 (host h3)", for messages.
  [[nodiscard]] std::string name_of(std::uint32_t node) const;
  // Why an agent's process ended, in words (a remote shell's 127 means the
  // agent is not installed at the same path on that host).
  [[nodiscard]] std::string describe_exit(const AgentExit& e) const;

 private:
  std::vector<pid_t> pids_;  // -1 once reaped
  std::vector<std::string> hosts_;  // "" for this machine
  std::string agent_path_;
  std::thread stdin_pump_;  // node 0 on another host: our stdin goes to it
};

}  // namespace gpt::launch
