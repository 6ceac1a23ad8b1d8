// The agent's half of home-based lazy release consistency
// (docs/coherence.md). It serves the application's coherence requests from
// the channel and the peers' page, diff, write-notice and barrier messages.
//
//  * as a requester: fetches pages from their homes into the heap memfd,
//    sends the diffs of released pages home and posts write notices; keeps
//    the notices node 0 sent until the program has applied them, so an
//    acquire whose lock token needs nothing newer is answered here;
//  * as a home: answers page requests from its memfd and applies diffs;
//  * on node 0 only: keeps the write-notice log (notice_log.h), sends each
//    node its notices with the current contents of a few of the pages, and
//    runs the barrier.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "channel_server.h"
#include "heap_memory.h"
#include "message_gate.h"
#include "node_context.h"
#include "notice_log.h"
#include "page_copies.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

struct CoherenceCounters {
  std::uint64_t pages_fetched = 0;  // as a requester
  std::uint64_t pages_served = 0;   // as a home
  std::uint64_t diffs_sent = 0;
  std::uint64_t diff_bytes_sent = 0;
  std::uint64_t diffs_applied = 0;  // as a home
  std::uint64_t diffs_rejected = 0;
  std::uint64_t notices_posted = 0;
  std::uint64_t acquires_answered_here = 0;  // no message to node 0
  std::uint64_t copies_sent = 0;           // page copies riding on notices (node 0)
  std::uint64_t fetches_from_copies = 0;   // fetches served from such copies
  std::uint64_t pages_read_ahead = 0;       // pages asked for ahead of a sequential scan
  std::uint64_t barriers = 0;
  std::uint64_t remote_frees_forwarded = 0;  // sent to their homes
  std::uint64_t remote_frees_delivered = 0;  // put in our program's inbox
};

