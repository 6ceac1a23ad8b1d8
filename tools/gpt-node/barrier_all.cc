#include "barrier_all.h"

#include <cerrno>
#include <utility>

namespace gpt::node {

BarrierAll::BarrierAll(CoherenceShared& shared, NoticeManager& notices, Releases& releases, Acquires& acquires)
    : shared_(shared), notices_(notices), releases_(releases), acquires_(acquires) {}

std::optional<Reply> BarrierAll::on_request(std::uint32_t slot, channel::Op op, std::span<const unsigned char> request,
                                            std::span<unsigned char>) {
  if (op == channel::Op::kReleaseForBarrier) {
    Pages pages;
    if (!read_words(request, pages)) return Reply{-EINVAL, 0};
    release_called_ = Clock::now();
    return releases_.release(slot, pages, 0, [this] { arrive_early(); });
  }
  if (!request.empty()) return Reply{-EINVAL, 0};
  return wait(slot);
}

void BarrierAll::arrive(std::uint64_t generation) {
  arrived_at_ = Clock::now();
  if (shared_.node.self == 0) count_arrival(generation);
  else shared_.node.send(0, wire::BarrierArrive{generation});
}

// The program releases right before it waits at a barrier: arriving for it
// as soon as the release is on its way (after it, on the same connection to
// node 0) overlaps the barrier's round trip with the program's next call.
void BarrierAll::arrive_early() {
  if (slot_ || early_) return;  // kBarrier will say EBUSY
  hops_.add(kRelease, release_called_, Clock::now());
  early_ = ++generation_;
  early_departed_ = false;
  arrive(*early_);
}

std::optional<Reply> BarrierAll::wait(std::uint32_t slot) {
  if (slot_) return Reply{-EBUSY, 0};  // one barrier per node at a time
  slot_ = slot;
  if (early_) {  // arrived already: wait for (or take) its departure
    early_.reset();
    if (std::exchange(early_departed_, false)) {
      hops_.add(kProgramLate, released_at_, Clock::now());
      leave();
    }
    return std::nullopt;
  }
  arrive(++generation_);
  return std::nullopt;
}

// Every node released (and node 0 logged it) before arriving: each leaves
// with the notices it lacks.
void BarrierAll::count_arrival(std::uint64_t generation) {
  const std::uint32_t nodes = shared_.node.node_count;
  const Clock::time_point now = Clock::now();
  if (++arrivals_[generation] == 1) first_arrival_[generation] = now;
  if (arrivals_[generation] < nodes) return;
  arrivals_.erase(generation);
  if (auto first = first_arrival_.extract(generation)) hops_.add(kManagerWait, first.mapped(), now);
  for (wire::NodeId n = 1; n < nodes; ++n)
    shared_.node.send(n, wire::BarrierRelease{generation, notices_.bundle_for(n)});
  hops_.add(kManager, now, Clock::now());
  released(generation, {});
}

void BarrierAll::released(std::uint64_t generation, const wire::Notices& notices) {
  released_at_ = Clock::now();
  hops_.add(kRoundTrip, arrived_at_, released_at_);
  acquires_.absorb(notices);
  if (early_ && generation == *early_) {  // the program has not asked yet
    early_departed_ = true;
    return;
  }
  if (!slot_ || generation != generation_) return;
  leave();
}

void BarrierAll::leave() {
  ++barriers_;
  const std::uint32_t slot = *slot_;
  slot_.reset();
  acquires_.answer_acquire(slot);
}

void BarrierAll::on(const wire::BarrierArrive& m, wire::NodeId) {
  if (shared_.node.self == 0) count_arrival(m.generation);
}

void BarrierAll::on(const wire::BarrierRelease& m, wire::NodeId from) {
  if (from == 0) released(m.generation, m.notices);
}

void BarrierAll::report(Stats& stats) const {
  stats.add("barriers", barriers_);
  hops_.report(stats);
}

}  // namespace gpt::node
