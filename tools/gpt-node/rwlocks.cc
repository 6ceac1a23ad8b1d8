#include "rwlocks.h"

#include <algorithm>
#include <cerrno>

#include "channel_request.h"
#include "peer_send.h"

namespace gpt::node {

RwLocks::RwLocks(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

void RwLocks::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(node_, node, m, [this](const wire::Envelope& e) { on_message(e); });
}

bool RwLocks::can_take(const State& s, bool write) {
  return write ? !s.writer && s.readers == 0 : !s.writer;
}

std::optional<Reply> RwLocks::on_request(std::uint32_t slot, channel::Op op,
                                         std::span<const unsigned char> request, std::span<unsigned char>) {
  if (op == channel::Op::kRwUnlock) {  // the program released first
    const auto h = read_request<channel::RwLockHead>(request);
    if (!h || h->manager >= node_.node_count) return Reply{-EINVAL, 0};
    to(h->manager, wire::RwRelease{h->lock, h->write, coherence_.sync_epoch()});
    return Reply{0, 0};
  }
  const auto w = read_request<channel::RwLockRequest>(request);
  if (!w || w->head.manager >= node_.node_count) return Reply{-EINVAL, 0};
  const channel::RwLockHead& h = w->head;
  const std::uint64_t id = next_request_++;
  Pending p{slot, h.lock, h.manager, h.write != 0, std::nullopt};
  // POSIX: a timed lock that can be had at once succeeds even if its
  // deadline has passed. So a passed deadline asks as a try, and "busy"
  // becomes ETIMEDOUT; a try has no deadline (the manager answers at once).
  const bool passed = !w->try_only && w->timeout_ns == 0;
  p.busy_is_timeout = passed;
  if (w->timeout_ns > 0 && !w->try_only) p.deadline = Clock::now() + std::chrono::nanoseconds(w->timeout_ns);
  pending_[id] = p;
  to(h.manager, wire::RwRequest{id, h.lock, h.write, static_cast<std::uint32_t>(w->try_only || passed)});
  return std::nullopt;
}

void RwLocks::grant_waiting(std::uint64_t lock, State& s) {
  // FIFO: grant from the front while the front can take it (a run of
  // readers together, or one writer).
  while (!s.queue.empty() && can_take(s, s.queue.front().write)) {
    Waiter w = s.queue.front();
    s.queue.pop_front();
    if (w.write) s.writer = true;
    else ++s.readers;
    grant(w.node, w.request, lock);
  }
  if (!s.writer && s.readers == 0 && s.queue.empty()) states_.erase(lock);
}

// With the newest epoch of the holders' releases, and the notices up to it
// when node 0 manages the lock.
void RwLocks::grant(wire::NodeId node, std::uint64_t request, std::uint64_t lock) {
  to(node, wire::RwGranted{request, 0, epochs_[lock].for_grant(coherence_.sync_epoch()),
                           coherence_.notices_for(node)});
}

std::optional<Clock::time_point> RwLocks::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const auto& [id, w] : pending_)
    if (w.deadline && (!first || *w.deadline < *first)) first = w.deadline;
  return first;
}

void RwLocks::expire(Clock::time_point now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline && *it->second.deadline <= now) {
      to(it->second.manager, wire::RwCancel{it->first, it->second.lock});
      node_.channel.complete(it->second.slot, Reply{-ETIMEDOUT, 0});
      expired_.insert(*it);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void RwLocks::on(const wire::RwRequest& m, wire::NodeId from) {
  State& s = states_[m.lock];
  // A queued writer holds back new readers (no writer starvation).
  if (s.queue.empty() && can_take(s, m.write)) {
    if (m.write) s.writer = true;
    else ++s.readers;
    grant(from, m.request, m.lock);
  } else if (m.try_only) {
    to(from, wire::RwGranted{m.request, EBUSY, 0, {}});
    if (!s.writer && s.readers == 0 && s.queue.empty()) states_.erase(m.lock);
  } else {
    s.queue.push_back(Waiter{from, m.request, m.write != 0});
  }
}

void RwLocks::on(const wire::RwRelease& m, wire::NodeId) {
  auto it = states_.find(m.lock);
  if (it == states_.end()) return;
  epochs_[m.lock].add(coherence_.settled_epoch(m.epoch));
  State& s = it->second;
  // While a writer holds it there are no readers: the releaser is that
  // writer. Otherwise it is one of the readers.
  if (s.writer) s.writer = false;
  else if (s.readers) --s.readers;
  grant_waiting(m.lock, s);
}

void RwLocks::on(const wire::RwCancel& m, wire::NodeId from) {
  auto it = states_.find(m.lock);
  if (it == states_.end()) return;
  auto& q = it->second.queue;
  q.erase(std::remove_if(q.begin(), q.end(), [&](const Waiter& w) { return w.node == from && w.request == m.request; }),
          q.end());
  grant_waiting(m.lock, it->second);
}

void RwLocks::on(const wire::RwGranted& m, wire::NodeId) {
  auto it = pending_.find(m.request);
  if (it == pending_.end()) {
    // The lock timed out while the grant travelled: give it back.
    if (auto e = expired_.find(m.request); e != expired_.end()) {
      if (m.result == 0) to(e->second.manager, wire::RwRelease{e->second.lock, e->second.write, m.epoch});
      expired_.erase(e);
    }
    return;
  }
  std::int32_t status = m.result == 0 ? 0 : -static_cast<std::int32_t>(m.result);
  if (status == -EBUSY && it->second.busy_is_timeout) status = -ETIMEDOUT;
  // The acquire's answer rides on the reply when it can.
  const std::uint32_t answer = status == 0 ? coherence_.grant_arrived(it->second.slot, m.epoch, m.notices) : 0;
  node_.channel.complete(it->second.slot, Reply{status, answer});
  pending_.erase(it);
}

}  // namespace gpt::node
