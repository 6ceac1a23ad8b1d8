// Coherence over the fake network (docs/coherence.md): fetches and
// read-ahead, releases (diffs home, notices to node 0), acquires answered
// here or by node 0, the job-wide barrier and remote frees.
#include <algorithm>
#include <numeric>

#include "protocol_test.h"

namespace gpt::test {
namespace {

constexpr std::byte kValue{0x3c};

// Node `by` fetches one page and the cluster runs until the fetch is done.
void fetch_one(FakeCluster& c, int by, std::uint64_t page) {
  const std::uint32_t s = c[by].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  ASSERT_EQ(c[by].status(s), 0);
}

// ---- fetch and read-ahead -----------------------------------------------------

TEST(Fetch, APageComesFromItsHome) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 3);
  c[0].write(page, 7, kValue);
  const std::uint32_t s = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  EXPECT_EQ(c[1].status(s), 0);
  EXPECT_EQ(c[1].reply(s).size(), 0u);  // all of them are in
  EXPECT_EQ(c[1].read(page, 7), kValue);
  EXPECT_EQ(stat(c[1], "pages_fetched"), 1u);
  EXPECT_EQ(stat(c[0], "pages_served"), 1u);
}

TEST(Fetch, PagesHomedHereAreCurrentAlready) {
  FakeCluster c(2);
  const std::uint32_t s = c[1].post(Op::kFetchPage, channel::FetchPageRequest{c.page_of(1), 4});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[1].status(s), 0);
}

TEST(Fetch, BadFetchesAreRefused) {
  FakeCluster c(2);
  const std::uint64_t last_of_0 = c.page_of(1) - 1;
  const std::uint32_t none = c[1].post(Op::kFetchPage, channel::FetchPageRequest{c.page_of(0), 0});
  const std::uint32_t too_many =
      c[1].post(Op::kFetchPage, channel::FetchPageRequest{c.page_of(0), channel::kMaxPagesPerFetch + 1});
  const std::uint32_t two_homes = c[1].post(Op::kFetchPage, channel::FetchPageRequest{last_of_0, 2});
  const std::uint32_t outside =
      c[1].post(Op::kFetchPage, channel::FetchPageRequest{c.geometry().page_count(), 1});
  const std::uint32_t ragged = c[1].post_bytes(Op::kFetchPage, std::vector<unsigned char>(12));
  c.pump();
  EXPECT_EQ(c[1].status(none), -EINVAL);
  EXPECT_EQ(c[1].status(too_many), -EINVAL);
  EXPECT_EQ(c[1].status(two_homes), -EFAULT);
  EXPECT_EQ(c[1].status(outside), -EFAULT);
  EXPECT_EQ(c[1].status(ragged), -EINVAL);
}

// A fetch that starts where the previous one ended is a scan: the pages
// after it are asked for as copies, and the next fault is served from them.
TEST(Fetch, ASequentialScanIsReadAhead) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 32);
  c[0].write(page + 2, 0, kValue);
  const std::uint32_t first = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  EXPECT_EQ(stat(c[1], "pages_read_ahead"), 0u);  // one fault is no scan
  const std::uint32_t second = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page + 1, 1});
  c.pump();
  EXPECT_EQ(c[1].status(first), 0);
  EXPECT_EQ(c[1].status(second), 0);
  EXPECT_EQ(stat(c[1], "pages_read_ahead"), channel::kMaxPagesPerFetch);

  const std::uint32_t third = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page + 2, 2});
  EXPECT_EQ(c.pump(), 1u);  // no message: both were read ahead
  EXPECT_EQ(c[1].status(third), 0);
  EXPECT_EQ(c[1].reply_as<channel::FetchPageReply>(third).fetched, 2u);
  EXPECT_EQ(c[1].read(page + 2, 0), kValue);
  EXPECT_EQ(stat(c[1], "fetches_from_copies"), 2u);
  EXPECT_EQ(c[1].layout().header.fetches_from_copies.load(), 2u);
}

