#include "releases.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "log.h"
#include "page_diff.h"

namespace gpt::node {

Releases::Releases(CoherenceShared& shared, NoticeManager& notices) : shared_(shared), notices_(notices) {}

std::optional<Reply> Releases::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                          std::span<unsigned char>) {
  Pages pages;
  if (!read_words(request, pages)) return Reply{-EINVAL, 0};
  return release(slot, pages);
}

std::optional<Reply> Releases::release(std::uint32_t slot, Pages pages, std::int32_t status,
                                       std::function<void()> then) {
  for (std::uint64_t p : pages)
    if (!shared_.valid_page(p)) return Reply{-EFAULT, 0};
  const std::uint64_t rel_id = next_id_++;
  Release& rel = releases_[rel_id];
  rel.slot = slot;
  rel.status = status;
  rel.then = std::move(then);

  const wire::NodeId self = shared_.node.self;
  std::map<wire::NodeId, wire::DiffBatch> batches;
  std::array<std::byte, diff::max_encoded_size()> buf;
  std::array<std::byte, region::kPageSize> snapshot;
  for (std::uint64_t p : pages) {
    shared_.copies.outdate(p);  // a copy from before our own writes must not be read
    const wire::NodeId home = shared_.home_of(p);
    if (home == self) {
      // Written in place at home: nothing to send, but others must hear of it.
      rel.pages.push_back(p);
      continue;
    }
    // The page may still be writable (docs/coherence.md, "Written pages stay
    // writable"): diff one snapshot of it and make that the twin, so a write
    // racing with this either went out now or differs from the twin later.
    const HeapMemory& heap = shared_.node.heap;
    if (diff::is_identical(heap.twin(p).data(), heap.page(p).data())) {  // the common case of a kept page
      heap.note_diff(p, true);
      continue;
    }
    std::memcpy(snapshot.data(), heap.page(p).data(), region::kPageSize);
    std::size_t n = diff::encode(heap.twin(p).data(), snapshot.data(), buf.data(), buf.size());
    heap.note_diff(p, n == 0);
    if (n == 0) continue;  // written with the same values: nobody needs to know
    std::memcpy(heap.twin(p).data(), snapshot.data(), region::kPageSize);
    auto& batch = batches[home];
    batch.pages.push_back(p);
    batch.diffs.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    rel.pages.push_back(p);
    ++diffs_sent_;
    diff_bytes_sent_ += n;
  }
  // Node 0's diffs go last, with the notices.
  if (self != 0) {
    if (auto it = batches.find(0); it != batches.end()) {
      rel.to_origin = std::move(it->second);
      batches.erase(it);
    }
  }
  for (auto& [home, batch] : batches) {
    const std::uint64_t id = next_id_++;
    batch.request = id;
    pending_[id] = Pending{rel_id, false};
    ++rel.acks_due;
    shared_.node.send(home, batch);
  }
  if (rel.acks_due == 0) post_notices(rel_id);
  return std::nullopt;
}

bool Releases::being_released(std::uint64_t page) const {
  for (const auto& [id, rel] : releases_)
    if (std::find(rel.pages.begin(), rel.pages.end(), page) != rel.pages.end()) return true;
  return false;
}

void Releases::post_notices(std::uint64_t rel_id) {
  Release& rel = releases_.at(rel_id);
  if (rel.pages.empty()) {
    finish_release(rel_id, 0);
    return;
  }
  if (shared_.node.self == 0) {
    finish_release(rel_id, notices_.log(shared_.node.self, rel.pages));
    return;
  }
  // Every other home has applied its diffs: node 0 applies its own, then
  // logs the notices, so nobody can read a page before its diff is in.
  const std::uint64_t id = next_id_++;
  pending_[id] = Pending{rel_id, true};
  wire::DiffBatch batch = std::move(rel.to_origin);
  batch.request = id;
  batch.notices = rel.pages;
  shared_.node.send(0, batch);
  // From here on node 0 has this release before anything else we send it,
  // and until it acknowledges, our messages to other nodes wait
  // (MessageGate::hold_all_but): the program may go on at once.
  rel.answered = true;
  ++unacknowledged_;
  shared_.node.gate.hold_all_but(0);
  const std::uint32_t slot = rel.slot;
  const std::int32_t status = rel.status;
  // What waits for the release (a token leaving) goes before the program
  // is woken: on a busy machine the woken thread may take our core.
  if (auto then = std::exchange(rel.then, {})) then();
  ChannelServer& server = shared_.node.channel;
  server.complete(slot, write_reply(server.payload(slot), channel::ReleaseReply{0}, status));  // not numbered yet
}

void Releases::finish_release(std::uint64_t rel_id, std::uint64_t epoch) {
  auto it = releases_.find(rel_id);
  if (it == releases_.end()) return;
  const std::uint32_t slot = it->second.slot;
  const std::int32_t status = it->second.status;
  const bool answered = it->second.answered;
  std::function<void()> then = std::move(it->second.then);
  releases_.erase(it);
  released_epoch_ = std::max(released_epoch_, epoch);
  if (answered) {
    --unacknowledged_;
    shared_.node.gate.end_hold();  // after released_epoch_: what it lets out may say so
    return;
  }
  if (then) then();
  ChannelServer& server = shared_.node.channel;
  server.complete(slot, write_reply(server.payload(slot), channel::ReleaseReply{epoch}, status));
}

void Releases::on(const wire::DiffBatch& m, wire::NodeId from) {
  const wire::NodeId self = shared_.node.self;
  std::uint32_t rejected = 0;
  for (std::size_t i = 0; i < m.pages.size() && i < m.diffs.size(); ++i) {
    const std::uint64_t page = m.pages[i];
    const auto& d = m.diffs[i];
    if (!shared_.valid_page(page) || shared_.home_of(page) != self ||
        !diff::apply(shared_.node.heap.page(page).data(), d.data(), d.size())) {
      ++rejected;
      continue;
    }
    ++diffs_applied_;
  }
  if (m.pages.size() != m.diffs.size()) ++rejected;
  if (rejected)
    util::log_line("rejected " + std::to_string(rejected) + " malformed diff(s) from node " + std::to_string(from));
  std::uint64_t epoch = 0;
  if (!m.notices.empty()) {
    bool mine_to_log = self == 0;
    for (std::uint64_t p : m.notices) mine_to_log = mine_to_log && shared_.valid_page(p);
    if (mine_to_log) epoch = notices_.log(from, m.notices);
    else util::log_line("node " + std::to_string(from) + " sent write notices that cannot be logged here");
  }
  shared_.node.send(from, wire::DiffAck{m.request, rejected, epoch});
}

void Releases::on(const wire::DiffAck& m, wire::NodeId from) {
  auto it = pending_.find(m.request);
  if (it == pending_.end()) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  const Pending p = it->second;
  pending_.erase(it);
  if (m.rejected)
    util::log_line("node " + std::to_string(from) + " rejected " + std::to_string(m.rejected) + " of our diffs");
  if (p.notices) {
    finish_release(p.release, m.epoch);
    return;
  }
  auto rel = releases_.find(p.release);
  if (rel != releases_.end() && --rel->second.acks_due == 0) post_notices(p.release);
}

void Releases::report(Stats& stats) const {
  stats.add("diffs_sent", diffs_sent_);
  stats.add("diff_bytes_sent", diff_bytes_sent_);
  stats.add("diffs_applied", diffs_applied_);
}

}  // namespace gpt::node
