#include "locks.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "channel_request.h"
#include "log.h"
#include "peer_send.h"

namespace gpt::node {

Locks::Locks(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

Locks::TakeOver::TakeOver(Locks& locks, std::uint64_t lock) : locks_(locks), lock_(lock), l_(locks.local_[lock]) {
  if (l_.busy++ > 0) return;
  if (!l_.entry) {
    l_.entry = channel::insert_lock(locks.node_.channel.layout().locks, lock);
    if (!l_.entry) return;  // table full there: this lock always calls
  }
  using namespace channel::lock_bits;
  const std::uint32_t s = l_.entry->state.fetch_or(kAgent, std::memory_order_acq_rel);
  if (s & kToken) {
    l_.held = (s & kHeld) != 0;
    l_.token_from_afar = (s & kAfar) != 0;
  }
}

Locks::TakeOver::~TakeOver() {
  if (--l_.busy > 0 || !l_.entry) return;
  using namespace channel::lock_bits;
  std::uint32_t s = 0;
  if (l_.have_token) s = kToken | (l_.held ? kHeld : 0) | (l_.token_from_afar ? kAfar : 0);
  const bool program_may_decide = l_.have_token && l_.waiters.empty() && !l_.recall_pending && !l_.flushing;
  if (!program_may_decide) s |= kAgent;
  if (l_.have_token && l_.recall_pending) s |= kRecall;
  if (auto hint = locks_.busy_hints_.find(lock_); !l_.have_token && hint != locks_.busy_hints_.end()) {
    l_.entry->busy_stamp.store(hint->second.stamp, std::memory_order_relaxed);
    s |= kBusy;
  }
  l_.entry->state.store(s, std::memory_order_release);
}

// Messages to ourselves (we manage the lock) are handled in place.
void Locks::to(wire::NodeId node, const wire::Message& m) {
  send_or_handle(node_, node, m, [this](const wire::Envelope& e) { on_message(e); });
}

std::optional<Reply> Locks::on_request(std::uint32_t slot, channel::Op op,
                                       std::span<const unsigned char> request, std::span<unsigned char>) {
  // Every lock op is a LockRequest; kTimedLock adds its timeout, and
  // kUnlockReleased the pages to release.
  channel::LockRequest head;
  std::int64_t timeout_ns = 0;
  Pages pages;
  if (op == channel::Op::kTimedLock) {
    const auto timed = read_request<channel::TimedLockRequest>(request);
    if (!timed) return Reply{-EINVAL, 0};
    head = timed->head;
    timeout_ns = timed->timeout_ns;
  } else if (op == channel::Op::kUnlockReleased) {
    if (!read_trailed(request, head, pages)) return Reply{-EINVAL, 0};
  } else {
    const auto plain = read_request<channel::LockRequest>(request);
    if (!plain) return Reply{-EINVAL, 0};
    head = *plain;
  }
  const std::uint64_t lock = head.lock;
  const std::uint32_t manager = head.manager;
  if (manager >= node_.node_count) return Reply{-EINVAL, 0};
  TakeOver take(*this, lock);
  Local& l = take.local();
  if (op != channel::Op::kLockFlushed) l.manager = manager;  // the flush reply names none
  switch (op) {
    case channel::Op::kLock:
    case channel::Op::kTimedLock:
    case channel::Op::kTryLock:
      if (l.have_token && !l.held && !l.recall_pending && !l.flushing && l.waiters.empty()) {
        l.held = true;
        return granted(slot, std::exchange(l.token_from_afar, false));
      }
      if (op == channel::Op::kTryLock) {
        // In use here, or wanted by a thread here already: busy. Else the
        // token is elsewhere: the manager gets it if nobody holds it.
        if (l.have_token || l.requested) return Reply{-EBUSY, 0};
        if (auto hint = busy_hints_.find(lock); hint != busy_hints_.end()) {
          if (hint->second.stamp == acquires_now()) {
            ++busy_here_;
            return Reply{-EBUSY, 0};
          }
          busy_hints_.erase(hint);  // acquired since: ask again
        }
        l.try_waiters.push_back(slot);
        if (!l.try_requested) {
          l.try_requested = true;
          l.try_stamp = acquires_now();
          to(l.manager, wire::LockRequest{lock, true});
        }
        return std::nullopt;
      }
      l.waiters.push_back(slot);
      if (op == channel::Op::kTimedLock) {
        deadlines_[slot] =
            Deadline{lock, Clock::now() + std::chrono::nanoseconds(timeout_ns < 0 ? 0 : timeout_ns)};
      }
      if (!l.have_token) request_token(lock, l);
      return std::nullopt;
    case channel::Op::kUnlock: {
      if (!l.have_token || !l.held) return Reply{-EPERM, 0};
      set_free(lock, l);
      return Reply{0, 0};
    }
    case channel::Op::kUnlockReleased: {
      // The unlocking thread saw the token wanted elsewhere and hands over
      // its dirty pages with the unlock: release, and let the token go as
      // soon as it cannot overtake the release.
      const bool mine = l.have_token && l.held;
      if (mine) {
        l.held = false;
        if (!l.recall_pending && !l.waiters.empty()) grant_local(l);
      }
      return coherence_.release(slot, pages, mine ? 0 : -EPERM,
                                [this, lock] { token_released(lock); });
    }
    case channel::Op::kUnlockAnyHolder:
      // A thread that may not hold the lock unlocks it; it released first.
      // Token here: held by a thread of this node, or free already.
      if (l.have_token) {
        if (l.held) set_free(lock, l);
        return Reply{0, 0};
      }
      // Held by a thread of another node (or free): its manager knows where
      // the token is. The unlocker's epoch covers its release.
      to(l.manager, wire::LockUnlock{lock, coherence_.sync_epoch(), node_.self, slot, false});
      return std::nullopt;
    case channel::Op::kLockFlushed:
      if (l.flushing) hand_over(lock, l);
      return Reply{0, 0};
    default:
      return Reply{-ENOSYS, 0};
  }
}

void Locks::set_free(std::uint64_t lock, Local& l) {
  l.held = false;
  if (l.recall_pending) give_back(lock, l);
  else if (!l.waiters.empty()) grant_local(l);
}

void Locks::token_released(std::uint64_t lock) {
  TakeOver take(*this, lock);
  Local& l = take.local();
  if (!l.have_token || l.held) return;  // gone, or in use again
  // Our release covers this node's writes: a flush asked of the service
  // thread is done too.
  if (l.recall_pending || l.flushing) hand_over(lock, l);
  else if (!l.waiters.empty()) grant_local(l);
}

void Locks::request_token(std::uint64_t lock, Local& l) {
  // An outstanding trylock request brings the token or LockBusy (which
  // then asks again for the waiters).
  if (l.requested || l.try_requested) return;
  busy_hints_.erase(lock);  // the token comes here: trylocks see it
  l.requested = true;
  to(l.manager, wire::LockRequest{lock});
}

std::optional<Clock::time_point> Locks::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const auto& [slot, d] : deadlines_)
    if (!first || d.at < *first) first = d.at;
  for (const auto& [lock, hint] : busy_hints_)
    if (!first || hint.until < *first) first = hint.until;
  return first;
}