TEST(Fetch, AFaultOnPagesOnTheirWayWaitsForThem) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 64);
  c[0].write(page + 3, 1, kValue);
  const std::uint32_t first = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  c[1].free(first);
  // Served in slot order: the second fault asks for pages ahead, the third
  // is for one of them and waits for it instead of asking again.
  const std::uint32_t second = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page + 1, 1});
  const std::uint32_t third = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page + 3, 1});
  c[1].serve();
  EXPECT_FALSE(c[1].answered(third));
  c.pump();
  EXPECT_EQ(c[1].status(second), 0);
  EXPECT_EQ(c[1].status(third), 0);
  EXPECT_EQ(c[1].reply_as<channel::FetchPageReply>(third).fetched, 1u);
  EXPECT_EQ(c[1].read(page + 3, 1), kValue);
  EXPECT_EQ(stat(c[0], "pages_served"), 2u + channel::kMaxPagesPerFetch);
}

TEST(Fetch, AReplyWithTheWrongPagesFailsTheFetch) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 1);
  const std::uint32_t s = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c[1].serve();  // its PageRequest (the first: id 1) is on its way to node 0
  ASSERT_TRUE(c[0].gate().send(1, wire::PageData{1, page + 1, std::vector<std::byte>(region::kPageSize)}));
  c[1].deliver();
  EXPECT_EQ(c[1].status(s), -EIO);
  // The real answer comes later: no request waits for it any more.
  c.pump();
  EXPECT_EQ(c[1].status(s), -EIO);
  EXPECT_EQ(stat(c[1], "pages_fetched"), 0u);
}

TEST(Fetch, UnexpectedPagesAreDropped) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 1);
  std::vector<std::byte> bytes(region::kPageSize, kValue);
  ASSERT_TRUE(c[0].gate().send(1, wire::PageData{99, page, bytes}));
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("dropped an unexpected reply from node 0"),
            std::string::npos);
  EXPECT_EQ(c[1].read(page, 0), std::byte{0});
}


// ---- exclusive pages: the home's copy is the only one (gpt/sole_copy.h) -------

// Every node starts from the same image: no page is the home's sole copy
// until its first notice, and none was sent.
TEST(Exclusive, EveryPageStartsNeitherNoticedNorSent) {
  FakeCluster c(2);
  EXPECT_EQ(c[0].mark(c.page_of(0, 3)), 0u);
  EXPECT_EQ(c[1].mark(c.page_of(1, 3)), 0u);
  EXPECT_FALSE(c[0].sole(c.page_of(0, 3)));
}

// A page sent before its first notice is marked sent: the release that
// notices it must write-protect it, since a copy is out.
TEST(Exclusive, ASendBeforeTheFirstNoticeIsRemembered) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 7);
  fetch_one(c, 1, page);
  EXPECT_EQ(c[0].mark(page), sole_copy::kSent);
}

// A fetch of a page the home wrote in place since its last notice gets the
// latest bytes, and the page is shared from then on; the others stay sole.
TEST(Exclusive, AFetchServedMakesThePageShared) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 3), other = c.page_of(0, 40);
  c[0].mark_sole(page);
  c[0].mark_sole(other);
  c[0].write(page, 9, kValue);
  const std::uint32_t s = c[1].post(Op::kFetchPage, channel::FetchPageRequest{page, 1});
  c.pump();
  ASSERT_EQ(c[1].status(s), 0);
  EXPECT_EQ(c[1].read(page, 9), kValue);
  EXPECT_FALSE(c[0].sole(page));
  EXPECT_TRUE(c[0].sent(page));
  EXPECT_TRUE(c[0].sole(other));
}

TEST(Exclusive, PagesReadAheadAreShared) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 32);
  for (std::uint64_t p = page; p < page + 2 + channel::kMaxPagesPerFetch; ++p) c[0].mark_sole(p);
  c[0].mark_sole(page + 200);
  for (std::uint64_t p : {page, page + 1}) {
    const std::uint32_t s = c[1].post(Op::kFetchPage, channel::FetchPageRequest{p, 1});
    c.pump();
    ASSERT_EQ(c[1].status(s), 0);
  }
  ASSERT_EQ(stat(c[1], "pages_read_ahead"), channel::kMaxPagesPerFetch);
  for (std::uint64_t p = page; p < page + 2 + channel::kMaxPagesPerFetch; ++p) EXPECT_FALSE(c[0].sole(p)) << p;
  EXPECT_TRUE(c[0].sole(page + 200)) << "beyond the read-ahead window: never sent";
}

