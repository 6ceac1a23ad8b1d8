#include "spin_budget.h"

#include <cstdlib>

namespace gpt::util {

std::optional<std::uint32_t> spin_us_from_env(std::string& error) {
  const char* text = std::getenv("GPT_SPIN_US");
  if (!text || !*text) return kDefaultSpinUs;
  std::uint64_t value = 0;
  for (const char* p = text; *p; ++p) {
    if (*p < '0' || *p > '9' || value > kMaxSpinUs) {
      value = kMaxSpinUs + 1;
      break;
    }
    value = value * 10 + static_cast<std::uint64_t>(*p - '0');
  }
  if (value > kMaxSpinUs) {
    error = std::string("GPT_SPIN_US='") + text + "' is not a number of microseconds from 0 to " +
            std::to_string(kMaxSpinUs);
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(value);
}

}  // namespace gpt::util
