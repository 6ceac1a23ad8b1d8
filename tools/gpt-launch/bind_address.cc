#include "bind_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "route_address.h"

namespace gpt::launch {
namespace {

std::optional<in_addr> ipv4_of(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0 || !found) return std::nullopt;
  in_addr a = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return a;
}

bool loopback_address(const in_addr& a) { return (ntohl(a.s_addr) >> 24) == 127; }

}  // namespace

std::string machine_of(const std::string& host) {
  const auto at = host.rfind('@');
  return at == std::string::npos ? host : host.substr(at + 1);
}

bool is_loopback_host(const std::string& host) {
  auto a = ipv4_of(machine_of(host));
  return a && loopback_address(*a);
}

std::optional<std::string> bind_address_for(const std::vector<std::string>& hosts, const std::string& bind,
                                            std::string& error) {
  const std::string* away = nullptr;  // the first host that is not our loopback
  const std::string* known_away = nullptr;  // the first that resolves here, elsewhere
  for (const auto& h : hosts) {
    if (h.empty()) continue;
    const auto a = ipv4_of(machine_of(h));
    if (a && loopback_address(*a)) continue;
    if (!away) away = &h;
    if (a && !known_away) known_away = &h;
  }
  if (!bind.empty()) {
    // A name we cannot resolve may still be one the remote shell knows (an
    // ssh alias): only a host known to be elsewhere refuses a loopback bind.
    auto a = ipv4_of(bind);
    if (known_away && (bind == "localhost" || (a && loopback_address(*a)))) {
      error = "--bind " + bind + " is a loopback address, which host " + machine_of(*known_away) +
              " cannot reach: give an address of this machine on its network, or leave --bind out";
      return std::nullopt;
    }
    return bind;
  }
  if (!away) return std::string("127.0.0.1");
  auto route = net::route_source_address("tcp://" + machine_of(*away) + ":22");
  if (!route) {
    error = "cannot find this machine's address on the route to host " + machine_of(*away) +
            (ipv4_of(machine_of(*away)) ? std::string() : " (the name does not resolve here)") +
            ": give --bind ADDRESS (or GPT_BIND), an address of this machine the hosts can reach";
    return std::nullopt;
  }
  return route;
}

}  // namespace gpt::launch
