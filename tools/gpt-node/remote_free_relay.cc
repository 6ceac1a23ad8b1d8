#include "remote_free_relay.h"

#include <algorithm>
#include <cerrno>

#include "channel_request.h"
#include "channel_server.h"

namespace gpt::node {

RemoteFreeRelay::RemoteFreeRelay(const NodeContext& node) : node_(node) {}

std::optional<Reply> RemoteFreeRelay::on_request(std::uint32_t, channel::Op, std::span<const unsigned char> request,
                                                 std::span<unsigned char>) {
  channel::RemoteFreeHead head;
  Pages words;
  if (!read_trailed(request, head, words) || head.home >= node_.node_count) return Reply{-EINVAL, 0};
  std::vector<std::uint64_t> pointers(words.begin(), words.end());
  if (head.home == node_.self) deliver(pointers, node_.self);
  else node_.send(head.home, wire::RemoteFrees{std::move(pointers)});
  return Reply{0, 0};
}

void RemoteFreeRelay::on(const wire::RemoteFrees& m, wire::NodeId from) { deliver(m.pointers, from); }

void RemoteFreeRelay::deliver(const std::vector<std::uint64_t>& pointers, wire::NodeId from) {
  for (std::uint64_t p : pointers) overflow_.push_back(channel::pack_remote_free(from, channel::remote_free_pointer(p)));
  poll();
}

void RemoteFreeRelay::poll() {
  if (overflow_.empty()) return;
  auto& inbox = node_.channel.layout().inbox;
  const std::uint64_t head = inbox.head.load(std::memory_order_relaxed);
  const std::uint64_t tail = inbox.tail.load(std::memory_order_acquire);
  const std::size_t room = channel::kInboxEntries - static_cast<std::size_t>(head - tail);
  const std::size_t n = std::min(room, overflow_.size());
  for (std::size_t i = 0; i < n; ++i) inbox.ring[(head + i) % channel::kInboxEntries] = overflow_[i];
  inbox.head.store(head + n, std::memory_order_release);
  overflow_.erase(overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(n));
  // A full downcall queue is no loss: the allocator drains in its slow paths too.
  if (n) (void)push_downcall(node_.channel.layout(), channel::Downcall::kDrainFrees, 0);
}

}  // namespace gpt::node
