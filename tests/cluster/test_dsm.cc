// Multi-node coherence tests: the SPMD program dsm_spmd on 1, 2 and 4 nodes,
// musl-static and glibc. Each node checks what it reads and fails the job on
// a mismatch; here we check the job's status and node 0's report.
#include <gtest/gtest.h>

#include <algorithm>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::build_path;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launch_with_env;
using gpt::test::launcher;
using gpt::test::program;

namespace {


struct DsmCase {
  std::string test;
  int nodes;
  std::string binary;
};

class Dsm : public ::testing::TestWithParam<DsmCase> {};

TEST_P(Dsm, EveryNodeSeesWhatWasReleasedBeforeItsAcquire) {
  const auto& c = GetParam();
  JobRunner job({launcher(), "--spmd", "-n", std::to_string(c.nodes), "--timeout", "30",
                 program(c.binary), c.test});
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), c.test + ": ok on " + std::to_string(c.nodes) + " nodes\n") << job.err();
}

std::vector<DsmCase> cases() {
  std::vector<DsmCase> all;
  for (std::string test : {"buffer", "interleaved", "halves", "counters", "rounds", "list", "realloc",
                           "remote_free", "globals", "threads", "handoff", "large_free", "scan", "install",
                           "exclusive", "write_ahead", "kept_writable"})
    for (int nodes : {2, 4}) all.push_back({test, nodes, "dsm_spmd"});
  for (std::string test : {"buffer", "interleaved", "rounds", "list", "realloc", "remote_free", "globals",
                           "large_free"})
    all.push_back({test, 1, "dsm_spmd"});
  for (std::string test : {"interleaved", "counters", "list", "realloc", "remote_free", "globals", "threads",
                           "handoff", "large_free", "scan", "install", "exclusive", "write_ahead", "kept_writable"})
    all.push_back({test, 3, "dsm_spmd_glibc"});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Coherence, Dsm, ::testing::ValuesIn(cases()), [](const auto& info) {
  return info.param.test + "_" + std::to_string(info.param.nodes) + "nodes_" +
         (info.param.binary == "dsm_spmd" ? "musl" : "glibc");
});

TEST(Stats, PrintedPerNodeWithGptStats) {
  // GPT_STATS=1 reaches the agents through the environment.
  setenv("GPT_STATS", "1", 1);
  JobRunner job({launcher(), "--spmd", "-n", "2", program("dsm_spmd"), "counters"});
  unsetenv("GPT_STATS");
  auto status = job.wait(60s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  for (int n : {0, 1})
    EXPECT_NE(job.err().find("gpt-node[node " + std::to_string(n) + "]: stats: read_faults="),
              std::string::npos)
        << job.err();
  // Node 0 is the home of everything it reads: it never fetches.
  EXPECT_NE(job.err().find("gpt-node[node 0]: stats: read_faults=0 "), std::string::npos) << job.err();
  EXPECT_EQ(job.err().find("gpt-node[node 1]: stats: read_faults=0 "), std::string::npos) << job.err();
}

// Every case in one job, one after another: what one leaves behind (read
// ahead, copies, notices) must not break the next (a read-ahead window left
// far ahead by one scan once stopped the next scan's read-ahead).
TEST(Dsm, AllCasesInOneJob) {
  JobRunner job({launcher(), "--spmd", "-n", "4", "--timeout", "60", program("dsm_spmd"), "all"});
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  const std::string out = job.out();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 17) << out << job.err();
  EXPECT_NE(out.find("install: ok on 4 nodes\n"), std::string::npos) << out << job.err();
  EXPECT_NE(out.find("exclusive: ok on 4 nodes\n"), std::string::npos) << out << job.err();
  EXPECT_NE(out.find("write_ahead: ok on 4 nodes\n"), std::string::npos) << out << job.err();
  EXPECT_NE(out.find("kept_writable: ok on 4 nodes\n"), std::string::npos) << out << job.err();
}

TEST(Region, BadHeapSizeIsRejectedBeforeStarting) {
  auto [code, err] = launch_with_env("GPT_HEAP_SIZE", "lots");
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("GPT_HEAP_SIZE='lots' is not a size"), std::string::npos) << err;
}

}  // namespace

