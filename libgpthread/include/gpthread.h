/* gpthread: POSIX threads across several machines.
 *
 * Programs built with gpt-cc (or relinked against libgpthread.so) and started
 * with gpt-launch run on several nodes. Node 0, the origin, runs main(); the
 * other nodes run the program's threads. This header adds the few calls that
 * have no POSIX equivalent. Without gpt-launch the program runs as node 0 of
 * a one-node job.
 */
#ifndef GPTHREAD_H
#define GPTHREAD_H

#ifdef __cplusplus
extern "C" {
#endif

/* This process's node id, 0 .. gpt_node_count()-1. Node 0 runs main(). */
int gpt_node_id(void);

/* Number of nodes in the job (1 when not started by gpt-launch). */
int gpt_node_count(void);

/* The node the calling thread runs on now. */
int gpt_self_node(void);

/* Places threads created with `attr` on `node` (overrides GPT_PLACEMENT,
 * which is spread (default: round-robin over all nodes, origin included),
 * local, or node:K). EINVAL for a node outside the job. */
#include <pthread.h>
int gpt_attr_setnode(pthread_attr_t* attr, int node);

/* Moves the calling thread to `node` and returns there (0): its registers,
 * stack (global memory), __thread variables, thread-specific values, errno
 * and signal mask travel; pthread_self() stays the same. Its writes are
 * released first. EINVAL for a node outside the job; EBUSY while the thread
 * holds a mutex or rwlock; ENOTSUP for a thread gpthread did not start.
 * Returns 0 at once when the thread is already there, or in a one-node job. */
int gpt_migrate(int node);

#ifdef __cplusplus
}
#endif

#endif /* GPTHREAD_H */
