// The libc shim (docs/libc-shim.md): a thread on a node other than the
// origin has its process-level system calls (files, stdio, getpid, exit...)
// carried out on the origin. Syscall user dispatch traps every system call
// the program makes on such a node into a SIGSYS handler, whatever the libc
// (musl's stdio issues its calls inline); the handler forwards the call,
// runs it here, or refuses it with a clear message.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

namespace gpt::shim {

// True in a process whose process-level calls run elsewhere: a node other
// than the origin, in a job that is not SPMD.
[[nodiscard]] bool forwarding();

// Once at start-up, before any signal handler is installed.
void init();

// Around program code on a gpthread thread's kernel thread: syscall user
// dispatch on, and off. No-ops on the origin.
void enter_program();
void leave_program();

// After the libc installed `act` for `sig` (threads/signals.cc): installs
// it again with gpthread's restorer, the one rt_sigreturn that syscall user
// dispatch lets through. No-op on the origin.
void use_our_restorer(int sig, const struct sigaction& act);

// The origin's delegate threads, which run calls forwarded from other nodes
// (delegate.cc), and the flush of every node's stdio when the job ends.
// They are kernel threads of this process, started with `start_thread`:
// the libc's own pthread_create, which the floor above reaches
// (threads/libc_threads.h); the program's pthread_create is gpthread's.
using StartKernelThread = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
void start_delegates(StartKernelThread start_thread);
// The service thread of a node other than the origin, asked to flush.
void flush_stdio_here();

// Once at start-up, before the program's constructors (which may register
// fork handlers of their own): registers the handler that gives a child of
// fork() a private copy of the global space (fork.cc).
void keep_fork_children_private();
// The libc's fork, on a private stack, with that handler's protection: a
// call of the process that runs here, on the origin (threads/fork.cc).
[[nodiscard]] pid_t fork_here(pid_t (*libc_fork)());
// In a child of fork(), on a call on a process-shared mutex, condition,
// rwlock, barrier or semaphore (`what`): if the object lies in a MAP_SHARED
// mapping inherited from the parent, of which the child has a private copy,
// says once that it does not synchronise with the parent (fork_sharing.cc;
// docs/threads.md, "fork"). Callers check fork_child first.
void tell_of_unshared_object(const void* object, const char* what);

}  // namespace gpt::shim
