#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "frame_seal.h"

using gpt::net::FrameSeal;

namespace {

std::array<unsigned char, 32> key(unsigned char fill) {
  std::array<unsigned char, 32> k;
  k.fill(fill);
  return k;
}

std::vector<std::byte> text(const std::string& s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

FrameSeal::Refusal refusal(const std::variant<FrameSeal::Opened, FrameSeal::Refusal>& r) {
  EXPECT_TRUE(std::holds_alternative<FrameSeal::Refusal>(r));
  return std::holds_alternative<FrameSeal::Refusal>(r) ? std::get<FrameSeal::Refusal>(r) : FrameSeal::Refusal{};
}

}  // namespace

TEST(FrameSeal, OpensWhatTheJobSealedAndNamesTheSender) {
  auto k = key(7);
  FrameSeal node3(k, 3), node0(k, 0);
  for (std::size_t size : {0u, 1u, 64u, 4096u, 65536u + 13u}) {
    std::vector<std::byte> plain(size);
    for (std::size_t i = 0; i < size; ++i) plain[i] = static_cast<std::byte>(i * 31 + 5);
    auto sealed = node3.seal(plain);
    ASSERT_EQ(sealed.size(), size + FrameSeal::kOverhead);
    // Encrypted: the payload does not appear in the clear.
    if (size >= 64) EXPECT_EQ(std::search(sealed.begin(), sealed.end(), plain.begin(), plain.begin() + 64), sealed.end());
    auto opened = node0.open(sealed);
    ASSERT_TRUE(std::holds_alternative<FrameSeal::Opened>(opened)) << size;
    EXPECT_EQ(std::get<FrameSeal::Opened>(opened).sender, 3u);
    EXPECT_EQ(std::get<FrameSeal::Opened>(opened).plain, plain);
  }
}

TEST(FrameSeal, AnyChangedByteIsRefused) {
  auto k = key(1);
  FrameSeal sender(k, 2);
  auto sealed = sender.seal(text("the page you asked for"));
  // Nonce (sender and counter), ciphertext, tag: every byte is covered.
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    FrameSeal receiver(k, 0);
    auto bad = sealed;
    bad[i] ^= std::byte{0x01};
    EXPECT_EQ(refusal(receiver.open(bad)), FrameSeal::Refusal::kForged) << "byte " << i;
  }
}

TEST(FrameSeal, AnotherKeyShortFramesAndReplaysAreRefused) {
  FrameSeal ours(key(1), 1), theirs(key(2), 1), receiver(key(1), 0);
  EXPECT_EQ(refusal(receiver.open(theirs.seal(text("hello")))), FrameSeal::Refusal::kForged);
  EXPECT_EQ(refusal(receiver.open(std::vector<std::byte>(FrameSeal::kOverhead - 1))), FrameSeal::Refusal::kTooShort);
  auto first = ours.seal(text("first"));
  auto second = ours.seal(text("second"));
  ASSERT_TRUE(std::holds_alternative<FrameSeal::Opened>(receiver.open(second)));
  // Older than what was opened already, or the very same frame again.
  EXPECT_EQ(refusal(receiver.open(first)), FrameSeal::Refusal::kReplayed);
  EXPECT_EQ(refusal(receiver.open(second)), FrameSeal::Refusal::kReplayed);
  EXPECT_TRUE(std::holds_alternative<FrameSeal::Opened>(receiver.open(ours.seal(text("third")))));
}

TEST(FrameSeal, CountersArePerSenderAndOnlyAuthenticFramesMoveThem) {
  auto k = key(9);
  FrameSeal a(k, 1), b(k, 2), receiver(k, 0);
  auto a1 = a.seal(text("a1"));
  // A forgery claiming a huge counter from sender 1 must not block sender 1.
  auto forged = a1;
  std::uint64_t huge = ~0ull;
  std::memcpy(forged.data() + 4, &huge, sizeof huge);
  EXPECT_EQ(refusal(receiver.open(forged)), FrameSeal::Refusal::kForged);
  EXPECT_TRUE(std::holds_alternative<FrameSeal::Opened>(receiver.open(a1)));
  // Sender 2's first frame has counter 1 too: not a replay of sender 1's.
  EXPECT_TRUE(std::holds_alternative<FrameSeal::Opened>(receiver.open(b.seal(text("b1")))));
}
