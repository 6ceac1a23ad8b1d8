#include "acquires.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "channel_request.h"
#include "log.h"

namespace gpt::node {

Acquires::Acquires(CoherenceShared& shared, NoticeManager& notices, const Releases& releases)
    : shared_(shared), notices_(notices), releases_(releases) {}

std::optional<Reply> Acquires::on_request(std::uint32_t slot, channel::Op op, std::span<const unsigned char> request,
                                          std::span<unsigned char> reply) {
  if (op == channel::Op::kAcquireMore) return acquire_more(request, reply);
  return acquire(slot, request);
}

// Synced: the acquire after a lock token or barrier departure, which needs
// the notices up to the epochs those arrived with. Any other acquire needs
// all of them: ask node 0.
std::optional<Reply> Acquires::acquire(std::uint32_t slot, std::span<const unsigned char> request) {
  channel::AcquireRequest req;
  if (!request.empty()) {
    auto given = read_request<channel::AcquireRequest>(request);
    if (!given) return Reply{-EINVAL, 0};
    req = *given;
  }
  const bool synced = req.synced != 0;
  if (shared_.node.self == 0) {
    answer_acquire(slot);
    return std::nullopt;
  }
  if (synced && answerable_here()) {
    count_answered_here();
    answer_acquire(slot);
    return std::nullopt;
  }
  const std::uint64_t id = next_request_++;
  queries_[id] = Query{slot, unknown_epochs_};
  shared_.node.send(0, wire::NoticeQuery{id});
  return std::nullopt;
}

void Acquires::on(const wire::NoticeList& m, wire::NodeId from) {
  absorb(m.notices);
  auto it = queries_.find(m.request);
  if (it == queries_.end()) {
    util::log_line("dropped an unexpected reply from node " + std::to_string(from));
    return;
  }
  const Query q = it->second;
  queries_.erase(it);
  // Asked after those unknown epochs arrived: they are covered.
  unknown_epochs_answered_ = std::max(unknown_epochs_answered_, q.unknown_epochs);
  answer_acquire(q.slot);
}

bool Acquires::answerable_here() const {
  return unknown_epochs_ == unknown_epochs_answered_ && sync_required_ <= known_epoch_;
}

void Acquires::count_answered_here() {
  ++answered_here_;
  shared_.node.channel.layout().header.acquires_answered_here.store(answered_here_, std::memory_order_relaxed);
}

Acquires::Unapplied Acquires::unapplied() {
  if (shared_.node.self == 0) {
    std::vector<std::uint64_t> pages = notices_.unapplied_here();
    return {notices_.epoch(), std::move(pages)};
  }
  const std::uint64_t applied = shared_.applied_epoch();
  std::erase_if(received_, [&](const Received& r) { return r.epoch <= applied; });
  Unapplied u{known_epoch_, {}};
  for (const Received& r : received_) u.pages.insert(u.pages.end(), r.pages.begin(), r.pages.end());
  std::sort(u.pages.begin(), u.pages.end());
  u.pages.erase(std::unique(u.pages.begin(), u.pages.end()), u.pages.end());
  return u;
}

// The applied epoch advances only when the program has invalidated the
// pages (channel header acquired_epoch): another thread's acquire meanwhile
// must list them too.
void Acquires::answer_acquire(std::uint32_t slot) {
  Unapplied u = unapplied();
  ChannelServer& server = shared_.node.channel;
  server.complete(slot, Reply{0, write_answer(server.payload(slot), u.epoch, not_homed_here(u.pages))});
}

std::uint32_t Acquires::grant_arrived(std::uint32_t slot, std::uint64_t epoch, const wire::Notices& notices) {
  sync_arrived(epoch, notices);
  return answer_synced_acquire(slot).value_or(0);
}

std::optional<std::uint32_t> Acquires::answer_synced_acquire(std::uint32_t slot) {
  const bool origin = shared_.node.self == 0;
  if (!origin && !answerable_here()) return std::nullopt;
  Unapplied u = unapplied();
  std::vector<std::uint64_t> mine = not_homed_here(u.pages);
  std::span<unsigned char> payload = shared_.node.channel.payload(slot);
  if (channel::acquire_answer_bytes(mine.size(), 0) > payload.size())
    return std::nullopt;  // a long list: the program asks (kAcquire, kAcquireMore)
  if (!origin) count_answered_here();
  return write_answer(payload, u.epoch, std::move(mine));
}

void Acquires::sync_arrived(std::uint64_t epoch, const wire::Notices& notices) {
  absorb(notices);
  if (!wire::epoch_pending(epoch)) {
    sync_required_ = std::max(sync_required_, epoch);
    return;
  }
  // A release whose epoch its sender did not know yet: node 0 has logged it
  // (the message waited for that), so the next answer node 0 gives covers it.
  if (shared_.node.self != 0) ++unknown_epochs_;
}

void Acquires::absorb(const wire::Notices& n) {
  if (shared_.node.self == 0) return;
  for (std::uint64_t p : n.pages) shared_.copies.outdate(p);
  for (std::size_t i = 0; i < n.update_pages.size(); ++i) {
    const std::uint64_t p = n.update_pages[i];
    // A copy node 0 made before our own diff of the page reached it would
    // hide our writes: while we release the page, it is dropped.
    if (!shared_.valid_page(p) || shared_.home_of(p) != 0 || releases_.being_released(p)) continue;
    const auto* first = n.update_bytes.data() + i * region::kPageSize;
    shared_.copies.put(p, std::span(first, region::kPageSize));
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
void Acquires::merge_oldest_received() {
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

std::vector<std::uint64_t> Acquires::not_homed_here(const std::vector<std::uint64_t>& pages) const {
  std::vector<std::uint64_t> mine;
  mine.reserve(pages.size());
  for (std::uint64_t p : pages)
    if (shared_.valid_page(p) && shared_.home_of(p) != shared_.node.self) mine.push_back(p);  // home: current
  return mine;
}

Reply Acquires::list_chunk(std::span<unsigned char> out, const std::vector<std::uint64_t>& pages,
                           std::size_t offset) {
  const std::size_t n = std::min(out.size() / sizeof(std::uint64_t), pages.size() - offset);
  if (n) std::memcpy(out.data(), pages.data() + offset, n * sizeof(std::uint64_t));
  return Reply{0, static_cast<std::uint32_t>(n * sizeof(std::uint64_t))};
}

std::uint32_t Acquires::write_answer(std::span<unsigned char> out, std::uint64_t epoch,
                                     std::vector<std::uint64_t> pages) {
  channel::AcquireAnswerHead head{0, pages.size(), epoch, 0};
  const std::size_t room = (out.size() - sizeof head) / sizeof(std::uint64_t);
  std::vector<std::uint64_t> copies;
  if (pages.size() > room) {
    head.cursor = next_cursor_++;
  } else {
    // Copies of listed pages ride along where they fit: the program
    // installs them instead of faulting on them.
    for (std::uint64_t p : pages) {
      if (copies.size() == wire::kMaxUpdatePages ||
          channel::acquire_answer_bytes(pages.size(), copies.size() + 1) > out.size())
        break;
      if (shared_.copies.has(p)) copies.push_back(p);
    }
    head.copies = copies.size();
  }
  std::size_t at = write_reply(out, head).length;
  at += list_chunk(out.subspan(at), pages, 0).length;
  if (!copies.empty()) {
    std::memcpy(out.data() + at, copies.data(), copies.size() * sizeof(std::uint64_t));
    at += copies.size() * sizeof(std::uint64_t);
    for (std::uint64_t p : copies) {
      std::memcpy(out.data() + at, shared_.copies.bytes(p).data(), region::kPageSize);
      at += region::kPageSize;
    }
  }
  if (head.cursor) long_lists_[head.cursor] = std::move(pages);
  return static_cast<std::uint32_t>(at);
}

Reply Acquires::acquire_more(std::span<const unsigned char> request, std::span<unsigned char> reply) {
  const auto req = read_request<channel::AcquireMoreRequest>(request);
  if (!req) return Reply{-EINVAL, 0};
  auto it = long_lists_.find(req->cursor);
  if (it == long_lists_.end() || req->offset > it->second.size()) return Reply{-EINVAL, 0};
  Reply r = list_chunk(reply, it->second, req->offset);
  if (req->offset + r.length / sizeof(std::uint64_t) >= it->second.size()) long_lists_.erase(it);
  return r;
}

void Acquires::report(Stats& stats) const { stats.add("acquires_answered_here", answered_here_); }

}  // namespace gpt::node
