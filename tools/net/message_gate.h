// Turns transport frames into trusted messages, or drops them with a log line.
//
// A frame is accepted only if the transport knows its sender, it decodes
// (magic, version, type, body bounds, no trailing bytes) and the `from` in
// its header is the sender the transport saw (no spoofing another node).
// Everything else is counted, logged (the first few of every ten seconds,
// then a count: log_throttle.h) and dropped: a bad frame never ends the
// agent.
//
// A message longer than wire::kMaxFrameBytes leaves as FrameParts and is put
// back together here, from the parts of one sender the transport vouched
// for: only a node of the job can make the gate hold bytes for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "log_throttle.h"
#include "transport.h"
#include "wire.h"

namespace gpt::net {

struct GateCounters {
  std::uint64_t accepted = 0;
  std::uint64_t unknown_peer = 0;
  std::uint64_t malformed = 0;  // too short, bad magic, unknown type, bad body
  std::uint64_t bad_version = 0;
  std::uint64_t spoofed = 0;  // header `from` differs from the transport's sender
  std::uint64_t assembled = 0;  // messages put back together from FrameParts
};

class MessageGate {
 public:
  using LogSink = std::function<void(std::string_view)>;

  // `label` names this endpoint in log lines, e.g. "node 2".
  MessageGate(Transport& transport, std::string label, LogSink log);

  // Waits up to `timeout` for the next *valid* message; invalid frames that
  // arrive meanwhile are dropped and counted. nullopt on timeout.
  [[nodiscard]] std::optional<wire::Envelope> next(std::chrono::milliseconds timeout);

  // Encodes and sends; false if the transport refused it.
  [[nodiscard]] bool send(wire::NodeId to, const wire::Message& m);

  // While a hold is on, messages to any node but `open` (and the launcher)
  // wait here, in order, and go out when the last hold ends. An agent holds
  // while node 0 has not yet acknowledged a release the program was already
  // told is done: nobody else may hear from this node before that release
  // is in (docs/coherence.md); messages to node 0 follow it on one
  // connection anyway.
  void hold_all_but(wire::NodeId open);
  void end_hold();

  // Where this node's synchronisation epoch comes from. A message whose
  // `epoch` is pending (wire::epoch_pending: made while a release of this
  // node was not yet numbered by node 0) gets max(its floor, this epoch)
  // when it leaves to a node other than node 0 — at once if no hold is on,
  // else when the last hold ends, which is when node 0 has numbered them
  // all — so its taker need not ask node 0. Node 0 itself settles pending
  // epochs it receives (it has the release).
  using EpochSource = std::function<std::uint64_t()>;
  void set_epoch_source(EpochSource source) { epoch_source_ = std::move(source); }

  [[nodiscard]] const GateCounters& counters() const { return counters_; }
  [[nodiscard]] Transport& transport() { return transport_; }

 private:
  [[nodiscard]] std::optional<wire::Envelope> admit(const Frame& frame);
  // Decodes a frame from `peer` (whom the transport vouched for) and checks
  // that its header names `peer`.
  [[nodiscard]] std::optional<wire::Envelope> check(wire::NodeId peer, std::span<const std::byte> bytes);
  // A FramePart from `from` (already vouched for): the whole message once
  // its last part is in.
  [[nodiscard]] std::optional<wire::Envelope> assemble(wire::NodeId from, wire::FramePart& part);
  [[nodiscard]] bool transmit(wire::NodeId to, const wire::Message& m);
  // Sends one encoded message, in parts if it is longer than a frame.
  [[nodiscard]] bool send_encoded(wire::NodeId to, std::vector<std::byte> bytes);
  void drop(std::string_view why);
  // Whether sending `m` to `to` now must complete its pending epoch.
  [[nodiscard]] bool completes_epoch(wire::NodeId to, const wire::Message& m) const;

  Transport& transport_;
  std::string label_;
  LogSink log_;
  LogThrottle drops_;
  GateCounters counters_;
  std::map<wire::NodeId, std::vector<std::byte>> partial_;  // per sender, parts so far
  std::uint32_t holds_ = 0;
  wire::NodeId open_ = 0;
  std::vector<std::pair<wire::NodeId, wire::Message>> held_;
  EpochSource epoch_source_;
};

}  // namespace gpt::net
