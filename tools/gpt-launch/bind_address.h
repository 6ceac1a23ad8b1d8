// Which address the launcher listens on when the nodes run on other hosts.
// mpirun and srun need nothing like --bind: neither do we. Without it, the
// launcher takes this machine's address on the route to the first host
// (the one every host of a cluster network shares), or 127.0.0.1 when every
// host is this machine's loopback; --bind (or GPT_BIND) overrides.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gpt::launch {

// "h1" or "user@h1" -> "h1": what names the machine.
[[nodiscard]] std::string machine_of(const std::string& host);

// Whether `host` (a name or an IPv4 address) is this machine's loopback.
[[nodiscard]] bool is_loopback_host(const std::string& host);

// The address to listen on for `hosts` (one per node, "" for none);
// `bind` is the user's choice, empty if none. nullopt with `error` set when
// no address would do (or the user's cannot serve some host).
[[nodiscard]] std::optional<std::string> bind_address_for(const std::vector<std::string>& hosts,
                                                          const std::string& bind, std::string& error);

}  // namespace gpt::launch
