#include "zmq_transport.h"

#include "connection_guard.h"
#include "frame_seal.h"
#include "link_watch.h"

#include <sched.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <zmq.hpp>

namespace gpt::net {
namespace {

constexpr int kHighWaterMark = 100000;
// The longest frame read from anyone: a full frame, its seal, and room for
// CURVE's own framing on the control sockets.
constexpr std::int64_t kMaxWireBytes = wire::kMaxFrameBytes + FrameSeal::kOverhead + 4096;

void tune(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, kHighWaterMark);
  s.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  s.set(zmq::sockopt::maxmsgsize, kMaxWireBytes);
}

// A control connection whose peer host vanished (frozen, cut off, powered
// down) would otherwise look alive for the kernel's retransmission limit
// (~15 min): probe it after a second of quiet, and give up on data or
// probes unacknowledged for `limit` (TCP_USER_TIMEOUT). A stopped peer
// process still has a kernel that acknowledges: that connection stays.
void watch_tcp(zmq::socket_t& s, std::chrono::milliseconds limit) {
  if (limit.count() <= 0) return;
  s.set(zmq::sockopt::tcp_keepalive, 1);
  s.set(zmq::sockopt::tcp_keepalive_idle, 1);
  s.set(zmq::sockopt::tcp_keepalive_intvl, 1);
  s.set(zmq::sockopt::tcp_keepalive_cnt, static_cast<int>(std::max<long long>(1, limit.count() / 1000)));
  s.set(zmq::sockopt::tcp_maxrt, static_cast<int>(limit.count()));
}

std::string bind_to(zmq::socket_t& s, const std::string& host, int port) {
  const std::string where = "tcp://" + host + ":" + (port > 0 ? std::to_string(port) : std::string("*"));
  try {
    s.bind(where);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.what() +
                             (port > 0 ? " (choose another --port-base)" : ""));
  }
  return s.get(zmq::sockopt::last_endpoint);
}

// Receives one multipart message without waiting. Empty if none.
std::vector<zmq::message_t> recv_multipart(zmq::socket_t& s) {
  std::vector<zmq::message_t> parts;
  for (;;) {
    zmq::message_t m;
    if (!s.recv(m, zmq::recv_flags::dontwait)) break;
    bool more = m.more();
    parts.push_back(std::move(m));
    if (!more) break;
  }
  return parts;
}

std::vector<std::byte> bytes_of(const zmq::message_t& m) {
  auto* p = static_cast<const std::byte*>(m.data());
  return std::vector<std::byte>(p, p + m.size());
}

// Hands `bytes` to ZeroMQ without a copy (a sealed batch of pages is 64
// KiB): the message owns them and ZeroMQ frees them once they are sent.
bool send_owned(zmq::socket_t& s, std::vector<std::byte> bytes) {
  using Bytes = std::vector<std::byte>;
  auto owner = std::make_unique<Bytes>(std::move(bytes));
  zmq::message_t m(owner->data(), owner->size(),
                   [](void*, void* hint) { std::unique_ptr<Bytes>(static_cast<Bytes*>(hint)); }, owner.get());
  owner.release();  // `m` owns them now, sent or not
  return s.send(m, zmq::send_flags::dontwait).has_value();
}

// While spinning over a data plane, ZeroMQ's sockets are looked at once
// per this many turns (receive()).
constexpr unsigned kSocketTurns = 8;

// zmq::poll throws on EINTR; a signal only means "look again later".
int poll_items(zmq::pollitem_t* items, std::size_t n, std::chrono::milliseconds timeout) {
  int rc = zmq_poll(items, static_cast<int>(n), static_cast<long>(timeout.count()));
  if (rc < 0 && zmq_errno() != EINTR) throw zmq::error_t();
  return rc < 0 ? 0 : rc;
}

