// fork() from any thread of the job (docs/threads.md, "fork"). Creating a
// process is the origin's business, like every process-level call (the
// child inherits the origin's descriptors and is the origin's child, which
// wait() finds): a thread on another node moves to the origin for the call
// and, in the parent, back to its node afterwards. The fork itself, with a
// private copy of the global space for the child, is the shim's
// (libc-shim/fork.cc).
#include <errno.h>
#include <unistd.h>

#include "diag.h"
#include "gpthread.h"
#include "runtime.h"
#include "shim.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

pid_t fork_from_anywhere(pid_t (*libc_fork)()) {
  gpt::rt::ensure_started();
  if (!gpt::shim::forwarding()) return gpt::shim::fork_here(libc_fork);
  const int node = gpt::rt::state().node_id;
  if (int err = gpt_migrate(0)) {
    gpt::rt::diag()
        .text("fork() on node ")
        .num(node)
        .text(": the thread must move to the origin (node 0) to create a process and cannot (")
        .text(err == EBUSY ? "it holds a mutex or rwlock" : "it was not started by gpthread")
        .text(")")
        .emit();
    errno = EAGAIN;
    return -1;
  }
  const pid_t pid = gpt::shim::fork_here(libc_fork);
  if (pid == 0) return 0;  // the child has left the job: it stays where it is
  const int saved = errno;
  (void)gpt_migrate(node);
  errno = saved;
  return pid;
}

}  // namespace

#ifdef __GLIBC__
#include <dlfcn.h>
// Found in libgpthread.so before the libc's.
GPT_API pid_t fork(void) {
  static auto libc_fork = reinterpret_cast<pid_t (*)()>(dlsym(RTLD_NEXT, "fork"));
  return fork_from_anywhere(libc_fork);
}
#else
// gpt-cc links musl programs with --wrap=fork.
extern "C" pid_t __real_fork(void);
GPT_API pid_t __wrap_fork(void) { return fork_from_anywhere(__real_fork); }
#endif
