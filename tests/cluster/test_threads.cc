// pthreads across nodes: placement, remote start, arguments on main's
// stack, results through join, frees of other nodes' memory.
#include <gtest/gtest.h>

#include "job_runner.h"

using namespace std::chrono_literals;
using gpt::test::exit_code;
using gpt::test::JobRunner;
using gpt::test::launch_with_env;
using gpt::test::launched;
using gpt::test::launcher;
using gpt::test::program;

namespace {

struct ThreadCase {
  std::string binary;
  int nodes;
  int threads;
  std::string placement;  // GPT_PLACEMENT, "" = default (spread)
  std::string per_node;   // expected distribution
};

class Threads : public ::testing::TestWithParam<ThreadCase> {};

TEST_P(Threads, RunWherePlacedAndJoinWithTheirResults) {
  const auto& c = GetParam();
  if (!c.placement.empty()) setenv("GPT_PLACEMENT", c.placement.c_str(), 1);
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "60", program(c.binary),
                 std::to_string(c.threads)});
  unsetenv("GPT_PLACEMENT");
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  long long total = 0;
  for (int i = 0; i < c.threads; ++i)
    for (int k = 0; k < 64; ++k) total += i * 1000 + k;
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads joined, total " +
                           std::to_string(total) + "; per node:" + c.per_node + "\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(
    Placement, Threads,
    ::testing::Values(ThreadCase{"threads_basic", 1, 8, "", " 8"},
                      ThreadCase{"threads_basic", 2, 8, "", " 4 4"},
                      ThreadCase{"threads_basic", 4, 8, "", " 2 2 2 2"},
                      ThreadCase{"threads_basic", 4, 64, "", " 16 16 16 16"},
                      ThreadCase{"threads_basic", 4, 8, "node:2", " 0 0 8 0"},
                      ThreadCase{"threads_basic", 4, 8, "local", " 8 0 0 0"},
                      ThreadCase{"threads_basic_glibc", 2, 8, "", " 4 4"},
                      ThreadCase{"threads_basic_glibc", 4, 64, "", " 16 16 16 16"}),
    [](const auto& info) {
      std::string p = info.param.placement.empty() ? "spread" : info.param.placement;
      for (char& ch : p)
        if (ch == ':') ch = '_';
      return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
             std::to_string(info.param.threads) + "threads_" + p;
    });

TEST(Threads, PlacementOnAMissingNodeIsRefusedClearly) {
  setenv("GPT_PLACEMENT", "node:7", 1);
  JobRunner job({launcher(), "-n", "2", "--timeout", "30", program("threads_basic"), "2"});
  unsetenv("GPT_PLACEMENT");
  auto status = job.wait(60s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_NE(exit_code(*status), 0);
  EXPECT_NE(job.err().find("GPT_PLACEMENT=node:7 names no node of this job"), std::string::npos)
      << job.err();
}

}  // namespace

namespace {

struct MutexCase {
  std::string binary;
  int nodes, threads, rounds;
};

class Mutex : public ::testing::TestWithParam<MutexCase> {};

// Threads on every node increment shared counters under one mutex; a pair
// of counters checks mutual exclusion on every entry, the total checks that
// no increment was lost; recursive/errorcheck/trylock return codes too.
TEST_P(Mutex, ExcludesAcrossNodesWithoutLosingAnUpdate) {
  const auto& c = GetParam();
  // nodes 0: run without gpt-launch (the libc's mutexes behind ours).
  setenv("GPT_STATS", "1", 1);
  JobRunner job(launched(c.nodes, {program(c.binary), std::to_string(c.threads), std::to_string(c.rounds)}, 120));
  unsetenv("GPT_STATS");
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads x " + std::to_string(c.rounds) +
                           " locked increments on " + std::to_string(c.nodes > 0 ? c.nodes : 1) +
                           " nodes: " +
                           std::to_string(c.threads * c.rounds) + "\n")
      << job.err();
  // The token really travelled: count the handoffs the agents report. How
  // often depends on timing (a node keeps the token, taking the lock with no
  // call, while no other node asks), so only a floor: a tenth of the entries.
  long handoffs = 0;
  for (size_t at = job.err().find("lock_handoffs="); at != std::string::npos;
       at = job.err().find("lock_handoffs=", at + 1))
    handoffs += std::stol(job.err().substr(at + 14));
  if (c.nodes > 1) {
    EXPECT_GE(handoffs, c.threads * c.rounds / 10) << job.err();
  }
}

