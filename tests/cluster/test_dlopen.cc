// dlopen, dlsym and dlclose across nodes (tests/programs/dl_plugin.c) on 1,
// 2 and 4 nodes: a glibc program and a plug-in built as users build theirs;
// the static (musl) build says dlopen is not supported.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;

namespace {

std::string plugin() { return std::string(std::getenv("GPT_PROGRAMS_DIR")) + "/libgptplugin.so"; }

class Dlopen : public ::testing::TestWithParam<int> {};

TEST_P(Dlopen, OneHandleAndOneAddressOnEveryNode) {
  const int nodes = GetParam();
  JobRunner job(launched(nodes, {program("dl_plugin_glibc"), plugin()}, 150));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "dlopen: a plug-in is at the same address on " + std::to_string(nodes) + " nodes\n")
      << job.err();
}

TEST_P(Dlopen, StaticProgramsSayItIsNotSupported) {
  JobRunner job(launched(GetParam(), {program("dl_plugin"), plugin()}, 150));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "dlopen: not supported in static programs\n") << job.err();
}

INSTANTIATE_TEST_SUITE_P(Nodes, Dlopen, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "nodes"; });

}  // namespace
