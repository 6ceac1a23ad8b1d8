// System calls whose buffers lie in the global space, run in this process
// through private copies of those buffers (docs/libc-shim.md, "Buffers in
// the global space"). The kernel cannot take a coherence fault: a page
// another thread of the node write-protects (release) or invalidates
// (acquire) in the middle of a call makes it fail with EFAULT or come back
// short. So the kernel reads and fills a private buffer (private_buffer.h),
// and the shim copies between it and the program's buffer with the guarded
// copies of program_memory.h, which take coherence faults as the program
// would. Buffers outside the global space are passed on as they are, so a
// truly bad pointer gets the kernel's own EFAULT.
#pragma once

#include <cstdint>

namespace gpt::shim {

// True when pages of the global space can change under a call: several
// nodes keep it coherent. Otherwise it is plain memory.
[[nodiscard]] bool buffers_can_move();

// Runs system call `nr` (arguments `a`) here, with the raw system call,
// each of its buffers in the global space replaced by a private copy.
// Returns the call's result (-errno on error). Calls whose buffers gpthread
// does not know the shape of are run as they are. Async-signal-safe.
[[nodiscard]] long call_with_private_buffers(long nr, const long* a);

// While one lives, the calling thread's call_with_private_buffers runs its
// system call as a cancellation point (base/cancel_point.h) by `word`.
class CancellableBuffers {
 public:
  explicit CancellableBuffers(const std::uint32_t* word);
  ~CancellableBuffers();
  CancellableBuffers(const CancellableBuffers&) = delete;
  CancellableBuffers& operator=(const CancellableBuffers&) = delete;
};

}  // namespace gpt::shim
