// POSIX semaphores across nodes: the count of each semaphore lives at its
// manager (the home of its page), which grants waits FIFO. A timed wait that
// expires cancels its request; a grant that raced with the expiry is given
// back, so no unit is lost. Posts and grants carry epochs (epoch_max.h), so
// a waiter's acquire is usually answered by its own agent.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include "channel_server.h"
#include "coherence.h"
#include "epoch_max.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Semaphores {
 public:
  Semaphores(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate,
             ChannelServer& channel, Coherence& coherence);

  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request);
  bool on_message(const wire::Envelope& env);
  void expire(std::chrono::steady_clock::time_point now);
  // The earliest deadline of a timed wait served here, if any: the agent
  // wakes for it rather than at its next tick.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

 private:
  using Key = std::pair<std::uint64_t, std::uint64_t>;  // address, incarnation
  struct Count {
    std::int64_t value;
    std::deque<std::pair<wire::NodeId, std::uint64_t>> waiters;  // node, request
    EpochMax epoch;  // of the posts so far
  };
  struct Waiting {
    std::uint32_t slot;
    Key key;
    wire::NodeId manager;
    std::uint32_t initial;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    bool busy_is_timeout = false;  // a timed wait whose deadline had passed: asked as a try
  };
  void to(wire::NodeId node, const wire::Message& m);
  Count& count_of(const Key& key, std::uint32_t initial);
  void grant(wire::NodeId node, std::uint64_t request, Count& c);

  wire::NodeId self_;
  std::uint32_t node_count_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  Coherence& coherence_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Waiting> waiting_;          // our waits and value queries
  std::map<std::uint64_t, Waiting> expired_;          // timed out, maybe granted late
  std::map<Key, Count> counts_;                       // manager side
};

}  // namespace gpt::node
