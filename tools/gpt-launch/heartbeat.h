// The launcher's half of liveness (docs/cluster.md, "When a node stops
// answering"). It pings every node once a second and each agent answers
// from its event loop; any message from a node counts as an answer. A node
// whose last answer is older than the limit has stopped answering: its
// agent is stopped or hung, its host frozen, or the network to it cut.
//
// Only time the launcher itself spent looking counts: a turn of its loop
// that comes long after the previous one means the launcher was stopped
// (the job suspended from the terminal, Ctrl-Z) or starved of the CPU, and
// nobody is blamed for that gap.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace gpt::launch {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kInterval = std::chrono::seconds(1);
  // Far above the loop's 20 ms turns, far below any limit.
  static constexpr auto kStall = std::chrono::milliseconds(500);

  Heartbeat(std::uint32_t nodes, std::chrono::milliseconds limit) : limit_(limit), heard_(nodes) {}

  // Watching starts once every node has joined; each counts as heard then.
  void start(Clock::time_point now);
  [[nodiscard]] bool started() const { return started_; }
  void heard(std::uint32_t node, Clock::time_point now);
  // Once per turn of the launcher's loop. Returns how long the launcher was
  // away if this turn came after a stall (the caller may say so), else 0.
  Clock::duration turn(Clock::time_point now);
  // True once per kInterval while watching: time to ping every node.
  [[nodiscard]] bool ping_due(Clock::time_point now);

  struct Silence {
    std::uint32_t node;
    Clock::duration for_how_long;
  };
  // The node silent the longest, if longer than the limit.
  [[nodiscard]] std::optional<Silence> silent_node(Clock::time_point now) const;
  [[nodiscard]] std::chrono::milliseconds limit() const { return limit_; }

 private:
  std::chrono::milliseconds limit_;
  std::vector<Clock::time_point> heard_;
  bool started_ = false;
  std::optional<Clock::time_point> last_turn_;
  Clock::time_point next_ping_;
};

}  // namespace gpt::launch
