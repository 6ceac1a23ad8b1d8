#include "channel_server.h"

#include <cerrno>
#include <cstring>

#include "gpt/futex.h"

namespace gpt::node {

using channel::SlotState;

ChannelServer::ChannelServer(channel::Layout& layout, Handler handler)
    : layout_(layout), handler_(std::move(handler)) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

ChannelServer::~ChannelServer() {
  thread_.request_stop();
  layout_.header.agent_doorbell.fetch_add(1);
  futex::wake_all(&layout_.header.agent_doorbell);
}

bool ChannelServer::serve_pending() {
  bool any = false;
  for (auto& slot : layout_.slots) {
    auto expected = static_cast<std::uint32_t>(SlotState::kRequest);
    if (!slot.h.state.compare_exchange_strong(expected,
                                              static_cast<std::uint32_t>(SlotState::kServing),
                                              std::memory_order_acquire))
      continue;
    any = true;
    // The application may scribble on its side; never trust `length`.
    std::uint32_t len = slot.h.length;
    if (len > channel::kSlotPayload) len = channel::kSlotPayload;
    Reply r = handler_(static_cast<channel::Op>(slot.h.op),
                       std::span<const unsigned char>(slot.payload, len),
                       std::span<unsigned char>(slot.payload, channel::kSlotPayload));
    slot.h.status = r.status;
    slot.h.length = r.length;
    served_.fetch_add(1, std::memory_order_relaxed);
    slot.h.state.store(static_cast<std::uint32_t>(SlotState::kReply), std::memory_order_release);
    futex::wake(&slot.h.state);
  }
  return any;
}

void ChannelServer::run(const std::stop_token& stop) {
  auto& bell = layout_.header.agent_doorbell;
  while (!stop.stop_requested()) {
    std::uint32_t seen = bell.load(std::memory_order_acquire);
    if (serve_pending()) continue;
    // A request published after our scan has bumped the bell, so the wait
    // returns at once. The timeout only bounds how long a stop can take.
    futex::wait(&bell, seen, 100'000'000);
  }
}

Reply serve_builtin(channel::Op op, std::span<const unsigned char> request,
                    std::span<unsigned char> reply) {
  switch (op) {
    case channel::Op::kEcho:
      std::memmove(reply.data(), request.data(), request.size());
      return {0, static_cast<std::uint32_t>(request.size())};
  }
  return {-ENOSYS, 0};
}

}  // namespace gpt::node
