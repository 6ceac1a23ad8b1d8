// The agents' data plane on UCX (gpt-launch --fabric ucx): one UCP context
// and worker per agent, progressed by the agent's own thread (no progress
// thread of UCX's), frames carried as active messages, one endpoint per peer.
//
// Shared-nothing: the context is configured in code to use TCP only (no
// shared memory, cross-memory attach or knem between the nodes of one
// machine, whatever UCX_TLS says), on the interface of `bind_host`, with one
// lane per endpoint so that a peer's frames arrive in the order it sent them
// (MessageGate puts the parts of a long message back together in order).
//
// Frames between agents are sealed (frame_seal.h) exactly as over ZeroMQ:
// anyone who can reach the worker's TCP port can make it receive bytes, and
// only what the job's key sealed is accepted; the seal names the sender.
// Without the job's keys (--insecure) the sender's id travels in the active
// message's header and is believed, as a ZeroMQ routing id is.
//
// Worker addresses travel over the ZeroMQ control plane: address() is the
// string an agent puts in its Hello, connect_peers() takes the launcher's
// peer table of them.
//
// With UcxOptions::rma, expose() registers this node's memory (its pages
// for reading, its sole-copy marks for writing) and address() then carries
// the memory keys too, so they travel only under the job's keys as well;
// peers read the pages one-sided (remote_memory.h). Over TCP UCX emulates
// that in the home's worker progress, and those operations are not sealed:
// docs/wire-protocol.md, "RMA", says when to turn it on.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "curve_keys.h"
#include "remote_memory.h"
#include "transport.h"

namespace gpt::net {

struct UcxOptions {
  // This host's address on the job's network: UCX uses its interface only.
  std::string bind_host = "127.0.0.1";
  // The job's keys: frames are sealed with them; nullopt: --insecure.
  std::optional<CurveKeys> curve;
  // Where lost peers and dropped frames are reported.
  std::function<void(const std::string&)> log;
  // receive() polls this long after traffic before blocking (GPT_SPIN_US).
  std::chrono::microseconds spin{0};
  // One-sided reads of pages (remote_memory.h): off unless asked for.
  bool rma = false;
};

// A range of the exposed memory, by offset from its base.
struct ExposedRange {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

class UcxTransport final : public DataPlane, public RemoteMemory {
 public:
  // Throws std::runtime_error if UCX cannot start (no TCP interface...).
  UcxTransport(wire::NodeId self, std::uint32_t node_count, const UcxOptions& options);
  ~UcxTransport() override;

  // "ucx:<hex of the worker's address>", what peers need to reach us.
  [[nodiscard]] const std::string& address() const;
  // One endpoint per other node; addresses[i] is node i's address().
  // Throws std::runtime_error on a malformed address.
  void connect_peers(const std::vector<std::string>& addresses);
  // Whether `endpoint` names a UCX worker (an address() string).
  [[nodiscard]] static bool is_address(const std::string& endpoint);
  // With UcxOptions::rma (else it does nothing): registers `readable` and
  // `writable` of the memory at `base` for peers' one-sided access; call
  // before address() is sent. Throws std::runtime_error if UCX refuses.
  void expose(std::byte* base, ExposedRange readable, ExposedRange writable);
  // RemoteMemory: offsets are from the peer's exposed base.
  [[nodiscard]] bool reaches(wire::NodeId node) const override;
  [[nodiscard]] bool mark_then_read(wire::NodeId node, std::uint64_t mark_at, std::uint64_t mark_bytes,
                                    std::uint8_t bits, std::uint64_t read_at, std::span<std::byte> into,
                                    std::uint64_t token) override;
  [[nodiscard]] std::optional<Done> completed() override;
  [[nodiscard]] bool remote_done() const override;

  [[nodiscard]] wire::NodeId self() const override;
  [[nodiscard]] bool send(wire::NodeId to, std::span<const std::byte> frame) override;
  [[nodiscard]] std::optional<Frame> receive(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::optional<Frame> poll() override;
  [[nodiscard]] int event_fd() const override;
  [[nodiscard]] bool arm() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt::net
