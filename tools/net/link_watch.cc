#include "link_watch.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace gpt::net {

LinkWatch::LinkWatch(zmq::context_t& ctx, zmq::socket_t& s) : monitor_(ctx, zmq::socket_type::pair) {
  const std::string address = "inproc://gpt-link-monitor";
  if (zmq_socket_monitor(s.handle(), address.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
    throw zmq::error_t();
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(address);
}

void LinkWatch::add_item(std::vector<zmq::pollitem_t>& items) {
  at_ = items.size();
  items.push_back({monitor_.handle(), 0, ZMQ_POLLIN, 0});
}

void LinkWatch::serve(const std::vector<zmq::pollitem_t>& items) {
  if (!(items[at_].revents & ZMQ_POLLIN)) return;
  for (;;) {
    zmq::message_t event, endpoint;
    if (!monitor_.recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)monitor_.recv(endpoint, zmq::recv_flags::dontwait);
    if (event.size() < 2) continue;
    std::uint16_t id;
    std::memcpy(&id, event.data(), sizeof id);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      link_.ever_up = true;
      link_.down_since.reset();
    } else if (id == ZMQ_EVENT_DISCONNECTED && !link_.down_since) {
      link_.down_since = std::chrono::steady_clock::now();
    }
  }
}

}  // namespace gpt::net
