// Threads, the libc shim's forwarding and signals over the fake network:
// what the agents hand each other and their programs' service threads.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol_test.h"

namespace gpt::test {
namespace {

using channel::Downcall;

// A control block homed at `home` (threads are named by its address).
std::uint64_t tcb_of(FakeCluster& c, wire::NodeId home, std::uint64_t i = 0) {
  return c.geometry().base + c.page_of(home, 100 + i) * region::kPageSize;
}

std::vector<std::uint64_t> downcalls(FakeNode& node, Downcall op) {
  std::vector<std::uint64_t> args;
  for (const auto& d : node.take_downcalls())
    if (d.op == static_cast<std::uint32_t>(op)) args.push_back(d.arg);
  return args;
}

std::int32_t call(FakeCluster& c, FakeNode& node, Op op, const auto& request) {
  const std::uint32_t s = node.post(op, request);
  c.pump();
  const std::int32_t status = node.status(s);
  node.free(s);
  return status;
}

// ---- threads ------------------------------------------------------------------

TEST(Threads, ASpawnRunsTheThreadOnItsNode) {
  FakeCluster c(3);
  const std::uint64_t tcb = tcb_of(c, 0);
  EXPECT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{2, 7, tcb, 0}), 0);
  EXPECT_EQ(downcalls(c[2], Downcall::kRunThread), std::vector<std::uint64_t>{tcb});
  EXPECT_TRUE(c[1].take_downcalls().empty());
  EXPECT_EQ(stat(c[2], "threads_started"), 1u);
  const std::uint64_t here = tcb_of(c, 1);
  EXPECT_EQ(call(c, c[1], Op::kSpawn, channel::SpawnRequest{1, 8, here, 0}), 0);
  EXPECT_EQ(downcalls(c[1], Downcall::kRunThread), std::vector<std::uint64_t>{here});
}

// pthread_exit from main: node 0 sums every node's counts of threads
// created there and ended there.
channel::ThreadCensusReply census(FakeCluster& c) {
  const std::uint32_t s = c[0].post_empty(Op::kThreadCensus);
  c.pump();
  EXPECT_EQ(c[0].status(s), 0);
  const auto sums = c[0].reply_as<channel::ThreadCensusReply>(s);
  c[0].free(s);
  return sums;
}

TEST(Threads, TheCensusSumsEveryNodesCreationsAndEnds) {
  FakeCluster c(3);
  EXPECT_EQ(census(c).spawned, 0u);
  const std::uint64_t first = tcb_of(c, 0), second = tcb_of(c, 1);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{2, 1, first, 0}), 0);
  ASSERT_EQ(call(c, c[1], Op::kSpawn, channel::SpawnRequest{0, 2, second, 0}), 0);
  auto sums = census(c);
  EXPECT_EQ(sums.spawned, 2u);
  EXPECT_EQ(sums.ended, 0u);
  ASSERT_EQ(call(c, c[2], Op::kThreadExit, channel::ThreadRequest{first}), 0);
  ASSERT_EQ(call(c, c[0], Op::kThreadExit, channel::ThreadRequest{second}), 0);
  sums = census(c);
  EXPECT_EQ(sums.spawned, 2u);
  EXPECT_EQ(sums.ended, 2u);
  // One census at a time; the second waits its turn by asking again.
  const std::uint32_t a = c[0].post_empty(Op::kThreadCensus);
  const std::uint32_t b = c[0].post_empty(Op::kThreadCensus);
  c.pump();
  EXPECT_EQ(c[0].status(a), 0);
  EXPECT_EQ(c[0].status(b), -EBUSY);
}

TEST(Threads, BadSpawnsAreRefused) {
  FakeCluster c(2);
  // Only the home of the control block spawns its thread.
  EXPECT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 0, tcb_of(c, 1), 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{2, 0, tcb_of(c, 0), 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 0, 0x10, 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kThreadExit, std::uint32_t{0}), -EINVAL);
}

