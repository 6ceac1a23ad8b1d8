// normal_holds.h: a short per-thread list, in TLS (a write to the control
// block would dirty a global page per lock).
#include "normal_holds.h"

#include <cstddef>

#include "gpt/channel.h"
#include "runtime.h"

namespace gpt::threads {
namespace {

// Threads seldom hold more at once; beyond, holds are only counted, and
// such a thread stays pinned until it unlocks them itself. Small: the
// runtime's TLS is carried by every migration and shares the libc's room
// for the program's own (docs/threads.md, "Migration").
constexpr std::size_t kTracked = 8;

struct NormalHolds {
  std::uintptr_t keys[kTracked];
  std::uint32_t count;
  std::uint32_t untracked;
};
thread_local NormalHolds t_holds __attribute__((tls_model("initial-exec")));

// Whether a thread of this node holds the lock: its token is here and held.
// A lock without a word here always calls the agent: assume held.
bool held_here(std::uintptr_t key) {
  const channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
  if (!e) return true;
  using namespace channel::lock_bits;
  const std::uint32_t s = e->state.load(std::memory_order_acquire);
  return (s & (kToken | kHeld)) == (kToken | kHeld);
}

void forget_unlocked() {
  NormalHolds& h = t_holds;
  for (std::uint32_t i = 0; i < h.count;) {
    if (held_here(h.keys[i])) ++i;
    else h.keys[i] = h.keys[--h.count];
  }
}

}  // namespace

void note_normal_locked(std::uintptr_t key) {
  NormalHolds& h = t_holds;
  if (h.count == kTracked) forget_unlocked();
  if (h.count < kTracked) h.keys[h.count++] = key;
  else ++h.untracked;
}

void note_normal_unlocked(std::uintptr_t key) {
  NormalHolds& h = t_holds;
  // Usually the last one locked.
  for (std::uint32_t i = h.count; i-- > 0;) {
    if (h.keys[i] != key) continue;
    h.keys[i] = h.keys[--h.count];
    return;
  }
  // Not in the list: one of the untracked ones, or another thread's lock.
  if (h.untracked > 0) --h.untracked;
}

std::uint32_t normal_mutexes_held() {
  forget_unlocked();
  return t_holds.count + t_holds.untracked;
}

}  // namespace gpt::threads
