// The libc shim (docs/libc-shim.md): threads on nodes other than the origin
// write files main opened, read files main wrote, share descriptors both
// ways, see main's pid and working directory, print to the launcher's
// stdout, get the kernel's errno for failing calls, and end the whole job
// with exit(3) or abort() as one process would. musl-static and glibc.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::ScratchDir;
using gpt::test::launched;
using gpt::test::program;

namespace {


struct ShimCase {
  std::string binary;
  int nodes;
  int lines;
};

class Files : public ::testing::TestWithParam<ShimCase> {};

TEST_P(Files, RemoteThreadsUseTheOriginsFilesAndDescriptors) {
  const auto& c = GetParam();
  ScratchDir dir;
  setenv("SHIM_DIR", dir.path().c_str(), 1);
  setenv("GPT_STATS", "1", 1);
  JobRunner job(launched(c.nodes, {program(c.binary), "files", std::to_string(c.lines)}, 120));
  unsetenv("SHIM_DIR");
  unsetenv("GPT_STATS");
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("files: " + std::to_string(4 * c.lines) +
                           " lines from 4 threads in order; descriptors shared both ways\n"),
            std::string::npos)
      << job.out() << job.err();
  // Printed by each thread without a flush, some on other nodes, before
  // main returned: flushed at the end, through the origin.
  for (int i = 0; i < 4; ++i) {
    const std::string t = "thread " + std::to_string(i);
    EXPECT_NE(job.out().find(t + " says goodbye\n"), std::string::npos) << job.out() << job.err();
    EXPECT_NE(job.out().find(t + " write(1)\n"), std::string::npos) << job.out();
    EXPECT_NE(job.out().find(t + " puts\n"), std::string::npos) << job.out();
    EXPECT_NE(job.err().find(t + " on stderr\n"), std::string::npos) << job.err();
  }
  if (c.nodes > 1) {
    // The writes really went through the origin: count what the agents say.
    long forwarded = 0;
    for (size_t at = job.err().find("calls_forwarded="); at != std::string::npos;
         at = job.err().find("calls_forwarded=", at + 1))
      forwarded += std::stol(job.err().substr(at + 16));
    EXPECT_GE(forwarded, c.lines) << job.err();
  }
}

INSTANTIATE_TEST_SUITE_P(Shim, Files,
                         ::testing::Values(ShimCase{"shim_cases", 0, 100}, ShimCase{"shim_cases", 1, 100},
                                           ShimCase{"shim_cases", 2, 1000}, ShimCase{"shim_cases", 4, 10000},
                                           ShimCase{"shim_cases_glibc", 2, 1000},
                                           ShimCase{"shim_cases_glibc", 4, 10000}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
                                  std::to_string(info.param.lines) + "lines";
                         });

class Ends : public ::testing::TestWithParam<std::string> {};

TEST_P(Ends, FailingCallsGiveTheKernelsErrno) {
  ScratchDir dir;
  setenv("SHIM_DIR", dir.path().c_str(), 1);
  JobRunner job(launched(4, {program(GetParam()), "errno"}, 60));
  unsetenv("SHIM_DIR");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "errno: failing calls on node 3 gave the kernel's errno\n") << job.err();
  // fork() from a remote thread works (on the origin); the raw system call
  // there is refused, and says so.
  EXPECT_NE(job.err().find("creating a process from a thread on node 3 is not supported"), std::string::npos)
      << job.err();
}

TEST_P(Ends, BlockingEverySignalDoesNotBlockFaultsOrForwarding) {
  JobRunner job(launched(4, {program(GetParam()), "masks"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "masks: 8 threads blocked every signal and still faulted on shared memory\n") << job.err();
}

TEST_P(Ends, TheOriginsCallsFindGlobalBuffersOtherNodesWrote) {
  ScratchDir dir;
  setenv("SHIM_DIR", dir.path().c_str(), 1);
  JobRunner job(launched(4, {program(GetParam()), "buffers"}, 60));
  unsetenv("SHIM_DIR");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "buffers: fwrite, write, read, sockets, poll, stat, pipe, ioctl, select, getsockname, paths, getrusage and epoll_ctl on global memory other nodes wrote: ok\n") << job.err();
}

TEST_P(Ends, ExitFromARemoteThreadEndsTheJobWithItsStatusAfterFlushing) {
  JobRunner job(launched(4, {program(GetParam()), "exit"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 3) << job.out() << job.err();
  EXPECT_EQ(job.out(), "printed on node 3 right before exit(3)\n") << job.err();
}

TEST_P(Ends, AbortOnARemoteNodeEndsTheJobAsSigabrt) {
  JobRunner job(launched(4, {program(GetParam()), "abort"}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 134) << job.out() << job.err();
  EXPECT_NE(job.err().find("node 3: program"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("SIGABRT"), std::string::npos) << job.err();
  EXPECT_EQ(job.out().find("not reached"), std::string::npos);
}

TEST_P(Ends, AForwardingThreadDoesNotHangTheJobWhenTheOriginDies) {
  JobRunner job(launched(4, {program(GetParam()), "orphan"}, 60));
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << "the job hung: " << job.err();
  EXPECT_EQ(exit_code(*status), 137) << job.out() << job.err();
  EXPECT_LT(job.elapsed(), 10s);
  EXPECT_NE(job.err().find("node 0: program"), std::string::npos) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Shim, Ends, ::testing::Values("shim_cases", "shim_cases_glibc"));

}  // namespace