TEST(Threads, AJoinerHearsOfTheEndFromTheHome) {
  FakeCluster c(3);
  const std::uint64_t tcb = tcb_of(c, 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{2, 7, tcb, 0}), 0);
  const std::uint32_t join = c[1].post(Op::kJoin, channel::JoinRequest{tcb, 0});
  c.pump();
  EXPECT_FALSE(c[1].answered(join));
  EXPECT_EQ(call(c, c[2], Op::kThreadExit, channel::ThreadRequest{tcb}), 0);
  EXPECT_EQ(c[1].status(join), 0);
  // The home frees the thread's vehicle slot.
  EXPECT_EQ(downcalls(c[0], Downcall::kFreeSlot), std::vector<std::uint64_t>{7});
}

TEST(Threads, AJoinAfterTheEndReturnsAtOnce) {
  FakeCluster c(2);
  const std::uint64_t tcb = tcb_of(c, 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 3, tcb, 0}), 0);
  ASSERT_EQ(call(c, c[1], Op::kThreadExit, channel::ThreadRequest{tcb}), 0);
  // A bare ThreadRequest is a blocking join; the home has the end already.
  const std::uint32_t join = c[0].post(Op::kJoin, channel::ThreadRequest{tcb});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[0].status(join), 0);
}

TEST(Threads, ATryJoinOfARunningThreadIsBusy) {
  FakeCluster c(2);
  const std::uint64_t tcb = tcb_of(c, 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 3, tcb, 0}), 0);
  EXPECT_EQ(call(c, c[1], Op::kJoin, channel::JoinRequest{tcb, 1}), -EBUSY);
  EXPECT_EQ(call(c, c[0], Op::kJoin, channel::JoinRequest{tcb, 1}), -EBUSY);
}

TEST(Threads, ADetachedThreadIsFreedByItsHomeAtItsEnd) {
  FakeCluster c(2);
  const std::uint64_t born_detached = tcb_of(c, 0, 0);
  const std::uint64_t detached_later = tcb_of(c, 0, 1);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 3, born_detached, 1}), 0);
  ASSERT_EQ(call(c, c[0], Op::kSpawn, channel::SpawnRequest{1, 4, detached_later, 0}), 0);
  ASSERT_EQ(call(c, c[1], Op::kThreadExit, channel::ThreadRequest{born_detached}), 0);
  ASSERT_EQ(call(c, c[1], Op::kThreadExit, channel::ThreadRequest{detached_later}), 0);
  EXPECT_EQ(downcalls(c[0], Downcall::kFreeTcb), std::vector<std::uint64_t>{born_detached});
  // Detached after its end (from another node): freed then.
  ASSERT_EQ(call(c, c[1], Op::kDetach, channel::ThreadRequest{detached_later}), 0);
  EXPECT_EQ(downcalls(c[0], Downcall::kFreeTcb), std::vector<std::uint64_t>{detached_later});
}

TEST(Threads, AMigratingThreadResumesOnItsNewNode) {
  FakeCluster c(3);
  const std::uint64_t tcb = tcb_of(c, 0);
  EXPECT_EQ(call(c, c[1], Op::kMigrate, channel::MigrateRequest{2, 0, tcb}), 0);
  EXPECT_EQ(downcalls(c[2], Downcall::kRunThread), std::vector<std::uint64_t>{tcb});
  EXPECT_EQ(stat(c[1], "migrations_out"), 1u);
  EXPECT_EQ(stat(c[2], "migrations_in"), 1u);
  EXPECT_EQ(call(c, c[1], Op::kMigrate, channel::MigrateRequest{3, 0, tcb}), -EINVAL);
}

// ---- forwarding (the libc shim) -------------------------------------------------

// The origin's delegate thread: runs the call posted in `slot` and answers.
void run_delegate(FakeNode& origin, std::size_t slot, std::string_view result) {
  auto& d = origin.layout().delegates.slots[slot];
  ASSERT_EQ(d.state.load(), static_cast<std::uint32_t>(channel::DelegateState::kPosted));
  std::memcpy(d.data, result.data(), result.size());
  d.length = static_cast<std::uint32_t>(result.size());
  d.state.store(static_cast<std::uint32_t>(channel::DelegateState::kDone));
}

std::string posted_call(FakeNode& origin, std::size_t slot) {
  const auto& d = origin.layout().delegates.slots[slot];
  return std::string(reinterpret_cast<const char*>(d.data), d.length);
}

std::uint32_t forward(FakeNode& node, std::string_view blob) {
  return node.post_bytes(Op::kForward, std::span(reinterpret_cast<const unsigned char*>(blob.data()), blob.size()));
}

