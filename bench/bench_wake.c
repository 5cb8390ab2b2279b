// Wake-up cases: two-thread ping-pongs (one round trip = two wake-ups) for
// ct_event, ct_condition and ct_semaphore against pthread/GLib condition
// variables, sem_t, a raw futex and a pure spin; and the "burn" cases, where
// one waiter blocks for 50 ms and we measure the CPU it spends doing so
// (ct_queue's row: a blocking get on an empty queue, woken by a put).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // syscall()
#endif
#include "bench.h"

#include <errno.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

// Every state gets its own cache lines, away from anything else.
static void *
alloc_state(size_t size)
{
    size = (size + 63) / 64 * 64;
    void *p = aligned_alloc(64, size);
    if (p == NULL) {
        bench_fail("aligned_alloc", -ENOMEM);
    }
    return p;
}

static void
sem_wait_all(sem_t *s)
{
    while (sem_wait(s) != 0) {
        // EINTR only: nothing here sends signals, but be safe.
    }
}

static void
futex_wait(atomic_uint *word, unsigned expected)
{
    syscall(SYS_futex, word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected, NULL,
            NULL, 0);
}

static void
futex_wake(atomic_uint *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

// ---- ct_event: A sets e1 and waits e2; B waits e1, clears it, sets e2 ---

typedef struct ev_pp {
    _Alignas(64) ct_event e1;
    _Alignas(64) ct_event e2;
} ev_pp;

static void *
ev_open(void)
{
    ev_pp *s = alloc_state(sizeof(ev_pp));
    ct_event_init(&s->e1);
    ct_event_init(&s->e2);
    return s;
}

static void
ev_side(void *st, int side, uint64_t n)
{
    ev_pp *s = st;
    for (uint64_t i = 0; i < n; i++) {
        if (side == 0) {
            ct_event_set(&s->e1);
            BENCH_CHECK(ct_event_wait(&s->e2, CT_FOREVER));
            ct_event_clear(&s->e2);
        } else {
            BENCH_CHECK(ct_event_wait(&s->e1, CT_FOREVER));
            ct_event_clear(&s->e1);
            ct_event_set(&s->e2);
        }
    }
}

static void
ev_close(void *st)
{
    ev_pp *s = st;
    ct_event_destroy(&s->e1);
    ct_event_destroy(&s->e2);
    free(s);
}

// ---- ct_condition: a ct_lock, a condition and a turn variable -----------

typedef struct cond_pp {
    _Alignas(64) ct_lock lock;
    ct_condition cond;
    int turn;
    int flag; // burn: set by wake()
} cond_pp;

static void *
cond_open(void)
{
    cond_pp *s = alloc_state(sizeof(cond_pp));
    ct_lock_init(&s->lock);
    BENCH_CHECK(ct_condition_init(&s->cond, &s->lock));
    s->turn = 0;
    s->flag = 0;
    return s;
}

static void
cond_side(void *st, int side, uint64_t n)
{
    cond_pp *s = st;
    int mine = side, theirs = 1 - side;
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_lock_acquire(&s->lock, CT_FOREVER));
        if (side == 0) {
            // Ping, then wait for the pong: one full round trip.
            s->turn = theirs;
            BENCH_CHECK(ct_condition_notify(&s->cond, 1) < 0);
            while (s->turn != mine) {
                BENCH_CHECK(ct_condition_wait(&s->cond, CT_FOREVER));
            }
        } else {
            while (s->turn != mine) {
                BENCH_CHECK(ct_condition_wait(&s->cond, CT_FOREVER));
            }
            s->turn = theirs;
            BENCH_CHECK(ct_condition_notify(&s->cond, 1) < 0);
        }
        ct_lock_release(&s->lock);
    }
}

static void
cond_close(void *st)
{
    cond_pp *s = st;
    ct_condition_destroy(&s->cond);
    ct_lock_destroy(&s->lock);
    free(s);
}

static void
cond_burn_wait(void *st)
{
    cond_pp *s = st;
    BENCH_CHECK(ct_lock_acquire(&s->lock, CT_FOREVER));
    while (!s->flag) {
        BENCH_CHECK(ct_condition_wait(&s->cond, CT_FOREVER));
    }
    ct_lock_release(&s->lock);
}

static void
cond_burn_wake(void *st)
{
    cond_pp *s = st;
    BENCH_CHECK(ct_lock_acquire(&s->lock, CT_FOREVER));
    s->flag = 1;
    BENCH_CHECK(ct_condition_notify(&s->cond, 1) < 0);
    ct_lock_release(&s->lock);
}

