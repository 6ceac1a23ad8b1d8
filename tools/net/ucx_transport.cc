#include "ucx_transport.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <ucp/api/ucp.h>
#include <ucs/debug/log_def.h>
#include <zmq.h>

#include <cstring>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>

#include "frame_seal.h"

namespace gpt::net {
namespace {

// The one active message id the agents use: a frame.
constexpr unsigned kFrameAm = 1;
constexpr std::string_view kAddressPrefix = "ucx:";
// How long closing waits for frames still queued to a peer to leave.
constexpr auto kCloseGrace = std::chrono::milliseconds(200);

std::runtime_error ucx_error(const std::string& what, ucs_status_t status) {
  return std::runtime_error(what + ": " + ucs_status_string(status));
}

// The name of the interface that carries `host` (a numeric address), or ""
// if no interface has it (then UCX picks among all of them).
std::string interface_of(const std::string& host) {
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) return {};
  std::string name;
  for (ifaddrs* i = all; i && name.empty(); i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    else if (i->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, text, sizeof text);
    if (host == text) name = i->ifa_name;
  }
  freeifaddrs(all);
  return name;
}

std::string to_hex(const void* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    auto b = static_cast<const unsigned char*>(data)[i];
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<unsigned char> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

// A frame on its way out: UCX may still read it after send() returned.
struct Outgoing {
  std::uint32_t sender;  // the active message's header
  std::vector<std::byte> bytes;
  std::size_t* in_flight;  // the transport's count of unfinished sends
};

void sent(void* request, ucs_status_t, void* user_data) {
  std::unique_ptr<Outgoing> out(static_cast<Outgoing*>(user_data));
  --*out->in_flight;
  ucp_request_free(request);
}

// Waits for a non-blocking UCX operation, progressing `worker`, at most
// `limit`; true if it finished.
bool settle(ucp_worker_h worker, ucs_status_ptr_t request, std::chrono::milliseconds limit) {
  if (request == nullptr) return true;
  if (UCS_PTR_IS_ERR(request)) return false;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (ucp_request_check_status(request) == UCS_INPROGRESS) {
    if (std::chrono::steady_clock::now() >= until) {
      ucp_request_free(request);  // UCX releases it once it ends
      return false;
    }
    ucp_worker_progress(worker);
  }
  const bool done = ucp_request_check_status(request) == UCS_OK;
  ucp_request_free(request);
  return done;
}

// UCX's own messages go to stderr, never to stdout (which the agent shares
// with its program's output), in one line each.
ucs_log_func_rc_t to_stderr(const char*, unsigned, const char*, ucs_log_level_t level,
                            const ucs_log_component_config_t*, const char* format, va_list ap) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, ap);
  std::fprintf(stderr, "UCX %s: %s\n", ucs_log_level_names[level], text);
  return UCS_LOG_FUNC_RC_STOP;
}

}  // namespace

struct UcxTransport::Impl {
  struct Peer {
    Impl* owner = nullptr;
    wire::NodeId id = 0;
    ucp_ep_h ep = nullptr;
    std::optional<ucs_status_t> lost;  // set by UCX's error callback
    bool lost_reported = false;
  };

  UcxOptions options;
  wire::NodeId self = 0;
  std::uint32_t node_count = 0;
  std::optional<FrameSeal> seal;
  ucp_context_h context = nullptr;
  ucp_worker_h worker = nullptr;
  int efd = -1;
  std::string address;
  std::vector<Peer> peers;  // sized once: UCX holds pointers to them
  std::deque<Frame> arrived;
  bool active = false;  // traffic since receive() last blocked
  // Sends UCX has not finished: the worker's event fd does not say when a
  // socket can take more, so the worker is progressed until they are done.
  std::size_t in_flight = 0;

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  static void on_peer_error(void* arg, ucp_ep_h, ucs_status_t status) {
    static_cast<Peer*>(arg)->lost = status;
  }

