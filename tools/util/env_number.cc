#include "env_number.h"

#include <cstdlib>

namespace gpt::util {

std::optional<std::uint64_t> number_from_env(const EnvNumber& spec, std::string& error) {
  const char* text = std::getenv(spec.name);
  if (!text || !*text) return spec.fallback;
  std::uint64_t value = 0;
  bool ok = true;
  for (const char* p = text; *p && ok; ++p) {
    ok = *p >= '0' && *p <= '9' && value <= spec.most;
    value = value * 10 + static_cast<std::uint64_t>(*p - '0');
  }
  if (ok && value >= spec.least && value <= spec.most) return value;
  error = std::string(spec.name) + "='" + text + "' is not a number of " + spec.unit + " from " +
          std::to_string(spec.least) + " to " + std::to_string(spec.most);
  return std::nullopt;
}

}  // namespace gpt::util
