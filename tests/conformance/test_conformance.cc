// Runs each conformance program (tests/conformance/conf_*.c) on 1, 2 and 4
// nodes, musl-static and glibc: the program checks every call's return
// value and errno itself and ends with "<suite>: N checks, 0 failed".
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::build_path;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;

namespace {

struct ConfRun {
  std::string program;  // conf_mutex, conf_mutex_glibc, ...
  int nodes;
};

std::vector<ConfRun> all_runs() {
  std::vector<ConfRun> runs;
  // Read while the tests are being registered: meson sets it (an empty
  // list outside meson registers nothing, rather than aborting).
  const char* list = std::getenv("GPT_CONFORMANCE_PROGRAMS");
  std::istringstream names(list ? list : "");
  for (std::string name; names >> name;)
    for (const char* libc : {"", "_glibc"})
      for (int nodes : {1, 2, 4}) runs.push_back({name + libc, nodes});
  return runs;
}

class Conformance : public ::testing::TestWithParam<ConfRun> {};

TEST_P(Conformance, EveryCheckPasses) {
  const ConfRun& r = GetParam();
  JobRunner job({launcher(), "-n", std::to_string(r.nodes), "--timeout", "90",
                 build_path("GPT_CONFORMANCE_DIR") + "/" + r.program});
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << "did not end within 120 s\n" << job.out() << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find(" checks, 0 failed\n"), std::string::npos) << job.out() << job.err();
}

INSTANTIATE_TEST_SUITE_P(Posix, Conformance, ::testing::ValuesIn(all_runs()), [](const auto& info) {
  return info.param.program + "_" + std::to_string(info.param.nodes) + "nodes";
});

}  // namespace