INSTANTIATE_TEST_SUITE_P(Locks, Mutex,
                         ::testing::Values(MutexCase{"mutex_stress", 0, 4, 100},
                                           MutexCase{"mutex_stress", 1, 8, 200},
                                           MutexCase{"mutex_stress", 2, 8, 200},
                                           MutexCase{"mutex_stress", 4, 8, 500},
                                           MutexCase{"mutex_stress_glibc", 2, 4, 300}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes";
                         });

}  // namespace

namespace {

struct BarrierCase {
  std::string binary;
  int nodes, threads, phases;
  std::string where = "global";  // "remote": the last node allocates and manages it
};

class Barrier : public ::testing::TestWithParam<BarrierCase> {};

// A barrier reused many times by threads on every node: in each phase all
// see all the writes of the phase, and exactly one is the serial thread.
// Runs barrier_phases as `c` says, placed by `where`, and checks that every
// phase passed; `err` gets the job's standard error (counters, reports).
void run_phases(const BarrierCase& c, const std::string& where, std::string& err) {
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "120", program(c.binary),
                 std::to_string(c.threads), std::to_string(c.phases), where});
  auto status = job.wait(180s);
  err = job.err();
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads, " + std::to_string(c.phases) +
                           " phases on " + std::to_string(c.nodes) + " nodes: ok\n")
      << job.err();
}

TEST_P(Barrier, SeparatesPhasesAcrossNodes) {
  std::string err;
  run_phases(GetParam(), GetParam().where, err);
}

INSTANTIATE_TEST_SUITE_P(Barriers, Barrier,
                         ::testing::Values(BarrierCase{"barrier_phases", 1, 4, 50},
                                           BarrierCase{"barrier_phases", 2, 8, 100},
                                           BarrierCase{"barrier_phases", 4, 8, 100},
                                           BarrierCase{"barrier_phases", 4, 8, 100, "remote"},
                                           BarrierCase{"barrier_phases_glibc", 3, 6, 50},
                                           BarrierCase{"barrier_phases_glibc", 3, 6, 50, "remote"}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
                                  info.param.where;
                         });

// A barrier whose threads all run on node 0 is lent there, and recalled
// whenever one of them moves to another node ("wander": every 10 phases):
// every phase still sees all its writes, on both libcs.
std::uint64_t stat_sum(const std::string& err, const std::string& name) {
  std::uint64_t sum = 0;
  for (std::size_t at = err.find(" " + name + "="); at != std::string::npos;
       at = err.find(" " + name + "=", at + 1))
    sum += std::stoull(err.substr(at + name.size() + 2));
  return sum;
}

class LentBarrier : public ::testing::TestWithParam<BarrierCase> {};

TEST_P(LentBarrier, IsRecalledWhenAThreadMovesAwayAndLentAgainWhenItComesBack) {
  const auto& c = GetParam();
  setenv("GPT_PLACEMENT", "local", 1);
  setenv("GPT_STATS", "1", 1);
  std::string err;
  run_phases(c, "wander", err);
  unsetenv("GPT_STATS");
  unsetenv("GPT_PLACEMENT");
  // Lent while all are on node 0 (phases 1-9, 20-29, ...), recalled when
  // thread 0 leaves.
  EXPECT_GE(stat_sum(err, "barrier_leases_taken"), 2u) << err;
  EXPECT_GE(stat_sum(err, "barrier_leases_recalled"), 2u) << err;
}

INSTANTIATE_TEST_SUITE_P(Barriers, LentBarrier,
                         ::testing::Values(BarrierCase{"barrier_phases", 2, 4, 60},
                                           BarrierCase{"barrier_phases_glibc", 3, 4, 60}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes";
                         });

// Locks managed by node 0 and by another node, a mailbox of heap blocks
// freed away from home, a semaphore, two barriers and migrations, all at
// once: the invariants hold and nothing is lost.
struct MixCase {
  std::string binary;
  int nodes, threads, rounds;
};

class Mix : public ::testing::TestWithParam<MixCase> {};

TEST_P(Mix, EverySynchronisationAtOnceKeepsItsInvariants) {
  const auto& c = GetParam();
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "150", program(c.binary),
                 std::to_string(c.threads), std::to_string(c.rounds)});
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads x " + std::to_string(c.rounds) +
                           " rounds on " + std::to_string(c.nodes) + " nodes: ok\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Mixed, Mix,
                         ::testing::Values(MixCase{"sync_mix", 1, 8, 40}, MixCase{"sync_mix", 2, 16, 60},
                                           MixCase{"sync_mix", 4, 32, 100},
                                           MixCase{"sync_mix_glibc", 3, 12, 60}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes";
                         });