  static ucs_status_t on_frame(void* arg, const void* header, std::size_t header_length, void* data,
                               std::size_t length, const ucp_am_recv_param_t* param) {
    auto* self = static_cast<Impl*>(arg);
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
      // Agents send every frame eagerly; a rendezvous is not one of ours.
      self->log("dropped a UCX message that asked for a rendezvous");
      return UCS_OK;
    }
    self->accept(header, header_length, {static_cast<const std::byte*>(data), length});
    return UCS_OK;
  }

  void accept(const void* header, std::size_t header_length, std::span<const std::byte> bytes) {
    if (!seal) {
      std::optional<wire::NodeId> peer;
      std::uint32_t sender = 0;
      if (header_length == sizeof sender) {
        std::memcpy(&sender, header, sizeof sender);
        if (sender < node_count) peer = sender;
      }
      arrived.push_back(Frame{peer, std::vector<std::byte>(bytes.begin(), bytes.end())});
      return;
    }
    auto opened = seal->open(bytes);
    if (auto* refusal = std::get_if<FrameSeal::Refusal>(&opened)) {
      log("dropped a UCX frame: " + std::string(FrameSeal::describe(*refusal)));
      return;
    }
    auto& o = std::get<FrameSeal::Opened>(opened);
    // Sealed by the job's key: a node of the job sent it; an id out of range
    // is left for the gate to drop as an unknown peer.
    std::optional<wire::NodeId> peer;
    if (o.sender < node_count) peer = o.sender;
    arrived.push_back(Frame{peer, std::move(o.plain)});
  }

  void close_peers() {
    for (auto& p : peers) {
      if (!p.ep) continue;
      ucp_request_param_t param{};
      param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      // A lost peer cannot be flushed; a live one gets what is queued to it.
      param.flags = p.lost ? UCP_EP_CLOSE_FLAG_FORCE : 0;
      // One close per endpoint: one that does not finish in time is left to
      // the worker's destruction.
      (void)settle(worker, ucp_ep_close_nbx(p.ep, &param), kCloseGrace);
      p.ep = nullptr;
    }
  }

  ~Impl() {
    if (worker) {
      close_peers();
      ucp_worker_destroy(worker);
    }
    if (context) ucp_cleanup(context);
  }
};

UcxTransport::UcxTransport(wire::NodeId self, std::uint32_t node_count, const UcxOptions& options)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.options = options;
  m.self = self;
  m.node_count = node_count;
  m.peers.resize(node_count);
  for (std::uint32_t n = 0; n < node_count; ++n) m.peers[n] = Impl::Peer{&m, n};
  if (options.curve) {
    unsigned char secret[32];
    if (zmq_z85_decode(secret, options.curve->secret_key.c_str()) == nullptr)
      throw std::runtime_error("malformed job key");
    m.seal.emplace(std::span<const unsigned char, 32>(secret), self);
    explicit_bzero(secret, sizeof secret);
  }

  static std::once_flag log_once;
  std::call_once(log_once, [] { ucs_log_push_handler(&to_stderr); });
  ucp_config_t* config = nullptr;
  if (auto s = ucp_config_read(nullptr, nullptr, &config); s != UCS_OK) throw ucx_error("UCX configuration", s);
  // Nodes share nothing but the network, also when two run on one machine:
  // TCP only, whatever the environment asks for. One lane per endpoint keeps
  // a peer's frames in order.
  auto set = [&](const char* name, const std::string& value) {
    if (auto s = ucp_config_modify(config, name, value.c_str()); s != UCS_OK) {
      ucp_config_release(config);
      throw ucx_error(std::string("UCX setting ") + name + "=" + value, s);
    }
  };
  set("TLS", "tcp");
  set("MAX_EAGER_LANES", "1");
  if (auto iface = interface_of(options.bind_host); !iface.empty()) set("NET_DEVICES", iface);
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  auto status = ucp_init(&params, config, &m.context);
  ucp_config_release(config);
  if (status != UCS_OK) throw ucx_error("UCX context", status);

  ucp_worker_params_t worker_params{};
  worker_params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  worker_params.thread_mode = UCS_THREAD_MODE_SINGLE;  // the agent's thread only
  if (auto s = ucp_worker_create(m.context, &worker_params, &m.worker); s != UCS_OK)
    throw ucx_error("UCX worker", s);
  if (auto s = ucp_worker_get_efd(m.worker, &m.efd); s != UCS_OK) throw ucx_error("UCX event fd", s);

  ucp_address_t* local = nullptr;
  std::size_t local_length = 0;
  if (auto s = ucp_worker_get_address(m.worker, &local, &local_length); s != UCS_OK)
    throw ucx_error("UCX worker address", s);
  m.address = std::string(kAddressPrefix) + to_hex(local, local_length);
  ucp_worker_release_address(m.worker, local);

  ucp_am_handler_param_t handler{};
  handler.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                       UCP_AM_HANDLER_PARAM_FIELD_ARG;
  handler.id = kFrameAm;
  handler.cb = &Impl::on_frame;
  handler.arg = &m;
  if (auto s = ucp_worker_set_am_recv_handler(m.worker, &handler); s != UCS_OK)
    throw ucx_error("UCX message handler", s);
}

