// A thread's scheduling policy and priority (pthread_attr_setschedpolicy,
// pthread_setschedparam...). They belong to the thread, not to a kernel
// thread: kept in its control block, applied to the kernel thread that runs
// it on each node it starts or arrives on (service.cc), and read from there
// when the thread runs on another node.
#pragma once

#include <pthread.h>
#include <sched.h>

#include "tcb.h"

namespace gpt::threads {

// SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH or SCHED_IDLE.
[[nodiscard]] bool known_policy(int policy);

// Whether the process may give a thread this policy and priority: EINVAL
// for an unknown policy or a priority out of its range, EPERM for a
// real-time one the process has no right to (the kernel's rule: root, or a
// priority within RLIMIT_RTPRIO), 0 if it may.
[[nodiscard]] int check_sched(int policy, int priority);

// The new thread's policy and priority, into its control block: the
// attribute's with PTHREAD_EXPLICIT_SCHED, the creator's otherwise (POSIX).
// Returns what check_sched says of them (pthread_create fails with it).
[[nodiscard]] int choose_sched(const pthread_attr_t* attr, Tcb* tcb);

// Gives the calling kernel thread the policy and priority its control
// block holds: as it starts on a node (nothing to do for the default,
// SCHED_OTHER, unless changed from elsewhere), and when it asks for them
// after another node changed them (tcb->sched_changed).
void apply_sched_here(Tcb* tcb);

}  // namespace gpt::threads
