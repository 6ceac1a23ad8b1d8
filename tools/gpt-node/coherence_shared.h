// What the coherence parts of one node (docs/coherence.md) share: the node
// itself and the page copies it may read instead of fetching. Every part
// reads and outdates copies: fetches install and read ahead of them, node
// 0 sends them with notices, releases and notices outdate them.
//
// Each part keeps the rest of its state to itself (pending requests,
// epochs, queues) and asks the part that owns a fact: notice_manager.h,
// releases.h, acquires.h, page_fetch.h, barrier_all.h.
#pragma once

#include <atomic>
#include <cstdint>

#include "gpt/region.h"
#include "node_context.h"
#include "page_copies.h"
#include "wire.h"

namespace gpt::node {

struct CoherenceShared {
  explicit CoherenceShared(const NodeContext& context) : node(context) {}
  CoherenceShared(const CoherenceShared&) = delete;
  CoherenceShared& operator=(const CoherenceShared&) = delete;

  const NodeContext node;
  PageCopies copies;

  [[nodiscard]] const region::Geometry& geometry() const { return node.heap.geometry(); }
  [[nodiscard]] wire::NodeId home_of(std::uint64_t page) const { return geometry().home_of_page(page); }
  // A page of the global space some node of this job is the home of.
  [[nodiscard]] bool valid_page(std::uint64_t page) const {
    return page < geometry().page_count() && home_of(page) < node.node_count;
  }
  // The epoch up to which the program has invalidated what notices named
  // (the channel header's acquired_epoch, which only the program raises).
  [[nodiscard]] std::uint64_t applied_epoch() const {
    return node.channel.layout().header.acquired_epoch.load(std::memory_order_acquire);
  }
};

}  // namespace gpt::node
