// The node's wait records (gpt/profile.h) as the JSON the launcher puts in
// the profile report: {"node", "events": [[start_us, duration_us, kind,
// thread, object, site]...], "objects": [[kind, object, count, total_us,
// max_us, site, threads]...], "events_dropped", "objects_dropped",
// "counters": {...}}. Times are relative to `origin_ns` (the program's start).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gpt/profile.h"

namespace gpt::node {

[[nodiscard]] std::string profile_json(std::uint32_t node, const profile::ProfileArea& area,
                                       std::uint64_t origin_ns,
                                       const std::vector<std::pair<std::string, std::uint64_t>>& counters);

}  // namespace gpt::node
