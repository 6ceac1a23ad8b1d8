// The channel's typed payloads (gpt/channel_ops.h): every struct encodes to
// the bytes the other side reads at fixed offsets, the trailer helpers keep
// to their bounds and refuse malformed input, and the typed client calls
// carry whole structs through a real channel.
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "channel_memory.h"
#include "channel_server.h"
#include "gpt/channel_client.h"
#include "gpt/channel_ops.h"

namespace {

namespace ch = gpt::channel;

// A payload buffer aligned like a slot's.
struct alignas(64) Payload {
  unsigned char bytes[4 * 4096 + 256] = {};
};

template <class T>
std::vector<unsigned char> encode(const T& value) {
  std::vector<unsigned char> out(sizeof value);
  std::memcpy(out.data(), &value, sizeof value);
  return out;
}

template <class T>
T decode(const std::vector<unsigned char>& bytes) {
  T value{};
  EXPECT_EQ(bytes.size(), sizeof value);
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

// Reads a field the way the agent does today: at a literal offset.
template <class T>
T at(const std::vector<unsigned char>& bytes, std::size_t offset) {
  T value{};
  EXPECT_LE(offset + sizeof value, bytes.size());
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// ---- Words, split_trailed, split_words ----------------------------------------------

TEST(ChannelOpsWords, SubStaysInsideTheView) {
  std::uint64_t words[5] = {10, 11, 12, 13, 14};
  ch::Words<std::uint64_t> all(words, 5);
  EXPECT_EQ(all.size(), 5u);
  EXPECT_EQ(all.bytes(), 40u);
  EXPECT_EQ(all.sub(1, 2).size(), 2u);
  EXPECT_EQ(all.sub(1, 2)[0], 11u);
  EXPECT_EQ(all.sub(3, 100).size(), 2u);  // clipped at the end
  EXPECT_EQ(all.sub(3, 100)[1], 14u);
  EXPECT_TRUE(all.sub(5, 1).empty());   // at the end
  EXPECT_TRUE(all.sub(99, 1).empty());  // past it
  EXPECT_EQ(all.sub(99, 1).data(), words + 5);
  std::uint64_t sum = 0;
  for (std::uint64_t w : all.sub(2, 2)) sum += w;
  EXPECT_EQ(sum, 25u);
}

TEST(ChannelOpsWords, EmptyViewHasNothing) {
  ch::Words<const std::uint64_t> none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.begin(), none.end());
  EXPECT_TRUE(none.sub(0, 3).empty());
}

TEST(ChannelOpsWords, SplitTrailedReadsHeadAndPages) {
  Payload p;
  const ch::LockRequest head{0x2000'0000'1000, 3, 0};
  const std::uint64_t pages[3] = {7, 8, 9};
  std::memcpy(p.bytes, &head, sizeof head);
  std::memcpy(p.bytes + sizeof head, pages, sizeof pages);
  ch::LockRequest got{};
  ch::Words<const std::uint64_t> words;
  ASSERT_TRUE(ch::split_trailed(static_cast<const unsigned char*>(p.bytes), sizeof head + sizeof pages, got, words));
  EXPECT_EQ(got.lock, head.lock);
  EXPECT_EQ(got.manager, 3u);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0], 7u);
  EXPECT_EQ(words[2], 9u);
}

TEST(ChannelOpsWords, SplitTrailedAcceptsAHeadAlone) {
  Payload p;
  const ch::RemoteFreeHead head{2, 0};
  std::memcpy(p.bytes, &head, sizeof head);
  ch::RemoteFreeHead got{};
  ch::Words<const std::uint64_t> words(reinterpret_cast<const std::uint64_t*>(p.bytes), 99);
  ASSERT_TRUE(ch::split_trailed(static_cast<const unsigned char*>(p.bytes), sizeof head, got, words));
  EXPECT_EQ(got.home, 2u);
  EXPECT_TRUE(words.empty());
}

