#include "coherence.h"

#include <algorithm>

namespace gpt::node {

Coherence::Coherence(CoherenceShared& shared, NoticeManager& notices, Releases& releases, Acquires& acquires)
    : shared_(shared), notices_(notices), releases_(releases), acquires_(acquires) {
  shared_.node.gate.set_epoch_source([this] { return sync_epoch(); });
}

Coherence::~Coherence() { shared_.node.gate.set_epoch_source({}); }

std::uint64_t Coherence::sync_epoch() const {
  if (shared_.node.self == 0) return notices_.epoch();
  if (releases_.unacknowledged() > 0) return wire::kEpochUnknown;  // node 0 has not numbered it yet
  return std::max(acquires_.known_epoch(), releases_.released_epoch());
}

}  // namespace gpt::node
