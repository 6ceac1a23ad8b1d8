// gpt-launch --preload on 1, 2 and 4 nodes: programs built with plain gcc
// -pthread, never by gpt-cc (tests/programs/preload/), share their heap and
// globals and synchronise across nodes; what cannot work is refused before
// any node starts, with exit status 2.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;

namespace {

std::string preload_program(const std::string& name) {
  return std::string(std::getenv("GPT_PRELOAD_PROGRAMS_DIR")) + "/" + name;
}

// gpt-launch --preload -n N --timeout T PROGRAM, with `env` ("NAME=value")
// set for the job alone.
std::vector<std::string> preloaded(int nodes, const std::string& name, std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  for (const std::string& word : {launcher(), std::string("--preload"), std::string("-n"), std::to_string(nodes),
                                  std::string("--timeout"), std::string("150"), preload_program(name)})
    argv.push_back(word);
  return argv;
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class Preload : public ::testing::TestWithParam<int> {};

TEST_P(Preload, CounterUnderAMutexFromThreadsOnEveryNode) {
  const int nodes = GetParam();
  JobRunner job(preloaded(nodes, "preload_counter"));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("counter 16000 of 16000, threads ran on " + std::to_string(nodes) + " nodes"),
            std::string::npos)
      << job.out() << job.err();
  // Every thread's printf reached the output, from whichever node it ran on.
  EXPECT_EQ(count_of(job.out(), " ran on node "), 8) << job.out();
  for (int n = 0; n < nodes; ++n)
    EXPECT_NE(job.out().find("ran on node " + std::to_string(n) + "\n"), std::string::npos) << job.out();
}

TEST_P(Preload, ProducersAndConsumersOnConditionVariables) {
  JobRunner job(preloaded(GetParam(), "preload_prodcons"));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "consumed 1000 items, sum 500500 (expected 500500)\n") << job.err();
}

TEST_P(Preload, GlobalsWrittenOnTheLastNodeAreReadByMain) {
  const int nodes = GetParam();
  const int writer = nodes - 1;  // node 2 of 4 would do as well; the last one is farthest from node 0
  JobRunner job(preloaded(nodes, "preload_globals", {"GPT_PLACEMENT=node:" + std::to_string(writer)}));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "main on node 0: initialised 42, message 'written on node " + std::to_string(writer) +
                           "', zeroed sum 13495500, heap 'heap', LD_PRELOAD clean\n")
      << job.err();
  EXPECT_NE(job.err().find("writer: on node " + std::to_string(writer)), std::string::npos) << job.err();
  // stdout and stderr, copied into the program's .bss, do not keep its page per node.
  EXPECT_EQ(job.err().find("warning"), std::string::npos) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Nodes, Preload, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "nodes"; });

TEST(PreloadOther, GlobalsWrittenOnNode2OfFour) {
  JobRunner job(preloaded(4, "preload_globals", {"GPT_PLACEMENT=node:2"}));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("message 'written on node 2'"), std::string::npos) << job.out() << job.err();
}

TEST(PreloadOther, PositionDependentExecutable) {
  JobRunner job(preloaded(2, "preload_counter_nopie"));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("counter 16000 of 16000, threads ran on 2 nodes"), std::string::npos)
      << job.out() << job.err();
}

TEST(PreloadOther, APageWithLibcsEnvironStaysPerNodeAndIsNamed) {
  JobRunner job(preloaded(2, "preload_environ_page"));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "environment seen by a thread: yes\n") << job.err();
  EXPECT_NE(job.err().find("gpt-launch: warning: the page at "), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("environ'"), std::string::npos) << job.err();  // environ or __environ
  EXPECT_NE(job.err().find("near_environ"), std::string::npos) << job.err();  // the program's global named
}

// A program of the distribution, never rebuilt: xz compresses blocks on
// worker threads, spread over the nodes; the result decompresses to the input.
TEST(PreloadOther, TheSystemsXzCompressesOnThreadsOfTwoNodes) {
  gpt::test::ScratchDir dir;
  {
    std::ofstream input(dir / "input");
    std::uint64_t x = 88172645463325252ull;  // xorshift: text that does not compress to nothing
    for (int line = 0; line < 60000; ++line) {
      for (int i = 0; i < 40; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        input << static_cast<char>('a' + x % 26);
      }
      input << '\n';
    }
  }
  JobRunner job({"/bin/sh", "-c",
                 "exec \"$0\" --preload -n 2 --timeout 150 /usr/bin/xz -T2 --block-size=256KiB -c \"$1/input\" "
                 "> \"$1/input.xz\"",
                 launcher(), dir.path()});
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  ASSERT_EQ(exit_code(*status), 0) << job.err();
  JobRunner check({"/bin/sh", "-c", "xz -dc \"$0/input.xz\" | cmp - \"$0/input\" && echo same", dir.path()});
  auto checked = check.wait(60s);
  ASSERT_TRUE(checked) << check.err();
  EXPECT_EQ(check.out(), "same\n") << check.err();
}

TEST(PreloadOther, C11ThreadsAreSaidToStayOnNode0) {
  JobRunner job(preloaded(2, "preload_c11_threads"));
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "counter 4000\n") << job.err();
  EXPECT_NE(job.err().find("gpt-launch: warning: the program uses C11 threads ("), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("thrd_create"), std::string::npos) << job.err();
}

