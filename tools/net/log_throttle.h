// Log lines about junk, at a bounded rate. Whoever can reach a port can
// send frames or connections we refuse, as fast as the network carries
// them; one line for each (11,700 lines in 12 s once) would bury the lines
// that matter and fill disks. A throttle writes the first few lines of each
// window and counts the rest, then says how many it left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace gpt::net {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(std::string_view)>;
  static constexpr std::uint32_t kBurst = 5;
  static constexpr auto kWindow = std::chrono::seconds(10);

  // `what` names the lines in the summary, e.g. "dropped frames".
  LogThrottle(Sink sink, std::string what) : sink_(std::move(sink)), what_(std::move(what)) {}

  // Writes `line`, unless kBurst lines went out in the current window.
  void log(std::string_view line);
  // Writes the summary of a window that has ended with lines left out;
  // cheap enough to call on every turn of a loop.
  void tick(Clock::time_point now = Clock::now());
  [[nodiscard]] std::uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  Sink sink_;
  std::string what_;
  Clock::time_point window_start_{};
  std::uint32_t written_ = 0;
  std::uint64_t suppressed_ = 0;  // in the current window
  std::uint64_t suppressed_total_ = 0;
};

}  // namespace gpt::net
