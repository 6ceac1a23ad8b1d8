// fork() in a program that holds MAP_SHARED mappings
// (tests/programs/fork_share.c) on 1 and 2 nodes, musl-static and glibc:
// the child's private copy of them is not supported but said, in one line
// on stderr at the first fork only; a fork without such a mapping (plain,
// or followed by exec) says nothing.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;

namespace {

struct Case {
  int nodes;
  std::string binary;
};

std::string name_of(const ::testing::TestParamInfo<Case>& info) {
  return std::to_string(info.param.nodes) + "nodes_" + (info.param.binary == "fork_share" ? "musl" : "glibc");
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class ForkShare : public ::testing::TestWithParam<Case> {};

TEST_P(ForkShare, TheFirstForkSaysTheChildGetsAPrivateCopy) {
  const Case& c = GetParam();
  JobRunner job(launched(c.nodes, {program(c.binary), "shared"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  std::smatch maps;
  ASSERT_TRUE(std::regex_search(job.out(), maps,
                                std::regex("^shared: 2 forks, each child's writes stayed its own\nmaps: "
                                           "(0x[0-9a-f]+) (0x[0-9a-f]+)\n$")))
      << job.out() << job.err();
  // Once over two forks, naming one of the two mappings and the other.
  EXPECT_EQ(count(job.err(), "fork(): "), 1u) << job.err();
  std::smatch line;
  ASSERT_TRUE(std::regex_search(
      job.err(), line,
      std::regex("gpthread\\[node 0\\]: fork\\(\\): the child gets a private copy of the MAP_SHARED mapping at "
                 "(0x[0-9a-f]+) \\(8192 bytes\\) and of 1 more; memory shared with a fork child is not "
                 "supported \\(docs/threads.md, \"fork\"\\)\n")))
      << job.err();
  EXPECT_TRUE(line[1] == maps[1].str() || line[1] == maps[2].str()) << job.out() << job.err();
}

TEST_P(ForkShare, AForkWithoutASharedMappingSaysNothing) {
  const Case& c = GetParam();
  JobRunner job(launched(c.nodes, {program(c.binary), "plain"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "plain: 2 forks without a MAP_SHARED mapping\n") << job.err();
  EXPECT_EQ(job.err(), "");
}

// A child's first call on a process-shared object in such a mapping says
// the object is its own copy, once: five children, one per kind of object.
TEST_P(ForkShare, TheChildSaysAProcessSharedObjectIsItsOwnCopy) {
  const Case& c = GetParam();
  JobRunner job(launched(c.nodes, {program(c.binary), "pshared"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  std::smatch objects;
  ASSERT_TRUE(std::regex_search(job.out(), objects,
                                std::regex("^pshared: 5 children used their copies\nobjects: (0x[0-9a-f]+) "
                                           "(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)\n$")))
      << job.out() << job.err();
  EXPECT_EQ(count(job.err(), "fork(): the child gets a private copy"), 1u) << job.err();
  EXPECT_EQ(count(job.err(), "fork() child: "), 5u) << job.err();
  const char* kinds[] = {"mutex", "condition variable", "rwlock", "barrier", "semaphore"};
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(count(job.err(), std::string("gpthread[node 0]: fork() child: the process-shared ") + kinds[i] +
                                   " at " + objects[i + 1].str() +
                                   " is in this process's private copy of a MAP_SHARED mapping of its "
                                   "parent: it does not synchronise with the parent (docs/threads.md, "
                                   "\"fork\")\n"),
              1u)
        << kinds[i] << "\n" << job.err();
}

INSTANTIATE_TEST_SUITE_P(Fork, ForkShare,
                         ::testing::Values(Case{1, "fork_share"}, Case{2, "fork_share"},
                                           Case{1, "fork_share_glibc"}, Case{2, "fork_share_glibc"}),
                         name_of);

}  // namespace
