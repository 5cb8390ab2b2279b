// Executor cases: what a pool of 2 workers costs per empty task, with the
// caller submitting n tasks and then waiting for them all (throughput), and
// for one task on an idle pool, submit to result (latency). ct_executor
// (one future per task, waited for in order; the same with one ct_wait;
// and with the futures dropped at once) against GLib's GThreadPool
// (exclusive), a naive pthread pool (a malloc'd node per task, one mutex,
// two condition variables) with and without a malloc'd future per task,
// and, for the latency, pthread_create + pthread_join of an empty thread.
// main.c runs the reps and the Python ThreadPoolExecutor anchor.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // pthread_attr_setaffinity_np, pthread_getaffinity_np
#endif
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

// Allocates n pointers and touches them, so that no page fault of the
// array lands in a timed rep.
static void *
alloc_ptrs(size_t n)
{
    void **p = malloc(n * sizeof(void *));
    if (p == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    memset(p, 0, n * sizeof(void *));
    return p;
}

// ---- ct_executor ----------------------------------------------------------

typedef struct ctx_state {
    ct_executor *ex;
    ct_future **futs; // BENCH_EXEC_TASKS_MAX
    // ctx_nofut: the tasks not yet done, and the event the last one sets.
    atomic_uint_fast64_t left;
    ct_event done;
} ctx_state;

static int
ctx_empty(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

static int
ctx_countdown(void *arg, void **result)
{
    (void)result;
    ctx_state *s = arg;
    if (atomic_fetch_sub_explicit(&s->left, 1, memory_order_acq_rel) == 1) {
        (void)ct_event_set(&s->done);
    }
    return 0;
}

// Makes the executor and starts both workers: a worker starts on a submit
// that finds none idle, so bursts of tasks go in until both exist (the
// second one may not be needed by a burst that the first keeps up with).
static void *
ctx_open(void)
{
    ctx_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        bench_fail("calloc", -ENOMEM);
    }
    ct_executor_opts o = {.max_workers = BENCH_EXEC_WORKERS};
    BENCH_CHECK(ct_executor_new(&s->ex, &o));
    s->futs = alloc_ptrs(BENCH_EXEC_TASKS_MAX);
    ct_event_init(&s->done);
    atomic_init(&s->left, 0);
    for (int round = 0;
         round < 100 && ct_executor_thread_count(s->ex) < BENCH_EXEC_WORKERS;
         round++) {
        for (int i = 0; i < 64; i++) {
            BENCH_CHECK(
                ct_executor_submit(s->ex, ctx_empty, NULL, &s->futs[i]));
        }
        for (int i = 0; i < 64; i++) {
            BENCH_CHECK(ct_future_result(s->futs[i], NULL, CT_FOREVER));
            BENCH_CHECK(ct_future_free(s->futs[i]));
        }
    }
    return s;
}

static void
ctx_close(void *st)
{
    ctx_state *s = st;
    BENCH_CHECK(ct_executor_free(s->ex));
    ct_event_destroy(&s->done);
    free(s->futs);
    free(s);
}

// Submits all, then waits for each future in submission order
// (`for f in fs: f.result()`), freeing it.
static void
ctx_result_each(void *st, uint64_t n)
{
    ctx_state *s = st;
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_executor_submit(s->ex, ctx_empty, NULL, &s->futs[i]));
    }
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_future_result(s->futs[i], NULL, CT_FOREVER));
        BENCH_CHECK(ct_future_free(s->futs[i]));
    }
}

// Submits all, then one ct_wait(ALL_COMPLETED) over the whole array.
static void
ctx_wait_all(void *st, uint64_t n)
{
    ctx_state *s = st;
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_executor_submit(s->ex, ctx_empty, NULL, &s->futs[i]));
    }
    int rc = ct_wait(s->futs, (size_t)n, CT_FOREVER, CT_ALL_COMPLETED, NULL);
    if (rc != (int)n) {
        bench_fail("ct_wait(CT_ALL_COMPLETED)", rc);
    }
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_future_free(s->futs[i]));
    }
}

