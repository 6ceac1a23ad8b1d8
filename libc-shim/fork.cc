// fork() in a program of the job (docs/libc-shim.md, "fork"). POSIX gives
// the child a private copy of the process, but the global space (heap,
// globals, and the stacks of gpthread threads, which live in the heap) is
// memory this node shares with its agent, and so, across a fork, with the
// parent. So:
// - the libc's fork runs on a private stack: parent and child return
//   through frames that are each their own;
// - a fork handler the runtime registered before any of the program's runs
//   last before the fork and first after it: in the child it swaps the
//   global space for a private copy and leaves the job, while in the parent
//   it waits for that copy to be made. Only then does program code (its own
//   fork handlers included) run on either side.
// The program's fork() is libgpthread's (threads/fork.cc), which calls
// fork_here on the origin.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "context.h"
#include "diag.h"
#include "fork_sharing.h"
#include "futex_lock.h"
#include "gpt/channel.h"
#include "gpt/raw_syscall.h"
#include "runtime.h"
#include "shim.h"
#include "thread_state.h"

namespace gpt::shim {
namespace {

FutexLock g_forking;            // one fork at a time through the handlers' state
int g_copied[2] = {-1, -1};     // a pipe: the child closes it once its copy is made

void before_fork() {
  galloc::ensure_thread_cache();
  galloc::bring_in_every_page();
  g_forking.lock();
  // After the pages came in: the mappings' headers are here to be read.
  tell_of_shared_mappings_at_fork();
  int fds[2];
  if (sys::call(SYS_pipe2, sys::arg(fds), O_CLOEXEC) == 0) {
    g_copied[0] = fds[0];
    g_copied[1] = fds[1];
  }
  galloc::hold_heap_for_fork();
}

void close_if_open(int& fd) {
  if (fd >= 0) (void)sys::call(SYS_close, fd);
  fd = -1;
}

// Also after a fork that failed: the pipe's other end is closed here, so the
// wait ends at once when there is no child.
void in_parent() {
  galloc::release_heap_after_fork();
  close_if_open(g_copied[1]);
  if (g_copied[0] >= 0) {
    char byte;
    while (sys::call(SYS_read, g_copied[0], sys::arg(&byte), 1) == -EINTR) {
    }
  }
  close_if_open(g_copied[0]);
  g_forking.unlock();
}

void in_child() {
  galloc::become_private_copy();
  rt::RuntimeState& state = rt::state();
  if (state.channel) {
    // The channel is the parent's, with its node's agent: never touched again.
    (void)sys::call(SYS_munmap, sys::arg(state.channel), static_cast<long>(channel::kChannelBytes));
    state.channel = nullptr;
    state.fork_child = true;
    state.node_count = 1;
  }
  close_if_open(g_copied[0]);
  close_if_open(g_copied[1]);  // the parent's wait ends
  g_forking.unlock();
}

struct ForkCall {
  pid_t (*libc_fork)();
  pid_t pid;
  int error;
};

void call_fork(void* arg) {
  auto* call = static_cast<ForkCall*>(arg);
  call->pid = call->libc_fork();
  call->error = errno;
}

}  // namespace

pid_t fork_here(pid_t (*libc_fork)()) {
  constexpr long kStackBytes = 256 * 1024;
  const long stack = sys::call(SYS_mmap, 0, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack < 0 && stack > -4096) {
    errno = EAGAIN;
    return -1;
  }
  ForkCall call{libc_fork, -1, 0};
  gpt_call_on_private(reinterpret_cast<void*>(stack + kStackBytes), call_fork, &call);
  (void)sys::call(SYS_munmap, stack, kStackBytes);
  if (call.pid < 0) errno = call.error;
  return call.pid;
}

void keep_fork_children_private() {
  if (pthread_atfork(before_fork, in_parent, in_child) != 0)
    rt::diag().text("cannot register gpthread's fork handler: a child of fork() would share memory with its parent")
        .emit();
}

}  // namespace gpt::shim
