// Everything one node's agent serves, built and wired together: the
// coherence of the global space, threads, the synchronisation families, the
// libc shim's forwarding and the signal relay, each a Service routed by one
// ServiceTable. The agent builds one for its node; protocol tests build one
// per simulated node over a FakeNetwork.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "node_context.h"
#include "service.h"
#include "service_table.h"

namespace gpt::node {

class Coherence;
struct CoherenceShared;

class NodeServices {
 public:
  explicit NodeServices(const NodeContext& node);
  ~NodeServices();
  NodeServices(const NodeServices&) = delete;
  NodeServices& operator=(const NodeServices&) = delete;

  [[nodiscard]] ServiceTable& table() { return table_; }
  [[nodiscard]] const ServiceTable& table() const { return table_; }

 private:
  // Builds a service, keeps it and routes its ops and messages to it.
  template <class S, class... Args>
  S& add(Args&&... args) {
    auto owned = std::make_unique<S>(std::forward<Args>(args)...);
    S& service = *owned;
    services_.push_back(std::move(owned));
    table_.add(service);
    return service;
  }

  std::unique_ptr<CoherenceShared> coherence_state_;
  std::unique_ptr<Coherence> coherence_;
  std::vector<std::unique_ptr<Service>> services_;
  ServiceTable table_;
};

}  // namespace gpt::node
