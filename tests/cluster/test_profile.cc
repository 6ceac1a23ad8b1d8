// gpt-launch --profile: a 2-node job writes a page whose embedded data has
// the waits the program makes (faults on pages, lock, semaphore and barrier
// waits, migrations), and a path that cannot be written fails at start.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "job_runner.h"

namespace {

using gpt::test::JobRunner;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The rows of the arrays of numbers in the `"name":[[...],[...]]` blocks of
// the embedded data (one block per node).
std::vector<std::vector<double>> rows_of(const std::string& data, const std::string& name) {
  std::vector<std::vector<double>> rows;
  const std::string key = "\"" + name + "\":[";
  for (auto at = data.find(key); at != std::string::npos; at = data.find(key, at + 1)) {
    std::size_t p = at + key.size();
    while (p < data.size() && data[p] == '[') {
      std::vector<double> row;
      ++p;
      while (data[p] != ']') {
        char* end = nullptr;
        row.push_back(std::strtod(data.c_str() + p, &end));
        p = static_cast<std::size_t>(end - data.c_str());
        if (data[p] == ',') ++p;
      }
      rows.push_back(row);
      ++p;
      if (data[p] == ',') ++p;
    }
  }
  return rows;
}

// Both libcs: a musl static program and a glibc position-independent one
// (its sites are named after the node's load bias is taken off).
class ProfileOf : public ::testing::TestWithParam<const char*> {};

TEST_P(ProfileOf, TwoNodeJobWritesThePage) {
  gpt::test::ScratchDir dir;
  const std::string out = dir / "profile.html";
  JobRunner job({gpt::test::launcher(), "-n", "2", "--timeout", "120", "--profile", out,
                 gpt::test::program(GetParam()), "8", "20"});
  auto status = job.wait(std::chrono::seconds(150));
  ASSERT_TRUE(status) << job.err();
  ASSERT_EQ(gpt::test::exit_code(*status), 0) << job.err();
  EXPECT_NE(job.err().find("profile written to " + out + " (2 of 2 nodes)"), std::string::npos) << job.err();

  const std::string page = read_file(out);
  ASSERT_NE(page.find("<html"), std::string::npos);
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg")) << "the page fetches nothing";
  const std::string open = "<script type=\"application/json\" id=\"gpt-profile\">";
  const auto begin = page.find(open);
  ASSERT_NE(begin, std::string::npos);
  const std::string data = page.substr(begin + open.size(), page.find("</script>", begin) - begin - open.size());
  EXPECT_NE(data.find("\"missing\":[]"), std::string::npos);
  EXPECT_NE(data.find("{\"node\":0,"), std::string::npos);
  EXPECT_NE(data.find("{\"node\":1,"), std::string::npos);
  EXPECT_NE(data.find("\"read_faults\":"), std::string::npos) << "the counters";

  // [kind, object, count, total_us, max_us, site, threads] per object and page.
  std::map<int, double> waits;    // per kind
  std::map<int, int> objects;     // distinct objects per kind
  std::vector<unsigned long long> lock_sites;
  for (const auto& o : rows_of(data, "objects")) {
    ASSERT_EQ(o.size(), 7u);
    const int kind = static_cast<int>(o[0]);
    waits[kind] += o[2];
    ++objects[kind];
    EXPECT_GE(o[3], o[4]) << "total >= longest";
    EXPECT_GE(o[2], 1);
    if (kind <= 2) {
      EXPECT_EQ(static_cast<unsigned long long>(o[1]) % 4096, 0u) << "faults are per page";
      EXPECT_NE(o[5], 0) << "a fault has its faulting instruction";
    }
    // A pthread lock, barrier or semaphore wait has the program's call
    // (the job-wide gpt barrier, object 0, is the runtime's own).
    if (kind == 3 || kind == 8 || (kind == 6 && o[1] != 0)) {
      EXPECT_NE(o[5], 0) << "kind " << kind << ": the program's call site";
      if (kind == 3 && o[5] != 0) lock_sites.push_back(static_cast<unsigned long long>(o[5]));
    }
  }
  EXPECT_GT(waits[1] + waits[2], 0) << "page faults";
  EXPECT_GT(waits[3], 0) << "lock waits";
  EXPECT_LE(objects[3], 8) << "sync_mix has a few locks, not one per wait";
  EXPECT_LE(waits[3], 2 * 8 * 20 * 2) << "at most one wait per lock taken";
  EXPECT_GT(waits[6], 0) << "barrier waits";
  EXPECT_GT(waits[8], 0) << "semaphore waits";
  EXPECT_GT(waits[10], 0) << "migrations";

  // [start_us, duration_us, kind, thread, object, site] on the timeline.
  const auto events = rows_of(data, "events");
  ASSERT_FALSE(events.empty());
  for (const auto& e : events) {
    ASSERT_EQ(e.size(), 6u);
    EXPECT_GE(e[0], 0);
    EXPECT_GE(e[1], 0);
    EXPECT_GE(e[2], 1);
    EXPECT_LE(e[2], 10);
    EXPECT_GT(e[3], 0) << "a thread id";
  }
  // The symbol table names the faulting code (sync_mix has symbols).
  EXPECT_EQ(data.find("\"symbols\":{}"), std::string::npos);
  // ...and the line of the program that took a contended lock.
  bool named = false;
  for (auto site : lock_sites) {
    const auto at = data.find("\"" + std::to_string(site) + "\":\"");
    const auto file = at == std::string::npos ? at : data.find("sync_mix.c:", at);
    named = named || (file < data.find('"', at + std::to_string(site).size() + 4) &&
                      std::isdigit(static_cast<unsigned char>(data[file + 11])));
  }
  EXPECT_TRUE(named) << "a lock's site is named with its source line (the program has -g)";
}

INSTANTIATE_TEST_SUITE_P(Libcs, ProfileOf, ::testing::Values("sync_mix", "sync_mix_glibc"));

TEST(Profile, UnwritablePathFailsAtStart) {
  const auto started = std::chrono::steady_clock::now();
  JobRunner job({gpt::test::launcher(), "-n", "2", "--profile", "/nonexistent-dir/p.html",
                 gpt::test::program("sleeper"), "30"});
  auto status = job.wait(std::chrono::seconds(20));
  ASSERT_TRUE(status);
  EXPECT_EQ(gpt::test::exit_code(*status), 2);
  EXPECT_NE(job.err().find("--profile: cannot write /nonexistent-dir/p.html"), std::string::npos) << job.err();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "before the job, not after";
}

}  // namespace
