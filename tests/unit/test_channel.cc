// The agent <-> application channel: the runtime's client against the
// agent's server, over a real memfd, with many concurrent callers.
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "channel_memory.h"
#include "channel_server.h"
#include "gpt/channel_client.h"

namespace {

using gpt::channel::Client;
using gpt::channel::Op;
using gpt::node::ChannelMemory;
using gpt::node::ChannelServerThread;

TEST(Channel, HeaderDescribesTheNode) {
  ChannelMemory mem(3, 8);
  EXPECT_EQ(mem.layout().header.magic, gpt::channel::kMagic);
  EXPECT_EQ(mem.layout().header.version, gpt::channel::kVersion);
  EXPECT_EQ(mem.layout().header.node_id, 3u);
  EXPECT_EQ(mem.layout().header.node_count, 8u);
  EXPECT_EQ(mem.layout().header.shutdown.load(), 0u);
}

TEST(Channel, EchoRoundTrip) {
  ChannelMemory mem(0, 1);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  Client client(&mem.layout());
  const char msg[] = "hello agent";
  char reply[64] = {};
  auto r = client.call(Op::kEcho, msg, sizeof msg, reply, sizeof reply);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.length, sizeof msg);
  EXPECT_STREQ(reply, msg);
  EXPECT_EQ(server.served(), 1u);
}

TEST(Channel, UnknownOpIsRefusedWithENOSYS) {
  ChannelMemory mem(0, 1);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  Client client(&mem.layout());
  auto r = client.call(static_cast<Op>(999), nullptr, 0, nullptr, 0);
  EXPECT_EQ(r.status, -ENOSYS);
}

TEST(Channel, OversizedRequestIsRefusedLocally) {
  ChannelMemory mem(0, 1);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  Client client(&mem.layout());
  std::vector<char> big(gpt::channel::kSlotPayload + 1);
  auto r = client.call(Op::kEcho, big.data(), big.size(), nullptr, 0);
  EXPECT_EQ(r.status, -E2BIG);
  EXPECT_EQ(server.served(), 0u);
}

TEST(Channel, ReplyIsTruncatedToTheCallersBuffer) {
  ChannelMemory mem(0, 1);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  Client client(&mem.layout());
  const char msg[] = "0123456789";
  char reply[4] = {};
  auto r = client.call(Op::kEcho, msg, sizeof msg, reply, sizeof reply);
  EXPECT_EQ(r.length, 4u);
  EXPECT_EQ(std::memcmp(reply, "0123", 4), 0);
}

// More threads than slots, each checking its own replies: no reply goes to
// the wrong caller, none is lost.
TEST(Channel, ManyConcurrentCallersGetTheirOwnReplies) {
  ChannelMemory mem(0, 1);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  Client client(&mem.layout());
  constexpr int kThreads = 80;
  constexpr int kCalls = 300;
  std::vector<int> bad(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i) {
          long long req[2] = {t, i}, rep[2] = {-1, -1};
          auto r = client.call(Op::kEcho, req, sizeof req, rep, sizeof rep);
          if (r.status != 0 || rep[0] != t || rep[1] != i) ++bad[t];
        }
      });
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
  EXPECT_EQ(server.served(), static_cast<std::uint64_t>(kThreads) * kCalls);
}

// The real arrangement: the client in another process mapping the memfd.
TEST(Channel, WorksAcrossProcesses) {
  ChannelMemory mem(1, 2);
  ChannelServerThread server(mem.layout(), gpt::node::serve_builtin_only);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    void* p = mmap(nullptr, gpt::channel::kChannelBytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                   mem.fd(), 0);
    if (p == MAP_FAILED) _exit(2);
    Client client(static_cast<gpt::channel::Layout*>(p));
    for (int i = 0; i < 1000; ++i) {
      int rep = -1;
      auto r = client.call(Op::kEcho, &i, sizeof i, &rep, sizeof rep);
      if (r.status != 0 || rep != i) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(server.served(), 1000u);
}

// Ringing the agent: the doorbell word always moves; the eventfd is written
// only while the agent does not poll the word, and the agent's server sees
// the ring either way until its next scan.
TEST(Channel, RingingAPollingAgentWritesNoEventfd) {
  ChannelMemory mem(0, 1);
  auto& h = mem.layout().header;
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(fd, 0);
  h.doorbell_fd = fd;
  gpt::node::ChannelServer server(mem.layout(), gpt::node::serve_builtin_only);
  std::uint64_t count = 0;

  server.set_polling(true);
  EXPECT_EQ(h.agent_polling.load(), 1u);
  gpt::channel::ring_agent(mem.layout());
  EXPECT_EQ(read(fd, &count, sizeof count), -1) << "a polling agent was sent an eventfd write";
  EXPECT_TRUE(server.rang());
  (void)server.serve_pending();
  EXPECT_FALSE(server.rang());

  server.set_polling(false);
  gpt::channel::ring_agent(mem.layout());
  ASSERT_EQ(read(fd, &count, sizeof count), static_cast<ssize_t>(sizeof count));
  EXPECT_EQ(count, 1u);
  EXPECT_TRUE(server.rang());
  close(fd);
}

}  // namespace
