#include "notice_log.h"

#include <algorithm>
#include <utility>

namespace gpt::node {

NoticeLog::NoticeLog(std::uint32_t node_count) : sent_(node_count, 0) {}

std::uint64_t NoticeLog::log(wire::NodeId writer, std::vector<std::uint64_t> pages) {
  entries_.push_back(Entry{++epoch_, writer, std::move(pages)});
  if (entries_.size() > kMaxEntries) merge_oldest();
  return epoch_;
}

// Folds the oldest half of the entries into the first one.
void NoticeLog::merge_oldest() {
  const std::size_t fold = entries_.size() / 2;
  Entry merged{0, kMerged, {}};
  for (std::size_t i = 0; i < fold; ++i) {
    Entry& e = entries_.front();
    merged.epoch = e.epoch;
    merged.pages.insert(merged.pages.end(), e.pages.begin(), e.pages.end());
    entries_.pop_front();
  }
  std::sort(merged.pages.begin(), merged.pages.end());
  merged.pages.erase(std::unique(merged.pages.begin(), merged.pages.end()), merged.pages.end());
  entries_.push_front(std::move(merged));
}

std::vector<std::uint64_t> NoticeLog::since(std::uint64_t since, wire::NodeId reader) const {
  std::vector<std::uint64_t> pages;
  auto first = std::upper_bound(entries_.begin(), entries_.end(), since,
                                [](std::uint64_t s, const Entry& e) { return s < e.epoch; });
  for (auto it = first; it != entries_.end(); ++it)
    if (it->writer != reader) pages.insert(pages.end(), it->pages.begin(), it->pages.end());
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  return pages;
}

std::vector<std::uint64_t> NoticeLog::take_unsent(wire::NodeId reader) {
  if (reader >= sent_.size()) return {};
  auto pages = since(sent_[reader], reader);
  sent_[reader] = epoch_;
  return pages;
}

std::size_t NoticeLog::trim(std::uint64_t node0_applied) {
  std::uint64_t keep_after = node0_applied;
  for (std::size_t n = 1; n < sent_.size(); ++n) keep_after = std::min(keep_after, sent_[n]);
  while (!entries_.empty() && entries_.front().epoch <= keep_after) entries_.pop_front();
  return entries_.size();
}

}  // namespace gpt::node
