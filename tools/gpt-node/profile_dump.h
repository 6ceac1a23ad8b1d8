// The node's wait records (gpt/profile.h) as the JSON the launcher puts in
// the profile report: {"node", "events": [[start_us, duration_us, kind,
// thread, object, site]...], "objects": [[kind, object, count, total_us,
// max_us, site, threads]...], "events_dropped", "objects_dropped",
// "counters": {...}}. Times are relative to the program's start.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gpt/profile.h"

namespace gpt::node {

// Turns the records' time-stamp counter ticks into nanoseconds: a (ticks,
// CLOCK_MONOTONIC) pair taken at the program's start (the origin of the
// report's times) and one taken at the dump give the rate.
class TickClock {
 public:
  [[nodiscard]] static TickClock start_now();
  void end_now();
  [[nodiscard]] std::uint64_t ns_since_start(std::uint64_t ticks) const;
  [[nodiscard]] std::uint64_t ns(std::uint64_t ticks) const;

 private:
  std::uint64_t ticks0_ = 0, ns0_ = 0;
  double ns_per_tick_ = 0;
};

[[nodiscard]] std::string profile_json(std::uint32_t node, const profile::ProfileArea& area,
                                       const TickClock& clock,
                                       const std::vector<std::pair<std::string, std::uint64_t>>& counters);

}  // namespace gpt::node
