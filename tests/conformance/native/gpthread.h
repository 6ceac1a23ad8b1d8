/* The conformance programs built against the system's own pthreads (one
 * process, no gpthread): the gpthread calls they use, as one node. The
 * results are the baseline gpthread's are held to. */
#ifndef TESTS_CONFORMANCE_NATIVE_GPTHREAD_H
#define TESTS_CONFORMANCE_NATIVE_GPTHREAD_H
#include <pthread.h>
static inline int gpt_node_count(void) { return 1; }
static inline int gpt_self_node(void) { return 0; }
static inline int gpt_attr_setnode(pthread_attr_t* attr, int node) { (void)attr; return node == 0 ? 0 : 22; }
static inline int gpt_migrate(int node) { return node == 0 ? 0 : 22; }
/* glibc acts on a cancel that comes as its read returns data, and the data
 * is lost (glibc bug 12683): conf_cancel_io holds gpthread to POSIX there. */
#define CONF_NATIVE_GLIBC 1
#endif
