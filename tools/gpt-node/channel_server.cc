#include "channel_server.h"

#include <cerrno>
#include <cstring>

#include "gpt/futex.h"

namespace gpt::node {

using channel::SlotState;

ChannelServer::ChannelServer(channel::Layout& layout, Handler handler)
    : layout_(layout), handler_(std::move(handler)) {}

std::size_t ChannelServer::serve_pending() {
  // Before the scan: a request published after it has moved the bell on.
  bell_seen_ = layout_.header.agent_doorbell.load(std::memory_order_seq_cst);
  std::size_t taken = 0;
  auto& published = layout_.header.published;
  for (std::uint32_t word = 0; word < channel::kSlotCount / 64; ++word) {
    // A plain load first: most words are zero, and a locked exchange on
    // each of them, every turn of the agent's loop, is not free.
    if (published[word].load(std::memory_order_relaxed) == 0) continue;
    for (std::uint64_t bits = published[word].exchange(0, std::memory_order_acquire); bits; bits &= bits - 1)
      if (serve_slot(word * 64 + static_cast<std::uint32_t>(__builtin_ctzll(bits)))) ++taken;
  }
  return taken;
}

bool ChannelServer::serve_slot(std::uint32_t i) {
  auto& slot = layout_.slots[i];
  auto expected = static_cast<std::uint32_t>(SlotState::kRequest);
  // The application may scribble on its side: a bit whose slot holds no
  // request is ignored.
  if (!slot.h.state.compare_exchange_strong(expected, static_cast<std::uint32_t>(SlotState::kServing),
                                            std::memory_order_acquire))
    return false;
  // Never trust `length` either.
  std::uint32_t len = slot.h.length;
  if (len > channel::kSlotPayload) len = channel::kSlotPayload;
  std::optional<Reply> r =
      handler_(i, static_cast<channel::Op>(slot.h.op), std::span<const unsigned char>(slot.payload, len),
               std::span<unsigned char>(slot.payload, channel::kSlotPayload));
  if (r) complete(i, *r);
  return true;
}

bool ChannelServer::rang() const {
  return layout_.header.agent_doorbell.load(std::memory_order_seq_cst) != bell_seen_;
}

void ChannelServer::set_polling(bool polling) {
  layout_.header.agent_polling.store(polling ? 1 : 0, std::memory_order_seq_cst);
}

// Its bit in `published` stays set: the next scan finds the slot taken and
// skips it, as it skips any bit without a request.
bool ChannelServer::serve_now(std::uint32_t slot) { return slot < channel::kSlotCount && serve_slot(slot); }

void ChannelServer::complete(std::uint32_t index, Reply reply) {
  auto& slot = layout_.slots[index];
  slot.h.status = reply.status;
  slot.h.length = reply.length;
  served_.fetch_add(1, std::memory_order_relaxed);
  slot.h.state.store(static_cast<std::uint32_t>(SlotState::kReply), std::memory_order_release);
  futex::wake(&slot.h.state);
}

std::span<unsigned char> ChannelServer::payload(std::uint32_t index) {
  return std::span<unsigned char>(layout_.slots[index].payload, channel::kSlotPayload);
}

ChannelServerThread::ChannelServerThread(channel::Layout& layout, ChannelServer::Handler handler)
    : server_(layout, std::move(handler)) {
  thread_ = std::jthread([this](std::stop_token stop) {
    auto& bell = server_.layout().header.agent_doorbell;
    while (!stop.stop_requested()) {
      std::uint32_t seen = bell.load(std::memory_order_acquire);
      if (server_.serve_pending()) continue;
      // A request published after our scan has bumped the bell, so the wait
      // returns at once. The timeout only bounds how long a stop can take.
      futex::wait(&bell, seen, 100'000'000);
    }
  });
}

ChannelServerThread::~ChannelServerThread() {
  thread_.request_stop();
  server_.layout().header.agent_doorbell.fetch_add(1);
  futex::wake_all(&server_.layout().header.agent_doorbell);
}

bool push_downcall(channel::Layout& layout, channel::Downcall op, std::uint64_t arg) {
  auto& q = layout.downcalls;
  std::uint64_t head = q.head.load(std::memory_order_relaxed);
  if (head - q.tail.load(std::memory_order_acquire) >= channel::kDowncallEntries) return false;
  q.entries[head % channel::kDowncallEntries] = {static_cast<std::uint32_t>(op), 0, arg};
  q.head.store(head + 1, std::memory_order_release);
  q.bell.fetch_add(1, std::memory_order_release);
  futex::wake(&q.bell);
  return true;
}

std::optional<Reply> serve_builtin(channel::Op op, std::span<const unsigned char> request,
                                   std::span<unsigned char> reply) {
  switch (op) {
    case channel::Op::kEcho:
      std::memmove(reply.data(), request.data(), request.size());
      return Reply{0, static_cast<std::uint32_t>(request.size())};
    default:
      return std::nullopt;
  }
}

std::optional<Reply> serve_builtin_only(std::uint32_t, channel::Op op,
                                        std::span<const unsigned char> request,
                                        std::span<unsigned char> reply) {
  if (auto r = serve_builtin(op, request, reply)) return r;
  return Reply{-ENOSYS, 0};
}

}  // namespace gpt::node
