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
#include "service.h"
#include "wire.h"

namespace gpt::node {

class SemNames final : public ServiceBase<SemNames, wire::SemNameOp, wire::SemNameResult> {
 public:
  explicit SemNames(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::SemNameOp& m, wire::NodeId from);  // node 0
  void on(const wire::SemNameResult& m, wire::NodeId from);

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kSemName};
  [[nodiscard]] wire::SemNameResult apply(const wire::SemNameOp& op);  // node 0
  void complete(std::uint32_t slot, const wire::SemNameResult& r);

  const NodeContext node_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, std::uint32_t> pending_;  // request -> slot
  // Node 0: the namespace (about 270 KiB, so not on every node's stack of members).
  std::unique_ptr<channel::SemNames> names_;
};

}  // namespace gpt::node
