// The blocking calls that are cancellation points (docs/threads.md,
// "Cancellation"): the shim's wrappers of read, write, accept, poll,
// waitpid... run their system call here. A due cancel acts before the
// call, and a cancel that comes while the call blocks ends it, unless it
// completed (base/cancel_point.h); the thread then acts instead of
// returning. A call that transferred data returns it, the cancel stays
// pending for the next cancellation point.
#pragma once

namespace gpt::shim {

// System call `nr` (arguments `a`) as a cancellation point, through private
// buffers where the program's buffers can move (bounce.h). -errno on error.
[[nodiscard]] long cancellable_call(long nr, const long* a);

}  // namespace gpt::shim
