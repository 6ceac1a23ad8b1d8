#include "forwarding.h"

#include <cerrno>
#include <cstring>

#include "channel_request.h"
#include "gpt/futex.h"
#include "log.h"

namespace gpt::node {
namespace {

constexpr auto kFlushLimit = std::chrono::seconds(2);
using channel::DelegateState;

}  // namespace

Forwarding::Forwarding(const NodeContext& node) : node_(node), delegates_(channel::kDelegateSlots) {}

std::optional<Reply> Forwarding::on_request(std::uint32_t slot, channel::Op op,
                                            std::span<const unsigned char> request, std::span<unsigned char>) {
  switch (op) {
    case channel::Op::kForward: {
      if (node_.self == kOrigin) return Reply{-EINVAL, 0};  // the origin runs its calls itself
      std::uint64_t id = next_request_++;
      pending_[id] = slot;
      wire::SyscallRequest m{id, {}};
      m.blob.resize(request.size());
      std::memcpy(m.blob.data(), request.data(), request.size());
      ++forwarded_;
      if (!node_.gate.send(kOrigin, m)) {
        pending_.erase(id);
        return Reply{-EIO, 0};
      }
      return std::nullopt;
    }
    case channel::Op::kFlushNodes: {
      if (node_.self != kOrigin || flush_slot_) return Reply{-EINVAL, 0};
      channel::FlushNodesRequest flush;  // empty: skip none
      if (!request.empty()) {
        const auto given = read_request<channel::FlushNodesRequest>(request);
        if (!given) return Reply{-EINVAL, 0};
        flush = *given;
      }
      const std::uint32_t skip = flush.skip;
      flush_request_ = next_request_++;
      flush_waiting_ = 0;
      for (wire::NodeId n = 0; n < node_.node_count; ++n) {
        if (n == node_.self || n == skip) continue;
        if (node_.gate.send(n, wire::FlushStdio{flush_request_})) ++flush_waiting_;
      }
      if (flush_waiting_ == 0) return Reply{0, 0};
      flush_slot_ = slot;
      flush_deadline_ = Clock::now() + kFlushLimit;
      return std::nullopt;
    }
    case channel::Op::kStdioFlushed:
      if (asked_flush_) (void)node_.gate.send(kOrigin, wire::StdioFlushed{asked_flush_});
      asked_flush_ = 0;
      return Reply{0, 0};
    default:
      return Reply{-ENOSYS, 0};
  }
}

void Forwarding::post(std::size_t i, Call call) {
  auto& slot = node_.channel.layout().delegates.slots[i];
  std::memcpy(slot.data, call.blob.data(), call.blob.size());
  slot.length = static_cast<std::uint32_t>(call.blob.size());
  delegates_[i] = InFlight{true, call.from, call.request};
  slot.state.store(static_cast<std::uint32_t>(DelegateState::kPosted), std::memory_order_release);
  futex::wake(&slot.state);
}

void Forwarding::poll() {
  if (node_.self != kOrigin) return;
  auto& area = node_.channel.layout().delegates;
  for (std::size_t i = 0; i < channel::kDelegateSlots; ++i) {
    auto& slot = area.slots[i];
    if (!delegates_[i].busy ||
        slot.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(DelegateState::kDone))
      continue;
    wire::SyscallReply reply{delegates_[i].request, {}};
    const std::size_t n = slot.length <= channel::kDelegateBytes ? slot.length : 0;
    reply.blob.resize(n);
    std::memcpy(reply.blob.data(), slot.data, n);
    if (!node_.gate.send(delegates_[i].from, reply))
      util::log_line("cannot return a forwarded call's result to node " + std::to_string(delegates_[i].from));
    ++served_;
    delegates_[i] = InFlight{};
    slot.state.store(static_cast<std::uint32_t>(DelegateState::kFree), std::memory_order_release);
    if (!queued_.empty()) {
      post(i, std::move(queued_.front()));
      queued_.pop_front();
    }
  }
}

void Forwarding::finish_flush() {
  if (!flush_slot_) return;
  node_.channel.complete(*flush_slot_, Reply{0, 0});
  flush_slot_.reset();
}

void Forwarding::expire(Clock::time_point now) {
  if (flush_slot_ && now > flush_deadline_) {
    util::log_line(std::to_string(flush_waiting_) +
                   " node(s) did not flush their stdio within 2 s of the end; going on");
    finish_flush();
  }
}

void Forwarding::on(const wire::SyscallRequest& m, wire::NodeId from) {
  if (node_.self != kOrigin) return;
  if (m.blob.size() > channel::kDelegateBytes) {
    util::log_line("node " + std::to_string(from) + " forwarded an oversized call; dropped");
    return;
  }
  Call call{from, m.request, m.blob};
  for (std::size_t i = 0; i < delegates_.size(); ++i)
    if (!delegates_[i].busy) {
      post(i, std::move(call));
      return;
    }
  queued_.push_back(std::move(call));
}

void Forwarding::on(const wire::SyscallReply& m, wire::NodeId from) {
  auto it = pending_.find(m.request);
  if (it == pending_.end() || from != kOrigin) return;
  auto payload = node_.channel.payload(it->second);
  const std::size_t n = m.blob.size() <= payload.size() ? m.blob.size() : 0;
  std::memcpy(payload.data(), m.blob.data(), n);
  node_.channel.complete(it->second, Reply{n ? 0 : -EIO, static_cast<std::uint32_t>(n)});
  pending_.erase(it);
}

void Forwarding::on(const wire::FlushStdio& m, wire::NodeId from) {
  if (from != kOrigin) return;
  asked_flush_ = m.request;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kFlushStdio, m.request)) {
    (void)node_.gate.send(kOrigin, wire::StdioFlushed{m.request});
    asked_flush_ = 0;
  }
}

void Forwarding::on(const wire::StdioFlushed& m, wire::NodeId) {
  if (node_.self != kOrigin || m.request != flush_request_ || !flush_slot_) return;
  if (flush_waiting_ && --flush_waiting_ == 0) finish_flush();
}

void Forwarding::report(Stats& stats) const {
  stats.add("calls_forwarded", forwarded_);
  stats.add("calls_served", served_);
}

}  // namespace gpt::node
