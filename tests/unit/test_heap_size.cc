#include <gtest/gtest.h>

#include "heap_size.h"

using gpt::util::parse_size;

TEST(HeapSize, ParsesBinaryUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64K"), 64u << 10);
  EXPECT_EQ(parse_size("512M"), 512u << 20);
  EXPECT_EQ(parse_size("4G"), 4ull << 30);
  EXPECT_EQ(parse_size("4GiB"), 4ull << 30);
  EXPECT_EQ(parse_size("1T"), 1ull << 40);
  EXPECT_EQ(parse_size("2g"), 2ull << 30);
}

TEST(HeapSize, RejectsJunkAndOverflow) {
  for (const char* bad : {"", "G", "4X", "4GG", "-1", " 4G", "4 G", "99999999999999999999",
                          "17179869184T"})
    EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
}

TEST(HeapSize, EnvironmentIsCheckedAgainstTheSupportedRange) {
  std::string error;
  unsetenv("GPT_HEAP_SIZE");
  EXPECT_EQ(gpt::util::heap_size_from_env(error), 64ull << 30);
  setenv("GPT_HEAP_SIZE", "1M", 1);
  EXPECT_EQ(gpt::util::heap_size_from_env(error), std::nullopt);
  EXPECT_NE(error.find("GPT_HEAP_SIZE='1M'"), std::string::npos);
  setenv("GPT_HEAP_SIZE", "256M", 1);
  EXPECT_EQ(gpt::util::heap_size_from_env(error), 256ull << 20);
  unsetenv("GPT_HEAP_SIZE");
}
