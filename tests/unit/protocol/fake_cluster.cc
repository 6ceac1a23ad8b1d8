#include "fake_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "node_context.h"

namespace gpt::test {

using channel::SlotState;

FakeNode::FakeNode(net::FakeNetwork& network, wire::NodeId id, const region::Geometry& geometry)
    : id_(id),
      channel_(id, geometry.node_count),
      heap_(geometry),
      transport_(network.endpoint(id)),
      gate_(*transport_, "node " + std::to_string(id), [](std::string_view) {}),
      server_(channel_.layout(),
              [this](std::uint32_t slot, channel::Op op, std::span<const unsigned char> request,
                     std::span<unsigned char> reply) { return services_.table().serve(slot, op, request, reply); }),
      services_(node::NodeContext{id, geometry.node_count, heap_, gate_, server_, nullptr, &program_pid_}) {}

std::uint32_t FakeNode::post_bytes(channel::Op op, std::span<const unsigned char> request) {
  for (std::uint32_t i = 0; i < channel::kSlotCount; ++i) {
    auto& slot = layout().slots[i];
    if (slot.h.state.load() != static_cast<std::uint32_t>(SlotState::kFree)) continue;
    slot.h.op = static_cast<std::uint32_t>(op);
    slot.h.length = static_cast<std::uint32_t>(request.size());
    slot.h.status = 0;
    if (!request.empty()) std::memcpy(slot.payload, request.data(), request.size());
    slot.h.state.store(static_cast<std::uint32_t>(SlotState::kRequest));
    layout().header.published[i / 64].fetch_or(std::uint64_t{1} << (i % 64));
    return i;
  }
  ADD_FAILURE() << "every channel slot of node " << id_ << " is in use";
  return 0;
}

std::uint32_t FakeNode::post_words(channel::Op op, const std::vector<std::uint64_t>& words) {
  return post_bytes(op, std::span(reinterpret_cast<const unsigned char*>(words.data()),
                                  words.size() * sizeof(std::uint64_t)));
}

bool FakeNode::answered(std::uint32_t slot) const {
  return layout().slots[slot].h.state.load() == static_cast<std::uint32_t>(SlotState::kReply);
}

std::int32_t FakeNode::status(std::uint32_t slot) const {
  EXPECT_TRUE(answered(slot)) << "slot " << slot << " of node " << id_ << " has no reply";
  return layout().slots[slot].h.status;
}

std::span<unsigned char> FakeNode::reply(std::uint32_t slot) const {
  EXPECT_TRUE(answered(slot)) << "slot " << slot << " of node " << id_ << " has no reply";
  auto& s = layout().slots[slot];
  return std::span<unsigned char>(s.payload, std::min<std::size_t>(s.h.length, channel::kSlotPayload));
}

void FakeNode::free(std::uint32_t slot) {
  layout().slots[slot].h.state.store(static_cast<std::uint32_t>(SlotState::kFree));
}

std::vector<Downcall> FakeNode::take_downcalls() {
  auto& q = layout().downcalls;
  std::vector<Downcall> out;
  for (std::uint64_t t = q.tail.load(); t < q.head.load(); ++t) out.push_back(q.entries[t % channel::kDowncallEntries]);
  q.tail.store(q.head.load());
  return out;
}

std::vector<std::uint64_t> FakeNode::take_inbox() {
  auto& inbox = layout().inbox;
  std::vector<std::uint64_t> out;
  for (std::uint64_t t = inbox.tail.load(); t < inbox.head.load(); ++t)
    out.push_back(inbox.ring[t % channel::kInboxEntries]);
  inbox.tail.store(inbox.head.load());
  return out;
}

void FakeNode::write(std::uint64_t page, std::size_t offset, std::byte value) {
  auto bytes = heap_.page(page);
  std::memcpy(heap_.twin(page).data(), bytes.data(), region::kPageSize);
  bytes[offset] = value;
}

void FakeNode::write_in_place(std::uint64_t page, std::size_t offset, std::byte value) {
  heap_.page(page)[offset] = value;
}

void FakeNode::set_mark(std::uint64_t page, std::uint8_t mark) {
  auto* marks = reinterpret_cast<sole_copy::Mark*>(heap_.page(0).data() + heap_.geometry().sole_copy_offset());
  marks[page].store(mark);
}

std::byte FakeNode::read(std::uint64_t page, std::size_t offset) const { return heap_.page(page)[offset]; }

void FakeNode::mark_applied(std::uint64_t epoch) {
  auto& applied = layout().header.acquired_epoch;
  if (applied.load() < epoch) applied.store(epoch);
}

void FakeNode::mark_sole(std::uint64_t page) {
  // The marks follow the twins in the memfd, which the agent maps whole.
  auto* marks = reinterpret_cast<sole_copy::Mark*>(heap_.page(0).data() + heap_.geometry().sole_copy_offset());
  marks[page].store(sole_copy::kNoticed);
}

std::size_t FakeNode::serve() {
  const std::size_t served = server_.serve_pending();
  services_.table().poll();
  return served;
}

// The gate drops frames that do not decode and then returns nothing, as
// when nothing waits: its counters tell the two apart.
std::size_t FakeNode::deliver() {
  auto frames_taken = [&] {
    const auto& k = gate_.counters();
    return k.accepted + k.unknown_peer + k.malformed + k.bad_version + k.spoofed;
  };
  std::size_t n = 0;
  for (;;) {
    const std::uint64_t before = frames_taken();
    auto env = gate_.next(std::chrono::milliseconds(0));
    if (env)
      EXPECT_TRUE(services_.table().deliver(*env))
          << "node " << id_ << ": no service for a " << wire::name_of(wire::type_of(env->body));
    else if (frames_taken() == before)
      return n;
    ++n;
  }
}

std::string FakeNode::stats() const {
  node::Stats stats;
  services_.table().report(stats);
  return stats.line();
}

namespace {

region::Geometry geometry_for(std::uint32_t nodes, std::size_t heap_bytes) {
  region::Geometry g;
  g.heap_bytes = heap_bytes;
  g.node_count = nodes;
  return g;
}

}  // namespace

FakeCluster::FakeCluster(std::uint32_t nodes, std::size_t heap_bytes) : geometry_(geometry_for(nodes, heap_bytes)) {
  for (wire::NodeId n = 0; n < nodes; ++n) nodes_.push_back(std::make_unique<FakeNode>(network_, n, geometry_));
}

std::uint64_t FakeCluster::page_of(wire::NodeId node, std::uint64_t i) const {
  return node * (geometry_.partition_bytes() / region::kPageSize) + i;
}

std::size_t FakeCluster::pump() {
  constexpr int kMaxRounds = 10'000;
  std::size_t total = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::size_t moved = 0;
    for (auto& n : nodes_) moved += n->serve() + n->deliver();
    if (moved == 0) return total;
    total += moved;
  }
  ADD_FAILURE() << "the agents did not go quiet within " << kMaxRounds << " rounds";
  return total;
}

}  // namespace gpt::test
