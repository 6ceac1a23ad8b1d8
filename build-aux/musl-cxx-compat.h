/* Force-included by build-aux/musl-g++. With -std=c++20, libstdc++'s <atomic>
 * pulls in <bits/std_mutex.h> and the glibc locale typedefs. The runtime uses
 * neither, but the headers must parse against musl: provide the two names
 * they expect. Nothing here is ever called. */
#include <locale.h>
#include <pthread.h>
#include <time.h>
typedef locale_t __locale_t;
#ifdef __cplusplus
extern "C"
#endif
    int
    pthread_cond_clockwait(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*);
