#include "connection_guard.h"

#include <openssl/crypto.h>

#include <span>
#include <stdexcept>
#include <string_view>

#include "frame_seal.h"

namespace gpt::net {
namespace {

constexpr const char* kAdmissionUser = "gpthread";

}  // namespace

ConnectionGuard::ConnectionGuard(zmq::context_t& ctx, const ZmqOptions& options)
    : ctx_(ctx),
      options_(options),
      refusals_([this](std::string_view line) { log(std::string(line)); }, "refused connections and dropped frames") {
  if (!options_.curve) return;
  if (zmq_z85_decode(job_key_, options_.curve->public_key.c_str()) == nullptr)
    throw std::runtime_error("malformed CURVE key");
  unsigned char secret[32];
  if (zmq_z85_decode(secret, options_.curve->secret_key.c_str()) == nullptr)
    throw std::runtime_error("malformed CURVE key");
  password_ = admission_password(std::span<const unsigned char, 32>(secret));
  OPENSSL_cleanse(secret, sizeof secret);
}

ConnectionGuard::~ConnectionGuard() { OPENSSL_cleanse(password_.data(), password_.size()); }

void ConnectionGuard::secure_server(zmq::socket_t& s) {
  if (!options_.curve) return;
  start_zap();
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, options_.curve->secret_key);
  s.set(zmq::sockopt::zap_domain, "gpthread");
  monitor_handshakes(s);
}

void ConnectionGuard::secure_client(zmq::socket_t& s) {
  if (!options_.curve) return;
  s.set(zmq::sockopt::curve_serverkey, options_.curve->public_key);
  s.set(zmq::sockopt::curve_publickey, options_.curve->public_key);
  s.set(zmq::sockopt::curve_secretkey, options_.curve->secret_key);
}

void ConnectionGuard::admit_nodes_only(zmq::socket_t& s) {
  if (!options_.curve) return;
  start_zap();
  s.set(zmq::sockopt::plain_server, 1);
  s.set(zmq::sockopt::zap_domain, "gpthread");
  monitor_handshakes(s);
}

void ConnectionGuard::present_admission(zmq::socket_t& s) {
  if (!options_.curve) return;
  s.set(zmq::sockopt::plain_username, kAdmissionUser);
  s.set(zmq::sockopt::plain_password, password_);
}

void ConnectionGuard::dropped(const std::string& line) { refusals_.log(line); }

void ConnectionGuard::add_items(std::vector<zmq::pollitem_t>& items) {
  first_ = items.size();
  if (zap_) items.push_back({zap_->handle(), 0, ZMQ_POLLIN, 0});
  for (auto& m : monitors_) items.push_back({m.handle(), 0, ZMQ_POLLIN, 0});
}

void ConnectionGuard::serve(const std::vector<zmq::pollitem_t>& items) {
  refusals_.tick();
  std::size_t i = first_;
  if (zap_ && (items[i++].revents & ZMQ_POLLIN)) answer_zap();
  for (auto& m : monitors_)
    if (items[i++].revents & ZMQ_POLLIN) report_handshake(m);
}

void ConnectionGuard::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void ConnectionGuard::start_zap() {
  if (zap_) return;
  zap_.emplace(ctx_, zmq::socket_type::rep);
  zap_->set(zmq::sockopt::linger, 0);
  zap_->bind("inproc://zeromq.zap.01");
}

void ConnectionGuard::monitor_handshakes(zmq::socket_t& s) {
  const std::string address = "inproc://gpt-monitor-" + std::to_string(monitors_.size());
  if (zmq_socket_monitor(s.handle(), address.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
    throw zmq::error_t();
  auto& m = monitors_.emplace_back(ctx_, zmq::socket_type::pair);
  m.set(zmq::sockopt::linger, 0);
  m.connect(address);
}

// ZAP (RFC 27): version, request id, domain, address, identity, mechanism,
// then the credentials: the client's public key for CURVE, user name and
// password for PLAIN.
void ConnectionGuard::answer_zap() {
  std::vector<zmq::message_t> req;
  for (;;) {
    zmq::message_t m;
    if (!zap_->recv(m, zmq::recv_flags::dontwait)) break;
    bool more = m.more();
    req.push_back(std::move(m));
    if (!more) break;
  }
  if (req.size() < 6) return;
  const std::string_view mechanism = req[5].to_string_view();
  bool ok = false;
  if (mechanism == "CURVE")
    ok = req.size() == 7 && req[6].size() == 32 && CRYPTO_memcmp(req[6].data(), job_key_, 32) == 0;
  else if (mechanism == "PLAIN")
    ok = req.size() == 8 && req[6].to_string_view() == kAdmissionUser && req[7].size() == password_.size() &&
         CRYPTO_memcmp(req[7].data(), password_.data(), password_.size()) == 0;
  if (!ok)
    refusals_.log("refused a connection from " + std::string(req[3].to_string_view()) + ": " +
                  (mechanism == "CURVE" ? "not the job's key" : "not a node of this job"));
  const char* code = ok ? "200" : "400";
  zap_->send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
  zap_->send(req[1], zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(std::string_view(code)), zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(std::string_view(ok ? "OK" : "refused")), zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(std::string_view("")), zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(std::string_view("")), zmq::send_flags::none);
}

void ConnectionGuard::report_handshake(zmq::socket_t& monitor) {
  zmq::message_t event, endpoint;
  if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
  if (event.more()) (void)monitor.recv(endpoint, zmq::recv_flags::dontwait);
  refusals_.log("refused a connection on " + std::string(endpoint.to_string_view()) +
                ": handshake failed (a peer without the job's key, not speaking its protocol, or gone "
                "before it finished)");
}

}  // namespace gpt::net