// Runs `program` on two local "hosts" through a remote shell that runs
// `node1_setting` (a shell command, which may change the agent's command
// line in $cmd) before node 1's agent starts.
std::unique_ptr<JobRunner> with_node1(const gpt::test::ScratchDir& dir, const std::string& node1_setting,
                                      const std::string& program) {
  const std::string rsh = dir / "rsh";
  std::ofstream(rsh) << "#!/bin/sh\nhost=$1; shift\ncmd=\"$*\"\nif [ \"$host\" = 127.0.0.2 ]; then " << node1_setting
                     << "; fi\nexec sh -c \"$cmd\"\n";
  EXPECT_EQ(chmod(rsh.c_str(), 0700), 0);
  return std::make_unique<JobRunner>(std::vector<std::string>{"/usr/bin/env", "GPT_RSH=" + rsh, launcher(),
                                                              "--preload", "--hosts", "127.0.0.1,127.0.0.2",
                                                              "--timeout", "60", preload_program(program)});
}

// A larger stack limit moves where the kernel maps libraries: node 1 says
// its layout differs and the job ends before main runs.
TEST(PreloadOther, ALibraryAtAnotherAddressOnOneNodeEndsTheJob) {
  gpt::test::ScratchDir dir;
  auto job = with_node1(dir, "ulimit -s 1048576", "preload_counter");
  auto status = job->wait(100s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_NE(exit_code(*status), 0) << job->out() << job->err();
  EXPECT_NE(job->err().find("gpthread[node 1]: --preload: a library is not at the same address on every node: on "
                            "node 0 "),
            std::string::npos)
      << job->err();
  EXPECT_EQ(job->out(), "") << job->err();  // main never ran
  EXPECT_TRUE(gpt::test::wait_until_gone(preload_program("preload_counter"), 10s).empty());  // no node left
}

// A host without the library at the launcher's path: its agent says so
// (the loader would only warn, and the program would run once on that node).
TEST(PreloadOther, AHostWithoutTheLibraryEndsTheJob) {
  gpt::test::ScratchDir dir;
  auto job = with_node1(
      dir, "cmd=$(printf '%s' \"$cmd\" | sed 's|GPT_PRELOAD=/[^ ]*libgpthread.so|GPT_PRELOAD=/nonexistent/libgpthread.so|')",
      "preload_counter");
  auto status = job->wait(100s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_NE(exit_code(*status), 0) << job->out() << job->err();
  EXPECT_NE(job->err().find("node 1: --preload: cannot read /nonexistent/libgpthread.so on this host"),
            std::string::npos)
      << job->err();
  EXPECT_EQ(job->out(), "") << job->err();
  EXPECT_TRUE(gpt::test::wait_until_gone(preload_program("preload_counter"), 10s).empty());  // no node left
}

TEST(PreloadOther, ASetUserIdProgramIsRefused) {
  gpt::test::ScratchDir dir;
  const std::string copy = dir / "setuid_counter";
  {
    std::ifstream from(preload_program("preload_counter"), std::ios::binary);
    std::ofstream to(copy, std::ios::binary);
    to << from.rdbuf();
  }
  ASSERT_EQ(chmod(copy.c_str(), 04755), 0);
  JobRunner job({launcher(), "--preload", "-n", "2", copy});
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 2) << job.err();
  EXPECT_NE(job.err().find("is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD"), std::string::npos)
      << job.err();
}

// Masking CPU features makes libc pick other string routines on node 1, so
// the program's GOT (in a page shared with its .data) differs: not shared
// silently, the job ends before main runs.
TEST(PreloadOther, AGotResolvedOtherwiseOnOneNodeEndsTheJob) {
  gpt::test::ScratchDir dir;
  auto job = with_node1(dir, "export GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-AVX512F,-EVEX,-AVX,-SSE4_2",
                        "preload_globals");  // calls strcmp, which libc resolves per CPU
  auto status = job->wait(100s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_NE(exit_code(*status), 0) << job->out() << job->err();
  EXPECT_NE(job->err().find("gpthread[node 1]: --preload: the program's writable pages at "), std::string::npos)
      << job->err();
  EXPECT_NE(job->err().find("did not start the same here as on node 0"), std::string::npos) << job->err();
  EXPECT_EQ(job->out(), "") << job->err();
  EXPECT_TRUE(gpt::test::wait_until_gone(preload_program("preload_globals"), 10s).empty());  // no node left
}

struct Refusal {
  std::vector<std::string> argv;
  std::string says;
};

class PreloadRefuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(PreloadRefuses, BeforeAnyNodeStartsWithStatus2) {
  const Refusal& r = GetParam();
  JobRunner job(r.argv);
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 2) << job.out() << job.err();
  EXPECT_NE(job.err().find(r.says), std::string::npos) << job.err();
  EXPECT_EQ(job.err().find("node 0"), std::string::npos) << job.err();  // no node was started
  EXPECT_EQ(job.out(), "");
}

std::vector<Refusal> refusals() {
  return {
      {preloaded(2, "preload_static"), "is statically linked"},
      {preloaded(2, "preload_musl"), "is not a glibc program"},
      {{launcher(), "--preload", "-n", "2", std::string(std::getenv("GPT_PROGRAMS_DIR")) + "/threads_basic_glibc"},
       "was built with gpt-cc: it has the runtime already; run it without --preload"},
      {{launcher(), "--preload", "-n", "2", "/usr/bin/ldd"}, "is not a 64-bit"},  // a script
      // Without --preload, a plain program is refused with the way to run it.
      {{launcher(), "-n", "2", preload_program("preload_counter")}, "with --preload"},
  };
}

std::string refusal_name(const ::testing::TestParamInfo<Refusal>& info) {
  static const char* const names[] = {"Static", "Musl", "BuiltWithGptCc", "Script", "PlainWithoutPreload"};
  return names[info.index];
}

INSTANTIATE_TEST_SUITE_P(Programs, PreloadRefuses, ::testing::ValuesIn(refusals()), refusal_name);

}  // namespace