// Fire and forget: each future is dropped right after its submit, and the
// last task to finish sets an event (the shape of the pools without
// futures below).
static void
ctx_nofut(void *st, uint64_t n)
{
    ctx_state *s = st;
    if (n == 0) {
        return;
    }
    atomic_store_explicit(&s->left, n, memory_order_relaxed);
    BENCH_CHECK(ct_event_clear(&s->done));
    for (uint64_t i = 0; i < n; i++) {
        ct_future *f;
        BENCH_CHECK(ct_executor_submit(s->ex, ctx_countdown, s, &f));
        BENCH_CHECK(ct_future_free(f));
    }
    BENCH_CHECK(ct_event_wait(&s->done, CT_FOREVER));
}

// n round trips: submit one task, wait for its result, free its future.
static void
ctx_round_trips(void *st, uint64_t n)
{
    ctx_state *s = st;
    for (uint64_t i = 0; i < n; i++) {
        ct_future *f;
        BENCH_CHECK(ct_executor_submit(s->ex, ctx_empty, NULL, &f));
        BENCH_CHECK(ct_future_result(f, NULL, CT_FOREVER));
        BENCH_CHECK(ct_future_free(f));
    }
}

// ---- Naive pthread pool: malloc'd node, one mutex, two conditions ---------
//
// The textbook pool: a linked list of malloc'd work nodes under one mutex;
// a submit appends a node and signals not_empty every time; a worker takes
// a node, runs it unlocked, frees it, and decrements the count of queued
// and running work, broadcasting all_done when it reaches 0.

typedef struct npool_node {
    struct npool_node *next;
    void (*fn)(void *arg);
    void *arg;
} npool_node;

typedef struct npool {
    pthread_mutex_t mutex;
    pthread_cond_t not_empty; // workers wait here for work
    pthread_cond_t all_done;  // the submitter waits here for pending == 0
    npool_node *head, *tail;
    uint64_t pending; // queued + running
    bool stop;
    pthread_t threads[BENCH_EXEC_WORKERS];
    void **futs; // naive_future: BENCH_EXEC_TASKS_MAX
} npool;

static void *
npool_worker(void *arg)
{
    npool *p = arg;
    pthread_mutex_lock(&p->mutex);
    for (;;) {
        while (p->head == NULL && !p->stop) {
            pthread_cond_wait(&p->not_empty, &p->mutex);
        }
        if (p->head == NULL) {
            break; // stop, and nothing left
        }
        npool_node *node = p->head;
        p->head = node->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mutex);
        node->fn(node->arg);
        free(node);
        pthread_mutex_lock(&p->mutex);
        if (--p->pending == 0) {
            pthread_cond_broadcast(&p->all_done);
        }
    }
    pthread_mutex_unlock(&p->mutex);
    return NULL;
}

static void *
npool_open(void)
{
    npool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        bench_fail("calloc", -ENOMEM);
    }
    BENCH_CHECK(pthread_mutex_init(&p->mutex, NULL));
    BENCH_CHECK(pthread_cond_init(&p->not_empty, NULL));
    BENCH_CHECK(pthread_cond_init(&p->all_done, NULL));
    for (int i = 0; i < BENCH_EXEC_WORKERS; i++) {
        BENCH_CHECK(pthread_create(&p->threads[i], NULL, npool_worker, p));
    }
    return p;
}

static void
npool_close(void *st)
{
    npool *p = st;
    pthread_mutex_lock(&p->mutex);
    p->stop = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 0; i < BENCH_EXEC_WORKERS; i++) {
        BENCH_CHECK(pthread_join(p->threads[i], NULL));
    }
    pthread_cond_destroy(&p->all_done);
    pthread_cond_destroy(&p->not_empty);
    pthread_mutex_destroy(&p->mutex);
    free(p->futs);
    free(p);
}

static void
npool_submit(npool *p, void (*fn)(void *), void *arg)
{
    npool_node *node = malloc(sizeof(*node));
    if (node == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    node->next = NULL;
    node->fn = fn;
    node->arg = arg;
    pthread_mutex_lock(&p->mutex);
    if (p->tail != NULL) {
        p->tail->next = node;
    } else {
        p->head = node;
    }
    p->tail = node;
    p->pending++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mutex);
}

static void
npool_wait_all(npool *p)
{
    pthread_mutex_lock(&p->mutex);
    while (p->pending != 0) {
        pthread_cond_wait(&p->all_done, &p->mutex);
    }
    pthread_mutex_unlock(&p->mutex);
}

static void
npool_empty(void *arg)
{
    (void)arg;
}

