// gpt-launch: run a gpthread program across nodes.
//   gpt-launch -n N [options] [--] PROGRAM [ARGS...]
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "heap_size.h"
#include "node_timeout.h"
#include "poll_idle.h"
#include "env_number.h"
#include "spin_budget.h"
#include "allocation.h"
#include "bind_address.h"
#include "hosts.h"
#include "key_file.h"
#include "job.h"
#include "log.h"
#include "message_gate.h"
#include "node_processes.h"
#include "placement_check.h"
#include "process.h"
#include "program_check.h"
#include "preload.h"
#include "profile_report.h"
#include "signals.h"
#include "curve_keys.h"
#include "route_address.h"
#include "zmq_transport.h"

namespace {

constexpr std::uint32_t kMaxLocalNodes = 256;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "gpt-launch: error: %s\n(run 'gpt-launch --help' for usage)\n",
               message.c_str());
  return 2;
}

// The text of a hostfile, or nullopt with `error` set (a directory, or a
// file that cannot be read, is an error to report, not an exception).
std::optional<std::string> read_hostfile(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "--hostfile: " + path + " is a directory, not a file of hosts";
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    error = "--hostfile: cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "--hostfile: cannot read " + path;
    return std::nullopt;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  gpt::launch::LaunchOptions options;
  long long nodes = 1;
  double timeout = 0;

  CLI::App app{
      "usage: gpt-launch -n N [options] [--] PROGRAM [ARGS...]\n\n"
      "Runs a program built with gpt-cc across N nodes (with --preload, any\n"
      "dynamically linked glibc pthreads program).\n"
      "Node 0 runs main(); the other nodes run the program's threads.\n"
      "The exit status is main's (128+signal if it was killed, 124 on --timeout,\n"
      "non-zero if a node failed).",
      "gpt-launch"};
  std::string host_list, hostfile;
  int port_base = 0;
  app.add_option("-n,--nodes", nodes,
                 "number of nodes (default 1, or the hosts' slots with --hosts/--hostfile)");
  app.add_option("--hosts", host_list, "run the nodes on these hosts, node 0 on the first (GPT_RSH, default ssh)")
      ->type_name("H1,H2,...");
  app.add_option("--hostfile", hostfile, "hosts, one per line, optional slots=K")->type_name("FILE");
  long long rank = -1, size = -1;
  std::string launcher_host, keys_file;
  bool slurm = false;
  app.add_option("--rank", rank, "in an allocation: this task's node (default: from Slurm or MPI)");
  app.add_option("--size", size, "in an allocation: the number of nodes (default: from Slurm or MPI)");
  app.add_option("--launcher-host", launcher_host, "in an allocation: the host of task 0 (default: Slurm's first node)");
  app.add_option("--keys-file", keys_file,
                 "in an allocation: the job's keys, on a file system every task sees (task 0 makes it, mode 0600)");
  app.add_flag("--slurm", slurm, "take rank, size and task 0's host from Slurm's environment (srun)");
  app.add_option("--port-base", port_base, "fixed ports: the launcher P, node K P+1+K (default: any free ports)")
      ->type_name("P");
  app.add_option("--timeout", timeout, "end the whole job after SECONDS")
      ->type_name("SECONDS");
  std::string node_timeout;
  app.add_option("--node-timeout", node_timeout,
                 "end the job when a node has not answered for SECONDS, or its program has been stopped "
                 "that long (GPT_NODE_TIMEOUT; default 6)")
      ->type_name("SECONDS");
  app.add_flag("-v,--verbose", options.verbose, "report each node's agent and program pids");
  app.add_flag("--spmd", options.spmd,
               "SPMD mode: every node runs main (gpt_node_id() tells them apart)");
  app.add_option("--bind", options.bind_host, "interface the nodes listen on (default 127.0.0.1)");
  app.add_flag("--insecure", options.insecure,
               "no CURVE, no sealed frames: plain, unauthenticated TCP between the nodes (benchmarks only)");
  std::string fabric;
  app.add_option("--fabric", fabric,
                 "what the nodes send each other's frames over: ucx (UCX active messages, TCP only, the "
                 "default) or zmq (ZeroMQ) (GPT_FABRIC)")
      ->type_name("ucx|zmq");
  bool poll_idle = false;
  app.add_flag("--poll-idle", poll_idle,
               "keep every node's CPUs polling instead of sleeping while the job runs (GPT_POLL_IDLE=1): "
               "faster wake-ups, busier CPUs; needs root on the nodes");
  app.add_option("--profile", options.profile_path,
                 "record where threads wait (faults, locks, barriers, forwarded calls...) and write a "
                 "self-contained HTML report to FILE when the job ends")
      ->type_name("FILE");
  bool preload = false;
  app.add_flag("--preload", preload,
               "run a dynamically linked glibc program not built with gpt-cc: every node preloads "
               "libgpthread.so, and the program's heap and globals are shared (docs/user-guide.md)");
  // Everything from the program name on belongs to the program.
  app.prefix_command();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  if (!host_list.empty() && !hostfile.empty()) return usage_error("give --hosts or --hostfile, not both");
  std::vector<gpt::launch::Host> hosts;
  std::string host_error;
  if (!host_list.empty()) {
    auto parsed = gpt::launch::parse_host_list(host_list, host_error);
    if (!parsed) return usage_error(host_error);
    hosts = *parsed;
  } else if (!hostfile.empty()) {
    auto text = read_hostfile(hostfile, host_error);
    if (!text) return usage_error(host_error);
    auto parsed = gpt::launch::parse_hostfile(*text, hostfile, host_error);
    if (!parsed) return usage_error(host_error);
    hosts = *parsed;
  }
  // An allocation: --rank/--size, or the environment of srun/mpirun when no
  // nodes or hosts were asked for.
  std::optional<gpt::launch::Allocation> allocation;
  if (rank >= 0 || size >= 0) {
    if (rank < 0 || size < 1 || rank >= size) return usage_error("--rank R --size N need 0 <= R < N");
    allocation = gpt::launch::Allocation{static_cast<std::uint32_t>(rank), static_cast<std::uint32_t>(size), "", 0, "--rank"};
  } else if (slurm || (!app.count("--nodes") && hosts.empty())) {
    std::string env_error;
    allocation = gpt::launch::allocation_from_environment(env_error);
    if (!allocation && !env_error.empty()) return usage_error(env_error);
    if (slurm && (!allocation || allocation->source != "Slurm"))
      return usage_error("--slurm: SLURM_PROCID/SLURM_NTASKS are not set (run it with srun)");
  }
  if (allocation) {
    if (!hosts.empty() || app.count("--nodes")) return usage_error("an allocation's size comes from it: no -n or --hosts");
    if (!launcher_host.empty()) allocation->launcher_host = launcher_host;
    if (allocation->launcher_host.empty())
      return usage_error(allocation->source + ": cannot tell where task 0 runs; give --launcher-host HOST");
    if (!gpt::net::route_source_address("tcp://" + allocation->launcher_host + ":1"))
      return usage_error("cannot reach task 0's host '" + allocation->launcher_host + "' (" +
                         (launcher_host.empty() ? allocation->source + "'s node list" : std::string("--launcher-host")) +
                         "): give --launcher-host with an address every task can reach");
    if (port_base == 0) port_base = allocation->port_base ? allocation->port_base : 29400;
    nodes = allocation->size;
    if (keys_file.empty())
      if (const char* f = std::getenv("GPT_KEYS_FILE"); f && *f) keys_file = f;
  }
  if (!hosts.empty() && !app.count("--nodes")) nodes = gpt::launch::total_slots(hosts);
  if (nodes < 1) return usage_error("-n must be at least 1 (got " + std::to_string(nodes) + ")");
  if (nodes > kMaxLocalNodes)
    return usage_error("-n " + std::to_string(nodes) + " is more than the " +
                       std::to_string(kMaxLocalNodes) + " nodes supported");
  options.nodes = static_cast<std::uint32_t>(nodes);
  std::string chosen_bind = app.count("--bind") ? options.bind_host : "";
  if (chosen_bind.empty())
    if (const char* bind = std::getenv("GPT_BIND"); bind && *bind) chosen_bind = options.bind_host = bind;
  if (!hosts.empty()) {
    options.hosts = gpt::launch::place_nodes(hosts, options.nodes);
    std::string bind_error;
    auto bind = gpt::launch::bind_address_for(options.hosts, chosen_bind, bind_error);
    if (!bind) return usage_error(bind_error);
    options.bind_host = *bind;
  }
  if (port_base < 0 || port_base + 1 + static_cast<long long>(nodes) > 65535)
    return usage_error("--port-base must leave room for one port per node below 65536");
  options.port_base = port_base;
  if (app.count("--timeout")) {
    if (!(timeout > 0)) return usage_error("--timeout must be a positive number of seconds");
    options.timeout_seconds = timeout;
  }

  std::string env_error;
  auto heap = gpt::util::heap_size_from_env(env_error);
  if (!heap) return usage_error(env_error);
  if (auto small = gpt::util::heap_too_small(*heap, options.nodes)) return usage_error(*small);
  if (auto bad = gpt::launch::check_placement(std::getenv("GPT_PLACEMENT"), options.nodes)) return usage_error(*bad);
  // The agents read the limit from the environment too (remote ones get it
  // with the other GPT_* settings).
  if (app.count("--node-timeout")) {
    if (!gpt::util::parse_node_timeout(node_timeout))
      return usage_error("--node-timeout " + node_timeout + " is not a number of seconds from " +
                         std::to_string(gpt::util::kMinNodeTimeout.count() / 1000) + " to " +
                         std::to_string(gpt::util::kMaxNodeTimeout.count() / 1000));
    setenv("GPT_NODE_TIMEOUT", node_timeout.c_str(), 1);
  }
  auto liveness_limit = gpt::util::node_timeout_from_env(env_error);
  if (!liveness_limit) return usage_error(env_error);
  options.node_timeout = *liveness_limit;
  if (!gpt::util::spin_us_from_env(env_error)) return usage_error(env_error);
  for (const auto& pages : {gpt::util::kPrefetchPages, gpt::util::kWriteAheadPages})
    if (!gpt::util::number_from_env(pages, env_error)) return usage_error(env_error);
  // The agents read it from the environment, which reaches remote ones too.
  if (poll_idle) setenv("GPT_POLL_IDLE", "1", 1);
  if (fabric.empty())
    if (const char* f = std::getenv("GPT_FABRIC"); f && *f) fabric = f;
  if (!fabric.empty()) {
    if (fabric != "zmq" && fabric != "ucx")
      return usage_error("--fabric (or GPT_FABRIC) is zmq or ucx, not '" + fabric + "'");
    options.fabric = fabric;
  }
  if (!gpt::util::poll_idle_from_env(env_error)) return usage_error(env_error);

  std::vector<std::string> rest = app.remaining();
  // An option we do not know ends up here, in front of the program: it is a
  // typo far more often than a program named "-x" (which "--" allows).
  if (!rest.empty() && rest.front().size() > 1 && rest.front()[0] == '-' && rest.front() != "--")
    return usage_error("unknown option '" + rest.front() + "'");
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (rest.empty()) return usage_error("no program given");
  std::string error;
  auto program = gpt::util::resolve_program(rest.front(), error);
  if (!program) return usage_error(error);
  if (preload) {
    if (auto wrong = gpt::launch::prepare_preload(*program)) return usage_error(*wrong);
  } else {
    if (auto wrong = gpt::launch::check_gpthread_program(*program)) return usage_error(*wrong);
    unsetenv("GPT_PRELOAD");  // not one left over from a --preload job this one runs in
    unsetenv("GPT_PRELOAD_SHARE");
  }
  if (!options.profile_path.empty()) {
    std::string profile_error;
    if (!gpt::launch::check_profile_path(options.profile_path, profile_error)) return usage_error(profile_error);
    setenv("GPT_PROFILE", "1", 1);  // the agents read it, remote ones too
  }
  options.program_argv = rest;
  options.program_argv.front() = *program;

  if (allocation && !options.insecure && keys_file.empty())
    return usage_error("in an allocation, give --keys-file FILE (or GPT_KEYS_FILE) on a file system every task "
                       "sees, or --insecure");
  const std::string control = allocation ? "tcp://" + allocation->launcher_host + ":" + std::to_string(port_base) : "";
  if (allocation && allocation->rank > 0) {
    // Task K is node K's agent, and nothing else: it becomes gpt-node.
    gpt::util::set_log_prefix("gpt-launch[task " + std::to_string(allocation->rank) + "]");
    std::vector<std::string> argv = {gpt::util::self_directory() + "/gpt-node", "--node",
                                     std::to_string(allocation->rank), "--nodes", std::to_string(allocation->size),
                                     "--launcher", control, "--port", std::to_string(port_base + 1 + allocation->rank)};
    if (options.verbose) argv.push_back("--verbose");
    if (options.spmd) argv.push_back("--spmd");
    argv.insert(argv.end(), {"--fabric", options.fabric});
    if (options.insecure) {
      argv.push_back("--insecure");
    } else {
      std::string key_error;
      int fd = gpt::launch::open_key_file(keys_file, key_error);
      if (fd < 0) return usage_error(key_error);
      argv.insert(argv.end(), {"--keys-fd", std::to_string(fd)});
    }
    argv.push_back("--");
    argv.insert(argv.end(), options.program_argv.begin(), options.program_argv.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    return usage_error("cannot run " + argv[0] + ": " + std::strerror(errno));
  }
  if (allocation) {
    options.only_node0 = true;
    options.launcher_address = control;
    if (!app.count("--bind") && !std::getenv("GPT_BIND")) options.bind_host = "0.0.0.0";  // the other tasks' hosts
  }

  gpt::util::set_log_prefix("gpt-launch");
  // Before ZeroMQ starts its threads, so they inherit the blocked mask.
  gpt::util::SignalPoller signals{SIGCHLD, SIGINT, SIGTERM, SIGHUP};
  if (options.insecure)
    gpt::util::log_line("WARNING: --insecure: connections between the nodes are neither authenticated "
                        "nor encrypted; anyone who can reach them can read and change the job's memory");
  try {
    gpt::net::ZmqOptions zmq_options;
    zmq_options.bind_host = options.bind_host;
    zmq_options.port = options.port_base;
    zmq_options.log = gpt::util::log_line;
    zmq_options.link_timeout = options.node_timeout;
    if (!options.insecure) {
      if (allocation) {
        std::string key_error;
        zmq_options.curve = gpt::launch::load_or_create_key_file(keys_file, key_error);
        if (!zmq_options.curve) return usage_error(key_error);
      } else {
        zmq_options.curve = gpt::net::generate_curve_keys();
      }
    }
    gpt::net::ZmqLauncherTransport transport(options.nodes, zmq_options);
    gpt::net::MessageGate gate(transport, "gpt-launch", gpt::util::log_line);
    gpt::launch::Agents agents;
    const std::string& reach_us = options.launcher_address.empty() ? transport.control_endpoint() : options.launcher_address;
    if (auto err = agents.start(options, reach_us, zmq_options.curve)) {
      gpt::util::log_line("error: " + *err);
      return 2;
    }
    gpt::launch::Job job(options, gate, agents, signals);
    return job.run();
  } catch (const std::exception& e) {
    gpt::util::log_line(std::string("fatal: ") + e.what());
    return 1;
  }
}
