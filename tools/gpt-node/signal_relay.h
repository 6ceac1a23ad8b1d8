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

#include "channel_server.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class SignalRelay {
 public:
  SignalRelay(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate, ChannelServer& channel);

  [[nodiscard]] std::optional<Reply> on_request(channel::Op op, std::span<const unsigned char> request,
                                                std::span<unsigned char> reply);
  bool on_message(const wire::Envelope& env);

 private:
  void deliver(const wire::KillThread& m, wire::NodeId from);

  wire::NodeId self_;
  std::uint32_t node_count_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  std::map<std::int32_t, wire::SignalAction> dispositions_;  // set elsewhere, for kSignalQuery
};

}  // namespace gpt::node
