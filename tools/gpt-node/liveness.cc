#include "liveness.h"

#include <cstdio>

#include "log.h"
#include "node_timeout.h"
#include "process.h"

namespace gpt::node {
namespace {

// Far above the agent's 20 ms ticks, far below any limit.
constexpr auto kStall = std::chrono::milliseconds(500);
// Reading /proc costs a few µs: four times a second is plenty.
constexpr auto kProgramLook = std::chrono::milliseconds(250);
// Before the first connection to the launcher: as long as the launcher
// waits for every agent to join.
constexpr auto kJoinLimit = std::chrono::seconds(30);

std::string seconds_text(Liveness::Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

}  // namespace

Liveness::Liveness(wire::NodeId node, net::MessageGate& gate) : node_(node), gate_(gate) {
  std::string error;
  auto limit = util::node_timeout_from_env(error);
  if (!limit) util::log_line("warning: " + error + "; using " + seconds_text(util::kDefaultNodeTimeout));
  limit_ = limit.value_or(util::kDefaultNodeTimeout);
}

bool Liveness::on_launcher_message(const wire::Envelope& env) {
  const auto* ping = std::get_if<wire::Ping>(&env.body);
  if (!ping) return false;
  if (!gate_.send(wire::kLauncherId, wire::Pong{ping->seq, {}}))
    util::log_line("cannot answer the launcher's heartbeat");
  return true;
}

std::optional<std::string> Liveness::check(Clock::time_point now, pid_t program) {
  if (last_check_ && now - *last_check_ > kStall) asleep_ += now - *last_check_;
  last_check_ = now;
  const Clock::time_point awake = now - asleep_;
  if (now >= next_program_look_) {
    next_program_look_ = now + kProgramLook;
    watch_program(awake, program);
  }

  const net::Transport::LauncherLink link = gate_.transport().launcher_link();
  if (!link.down_since) {
    outage_.reset();
    return std::nullopt;
  }
  if (outage_ != link.down_since) {
    outage_ = link.down_since;
    outage_seen_ = awake;
  }
  const auto limit = link.ever_up ? Clock::duration(limit_) : Clock::duration(kJoinLimit);
  if (awake - outage_seen_ <= limit) return std::nullopt;
  if (!link.ever_up)
    return "could not connect to the launcher within " + seconds_text(limit) + "; ending this node";
  return "lost the connection to the launcher " + seconds_text(awake - outage_seen_) +
         " ago (it ended, or its host is unreachable); ending this node";
}

// Whether the program is stopped, from its state in /proc: the kernel sets
// 'T' while a stop signal holds it (SIGSTOP, or SIGTSTP from a terminal), and
// we are its parent, so the pid is ours until we reap it. That needs nothing
// from the runtime, which cannot answer anything while it is stopped anyway.
// The main thread's state stands for the process: a stop holds every thread.
// 't' (a debugger's stop) is left alone: someone is looking at it.
void Liveness::watch_program(Clock::time_point awake, pid_t program) {
  const bool stopped = program > 0 && util::process_state(program) == 'T';
  if (!stopped) {
    stopped_since_.reset();
    stop_reported_ = false;
    return;
  }
  if (!stopped_since_) stopped_since_ = awake;
  if (stop_reported_ || awake - *stopped_since_ <= limit_) return;
  stop_reported_ = true;
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", std::chrono::duration<double>(limit_).count());
  const std::string cause = "program (pid " + std::to_string(program) + ") has been stopped for " +
                            seconds_text(awake - *stopped_since_) + " (SIGSTOP or SIGTSTP; --node-timeout " + limit + ")";
  // The launcher says it, naming the node; we only if it cannot.
  if (!gate_.send(wire::kLauncherId, wire::NodeFailed{node_, static_cast<std::int32_t>(program), cause, 0}))
    util::log_line(cause + "; cannot reach the launcher");
}

}  // namespace gpt::node
