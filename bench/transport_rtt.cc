// Agent-to-agent round trip of a small message, a page and a 16-page batch,
// through the same transport, codec and gate the agents use, between two
// processes on loopback — plain, spinning, sealed (frame_seal.h), and sealed
// and spinning as jobs run them; and,
// as the baseline measured in the same run, a raw ZeroMQ REQ/REP round trip.
//   transport_rtt [iterations]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "curve_keys.h"
#include "message_gate.h"
#include "poll_idle.h"
#include "ucx_transport.h"
#include "zmq_transport.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void quiet_log(std::string_view line) { std::fprintf(stderr, "%.*s\n", (int)line.size(), line.data()); }

// One agent's transport as gpt-node builds it: ZeroMQ, and with
// --fabric ucx a UCX data plane that ZeroMQ's receive() waits on too.
struct AgentEnd {
  std::optional<gpt::net::UcxTransport> ucx;
  gpt::net::ZmqAgentTransport zmq;
  AgentEnd(gpt::wire::NodeId self, const gpt::net::ZmqOptions& o, bool use_ucx)
      : zmq(self, 2, "", o) {
    if (use_ucx) {
      ucx.emplace(self, 2, gpt::net::UcxOptions{o.bind_host, o.curve, {}, o.spin});
      zmq.set_data_plane(&*ucx);
    }
  }
  [[nodiscard]] std::string address() const { return ucx ? ucx->address() : zmq.data_endpoint(); }
  void connect(const std::vector<std::string>& table) {
    if (ucx)
      ucx->connect_peers(table);
    else
      zmq.connect_peers(table);
  }
};

// Node 1: answers every Ping with a Pong until it gets Shutdown.
[[noreturn]] void echo_node(int to_parent, int from_parent, const gpt::net::ZmqOptions& options, bool ucx) {
  AgentEnd t(1, options, ucx);
  std::string ep = t.address();
  ssize_t w = write(to_parent, ep.c_str(), ep.size() + 1);
  char buf[1024] = {};
  ssize_t r = read(from_parent, buf, sizeof buf - 1);
  if (w <= 0 || r <= 0) _exit(1);
  t.connect({buf, ep});
  gpt::net::MessageGate gate(t.zmq, "echo", quiet_log);
  for (;;) {
    auto env = gate.next(std::chrono::milliseconds(5000));
    if (!env) _exit(2);
    if (auto* p = std::get_if<gpt::wire::Ping>(&env->body)) {
      if (!gate.send(0, gpt::wire::Pong{p->seq, p->pad})) _exit(3);
    } else if (std::holds_alternative<gpt::wire::Shutdown>(env->body)) {
      _exit(0);
    }
  }
}

