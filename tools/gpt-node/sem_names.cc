#include "sem_names.h"

#include <cerrno>
#include <cstring>

#include "channel_request.h"

namespace gpt::node {

SemNames::SemNames(const NodeContext& node) : NodeZeroRegistry(node) {
  if (node_.self == 0) names_ = std::make_unique<channel::SemNames>();
}

wire::SemNameResult SemNames::apply(const wire::SemNameOp& op) {
  channel::SemNames::Result r{EINVAL};
  const bool named = !op.name.empty() && op.name.size() <= channel::kSemNameMax;
  switch (static_cast<channel::SemNameOp>(op.op)) {
    case channel::SemNameOp::kOpen:
      if (named) r = names_->open(op.name.c_str(), op.oflag, op.address);
      break;
    case channel::SemNameOp::kClose:
      r = names_->close(op.address);
      break;
    case channel::SemNameOp::kUnlink:
      if (named) r = names_->unlink(op.name.c_str());
      break;
  }
  return wire::SemNameResult{op.request, r.error, r.address, r.created ? std::uint8_t{1} : std::uint8_t{0},
                             r.free_it ? std::uint8_t{1} : std::uint8_t{0}};
}

void SemNames::complete(std::uint32_t slot, const wire::SemNameResult& r) {
  ChannelServer& server = node_.channel;
  const std::int32_t status = r.error ? -r.error : 0;
  server.complete(slot, write_reply(server.payload(slot), channel::SemNameReply{r.address, r.created, r.free_it},
                                    status));
}

std::optional<Reply> SemNames::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                          std::span<unsigned char>) {
  const auto in = read_request<channel::SemNameRequest>(request);
  if (!in || !std::memchr(in->name, 0, sizeof in->name)) return Reply{-EINVAL, 0};
  return ask(slot, wire::SemNameOp{0, in->op, in->oflag, in->address, in->name});
}

}  // namespace gpt::node
