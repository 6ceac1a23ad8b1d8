#include "notice_manager.h"

namespace gpt::node {

NoticeManager::NoticeManager(CoherenceShared& shared) : shared_(shared), log_(shared.node.node_count) {}

void NoticeManager::on(const wire::NoticeQuery& m, wire::NodeId from) {
  if (shared_.node.self == 0) shared_.node.send(from, wire::NoticeList{m.request, bundle_for(from)});
}

std::uint64_t NoticeManager::log(wire::NodeId writer, const std::vector<std::uint64_t>& pages) {
  for (std::uint64_t p : pages) shared_.copies.outdate(p);
  return log_.log(writer, pages);
}

wire::Notices NoticeManager::bundle_for(wire::NodeId node) {
  wire::Notices n;
  n.epoch = log_.epoch();
  n.pages = log_.take_unsent(node);
  log_.trim(shared_.applied_epoch());  // what every node has been sent may go
  for (std::uint64_t p : n.pages) {
    if (n.update_pages.size() == wire::kMaxUpdatePages) break;
    if (shared_.home_of(p) != 0 || !copy_holders_.contains(p * shared_.node.node_count + node)) continue;
    shared_.node.heap.note_sent(p, 1);  // before the copy (sole_copy.h)
    const std::byte* bytes = shared_.node.heap.page(p).data();
    n.update_pages.push_back(p);
    n.update_bytes.insert(n.update_bytes.end(), bytes, bytes + region::kPageSize);
  }
  copies_sent_ += n.update_pages.size();
  return n;
}

wire::Notices NoticeManager::notices_for(wire::NodeId node) {
  if (shared_.node.self != 0 || node == 0) return {};
  return bundle_for(node);
}

std::uint64_t NoticeManager::settled_epoch(std::uint64_t epoch) const {
  return wire::epoch_pending(epoch) && shared_.node.self == 0 ? log_.epoch() : epoch;
}

void NoticeManager::served(std::uint64_t page, std::uint64_t count, wire::NodeId node) {
  if (shared_.node.self != 0) return;
  for (std::uint64_t p = page; p < page + count; ++p) copy_holders_.insert(p * shared_.node.node_count + node);
}

std::vector<std::uint64_t> NoticeManager::unapplied_here() {
  const std::uint64_t applied = shared_.applied_epoch();
  log_.trim(applied);
  return log_.since(applied, shared_.node.self);
}

void NoticeManager::report(Stats& stats) const { stats.add("page_copies_sent", copies_sent_); }

}  // namespace gpt::node
