#include "semaphores.h"

#include <algorithm>
#include <cerrno>

#include "channel_request.h"
#include "peer_send.h"

namespace gpt::node {

Semaphores::Semaphores(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

void Semaphores::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(node_, node, m, [this](const wire::Envelope& e) { on_message(e); });
}

Semaphores::Count& Semaphores::count_of(const Key& key, std::uint32_t initial) {
  auto [it, fresh] = counts_.try_emplace(key);
  if (fresh) it->second.value = initial;
  return it->second;
}

// A unit for `request`: with the newest epoch of the posts, and the notices
// up to it when node 0 manages the semaphore.
void Semaphores::grant(wire::NodeId node, std::uint64_t request, Count& c) {
  to(node, wire::SemGranted{request, 0, c.epoch.for_grant(coherence_.sync_epoch()),
                            coherence_.notices_for(node)});
}

std::optional<Reply> Semaphores::on_request(std::uint32_t slot, channel::Op op,
                                            std::span<const unsigned char> request, std::span<unsigned char>) {
  if (op == channel::Op::kSemWait) {
    const auto req = read_request<channel::SemWaitRequest>(request);
    if (!req || req->head.manager >= node_.node_count) return Reply{-EINVAL, 0};
    return wait(slot, *req);
  }
  const auto h = read_request<channel::SemHead>(request);
  if (!h || h->manager >= node_.node_count) return Reply{-EINVAL, 0};
  if (op == channel::Op::kSemPost) {  // the program released first
    to(h->manager, wire::SemPost{h->sem, h->incarnation, h->initial, coherence_.sync_epoch()});
    return Reply{0, 0};
  }
  // kSemGetValue: the manager has the count.
  const std::uint64_t id = next_request_++;
  waiting_[id] = Waiting{slot, {h->sem, h->incarnation}, h->manager, h->initial, std::nullopt};
  to(h->manager, wire::SemValueQuery{id, h->sem, h->incarnation, h->initial});
  return std::nullopt;
}

std::optional<Reply> Semaphores::wait(std::uint32_t slot, const channel::SemWaitRequest& w) {
  const channel::SemHead& h = w.head;
  const std::uint64_t id = next_request_++;
  Waiting entry{slot, {h.sem, h.incarnation}, h.manager, h.initial, std::nullopt};
  // As for rwlocks: a passed deadline asks as a try (POSIX lets a wait
  // that can succeed at once succeed), and "would block" is ETIMEDOUT.
  const bool passed = !w.try_only && w.timeout_ns == 0;
  entry.busy_is_timeout = passed;
  if (w.timeout_ns > 0 && !w.try_only) entry.deadline = Clock::now() + std::chrono::nanoseconds(w.timeout_ns);
  waiting_[id] = entry;
  to(h.manager, wire::SemWait{id, h.sem, h.incarnation, h.initial, static_cast<std::uint32_t>(w.try_only || passed)});
  return std::nullopt;
}

std::optional<Clock::time_point> Semaphores::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const auto& [id, w] : waiting_)
    if (w.deadline && (!first || *w.deadline < *first)) first = w.deadline;
  return first;
}

void Semaphores::expire(Clock::time_point now) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.deadline && *it->second.deadline <= now) {
      to(it->second.manager, wire::SemCancel{it->first, it->second.key.first, it->second.key.second});
      node_.channel.complete(it->second.slot, Reply{-ETIMEDOUT, 0});
      expired_.insert(*it);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Semaphores::withdraw(std::uint32_t slot) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& e) { return e.second.slot == slot; });
  if (it == waiting_.end()) return false;
  to(it->second.manager, wire::SemCancel{it->first, it->second.key.first, it->second.key.second});
  node_.channel.complete(slot, Reply{-ECANCELED, 0});
  expired_.insert(*it);
  waiting_.erase(it);
  return true;
}

void Semaphores::on(const wire::SemWait& m, wire::NodeId from) {
  Count& c = count_of({m.sem, m.incarnation}, m.initial);
  if (c.value > 0) {
    --c.value;
    grant(from, m.request, c);
  } else if (m.try_only) {
    to(from, wire::SemGranted{m.request, EAGAIN, 0, {}});
  } else {
    c.waiters.emplace_back(from, m.request);
  }
}

void Semaphores::on(const wire::SemPost& m, wire::NodeId) {
  Count& c = count_of({m.sem, m.incarnation}, m.initial);
  c.epoch.add(coherence_.settled_epoch(m.epoch));
  if (!c.waiters.empty()) {
    auto [node, request] = c.waiters.front();
    c.waiters.pop_front();
    grant(node, request, c);
  } else {
    ++c.value;
  }
}

void Semaphores::on(const wire::SemCancel& m, wire::NodeId from) {
  auto it = counts_.find({m.sem, m.incarnation});
  if (it == counts_.end()) return;
  auto& w = it->second.waiters;
  w.erase(std::remove(w.begin(), w.end(), std::make_pair(from, m.request)), w.end());
}

void Semaphores::on(const wire::SemValueQuery& m, wire::NodeId from) {
  Count& c = count_of({m.sem, m.incarnation}, m.initial);
  to(from, wire::SemValue{m.request, c.value});
}

void Semaphores::on(const wire::SemGranted& m, wire::NodeId) {
  auto it = waiting_.find(m.request);
  if (it == waiting_.end()) {
    // The wait timed out while the grant travelled: give it back.
    if (auto e = expired_.find(m.request); e != expired_.end()) {
      if (m.result == 0)
        to(e->second.manager, wire::SemPost{e->second.key.first, e->second.key.second, e->second.initial, m.epoch});
      expired_.erase(e);
    }
    return;
  }
  std::int32_t status = m.result == 0 ? 0 : -static_cast<std::int32_t>(m.result);
  if (status == -EAGAIN && it->second.busy_is_timeout) status = -ETIMEDOUT;
  // The acquire's answer rides on the reply when it can.
  const std::uint32_t answer = status == 0 ? coherence_.grant_arrived(it->second.slot, m.epoch, m.notices) : 0;
  node_.channel.complete(it->second.slot, Reply{status, answer});
  waiting_.erase(it);
}

void Semaphores::on(const wire::SemValue& m, wire::NodeId) {
  auto it = waiting_.find(m.request);
  if (it == waiting_.end()) return;
  ChannelServer& server = node_.channel;
  server.complete(it->second.slot, write_reply(server.payload(it->second.slot), channel::SemValueReply{m.value}));
  waiting_.erase(it);
}

}  // namespace gpt::node
