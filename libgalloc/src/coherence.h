// Release, acquire and the all-node barrier: the application's half of the
// protocol in docs/coherence.md. No-ops without an agent.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::galloc {

void release();
void acquire();
// The acquire after a synchronisation whose messages carried the epoch of
// the notices it needs (a lock token from another node, a barrier's
// departure): often the agent has them already and asks nobody.
void acquire_synced();
// Applies the acquire answer a kLock or kBarrierWait reply carried (in the
// slot, so page copies are read where they lie), instead of
// acquire_synced(). `generation` is copy_generation() from before the call.
void apply_acquire_answer(unsigned char* answer, std::uint32_t length, std::uint64_t generation);
[[nodiscard]] std::uint64_t copy_generation();
void barrier_all();
// Releases, then unlocks a lock token (kUnlockReleased with the given
// request, the pages appended) in the same call to the agent, which may
// send the token on before the release is acknowledged. Returns the
// unlock's status.
[[nodiscard]] int release_and_unlock(const void* unlock_request, std::size_t length);
// Releases before a pthread barrier wait (kReleaseForBarrierWait with the
// wait's request and token): the agent arrives at the barrier as soon as
// the release is on its way. False if there was nothing to release (no call
// made: the wait must arrive itself).
[[nodiscard]] bool release_for_barrier_wait(const void* wait_request, std::size_t length);

}  // namespace gpt::galloc
