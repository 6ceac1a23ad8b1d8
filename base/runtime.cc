#include "runtime.h"

#include "cancel_point.h"

namespace gpt::rt {

// In the runtime's own .bss, never in the shared global space.
RuntimeState g_state;
std::atomic<int> g_started{0};

namespace {
CancelHooks g_cancel_hooks{};
}  // namespace

void set_cancel_hooks(const CancelHooks& hooks) { g_cancel_hooks = hooks; }
const CancelHooks& cancel_hooks() { return g_cancel_hooks; }

}  // namespace gpt::rt
