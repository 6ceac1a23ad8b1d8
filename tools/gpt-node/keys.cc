#include "keys.h"

#include <cerrno>

#include "channel_request.h"

namespace gpt::node {

Keys::Keys(const NodeContext& node) : NodeZeroRegistry(node) {}

wire::KeyReply Keys::apply(const wire::KeyOp& op) {
  wire::KeyReply r{op.request, 0, op.key, 0};
  using channel::kMaxKeys;
  switch (static_cast<channel::KeyOp>(op.op)) {
    case channel::KeyOp::kCreate:
      for (std::uint32_t k = 0; k < kMaxKeys; ++k)
        if (!used_[k]) {
          used_[k] = true;
          destructors_[k] = op.destructor;
          r.key = k;
          r.destructor = op.destructor;
          return r;
        }
      r.result = EAGAIN;
      return r;
    case channel::KeyOp::kDelete:
      if (op.key >= kMaxKeys || !used_[op.key]) {
        r.result = EINVAL;
        return r;
      }
      used_[op.key] = false;
      destructors_[op.key] = 0;
      return r;
    case channel::KeyOp::kQuery:
      if (op.key >= kMaxKeys || !used_[op.key]) {
        r.result = EINVAL;
        return r;
      }
      r.destructor = destructors_[op.key];
      return r;
    default:
      r.result = EINVAL;
      return r;
  }
}

void Keys::complete(std::uint32_t slot, const wire::KeyReply& r) {
  ChannelServer& server = node_.channel;
  const std::int32_t status = r.result ? -static_cast<std::int32_t>(r.result) : 0;
  server.complete(slot, write_reply(server.payload(slot), channel::KeyReply{r.key, 0, r.destructor}, status));
}

std::optional<Reply> Keys::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                      std::span<unsigned char>) {
  const auto in = read_request<channel::KeyRequest>(request);
  if (!in) return Reply{-EINVAL, 0};
  return ask(slot, wire::KeyOp{0, in->op, in->key, in->destructor});
}

}  // namespace gpt::node
