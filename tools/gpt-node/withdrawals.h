// Cancellation of a blocked thread (docs/threads.md, "Cancellation"): a
// thread cancelled while it waits in a channel slot (a condition, a
// semaphore, a join) asks, from another slot, that its wait end. The wait's
// own service forgets it (Service::withdraw) and answers it -ECANCELED.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <optional>
#include <span>

#include "node_context.h"
#include "service.h"
#include "service_table.h"

namespace gpt::node {

class Withdrawals final : public Service {
 public:
  Withdrawals(const NodeContext& node, ServiceTable& table);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kWithdraw};
  const NodeContext node_;
  ServiceTable& table_;
  std::uint64_t withdrawn_ = 0;
};

}  // namespace gpt::node
