// The program's own mmap family (tests/programs/program_mmap.c) on 1, 2 and
// 4 nodes, musl-static and glibc: a map-reduce over an mmap'd input file,
// anonymous mappings shared across nodes, mremap/munmap/madvise, and the
// errno of each bad call on the origin and on another node.
#include <gtest/gtest.h>

#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;
using gpt::test::ScratchDir;

namespace {

struct MmapCase {
  std::string mode;
  int nodes;
  std::string binary;
  std::string expected;  // the start of the one line the program prints
};

class ProgramMmap : public ::testing::TestWithParam<MmapCase> {};

TEST_P(ProgramMmap, WorksOnEveryNode) {
  const auto& c = GetParam();
  ScratchDir dir;
  std::vector<std::string> command = {program(c.binary), c.mode};
  if (c.mode == "mapreduce" || c.mode == "errors") command.push_back(dir.path());
  JobRunner job(launched(c.nodes, command, 150));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out().rfind(c.expected, 0), 0u) << job.out() << job.err();
}

std::vector<MmapCase> cases() {
  const std::string mapreduce = "mapreduce: ";
  const std::string anon = "anon: anonymous mappings are shared by every node, both ways";
  const std::string remap = "remap: mremap, munmap of parts, madvise and MAP_FIXED keep every node in step";
  const std::string errors =
      "errors: every bad call fails with the kernel's errno, or gpthread's documented one";
  std::vector<MmapCase> all;
  for (std::string binary : {"program_mmap", "program_mmap_glibc"}) {
    for (int nodes : {1, 2, 4}) {
      all.push_back(
          {"mapreduce", nodes, binary,
           mapreduce + std::to_string(2 * nodes) + " workers on " + std::to_string(nodes) + " nodes"});
      all.push_back({"anon", nodes, binary, anon});
      all.push_back({"remap", nodes, binary, remap});
    }
    all.push_back({"errors", 1, binary, errors});
    all.push_back({"errors", 2, binary, errors});
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Mmap, ProgramMmap, ::testing::ValuesIn(cases()), [](const auto& info) {
  const MmapCase& c = info.param;
  return c.mode + "_" + std::to_string(c.nodes) + "nodes_" + (c.binary == "program_mmap" ? "musl" : "glibc");
});

}  // namespace