// Node 0 sends copies of its pages with notices: those are shared again.
TEST(Exclusive, CopiesSentWithNoticesMakeThePageShared) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 6);
  fetch_one(c, 1, page);
  c[0].write(page, 5, kValue);
  c[0].mark_sole(page);  // the program's release marks it before the notice goes
  const std::uint32_t r = c[0].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[0].status(r), 0);
  EXPECT_TRUE(c[0].sole(page));
  const std::uint32_t l = c[1].post(Op::kLock, channel::LockRequest{0x99, 0, 0});
  c.pump();
  ASSERT_EQ(stat(c[0], "page_copies_sent"), 1u);
  EXPECT_FALSE(c[0].sole(page));
  c[1].free(l);
}

// ---- releases ---------------------------------------------------------------------

// Node 1 writes a page homed at node 2, which writes other bytes of it at
// the same time (false sharing): the diff carries only node 1's bytes.
TEST(Release, DiffsGoHomeAndNoticesToNodeZero) {
  FakeCluster c(3);
  const std::uint64_t page = c.page_of(2, 9);
  c[1].write(page, 10, kValue);
  c[2].write(page, 20, std::byte{0x77});
  const std::uint32_t s = c[1].post_words(Op::kRelease, {page});
  c.pump();
  EXPECT_EQ(c[1].status(s), 0);
  EXPECT_EQ(c[2].read(page, 10), kValue);
  EXPECT_EQ(c[2].read(page, 20), std::byte{0x77});
  EXPECT_EQ(stat(c[1], "diffs_sent"), 1u);
  EXPECT_EQ(stat(c[2], "diffs_applied"), 1u);
  // Node 0 logged the notice: its own acquire lists the page.
  const std::uint32_t a = c[0].post_empty(Op::kAcquire);
  c.pump();
  std::uint64_t epoch = 0;
  EXPECT_EQ(listed_pages(c[0], a, &epoch), std::vector<std::uint64_t>{page});
  EXPECT_EQ(epoch, 1u);
}

constexpr std::uint64_t one_run_diff_bytes(std::uint64_t n) { return 4 + n; }  // page_diff.h: u16 offset, u16 length

// A page the program keeps writable after its release: the agent diffs it
// from one snapshot that becomes the twin, so the next diff holds only what
// was written since; releases that find nothing count as quiet.
TEST(Release, AWritablePageIsDiffedAgainstItsLastDiff) {
  FakeCluster c(3);
  const std::uint64_t page = c.page_of(2, 9);
  auto release = [&] {
    const std::uint32_t s = c[1].post_words(Op::kRelease, {page});
    c.pump();
    ASSERT_EQ(c[1].status(s), 0);
    c[1].free(s);
  };
  c[1].write(page, 10, kValue);
  release();
  EXPECT_EQ(stat(c[1], "diff_bytes_sent"), one_run_diff_bytes(1));
  c[1].write_in_place(page, 20, std::byte{0x55});
  release();
  EXPECT_EQ(stat(c[1], "diffs_sent"), 2u);
  EXPECT_EQ(stat(c[1], "diff_bytes_sent"), 2 * one_run_diff_bytes(1)) << "only the new byte";
  EXPECT_EQ(c[2].read(page, 10), kValue);
  EXPECT_EQ(c[2].read(page, 20), std::byte{0x55});
  EXPECT_EQ(sole_copy::quiet_releases(c[1].mark(page)), 0u);
  release();
  release();
  EXPECT_EQ(stat(c[1], "diffs_sent"), 2u);
  EXPECT_EQ(sole_copy::quiet_releases(c[1].mark(page)), 2u);
  c[1].write_in_place(page, 30, kValue);
  release();
  EXPECT_EQ(stat(c[1], "diffs_sent"), 3u);
  EXPECT_EQ(sole_copy::quiet_releases(c[1].mark(page)), 0u) << "written again: no longer quiet";
  // A contended page's bits count the program's releases: the agent leaves them.
  c[1].set_mark(page, sole_copy::kContended | sole_copy::kQuietOne);
  release();
  EXPECT_EQ(c[1].mark(page), sole_copy::kContended | sole_copy::kQuietOne);
}

TEST(Release, NodeZerosOwnReleaseIsNumberedAtOnce) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 2);
  c[0].write(page, 0, kValue);
  const std::uint32_t s = c[0].post_words(Op::kRelease, {page});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[0].status(s), 0);
  EXPECT_EQ(c[0].reply_as<channel::ReleaseReply>(s).epoch, 1u);
}

TEST(Release, PagesWrittenWithTheirOldBytesNeedNoMessage) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 2);
  c[1].write(page, 0, std::byte{0});  // the same byte again
  const std::uint32_t s = c[1].post_words(Op::kRelease, {page});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(c[1].status(s), 0);
  EXPECT_EQ(stat(c[1], "diffs_sent"), 0u);
}

