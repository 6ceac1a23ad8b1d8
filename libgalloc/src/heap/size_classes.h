// Small-object size classes: 16 B to 32 KiB, four classes per power of two
// above 64 B, so internal waste stays under 25% (12.5% on average).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace gpt::galloc {

inline constexpr std::size_t kMinAlign = 16;
inline constexpr std::size_t kMaxSmall = 32768;

namespace detail {
constexpr auto make_sizes() {
  std::array<std::uint32_t, 64> sizes{};
  std::size_t n = 0;
  for (std::uint32_t s = 16; s <= 64; s += 16) sizes[n++] = s;
  for (std::uint32_t base = 64; base < kMaxSmall; base *= 2)
    for (std::uint32_t step = 1; step <= 4; ++step) sizes[n++] = base + step * (base / 4);
  return std::pair{sizes, n};
}
constexpr auto kTable = make_sizes();
}  // namespace detail

inline constexpr std::size_t kClassCount = detail::kTable.second;
inline constexpr auto kClassSizes = detail::kTable.first;

static_assert(kClassSizes[kClassCount - 1] == kMaxSmall);

[[nodiscard]] constexpr std::size_t class_size(std::size_t c) { return kClassSizes[c]; }

// offset / class_size(c) for offset < 64 KiB without a division:
// m = ceil(2^32 / size) is exact there because offset * (m*size - 2^32)
// < 2^16 * 2^16.
namespace detail {
constexpr auto make_reciprocals() {
  std::array<std::uint64_t, kClassCount> r{};
  for (std::size_t c = 0; c < kClassCount; ++c)
    r[c] = ((std::uint64_t{1} << 32) + kClassSizes[c] - 1) / kClassSizes[c];
  return r;
}
constexpr auto kReciprocals = make_reciprocals();
}  // namespace detail

[[nodiscard]] constexpr std::size_t index_in_slab(std::size_t c, std::size_t offset) {
  return static_cast<std::size_t>((offset * detail::kReciprocals[c]) >> 32);
}
static_assert(index_in_slab(5, 96 * 3) == 3 && index_in_slab(5, 96 * 3 - 1) == 2);

// The smallest class that holds `size` bytes (size <= kMaxSmall).
[[nodiscard]] constexpr std::size_t size_to_class(std::size_t size) {
  if (size <= 64) return size <= 16 ? 0 : (size - 1) / 16;
  // Position of the power of two below, then the quarter step above it.
  std::size_t bits = 63 - static_cast<std::size_t>(__builtin_clzll(size - 1));  // 2^bits < size
  std::size_t base = std::size_t{1} << bits;
  std::size_t step = (size - 1 - base) / (base / 4);  // 0..3
  return 4 + (bits - 6) * 4 + step;
}

}  // namespace gpt::galloc
