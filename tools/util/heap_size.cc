#include "heap_size.h"

#include <cstdlib>

#include "gpt/region.h"

namespace gpt::util {

std::optional<std::uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(text[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  int shift = 0;
  if (i < text.size()) {
    switch (text[i++]) {
      case 'K': case 'k': shift = 10; break;
      case 'M': case 'm': shift = 20; break;
      case 'G': case 'g': shift = 30; break;
      case 'T': case 't': shift = 40; break;
      default: return std::nullopt;
    }
    if (i < text.size() && (text[i] == 'B' || text[i] == 'b' || text[i] == 'i')) ++i;
    if (i < text.size() && (text[i] == 'B' || text[i] == 'b')) ++i;
  }
  if (i != text.size()) return std::nullopt;
  if (shift && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

std::optional<std::uint64_t> heap_size_from_env(std::string& error) {
  const char* text = std::getenv("GPT_HEAP_SIZE");
  if (!text || !*text) return region::kDefaultHeapBytes;
  auto size = parse_size(text);
  if (!size || *size < region::kMinHeapBytes || *size > region::kMaxHeapBytes) {
    error = std::string("GPT_HEAP_SIZE='") + text +
            "' is not a size between 64M and 16T (e.g. 4G, 512M)";
    return std::nullopt;
  }
  return *size & ~(static_cast<std::uint64_t>(region::kPageSize) - 1);
}

}  // namespace gpt::util

namespace gpt::util {

std::optional<std::string> heap_too_small(std::uint64_t heap_bytes, std::uint32_t nodes) {
  region::Geometry g;
  g.heap_bytes = heap_bytes;
  g.node_count = nodes;
  if (g.partition_bytes() >= kMinHeapPerNode) return std::nullopt;
  const std::uint64_t needed_mib = (kMinHeapPerNode >> 20) * nodes;
  const char* text = std::getenv("GPT_HEAP_SIZE");
  return std::string("GPT_HEAP_SIZE=") + (text && *text ? text : "(default)") + " leaves each of the " +
         std::to_string(nodes) + " nodes " + std::to_string(g.partition_bytes() >> 20) + " MiB of heap; " +
         std::to_string(kMinHeapPerNode >> 20) + " MiB per node is the least that works (GPT_HEAP_SIZE=" +
         std::to_string(needed_mib) + "M or more for " + std::to_string(nodes) + " nodes)";
}

}  // namespace gpt::util
