// Type sizes: ours beside what a C programmer would otherwise embed. The
// "mutex+cond+flag" row is the hand-written Event every pthread program
// carries, which ct_event replaces.
#include "bench.h"

#include <semaphore.h>

typedef struct pthread_event {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool flag;
} pthread_event;

#define SIZE(type, r)                                                          \
    {                                                                          \
#type, sizeof(type), (r)                                               \
    }

const bench_size bench_sizes[] = {
    SIZE(ct_lock, BENCH_OURS),
    SIZE(ct_rlock, BENCH_OURS),
    SIZE(ct_event, BENCH_OURS),
    SIZE(ct_condition, BENCH_OURS),
    SIZE(ct_semaphore, BENCH_OURS),
    SIZE(ct_barrier, BENCH_OURS),
    SIZE(pthread_mutex_t, BENCH_BASELINE),
    SIZE(pthread_cond_t, BENCH_BASELINE),
    SIZE(pthread_barrier_t, BENCH_BASELINE),
    SIZE(mtx_t, BENCH_BASELINE),
    SIZE(sem_t, BENCH_BASELINE),
    {"mutex+cond+flag", sizeof(pthread_event), BENCH_BASELINE},
#ifdef CT_HAVE_GLIB
    SIZE(GMutex, BENCH_BASELINE),
    SIZE(GRecMutex, BENCH_BASELINE),
    SIZE(GCond, BENCH_BASELINE),
#endif
    {NULL, 0, BENCH_BASELINE},
};
