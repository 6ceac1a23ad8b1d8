// What the other families ask of coherence (docs/coherence.md). Lock
// tokens, pthread barriers, semaphores, rwlocks and thread hand-overs are
// synchronisation: they carry the epoch of the write notices their sender
// saw, node 0 sends the notices along when it is the sender, and the
// receiver's acquire is then answered by its own agent. The coherence
// parts themselves are services of their own (node_services.cc):
// notice_manager.h (node 0's log), releases.h, acquires.h, page_fetch.h,
// barrier_all.h and remote_free_relay.h.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>

#include "acquires.h"
#include "coherence_shared.h"
#include "notice_manager.h"
#include "releases.h"
#include "wire.h"

namespace gpt::node {

class Coherence {
 public:
  // Makes the gate complete pending epochs from this node's (sync_epoch).
  Coherence(CoherenceShared& shared, NoticeManager& notices, Releases& releases, Acquires& acquires);
  ~Coherence();  // the gate's epoch source points here
  Coherence(const Coherence&) = delete;
  Coherence& operator=(const Coherence&) = delete;

  // The epoch a message leaving this node carries: the threads here saw
  // the notices up to it, their releases included (wire::kEpochUnknown
  // while a release node 0 has not numbered yet is under way).
  [[nodiscard]] std::uint64_t sync_epoch() const;
  // Node 0, granting a token or ending a barrier for `node`: the notices
  // that node lacks (empty elsewhere, and for node 0 itself).
  [[nodiscard]] wire::Notices notices_for(wire::NodeId node) { return notices_.notices_for(node); }
  // At the manager of a lock or barrier: the epoch a message said, made
  // definite where possible.
  [[nodiscard]] std::uint64_t settled_epoch(std::uint64_t epoch) const { return notices_.settled_epoch(epoch); }
  // A token arrived or a barrier ended (acquires.h).
  void sync_arrived(std::uint64_t epoch, const wire::Notices& notices) { acquires_.sync_arrived(epoch, notices); }
  [[nodiscard]] std::optional<std::uint32_t> answer_synced_acquire(std::uint32_t slot) {
    return acquires_.answer_synced_acquire(slot);
  }
  [[nodiscard]] std::uint32_t grant_arrived(std::uint32_t slot, std::uint64_t epoch, const wire::Notices& notices) {
    return acquires_.grant_arrived(slot, epoch, notices);
  }
  // Releases `pages` before an unlock or a barrier arrival (releases.h):
  // `then` lets the token go, or arrives, once nothing can overtake them.
  [[nodiscard]] std::optional<Reply> release(std::uint32_t slot, Pages pages, std::int32_t status = 0,
                                             std::function<void()> then = {}) {
    return releases_.release(slot, pages, status, std::move(then));
  }

 private:
  CoherenceShared& shared_;
  NoticeManager& notices_;
  Releases& releases_;
  Acquires& acquires_;
};

}  // namespace gpt::node
