// Sends a message to a node, or handles it in place when that node is us
// (a lock's or a condition's manager may be this very node).
#pragma once

#include <string>

#include "log.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

template <class Handler>
void send_or_handle(net::MessageGate& gate, wire::NodeId self, wire::NodeId to,
                    const wire::Message& m, Handler&& handle_here) {
  if (to == self) {
    handle_here(wire::Envelope{self, m});
    return;
  }
  if (!gate.send(to, m))
    util::log_line("cannot send " + std::string(wire::name_of(wire::type_of(m))) + " to node " +
                   std::to_string(to));
}

}  // namespace gpt::node
