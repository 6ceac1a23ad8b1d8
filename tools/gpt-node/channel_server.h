// The agent side of the channel: one thread that serves the application's
// requests (gpt/channel.h). Handlers run on this thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>

#include "gpt/channel.h"

namespace gpt::node {

struct Reply {
  std::int32_t status = 0;   // 0 or a negative errno
  std::uint32_t length = 0;  // bytes written into the reply buffer
};

class ChannelServer {
 public:
  // `request` and `reply` alias the slot's payload: a handler must read what
  // it needs from the request before writing the reply.
  using Handler = std::function<Reply(channel::Op op, std::span<const unsigned char> request,
                                      std::span<unsigned char> reply)>;

  ChannelServer(channel::Layout& layout, Handler handler);
  ~ChannelServer();  // stops and joins
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;

  [[nodiscard]] std::uint64_t served() const { return served_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stop);
  bool serve_pending();

  channel::Layout& layout_;
  Handler handler_;
  std::atomic<std::uint64_t> served_{0};
  std::jthread thread_;
};

// The handler for the requests every agent answers the same way (kEcho).
[[nodiscard]] Reply serve_builtin(channel::Op op, std::span<const unsigned char> request,
                                  std::span<unsigned char> reply);

}  // namespace gpt::node
