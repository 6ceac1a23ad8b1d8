#include "coherence.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "gpt/page_diff.h"
#include "log.h"

namespace gpt::node {
namespace {

std::vector<std::uint64_t> read_pages(std::span<const unsigned char> bytes) {
  std::vector<std::uint64_t> pages(bytes.size() / sizeof(std::uint64_t));
  if (!pages.empty()) std::memcpy(pages.data(), bytes.data(), pages.size() * sizeof(std::uint64_t));
  return pages;
}

}  // namespace

Coherence::Coherence(const NodeContext& node)
    : self_(node.self), node_count_(node.node_count), heap_(node.heap), gate_(node.gate), channel_(node.channel),
      log_(node.node_count) {
  gate_.set_epoch_source([this] { return sync_epoch(); });
}

Coherence::~Coherence() { gate_.set_epoch_source({}); }

bool Coherence::valid_page(std::uint64_t page) const {
  return page < heap_.geometry().page_count() &&
         heap_.geometry().home_of_page(page) < node_count_;
}

void Coherence::send(wire::NodeId to, const wire::Message& m) {
  if (!gate_.send(to, m))
    util::log_line("cannot send " + std::string(wire::name_of(wire::type_of(m))) + " to node " +
                   std::to_string(to));
}

std::optional<Reply> Coherence::on_request(std::uint32_t slot, channel::Op op,
                                           std::span<const unsigned char> request,
                                           std::span<unsigned char> reply) {
  switch (op) {
    case channel::Op::kFetchPage: return fetch(slot, request);
    case channel::Op::kRelease: return release(slot, request);
    case channel::Op::kReleaseForBarrier: return release(slot, request, 0, [this] { arrive_early(); });
    case channel::Op::kAcquire: return acquire(slot, request);
    case channel::Op::kAcquireMore: return acquire_more(request, reply);
    case channel::Op::kBarrier: return barrier(slot);
    case channel::Op::kRemoteFree: return remote_free(request);
    default: return Reply{-ENOSYS, 0};
  }
}

// ---- requester side ----------------------------------------------------------

std::optional<Reply> Coherence::fetch(std::uint32_t slot, std::span<const unsigned char> request) {
  std::uint64_t req[2];
  if (request.size() != sizeof req) return Reply{-EINVAL, 0};
  std::memcpy(req, request.data(), sizeof req);
  const std::uint64_t page = req[0], count = req[1];
  if (count == 0 || count > wire::kMaxPagesPerFetch) return Reply{-EINVAL, 0};
  for (std::uint64_t p = page; p < page + count; ++p)
    if (!valid_page(p) || heap_.geometry().home_of_page(p) != heap_.geometry().home_of_page(page))
      return Reply{-EFAULT, 0};
  if (heap_.geometry().home_of_page(page) == self_) return Reply{0, 0};  // always current
  return serve_fetch(slot, page, count);
}

// Copies serve the leading pages (the program fetches the rest with its
// next fault); pages read ahead and still on their way are waited for;
// anything else comes from the home. A fetch right after the previous one
// (a sequential scan) asks for the next pages ahead.
std::optional<Reply> Coherence::serve_fetch(std::uint32_t slot, std::uint64_t page, std::uint64_t count,
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
  if (copies_.expected(page)) {
    ahead_waiters_.push_back(AheadWaiter{slot, page, count});
    return std::nullopt;
  }
  const std::uint64_t copied = copies_.install_leading(page, count, heap_);
  if (sequential) read_ahead(page + count);
  if (copied) {
    counters_.fetches_from_copies += copied;
    channel_.layout().header.fetches_from_copies.store(counters_.fetches_from_copies,
                                                       std::memory_order_relaxed);
    std::memcpy(channel_.payload(slot).data(), &copied, sizeof copied);
    return Reply{0, sizeof copied};
  }
  const wire::NodeId home = heap_.geometry().home_of_page(page);
  std::uint64_t id = next_request_++;
  pending_[id] = Pending{Pending::kFetch, slot, 0, page, static_cast<std::uint32_t>(count)};
  send(home, wire::PageRequest{id, page, static_cast<std::uint32_t>(count)});
  return std::nullopt;
}

void Coherence::read_ahead(std::uint64_t from) {
  // Stay ahead of the scan by twice what it has read so far, up to the
  // window: a long scan soon has the whole window on its way (one request
  // per fault kept it one batch ahead), a short run of faults does not.
  const std::uint64_t want = std::min(kAheadWindow, 2 * (from - scan_start_));
  while (!(ahead_end_ > from && ahead_end_ - from >= want)) {
    const std::uint64_t first = std::max(from, ahead_end_);
    if (!valid_page(first) || copies_.full()) return;
    const wire::NodeId home = heap_.geometry().home_of_page(first);
    if (home == self_) return;
    std::uint32_t n = 0;
    while (n < wire::kMaxPagesPerFetch && valid_page(first + n) && heap_.geometry().home_of_page(first + n) == home &&
           !copies_.has(first + n) && !copies_.expected(first + n))
      ++n;
    if (n == 0) return;
    for (std::uint32_t i = 0; i < n; ++i) copies_.expect(first + i);
    ahead_end_ = first + n;
    std::uint64_t id = next_request_++;
    pending_[id] = Pending{Pending::kAhead, 0, 0, first, n};
    send(home, wire::PageRequest{id, first, n});
  }
}

void Coherence::serve_ahead_waiters() {
  std::vector<AheadWaiter> waiting = std::exchange(ahead_waiters_, {});
  for (const AheadWaiter& w : waiting)
    if (auto reply = serve_fetch(w.slot, w.page, w.count, true)) channel_.complete(w.slot, *reply);
}

std::optional<Reply> Coherence::release(std::uint32_t slot, std::span<const unsigned char> request,
                                        std::int32_t status, std::function<void()> then) {
  std::vector<std::uint64_t> pages = read_pages(request);
  for (std::uint64_t p : pages)
    if (!valid_page(p)) return Reply{-EFAULT, 0};
  std::uint64_t rel_id = next_request_++;
  Release& rel = releases_[rel_id];
  rel.slot = slot;
  rel.status = status;
  rel.then = std::move(then);

  std::map<wire::NodeId, wire::DiffBatch> batches;
  std::array<std::byte, diff::max_encoded_size()> buf;
  for (std::uint64_t p : pages) {
    copies_.outdate(p);  // a copy from before our own writes must not be read
    wire::NodeId home = heap_.geometry().home_of_page(p);
    if (home == self_) {
      // Written in place at home: nothing to send, but others must hear of it.
      rel.pages.push_back(p);
      continue;
    }
    std::size_t n = diff::encode(heap_.twin(p).data(), heap_.page(p).data(), buf.data(), buf.size());
    if (n == 0) continue;  // written with the same values: nobody needs to know
    auto& batch = batches[home];
    batch.pages.push_back(p);
    batch.diffs.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    rel.pages.push_back(p);
    ++counters_.diffs_sent;
    counters_.diff_bytes_sent += n;
  }
  // Node 0's diffs go last, with the notices.
  if (self_ != 0) {
    if (auto it = batches.find(0); it != batches.end()) {
      rel.to_origin = std::move(it->second);
      batches.erase(it);
    }
  }
  for (auto& [home, batch] : batches) {
    std::uint64_t id = next_request_++;
    batch.request = id;
    pending_[id] = Pending{Pending::kReleaseDiffs, slot, rel_id, 0, 0};
    ++rel.acks_due;
    send(home, batch);
  }
  if (rel.acks_due == 0) post_notices(rel_id);
  return std::nullopt;
}

// Node 0 learns of writes when it logs them, not from notices sent to it:
// its copies of those pages are outdated from then on.
std::uint64_t Coherence::log(wire::NodeId writer, const std::vector<std::uint64_t>& pages) {
  for (std::uint64_t p : pages) copies_.outdate(p);
  return log_.log(writer, pages);
}

bool Coherence::being_released(std::uint64_t page) const {
  for (const auto& [id, rel] : releases_)
    if (std::find(rel.pages.begin(), rel.pages.end(), page) != rel.pages.end()) return true;
  return false;
}

void Coherence::post_notices(std::uint64_t rel_id) {
  Release& rel = releases_.at(rel_id);
  if (rel.pages.empty()) {
    finish_release(rel_id, 0);
    return;
  }
  counters_.notices_posted += rel.pages.size();
  if (self_ == 0) {
    finish_release(rel_id, log(self_, rel.pages));
    return;
  }
  // Every other home has applied its diffs: node 0 applies its own, then
  // logs the notices, so nobody can read a page before its diff is in.
  std::uint64_t id = next_request_++;
  pending_[id] = Pending{Pending::kReleaseNotice, rel.slot, rel_id, 0, 0};
  wire::DiffBatch batch = std::move(rel.to_origin);
  batch.request = id;
  batch.notices = rel.pages;
  send(0, batch);
  // From here on node 0 has this release before anything else we send it,
  // and until it acknowledges, our messages to other nodes wait
  // (MessageGate::hold_all_but): the program may go on at once.
  rel.answered = true;
  ++unacknowledged_;
  gate_.hold_all_but(0);
  const std::uint32_t slot = rel.slot;
  const std::int32_t status = rel.status;
  // What waits for the release (a token leaving) goes before the program
  // is woken: on a busy machine the woken thread may take our core.
  if (auto then = std::exchange(rel.then, {})) then();
  const std::uint64_t no_epoch_yet = 0;
  std::memcpy(channel_.payload(slot).data(), &no_epoch_yet, sizeof no_epoch_yet);
  channel_.complete(slot, Reply{status, sizeof no_epoch_yet});
}

void Coherence::finish_release(std::uint64_t rel_id, std::uint64_t epoch) {
  auto it = releases_.find(rel_id);
  if (it == releases_.end()) return;
  std::uint32_t slot = it->second.slot;
  std::int32_t status = it->second.status;
  const bool answered = it->second.answered;
  std::function<void()> then = std::move(it->second.then);
  releases_.erase(it);
  released_epoch_ = std::max(released_epoch_, epoch);
  if (answered) {
    --unacknowledged_;
    gate_.end_hold();  // after released_epoch_: what it lets out may say so
    return;
  }
  if (then) then();
  std::memcpy(channel_.payload(slot).data(), &epoch, sizeof epoch);
  channel_.complete(slot, Reply{status, sizeof epoch});
}

// req: u32 synced (1: the acquire after a lock token or barrier departure,
// which needs the notices up to the epochs those arrived with; 0: any other
// acquire, which needs all of them: ask node 0).
std::optional<Reply> Coherence::acquire(std::uint32_t slot, std::span<const unsigned char> request) {
  std::uint32_t synced = 0;
  if (request.size() == sizeof synced) std::memcpy(&synced, request.data(), sizeof synced);
  else if (!request.empty()) return Reply{-EINVAL, 0};
  if (self_ == 0) {
    answer_acquire(slot);
    return std::nullopt;
  }
  if (synced && answerable_here()) {
    count_answered_here();
    answer_acquire(slot);
    return std::nullopt;
  }
  std::uint64_t id = next_request_++;
  pending_[id] = Pending{Pending::kAcquire, slot, 0, 0, 0, unknown_epochs_};
  send(0, wire::NoticeQuery{id});
  return std::nullopt;
}

bool Coherence::answerable_here() const {
  return unknown_epochs_ == unknown_epochs_answered_ && sync_required_ <= known_epoch_;
}

void Coherence::count_answered_here() {
  ++counters_.acquires_answered_here;
  channel_.layout().header.acquires_answered_here.store(counters_.acquires_answered_here,
                                                        std::memory_order_relaxed);
}

std::uint64_t Coherence::applied_epoch() const {
  return channel_.layout().header.acquired_epoch.load(std::memory_order_acquire);
}

Coherence::Unapplied Coherence::unapplied() {
  const std::uint64_t applied = applied_epoch();
  if (self_ == 0) {
    log_.trim(applied);
    return {log_.epoch(), log_.since(applied, self_)};
  }
  std::erase_if(received_, [&](const Received& r) { return r.epoch <= applied; });
  Unapplied u{known_epoch_, {}};
  for (const Received& r : received_) u.pages.insert(u.pages.end(), r.pages.begin(), r.pages.end());
  std::sort(u.pages.begin(), u.pages.end());
  u.pages.erase(std::unique(u.pages.begin(), u.pages.end()), u.pages.end());
  return u;
}

void Coherence::answer_acquire(std::uint32_t slot) {
  Unapplied u = unapplied();
  finish_acquire(slot, u.epoch, u.pages);
}

std::uint32_t Coherence::grant_arrived(std::uint32_t slot, std::uint64_t epoch,
                                       const wire::Notices& notices) {
  sync_arrived(epoch, notices);
  return answer_synced_acquire(slot).value_or(0);
}

std::optional<std::uint32_t> Coherence::answer_synced_acquire(std::uint32_t slot) {
  if (self_ != 0 && !answerable_here()) return std::nullopt;
  Unapplied u = unapplied();
  std::vector<std::uint64_t> mine = not_homed_here(u.pages);
  if (kAnswerHeaderBytes + mine.size() * sizeof(std::uint64_t) > channel_.payload(slot).size())
    return std::nullopt;  // a long list: the program asks (kAcquire, kAcquireMore)
  if (self_ != 0) count_answered_here();
  return write_answer(channel_.payload(slot), u.epoch, std::move(mine));
}

void Coherence::absorb(const wire::Notices& n) {
  if (self_ == 0) return;
  for (std::uint64_t p : n.pages) copies_.outdate(p);
  for (std::size_t i = 0; i < n.update_pages.size(); ++i) {
    const std::uint64_t p = n.update_pages[i];
    // A copy node 0 made before our own diff of the page reached it would
    // hide our writes: while we release the page, it is dropped.
    if (!valid_page(p) || heap_.geometry().home_of_page(p) != 0 || being_released(p)) continue;
    const auto* first = n.update_bytes.data() + i * region::kPageSize;
    copies_.put(p, std::span(first, region::kPageSize));
  }
  if (n.epoch <= known_epoch_ && n.pages.empty()) return;
  if (!n.pages.empty()) received_.push_back(Received{n.epoch, n.pages});
  known_epoch_ = std::max(known_epoch_, n.epoch);
  if (received_.size() > NoticeLog::kMaxEntries) merge_oldest_received();
}

// A program that never acquires would let the lists grow without bound: as
// node 0's log does, the oldest half is folded into one list (their pages,
// the newest of their epochs). It stays listed until the program applied
// that newest epoch: pages invalidated twice at worst, never missed.
void Coherence::merge_oldest_received() {
  const auto fold = static_cast<std::ptrdiff_t>(received_.size() / 2);
  Received merged{0, {}};
  for (auto it = received_.begin(); it != received_.begin() + fold; ++it) {
    merged.epoch = std::max(merged.epoch, it->epoch);
    merged.pages.insert(merged.pages.end(), it->pages.begin(), it->pages.end());
  }
  std::sort(merged.pages.begin(), merged.pages.end());
  merged.pages.erase(std::unique(merged.pages.begin(), merged.pages.end()), merged.pages.end());
  received_.erase(received_.begin() + 1, received_.begin() + fold);
  received_.front() = std::move(merged);
}

std::uint64_t Coherence::sync_epoch() const {
  if (self_ == 0) return log_.epoch();
  if (unacknowledged_ > 0) return wire::kEpochUnknown;  // node 0 has not numbered it yet
  return std::max(known_epoch_, released_epoch_);
}

std::uint64_t Coherence::settled_epoch(std::uint64_t epoch) const {
  // Node 0 processed the sender's release before its message (one
  // connection): its log's epoch covers it.
  return wire::epoch_pending(epoch) && self_ == 0 ? log_.epoch() : epoch;
}

wire::Notices Coherence::notices_for(wire::NodeId node) {
  if (self_ != 0 || node == 0) return {};
  return bundle_for(node);
}

void Coherence::sync_arrived(std::uint64_t epoch, const wire::Notices& notices) {
  absorb(notices);
  if (!wire::epoch_pending(epoch)) {
    sync_required_ = std::max(sync_required_, epoch);
    return;
  }
  // A release whose epoch its sender did not know yet: node 0 has logged it
  // (the message waited for that), so the next answer node 0 gives covers it.
  if (self_ != 0) ++unknown_epochs_;
}

wire::Notices Coherence::bundle_for(wire::NodeId node) {
  wire::Notices n;
  n.epoch = log_.epoch();
  n.pages = log_.take_unsent(node);
  log_.trim(applied_epoch());  // what every node has been sent may go
  for (std::uint64_t p : n.pages) {
    if (n.update_pages.size() == wire::kMaxUpdatePages) break;
    if (heap_.geometry().home_of_page(p) != 0 || !copy_holders_.contains(p * node_count_ + node)) continue;
    const std::byte* bytes = heap_.page(p).data();
    n.update_pages.push_back(p);
    n.update_bytes.insert(n.update_bytes.end(), bytes, bytes + region::kPageSize);
  }
  counters_.copies_sent += n.update_pages.size();
  return n;
}

Reply Coherence::list_chunk(std::span<unsigned char> out, const std::vector<std::uint64_t>& pages,
                            std::size_t offset) {
  const std::size_t n = std::min(out.size() / sizeof(std::uint64_t), pages.size() - offset);
  if (n) std::memcpy(out.data(), pages.data() + offset, n * sizeof(std::uint64_t));
  return Reply{0, static_cast<std::uint32_t>(n * sizeof(std::uint64_t))};
}

std::vector<std::uint64_t> Coherence::not_homed_here(const std::vector<std::uint64_t>& pages) const {
  std::vector<std::uint64_t> mine;
  mine.reserve(pages.size());
  for (std::uint64_t p : pages)
    if (valid_page(p) && heap_.geometry().home_of_page(p) != self_) mine.push_back(p);  // home: current
  return mine;
}

std::uint32_t Coherence::write_answer(std::span<unsigned char> out, std::uint64_t epoch,
                                      std::vector<std::uint64_t> pages) {
  std::uint64_t header[4] = {0, pages.size(), epoch, 0};
  static_assert(sizeof header == kAnswerHeaderBytes);
  const std::size_t room = (out.size() - sizeof header) / sizeof(std::uint64_t);
  std::vector<std::uint64_t> copies;
  if (pages.size() > room) {
    header[0] = next_cursor_++;
  } else {
    // Copies of listed pages ride along where they fit: the program
    // installs them instead of faulting on them.
    std::size_t left = out.size() - sizeof header - pages.size() * sizeof(std::uint64_t);
    for (std::uint64_t p : pages) {
      if (copies.size() == wire::kMaxUpdatePages || left < sizeof p + region::kPageSize) break;
      if (!copies_.has(p)) continue;
      copies.push_back(p);
      left -= sizeof p + region::kPageSize;
    }
    header[3] = copies.size();
  }
  std::memcpy(out.data(), header, sizeof header);
  Reply r = list_chunk(out.subspan(sizeof header), pages, 0);
  std::size_t at = sizeof header + r.length;
  if (!copies.empty()) {
    std::memcpy(out.data() + at, copies.data(), copies.size() * sizeof(std::uint64_t));
    at += copies.size() * sizeof(std::uint64_t);
    for (std::uint64_t p : copies) {
      std::memcpy(out.data() + at, copies_.bytes(p).data(), region::kPageSize);
      at += region::kPageSize;
    }
  }
  if (header[0]) long_lists_[header[0]] = std::move(pages);
  return static_cast<std::uint32_t>(at);
}

void Coherence::finish_acquire(std::uint32_t slot, std::uint64_t epoch,
                               const std::vector<std::uint64_t>& pages) {
  // The applied epoch advances only when the program has invalidated the
  // pages (channel header acquired_epoch): another thread's acquire
  // meanwhile must list them too.
  channel_.complete(slot, Reply{0, write_answer(channel_.payload(slot), epoch, not_homed_here(pages))});
}

Reply Coherence::acquire_more(std::span<const unsigned char> request, std::span<unsigned char> reply) {
  std::uint64_t req[2];
  if (request.size() != sizeof req) return Reply{-EINVAL, 0};
  std::memcpy(req, request.data(), sizeof req);
  auto it = long_lists_.find(req[0]);
  if (it == long_lists_.end() || req[1] > it->second.size()) return Reply{-EINVAL, 0};
  Reply r = list_chunk(reply, it->second, req[1]);
  if (req[1] + r.length / sizeof(std::uint64_t) >= it->second.size()) long_lists_.erase(it);
  return r;
}

// The program releases right before it waits at a barrier: arriving for it
// as soon as the release is on its way (after it, on the same connection to
// node 0) overlaps the barrier's round trip with the program's next call.
void Coherence::arrive_early() {
  if (barrier_slot_ || early_barrier_) return;  // kBarrier will say EBUSY
  const std::uint64_t generation = ++barrier_generation_;
  early_barrier_ = generation;
  early_barrier_departed_ = false;
  if (self_ == 0) barrier_arrival(self_, generation);
  else send(0, wire::BarrierArrive{generation});
}

std::optional<Reply> Coherence::barrier(std::uint32_t slot) {
  if (barrier_slot_) return Reply{-EBUSY, 0};  // one barrier per node at a time
  barrier_slot_ = slot;
  if (early_barrier_) {  // arrived already: wait for (or take) its departure
    early_barrier_.reset();
    if (std::exchange(early_barrier_departed_, false)) leave_barrier();
    return std::nullopt;
  }
  std::uint64_t generation = ++barrier_generation_;
  if (self_ == 0) barrier_arrival(self_, generation);
  else send(0, wire::BarrierArrive{generation});
  return std::nullopt;
}

void Coherence::barrier_released(std::uint64_t generation, const wire::Notices& notices) {
  absorb(notices);
  if (early_barrier_ && generation == *early_barrier_) {  // the program has not asked yet
    early_barrier_departed_ = true;
    return;
  }
  if (!barrier_slot_ || generation != barrier_generation_) return;
  leave_barrier();
}

void Coherence::leave_barrier() {
  ++counters_.barriers;
  const std::uint32_t slot = *barrier_slot_;
  barrier_slot_.reset();
  answer_acquire(slot);
}

Reply Coherence::remote_free(std::span<const unsigned char> request) {
  if (request.size() < 8 || (request.size() - 8) % sizeof(std::uint64_t) != 0)
    return Reply{-EINVAL, 0};
  std::uint32_t home;
  std::memcpy(&home, request.data(), sizeof home);
  if (home >= node_count_) return Reply{-EINVAL, 0};
  std::vector<std::uint64_t> pointers = read_pages(request.subspan(8));
  counters_.remote_frees_forwarded += pointers.size();
  if (home == self_) deliver_frees(pointers);
  else send(home, wire::RemoteFrees{std::move(pointers)});
  return Reply{0, 0};
}

void Coherence::deliver_frees(const std::vector<std::uint64_t>& pointers) {
  inbox_overflow_.insert(inbox_overflow_.end(), pointers.begin(), pointers.end());
  drain_inbox_overflow();
}

void Coherence::drain_inbox_overflow() {
  if (inbox_overflow_.empty()) return;
  auto& inbox = channel_.layout().inbox;
  std::uint64_t head = inbox.head.load(std::memory_order_relaxed);
  std::uint64_t tail = inbox.tail.load(std::memory_order_acquire);
  std::size_t room = channel::kInboxEntries - static_cast<std::size_t>(head - tail);
  std::size_t n = std::min(room, inbox_overflow_.size());
  for (std::size_t i = 0; i < n; ++i) inbox.ring[(head + i) % channel::kInboxEntries] = inbox_overflow_[i];
  inbox.head.store(head + n, std::memory_order_release);
  inbox_overflow_.erase(inbox_overflow_.begin(), inbox_overflow_.begin() + static_cast<std::ptrdiff_t>(n));
  counters_.remote_frees_delivered += n;
}

// ---- node 0: write-notice log and barrier ---------------------------------------

void Coherence::barrier_arrival(wire::NodeId node, std::uint64_t generation) {
  (void)node;  // every node released (and node 0 logged it) before arriving
  if (++barrier_arrivals_[generation] < node_count_) return;
  barrier_arrivals_.erase(generation);
  // Everyone has released: each node leaves with the notices it lacks.
  for (wire::NodeId n = 1; n < node_count_; ++n) send(n, wire::BarrierRelease{generation, bundle_for(n)});
  barrier_released(generation, {});
}

// ---- messages ----------------------------------------------------------------------

void Coherence::on(const wire::PageRequest& m, wire::NodeId from) {
  for (std::uint64_t p = m.page; p < m.page + m.count; ++p)
    if (!valid_page(p) || heap_.geometry().home_of_page(p) != self_) {
      util::log_line("node " + std::to_string(from) + " asked for page " + std::to_string(p) +
                     ", which is not homed here");
      return;
    }
  // Consecutive pages are consecutive in the memfd: one copy.
  const std::byte* first = heap_.page(m.page).data();
  counters_.pages_served += m.count;
  if (self_ == 0)
    for (std::uint64_t p = m.page; p < m.page + m.count; ++p) copy_holders_.insert(p * node_count_ + from);
  send(from, wire::PageData{m.request, m.page, std::vector<std::byte>(first, first + m.count * region::kPageSize)});
}

void Coherence::on(const wire::PageData& m, wire::NodeId from) {
  auto it = pending_.find(m.request);
  if (it == pending_.end() || (it->second.kind != Pending::kFetch && it->second.kind != Pending::kAhead)) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  const Pending p = it->second;
  pending_.erase(it);
  const bool right = p.page == m.page && m.bytes.size() == p.count * region::kPageSize &&
                     heap_.geometry().home_of_page(m.page) == from;
  if (p.kind == Pending::kAhead) {
    for (std::uint64_t i = 0; i < p.count; ++i) {
      if (right && !being_released(p.page + i))
        copies_.arrived(p.page + i, std::span(m.bytes).subspan(i * region::kPageSize, region::kPageSize));
      else
        copies_.outdate(p.page + i);
    }
    counters_.pages_read_ahead += p.count;
    serve_ahead_waiters();
    return;
  }
  if (!right) {
    util::log_line("node " + std::to_string(from) + " answered with the wrong pages");
    channel_.complete(p.slot, Reply{-EIO, 0});
    return;
  }
  std::memcpy(heap_.page(m.page).data(), m.bytes.data(), m.bytes.size());
  for (std::uint64_t page = m.page; page < m.page + p.count; ++page) copies_.outdate(page);
  counters_.pages_fetched += p.count;
  channel_.complete(p.slot, Reply{0, 0});
}

void Coherence::on(const wire::DiffBatch& m, wire::NodeId from) {
  std::uint32_t rejected = 0;
  for (std::size_t i = 0; i < m.pages.size() && i < m.diffs.size(); ++i) {
    std::uint64_t page = m.pages[i];
    const auto& d = m.diffs[i];
    if (!valid_page(page) || heap_.geometry().home_of_page(page) != self_ ||
        !diff::apply(heap_.page(page).data(), d.data(), d.size())) {
      ++rejected;
      continue;
    }
    ++counters_.diffs_applied;
  }
  if (m.pages.size() != m.diffs.size()) ++rejected;
  if (rejected) {
    counters_.diffs_rejected += rejected;
    util::log_line("rejected " + std::to_string(rejected) + " malformed diff(s) from node " + std::to_string(from));
  }
  std::uint64_t epoch = 0;
  if (!m.notices.empty()) {
    bool mine_to_log = self_ == 0;
    for (std::uint64_t p : m.notices) mine_to_log = mine_to_log && valid_page(p);
    if (mine_to_log) epoch = log(from, m.notices);
    else util::log_line("node " + std::to_string(from) + " sent write notices that cannot be logged here");
  }
  send(from, wire::DiffAck{m.request, rejected, epoch});
}

void Coherence::on(const wire::DiffAck& m, wire::NodeId from) {
  auto it = pending_.find(m.request);
  if (it == pending_.end() ||
      (it->second.kind != Pending::kReleaseDiffs && it->second.kind != Pending::kReleaseNotice)) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  Pending p = it->second;
  pending_.erase(it);
  if (m.rejected)
    util::log_line("node " + std::to_string(from) + " rejected " + std::to_string(m.rejected) + " of our diffs");
  if (p.kind == Pending::kReleaseNotice) {
    finish_release(p.release, m.epoch);
    return;
  }
  auto rel = releases_.find(p.release);
  if (rel != releases_.end() && --rel->second.acks_due == 0) post_notices(p.release);
}

void Coherence::on(const wire::NoticeQuery& m, wire::NodeId from) {
  if (self_ == 0) send(from, wire::NoticeList{m.request, bundle_for(from)});
}

void Coherence::on(const wire::NoticeList& m, wire::NodeId from) {
  absorb(m.notices);
  auto it = pending_.find(m.request);
  if (it == pending_.end() || it->second.kind != Pending::kAcquire) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  const Pending p = it->second;
  pending_.erase(it);
  // Asked after those unknown epochs arrived: they are covered.
  unknown_epochs_answered_ = std::max(unknown_epochs_answered_, p.unknown_epochs);
  answer_acquire(p.slot);
}

void Coherence::on(const wire::RemoteFrees& m, wire::NodeId) { deliver_frees(m.pointers); }

void Coherence::on(const wire::BarrierArrive& m, wire::NodeId from) {
  if (self_ == 0) barrier_arrival(from, m.generation);
}

void Coherence::on(const wire::BarrierRelease& m, wire::NodeId from) {
  if (from == 0) barrier_released(m.generation, m.notices);
}

void Coherence::report(Stats& stats) const {
  stats.add("pages_fetched", counters_.pages_fetched);
  stats.add("pages_served", counters_.pages_served);
  stats.add("page_copies_sent", counters_.copies_sent);
  stats.add("fetches_from_copies", counters_.fetches_from_copies);
  stats.add("pages_read_ahead", counters_.pages_read_ahead);
  stats.add("diffs_sent", counters_.diffs_sent);
  stats.add("diff_bytes_sent", counters_.diff_bytes_sent);
  stats.add("diffs_applied", counters_.diffs_applied);
  stats.add("acquires_answered_here", counters_.acquires_answered_here);
  stats.add("barriers", counters_.barriers);
}

}  // namespace gpt::node
