// Multi-node tests of the launcher and agents: start, exit status, stdin,
// failures, teardown. Every job runs under a hard time limit (JobRunner).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <thread>
#include <regex>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <zmq.hpp>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::build_path;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {


class NodeCounts : public ::testing::TestWithParam<int> {};

TEST_P(NodeCounts, MainRunsOnceOnTheOriginAndTheJobExitsCleanly) {
  int n = GetParam();
  JobRunner job({launcher(), "-n", std::to_string(n), program("exit_code"), "0", "x y"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << "job hung; stderr:\n" << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "main on node 0 of " + std::to_string(n) + "\narg: x y\n");
  EXPECT_EQ(job.err(), "");
}

TEST_P(NodeCounts, ExitStatusIsMains) {
  int n = GetParam();
  JobRunner job({launcher(), "-n", std::to_string(n), program("exit_code"), "7"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 7) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Launch, NodeCounts, ::testing::Values(1, 2, 4));

TEST(Launch, GlibcProgramRelinkedAgainstLibgpthreadRuns) {
  JobRunner job({launcher(), "-n", "2", program("exit_code_glibc"), "5"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 5) << job.err();
  EXPECT_EQ(job.out(), "main on node 0 of 2\n");
}

TEST(Launch, MainKilledBySignalGives128PlusSignal) {
  JobRunner job({launcher(), "-n", "2", program("raise_signal"), std::to_string(SIGABRT)});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 128 + SIGABRT);
  EXPECT_TRUE(std::regex_search(job.err(), std::regex("node 0: program \\(pid [0-9]+\\) killed by signal 6 \\(SIGABRT\\)")))
      << job.err();
}

// A fork child the program did not wait for ends with the job (the agent is
// its subreaper): no process outlives the job.
TEST(Launch, ForkChildrenLeftRunningEndWithTheJob) {
  JobRunner job({launcher(), "-n", "2", program("fork_leftover")});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  const pid_t child = std::stoi(job.out());
  ASSERT_GT(child, 0) << job.out();
  EXPECT_NE(kill(child, 0), 0) << "the fork child " << child << " outlived the job";
  EXPECT_NE(job.err().find("ended 1 process the program had started and left running"), std::string::npos)
      << job.err();
}

TEST(Launch, StdinGoesToTheOrigin) {
  JobRunner job({launcher(), "-n", "3", program("echo_stdin")}, "line one\nline two\n");
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "line one\nline two\n");
}

TEST(Launch, ProgramArgumentsThatLookLikeFlagsBelongToTheProgram) {
  JobRunner job({launcher(), "-n", "1", "--", program("exit_code"), "0", "-n", "--timeout"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "main on node 0 of 1\narg: -n\narg: --timeout\n");
}

// ---- bad input: clear one-line errors, status 2 ------------------------------

struct BadInvocation {
  std::vector<std::string> args;
  std::string message;
  std::vector<std::pair<std::string, std::string>> env = {};
};

class BadInput : public ::testing::TestWithParam<BadInvocation> {};

TEST_P(BadInput, IsRejectedWithStatus2AndAClearMessage) {
  std::vector<std::string> argv = {launcher()};
  // A plain data file, never executable (mode 0644).
  std::string data_file = ::testing::TempDir() + "gpt-not-a-program";
  std::ofstream(data_file) << "data\n";
  chmod(data_file.c_str(), 0644);
  // An executable script: a program, but not one built with gpt-cc.
  std::string script = ::testing::TempDir() + "gpt-a-script";
  std::ofstream(script) << "#!/bin/sh\necho side effect\n";
  chmod(script.c_str(), 0755);
  for (const auto& a : GetParam().args) {
    if (a == "@exit_code") argv.push_back(program("exit_code"));
    else if (a == "@data_file") argv.push_back(data_file);
    else if (a == "@script") argv.push_back(script);
    else argv.push_back(a);
  }
  for (const auto& [name, value] : GetParam().env) setenv(name.c_str(), value.c_str(), 1);
  JobRunner job(argv);
  for (const auto& [name, value] : GetParam().env) unsetenv(name.c_str());
  auto status = job.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2) << job.err();
  EXPECT_NE(job.err().find("gpt-launch: error: "), std::string::npos) << job.err();
  EXPECT_NE(job.err().find(GetParam().message), std::string::npos) << job.err();
  EXPECT_EQ(job.out(), "");
}

INSTANTIATE_TEST_SUITE_P(
    Launch, BadInput,
    ::testing::Values(
        BadInvocation{{"-n", "0", "@exit_code"}, "-n must be at least 1"},
        BadInvocation{{"-n", "-3", "@exit_code"}, "-n must be at least 1"},
        BadInvocation{{"-n", "four", "@exit_code"}, "four"},
        BadInvocation{{"--no-such-flag", "@exit_code"}, "--no-such-flag"},
        BadInvocation{{"-n", "2"}, "no program given"},
        BadInvocation{{"-n", "2", "/nonexistent/prog"}, "'/nonexistent/prog' not found"},
        BadInvocation{{"-n", "2", "no-such-program-anywhere"}, "not found in PATH"},
        BadInvocation{{"-n", "2", "@data_file"}, "is not executable"},
        BadInvocation{{"-n", "2", "/tmp"}, "is a directory"},
        BadInvocation{{"--timeout", "0", "@exit_code"}, "--timeout must be a positive"},
        BadInvocation{{"--verbos", "-n", "2", "@exit_code"}, "unknown option '--verbos'"},
        BadInvocation{{"-n", "2", "--hostfile", "/tmp", "@exit_code"}, "--hostfile: /tmp is a directory"},
        BadInvocation{{"-n", "4", "/bin/true"}, "'/bin/true' was not built with gpt-cc"},
        BadInvocation{{"-n", "2", "@script"}, "not a 64-bit ELF program (a script?)"},
        BadInvocation{{"-n", "2", "--node-timeout", "soon", "@exit_code"}, "--node-timeout soon is not a number of seconds"},
        BadInvocation{{"-n", "2", "@exit_code"}, "GPT_NODE_TIMEOUT='0.1' is not a number of seconds",
                      {{"GPT_NODE_TIMEOUT", "0.1"}}},
        BadInvocation{{"-n", "2", "@exit_code"}, "GPT_PLACEMENT=garbage is not a placement", {{"GPT_PLACEMENT", "garbage"}}},
        BadInvocation{{"-n", "4", "@exit_code"}, "GPT_PLACEMENT=node:99 names no node of this job (nodes 0 to 3)",
                      {{"GPT_PLACEMENT", "node:99"}}},
        BadInvocation{{"-n", "4", "@exit_code"}, "GPT_HEAP_SIZE=64M leaves each of the 4 nodes 16 MiB of heap",
                      {{"GPT_HEAP_SIZE", "64M"}}}));

TEST(Launch, HelpExitsZeroAndShowsUsage) {
  JobRunner job({launcher(), "--help"});
  auto status = job.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 0);
  EXPECT_NE(job.out().find("gpt-launch -n N [options] [--] PROGRAM [ARGS...]"),
            std::string::npos)
      << job.out();
}

