// Where the nodes of a job run (docs/cluster.md): this machine, or hosts
// named with --hosts h1,h2 or --hostfile FILE (one host per line, optional
// "slots=K", '#' comments), each reached through GPT_RSH (default ssh).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpt::launch {

struct Host {
  std::string name;
  std::uint32_t slots = 1;
};

// "h1,h2,h3" (empty items are an error).
[[nodiscard]] std::optional<std::vector<Host>> parse_host_list(const std::string& list, std::string& error);
// A hostfile's text; `origin` names it in errors ("hosts.txt line 3: ...").
[[nodiscard]] std::optional<std::vector<Host>> parse_hostfile(const std::string& text, const std::string& origin,
                                                              std::string& error);
// The host of each of `nodes` nodes: the slots in order, node 0 on the first
// host; beyond the slots, round-robin over the hosts again.
[[nodiscard]] std::vector<std::string> place_nodes(const std::vector<Host>& hosts, std::uint32_t nodes);
[[nodiscard]] std::uint32_t total_slots(const std::vector<Host>& hosts);

// The remote shell command (GPT_RSH, split on spaces; default
// "ssh -o BatchMode=yes").
[[nodiscard]] std::vector<std::string> remote_shell();
// One shell word: the remote shell (ssh's, or sh -c) reads it back as is.
[[nodiscard]] std::string shell_quote(const std::string& word);

}  // namespace gpt::launch
