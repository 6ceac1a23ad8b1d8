// pthread barriers across nodes: every arrival goes to the barrier's
// manager (the home of its page), which answers all waiters once `count`
// threads have arrived, and marks one of them serial. A barrier whose last
// rounds' threads all came from one node is lent to it (gpt/barrier_table.h,
// wire.h): that node's program then counts them itself, until an arrival
// from elsewhere makes the manager recall the lease.
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

class Barriers final
    : public ServiceBase<Barriers, wire::BarrierWaitRequest, wire::BarrierWaitDone, wire::BarrierRecall> {
 public:
  Barriers(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::BarrierWaitRequest& m, wire::NodeId from);  // manager: a thread arrived
  void on(const wire::BarrierWaitDone& m, wire::NodeId from);     // everyone did
  void on(const wire::BarrierRecall& m, wire::NodeId from);       // lessee: give the lease back
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kBarrierWait, channel::Op::kReleaseForBarrierWait,
                                         channel::Op::kBarrierFlushed};
  // Rounds in a row from one node before the manager lends it the barrier:
  // a barrier whose threads change node now and then is not recalled every
  // other round.
  static constexpr std::uint32_t kRoundsBeforeLease = 2;

  [[nodiscard]] std::optional<Reply> wait(std::uint32_t slot, std::span<const unsigned char> request);
  // kReleaseForBarrierWait: the release, then the thread's arrival.
  [[nodiscard]] std::optional<Reply> release_then_arrive(std::uint32_t slot, std::span<const unsigned char> request);
  struct Arrival {
    wire::NodeId node;
    std::uint64_t request;
    std::uint64_t epoch;  // of the notices its node saw
    std::uint32_t weight = 1;  // threads it stands for (a recalled lease's)
    bool lent = false;         // threads that waited at a lent barrier
  };
  // The manager's view of one barrier.
  struct Managed {
    std::vector<Arrival> arrived;
    std::uint32_t threads = 0;  // the arrivals' weights
    std::optional<wire::NodeId> lessee;
    bool recalling = false;  // the lessee's answer, which may add arrivals, is due
    wire::NodeId last_node = 0;  // whence the last round's threads all came
    std::uint32_t single_rounds = 0;  // rounds in a row all from last_node
  };
  // `returned`: the lessee's answer to a recall (weight 0: nobody waited).
  void arrive(std::uint64_t barrier, std::uint32_t count, Arrival who, bool returned = false);
  void depart(std::uint64_t barrier, std::uint32_t count, Managed& m);
  void recall(std::uint64_t barrier, wire::NodeId lessee);
  // Lessee: the threads waiting here at a recalled barrier arrive as one;
  // the manager's departure wakes them (leave_leased).
  void return_lease(std::uint64_t barrier);
  void leave_leased(std::uint64_t barrier, std::uint32_t serial);  // ends their generation
  // A departure here: a waiting slot's, or the lent waiters' (woken after
  // `lease`, if any, is taken); `manager` lent it.
  void departed(std::uint64_t request, std::uint32_t serial, std::uint32_t lease, std::uint64_t barrier,
                wire::NodeId manager);
  // Lessee: the barrier is ours to count; false if the table has no room.
  [[nodiscard]] bool take_lease(std::uint64_t barrier, std::uint32_t count, wire::NodeId manager);
  // A waiter here may leave: its reply carries the acquire's answer when
  // this node has the notices up to the barrier's epoch.
  void done(std::uint64_t request, std::uint32_t serial);
  // A manager of this job and a count of at least one.
  [[nodiscard]] bool valid(const channel::BarrierWaitRequest& w) const;
  // Sends (or counts, as the manager) one arrival; request: the waiter's id
  // here; called: when the program's call came.
  void send_arrival(const channel::BarrierWaitRequest& w, std::uint64_t request, Clock::time_point called);
  void send_to_manager(wire::NodeId manager, const wire::BarrierWaitRequest& m);

  const NodeContext node_;
  Coherence& coherence_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, std::uint32_t> waiting_;  // our requests -> slots
  // Arrivals made for a thread before its kBarrierWait (by barrier and
  // thread token), and those of them that departed before it came.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> early_;
  std::map<std::uint64_t, std::uint32_t> departed_early_;  // request -> serial
  std::map<std::uint64_t, Managed> managed_;  // manager side, by barrier
  // Lessee side: the barriers lent to this node (their managers and
  // counts), and the requests that stand for threads waiting at a recalled
  // one (barrier, weight).
  struct Lease {
    wire::NodeId manager;
    std::uint32_t count;
    std::uint32_t waiting = 0;  // recalled with threads waiting: their flush is due
  };
  std::map<std::uint64_t, Lease> leases_;
  void send_bundle(std::map<std::uint64_t, Lease>::iterator lease);
  std::map<std::uint64_t, std::uint64_t> bundles_;  // request -> barrier
  std::uint64_t leases_taken_ = 0, leases_recalled_ = 0;
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
