// Whoever can reach an agent's data port, without the job's keys, cannot
// make it grow nor bury its log: a flood of every kind against every agent
// of a busy 4-node job, while their memory is watched. The job must get its
// result right; no agent may pass 64 MiB resident; the log stays short.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {

// The attackers share this machine's two cores with the job; a stranger on
// another machine would not. Each one is niced and pauses between its
// connections, so that what is measured is what reaches the agents, not
// how a starved job crawls.
void be_a_polite_attacker() { setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10); }
void between_connections() { std::this_thread::sleep_for(20ms); }

// "tcp://127.0.0.1:40311" -> 40311.
int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

int connect_to(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
  if (s >= 0) close(s);
  return -1;
}

// Writes until the peer closes, `stop` is set or `limit` bytes went out.
void pour(int s, const std::string& bytes, const std::atomic<bool>& stop, std::size_t limit) {
  std::size_t sent = 0;
  while (!stop && sent < limit) {
    ssize_t n = send(s, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
}

// A ZMTP 3.0 greeting offering PLAIN, then a command frame whose header
// claims 8 GiB, then its "body": 256 MiB of junk (what once grew an agent
// from 13 to 271 MB).
void huge_claims(int port, const std::atomic<bool>& stop) {
  std::string greeting(64, '\0');
  greeting[0] = '\xff';
  greeting[9] = '\x7f';
  greeting[10] = 3;
  std::memcpy(&greeting[12], "PLAIN", 5);
  std::string header = "\x06";  // command, long
  for (int i = 7; i >= 0; --i) header += static_cast<char>(((8ull << 30) >> (8 * i)) & 0xff);
  const std::string junk(1 << 16, 'j');
  be_a_polite_attacker();
  for (; !stop; between_connections()) {
    int s = connect_to(port);
    if (s < 0) continue;
    (void)!send(s, greeting.data(), greeting.size(), MSG_NOSIGNAL);
    (void)!send(s, header.data(), header.size(), MSG_NOSIGNAL);
    pour(s, junk, stop, 256u << 20);
    close(s);
  }
}

// Random bytes on fresh connections: not even a greeting.
void noise(int port, const std::atomic<bool>& stop) {
  std::mt19937 gen(port);
  std::string bytes(1 << 16, '\0');
  for (char& c : bytes) c = static_cast<char>(gen());
  be_a_polite_attacker();
  for (; !stop; between_connections()) {
    int s = connect_to(port);
    if (s < 0) continue;
    pour(s, bytes, stop, 16u << 20);
    close(s);
  }
}

// ZeroMQ peers that speak the protocol: without credentials (NULL), and
// with a guessed password (PLAIN); each sends 64 KiB frames as fast as it can.
void zmq_junk(const std::string& endpoint, bool guess_password, const std::atomic<bool>& stop) {
  be_a_polite_attacker();
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, 20);
  if (guess_password) {
    s.set(zmq::sockopt::plain_username, "gpthread");
    s.set(zmq::sockopt::plain_password, std::string(64, 'a'));
  }
  s.connect(endpoint);
  const std::string frame(1 << 16, 'z');
  while (!stop)
    if (!s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) std::this_thread::sleep_for(1ms);
}

TEST(Flood, StrangersCannotGrowAnAgentNorBuryItsLog) {
  const std::string token = gpt::test::unique_token();
  // Strangers speak ZeroMQ to the agents' data sockets: that plane's
  // defences (UCX's dropped frames: tests/unit/test_ucx.cc).
  JobRunner job({launcher(), "-n", "4", "-v", "--fabric", "zmq", "--timeout", "120", program("mutex_stress"), "8",
                 "2000", token});
  ASSERT_TRUE(job.wait_for_stderr("all 4 nodes started", 30s)) << job.err();
  std::vector<pid_t> agents;
  std::vector<std::string> endpoints;
  for (int node = 0; node < 4; ++node) {
    agents.push_back(gpt::test::logged_pid(job.err(), node, "agent"));
    ASSERT_GT(agents.back(), 0) << job.err();
    const std::string joined = "node " + std::to_string(node) + ": agent pid " + std::to_string(agents.back()) +
                               " joined at ";
    const auto at = job.err().find(joined);
    ASSERT_NE(at, std::string::npos) << job.err();
    const auto from = at + joined.size();
    endpoints.push_back(job.err().substr(from, job.err().find('\n', from) - from));
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> flood;
  for (const auto& e : endpoints) {
    flood.emplace_back(huge_claims, port_of(e), std::cref(stop));
    flood.emplace_back(noise, port_of(e), std::cref(stop));
    flood.emplace_back(zmq_junk, e, false, std::cref(stop));
    flood.emplace_back(zmq_junk, e, true, std::cref(stop));
  }
  long peak_kib = 0;
  std::optional<int> status;
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (!status && std::chrono::steady_clock::now() < until) {
    for (pid_t a : agents) peak_kib = std::max(peak_kib, gpt::test::resident_kib(a));
    status = job.poll(50ms);
  }
  stop = true;
  for (auto& t : flood) t.join();
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "8 threads x 2000 locked increments on 4 nodes: 16000\n") << job.err();
  EXPECT_GT(peak_kib, 0);
  std::printf("agents' peak resident memory under the flood: %ld KiB\n", peak_kib);
  EXPECT_LT(peak_kib, 64 * 1024) << "an agent grew to " << peak_kib / 1024 << " MiB under the flood";
  // Refusals are logged, a few per agent and window, then counted.
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = job.err().find('\n', at)) != std::string::npos; ++at) ++lines;
  EXPECT_NE(job.err().find("refused a connection"), std::string::npos) << job.err();
  EXPECT_LT(lines, 200u) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

}  // namespace