// GPT_SPIN_US=0: waiters and agents sleep at once (the path nodes that
// share few cores take); the same results.
TEST(Spin, WaitersThatSleepAtOnceKeepTheInvariants) {
  setenv("GPT_SPIN_US", "0", 1);
  JobRunner job({launcher(), "-n", "3", "--timeout", "150", program("sync_mix"), "12", "40"});
  unsetenv("GPT_SPIN_US");
  auto status = job.wait(200s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "12 threads x 40 rounds on 3 nodes: ok\n") << job.err();
}

TEST(Spin, BadSpinBudgetIsRejectedBeforeStarting) {
  auto [code, err] = launch_with_env("GPT_SPIN_US", "fast");
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("GPT_SPIN_US='fast' is not a number of microseconds"), std::string::npos) << err;
}

TEST(Barrier, WorksWithoutTheLauncherToo) {
  JobRunner job({program("barrier_phases"), "4", "30"});
  auto status = job.wait(60s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "4 threads, 30 phases on 1 nodes: ok\n");
}

}  // namespace

namespace {

std::string sample(const std::string& name) {
  return gpt::test::build_path("GPT_SAMPLES_DIR") + "/" + name;
}

struct ProdConsCase {
  int nodes, producers, consumers, items;
};

class ProdCons : public ::testing::TestWithParam<ProdConsCase> {};

// The prodcons sample with producers and consumers spread over the nodes:
// a bounded queue with a mutex and two condition variables; every item
// consumed exactly once; a timed wait nobody signals times out.
TEST_P(ProdCons, BoundedQueueWithConditionVariables) {
  const auto& c = GetParam();
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "120", sample("prodcons"),
                 std::to_string(c.producers), std::to_string(c.consumers), std::to_string(c.items)});
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "prodcons: " + std::to_string(c.producers) + " producers, " +
                           std::to_string(c.consumers) + " consumers, " +
                           std::to_string(c.producers * c.items) + " items: ok\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Conds, ProdCons,
                         ::testing::Values(ProdConsCase{1, 2, 2, 200}, ProdConsCase{2, 2, 2, 300},
                                           ProdConsCase{4, 3, 3, 200}, ProdConsCase{3, 2, 4, 200}),
                         [](const auto& info) {
                           return std::to_string(info.param.nodes) + "nodes_" +
                                  std::to_string(info.param.producers) + "producers";
                         });

TEST(ProdCons, WorksWithoutTheLauncherToo) {
  JobRunner job({sample("prodcons"), "2", "3", "100"});
  auto status = job.wait(60s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.err();
  EXPECT_EQ(job.out(), "prodcons: 2 producers, 3 consumers, 200 items: ok\n");
}

}  // namespace

namespace {

class Semaphore : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// Semaphores across nodes: a one-slot hand-over between a producer and a
// consumer on different nodes, a counting semaphore bounding workers,
// trywait/timedwait/getvalue results, pshared refused.
TEST_P(Semaphore, HandOverAndBoundAcrossNodes) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary), "200"}, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_NE(job.out().find("semaphores: 200 items handed over"), std::string::npos) << job.out();
  EXPECT_NE(job.out().find("on " + std::to_string(nodes) + " nodes: ok"), std::string::npos) << job.out();
}

