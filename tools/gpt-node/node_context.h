// What every service of one node's agent works with: who this node is, its
// copy of the global space, its peers (through the gate) and its program
// (through the channel). The agent owns all of it; services hold a copy of
// this context, whose references outlive them.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "channel_server.h"
#include "heap_memory.h"
#include "message_gate.h"
#include "remote_memory.h"
#include "wire.h"

namespace gpt::node {

struct NodeContext {
  wire::NodeId self = 0;
  std::uint32_t node_count = 1;
  HeapMemory& heap;
  net::MessageGate& gate;
  ChannelServer& channel;
  // One-sided reads of other nodes' pages (remote_memory.h), when the data
  // plane offers them; nullptr: pages come by messages only.
  net::RemoteMemory* remote = nullptr;
  // The program's pid while it runs (the agent's own field: -1 before it
  // starts and after it ended); nullptr where there is no program (tests).
  const pid_t* program_pid = nullptr;

  // Sends; a refused message is logged, not fatal (the peer may be gone,
  // and the launcher ends the job then).
  void send(wire::NodeId to, const wire::Message& m) const;
};

}  // namespace gpt::node
