// Memory of this process alone, outside the global space, for the kernel to
// read and fill in place of a program buffer that lies in the global space:
// no release or invalidation by another thread can touch it in the middle
// of a system call (docs/libc-shim.md, "Buffers in the global space").
// Mapped with mmap, never from the program's allocator. Async-signal-safe.
#pragma once

#include <cstddef>

namespace gpt::shim {

// One mapping, grown on demand (its old contents are not kept).
class PrivateBuffer {
 public:
  PrivateBuffer() = default;
  ~PrivateBuffer() { unmap(); }
  PrivateBuffer(const PrivateBuffer&) = delete;
  PrivateBuffer& operator=(const PrivateBuffer&) = delete;

  // At least `bytes` of room; false if the system has no memory.
  [[nodiscard]] bool reserve(std::size_t bytes);
  [[nodiscard]] unsigned char* data() const { return data_; }
  void unmap();

 private:
  unsigned char* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// A private buffer for the length of one call: one of a few this process
// keeps (grown up to a limit, so a thread doing 1 MiB reads maps once), or
// one mapped for this call alone when all are in use (a call blocked on a
// pipe holds one; a signal handler may call in the middle of a call) or
// when the call is larger than the limit.
class BounceBuffer {
 public:
  explicit BounceBuffer(std::size_t bytes);
  ~BounceBuffer();
  BounceBuffer(const BounceBuffer&) = delete;
  BounceBuffer& operator=(const BounceBuffer&) = delete;

  // nullptr if no memory could be had (the call fails with ENOMEM).
  [[nodiscard]] unsigned char* data() const { return data_; }

 private:
  int kept_ = -1;  // index of the kept buffer in use, or -1
  PrivateBuffer own_;
  unsigned char* data_ = nullptr;
};

}  // namespace gpt::shim
