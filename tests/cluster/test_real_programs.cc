// Programs in the shape of real ones, run as a user would on 1, 2 and 4
// nodes: a compressor pipeline (reader, workers, an ordered writer, "wait
// for value" locks, join-all; C, both libcs) stressed for many rounds, and a
// C++ thread pool (std::thread, std::mutex, std::condition_variable,
// std::function tasks, new/delete across nodes; glibc).
#include <gtest/gtest.h>

#include <string>

#include "job_runner.h"

namespace {

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launched;
using gpt::test::program;
using gpt::test::ScratchDir;

struct Run {
  std::string binary;
  int nodes;
};

std::string name_of(const ::testing::TestParamInfo<Run>& info) {
  return info.param.binary + "_" + std::to_string(info.param.nodes) + "_nodes";
}

class Pipeline : public ::testing::TestWithParam<Run> {};

// 40 rounds of up to 2.5 MiB each, 3 workers: every output expands to its input.
TEST_P(Pipeline, OutputExpandsToTheInputEveryRound) {
  const auto& r = GetParam();
  ScratchDir dir;
  JobRunner job(launched(r.nodes, {program(r.binary), dir.path(), "40", "3"}, 240));
  auto status = job.wait(300s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("pipeline: 40 rounds, "), std::string::npos) << job.out() << job.err();
  EXPECT_NE(job.out().find("all equal"), std::string::npos) << job.out();
}

INSTANTIATE_TEST_SUITE_P(RealPrograms, Pipeline,
                         ::testing::Values(Run{"pipeline", 1}, Run{"pipeline", 2}, Run{"pipeline", 4},
                                           Run{"pipeline_glibc", 1}, Run{"pipeline_glibc", 2},
                                           Run{"pipeline_glibc", 4}),
                         name_of);

class WorkQueue : public ::testing::TestWithParam<Run> {};

TEST_P(WorkQueue, EveryTaskReportsOnceWithTheRightResult) {
  const auto& r = GetParam();
  JobRunner job(launched(r.nodes, {program(r.binary), "12", "4"}, 240));
  auto status = job.wait(300s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("work_queue: 12 rounds, "), std::string::npos) << job.out() << job.err();
}

INSTANTIATE_TEST_SUITE_P(RealPrograms, WorkQueue,
                         ::testing::Values(Run{"work_queue_glibc", 1}, Run{"work_queue_glibc", 2},
                                           Run{"work_queue_glibc", 4}),
                         name_of);

}  // namespace
