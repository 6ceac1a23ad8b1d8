// GPT_PLACEMENT, checked before any node starts: the runtime reads it in
// every program (libgpthread/src/threads/pthread_api.cc), where a bad value
// could only end the job at the first pthread_create.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpt::launch {

// nullopt if `value` (nullptr: unset) is a placement the runtime
// understands for a job of `nodes` nodes: spread, local or node:K with
// K < nodes; else the error to report.
[[nodiscard]] std::optional<std::string> check_placement(const char* value, std::uint32_t nodes);

}  // namespace gpt::launch
