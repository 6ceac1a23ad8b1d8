#include "page_fetch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "channel_request.h"
#include "log.h"

namespace gpt::node {

// A fault's pages are one PageRequest to their home.
static_assert(channel::kMaxPagesPerFetch <= wire::kMaxPagesPerFetch);

PageFetch::PageFetch(CoherenceShared& shared, NoticeManager& notices, const Releases& releases)
    : shared_(shared), notices_(notices), releases_(releases) {}

std::optional<Reply> PageFetch::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                           std::span<unsigned char>) {
  const auto req = read_request<channel::FetchPageRequest>(request);
  if (!req || req->count == 0 || req->count > channel::kMaxPagesPerFetch) return Reply{-EINVAL, 0};
  const std::uint64_t page = req->first, count = req->count;
  for (std::uint64_t p = page; p < page + count; ++p)
    if (!shared_.valid_page(p) || shared_.home_of(p) != shared_.home_of(page)) return Reply{-EFAULT, 0};
  if (shared_.home_of(page) == shared_.node.self) return Reply{0, 0};  // always current
  return serve_fetch(slot, page, count);
}

// Copies serve the leading pages (the program fetches the rest with its
// next fault); pages read ahead and still on their way are waited for;
// anything else comes from the home. A fetch right after the previous one
// (a sequential scan) asks for the next pages ahead.
std::optional<Reply> PageFetch::serve_fetch(std::uint32_t slot, std::uint64_t page, std::uint64_t count,
                                            bool resumed) {
  // A fetch that waited for pages read ahead continues its scan.
  const bool sequential = resumed || page == last_fetch_end_;
  if (!resumed) last_fetch_end_ = page + count;
  // A fault elsewhere ends the scan: what was read ahead for it stays as
  // copies, but the next scan's window starts from its own pages.
  if (!sequential) {
    ahead_end_ = 0;
    scan_start_ = page;
  }
  if (shared_.copies.expected(page)) {
    ahead_waiters_.push_back(AheadWaiter{slot, page, count});
    return std::nullopt;
  }
  const std::uint64_t copied = shared_.copies.install_leading(page, count, shared_.node.heap);
  if (sequential) read_ahead(page + count);
  ChannelServer& server = shared_.node.channel;
  if (copied) {
    fetches_from_copies_ += copied;
    server.layout().header.fetches_from_copies.store(fetches_from_copies_, std::memory_order_relaxed);
    return write_reply(server.payload(slot), channel::FetchPageReply{copied});
  }
  const std::uint64_t id = next_request_++;
  pending_[id] = Pending{slot, page, static_cast<std::uint32_t>(count), false};
  shared_.node.send(shared_.home_of(page), wire::PageRequest{id, page, static_cast<std::uint32_t>(count)});
  return std::nullopt;
}

void PageFetch::read_ahead(std::uint64_t from) {
  // Stay ahead of the scan by twice what it has read so far, up to the
  // window: a long scan soon has the whole window on its way (one request
  // per fault kept it one batch ahead), a short run of faults does not.
  const std::uint64_t want = std::min(kAheadWindow, 2 * (from - scan_start_));
  PageCopies& copies = shared_.copies;
  while (!(ahead_end_ > from && ahead_end_ - from >= want)) {
    const std::uint64_t first = std::max(from, ahead_end_);
    if (!shared_.valid_page(first) || copies.full()) return;
    const wire::NodeId home = shared_.home_of(first);
    if (home == shared_.node.self) return;
    std::uint32_t n = 0;
    while (n < wire::kMaxPagesPerFetch && shared_.valid_page(first + n) && shared_.home_of(first + n) == home &&
           !copies.has(first + n) && !copies.expected(first + n))
      ++n;
    if (n == 0) return;
    for (std::uint32_t i = 0; i < n; ++i) copies.expect(first + i);
    ahead_end_ = first + n;
    const std::uint64_t id = next_request_++;
    pending_[id] = Pending{0, first, n, true};
    shared_.node.send(home, wire::PageRequest{id, first, n});
  }
}

void PageFetch::serve_ahead_waiters() {
  std::vector<AheadWaiter> waiting = std::exchange(ahead_waiters_, {});
  for (const AheadWaiter& w : waiting)
    if (auto reply = serve_fetch(w.slot, w.page, w.count, true)) shared_.node.channel.complete(w.slot, *reply);
}

void PageFetch::on(const wire::PageRequest& m, wire::NodeId from) {
  for (std::uint64_t p = m.page; p < m.page + m.count; ++p)
    if (!shared_.valid_page(p) || shared_.home_of(p) != shared_.node.self) {
      util::log_line("node " + std::to_string(from) + " asked for page " + std::to_string(p) +
                     ", which is not homed here");
      return;
    }
  // Marked before the copy is taken: a write the program's next release
  // does not see the mark for is in the copy (sole_copy.h).
  shared_.node.heap.note_sent(m.page, m.count);
  // Consecutive pages are consecutive in the memfd: one copy.
  const std::byte* first = shared_.node.heap.page(m.page).data();
  pages_served_ += m.count;
  notices_.served(m.page, m.count, from);
  shared_.node.send(from, wire::PageData{m.request, m.page,
                                         std::vector<std::byte>(first, first + m.count * region::kPageSize)});
}

void PageFetch::on(const wire::PageData& m, wire::NodeId from) {
  auto it = pending_.find(m.request);
  if (it == pending_.end()) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  const Pending p = it->second;
  pending_.erase(it);
  const bool right =
      p.page == m.page && m.bytes.size() == p.count * region::kPageSize && shared_.home_of(m.page) == from;
  if (p.ahead) {
    for (std::uint64_t i = 0; i < p.count; ++i) {
      if (right && !releases_.being_released(p.page + i))
        shared_.copies.arrived(p.page + i, std::span(m.bytes).subspan(i * region::kPageSize, region::kPageSize));
      else
        shared_.copies.outdate(p.page + i);
    }
    pages_read_ahead_ += p.count;
    serve_ahead_waiters();
    return;
  }
  if (!right) {
    util::log_line("node " + std::to_string(from) + " answered with the wrong pages");
    shared_.node.channel.complete(p.slot, Reply{-EIO, 0});
    return;
  }
  std::memcpy(shared_.node.heap.page(m.page).data(), m.bytes.data(), m.bytes.size());
  for (std::uint64_t page = m.page; page < m.page + p.count; ++page) shared_.copies.outdate(page);
  pages_fetched_ += p.count;
  shared_.node.channel.complete(p.slot, Reply{0, 0});
}

void PageFetch::report(Stats& stats) const {
  stats.add("pages_fetched", pages_fetched_);
  stats.add("pages_served", pages_served_);
  stats.add("fetches_from_copies", fetches_from_copies_);
  stats.add("pages_read_ahead", pages_read_ahead_);
}

}  // namespace gpt::node
