#include "runtime.h"

namespace gpt::rt {

// In the runtime's own .bss, never in the shared global space.
RuntimeState g_state;
std::atomic<int> g_started{0};

}  // namespace gpt::rt
