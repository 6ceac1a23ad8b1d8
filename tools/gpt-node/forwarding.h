// The agents' part of the libc shim (docs/libc-shim.md): calls a remote
// node's program forwards go to the origin's agent, which hands them to the
// origin program's delegate threads (gpt/channel.h, DelegateArea) and sends
// the results back; as the job ends, the origin asks every node to flush
// its stdio. The blobs are opaque here.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "channel_server.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Forwarding {
 public:
  static constexpr wire::NodeId kOrigin = 0;

  Forwarding(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate, ChannelServer& channel);

  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request);
  bool on_message(const wire::Envelope& env);
  // Origin: replies of finished delegates go out, queued calls go in.
  void serve_delegates();
  // Ends a flush whose nodes did not all answer in time.
  void expire(std::chrono::steady_clock::time_point now);

  [[nodiscard]] std::uint64_t calls_forwarded() const { return forwarded_; }
  [[nodiscard]] std::uint64_t calls_served() const { return served_; }

 private:
  struct Call {
    wire::NodeId from;
    std::uint64_t request;
    std::vector<std::byte> blob;
  };
  void post(std::size_t slot, Call call);
  void finish_flush();

  wire::NodeId self_;
  std::uint32_t node_count_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  std::uint64_t next_request_ = 1;
  std::uint64_t forwarded_ = 0, served_ = 0;
  // Remote side: our calls waiting for the origin, by request id.
  std::map<std::uint64_t, std::uint32_t> pending_;
  // Origin side: who each delegate slot is working for, and the calls
  // waiting for a free slot.
  struct InFlight {
    bool busy = false;
    wire::NodeId from = 0;
    std::uint64_t request = 0;
  };
  std::vector<InFlight> delegates_;
  std::deque<Call> queued_;
  // Origin side: the flush in progress (one at a time: the process exits).
  std::optional<std::uint32_t> flush_slot_;
  std::uint64_t flush_request_ = 0;
  std::uint32_t flush_waiting_ = 0;
  std::chrono::steady_clock::time_point flush_deadline_;
  // Remote side: the flush we were asked for.
  std::uint64_t asked_flush_ = 0;
};

}  // namespace gpt::node