namespace {

struct CrashCase {
  std::string binary, how, address;
};

class RealBug : public ::testing::TestWithParam<CrashCase> {};

// A real bug is not a coherence fault: the report names the node, the
// address and the thread, shows a backtrace, and the job ends with SIGSEGV.
TEST_P(RealBug, GivesTheNormalSigsegvAfterAReport) {
  const auto& c = GetParam();
  JobRunner job({launcher(), "-n", "2", program(c.binary), c.how});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 128 + 11) << job.err();
  EXPECT_EQ(job.out(), "about to crash\n");
  EXPECT_NE(job.err().find("gpthread[node 0]: segmentation fault"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("at address " + c.address), std::string::npos) << job.err();
  EXPECT_NE(job.err().find(" in thread "), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("crash_here+"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("main+"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("gpt-launch: node 0: program (pid "), std::string::npos) << job.err();
  EXPECT_NE(job.err().find(") killed by signal 11 (SIGSEGV)"), std::string::npos) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Fault, RealBug,
                         ::testing::Values(CrashCase{"crash", "null", "0x0"},
                                           CrashCase{"crash", "code", "0x"},
                                           CrashCase{"crash_glibc", "null", "0x0"}),
                         [](const auto& info) {
                           return info.param.binary + "_" + info.param.how;
                         });

}  // namespace

namespace {

class StackOverflow : public ::testing::TestWithParam<std::string> {};

// A thread that runs past the bottom of its stack hits the guard page on the
// node where it runs: reported as an overflow, the job ends with SIGSEGV, and
// nothing below the stack was written.
TEST_P(StackOverflow, IsReportedNeverSilent) {
  for (const char* how : {"stack_overflow0", "stack_overflow1"}) {
    JobRunner job({launcher(), "-n", "2", program(GetParam()), how});
    auto status = job.wait(30s);
    ASSERT_TRUE(status) << job.err();
    EXPECT_EQ(exit_code(*status), 128 + 11) << how << ": " << job.out() << job.err();
    EXPECT_EQ(job.out(), "about to crash\n") << how;
    const std::string node = std::string("gpthread[node ") + how[14] + "]: stack overflow in thread ";
    EXPECT_NE(job.err().find(node), std::string::npos) << how << ": " << job.err();
    EXPECT_NE(job.err().find("pthread_attr_setstacksize"), std::string::npos) << job.err();
  }
}

INSTANTIATE_TEST_SUITE_P(Fault, StackOverflow, ::testing::Values("crash", "crash_glibc"));

struct BadFreeCase {
  std::string binary, how, why;
  std::string call = "free()";  // how the report names the call
};

class BadFree : public ::testing::TestWithParam<BadFreeCase> {};

// Heap misuse is reported with the address and the reason, then aborts:
// never silent corruption.
TEST_P(BadFree, AbortsNamingTheAddress) {
  const auto& c = GetParam();
  JobRunner job({launcher(), "-n", "2", program(c.binary), c.how});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 128 + 6) << job.err();
  auto at = job.out().find("pointer ");
  ASSERT_NE(at, std::string::npos) << job.out();
  std::string address = job.out().substr(at + 8, job.out().find('\n', at) - at - 8);
  EXPECT_NE(job.err().find(c.call + ": invalid pointer " + address + ": " + c.why), std::string::npos)
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(
    Heap, BadFree,
    ::testing::Values(BadFreeCase{"crash", "double_free", "double free"},
                      BadFreeCase{"crash", "free_static", "not in the global heap"},
                      BadFreeCase{"crash", "free_interior", "not the start of an allocated object"},
                      BadFreeCase{"crash_glibc", "double_free", "double free"},
                      // Another node's double free: reported by the home
                      // while the job runs, or as the process exits, naming
                      // the node that freed.
                      BadFreeCase{"crash", "remote_double_free", "double free", "free() on node 1"},
                      BadFreeCase{"crash", "remote_double_free_exit", "double free", "free() on node 1"},
                      BadFreeCase{"crash_glibc", "remote_double_free", "double free", "free() on node 1"},
                      BadFreeCase{"crash_glibc", "remote_double_free_exit", "double free", "free() on node 1"}),
    [](const auto& info) { return info.param.binary + "_" + info.param.how; });

}  // namespace
