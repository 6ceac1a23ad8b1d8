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

// Each node allocates from its own part of the heap (region.h), which must
// hold a default 8 MiB thread stack (main's too, on node 0) besides the
// allocator's chunks: with less than 32 MiB a node's first thread start
// fails at run time (64M on 3 nodes did).
inline constexpr std::uint64_t kMinHeapPerNode = 32ull << 20;

// Why a heap of `heap_bytes` is too small for `nodes` nodes, or nullopt if
// it is not.
[[nodiscard]] std::optional<std::string> heap_too_small(std::uint64_t heap_bytes, std::uint32_t nodes);

}  // namespace gpt::util
