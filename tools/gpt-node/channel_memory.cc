#include "channel_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace gpt::node {

ChannelMemory::ChannelMemory(std::uint32_t node_id, std::uint32_t node_count) {
  fd_ = memfd_create("gpt-channel", MFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");
  if (ftruncate(fd_, static_cast<off_t>(channel::kChannelBytes)) != 0) {
    int err = errno;
    close(fd_);
    throw std::system_error(err, std::generic_category(), "ftruncate channel");
  }
  void* p = mmap(nullptr, channel::kChannelBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd_);
    throw std::system_error(err, std::generic_category(), "mmap channel");
  }
  // The memfd is zero-filled: every slot starts kFree, every word 0.
  layout_ = static_cast<channel::Layout*>(p);
  auto& h = layout_->header;
  h.magic = channel::kMagic;
  h.version = channel::kVersion;
  h.node_id = node_id;
  h.node_count = node_count;
  h.slot_count = channel::kSlotCount;
  h.heap_fd = -1;
  h.doorbell_fd = -1;
}

ChannelMemory::~ChannelMemory() {
  if (layout_) munmap(layout_, channel::kChannelBytes);
  if (fd_ >= 0) close(fd_);
}

}  // namespace gpt::node
