// Node 0 as the notice manager (docs/coherence.md): it keeps the job's
// write-notice log (notice_log.h) and sends each node the notices it lacks,
// with the current contents of a few of node 0's pages that node read
// before, on notice lists, lock grants, barrier departures and thread
// hand-overs alike. On other nodes this part only says "nothing": they hear
// notices from node 0 (acquires.h).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "coherence_shared.h"
#include "notice_log.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class NoticeManager final : public ServiceBase<NoticeManager, wire::NoticeQuery> {
 public:
  explicit NoticeManager(CoherenceShared& shared);

  // An acquire on another node: the notices it lacks.
  void on(const wire::NoticeQuery& m, wire::NodeId from);
  void report(Stats& stats) const override;

  // Node 0: logs a release's notices and returns their epoch. Node 0's own
  // copies of those pages are outdated from then on (it learns of writes
  // when it logs them, not from a notice sent to it).
  std::uint64_t log(wire::NodeId writer, const std::vector<std::uint64_t>& pages);
  // Node 0: the newest epoch logged.
  [[nodiscard]] std::uint64_t epoch() const { return log_.epoch(); }
  // Node 0: the notices `node` lacks, with copies of some of their pages
  // (those homed at node 0 that `node` fetched before); marks them sent.
  [[nodiscard]] wire::Notices bundle_for(wire::NodeId node);
  // What a message to `node` carries: its bundle when node 0 sends to
  // another node, nothing otherwise.
  [[nodiscard]] wire::Notices notices_for(wire::NodeId node);
  // At the manager of a lock or barrier: the epoch a message said, made
  // definite where possible (node 0 knows what an unknown one was: it
  // processed the sender's release before the message, on one connection).
  [[nodiscard]] std::uint64_t settled_epoch(std::uint64_t epoch) const;
  // Node 0 served `count` of its pages from `page` on to `node`: only such
  // pages ride as copies on that node's notices.
  void served(std::uint64_t page, std::uint64_t count, wire::NodeId node);
  // Node 0's own acquire: the pages others wrote after what its program has
  // applied (the log drops what every node has been sent and applied).
  [[nodiscard]] std::vector<std::uint64_t> unapplied_here();

 private:
  CoherenceShared& shared_;
  NoticeLog log_;
  // Which node holds which of node 0's pages (page * nodes + node).
  std::unordered_set<std::uint64_t> copy_holders_;
  std::uint64_t copies_sent_ = 0;
};

}  // namespace gpt::node