INSTANTIATE_TEST_SUITE_P(Sems, Semaphore,
                         ::testing::Values(std::pair<std::string, int>{"sem_pingpong", 1},
                                           std::pair<std::string, int>{"sem_pingpong", 2},
                                           std::pair<std::string, int>{"sem_pingpong", 4},
                                           std::pair<std::string, int>{"sem_pingpong_glibc", 3}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

class OnceSpin : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// pthread_once runs its routine once in the whole job, whichever nodes the
// callers run on; spinlocks exclude across nodes.
TEST_P(OnceSpin, OnceAcrossTheJobAndSpinlocksExclude) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "once ran once, 800 spinlocked increments on " + std::to_string(nodes) +
                           " nodes: ok\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Once, OnceSpin,
                         ::testing::Values(std::pair<std::string, int>{"once_spin", 1},
                                           std::pair<std::string, int>{"once_spin", 2},
                                           std::pair<std::string, int>{"once_spin", 4},
                                           std::pair<std::string, int>{"once_spin_glibc", 3}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

class RwLock : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// Readers never see a half-written pair; two readers hold the lock at once
// while a writer is refused (EBUSY), across nodes.
TEST_P(RwLock, ReadersShareWritersExclude) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "rwlock: 400 consistent writes, concurrent readers on " +
                           std::to_string(nodes) + " nodes: ok\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Rw, RwLock,
                         ::testing::Values(std::pair<std::string, int>{"rwlock_mix", 1},
                                           std::pair<std::string, int>{"rwlock_mix", 2},
                                           std::pair<std::string, int>{"rwlock_mix", 4},
                                           std::pair<std::string, int>{"rwlock_mix_glibc", 3}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

class Keys : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// A key made by main works in threads on every node; values are per thread;
// every destructor runs once, wherever its thread ran.
TEST_P(Keys, OneKeyForTheJobOneValuePerThread) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "keys: 8 threads, 8 destructors on " + std::to_string(nodes > 0 ? nodes : 1) +
                           " nodes: ok\n")
      << job.err();
}

// nodes 0: run without gpt-launch.
INSTANTIATE_TEST_SUITE_P(Tsd, Keys,
                         ::testing::Values(std::pair<std::string, int>{"keys", 0},
                                           std::pair<std::string, int>{"keys", 1},
                                           std::pair<std::string, int>{"keys", 2},
                                           std::pair<std::string, int>{"keys", 4},
                                           std::pair<std::string, int>{"keys_glibc", 3}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

class KillCancel : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// pthread_kill reaches a thread of the same node (its handler runs on the
// thread's signal stack, not its global stack) and a thread on another node
// (whose process got main's handler); pthread_cancel reaches the same
// threads, blocked in sem_wait, and one that migrated away (4 nodes).
TEST_P(KillCancel, SignalsAndCancelsReachThreadsOnEveryNode) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 60));
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "kill and cancel: ok\n") << job.err();
  EXPECT_EQ(job.err().find("dropped"), std::string::npos) << job.err();
}

INSTANTIATE_TEST_SUITE_P(Signals, KillCancel,
                         ::testing::Values(std::pair<std::string, int>{"kill_cancel", 0},
                                           std::pair<std::string, int>{"kill_cancel", 2},
                                           std::pair<std::string, int>{"kill_cancel", 4},
                                           std::pair<std::string, int>{"kill_cancel_glibc", 0},
                                           std::pair<std::string, int>{"kill_cancel_glibc", 2},
                                           std::pair<std::string, int>{"kill_cancel_glibc", 4}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

class SignalStorm : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// A program's handler that writes a global, delivered while its thread
// releases (holding the node's locks), runs after the release instead of
// waiting for its own thread (base/signal_deferral.h); sigaction reports the
// program's handlers and SA_RESETHAND holds.
TEST_P(SignalStorm, HandlersWaitForTheRuntimeSectionTheyInterrupt) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 90));
  auto status = job.wait(120s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "signal storm: ok\n") << job.err();
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalStorm,
                         ::testing::Values(std::pair<std::string, int>{"signal_storm", 1},
                                           std::pair<std::string, int>{"signal_storm", 2},
                                           std::pair<std::string, int>{"signal_storm_glibc", 2}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

struct MigrateCase {
  std::string binary;
  int nodes, threads, hops;
};

class Migrate : public ::testing::TestWithParam<MigrateCase> {};

// gpt_migrate: errors, EBUSY while holding a mutex, threads hopping between
// nodes under a shared mutex, creating and joining threads after moving,
// pthread_exit with a cleanup handler after moving, main moving (see
// tests/programs/migrate_cases.c).
TEST_P(Migrate, ThreadsMoveBetweenNodesAndKeepTheirState) {
  const auto& c = GetParam();
  setenv("GPT_STATS", "1", 1);
  JobRunner job(launched(c.nodes, {program(c.binary), std::to_string(c.threads), std::to_string(c.hops)}, 120));
  unsetenv("GPT_STATS");
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  const int nodes = c.nodes > 0 ? c.nodes : 1;
  EXPECT_EQ(job.out(), std::to_string(c.threads) + " threads x " + std::to_string(c.hops) + " hops on " +
                           std::to_string(nodes) + " nodes: counter " +
                           std::to_string(c.threads * c.hops) + "\n")
      << job.err();
  if (c.nodes > 1) {
    // Every hop to another node is counted out by one agent and in by another.
    long in = 0, out = 0;
    for (size_t at = job.err().find("migrations_in="); at != std::string::npos;
         at = job.err().find("migrations_in=", at + 1))
      in += std::stol(job.err().substr(at + 14));
    for (size_t at = job.err().find("migrations_out="); at != std::string::npos;
         at = job.err().find("migrations_out=", at + 1))
      out += std::stol(job.err().substr(at + 15));
    EXPECT_EQ(in, out) << job.err();
    EXPECT_GE(in, c.threads * c.hops) << job.err();
  }
}

INSTANTIATE_TEST_SUITE_P(Migration, Migrate,
                         ::testing::Values(MigrateCase{"migrate_cases", 0, 4, 3},
                                           MigrateCase{"migrate_cases", 1, 4, 5},
                                           MigrateCase{"migrate_cases", 2, 8, 10},
                                           MigrateCase{"migrate_cases", 4, 64, 8},
                                           MigrateCase{"migrate_cases_glibc", 2, 8, 10},
                                           MigrateCase{"migrate_cases_glibc", 4, 16, 10}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
                                  std::to_string(info.param.threads) + "threads";
                         });

}  // namespace

