// Fault injection on 4-node jobs: SIGKILL, SIGSTOP and SIGINT of each kind of
// process (the launcher, an agent, a program), at a random moment of a job
// that is busy with locks across the nodes. Each case checks how long the
// job took to end after the signal, what it said, its exit status, and that
// no process of it is left. Then the other side of liveness: a job
// suspended from the terminal and resumed goes on, and so does one on a
// heavily loaded machine.
//
// The moment and the node come from a seed (GPT_TEST_SEED, else random);
// a failure prints it, so the case can be run again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {

using Clock = std::chrono::steady_clock;

// A short liveness limit keeps the stop cases quick; one case checks the
// default separately.
constexpr int kNodeTimeoutS = 2;
const std::string kBusyRounds = "2000";  // 8 threads: ~5 s on 4 idle nodes
const std::string kBusyResult = "8 threads x 2000 locked increments on 4 nodes: 16000\n";

std::mt19937& rng() {
  static std::mt19937 gen = [] {
    const char* s = std::getenv("GPT_TEST_SEED");
    const unsigned seed = s && *s ? static_cast<unsigned>(std::strtoul(s, nullptr, 10)) : std::random_device{}();
    std::printf("fault injection seed: GPT_TEST_SEED=%u\n", seed);
    return std::mt19937(seed);
  }();
  return gen;
}

