#include "page_copies.h"

#include <cstring>

namespace gpt::node {

void PageCopies::put(std::uint64_t page, std::span<const std::byte> bytes) {
  expected_.erase(page);
  copies_[page].assign(bytes.begin(), bytes.end());
}

std::span<const std::byte> PageCopies::bytes(std::uint64_t page) const {
  auto it = copies_.find(page);
  if (it == copies_.end()) return {};
  return it->second;
}

std::uint64_t PageCopies::install_leading(std::uint64_t page, std::uint64_t count, const HeapMemory& heap) {
  std::uint64_t done = 0;
  for (auto it = copies_.find(page); done < count && it != copies_.end(); it = copies_.find(page + ++done)) {
    std::memcpy(heap.page(page + done).data(), it->second.data(), region::kPageSize);
    copies_.erase(it);
  }
  return done;
}

void PageCopies::outdate(std::uint64_t page) {
  copies_.erase(page);
  expected_.erase(page);
}

void PageCopies::arrived(std::uint64_t page, std::span<const std::byte> bytes) {
  if (expected_.erase(page) == 0) return;  // outdated on its way
  copies_[page].assign(bytes.begin(), bytes.end());
}

}  // namespace gpt::node
