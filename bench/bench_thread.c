// Thread start+join: what a thread whose target returns at once costs from
// creation to join, one at a time (latency) and in batches (start k, then
// join the k: throughput). ct_thread (new + start + join + free, default
// options: a "Thread-N (target)" name, daemon inherited, the OS default
// stack) against pthread_create + pthread_join, GLib's g_thread_new +
// g_thread_join and C11 thrd_create + thrd_join. ct_thread_start does not
// wait for the new thread to run (its ident is chosen up front and the
// native id is waited for only by whoever asks), so the creator overlaps
// thread creation as with raw pthreads.
#include "bench.h"

#include <cthreading/thread.h>

// ---- ct_thread ------------------------------------------------------------

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

static void
loop_ct_thread(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        ct_thread *t;
        BENCH_CHECK(ct_thread_new(&t, noop, NULL, NULL));
        BENCH_CHECK(ct_thread_start(t));
        BENCH_CHECK(ct_thread_join(t, CT_FOREVER));
        ct_thread_free(t);
    }
}

static void
batch_ct_thread(uint64_t n, int k)
{
    ct_thread *t[BENCH_BATCH_MAX];
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            BENCH_CHECK(ct_thread_new(&t[j], noop, NULL, NULL));
            BENCH_CHECK(ct_thread_start(t[j]));
        }
        for (int j = 0; j < k; j++) {
            BENCH_CHECK(ct_thread_join(t[j], CT_FOREVER));
            ct_thread_free(t[j]);
        }
    }
}

// ---- pthread ----------------------------------------------------------------

static void *
noop_pthread(void *arg)
{
    return arg;
}

static void
loop_pthread(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        pthread_t t;
        BENCH_CHECK(pthread_create(&t, NULL, noop_pthread, NULL));
        BENCH_CHECK(pthread_join(t, NULL));
    }
}

static void
batch_pthread(uint64_t n, int k)
{
    pthread_t t[BENCH_BATCH_MAX];
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            BENCH_CHECK(pthread_create(&t[j], NULL, noop_pthread, NULL));
        }
        for (int j = 0; j < k; j++) {
            BENCH_CHECK(pthread_join(t[j], NULL));
        }
    }
}

// ---- C11 <threads.h> --------------------------------------------------------

static void
c11_start(thrd_t *t)
{
    if (thrd_create(t, noop, NULL) != thrd_success) {
        bench_fail("thrd_create", -1);
    }
}

static void
c11_join(thrd_t t)
{
    if (thrd_join(t, NULL) != thrd_success) {
        bench_fail("thrd_join", -1);
    }
}

static void
loop_thrd(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        thrd_t t;
        c11_start(&t);
        c11_join(t);
    }
}

static void
batch_thrd(uint64_t n, int k)
{
    thrd_t t[BENCH_BATCH_MAX];
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            c11_start(&t[j]);
        }
        for (int j = 0; j < k; j++) {
            c11_join(t[j]);
        }
    }
}

// ---- GLib -------------------------------------------------------------------

#ifdef CT_HAVE_GLIB
static gpointer
noop_gthread(gpointer arg)
{
    return arg;
}

// Named, as every ct_thread is: GLib then sets the OS name in the new
// thread, as ct_thread does.
static void
loop_gthread(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        GThread *t = g_thread_new("bench", noop_gthread, NULL);
        g_thread_join(t);
    }
}

static void
batch_gthread(uint64_t n, int k)
{
    GThread *t[BENCH_BATCH_MAX];
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            t[j] = g_thread_new("bench", noop_gthread, NULL);
        }
        for (int j = 0; j < k; j++) {
            g_thread_join(t[j]);
        }
    }
}
#endif

#define THREAD(n, r, f, pfx, nt)                                               \
    {                                                                          \
        .section = BENCH_SEC_THREAD, .name = (n), .role = (r), .flags = (f),   \
        .loop = loop_##pfx, .batch = batch_##pfx, .note = (nt)                 \
    }

const bench_case bench_thread_cases[] = {
    THREAD("ct_thread", BENCH_OURS, 0, ct_thread,
           "new+start+join+free, default opts"),
    THREAD("pthread_create", BENCH_BASELINE, 0, pthread,
           "pthread_create + pthread_join"),
#ifdef CT_HAVE_GLIB
    THREAD("g_thread_new", BENCH_BASELINE, BENCH_GLIB, gthread,
           "GLib, named (OS name set, as ct_thread)"),
#else
    {.section = BENCH_SEC_THREAD,
     .name = "g_thread_new",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .note = "GLib, named (OS name set, as ct_thread)"},
#endif
    THREAD("thrd_create", BENCH_BASELINE, 0, thrd,
           "C11 thrd_create + thrd_join"),
    {0},
};
