// normal_holds.h: a short per-thread list, in TLS (a write to the control
// block would dirty a global page per lock).
#include "normal_holds.h"

#include <cstddef>

#include "gpt/channel.h"
#include "gpt/channel_client.h"
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

// Whether a thread of this node holds the lock, from its word: its token
// is here and held (1) or not (0). A lock without a word here always calls
// the agent: held, as far as we know. While the agent owns the word
// (kAgent) it may be in the middle of changing it (a grant completes the
// locker's call before the word says so): -1, unless `agent_settled`.
int word_says_held(std::uintptr_t key, bool agent_settled) {
  const channel::LockEntry* e = channel::find_lock(rt::state().channel->locks, key);
  if (!e) return 1;
  using namespace channel::lock_bits;
  const std::uint32_t s = e->state.load(std::memory_order_acquire);
  if ((s & kAgent) && !agent_settled) return -1;
  return (s & (kToken | kHeld)) == (kToken | kHeld) ? 1 : 0;
}

// The agent works on one thing at a time: once it answered a call, what it
// was doing when the call was made is done, and the words it wrote say so.
void let_agent_settle() {
  (void)channel::Client(rt::state().channel).call(channel::Op::kEcho, nullptr, 0, nullptr, 0);
}

void forget_unlocked() {
  NormalHolds& h = t_holds;
  bool settled = false;
  for (std::uint32_t i = 0; i < h.count;) {
    const int held = word_says_held(h.keys[i], settled);
    if (held < 0) {
      let_agent_settle();
      settled = true;
      continue;  // the same lock again
    }
    if (held) ++i;
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