namespace {

class ThreadCalls : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

// Names, scheduling, affinity, CPU clocks, getattr_np, tryjoin/timedjoin,
// a program-given stack, the creator's signal mask, and the refusals (see
// tests/programs/thread_calls.c).
TEST_P(ThreadCalls, HandleCallsWorkOrFailAsPosixSays) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 60));
  auto status = job.wait(90s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "thread calls: ok on " + std::to_string(nodes > 0 ? nodes : 1) + " nodes\n") << job.err();
  if (nodes > 1) {
    EXPECT_NE(job.err().find("pthread_getname_np: the thread runs on node " + std::to_string(nodes - 1)),
              std::string::npos)
        << job.err();
  }
}

INSTANTIATE_TEST_SUITE_P(Calls, ThreadCalls,
                         ::testing::Combine(::testing::Values("thread_calls", "thread_calls_glibc"),
                                            ::testing::Values(0, 1, 2, 4)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param)) +
                                  "nodes";
                         });

}  // namespace

namespace {

class Detached : public ::testing::TestWithParam<std::pair<std::string, int>> {};

// Detached threads (at creation or after) end without a join and their
// control blocks are freed at their home: handles come round again.
TEST_P(Detached, ControlBlocksAreReclaimed) {
  const auto& [binary, nodes] = GetParam();
  JobRunner job(launched(nodes, {program(binary)}, 120));
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "detached: 600 threads ran on " + std::to_string(nodes > 0 ? nodes : 1) +
                           " nodes; handles reused: yes\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Reclaim, Detached,
                         ::testing::Values(std::pair<std::string, int>{"detached", 0},
                                           std::pair<std::string, int>{"detached", 2},
                                           std::pair<std::string, int>{"detached", 4},
                                           std::pair<std::string, int>{"detached_glibc", 2}),
                         [](const auto& info) {
                           return info.param.first + "_" + std::to_string(info.param.second) + "nodes";
                         });

}  // namespace

namespace {

// Thousands of threads blocked at once (each holds a channel slot of its
// node while it waits): on one mutex main holds, then on one condition.
struct WaitersCase {
  std::string binary;
  int nodes;
  int threads;
  bool local;  // GPT_PLACEMENT=local: every waiter on node 0
};

class ManyWaiters : public ::testing::TestWithParam<WaitersCase> {};

TEST_P(ManyWaiters, NoLimitBelowThousandsOfBlockedThreads) {
  const auto& c = GetParam();
  if (c.local) setenv("GPT_PLACEMENT", "local", 1);
  JobRunner job({launcher(), "-n", std::to_string(c.nodes), "--timeout", "150", program(c.binary),
                 std::to_string(c.threads)});
  unsetenv("GPT_PLACEMENT");
  auto status = job.wait(180s);
  ASSERT_TRUE(status) << job.err();
  EXPECT_EQ(exit_code(*status), 0) << job.out() << job.err();
  EXPECT_EQ(job.out(), "many_waiters: " + std::to_string(c.threads) +
                           " threads waited on one mutex and one condition on " + std::to_string(c.nodes) +
                           " nodes: ok\n")
      << job.err();
}

INSTANTIATE_TEST_SUITE_P(Blocked, ManyWaiters,
                         ::testing::Values(WaitersCase{"many_waiters", 2, 300, true},
                                           WaitersCase{"many_waiters_glibc", 2, 1000, false},
                                           WaitersCase{"many_waiters", 4, 5000, false}),
                         [](const auto& info) {
                           return info.param.binary + "_" + std::to_string(info.param.nodes) + "nodes_" +
                                  std::to_string(info.param.threads) + (info.param.local ? "_local" : "");
                         });

}  // namespace
