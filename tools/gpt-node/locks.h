// Distributed locks (docs/threads.md): each lock has one token. The node
// holding it takes and releases the lock with no message at all, and while
// nobody else wants it, with no call to the agent either (gpt/lock_table.h:
// the program CASes a word in the channel memory). A node that needs the
// token asks the lock's manager, which queues requests FIFO and recalls the
// token from its holder once the holder's lock is free. Nobody polls: every
// wait is a pending channel slot.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>

#include "channel_server.h"
#include "coherence.h"
#include "gpt/lock_table.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Locks {
 public:
  Locks(wire::NodeId self, std::uint32_t node_count, net::MessageGate& gate, ChannelServer& channel,
        Coherence& coherence);

  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request);
  bool on_message(const wire::Envelope& env);
  // Ends timed lock waits whose deadline passed (called every tick).
  void expire(std::chrono::steady_clock::time_point now);
  // The earliest deadline of a timed wait served here, if any: the agent
  // wakes for it rather than at its next tick.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

  [[nodiscard]] std::uint64_t handoffs() const { return handoffs_; }

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
    channel::LockEntry* entry = nullptr;  // the word the program sees, if any
    int busy = 0;                         // nesting of TakeOver guards
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
  // The reply to a lock call that got the token; from afar, with the
  // acquire's answer when this node can give it.
  [[nodiscard]] Reply granted(std::uint32_t slot, bool from_afar);
  // A kUnlockReleased's release lets the token go.
  void token_released(std::uint64_t lock);
  // Manager side.
  void on_request_token(std::uint64_t lock, wire::NodeId from, bool try_only);
  void on_kept(std::uint64_t lock);
  void recall(std::uint64_t lock, Managed& m);
  void on_busy(std::uint64_t lock);
  // Answers this node's trylocks once the token came (or did not).
  void answer_tries(Local& l);
  void on_return(std::uint64_t lock, std::uint64_t epoch);
  void on_grant(const wire::LockGrant& grant);
  void grant(std::uint64_t lock, const Managed& m, wire::NodeId to);
  void on_recall(std::uint64_t lock, bool if_free);
  void to(wire::NodeId node, const wire::Message& m);

  wire::NodeId self_;
  std::uint32_t node_count_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  Coherence& coherence_;
  std::map<std::uint64_t, Local> local_;
  std::map<std::uint64_t, Managed> managed_;
  struct Deadline {
    std::uint64_t lock;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::uint32_t, Deadline> deadlines_;  // timed waiters, by channel slot
  std::uint64_t handoffs_ = 0;
};

}  // namespace gpt::node
