#include "node_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "process.h"

namespace gpt::launch {

LocalAgents::~LocalAgents() { stop_all(std::chrono::milliseconds(0)); }

namespace {

// A pipe that already holds the keys; the agent inherits its read end.
struct KeyPipe {
  int read_end = -1;
  ~KeyPipe() {
    if (read_end >= 0) close(read_end);
  }
};

std::optional<std::string> fill(KeyPipe& pipe_out, const net::CurveKeys& keys) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  const std::string text = net::encode_curve_keys(keys);
  ssize_t w = write(fds[1], text.data(), text.size());  // well under a pipe's buffer
  close(fds[1]);
  if (w != static_cast<ssize_t>(text.size())) {
    close(fds[0]);
    return std::string("cannot hand the job's keys over");
  }
  pipe_out.read_end = fds[0];
  return std::nullopt;
}

}  // namespace

std::optional<std::string> LocalAgents::start(const LaunchOptions& options,
                                              const std::string& control_endpoint,
                                              const std::optional<net::CurveKeys>& keys) {
  const std::string agent_path = util::self_directory() + "/gpt-node";
  for (std::uint32_t node = 0; node < options.nodes; ++node) {
    std::vector<std::string> argv = {agent_path,
                                     "--node", std::to_string(node),
                                     "--nodes", std::to_string(options.nodes),
                                     "--launcher", control_endpoint,
                                     "--bind", options.bind_host};
    if (options.verbose) argv.push_back("--verbose");
    if (options.spmd) argv.push_back("--spmd");
    if (!keys) argv.push_back("--insecure");
    argv.push_back("--");
    argv.insert(argv.end(), options.program_argv.begin(), options.program_argv.end());
    util::SpawnOptions spawn_options;
    spawn_options.parent_death_signal = SIGKILL;
    spawn_options.stdin_null = node != 0;  // stdin belongs to the origin
    KeyPipe key_pipe;
    if (keys) {
      if (auto err = fill(key_pipe, *keys)) return "node " + std::to_string(node) + ": " + *err;
      spawn_options.keep_fds.push_back(key_pipe.read_end);
      spawn_options.env.push_back("GPT_KEYS_FD=" + std::to_string(key_pipe.read_end));
    }
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
