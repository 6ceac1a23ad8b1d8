#include "barriers.h"

#include <algorithm>
#include <cerrno>

#include "channel_request.h"
#include "epoch_max.h"
#include "gpt/futex.h"
#include "log.h"

namespace gpt::node {

Barriers::Barriers(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

bool Barriers::valid(const channel::BarrierWaitRequest& w) const {
  return w.manager < node_.node_count && w.count != 0;
}

std::optional<Reply> Barriers::on_request(std::uint32_t slot, channel::Op op,
                                          std::span<const unsigned char> request, std::span<unsigned char>) {
  if (op == channel::Op::kReleaseForBarrierWait) return release_then_arrive(slot, request);
  if (op == channel::Op::kBarrierFlushed) {
    const auto w = read_request_prefix<channel::BarrierWaitRequest>(request, channel::kBarrierWaitBytes);
    auto it = w ? leases_.find(w->barrier) : leases_.end();
    if (it == leases_.end() || it->second.waiting == 0) return Reply{-EINVAL, 0};
    send_bundle(it);
    return Reply{0, 0};
  }
  return wait(slot, request);
}

// Without its token (kBarrierWaitBytes) the thread arrives now; with it, it
// joins the arrival its kReleaseForBarrierWait made.
std::optional<Reply> Barriers::wait(std::uint32_t slot, std::span<const unsigned char> request) {
  if (request.size() != channel::kBarrierWaitBytes && request.size() != sizeof(channel::BarrierWaitRequest))
    return Reply{-EINVAL, 0};
  const auto w = read_request_prefix<channel::BarrierWaitRequest>(request, channel::kBarrierWaitBytes);
  if (!w || !valid(*w)) return Reply{-EINVAL, 0};
  if (request.size() == sizeof(channel::BarrierWaitRequest)) {
    auto it = early_.find({w->barrier, w->token});
    if (it == early_.end()) return Reply{-EINVAL, 0};
    const std::uint64_t id = it->second;
    early_.erase(it);
    waiting_[id] = slot;
    if (auto d = departed_early_.find(id); d != departed_early_.end()) {
      const std::uint32_t serial = d->second;
      departed_early_.erase(d);
      if (auto at = departed_at_.extract(id)) hops_.add(kProgramLate, at.mapped(), Clock::now());
      done(id, serial);
    }
    return std::nullopt;
  }
  const std::uint64_t id = next_request_++;
  waiting_[id] = slot;
  send_arrival(*w, id, Clock::now());
  return std::nullopt;
}

std::optional<Reply> Barriers::release_then_arrive(std::uint32_t slot, std::span<const unsigned char> request) {
  channel::BarrierWaitRequest w;
  Pages pages;
  if (!read_trailed(request, w, pages) || !valid(w)) return Reply{-EINVAL, 0};
  // Once the release cannot be overtaken: the arrival carries its epoch.
  const Clock::time_point called = Clock::now();
  return coherence_.release(slot, pages, 0, [this, w, called] {
    const std::uint64_t id = next_request_++;
    early_[{w.barrier, w.token}] = id;
    send_arrival(w, id, called);
  });
}

void Barriers::send_arrival(const channel::BarrierWaitRequest& w, std::uint64_t request,
                            Clock::time_point called) {
  const std::uint64_t epoch = coherence_.sync_epoch();  // the program released first
  const Clock::time_point now = Clock::now();
  hops_.add(kRelease, called, now);
  sent_at_[request] = now;
  send_to_manager(w.manager, wire::BarrierWaitRequest{request, w.barrier, w.count, epoch});
}

void Barriers::send_to_manager(wire::NodeId manager, const wire::BarrierWaitRequest& m) {
  if (manager == node_.self)
    arrive(m.barrier, m.count, Arrival{node_.self, m.request, m.epoch, m.weight, m.returned != 0}, m.returned != 0);
  else if (!node_.gate.send(manager, m))
    util::log_line("cannot reach barrier manager node " + std::to_string(manager));
}

void Barriers::arrive(std::uint64_t barrier, std::uint32_t count, Arrival who, bool returned) {
  Managed& m = managed_[barrier];
  if (returned) {
    if (m.lessee != who.node) return;  // not a lease of ours (cannot happen in order)
    m.lessee.reset();
    m.recalling = false;
  }
  const Clock::time_point now = Clock::now();
  if (who.weight > 0) {
    if (m.arrived.empty()) first_arrival_[barrier] = now;
    m.arrived.push_back(who);
    m.threads += who.weight;
  }
  // Its lessee may count threads of this very round: it answers first. (A
  // local lessee may answer at once, inside recall(): m is then settled.)
  if (!returned && m.lessee && !m.recalling) {
    m.recalling = true;
    recall(barrier, *m.lessee);
    return;
  }
  if (m.recalling || m.threads < count || m.arrived.empty()) return;
  depart(barrier, count, m);
}

void Barriers::depart(std::uint64_t barrier, std::uint32_t count, Managed& m) {
  const Clock::time_point last = Clock::now();
  std::vector<Arrival> all = std::move(m.arrived);
  m.arrived.clear();
  m.threads = 0;
  if (auto first = first_arrival_.extract(barrier)) hops_.add(kManagerWait, first.mapped(), last);
  EpochMax newest;
  bool one_node = true;
  for (const Arrival& a : all) {
    newest.add(coherence_.settled_epoch(a.epoch));
    one_node = one_node && a.node == all.front().node;
  }
  const std::uint64_t epoch = newest.for_grant(coherence_.sync_epoch());
  // Rounds all from one node in a row earn it the lease, sent with its
  // last departure of this round, after which its threads count alone.
  const wire::NodeId from = all.front().node;
  m.single_rounds = one_node ? (m.last_node == from ? m.single_rounds + 1 : 1) : 0;
  m.last_node = from;
  const bool lend = one_node && !m.lessee && m.single_rounds >= kRoundsBeforeLease &&
                    count <= channel::barrier_bits::kMaxCount;
  if (lend) {
    m.lessee = from;
    m.single_rounds = 0;
  }
  // Threads that waited at a lent barrier leave first, and the lease goes
  // with the first departure: their generation must end before the
  // lessee's threads count the next one (wire.h).
  std::stable_partition(all.begin(), all.end(), [](const Arrival& a) { return a.lent; });
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::uint32_t serial = i + 1 == all.size() ? 1 : 0;  // any one thread may be
    if (all[i].node == node_.self) {
      coherence_.sync_arrived(epoch, {});
      departed(all[i].request, serial, lend && i == 0 ? count : 0, barrier, node_.self);
      continue;
    }
    wire::BarrierWaitDone d{all[i].request, serial, epoch, coherence_.notices_for(all[i].node)};
    if (lend && i == 0) {
      d.lease = count;
      d.barrier = barrier;
    }
    if (!node_.gate.send(all[i].node, d))
      util::log_line("cannot release a barrier waiter on node " + std::to_string(all[i].node));
  }
  hops_.add(kManager, last, Clock::now());
}

void Barriers::recall(std::uint64_t barrier, wire::NodeId lessee) {
  if (lessee == node_.self) return_lease(barrier);
  else if (!node_.gate.send(lessee, wire::BarrierRecall{barrier}))
    util::log_line("cannot recall a barrier from node " + std::to_string(lessee));
}

bool Barriers::take_lease(std::uint64_t barrier, std::uint32_t count, wire::NodeId manager) {
  channel::BarrierEntry* e = channel::insert_barrier(node_.channel.layout().barriers, barrier);
  if (!e || count > channel::barrier_bits::kMaxCount) return false;
  // Not leased, nobody counted here waits (leave_leased ended them).
  e->count.store(count, std::memory_order_relaxed);
  const std::uint32_t s = e->state.load(std::memory_order_relaxed);
  e->state.store((s & ~channel::barrier_bits::kArrivedMask) | channel::barrier_bits::kLeased,
                 std::memory_order_release);
  leases_[barrier] = Lease{manager, count};
  ++leases_taken_;
  return true;
}

void Barriers::return_lease(std::uint64_t barrier) {
  auto it = leases_.find(barrier);
  if (it == leases_.end() || it->second.waiting != 0) return;  // answered already
  ++leases_recalled_;
  channel::BarrierEntry* e = channel::find_barrier(node_.channel.layout().barriers, barrier);
  const std::uint32_t waiting = e ? channel::end_lease(*e) : 0;
  if (waiting == 0) {
    const Lease l = it->second;
    leases_.erase(it);
    send_to_manager(l.manager, wire::BarrierWaitRequest{0, barrier, l.count, coherence_.sync_epoch(), 0, 1});
    return;
  }
  // Their arrivals are releases: what the node wrote goes out first.
  it->second.waiting = waiting;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kFlushBarrier, barrier)) {
    util::log_line("the program's service queue is full; a barrier's arrivals go without a flush");
    send_bundle(it);
  }
}