// ---- failures and teardown ---------------------------------------------------

TEST(Failure, TimeoutEndsTheWholeJob) {
  std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "3", "--timeout", "1", program("sleeper"), "3600", token});
  auto status = job.wait(15s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 124);
  EXPECT_NE(job.err().find("gpt-launch: job timed out after 1 s; ending all nodes"),
            std::string::npos)
      << job.err();
  EXPECT_LT(job.elapsed(), 8s);
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

TEST(Failure, WorkerProgramKilledEndsTheJobNamingNodePidAndSignal) {
  std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "4", "-v", program("sleeper"), "3600", token});
  ASSERT_TRUE(job.wait_for_stderr("all 4 nodes started", 20s)) << job.err();
  pid_t victim = gpt::test::logged_pid(job.err(), 2, "program");
  ASSERT_GT(victim, 0) << job.err();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  auto status = job.wait(10s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_NE(exit_code(*status), 0);
  EXPECT_LT(job.elapsed(), 25s);
  std::string expected = "node 2: program (pid " + std::to_string(victim) +
                         ") killed by signal 9 (SIGKILL)";
  EXPECT_NE(job.err().find(expected), std::string::npos) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

TEST(Failure, AgentKilledEndsTheJobNamingNodePidAndSignal) {
  std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "3", "-v", program("sleeper"), "3600", token});
  ASSERT_TRUE(job.wait_for_stderr("all 3 nodes started", 20s)) << job.err();
  pid_t victim = gpt::test::logged_pid(job.err(), 1, "agent");
  ASSERT_GT(victim, 0) << job.err();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  auto status = job.wait(10s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_NE(exit_code(*status), 0);
  std::string expected =
      "node 1: agent gpt-node (pid " + std::to_string(victim) + ") killed by signal 9 (SIGKILL)";
  EXPECT_NE(job.err().find(expected), std::string::npos) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

class LauncherSignal : public ::testing::TestWithParam<int> {};

TEST_P(LauncherSignal, LeavesNoProcessBehind) {
  int sig = GetParam();
  std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "4", "-v", program("sleeper"), "3600", token});
  ASSERT_TRUE(job.wait_for_stderr("all 4 nodes started", 20s)) << job.err();
  // 4 agents + 4 programs + the launcher carry the token.
  ASSERT_EQ(gpt::test::processes_with(token).size(), 9u) << job.err();
  ASSERT_EQ(kill(job.pid(), sig), 0);  // the launcher only, not its group
  auto status = job.wait(10s);
  ASSERT_TRUE(status) << job.err();
  if (sig == SIGKILL) {
    EXPECT_TRUE(WIFSIGNALED(*status));
  } else {
    EXPECT_EQ(exit_code(*status), 128 + sig) << job.err();
    EXPECT_NE(job.err().find("interrupted by SIG"), std::string::npos) << job.err();
  }
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

