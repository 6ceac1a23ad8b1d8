// Acquires (docs/coherence.md): the program asks which pages others wrote
// since it last acquired, and invalidates them. Node 0 answers from its
// log. Elsewhere this part keeps the notices node 0 sent (on notice lists,
// lock grants, barrier departures, thread hand-overs) until the program has
// applied them, so an acquire right after such a synchronisation, whose
// epoch those notices cover, is answered here without a message.
//
// An answer (channel_ops.h AcquireAnswerHead, then the pages and the
// copies) fits one slot; a list longer than that is kept by cursor for
// kAcquireMore.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "coherence_shared.h"
#include "notice_manager.h"
#include "releases.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Acquires final : public ServiceBase<Acquires, wire::NoticeList> {
 public:
  Acquires(CoherenceShared& shared, NoticeManager& notices, const Releases& releases);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Node 0's answer to our NoticeQuery.
  void on(const wire::NoticeList& m, wire::NodeId from);
  void report(Stats& stats) const override;

  // Every notice up to this epoch is kept here or applied by the program.
  [[nodiscard]] std::uint64_t known_epoch() const { return known_epoch_; }
  // Notices from node 0 (on any message): kept until applied; the page
  // copies with them kept until read, replaced or outdated.
  void absorb(const wire::Notices& notices);
  // A token arrived or a barrier ended: the threads it lets go must see
  // notices up to `epoch`; `notices` (from node 0) may already bring them.
  void sync_arrived(std::uint64_t epoch, const wire::Notices& notices);
  // Writes the answer to such a thread's acquire into `slot`'s payload, if
  // this node has the notices it needs and they fit in one reply (the lock
  // or barrier reply then carries it: no kAcquire call). Returns its length.
  [[nodiscard]] std::optional<std::uint32_t> answer_synced_acquire(std::uint32_t slot);
  // A grant that is an acquire arrived for the call in `slot` (a semaphore
  // wait, an rwlock): takes in its epoch and notices and writes the
  // acquire's answer if it can be given here. Returns its length (0: the
  // program asks).
  [[nodiscard]] std::uint32_t grant_arrived(std::uint32_t slot, std::uint64_t epoch, const wire::Notices& notices);
  // Answers the acquire of the call in `slot` from what this node has
  // (the caller knows it has enough: node 0, or notices just received).
  void answer_acquire(std::uint32_t slot);

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kAcquire, channel::Op::kAcquireMore};
  struct Received {
    std::uint64_t epoch;
    std::vector<std::uint64_t> pages;
  };
  // The notices the program has not applied yet (node 0: from its log).
  struct Unapplied {
    std::uint64_t epoch;
    std::vector<std::uint64_t> pages;
  };
  struct Query {  // a NoticeQuery on its way
    std::uint32_t slot;
    std::uint64_t unknown_epochs;  // unknown epochs that had arrived when it was asked
  };

  std::optional<Reply> acquire(std::uint32_t slot, std::span<const unsigned char> request);
  Reply acquire_more(std::span<const unsigned char> request, std::span<unsigned char> reply);
  [[nodiscard]] bool answerable_here() const;
  void count_answered_here();
  [[nodiscard]] Unapplied unapplied();
  [[nodiscard]] std::vector<std::uint64_t> not_homed_here(const std::vector<std::uint64_t>& pages) const;
  std::uint32_t write_answer(std::span<unsigned char> out, std::uint64_t epoch, std::vector<std::uint64_t> pages);
  static Reply list_chunk(std::span<unsigned char> out, const std::vector<std::uint64_t>& pages,
                          std::size_t offset);
  void merge_oldest_received();

  CoherenceShared& shared_;
  NoticeManager& notices_;
  const Releases& releases_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Query> queries_;
  // Nodes other than 0: every notice up to known_epoch_ is in received_ or
  // applied by the program (channel header acquired_epoch).
  std::vector<Received> received_;
  std::uint64_t known_epoch_ = 0;
  std::uint64_t sync_required_ = 0;  // the newest epoch a token arrived with
  // Tokens/departures that arrived with an unknown epoch, and how many of
  // them a node-0 answer asked for later has covered.
  std::uint64_t unknown_epochs_ = 0;
  std::uint64_t unknown_epochs_answered_ = 0;
  // Notice lists too long for one reply, by cursor (kAcquireMore).
  std::map<std::uint64_t, std::vector<std::uint64_t>> long_lists_;
  std::uint64_t next_cursor_ = 1;
  std::uint64_t answered_here_ = 0;  // acquires answered with no message to node 0
};

}  // namespace gpt::node