// ---- ct_semaphore: two semaphores, A releases s1 and acquires s2 ---------

typedef struct csem_pp {
    _Alignas(64) ct_semaphore s1;
    _Alignas(64) ct_semaphore s2;
} csem_pp;

static void *
csem_open(void)
{
    csem_pp *s = alloc_state(sizeof(csem_pp));
    BENCH_CHECK(ct_semaphore_init(&s->s1, 0));
    BENCH_CHECK(ct_semaphore_init(&s->s2, 0));
    return s;
}

static void
csem_side(void *st, int side, uint64_t n)
{
    csem_pp *s = st;
    for (uint64_t i = 0; i < n; i++) {
        if (side == 0) {
            BENCH_CHECK(ct_semaphore_release(&s->s1, 1));
            BENCH_CHECK(ct_semaphore_acquire(&s->s2, CT_FOREVER));
        } else {
            BENCH_CHECK(ct_semaphore_acquire(&s->s1, CT_FOREVER));
            BENCH_CHECK(ct_semaphore_release(&s->s2, 1));
        }
    }
}

static void
csem_close(void *st)
{
    csem_pp *s = st;
    ct_semaphore_destroy(&s->s1);
    ct_semaphore_destroy(&s->s2);
    free(s);
}

static void
csem_burn_wait(void *st)
{
    csem_pp *s = st;
    BENCH_CHECK(ct_semaphore_acquire(&s->s1, CT_FOREVER));
}

static void
csem_burn_wake(void *st)
{
    csem_pp *s = st;
    BENCH_CHECK(ct_semaphore_release(&s->s1, 1));
}

// ---- ct_event burn: wait on a clear event ---------------------------------

static void
ev_burn_wait(void *st)
{
    ev_pp *s = st;
    BENCH_CHECK(ct_event_wait(&s->e1, CT_FOREVER));
}

static void
ev_burn_wake(void *st)
{
    ev_pp *s = st;
    ct_event_set(&s->e1);
}

// ---- ct_lock burn: open() takes the lock, the waiter blocks on it --------

typedef struct lock_burn {
    _Alignas(64) ct_lock lock;
} lock_burn;

static void *
lock_burn_open(void)
{
    lock_burn *s = alloc_state(sizeof(lock_burn));
    ct_lock_init(&s->lock);
    BENCH_CHECK(ct_lock_acquire(&s->lock, CT_FOREVER));
    return s;
}

static void
lock_burn_wait(void *st)
{
    lock_burn *s = st;
    BENCH_CHECK(ct_lock_acquire(&s->lock, CT_FOREVER));
    ct_lock_release(&s->lock);
}

static void
lock_burn_wake(void *st)
{
    lock_burn *s = st;
    // A ct_lock may be released by any thread (Python's Lock).
    BENCH_CHECK(ct_lock_release(&s->lock));
}

static void
lock_burn_close(void *st)
{
    lock_burn *s = st;
    ct_lock_destroy(&s->lock);
    free(s);
}

// ---- pthread mutex + cond + turn ----------------------------------------

typedef struct pc_pp {
    _Alignas(64) pthread_mutex_t mutex;
    pthread_cond_t cond;
    int turn;
    int flag;
} pc_pp;

static void *
pc_open(void)
{
    pc_pp *s = alloc_state(sizeof(pc_pp));
    BENCH_CHECK(pthread_mutex_init(&s->mutex, NULL));
    BENCH_CHECK(pthread_cond_init(&s->cond, NULL));
    s->turn = 0;
    s->flag = 0;
    return s;
}

static void
pc_side(void *st, int side, uint64_t n)
{
    pc_pp *s = st;
    int mine = side, theirs = 1 - side;
    for (uint64_t i = 0; i < n; i++) {
        pthread_mutex_lock(&s->mutex);
        if (side == 0) {
            s->turn = theirs;
            pthread_cond_signal(&s->cond);
            while (s->turn != mine) {
                pthread_cond_wait(&s->cond, &s->mutex);
            }
        } else {
            while (s->turn != mine) {
                pthread_cond_wait(&s->cond, &s->mutex);
            }
            s->turn = theirs;
            pthread_cond_signal(&s->cond);
        }
        pthread_mutex_unlock(&s->mutex);
    }
}

static void
pc_close(void *st)
{
    pc_pp *s = st;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    free(s);
}