static void
npool_tasks(void *st, uint64_t n)
{
    npool *p = st;
    for (uint64_t i = 0; i < n; i++) {
        npool_submit(p, npool_empty, NULL);
    }
    npool_wait_all(p);
}

// ---- Naive future: a malloc'd {mutex, cond, done, result} per task --------

typedef struct nfuture {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
    void *result;
} nfuture;

// The task: computes nothing, then publishes its (NULL) result.
static void
nfuture_run(void *arg)
{
    nfuture *f = arg;
    pthread_mutex_lock(&f->mutex);
    f->result = NULL;
    f->done = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mutex);
}

static nfuture *
nfuture_submit(npool *p)
{
    nfuture *f = malloc(sizeof(*f));
    if (f == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    BENCH_CHECK(pthread_mutex_init(&f->mutex, NULL));
    BENCH_CHECK(pthread_cond_init(&f->cond, NULL));
    f->done = false;
    f->result = NULL;
    npool_submit(p, nfuture_run, f);
    return f;
}

// Waits for the result, then frees the future.
static void *
nfuture_result(nfuture *f)
{
    pthread_mutex_lock(&f->mutex);
    while (!f->done) {
        pthread_cond_wait(&f->cond, &f->mutex);
    }
    void *r = f->result;
    pthread_mutex_unlock(&f->mutex);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mutex);
    free(f);
    return r;
}

static void *
nfut_open(void)
{
    npool *p = npool_open();
    p->futs = alloc_ptrs(BENCH_EXEC_TASKS_MAX);
    return p;
}

static void
nfut_close(void *st)
{
    npool_close(st);
}

static void
nfut_result_each(void *st, uint64_t n)
{
    npool *p = st;
    for (uint64_t i = 0; i < n; i++) {
        p->futs[i] = nfuture_submit(p);
    }
    for (uint64_t i = 0; i < n; i++) {
        (void)nfuture_result(p->futs[i]);
    }
}

static void
nfut_round_trips(void *st, uint64_t n)
{
    npool *p = st;
    for (uint64_t i = 0; i < n; i++) {
        (void)nfuture_result(nfuture_submit(p));
    }
}

// ---- GLib GThreadPool, exclusive ------------------------------------------
//
// g_thread_pool_new(fn, data, 2, TRUE, NULL) starts its 2 threads at once.
// GThreadPool has no "wait for the pushed tasks" short of freeing the pool,
// so each task counts itself down, and the last one wakes the submitter.

#ifdef CT_HAVE_GLIB
typedef struct gtp_state {
    GThreadPool *pool;
    GMutex mutex;
    GCond cond;
    bool done;
    atomic_uint_fast64_t left;
} gtp_state;

static void
gtp_task(gpointer data, gpointer user_data)
{
    (void)data;
    gtp_state *s = user_data;
    if (atomic_fetch_sub_explicit(&s->left, 1, memory_order_acq_rel) == 1) {
        g_mutex_lock(&s->mutex);
        s->done = true;
        g_cond_signal(&s->cond);
        g_mutex_unlock(&s->mutex);
    }
}

static void *
gtp_open(void)
{
    gtp_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        bench_fail("calloc", -ENOMEM);
    }
    g_mutex_init(&s->mutex);
    g_cond_init(&s->cond);
    atomic_init(&s->left, 0);
    GError *err = NULL;
    s->pool = g_thread_pool_new(gtp_task, s, BENCH_EXEC_WORKERS, TRUE, &err);
    if (s->pool == NULL) {
        bench_fail("g_thread_pool_new", err ? err->code : 0);
    }
    return s;
}

static void
gtp_close(void *st)
{
    gtp_state *s = st;
    g_thread_pool_free(s->pool, FALSE, TRUE);
    g_cond_clear(&s->cond);
    g_mutex_clear(&s->mutex);
    free(s);
}

// Pushes n tasks, then waits for the last; a GThreadPool task must not be
// NULL, so each is the state's address.
static void
gtp_tasks(void *st, uint64_t n)
{
    gtp_state *s = st;
    if (n == 0) {
        return;
    }
    s->done = false;
    atomic_store_explicit(&s->left, n, memory_order_relaxed);
    for (uint64_t i = 0; i < n; i++) {
        GError *err = NULL;
        if (!g_thread_pool_push(s->pool, s, &err)) {
            bench_fail("g_thread_pool_push", err ? err->code : 0);
        }
    }
    g_mutex_lock(&s->mutex);
    while (!s->done) {
        g_cond_wait(&s->cond, &s->mutex);
    }
    g_mutex_unlock(&s->mutex);
}

