// Node 0's write-notice log (docs/coherence.md): which pages which node wrote
// in which release epoch, and, per reader, how far its lists have been sent.
// A list for a reader covers the epochs after the last list sent to it (the
// transport keeps the order of node 0's messages to one node, so a reader
// has every earlier list when a new one arrives) and leaves out the reader's
// own writes. Entries every reader has been sent, and node 0 has applied,
// are dropped, so the log stays as long as the oldest unsent list. A reader
// that never synchronises would make that unbounded: past kMaxEntries the
// oldest entries are merged into one (the union of their pages, the newest
// of their epochs, no writer), so the log is bounded by the pages written,
// not by the releases. A merged entry may list a page to a reader that
// already had it, or that wrote it itself: one more invalidation, never a
// missing one.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "wire.h"

namespace gpt::node {

class NoticeLog {
 public:
  static constexpr std::size_t kMaxEntries = 1024;

  explicit NoticeLog(std::uint32_t node_count);

  // Logs a release's pages; returns its epoch.
  std::uint64_t log(wire::NodeId writer, std::vector<std::uint64_t> pages);
  [[nodiscard]] std::uint64_t epoch() const { return epoch_; }

  // Pages written by others after `since`, sorted, each once.
  [[nodiscard]] std::vector<std::uint64_t> since(std::uint64_t since, wire::NodeId reader) const;
  // The pages `reader` has not been sent yet; marks them sent.
  [[nodiscard]] std::vector<std::uint64_t> take_unsent(wire::NodeId reader);

  // Node 0's own acquires have applied everything up to `epoch`; drops what
  // nobody needs any more. Returns the entries left.
  std::size_t trim(std::uint64_t node0_applied);
  [[nodiscard]] std::size_t entries() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint64_t epoch;
    wire::NodeId writer;
    std::vector<std::uint64_t> pages;
  };
  static constexpr wire::NodeId kMerged = ~wire::NodeId{0};  // a merged entry's writer
  void merge_oldest();

  std::deque<Entry> entries_;
  std::uint64_t epoch_ = 0;
  std::vector<std::uint64_t> sent_;  // per reader: lists sent up to this epoch
};

}  // namespace gpt::node
