#include "withdrawals.h"

#include <cerrno>

#include "channel_request.h"

namespace gpt::node {

Withdrawals::Withdrawals(const NodeContext& node, ServiceTable& table) : node_(node), table_(table) {}

std::optional<Reply> Withdrawals::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                             std::span<unsigned char>) {
  const auto req = read_request<channel::WithdrawRequest>(request);
  if (!req || req->slot >= channel::kSlotCount || req->slot == slot) return Reply{-EINVAL, 0};
  // The wait may be published and not taken yet (this scan reached the
  // withdrawal first): take it now, so there is a waiter to withdraw.
  (void)node_.channel.serve_now(req->slot);
  if (!table_.withdraw(req->slot)) return Reply{-ESRCH, 0};
  ++withdrawn_;
  return Reply{0, 0};
}

void Withdrawals::report(Stats& stats) const { stats.add("waits_withdrawn", withdrawn_); }

}  // namespace gpt::node