INSTANTIATE_TEST_SUITE_P(Failure, LauncherSignal, ::testing::Values(SIGKILL, SIGTERM, SIGINT),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

}  // namespace

namespace {

// An SPMD job of exit_code on 3 nodes returning `status`, whose nodes but 0
// wait `late_ms` before they return.
std::unique_ptr<JobRunner> spmd_with_late_workers(const char* late_ms, const char* status) {
  setenv("GPT_TEST_LATE_MS", late_ms, 1);
  auto job = std::make_unique<JobRunner>(
      std::vector<std::string>{launcher(), "--spmd", "-n", "3", "--timeout", "60", program("exit_code"), status});
  unsetenv("GPT_TEST_LATE_MS");
  return job;
}

// SPMD: the job ends when every node's main has returned, so a worker that
// returns after node 0 still gets its buffered output out.
TEST(Spmd, TheJobEndsWhenEveryNodesMainHasReturned) {
  auto job = spmd_with_late_workers("400", "0");
  auto status = job->wait(40s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_EQ(exit_code(*status), 0) << job->err();
  for (int node = 0; node < 3; ++node)
    EXPECT_NE(job->out().find("main on node " + std::to_string(node) + " of 3\n"), std::string::npos)
        << "node " << node << "'s output is missing:\n" << job->out() << job->err();
  EXPECT_GE(job->elapsed(), 400ms);
}

TEST(Spmd, AFailingOriginEndsTheJobAtOnce) {
  auto job = spmd_with_late_workers("20000", "5");
  auto status = job->wait(40s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_EQ(exit_code(*status), 5) << job->err();
  EXPECT_LT(job->elapsed(), 15s);
}

// Whether process `pid` has the PM QoS device open (its request lives
// exactly as long as such a descriptor).
bool holds_cpu_latency(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (int fd = 0; fd < 1024; ++fd) {
    char target[256] = {};
    const std::string link = dir + "/" + std::to_string(fd);
    if (readlink(link.c_str(), target, sizeof target - 1) > 0 && std::string(target) == "/dev/cpu_dma_latency")
      return true;
  }
  return false;
}

TEST(PollIdle, EveryAgentHoldsTheRequestWhileTheJobRuns) {
  std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "3", "-v", "--poll-idle", program("sleeper"), "3600", token});
  ASSERT_TRUE(job.wait_for_stderr("all 3 nodes started", 20s)) << job.err();
  for (int node = 0; node < 3; ++node) {
    pid_t agent = gpt::test::logged_pid(job.err(), node, "agent");
    ASSERT_GT(agent, 0) << job.err();
    const std::string node_name = "gpt-node[node " + std::to_string(node) + "]: ";
    if (geteuid() == 0) {
      EXPECT_TRUE(holds_cpu_latency(agent)) << "node " << node;
      EXPECT_NE(job.err().find(node_name + "keeping this machine's CPUs polling"), std::string::npos) << job.err();
      // Nobody else keeps the programs' descriptors: they cannot leak it.
      EXPECT_FALSE(holds_cpu_latency(gpt::test::logged_pid(job.err(), node, "program"))) << "node " << node;
    } else {
      // Not root: each node says it runs without it, and the job goes on.
      EXPECT_NE(job.err().find(node_name + "warning: GPT_POLL_IDLE: cannot open /dev/cpu_dma_latency"),
                std::string::npos)
          << job.err();
    }
  }
  ASSERT_EQ(kill(job.pid(), SIGTERM), 0);
  auto status = job.wait(10s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

TEST(PollIdle, MalformedSettingIsRefused) {
  auto [code, err] = gpt::test::launch_with_env("GPT_POLL_IDLE", "yes");
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("GPT_POLL_IDLE='yes' is neither 0 nor 1"), std::string::npos) << err;
}

// Only a peer with the job's key gets a connection to an agent's port (and
// even then, frames between agents are sealed with it): a stranger is
// refused and logged, and the job goes on.
TEST(Security, AStrangerWithoutTheJobsKeyIsRefusedAndTheJobGoesOn) {
  // The stranger speaks ZeroMQ (UCX's unsealed frames: tests/unit/test_ucx.cc).
  JobRunner job({launcher(), "-n", "2", "-v", "--fabric", "zmq", "--timeout", "3", program("sleeper")});
  ASSERT_TRUE(job.wait_for_stderr("node 1: agent pid", 20s)) << job.err();
  const std::string& err = job.err();
  auto at = err.find("tcp://", err.find("node 1: agent pid"));
  ASSERT_NE(at, std::string::npos) << err;
  std::string endpoint = err.substr(at, err.find('\n', at) - at);
  zmq::context_t ctx;
  zmq::socket_t stranger(ctx, zmq::socket_type::dealer);
  stranger.set(zmq::sockopt::linger, 0);
  stranger.set(zmq::sockopt::routing_id, "n0");  // posing as node 0
  stranger.connect(endpoint);
  std::string frame = "GPT\x01 pretend to be a node of this job, at length";
  (void)stranger.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  ASSERT_TRUE(job.wait_for_stderr("gpt-node[node 1]: refused a connection on " + endpoint + ": handshake failed", 10s))
      << job.err();
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 124) << "the job should have run until its timeout: " << job.err();
  EXPECT_NE(job.out().find("ready on 2 nodes"), std::string::npos);
}

TEST(Security, InsecureSaysSoLoudly) {
  JobRunner job({launcher(), "--insecure", "-n", "2", program("exit_code"), "0"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_NE(job.err().find("WARNING: --insecure"), std::string::npos) << job.err();
}

// The keys reach the agents through an inherited pipe: not in any process's
// command line or environment.
TEST(Security, KeysAreNeitherOnCommandLinesNorInEnvironments) {
  const std::string token = gpt::test::unique_token();
  JobRunner job({launcher(), "-n", "2", "-v", program("sleeper"), token});
  ASSERT_TRUE(job.wait_for_stderr("all 2 nodes started", 20s)) << job.err();
  const auto pids = gpt::test::processes_with(token);
  EXPECT_GE(pids.size(), 5u) << "launcher, 2 agents, 2 programs";
  for (pid_t pid : pids) {
    for (const char* what : {"cmdline", "environ"}) {
      std::ifstream in("/proc/" + std::to_string(pid) + "/" + what);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // A Z85 key is 40 characters of its alphabet; a GPT_KEYS_FD value is a number.
      EXPECT_EQ(text.find("GPT_KEYS="), std::string::npos);
      auto fd_at = text.find("GPT_KEYS_FD=");
      if (fd_at != std::string::npos) {
        std::string value = text.substr(fd_at + 12, text.find('\0', fd_at) - fd_at - 12);
        EXPECT_LE(value.size(), 4u) << "pid " << pid << " " << what;
      }
    }
  }
}

}  // namespace
