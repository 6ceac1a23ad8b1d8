// gpt-launch --hosts: nodes on other "hosts", here network namespaces the
// test makes itself (a bridge in this namespace, one veth into each), with
// `ip netns exec` as the remote shell (GPT_RSH). Skipped, and counted as
// skipped, where namespaces cannot be made (not root, no CAP_NET_ADMIN).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
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
    // The system's ssh, as the launcher runs it by default ("ssh -o
    // BatchMode=yes HOST COMMAND"), for hosts named by their addresses: a
    // directory to put first in PATH, holding an "ssh" that enters the
    // namespace of the address it is given.
    ssh_dir_ = "/tmp/" + prefix_ + "-bin";
    mkdir(ssh_dir_.c_str(), 0700);
    std::ofstream ssh(ssh_dir_ + "/ssh");
    ssh << "#!/bin/sh\n[ \"$1\" = -o ] && shift 2\nhost=$1; shift\ncase $host in\n";
    for (int i = 1; i <= count; ++i) ssh << "  " << address_of(i) << ") ns=" << host(i) << " ;;\n";
    ssh << "  *) echo \"ssh: Could not resolve hostname $host\" >&2; exit 255 ;;\nesac\n"
        << "exec ip netns exec \"$ns\" sh -c \"$*\"\n";
    ssh.close();
    chmod((ssh_dir_ + "/ssh").c_str(), 0700);
  }
  ~NamespaceHosts() {
    for (const auto& ns : hosts_) run("ip netns del " + ns);
    run("ip link del " + bridge());
    unlink(rsh_.c_str());
    unlink((ssh_dir_ + "/ssh").c_str());
    rmdir(ssh_dir_.c_str());
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string host(int i) const { return prefix_ + "h" + std::to_string(i); }
  [[nodiscard]] std::string launcher_address() const { return subnet_ + "1"; }
  [[nodiscard]] std::string address_of(int i) const { return subnet_ + std::to_string(i + 1); }
  [[nodiscard]] const std::string& rsh() const { return rsh_; }
  [[nodiscard]] const std::string& ssh_dir() const { return ssh_dir_; }
  // Cuts host i off the network: its cable is pulled.
  [[nodiscard]] bool cut(int i) const { return run("ip link set " + prefix_ + "v" + std::to_string(i) + " down"); }

 private:
  [[nodiscard]] std::string bridge() const { return prefix_ + "b"; }
  std::string prefix_, subnet_, rsh_, ssh_dir_;
  std::vector<std::string> hosts_;
  bool ok_ = false;
};

