// Which address of this host faces another one (IPv4).
#pragma once

#include <optional>
#include <string>

namespace gpt::net {

// The address of this host on the route to a "tcp://HOST:PORT" endpoint:
// where an agent on another host binds so that its peers can reach it.
[[nodiscard]] std::optional<std::string> route_source_address(const std::string& endpoint);

}  // namespace gpt::net
