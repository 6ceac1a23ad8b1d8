#include "conds.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "peer_send.h"

namespace gpt::node {

Conds::Conds(const NodeContext& node) : node_(node) {}

void Conds::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(node_, node, m, [this](const wire::Envelope& e) { on_message(e); });
}

std::optional<Reply> Conds::on_request(std::uint32_t slot, channel::Op op,
                                       std::span<const unsigned char> request, std::span<unsigned char>) {
  struct Head {
    std::uint64_t cond;
    std::uint32_t manager, extra;
  } head;
  if (request.size() < sizeof head) return Reply{-EINVAL, 0};
  std::memcpy(&head, request.data(), sizeof head);
  if (head.manager >= node_.node_count) return Reply{-EINVAL, 0};
  switch (op) {
    case channel::Op::kCondEnqueue: {
      std::uint64_t ticket = next_ticket_++;
      enqueuing_[ticket] = slot;
      to(head.manager, wire::CondEnqueue{ticket, head.cond});
      return std::nullopt;
    }
    case channel::Op::kCondSleep: {
      std::uint64_t ticket;
      std::int64_t timeout_ns;
      if (request.size() != sizeof head + 16) return Reply{-EINVAL, 0};
      std::memcpy(&ticket, request.data() + sizeof head, 8);
      std::memcpy(&timeout_ns, request.data() + sizeof head + 8, 8);
      if (woken_early_.erase(ticket)) return Reply{0, 0};
      Sleeper s{slot, head.cond, head.manager, std::nullopt};
      if (timeout_ns >= 0)
        s.deadline = Clock::now() + std::chrono::nanoseconds(timeout_ns);
      sleeping_[ticket] = s;
      return std::nullopt;
    }
    case channel::Op::kCondSignal:
      to(head.manager, wire::CondSignal{head.cond, head.extra});
      return Reply{0, 0};
    default:
      return Reply{-ENOSYS, 0};
  }
}

void Conds::on(const wire::CondWake& m, wire::NodeId) {
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

void Conds::on(const wire::CondEnqueue& m, wire::NodeId from) {
  queues_[m.cond].push_back(Ticket{from, m.request});
  to(from, wire::CondEnqueued{m.request});
}

void Conds::on(const wire::CondEnqueued& m, wire::NodeId) {
  auto it = enqueuing_.find(m.request);
  if (it == enqueuing_.end()) return;
  std::memcpy(node_.channel.payload(it->second).data(), &m.request, sizeof m.request);
  node_.channel.complete(it->second, Reply{0, sizeof m.request});
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
