// One-line messages to stderr for the launcher and the agent.
#pragma once

#include <string_view>

namespace gpt::util {

// Sets the prefix, e.g. "gpt-launch" or "gpt-node[node 2]".
void set_log_prefix(std::string_view prefix);
// Writes "<prefix>: <message>\n" with one write(2).
void log_line(std::string_view message);

}  // namespace gpt::util
