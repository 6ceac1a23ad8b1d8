// Writable MAP_SHARED file mappings (tests/programs/shared_file_maps.c) on
// 1, 2 and 4 nodes, musl-static and glibc: threads on every node write a
// mapping of a file, and the file holds their bytes after msync, munmap,
// mremap, and the end of the process (main returning, or exit on the last
// node), which this test checks by reading the file once the job is over.
#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;
using gpt::test::ScratchDir;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kFileSize = 40 * kPage + 100;  // FILE_SIZE in the program

unsigned char byte_at(std::size_t i, int round) {
  return static_cast<unsigned char>(i * 131 + i / kPage * 7 + static_cast<std::size_t>(round));
}

struct Case {
  std::string mode;
  int nodes;
  std::string binary;
  std::string expected;  // the start of the one line the program prints
};

class SharedFileMaps : public ::testing::TestWithParam<Case> {};

TEST_P(SharedFileMaps, WritesThrough) {
  const auto& c = GetParam();
  ScratchDir dir;
  JobRunner job(launched(c.nodes, {program(c.binary), c.mode, dir.path()}, 120));
  auto status = job.wait(150s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out().rfind(c.expected, 0), 0u) << job.out() << job.err();
  if (c.mode == "fork") {
    // The child's private copy is said at the first of the two forks only
    // (docs/threads.md, "fork").
    const std::string line = "fork(): the child gets a private copy of the MAP_SHARED mapping at ";
    const std::size_t first = job.err().find(line);
    EXPECT_NE(first, std::string::npos) << job.err();
    if (first != std::string::npos) EXPECT_EQ(job.err().find(line, first + 1), std::string::npos) << job.err();
  }
  if (c.mode != "exit" && c.mode != "exit_remote") return;
  // The end of the process wrote the mapping back: every worker's slice,
  // and for exit_remote the first page as the exiting thread wrote it.
  std::ifstream in(dir.path() + "/" + c.mode, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  ASSERT_EQ(bytes.size(), kFileSize) << "the end of the process changed the file's size";
  std::size_t wrong = 0, first_wrong = 0;
  for (std::size_t i = 0; i < kFileSize; ++i) {
    const int round = c.mode == "exit_remote" && i < kPage ? 8 : 7;
    if (static_cast<unsigned char>(bytes[i]) != byte_at(i, round) && wrong++ == 0) first_wrong = i;
  }
  EXPECT_EQ(wrong, 0u) << "first wrong byte at " << first_wrong << "\n" << job.err();
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (std::string binary : {"shared_file_maps", "shared_file_maps_glibc"}) {
    for (int nodes : {1, 2, 4}) {
      const std::string workers = std::to_string(2 * nodes) + " workers";
      all.push_back({"msync", nodes, binary, "msync: " + workers + " on " + std::to_string(nodes) + " nodes"});
      all.push_back({"remap", nodes, binary, "remap: mremap and madvise keep"});
      all.push_back({"exit", nodes, binary, "exit: " + workers + " wrote"});
      all.push_back({"exit_remote", nodes, binary, "exit_remote: " + workers + " wrote"});
      all.push_back({"errors", nodes, binary, "errors: msync and mmap fail with the kernel's errno"});
    }
    all.push_back({"fork", 2, binary, "fork: a child's copy writes back only when it msyncs"});
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Maps, SharedFileMaps, ::testing::ValuesIn(cases()), [](const auto& info) {
  const Case& c = info.param;
  return c.mode + "_" + std::to_string(c.nodes) + "nodes_" + (c.binary == "shared_file_maps" ? "musl" : "glibc");
});

}  // namespace
