// Distributed locks (docs/threads.md): each lock has one token. The node
// holding it takes and releases the lock with no message at all, and while
// nobody else wants it, with no call to the agent either (gpt/lock_table.h:
// the program CASes a word in the channel memory). A node that needs the
// token asks the lock's manager, which queues requests FIFO and recalls the
// token from its holder once the holder's lock is free. Nobody polls: every
// wait is a pending channel slot.
//
// A trylock the manager answered busy is remembered for kBusyHint: further
// trylocks of that lock here are answered EBUSY at once, with no message
// (and by the program itself, from the kBusy bit of the lock's word, with
// no call), until the hint ends: at its deadline, when the token or a lock
// request of this node moves, or as soon as this node's program acquires
// (any synchronisation from another node may carry the lock's unlock, and
// a trylock that follows an unlock must not fail because of it). A program polling a lock held elsewhere
// then costs the network one query per kBusyHint, and learns of a free lock
// at most kBusyHint late.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>

#include "coherence.h"
#include "gpt/lock_table.h"
#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Locks final : public ServiceBase<Locks, wire::LockRequest, wire::LockKept, wire::LockBusy,
                                       wire::LockReturn, wire::LockGrant, wire::LockRecall,
                                       wire::LockUnlock, wire::LockUnlocked> {
 public:
  Locks(const NodeContext& node, Coherence& coherence);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Manager side: a node wants the token; a conditional recall found it in
  // use; the holder gives it back.
  void on(const wire::LockRequest& m, wire::NodeId from);
  void on(const wire::LockKept& m, wire::NodeId from);
  void on(const wire::LockReturn& m, wire::NodeId from);
  // Holder side: the token came; a trylock found it in use; give it back.
  void on(const wire::LockGrant& m, wire::NodeId from);
  void on(const wire::LockBusy& m, wire::NodeId from);
  void on(const wire::LockRecall& m, wire::NodeId from);
  // An unlock by a thread of a node without the token (kUnlockAnyHolder):
  // the manager passes it to the holder, which frees the lock and answers
  // the unlocker.
  void on(const wire::LockUnlock& m, wire::NodeId from);
  void on(const wire::LockUnlocked& m, wire::NodeId from);
  // Timed lock waits (kTimedLock).
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const override;
  void expire(Clock::time_point now) override;
  void report(Stats& stats) const override;

  // How long a LockBusy answers this node's trylocks of that lock: a few
  // network round trips, short against the time a polling program waits.
  static constexpr std::chrono::microseconds kBusyHint{100};

 private:
  struct Local {  // this node's view of one lock
    bool have_token = false;
    bool held = false;
    bool requested = false;       // a LockRequest is outstanding
    bool recall_pending = false;  // the manager wants the token back
    bool token_from_afar = false; // the next local grant must acquire
    bool flushing = false;        // the program is releasing before the token leaves
    wire::NodeId manager = 0;
    std::deque<std::uint32_t> waiters;  // channel slots
    // Trylocks waiting for the manager's answer (the token is elsewhere).
    std::deque<std::uint32_t> try_waiters;
    bool try_requested = false;  // a LockRequest{try_only} is outstanding
    std::uint32_t try_stamp = 0;  // the node's acquire count when it was sent
    channel::LockEntry* entry = nullptr;  // the word the program sees, if any
    int busy = 0;                         // nesting of TakeOver guards
    // The newest epoch of the unlocks other nodes made of the lock while
    // its token was here: its next taker anywhere must see their writes,
    // so it rides on the token's return.
    std::uint64_t unlockers_epoch = 0;
  };
  // While one exists for a lock, the agent owns its word (kAgent set, the
  // program calls instead of CASing) and `held`/`token_from_afar` are read
  // from it; the outermost one's end hands the word back, in fast mode if
  // nothing is pending. Handlers nest (messages to ourselves), hence `busy`.
  class TakeOver {
   public:
    TakeOver(Locks& locks, std::uint64_t lock);
    ~TakeOver();
    TakeOver(const TakeOver&) = delete;
    TakeOver& operator=(const TakeOver&) = delete;
    Local& local() { return l_; }

   private:
    Locks& locks_;
    std::uint64_t lock_;
    Local& l_;
  };
  struct Managed {  // the manager's view of one lock
    std::optional<wire::NodeId> owner;
    std::deque<wire::NodeId> queue;
    bool recalled = false;
    std::uint64_t epoch = 0;  // the notices its holders so far saw
    // A trylock's node, first in the queue while the holder is asked to
    // give the token back only if it is free (LockRecall{if_free}).
    std::optional<wire::NodeId> trying;
  };

  void request_token(std::uint64_t lock, Local& l);
  void give_back(std::uint64_t lock, Local& l);   // asks the program to flush first
  void hand_over(std::uint64_t lock, Local& l);   // after the flush: LockReturn
  void grant_local(Local& l);
  // The lock held here is free: the token goes back if it was recalled,
  // else to the next waiter here.
  void set_free(std::uint64_t lock, Local& l);
  // The holder's part of a LockUnlock: frees the lock for its next taker,
  // who must acquire what the unlocker released.
  void unlock_for_other_node(const wire::LockUnlock& m);
  // The reply to a lock call that got the token; from afar, with the
  // acquire's answer when this node can give it.
  [[nodiscard]] Reply granted(std::uint32_t slot, bool from_afar);
  // A kUnlockReleased's release lets the token go.
  void token_released(std::uint64_t lock);
  // Manager side.
  void recall(std::uint64_t lock, Managed& m);
  void grant(std::uint64_t lock, const Managed& m, wire::NodeId to);
  // Answers this node's trylocks once the token came (or did not).
  void answer_tries(Local& l);
  void to(wire::NodeId node, const wire::Message& m);

  static constexpr channel::Op kOps[] = {channel::Op::kLock,   channel::Op::kTimedLock,
                                         channel::Op::kTryLock, channel::Op::kUnlock,
                                         channel::Op::kUnlockReleased, channel::Op::kLockFlushed,
                                         channel::Op::kUnlockAnyHolder};
  const NodeContext node_;
  Coherence& coherence_;
  std::map<std::uint64_t, Local> local_;
  std::map<std::uint64_t, Managed> managed_;
  struct Deadline {
    std::uint64_t lock;
    Clock::time_point at;
  };
  std::map<std::uint32_t, Deadline> deadlines_;  // timed waiters, by channel slot
  // Locks the manager said were in use: until when (kBusyHint), and the
  // node's acquire count when the trylock asked (an acquire since ends it).
  struct BusyHint {
    Clock::time_point until;
    std::uint32_t stamp;
  };
  std::map<std::uint64_t, BusyHint> busy_hints_;
  [[nodiscard]] std::uint32_t acquires_now() const;
  std::uint64_t handoffs_ = 0;
  std::uint64_t busy_here_ = 0;  // trylocks a busy hint answered
  std::uint64_t unlocked_for_others_ = 0;  // holds here that another node's thread ended
};

}  // namespace gpt::node
