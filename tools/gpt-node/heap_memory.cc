#include "heap_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace gpt::node {

HeapMemory::HeapMemory(const region::Geometry& geometry) : geometry_(geometry) {
  fd_ = memfd_create("gpt-heap", MFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "memfd_create heap");
  // Sparse: pages take memory only once written.
  if (ftruncate(fd_, static_cast<off_t>(geometry.backing_bytes())) != 0) {
    int err = errno;
    close(fd_);
    throw std::system_error(err, std::generic_category(), "ftruncate heap");
  }
  void* p = mmap(nullptr, geometry.backing_bytes(), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd_);
    throw std::system_error(err, std::generic_category(), "mmap heap");
  }
  base_ = static_cast<std::byte*>(p);
}

HeapMemory::~HeapMemory() {
  if (base_) munmap(base_, geometry_.backing_bytes());
  if (fd_ >= 0) close(fd_);
}

std::span<std::byte, region::kPageSize> HeapMemory::page(std::uint64_t index) const {
  return std::span<std::byte, region::kPageSize>(base_ + geometry_.page_offset(index),
                                                 region::kPageSize);
}

std::span<std::byte, region::kPageSize> HeapMemory::twin(std::uint64_t index) const {
  return std::span<std::byte, region::kPageSize>(base_ + geometry_.twin_offset(index),
                                                 region::kPageSize);
}

void HeapMemory::note_sent(std::uint64_t first, std::uint64_t count) const {
  sole_copy::note_sent(marks(), first, count);
}

void HeapMemory::note_diff(std::uint64_t index, bool empty) const { sole_copy::note_diff(marks()[index], empty); }

std::uint8_t HeapMemory::sole_copy_mark(std::uint64_t index) const {
  return marks()[index].load(std::memory_order_acquire);
}

sole_copy::Mark* HeapMemory::marks() const {
  return reinterpret_cast<sole_copy::Mark*>(base_ + geometry_.sole_copy_offset());
}

}  // namespace gpt::node
