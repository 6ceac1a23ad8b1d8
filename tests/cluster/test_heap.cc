// The allocator through the real malloc family (tests/programs/heap_reuse.c):
// freed memory serves any later size, across nodes too; realloc grows a
// buffer to 1 GiB; the aligned calls refuse what overflows. musl-static and
// glibc. The fill cases run on a small heap, so that filling it is quick.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;

namespace {

struct HeapCase {
  std::string mode;
  int nodes;  // 0: the program alone, without the launcher
  std::string binary;
  const char* heap_size;  // GPT_HEAP_SIZE, or nullptr for the default
  std::string expected;
};

class HeapReuse : public ::testing::TestWithParam<HeapCase> {};

TEST_P(HeapReuse, FreedMemoryServesWhatComesNext) {
  const auto& c = GetParam();
  if (c.heap_size) setenv("GPT_HEAP_SIZE", c.heap_size, 1);
  std::vector<std::string> command = {program(c.binary), c.mode};
  JobRunner job(c.nodes ? launched(c.nodes, command, 150) : command);
  unsetenv("GPT_HEAP_SIZE");
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), c.expected + "\n") << job.err();
}

const std::string kAligned = "aligned: every overflowing size and alignment refused as glibc does";
const std::string kRealloc = "realloc: grew to 1 GiB by 64 KiB steps (few moves)";
const std::string kBlocks = "blocks: freed 64 KiB blocks merge into any bigger block";
const std::string kSizes = "sizes: memory freed as 1 MiB blocks served 64-byte objects and back";
const std::string kRemote = "remote: objects freed by another node served 1 MiB blocks at home";

std::vector<HeapCase> cases() {
  std::vector<HeapCase> all;
  for (std::string binary : {"heap_reuse", "heap_reuse_glibc"}) {
    all.push_back({"aligned", 0, binary, nullptr, kAligned});
    all.push_back({"aligned", 2, binary, nullptr, kAligned});
    // The default 64 GiB heap: growth by copying every step ran out at 45 MiB.
    all.push_back({"realloc", 1, binary, nullptr, kRealloc});
    all.push_back({"blocks", 2, binary, "256M", kBlocks});
    all.push_back({"sizes", 2, binary, "256M", kSizes});
    all.push_back({"remote", 2, binary, "128M", kRemote});
  }
  all.push_back({"realloc", 0, "heap_reuse", nullptr, kRealloc});
  all.push_back({"blocks", 1, "heap_reuse", "128M", kBlocks});
  all.push_back({"sizes", 1, "heap_reuse", "128M", kSizes});
  all.push_back({"remote", 4, "heap_reuse", "256M", kRemote});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Heap, HeapReuse, ::testing::ValuesIn(cases()), [](const auto& info) {
  const HeapCase& c = info.param;
  return c.mode + "_" + (c.nodes ? std::to_string(c.nodes) + "nodes" : std::string("alone")) + "_" +
         (c.binary == "heap_reuse" ? "musl" : "glibc");
});

}  // namespace

namespace {

class DataLimit : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// malloc under RLIMIT_DATA (and RLIMIT_AS in a fork child) returns NULL with
// ENOMEM instead of growing on through the global heap or ending the program.
TEST_P(DataLimit, MallocFailsAtTheLimit) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 100));
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "data limit: ok\n") << job.err();
}

INSTANTIATE_TEST_SUITE_P(Heap, DataLimit,
                         ::testing::Values(std::pair<std::string, int>{"data_limit", 1},
                                           std::pair<std::string, int>{"data_limit", 2},
                                           std::pair<std::string, int>{"data_limit_glibc", 2}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace
