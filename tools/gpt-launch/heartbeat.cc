#include "heartbeat.h"

#include <algorithm>

namespace gpt::launch {

void Heartbeat::start(Clock::time_point now) {
  started_ = true;
  std::fill(heard_.begin(), heard_.end(), now);
  next_ping_ = now;
}

void Heartbeat::heard(std::uint32_t node, Clock::time_point now) {
  if (node < heard_.size()) heard_[node] = std::max(heard_[node], now);
}

Heartbeat::Clock::duration Heartbeat::turn(Clock::time_point now) {
  const Clock::duration gap = last_turn_ ? now - *last_turn_ : Clock::duration::zero();
  last_turn_ = now;
  if (gap <= kStall) return Clock::duration::zero();
  // Whatever the nodes did while we were away, we were not looking: their
  // silence counts from now on, and the next ping goes out at once.
  for (auto& h : heard_) h = std::min(now, h + gap);
  next_ping_ = now;
  return gap;
}

bool Heartbeat::ping_due(Clock::time_point now) {
  if (!started_ || now < next_ping_) return false;
  next_ping_ = now + kInterval;
  return true;
}

std::optional<Heartbeat::Silence> Heartbeat::silent_node(Clock::time_point now) const {
  if (!started_) return std::nullopt;
  std::optional<Silence> worst;
  for (std::uint32_t n = 0; n < heard_.size(); ++n) {
    const auto silent = now - heard_[n];
    if (silent > limit_ && (!worst || silent > worst->for_how_long)) worst = Silence{n, silent};
  }
  return worst;
}

}  // namespace gpt::launch