TEST(ChannelOpsWords, SplitTrailedRefusesMalformedInput) {
  Payload p;
  std::memset(p.bytes, 0xab, sizeof p.bytes);
  ch::BarrierWaitRequest head{1, 2, 3, 4};
  ch::Words<const std::uint64_t> words;
  const auto* bytes = static_cast<const unsigned char*>(p.bytes);
  // Shorter than the head.
  EXPECT_FALSE(ch::split_trailed(bytes, sizeof head - 1, head, words));
  EXPECT_FALSE(ch::split_trailed(bytes, 0, head, words));
  // A trailer that is not whole words.
  EXPECT_FALSE(ch::split_trailed(bytes, sizeof head + 5, head, words));
  // Not aligned for reading the words in place.
  EXPECT_FALSE(ch::split_trailed(bytes + 4, sizeof head + 8, head, words));
  // Refused input leaves the outputs alone.
  EXPECT_EQ(head.barrier, 1u);
  EXPECT_EQ(head.token, 4u);
  EXPECT_TRUE(words.empty());
}

TEST(ChannelOpsWords, SplitWordsReadsAPageList) {
  Payload p;
  const std::uint64_t pages[4] = {1, 2, 3, 4};
  std::memcpy(p.bytes, pages, sizeof pages);
  ch::Words<std::uint64_t> words;
  ASSERT_TRUE(ch::split_words(p.bytes, sizeof pages, words));
  ASSERT_EQ(words.size(), 4u);
  words[1] = 42;  // the runtime marks entries in place
  std::uint64_t second = 0;
  std::memcpy(&second, p.bytes + 8, 8);
  EXPECT_EQ(second, 42u);
  EXPECT_TRUE(ch::split_words(p.bytes, 0, words));
  EXPECT_TRUE(words.empty());
  EXPECT_FALSE(ch::split_words(p.bytes, 12, words));
  EXPECT_FALSE(ch::split_words(p.bytes + 1, 8, words));
}

// ---- Acquire answers ----------------------------------------------------------------

// Writes an answer as the agent does (gpt-node/acquires.cc write_answer).
std::size_t write_answer(Payload& p, const ch::AcquireAnswerHead& head, const std::vector<std::uint64_t>& pages,
                         const std::vector<std::uint64_t>& copy_pages) {
  std::uint64_t h[4] = {head.cursor, head.total, head.epoch, head.copies};
  std::size_t at = 0;
  std::memcpy(p.bytes, h, sizeof h);
  at += sizeof h;
  std::memcpy(p.bytes + at, pages.data(), pages.size() * 8);
  at += pages.size() * 8;
  std::memcpy(p.bytes + at, copy_pages.data(), copy_pages.size() * 8);
  at += copy_pages.size() * 8;
  for (std::size_t c = 0; c < copy_pages.size(); ++c) {
    std::memset(p.bytes + at, static_cast<int>(0x10 + c), gpt::region::kPageSize);
    at += gpt::region::kPageSize;
  }
  return at;
}

TEST(ChannelOpsAcquire, ReadsListCopiesAndBytes) {
  Payload p;
  const std::size_t length = write_answer(p, {0, 3, 77, 2}, {5, 6, 9}, {6, 9});
  EXPECT_EQ(length, ch::acquire_answer_bytes(3, 2));
  ch::AcquireAnswer a;
  ASSERT_TRUE(ch::read_acquire_answer(p.bytes, length, a));
  EXPECT_EQ(a.head.cursor, 0u);
  EXPECT_EQ(a.head.total, 3u);
  EXPECT_EQ(a.head.epoch, 77u);
  ASSERT_EQ(a.pages.size(), 3u);
  EXPECT_EQ(a.pages[0], 5u);
  EXPECT_EQ(a.pages[2], 9u);
  ASSERT_EQ(a.copy_pages.size(), 2u);
  EXPECT_EQ(a.copy_pages[0], 6u);
  EXPECT_EQ(a.copy_pages[1], 9u);
  EXPECT_EQ(a.copy_bytes[0], 0x10);
  EXPECT_EQ(a.copy_bytes[gpt::region::kPageSize - 1], 0x10);
  EXPECT_EQ(a.copy_bytes[gpt::region::kPageSize], 0x11);
  EXPECT_EQ(a.copy_bytes + 2 * gpt::region::kPageSize, p.bytes + length);
}

TEST(ChannelOpsAcquire, ReadsAnEmptyAnswer) {
  Payload p;
  const std::size_t length = write_answer(p, {0, 0, 4, 0}, {}, {});
  ch::AcquireAnswer a;
  ASSERT_TRUE(ch::read_acquire_answer(p.bytes, length, a));
  EXPECT_EQ(a.head.epoch, 4u);
  EXPECT_TRUE(a.pages.empty());
  EXPECT_TRUE(a.copy_pages.empty());
}

