#include "agent.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "channel_memory.h"
#include "channel_server.h"
#include "gpt/futex.h"
#include "log.h"
#include "process.h"

namespace gpt::node {
namespace {

constexpr auto kTick = std::chrono::milliseconds(20);
// How long the application gets to leave on its own when the job ends.
constexpr auto kStopGrace = std::chrono::seconds(2);
// How long we wait for the launcher's Shutdown after our program ended.
constexpr auto kOrphanLimit = std::chrono::seconds(10);

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace

Agent::Agent(AgentConfig config, net::MessageGate& gate, std::string data_endpoint,
             ConnectPeers connect_peers, const util::SignalPoller& signals)
    : config_(std::move(config)),
      gate_(gate),
      data_endpoint_(std::move(data_endpoint)),
      connect_peers_(std::move(connect_peers)),
      signals_(signals) {}

Agent::~Agent() {
  if (app_pid_ > 0) stop_application();
}

int Agent::run() {
  if (!gate_.send(wire::kLauncherId,
                  wire::Hello{config_.node, data_endpoint_, static_cast<std::int32_t>(getpid())})) {
    util::log_line("cannot reach the launcher");
    return 1;
  }
  while (!exit_code_) {
    if (auto sig = signals_.poll()) {
      if (*sig != SIGCHLD) {
        util::log_line(std::string("terminated by SIG") + sigabbrev_np(*sig));
        stop_application();
        return 128 + *sig;
      }
    }
    reap_application();
    if (phase_ == Phase::kAppEnded &&
        std::chrono::steady_clock::now() - app_ended_at_ > kOrphanLimit) {
      util::log_line("the launcher did not end the job after the program ended; exiting");
      return 1;
    }
    if (auto env = gate_.next(kTick)) handle(*env);
  }
  return *exit_code_;
}

void Agent::handle(const wire::Envelope& env) {
  std::visit(
      Overloaded{
          [&](const wire::PeerTable& table) {
            if (env.from != wire::kLauncherId || phase_ != Phase::kJoining) return;
            if (table.endpoints.size() != config_.node_count) {
              fail("peer table has " + std::to_string(table.endpoints.size()) +
                   " entries for a job of " + std::to_string(config_.node_count) + " nodes");
              return;
            }
            connect_peers_(table.endpoints);
            start_application();
          },
          [&](const wire::Shutdown& s) {
            if (env.from != wire::kLauncherId) return;
            if (config_.verbose) util::log_line("shutdown: " + s.reason);
            stop_application();
            exit_code_ = 0;
          },
          [&](const wire::Ping& p) {
            if (!gate_.send(env.from, wire::Pong{p.seq, p.pad}))
              util::log_line("cannot answer ping from node " + std::to_string(env.from));
          },
          [&](const auto& other) {
            util::log_line(std::string("ignored unexpected ") +
                           std::string(wire::name_of(wire::type_of(wire::Message(other)))) +
                           " from " +
                           (env.from == wire::kLauncherId ? std::string("launcher")
                                                          : "node " + std::to_string(env.from)));
          },
      },
      env.body);
}

void Agent::start_application() {
  channel_ = std::make_unique<ChannelMemory>(config_.node, config_.node_count);
  server_ = std::make_unique<ChannelServer>(channel_->layout(), serve_builtin);

  util::SpawnOptions options;
  options.env = {"GPT_CHANNEL_FD=" + std::to_string(channel_->fd()),
                 "GPT_NODE_ID=" + std::to_string(config_.node),
                 "GPT_NODE_COUNT=" + std::to_string(config_.node_count)};
  options.keep_fd = channel_->fd();
  options.no_aslr = true;
  options.parent_death_signal = SIGKILL;
  options.stdin_null = config_.node != 0;
  util::SpawnResult r = util::spawn(config_.program_argv, options);
  if (r.pid < 0) {
    fail(r.error);
    return;
  }
  app_pid_ = r.pid;
  phase_ = Phase::kRunning;
  if (!gate_.send(wire::kLauncherId, wire::AppStarted{config_.node, app_pid_}))
    util::log_line("cannot reach the launcher");
}

void Agent::reap_application() {
  if (app_pid_ <= 0) return;
  int status = 0;
  pid_t r = waitpid(app_pid_, &status, WNOHANG);
  if (r != app_pid_) return;
  pid_t pid = app_pid_;
  app_pid_ = -1;
  phase_ = Phase::kAppEnded;
  app_ended_at_ = std::chrono::steady_clock::now();
  bool sent;
  if (config_.node == 0) {
    sent = gate_.send(wire::kLauncherId, wire::MainExited{status});
  } else {
    std::string cause = "program (pid " + std::to_string(pid) + ") " +
                        util::describe_wait_status(status) + " while the job was running";
    sent = gate_.send(wire::kLauncherId,
                      wire::NodeFailed{config_.node, static_cast<std::int32_t>(pid), cause});
  }
  if (!sent) util::log_line("cannot reach the launcher");
}

void Agent::stop_application() {
  if (app_pid_ <= 0) return;
  if (channel_) {
    channel_->layout().header.shutdown.store(1, std::memory_order_release);
    futex::wake_all(&channel_->layout().header.shutdown);
  }
  // Node 0 runs main and does not watch the shutdown word: ask it to stop.
  if (config_.node == 0) kill(app_pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(app_pid_, &status, WNOHANG) == app_pid_) {
      app_pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  util::log_line("program (pid " + std::to_string(app_pid_) + ") did not stop within 2 s; killing it");
  kill(app_pid_, SIGKILL);
  waitpid(app_pid_, &status, 0);
  app_pid_ = -1;
}

void Agent::fail(const std::string& cause) {
  util::log_line(cause);
  if (!gate_.send(wire::kLauncherId,
                  wire::NodeFailed{config_.node, static_cast<std::int32_t>(getpid()), cause}))
    util::log_line("cannot reach the launcher");
  phase_ = Phase::kAppEnded;
  app_ended_at_ = std::chrono::steady_clock::now();
}

}  // namespace gpt::node
