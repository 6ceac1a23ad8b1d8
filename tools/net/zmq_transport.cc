#include "zmq_transport.h"

#include <charconv>
#include <stdexcept>
#include <zmq.hpp>

namespace gpt::net {
namespace {

constexpr int kHighWaterMark = 100000;

void tune(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, kHighWaterMark);
  s.set(zmq::sockopt::rcvhwm, kHighWaterMark);
}

std::string bind_ephemeral(zmq::socket_t& s, const std::string& host) {
  s.bind("tcp://" + host + ":*");
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

// zmq::poll throws on EINTR; a signal only means "look again later".
int poll_items(zmq::pollitem_t* items, std::size_t n, std::chrono::milliseconds timeout) {
  int rc = zmq_poll(items, static_cast<int>(n), static_cast<long>(timeout.count()));
  if (rc < 0 && zmq_errno() != EINTR) throw zmq::error_t();
  return rc < 0 ? 0 : rc;
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
  wire::NodeId self;
  std::uint32_t node_count;
  zmq::context_t ctx{1};
  zmq::socket_t data{ctx, zmq::socket_type::router};
  std::optional<zmq::socket_t> control;
  std::vector<std::optional<zmq::socket_t>> peers;
  std::string endpoint;
  int wakeup_fd = -1;
};

ZmqAgentTransport::ZmqAgentTransport(wire::NodeId self, std::uint32_t node_count,
                                     const std::string& launcher_endpoint,
                                     const ZmqOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->self = self;
  impl_->node_count = node_count;
  impl_->peers.resize(node_count);
  tune(impl_->data);
  impl_->endpoint = bind_ephemeral(impl_->data, options.bind_host);
  if (!launcher_endpoint.empty()) {
    impl_->control.emplace(impl_->ctx, zmq::socket_type::dealer);
    tune(*impl_->control);
    impl_->control->set(zmq::sockopt::routing_id, routing_id(self));
    impl_->control->connect(launcher_endpoint);
  }
}

ZmqAgentTransport::~ZmqAgentTransport() = default;

const std::string& ZmqAgentTransport::data_endpoint() const { return impl_->endpoint; }

void ZmqAgentTransport::connect_peers(const std::vector<std::string>& endpoints) {
  for (std::uint32_t n = 0; n < endpoints.size() && n < impl_->node_count; ++n) {
    if (n == impl_->self) continue;
    auto& s = impl_->peers[n].emplace(impl_->ctx, zmq::socket_type::dealer);
    tune(s);
    s.set(zmq::sockopt::routing_id, routing_id(impl_->self));
    s.connect(endpoints[n]);
  }
}

void ZmqAgentTransport::set_wakeup_fd(int fd) { impl_->wakeup_fd = fd; }

wire::NodeId ZmqAgentTransport::self() const { return impl_->self; }

bool ZmqAgentTransport::send(wire::NodeId to, std::span<const std::byte> frame) {
  zmq::socket_t* s = nullptr;
  if (to == wire::kLauncherId) {
    if (impl_->control) s = &*impl_->control;
  } else if (to < impl_->node_count && impl_->peers[to]) {
    s = &*impl_->peers[to];
  }
  if (!s) return false;
  try {
    return s->send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

std::optional<Frame> ZmqAgentTransport::receive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    zmq::pollitem_t items[3];
    std::size_t n = 0;
    items[n++] = {impl_->data.handle(), 0, ZMQ_POLLIN, 0};
    std::size_t control_at = impl_->control ? n++ : 3;
    if (impl_->control) items[control_at] = {impl_->control->handle(), 0, ZMQ_POLLIN, 0};
    std::size_t wakeup_at = impl_->wakeup_fd >= 0 ? n++ : 3;
    if (impl_->wakeup_fd >= 0) items[wakeup_at] = {nullptr, impl_->wakeup_fd, ZMQ_POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    poll_items(items, n, left);
    if (items[0].revents & ZMQ_POLLIN) {
      auto parts = recv_multipart(impl_->data);
      if (parts.size() == 2) {
        auto peer = parse_routing_id(parts[0].to_string_view(), impl_->node_count);
        return Frame{peer, bytes_of(parts[1])};
      }
    }
    if (control_at < n && (items[control_at].revents & ZMQ_POLLIN)) {
      auto parts = recv_multipart(*impl_->control);
      if (parts.size() == 1) return Frame{wire::kLauncherId, bytes_of(parts[0])};
    }
    if (wakeup_at < n && (items[wakeup_at].revents & ZMQ_POLLIN)) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

// ---- launcher ------------------------------------------------------------

struct ZmqLauncherTransport::Impl {
  std::uint32_t node_count;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::string endpoint;
};

ZmqLauncherTransport::ZmqLauncherTransport(std::uint32_t node_count, const ZmqOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->node_count = node_count;
  tune(impl_->router);
  impl_->router.set(zmq::sockopt::router_mandatory, 1);
  impl_->endpoint = bind_ephemeral(impl_->router, options.bind_host);
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
    zmq::pollitem_t item = {impl_->router.handle(), 0, ZMQ_POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    poll_items(&item, 1, left);
    if (item.revents & ZMQ_POLLIN) {
      auto parts = recv_multipart(impl_->router);
      if (parts.size() == 2)
        return Frame{parse_routing_id(parts[0].to_string_view(), impl_->node_count),
                     bytes_of(parts[1])};
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

}  // namespace gpt::net