TEST(ChannelOpsAcquire, ReadsAPartialListWithItsCursor) {
  Payload p;
  const std::size_t length = write_answer(p, {12, 1000, 9, 0}, {1, 2}, {});
  ch::AcquireAnswer a;
  ASSERT_TRUE(ch::read_acquire_answer(p.bytes, length, a));
  EXPECT_EQ(a.head.cursor, 12u);
  EXPECT_EQ(a.head.total, 1000u);
  EXPECT_EQ(a.pages.size(), 2u);
}

TEST(ChannelOpsAcquire, RefusesMalformedAnswers) {
  Payload p;
  ch::AcquireAnswer a;
  // Shorter than its head.
  write_answer(p, {0, 0, 1, 0}, {}, {});
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, sizeof(ch::AcquireAnswerHead) - 1, a));
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, 0, a));
  // More copies than bytes for them.
  std::size_t length = write_answer(p, {0, 1, 1, 1}, {5}, {5});
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, length - 1, a));
  write_answer(p, {0, 0, 1, 3}, {}, {});
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, sizeof(ch::AcquireAnswerHead) + 8, a));
  // A list that is not whole words.
  length = write_answer(p, {0, 2, 1, 0}, {5, 6}, {});
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, length - 3, a));
  // Not aligned.
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes + 4, 32, a));
}

TEST(ChannelOpsAcquire, CopiesCountCannotOverflowTheLength) {
  Payload p;
  write_answer(p, {0, 0, 1, ~std::uint64_t{0}}, {}, {});
  ch::AcquireAnswer a;
  EXPECT_FALSE(ch::read_acquire_answer(p.bytes, 64, a));
}

// ---- Each request and reply, against today's offsets ------------------------------------

TEST(ChannelOpsLayout, CoherenceRequestsAndReplies) {
  auto fetch = encode(ch::FetchPageRequest{100, 16});
  EXPECT_EQ(at<std::uint64_t>(fetch, 0), 100u);
  EXPECT_EQ(at<std::uint64_t>(fetch, 8), 16u);
  EXPECT_EQ(decode<ch::FetchPageRequest>(fetch).count, 16u);
  EXPECT_EQ(decode<ch::FetchPageReply>(encode(ch::FetchPageReply{3})).fetched, 3u);
  EXPECT_EQ(at<std::uint64_t>(encode(ch::ReleaseReply{55}), 0), 55u);
  EXPECT_EQ(at<std::uint32_t>(encode(ch::AcquireRequest{1}), 0), 1u);
  auto more = encode(ch::AcquireMoreRequest{7, 2040});
  EXPECT_EQ(at<std::uint64_t>(more, 0), 7u);
  EXPECT_EQ(at<std::uint64_t>(more, 8), 2040u);
  auto free_head = encode(ch::RemoteFreeHead{3, 0});
  EXPECT_EQ(free_head.size(), 8u);
  EXPECT_EQ(at<std::uint32_t>(free_head, 0), 3u);
}

TEST(ChannelOpsLayout, ThreadRequests) {
  // The agent reads kSpawn as u64 words: node | slot << 32, tcb, detached.
  auto spawn = encode(ch::SpawnRequest{2, 17, 0x2000'0000'0040, 1});
  EXPECT_EQ(at<std::uint64_t>(spawn, 0), 2u | std::uint64_t{17} << 32);
  EXPECT_EQ(at<std::uint64_t>(spawn, 8), 0x2000'0000'0040u);
  EXPECT_EQ(at<std::uint64_t>(spawn, 16), 1u);
  EXPECT_EQ(decode<ch::SpawnRequest>(spawn).slot, 17u);
  // kMigrate: u64 word 0 is the node.
  auto migrate = encode(ch::MigrateRequest{3, 0, 0x2000'0000'0080});
  EXPECT_EQ(at<std::uint64_t>(migrate, 0), 3u);
  EXPECT_EQ(at<std::uint64_t>(migrate, 8), 0x2000'0000'0080u);
  auto join = encode(ch::JoinRequest{0x2000'0000'00c0, 1});
  EXPECT_EQ(at<std::uint64_t>(join, 0), 0x2000'0000'00c0u);
  EXPECT_EQ(at<std::uint64_t>(join, 8), 1u);
  // A bare ThreadRequest is the first word of a JoinRequest.
  EXPECT_EQ(encode(ch::ThreadRequest{0x2000'0000'00c0}),
            std::vector<unsigned char>(join.begin(), join.begin() + 8));
}