// Polls `items` without blocking, yielding the core between polls, for up
// to `spin` (not past `deadline`). True if something became ready.
bool spin_for(zmq::pollitem_t* items, std::size_t n, std::chrono::microseconds spin,
              std::chrono::steady_clock::time_point deadline) {
  const auto until = std::min(deadline, std::chrono::steady_clock::now() + spin);
  do {
    if (poll_items(items, n, std::chrono::milliseconds(0)) > 0) return true;
    sched_yield();
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

}  // namespace

std::optional<wire::NodeId> parse_routing_id(std::string_view id, std::uint32_t node_count) {
  if (id.size() < 2 || id.size() > 11 || id[0] != 'n') return std::nullopt;
  std::uint64_t v = 0;
  auto digits = id.substr(1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one spelling per id
  if (v >= node_count) return std::nullopt;
  return static_cast<wire::NodeId>(v);
}

std::string routing_id(wire::NodeId id) { return "n" + std::to_string(id); }

// ---- agent ---------------------------------------------------------------

struct ZmqAgentTransport::Impl {
  explicit Impl(const ZmqOptions& o) : options(o), guard(ctx, options) {}
  ZmqOptions options;
  // Frames between agents are sealed (frame_seal.h) unless --insecure.
  std::optional<FrameSeal> seal;
  wire::NodeId self;
  std::uint32_t node_count;
  zmq::context_t ctx{1};
  ConnectionGuard guard;
  zmq::socket_t data{ctx, zmq::socket_type::router};
  std::optional<zmq::socket_t> control;
  std::optional<LinkWatch> link;  // of `control`
  std::vector<std::optional<zmq::socket_t>> peers;
  std::string endpoint;
  int wakeup_fd = -1;
  SpinDoorbell* bell = nullptr;  // polled while spinning, beside wakeup_fd
  DataPlane* plane = nullptr;  // frames between agents, when not ZeroMQ
  bool active = false;  // traffic since the last time receive() blocked
  std::vector<zmq::pollitem_t> pollset;  // receive()'s, reused: no allocation per message

  // A frame from the data socket, or nullopt (logged) if it does not open.
  std::optional<Frame> open_sealed(const zmq::message_t& m) {
    auto opened = seal->open({static_cast<const std::byte*>(m.data()), m.size()});
    if (auto* refusal = std::get_if<FrameSeal::Refusal>(&opened)) {
      guard.dropped("dropped a frame on " + endpoint + ": " + std::string(FrameSeal::describe(*refusal)));
      return std::nullopt;
    }
    auto& o = std::get<FrameSeal::Opened>(opened);
    // Sealed by the job's key, so sent by a node of the job; a sender id out
    // of range is left for the gate to drop as an unknown peer.
    std::optional<wire::NodeId> peer;
    if (o.sender < node_count) peer = o.sender;
    return Frame{peer, std::move(o.plain)};
  }
};

ZmqAgentTransport::ZmqAgentTransport(wire::NodeId self, std::uint32_t node_count,
                                     const std::string& launcher_endpoint,
                                     const ZmqOptions& options)
    : impl_(std::make_unique<Impl>(options)) {
  impl_->self = self;
  impl_->node_count = node_count;
  impl_->peers.resize(node_count);
  if (options.curve) {
    unsigned char secret[32];
    if (zmq_z85_decode(secret, options.curve->secret_key.c_str()) == nullptr)
      throw std::runtime_error("malformed job key");
    impl_->seal.emplace(std::span<const unsigned char, 32>(secret), self);
    explicit_bzero(secret, sizeof secret);
  }
  tune(impl_->data);
  impl_->guard.admit_nodes_only(impl_->data);
  impl_->endpoint = bind_to(impl_->data, options.bind_host, options.port);
  if (!launcher_endpoint.empty()) {
    impl_->control.emplace(impl_->ctx, zmq::socket_type::dealer);
    tune(*impl_->control);
    watch_tcp(*impl_->control, options.link_timeout);
    impl_->guard.secure_client(*impl_->control);
    impl_->control->set(zmq::sockopt::routing_id, routing_id(self));
    impl_->link.emplace(impl_->ctx, *impl_->control);
    impl_->control->connect(launcher_endpoint);
  }
}

Transport::LauncherLink ZmqAgentTransport::launcher_link() const {
  return impl_->link ? impl_->link->link() : LauncherLink{};
}

// An agent's last control messages (its profile, the cause of a failure)
// leave just before it ends; with no linger, closing the socket could drop
// them still queued. Bounded, and not at all once the launcher is gone.
ZmqAgentTransport::~ZmqAgentTransport() {
  constexpr int kLastWordsMs = 1000;
  if (impl_->control && !launcher_link().down_since) impl_->control->set(zmq::sockopt::linger, kLastWordsMs);
}

const std::string& ZmqAgentTransport::data_endpoint() const { return impl_->endpoint; }

void ZmqAgentTransport::connect_peers(const std::vector<std::string>& endpoints) {
  for (std::uint32_t n = 0; n < endpoints.size() && n < impl_->node_count; ++n) {
    if (n == impl_->self) continue;
    auto& s = impl_->peers[n].emplace(impl_->ctx, zmq::socket_type::dealer);
    tune(s);
    // A sealed frame names its sender; without seals the routing id does
    // (and then anyone could claim it first, one reason seals are the default).
    if (!impl_->seal) s.set(zmq::sockopt::routing_id, routing_id(impl_->self));
    impl_->guard.present_admission(s);
    s.connect(endpoints[n]);
  }
}

void ZmqAgentTransport::set_wakeup_fd(int fd) { impl_->wakeup_fd = fd; }

void ZmqAgentTransport::set_spin_doorbell(SpinDoorbell* bell) { impl_->bell = bell; }

void ZmqAgentTransport::set_data_plane(DataPlane* plane) { impl_->plane = plane; }

wire::NodeId ZmqAgentTransport::self() const { return impl_->self; }

bool ZmqAgentTransport::send(wire::NodeId to, std::span<const std::byte> frame) {
  zmq::socket_t* s = nullptr;
  if (to == wire::kLauncherId) {
    if (impl_->control) s = &*impl_->control;
  } else if (impl_->plane) {
    return impl_->plane->send(to, frame);
  } else if (to < impl_->node_count && impl_->peers[to]) {
    s = &*impl_->peers[to];
  }
  if (!s) return false;
  try {
    if (impl_->seal && to != wire::kLauncherId) return send_owned(*s, impl_->seal->seal(frame));
    return s->send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

std::optional<Frame> ZmqAgentTransport::receive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  DataPlane* plane = impl_->plane;
  SpinDoorbell* bell = impl_->bell;
  for (;;) {
    if (bell && bell->rang()) {
      impl_->active = true;
      return std::nullopt;  // the caller serves what rang
    }
    if (plane) {
      if (auto f = plane->poll()) {
        impl_->active = true;
        return f;
      }
      if (plane->remote_done()) {
        impl_->active = true;
        return std::nullopt;  // the caller collects them
      }
    }
    auto& items = impl_->pollset;
    items.clear();
    items.push_back({impl_->data.handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t none = 64;
    std::size_t control_at = none, wakeup_at = none;
    if (impl_->control) {
      control_at = items.size();
      items.push_back({impl_->control->handle(), 0, ZMQ_POLLIN, 0});
    }
    if (impl_->wakeup_fd >= 0) {
      wakeup_at = items.size();
      items.push_back({nullptr, impl_->wakeup_fd, ZMQ_POLLIN, 0});
    }
    impl_->guard.add_items(items);
    if (impl_->link) impl_->link->add_item(items);
    // The plane's event fd last: spinning polls the plane itself (its fd
    // stays readable until the plane is armed), blocking waits on it too.
    const std::size_t spun = items.size();
    if (plane) items.push_back({nullptr, plane->event_fd(), ZMQ_POLLIN, 0});
    const std::size_t n = items.size();
    // After traffic, spin first; a spin that finds nothing ends the streak.
    bool ready = false;
    if (impl_->active && impl_->options.spin.count() > 0) {
      if (bell) bell->set_polling(true);
      if (plane || bell) {
        const auto until = std::min(deadline, std::chrono::steady_clock::now() + impl_->options.spin);
        // With a data plane, the sockets polled here carry only the
        // launcher's and strangers' few messages, and each look at them
        // costs a poll and a getpid inside ZeroMQ: on VMs where a system
        // call is a hypercall that is most of a turn, so look every few
        // turns; the plane and the doorbell are looked at every turn, and
        // a spin that ends without traffic polls everything below.
        const unsigned sockets_every = plane ? kSocketTurns : 1;
        unsigned turn = 0;
        do {
          if (plane) {
            if (auto f = plane->poll()) return f;
            if (plane->remote_done()) return std::nullopt;
          }
          if (bell && bell->rang()) return std::nullopt;
          if (++turn % sockets_every == 0 && poll_items(items.data(), spun, std::chrono::milliseconds(0)) > 0) {
            ready = true;
            break;
          }
          sched_yield();
        } while (std::chrono::steady_clock::now() < until);
      } else {
        ready = spin_for(items.data(), n, impl_->options.spin, deadline);
      }
      impl_->active = ready;
    }
    // Blocking on the plane's event fd is safe only once it is armed; on
    // the wakeup fd only once ringers know we stopped polling.
    if (!ready && bell) {
      bell->set_polling(false);
      if (bell->rang()) return std::nullopt;
    }
    if (!ready && plane && !plane->arm()) continue;
    if (!ready) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      poll_items(items.data(), n, left);
    }
    impl_->guard.serve(items);
    if (impl_->link) impl_->link->serve(items);
    // The launcher's few messages first: a busy data socket must not keep
    // its heartbeat waiting.
    if (control_at < n && (items[control_at].revents & ZMQ_POLLIN)) {
      auto parts = recv_multipart(*impl_->control);
      if (parts.size() == 1) return Frame{wire::kLauncherId, bytes_of(parts[0])};
    }
    if (items[0].revents & ZMQ_POLLIN) {
      auto parts = recv_multipart(impl_->data);
      if (parts.size() == 2) {
        impl_->active = true;
        if (!impl_->seal) return Frame{parse_routing_id(parts[0].to_string_view(), impl_->node_count), bytes_of(parts[1])};
        if (auto frame = impl_->open_sealed(parts[1])) return frame;
      }
    }
    if (wakeup_at < n && (items[wakeup_at].revents & ZMQ_POLLIN)) {
      impl_->active = true;
      return std::nullopt;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

// ---- launcher ------------------------------------------------------------

struct ZmqLauncherTransport::Impl {
  explicit Impl(const ZmqOptions& o) : options(o), guard(ctx, options) {}
  ZmqOptions options;
  std::uint32_t node_count;
  zmq::context_t ctx{1};
  ConnectionGuard guard;
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::string endpoint;
};

ZmqLauncherTransport::ZmqLauncherTransport(std::uint32_t node_count, const ZmqOptions& options)
    : impl_(std::make_unique<Impl>(options)) {
  impl_->node_count = node_count;
  tune(impl_->router);
  watch_tcp(impl_->router, options.link_timeout);
  impl_->router.set(zmq::sockopt::router_mandatory, 1);
  impl_->guard.secure_server(impl_->router);
  impl_->endpoint = bind_to(impl_->router, options.bind_host, options.port);
}

ZmqLauncherTransport::~ZmqLauncherTransport() = default;

const std::string& ZmqLauncherTransport::control_endpoint() const { return impl_->endpoint; }

wire::NodeId ZmqLauncherTransport::self() const { return wire::kLauncherId; }

bool ZmqLauncherTransport::send(wire::NodeId to, std::span<const std::byte> frame) {
  if (to >= impl_->node_count) return false;
  std::string id = routing_id(to);
  try {
    if (!impl_->router.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return impl_->router
        .send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t&) {  // EHOSTUNREACH: no such peer connected
    return false;
  }
}

std::optional<Frame> ZmqLauncherTransport::receive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<zmq::pollitem_t> items{{impl_->router.handle(), 0, ZMQ_POLLIN, 0}};
    impl_->guard.add_items(items);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    poll_items(items.data(), items.size(), left);
    impl_->guard.serve(items);
    if (items[0].revents & ZMQ_POLLIN) {
      auto parts = recv_multipart(impl_->router);
      if (parts.size() == 2)
        return Frame{parse_routing_id(parts[0].to_string_view(), impl_->node_count),
                     bytes_of(parts[1])};
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

}  // namespace gpt::net
