// pthreads across nodes: placement, remote start, arguments on main's
// stack, results through join, frees of other nodes' memory.
#include <gtest/gtest.h>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {

struct ThreadCase {
  std::string binary;
  int nodes;
  int threads;
  std::string placement;  // GPT_PLACEMENT, "" = default (spread)
  std::string per_node;   // expected distribution
};

class Threads : public ::testing::TestWithParam<ThreadCase> {};

TEST_P(Threads, RunWherePlacedAndJoinWithTheirResults) {
  const auto& c = GetParam();
  if (!c.placement.empty()) setenv("GPT_PLACEMENT", c.placement.c_str(), 1);
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "60", program(c.binary),
                 std::to_string(c.threads)});
  unsetenv("GPT_PLACEMENT");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  long long total = 0;
  for (int i = 0; i < c.threads; ++i)
    for (int k = 0; k < 64; ++k) total += i * 1000 + k;
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads joined, total " +
                           std::to_string(total) + "; per node:" + c.per_node + "\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(
    Placement, Threads,
    ::testing::Values(ThreadCase{"threads_basic", 1, 8, "", " 8"},
                      ThreadCase{"threads_basic", 2, 8, "", " 4 4"},
                      ThreadCase{"threads_basic", 4, 8, "", " 2 2 2 2"},
                      ThreadCase{"threads_basic", 4, 64, "", " 16 16 16 16"},
                      ThreadCase{"threads_basic", 4, 8, "node:2", " 0 0 8 0"},
                      ThreadCase{"threads_basic", 4, 8, "local", " 8 0 0 0"},
                      ThreadCase{"threads_basic_glibc", 2, 8, "", " 4 4"},
                      ThreadCase{"threads_basic_glibc", 4, 64, "", " 16 16 16 16"}),
    [](const auto& info) {
      std::string p = info.param.placement.empty() ? "spread" : info.param.placement;
      for (char& ch : p)
        if (ch == ':') ch = '_';
      return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
             std::to_string(info.param.threads) + "threads_" + p;
    });

TEST(Threads, PlacementOnAMissingNodeIsRefusedClearly) {
  setenv("GPT_PLACEMENT", "node:7", 1);
  JobRunner job({launcher(), "-n", "2", "--timeout", "30", program("threads_basic"), "2"});
  unsetenv("GPT_PLACEMENT");
  auto status = job.wait(60s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_NE(exit_code(*status), 0);
  EXPECT_NE(job.err().find("GPT_PLACEMENT=node:7 names no node of this job"), std::string::npos)
      << job.err();
}

}  // namespace
