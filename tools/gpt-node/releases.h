// Releases (docs/coherence.md): the program's kRelease, and the releases
// that unlocks and barriers make before they go on (Coherence::release).
// The writer sends each home the diffs of its pages against their twins,
// waits for those homes to apply them, then sends node 0 its own pages'
// diffs with the release's write notices; node 0 applies, logs and
// acknowledges with the notices' epoch. As a home, this part applies the
// diffs others send.
//
// The program is answered as soon as the release cannot be overtaken:
// when the notices leave for node 0, everything this node sends later
// either follows them on that connection or waits in the gate until node
// 0 acknowledged (MessageGate::hold_all_but).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "channel_request.h"
#include "coherence_shared.h"
#include "notice_manager.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Releases final : public ServiceBase<Releases, wire::DiffBatch, wire::DiffAck> {
 public:
  Releases(CoherenceShared& shared, NoticeManager& notices);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // As a home: a writer's diffs (and, at node 0, its notices).
  void on(const wire::DiffBatch& m, wire::NodeId from);
  // As the writer: a home applied our diffs.
  void on(const wire::DiffAck& m, wire::NodeId from);
  void report(Stats& stats) const override;

  // Releases `pages` (the program write-protected them; the view may be
  // the slot's payload: it is read before the reply is written). `then`
  // runs, and the program is answered (ReleaseReply, with `status`), as
  // soon as the release cannot be overtaken; node 0's own releases
  // complete at once.
  [[nodiscard]] std::optional<Reply> release(std::uint32_t slot, Pages pages, std::int32_t status = 0,
                                             std::function<void()> then = {});
  // A page of a release under way: a copy of it from elsewhere may predate
  // our own writes and must not be kept.
  [[nodiscard]] bool being_released(std::uint64_t page) const;
  // The epoch of this node's latest acknowledged release.
  [[nodiscard]] std::uint64_t released_epoch() const { return released_epoch_; }
  // Releases the program was told are done whose notices node 0 has not
  // numbered yet: while there are any, this node's epoch is unknown.
  [[nodiscard]] std::uint32_t unacknowledged() const { return unacknowledged_; }
  // No release of ours is under way or unacknowledged: every diff this node
  // sent has been applied at its home (a one-sided read of a home's page
  // then sees our own writes; page_fetch.h).
  [[nodiscard]] bool quiet() const { return releases_.empty(); }

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kRelease};
  struct Release {
    std::uint32_t slot;
    std::vector<std::uint64_t> pages;
    std::uint32_t acks_due = 0;
    // Diffs for node 0's pages: sent last, with the notices (one round trip).
    wire::DiffBatch to_origin;
    std::int32_t status = 0;       // the program's reply status
    bool answered = false;         // the program was answered early
    std::function<void()> then;    // run when it cannot be overtaken
  };
  // A DiffBatch on its way: the diffs of one home, or the last one, to node
  // 0 with the notices.
  struct Pending {
    std::uint64_t release;
    bool notices;
  };

  void post_notices(std::uint64_t release_id);
  void finish_release(std::uint64_t release_id, std::uint64_t epoch);

  CoherenceShared& shared_;
  NoticeManager& notices_;
  std::uint64_t next_id_ = 1;  // releases and their DiffBatch requests
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, Release> releases_;
  std::uint64_t released_epoch_ = 0;
  std::uint32_t unacknowledged_ = 0;
  std::uint64_t diffs_sent_ = 0, diff_bytes_sent_ = 0, diffs_applied_ = 0;
};

}  // namespace gpt::node
