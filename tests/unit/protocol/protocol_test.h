// Shared helpers of the protocol tests (fake_cluster.h plays the program).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fake_cluster.h"
#include "gpt/channel_ops.h"

namespace gpt::test {

using channel::Op;

// The service thread's part in a lock hand-over: every kFlushLock downcall
// is answered with kLockFlushed (after releasing, which these tests do
// not need). Returns the locks flushed.
inline std::vector<std::uint64_t> answer_lock_flushes(FakeCluster& cluster, FakeNode& node) {
  std::vector<std::uint64_t> flushed;
  std::vector<std::uint32_t> slots;
  for (const Downcall& d : node.take_downcalls()) {
    EXPECT_EQ(d.op, static_cast<std::uint32_t>(channel::Downcall::kFlushLock));
    flushed.push_back(d.arg);
    slots.push_back(node.post(Op::kLockFlushed, channel::LockRequest{d.arg, 0, 0}));
  }
  cluster.pump();
  for (std::uint32_t s : slots) {
    EXPECT_EQ(node.status(s), 0);
    node.free(s);
  }
  return flushed;
}

// The pages an acquire answer lists (it must be well formed and whole).
inline std::vector<std::uint64_t> listed_pages(FakeNode& node, std::uint32_t slot, std::uint64_t* epoch = nullptr) {
  auto bytes = node.reply(slot);
  channel::AcquireAnswer answer;
  EXPECT_TRUE(channel::read_acquire_answer(bytes.data(), bytes.size(), answer));
  EXPECT_EQ(answer.head.cursor, 0u) << "a list too long for one reply";
  if (epoch) *epoch = answer.head.epoch;
  return std::vector<std::uint64_t>(answer.pages.begin(), answer.pages.end());
}

inline bool contains(const std::vector<std::uint64_t>& v, std::uint64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The value of `name` in a node's GPT_STATS counters.
inline std::uint64_t stat(FakeNode& node, const std::string& name) {
  const std::string line = " " + node.stats();
  const auto at = line.find(" " + name + "=");
  EXPECT_NE(at, std::string::npos) << name << " is not among " << line;
  if (at == std::string::npos) return 0;
  return std::stoull(line.substr(at + name.size() + 2));
}

}  // namespace gpt::test
