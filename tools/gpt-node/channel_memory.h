// The memfd that carries the channel (gpt/channel.h), owned by the agent.
#pragma once

#include <cstdint>

#include "gpt/channel.h"

namespace gpt::node {

class ChannelMemory {
 public:
  // Creates and initialises the channel for `node_id` of `node_count`.
  // Throws std::system_error when memfd/mmap fail.
  ChannelMemory(std::uint32_t node_id, std::uint32_t node_count);
  ~ChannelMemory();
  ChannelMemory(const ChannelMemory&) = delete;
  ChannelMemory& operator=(const ChannelMemory&) = delete;

  // The memfd (close-on-exec; the spawner keeps it open for the program).
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] channel::Layout& layout() const { return *layout_; }

 private:
  int fd_ = -1;
  channel::Layout* layout_ = nullptr;
};

}  // namespace gpt::node
