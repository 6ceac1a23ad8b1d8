#include "job.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "overloaded.h"
#include "process.h"
#include "profile_report.h"

namespace gpt::launch {
namespace {

constexpr auto kTick = std::chrono::milliseconds(20);
constexpr auto kJoinLimit = std::chrono::seconds(30);
constexpr auto kShutdownGrace = std::chrono::milliseconds(3000);

std::string node_name(std::uint32_t node) { return "node " + std::to_string(node); }

std::string seconds_text(std::chrono::steady_clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

}  // namespace

Job::Job(const LaunchOptions& options, net::MessageGate& gate, Agents& agents,
         const util::SignalPoller& signals)
    : options_(options),
      gate_(gate),
      agents_(agents),
      signals_(signals),
      endpoints_(options.nodes),
      heartbeat_(options.nodes, options.node_timeout),
      program_pids_(options.nodes),
      profiles_(options.nodes) {}

int Job::run() {
  began_ = join_began_ = std::chrono::steady_clock::now();
  while (!result_) {
    const auto now = std::chrono::steady_clock::now();
    // Stopped (Ctrl-Z, SIGSTOP) or starved: that time is nobody's fault.
    join_began_ += heartbeat_.turn(now);
    if (auto sig = signals_.poll(); sig && *sig != SIGCHLD) {
      end(128 + *sig, std::string("interrupted by SIG") + sigabbrev_np(*sig) +
                          "; ending all nodes");
      break;
    }
    if (auto ended = agents_.reap(); !ended.empty()) {
      drain_messages();
      for (const AgentExit& e : ended) {
        if (result_) break;
        on_agent_exit(e);
      }
    }
    if (result_) break;
    auto elapsed = now - began_;
    if (options_.timeout_seconds &&
        elapsed > std::chrono::duration<double>(*options_.timeout_seconds)) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", *options_.timeout_seconds);
      end(124, std::string("job timed out after ") + secs + " s; ending all nodes");
      break;
    }
    if (hellos_ < options_.nodes && now - join_began_ > kJoinLimit) {
      for (std::uint32_t n = 0; n < options_.nodes; ++n)
        if (endpoints_[n].empty()) {
          end(1, agents_.name_of(n) + ": agent did not join within 30 s; ending the job");
          break;
        }
      break;
    }
    // Two-way liveness: every agent answers the heartbeat, and agents on
    // other hosts (no parent-death signal crosses a remote shell) end
    // themselves when their connection to the launcher is lost.
    if (auto silence = heartbeat_.silent_node(now)) {
      on_silence(*silence);
      break;
    }
    if (heartbeat_.ping_due(now))
      for (std::uint32_t n = 0; n < options_.nodes; ++n) (void)gate_.send(n, wire::Ping{++heartbeats_, 0, {}});
    if (auto env = gate_.next(kTick)) handle(*env);
  }
  shutdown_nodes(result_ && *result_ == 0 ? "main returned" : "job ended");
  return *result_;
}

void Job::drain_messages() {
  while (!result_)
    if (auto env = gate_.next(std::chrono::milliseconds(0))) handle(*env);
    else break;
}

void Job::on_silence(const Heartbeat::Silence& s) {
  std::string what;
  if (!agents_.is_local(s.node)) {
    what = "its agent is stopped or hung, its host frozen, or the network to it cut";
  } else {
    const pid_t pid = agents_.pid_of(s.node);
    const std::string agent = "its agent gpt-node (pid " + std::to_string(pid) + ")";
    const auto state = pid > 0 ? util::process_state(pid) : std::nullopt;
    if (state == 'T') what = agent + " is stopped (SIGSTOP or SIGTSTP)";
    else if (state == 't') what = agent + " is stopped in a debugger";
    else what = agent + " did not answer (hung, or starved of the CPU)";
  }
  silent_node_ = s.node;
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", std::chrono::duration<double>(heartbeat_.limit()).count());
  end(1, agents_.name_of(s.node) + ": no answer to the heartbeat for " + seconds_text(s.for_how_long) +
             " (--node-timeout " + limit + "): " + what + "; ending the job");
}

void Job::handle(const wire::Envelope& env) {
  if (env.from < options_.nodes) heartbeat_.heard(env.from, std::chrono::steady_clock::now());
  std::visit(
      util::Overloaded{
          [&](const wire::Hello& h) {
            if (h.node != env.from || !endpoints_[h.node].empty()) return;
            endpoints_[h.node] = h.data_endpoint;
            if (options_.verbose)
              util::log_line(node_name(h.node) + ": agent pid " + std::to_string(h.agent_pid) +
                             " joined at " + h.data_endpoint);
            if (++hellos_ == options_.nodes) {
              wire::Message table = wire::PeerTable{endpoints_};
              for (std::uint32_t n = 0; n < options_.nodes; ++n)
                if (!gate_.send(n, table))
                  end(1, node_name(n) + ": cannot send the peer table; ending the job");
              heartbeat_.start(std::chrono::steady_clock::now());
            }
          },
          [&](const wire::AppStarted& a) {
            if (a.node == env.from) program_pids_[a.node] = a.app_pid;
            if (options_.verbose)
              util::log_line(node_name(a.node) + ": program pid " + std::to_string(a.app_pid));
            if (++started_ == options_.nodes && options_.verbose)
              util::log_line("all " + std::to_string(options_.nodes) + " nodes started");
          },
          [&](const wire::MainExited& m) {
            if (env.from >= options_.nodes || (env.from != 0 && !options_.spmd)) return;
            if (env.from == 0 && WIFSIGNALED(m.wait_status))
              util::log_line(agents_.name_of(0) + ": program (pid " + std::to_string(program_pids_[0]) + ") " +
                             util::describe_wait_status(m.wait_status));
            const int status = util::exit_code_of(m.wait_status);
            // SPMD: every node's main ends the job, not node 0's alone (the
            // others may still be printing); a failing node 0 ends it at once.
            if (!options_.spmd || (env.from == 0 && status != 0)) {
              end(status, "");
              return;
            }
            main_returned_.resize(options_.nodes);
            if (main_returned_[env.from]) return;
            main_returned_[env.from] = true;
            if (env.from == 0) origin_status_ = status;
            if (++mains_returned_ == options_.nodes) end(origin_status_, "");
          },
          [&](const wire::NodeFailed& f) {
            // A program that died of a signal ends the job as one process
            // would (128 + the signal, e.g. 134 for abort()); anything else 1.
            int status = f.wait_status != 0 ? util::exit_code_of(f.wait_status) : 1;
            if (status == 0) status = 1;
            end(status, node_name(env.from) + ": " + f.cause + "; ending the job");
          },
          [&](const wire::ProfileReport& p) {
            if (env.from >= options_.nodes || !profiles_[env.from].empty()) return;
            profiles_[env.from] = p.json;
            ++profiles_received_;
          },
          [&](const auto&) {},
      },
      env.body);
}

// An agent that ends before the job did is a failure at run time, whatever
// its status (a remote shell's 255 is not the program's).
void Job::on_agent_exit(const AgentExit& e) {
  end(1, agents_.name_of(e.node) + ": " + agents_.describe_exit(e) + "; ending the job");
}

void Job::end(int status, const std::string& why) {
  if (result_) return;
  result_ = status;
  if (!why.empty()) util::log_line(why);
}

void Job::shutdown_nodes(const std::string& reason) {
  // A node that stopped answering will not leave on its own: at once, not
  // after the others' grace (its program dies with its agent).
  if (silent_node_) agents_.kill_now(*silent_node_);
  for (std::uint32_t n = 0; n < options_.nodes; ++n)
    (void)gate_.send(n, wire::Shutdown{reason});  // an agent that is gone cannot be told
  if (!options_.profile_path.empty()) collect_profiles();
  agents_.stop_all(kShutdownGrace);
}

// Each agent answers Shutdown with its profile; a node that is gone sends
// none (the report says so).
void Job::collect_profiles() {
  const auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
  while (profiles_received_ < options_.nodes && std::chrono::steady_clock::now() < deadline)
    if (auto env = gate_.next(kTick)) handle(*env);
  std::string error;
  if (!write_profile_report(options_.profile_path, options_.program_argv.front(), profiles_, error))
    util::log_line("error: " + error);
  else
    util::log_line("profile written to " + options_.profile_path + " (" + std::to_string(profiles_received_) + " of " +
                   std::to_string(options_.nodes) + " nodes)");
}

}  // namespace gpt::launch
