#include "node_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "hosts.h"
#include "process.h"

extern char** environ;

namespace gpt::launch {
namespace {

// A pipe whose read end a child gets (as stdin or an inherited fd), holding
// the job's keys; the write end stays open only to pump our stdin after them.
struct KeyPipe {
  int read_end = -1;
  int write_end = -1;
  ~KeyPipe() {
    if (read_end >= 0) close(read_end);
    if (write_end >= 0) close(write_end);
  }
};

std::optional<std::string> fill(KeyPipe& p, const std::optional<net::CurveKeys>& keys, bool keep_writing) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  p.read_end = fds[0];
  p.write_end = fds[1];
  if (keys) {
    const std::string text = net::encode_curve_keys(*keys);
    if (write(p.write_end, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return std::string("cannot hand the job's keys over");
  }
  if (!keep_writing) {
    close(p.write_end);
    p.write_end = -1;
  }
  return std::nullopt;
}

// The GPT_* settings of this launcher, for agents the remote shell starts
// (ssh passes no environment): "env NAME=value ...".
std::vector<std::string> forwarded_environment() {
  std::vector<std::string> words;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (entry.rfind("GPT_", 0) != 0 || entry.rfind("GPT_RSH=", 0) == 0 || entry.rfind("GPT_KEYS", 0) == 0)
      continue;
    words.push_back(entry);
  }
  if (!words.empty()) words.insert(words.begin(), "env");
  return words;
}

}  // namespace

Agents::~Agents() {
  stop_all(std::chrono::milliseconds(0));
  if (stdin_pump_.joinable()) stdin_pump_.detach();  // blocked in read(0): the process ends with it
}

std::optional<std::string> Agents::start(const LaunchOptions& options, const std::string& control_endpoint,
                                         const std::optional<net::CurveKeys>& keys) {
  agent_path_ = util::self_directory() + "/gpt-node";
  hosts_ = options.hosts.empty() ? std::vector<std::string>(options.nodes) : options.hosts;
  const std::uint32_t ours = options.only_node0 ? 1 : options.nodes;
  for (std::uint32_t node = 0; node < ours; ++node) {
    const std::string& host = hosts_[node];
    const bool remote = !host.empty();
    std::vector<std::string> args = {agent_path_, "--node", std::to_string(node), "--nodes",
                                     std::to_string(options.nodes), "--launcher", control_endpoint};
    // Here the agents bind where the launcher does; elsewhere each finds its
    // own address on the route to the launcher.
    if (!remote && !options.only_node0) args.insert(args.end(), {"--bind", options.bind_host});
    if (options.port_base > 0) args.insert(args.end(), {"--port", std::to_string(options.port_base + 1 + node)});
    if (options.verbose) args.push_back("--verbose");
    if (options.spmd) args.push_back("--spmd");
    args.insert(args.end(), {"--fabric", options.fabric});
    if (!keys) args.push_back("--insecure");

    util::SpawnOptions spawn_options;
    spawn_options.parent_death_signal = SIGKILL;
    KeyPipe pipe;
    const bool pump_stdin = remote && node == 0;  // the origin's stdin travels after the keys
    if (auto err = fill(pipe, keys, pump_stdin)) return name_of(node) + ": " + *err;
    std::vector<std::string> argv;
    if (remote) {
      if (keys) args.insert(args.end(), {"--keys-fd", "0"});
      args.push_back("--");
      args.insert(args.end(), options.program_argv.begin(), options.program_argv.end());
      std::vector<std::string> words = forwarded_environment();
      words.insert(words.end(), args.begin(), args.end());
      std::string command;
      for (const auto& w : words) command += (command.empty() ? "" : " ") + shell_quote(w);
      argv = remote_shell();
      argv.push_back(host);
      argv.push_back(command);
      spawn_options.stdin_fd = pipe.read_end;
    } else {
      if (keys) {
        args.insert(args.end(), {"--keys-fd", std::to_string(pipe.read_end)});
        spawn_options.keep_fds.push_back(pipe.read_end);
      }
      args.push_back("--");
      args.insert(args.end(), options.program_argv.begin(), options.program_argv.end());
      argv = std::move(args);
      spawn_options.stdin_null = node != 0;  // stdin belongs to the origin
    }
    util::SpawnResult r = util::spawn(argv, spawn_options);
    if (r.pid < 0) return name_of(node) + ": " + r.error;
    pids_.push_back(r.pid);
    if (pump_stdin) {
      int to = pipe.write_end;
      pipe.write_end = -1;
      stdin_pump_ = std::thread([to] {
        char buf[4096];
        for (;;) {
          ssize_t n = read(0, buf, sizeof buf);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0 || write(to, buf, static_cast<std::size_t>(n)) != n) break;
        }
        close(to);
      });
    }
  }
  return std::nullopt;
}

std::string Agents::name_of(std::uint32_t node) const {
  std::string name = "node " + std::to_string(node);
  if (node < hosts_.size() && !hosts_[node].empty()) name += " (host " + hosts_[node] + ")";
  return name;
}

std::string Agents::describe_exit(const AgentExit& e) const {
  const bool remote = e.node < hosts_.size() && !hosts_[e.node].empty();
  if (remote && WIFEXITED(e.wait_status) && WEXITSTATUS(e.wait_status) == 127)
    return "could not start " + agent_path_ + " on " + hosts_[e.node] +
           " (gpthread must be installed at the same path on every host)";
  if (remote && WIFEXITED(e.wait_status) && WEXITSTATUS(e.wait_status) == 255)
    return "the remote shell could not reach " + hosts_[e.node];
  return std::string(remote ? "its remote shell" : "agent gpt-node") + " (pid " + std::to_string(e.pid) + ") " +
         util::describe_wait_status(e.wait_status);
}

std::vector<AgentExit> Agents::reap() {
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

void Agents::kill_now(std::uint32_t node) {
  if (node < pids_.size() && pids_[node] > 0) kill(pids_[node], SIGKILL);
}

bool Agents::any_running() const {
  for (pid_t p : pids_)
    if (p > 0) return true;
  return false;
}

void Agents::stop_all(std::chrono::milliseconds grace) {
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