static void
pc_burn_wait(void *st)
{
    pc_pp *s = st;
    pthread_mutex_lock(&s->mutex);
    while (!s->flag) {
        pthread_cond_wait(&s->cond, &s->mutex);
    }
    pthread_mutex_unlock(&s->mutex);
}

static void
pc_burn_wake(void *st)
{
    pc_pp *s = st;
    pthread_mutex_lock(&s->mutex);
    s->flag = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

// ---- GLib GMutex + GCond + turn -----------------------------------------

#ifdef CT_HAVE_GLIB
typedef struct gc_pp {
    _Alignas(64) GMutex mutex;
    GCond cond;
    int turn;
} gc_pp;

static void *
gc_open(void)
{
    gc_pp *s = alloc_state(sizeof(gc_pp));
    g_mutex_init(&s->mutex);
    g_cond_init(&s->cond);
    s->turn = 0;
    return s;
}

static void
gc_side(void *st, int side, uint64_t n)
{
    gc_pp *s = st;
    int mine = side, theirs = 1 - side;
    for (uint64_t i = 0; i < n; i++) {
        g_mutex_lock(&s->mutex);
        if (side == 0) {
            s->turn = theirs;
            g_cond_signal(&s->cond);
            while (s->turn != mine) {
                g_cond_wait(&s->cond, &s->mutex);
            }
        } else {
            while (s->turn != mine) {
                g_cond_wait(&s->cond, &s->mutex);
            }
            s->turn = theirs;
            g_cond_signal(&s->cond);
        }
        g_mutex_unlock(&s->mutex);
    }
}

static void
gc_close(void *st)
{
    gc_pp *s = st;
    g_cond_clear(&s->cond);
    g_mutex_clear(&s->mutex);
    free(s);
}
#endif

// ---- POSIX sem_t: two semaphores ----------------------------------------

typedef struct ps_pp {
    _Alignas(64) sem_t s1;
    _Alignas(64) sem_t s2;
} ps_pp;

static void *
ps_open(void)
{
    ps_pp *s = alloc_state(sizeof(ps_pp));
    BENCH_CHECK(sem_init(&s->s1, 0, 0));
    BENCH_CHECK(sem_init(&s->s2, 0, 0));
    return s;
}

static void
ps_side(void *st, int side, uint64_t n)
{
    ps_pp *s = st;
    for (uint64_t i = 0; i < n; i++) {
        if (side == 0) {
            sem_post(&s->s1);
            sem_wait_all(&s->s2);
        } else {
            sem_wait_all(&s->s1);
            sem_post(&s->s2);
        }
    }
}

static void
ps_close(void *st)
{
    ps_pp *s = st;
    sem_destroy(&s->s1);
    sem_destroy(&s->s2);
    free(s);
}

static void
ps_burn_wait(void *st)
{
    ps_pp *s = st;
    sem_wait_all(&s->s1);
}

static void
ps_burn_wake(void *st)
{
    ps_pp *s = st;
    sem_post(&s->s1);
}

// ---- Raw futex and pure spin: one word, 1 = B's turn, 0 = A's turn ------

typedef struct fx_pp {
    _Alignas(64) atomic_uint word;
} fx_pp;

static void *
fx_open(void)
{
    fx_pp *s = alloc_state(sizeof(fx_pp));
    atomic_init(&s->word, 0);
    return s;
}

// The kernel floor: every hand-over is a FUTEX_WAKE, every wait a
// FUTEX_WAIT unless the word already changed.
static void
fx_side(void *st, int side, uint64_t n)
{
    fx_pp *s = st;
    for (uint64_t i = 0; i < n; i++) {
        if (side == 0) {
            atomic_store(&s->word, 1);
            futex_wake(&s->word);
            while (atomic_load(&s->word) != 0) {
                futex_wait(&s->word, 1);
            }
        } else {
            while (atomic_load(&s->word) != 1) {
                futex_wait(&s->word, 0);
            }
            atomic_store(&s->word, 0);
            futex_wake(&s->word);
        }
    }
}

// The cache-line floor: both threads busy-wait on their own CPU.
static void
spin_side(void *st, int side, uint64_t n)
{
    fx_pp *s = st;
    unsigned mine = side == 0 ? 0 : 1, theirs = 1 - mine;
    for (uint64_t i = 0; i < n; i++) {
        if (side == 0) {
            atomic_store(&s->word, theirs);
        }
        while (atomic_load_explicit(&s->word, memory_order_acquire) != mine) {
            bench_cpu_relax();
        }
        if (side == 1) {
            atomic_store(&s->word, theirs);
        }
    }
}

static void
fx_close(void *st)
{
    free(st);
}

static void
fx_burn_wait(void *st)
{
    fx_pp *s = st;
    while (atomic_load(&s->word) == 0) {
        futex_wait(&s->word, 0);
    }
}

static void
fx_burn_wake(void *st)
{
    fx_pp *s = st;
    atomic_store(&s->word, 1);
    futex_wake(&s->word);
}

// ---- ct_queue burn: a blocking get on an empty Queue(1024) --------------

static void *
queue_burn_open(void)
{
    ct_queue *q;
    BENCH_CHECK(ct_queue_new(&q, CT_QUEUE_FIFO, 1024));
    return q;
}

static void
queue_burn_wait(void *st)
{
    void *item;
    BENCH_CHECK(ct_queue_get(st, &item, CT_FOREVER));
}

static void
queue_burn_wake(void *st)
{
    BENCH_CHECK(ct_queue_put(st, (void *)(uintptr_t)1, CT_FOREVER));
}

static void
queue_burn_close(void *st)
{
    ct_queue_free(st);
}

#define PP(n, r, o, sd, c, nt)                                                 \
    {                                                                          \
        .section = BENCH_SEC_PINGPONG, .name = (n), .role = (r), .open = (o),  \
        .side = (sd), .close = (c), .note = (nt)                               \
    }
#define BURN(n, r, o, wt, wk, c, nt)                                           \
    {                                                                          \
        .section = BENCH_SEC_BURN, .name = (n), .role = (r), .open = (o),      \
        .wait = (wt), .wake = (wk), .close = (c), .note = (nt)                 \
    }

const bench_case bench_wake_cases[] = {
    PP("ct_event", BENCH_OURS, ev_open, ev_side, ev_close,
       "two events, set/wait/clear"),
    PP("ct_condition", BENCH_OURS, cond_open, cond_side, cond_close,
       "ct_lock + condition + turn"),
    PP("ct_semaphore", BENCH_OURS, csem_open, csem_side, csem_close,
       "two semaphores"),
    PP("pthread_cond", BENCH_BASELINE, pc_open, pc_side, pc_close,
       "mutex + cond + turn"),
#ifdef CT_HAVE_GLIB
    {.section = BENCH_SEC_PINGPONG,
     .name = "gcond",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .open = gc_open,
     .side = gc_side,
     .close = gc_close,
     .note = "GMutex + GCond + turn"},
#else
    {.section = BENCH_SEC_PINGPONG,
     .name = "gcond",
     .role = BENCH_BASELINE,
     .flags = BENCH_GLIB,
     .note = "GMutex + GCond + turn"},
#endif
    PP("sem_t", BENCH_BASELINE, ps_open, ps_side, ps_close,
       "two POSIX semaphores"),
    PP("futex", BENCH_FLOOR, fx_open, fx_side, fx_close, "raw FUTEX_WAIT/WAKE"),
    {.section = BENCH_SEC_PINGPONG,
     .name = "spin",
     .role = BENCH_FLOOR,
     .flags = BENCH_DIFF_ONLY,
     .open = fx_open,
     .side = spin_side,
     .close = fx_close,
     .note = "PAUSE loop, cache line"},

    BURN("ct_event", BENCH_OURS, ev_open, ev_burn_wait, ev_burn_wake, ev_close,
         "ct_event_wait"),
    BURN("ct_condition", BENCH_OURS, cond_open, cond_burn_wait, cond_burn_wake,
         cond_close, "ct_condition_wait"),
    BURN("ct_semaphore", BENCH_OURS, csem_open, csem_burn_wait, csem_burn_wake,
         csem_close, "ct_semaphore_acquire"),
    BURN("ct_lock", BENCH_OURS, lock_burn_open, lock_burn_wait, lock_burn_wake,
         lock_burn_close, "ct_lock_acquire"),
    BURN("ct_queue", BENCH_OURS, queue_burn_open, queue_burn_wait,
         queue_burn_wake, queue_burn_close, "ct_queue_get, Queue(1024)"),
    BURN("pthread_cond", BENCH_BASELINE, pc_open, pc_burn_wait, pc_burn_wake,
         pc_close, "pthread_cond_wait"),
    BURN("sem_t", BENCH_BASELINE, ps_open, ps_burn_wait, ps_burn_wake, ps_close,
         "sem_wait"),
    BURN("futex", BENCH_FLOOR, fx_open, fx_burn_wait, fx_burn_wake, fx_close,
         "FUTEX_WAIT"),
    {0},
};
