// Condition variables across nodes: waiters are queued FIFO at the
// condition's manager (the home of its page). A waiter first enqueues (and
// only then unlocks its mutex, so no signal can slip in between), then
// sleeps on its ticket; a signal wakes the oldest ticket, a broadcast all.
// A timed wait that expires cancels its ticket at the manager.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>

#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Conds final : public ServiceBase<Conds, wire::CondEnqueue, wire::CondEnqueued, wire::CondSignal,
                                       wire::CondWake, wire::CondCancel> {
 public:
  explicit Conds(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Manager side.
  void on(const wire::CondEnqueue& m, wire::NodeId from);
  void on(const wire::CondSignal& m, wire::NodeId from);
  void on(const wire::CondCancel& m, wire::NodeId from);
  // Waiter side.
  void on(const wire::CondEnqueued& m, wire::NodeId from);
  void on(const wire::CondWake& m, wire::NodeId from);
  // Timed waits (kCondSleep with a timeout).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const override;
  void expire(Clock::time_point now) override;
  // A cancelled sleeper: its ticket leaves the manager's queue.
  [[nodiscard]] bool withdraw(std::uint32_t slot) override;

 private:
  struct Ticket {
    wire::NodeId node;
    std::uint64_t id;
  };
  struct Sleeper {
    std::uint32_t slot;
    std::uint64_t cond;
    wire::NodeId manager;
    std::optional<Clock::time_point> deadline;
  };
  static constexpr channel::Op kOps[] = {channel::Op::kCondEnqueue, channel::Op::kCondSleep,
                                         channel::Op::kCondSignal};
  void to(wire::NodeId node, const wire::Message& m);

  const NodeContext node_;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, std::uint32_t> enqueuing_;  // ticket -> slot awaiting CondEnqueued
  std::map<std::uint64_t, Sleeper> sleeping_;        // ticket -> sleeper
  std::set<std::uint64_t> woken_early_;              // woken before it slept
  // Withdrawn tickets whose cancel may cross a wake on its way: a wake
  // that arrives for one is passed on to the next waiter (POSIX: a
  // cancelled waiter must not take a signal with it).
  std::map<std::uint64_t, Sleeper> withdrawn_;
  std::map<std::uint64_t, std::deque<Ticket>> queues_;  // manager side
};

}  // namespace gpt::node
