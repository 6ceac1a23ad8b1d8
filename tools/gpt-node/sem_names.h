// Named semaphores (sem_open, sem_close, sem_unlink) across nodes: node 0's
// agent keeps the job's one namespace (common/gpt/sem_names.h), so a name
// opened on any node is the same semaphore, a global address every node can
// reach. The semaphore itself is an unnamed one there (semaphores.h).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include "gpt/channel_ops.h"
#include "gpt/sem_names.h"
#include "node_context.h"
#include "node_zero_registry.h"
#include "wire.h"

namespace gpt::node {

class SemNames final : public NodeZeroRegistry<SemNames, wire::SemNameOp, wire::SemNameResult> {
 public:
  explicit SemNames(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kSemName};
  friend class NodeZeroRegistry<SemNames, wire::SemNameOp, wire::SemNameResult>;  // calls these two
  [[nodiscard]] wire::SemNameResult apply(const wire::SemNameOp& op);  // node 0
  void complete(std::uint32_t slot, const wire::SemNameResult& r);

  // Node 0 only: the namespace (about 270 KiB).
  std::unique_ptr<channel::SemNames> names_;
};

}  // namespace gpt::node
