// What libgalloc keeps per kernel thread (a cache of free objects, batched
// frees of other nodes' memory, a private stack for releases), and how a
// kernel thread gives it up when the gpthread thread it ran ends or moves
// to another node (docs/threads.md, migration).
#pragma once

namespace gpt::galloc {

// Returns the cached objects to this node's heap, sends the batched remote
// frees, unmaps the private release stack. The thread may still allocate
// afterwards (the state is simply rebuilt).
void leave_thread();

// Forgets the state without touching it: after the TLS image of a thread
// from another node has been copied over this thread's, the cache and the
// stack it names belong to that node's process.
void forget_thread_state();

}  // namespace gpt::galloc
