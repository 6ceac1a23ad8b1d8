// gpt-launch inside allocations other launchers made: every task runs
// gpt-launch; task 0 is the launcher and node 0, task K node K. With
// --rank/--size by hand, under Open MPI's mpirun, and under a private
// one-machine Slurm the test starts (and stops) itself.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::ScratchDir;
using gpt::test::launcher;

namespace {

const std::string kHello = "hello: one thread per node, each reported where it ran: ok\n";

std::string sample(const std::string& name) { return gpt::test::build_path("GPT_SAMPLES_DIR") + "/" + name; }


// The full path of a tool on PATH ("" if none): JobRunner execs paths.
std::string which(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin:/usr/sbin:/sbin";
  dirs += ":/usr/sbin:/sbin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(at, end - at) + "/" + tool;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    at = end + 1;
  }
  return "";
}
bool have(const char* tool) { return !which(tool).empty(); }

// Below the kernel's ephemeral range (32768 and up), where ports the OS hands
// out to other sockets cannot collide with ours; apart from the private
// Slurm's ports (17000-26000).
int free_port_base() { return 10000 + (getpid() % 300) * 12; }

TEST(Allocation, TasksGivenRankAndSizeMakeOneJob) {
  ScratchDir dir;
  const std::string keys = dir / "job.keys", port = std::to_string(free_port_base());
  std::vector<std::unique_ptr<JobRunner>> tasks;
  for (int rank = 2; rank >= 0; --rank)
    tasks.push_back(std::make_unique<JobRunner>(std::vector<std::string>{
        launcher(), "--rank", std::to_string(rank), "--size", "3", "--launcher-host", "127.0.0.1",
        "--port-base", port, "--keys-file", keys, "--timeout", "60", sample("hello")}));
  auto status = tasks.back()->wait(90s);  // task 0
  ASSERT_TRUE(status) << tasks.back()->err();
  EXPECT_EQ(exit_code(*status), 0) << tasks.back()->err();
  EXPECT_EQ(tasks.back()->out(), kHello) << tasks.back()->err();
  for (int i = 0; i < 2; ++i) {
    auto s = tasks[i]->wait(30s);
    ASSERT_TRUE(s) << tasks[i]->err();
    EXPECT_EQ(exit_code(*s), 0) << tasks[i]->err();
  }
  struct stat st;
  ASSERT_EQ(stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the keys file must be private to its owner";
}

TEST(Allocation, AKeysFileOthersCanReadIsRefused) {
  ScratchDir dir;
  const std::string keys = dir / "open.keys";
  std::ofstream(keys) << std::string(40, 'a') << "\n" << std::string(40, 'a') << "\n";
  chmod(keys.c_str(), 0644);
  JobRunner task({launcher(), "--rank", "1", "--size", "2", "--launcher-host", "127.0.0.1", "--keys-file", keys,
                  sample("hello")});
  auto status = task.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2);
  EXPECT_NE(task.err().find("is readable by others (mode 644); chmod 600 it"), std::string::npos) << task.err();
}

TEST(Allocation, AnUnreachableTaskZeroHostIsNamed) {
  JobRunner task({launcher(), "--rank", "1", "--size", "2", "--launcher-host", "no-such-host.invalid", "--insecure",
                  sample("hello")});
  auto status = task.wait(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(exit_code(*status), 2);
  EXPECT_NE(task.err().find("cannot reach task 0's host 'no-such-host.invalid'"), std::string::npos) << task.err();
}

TEST(Allocation, UnderMpirun) {
  if (!have("mpirun")) GTEST_SKIP() << "Open MPI's mpirun is not installed (./dev installs openmpi-bin)";
  ScratchDir dir;
  JobRunner job({which("mpirun"), "--allow-run-as-root", "--oversubscribe", "-n", "3", launcher(), "--keys-file",
                 dir / "job.keys", "--port-base", std::to_string(free_port_base() + 1000), "--timeout", "60",
                 sample("hello")});
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), kHello) << job.err();
}

