// GPT_HEAP_SIZE: the size of the global heap, e.g. "64G", "512M", "1T".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpt::util {

// Parses "<number>[K|M|G|T]" (binary units). nullopt on anything else.
[[nodiscard]] std::optional<std::uint64_t> parse_size(const std::string& text);

// The heap size from GPT_HEAP_SIZE, or the default; nullopt (with `error`
// set) if the variable is malformed or out of the supported range.
[[nodiscard]] std::optional<std::uint64_t> heap_size_from_env(std::string& error);

}  // namespace gpt::util