void Barriers::send_bundle(std::map<std::uint64_t, Lease>::iterator it) {
  const std::uint64_t barrier = it->first;
  const Lease l = it->second;
  leases_.erase(it);
  const std::uint64_t id = next_request_++;
  bundles_[id] = barrier;
  send_to_manager(l.manager, wire::BarrierWaitRequest{id, barrier, l.count, coherence_.sync_epoch(), l.waiting, 1});
}

void Barriers::leave_leased(std::uint64_t barrier, std::uint32_t serial) {
  channel::BarrierEntry* e = channel::find_barrier(node_.channel.layout().barriers, barrier);
  if (!e) return;
  const std::uint32_t next = channel::barrier_bits::departed(e->state.load(std::memory_order_relaxed), false);
  e->remote_serial.store(serial, std::memory_order_relaxed);
  e->remote_generation.store(channel::barrier_bits::generation(next), std::memory_order_relaxed);
  e->state.store(next, std::memory_order_release);
}

void Barriers::departed(std::uint64_t request, std::uint32_t serial, std::uint32_t lease, std::uint64_t barrier,
                        wire::NodeId manager) {
  auto bundle = bundles_.extract(request);
  if (bundle) leave_leased(bundle.mapped(), serial);
  // Before any thread here leaves: the next generation counts here.
  if (lease != 0 && !take_lease(barrier, lease, manager)) {
    // No room: give it back at once.
    send_to_manager(manager, wire::BarrierWaitRequest{0, barrier, lease, coherence_.sync_epoch(), 0, 1});
  }
  if (!bundle) {
    done(request, serial);
  } else if (channel::BarrierEntry* e = channel::find_barrier(node_.channel.layout().barriers, bundle.mapped())) {
    futex::wake_all(&e->state);
  }
}

