#include "node_processes.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "process.h"

namespace gpt::launch {

LocalAgents::~LocalAgents() { stop_all(std::chrono::milliseconds(0)); }

std::optional<std::string> LocalAgents::start(const LaunchOptions& options,
                                              const std::string& control_endpoint) {
  const std::string agent_path = util::self_directory() + "/gpt-node";
  for (std::uint32_t node = 0; node < options.nodes; ++node) {
    std::vector<std::string> argv = {agent_path,
                                     "--node", std::to_string(node),
                                     "--nodes", std::to_string(options.nodes),
                                     "--launcher", control_endpoint,
                                     "--bind", options.bind_host};
    if (options.verbose) argv.push_back("--verbose");
    if (options.spmd) argv.push_back("--spmd");
    argv.push_back("--");
    argv.insert(argv.end(), options.program_argv.begin(), options.program_argv.end());
    util::SpawnOptions spawn_options;
    spawn_options.parent_death_signal = SIGKILL;
    spawn_options.stdin_null = node != 0;  // stdin belongs to the origin
    util::SpawnResult r = util::spawn(argv, spawn_options);
    if (r.pid < 0) return "node " + std::to_string(node) + ": " + r.error;
    pids_.push_back(r.pid);
  }
  return std::nullopt;
}

std::vector<AgentExit> LocalAgents::reap() {
  std::vector<AgentExit> ended;
  for (std::uint32_t node = 0; node < pids_.size(); ++node) {
    if (pids_[node] <= 0) continue;
    int status = 0;
    if (waitpid(pids_[node], &status, WNOHANG) == pids_[node]) {
      ended.push_back({node, pids_[node], status});
      pids_[node] = -1;
    }
  }
  return ended;
}

bool LocalAgents::any_running() const {
  for (pid_t p : pids_)
    if (p > 0) return true;
  return false;
}

void LocalAgents::stop_all(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (any_running() && std::chrono::steady_clock::now() < deadline) {
    (void)reap();
    if (any_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (pid_t& p : pids_) {
    if (p <= 0) continue;
    kill(p, SIGKILL);
    int status;
    waitpid(p, &status, 0);
    p = -1;
  }
}

}  // namespace gpt::launch