void Locks::expire(Clock::time_point now) {
  for (auto it = busy_hints_.begin(); it != busy_hints_.end();) {
    if (it->second.until > now) {
      ++it;
      continue;
    }
    const std::uint64_t lock = it->first;
    it = busy_hints_.erase(it);
    TakeOver rewrite(*this, lock);  // its end clears kBusy in the lock's word
  }
  for (auto it = deadlines_.begin(); it != deadlines_.end();) {
    if (it->second.at > now) {
      ++it;
      continue;
    }
    // Still waiting (a grant erases the deadline): leave the queue. A token
    // requested for it stays requested; it will serve the next locker.
    TakeOver take(*this, it->second.lock);
    Local& l = take.local();
    l.waiters.erase(std::remove(l.waiters.begin(), l.waiters.end(), it->first), l.waiters.end());
    node_.channel.complete(it->first, Reply{-ETIMEDOUT, 0});
    it = deadlines_.erase(it);
  }
}

void Locks::grant_local(Local& l) {
  std::uint32_t slot = l.waiters.front();
  l.waiters.pop_front();
  deadlines_.erase(slot);
  l.held = true;
  node_.channel.complete(slot, granted(slot, std::exchange(l.token_from_afar, false)));
}

Reply Locks::granted(std::uint32_t slot, bool from_afar) {
  if (!from_afar) return Reply{0, 0};
  auto answer = coherence_.answer_synced_acquire(slot);
  return Reply{channel::kLockFromAfar, answer.value_or(0)};
}

