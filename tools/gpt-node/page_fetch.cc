#include "page_fetch.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "channel_request.h"
#include "gpt/channel_client.h"
#include "gpt/sole_copy.h"
#include "log.h"

namespace gpt::node {

// A fault's pages are one PageRequest to their home.
static_assert(channel::kMaxPagesPerFetch <= wire::kMaxPagesPerFetch);

PageFetch::PageFetch(CoherenceShared& shared, NoticeManager& notices, const Releases& releases)
    : shared_(shared), notices_(notices), releases_(releases) {}

std::optional<Reply> PageFetch::on_request(std::uint32_t slot, channel::Op, std::span<const unsigned char> request,
                                           std::span<unsigned char>) {
  // traced_ns may be left out.
  const auto req = read_request_prefix<channel::FetchPageRequest>(request, offsetof(channel::FetchPageRequest, traced_ns));
  if (!req || req->count == 0 || req->count > channel::kMaxPagesPerFetch) return Reply{-EINVAL, 0};
  const std::uint64_t page = req->first, count = req->count;
  for (std::uint64_t p = page; p < page + count; ++p)
    if (!shared_.valid_page(p) || shared_.home_of(p) != shared_.home_of(page)) return Reply{-EFAULT, 0};
  if (shared_.home_of(page) == shared_.node.self) return Reply{0, 0};  // always current
  Trace trace;
  if (req->traced_ns) trace = Trace{req->traced_ns, channel::monotonic_ns(), 0};
  return serve_fetch(slot, page, count, false, trace);
}

// Copies serve the leading pages (the program fetches the rest with its
// next fault); pages read ahead and still on their way are waited for;
// anything else comes from the home. A fetch right after the previous one
// (a sequential scan) asks for the next pages ahead.
std::optional<Reply> PageFetch::serve_fetch(std::uint32_t slot, std::uint64_t page, std::uint64_t count,
                                            bool resumed, Trace trace) {
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
    ahead_waiters_.push_back(AheadWaiter{slot, page, count, trace});
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
  Pending& p = pending_[id] = Pending{slot, page, static_cast<std::uint32_t>(count), false, trace};
  if (!fetch_by_rma(id, p))
    shared_.node.send(shared_.home_of(page), wire::PageRequest{id, page, static_cast<std::uint32_t>(count)});
  if (p.trace.traced_ns) p.trace.sent_ns = channel::monotonic_ns();
  return std::nullopt;
}

// Why a one-sided read is sound (docs/coherence.md, "Fetching by RMA"):
// * our own writes: a PageRequest follows this node's diffs on the
//   connection, a read does not; so only when every diff we sent has been
//   applied (no release under way or unacknowledged);
// * the home's writes: its program keeps a sole-copy page writable with no
//   notice (gpt/sole_copy.h), so the pages are marked sent first, by atomic
//   operations that are full barriers where they run, before the read
//   (the agent's "mark, fence, copy");
// * others' diffs: a read may see one half applied, as a fetch may see a
//   racing write; the page's notice is logged only after the diff is in,
//   so an acquire that may read those bytes invalidates this copy.
bool PageFetch::fetch_by_rma(std::uint64_t id, Pending& p) {
  net::RemoteMemory* remote = shared_.node.remote;
  const wire::NodeId home = shared_.home_of(p.page);
  if (!remote || !remote->reaches(home) || !releases_.quiet()) return false;
  const region::Geometry& g = shared_.geometry();
  std::span<std::byte> into = shared_.node.heap.pages(p.page, p.count);
  if (p.ahead) {
    p.staging.resize(p.count * region::kPageSize);
    into = p.staging;
  }
  return remote->mark_then_read(home, g.sole_copy_offset() + p.page, p.count, sole_copy::kSent,
                                g.page_offset(p.page), into, id);
}

void PageFetch::poll() {
  net::RemoteMemory* remote = shared_.node.remote;
  if (!remote) return;
  while (auto done = remote->completed()) {
    auto it = pending_.find(done->token);
    if (it == pending_.end()) continue;
    if (it->second.ahead) {
      const Pending p = std::move(it->second);
      pending_.erase(it);
      if (done->ok) pages_read_remote_ += p.count;
      ahead_arrived(p, p.staging, done->ok);
      continue;
    }
    if (!done->ok) {  // the home's memory could not be read: ask it instead
      shared_.node.send(shared_.home_of(it->second.page), wire::PageRequest{it->first, it->second.page, it->second.count});
      continue;
    }
    const Pending p = it->second;
    pending_.erase(it);
    pages_read_remote_ += p.count;
    fetched(p, p.trace.traced_ns ? channel::monotonic_ns() : 0);
  }
}

void PageFetch::fetched(const Pending& p, std::uint64_t arrived) {
  for (std::uint64_t page = p.page; page < p.page + p.count; ++page) shared_.copies.outdate(page);
  pages_fetched_ += p.count;
  ChannelServer& server = shared_.node.channel;
  if (!p.trace.traced_ns) {
    server.complete(p.slot, Reply{0, 0});
    return;
  }
  server.complete(p.slot, write_reply(server.payload(p.slot),
                                      channel::FetchPageReply{p.count, p.trace.picked_ns, p.trace.sent_ns, arrived,
                                                              channel::monotonic_ns()}));
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
    Pending& p = pending_[id] = Pending{0, first, n, true};
    if (!fetch_by_rma(id, p)) shared_.node.send(home, wire::PageRequest{id, first, n});
  }
}

void PageFetch::serve_ahead_waiters() {
  std::vector<AheadWaiter> waiting = std::exchange(ahead_waiters_, {});
  for (const AheadWaiter& w : waiting)
    if (auto reply = serve_fetch(w.slot, w.page, w.count, true, w.trace))
      shared_.node.channel.complete(w.slot, *reply);
}

void PageFetch::on(const wire::PageRequest& m, wire::NodeId from) {
  const std::uint64_t started = channel::monotonic_ns();
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
  ++requests_served_;
  request_serve_ns_ += channel::monotonic_ns() - started;
}

void PageFetch::on(const wire::PageData& m, wire::NodeId from) {
  const std::uint64_t arrived = channel::monotonic_ns();
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
    ahead_arrived(p, m.bytes, right);
    return;
  }
  if (!right) {
    util::log_line("node " + std::to_string(from) + " answered with the wrong pages");
    shared_.node.channel.complete(p.slot, Reply{-EIO, 0});
    return;
  }
  std::memcpy(shared_.node.heap.page(m.page).data(), m.bytes.data(), m.bytes.size());
  fetched(p, arrived);
}

void PageFetch::ahead_arrived(const Pending& p, std::span<const std::byte> bytes, bool right) {
  for (std::uint64_t i = 0; i < p.count; ++i) {
    if (right && !releases_.being_released(p.page + i))
      shared_.copies.arrived(p.page + i, bytes.subspan(i * region::kPageSize, region::kPageSize));
    else
      shared_.copies.outdate(p.page + i);
  }
  pages_read_ahead_ += p.count;
  serve_ahead_waiters();
}

void PageFetch::report(Stats& stats) const {
  stats.add("pages_fetched", pages_fetched_);
  stats.add("pages_served", pages_served_);
  stats.add("fetches_from_copies", fetches_from_copies_);
  stats.add("pages_read_ahead", pages_read_ahead_);
  stats.add("pages_read_remote", pages_read_remote_);
  stats.add("page_requests_served", requests_served_);
  stats.add("page_request_serve_ns", requests_served_ ? request_serve_ns_ / requests_served_ : 0);
}

}  // namespace gpt::node
