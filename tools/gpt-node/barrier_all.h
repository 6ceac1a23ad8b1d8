// The job-wide barrier (gpt_barrier_all, channel ops kBarrier and
// kReleaseForBarrier): every node's program releases, then arrives; node 0
// counts the arrivals of each generation and, once every node is in, sends
// each the notices it lacks with its departure, so the barrier's acquire
// is answered here. One barrier per node at a time.
//
// kReleaseForBarrier lets the agent arrive for its program as soon as the
// release is on its way: the barrier's round trip overlaps the program's
// next call, its kBarrier, which then joins that arrival.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "acquires.h"
#include "coherence_shared.h"
#include "hop_times.h"
#include "notice_manager.h"
#include "releases.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class BarrierAll final : public ServiceBase<BarrierAll, wire::BarrierArrive, wire::BarrierRelease> {
 public:
  BarrierAll(CoherenceShared& shared, NoticeManager& notices, Releases& releases, Acquires& acquires);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Node 0: a node arrived.
  void on(const wire::BarrierArrive& m, wire::NodeId from);
  // From node 0: everyone arrived.
  void on(const wire::BarrierRelease& m, wire::NodeId from);
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kBarrier, channel::Op::kReleaseForBarrier};

  std::optional<Reply> wait(std::uint32_t slot);
  // Arrives for the program whose release is on its way.
  void arrive_early();
  void arrive(std::uint64_t generation);
  void count_arrival(std::uint64_t generation);  // node 0
  void released(std::uint64_t generation, const wire::Notices& notices);
  // The program's barrier call departs, with its acquire answered.
  void leave();

  CoherenceShared& shared_;
  NoticeManager& notices_;
  Releases& releases_;
  Acquires& acquires_;
  std::uint64_t generation_ = 0;
  std::optional<std::uint32_t> slot_;  // the program's kBarrier, waiting
  // A barrier this node arrived at for its program, which has not asked for
  // it yet (kBarrier), and whether it has departed already.
  std::optional<std::uint64_t> early_;
  bool early_departed_ = false;
  std::map<std::uint64_t, std::uint32_t> arrivals_;  // node 0: by generation
  std::uint64_t barriers_ = 0;
  // Where a barrier's time goes (GPT_STATS): the program's release to this
  // node's arrival; arrival to departure (the wire, node 0, the others'
  // lateness); a departure that came before the program's kBarrier; node 0:
  // first to last arrival, and the last arrival to the departures sent.
  enum Hop : std::size_t { kRelease, kRoundTrip, kProgramLate, kManagerWait, kManager };
  HopTimes<5> hops_{"barrier_all", {"release", "round_trip", "program_late", "manager_wait", "manager"}};
  Clock::time_point release_called_, arrived_at_, released_at_;
  std::map<std::uint64_t, Clock::time_point> first_arrival_;  // node 0: by generation
};

}  // namespace gpt::node
