// Page fetches (docs/coherence.md): the program faulted on pages whose copy
// here is invalid and asks for them (kFetchPage); they come from copies this
// agent holds, from pages read ahead and on their way, or from their home.
// As a home, this part answers other nodes' requests from the heap memfd.
//
// Read-ahead: a fetch that starts where the previous one ended is a
// sequential scan, and the agent asks the home for the pages after it as
// copies, ahead of the scan by twice what it has read so far, up to a
// window ("Read-ahead" in docs/coherence.md).
//
// Fetching by RMA: when the data plane reads remote memory (remote_memory.h)
// and every diff of this node has been applied at its home (Releases::quiet),
// a fault's pages are read one-sided from the home straight into this
// node's copy, after their sole-copy marks there say sent ("Fetching by
// RMA" in docs/coherence.md); otherwise, and if that read fails, by a
// PageRequest. Pages read ahead come the same way, into a staging buffer
// that becomes their copies.
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

class PageFetch final : public ServiceBase<PageFetch, wire::PageRequest, wire::PageData> {
 public:
  PageFetch(CoherenceShared& shared, NoticeManager& notices, const Releases& releases);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // As a home: a node asks for pages.
  void on(const wire::PageRequest& m, wire::NodeId from);
  // As the requester: pages for a fault, or read ahead.
  void on(const wire::PageData& m, wire::NodeId from);
  // Collects one-sided reads that finished.
  void poll() override;
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kFetchPage};
  static constexpr std::uint64_t kAheadWindow = 128;  // pages
  // A traced fault's times (channel_ops.h, FetchPageRequest::traced_ns).
  struct Trace {
    std::uint64_t traced_ns = 0, picked_ns = 0, sent_ns = 0;
  };
  struct Pending {  // a PageRequest (or one-sided read) on its way
    std::uint32_t slot;  // the fault's (not for read-ahead)
    std::uint64_t page;
    std::uint32_t count;
    bool ahead;
    Trace trace{};
    // Where a one-sided read ahead lands (a fault's lands in the memfd).
    std::vector<std::byte> staging{};
  };
  struct AheadWaiter {  // a fault on pages read ahead, still on their way
    std::uint32_t slot;
    std::uint64_t page, count;
    Trace trace{};
  };

  std::optional<Reply> serve_fetch(std::uint32_t slot, std::uint64_t page, std::uint64_t count,
                                   bool resumed, Trace trace);
  // Asks the home of `from` for the pages from there on (up to 16 per
  // request, those not copied or asked for already) as copies, as far
  // ahead as the scan has earned.
  void read_ahead(std::uint64_t from);
  void serve_ahead_waiters();
  // Starts the one-sided read of pending request `id`; false: not possible.
  [[nodiscard]] bool fetch_by_rma(std::uint64_t id, Pending& p);
  // Pages read ahead arrived (`right`: they are the ones asked for).
  void ahead_arrived(const Pending& p, std::span<const std::byte> bytes, bool right);
  // The pages of a fault are in our copy (since `arrived_ns`, for its
  // trace): the program may map them.
  void fetched(const Pending& p, std::uint64_t arrived_ns);

  CoherenceShared& shared_;
  NoticeManager& notices_;
  const Releases& releases_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  // Where the last fetch ended, how far pages were asked for ahead, the
  // first page of the scan read_ahead serves, and faults waiting for pages
  // on their way.
  std::uint64_t last_fetch_end_ = ~std::uint64_t{0};
  std::uint64_t ahead_end_ = 0;
  std::uint64_t scan_start_ = 0;
  std::vector<AheadWaiter> ahead_waiters_;
  std::uint64_t pages_fetched_ = 0, pages_served_ = 0, fetches_from_copies_ = 0, pages_read_ahead_ = 0;
  std::uint64_t pages_read_remote_ = 0;  // read one-sided (faults and read-ahead)
  // As a home: PageRequests answered and the time our handler took.
  std::uint64_t requests_served_ = 0, request_serve_ns_ = 0;
};

}  // namespace gpt::node