TEST(Forwarding, ACallRunsOnTheOriginsDelegates) {
  FakeCluster c(2);
  const std::uint32_t s = forward(c[1], "open /etc/hosts");
  c.pump();
  EXPECT_FALSE(c[1].answered(s));
  EXPECT_EQ(posted_call(c[0], 0), "open /etc/hosts");
  run_delegate(c[0], 0, "fd 3");
  c.pump();
  EXPECT_EQ(c[1].status(s), 0);
  const auto reply = c[1].reply(s);
  EXPECT_EQ(std::string(reply.begin(), reply.end()), "fd 3");
  EXPECT_EQ(stat(c[1], "calls_forwarded"), 1u);
  EXPECT_EQ(stat(c[0], "calls_served"), 1u);
  // The origin runs its own calls itself.
  const std::uint32_t own = forward(c[0], "x");
  c.pump();
  EXPECT_EQ(c[0].status(own), -EINVAL);
}

TEST(Forwarding, CallsWaitForAFreeDelegate) {
  FakeCluster c(2);
  std::vector<std::uint32_t> slots;
  for (std::size_t i = 0; i <= channel::kDelegateSlots; ++i) slots.push_back(forward(c[1], "call " + std::to_string(i)));
  c.pump();
  run_delegate(c[0], 3, "done 3");
  c.pump();  // its reply goes out, and the queued call takes its delegate
  EXPECT_EQ(posted_call(c[0], 3), "call " + std::to_string(channel::kDelegateSlots));
  run_delegate(c[0], 3, "done last");
  c.pump();
  std::size_t answered = 0;
  for (std::uint32_t s : slots) answered += c[1].answered(s);
  EXPECT_EQ(answered, 2u);
  const auto last = c[1].reply(slots.back());
  EXPECT_EQ(std::string(last.begin(), last.end()), "done last");
}

TEST(Forwarding, AtTheEndEveryOtherNodeFlushesItsStdio) {
  FakeCluster c(3);
  const std::uint32_t s = c[0].post(Op::kFlushNodes, channel::FlushNodesRequest{channel::kNoNode});
  c.pump();
  EXPECT_FALSE(c[0].answered(s));
  for (wire::NodeId n = 1; n < 3; ++n) {
    ASSERT_EQ(downcalls(c[n], Downcall::kFlushStdio).size(), 1u);
    const std::uint32_t flushed = c[n].post_empty(Op::kStdioFlushed);
    c.pump();
    EXPECT_EQ(c[n].status(flushed), 0);
  }
  EXPECT_EQ(c[0].status(s), 0);
}

TEST(Forwarding, TheExitingNodeIsNotAskedToFlush) {
  FakeCluster c(3);
  const std::uint32_t s = c[0].post(Op::kFlushNodes, channel::FlushNodesRequest{2});
  c.pump();
  EXPECT_TRUE(c[2].take_downcalls().empty());
  ASSERT_EQ(downcalls(c[1], Downcall::kFlushStdio).size(), 1u);
  EXPECT_EQ(call(c, c[1], Op::kStdioFlushed, std::uint32_t{0}), 0);
  EXPECT_EQ(c[0].status(s), 0);
}

TEST(Forwarding, AFlushNobodyAnswersEndsAfterItsLimit) {
  FakeCluster c(2);
  const std::uint32_t s = c[0].post_empty(Op::kFlushNodes);
  c.pump();
  c[0].table().expire(node::Clock::now());
  EXPECT_FALSE(c[0].answered(s));
  c[0].table().expire(node::Clock::now() + std::chrono::seconds(3));
  EXPECT_EQ(c[0].status(s), 0);
}

// ---- signals ---------------------------------------------------------------------

TEST(Signals, AKillIsDeliveredWhereTheThreadRuns) {
  FakeCluster c(3);
  const std::uint64_t tcb = tcb_of(c, 0);
  EXPECT_EQ(call(c, c[0], Op::kKill, channel::KillRequest{2, 10, tcb, 2, 0}), 0);
  const auto args = downcalls(c[2], Downcall::kKillThread);
  ASSERT_EQ(args.size(), 1u);
  const channel::KillArg arg = channel::unpack_kill_arg(args[0]);
  EXPECT_EQ(arg.tcb, tcb);
  EXPECT_EQ(arg.hops, 2u);
  EXPECT_EQ(arg.sig, 10u);
  // Passed back to this very node by its own program: delivered here.
  EXPECT_EQ(call(c, c[1], Op::kKill, channel::KillRequest{1, 12, tcb, 1, 0}), 0);
  EXPECT_EQ(downcalls(c[1], Downcall::kKillThread).size(), 1u);
}