TEST(Release, BadReleasesAreRefused) {
  FakeCluster c(2);
  const std::uint32_t outside = c[1].post_words(Op::kRelease, {c.geometry().page_count() + 5});
  const std::uint32_t ragged = c[1].post_bytes(Op::kRelease, std::vector<unsigned char>(12));
  c.pump();
  EXPECT_EQ(c[1].status(outside), -EFAULT);
  EXPECT_EQ(c[1].status(ragged), -EINVAL);
}

TEST(Release, MalformedDiffsAreRejectedByTheHome) {
  FakeCluster c(3);
  const std::uint64_t page = c.page_of(2, 1);
  wire::DiffBatch garbage{77, {page}, {std::vector<std::byte>(3, std::byte{0xff})}, {}};
  wire::DiffBatch unpaired{78, {page, page + 1}, {}, {}};
  wire::DiffBatch not_homed{79, {c.page_of(1)}, {std::vector<std::byte>(5, std::byte{0})}, {}};
  ASSERT_TRUE(c[1].gate().send(2, garbage));
  ASSERT_TRUE(c[1].gate().send(2, unpaired));
  ASSERT_TRUE(c[1].gate().send(2, not_homed));
  testing::internal::CaptureStderr();
  c.pump();  // acknowledged with their rejections; node 1 expected none of them
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("rejected 1 malformed diff(s) from node 1"), std::string::npos) << log;
  EXPECT_NE(log.find("dropped an unexpected reply from node 2"), std::string::npos) << log;
  EXPECT_EQ(stat(c[2], "diffs_applied"), 0u);
  for (std::size_t i = 0; i < region::kPageSize; ++i) ASSERT_EQ(c[2].read(page, i), std::byte{0});
}

// ---- acquires ---------------------------------------------------------------------

TEST(Acquire, AfterATokenFromNodeZeroItIsAnsweredHere) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 4);
  c[0].write(page, 0, kValue);
  const std::uint32_t r = c[0].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[0].reply_as<channel::ReleaseReply>(r).epoch, 1u);
  // Node 0 grants the token with the notices node 1 lacks: the lock's
  // reply is the acquire's answer, no kAcquire needed.
  const std::uint32_t l = c[1].post(Op::kLock, channel::LockRequest{0x99, 0, 0});
  c.pump();
  EXPECT_EQ(c[1].status(l), channel::kLockFromAfar);
  std::uint64_t epoch = 0;
  EXPECT_EQ(listed_pages(c[1], l, &epoch), std::vector<std::uint64_t>{page});
  EXPECT_EQ(epoch, 1u);
  EXPECT_EQ(c[1].layout().header.acquires_answered_here.load(), 1u);
  c[1].mark_applied(epoch);
  // A synced acquire now needs no message, and lists nothing new.
  const std::uint32_t a = c[1].post(Op::kAcquire, channel::AcquireRequest{1});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_TRUE(listed_pages(c[1], a).empty());
  EXPECT_EQ(stat(c[1], "acquires_answered_here"), 2u);
}

TEST(Acquire, WithoutASyncItAsksNodeZero) {
  FakeCluster c(3);
  const std::uint64_t page = c.page_of(0, 4);
  c[2].write(page, 0, kValue);
  const std::uint32_t r = c[2].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[2].status(r), 0);
  const std::uint32_t a = c[1].post_empty(Op::kAcquire);
  EXPECT_GT(c.pump(), 1u);
  EXPECT_EQ(listed_pages(c[1], a), std::vector<std::uint64_t>{page});
  // Its own writes are not listed to the writer.
  const std::uint32_t own = c[2].post_empty(Op::kAcquire);
  c.pump();
  EXPECT_TRUE(listed_pages(c[2], own).empty());
}

