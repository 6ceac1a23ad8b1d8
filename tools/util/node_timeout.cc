#include "node_timeout.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace gpt::util {

std::optional<std::chrono::milliseconds> parse_node_timeout(const std::string& text) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(seconds)) return std::nullopt;
  const auto ms = std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
  if (ms < kMinNodeTimeout || ms > kMaxNodeTimeout) return std::nullopt;
  return ms;
}

std::optional<std::chrono::milliseconds> node_timeout_from_env(std::string& error) {
  const char* text = std::getenv("GPT_NODE_TIMEOUT");
  if (!text || !*text) return kDefaultNodeTimeout;
  auto limit = parse_node_timeout(text);
  if (!limit)
    error = std::string("GPT_NODE_TIMEOUT='") + text + "' is not a number of seconds from " +
            std::to_string(kMinNodeTimeout.count() / 1000) + " to " + std::to_string(kMaxNodeTimeout.count() / 1000);
  return limit;
}

}  // namespace gpt::util
