// Release, acquire and the all-node barrier: the application's half of the
// protocol in docs/coherence.md. No-ops without an agent.
#pragma once

namespace gpt::galloc {

void release();
void acquire();
// The acquire of a lock token that came from another node: it needs only
// the notices the token's holders saw, often already at the agent.
void acquire_token();
void barrier_all();

}  // namespace gpt::galloc