UcxTransport::~UcxTransport() = default;

const std::string& UcxTransport::address() const { return impl_->address; }

bool UcxTransport::is_address(const std::string& endpoint) {
  return endpoint.starts_with(kAddressPrefix);
}

void UcxTransport::connect_peers(const std::vector<std::string>& addresses) {
  auto& m = *impl_;
  for (std::uint32_t n = 0; n < addresses.size() && n < m.node_count; ++n) {
    if (n == m.self || m.peers[n].ep) continue;
    const auto& a = addresses[n];
    auto raw = is_address(a) ? from_hex(std::string_view(a).substr(kAddressPrefix.size())) : std::nullopt;
    if (!raw) throw std::runtime_error("node " + std::to_string(n) + " has no UCX address: " + a.substr(0, 40));
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                        UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.address = reinterpret_cast<const ucp_address_t*>(raw->data());
    // A peer that dies is reported (send() says it is unreachable) instead
    // of failing the whole worker.
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    params.err_handler.cb = &Impl::on_peer_error;
    params.err_handler.arg = &m.peers[n];
    if (auto s = ucp_ep_create(m.worker, &params, &m.peers[n].ep); s != UCS_OK)
      throw ucx_error("UCX endpoint to node " + std::to_string(n), s);
  }
}

wire::NodeId UcxTransport::self() const { return impl_->self; }

bool UcxTransport::send(wire::NodeId to, std::span<const std::byte> frame) {
  auto& m = *impl_;
  if (to >= m.node_count || !m.peers[to].ep) return false;
  auto& peer = m.peers[to];
  if (peer.lost) {
    if (!peer.lost_reported) {
      peer.lost_reported = true;
      m.log("node " + std::to_string(to) + " is unreachable: its UCX connection was lost (" +
            ucs_status_string(*peer.lost) + ")");
    }
    return false;
  }
  auto out = std::make_unique<Outgoing>();
  out->sender = m.self;
  out->in_flight = &m.in_flight;
  out->bytes = m.seal ? m.seal->seal(frame) : std::vector<std::byte>(frame.begin(), frame.end());
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
  // Eager always: the receiver takes the whole frame in its handler, so no
  // rendezvous (and no memory registration) is ever needed.
  param.flags = UCP_AM_SEND_FLAG_EAGER;
  param.cb.send = &sent;
  param.user_data = out.get();
  auto request = ucp_am_send_nbx(peer.ep, kFrameAm, &out->sender, sizeof out->sender, out->bytes.data(),
                                 out->bytes.size(), &param);
  if (UCS_PTR_IS_ERR(request)) return false;
  if (request != nullptr) {
    out.release();  // `sent` frees it
    ++m.in_flight;
  }
  m.active = true;
  return true;
}

std::optional<Frame> UcxTransport::poll() {
  auto& m = *impl_;
  while (m.arrived.empty() && ucp_worker_progress(m.worker) != 0) {
  }
  if (m.arrived.empty()) return std::nullopt;
  Frame f = std::move(m.arrived.front());
  m.arrived.pop_front();
  m.active = true;
  return f;
}

int UcxTransport::event_fd() const { return impl_->efd; }

bool UcxTransport::arm() {
  auto& m = *impl_;
  if (!m.arrived.empty() || m.in_flight > 0) return false;
  return ucp_worker_arm(m.worker) != UCS_ERR_BUSY;
}

std::optional<Frame> UcxTransport::receive(std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto f = poll()) return f;
    if (m.active && m.options.spin.count() > 0) {
      const auto until = std::min(deadline, std::chrono::steady_clock::now() + m.options.spin);
      do {
        if (auto f = poll()) return f;
        sched_yield();
      } while (std::chrono::steady_clock::now() < until);
      m.active = false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    if (!arm()) continue;
    pollfd p{m.efd, POLLIN, 0};
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

}  // namespace gpt::net
