// An agent's view of its connection to the launcher (Transport::
// launcher_link), from a monitor of its control DEALER: up once a handshake
// succeeded, down from a disconnection (the launcher ended, or TCP gave up
// on its host: zmq_transport.h) until the next handshake. Polled with the
// transport's sockets.
#pragma once

#include <cstddef>
#include <vector>
#include <zmq.hpp>

#include "transport.h"

namespace gpt::net {

class LinkWatch {
 public:
  // Watches `s`, which must not be connected yet.
  LinkWatch(zmq::context_t& ctx, zmq::socket_t& s);

  void add_item(std::vector<zmq::pollitem_t>& items);
  void serve(const std::vector<zmq::pollitem_t>& items);
  [[nodiscard]] const Transport::LauncherLink& link() const { return link_; }

 private:
  zmq::socket_t monitor_;
  std::size_t at_ = 0;
  Transport::LauncherLink link_{false, std::chrono::steady_clock::now()};
};

}  // namespace gpt::net
