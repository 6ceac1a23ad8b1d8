// gpt-node: the per-node agent. Started by gpt-launch, never by users:
//   gpt-node --node K --nodes N --launcher tcp://HOST:PORT [--bind HOST] -- PROGRAM [ARGS...]
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <optional>

#include "agent.h"
#include "gpt/region.h"
#include "heap_memory.h"
#include "log.h"
#include "message_gate.h"
#include "heap_size.h"
#include "node_timeout.h"
#include "poll_idle.h"
#include "spin_budget.h"
#include "signals.h"
#include "curve_keys.h"
#include "route_address.h"
#include "ucx_transport.h"
#include "zmq_transport.h"

int main(int argc, char** argv) {
  gpt::node::AgentConfig config;
  std::string launcher;
  gpt::net::ZmqOptions zmq_options;

  CLI::App app{"gpt-node: the gpthread node agent (started by gpt-launch)"};
  app.add_option("--node", config.node, "this node's id")->required();
  app.add_option("--nodes", config.node_count, "number of nodes in the job")
      ->required()
      ->check(CLI::Range(1u, static_cast<unsigned>(gpt::wire::kMaxNodes)));
  app.add_option("--launcher", launcher, "the launcher's control endpoint")->required();
  app.add_option("--bind", zmq_options.bind_host,
                 "address for the data socket (default: this host's address on the route to the launcher)");
  app.add_option("--port", zmq_options.port, "port for the data socket (default: any free port)");
  int keys_fd = -1;
  app.add_option("--keys-fd", keys_fd, "read the job's keys from this descriptor (gpt-launch gives it)");
  app.add_flag("-v,--verbose", config.verbose, "log the job's life cycle");
  app.add_flag("--spmd", config.spmd, "every node runs main (SPMD programs and tests)");
  std::string fabric = "ucx";
  app.add_option("--fabric", fabric, "frames between nodes over zmq or ucx (gpt-launch --fabric)")
      ->check(CLI::IsMember({"zmq", "ucx"}));
  bool insecure = false;
  app.add_flag("--insecure", insecure, "no CURVE, no sealed frames (gpt-launch --insecure)");
  app.add_option("program", config.program_argv, "program and its arguments")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "gpt-node: error: %s\n", e.what());
    return 2;
  }
  if (config.node >= config.node_count) {
    std::fprintf(stderr, "gpt-node: error: --node %u is not below --nodes %u\n", config.node,
                 config.node_count);
    return 2;
  }
  gpt::util::set_log_prefix("gpt-node[node " + std::to_string(config.node) + "]");
  std::string error;
  auto heap = gpt::util::heap_size_from_env(error);
  if (!heap) {
    gpt::util::log_line("error: " + error);
    return 2;
  }
  config.heap_bytes = *heap;
  auto spin = gpt::util::spin_us_from_env(error);
  if (!spin) {
    gpt::util::log_line("error: " + error);
    return 2;
  }
  config.wait_spin_us = *spin;
  zmq_options.spin = std::chrono::microseconds(*spin);
  auto poll_idle = gpt::util::poll_idle_from_env(error);
  if (!poll_idle) {
    gpt::util::log_line("error: " + error);
    return 2;
  }
  // Held until the agent exits (the kernel also drops it if we are killed).
  std::optional<gpt::util::CpuWakeLatency> wake_latency;
  if (*poll_idle) {
    wake_latency = gpt::util::CpuWakeLatency::hold(0, error);
    if (!wake_latency)
      gpt::util::log_line("warning: GPT_POLL_IDLE: " + error +
                          "; this machine's CPUs may sleep deeply between messages (slower wake-ups)");
    else if (config.verbose)
      gpt::util::log_line("keeping this machine's CPUs polling when idle (GPT_POLL_IDLE)");
  }
  if (!app.count("--bind")) {
    auto address = gpt::net::route_source_address(launcher);
    if (!address) {
      gpt::util::log_line("error: cannot find this host's address on the route to " + launcher);
      return 2;
    }
    zmq_options.bind_host = *address;
  }
  // The job's keys come through a pipe gpt-launch (or its remote shell, on
  // our stdin) gives us; only the descriptor is on the command line.
  if (!insecure) {
    if (keys_fd < 0) {
      gpt::util::log_line("error: no job keys (--keys-fd): agents are started by gpt-launch");
      return 2;
    }
    std::string key_error;
    zmq_options.curve = gpt::net::read_curve_keys(keys_fd, key_error, keys_fd == 0);
    if (!zmq_options.curve) {
      gpt::util::log_line("error: " + key_error);
      return 2;
    }
  }
  zmq_options.log = gpt::util::log_line;
  // The launcher checked it; a lost connection to it counts after as long.
  zmq_options.link_timeout = gpt::util::node_timeout_from_env(error).value_or(gpt::util::kDefaultNodeTimeout);
  const char* stats = std::getenv("GPT_STATS");
  config.stats = stats && *stats && std::string(stats) != "0";
  const char* trace = std::getenv("GPT_TRACE_FAULTS");
  config.trace_faults = trace && std::string(trace) == "1";
  const char* profile = std::getenv("GPT_PROFILE");
  config.profile = profile && *profile && std::string(profile) != "0";

  // The agent dies with its launcher (local mode), and its program with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The program's fork children that outlive it come back to this agent,
  // which ends them with the job (Agent::end_leftover_processes).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Before any thread exists, so ZeroMQ's threads inherit the mask.
  gpt::util::SignalPoller signals{SIGCHLD, SIGTERM, SIGINT, SIGHUP};

  try {
    // With --fabric ucx, frames between agents take UCX and the ZeroMQ
    // transport keeps the launcher's control plane; the agent's thread
    // progresses both in one wait.
    // GPT_UCX_RMA=1: fetches read pages one-sided (remote_memory.h); over
    // TCP those reads are not sealed (docs/wire-protocol.md, "RMA").
    const char* rma_env = std::getenv("GPT_UCX_RMA");
    const bool rma = rma_env && std::string(rma_env) == "1";
    std::optional<gpt::net::UcxTransport> ucx;
    if (fabric == "ucx")
      ucx.emplace(config.node, config.node_count,
                  gpt::net::UcxOptions{zmq_options.bind_host, zmq_options.curve, zmq_options.log, zmq_options.spin,
                                       rma});
    gpt::net::ZmqAgentTransport transport(config.node, config.node_count, launcher, zmq_options);
    if (ucx) transport.set_data_plane(&*ucx);
    gpt::net::MessageGate gate(transport, "", gpt::util::log_line);
    gpt::node::TransportHooks hooks{
        [&](const std::vector<std::string>& endpoints) {
          if (ucx)
            ucx->connect_peers(endpoints);
          else
            transport.connect_peers(endpoints);
        },
        [&](int fd, gpt::net::SpinDoorbell* bell) {
          transport.set_wakeup_fd(fd);
          transport.set_spin_doorbell(bell);
        },
        [&](const gpt::node::HeapMemory& heap) -> std::optional<gpt::node::TransportHooks::Exposed> {
          if (!ucx || !rma) return std::nullopt;
          // Peers read pages (never twins) and write sole-copy marks only.
          const auto& g = heap.geometry();
          ucx->expose(heap.base(), {g.page_offset(0), g.page_count() * gpt::region::kPageSize},
                      {g.sole_copy_offset(), g.sole_copy_bytes()});
          return gpt::node::TransportHooks::Exposed{&*ucx, ucx->address()};
        }};
    gpt::node::Agent agent(config, gate, ucx ? ucx->address() : transport.data_endpoint(), hooks, signals);
    return agent.run();
  } catch (const std::exception& e) {
    gpt::util::log_line(std::string("fatal: ") + e.what());
    return 1;
  }
}
