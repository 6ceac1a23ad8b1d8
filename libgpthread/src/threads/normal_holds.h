// The normal mutexes a thread locked and has not unlocked itself
// (mutex.cc). Holding a mutex pins a thread to its node (gpt_migrate:
// EBUSY). A normal mutex has no owner, though: any thread, on any node, may
// unlock it (as with glibc), and its locker is not told. So the list is
// checked against the locks' words when it matters: a lock whose token is
// not here, or which no thread here holds, was unlocked by someone else.
#pragma once

#include <cstdint>

namespace gpt::threads {

// The calling thread locked the normal mutex known to the agents as `key`.
void note_normal_locked(std::uintptr_t key);
// The calling thread unlocked it (it may not be the one that locked it).
void note_normal_unlocked(std::uintptr_t key);
// How many of the normal mutexes the calling thread locked this node still
// holds; the others are forgotten. A lock that another thread relocked here
// since still counts (its word cannot tell).
[[nodiscard]] std::uint32_t normal_mutexes_held();

}  // namespace gpt::threads
