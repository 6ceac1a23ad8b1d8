#include "route_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace gpt::net {

std::optional<std::string> route_source_address(const std::string& endpoint) {
  // "tcp://HOST:PORT": the local address a datagram socket connected there
  // would use (no packet is sent).
  const auto scheme = endpoint.find("://");
  const auto colon = endpoint.rfind(':');
  if (scheme == std::string::npos || colon == std::string::npos || colon <= scheme + 3) return std::nullopt;
  std::string host = endpoint.substr(scheme + 3, colon - scheme - 3);
  const int port = std::atoi(endpoint.c_str() + colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return std::nullopt;
  sockaddr_in to = *reinterpret_cast<sockaddr_in*>(found->ai_addr);
  freeaddrinfo(found);
  to.sin_port = htons(static_cast<std::uint16_t>(port > 0 ? port : 9));
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::nullopt;
  sockaddr_in local{};
  socklen_t len = sizeof local;
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
            getsockname(s, reinterpret_cast<sockaddr*>(&local), &len) == 0;
  close(s);
  char text[INET_ADDRSTRLEN];
  if (!ok || !inet_ntop(AF_INET, &local.sin_addr, text, sizeof text)) return std::nullopt;
  return std::string(text);
}

}  // namespace gpt::net
