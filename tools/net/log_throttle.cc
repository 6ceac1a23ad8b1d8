#include "log_throttle.h"

namespace gpt::net {

void LogThrottle::tick(Clock::time_point now) {
  if (now - window_start_ < kWindow) return;
  if (suppressed_ > 0 && sink_)
    sink_("... and " + std::to_string(suppressed_) + " more " + what_ + " in the last " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - window_start_).count()) +
          " s (not logged one by one)");
  window_start_ = now;
  written_ = 0;
  suppressed_ = 0;
}

void LogThrottle::log(std::string_view line) {
  tick();
  if (written_ >= kBurst) {
    ++suppressed_;
    ++suppressed_total_;
    return;
  }
  ++written_;
  if (sink_) sink_(line);
}

}  // namespace gpt::net