TEST(ChannelOpsLayout, ShimAndSignals) {
  EXPECT_EQ(at<std::uint32_t>(encode(ch::FlushNodesRequest{}), 0), ch::kNoNode);
  EXPECT_EQ(at<std::uint32_t>(encode(ch::FlushNodesRequest{4}), 0), 4u);
  auto kill = encode(ch::KillRequest{1, 10, 0x2000'0000'0100, 2, 0});
  EXPECT_EQ(at<std::uint32_t>(kill, 0), 1u);
  EXPECT_EQ(at<std::uint32_t>(kill, 4), 10u);
  EXPECT_EQ(at<std::uint64_t>(kill, 8), 0x2000'0000'0100u);
  EXPECT_EQ(at<std::uint32_t>(kill, 16), 2u);
  auto d = encode(ch::SignalDisposition{12, 0, 0x401000, 0x4000000, 0x2});
  EXPECT_EQ(at<std::uint32_t>(d, 0), 12u);
  EXPECT_EQ(at<std::uint64_t>(d, 8), 0x401000u);
  EXPECT_EQ(at<std::uint64_t>(d, 16), 0x4000000u);
  EXPECT_EQ(at<std::uint64_t>(d, 24), 0x2u);
  EXPECT_EQ(at<std::uint32_t>(encode(ch::SignalQueryRequest{12}), 0), 12u);
}

TEST(ChannelOpsLayout, KillArgPacking) {
  const ch::KillArg k{0x2000'0000'0140, 3, 64};
  ASSERT_TRUE(ch::fits_kill_arg(k));
  const std::uint64_t arg = ch::pack_kill_arg(k);
  // As the agent packs it: tcb | hops << 48 | sig << 56.
  EXPECT_EQ(arg, 0x2000'0000'0140u | std::uint64_t{3} << 48 | std::uint64_t{64} << 56);
  const ch::KillArg back = ch::unpack_kill_arg(arg);
  EXPECT_EQ(back.tcb, k.tcb);
  EXPECT_EQ(back.hops, 3u);
  EXPECT_EQ(back.sig, 64u);
  EXPECT_FALSE(ch::fits_kill_arg(ch::KillArg{std::uint64_t{1} << 48, 0, 1}));
  EXPECT_FALSE(ch::fits_kill_arg(ch::KillArg{1, 256, 1}));
  EXPECT_FALSE(ch::fits_kill_arg(ch::KillArg{1, 0, 256}));
}

TEST(ChannelOpsLayout, LockRequests) {
  auto lock = encode(ch::LockRequest{0x2000'0000'0200, 5, 0});
  EXPECT_EQ(lock.size(), 16u);
  EXPECT_EQ(at<std::uint64_t>(lock, 0), 0x2000'0000'0200u);
  EXPECT_EQ(at<std::uint32_t>(lock, 8), 5u);
  auto timed = encode(ch::TimedLockRequest{{0x2000'0000'0200, 5, 0}, -1});
  EXPECT_EQ(timed.size(), 24u);
  EXPECT_EQ(at<std::int64_t>(timed, 16), -1);
  // A plain lock is the timed lock's first 16 bytes.
  EXPECT_EQ(lock, std::vector<unsigned char>(timed.begin(), timed.begin() + 16));
}

TEST(ChannelOpsLayout, CondRequests) {
  const ch::CondHead head{0x2000'0000'0300, 1, 1};
  auto h = encode(head);
  EXPECT_EQ(at<std::uint64_t>(h, 0), 0x2000'0000'0300u);
  EXPECT_EQ(at<std::uint32_t>(h, 8), 1u);
  EXPECT_EQ(at<std::uint32_t>(h, 12), 1u);
  auto sleep = encode(ch::CondSleepRequest{head, 99, -1});
  EXPECT_EQ(at<std::uint64_t>(sleep, 16), 99u);
  EXPECT_EQ(at<std::int64_t>(sleep, 24), -1);
  EXPECT_EQ(decode<ch::CondEnqueueReply>(encode(ch::CondEnqueueReply{99})).ticket, 99u);
}

