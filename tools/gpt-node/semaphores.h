// POSIX semaphores across nodes: the count of each semaphore lives at its
// manager (the home of its page), which grants waits FIFO. A timed wait that
// expires cancels its request; a grant that raced with the expiry is given
// back, so no unit is lost. Posts and grants carry epochs (epoch_max.h), so
// a waiter's acquire is usually answered by its own agent.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include "coherence.h"
#include "epoch_max.h"
#include "gpt/channel_ops.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Semaphores final : public ServiceBase<Semaphores, wire::SemWait, wire::SemPost, wire::SemCancel,
                                             wire::SemValueQuery, wire::SemGranted, wire::SemValue> {
 public:
  Semaphores(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Manager side.
  void on(const wire::SemWait& m, wire::NodeId from);
  void on(const wire::SemPost& m, wire::NodeId from);
  void on(const wire::SemCancel& m, wire::NodeId from);
  void on(const wire::SemValueQuery& m, wire::NodeId from);
  // Waiter side.
  void on(const wire::SemGranted& m, wire::NodeId from);
  void on(const wire::SemValue& m, wire::NodeId from);
  // Timed waits (kSemWait with a timeout).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const override;
  void expire(Clock::time_point now) override;
  // A cancelled wait: as an expired one (a grant that crossed it is given back).
  [[nodiscard]] bool withdraw(std::uint32_t slot) override;

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
    std::optional<Clock::time_point> deadline;
    bool busy_is_timeout = false;  // a timed wait whose deadline had passed: asked as a try
  };
  static constexpr channel::Op kOps[] = {channel::Op::kSemWait, channel::Op::kSemPost,
                                         channel::Op::kSemGetValue};
  std::optional<Reply> wait(std::uint32_t slot, const channel::SemWaitRequest& request);
  void to(wire::NodeId node, const wire::Message& m);
  Count& count_of(const Key& key, std::uint32_t initial);
  void grant(wire::NodeId node, std::uint64_t request, Count& c);

  const NodeContext node_;
  Coherence& coherence_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Waiting> waiting_;          // our waits and value queries
  std::map<std::uint64_t, Waiting> expired_;          // timed out, maybe granted late
  std::map<Key, Count> counts_;                       // manager side
};

}  // namespace gpt::node
