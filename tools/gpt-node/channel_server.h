// The agent side of the channel (gpt/channel.h): takes the application's
// published requests and completes them, at once or later (a page fetch
// completes when the home's reply arrives).
//
// The agent calls serve_pending() from its poll loop whenever the doorbell
// eventfd fires, or its spinning wait sees the doorbell word move (the
// server is that wait's SpinDoorbell: while the agent polls, the program
// does not write the eventfd). ChannelServerThread runs the same server on a thread of its
// own, woken by the futex doorbell, for unit tests and tools.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <thread>

#include "gpt/channel.h"
#include "transport.h"

namespace gpt::node {

struct Reply {
  std::int32_t status = 0;   // 0 or a negative errno (or an op-specific code)
  std::uint32_t length = 0;  // bytes written into the slot's payload
};

class ChannelServer final : public net::SpinDoorbell {
 public:
  // `request` and `reply` alias the slot's payload: a handler must read what
  // it needs from the request before writing the reply. Returning nullopt
  // defers the request; the owner completes it later with complete().
  using Handler = std::function<std::optional<Reply>(
      std::uint32_t slot, channel::Op op, std::span<const unsigned char> request,
      std::span<unsigned char> reply)>;

  ChannelServer(channel::Layout& layout, Handler handler);

  // Serves every published request. Returns how many were taken.
  std::size_t serve_pending();
  // Serves `slot` now if it holds a published request not taken yet (a
  // withdrawal of its wait must find the wait registered). False otherwise.
  bool serve_now(std::uint32_t slot);
  // Completes a deferred request; the reply bytes are already in payload().
  void complete(std::uint32_t slot, Reply reply);
  [[nodiscard]] std::span<unsigned char> payload(std::uint32_t slot);

  [[nodiscard]] std::uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  [[nodiscard]] channel::Layout& layout() const { return layout_; }

  // SpinDoorbell: the program rang after the last serve_pending() began;
  // whether the agent polls the doorbell word (channel::ring_agent).
  [[nodiscard]] bool rang() const override;
  void set_polling(bool polling) override;

 private:
  // Takes slot `i` if it holds a published request, and serves it.
  bool serve_slot(std::uint32_t i);

  channel::Layout& layout_;
  Handler handler_;
  std::atomic<std::uint64_t> served_{0};
  std::uint32_t bell_seen_ = 0;  // the doorbell word when serve_pending() last began
};

class ChannelServerThread {
 public:
  ChannelServerThread(channel::Layout& layout, ChannelServer::Handler handler);
  ~ChannelServerThread();  // stops and joins

  [[nodiscard]] std::uint64_t served() const { return server_.served(); }

 private:
  ChannelServer server_;
  std::jthread thread_;
};

// Hands work to the program's service thread (channel.h, DowncallQueue).
// False if the queue is full.
bool push_downcall(channel::Layout& layout, channel::Downcall op, std::uint64_t arg);

// Requests every agent answers the same way (kEcho); nullopt for others.
[[nodiscard]] std::optional<Reply> serve_builtin(channel::Op op,
                                                 std::span<const unsigned char> request,
                                                 std::span<unsigned char> reply);

// A handler that answers the built-in ops and refuses the rest with ENOSYS.
[[nodiscard]] std::optional<Reply> serve_builtin_only(std::uint32_t slot, channel::Op op,
                                                      std::span<const unsigned char> request,
                                                      std::span<unsigned char> reply);

}  // namespace gpt::node
