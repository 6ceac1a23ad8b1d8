#include <gtest/gtest.h>

#include "heap_size.h"
#include "node_timeout.h"

using namespace std::chrono_literals;
using gpt::util::parse_node_timeout;

TEST(NodeTimeout, SecondsFromOneToAnHour) {
  EXPECT_EQ(parse_node_timeout("8"), 8000ms);
  EXPECT_EQ(parse_node_timeout("2.5"), 2500ms);
  EXPECT_EQ(parse_node_timeout("1"), 1000ms);
  EXPECT_EQ(parse_node_timeout("3600"), 3600000ms);
  for (const char* bad : {"", "0", "0.5", "-3", "3601", "8s", " 8", "nan", "inf", "1e9", "x"})
    EXPECT_EQ(parse_node_timeout(bad), std::nullopt) << bad;
}

TEST(NodeTimeout, EnvironmentOrDefault) {
  std::string error;
  unsetenv("GPT_NODE_TIMEOUT");
  EXPECT_EQ(gpt::util::node_timeout_from_env(error), gpt::util::kDefaultNodeTimeout);
  setenv("GPT_NODE_TIMEOUT", "3", 1);
  EXPECT_EQ(gpt::util::node_timeout_from_env(error), 3000ms);
  setenv("GPT_NODE_TIMEOUT", "soon", 1);
  EXPECT_EQ(gpt::util::node_timeout_from_env(error), std::nullopt);
  EXPECT_NE(error.find("GPT_NODE_TIMEOUT='soon' is not a number of seconds from 1 to 3600"), std::string::npos) << error;
  unsetenv("GPT_NODE_TIMEOUT");
}

// Each node needs 32 MiB of its own: 64M is enough for 2 nodes, not for 3.
TEST(HeapSize, EachNodeNeedsItsShare) {
  unsetenv("GPT_HEAP_SIZE");
  EXPECT_EQ(gpt::util::heap_too_small(64ull << 20, 1), std::nullopt);
  EXPECT_EQ(gpt::util::heap_too_small(64ull << 20, 2), std::nullopt);
  EXPECT_EQ(gpt::util::heap_too_small(128ull << 20, 4), std::nullopt);
  EXPECT_EQ(gpt::util::heap_too_small(64ull << 30, 256), std::nullopt);
  setenv("GPT_HEAP_SIZE", "64M", 1);
  auto why = gpt::util::heap_too_small(64ull << 20, 4);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("GPT_HEAP_SIZE=64M leaves each of the 4 nodes 16 MiB of heap"), std::string::npos) << *why;
  EXPECT_NE(why->find("GPT_HEAP_SIZE=128M or more for 4 nodes"), std::string::npos) << *why;
  EXPECT_TRUE(gpt::util::heap_too_small(96ull << 20, 4));
  unsetenv("GPT_HEAP_SIZE");
}
