#include <gtest/gtest.h>

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
