// A service whose state is one registry for the job, kept by node 0's agent
// (thread-specific data keys, named semaphores): node 0 answers its own
// program's requests in place; other nodes send them to node 0 and complete
// the waiting slot when the answer comes back.
//
// Derived provides:
//   Answer apply(const Ask&);                          node 0: the registry's answer
//   void complete(std::uint32_t slot, const Answer&);  the slot's reply
// Ask and Answer are wire messages with a `request` id, which this fills in.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "log.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

template <class Derived, class Ask, class Answer>
class NodeZeroRegistry : public ServiceBase<Derived, Ask, Answer> {
 public:
  explicit NodeZeroRegistry(const NodeContext& node) : node_(node) {}

  // The registry's own node: node 0 answers; others ask it.
  void on(const Ask& m, wire::NodeId from) {
    if (node_.self == 0 && !node_.gate.send(from, derived().apply(m)))
      util::log_line("cannot answer a request for node 0's registry");
  }
  void on(const Answer& m, wire::NodeId) {
    auto it = pending_.find(m.request);
    if (it == pending_.end()) return;  // not ours, or answered already
    derived().complete(it->second, m);
    pending_.erase(it);
  }

 protected:
  // A request of this node's program in `slot`: completes now on node 0,
  // later elsewhere (the service's on_request returns nullopt either way).
  std::optional<Reply> ask(std::uint32_t slot, Ask m) {
    m.request = next_request_++;
    if (node_.self == 0) {
      derived().complete(slot, derived().apply(m));
      return std::nullopt;
    }
    pending_[m.request] = slot;
    if (!node_.gate.send(0, m)) util::log_line("cannot reach node 0's registry");
    return std::nullopt;
  }

  const NodeContext node_;

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, std::uint32_t> pending_;  // request -> slot
};

}  // namespace gpt::node
