// Release, acquire and the all-node barrier: the application's half of the
// protocol in docs/coherence.md. No-ops without an agent.
#pragma once

namespace gpt::galloc {

void release();
void acquire();
void barrier_all();

}  // namespace gpt::galloc
