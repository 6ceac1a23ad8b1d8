#include <gtest/gtest.h>

#include "env_number.h"
#include "spin_budget.h"

using gpt::util::spin_us_from_env;

TEST(SpinBudget, DefaultWhenUnset) {
  std::string error;
  unsetenv("GPT_SPIN_US");
  EXPECT_EQ(spin_us_from_env(error), gpt::util::kDefaultSpinUs);
  setenv("GPT_SPIN_US", "", 1);
  EXPECT_EQ(spin_us_from_env(error), gpt::util::kDefaultSpinUs);
  unsetenv("GPT_SPIN_US");
}

TEST(SpinBudget, AcceptsZeroAndTheLimit) {
  std::string error;
  setenv("GPT_SPIN_US", "0", 1);
  EXPECT_EQ(spin_us_from_env(error), 0u);
  setenv("GPT_SPIN_US", "100000", 1);
  EXPECT_EQ(spin_us_from_env(error), 100000u);
  unsetenv("GPT_SPIN_US");
}

TEST(SpinBudget, RejectsJunkAndOutOfRange) {
  for (const char* bad : {"-1", "10us", " 5", "100001", "99999999999999999999999"}) {
    std::string error;
    setenv("GPT_SPIN_US", bad, 1);
    EXPECT_EQ(spin_us_from_env(error), std::nullopt) << bad;
    EXPECT_NE(error.find("GPT_SPIN_US='"), std::string::npos) << bad;
  }
  unsetenv("GPT_SPIN_US");
}

// GPT_PREFETCH and GPT_WRITE_AHEAD, which the launcher checks the same way.
TEST(PagesFromEnv, DefaultsRangesAndJunk) {
  using gpt::util::kPrefetchPages;
  using gpt::util::kWriteAheadPages;
  using gpt::util::number_from_env;
  std::string error;
  unsetenv("GPT_PREFETCH");
  unsetenv("GPT_WRITE_AHEAD");
  EXPECT_EQ(number_from_env(kPrefetchPages, error), 8u);
  EXPECT_EQ(number_from_env(kWriteAheadPages, error), 32u);
  setenv("GPT_WRITE_AHEAD", "0", 1);
  EXPECT_EQ(number_from_env(kWriteAheadPages, error), 0u);
  setenv("GPT_WRITE_AHEAD", "256", 1);
  EXPECT_EQ(number_from_env(kWriteAheadPages, error), 256u);
  setenv("GPT_PREFETCH", "16", 1);
  EXPECT_EQ(number_from_env(kPrefetchPages, error), 16u);
  for (const char* bad : {"0", "17", "8 pages", "-1"}) {
    setenv("GPT_PREFETCH", bad, 1);
    error.clear();
    EXPECT_EQ(number_from_env(kPrefetchPages, error), std::nullopt) << bad;
    EXPECT_NE(error.find("GPT_PREFETCH='"), std::string::npos) << bad;
  }
  for (const char* bad : {"257", "lots", "99999999999999999999999"}) {
    setenv("GPT_WRITE_AHEAD", bad, 1);
    error.clear();
    EXPECT_EQ(number_from_env(kWriteAheadPages, error), std::nullopt) << bad;
    EXPECT_NE(error.find("from 0 to 256"), std::string::npos) << error;
  }
  unsetenv("GPT_PREFETCH");
  unsetenv("GPT_WRITE_AHEAD");
}
