// What libgalloc keeps per kernel thread (a cache of free objects, batched
// frees of other nodes' memory, a private stack for releases), and how a
// kernel thread gives it up when the gpthread thread it ran ends or moves
// to another node (docs/threads.md, migration).
#pragma once

#include <cstdint>

namespace gpt::galloc {

// Returns the cached objects to this node's heap, sends the batched remote
// frees, unmaps the private release stack. The thread may still allocate
// afterwards (the state is simply rebuilt).
void leave_thread();

// Forgets the state without touching it: after the TLS image of a thread
// from another node has been copied over this thread's, the cache and the
// stack it names belong to that node's process.
void forget_thread_state();

// Takes the frees of this node's memory made on other nodes that the agent
// has put in the inbox (checking each: a bad one is reported and aborts).
// The service thread calls it when the agent says there are some, and the
// origin once more as the process exits, so a bad free made before a
// synchronisation with the exiting thread is never missed.
void take_remote_frees();

// The guard page under a gpthread thread's stack (page-aligned, in the
// heap), on the node where the thread runs: guard as it starts or arrives,
// unguard as it ends or leaves. A fault there is reported as a stack
// overflow (is_stack_guard, asked by the fault handler).
void guard_stack(void* page_address);
void unguard_stack(void* page_address);
[[nodiscard]] bool is_stack_guard(std::uintptr_t address);

// fork() from a program of the job (libc-shim/fork.cc). Before the fork:
// the allocator's locks are taken. In the parent: let go. In the child,
// before any of the program's code runs there: the global space (heap and
// globals, shared with this node's agent and the parent) becomes a private
// copy of what this node held at that moment, the pages it did not hold
// stay inaccessible (touching one is reported), the locks are let go, and
// the space stops being coherent: the child is a process of its own.
// First, so the child sees everything its parent could: every page this
// node holds no current copy of is fetched (what the node could read now).
void bring_in_every_page();
// Maps this thread's allocation cache if it has none yet: before a fork, so
// that a child which limits its address space (RLIMIT_AS) can still malloc.
void ensure_thread_cache();
void hold_heap_for_fork();
void release_heap_after_fork();
void become_private_copy();

}  // namespace gpt::galloc
