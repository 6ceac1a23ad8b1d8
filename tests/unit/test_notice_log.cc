// Node 0's write-notice log: what each reader is sent, and what is dropped.
#include <gtest/gtest.h>

#include "notice_log.h"

using gpt::node::NoticeLog;
using Pages = std::vector<std::uint64_t>;

TEST(NoticeLog, EpochsCountReleasesAndListsLeaveOutTheReadersOwnWrites) {
  NoticeLog log(3);
  EXPECT_EQ(log.log(1, {5, 6}), 1u);
  EXPECT_EQ(log.log(2, {6, 7}), 2u);
  EXPECT_EQ(log.epoch(), 2u);
  EXPECT_EQ(log.since(0, 0), (Pages{5, 6, 7}));  // sorted, each once
  EXPECT_EQ(log.since(0, 1), (Pages{6, 7}));
  EXPECT_EQ(log.since(1, 0), (Pages{6, 7}));
  EXPECT_EQ(log.since(2, 0), Pages{});
}

TEST(NoticeLog, EachReaderIsSentEveryNoticeOnce) {
  NoticeLog log(3);
  log.log(0, {1});
  EXPECT_EQ(log.take_unsent(1), Pages{1});
  EXPECT_EQ(log.take_unsent(1), Pages{});
  log.log(2, {2});
  EXPECT_EQ(log.take_unsent(1), Pages{2});
  EXPECT_EQ(log.take_unsent(2), Pages{1});  // its own page 2 left out
  EXPECT_EQ(log.take_unsent(9), Pages{});   // no such node
}

TEST(NoticeLog, TrimKeepsWhatAReaderHasNotBeenSentOrNodeZeroHasNotApplied) {
  NoticeLog log(3);
  log.log(1, {1});
  log.log(2, {2});
  log.log(1, {3});
  EXPECT_EQ(log.trim(3), 3u);  // nodes 1 and 2 were sent nothing yet
  (void)log.take_unsent(1);
  EXPECT_EQ(log.trim(3), 3u);  // node 2 still lacks them
  (void)log.take_unsent(2);
  EXPECT_EQ(log.trim(1), 2u);  // node 0 applied only epoch 1
  EXPECT_EQ(log.since(1, 0), (Pages{2, 3}));
  EXPECT_EQ(log.trim(3), 0u);
  log.log(2, {4});
  EXPECT_EQ(log.take_unsent(1), Pages{4});
  EXPECT_EQ(log.epoch(), 4u);
}
