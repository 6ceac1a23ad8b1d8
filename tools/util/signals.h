// Signals as events: the launcher and the agent block the signals they care
// about in every thread (before ZeroMQ starts its threads) and collect them
// synchronously from their event loop. No handlers, no EINTR surprises.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>

namespace gpt::util {

class SignalPoller {
 public:
  // Blocks `signals` in the calling thread; threads created later inherit it.
  explicit SignalPoller(std::initializer_list<int> signals);
  // Returns one pending signal, without waiting.
  [[nodiscard]] std::optional<int> poll() const;

 private:
  sigset_t set_;
};

}  // namespace gpt::util
