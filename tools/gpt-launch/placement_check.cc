#include "placement_check.h"

#include <string_view>

namespace gpt::launch {

std::optional<std::string> check_placement(const char* value, std::uint32_t nodes) {
  if (!value || !*value) return std::nullopt;
  const std::string_view v = value;
  if (v == "spread" || v == "local") return std::nullopt;
  const std::string shown = "GPT_PLACEMENT=" + std::string(v);
  if (v.substr(0, 5) == "node:") {
    const std::string_view digits = v.substr(5);
    std::uint64_t k = 0;
    bool number = !digits.empty() && digits.size() <= 9;
    for (char c : digits) {
      if (c < '0' || c > '9') number = false;
      else k = k * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!number) return shown + ": K in node:K must be a node number";
    if (k >= nodes)
      return shown + " names no node of this job (nodes 0 to " + std::to_string(nodes - 1) + ")";
    return std::nullopt;
  }
  return shown + " is not a placement: use spread (the default), local or node:K";
}

}  // namespace gpt::launch
