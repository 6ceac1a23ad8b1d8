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

std::string hex_number(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::optional<std::uint64_t> number_of_hex(std::string_view hex) {
  auto raw = hex.size() == 16 ? from_hex(hex) : std::nullopt;
  if (!raw) return std::nullopt;
  std::uint64_t v = 0;
  for (unsigned char b : *raw) v = v << 8 | b;
  return v;
}

std::vector<std::string_view> split(std::string_view text, char by) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(by);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// A mark_then_read on its way: the atomics' operands (UCX reads them
// until they finish) and who to tell once all of its operations ended.
struct MarkAndRead {
  static constexpr int kMaxWords = 4;
  std::deque<RemoteMemory::Done>* done;
  std::uint64_t token;
  std::uint64_t masks[kMaxWords];
  int outstanding = 0;
  bool ok = true;

  // One operation ended (in a callback, or at once): the last one reports.
  static void ended(MarkAndRead* op, ucs_status_t status) {
    op->ok = op->ok && status == UCS_OK;
    if (--op->outstanding > 0) return;
    // Released to UCX's callbacks by mark_then_read: the last one owns it.
    std::unique_ptr<MarkAndRead> owned(op);
    owned->done->push_back({owned->token, owned->ok});
  }
  static void on_ended(void* request, ucs_status_t status, void* user_data) {
    ended(static_cast<MarkAndRead*>(user_data), status);
    ucp_request_free(request);
  }
  // Counts a just-posted operation: it ended at once or will call back.
  void posted(ucs_status_ptr_t request) {
    ++outstanding;
    if (request == nullptr || UCS_PTR_IS_ERR(request)) ended(this, UCS_PTR_STATUS(request));
  }
};

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
    // The peer's exposed memory (its address carried the keys): where it
    // starts in the peer's address space and the keys of its two ranges.
    std::uint64_t remote_base = 0;
    ExposedRange readable, writable;
    ucp_rkey_h read_key = nullptr, write_key = nullptr;
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
  // This node's exposed memory (expose()) and finished one-sided reads.
  std::byte* exposed_base = nullptr;
  ucp_mem_h read_memh = nullptr, write_memh = nullptr;
  std::deque<RemoteMemory::Done> done;

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
      if (p.read_key) ucp_rkey_destroy(p.read_key);
      if (p.write_key) ucp_rkey_destroy(p.write_key);
      p.read_key = p.write_key = nullptr;
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
    if (read_memh) ucp_mem_unmap(context, read_memh);
    if (write_memh) ucp_mem_unmap(context, write_memh);
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
  for (std::uint32_t n = 0; n < node_count; ++n) {
    m.peers[n].owner = &m;
    m.peers[n].id = n;
  }
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
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP | (options.rma ? UCP_FEATURE_RMA | UCP_FEATURE_AMO64 : 0);
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

// The address is "ucx:<worker>", and after expose()
// ":<base>:<offset>:<bytes>:<key>:<offset>:<bytes>:<key>" (the readable
// range, then the writable one; numbers as 16 hex digits, keys as hex).
void UcxTransport::expose(std::byte* base, ExposedRange readable, ExposedRange writable) {
  auto& m = *impl_;
  if (!m.options.rma || m.exposed_base) return;
  auto map = [&](ExposedRange range, unsigned prot) {
    ucp_mem_map_params_t params{};
    params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                        UCP_MEM_MAP_PARAM_FIELD_PROT;
    params.address = base + range.offset;
    params.length = range.bytes;
    params.prot = UCP_MEM_MAP_PROT_LOCAL_READ | UCP_MEM_MAP_PROT_LOCAL_WRITE | prot;
    ucp_mem_h memh = nullptr;
    if (auto s = ucp_mem_map(m.context, &params, &memh); s != UCS_OK) throw ucx_error("UCX memory registration", s);
    void* key = nullptr;
    std::size_t key_length = 0;
    if (auto s = ucp_rkey_pack(m.context, memh, &key, &key_length); s != UCS_OK) {
      ucp_mem_unmap(m.context, memh);
      throw ucx_error("UCX memory key", s);
    }
    m.address += ":" + hex_number(range.offset) + ":" + hex_number(range.bytes) + ":" + to_hex(key, key_length);
    ucp_rkey_buffer_release(key);
    return memh;
  };
  m.address += ":" + hex_number(reinterpret_cast<std::uintptr_t>(base));
  m.read_memh = map(readable, UCP_MEM_MAP_PROT_REMOTE_READ);
  m.write_memh = map(writable, UCP_MEM_MAP_PROT_REMOTE_WRITE);
  m.exposed_base = base;
}

void UcxTransport::connect_peers(const std::vector<std::string>& addresses) {
  auto& m = *impl_;
  for (std::uint32_t n = 0; n < addresses.size() && n < m.node_count; ++n) {
    if (n == m.self || m.peers[n].ep) continue;
    const auto& a = addresses[n];
    const auto parts = is_address(a) ? split(std::string_view(a).substr(kAddressPrefix.size()), ':')
                                     : std::vector<std::string_view>{};
    auto raw = parts.size() == 1 || parts.size() == 8 ? from_hex(parts[0]) : std::nullopt;
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
    // Its memory keys, if it exposed memory and we read remote memory too.
    if (parts.size() != 8 || !m.options.rma) continue;
    auto& peer = m.peers[n];
    auto base = number_of_hex(parts[1]);
    auto r_off = number_of_hex(parts[2]), r_len = number_of_hex(parts[3]);
    auto w_off = number_of_hex(parts[5]), w_len = number_of_hex(parts[6]);
    auto r_key = from_hex(parts[4]), w_key = from_hex(parts[7]);
    if (!base || !r_off || !r_len || !w_off || !w_len || !r_key || !w_key)
      throw std::runtime_error("node " + std::to_string(n) + " has malformed UCX memory keys");
    if (auto s = ucp_ep_rkey_unpack(peer.ep, r_key->data(), &peer.read_key); s != UCS_OK)
      throw ucx_error("UCX memory key of node " + std::to_string(n), s);
    if (auto s = ucp_ep_rkey_unpack(peer.ep, w_key->data(), &peer.write_key); s != UCS_OK)
      throw ucx_error("UCX memory key of node " + std::to_string(n), s);
    peer.remote_base = *base;
    peer.readable = {*r_off, *r_len};
    peer.writable = {*w_off, *w_len};
  }
}

bool UcxTransport::reaches(wire::NodeId node) const {
  const auto& m = *impl_;
  return node < m.node_count && m.peers[node].read_key && !m.peers[node].lost;
}

bool UcxTransport::mark_then_read(wire::NodeId node, std::uint64_t mark_at, std::uint64_t mark_bytes,
                                  std::uint8_t bits, std::uint64_t read_at, std::span<std::byte> into,
                                  std::uint64_t token) {
  auto& m = *impl_;
  if (!reaches(node) || mark_bytes == 0 || mark_bytes > 8 * MarkAndRead::kMaxWords || into.empty()) return false;
  auto& peer = m.peers[node];
  if (mark_at > ~std::uint64_t{0} - 8 * MarkAndRead::kMaxWords - 8) return false;  // no wrapping below
  const std::uint64_t first_word = mark_at & ~std::uint64_t{7};
  const std::uint64_t end_word = (mark_at + mark_bytes + 7) & ~std::uint64_t{7};
  const std::uint64_t words = (end_word - first_word) / 8;
  auto inside = [](ExposedRange r, std::uint64_t at, std::uint64_t n) {
    return at >= r.offset && n <= r.bytes && at - r.offset <= r.bytes - n;
  };
  if (words > MarkAndRead::kMaxWords || !inside(peer.writable, first_word, words * 8) ||
      !inside(peer.readable, read_at, into.size()))
    return false;
  auto op = std::make_unique<MarkAndRead>();
  op->done = &m.done;
  op->token = token;
  // Guards the count while posting: the operations may end at once.
  op->outstanding = 1;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_DATATYPE;
  param.cb.send = &MarkAndRead::on_ended;
  param.user_data = op.get();
  param.datatype = ucp_dt_make_contig(8);
  for (std::uint64_t w = 0; w < words; ++w) {
    const std::uint64_t at = first_word + 8 * w;
    // Little-endian: byte i of the word is bits 8i..8i+7.
    std::uint64_t set = 0;
    for (std::uint64_t b = 0; b < 8; ++b)
      if (at + b >= mark_at && at + b < mark_at + mark_bytes) set |= std::uint64_t{bits} << (8 * b);
    op->masks[w] = set;
    op->posted(ucp_atomic_op_nbx(peer.ep, UCP_ATOMIC_OP_OR, &op->masks[w], 1, peer.remote_base + at,
                                 peer.write_key, &param));
  }
  // The read must see the atomics done (remote_memory.h): a fence orders
  // every operation after it behind those before it.
  if (ucp_worker_fence(m.worker) != UCS_OK) op->ok = false;
  param.op_attr_mask &= ~static_cast<std::uint32_t>(UCP_OP_ATTR_FIELD_DATATYPE);
  if (op->ok)
    op->posted(ucp_get_nbx(peer.ep, into.data(), into.size(), peer.remote_base + read_at, peer.read_key, &param));
  m.active = true;
  MarkAndRead::ended(op.release(), UCS_OK);  // drops the guard: UCX's callbacks own it now
  return true;
}

std::optional<RemoteMemory::Done> UcxTransport::completed() {
  auto& m = *impl_;
  if (m.done.empty()) return std::nullopt;
  const Done d = m.done.front();
  m.done.pop_front();
  return d;
}

bool UcxTransport::remote_done() const { return !impl_->done.empty(); }

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
  while (m.arrived.empty() && m.done.empty() && ucp_worker_progress(m.worker) != 0) {
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
  if (!m.arrived.empty() || !m.done.empty() || m.in_flight > 0) return false;
  return ucp_worker_arm(m.worker) != UCS_ERR_BUSY;
}

std::optional<Frame> UcxTransport::receive(std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto f = poll()) return f;
    if (!m.done.empty()) return std::nullopt;  // for completed()
    if (m.active && m.options.spin.count() > 0) {
      const auto until = std::min(deadline, std::chrono::steady_clock::now() + m.options.spin);
      do {
        if (auto f = poll()) return f;
        if (!m.done.empty()) return std::nullopt;
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
