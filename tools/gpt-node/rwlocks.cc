#include "rwlocks.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "overloaded.h"
#include "peer_send.h"

namespace gpt::node {

RwLocks::RwLocks(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate,
                 ChannelServer& channel, Coherence& coherence)
    : self_(self), node_count_(node_count), gate_(gate), channel_(channel), coherence_(coherence) {}

void RwLocks::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(gate_, self_, node, m, [this](const wire::Envelope& e) { (void)on_message(e); });
}

bool RwLocks::can_take(const State& s, bool write) {
  return write ? !s.writer && s.readers == 0 : !s.writer;
}

std::optional<Reply> RwLocks::on_request(std::uint32_t slot, channel::Op op,
                                         std::span<const unsigned char> request) {
  struct Head {
    std::uint64_t lock;
    std::uint32_t manager, write;
  } h;
  if (request.size() < sizeof h) return Reply{-EINVAL, 0};
  std::memcpy(&h, request.data(), sizeof h);
  if (h.manager >= node_count_) return Reply{-EINVAL, 0};
  if (op == channel::Op::kRwUnlock) {  // the program released first
    to(h.manager, wire::RwRelease{h.lock, h.write, coherence_.sync_epoch()});
    return Reply{0, 0};
  }
  struct {
    std::int64_t timeout_ns;
    std::uint32_t try_only, pad;
  } w;
  if (op != channel::Op::kRwLock || request.size() != sizeof h + sizeof w) return Reply{-EINVAL, 0};
  std::memcpy(&w, request.data() + sizeof h, sizeof w);
  std::uint64_t id = next_request_++;
  Pending p{slot, h.lock, h.manager, h.write != 0, std::nullopt};
  // POSIX: a timed lock that can be had at once succeeds even if its
  // deadline has passed. So a passed deadline asks as a try, and "busy"
  // becomes ETIMEDOUT; a try has no deadline (the manager answers at once).
  const bool passed = !w.try_only && w.timeout_ns == 0;
  p.busy_is_timeout = passed;
  if (w.timeout_ns > 0 && !w.try_only)
    p.deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(w.timeout_ns);
  pending_[id] = p;
  to(h.manager, wire::RwRequest{id, h.lock, h.write, static_cast<std::uint32_t>(w.try_only || passed)});
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

std::optional<std::chrono::steady_clock::time_point> RwLocks::next_deadline() const {
  std::optional<std::chrono::steady_clock::time_point> first;
  for (const auto& [id, w] : pending_)
    if (w.deadline && (!first || *w.deadline < *first)) first = w.deadline;
  return first;
}

void RwLocks::expire(std::chrono::steady_clock::time_point now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline && *it->second.deadline <= now) {
      to(it->second.manager, wire::RwCancel{it->first, it->second.lock});
      channel_.complete(it->second.slot, Reply{-ETIMEDOUT, 0});
      expired_.insert(*it);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

bool RwLocks::on_message(const wire::Envelope& env) {
  return std::visit(
      util::Overloaded{
          [&](const wire::RwRequest& m) {  // manager
            State& s = states_[m.lock];
            // A queued writer holds back new readers (no writer starvation).
            if (s.queue.empty() && can_take(s, m.write)) {
              if (m.write) s.writer = true;
              else ++s.readers;
              grant(env.from, m.request, m.lock);
            } else if (m.try_only) {
              to(env.from, wire::RwGranted{m.request, EBUSY, 0, {}});
              if (!s.writer && s.readers == 0 && s.queue.empty()) states_.erase(m.lock);
            } else {
              s.queue.push_back(Waiter{env.from, m.request, m.write != 0});
            }
            return true;
          },
          [&](const wire::RwRelease& m) {  // manager
            auto it = states_.find(m.lock);
            if (it == states_.end()) return true;
            epochs_[m.lock].add(coherence_.settled_epoch(m.epoch));
            State& s = it->second;
            // While a writer holds it there are no readers: the releaser is
            // that writer. Otherwise it is one of the readers.
            if (s.writer) s.writer = false;
            else if (s.readers) --s.readers;
            grant_waiting(m.lock, s);
            return true;
          },
          [&](const wire::RwCancel& m) {  // manager
            auto it = states_.find(m.lock);
            if (it == states_.end()) return true;
            auto& q = it->second.queue;
            q.erase(std::remove_if(q.begin(), q.end(),
                                   [&](const Waiter& w) { return w.node == env.from && w.request == m.request; }),
                    q.end());
            grant_waiting(m.lock, it->second);
            return true;
          },
          [&](const wire::RwGranted& m) {
            auto it = pending_.find(m.request);
            if (it == pending_.end()) {
              if (auto e = expired_.find(m.request); e != expired_.end()) {
                if (m.result == 0)
                  to(e->second.manager, wire::RwRelease{e->second.lock, e->second.write, m.epoch});
                expired_.erase(e);
              }
              return true;
            }
            std::int32_t status = m.result == 0 ? 0 : -static_cast<std::int32_t>(m.result);
            if (status == -EBUSY && it->second.busy_is_timeout) status = -ETIMEDOUT;
            // The acquire's answer rides on the reply when it can.
            const std::uint32_t answer =
                status == 0 ? coherence_.grant_arrived(it->second.slot, m.epoch, m.notices) : 0;
            channel_.complete(it->second.slot, Reply{status, answer});
            pending_.erase(it);
            return true;
          },
          [&](const auto&) { return false; },
      },
      env.body);
}

}  // namespace gpt::node
