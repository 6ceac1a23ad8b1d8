// Where a synchronisation's time goes inside the agent, hop by hop: each
// hop's mean over the waits measured, reported with the GPT_STATS counters
// ("<name>_<hop>_ns"). The program measures the whole wait; what it saw
// minus the agent's hops is the program <-> agent hand-off.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "service.h"

namespace gpt::node {

template <std::size_t Hops>
class HopTimes {
 public:
  using Names = std::array<std::string_view, Hops>;
  HopTimes(std::string_view name, Names hops) : name_(name), hops_(hops) {}

  void add(std::size_t hop, Clock::time_point from, Clock::time_point to) {
    if (to < from) return;
    total_ns_[hop] += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
    ++count_[hop];
  }

  void report(Stats& stats) const {
    for (std::size_t i = 0; i < Hops; ++i) {
      const std::string key = std::string(name_) + "_" + std::string(hops_[i]) + "_ns";
      stats.add(key, count_[i] ? total_ns_[i] / count_[i] : 0);
    }
  }

 private:
  std::string_view name_;
  Names hops_;
  std::array<std::uint64_t, Hops> total_ns_{};
  std::array<std::uint64_t, Hops> count_{};
};

}  // namespace gpt::node
