// The newest epoch among the releases a synchronisation object has taken in
// (semaphore posts, rwlock unlocks): what its next grant must make the taker
// see. Unlike a lock token, a count does not say which release a grant
// consumed, so every grant carries the newest.
//
// Epochs arrive settled (Coherence::settled_epoch): a pending one can only
// come from a release of this very node that node 0 has not numbered yet
// (other nodes' gates complete theirs). It stays pending until this node's
// own epoch is known again, which then covers it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "wire.h"

namespace gpt::node {

class EpochMax {
 public:
  void add(std::uint64_t epoch) {
    if (wire::epoch_pending(epoch)) local_pending_ = true;
    newest_ = std::max(newest_, wire::epoch_floor(epoch));
  }

  // The epoch for a grant made now; `own` is this node's synchronisation
  // epoch (Coherence::sync_epoch). Pending (wire::pending_epoch) while a
  // local release is still unnumbered: the gate completes it if the grant
  // leaves the node, and a taker here asks node 0.
  [[nodiscard]] std::uint64_t for_grant(std::uint64_t own) {
    if (local_pending_) {
      if (wire::epoch_pending(own)) return wire::pending_epoch(newest_);
      newest_ = std::max(newest_, own);
      local_pending_ = false;
    }
    return newest_;
  }

 private:
  std::uint64_t newest_ = 0;
  bool local_pending_ = false;
};

}  // namespace gpt::node
