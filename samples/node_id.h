/* Samples build both with gpt-cc (gpthread) and with plain gcc (the
 * system's pthreads, for comparison): node ids exist only with gpthread. */
#ifndef SAMPLES_NODE_ID_H
#define SAMPLES_NODE_ID_H
#ifdef GPTHREAD
#include <gpthread.h>
static inline int sample_node(void) { return gpt_self_node(); }
static inline int sample_nodes(void) { return gpt_node_count(); }
#else
static inline int sample_node(void) { return 0; }
static inline int sample_nodes(void) { return 1; }
#endif
#endif