// A private Slurm: a controller and three slurmd (n1..n3, all on
// 127.0.0.1 with their own ports), in the foreground, each in its own
// process group that its JobRunner kills at the end.
class PrivateSlurm {
 public:
  explicit PrivateSlurm(const ScratchDir& dir) : conf_(dir / "slurm.conf") {
    const int base = 17000 + (getpid() % 900) * 10;
    const std::string d = dir / "";
    std::ofstream c(conf_);
    c << "ClusterName=gpt\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=" << base
      << "\nAuthType=auth/none\nCredType=cred/none\nSlurmUser=root\nSlurmdUser=root\n"
      << "StateSaveLocation=" << d << "state\nSlurmdSpoolDir=" << d << "spool-%n\n"
      << "SlurmctldPidFile=" << d << "ctld.pid\nSlurmdPidFile=" << d << "slurmd-%n.pid\n"
      << "SlurmctldLogFile=" << d << "ctld.log\nSlurmdLogFile=" << d << "slurmd-%n.log\n"
      << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSchedulerType=sched/builtin\n"
      << "SelectType=select/linear\nMpiDefault=none\nReturnToService=2\nJobCompType=jobcomp/none\n";
    for (int n = 1; n <= 3; ++n)
      c << "NodeName=n" << n << " NodeHostname=localhost NodeAddr=127.0.0.1 Port=" << base + n << " CPUs=1\n";
    c << "PartitionName=debug Nodes=n1,n2,n3 Default=YES MaxTime=INFINITE State=UP\n";
    c.close();
    std::filesystem::create_directories(d + "state");
    setenv("SLURM_CONF", conf_.c_str(), 1);
    daemons_.push_back(std::make_unique<JobRunner>(std::vector<std::string>{which("slurmctld"), "-D", "-c", "-f", conf_}));
    for (int n = 1; n <= 3; ++n) {
      std::filesystem::create_directories(d + "spool-n" + std::to_string(n));
      daemons_.push_back(std::make_unique<JobRunner>(
          std::vector<std::string>{which("slurmd"), "-D", "-N", "n" + std::to_string(n), "-f", conf_}));
    }
    // Up once sinfo sees three idle nodes.
    for (int i = 0; i < 100 && !ready_; ++i) {
      ready_ = std::system("sinfo -h -t idle -o %D 2>/dev/null | grep -qx 3") == 0;
      if (!ready_) std::this_thread::sleep_for(100ms);
    }
  }
  // The daemons' helpers (slurmstepd, slurmscriptd) leave their process
  // groups: every descendant of a daemon is killed first.
  ~PrivateSlurm() {
    std::vector<pid_t> parents;
    for (const auto& d : daemons_) parents.push_back(d->pid());
    for (bool found = true; found;) {
      found = false;
      for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state;
        int ppid;
        if (std::sscanf(line.c_str() + close + 2, "%c %d", &state, &ppid) != 2) continue;
        const pid_t pid = std::stoi(name);
        if (std::find(parents.begin(), parents.end(), ppid) != parents.end() &&
            std::find(parents.begin(), parents.end(), pid) == parents.end()) {
          parents.push_back(pid);
          found = true;
        }
      }
    }
    for (size_t i = daemons_.size(); i < parents.size(); ++i) kill(parents[i], SIGKILL);
    unsetenv("SLURM_CONF");
  }
  [[nodiscard]] bool ready() const { return ready_; }

 private:
  std::string conf_;
  std::vector<std::unique_ptr<JobRunner>> daemons_;
  bool ready_ = false;
};

TEST(Allocation, UnderSrunInAPrivateSlurm) {
  if (!have("slurmctld") || !have("slurmd") || !have("srun"))
    GTEST_SKIP() << "Slurm is not installed (./dev installs slurm-wlm)";
  ScratchDir dir;
  PrivateSlurm slurm(dir);
  ASSERT_TRUE(slurm.ready()) << "the private Slurm did not come up";
  // The node names (n1..n3) resolve nowhere: task 0's address is given.
  JobRunner job({which("srun"), "-N", "3", "-n", "3", launcher(), "--slurm", "--launcher-host", "127.0.0.1",
                 "--port-base", std::to_string(free_port_base() + 2000), "--keys-file", dir / "job.keys",
                 "--timeout", "60", sample("hello")});
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), kHello) << job.err();
}

}  // namespace