TEST(Acquire, ALongListComesInParts) {
  FakeCluster c(2);
  constexpr std::size_t kPerRelease = 1500;
  std::vector<std::uint64_t> all;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::uint64_t> pages(kPerRelease);
    std::iota(pages.begin(), pages.end(), c.page_of(0, r * kPerRelease));
    for (std::uint64_t p : pages) c[0].write(p, 0, kValue);
    const std::uint32_t s = c[0].post_words(Op::kRelease, pages);
    c.pump();
    ASSERT_EQ(c[0].status(s), 0);
    c[0].free(s);
    all.insert(all.end(), pages.begin(), pages.end());
  }
  const std::uint32_t a = c[1].post_empty(Op::kAcquire);
  c.pump();
  auto bytes = c[1].reply(a);
  channel::AcquireAnswer answer;
  ASSERT_TRUE(channel::read_acquire_answer(bytes.data(), bytes.size(), answer));
  ASSERT_NE(answer.head.cursor, 0u);
  EXPECT_EQ(answer.head.total, all.size());
  std::vector<std::uint64_t> got(answer.pages.begin(), answer.pages.end());
  ASSERT_LT(got.size(), all.size());
  const std::uint32_t more = c[1].post(Op::kAcquireMore, channel::AcquireMoreRequest{answer.head.cursor, got.size()});
  EXPECT_EQ(c.pump(), 1u);
  auto rest = c[1].reply(more);
  ASSERT_EQ(rest.size() % sizeof(std::uint64_t), 0u);
  for (std::size_t i = 0; i < rest.size(); i += sizeof(std::uint64_t)) {
    std::uint64_t p;
    std::memcpy(&p, rest.data() + i, sizeof p);
    got.push_back(p);
  }
  EXPECT_EQ(got, all);
  // The list is gone once read to its end.
  c[1].free(more);
  const std::uint32_t again = c[1].post(Op::kAcquireMore, channel::AcquireMoreRequest{answer.head.cursor, 0});
  c.pump();
  EXPECT_EQ(c[1].status(again), -EINVAL);
}

// Node 0 sends the current bytes of its pages a node read before with the
// notices naming them: the acquire installs them instead of faulting.
TEST(Acquire, CopiesRideWithNoticesOfPagesTheReaderHeld) {
  FakeCluster c(2);
  const std::uint64_t page = c.page_of(0, 6);
  fetch_one(c, 1, page);
  c[0].write(page, 5, kValue);
  const std::uint32_t r = c[0].post_words(Op::kRelease, {page});
  c.pump();
  ASSERT_EQ(c[0].status(r), 0);
  const std::uint32_t l = c[1].post(Op::kLock, channel::LockRequest{0x99, 0, 0});
  c.pump();
  auto bytes = c[1].reply(l);
  channel::AcquireAnswer answer;
  ASSERT_TRUE(channel::read_acquire_answer(bytes.data(), bytes.size(), answer));
  ASSERT_EQ(answer.head.copies, 1u);
  EXPECT_EQ(answer.copy_pages[0], page);
  EXPECT_EQ(static_cast<std::byte>(answer.copy_bytes[5]), kValue);
  EXPECT_EQ(stat(c[0], "page_copies_sent"), 1u);
}

TEST(Acquire, AnUnexpectedNoticeListAnswersNobody) {
  FakeCluster c(2);
  ASSERT_TRUE(c[0].gate().send(1, wire::NoticeList{42, wire::Notices{3, {c.page_of(0)}, {}, {}}}));
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("dropped an unexpected reply from node 0"),
            std::string::npos);
  // Its notices were taken in all the same: a synced acquire lists them.
  const std::uint32_t a = c[1].post(Op::kAcquire, channel::AcquireRequest{1});
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_EQ(listed_pages(c[1], a), std::vector<std::uint64_t>{c.page_of(0)});
}

TEST(Acquire, BadRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t odd = c[1].post_bytes(Op::kAcquire, std::vector<unsigned char>(3));
  const std::uint32_t no_list = c[1].post(Op::kAcquireMore, channel::AcquireMoreRequest{5, 0});
  c.pump();
  EXPECT_EQ(c[1].status(odd), -EINVAL);
  EXPECT_EQ(c[1].status(no_list), -EINVAL);
}

// ---- the job-wide barrier -------------------------------------------------------------

TEST(BarrierAll, EveryNodeLeavesOnceAllArrived) {
  FakeCluster c(3);
  for (int round = 1; round <= 2; ++round) {
    const std::uint32_t s0 = c[0].post_empty(Op::kBarrier);
    const std::uint32_t s1 = c[1].post_empty(Op::kBarrier);
    c.pump();
    EXPECT_FALSE(c[0].answered(s0));
    EXPECT_FALSE(c[1].answered(s1));
    const std::uint32_t s2 = c[2].post_empty(Op::kBarrier);
    c.pump();
    const std::uint32_t slots[] = {s0, s1, s2};
    for (wire::NodeId n = 0; n < 3; ++n) {
      EXPECT_EQ(c[n].status(slots[n]), 0);
      EXPECT_TRUE(listed_pages(c[n], slots[n]).empty());
      c[n].free(slots[n]);
    }
  }
  EXPECT_EQ(stat(c[1], "barriers"), 2u);
}

