#include "barriers.h"

#include <cerrno>

#include "channel_request.h"
#include "epoch_max.h"
#include "log.h"

namespace gpt::node {

Barriers::Barriers(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

bool Barriers::valid(const channel::BarrierWaitRequest& w) const {
  return w.manager < node_.node_count && w.count != 0;
}

std::optional<Reply> Barriers::on_request(std::uint32_t slot, channel::Op op,
                                          std::span<const unsigned char> request, std::span<unsigned char>) {
  if (op == channel::Op::kReleaseForBarrierWait) return release_then_arrive(slot, request);
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
  if (w.manager == node_.self) arrive(w.barrier, w.count, Arrival{node_.self, request, epoch});
  else if (!node_.gate.send(w.manager, wire::BarrierWaitRequest{request, w.barrier, w.count, epoch}))
    util::log_line("cannot reach barrier manager node " + std::to_string(w.manager));
}

void Barriers::arrive(std::uint64_t barrier, std::uint32_t count, Arrival who) {
  auto& list = arrived_[barrier];
  const Clock::time_point last = Clock::now();
  if (list.empty()) first_arrival_[barrier] = last;
  list.push_back(who);
  if (list.size() < count) return;
  std::vector<Arrival> all = std::move(list);
  arrived_.erase(barrier);
  if (auto first = first_arrival_.extract(barrier)) hops_.add(kManagerWait, first.mapped(), last);
  EpochMax newest;
  for (const Arrival& a : all) newest.add(coherence_.settled_epoch(a.epoch));
  const std::uint64_t epoch = newest.for_grant(coherence_.sync_epoch());
  // The last to arrive is the serial thread (any one is allowed).
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::uint32_t serial = i + 1 == all.size() ? 1 : 0;
    if (all[i].node == node_.self) {
      coherence_.sync_arrived(epoch, {});
      done(all[i].request, serial);
    } else if (!node_.gate.send(all[i].node, wire::BarrierWaitDone{all[i].request, serial, epoch,
                                                              coherence_.notices_for(all[i].node)})) {
      util::log_line("cannot release a barrier waiter on node " + std::to_string(all[i].node));
    }
  }
  hops_.add(kManager, last, Clock::now());
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
  if (m.count == 0) return;
  arrive(m.barrier, m.count, Arrival{from, m.request, m.epoch});
}

void Barriers::on(const wire::BarrierWaitDone& m, wire::NodeId) {
  coherence_.sync_arrived(m.epoch, m.notices);
  done(m.request, m.serial);
}

void Barriers::report(Stats& stats) const { hops_.report(stats); }

}  // namespace gpt::node
