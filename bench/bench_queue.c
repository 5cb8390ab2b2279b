// Queue cases: producer/consumer throughput of ct_queue (Queue with
// maxsize 1024 and unbounded, SimpleQueue, LifoQueue, PriorityQueue)
// against a hand-written pthread ring (one mutex and the two classic
// condition variables, not_full and not_empty, capacity 1024) and GLib's
// GAsyncQueue (unbounded); and the single-thread put+get pairs that show
// what a timeout costs when nothing has to wait. main.c runs the threads;
// the Python queue.Queue anchor is a python3 script that main.c starts.
#include "bench.h"

#include <errno.h>
#include <stdlib.h>

#define RING_CAP 1024

// ---- ct_queue -------------------------------------------------------------

static int
cmp_uintptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return (x > y) - (x < y);
}

static void *
ctq_make(int kind, int64_t maxsize)
{
    ct_queue *q;
    if (kind == CT_QUEUE_PRIORITY) {
        BENCH_CHECK(ct_priority_queue_new(&q, maxsize, cmp_uintptr));
    } else {
        BENCH_CHECK(ct_queue_new(&q, kind, maxsize));
    }
    return q;
}

static void *
ctq_fifo_open(void)
{
    return ctq_make(CT_QUEUE_FIFO, RING_CAP);
}

static void *
ctq_unbounded_open(void)
{
    return ctq_make(CT_QUEUE_FIFO, 0);
}

static void *
ctq_simple_open(void)
{
    return ctq_make(CT_QUEUE_SIMPLE, 0);
}

static void *
ctq_lifo_open(void)
{
    return ctq_make(CT_QUEUE_LIFO, RING_CAP);
}

static void *
ctq_priority_open(void)
{
    return ctq_make(CT_QUEUE_PRIORITY, RING_CAP);
}

static void
ctq_put(void *st, void *item)
{
    BENCH_CHECK(ct_queue_put(st, item, CT_FOREVER));
}

static void *
ctq_get(void *st)
{
    void *item = NULL;
    BENCH_CHECK(ct_queue_get(st, &item, CT_FOREVER));
    return item;
}

static void
ctq_close(void *st)
{
    ct_queue_free(st);
}

// ---- pthread ring: one mutex, not_full and not_empty ----------------------

typedef struct pring {
    _Alignas(64) pthread_mutex_t mutex;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    size_t head, count;
    void *buf[RING_CAP];
} pring;

static void *
pring_open(void)
{
    pring *r = aligned_alloc(64, (sizeof(pring) + 63) / 64 * 64);
    if (r == NULL) {
        bench_fail("aligned_alloc", -ENOMEM);
    }
    BENCH_CHECK(pthread_mutex_init(&r->mutex, NULL));
    BENCH_CHECK(pthread_cond_init(&r->not_full, NULL));
    BENCH_CHECK(pthread_cond_init(&r->not_empty, NULL));
    r->head = r->count = 0;
    return r;
}

static void
pring_put(void *st, void *item)
{
    pring *r = st;
    pthread_mutex_lock(&r->mutex);
    while (r->count == RING_CAP) {
        pthread_cond_wait(&r->not_full, &r->mutex);
    }
    r->buf[(r->head + r->count) % RING_CAP] = item;
    r->count++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mutex);
}

static void *
pring_get(void *st)
{
    pring *r = st;
    pthread_mutex_lock(&r->mutex);
    while (r->count == 0) {
        pthread_cond_wait(&r->not_empty, &r->mutex);
    }
    void *item = r->buf[r->head];
    r->head = (r->head + 1) % RING_CAP;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mutex);
    return item;
}

static void
pring_close(void *st)
{
    pring *r = st;
    pthread_cond_destroy(&r->not_empty);
    pthread_cond_destroy(&r->not_full);
    pthread_mutex_destroy(&r->mutex);
    free(r);
}

// ---- GLib GAsyncQueue (unbounded; items must not be NULL) -----------------

