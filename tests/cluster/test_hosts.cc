// gpt-launch --hosts: nodes on other "hosts", here network namespaces the
// test makes itself (a bridge in this namespace, one veth into each), with
// `ip netns exec` as the remote shell (GPT_RSH). Skipped, and counted as
// skipped, where namespaces cannot be made (not root, no CAP_NET_ADMIN).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launcher;
using gpt::test::program;

namespace {

bool run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// Three hosts on a private bridge, removed in the destructor (also when a
// test fails half-way).
class NamespaceHosts {
 public:
  explicit NamespaceHosts(int count) {
    prefix_ = "g" + std::to_string(getpid() % 100000);
    subnet_ = "10.78." + std::to_string(getpid() % 250) + ".";
    ok_ = run("ip link add " + bridge() + " type bridge") &&
          run("ip addr add " + subnet_ + "1/24 dev " + bridge()) && run("ip link set " + bridge() + " up");
    for (int i = 1; ok_ && i <= count; ++i) {
      const std::string ns = host(i), veth = prefix_ + "v" + std::to_string(i), peer = prefix_ + "p" + std::to_string(i);
      hosts_.push_back(ns);
      ok_ = run("ip netns add " + ns) && run("ip link add " + veth + " type veth peer name " + peer) &&
            run("ip link set " + peer + " netns " + ns) && run("ip link set " + veth + " master " + bridge() + " up") &&
            run("ip netns exec " + ns + " ip addr add " + subnet_ + std::to_string(i + 1) + "/24 dev " + peer) &&
            run("ip netns exec " + ns + " ip link set " + peer + " up") &&
            run("ip netns exec " + ns + " ip link set lo up");
    }
    rsh_ = "/tmp/" + prefix_ + "-rsh";
    std::ofstream(rsh_) << "#!/bin/sh\nhost=$1; shift\nexec ip netns exec \"$host\" sh -c \"$*\"\n";
    chmod(rsh_.c_str(), 0700);
  }
  ~NamespaceHosts() {
    for (const auto& ns : hosts_) run("ip netns del " + ns);
    run("ip link del " + bridge());
    unlink(rsh_.c_str());
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string host(int i) const { return prefix_ + "h" + std::to_string(i); }
  [[nodiscard]] std::string launcher_address() const { return subnet_ + "1"; }
  [[nodiscard]] std::string address_of(int i) const { return subnet_ + std::to_string(i + 1); }
  [[nodiscard]] const std::string& rsh() const { return rsh_; }

 private:
  [[nodiscard]] std::string bridge() const { return prefix_ + "b"; }
  std::string prefix_, subnet_, rsh_;
  std::vector<std::string> hosts_;
  bool ok_ = false;
};

TEST(Hosts, ASampleRunsAcrossThreeHosts) {
  NamespaceHosts hosts(3);
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces here (needs root and CAP_NET_ADMIN)";
  setenv("GPT_RSH", hosts.rsh().c_str(), 1);
  JobRunner job({launcher(), "-v", "--timeout", "60", "--hosts",
                 hosts.host(1) + "," + hosts.host(2) + "," + hosts.host(3), "--bind", hosts.launcher_address(),
                 gpt::test::build_path("GPT_SAMPLES_DIR") + "/hello"});
  unsetenv("GPT_RSH");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "hello: one thread per node, each reported where it ran: ok\n") << job.err();
  // Each node listened on its own host's address, and ran its thread there.
  for (int i = 1; i <= 3; ++i) {
    EXPECT_NE(job.err().find("node " + std::to_string(i - 1) + ": agent pid"), std::string::npos) << job.err();
    EXPECT_NE(job.err().find("joined at tcp://" + hosts.address_of(i) + ":"), std::string::npos) << job.err();
    EXPECT_NE(job.err().find("thread " + std::to_string(i - 1) + " ran on node " + std::to_string(i - 1)),
              std::string::npos);
  }
}

TEST(Hosts, StdinReachesTheOriginOnAnotherHost) {
  NamespaceHosts hosts(2);
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces here (needs root and CAP_NET_ADMIN)";
  setenv("GPT_RSH", hosts.rsh().c_str(), 1);
  JobRunner job({launcher(), "--timeout", "60", "--hosts", hosts.host(1) + "," + hosts.host(2), "--bind",
                 hosts.launcher_address(), program("echo_stdin")},
                "through the remote shell\n");
  unsetenv("GPT_RSH");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_NE(job.out().find("through the remote shell"), std::string::npos) << job.out() << job.err();
}

// A host where the agent is not installed: the remote shell's 127 becomes a
// clear message naming the host and the path.
TEST(Hosts, AHostWithoutGpthreadIsNamed) {
  const std::string rsh = "/tmp/gpt-missing-rsh-" + std::to_string(getpid());
  std::ofstream(rsh) << "#!/bin/sh\nif [ \"$1\" = nowhere ]; then echo \"sh: 1: gpt-node: not found\" >&2; exit 127; fi\n"
                        "shift\nexec sh -c \"$*\"\n";
  chmod(rsh.c_str(), 0700);
  setenv("GPT_RSH", rsh.c_str(), 1);
  JobRunner job({launcher(), "--timeout", "30", "--hosts", "here,nowhere", "--bind", "127.0.0.2", program("exit_code"), "0"});
  unsetenv("GPT_RSH");
  auto status = job.wait(60s);
  unlink(rsh.c_str());
  ASSERT_TRUE(status) << job.err();
  EXPECT_NE(exit_code(*status), 0);
  EXPECT_NE(job.err().find("node 1 (host nowhere): could not start"), std::string::npos) << job.err();
  EXPECT_NE(job.err().find("installed at the same path on every host"), std::string::npos) << job.err();
}

TEST(Hosts, HostsNeedAnAddressTheyCanReach) {
  JobRunner job({launcher(), "--hosts", "h1,h2", program("exit_code"), "0"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2);
  EXPECT_NE(job.err().find("give --bind ADDRESS"), std::string::npos) << job.err();
}

}  // namespace
