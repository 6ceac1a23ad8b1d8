/* libgalloc: the global address space of a gpthread job.
 *
 * Memory in the global space (the heap, and the program's globals) is kept
 * coherent with release consistency: what a node wrote before a release is
 * seen by another node after a later acquire that synchronises with it. The
 * pthread synchronisation calls of libgpthread make these calls for you;
 * they are public so that programs (and SPMD-style code) can use them
 * directly. See docs/coherence.md.
 */
#ifndef GALLOC_H
#define GALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Makes this node's writes to the global space visible at their homes
 * (diffs sent and acknowledged, write notices posted). */
void galloc_release(void);

/* Invalidates the cached pages that other nodes wrote since this node's last
 * acquire, so the next access fetches the current contents. */
void galloc_acquire(void);

/* SPMD programs (gpt-launch --spmd): release, wait until every node has
 * called it, acquire. One barrier per node at a time. */
void gpt_barrier_all(void);

/* The heap of the global space and node `node`'s partition of it (the
 * memory whose home is that node): for finding where a pointer lives. The
 * allocator owns this memory (its bookkeeping starts each partition); get
 * memory with malloc, never by writing here directly. */
void* galloc_heap_base(void);
size_t galloc_heap_size(void);
void* galloc_partition_base(int node);
size_t galloc_partition_size(void);

/* True (1) if `p` points into the global heap. */
int galloc_is_global(const void* p);

struct galloc_stats {
  unsigned long long read_faults;   /* faults that fetched a page */
  unsigned long long write_faults;  /* first writes to a clean page */
  unsigned long long invalidations; /* pages dropped by acquires */
  unsigned long long releases;
  unsigned long long acquires;
  unsigned long long remote_frees_sent;     /* frees of other nodes' memory sent home */
  unsigned long long remote_free_batches;   /* messages that carried them */
  unsigned long long remote_frees_received; /* frees of our memory done by other nodes */
  unsigned long long acquires_answered_here; /* lock acquires that needed no message to node 0 */
  unsigned long long fetches_from_copies;    /* faults served from page copies sent with notices */
  unsigned long long copies_installed;       /* page copies installed by acquires (no fault) */
  unsigned long long sole_pages_kept;        /* dirty pages releases kept writable: no other node held them */
  unsigned long long pages_written_ahead;    /* pages write faults twinned after theirs (sequential writes) */
};
void galloc_get_stats(struct galloc_stats* out);

#ifdef __cplusplus
}
#endif

#endif /* GALLOC_H */
