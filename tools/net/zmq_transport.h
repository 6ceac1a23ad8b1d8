// ZeroMQ transports.
//
// Agent side: one ROUTER socket bound on the data address receives from every
// peer; one DEALER per peer sends to it; one DEALER to the launcher's control
// ROUTER (routing id "n<self>", CURVE) carries the control plane. With the
// job's keys, peers open their connections with the job's admission
// password (PLAIN, checked by a ZAP handler: frame_seal.h) and every frame
// between agents is sealed (frame_seal.h), the seal naming the sender;
// without (--insecure), each peer DEALER has routing id "n<self>" and that
// names it.
//
// Launcher side: one ROUTER bound on the control address (CURVE, with a ZAP
// handler admitting the job's key); agents connect to it with routing id
// "n<node>".
//
// Limits against whoever can reach a port: no frame longer than
// wire::kMaxFrameBytes (plus a seal) is read (ZMQ_MAXMSGSIZE: the peer is
// disconnected when its frame's header claims more); refused connections
// and dropped frames are logged at a bounded rate (log_throttle.h). The
// control connections carry TCP keepalive and a retransmission limit
// (ZmqOptions::link_timeout), so that a launcher or agent host that froze
// or was cut off shows as a lost connection, while a peer process that is
// only stopped (its kernel still answers) keeps it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "curve_keys.h"
#include "transport.h"

namespace gpt::net {

struct ZmqOptions {
  // Interface to bind, e.g. "127.0.0.1".
  std::string bind_host = "127.0.0.1";
  // Port to bind; 0: one the OS picks.
  int port = 0;
  // The job's keys (CURVE to the launcher, sealed frames between agents);
  // nullopt: plain TCP (gpt-launch --insecure).
  std::optional<CurveKeys> curve;
  // Where refused connections and dropped frames are reported.
  std::function<void(const std::string&)> log;
  // After traffic, receive() polls without sleeping (yielding the core
  // between polls) for this long before it blocks: the next message of an
  // exchange usually follows within a round trip, and waking a blocked
  // thread costs tens of µs on virtual machines. 0: block at once.
  std::chrono::microseconds spin{0};
  // How long a control connection may go unanswered at the TCP level (no
  // acknowledgement of data or keepalive probes) before it counts as lost.
  std::chrono::milliseconds link_timeout{6000};
};

class ZmqAgentTransport final : public Transport {
 public:
  // Binds the data ROUTER and connects the control DEALER to
  // `launcher_endpoint` (may be empty: no control plane, e.g. in benchmarks).
  ZmqAgentTransport(wire::NodeId self, std::uint32_t node_count,
                    const std::string& launcher_endpoint, const ZmqOptions& options);
  ~ZmqAgentTransport() override;

  // "tcp://host:port" of the bound data ROUTER.
  [[nodiscard]] const std::string& data_endpoint() const;
  // Connects one DEALER per other node. endpoints[i] is node i's data endpoint.
  void connect_peers(const std::vector<std::string>& endpoints);
  // receive() also returns (with nullopt) as soon as `fd` is readable; the
  // caller drains it. The agent's channel doorbell (an eventfd) uses this.
  void set_wakeup_fd(int fd);
  // receive() also polls `bell` while it spins and returns (nullopt) once it
  // rang; it tells the bell when it stops polling. Must outlive this.
  void set_spin_doorbell(SpinDoorbell* bell);
  // Frames between agents go through `plane` instead of the data sockets
  // (gpt-launch --fabric ucx); receive() progresses it and waits on its
  // event fd together with the control socket. It must outlive this.
  void set_data_plane(DataPlane* plane);

  [[nodiscard]] wire::NodeId self() const override;
  [[nodiscard]] bool send(wire::NodeId to, std::span<const std::byte> frame) override;
  [[nodiscard]] std::optional<Frame> receive(std::chrono::milliseconds timeout) override;
  [[nodiscard]] LauncherLink launcher_link() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ZmqLauncherTransport final : public Transport {
 public:
  ZmqLauncherTransport(std::uint32_t node_count, const ZmqOptions& options);
  ~ZmqLauncherTransport() override;

  // "tcp://host:port" of the bound control ROUTER.
  [[nodiscard]] const std::string& control_endpoint() const;

  [[nodiscard]] wire::NodeId self() const override;
  [[nodiscard]] bool send(wire::NodeId to, std::span<const std::byte> frame) override;
  [[nodiscard]] std::optional<Frame> receive(std::chrono::milliseconds timeout) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a routing id "n<digits>" into a node id below node_count.
[[nodiscard]] std::optional<wire::NodeId> parse_routing_id(std::string_view id,
                                                           std::uint32_t node_count);
[[nodiscard]] std::string routing_id(wire::NodeId id);

}  // namespace gpt::net
