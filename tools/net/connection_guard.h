// Who may connect to a ZeroMQ transport's sockets (zmq_transport.h):
// * the launcher's control ROUTER is a CURVE server admitting only the job's
//   key; the agents' control DEALERs are its CURVE clients;
// * an agent's data ROUTER is a PLAIN server admitting only peers that
//   present the job's admission password (frame_seal.h), which the agents'
//   peer DEALERs do; nobody else gets a frame queued there.
// One ZAP handler (RFC 27) answers both kinds of request, and monitors
// report failed handshakes; refusals (and the frames the transport drops)
// are logged at a bounded rate (log_throttle.h). Its sockets are polled
// with the transport's own, so it needs no thread. Without the job's keys
// (--insecure) it does nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "log_throttle.h"
#include "zmq_transport.h"

namespace gpt::net {

class ConnectionGuard {
 public:
  ConnectionGuard(zmq::context_t& ctx, const ZmqOptions& options);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // The launcher's control ROUTER: CURVE, only the job's key.
  void secure_server(zmq::socket_t& s);
  // An agent's control DEALER.
  void secure_client(zmq::socket_t& s);
  // An agent's data ROUTER: only peers with the admission password.
  void admit_nodes_only(zmq::socket_t& s);
  // A peer DEALER towards another agent's data ROUTER.
  void present_admission(zmq::socket_t& s);

  // A frame the transport dropped, logged at the refusals' bounded rate.
  void dropped(const std::string& line);

  // Adds the handler's and monitors' sockets to a poll set, and serves
  // those that became ready after the poll.
  void add_items(std::vector<zmq::pollitem_t>& items);
  void serve(const std::vector<zmq::pollitem_t>& items);

 private:
  void log(const std::string& line) const;
  void start_zap();
  void monitor_handshakes(zmq::socket_t& s);
  void answer_zap();
  void report_handshake(zmq::socket_t& monitor);

  zmq::context_t& ctx_;
  const ZmqOptions& options_;
  LogThrottle refusals_;
  std::optional<zmq::socket_t> zap_;
  std::vector<zmq::socket_t> monitors_;
  std::size_t first_ = 0;
  unsigned char job_key_[32] = {};
  std::string password_;  // the admission password (frame_seal.h)
};

}  // namespace gpt::net
