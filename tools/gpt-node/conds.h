// Condition variables across nodes: waiters are queued FIFO at the
// condition's manager (the home of its page). A waiter first enqueues (and
// only then unlocks its mutex, so no signal can slip in between), then
// sleeps on its ticket; a signal wakes the oldest ticket, a broadcast all.
// A timed wait that expires cancels its ticket at the manager.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>

#include "channel_server.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Conds {
 public:
  Conds(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate, ChannelServer& channel);

  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request);
  bool on_message(const wire::Envelope& env);
  // Ends timed waits whose deadline passed (called every tick).
  void expire(std::chrono::steady_clock::time_point now);
  // The earliest deadline of a timed wait served here, if any: the agent
  // wakes for it rather than at its next tick.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

 private:
  struct Ticket {
    wire::NodeId node;
    std::uint64_t id;
  };
  struct Sleeper {
    std::uint32_t slot;
    std::uint64_t cond;
    wire::NodeId manager;
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };
  void to(wire::NodeId node, const wire::Message& m);
  void wake(std::uint64_t ticket);

  wire::NodeId self_;
  std::uint32_t node_count_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, std::uint32_t> enqueuing_;  // ticket -> slot awaiting CondEnqueued
  std::map<std::uint64_t, Sleeper> sleeping_;        // ticket -> sleeper
  std::set<std::uint64_t> woken_early_;              // woken before it slept
  std::map<std::uint64_t, std::deque<Ticket>> queues_;  // manager side
};

}  // namespace gpt::node
