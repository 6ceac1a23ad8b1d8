// Read-write locks across nodes: the manager (the home of the lock's page)
// counts readers and the writer and grants FIFO, with a waiting writer
// holding back new readers. Every lock and unlock is a message to the
// manager (no token caching yet). A timed request that expires is
// cancelled; a grant that crossed the expiry is given back.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>

#include "coherence.h"
#include "epoch_max.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class RwLocks final
    : public ServiceBase<RwLocks, wire::RwRequest, wire::RwRelease, wire::RwCancel, wire::RwGranted> {
 public:
  RwLocks(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Manager side.
  void on(const wire::RwRequest& m, wire::NodeId from);
  void on(const wire::RwRelease& m, wire::NodeId from);
  void on(const wire::RwCancel& m, wire::NodeId from);
  // Waiter side.
  void on(const wire::RwGranted& m, wire::NodeId from);
  // Timed locks.
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const override;
  void expire(Clock::time_point now) override;

 private:
  struct Waiter {
    wire::NodeId node;
    std::uint64_t request;
    bool write;
  };
  struct State {  // manager side
    std::uint32_t readers = 0;
    bool writer = false;
    std::deque<Waiter> queue;
  };
  struct Pending {  // our side
    std::uint32_t slot;
    std::uint64_t lock;
    wire::NodeId manager;
    bool write;
    std::optional<Clock::time_point> deadline;
    bool busy_is_timeout = false;  // a timed lock whose deadline had passed: asked as a try
  };
  static constexpr channel::Op kOps[] = {channel::Op::kRwLock, channel::Op::kRwUnlock};
  void to(wire::NodeId node, const wire::Message& m);
  [[nodiscard]] static bool can_take(const State& s, bool write);
  void grant_waiting(std::uint64_t lock, State& s);
  void grant(wire::NodeId node, std::uint64_t request, std::uint64_t lock);

  const NodeContext node_;
  Coherence& coherence_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, Pending> expired_;
  std::map<std::uint64_t, State> states_;
  // Per lock, the newest epoch of its holders' releases (epoch_max.h);
  // kept while the lock is idle, when its State goes.
  std::map<std::uint64_t, EpochMax> epochs_;
};

}  // namespace gpt::node