// One task at a time, each waited for.
static void
gtp_round_trips(void *st, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        gtp_tasks(st, 1);
    }
}
#endif

// ---- pthread_create + pthread_join: a thread per task ----------------------
//
// The threads start on the CPUs of the thread that called open(), as a
// pool's workers would.

typedef struct pt_state {
    cpu_set_t cpus;
} pt_state;

static void *
pt_empty(void *arg)
{
    return arg;
}

static void *
pt_open(void)
{
    pt_state *s = malloc(sizeof(*s));
    if (s == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    BENCH_CHECK(
        pthread_getaffinity_np(pthread_self(), sizeof(s->cpus), &s->cpus));
    return s;
}

static void
pt_close(void *st)
{
    free(st);
}

static void
pt_round_trips(void *st, uint64_t n)
{
    pt_state *s = st;
    pthread_attr_t attr;
    BENCH_CHECK(pthread_attr_init(&attr));
    BENCH_CHECK(pthread_attr_setaffinity_np(&attr, sizeof(s->cpus), &s->cpus));
    for (uint64_t i = 0; i < n; i++) {
        pthread_t t;
        BENCH_CHECK(pthread_create(&t, &attr, pt_empty, NULL));
        BENCH_CHECK(pthread_join(t, NULL));
    }
    pthread_attr_destroy(&attr);
}

// ---- The table -------------------------------------------------------------

#define EXEC(sec, n, r, f, pfx, fn, nt)                                        \
    {                                                                          \
        .section = (sec), .name = (n), .role = (r), .flags = (f),              \
        .open = pfx##_open, .close = pfx##_close, .tasks = (fn), .note = (nt)  \
    }
#ifdef CT_HAVE_GLIB
#define GTP(sec, n, fn, nt)                                                    \
    EXEC(sec, n, BENCH_BASELINE, BENCH_GLIB, gtp, fn, nt)
#else
#define GTP(sec, n, fn, nt)                                                    \
    {                                                                          \
        .section = (sec), .name = (n), .role = BENCH_BASELINE,                 \
        .flags = BENCH_GLIB, .note = (nt)                                      \
    }
#endif

const bench_case bench_executor_cases[] = {
    EXEC(BENCH_SEC_EXECUTOR, "ct_executor", BENCH_OURS, 0, ctx, ctx_result_each,
         "futures: submit all, result() each in order"),
    EXEC(BENCH_SEC_EXECUTOR, "ct_executor_wait", BENCH_OURS, 0, ctx,
         ctx_wait_all, "futures: submit all, ct_wait(ALL_COMPLETED)"),
    EXEC(BENCH_SEC_EXECUTOR, "ct_executor_nofut", BENCH_OURS, 0, ctx, ctx_nofut,
         "future freed at submit; last task sets an event"),
    GTP(BENCH_SEC_EXECUTOR, "gthreadpool", gtp_tasks,
        "GLib GThreadPool exclusive; last task signals"),
    EXEC(BENCH_SEC_EXECUTOR, "naive_pool", BENCH_BASELINE, 0, npool,
         npool_tasks, "malloc node + mutex + 2 conds, no futures"),
    EXEC(BENCH_SEC_EXECUTOR, "naive_future", BENCH_BASELINE, 0, nfut,
         nfut_result_each, "naive_pool + malloc'd mutex/cond future each"),

    EXEC(BENCH_SEC_EXECUTOR_LATENCY, "ct_executor", BENCH_OURS, 0, ctx,
         ctx_round_trips, "submit, ct_future_result, ct_future_free"),
    EXEC(BENCH_SEC_EXECUTOR_LATENCY, "naive_future", BENCH_BASELINE, 0, nfut,
         nfut_round_trips, "naive_pool + malloc'd mutex/cond future"),
    GTP(BENCH_SEC_EXECUTOR_LATENCY, "gthreadpool", gtp_round_trips,
        "GLib GThreadPool exclusive; the task signals"),
    EXEC(BENCH_SEC_EXECUTOR_LATENCY, "pthread_create", BENCH_BASELINE, 0, pt,
         pt_round_trips, "pthread_create + pthread_join, no pool"),
    {0},
};
