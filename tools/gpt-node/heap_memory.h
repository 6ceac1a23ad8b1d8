// This node's copy of the global address space: a memfd holding the heap
// pages (and, one heap size further on, the twins of dirty pages), created by
// the agent, mapped by the agent here and by the application at the region's
// fixed address. Nothing else shares it: other nodes see these bytes only
// through messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "gpt/region.h"
#include "gpt/sole_copy.h"

namespace gpt::node {

class HeapMemory {
 public:
  // Throws std::system_error when memfd/mmap fail.
  explicit HeapMemory(const region::Geometry& geometry);
  ~HeapMemory();
  HeapMemory(const HeapMemory&) = delete;
  HeapMemory& operator=(const HeapMemory&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const region::Geometry& geometry() const { return geometry_; }
  [[nodiscard]] std::span<std::byte, region::kPageSize> page(std::uint64_t index) const;
  [[nodiscard]] std::span<std::byte, region::kPageSize> twin(std::uint64_t index) const;
  // Before this node sends other nodes the bytes of `count` of its pages
  // from `first` on: they are no longer the home's sole copy (sole_copy.h).
  void note_sent(std::uint64_t first, std::uint64_t count) const;
  // A page written here and homed elsewhere was diffed: whether anything
  // was written since its last diff (sole_copy.h, quiet releases).
  void note_diff(std::uint64_t index, bool empty) const;
  [[nodiscard]] std::uint8_t sole_copy_mark(std::uint64_t index) const;
  // The start of the agent's mapping (offsets are the geometry's), for
  // registering it with a data plane that reads remote memory.
  [[nodiscard]] std::byte* base() const { return base_; }
  // Where `count` pages from `first` are, as one range (consecutive page
  // numbers are consecutive in the memfd).
  [[nodiscard]] std::span<std::byte> pages(std::uint64_t first, std::uint64_t count) const {
    return {base_ + geometry_.page_offset(first), count * region::kPageSize};
  }

 private:
  [[nodiscard]] sole_copy::Mark* marks() const;

  region::Geometry geometry_;
  int fd_ = -1;
  std::byte* base_ = nullptr;
};

}  // namespace gpt::node
