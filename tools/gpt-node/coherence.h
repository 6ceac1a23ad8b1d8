// The agent's half of home-based lazy release consistency
// (docs/coherence.md). It serves the application's coherence requests from
// the channel and the peers' page, diff, write-notice and barrier messages.
//
//  * as a requester: fetches pages from their homes into the heap memfd,
//    sends the diffs of released pages home and posts write notices;
//  * as a home: answers page requests from its memfd and applies diffs;
//  * on node 0 only: keeps the write-notice log and runs the barrier.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "channel_server.h"
#include "heap_memory.h"
#include "message_gate.h"
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
  std::uint64_t barriers = 0;
  std::uint64_t remote_frees_forwarded = 0;  // sent to their homes
  std::uint64_t remote_frees_delivered = 0;  // put in our program's inbox
};

class Coherence {
 public:
  Coherence(wire::NodeId self, std::uint32_t node_count, HeapMemory& heap,
            net::MessageGate& gate, ChannelServer& channel);

  // A channel request; nullopt when it completes later.
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply);
  // A peer's message; false if it is not a coherence message.
  bool on_message(const wire::Envelope& env);

  [[nodiscard]] const CoherenceCounters& counters() const { return counters_; }
  // Moves frees that did not fit the program's inbox into it (call often).
  void drain_inbox_overflow();

 private:
  struct Release {
    std::uint32_t slot;
    std::vector<std::uint64_t> pages;
    std::uint32_t acks_due = 0;
    bool for_barrier = false;  // keep the notices for the barrier arrival
  };
  struct Pending {
    enum Kind { kFetch, kReleaseDiffs, kReleaseNotice, kAcquire } kind;
    std::uint32_t slot = 0;
    std::uint64_t release = 0;  // for the release kinds
    std::uint64_t page = 0;     // for kFetch: first page
    std::uint32_t count = 0;    // for kFetch: pages
  };

  std::optional<Reply> fetch(std::uint32_t slot, std::span<const unsigned char> request);
  std::optional<Reply> release(std::uint32_t slot, std::span<const unsigned char> request,
                               bool for_barrier);
  std::optional<Reply> acquire(std::uint32_t slot);
  Reply acquire_more(std::span<const unsigned char> request, std::span<unsigned char> reply);
  std::optional<Reply> barrier(std::uint32_t slot);
  Reply remote_free(std::span<const unsigned char> request);
  void deliver_frees(const std::vector<std::uint64_t>& pointers);

  void post_notices(std::uint64_t release_id);
  void finish_release(std::uint64_t release_id, std::uint64_t epoch);
  void finish_acquire(std::uint32_t slot, std::uint64_t epoch,
                      const std::vector<std::uint64_t>& pages);

  // Node 0: the write-notice log and the barrier.
  std::uint64_t log_notices(wire::NodeId writer, const std::vector<std::uint64_t>& pages);
  std::vector<std::uint64_t> notices_since(std::uint64_t since, wire::NodeId reader) const;
  void barrier_arrival(wire::NodeId node, std::uint64_t generation, std::uint64_t since,
                       const std::vector<std::uint64_t>& pages);
  void barrier_released(std::uint64_t generation, std::uint64_t epoch,
                        const std::vector<std::uint64_t>& pages);

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
  std::uint64_t last_epoch_ = 0;  // notices up to here are applied locally

  std::vector<std::uint64_t> inbox_overflow_;
  std::vector<std::uint64_t> barrier_notices_;  // from kReleaseForBarrier
  // Notice lists too long for one reply, by cursor (kAcquireMore).
  std::map<std::uint64_t, std::vector<std::uint64_t>> long_lists_;
  std::uint64_t next_cursor_ = 1;
  Reply list_chunk(std::span<unsigned char> out, const std::vector<std::uint64_t>& pages,
                   std::size_t offset);

  std::uint64_t barrier_generation_ = 0;
  std::optional<std::uint32_t> barrier_slot_;

  // Node 0 only.
  struct NoticeEntry {
    std::uint64_t epoch;
    wire::NodeId writer;
    std::vector<std::uint64_t> pages;
  };
  std::vector<NoticeEntry> notice_log_;
  std::uint64_t epoch_ = 0;
  struct BarrierState {
    std::uint32_t arrived = 0;
    std::vector<std::uint64_t> since;  // per node
  };
  std::map<std::uint64_t, BarrierState> barriers_;
};

}  // namespace gpt::node