// The release before a barrier arrives for the program as soon as it is on
// its way: the others may leave before the program asks for the barrier,
// whose call then returns at once. The departure lists the page written.
TEST(BarrierAll, TheReleaseBeforeABarrierArrivesForTheProgram) {
  FakeCluster c(3);
  const std::uint64_t page = c.page_of(2, 3);
  c[1].write(page, 0, kValue);
  const std::uint32_t r = c[1].post_words(Op::kReleaseForBarrier, {page});
  c.pump();
  EXPECT_EQ(c[1].status(r), 0);
  const std::uint32_t s0 = c[0].post_empty(Op::kBarrier);
  const std::uint32_t s2 = c[2].post_empty(Op::kBarrier);
  c.pump();
  EXPECT_EQ(listed_pages(c[0], s0), std::vector<std::uint64_t>{page});
  EXPECT_TRUE(listed_pages(c[2], s2).empty());  // its home has it
  const std::uint32_t s1 = c[1].post_empty(Op::kBarrier);
  EXPECT_EQ(c.pump(), 1u);
  EXPECT_TRUE(listed_pages(c[1], s1).empty());  // its writer too
}

TEST(BarrierAll, OneBarrierPerNodeAtATime) {
  FakeCluster c(2);
  const std::uint32_t first = c[0].post_empty(Op::kBarrier);
  const std::uint32_t second = c[0].post_empty(Op::kBarrier);
  c.pump();
  EXPECT_FALSE(c[0].answered(first));
  EXPECT_EQ(c[0].status(second), -EBUSY);
}

// ---- remote frees -----------------------------------------------------------------------

TEST(RemoteFrees, FreesReachTheirHomesInbox) {
  FakeCluster c(3);
  const std::uint32_t s = c[0].post(Op::kRemoteFree, channel::RemoteFreeHead{2, 0}, {0x100, 0x200});
  const std::uint32_t own = c[0].post(Op::kRemoteFree, channel::RemoteFreeHead{0, 0}, {0x300});
  c.pump();
  EXPECT_EQ(c[0].status(s), 0);
  EXPECT_EQ(c[0].status(own), 0);
  EXPECT_EQ(c[2].take_inbox(), (std::vector<std::uint64_t>{0x100, 0x200}));
  EXPECT_EQ(c[0].take_inbox(), std::vector<std::uint64_t>{0x300});
  EXPECT_TRUE(c[1].take_inbox().empty());
}

TEST(RemoteFrees, WhatDoesNotFitTheInboxWaitsForRoom) {
  FakeCluster c(2);
  constexpr std::size_t kPerCall = 2000;
  const std::size_t calls = channel::kInboxEntries / kPerCall + 1;
  std::vector<std::uint64_t> sent;
  for (std::size_t i = 0; i < calls; ++i) {
    std::vector<std::uint64_t> pointers(kPerCall);
    std::iota(pointers.begin(), pointers.end(), i * kPerCall + 1);
    const std::uint32_t s = c[0].post(Op::kRemoteFree, channel::RemoteFreeHead{1, 0}, pointers);
    c.pump();
    ASSERT_EQ(c[0].status(s), 0);
    c[0].free(s);
    sent.insert(sent.end(), pointers.begin(), pointers.end());
  }
  std::vector<std::uint64_t> got = c[1].take_inbox();
  EXPECT_EQ(got.size(), channel::kInboxEntries);
  c[1].serve();  // the program drained its inbox: the rest goes in
  const auto rest = c[1].take_inbox();
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, sent);
}

TEST(RemoteFrees, BadRequestsAreRefused) {
  FakeCluster c(2);
  const std::uint32_t bad_home = c[0].post(Op::kRemoteFree, channel::RemoteFreeHead{2, 0}, {0x100});
  const std::uint32_t ragged = c[0].post_bytes(Op::kRemoteFree, std::vector<unsigned char>(12));
  c.pump();
  EXPECT_EQ(c[0].status(bad_home), -EINVAL);
  EXPECT_EQ(c[0].status(ragged), -EINVAL);
}

}  // namespace
}  // namespace gpt::test