TEST(Hosts, ASampleRunsAcrossThreeHosts) {
  NamespaceHosts hosts(3);
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces here (needs root and CAP_NET_ADMIN)";
  setenv("GPT_RSH", hosts.rsh().c_str(), 1);
  // ZeroMQ's endpoints name the address each node listens on (UCX's are
  // opaque worker addresses): the other host tests run the default, UCX.
  JobRunner job({launcher(), "-v", "--fabric", "zmq", "--timeout", "60", "--hosts",
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
    EXPECT_NE(job.err().find("thread " + std::to_string((i + 1) % 3) + " ran on node " + std::to_string(i - 1)),
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

// PATH with `dir` first, for one job.
class PathFirst {
 public:
  explicit PathFirst(const std::string& dir) : saved_(std::getenv("PATH") ? std::getenv("PATH") : "") {
    setenv("PATH", (dir + ":" + saved_).c_str(), 1);
  }
  ~PathFirst() { setenv("PATH", saved_.c_str(), 1); }

 private:
  std::string saved_;
};

// What a new user types: no GPT_RSH (the system's ssh, found in PATH), no
// --bind (the launcher listens on its address on the route to the hosts).
TEST(Hosts, TheSystemsSshAndNoBindAreEnough) {
  NamespaceHosts hosts(3);
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces here (needs root and CAP_NET_ADMIN)";
  unsetenv("GPT_RSH");
  std::unique_ptr<JobRunner> job;
  {
    PathFirst path(hosts.ssh_dir());
    job = std::make_unique<JobRunner>(std::vector<std::string>{
        launcher(), "-v", "--fabric", "zmq", "--timeout", "60", "--hosts",
        hosts.address_of(1) + "," + hosts.address_of(2) + "," + hosts.address_of(3),
        gpt::test::build_path("GPT_SAMPLES_DIR") + "/hello"});
  }
  auto status = job->wait(90s);
  ASSERT_TRUE(status) << job->err();
  EXPECT_EQ(exit_code(*status), 0) << job->out() << job->err();
  EXPECT_EQ(job->out(), "hello: one thread per node, each reported where it ran: ok\n") << job->err();
  for (int i = 1; i <= 3; ++i)
    EXPECT_NE(job->err().find("joined at tcp://" + hosts.address_of(i) + ":"), std::string::npos) << job->err();
}

// Hosts that are all this machine's loopback need no --bind either.
TEST(Hosts, LoopbackHostsNeedNoBind) {
  const std::string dir = "/tmp/gpt-loopback-ssh-" + std::to_string(getpid());
  mkdir(dir.c_str(), 0700);
  std::ofstream(dir + "/ssh") << "#!/bin/sh\n[ \"$1\" = -o ] && shift 2\nshift\nexec sh -c \"$*\"\n";
  chmod((dir + "/ssh").c_str(), 0700);
  unsetenv("GPT_RSH");
  std::unique_ptr<JobRunner> job;
  {
    PathFirst path(dir);
    job = std::make_unique<JobRunner>(
        std::vector<std::string>{launcher(), "--timeout", "30", "--hosts", "127.0.0.1,localhost", program("exit_code"), "0"});
  }
  auto status = job->wait(60s);
  unlink((dir + "/ssh").c_str());
  rmdir(dir.c_str());
  ASSERT_TRUE(status) << job->err();
  EXPECT_EQ(exit_code(*status), 0) << job->err();
  EXPECT_EQ(job->out(), "main on node 0 of 2\n") << job->err();
}

TEST(Hosts, AHostThatDoesNotResolveAsksForBind) {
  JobRunner job({launcher(), "--hosts", "no-such-host.invalid,h2", program("exit_code"), "0"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2);
  EXPECT_NE(job.err().find("route to host no-such-host.invalid (the name does not resolve here): give --bind ADDRESS"),
            std::string::npos)
      << job.err();
}

TEST(Hosts, ALoopbackBindCannotServeARemoteHost) {
  JobRunner job({launcher(), "--hosts", "127.0.0.1,192.0.2.7", "--bind", "127.0.0.1", program("exit_code"), "0"});
  auto status = job.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2);
  EXPECT_NE(job.err().find("--bind 127.0.0.1 is a loopback address, which host 192.0.2.7 cannot reach"),
            std::string::npos)
      << job.err();
}

// A host cut off the network: the launcher's heartbeat goes unanswered, and
// the job ends within 10 s naming the node and its host; nothing is left.
TEST(Hosts, AHostCutOffEndsTheJobNamingIt) {
  NamespaceHosts hosts(3);
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces here (needs root and CAP_NET_ADMIN)";
  const std::string token = gpt::test::unique_token();
  setenv("GPT_RSH", hosts.rsh().c_str(), 1);
  JobRunner job({launcher(), "-v", "--timeout", "60", "--hosts",
                 hosts.host(1) + "," + hosts.host(2) + "," + hosts.host(3), "--bind", hosts.launcher_address(),
                 program("sleeper"), token});
  unsetenv("GPT_RSH");
  ASSERT_TRUE(job.wait_for_stderr("all 3 nodes started", 30s)) << job.err();
  ASSERT_TRUE(hosts.cut(2));
  const auto cut = std::chrono::steady_clock::now();
  auto status = job.wait(30s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_LT(std::chrono::steady_clock::now() - cut, 10s) << job.err();
  EXPECT_EQ(exit_code(*status), 1) << job.err();
  EXPECT_NE(job.err().find("node 1 (host " + hosts.host(2) + "): no answer to the heartbeat for "), std::string::npos)
      << job.err();
  EXPECT_NE(job.err().find("the network to it cut"), std::string::npos) << job.err();
  EXPECT_EQ(gpt::test::wait_until_gone(token, 5s), std::vector<pid_t>{});
}

}  // namespace
