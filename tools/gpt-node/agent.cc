#include "agent.h"
#include "preload_env.h"

#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <utility>

#include "channel_memory.h"
#include "channel_server.h"
#include "gpt/futex.h"
#include "gpt/region.h"
#include "heap_memory.h"
#include "liveness.h"
#include "node_services.h"
#include "log.h"
#include "overloaded.h"
#include "process.h"
#include "profile_dump.h"
#include "gpt/channel_client.h"

namespace gpt::node {
namespace {

constexpr auto kTick = std::chrono::milliseconds(20);
// How long the application gets to leave on its own when the job ends.
constexpr auto kStopGrace = std::chrono::seconds(2);
// How long we wait for the launcher's Shutdown after our program ended.
constexpr auto kOrphanLimit = std::chrono::seconds(10);

}  // namespace

Agent::Agent(AgentConfig config, net::MessageGate& gate, std::string data_endpoint,
             TransportHooks hooks, const util::SignalPoller& signals)
    : config_(std::move(config)),
      gate_(gate),
      data_endpoint_(std::move(data_endpoint)),
      hooks_(std::move(hooks)),
      signals_(signals) {
  channel_ = std::make_unique<ChannelMemory>(config_.node, config_.node_count);
  region::Geometry geometry;
  geometry.heap_bytes = config_.heap_bytes;
  geometry.node_count = config_.node_count;
  heap_ = std::make_unique<HeapMemory>(geometry);
  doorbell_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (doorbell_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");

  auto& h = channel_->layout().header;
  h.region_base = geometry.base;
  h.heap_bytes = geometry.heap_bytes;
  h.heap_fd = heap_->fd();
  h.doorbell_fd = doorbell_fd_;
  h.spmd = config_.spmd ? 1 : 0;
  h.wait_spin_us = config_.wait_spin_us;
  h.trace_faults = config_.trace_faults ? 1 : 0;
  channel_->layout().profile.enabled.store(config_.profile ? 1 : 0, std::memory_order_release);

  server_ = std::make_unique<ChannelServer>(
      channel_->layout(), [this](std::uint32_t slot, channel::Op op, std::span<const unsigned char> req,
                                 std::span<unsigned char> reply) -> std::optional<Reply> {
        return services_->table().serve(slot, op, req, reply);
      });
  net::RemoteMemory* remote = nullptr;
  if (hooks_.expose_heap)
    if (auto exposed = hooks_.expose_heap(*heap_)) {
      remote = exposed->remote;
      data_endpoint_ = std::move(exposed->endpoint);
    }
  services_ = std::make_unique<NodeServices>(
      NodeContext{config_.node, config_.node_count, *heap_, gate_, *server_, remote, &app_pid_});
  hooks_.set_wakeup(doorbell_fd_, server_.get());
  liveness_ = std::make_unique<Liveness>(config_.node, gate_);
}

Agent::~Agent() {
  if (app_pid_ > 0) stop_application();
  if (doorbell_fd_ >= 0) close(doorbell_fd_);
}

int Agent::run() {
  if (!gate_.send(wire::kLauncherId,
                  wire::Hello{config_.node, data_endpoint_, static_cast<std::int32_t>(getpid())})) {
    util::log_line("cannot reach the launcher");
    return 1;
  }
  auto next_housekeeping = std::chrono::steady_clock::now();
  while (!exit_code_) {
    // Signals and the child's state are checked once per tick, not per
    // message: two system calls less on every page fault we serve.
    if (auto now = std::chrono::steady_clock::now(); now >= next_housekeeping) {
      next_housekeeping = now + kTick;
      if (auto sig = signals_.poll()) {
        if (*sig != SIGCHLD) {
          util::log_line(std::string("terminated by SIG") + sigabbrev_np(*sig));
          stop_application();
          return 128 + *sig;
        }
      }
      reap_application();
      services_->table().expire(now);
      if (auto why = liveness_->check(now, app_pid_)) {
        util::log_line(*why);
        stop_application();
        return 1;
      }
      if (phase_ == Phase::kAppEnded && expect_shutdown_ &&
          liveness_->awake_now() - app_ended_at_ > kOrphanLimit) {
        util::log_line("the launcher did not end the job after the program ended; exiting");
        return 1;
      }
    }
    serve_channel();
    // Timed waits end at their deadline, not at the next tick.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kTick);
    if (auto first = services_->table().next_deadline()) {
      const auto now = std::chrono::steady_clock::now();
      if (*first <= now) {
        services_->table().expire(now);
        continue;
      }
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(*first - now));
    }
    if (auto env = gate_.next(wait)) handle(*env);
  }
  return *exit_code_;
}

void Agent::serve_channel() {
  std::uint64_t count;
  while (read(doorbell_fd_, &count, sizeof count) > 0) {
  }
  server_->serve_pending();
  services_->table().poll();
}

void Agent::handle(const wire::Envelope& env) {
  if (env.from == wire::kLauncherId && liveness_->on_launcher_message(env)) return;
  if (env.from != wire::kLauncherId) {
    if (phase_ == Phase::kJoining) {
      early_.push_back(env);
      return;
    }
    if (services_->table().deliver(env)) return;
  }
  std::visit(
      util::Overloaded{
          [&](const wire::PeerTable& table) {
            if (env.from != wire::kLauncherId || phase_ != Phase::kJoining) return;
            if (table.endpoints.size() != config_.node_count) {
              fail("peer table has " + std::to_string(table.endpoints.size()) +
                   " entries for a job of " + std::to_string(config_.node_count) + " nodes");
              return;
            }
            hooks_.connect_peers(table.endpoints);
            start_application();
            for (const auto& e : std::exchange(early_, {})) handle(e);
          },
          [&](const wire::Shutdown& s) {
            if (env.from != wire::kLauncherId) return;
            if (config_.verbose) util::log_line("shutdown: " + s.reason);
            send_profile();
            stop_application();
            exit_code_ = 0;
          },
          [&](const wire::Ping& p) {
            if (env.from == wire::kLauncherId) return;  // the launcher's heartbeat
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
  util::SpawnOptions options;
  options.env = {"GPT_CHANNEL_FD=" + std::to_string(channel_->fd()),
                 "GPT_NODE_ID=" + std::to_string(config_.node),
                 "GPT_NODE_COUNT=" + std::to_string(config_.node_count)};
  std::string preload_error;
  for (auto& entry : preload_environment(preload_error)) options.env.push_back(std::move(entry));
  if (!preload_error.empty()) {
    fail(preload_error);
    return;
  }
  options.keep_fds = {channel_->fd(), heap_->fd(), doorbell_fd_};
  options.no_aslr = true;
  options.parent_death_signal = SIGKILL;
  options.stdin_null = config_.node != 0;
  app_started_ = TickClock::start_now();
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
  end_leftover_processes();
  phase_ = Phase::kAppEnded;
  app_ended_at_ = liveness_->awake_now();
  if (config_.stats) print_stats();
  bool sent = true;
  expect_shutdown_ = true;
  if (config_.node == 0 || (config_.spmd && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    // In SPMD mode the job ends once every node's main has returned; until
    // then this agent goes on serving its home pages (however long the
    // others take: the launcher's heartbeat says the job is alive).
    sent = gate_.send(wire::kLauncherId, wire::MainExited{status});
    expect_shutdown_ = !config_.spmd;
  } else {
    std::string cause = "program (pid " + std::to_string(pid) + ") " +
                        util::describe_wait_status(status) + " while the job was running";
    sent = gate_.send(wire::kLauncherId,
                      wire::NodeFailed{config_.node, static_cast<std::int32_t>(pid), cause, status});
  }
  if (!sent) util::log_line("cannot reach the launcher");
}

void Agent::stop_application() {
  if (app_pid_ <= 0) return;
  channel_->layout().header.shutdown.store(1, std::memory_order_release);
  futex::wake_all(&channel_->layout().header.shutdown);
  // The service thread sleeps on the downcall bell: ring it too.
  channel_->layout().downcalls.bell.fetch_add(1, std::memory_order_release);
  futex::wake_all(&channel_->layout().downcalls.bell);
  // Node 0 runs main and does not watch the shutdown word: ask it to stop.
  if (config_.node == 0 || config_.spmd) kill(app_pid_, SIGTERM);
  // A stopped program (SIGSTOP) can do neither until it runs again.
  if (util::process_state(app_pid_) == 'T') kill(app_pid_, SIGCONT);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(app_pid_, &status, WNOHANG) == app_pid_) {
      app_pid_ = -1;
      end_leftover_processes();
      if (config_.stats) print_stats();
      return;
    }
    // Keep serving: a program that is leaving may still release its pages.
    serve_channel();
    if (auto env = gate_.next(std::chrono::milliseconds(5)))
      if (env->from != wire::kLauncherId) (void)services_->table().deliver(*env);
  }
  util::log_line("program (pid " + std::to_string(app_pid_) +
                 ") did not stop within 2 s; killing it");
  kill(app_pid_, SIGKILL);
  waitpid(app_pid_, &status, 0);
  app_pid_ = -1;
  end_leftover_processes();
}

// A job leaves no process behind: what the program forked and did not wait
// for ends with it, as under a batch system's job.
void Agent::end_leftover_processes() {
  if (const int n = util::kill_remaining_children(); n > 0)
    util::log_line("ended " + std::to_string(n) + " process" + (n == 1 ? "" : "es") +
                   " the program had started and left running (its fork children)");
}

// The program's own counters (kept in the channel header), then each
// service's.
void Agent::print_stats() const { util::log_line("stats: " + collect_stats().line()); }

Stats Agent::collect_stats() const {
  const auto& h = channel_->layout().header;
  Stats stats;
  stats.add("read_faults", h.read_faults.load());
  stats.add("write_faults", h.write_faults.load());
  stats.add("copies_installed", h.copies_installed.load());
  stats.add("invalidations", h.invalidations.load());
  stats.add("releases", h.releases.load());
  stats.add("sole_pages_kept", h.sole_pages_kept.load());
  stats.add("pages_written_ahead", h.pages_written_ahead.load());
  stats.add("acquires", h.acquires.load());
  stats.add("remote_frees_sent", h.remote_frees_sent.load());
  stats.add("remote_frees_received", h.remote_frees_received.load());
  if (const std::uint64_t traced = h.traced_faults.load()) {
    // The average of each hop of a traced fault (channel.h, fault_hop_ns).
    static constexpr const char* kHops[] = {"program_to_agent", "agent_out", "wire_and_home",
                                            "agent_in",         "agent_to_program", "mapping"};
    stats.add("traced_faults", traced);
    for (std::size_t i = 0; i < std::size(kHops); ++i)
      stats.add(std::string("fault_") + kHops[i] + "_ns", h.fault_hop_ns[i].load() / traced);
  }
  services_->table().report(stats);
  return stats;
}

// The node's wait records and counters, to the launcher (gpt-launch
// --profile), once: when the launcher ends the job.
void Agent::send_profile() {
  if (!config_.profile || profile_sent_) return;
  profile_sent_ = true;
  std::vector<std::pair<std::string, std::uint64_t>> counters;
  const std::string line = collect_stats().line();
  for (std::size_t at = 0; at < line.size();) {
    std::size_t end = line.find(' ', at);
    if (end == std::string::npos) end = line.size();
    const std::string item = line.substr(at, end - at);
    if (auto eq = item.find('='); eq != std::string::npos)
      counters.emplace_back(item.substr(0, eq), std::strtoull(item.c_str() + eq + 1, nullptr, 10));
    at = end + 1;
  }
  TickClock clock = app_started_;
  clock.end_now();
  if (!gate_.send(wire::kLauncherId,
                  wire::ProfileReport{profile_json(config_.node, channel_->layout().profile, clock, counters)}))
    util::log_line("cannot send the profile to the launcher");
}

void Agent::fail(const std::string& cause) {
  util::log_line(cause);
  if (!gate_.send(wire::kLauncherId,
                  wire::NodeFailed{config_.node, static_cast<std::int32_t>(getpid()), cause}))
    util::log_line("cannot reach the launcher");
  phase_ = Phase::kAppEnded;
  expect_shutdown_ = true;
  app_ended_at_ = liveness_->awake_now();
}

}  // namespace gpt::node