int random_in(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

enum class Kind { kLauncher, kAgent, kProgram };

const char* name_of(Kind k) {
  switch (k) {
    case Kind::kLauncher: return "launcher";
    case Kind::kAgent: return "agent";
    case Kind::kProgram: return "program";
  }
  return "?";
}

// A 4-node job of mutex_stress, verbose (the pids), marked with a token.
struct BusyJob {
  std::string token = gpt::test::unique_token();
  std::unique_ptr<JobRunner> job;

  explicit BusyJob(int node_timeout_s = kNodeTimeoutS, const std::string& rounds = kBusyRounds) {
    job = std::make_unique<JobRunner>(std::vector<std::string>{
        launcher(), "-n", "4", "-v", "--timeout", "120", "--node-timeout", std::to_string(node_timeout_s),
        program("mutex_stress"), "8", rounds, token});
  }
  [[nodiscard]] bool started() { return job->wait_for_stderr("all 4 nodes started", 30s); }
  [[nodiscard]] std::vector<pid_t> leftovers() { return gpt::test::wait_until_gone(token, 5s); }
};

struct Fault {
  Kind kind;
  int sig;
};

class FaultInjection : public ::testing::TestWithParam<Fault> {};

TEST_P(FaultInjection, EndsTheJobInTimeWithAClearMessageAndLeavesNothing) {
  const Fault f = GetParam();
  BusyJob busy;
  ASSERT_TRUE(busy.started()) << busy.job->err();
  const int node = random_in(0, 3);
  const int delay_ms = random_in(0, 1500);
  SCOPED_TRACE(std::string(name_of(f.kind)) + " of node " + std::to_string(node) + " gets SIG" +
               sigabbrev_np(f.sig) + " " + std::to_string(delay_ms) + " ms after the start");
  const std::string& err = busy.job->err();
  pid_t victim = busy.job->pid();
  if (f.kind != Kind::kLauncher) {
    victim = gpt::test::logged_pid(err, node, f.kind == Kind::kAgent ? "agent" : "program");
    ASSERT_GT(victim, 0) << err;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ASSERT_EQ(kill(victim, f.sig), 0);
  const auto hit = Clock::now();

  if (f.kind == Kind::kLauncher && f.sig == SIGSTOP) {
    // The job is suspended, not broken: longer than the liveness limit, then on.
    std::this_thread::sleep_for(std::chrono::seconds(kNodeTimeoutS + 3));
    ASSERT_EQ(kill(victim, SIGCONT), 0);
    auto status = busy.job->wait(120s);
    ASSERT_TRUE(status) << err;
    EXPECT_EQ(exit_code(*status), 0) << err;
    EXPECT_EQ(busy.job->out(), kBusyResult) << err;
    EXPECT_EQ(busy.leftovers(), std::vector<pid_t>{});
    return;
  }

  auto status = busy.job->wait(30s);
  const auto took = Clock::now() - hit;
  ASSERT_TRUE(status) << "the job did not end: " << err;
  const std::string who = "node " + std::to_string(node);
  const std::string pid = std::to_string(victim);
  // Stops are seen after the limit; everything else at once.
  const auto limit = f.sig == SIGSTOP ? std::chrono::seconds(kNodeTimeoutS) + 3s : 5s;
  EXPECT_LT(took, limit) << err;
  std::string expected;
  int code = 1;
  switch (f.kind) {
    case Kind::kLauncher:
      if (f.sig == SIGKILL) {
        EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
        code = -1;
      } else {
        expected = "gpt-launch: interrupted by SIGINT; ending all nodes";
        code = 130;
      }
      break;
    case Kind::kAgent:
      if (f.sig == SIGKILL) expected = who + ": agent gpt-node (pid " + pid + ") killed by signal 9 (SIGKILL); ending the job";
      else if (f.sig == SIGINT) expected = who + ": agent gpt-node (pid " + pid + ") exited with status 130; ending the job";
      else expected = who + ": no answer to the heartbeat for ";
      if (f.sig == SIGSTOP) {
        EXPECT_NE(err.find("its agent gpt-node (pid " + pid + ") is stopped (SIGSTOP or SIGTSTP); ending the job"),
                  std::string::npos)
            << err;
      }
      break;
    case Kind::kProgram:
      if (f.sig == SIGSTOP) {
        expected = who + ": program (pid " + pid + ") has been stopped for ";
      } else {
        expected = who + ": program (pid " + pid + ") killed by signal " + std::to_string(f.sig) + " (SIG" +
                   sigabbrev_np(f.sig) + ")";
        code = 128 + f.sig;
      }
      break;
  }
  if (code >= 0) {
    EXPECT_EQ(exit_code(*status), code) << err;
  }
  if (!expected.empty()) {
    EXPECT_NE(err.find(expected), std::string::npos) << "missing: " << expected << "\n" << err;
  }
  EXPECT_EQ(busy.leftovers(), std::vector<pid_t>{}) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultInjection,
    ::testing::Values(Fault{Kind::kLauncher, SIGKILL}, Fault{Kind::kLauncher, SIGINT}, Fault{Kind::kLauncher, SIGSTOP},
                      Fault{Kind::kAgent, SIGKILL}, Fault{Kind::kAgent, SIGINT}, Fault{Kind::kAgent, SIGSTOP},
                      Fault{Kind::kProgram, SIGKILL}, Fault{Kind::kProgram, SIGINT}, Fault{Kind::kProgram, SIGSTOP}),
    [](const auto& info) { return std::string(name_of(info.param.kind)) + "_" + sigabbrev_np(info.param.sig); });

// With the default limit, a stopped node ends the job within 10 s.
TEST(Liveness, AStoppedAgentEndsTheJobWithin10sByDefault) {
  const std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "4", "-v", "--timeout", "60", program("sleeper"), token});
  ASSERT_TRUE(job.wait_for_stderr("all 4 nodes started", 30s)) << job.err();
  const pid_t agent = gpt::test::logged_pid(job.err(), 3, "agent");
  ASSERT_GT(agent, 0) << job.err();
  ASSERT_EQ(kill(agent, SIGSTOP), 0);
  const auto hit = Clock::now();
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_LT(Clock::now() - hit, 10s) << job.err();
  EXPECT_EQ(exit_code(*status), 1) << job.err();
  EXPECT_NE(job.err().find("node 3: no answer to the heartbeat for 6."), std::string::npos) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

// Ctrl-Z: the terminal stops the launcher's whole process group (launcher,
// agents, programs); after longer than the liveness limit, fg continues it.
TEST(Liveness, AJobSuspendedFromTheTerminalResumes) {
  BusyJob busy(6);  // the default limit
  ASSERT_TRUE(busy.started()) << busy.job->err();
  std::this_thread::sleep_for(std::chrono::milliseconds(random_in(0, 1000)));
  ASSERT_EQ(kill(-busy.job->pid(), SIGTSTP), 0);
  std::this_thread::sleep_for(12s);
  ASSERT_EQ(kill(-busy.job->pid(), SIGCONT), 0);
  auto status = busy.job->wait(120s);
  ASSERT_TRUE(status) << busy.job->err();
  EXPECT_EQ(exit_code(*status), 0) << busy.job->err();
  EXPECT_EQ(busy.job->out(), kBusyResult) << busy.job->err();
  EXPECT_EQ(busy.job->err().find("no answer"), std::string::npos) << busy.job->err();
}

// A loaded machine slows every process down; liveness must not mistake
// that for a node that stopped answering.
TEST(Liveness, AHeavilyLoadedJobIsSlowNotDead) {
  std::vector<pid_t> hogs;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  for (long i = 0; i < 7 * cores; ++i) {
    pid_t p = fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      alarm(180);  // never outlives the test
      for (;;) __asm__ volatile("" ::: "memory");  // busy, and kept by the compiler
    }
    hogs.push_back(p);
  }
  BusyJob busy(6, "100");
  auto status = busy.job->wait(170s);
  for (pid_t p : hogs) kill(p, SIGKILL);
  for (pid_t p : hogs) waitpid(p, nullptr, 0);
  ASSERT_TRUE(status) << busy.job->err();
  EXPECT_EQ(exit_code(*status), 0) << busy.job->err();
  EXPECT_EQ(busy.job->out(), "8 threads x 100 locked increments on 4 nodes: 800\n") << busy.job->err();
}

}  // namespace
