// Release, acquire and the all-node barrier: the application's half of the
// protocol in docs/coherence.md. No-ops without an agent.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpt/channel.h"

namespace gpt::galloc {

void release();
// A release that leaves no page dirty, sole-copy home pages included (they
// stay dirty across plain releases): for a page about to leave the protocol.
void release_all();
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
// A release whose last call to the agent is `op`, with `request` ahead of
// the last pages: the floor above fuses a request of its own with the
// release (a lock's unlock, a barrier's wait: threads/sync_release.cc), and
// the agent acts on it as soon as the release is on its way. With no page
// to release, `op` goes alone, or not at all if `only_if_dirty`. Nothing is
// sent when writes are not tracked (one node, or no agent).
struct FusedCall {
  int status = 0;       // the agent's answer to `op`
  bool called = false;  // whether `op` was sent
};
[[nodiscard]] FusedCall release_fused(channel::Op op, const void* request, std::size_t length,
                                      bool only_if_dirty);

}  // namespace gpt::galloc
