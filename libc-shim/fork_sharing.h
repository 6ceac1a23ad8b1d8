// The program's MAP_SHARED mappings and fork() (docs/threads.md, "fork").
// A child of fork() gets a private copy of the global space, the program's
// own mappings included (fork.cc), so memory a program maps MAP_SHARED to
// share with its child is not shared, and a process-shared mutex or
// semaphore put in it never reaches the other process. That is not
// supported; these make it say so, instead of leaving the program to wait
// for ever without a word. fork_sharing.cc also holds the child's side,
// tell_of_unshared_object (shim.h), for the floor above.
#pragma once

namespace gpt::shim {

// program_mmap, on any node, once it made a MAP_SHARED mapping in the
// global space (anonymous, or a writable one of a file): the origin, where
// every fork runs, learns that the job may hold one. From another node, one
// request to the origin the first time only.
void note_shared_mapping();
// The same on the origin (also for that request, delegate.cc).
void note_shared_mapping_here();

// The origin's fork handler, before the fork, once every page is here: if
// the process holds a live MAP_SHARED mapping of the program, one line on
// stderr says that the child gets a private copy of it. Once per process (a
// pre-forking server is not flooded); silent when no such mapping was ever
// made, without looking through the heap then. Takes no lock, allocates
// nothing.
void tell_of_shared_mappings_at_fork();

}  // namespace gpt::shim