double gate_rtt_us(gpt::net::MessageGate& gate, std::size_t bytes, int iterations) {
  std::vector<double> samples;
  std::vector<std::byte> pad(bytes);
  for (int i = 0; i < iterations + 100; ++i) {
    auto t0 = Clock::now();
    if (!gate.send(1, gpt::wire::Ping{static_cast<std::uint64_t>(i), bytes, pad})) std::exit(4);
    auto env = gate.next(std::chrono::milliseconds(5000));
    if (!env || !std::holds_alternative<gpt::wire::Pong>(env->body)) std::exit(5);
    if (i >= 100) samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return median(samples);
}

double raw_zmq_rtt_us(std::size_t bytes, int iterations) {
  zmq::context_t ctx;
  zmq::socket_t rep(ctx, zmq::socket_type::rep);
  rep.bind("tcp://127.0.0.1:*");
  std::string ep = rep.get(zmq::sockopt::last_endpoint);
  pid_t child = fork();
  if (child == 0) {
    zmq::context_t cctx;
    zmq::socket_t req(cctx, zmq::socket_type::req);
    req.connect(ep);
    std::vector<char> msg(bytes);
    for (int i = 0; i < iterations + 100; ++i) {
      req.send(zmq::buffer(msg), zmq::send_flags::none);
      zmq::message_t reply;
      if (!req.recv(reply)) _exit(1);
    }
    _exit(0);
  }
  std::vector<double> samples;
  // Time measured on the replying side between consecutive requests is the
  // round trip seen by the requester; measure it here to stay in one process.
  auto last = Clock::now();
  for (int i = 0; i < iterations + 100; ++i) {
    zmq::message_t m;
    if (!rep.recv(m)) std::exit(6);
    auto now = Clock::now();
    if (i > 100) samples.push_back(std::chrono::duration<double, std::micro>(now - last).count());
    last = now;
    rep.send(m, zmq::send_flags::none);
  }
  int st;
  waitpid(child, &st, 0);
  return median(samples);
}

struct AgentRtt {
  double small, page, batch;
};

// Both ends as agents with `options`: node 1 in a child process.
AgentRtt agent_rtts(const gpt::net::ZmqOptions& options, int iterations, bool ucx = false) {
  int to_parent[2], to_child[2];
  if (pipe(to_parent) != 0 || pipe(to_child) != 0) std::exit(1);
  pid_t child = fork();
  if (child == 0) echo_node(to_parent[1], to_child[0], options, ucx);
  char ep1[1024] = {};
  if (read(to_parent[0], ep1, sizeof ep1 - 1) <= 0) std::exit(1);
  AgentRtt rtt{};
  {
    AgentEnd t(0, options, ucx);
    std::string ep0 = t.address();
    if (write(to_child[1], ep0.c_str(), ep0.size() + 1) <= 0) std::exit(1);
    t.connect({ep0, ep1});
    gpt::net::MessageGate gate(t.zmq, "bench", quiet_log);
    rtt.small = gate_rtt_us(gate, 64, iterations);
    rtt.page = gate_rtt_us(gate, 4096, iterations);
    rtt.batch = gate_rtt_us(gate, 16 * 4096, iterations / 4);
    (void)gate.send(1, gpt::wire::Shutdown{"done"});
  }
  int st;
  waitpid(child, &st, 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) close(fd);
  return rtt;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  // GPT_POLL_IDLE=1: measure as gpt-launch --poll-idle runs jobs.
  std::string error;
  std::optional<gpt::util::CpuWakeLatency> wake_latency;
  if (auto on = gpt::util::poll_idle_from_env(error); on && *on) {
    wake_latency = gpt::util::CpuWakeLatency::hold(0, error);
    if (!wake_latency) std::fprintf(stderr, "transport_rtt: GPT_POLL_IDLE: %s\n", error.c_str());
  }
  // Each of the agents' costs on its own: CURVE, and the spin after traffic.
  gpt::net::ZmqOptions spin, sealing, as_jobs;
  spin.spin = std::chrono::microseconds(250);  // GPT_SPIN_US's default
  sealing.curve = gpt::net::generate_curve_keys();  // the job's keys: frames are sealed
  as_jobs.curve = sealing.curve;
  as_jobs.spin = spin.spin;
  const AgentRtt plain = agent_rtts({}, iterations);
  const AgentRtt spun = agent_rtts(spin, iterations);
  const AgentRtt sealed = agent_rtts(sealing, iterations);
  const AgentRtt job = agent_rtts(as_jobs, iterations);
  // The same agents with their frames over UCX active messages (TCP).
  const AgentRtt ucx_plain = agent_rtts({}, iterations, true);
  const AgentRtt ucx_job = agent_rtts(as_jobs, iterations, true);
  double raw_small = raw_zmq_rtt_us(64, iterations);
  double raw_page = raw_zmq_rtt_us(4096, iterations);

  // "name value unit": bench/run prints them and derives the ratios.
  std::printf("zmq_reqrep_64B %.1f us\n", raw_small);
  std::printf("zmq_reqrep_4KiB %.1f us\n", raw_page);
  std::printf("agent_rtt_64B %.1f us\n", plain.small);
  std::printf("agent_rtt_4KiB %.1f us\n", plain.page);
  std::printf("agent_rtt_64KiB %.1f us\n", plain.batch);
  std::printf("agent_rtt_spin_64B %.1f us\n", spun.small);
  std::printf("agent_rtt_spin_4KiB %.1f us\n", spun.page);
  std::printf("agent_rtt_sealed_64B %.1f us\n", sealed.small);
  std::printf("agent_rtt_sealed_4KiB %.1f us\n", sealed.page);
  std::printf("agent_rtt_sealed_64KiB %.1f us\n", sealed.batch);
  std::printf("agent_rtt_sealed_spin_64B %.1f us\n", job.small);
  std::printf("agent_rtt_sealed_spin_4KiB %.1f us\n", job.page);
  std::printf("ucx_agent_rtt_64B %.1f us\n", ucx_plain.small);
  std::printf("ucx_agent_rtt_4KiB %.1f us\n", ucx_plain.page);
  std::printf("ucx_agent_rtt_64KiB %.1f us\n", ucx_plain.batch);
  std::printf("ucx_agent_rtt_sealed_spin_64B %.1f us\n", ucx_job.small);
  std::printf("ucx_agent_rtt_sealed_spin_4KiB %.1f us\n", ucx_job.page);
  std::printf("ucx_agent_rtt_sealed_spin_64KiB %.1f us\n", ucx_job.batch);
  return 0;
}
