#include "conds.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.h"
#include "overloaded.h"
#include "peer_send.h"

namespace gpt::node {

Conds::Conds(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate,
             ChannelServer& channel)
    : self_(self), node_count_(node_count), gate_(gate), channel_(channel) {}

void Conds::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(gate_, self_, node, m, [this](const wire::Envelope& e) { (void)on_message(e); });
}

std::optional<Reply> Conds::on_request(std::uint32_t slot, channel::Op op,
                                       std::span<const unsigned char> request) {
  struct Head {
    std::uint64_t cond;
    std::uint32_t manager, extra;
  } head;
  if (request.size() < sizeof head) return Reply{-EINVAL, 0};
  std::memcpy(&head, request.data(), sizeof head);
  if (head.manager >= node_count_) return Reply{-EINVAL, 0};
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
        s.deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
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

void Conds::wake(std::uint64_t ticket) {
  auto it = sleeping_.find(ticket);
  if (it == sleeping_.end()) {
    woken_early_.insert(ticket);
    return;
  }
  channel_.complete(it->second.slot, Reply{0, 0});
  sleeping_.erase(it);
}

std::optional<std::chrono::steady_clock::time_point> Conds::next_deadline() const {
  std::optional<std::chrono::steady_clock::time_point> first;
  for (const auto& [id, w] : sleeping_)
    if (w.deadline && (!first || *w.deadline < *first)) first = w.deadline;
  return first;
}

void Conds::expire(std::chrono::steady_clock::time_point now) {
  for (auto it = sleeping_.begin(); it != sleeping_.end();) {
    if (it->second.deadline && *it->second.deadline <= now) {
      to(it->second.manager, wire::CondCancel{it->second.cond, it->first});
      channel_.complete(it->second.slot, Reply{-ETIMEDOUT, 0});
      it = sleeping_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Conds::on_message(const wire::Envelope& env) {
  return std::visit(
      util::Overloaded{
          [&](const wire::CondEnqueue& m) {
            queues_[m.cond].push_back(Ticket{env.from, m.request});
            to(env.from, wire::CondEnqueued{m.request});
            return true;
          },
          [&](const wire::CondEnqueued& m) {
            auto it = enqueuing_.find(m.request);
            if (it == enqueuing_.end()) return true;
            std::memcpy(channel_.payload(it->second).data(), &m.request, sizeof m.request);
            channel_.complete(it->second, Reply{0, sizeof m.request});
            enqueuing_.erase(it);
            return true;
          },
          [&](const wire::CondSignal& m) {
            auto q = queues_.find(m.cond);
            if (q == queues_.end()) return true;
            do {
              if (q->second.empty()) break;
              Ticket t = q->second.front();
              q->second.pop_front();
              to(t.node, wire::CondWake{t.id});
            } while (m.all);
            if (q->second.empty()) queues_.erase(q);
            return true;
          },
          [&](const wire::CondWake& m) {
            wake(m.ticket);
            return true;
          },
          [&](const wire::CondCancel& m) {
            auto q = queues_.find(m.cond);
            if (q == queues_.end()) return true;
            auto& d = q->second;
            d.erase(std::remove_if(d.begin(), d.end(),
                                   [&](const Ticket& t) { return t.node == env.from && t.id == m.ticket; }),
                    d.end());
            return true;
          },
          [&](const auto&) { return false; },
      },
      env.body);
}

}  // namespace gpt::node
