#include "cancellable.h"

#include <errno.h>

#include "bounce.h"
#include "cancel_point.h"
#include "trapped_calls.h"

namespace gpt::shim {
namespace {

// A process without libgpthread's hooks (none yet registered): nothing is
// ever due.
const std::uint32_t kNeverCancelled = 0;

}  // namespace

long cancellable_call(long nr, const long* a) {
  const rt::CancelHooks& hooks = rt::cancel_hooks();
  const std::uint32_t* word = hooks.word ? hooks.word() : &kNeverCancelled;
  long r;
  if (trapping_here() && !inside_trapped_calls()) {
    // The origin of a job of several nodes: the kernel sees private copies
    // of the program's buffers; the copying is not in the window, only the
    // call.
    const CancellableBuffers scope(word);
    r = call_with_private_buffers(nr, a);
  } else {
    // One node, or a node that forwards its calls (the syscall is trapped
    // and forwarded, as the libc's would be), or inside a TrappedCalls
    // scope (trapped and run through private buffers).
    r = gpt_cancellable_syscall(word, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  // Neither result transferred anything: a due cancel acts (the hook
  // returns if none is).
  if ((r == -ECANCELED || r == -EINTR) && hooks.act) hooks.act();
  return r;
}

}  // namespace gpt::shim
