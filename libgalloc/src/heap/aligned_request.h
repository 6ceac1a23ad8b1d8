// The arguments of the aligned allocation calls, checked as glibc 2.36
// (Debian 12) checks them, so a program sees the same answers under gpthread
// (musl's own rules are stricter only where glibc accepts more):
//  - posix_memalign wants a power of two multiple of sizeof(void*), else
//    EINVAL;
//  - memalign and aligned_alloc (one call in glibc 2.36), valloc and pvalloc
//    take any alignment up to 2^63, rounded up to a power of two; above it,
//    EINVAL;
//  - no block can be bigger than PTRDIFF_MAX (pvalloc's rounding included):
//    ENOMEM at once, before any size arithmetic can wrap around.
// Requests that pass may still fail in the heap, also with ENOMEM.
#pragma once

#include <errno.h>

#include <cstddef>
#include <cstdint>

namespace gpt::galloc {

enum class AlignedCall : std::uint8_t { kPosixMemalign, kAlignedAlloc, kMemalign, kValloc, kPvalloc };

struct AlignedRequest {
  int error = 0;              // EINVAL or ENOMEM: fail without allocating
  std::size_t alignment = 0;  // a power of two
  std::size_t size = 0;
};

inline constexpr std::size_t kAlignedPage = 4096;

[[nodiscard]] constexpr AlignedRequest aligned_request(AlignedCall call, std::size_t alignment,
                                                       std::size_t size) {
  constexpr std::size_t kMaxBlock = PTRDIFF_MAX;
  constexpr std::size_t kMaxAlignment = std::size_t{1} << 63;
  const auto power_of_two = [](std::size_t a) { return a != 0 && (a & (a - 1)) == 0; };
  switch (call) {
    case AlignedCall::kPosixMemalign:
      if (alignment % sizeof(void*) != 0 || !power_of_two(alignment)) return {EINVAL, 0, 0};
      break;
    case AlignedCall::kValloc:
      alignment = kAlignedPage;
      break;
    case AlignedCall::kPvalloc:
      alignment = kAlignedPage;
      if (size > kMaxBlock) return {ENOMEM, 0, 0};
      size = (size + kAlignedPage - 1) & ~(kAlignedPage - 1);
      break;
    case AlignedCall::kAlignedAlloc:
    case AlignedCall::kMemalign:
      break;
  }
  if (alignment > kMaxAlignment) return {EINVAL, 0, 0};
  if (size > kMaxBlock) return {ENOMEM, 0, 0};
  if (alignment == 0) alignment = 1;
  if (!power_of_two(alignment)) alignment = std::size_t{1} << (64 - __builtin_clzll(alignment));
  return {0, alignment, size};
}

static_assert(aligned_request(AlignedCall::kMemalign, 24, 100).alignment == 32);
static_assert(aligned_request(AlignedCall::kPosixMemalign, 24, 100).error == EINVAL);
static_assert(aligned_request(AlignedCall::kValloc, 0, SIZE_MAX).error == ENOMEM);

}  // namespace gpt::galloc
