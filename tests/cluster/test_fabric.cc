// Jobs whose agents send each other frames over UCX (gpt-launch --fabric ucx,
// the default; these tests say so explicitly):
// coherence and a sample on 2 and 4 nodes, nodes that share nothing but TCP,
// and a node that dies ending the job with a message.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::build_path;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {

struct UcxCase {
  std::string test;
  int nodes;
  bool rma = false;  // faults read pages one-sided (GPT_UCX_RMA=1)
};

// The pages the nodes' faults read one-sided, from their stats lines.
std::uint64_t pages_read_remote(const std::string& err) {
  std::uint64_t total = 0;
  for (std::size_t at = err.find("pages_read_remote="); at != std::string::npos;
       at = err.find("pages_read_remote=", at + 1))
    total += std::stoull(err.substr(at + std::string("pages_read_remote=").size()));
  return total;
}

class UcxDsm : public ::testing::TestWithParam<UcxCase> {};

TEST_P(UcxDsm, EveryNodeSeesWhatWasReleasedBeforeItsAcquire) {
  const auto& c = GetParam();
  if (c.rma) {
    setenv("GPT_UCX_RMA", "1", 1);
    setenv("GPT_STATS", "1", 1);
  }
  JobRunner job({launcher(), "--fabric", "ucx", "--spmd", "-n", std::to_string(c.nodes), "--timeout", "60",
                 program("dsm_spmd"), c.test});
  unsetenv("GPT_UCX_RMA");
  unsetenv("GPT_STATS");
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), c.test + ": ok on " + std::to_string(c.nodes) + " nodes\n") << job.err();
  // A scan's first faults take the one-sided path (later pages come read ahead).
  if (c.rma && c.test == "scan") EXPECT_GT(pages_read_remote(job.err()), 0u) << job.err();
}

std::vector<UcxCase> cases() {
  std::vector<UcxCase> all;
  for (std::string test : {"buffer", "counters", "rounds", "threads", "handoff", "scan", "large_free"})
    for (int nodes : {2, 4}) all.push_back({test, nodes});
  // Every test whose nodes fault on each other's pages, with one-sided reads;
  // not "handoff", which asks for page copies riding on node 0's notices:
  // node 0 sends copies only of pages it served, and a one-sided read of
  // its pages goes unseen (docs/coherence.md, "Fetching by RMA").
  for (std::string test : {"buffer", "counters", "rounds", "threads", "scan", "install"})
    for (int nodes : {2, 4}) all.push_back({test, nodes, true});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Coherence, UcxDsm, ::testing::ValuesIn(cases()), [](const auto& info) {
  return info.param.test + "_" + std::to_string(info.param.nodes) + "nodes" + (info.param.rma ? "_rma" : "");
});

TEST(Ucx, SamplesRunAcrossFourNodes) {
  for (std::string name : {"hello", "matmul"}) {
    JobRunner job({launcher(), "--fabric", "ucx", "-n", "4", "--timeout", "120",
                   build_path("GPT_SAMPLES_DIR") + "/" + name});
    auto status = job.wait(150s);
    ASSERT_TRUE(status) << name << job.err();
    EXPECT_EQ(exit_code(*status), 0) << name << job.out() << job.err();
    EXPECT_NE(job.out().find("ok"), std::string::npos) << name << job.out();
  }
}

TEST(Ucx, IsTheDefaultAndGptFabricSelectsZeroMq) {
  {
    JobRunner job({launcher(), "-v", "-n", "2", "--timeout", "60", build_path("GPT_SAMPLES_DIR") + "/hello"});
    auto status = job.wait(90s);
    ASSERT_TRUE(status) << job.err();
    EXPECT_EQ(exit_code(*status), 0) << job.err();
    EXPECT_NE(job.err().find("joined at ucx:"), std::string::npos) << job.err();
  }
  setenv("GPT_FABRIC", "zmq", 1);
  JobRunner job({launcher(), "-v", "-n", "2", "--timeout", "60", build_path("GPT_SAMPLES_DIR") + "/hello"});
  unsetenv("GPT_FABRIC");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_NE(job.err().find("joined at tcp://"), std::string::npos) << job.err();
  EXPECT_EQ(job.err().find("joined at ucx:"), std::string::npos) << job.err();
}

TEST(Ucx, AnUnknownFabricIsRefusedBeforeStarting) {
  JobRunner job({launcher(), "--fabric", "carrier-pigeon", "-n", "2", build_path("GPT_SAMPLES_DIR") + "/hello"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2) << job.err();
  EXPECT_NE(job.err().find("zmq or ucx"), std::string::npos) << job.err();
}

// Whether anything of `pid`'s (mappings, open files) is memory another
// process could share: shared-memory segments, knem, xpmem (UCX's libraries
// for them may be loaded; used, they map or open these).
std::string shared_memory_of(pid_t pid) {
  std::string found;
  auto suspicious = [](const std::string& s) {
    return s.find("/dev/shm") != std::string::npos || s.find("knem") != std::string::npos ||
           s.find("xpmem") != std::string::npos || (s.find("cma") != std::string::npos && s.find(".so") == std::string::npos);
  };
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);)
    if (suspicious(line)) found += line + "\n";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    auto target = std::filesystem::read_symlink(e.path(), ec).string();
    if (suspicious(target)) found += target + "\n";
  }
  return found;
}

// Two nodes of one machine share nothing but TCP also over UCX (its context
// allows TCP only, whatever UCX_TLS says); when one dies, the job ends with
// a message naming it.
TEST(Ucx, NodesShareNothingButTcpAndADeadNodeEndsTheJob) {
  const std::string token = gpt::test::unique_token();
  setenv("UCX_TLS", "all", 1);  // what the code must not follow
  setenv("GPT_UCX_RMA", "1", 1);  // registered memory is no exception
  JobRunner job({launcher(), "--fabric", "ucx", "--spmd", "-n", "2", "-v", "--timeout", "60",
                 program("dsm_spmd"), "rounds"});
  auto done = job.wait(90s);
  ASSERT_TRUE(done) << job.err();
  EXPECT_EQ(exit_code(*done), 0) << job.err();

  JobRunner idle({launcher(), "--fabric", "ucx", "-n", "2", "-v", "--timeout", "60", program("sleeper"), token});
  unsetenv("UCX_TLS");
  unsetenv("GPT_UCX_RMA");
  ASSERT_TRUE(idle.wait_for_stderr("all 2 nodes started", 30s)) << idle.err();
  for (int node : {0, 1}) {
    const pid_t agent = gpt::test::logged_pid(idle.err(), node, "agent");
    ASSERT_GT(agent, 0) << idle.err();
    EXPECT_EQ(shared_memory_of(agent), "") << "node " << node;
  }
  const pid_t agent1 = gpt::test::logged_pid(idle.err(), 1, "agent");
  ASSERT_EQ(kill(agent1, SIGKILL), 0);
  auto status = idle.wait(30s);
  ASSERT_TRUE(status) << idle.err();
  EXPECT_NE(exit_code(*status), 0) << idle.err();
  EXPECT_NE(idle.err().find("node 1"), std::string::npos) << idle.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

}  // namespace
