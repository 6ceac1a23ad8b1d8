// Releases fused with a synchronisation request in one call to the agent
// (docs/coherence.md): the memory floor sends the pages, this floor says
// what rides with them.
#include <errno.h>
#include <unistd.h>

#include "coherence.h"
#include "diag.h"
#include "gpt/channel_client.h"
#include "runtime.h"
#include "sync_common.h"

namespace gpt::threads {
namespace {

[[noreturn]] void agent_failed(const char* what, int status) {
  rt::diag().text(what).text(" failed (agent status ").num(status).text(")").emit();
  _exit(134);
}

}  // namespace

int unlock_with_release(const void* unlock_request, std::size_t length) {
  const galloc::FusedCall fused =
      galloc::release_fused(channel::Op::kUnlockReleased, unlock_request, length, false);
  int status = fused.status;
  // Writes not tracked: nothing to release, the unlock goes alone.
  if (!fused.called)
    status = channel::Client(rt::state().channel)
                 .call(channel::Op::kUnlockReleased, unlock_request, length, nullptr, 0)
                 .status;
  if (status != 0 && status != -EPERM) agent_failed("unlock", status);
  return status;
}

// A signal handler that ran while its thread waited in a pthread call may
// have written what another thread polls for (a flag saying it ran): the
// thread releases before it waits on, as it did before it began to wait.
// Only for the waits of program threads: never inside a release.
static void release_after_handler(std::uint32_t op) {
  switch (static_cast<channel::Op>(op)) {
    case channel::Op::kLock:
    case channel::Op::kTimedLock:
    case channel::Op::kRwLock:
    case channel::Op::kSemWait:
    case channel::Op::kCondSleep:
    case channel::Op::kBarrierWait:
    case channel::Op::kJoin:
      galloc::release();
      break;
    default:
      break;
  }
}

void install_release_after_handlers() { channel::g_wait_interrupted = release_after_handler; }

bool release_for_barrier_wait(const void* wait_request, std::size_t length) {
  const galloc::FusedCall fused =
      galloc::release_fused(channel::Op::kReleaseForBarrierWait, wait_request, length, true);
  if (fused.called && fused.status != 0) agent_failed("release", fused.status);
  return fused.called;
}

}  // namespace gpt::threads