TEST(ChannelOpsLayout, SemaphoreRequests) {
  const ch::SemHead head{0x2000'0000'0400, 2, 5, 0x0001'0000'0000'0007};
  auto h = encode(head);
  EXPECT_EQ(at<std::uint64_t>(h, 0), 0x2000'0000'0400u);
  EXPECT_EQ(at<std::uint32_t>(h, 8), 2u);
  EXPECT_EQ(at<std::uint32_t>(h, 12), 5u);
  EXPECT_EQ(at<std::uint64_t>(h, 16), 0x0001'0000'0000'0007u);
  auto wait = encode(ch::SemWaitRequest{head, 1000, 1, 0});
  EXPECT_EQ(at<std::int64_t>(wait, 24), 1000);
  EXPECT_EQ(at<std::uint32_t>(wait, 32), 1u);
  EXPECT_EQ(at<std::int64_t>(encode(ch::SemValueReply{-3}), 0), -3);
}

TEST(ChannelOpsLayout, RwLockRequests) {
  const ch::RwLockHead head{0x2000'0000'0500, 0, 1};
  auto h = encode(head);
  EXPECT_EQ(at<std::uint32_t>(h, 12), 1u);
  auto lock = encode(ch::RwLockRequest{head, 0, 1, 0});
  EXPECT_EQ(at<std::int64_t>(lock, 16), 0);
  EXPECT_EQ(at<std::uint32_t>(lock, 24), 1u);
  EXPECT_EQ(h, std::vector<unsigned char>(lock.begin(), lock.begin() + 16));
}

TEST(ChannelOpsLayout, KeyRequestAndReply) {
  auto req = encode(ch::KeyRequest{static_cast<std::uint32_t>(ch::KeyOp::kDelete), 7, 0x401200});
  EXPECT_EQ(at<std::uint32_t>(req, 0), 2u);
  EXPECT_EQ(at<std::uint32_t>(req, 4), 7u);
  EXPECT_EQ(at<std::uint64_t>(req, 8), 0x401200u);
  auto rep = encode(ch::KeyReply{7, 0, 0x401200});
  EXPECT_EQ(at<std::uint32_t>(rep, 0), 7u);
  EXPECT_EQ(at<std::uint64_t>(rep, 8), 0x401200u);
  EXPECT_EQ(static_cast<std::uint32_t>(ch::KeyOp::kCreate), 1u);
  EXPECT_EQ(static_cast<std::uint32_t>(ch::KeyOp::kQuery), 3u);
}

TEST(ChannelOpsLayout, BarrierWaitWithAndWithoutToken) {
  auto wait = encode(ch::BarrierWaitRequest{0x2000'0000'0600, 0, 4, 0x7fff'0000'1000});
  EXPECT_EQ(at<std::uint64_t>(wait, 0), 0x2000'0000'0600u);
  EXPECT_EQ(at<std::uint32_t>(wait, 8), 0u);
  EXPECT_EQ(at<std::uint32_t>(wait, 12), 4u);
  EXPECT_EQ(at<std::uint64_t>(wait, 16), 0x7fff'0000'1000u);
  EXPECT_EQ(ch::kBarrierWaitBytes, 16u);
}

// ---- Typed calls through a real channel -------------------------------------------------

TEST(ChannelOpsCall, TypedCallCarriesWholeStructs) {
  gpt::node::ChannelMemory mem(0, 1);
  gpt::node::ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  ch::Client client(&mem.layout());
  // kEcho replies with the request: a KeyRequest comes back as the same bytes.
  const ch::KeyRequest req{1, 9, 0x401300};
  ch::KeyRequest echoed{};
  auto r = client.call(ch::Op::kEcho, req, echoed);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.length, sizeof echoed);
  EXPECT_EQ(echoed.op, 1u);
  EXPECT_EQ(echoed.key, 9u);
  EXPECT_EQ(echoed.destructor, 0x401300u);
  // A reply longer than the struct is cut to it.
  const ch::SemWaitRequest longer{{1, 2, 3, 4}, 5, 6, 0};
  ch::SemHead head{};
  r = client.call(ch::Op::kEcho, longer, head);
  EXPECT_EQ(r.length, sizeof head);
  EXPECT_EQ(head.incarnation, 4u);
  EXPECT_EQ(client.call(ch::Op::kEcho, ch::ThreadRequest{1}).status, 0);
}

}  // namespace
