// GPT_NODE_TIMEOUT: how long a node may stay silent before the job ends
// (docs/cluster.md, "When a node stops answering").
//
// The launcher beats once a second; an agent that has not answered for this
// long ends the job naming it, and an agent whose program has been stopped
// (SIGSTOP) for this long reports it. Both count only time they themselves
// were running: a job suspended from the terminal and resumed goes on, and
// so does one that was only slowed down (a loaded machine).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace gpt::util {

// Detection at the limit, then a shutdown that takes up to 2 s more (a
// program that does not leave when asked is killed after that): the job
// ends within 10 s of a node falling silent. A job slowed by seven busy
// loops per core still answered within a 2 s limit.
inline constexpr std::chrono::milliseconds kDefaultNodeTimeout{6000};
inline constexpr std::chrono::milliseconds kMinNodeTimeout{1000};
inline constexpr std::chrono::milliseconds kMaxNodeTimeout{3'600'000};

// Parses a number of seconds ("8", "2.5"); nullopt if it is not one from
// kMinNodeTimeout to kMaxNodeTimeout.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_node_timeout(const std::string& text);

// The limit from GPT_NODE_TIMEOUT, or the default; nullopt (with `error`
// set) if the variable is malformed.
[[nodiscard]] std::optional<std::chrono::milliseconds> node_timeout_from_env(std::string& error);

}  // namespace gpt::util
