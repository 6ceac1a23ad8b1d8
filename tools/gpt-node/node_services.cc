#include "node_services.h"

#include "acquires.h"
#include "barrier_all.h"
#include "barriers.h"
#include "coherence.h"
#include "coherence_shared.h"
#include "conds.h"
#include "forwarding.h"
#include "keys.h"
#include "locks.h"
#include "notice_manager.h"
#include "page_fetch.h"
#include "process_signals.h"
#include "releases.h"
#include "remote_free_relay.h"
#include "rwlocks.h"
#include "sem_names.h"
#include "semaphores.h"
#include "signal_relay.h"
#include "threads.h"
#include "withdrawals.h"

namespace gpt::node {

// One line per family. The order is the order of the GPT_STATS counters and
// of the per-turn polls; routing does not depend on it. Coherence comes
// first: the families that synchronise take in and pass on its epochs.
NodeServices::NodeServices(const NodeContext& node)
    : coherence_state_(std::make_unique<CoherenceShared>(node)) {
  CoherenceShared& shared = *coherence_state_;
  NoticeManager& notices = add<NoticeManager>(shared);
  Releases& releases = add<Releases>(shared, notices);
  Acquires& acquires = add<Acquires>(shared, notices, releases);
  add<PageFetch>(shared, notices, releases);
  add<BarrierAll>(shared, notices, releases, acquires);
  add<RemoteFreeRelay>(node);
  coherence_ = std::make_unique<Coherence>(shared, notices, releases, acquires);
  Coherence& coherence = *coherence_;

  add<Threads>(node, coherence);
  add<Locks>(node, coherence);
  add<Barriers>(node, coherence);
  add<Conds>(node);
  add<Semaphores>(node, coherence);
  add<RwLocks>(node, coherence);
  add<Keys>(node);
  add<SemNames>(node);
  add<Forwarding>(node);
  add<SignalRelay>(node);
  add<ProcessSignals>(node);
  add<Withdrawals>(node, table_);
}

// Later services hold references to earlier ones: they go first.
NodeServices::~NodeServices() {
  while (!services_.empty()) services_.pop_back();
  coherence_.reset();
}

}  // namespace gpt::node
