// Node 0's write-notice log: what each reader is sent, and what is dropped.
#include <gtest/gtest.h>

#include <algorithm>

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

// A reader that is never sent anything must not make the log grow with
// every release: old entries merge, and every page is still listed.
TEST(NoticeLog, ALaggingReaderKeepsTheLogBoundedWithoutLosingANotice) {
  NoticeLog log(3);
  (void)log.take_unsent(1);
  const std::uint64_t releases = 20 * NoticeLog::kMaxEntries;
  for (std::uint64_t r = 1; r <= releases; ++r) {
    log.log(r % 2 ? 1 : 2, {r % 500, 1000 + r % 7});
    (void)log.take_unsent(1);  // node 1 keeps up; node 2 never asks
    EXPECT_LE(log.trim(0), NoticeLog::kMaxEntries);
  }
  EXPECT_LE(log.entries(), NoticeLog::kMaxEntries);
  // Node 2 lacks everything since epoch 0: all 500 + 7 pages, its own
  // included once merged (listing too much is allowed, too little is not).
  Pages all = log.take_unsent(2);
  EXPECT_EQ(all.size(), 507u);
  for (std::uint64_t p = 0; p < 500; ++p) EXPECT_TRUE(std::binary_search(all.begin(), all.end(), p)) << p;
  // Recent epochs are still told apart: only what came after them.
  log.log(1, {4242});
  EXPECT_EQ(log.take_unsent(2), Pages{4242});
  EXPECT_EQ(log.since(log.epoch() - 1, 0), Pages{4242});
  EXPECT_EQ(log.epoch(), releases + 1);
  // Everyone sent everything, node 0 applied it: the log empties.
  (void)log.take_unsent(1);
  EXPECT_EQ(log.trim(log.epoch()), 0u);
}