void Barriers::done(std::uint64_t request, std::uint32_t serial) {
  const Clock::time_point now = Clock::now();
  if (auto sent = sent_at_.extract(request)) hops_.add(kRoundTrip, sent.mapped(), now);
  auto it = waiting_.find(request);
  if (it == waiting_.end()) {  // an arrival made early: its thread comes later
    departed_early_[request] = serial;
    departed_at_[request] = now;
    return;
  }
  const std::uint32_t slot = it->second;
  waiting_.erase(it);
  auto answer = coherence_.answer_synced_acquire(slot);
  node_.channel.complete(slot, Reply{static_cast<std::int32_t>(serial), answer.value_or(0)});
}

void Barriers::on(const wire::BarrierWaitRequest& m, wire::NodeId from) {
  if (m.count == 0 || m.returned > 1 || (m.weight != 1 && m.returned == 0)) return;
  arrive(m.barrier, m.count, Arrival{from, m.request, m.epoch, m.weight, m.returned != 0}, m.returned != 0);
}

void Barriers::on(const wire::BarrierWaitDone& m, wire::NodeId from) {
  coherence_.sync_arrived(m.epoch, m.notices);
  departed(m.request, m.serial, m.lease, m.barrier, from);
}

void Barriers::on(const wire::BarrierRecall& m, wire::NodeId) { return_lease(m.barrier); }

void Barriers::report(Stats& stats) const {
  hops_.report(stats);
  stats.add("barrier_leases_taken", leases_taken_);
  stats.add("barrier_leases_recalled", leases_recalled_);
}

}  // namespace gpt::node
