// Lock cases: the uncontended acquire+release pair (ct_lock, ct_rlock and
// the pthread, C11, GLib and POSIX baselines) and the contended
// `acquire; shared++; release` workers, with and without per-acquire timing.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // PTHREAD_MUTEX_ADAPTIVE_NP
#endif
#include "bench.h"

#include <semaphore.h>
#include <stdlib.h>

// ---- Uncontended pairs --------------------------------------------------
//
// Each loop sets up its object, runs n pairs and tears it down; n is large
// enough (or, for valgrind, taken as a difference of two runs) that the set
// up does not count. The objects are globals so that the compiler cannot
// prove the lock private to the loop.

static ct_lock g_ct_lock;
static ct_rlock g_ct_rlock;
static pthread_mutex_t g_pmutex;
static mtx_t g_mtx;
static pthread_spinlock_t g_spin;
static sem_t g_sem;
#ifdef CT_HAVE_GLIB
static GMutex g_gmutex;
static GRecMutex g_grecmutex;
#endif

static void
loop_empty(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        // Keeps the loop: the compiler may not drop a volatile asm.
        __asm__ volatile("" ::: "memory");
    }
}

static void
loop_ct_lock(uint64_t n)
{
    ct_lock_init(&g_ct_lock);
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_lock_acquire(&g_ct_lock, CT_FOREVER));
        ct_lock_release(&g_ct_lock);
    }
    ct_lock_destroy(&g_ct_lock);
}

static void
loop_ct_rlock_first(uint64_t n)
{
    ct_rlock_init(&g_ct_rlock);
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_rlock_acquire(&g_ct_rlock, CT_FOREVER));
        ct_rlock_release(&g_ct_rlock);
    }
    ct_rlock_destroy(&g_ct_rlock);
}

static void
loop_ct_rlock_nested(uint64_t n)
{
    ct_rlock_init(&g_ct_rlock);
    BENCH_CHECK(ct_rlock_acquire(&g_ct_rlock, CT_FOREVER));
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_rlock_acquire(&g_ct_rlock, CT_FOREVER));
        ct_rlock_release(&g_ct_rlock);
    }
    ct_rlock_release(&g_ct_rlock);
    ct_rlock_destroy(&g_ct_rlock);
}

static void
pmutex_init(pthread_mutex_t *m, int type)
{
    pthread_mutexattr_t attr;
    BENCH_CHECK(pthread_mutexattr_init(&attr));
    BENCH_CHECK(pthread_mutexattr_settype(&attr, type));
    BENCH_CHECK(pthread_mutex_init(m, &attr));
    pthread_mutexattr_destroy(&attr);
}

static void
loop_pmutex_type(uint64_t n, int type)
{
    pmutex_init(&g_pmutex, type);
    for (uint64_t i = 0; i < n; i++) {
        pthread_mutex_lock(&g_pmutex);
        pthread_mutex_unlock(&g_pmutex);
    }
    pthread_mutex_destroy(&g_pmutex);
}

static void
loop_pthread_mutex(uint64_t n)
{
    loop_pmutex_type(n, PTHREAD_MUTEX_DEFAULT);
}

static void
loop_pthread_adaptive(uint64_t n)
{
    loop_pmutex_type(n, PTHREAD_MUTEX_ADAPTIVE_NP);
}

static void
loop_pthread_recursive(uint64_t n)
{
    loop_pmutex_type(n, PTHREAD_MUTEX_RECURSIVE);
}

static void
loop_mtx(uint64_t n)
{
    if (mtx_init(&g_mtx, mtx_plain) != thrd_success) {
        bench_fail("mtx_init", -1);
    }
    for (uint64_t i = 0; i < n; i++) {
        mtx_lock(&g_mtx);
        mtx_unlock(&g_mtx);
    }
    mtx_destroy(&g_mtx);
}

static void
loop_pthread_spin(uint64_t n)
{
    BENCH_CHECK(pthread_spin_init(&g_spin, PTHREAD_PROCESS_PRIVATE));
    for (uint64_t i = 0; i < n; i++) {
        pthread_spin_lock(&g_spin);
        pthread_spin_unlock(&g_spin);
    }
    pthread_spin_destroy(&g_spin);
}

static void
loop_sem(uint64_t n)
{
    BENCH_CHECK(sem_init(&g_sem, 0, 1));
    for (uint64_t i = 0; i < n; i++) {
        sem_wait(&g_sem);
        sem_post(&g_sem);
    }
    sem_destroy(&g_sem);
}

