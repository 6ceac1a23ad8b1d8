#include "node_services.h"

#include "barriers.h"
#include "coherence.h"
#include "conds.h"
#include "forwarding.h"
#include "keys.h"
#include "locks.h"
#include "rwlocks.h"
#include "semaphores.h"
#include "signal_relay.h"
#include "threads.h"

namespace gpt::node {

// One line per family. The order is the order of the GPT_STATS counters and
// of the per-turn polls; routing does not depend on it.
NodeServices::NodeServices(const NodeContext& node) {
  Coherence& coherence = add<Coherence>(node);
  add<Threads>(node, coherence);
  add<Locks>(node, coherence);
  add<Barriers>(node, coherence);
  add<Conds>(node);
  add<Semaphores>(node, coherence);
  add<RwLocks>(node, coherence);
  add<Keys>(node);
  add<Forwarding>(node);
  add<SignalRelay>(node);
}

// Later services hold references to earlier ones: they go first.
NodeServices::~NodeServices() {
  while (!services_.empty()) services_.pop_back();
}

}  // namespace gpt::node
