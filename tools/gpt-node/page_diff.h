// Byte-exact page diffs: what a writer sends the home of a page at release.
//
// Several nodes may write disjoint bytes of one page between two
// synchronisations (false sharing), even bytes of the same 8-byte word, so a
// diff holds exactly the bytes that differ between the twin and the page, and
// applying it never touches any other byte.
//
// Wire format (little-endian), a sequence of runs sorted by offset:
//   u16 offset, u16 length (>= 1), `length` bytes
// with offset + length <= kPageSize and each run starting after the previous
// one ends. Runs are never merged across an unchanged byte. An empty diff is
// zero bytes. Worst case (every other byte changed): 2048 runs of 5 bytes.
//
// Header-only, no allocation: the writer's agent encodes (releases.cc) and
// the home's agent applies; the program only keeps the twins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gpt::diff {

inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kRunHeader = 4;

[[nodiscard]] constexpr std::size_t max_encoded_size() {
  return (kPageSize / 2) * (kRunHeader + 1);
}

// Returned by encode() when `out_capacity` is too small.
inline constexpr std::size_t kNoRoom = static_cast<std::size_t>(-1);

[[nodiscard]] inline bool is_identical(const std::byte* a, const std::byte* b) {
  return std::memcmp(a, b, kPageSize) == 0;
}

namespace detail {

inline std::uint64_t load64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void put16(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, sizeof v); }

inline std::uint16_t get16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace detail

// Encodes the bytes of `page` that differ from `twin`. Returns the encoded
// length (0: identical), or kNoRoom if `out_capacity` is too small (size the
// buffer with max_encoded_size() and this cannot happen).
[[nodiscard]] inline std::size_t encode(const std::byte* twin, const std::byte* page,
                                        std::byte* out, std::size_t out_capacity) {
  std::size_t len = 0;
  std::size_t run_start = 0;
  bool in_run = false;
  auto close_run = [&](std::size_t end) -> bool {
    std::size_t n = end - run_start;
    if (len + kRunHeader + n > out_capacity) return false;
    detail::put16(out + len, static_cast<std::uint16_t>(run_start));
    detail::put16(out + len + 2, static_cast<std::uint16_t>(n));
    std::memcpy(out + len + kRunHeader, page + run_start, n);
    len += kRunHeader + n;
    in_run = false;
    return true;
  };
  for (std::size_t w = 0; w < kPageSize; w += 8) {
    std::uint64_t x = detail::load64(twin + w) ^ detail::load64(page + w);
    if (x == 0) {
      if (in_run && !close_run(w)) return kNoRoom;
      continue;
    }
    // Walk the word's bytes (little-endian: byte i is bits 8i..8i+7).
    for (std::size_t b = 0; b < 8; ++b) {
      bool changed = ((x >> (8 * b)) & 0xff) != 0;
      if (changed && !in_run) {
        run_start = w + b;
        in_run = true;
      } else if (!changed && in_run) {
        if (!close_run(w + b)) return kNoRoom;
      }
    }
  }
  if (in_run && !close_run(kPageSize)) return kNoRoom;
  return len;
}

// Calls f(offset, bytes, length) for each run after validating the whole
// diff; returns false (calling nothing) if it is malformed.
template <class F>
[[nodiscard]] bool for_each_run(const std::byte* diff, std::size_t length, F&& f) {
  std::size_t pos = 0;
  std::size_t min_offset = 0;
  while (pos < length) {
    if (length - pos < kRunHeader) return false;
    std::size_t off = detail::get16(diff + pos);
    std::size_t n = detail::get16(diff + pos + 2);
    if (n == 0 || off < min_offset || off + n > kPageSize || length - pos - kRunHeader < n)
      return false;
    min_offset = off + n;
    pos += kRunHeader + n;
  }
  for (pos = 0; pos < length;) {
    std::size_t off = detail::get16(diff + pos);
    std::size_t n = detail::get16(diff + pos + 2);
    f(off, diff + pos + kRunHeader, n);
    pos += kRunHeader + n;
  }
  return true;
}

// Applies a diff to `page`. Validates everything first: a malformed diff
// (from the network) returns false and leaves the page untouched.
[[nodiscard]] inline bool apply(std::byte* page, const std::byte* diff, std::size_t length) {
  return for_each_run(diff, length, [&](std::size_t off, const std::byte* bytes, std::size_t n) {
    std::memcpy(page + off, bytes, n);
  });
}

// Number of page bytes a valid diff changes (0 for a malformed one).
[[nodiscard]] inline std::size_t changed_bytes(const std::byte* diff, std::size_t length) {
  std::size_t total = 0;
  if (!for_each_run(diff, length, [&](std::size_t, const std::byte*, std::size_t n) { total += n; }))
    return 0;
  return total;
}

}  // namespace gpt::diff
