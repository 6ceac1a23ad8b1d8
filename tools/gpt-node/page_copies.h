// Copies of other nodes' pages this node may read instead of fetching them
// (docs/coherence.md, "Page copies"): the ones node 0 sends with write
// notices, and the ones read ahead of a sequential scan. A copy is at least
// as new as every notice this agent has taken in for its page, so it is
// dropped (outdated) whenever a notice names the page again, when this node
// releases the page, and when a fetch brings it. A copy still on its way
// when that happens is dropped on arrival.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "heap_memory.h"

namespace gpt::node {

class PageCopies {
 public:
  // At most this many copies are kept (read-ahead stops there).
  static constexpr std::size_t kMaxCopies = 4096;

  void put(std::uint64_t page, std::span<const std::byte> bytes);
  [[nodiscard]] bool has(std::uint64_t page) const { return copies_.contains(page); }
  [[nodiscard]] std::span<const std::byte> bytes(std::uint64_t page) const;
  // Writes the copies of the leading pages of [page, page + count) into the
  // heap memory and forgets them (a copy is read once); returns how many.
  std::uint64_t install_leading(std::uint64_t page, std::uint64_t count, const HeapMemory& heap);
  // The page moved on (a notice named it, we released it, a fetch brought
  // it): its copy, here or on its way, is outdated.
  void outdate(std::uint64_t page);

  // Read-ahead: a copy requested for `page` is on its way...
  void expect(std::uint64_t page) { expected_.insert(page); }
  [[nodiscard]] bool expected(std::uint64_t page) const { return expected_.contains(page); }
  // ...and arrived: kept unless outdated meanwhile.
  void arrived(std::uint64_t page, std::span<const std::byte> bytes);
  [[nodiscard]] bool full() const { return copies_.size() + expected_.size() >= kMaxCopies; }

 private:
  std::unordered_map<std::uint64_t, std::vector<std::byte>> copies_;
  std::unordered_set<std::uint64_t> expected_;
};

}  // namespace gpt::node
