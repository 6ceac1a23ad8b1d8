// The distributed lock underneath pthread mutexes, named by any address in
// the global space (docs/threads.md): pthread_once and spinlocks use it
// directly. Normal semantics: no owner, no recursion.
#pragma once

namespace gpt::threads {

// Blocks until this thread holds the lock (EBUSY at once with try_only);
// acquires when the lock's token came from another node.
[[nodiscard]] int token_lock(const void* address, bool try_only);
// Any thread may unlock, on any node (a spinlock, as with glibc).
[[nodiscard]] int token_unlock(const void* address);

}  // namespace gpt::threads
