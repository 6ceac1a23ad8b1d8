#include "barriers.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "epoch_max.h"
#include "log.h"
#include "overloaded.h"

namespace gpt::node {

Barriers::Barriers(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate,
                   ChannelServer& channel, Coherence& coherence)
    : self_(self), node_count_(node_count), gate_(gate), channel_(channel), coherence_(coherence) {}

std::optional<Reply> Barriers::on_request(std::uint32_t slot, std::span<const unsigned char> request) {
  std::uint64_t barrier;
  std::uint32_t manager, count;
  if (request.size() != 16) return Reply{-EINVAL, 0};
  std::memcpy(&barrier, request.data(), 8);
  std::memcpy(&manager, request.data() + 8, 4);
  std::memcpy(&count, request.data() + 12, 4);
  if (manager >= node_count_ || count == 0) return Reply{-EINVAL, 0};
  std::uint64_t id = next_request_++;
  waiting_[id] = slot;
  const std::uint64_t epoch = coherence_.sync_epoch();  // the program released first
  if (manager == self_) arrive(barrier, count, Arrival{self_, id, epoch});
  else if (!gate_.send(manager, wire::BarrierWaitRequest{id, barrier, count, epoch}))
    util::log_line("cannot reach barrier manager node " + std::to_string(manager));
  return std::nullopt;
}

void Barriers::arrive(std::uint64_t barrier, std::uint32_t count, Arrival who) {
  auto& list = arrived_[barrier];
  list.push_back(who);
  if (list.size() < count) return;
  std::vector<Arrival> all = std::move(list);
  arrived_.erase(barrier);
  EpochMax newest;
  for (const Arrival& a : all) newest.add(coherence_.settled_epoch(a.epoch));
  const std::uint64_t epoch = newest.for_grant(coherence_.sync_epoch());
  // The last to arrive is the serial thread (any one is allowed).
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::uint32_t serial = i + 1 == all.size() ? 1 : 0;
    if (all[i].node == self_) {
      coherence_.sync_arrived(epoch, {});
      done(all[i].request, serial);
    } else if (!gate_.send(all[i].node, wire::BarrierWaitDone{all[i].request, serial, epoch,
                                                              coherence_.notices_for(all[i].node)})) {
      util::log_line("cannot release a barrier waiter on node " + std::to_string(all[i].node));
    }
  }
}

void Barriers::done(std::uint64_t request, std::uint32_t serial) {
  auto it = waiting_.find(request);
  if (it == waiting_.end()) return;
  const std::uint32_t slot = it->second;
  waiting_.erase(it);
  auto answer = coherence_.answer_synced_acquire(slot);
  channel_.complete(slot, Reply{static_cast<std::int32_t>(serial), answer.value_or(0)});
}

bool Barriers::on_message(const wire::Envelope& env) {
  return std::visit(util::Overloaded{
                        [&](const wire::BarrierWaitRequest& m) {
                          if (m.count == 0) return true;
                          arrive(m.barrier, m.count, Arrival{env.from, m.request, m.epoch});
                          return true;
                        },
                        [&](const wire::BarrierWaitDone& m) {
                          coherence_.sync_arrived(m.epoch, m.notices);
                          done(m.request, m.serial);
                          return true;
                        },
                        [&](const auto&) { return false; },
                    },
                    env.body);
}

}  // namespace gpt::node