void Locks::give_back(std::uint64_t lock, Local& l) {
  if (l.flushing) return;
  l.flushing = true;
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kFlushLock, lock)) {
    util::log_line("the program's service queue is full; handing a lock over without a flush");
    hand_over(lock, l);
  }
}

void Locks::hand_over(std::uint64_t lock, Local& l) {
  l.flushing = false;
  l.have_token = false;
  l.recall_pending = false;
  ++handoffs_;
  // What other nodes' unlockers released rides along with what the holders
  // here saw (a pending epoch stays pending: the gate completes it).
  std::uint64_t epoch = coherence_.sync_epoch();
  if (l.unlockers_epoch != 0) {
    epoch = wire::epoch_pending(epoch) ? wire::pending_epoch(std::max(wire::epoch_floor(epoch), l.unlockers_epoch))
                                       : std::max(epoch, l.unlockers_epoch);
    l.unlockers_epoch = 0;
  }
  to(l.manager, wire::LockReturn{lock, epoch});
  if (!l.waiters.empty()) request_token(lock, l);  // our own waiters queue again
}

void Locks::on(const wire::LockRequest& request, wire::NodeId from) {
  const std::uint64_t lock = request.lock;
  Managed& m = managed_[lock];
  if (!m.owner) {
    m.owner = from;
    grant(lock, m, from);
    return;
  }
  if (request.try_only) {
    // Others wait already, or a recall is under way: it is in use.
    if (!m.queue.empty() || m.recalled || m.trying) {
      to(from, wire::LockBusy{lock});
      return;
    }
    m.trying = from;
    m.queue.push_back(from);
    to(*m.owner, wire::LockRecall{lock, true});
    return;
  }
  m.queue.push_back(from);
  recall(lock, m);
}

// Others wait: the holder gives the token back after its current use.
void Locks::recall(std::uint64_t lock, Managed& m) {
  if (m.recalled || !m.owner) return;
  m.recalled = true;
  to(*m.owner, wire::LockRecall{lock, false});
}

// The token's taker needs the notices up to the epoch its holders saw; node
// 0 (which has them all) sends them with the grant.
void Locks::grant(std::uint64_t lock, const Managed& m, wire::NodeId to_node) {
  to(to_node, wire::LockGrant{lock, m.epoch, coherence_.notices_for(to_node)});
}

void Locks::on(const wire::LockReturn& r, wire::NodeId) {
  const std::uint64_t lock = r.lock;
  Managed& m = managed_[lock];
  // The last holder saw what earlier ones did (it acquired their epoch).
  m.epoch = coherence_.settled_epoch(r.epoch);
  m.owner.reset();
  m.recalled = false;
  if (m.queue.empty()) return;
  wire::NodeId next = m.queue.front();
  m.queue.pop_front();
  if (m.trying == next) m.trying.reset();  // the trylock gets it
  m.owner = next;
  grant(lock, m, next);
  // Others are waiting: the new holder gives it back after one use (FIFO).
  if (!m.queue.empty()) recall(lock, m);
}

void Locks::on(const wire::LockGrant& grant, wire::NodeId) {
  const std::uint64_t lock = grant.lock;
  coherence_.sync_arrived(grant.epoch, grant.notices);
  TakeOver take(*this, lock);
  Local& l = take.local();
  l.have_token = true;
  l.requested = false;
  l.try_requested = false;
  l.token_from_afar = true;
  busy_hints_.erase(lock);
  if (!l.waiters.empty()) grant_local(l);
  answer_tries(l);
  if (!l.held && l.recall_pending) give_back(lock, l);
}