TEST(Signals, BadKillsAreRefused) {
  FakeCluster c(2);
  const std::uint64_t tcb = tcb_of(c, 0);
  EXPECT_EQ(call(c, c[0], Op::kKill, channel::KillRequest{1, channel::kMaxSignal + 1, tcb, 0, 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kKill, channel::KillRequest{1, 10, tcb, channel::kMaxKillHops + 1, 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kKill, channel::KillRequest{1, 10, std::uint64_t{1} << channel::kKillTcbBits, 0, 0}),
            -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kKill, channel::KillRequest{2, 10, tcb, 0, 0}), -EINVAL);
}

TEST(Signals, ADispositionSetOnOneNodeIsSetOnEvery) {
  FakeCluster c(3);
  const channel::SignalDisposition set{12, 0, 0x401000, 4, 0xff};
  EXPECT_EQ(call(c, c[1], Op::kSignalAction, set), 0);
  for (wire::NodeId n : {0u, 2u}) {
    EXPECT_EQ(downcalls(c[n], Downcall::kSignalAction), std::vector<std::uint64_t>{12});
    const std::uint32_t q = c[n].post(Op::kSignalQuery, channel::SignalQueryRequest{12});
    c.pump();
    EXPECT_EQ(c[n].status(q), 0);
    const auto got = c[n].reply_as<channel::SignalDisposition>(q);
    EXPECT_EQ(got.sig, 12u);
    EXPECT_EQ(got.handler, 0x401000u);
    EXPECT_EQ(got.flags, 4u);
    EXPECT_EQ(got.mask, 0xffu);
  }
  // Its own node set it in its program already: nothing to install.
  EXPECT_EQ(call(c, c[1], Op::kSignalQuery, channel::SignalQueryRequest{12}), -ENOENT);
}

// A process-directed signal offered by node 0: the nodes answer from their
// programs' thread masks (here node 2's "program" is this test process,
// whose thread does not block SIGUSR1; node 1 has none running).
TEST(Signals, AProcessSignalIsOfferedToTheNodesThatTakeIt) {
  FakeCluster c(3);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{SIGUSR1, 0}), -EAGAIN);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr), 0);
  c[2].set_program_pid(getpid());
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{SIGUSR1, 0}), 2);
  // Sent there: node 2's agent raises it in its program with its siginfo.
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, nullptr), 0);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalSend,
                 channel::ProcessSignalSend{2, SIGUSR1, SI_QUEUE, 4242, 1000, 0, 77}),
            0);
  siginfo_t info{};
  const struct timespec limit = {5, 0};
  ASSERT_EQ(sigtimedwait(&usr1, &info, &limit), SIGUSR1);
  EXPECT_EQ(info.si_code, SI_QUEUE);
  EXPECT_EQ(info.si_pid, 4242);
  EXPECT_EQ(info.si_value.sival_int, 77);
  ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr), 0);
}

// A process all of whose threads block the signal does not take it; one
// that has ended takes nothing.
TEST(Signals, AProcessSignalNobodyTakesIsDeclined) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, nullptr);
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
  }
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  close(ready[1]);
  FakeCluster c(2);
  c[1].set_program_pid(child);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{SIGUSR1, 0}), -EAGAIN);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{SIGUSR2, 0}), 1);
  kill(child, SIGKILL);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{SIGUSR2, 0}), -EAGAIN);
}

TEST(Signals, BadProcessSignalsAreRefused) {
  FakeCluster c(2);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{0, 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalOffer, channel::ProcessSignalOffer{channel::kMaxSignal + 1, 0}),
            -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalSend, channel::ProcessSignalSend{2, SIGUSR1, 0, 0, 0, 0, 0}), -EINVAL);
  EXPECT_EQ(call(c, c[0], Op::kProcessSignalSend, channel::ProcessSignalSend{1, 0, 0, 0, 0, 0, 0}), -EINVAL);
}

}  // namespace
}  // namespace gpt::test
