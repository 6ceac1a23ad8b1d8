// On the origin (and every node of an SPMD job) the program's system calls
// reach the kernel directly. A libc function that hands global memory to
// the kernel by itself (stdio's own buffer, readdir's, a vectored read)
// runs inside a TrappedCalls scope: syscall user dispatch traps each of its
// system calls into the shim's SIGSYS handler, which runs it through
// private buffers (bounce.h). A no-op where calls are trapped anyway (nodes
// that forward) and in one-node jobs, where nothing can move.
#pragma once

namespace gpt::shim {

// True where TrappedCalls scopes trap (the origin of a job of several
// nodes). A wrapper of a function that is one system call of a known shape
// may then run it through call_with_private_buffers itself, without the
// trap.
[[nodiscard]] bool trapping_here();

// True inside a TrappedCalls scope of the calling thread.
[[nodiscard]] bool inside_trapped_calls();

class TrappedCalls {
 public:
  TrappedCalls();
  ~TrappedCalls();
  TrappedCalls(const TrappedCalls&) = delete;
  TrappedCalls& operator=(const TrappedCalls&) = delete;

 private:
  bool on_ = false;
};

}  // namespace gpt::shim
