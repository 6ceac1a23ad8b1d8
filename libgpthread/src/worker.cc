#include <unistd.h>

#include "gpt/futex.h"
#include "runtime.h"

namespace gpt::rt {

void worker_loop() {
  auto& shutdown = state().channel->header.shutdown;
  for (;;) {
    std::uint32_t v = shutdown.load(std::memory_order_acquire);
    if (v != 0) break;
    futex::wait(&shutdown, v);
  }
  // The job is over. Worker nodes own no process-level state (their stdio is
  // the origin's), so there is nothing to flush or run at exit.
  _exit(0);
}

}  // namespace gpt::rt
