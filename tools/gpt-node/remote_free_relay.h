// Remote frees (docs/coherence.md): the program frees objects whose memory
// another node's allocator owns, in batches (kRemoteFree); the agent sends
// each batch to that home, whose agent puts the pointers into its program's
// inbox (channel.h RemoteFreeInbox) with the freeing node's number, and asks
// the program's service thread to take them at once (so a bad free is
// reported while the program runs, naming the node that made it). What
// does not fit the inbox waits here and goes in as the program drains.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class RemoteFreeRelay final : public ServiceBase<RemoteFreeRelay, wire::RemoteFrees> {
 public:
  explicit RemoteFreeRelay(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Frees of our memory made elsewhere.
  void on(const wire::RemoteFrees& m, wire::NodeId from);
  // Moves frees that did not fit the program's inbox into it.
  void poll() override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kRemoteFree};
  void deliver(const std::vector<std::uint64_t>& pointers, wire::NodeId from);

  const NodeContext node_;
  std::vector<std::uint64_t> overflow_;
};

}  // namespace gpt::node