class Coherence final
    : public ServiceBase<Coherence, wire::PageRequest, wire::PageData, wire::DiffBatch, wire::DiffAck,
                         wire::NoticeQuery, wire::NoticeList, wire::RemoteFrees, wire::BarrierArrive,
                         wire::BarrierRelease> {
 public:
  explicit Coherence(const NodeContext& node);
  ~Coherence() override;  // the gate's epoch source points here

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  // A channel request; nullopt when it completes later.
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::PageRequest& m, wire::NodeId from);
  void on(const wire::PageData& m, wire::NodeId from);
  void on(const wire::DiffBatch& m, wire::NodeId from);
  void on(const wire::DiffAck& m, wire::NodeId from);
  void on(const wire::NoticeQuery& m, wire::NodeId from);
  void on(const wire::NoticeList& m, wire::NodeId from);
  void on(const wire::RemoteFrees& m, wire::NodeId from);
  void on(const wire::BarrierArrive& m, wire::NodeId from);
  void on(const wire::BarrierRelease& m, wire::NodeId from);
  void poll() override { drain_inbox_overflow(); }
  void report(Stats& stats) const override;

  // Synchronisation that carries epochs (lock tokens, pthread barriers).
  // The epoch a message leaving this node carries: the threads here saw
  // the notices up to it, their releases included.
  [[nodiscard]] std::uint64_t sync_epoch() const;
  // Node 0, granting a token or ending a barrier for `node`: the notices
  // that node lacks (empty elsewhere, and for node 0 itself).
  [[nodiscard]] wire::Notices notices_for(wire::NodeId node);
  // A token arrived or a barrier ended: the threads it lets go must see
  // notices up to `epoch`; `notices` (from node 0) may already bring them.
  void sync_arrived(std::uint64_t epoch, const wire::Notices& notices);
  // Writes the answer to such a thread's acquire into `slot`'s payload, if
  // this node has the notices it needs and they fit in one reply (the kLock
  // or kBarrierWait reply then carries it: no kAcquire call). Returns the
  // answer's length.
  [[nodiscard]] std::optional<std::uint32_t> answer_synced_acquire(std::uint32_t slot);
  // A grant that is an acquire arrived for the program's call in `slot`
  // (a semaphore wait, an rwlock): takes in its epoch and notices, and
  // writes the acquire's answer into the slot if it can be given here.
  // Returns the reply length (0: the program asks).
  [[nodiscard]] std::uint32_t grant_arrived(std::uint32_t slot, std::uint64_t epoch,
                                            const wire::Notices& notices);
  // Releases `pages` (kRelease, kUnlockReleased). `then` runs, and the
  // program is answered (with `status`), as soon as the release cannot be
  // overtaken: once the last diffs and the notices are on their way to node
  // 0 (everything this node sends node 0 later arrives after them, and
  // what it sends others waits for node 0's acknowledgement). Node 0's own
  // releases complete at once.
  [[nodiscard]] std::optional<Reply> release(std::uint32_t slot, std::span<const unsigned char> request,
                                             std::int32_t status = 0, std::function<void()> then = {});
  // At the manager of a lock or barrier: the epoch a message said, made
  // definite where possible (node 0 knows what an unknown one was).
  [[nodiscard]] std::uint64_t settled_epoch(std::uint64_t epoch) const;
  // Moves frees that did not fit the program's inbox into it (call often).
  void drain_inbox_overflow();

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kFetchPage, channel::Op::kRelease,
                                         channel::Op::kReleaseForBarrier, channel::Op::kAcquire,
                                         channel::Op::kAcquireMore, channel::Op::kBarrier,
                                         channel::Op::kRemoteFree};
  struct Release {
    std::uint32_t slot;
    std::vector<std::uint64_t> pages;
    std::uint32_t acks_due = 0;
    // Diffs for node 0's pages: sent last, with the notices (one round trip).
    wire::DiffBatch to_origin;
    std::int32_t status = 0;                  // the program's reply status
    bool answered = false;                    // the program was answered early
    std::function<void()> then;               // run when it cannot be overtaken
  };
  struct Pending {
    enum Kind { kFetch, kAhead, kReleaseDiffs, kReleaseNotice, kAcquire } kind;
    std::uint32_t slot = 0;
    std::uint64_t release = 0;  // for the release kinds
    std::uint64_t page = 0;     // for kFetch, kAhead: first page
    std::uint32_t count = 0;    // for kFetch, kAhead: pages
    std::uint64_t unknown_epochs = 0;  // kAcquire: unknown epochs arrived before it was asked
  };

  std::optional<Reply> fetch(std::uint32_t slot, std::span<const unsigned char> request);
  std::optional<Reply> serve_fetch(std::uint32_t slot, std::uint64_t page, std::uint64_t count,
                                   bool resumed = false);
  // Asks the home of `from` for the pages from there on (up to 16 per
  // request, those not copied or asked for already) as copies, as far
  // ahead as the scan has earned (docs/coherence.md, "Read-ahead").
  void read_ahead(std::uint64_t from);
  void serve_ahead_waiters();
  std::optional<Reply> acquire(std::uint32_t slot, std::span<const unsigned char> request);
  Reply acquire_more(std::span<const unsigned char> request, std::span<unsigned char> reply);
  std::optional<Reply> barrier(std::uint32_t slot);
  Reply remote_free(std::span<const unsigned char> request);
  void deliver_frees(const std::vector<std::uint64_t>& pointers);

  void post_notices(std::uint64_t release_id);
  void finish_release(std::uint64_t release_id, std::uint64_t epoch);
  void finish_acquire(std::uint32_t slot, std::uint64_t epoch,
                      const std::vector<std::uint64_t>& pages);
  // The notices the program has not applied yet (node 0: from its log).
  struct Unapplied {
    std::uint64_t epoch;
    std::vector<std::uint64_t> pages;
  };
  [[nodiscard]] Unapplied unapplied();
  void count_answered_here();
  // Answers an acquire from them.
  void answer_acquire(std::uint32_t slot);
  [[nodiscard]] std::vector<std::uint64_t> not_homed_here(const std::vector<std::uint64_t>& pages) const;
  // An acquire answer (channel.h kAcquire): u64 cursor, total, epoch,
  // copies; pages; the copies' pages and bytes.
  static constexpr std::size_t kAnswerHeaderBytes = 32;
  std::uint32_t write_answer(std::span<unsigned char> out, std::uint64_t epoch,
                             std::vector<std::uint64_t> pages);
  // Notices from node 0 (any message): kept until applied; page copies kept
  // until read, replaced or outdated.
  void absorb(const wire::Notices& notices);
  // The epoch up to which the program has invalidated what notices named.
  [[nodiscard]] std::uint64_t applied_epoch() const;
  [[nodiscard]] bool being_released(std::uint64_t page) const;

  // Node 0: logs a release's notices (outdating its own copies of them).
  std::uint64_t log(wire::NodeId writer, const std::vector<std::uint64_t>& pages);
  // Node 0: the notices for `node` with copies of some of their pages.
  wire::Notices bundle_for(wire::NodeId node);
  void barrier_arrival(wire::NodeId node, std::uint64_t generation);
  void barrier_released(std::uint64_t generation, const wire::Notices& notices);

  void send(wire::NodeId to, const wire::Message& m);
  [[nodiscard]] bool valid_page(std::uint64_t page) const;

  wire::NodeId self_;
  std::uint32_t node_count_;
  HeapMemory& heap_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  CoherenceCounters counters_;

  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, Release> releases_;

  // Requester side (nodes other than 0). Every notice up to known_epoch_ is
  // in received_ or applied by the program (channel header acquired_epoch).
  struct Received {
    std::uint64_t epoch;
    std::vector<std::uint64_t> pages;
  };
  std::vector<Received> received_;
  void merge_oldest_received();
  std::uint64_t known_epoch_ = 0;
  std::uint64_t released_epoch_ = 0;   // our own latest release's notices
  std::uint64_t sync_required_ = 0;   // the newest epoch a token arrived with
  // Releases answered before node 0 numbered them: while there are any, the
  // epoch this node's messages carry is unknown (wire::kEpochUnknown).
  std::uint32_t unacknowledged_ = 0;
  // Tokens/departures that arrived with an unknown epoch, and how many of
  // them a node-0 answer asked for later has covered.
  std::uint64_t unknown_epochs_ = 0;
  std::uint64_t unknown_epochs_answered_ = 0;
  [[nodiscard]] bool answerable_here() const;
  PageCopies copies_;
  // Read-ahead: where the last fetch ended, how far pages were asked for
  // ahead, and faults waiting for pages on their way.
  static constexpr std::uint64_t kAheadWindow = 128;  // pages
  std::uint64_t last_fetch_end_ = ~std::uint64_t{0};
  std::uint64_t ahead_end_ = 0;
  std::uint64_t scan_start_ = 0;  // first page of the scan read_ahead serves
  struct AheadWaiter {
    std::uint32_t slot;
    std::uint64_t page, count;
  };
  std::vector<AheadWaiter> ahead_waiters_;

  std::vector<std::uint64_t> inbox_overflow_;
  // Notice lists too long for one reply, by cursor (kAcquireMore).
  std::map<std::uint64_t, std::vector<std::uint64_t>> long_lists_;
  std::uint64_t next_cursor_ = 1;
  Reply list_chunk(std::span<unsigned char> out, const std::vector<std::uint64_t>& pages,
                   std::size_t offset);

  std::uint64_t barrier_generation_ = 0;
  std::optional<std::uint32_t> barrier_slot_;
  // A barrier this node arrived at for its program, which has not asked for
  // it yet (kReleaseForBarrier), and whether it has departed already.
  std::optional<std::uint64_t> early_barrier_;
  bool early_barrier_departed_ = false;
  void arrive_early();
  // The program's barrier call (barrier_slot_) departs with its acquire.
  void leave_barrier();

  // Node 0 only.
  NoticeLog log_;
  // Which node has fetched which of node 0's pages (page * nodes + node):
  // only those get copies with their notices.
  std::unordered_set<std::uint64_t> copy_holders_;
  std::map<std::uint64_t, std::uint32_t> barrier_arrivals_;  // by generation
};

}  // namespace gpt::node
