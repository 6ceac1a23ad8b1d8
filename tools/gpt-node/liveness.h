// The agent's half of liveness (docs/cluster.md, "When a node stops
// answering"):
// * it answers the launcher's heartbeat (a Ping once a second) from the
//   event loop, so a stopped or hung agent goes unanswered and the launcher
//   ends the job naming the node;
// * it watches its program: one stopped by a signal (SIGSTOP) for longer
//   than the limit is reported to the launcher, which ends the job;
// * it ends its node when the connection to the launcher has been lost for
//   longer than the limit: the launcher died, or its host is frozen or cut
//   off (TCP keepalive and a retransmission limit on that connection, see
//   zmq_transport.h, turn both into a lost connection). A launcher that is
//   only stopped (the job suspended with Ctrl-Z) keeps its connection, and
//   the node waits for it however long that takes.
//
// Limits count only time this agent was running: after it was stopped or
// starved itself (a suspended job, a loaded machine), nobody is blamed for
// the gap.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Liveness {
 public:
  using Clock = std::chrono::steady_clock;

  // The limit is GPT_NODE_TIMEOUT's (the launcher's --node-timeout).
  Liveness(wire::NodeId node, net::MessageGate& gate);

  // A message from the launcher; answers the heartbeat. True if `env` was
  // the heartbeat (nothing else to do with it).
  [[nodiscard]] bool on_launcher_message(const wire::Envelope& env);

  // Once per housekeeping tick; `program` is the program's pid (-1: none).
  // Returns why this node must end now (its launcher is gone), or nullopt.
  [[nodiscard]] std::optional<std::string> check(Clock::time_point now, pid_t program);

  // The steady clock minus the time this agent was stopped or starved: for
  // waits that must not expire because the whole job was suspended.
  [[nodiscard]] Clock::time_point awake_now() const { return Clock::now() - asleep_; }

 private:
  void watch_program(Clock::time_point awake, pid_t program);

  wire::NodeId node_;
  net::MessageGate& gate_;
  std::chrono::milliseconds limit_;
  Clock::duration asleep_{0};  // total time between ticks beyond kStall
  std::optional<Clock::time_point> last_check_;
  Clock::time_point next_program_look_{};
  std::optional<Clock::time_point> stopped_since_;  // awake time the program was first seen stopped
  bool stop_reported_ = false;
  // The launcher link's current outage as the transport dates it, and the
  // awake time this agent first saw it.
  std::optional<Clock::time_point> outage_;
  Clock::time_point outage_seen_{};
};

}  // namespace gpt::node
