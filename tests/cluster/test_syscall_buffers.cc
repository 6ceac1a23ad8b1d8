// System calls on global memory never fail or come back short because of
// coherence (docs/libc-shim.md, "Buffers in the global space"): a thread
// on the origin preads, reads, writes, recvs, freads and fwrites through
// fresh heap buffers, and a thread on the last node recvs from a socket
// pair of its own, while a mutex passes between the origin and the last
// node, so pages are released and invalidated under the calls. Every byte
// is checked; EFAULTs and short counts must be 0, while a pointer outside
// any mapping still gets the kernel's EFAULT. musl-static and glibc, 2 and
// 4 nodes.
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

constexpr int kRounds = 200;
const char* const kModes[] = {"pread", "read", "write", "recv", "fread", "fwrite", "recv-remote", "bad-pointers"};

struct Case {
  std::string binary;
  int nodes;
};

class SyscallBuffers : public ::testing::TestWithParam<Case> {};

TEST_P(SyscallBuffers, NoEfaultNoShortCountNoWrongByte) {
  const auto& c = GetParam();
  ScratchDir dir;
  std::vector<std::string> command = {program(c.binary), dir.path(), std::to_string(kRounds)};
  for (const char* mode : kModes) command.push_back(mode);
  JobRunner job(launched(c.nodes, command, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  std::string expected;
  for (const char* mode : kModes)
    expected += std::string(mode) + ": " + std::to_string(kRounds) +
                " rounds, 0 efault, 0 short, 0 bad bytes, 0 other errors\n";
  EXPECT_EQ(job.out(), expected) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Shim, SyscallBuffers,
                         ::testing::Values(Case{"syscall_buffers", 2}, Case{"syscall_buffers", 4},
                                           Case{"syscall_buffers_glibc", 2}, Case{"syscall_buffers_glibc", 4}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes";
                         });

}  // namespace
