// Sends a message to a node, or handles it in place when that node is us
// (a lock's or a condition's manager may be this very node).
#pragma once

#include "node_context.h"
#include "wire.h"

namespace gpt::node {

template <class Handler>
void send_or_handle(const NodeContext& node, wire::NodeId to, const wire::Message& m, Handler&& handle_here) {
  if (to == node.self) handle_here(wire::Envelope{node.self, m});
  else node.send(to, m);
}

}  // namespace gpt::node
