// The agent's part in running threads across nodes (docs/threads.md):
// hands new threads to the node that runs them, and tells joiners when a
// thread has ended. A thread is named by the global address of its control
// block (tcb); the tcb's home (the creating node) keeps its exit state.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "coherence.h"
#include "gpt/channel_ops.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Threads final : public ServiceBase<Threads, wire::SpawnThread, wire::MigrateThread, wire::DetachThread,
                                           wire::ThreadExited, wire::JoinWait, wire::JoinDone,
                                           wire::CensusQuery, wire::CensusReply> {
 public:
  Threads(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Running node: start or resume a thread here.
  void on(const wire::SpawnThread& m, wire::NodeId from);
  void on(const wire::MigrateThread& m, wire::NodeId from);
  // The home of a thread's control block: its end and who waits for it.
  void on(const wire::DetachThread& m, wire::NodeId from);
  void on(const wire::ThreadExited& m, wire::NodeId from);
  void on(const wire::JoinWait& m, wire::NodeId from);
  // Joiner side.
  void on(const wire::JoinDone& m, wire::NodeId from);
  // The census (kThreadCensus): every node answers with its counts, the
  // asking node sums them.
  void on(const wire::CensusQuery& m, wire::NodeId from);
  void on(const wire::CensusReply& m, wire::NodeId from);
  void report(Stats& stats) const override;
  // A cancelled joiner: the thread stays joinable.
  [[nodiscard]] bool withdraw(std::uint32_t slot) override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kSpawn,   channel::Op::kThreadExit, channel::Op::kJoin,
                                         channel::Op::kMigrate, channel::Op::kDetach,     channel::Op::kThreadCensus};
  [[nodiscard]] Reply spawn(const channel::SpawnRequest& req);
  [[nodiscard]] Reply migrate(const channel::MigrateRequest& req);
  [[nodiscard]] Reply detach_request(std::uint64_t tcb);
  [[nodiscard]] Reply thread_exit(std::uint64_t tcb);
  [[nodiscard]] std::optional<Reply> join(std::uint32_t slot, const channel::JoinRequest& req);
  // A new thread, or one migrating here (`arriving`).
  void run_here(std::uint64_t tcb, bool arriving);
  // `epoch`: the notices the thread's node saw when it ended (a joiner
  // needs them, like a lock token's taker).
  void exited(std::uint64_t tcb, std::uint64_t epoch);
  void detach(std::uint64_t tcb);    // home: nobody joins it; free it at its end
  void free_tcb(std::uint64_t tcb);  // home: the program's service thread frees it
  [[nodiscard]] std::optional<wire::NodeId> home_of(std::uint64_t tcb) const;
  [[nodiscard]] std::optional<Reply> census(std::uint32_t slot);
  // Writes the census's sums into its slot's reply and ends it.
  [[nodiscard]] Reply take_census();

  const NodeContext node_;
  Coherence& coherence_;

  std::uint64_t next_request_ = 1;
  std::uint64_t started_ = 0;
  std::uint64_t migrated_in_ = 0;
  std::uint64_t migrated_out_ = 0;
  // Threads this node's program created (kSpawn) and that ended here
  // (kThreadExit): only ever grow, so two equal sums in a row mean no
  // thread started or ended in between (the census, docs/threads.md).
  std::uint64_t spawned_ = 0;
  std::uint64_t ended_here_ = 0;
  // The census this node's program is waiting for, if any.
  struct Census {
    std::uint64_t round = 0;
    std::uint32_t slot = 0;
    std::uint32_t missing = 0;  // nodes that have not answered yet
    channel::ThreadCensusReply sums;
  };
  std::optional<Census> census_;
  std::uint64_t census_rounds_ = 0;
  // Home side: threads that ended and were not joined yet, and who waits.
  std::map<std::uint64_t, std::uint64_t> ended_;  // tcb -> its exit epoch
  std::set<std::uint64_t> detached_;  // running, and nobody will join them
  std::map<std::uint64_t, std::uint32_t> slots_;  // vehicle slot of each thread of ours
  struct Waiter {
    bool local;
    std::uint32_t slot;         // local: the joiner's channel slot
    wire::NodeId node;          // remote: the joiner's node
    std::uint64_t request;      // remote: its request id
  };
  std::map<std::uint64_t, std::vector<Waiter>> waiters_;
  // Joiner side: our JoinWait requests to other homes.
  struct RemoteJoin {
    std::uint32_t slot;
    std::uint64_t tcb;
    wire::NodeId home;
  };
  std::map<std::uint64_t, RemoteJoin> remote_joins_;
  // Withdrawn (cancelled) ones: if the thread's end still comes to us, it
  // goes back to the home, whose record of it the JoinDone took.
  std::map<std::uint64_t, RemoteJoin> withdrawn_joins_;
};

}  // namespace gpt::node
