// Every sample passes on 1, 2 and 4 nodes, with the same output as the
// same source built with plain gcc against the system's pthreads.
#include <gtest/gtest.h>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::build_path;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;

namespace {

std::string sample(const std::string& name) { return build_path("GPT_SAMPLES_DIR") + "/" + name; }

struct SampleCase {
  std::string name;
  int nodes;
};

class Samples : public ::testing::TestWithParam<SampleCase> {};

TEST_P(Samples, SameOutputAsTheSystemsPthreads) {
  const auto& c = GetParam();
  JobRunner native({sample(c.name + "_system")});
  auto native_status = native.wait(120s);
  ASSERT_TRUE(native_status) << native.err();
  ASSERT_EQ(exit_code(*native_status), 0) << native.err();

  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "120", sample(c.name)});
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), native.out()) << job.err();
  EXPECT_NE(job.out().find("ok"), std::string::npos);
}

std::vector<SampleCase> all() {
  std::vector<SampleCase> v;
  for (std::string s : {"hello", "pi", "matmul", "prodcons", "histogram", "migrate", "wordcount"})
    for (int n : {1, 2, 4}) v.push_back({s, n});
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, Samples, ::testing::ValuesIn(all()), [](const auto& info) {
  return info.param.name + "_" + std::to_string(info.param.nodes) + "nodes";
});

TEST(Samples, HelloRunsOneThreadPerNode) {
  JobRunner job({launcher(), "-n", "4", "--timeout", "60", sample("hello")});
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  // Spread placement starts at the node after main's (node 0).
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(job.err().find("thread " + std::to_string(i) + " ran on node " + std::to_string((i + 1) % 4)),
              std::string::npos)
        << job.err();
}

}  // namespace
