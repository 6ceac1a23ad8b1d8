// Process-directed signals across nodes (docs/threads.md, "Process-directed
// signals"). A signal sent to the process (kill, sigqueue, the terminal's
// SIGINT) reaches the origin's process only: its kernel gives it to a thread
// there that does not block it. When every thread there blocks it, a
// thread on another node may still take it, as within one process.
//
// So the runtime's own threads (the service thread, the shim's delegates,
// the watcher below) block every signal a program may send: the kernel's
// process-wide pending set then holds exactly what no program thread of the
// node takes, instead of handing it to a runtime thread. Each node's watcher
// reads that set every few milliseconds; a signal still pending at its next
// look is offered to the other nodes through the agents, dequeued here once
// one of them has a thread that takes it, and raised in that node's process.
#pragma once

#include <pthread.h>

namespace gpt::threads {

// Blocks, in the calling runtime thread, every signal a program may send
// (not the fault signals, SIGSYS, nor the libcs' own).
void block_program_signals();
// pthread_create's signature: starts a runtime thread that blocks them from
// its first instruction on (created with them blocked; the creator's mask
// is left as it was).
int create_runtime_thread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg);
// Starts this node's watcher (jobs of more than one node). The origin's
// (every node's in SPMD mode) offers whatever no thread takes; another
// node's only what its agent raised for the job (note_signal_from_elsewhere):
// a signal sent to that node's process from outside stays its own, as
// before.
void start_signal_watcher();
// The agent raised `sig` here, sent from another node (a downcall).
void note_signal_from_elsewhere(int sig);

}  // namespace gpt::threads
