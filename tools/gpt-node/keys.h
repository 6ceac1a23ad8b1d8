// Thread-specific data keys across nodes: node 0's agent keeps the one
// registry of the job (which keys exist and their destructors, as code
// addresses, which are the same on every node), so a key created on one
// node is valid on every node. The values themselves are per thread, in the
// program's TLS.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "gpt/channel_ops.h"
#include "node_context.h"
#include "node_zero_registry.h"
#include "wire.h"

namespace gpt::node {

class Keys final : public NodeZeroRegistry<Keys, wire::KeyOp, wire::KeyReply> {
 public:
  explicit Keys(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kKey};
  friend class NodeZeroRegistry<Keys, wire::KeyOp, wire::KeyReply>;  // calls these two
  [[nodiscard]] wire::KeyReply apply(const wire::KeyOp& op);  // node 0
  void complete(std::uint32_t slot, const wire::KeyReply& r);

  // Node 0: the registry.
  std::vector<bool> used_ = std::vector<bool>(channel::kMaxKeys, false);
  std::vector<std::uint64_t> destructors_ = std::vector<std::uint64_t>(channel::kMaxKeys, 0);
};

}  // namespace gpt::node