#ifdef CT_HAVE_GLIB
static void
loop_gmutex(uint64_t n)
{
    g_mutex_init(&g_gmutex);
    for (uint64_t i = 0; i < n; i++) {
        g_mutex_lock(&g_gmutex);
        g_mutex_unlock(&g_gmutex);
    }
    g_mutex_clear(&g_gmutex);
}

static void
loop_grecmutex(uint64_t n)
{
    g_rec_mutex_init(&g_grecmutex);
    for (uint64_t i = 0; i < n; i++) {
        g_rec_mutex_lock(&g_grecmutex);
        g_rec_mutex_unlock(&g_grecmutex);
    }
    g_rec_mutex_clear(&g_grecmutex);
}
#endif

// ---- Contended workers --------------------------------------------------
//
// CONTENDED(name, LOCK, UNLOCK) defines name_worker and name_timed. The
// owner bookkeeping sits inside the critical section, so it is exact: a
// switch is counted whenever the acquirer differs from the previous holder.
// The timed variant reads the TSC before the acquire and after the release
// (both reads outside the critical section, which stays as short as in the
// throughput reps; the few ns it adds to a wait do not matter at the ms
// scale), keeps the maximum and counts the waits over 1 and 2 ms. It runs
// in its own rep: the reads still slow every iteration down.
#define CONTENDED(name, LOCK, UNLOCK)                                          \
    static void name##_worker(bench_arena *a, bench_worker *w)                 \
    {                                                                          \
        uint64_t ops = 0;                                                      \
        uint32_t me = (uint32_t)w->id + 1;                                     \
        while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {        \
            LOCK;                                                              \
            a->shared++;                                                       \
            if (a->last != me) {                                               \
                a->last = me;                                                  \
                a->switches++;                                                 \
            }                                                                  \
            UNLOCK;                                                            \
            ops++;                                                             \
        }                                                                      \
        w->ops = ops;                                                          \
    }                                                                          \
    static void name##_timed(bench_arena *a, bench_worker *w)                  \
    {                                                                          \
        uint64_t ops = 0, max = 0;                                             \
        uint32_t me = (uint32_t)w->id + 1;                                     \
        while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {        \
            uint64_t t0 = bench_ticks();                                       \
            LOCK;                                                              \
            a->shared++;                                                       \
            if (a->last != me) {                                               \
                a->last = me;                                                  \
                a->switches++;                                                 \
            }                                                                  \
            UNLOCK;                                                            \
            uint64_t d = bench_ticks() - t0;                                   \
            ops++;                                                             \
            if (d > max) {                                                     \
                max = d;                                                       \
            }                                                                  \
            if (d > w->long_ticks) {                                           \
                w->n_long++;                                                   \
                w->n_long2 += d > 2 * w->long_ticks;                           \
            }                                                                  \
        }                                                                      \
        w->ops = ops;                                                          \
        w->max_wait = max;                                                     \
    }

CONTENDED(c_ct_lock, BENCH_CHECK(ct_lock_acquire(&a->lock.ct, CT_FOREVER)),
          ct_lock_release(&a->lock.ct))
CONTENDED(c_pmutex, pthread_mutex_lock(&a->lock.pm),
          pthread_mutex_unlock(&a->lock.pm))
CONTENDED(c_mtx, mtx_lock(&a->lock.mtx), mtx_unlock(&a->lock.mtx))
#ifdef CT_HAVE_GLIB
CONTENDED(c_gmutex, g_mutex_lock(&a->lock.gm), g_mutex_unlock(&a->lock.gm))
#endif

static void
c_ct_lock_init(bench_arena *a)
{
    ct_lock_init(&a->lock.ct);
}

static void
c_ct_lock_fini(bench_arena *a)
{
    ct_lock_destroy(&a->lock.ct);
}

static void
c_pmutex_init(bench_arena *a)
{
    pmutex_init(&a->lock.pm, PTHREAD_MUTEX_DEFAULT);
}

static void
c_adaptive_init(bench_arena *a)
{
    pmutex_init(&a->lock.pm, PTHREAD_MUTEX_ADAPTIVE_NP);
}

static void
c_pmutex_fini(bench_arena *a)
{
    pthread_mutex_destroy(&a->lock.pm);
}

static void
c_mtx_init(bench_arena *a)
{
    if (mtx_init(&a->lock.mtx, mtx_plain) != thrd_success) {
        bench_fail("mtx_init", -1);
    }
}

static void
c_mtx_fini(bench_arena *a)
{
    mtx_destroy(&a->lock.mtx);
}

#ifdef CT_HAVE_GLIB
static void
c_gmutex_init(bench_arena *a)
{
    g_mutex_init(&a->lock.gm);
}

static void
c_gmutex_fini(bench_arena *a)
{
    g_mutex_clear(&a->lock.gm);
}
#endif

