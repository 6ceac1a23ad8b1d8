// dlopen, dlsym and dlclose across nodes (tests/programs/dl_plugin.c) on 1,
// 2 and 4 nodes: a glibc program and a plug-in built as users build theirs,
// used through the handle and through pointers on nodes that never called
// a dl function; the static (musl) build says dlopen is not supported.
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

// A pointer into a library the job closed, used on a node that never loaded
// it: the normal crash report, which says the address is in the range of a
// closed plug-in, and the job ends with SIGSEGV.
// (Several nodes only: on one, the libc's dlclose unmaps it, a plain crash.)
class DlopenClosed : public ::testing::TestWithParam<int> {};

TEST_P(DlopenClosed, PointerIntoAClosedPluginIsACrashReport) {
  const int nodes = GetParam();
  JobRunner job(launched(nodes, {program("dl_plugin_glibc"), plugin(), "closed"}, 150));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 128 + 11) << job.out() << job.err();
  EXPECT_EQ(job.out(), "about to crash\n") << job.err();
  const std::string node = "gpthread[node " + std::to_string(nodes - 1) + "]: ";
  EXPECT_NE(job.err().find(node + "address 0x1000"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("is in the job's range of dlopen'ed libraries (slot "), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("the range of a closed plug-in"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find(node + "segmentation fault (address not mapped, read) at address 0x1000"),
            std::string::npos)
      << job.err();
  EXPECT_NE(job.err().find(") killed by signal 11 (SIGSEGV)"), std::string::npos) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Nodes, Dlopen, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "nodes"; });
INSTANTIATE_TEST_SUITE_P(Nodes, DlopenClosed, ::testing::Values(2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "nodes"; });

}  // namespace
