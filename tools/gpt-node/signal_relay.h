// Signals across nodes (docs/threads.md): pthread_kill of a thread on
// another node is carried to that node and delivered there; a disposition
// the program sets with sigaction on one node is set on every node (a
// signal may arrive wherever a thread runs, and the handler is a code
// address, the same everywhere).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class SignalRelay final : public ServiceBase<SignalRelay, wire::KillThread, wire::SignalAction> {
 public:
  explicit SignalRelay(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::KillThread& m, wire::NodeId from);
  void on(const wire::SignalAction& m, wire::NodeId from);

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kKill, channel::Op::kSignalAction,
                                         channel::Op::kSignalQuery};

  const NodeContext node_;
  std::map<std::int32_t, wire::SignalAction> dispositions_;  // set elsewhere, for kSignalQuery
};

}  // namespace gpt::node
