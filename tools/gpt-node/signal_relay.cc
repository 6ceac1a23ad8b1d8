#include "signal_relay.h"

#include <cerrno>
#include <cstring>

#include "log.h"

namespace gpt::node {

SignalRelay::SignalRelay(const NodeContext& node) : node_(node) {}

std::optional<Reply> SignalRelay::on_request(std::uint32_t, channel::Op op, std::span<const unsigned char> request,
                                             std::span<unsigned char> reply) {
  switch (op) {
    case channel::Op::kKill: {
      channel::KillRequest req;
      if (request.size() != sizeof req) return Reply{-EINVAL, 0};
      std::memcpy(&req, request.data(), sizeof req);
      if (req.node >= node_.node_count || req.sig > 64 || req.hops > channel::kMaxKillHops ||
          req.tcb >> channel::kKillTcbBits != 0)
        return Reply{-EINVAL, 0};
      const wire::KillThread m{req.tcb, static_cast<std::int32_t>(req.sig), req.hops};
      if (req.node == node_.self) on(m, node_.self);  // passed on by our own program: it is back here
      else if (!node_.gate.send(req.node, m)) return Reply{-EIO, 0};
      return Reply{0, 0};
    }
    case channel::Op::kSignalAction: {
      channel::SignalDisposition d;
      if (request.size() != sizeof d) return Reply{-EINVAL, 0};
      std::memcpy(&d, request.data(), sizeof d);
      wire::SignalAction m{static_cast<std::int32_t>(d.sig), d.handler, d.flags, d.mask};
      for (wire::NodeId n = 0; n < node_.node_count; ++n)
        if (n != node_.self && !node_.gate.send(n, m))
          util::log_line("cannot pass a signal handler on to node " + std::to_string(n));
      return Reply{0, 0};
    }
    case channel::Op::kSignalQuery: {
      std::uint32_t sig;
      if (request.size() != sizeof sig) return Reply{-EINVAL, 0};
      std::memcpy(&sig, request.data(), sizeof sig);
      auto it = dispositions_.find(static_cast<std::int32_t>(sig));
      if (it == dispositions_.end()) return Reply{-ENOENT, 0};
      channel::SignalDisposition d{sig, 0, it->second.handler, it->second.flags, it->second.mask};
      std::memcpy(reply.data(), &d, sizeof d);
      return Reply{0, sizeof d};
    }
    default:
      return Reply{-ENOSYS, 0};
  }
}

// To the program's service thread (channel.h kKillTcbBits says how).
void SignalRelay::on(const wire::KillThread& m, wire::NodeId from) {
  if (m.sig <= 0 || m.sig > 64 || m.hops > channel::kMaxKillHops || m.tcb >> channel::kKillTcbBits != 0) return;
  const std::uint64_t arg = m.tcb | (static_cast<std::uint64_t>(m.hops) << channel::kKillTcbBits) |
                            (static_cast<std::uint64_t>(m.sig) << 56);
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kKillThread, arg))
    util::log_line("downcall queue full: a signal from node " + std::to_string(from) + " is lost");
}

void SignalRelay::on(const wire::SignalAction& m, wire::NodeId from) {
  if (m.sig <= 0 || m.sig > 64) return;
  dispositions_[m.sig] = m;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kSignalAction, static_cast<std::uint64_t>(m.sig)))
    util::log_line("downcall queue full: a signal handler from node " + std::to_string(from) + " is lost");
}

}  // namespace gpt::node