void Locks::answer_tries(Local& l) {
  while (!l.try_waiters.empty()) {
    const std::uint32_t slot = l.try_waiters.front();
    l.try_waiters.pop_front();
    if (l.have_token && !l.held && !l.flushing) {
      l.held = true;
      node_.channel.complete(slot, granted(slot, std::exchange(l.token_from_afar, false)));
    } else {
      node_.channel.complete(slot, Reply{-EBUSY, 0});
    }
  }
}

void Locks::on(const wire::LockBusy& busy, wire::NodeId) {
  const std::uint64_t lock = busy.lock;
  TakeOver take(*this, lock);
  Local& l = take.local();
  l.try_requested = false;
  // Polling trylocks here hear EBUSY for a while without asking again.
  if (!l.have_token && !l.requested) busy_hints_[lock] = BusyHint{Clock::now() + kBusyHint, l.try_stamp};
  answer_tries(l);
  if (!l.have_token && !l.waiters.empty()) request_token(lock, l);
}

// Manager: the holder kept the token (in use): the trylock fails.
void Locks::on(const wire::LockKept& kept, wire::NodeId) {
  const std::uint64_t lock = kept.lock;
  Managed& m = managed_[lock];
  if (!m.trying) return;  // the token came back meanwhile and went to it
  const wire::NodeId tried = *m.trying;
  m.trying.reset();
  if (auto it = std::find(m.queue.begin(), m.queue.end(), tried); it != m.queue.end()) m.queue.erase(it);
  to(tried, wire::LockBusy{lock});
  if (!m.queue.empty()) recall(lock, m);
}

void Locks::on(const wire::LockRecall& asked, wire::NodeId) {
  const std::uint64_t lock = asked.lock;
  TakeOver take(*this, lock);
  Local& l = take.local();
  if (asked.if_free && (!l.have_token || l.held || !l.waiters.empty() || l.recall_pending || l.flushing)) {
    to(l.manager, wire::LockKept{lock});
    return;
  }
  if (!l.have_token) {
    l.recall_pending = true;  // the grant is on its way; give it back after one use
    return;
  }
  l.recall_pending = true;
  if (!l.held) give_back(lock, l);
}

// Manager: pass an unlock on to the token's holder; with nobody holding
// the token, the lock is free already.
void Locks::on(const wire::LockUnlock& u, wire::NodeId) {
  if (u.to_holder) {
    unlock_for_other_node(u);
    return;
  }
  Managed& m = managed_[u.lock];
  if (!m.owner) {
    to(u.unlocker, wire::LockUnlocked{u.lock, u.slot});
    return;
  }
  // The token's grant to the owner went first on the same way (or was
  // handled here in place): the holder has it when this arrives. Its
  // holder cannot have given it back while the lock is held.
  wire::LockUnlock on = u;
  on.epoch = coherence_.settled_epoch(u.epoch);
  on.to_holder = true;
  to(*m.owner, on);
}

void Locks::unlock_for_other_node(const wire::LockUnlock& u) {
  TakeOver take(*this, u.lock);
  Local& l = take.local();
  // Not held here (the token left, or the lock was free): unlocking an
  // unlocked lock changes nothing.
  if (l.have_token && l.held) {
    ++unlocked_for_others_;
    const std::uint64_t epoch = coherence_.settled_epoch(u.epoch);
    // The next taker, here or elsewhere, acquires the unlocker's writes.
    coherence_.sync_arrived(epoch, {});
    l.token_from_afar = true;
    l.unlockers_epoch = std::max(l.unlockers_epoch, wire::epoch_floor(epoch));
    set_free(u.lock, l);
  }
  to(u.unlocker, wire::LockUnlocked{u.lock, u.slot});
}

// Unlocker: the lock is free; the unlock call returns.
void Locks::on(const wire::LockUnlocked& done, wire::NodeId) { node_.channel.complete(done.slot, Reply{0, 0}); }

std::uint32_t Locks::acquires_now() const {
  return static_cast<std::uint32_t>(node_.channel.layout().header.acquires.load(std::memory_order_acquire));
}

void Locks::report(Stats& stats) const {
  stats.add("lock_handoffs", handoffs_);
  stats.add("trylocks_busy_here", busy_here_);
  stats.add("locks_unlocked_for_other_nodes", unlocked_for_others_);
}

}  // namespace gpt::node
