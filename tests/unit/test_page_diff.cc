// The byte-exact page diff codec (tools/gpt-node/page_diff.h).
#include <gtest/gtest.h>

#include <array>
#include <random>

#include "page_diff.h"

namespace {

using gpt::diff::kPageSize;
using Page = std::array<std::byte, kPageSize>;
using Buffer = std::array<std::byte, gpt::diff::max_encoded_size()>;

Page filled(std::uint8_t seed) {
  Page p;
  for (std::size_t i = 0; i < kPageSize; ++i) p[i] = static_cast<std::byte>(seed + i * 31);
  return p;
}

std::size_t encode(const Page& twin, const Page& page, Buffer& out) {
  return gpt::diff::encode(twin.data(), page.data(), out.data(), out.size());
}

TEST(PageDiff, IdenticalPagesGiveAnEmptyDiff) {
  Page a = filled(1);
  Buffer out;
  EXPECT_EQ(encode(a, a, out), 0u);
  EXPECT_TRUE(gpt::diff::is_identical(a.data(), a.data()));
}

TEST(PageDiff, EverySingleByteOffsetRoundTrips) {
  Page twin = filled(3);
  for (std::size_t off = 0; off < kPageSize; ++off) {
    Page page = twin;
    page[off] ^= std::byte{0xff};
    Buffer out;
    std::size_t n = encode(twin, page, out);
    ASSERT_EQ(n, gpt::diff::kRunHeader + 1) << off;
    Page result = twin;
    ASSERT_TRUE(gpt::diff::apply(result.data(), out.data(), n));
    ASSERT_EQ(result, page) << off;
  }
}

TEST(PageDiff, WorstCaseFitsMaxEncodedSize) {
  Page twin{}, page{};
  for (std::size_t i = 0; i < kPageSize; i += 2) page[i] = std::byte{1};
  Buffer out;
  EXPECT_EQ(encode(twin, page, out), gpt::diff::max_encoded_size());
  Page all{};
  all.fill(std::byte{7});
  EXPECT_EQ(encode(twin, all, out), gpt::diff::kRunHeader + kPageSize);
}

TEST(PageDiff, TooSmallABufferIsReported) {
  Page twin{}, page{};
  page.fill(std::byte{1});
  std::array<std::byte, 100> small;
  EXPECT_EQ(gpt::diff::encode(twin.data(), page.data(), small.data(), small.size()),
            gpt::diff::kNoRoom);
}

TEST(PageDiff, RandomChangesRoundTrip) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    Page twin = filled(static_cast<std::uint8_t>(iter));
    Page page = twin;
    int changes = static_cast<int>(rng() % 200);
    for (int k = 0; k < changes; ++k) page[rng() % kPageSize] = static_cast<std::byte>(rng());
    Buffer out;
    std::size_t n = encode(twin, page, out);
    Page result = twin;
    ASSERT_TRUE(gpt::diff::apply(result.data(), out.data(), n));
    ASSERT_EQ(result, page);
  }
}

// False sharing down to bytes of one word: two writers' diffs merge in
// either order without losing either side.
TEST(PageDiff, DisjointWritersMergeInEitherOrder) {
  Page base = filled(9);
  Page a = base, b = base;
  for (std::size_t i = 0; i < kPageSize; ++i) {
    if (i % 3 == 0) a[i] = static_cast<std::byte>(0xA0 ^ static_cast<unsigned>(base[i]));
    if (i % 3 == 1) b[i] = static_cast<std::byte>(0x0B ^ static_cast<unsigned>(base[i]));
  }
  Buffer da, db;
  std::size_t na = encode(base, a, da), nb = encode(base, b, db);
  Page expected = base;
  for (std::size_t i = 0; i < kPageSize; ++i) {
    if (i % 3 == 0) expected[i] = a[i];
    if (i % 3 == 1) expected[i] = b[i];
  }
  Page ab = base, ba = base;
  ASSERT_TRUE(gpt::diff::apply(ab.data(), da.data(), na));
  ASSERT_TRUE(gpt::diff::apply(ab.data(), db.data(), nb));
  ASSERT_TRUE(gpt::diff::apply(ba.data(), db.data(), nb));
  ASSERT_TRUE(gpt::diff::apply(ba.data(), da.data(), na));
  EXPECT_EQ(ab, expected);
  EXPECT_EQ(ba, expected);
  EXPECT_EQ(gpt::diff::changed_bytes(da.data(), na), (kPageSize + 2) / 3);
}

TEST(PageDiff, MalformedDiffsAreRejectedAndLeaveThePageAlone) {
  Page twin = filled(1), page = twin;
  page[10] = std::byte{0};
  page[4000] = std::byte{0};
  Buffer good;
  std::size_t n = encode(twin, page, good);
  // Every truncation of a valid diff that cuts a run (a cut between runs
  // is itself a valid, shorter diff: the frame's length delimits a diff).
  ASSERT_EQ(n, 2 * (gpt::diff::kRunHeader + 1));
  for (std::size_t len = 1; len < n; ++len) {
    if (len == gpt::diff::kRunHeader + 1) continue;
    Page target = twin;
    EXPECT_FALSE(gpt::diff::apply(target.data(), good.data(), len)) << len;
    EXPECT_EQ(target, twin);
  }
  auto run = [](std::uint16_t off, std::uint16_t len) {
    std::vector<std::byte> d(4 + len, std::byte{1});
    std::memcpy(d.data(), &off, 2);
    std::memcpy(d.data() + 2, &len, 2);
    return d;
  };
  std::vector<std::vector<std::byte>> bad = {
      run(4095, 2),  // past the end
      run(10, 0),    // empty run
  };
  auto unsorted = run(100, 4);
  auto second = run(50, 4);
  unsorted.insert(unsorted.end(), second.begin(), second.end());
  bad.push_back(unsorted);
  auto overlap = run(100, 10);
  auto third = run(105, 4);
  overlap.insert(overlap.end(), third.begin(), third.end());
  bad.push_back(overlap);
  for (const auto& d : bad) {
    Page target = twin;
    EXPECT_FALSE(gpt::diff::apply(target.data(), d.data(), d.size()));
    EXPECT_EQ(target, twin);
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::byte> junk(rng() % 64);
    for (auto& b : junk) b = static_cast<std::byte>(rng());
    Page target = twin;
    if (!gpt::diff::apply(target.data(), junk.data(), junk.size())) {
      EXPECT_EQ(target, twin);
    }
  }
}

}  // namespace
