// Process-directed signals across nodes (tests/programs/process_signals.c):
// with every thread of the origin blocking a signal, kill(getpid()) and
// sigqueue reach a thread on another node that takes it (its handler, or its
// sigwait), once; a signal nobody takes stays pending until a thread
// unblocks it. nodes 0: the same program in one process, without gpt-launch.
#include <gtest/gtest.h>

#include <signal.h>

#include <iostream>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;

namespace {

class ProcessSignals : public ::testing::TestWithParam<std::pair<std::string, int>> {};

TEST_P(ProcessSignals, ReachOneThreadThatTakesThemOnAnyNode) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  const std::string node = std::to_string(nodes > 1 ? nodes - 1 : 0);
  EXPECT_EQ(job.out(), "handler: 20 kills, 20 handled on node " + node + ": ok\n" +
                           "sigwait: taken on node " + node + ": ok\n" +
                           "later: pending, then taken on node " + node + ": ok\n" +
                           "sigqueue: values 4242 and 77 on node " + node + ": ok\n")
      << job.err();
  // The measured delay, for the log.
  const auto at = job.err().find("process signal latency");
  if (at != std::string::npos) std::cout << job.err().substr(at, job.err().find('\n', at) - at) << "\n";
}

INSTANTIATE_TEST_SUITE_P(Signals, ProcessSignals,
                         ::testing::Values(std::pair<std::string, int>{"process_signals", 0},
                                           std::pair<std::string, int>{"process_signals", 2},
                                           std::pair<std::string, int>{"process_signals", 4},
                                           std::pair<std::string, int>{"process_signals_glibc", 0},
                                           std::pair<std::string, int>{"process_signals_glibc", 2},
                                           std::pair<std::string, int>{"process_signals_glibc", 4}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

// A default-terminate signal that a thread of the origin does not block
// ends the job at once, whichever node sent it (as before: the origin's
// kernel acts on it).
TEST(ProcessSignalsDefault, ASignalNobodyBlocksEndsTheJobByItsDefaultAction) {
  for (const auto& [binary, nodes] : {std::pair<std::string, int>{"process_signals", 2},
                                      std::pair<std::string, int>{"process_signals", 4},
                                      std::pair<std::string, int>{"process_signals_glibc", 2}}) {
    SCOPED_TRACE(binary + " on " + std::to_string(nodes) + " nodes");
    JobRunner job(launched(nodes, {program(binary), "terminate"}, 60));
    auto status = job.wait(90s);
    ASSERT_TRUE(status) << job.err();
    EXPECT_EQ(exit_code(*status), 128 + SIGTERM) << job.out() << job.err();
    EXPECT_EQ(job.out(), "") << job.err();
    EXPECT_NE(job.err().find("killed by signal 15 (SIGTERM)"), std::string::npos) << job.err();
  }
}

}  // namespace
