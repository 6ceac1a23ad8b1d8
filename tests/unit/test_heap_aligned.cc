// The argument checks of the aligned allocation calls
// (libgalloc/src/heap/aligned_request.h), each entry point with sizes and
// alignments near 2^64, and the same requests made of the glibc this test
// runs on (its allocator is glibc's): gpthread must answer as it does.
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "heap/aligned_request.h"

namespace {

using gpt::galloc::aligned_request;
using gpt::galloc::AlignedCall;

constexpr std::size_t kTop = SIZE_MAX;
constexpr std::size_t kHalf = std::size_t{1} << 63;
constexpr std::size_t kPtrdiffMax = PTRDIFF_MAX;

struct Case {
  AlignedCall call;
  std::size_t alignment;
  std::size_t size;
  int error;                  // what the call must fail with, 0 if it may succeed
  std::size_t aligned_to = 0;  // on success: the alignment the block gets
};

const char* name(AlignedCall call) {
  switch (call) {
    case AlignedCall::kPosixMemalign: return "posix_memalign";
    case AlignedCall::kAlignedAlloc: return "aligned_alloc";
    case AlignedCall::kMemalign: return "memalign";
    case AlignedCall::kValloc: return "valloc";
    case AlignedCall::kPvalloc: return "pvalloc";
  }
  return "?";
}

std::string describe(const Case& c) {
  return std::string(name(c.call)) + "(alignment " + std::to_string(c.alignment) + ", size " +
         std::to_string(c.size) + ")";
}

const Case kCases[] = {
    // posix_memalign: EINVAL for a bad alignment whatever the size, ENOMEM
    // for sizes no block can have.
    {AlignedCall::kPosixMemalign, 0, 64, EINVAL},
    {AlignedCall::kPosixMemalign, 4, 64, EINVAL},
    {AlignedCall::kPosixMemalign, 24, 64, EINVAL},
    {AlignedCall::kPosixMemalign, 24, kTop, EINVAL},
    {AlignedCall::kPosixMemalign, kHalf + 8, 64, EINVAL},
    {AlignedCall::kPosixMemalign, 64, kTop, ENOMEM},
    {AlignedCall::kPosixMemalign, 64, kTop - 4095, ENOMEM},
    {AlignedCall::kPosixMemalign, 4096, kHalf, ENOMEM},
    {AlignedCall::kPosixMemalign, 8, kHalf + 1, ENOMEM},
    {AlignedCall::kPosixMemalign, kHalf, kTop, ENOMEM},
    {AlignedCall::kPosixMemalign, 64, 100, 0, 64},
    {AlignedCall::kPosixMemalign, 8, 100, 0, 8},
    // aligned_alloc and memalign: any alignment up to 2^63, rounded up.
    {AlignedCall::kAlignedAlloc, 64, kTop, ENOMEM},
    {AlignedCall::kAlignedAlloc, 0, kTop, ENOMEM},
    {AlignedCall::kAlignedAlloc, 1 << 20, kHalf, ENOMEM},
    {AlignedCall::kAlignedAlloc, kHalf + 1, 64, EINVAL},
    {AlignedCall::kAlignedAlloc, kTop, kTop, EINVAL},
    {AlignedCall::kAlignedAlloc, 24, kTop - 8, ENOMEM},
    {AlignedCall::kAlignedAlloc, 256, 1000, 0, 256},
    {AlignedCall::kMemalign, 64, kTop, ENOMEM},
    {AlignedCall::kMemalign, 16, kPtrdiffMax + 1, ENOMEM},
    {AlignedCall::kMemalign, 4096, kTop - 4095, ENOMEM},
    {AlignedCall::kMemalign, kHalf + 1, kTop, EINVAL},
    {AlignedCall::kMemalign, 24, 100, 0, 32},
    {AlignedCall::kMemalign, 0, 100, 0, 1},
    {AlignedCall::kMemalign, 3000, 10, 0, 4096},
    // valloc and pvalloc: page-aligned, pvalloc's size rounded up to pages
    // (which must not wrap around either).
    {AlignedCall::kValloc, 0, kTop, ENOMEM},
    {AlignedCall::kValloc, 0, kHalf, ENOMEM},
    {AlignedCall::kValloc, 0, kTop - 4095, ENOMEM},
    {AlignedCall::kValloc, 0, 10, 0, 4096},
    {AlignedCall::kPvalloc, 0, kTop, ENOMEM},
    {AlignedCall::kPvalloc, 0, kTop - 4094, ENOMEM},
    {AlignedCall::kPvalloc, 0, kPtrdiffMax, ENOMEM},
    {AlignedCall::kPvalloc, 0, kPtrdiffMax - 4094, ENOMEM},  // rounds up past PTRDIFF_MAX
    {AlignedCall::kPvalloc, 0, 1, 0, 4096},
};

TEST(AlignedRequests, EveryEntryPointRejectsWhatCanNeverBeMet) {
  for (const Case& c : kCases) {
    const auto r = aligned_request(c.call, c.alignment, c.size);
    EXPECT_EQ(r.error, c.error) << describe(c);
    if (c.error) continue;
    EXPECT_EQ(r.alignment, c.aligned_to) << describe(c);
    EXPECT_GE(r.size, c.size) << describe(c);
    if (c.call == AlignedCall::kPvalloc) {
      EXPECT_EQ(r.size % 4096, 0u) << describe(c);
    }
  }
}

// The glibc of this machine makes the same calls with the same answers.
// (aligned_alloc with an alignment that is not a power of two is left out:
// glibc 2.38 turned it from memalign's rounding into EINVAL.)
TEST(AlignedRequests, GlibcAnswersTheSame) {
  for (const Case& c : kCases) {
    const bool power_of_two = c.alignment && (c.alignment & (c.alignment - 1)) == 0;
    if (c.call == AlignedCall::kAlignedAlloc && !power_of_two) continue;
    // Through volatile: the compiler must not judge the sizes itself.
    volatile std::size_t alignment = c.alignment, size = c.size;
    void* p = nullptr;
    int error = 0;
    errno = 0;
    switch (c.call) {
      case AlignedCall::kPosixMemalign: error = posix_memalign(&p, alignment, size); break;
      case AlignedCall::kAlignedAlloc: p = aligned_alloc(alignment, size); break;
      case AlignedCall::kMemalign: p = memalign(alignment, size); break;
      case AlignedCall::kValloc: p = valloc(size); break;
      case AlignedCall::kPvalloc: p = pvalloc(size); break;
    }
    if (c.call != AlignedCall::kPosixMemalign && !p) error = errno;
    EXPECT_EQ(error, c.error) << describe(c);
    EXPECT_EQ(p != nullptr, c.error == 0) << describe(c);
    if (p) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % c.aligned_to, 0u) << describe(c);
    }
    free(p);
  }
}

}  // namespace