#ifdef CT_HAVE_GLIB
static void *
gaq_open(void)
{
    return g_async_queue_new();
}

static void
gaq_put(void *st, void *item)
{
    g_async_queue_push(st, item);
}

static void *
gaq_get(void *st)
{
    return g_async_queue_pop(st);
}

static void
gaq_close(void *st)
{
    g_async_queue_unref(st);
}
#endif

// ---- Single-thread put+get pairs: untimed, timed, non-blocking ------------
//
// A Queue(1024) holding a few items, so that neither call ever waits; the
// three loops differ only in the timeout they pass.

#define TIMED_PREFILL 4

static void
loop_timeout(uint64_t n, ct_duration timeout)
{
    ct_queue *q = ctq_make(CT_QUEUE_FIFO, RING_CAP);
    for (uintptr_t i = 1; i <= TIMED_PREFILL; i++) {
        BENCH_CHECK(ct_queue_put(q, (void *)i, CT_NOWAIT));
    }
    void *item = (void *)(uintptr_t)1;
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_queue_put(q, item, timeout));
        BENCH_CHECK(ct_queue_get(q, &item, timeout));
    }
    for (int i = 0; i < TIMED_PREFILL; i++) {
        BENCH_CHECK(ct_queue_get(q, &item, CT_NOWAIT));
    }
    ct_queue_free(q);
}

static void
loop_forever(uint64_t n)
{
    loop_timeout(n, CT_FOREVER);
}

static void
loop_timed_1s(uint64_t n)
{
    loop_timeout(n, CT_SECONDS(1));
}

static void
loop_nowait(uint64_t n)
{
    loop_timeout(n, CT_NOWAIT);
}

#define QUEUE(n, r, f, pfx, nt)                                                \
    {                                                                          \
        .section = BENCH_SEC_QUEUE, .name = (n), .role = (r), .flags = (f),    \
        .open = pfx##_open, .put = pfx##_put, .get = pfx##_get,                \
        .close = pfx##_close, .note = (nt)                                     \
    }
#define CTQUEUE(n, kind, nt)                                                   \
    {                                                                          \
        .section = BENCH_SEC_QUEUE, .name = (n), .role = BENCH_OURS,           \
        .open = ctq_##kind##_open, .put = ctq_put, .get = ctq_get,             \
        .close = ctq_close, .note = (nt)                                       \
    }
#define TIMED(n, r, fn, nt)                                                    \
    {                                                                          \
        .section = BENCH_SEC_QUEUE_TIMED, .name = (n), .role = (r),            \
        .loop = (fn), .note = (nt)                                             \
    }

const bench_case bench_queue_cases[] = {
    CTQUEUE("ct_queue", fifo, "Queue(1024): lock-free ring"),
    CTQUEUE("ct_queue_unbounded", unbounded, "Queue(0): lock-free blocks"),
    CTQUEUE("ct_simplequeue", simple, "SimpleQueue: lock-free blocks"),
    CTQUEUE("ct_lifoqueue", lifo, "LifoQueue(1024): locked stack"),
    CTQUEUE("ct_priorityqueue", priority, "PriorityQueue(1024): locked heap"),
    QUEUE("pthread_ring", BENCH_BASELINE, 0, pring,
          "mutex + not_full + not_empty, 1024"),
#ifdef CT_HAVE_GLIB
    QUEUE("gasyncqueue", BENCH_BASELINE, BENCH_GLIB, gaq,
          "GLib GAsyncQueue, unbounded"),
#else
    {.section = BENCH_SEC_QUEUE,
     .name = "gasyncqueue",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .note = "GLib GAsyncQueue, unbounded"},
#endif

    TIMED("ct_queue_forever", BENCH_OURS, loop_forever,
          "put+get, CT_FOREVER (untimed)"),
    TIMED("ct_queue_timed_1s", BENCH_OURS, loop_timed_1s,
          "put+get, 1 s timeout"),
    TIMED("ct_queue_nowait", BENCH_OURS, loop_nowait, "put+get, CT_NOWAIT"),
    {0},
};