// The floor: no lock at all, one atomic increment per operation.
static void
c_fetch_add_worker(bench_arena *a, bench_worker *w)
{
    uint64_t ops = 0;
    while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&a->lock.counter, 1, memory_order_relaxed);
        ops++;
    }
    w->ops = ops;
}

static void
c_fetch_add_init(bench_arena *a)
{
    atomic_init(&a->lock.counter, 0);
}

static void
c_fetch_add_fini(bench_arena *a)
{
    // The runner reads a->shared for the total; the floor keeps its count
    // in the atomic.
    a->shared = atomic_load_explicit(&a->lock.counter, memory_order_relaxed);
}

#define UNC(n, r, fn, nt)                                                      \
    {                                                                          \
        .section = BENCH_SEC_UNCONTENDED, .name = (n), .role = (r),            \
        .loop = (fn), .note = (nt)                                             \
    }
#define UNC_GLIB(n, r, fn, nt)                                                 \
    {                                                                          \
        .section = BENCH_SEC_UNCONTENDED, .name = (n), .role = (r),            \
        .flags = BENCH_GLIB, .loop = (fn), .note = (nt)                        \
    }
#define CON(n, r, pfx, in, fi, nt)                                             \
    {                                                                          \
        .section = BENCH_SEC_CONTENDED, .name = (n), .role = (r),              \
        .init = (in), .worker = pfx##_worker, .timed = pfx##_timed,            \
        .fini = (fi), .note = (nt)                                             \
    }

const bench_case bench_lock_cases[] = {
    UNC("ct_lock", BENCH_OURS, loop_ct_lock, "inline CAS + CAS"),
    UNC("ct_rlock_first", BENCH_OURS, loop_ct_rlock_first, "depth 0->1->0"),
    UNC("ct_rlock_nested", BENCH_OURS, loop_ct_rlock_nested, "depth 1->2->1"),
    UNC("pthread_mutex", BENCH_BASELINE, loop_pthread_mutex, "default type"),
    UNC("pthread_adaptive", BENCH_BASELINE, loop_pthread_adaptive,
        "PTHREAD_MUTEX_ADAPTIVE_NP"),
    UNC("mtx_t", BENCH_BASELINE, loop_mtx, "C11 <threads.h>"),
#ifdef CT_HAVE_GLIB
    UNC_GLIB("gmutex", BENCH_BASELINE, loop_gmutex, "GLib GMutex"),
#else
    UNC_GLIB("gmutex", BENCH_BASELINE, NULL, "GLib GMutex"),
#endif
    UNC("pthread_recursive", BENCH_BASELINE, loop_pthread_recursive,
        "RLock baseline"),
#ifdef CT_HAVE_GLIB
    UNC_GLIB("grecmutex", BENCH_BASELINE, loop_grecmutex, "GLib GRecMutex"),
#else
    UNC_GLIB("grecmutex", BENCH_BASELINE, NULL, "GLib GRecMutex"),
#endif
    UNC("pthread_spin", BENCH_BASELINE, loop_pthread_spin, "cannot sleep"),
    UNC("sem_t", BENCH_BASELINE, loop_sem, "sem_wait + sem_post"),
    UNC("empty_loop", BENCH_OVERHEAD, loop_empty, "not subtracted"),

    CON("ct_lock", BENCH_OURS, c_ct_lock, c_ct_lock_init, c_ct_lock_fini, NULL),
    CON("pthread_mutex", BENCH_BASELINE, c_pmutex, c_pmutex_init, c_pmutex_fini,
        "default type"),
    CON("pthread_adaptive", BENCH_BASELINE, c_pmutex, c_adaptive_init,
        c_pmutex_fini, "PTHREAD_MUTEX_ADAPTIVE_NP"),
    CON("mtx_t", BENCH_BASELINE, c_mtx, c_mtx_init, c_mtx_fini,
        "C11 <threads.h>"),
#ifdef CT_HAVE_GLIB
    {.section = BENCH_SEC_CONTENDED,
     .name = "gmutex",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .init = c_gmutex_init,
     .worker = c_gmutex_worker,
     .timed = c_gmutex_timed,
     .fini = c_gmutex_fini,
     .note = "GLib GMutex"},
#else
    {.section = BENCH_SEC_CONTENDED,
     .name = "gmutex",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .note = "GLib GMutex"},
#endif
    {.section = BENCH_SEC_CONTENDED,
     .name = "atomic_fetch_add",
     .role = BENCH_FLOOR,
     .init = c_fetch_add_init,
     .worker = c_fetch_add_worker,
     .fini = c_fetch_add_fini,
     .note = "no lock"},
    {0},
};
