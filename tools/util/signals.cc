#include "signals.h"

#include <time.h>

namespace gpt::util {

SignalPoller::SignalPoller(std::initializer_list<int> signals) {
  sigemptyset(&set_);
  for (int s : signals) sigaddset(&set_, s);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

std::optional<int> SignalPoller::poll() const {
  struct timespec zero = {0, 0};
  int sig = sigtimedwait(&set_, nullptr, &zero);
  if (sig > 0) return sig;
  return std::nullopt;
}

}  // namespace gpt::util
