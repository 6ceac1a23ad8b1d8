#include "spin_budget.h"

#include "env_number.h"

namespace gpt::util {

std::optional<std::uint32_t> spin_us_from_env(std::string& error) {
  const auto value = number_from_env({"GPT_SPIN_US", kDefaultSpinUs, 0, kMaxSpinUs, "microseconds"}, error);
  if (!value) return std::nullopt;
  return static_cast<std::uint32_t>(*value);
}

}  // namespace gpt::util
