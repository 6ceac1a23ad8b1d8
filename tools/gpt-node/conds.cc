#include "conds.h"

#include <algorithm>
#include <cerrno>

#include "channel_request.h"
#include "peer_send.h"

namespace gpt::node {

Conds::Conds(const NodeContext& node) : node_(node) {}

void Conds::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(node_, node, m, [this](const wire::Envelope& e) { on_message(e); });
}

std::optional<Reply> Conds::on_request(std::uint32_t slot, channel::Op op,
                                       std::span<const unsigned char> request, std::span<unsigned char>) {
  if (op == channel::Op::kCondSleep) {
    const auto req = read_request<channel::CondSleepRequest>(request);
    if (!req || req->head.manager >= node_.node_count) return Reply{-EINVAL, 0};
    if (woken_early_.erase(req->ticket)) return Reply{0, 0};
    Sleeper s{slot, req->head.cond, req->head.manager, std::nullopt};
    if (req->timeout_ns >= 0) s.deadline = Clock::now() + std::chrono::nanoseconds(req->timeout_ns);
    sleeping_[req->ticket] = s;
    return std::nullopt;
  }
  const auto head = read_request<channel::CondHead>(request);
  if (!head || head->manager >= node_.node_count) return Reply{-EINVAL, 0};
  if (op == channel::Op::kCondSignal) {
    to(head->manager, wire::CondSignal{head->cond, head->extra});
    return Reply{0, 0};
  }
  // kCondEnqueue: the ticket is the reply, once the manager queued it.
  const std::uint64_t ticket = next_ticket_++;
  enqueuing_[ticket] = slot;
  to(head->manager, wire::CondEnqueue{ticket, head->cond});
  return std::nullopt;
}

void Conds::on(const wire::CondWake& m, wire::NodeId) {
  if (auto w = withdrawn_.find(m.ticket); w != withdrawn_.end()) {
    to(w->second.manager, wire::CondSignal{w->second.cond, 0});
    withdrawn_.erase(w);
    return;
  }
  auto it = sleeping_.find(m.ticket);
  if (it == sleeping_.end()) {
    woken_early_.insert(m.ticket);
    return;
  }
  node_.channel.complete(it->second.slot, Reply{0, 0});
  sleeping_.erase(it);
}

std::optional<Clock::time_point> Conds::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const auto& [id, w] : sleeping_)
    if (w.deadline && (!first || *w.deadline < *first)) first = w.deadline;
  return first;
}

void Conds::expire(Clock::time_point now) {
  for (auto it = sleeping_.begin(); it != sleeping_.end();) {
    if (it->second.deadline && *it->second.deadline <= now) {
      to(it->second.manager, wire::CondCancel{it->second.cond, it->first});
      node_.channel.complete(it->second.slot, Reply{-ETIMEDOUT, 0});
      it = sleeping_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Conds::withdraw(std::uint32_t slot) {
  auto it = std::find_if(sleeping_.begin(), sleeping_.end(), [&](const auto& e) { return e.second.slot == slot; });
  if (it == sleeping_.end()) return false;
  to(it->second.manager, wire::CondCancel{it->second.cond, it->first});
  node_.channel.complete(slot, Reply{-ECANCELED, 0});
  // Kept until a wake that crossed the cancel arrives; cancels are rare,
  // and an entry is a few words.
  withdrawn_.insert(*it);
  sleeping_.erase(it);
  return true;
}

void Conds::on(const wire::CondEnqueue& m, wire::NodeId from) {
  queues_[m.cond].push_back(Ticket{from, m.request});
  to(from, wire::CondEnqueued{m.request});
}

void Conds::on(const wire::CondEnqueued& m, wire::NodeId) {
  auto it = enqueuing_.find(m.request);
  if (it == enqueuing_.end()) return;
  ChannelServer& server = node_.channel;
  server.complete(it->second, write_reply(server.payload(it->second), channel::CondEnqueueReply{m.request}));
  enqueuing_.erase(it);
}

void Conds::on(const wire::CondSignal& m, wire::NodeId) {
  auto q = queues_.find(m.cond);
  if (q == queues_.end()) return;
  do {
    if (q->second.empty()) break;
    Ticket t = q->second.front();
    q->second.pop_front();
    to(t.node, wire::CondWake{t.id});
  } while (m.all);
  if (q->second.empty()) queues_.erase(q);
}

void Conds::on(const wire::CondCancel& m, wire::NodeId from) {
  auto q = queues_.find(m.cond);
  if (q == queues_.end()) return;
  auto& d = q->second;
  d.erase(std::remove_if(d.begin(), d.end(), [&](const Ticket& t) { return t.node == from && t.id == m.ticket; }),
          d.end());
}

}  // namespace gpt::node
