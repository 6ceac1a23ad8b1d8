// pthread barriers across nodes: every arrival goes to the barrier's
// manager (the home of its page), which answers all waiters once `count`
// threads have arrived, and marks one of them serial.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "coherence.h"
#include "hop_times.h"
#include "gpt/channel_ops.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Barriers final : public ServiceBase<Barriers, wire::BarrierWaitRequest, wire::BarrierWaitDone> {
 public:
  Barriers(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::BarrierWaitRequest& m, wire::NodeId from);  // manager: a thread arrived
  void on(const wire::BarrierWaitDone& m, wire::NodeId from);     // everyone did
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kBarrierWait, channel::Op::kReleaseForBarrierWait};

  [[nodiscard]] std::optional<Reply> wait(std::uint32_t slot, std::span<const unsigned char> request);
  // kReleaseForBarrierWait: the release, then the thread's arrival.
  [[nodiscard]] std::optional<Reply> release_then_arrive(std::uint32_t slot, std::span<const unsigned char> request);
  struct Arrival {
    wire::NodeId node;
    std::uint64_t request;
    std::uint64_t epoch;  // of the notices its node saw
  };
  void arrive(std::uint64_t barrier, std::uint32_t count, Arrival who);
  // A waiter here may leave: its reply carries the acquire's answer when
  // this node has the notices up to the barrier's epoch.
  void done(std::uint64_t request, std::uint32_t serial);
  // A manager of this job and a count of at least one.
  [[nodiscard]] bool valid(const channel::BarrierWaitRequest& w) const;
  // Sends (or counts, as the manager) one arrival; request: the waiter's id
  // here; called: when the program's call came.
  void send_arrival(const channel::BarrierWaitRequest& w, std::uint64_t request, Clock::time_point called);

  const NodeContext node_;
  Coherence& coherence_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, std::uint32_t> waiting_;  // our requests -> slots
  // Arrivals made for a thread before its kBarrierWait (by barrier and
  // thread token), and those of them that departed before it came.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> early_;
  std::map<std::uint64_t, std::uint32_t> departed_early_;  // request -> serial
  std::map<std::uint64_t, std::vector<Arrival>> arrived_;  // manager side
  // Where a wait's time goes (GPT_STATS), as for gpt_barrier_all
  // (barrier_all.h): the program's call (and release) to the arrival sent;
  // arrival to departure; a departure before the program's kBarrierWait;
  // manager: first to last arrival, and the last to the departures sent.
  enum Hop : std::size_t { kRelease, kRoundTrip, kProgramLate, kManagerWait, kManager };
  HopTimes<5> hops_{"pthread_barrier", {"release", "round_trip", "program_late", "manager_wait", "manager"}};
  std::map<std::uint64_t, Clock::time_point> sent_at_;      // by request, until it departs
  std::map<std::uint64_t, Clock::time_point> departed_at_;  // departed early, by request
  std::map<std::uint64_t, Clock::time_point> first_arrival_;  // manager: by barrier
};

}  // namespace gpt::node
