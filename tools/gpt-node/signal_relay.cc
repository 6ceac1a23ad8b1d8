#include "signal_relay.h"

#include <cerrno>

#include "channel_request.h"
#include "log.h"

namespace gpt::node {

SignalRelay::SignalRelay(const NodeContext& node) : node_(node) {}

std::optional<Reply> SignalRelay::on_request(std::uint32_t, channel::Op op, std::span<const unsigned char> request,
                                             std::span<unsigned char> reply) {
  switch (op) {
    case channel::Op::kKill: {
      const auto req = read_request<channel::KillRequest>(request);
      if (!req || req->node >= node_.node_count || req->sig > channel::kMaxSignal || req->hops > channel::kMaxKillHops ||
          !channel::fits_kill_arg({req->tcb, req->hops, req->sig}))
        return Reply{-EINVAL, 0};
      const wire::KillThread m{req->tcb, static_cast<std::int32_t>(req->sig), req->hops};
      if (req->node == node_.self) on(m, node_.self);  // passed on by our own program: it is back here
      else if (!node_.gate.send(req->node, m)) return Reply{-EIO, 0};
      return Reply{0, 0};
    }
    case channel::Op::kSignalAction: {
      const auto d = read_request<channel::SignalDisposition>(request);
      if (!d) return Reply{-EINVAL, 0};
      const wire::SignalAction m{static_cast<std::int32_t>(d->sig), d->handler, d->flags, d->mask};
      for (wire::NodeId n = 0; n < node_.node_count; ++n)
        if (n != node_.self && !node_.gate.send(n, m))
          util::log_line("cannot pass a signal handler on to node " + std::to_string(n));
      return Reply{0, 0};
    }
    case channel::Op::kSignalQuery: {
      const auto query = read_request<channel::SignalQueryRequest>(request);
      if (!query) return Reply{-EINVAL, 0};
      auto it = dispositions_.find(static_cast<std::int32_t>(query->sig));
      if (it == dispositions_.end()) return Reply{-ENOENT, 0};
      const wire::SignalAction& a = it->second;
      return write_reply(reply, channel::SignalDisposition{query->sig, 0, a.handler, a.flags, a.mask});
    }
    default:
      return Reply{-ENOSYS, 0};
  }
}

// To the program's service thread (channel_ops.h KillArg says how).
void SignalRelay::on(const wire::KillThread& m, wire::NodeId from) {
  if (m.sig <= 0 || m.sig > static_cast<std::int32_t>(channel::kMaxSignal) || m.hops > channel::kMaxKillHops) return;
  const channel::KillArg arg{m.tcb, m.hops, static_cast<std::uint32_t>(m.sig)};
  if (!channel::fits_kill_arg(arg)) return;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kKillThread, channel::pack_kill_arg(arg)))
    util::log_line("downcall queue full: a signal from node " + std::to_string(from) + " is lost");
}

void SignalRelay::on(const wire::SignalAction& m, wire::NodeId from) {
  if (m.sig <= 0 || m.sig > static_cast<std::int32_t>(channel::kMaxSignal)) return;
  dispositions_[m.sig] = m;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kSignalAction, static_cast<std::uint64_t>(m.sig)))
    util::log_line("downcall queue full: a signal handler from node " + std::to_string(from) + " is lost");
}

}  // namespace gpt::node
