// Host lists, hostfiles and node placement for gpt-launch --hosts/--hostfile,
// and the allocations srun and mpirun describe in the environment.
#include <gtest/gtest.h>

#include <cstdlib>

#include "allocation.h"
#include "hosts.h"

namespace {

using namespace gpt::launch;

TEST(Hosts, AListGivesOneSlotEach) {
  std::string error;
  auto hosts = parse_host_list("a,b.example.org,10.0.0.3", error);
  ASSERT_TRUE(hosts) << error;
  ASSERT_EQ(hosts->size(), 3u);
  EXPECT_EQ((*hosts)[1].name, "b.example.org");
  EXPECT_EQ(total_slots(*hosts), 3u);
}

TEST(Hosts, BadListsAreRefusedByName) {
  std::string error;
  EXPECT_FALSE(parse_host_list("a,,b", error));
  EXPECT_NE(error.find("is not a host name"), std::string::npos);
  EXPECT_FALSE(parse_host_list("-oProxyCommand=x", error)) << "never an option to ssh";
  EXPECT_FALSE(parse_host_list("a;rm", error));
  EXPECT_FALSE(parse_host_list("", error));
}

TEST(Hosts, HostfilesHaveSlotsAndComments) {
  std::string error;
  auto hosts = parse_hostfile("# the cluster\nn1 slots=2\n\nn2   # spare\nn3 slots=1\n", "hosts.txt", error);
  ASSERT_TRUE(hosts) << error;
  ASSERT_EQ(hosts->size(), 3u);
  EXPECT_EQ((*hosts)[0].slots, 2u);
  EXPECT_EQ(total_slots(*hosts), 4u);
  EXPECT_EQ(place_nodes(*hosts, 4), (std::vector<std::string>{"n1", "n1", "n2", "n3"}));
  // More nodes than slots: round-robin over the hosts again.
  EXPECT_EQ(place_nodes(*hosts, 6), (std::vector<std::string>{"n1", "n1", "n2", "n3", "n1", "n2"}));
  EXPECT_EQ(place_nodes(*hosts, 2), (std::vector<std::string>{"n1", "n1"}));
}

TEST(Hosts, HostfileErrorsNameTheLine) {
  std::string error;
  EXPECT_FALSE(parse_hostfile("n1\nn2 slots=0\n", "h.txt", error));
  EXPECT_EQ(error, "h.txt line 2: slots must be a number from 1 to 1024");
  EXPECT_FALSE(parse_hostfile("n1 cpus=4\n", "h.txt", error));
  EXPECT_EQ(error, "h.txt line 1: unknown field 'cpus=4' (only slots=K)");
  EXPECT_FALSE(parse_hostfile("# nothing\n", "h.txt", error));
  EXPECT_EQ(error, "h.txt: no hosts in it");
}

TEST(Hosts, QuotingSurvivesTheRemoteShell) {
  EXPECT_EQ(shell_quote("plain"), "'plain'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("a b;c$(d)"), "'a b;c$(d)'");
}

TEST(Allocation, SlurmHostListsExpand) {
  std::string error;
  auto hosts = expand_hostlist("n[1-3,5],login,gpu[08-10]", error);
  ASSERT_TRUE(hosts) << error;
  EXPECT_EQ(*hosts, (std::vector<std::string>{"n1", "n2", "n3", "n5", "login", "gpu08", "gpu09", "gpu10"}));
  EXPECT_FALSE(expand_hostlist("n[3-1]", error));
  EXPECT_FALSE(expand_hostlist("n[1-", error));
  EXPECT_FALSE(expand_hostlist("a,,b", error));
}

// Environment variables of one test at a time; all cleared afterwards.
struct Env {
  std::vector<std::string> names;
  void set(const char* name, const char* value) {
    setenv(name, value, 1);
    names.push_back(name);
  }
  ~Env() {
    for (auto& n : names) unsetenv(n.c_str());
  }
};

TEST(Allocation, RankAndSizeComeFromTheLaunchersEnvironment) {
  std::string error;
  EXPECT_FALSE(allocation_from_environment(error));
  EXPECT_TRUE(error.empty());
  {
    Env env;
    env.set("SLURM_PROCID", "2");
    env.set("SLURM_NTASKS", "3");
    env.set("SLURM_STEP_NODELIST", "c[07-09]");
    env.set("SLURM_JOB_ID", "41");
    auto a = allocation_from_environment(error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->rank, 2u);
    EXPECT_EQ(a->size, 3u);
    EXPECT_EQ(a->launcher_host, "c07");
    EXPECT_EQ(a->source, "Slurm");
    EXPECT_GE(a->port_base, 20000);
    EXPECT_LT(a->port_base, 32000);
  }
  {
    Env env;
    env.set("OMPI_COMM_WORLD_RANK", "0");
    env.set("OMPI_COMM_WORLD_SIZE", "4");
    env.set("OMPI_COMM_WORLD_LOCAL_SIZE", "4");
    auto a = allocation_from_environment(error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->size, 4u);
    EXPECT_EQ(a->launcher_host, "127.0.0.1");  // every rank here
  }
  {
    Env env;
    env.set("PMIX_RANK", "1");
    env.set("PMI_SIZE", "2");
    auto a = allocation_from_environment(error);
    ASSERT_TRUE(a) << error;
    EXPECT_EQ(a->rank, 1u);
    EXPECT_EQ(a->source, "PMIx");
  }
  {
    Env env;
    env.set("SLURM_PROCID", "3");
    env.set("SLURM_NTASKS", "3");
    EXPECT_FALSE(allocation_from_environment(error));
    EXPECT_NE(error.find("is not below the size"), std::string::npos) << error;
  }
}

}  // namespace
