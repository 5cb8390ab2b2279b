// ct_executor: a thread pool on the lock-free unbounded ct_queue (its
// shutdown is the pool's), with futures that carry their work item and an
// idle protocol in the style of Go's scheduler: a worker that has no task
// "searches" (spins on the queue) for a few microseconds, then sleeps in
// the parking lot; a submit wakes a sleeper only when nobody searches, and
// a searcher that finds a task wakes the next sleeper only if more work is
// queued. So a burst of submits costs one wake-up per worker at most, and
// a steady stream of them none.
//
// The idle word (64 bits):
//
//   bits 0-31   SLEEPERS   workers that passed the final check and sleep
//                          (or are about to) on the word; changed under
//                          the parking lot's bucket lock only
//   bits 32-63  SEARCHERS  workers awake without a task
//
// A waker moves one worker from SLEEPERS to SEARCHERS in the unpark
// callback, under the same bucket lock, so the counts never lose a worker.
// The sleeper's check ("the queue is empty") and the submitter's ("nobody
// searches, somebody sleeps") are the two sides of Dekker's pattern, with
// a full fence on each side.
//
// Lazy workers: while fewer than max_workers exist, each submit counts its
// task in `pending` (unfinished counted tasks) and starts a worker when
// there are more of them than workers; a worker uncounts its task before
// it publishes the outcome, so a submit that follows a result() never
// starts a second worker for nothing (Python's test_idle_thread_reuse).
// Once the pool is full, submits skip the count.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cthreading/executor.h>
#include <cthreading/lock.h>
#include <cthreading/queue.h>
#include <cthreading/thread.h>

#include "future_impl.h"
#include "list.h"
#include "lock_impl.h"
#include "platform/platform.h"
#include "sync/atomic.h"
#include "sync/deadline.h"
#include "sync/parking_lot.h"
#include "sync/spin.h"
#include "thread_impl.h"

#define SLEEPER ((uint64_t)1)
#define SEARCHER ((uint64_t)1 << 32)
#define SLEEPERS(w) ((uint32_t)(w))
#define SEARCHERS(w) ((uint32_t)((w) >> 32))

#define PREFIX_MAX 64

struct ct_executor {
    ct_queue *queue; // unbounded FIFO of futures; shut down with the pool
    uint64_t idle;   // the idle word above
    int64_t pending; // counted tasks not finished (see above)
    int nthreads;    // workers started; written under spawn_lock
    int max_workers;
    bool shut;   // ct_executor_shutdown began; under spawn_lock
    bool broken; // an initializer failed (atomic)
    bool listed; // in the registry; under reg_lock
    ct_lock spawn_lock;
    ct_thread **threads; // [max_workers], the first nthreads started
    char *prefix;
    int (*initializer)(void *);
    void *initarg;
    int refs; // the owner's, and the exit hook's while it works (atomic)
    ct_executor *prev, *next; // the registry
};

// Every live executor, for the exit hook.
static ct_lock reg_lock;
static ct_executor *reg_head;
static bool exiting; // the exit hook ran: no new executors
static uint32_t prefix_counter;

// The executor whose worker the calling thread is (NULL: none).
static _Thread_local ct_executor *self_pool
    __attribute__((tls_model("initial-exec")));

// --- Waking ------------------------------------------------------------------

static uintptr_t
on_unpark(void *arg, ct__unpark_result r)
{
    ct_executor *ex = arg;
    if (r.unparked > 0) {
        // The woken workers search now. Under the bucket lock, like every
        // change of SLEEPERS.
        ct__fetch_add_relaxed(&ex->idle, (SEARCHER - SLEEPER) * r.unparked);
    }
    return 0;
}

static void
wake(ct_executor *ex, size_t n)
{
    ct__unpark(&ex->idle, n, on_unpark, ex);
}

// The sleeper's side of the handshake, under the bucket lock: count itself
// a sleeper, then look at the queue once more.
static bool
validate_sleep(void *arg)
{
    ct_executor *ex = arg;
    ct__fetch_add_seq_cst(&ex->idle, SLEEPER);
    ct__fence_seq_cst();
    if (ct_queue_empty(ex->queue) && !ct_queue_is_shutdown(ex->queue)) {
        return true;
    }
    ct__fetch_sub_relaxed(&ex->idle, SLEEPER);
    return false;
}

// A searcher found a task. If it was the last searcher while sleepers and
// more work remain, it hands the search on to a sleeper.
static void
stop_searching(ct_executor *ex)
{
    uint64_t w = ct__fetch_sub_seq_cst(&ex->idle, SEARCHER);
    if (SEARCHERS(w) == 1 && SLEEPERS(w) > 0) {
        ct__fence_seq_cst();
        if (!ct_queue_empty(ex->queue)) {
            wake(ex, 1);
        }
    }
}

// Takes the next task into *f, searching and then sleeping while there is
// none. Returns 0, or CT_ESHUTDOWN once the queue is shut down and empty.
static int
take(ct_executor *ex, ct_future **f, bool *searching)
{
    for (;;) {
        void *item;
        int rc = ct_queue_get_nowait(ex->queue, &item);
        if (rc == CT_ETIMEDOUT && !*searching) {
            // One searcher at a time: another one would only burn a CPU
            // that a task or the submitter could use.
            uint64_t w = ct__load_relaxed(&ex->idle);
            while (SEARCHERS(w) == 0 &&
                   !ct__cas_seq_cst(&ex->idle, &w, w + SEARCHER)) {
            }
            *searching = SEARCHERS(w) == 0;
        }
        if (rc == CT_ETIMEDOUT && *searching) {
            ct__spin spin = CT__SPIN_INIT;
            while (rc == CT_ETIMEDOUT && ct__spin_next(&spin)) {
                rc = ct_queue_get_nowait(ex->queue, &item);
            }
            ct__spin_end(&spin);
        }
        if (rc == 0) {
            if (*searching) {
                *searching = false;
                stop_searching(ex);
            }
            *f = item;
            return 0;
        }
        if (rc != CT_ETIMEDOUT) {
            return rc; // CT_ESHUTDOWN
        }
        if (*searching) {
            *searching = false;
            ct__fetch_sub_seq_cst(&ex->idle, SEARCHER);
        }
        ct__park_args args = {
            .validate = validate_sleep,
            .arg = ex,
            .deadline = CT__NO_DEADLINE, // 0 would mean "already passed"
        };
        if (ct__park(&ex->idle, &args, NULL) == CT__PARK_UNPARKED) {
            *searching = true; // the waker counted us as searching
        }
    }
}

// --- Workers -----------------------------------------------------------------

static void
run(ct_executor *ex, ct_future *f)
{
    bool counted = f->counted; // f may be gone after start or finish
    if (!ct__future_start(f)) {
        if (counted) {
            ct__fetch_sub_relaxed(&ex->pending, 1);
        }
        return;
    }
    void *result = NULL;
    int code = f->fn(f->arg, &result);
    if (counted) {
        // Before the outcome is published: see the top of the file. The
        // done-callbacks, which run after it in this worker, count the
        // task again while they run (a callback that submits and waits
        // must get a worker of its own, as in Python).
        ct__fetch_sub_relaxed(&ex->pending, 1);
    }
    ct__future_finish(f, code, result, counted ? &ex->pending : NULL);
}

// Fails (code != 0) or cancels (code 0) every queued future.
static void
drain(ct_executor *ex, int code)
{
    void *item;
    while (ct_queue_get_nowait(ex->queue, &item) == 0) {
        ct_future *f = item;
        bool counted = f->counted;
        ct__future_abandon(f, code);
        if (counted) {
            ct__fetch_sub_relaxed(&ex->pending, 1);
        }
    }
}

// An initializer failed: Python's BrokenThreadPool.
static void
break_pool(ct_executor *ex)
{
    ct__store_release(&ex->broken, true);
    (void)ct_queue_shutdown(ex->queue, false);
    drain(ex, CT_EBROKEN);
    wake(ex, SIZE_MAX);
}

static int
worker_main(void *arg)
{
    ct_executor *ex = arg;
    self_pool = ex;
    if (ex->initializer != NULL && ex->initializer(ex->initarg) != 0) {
        break_pool(ex);
        return 0;
    }
    bool searching = false;
    ct_future *f;
    while (take(ex, &f, &searching) == 0) {
        run(ex, f);
    }
    if (searching) {
        ct__fetch_sub_relaxed(&ex->idle, SEARCHER);
    }
    return 0;
}

// Starts a worker if `pending` counted tasks outnumber the workers and the
// pool may grow. Returns 0 or the thread layer's error.
static int
spawn(ct_executor *ex, int64_t pending)
{
    int rc = 0;
    ct__lock_hold(&ex->spawn_lock);
    int n = ex->nthreads;
    if (!ex->shut && n < ex->max_workers && pending > n) {
        char name[PREFIX_MAX + 16];
        snprintf(name, sizeof name, "%s_%d", ex->prefix, n);
        ct_thread_opts opts = {.name = name, .daemon = CT_DAEMON_NO};
        ct_thread *t;
        rc = ct_thread_new(&t, worker_main, ex, &opts);
        if (rc == 0) {
            rc = ct_thread_start(t);
            if (rc != 0) {
                ct_thread_free(t);
            }
        }
        if (rc == 0) {
            ex->threads[n] = t;
            ct__store_release(&ex->nthreads, n + 1);
        }
    }
    (void)ct_lock_release(&ex->spawn_lock);
    return rc;
}

// --- The registry and the exit hook -----------------------------------------

static void
release(ct_executor *ex)
{
    if (ct__fetch_sub_acq_rel(&ex->refs, 1) != 1) {
        return;
    }
    for (int i = 0; i < ex->nthreads; i++) {
        ct_thread_free(ex->threads[i]);
    }
    ct_queue_free(ex->queue);
    free(ex->threads);
    free(ex->prefix);
    free(ex);
}

// Joins every worker but the calling thread. Call after `shut` was set, so
// that no worker starts any more.
static void
join_workers(ct_executor *ex)
{
    ct__lock_hold(&ex->spawn_lock);
    int n = ex->nthreads;
    (void)ct_lock_release(&ex->spawn_lock);
    for (int i = 0; i < n; i++) {
        int rc = ct_thread_join(ex->threads[i], CT_FOREVER);
        (void)rc; // 0, or CT_EDEADLK for the calling worker itself
    }
}

// ct_shutdown()'s first step (Python's threading._register_atexit hook of
// concurrent.futures): shut every live executor down, then wait for them,
// so that queued work completes before the process ends.
static void
at_shutdown(void)
{
    ct__lock_hold(&reg_lock);
    exiting = true;
    ct_executor *list = reg_head;
    reg_head = NULL;
    for (ct_executor *ex = list; ex != NULL; ex = ex->next) {
        ex->listed = false; // ours now: ct_executor_free leaves the links
        ct__fetch_add_relaxed(&ex->refs, 1);
    }
    (void)ct_lock_release(&reg_lock);
    for (ct_executor *ex = list; ex != NULL; ex = ex->next) {
        (void)ct_executor_shutdown(ex, false, false);
    }
    while (list != NULL) {
        ct_executor *next = list->next;
        join_workers(list);
        release(list);
        list = next;
    }
}

// A child of fork() has none of the parent's workers: it forgets the
// parent's executors (using one there is undefined, as in Python).
static void
before_fork(void)
{
    ct__lock_hold(&reg_lock);
}

static void
after_fork_parent(void)
{
    (void)ct_lock_release(&reg_lock);
}

static void
after_fork_child(void)
{
    // The list is whole (before_fork held its lock). Unmark its executors,
    // so that freeing one in the child leaves the child's list alone.
    for (ct_executor *ex = reg_head; ex != NULL; ex = ex->next) {
        ex->listed = false;
    }
    ct_lock_init(&reg_lock);
    reg_head = NULL;
}

__attribute__((constructor)) static void
executor_layer_init(void)
{
    ct__parking_lot_fork_setup();
    ct__os_at_fork(before_fork, after_fork_parent, after_fork_child);
    ct__thread_set_shutdown_hook(at_shutdown);
}

// --- The API -----------------------------------------------------------------

int
ct_executor_new(ct_executor **ex, const ct_executor_opts *opts)
{
    static const ct_executor_opts defaults = {0, NULL, NULL, NULL};
    if (ex == NULL) {
        return CT_EINVAL;
    }
    *ex = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    const char *prefix = opts->thread_name_prefix;
    if (opts->max_workers < 0 || opts->max_workers > CT_EXECUTOR_MAX_WORKERS ||
        (prefix != NULL &&
         (strlen(prefix) > PREFIX_MAX || !ct__utf8_valid(prefix)))) {
        return CT_EINVAL;
    }
    int max = opts->max_workers;
    if (max == 0) {
        int cpus = ct__os_cpu_count();
        max = cpus + 4 < 32 ? cpus + 4 : 32;
    }
    ct_executor *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return CT_ENOMEM;
    }
    e->max_workers = max;
    e->initializer = opts->initializer;
    e->initarg = opts->initarg;
    e->refs = 1;
    ct_lock_init(&e->spawn_lock);
    e->threads = calloc((size_t)max, sizeof *e->threads);
    if (prefix == NULL || prefix[0] == '\0') {
        char buf[40];
        snprintf(buf, sizeof buf, "ThreadPoolExecutor-%u",
                 ct__fetch_add_relaxed(&prefix_counter, 1));
        e->prefix = strdup(buf);
    } else {
        e->prefix = strdup(prefix);
    }
    int rc = e->threads == NULL || e->prefix == NULL
                 ? CT_ENOMEM
                 : ct_queue_new(&e->queue, CT_QUEUE_FIFO, 0);
    if (rc == 0) {
        ct__lock_hold(&reg_lock);
        if (exiting) {
            rc = CT_ESHUTDOWN;
        } else {
            CT__LIST_PUSH(&reg_head, e);
            e->listed = true;
        }
        (void)ct_lock_release(&reg_lock);
    }
    if (rc != 0) {
        ct_queue_free(e->queue);
        free(e->threads);
        free(e->prefix);
        free(e);
        return rc;
    }
    *ex = e;
    return 0;
}

int
ct_executor_submit(ct_executor *ex, ct_task_fn *fn, void *arg,
                   ct_future **future)
{
    if (future != NULL) {
        *future = NULL;
    }
    if (ex == NULL || fn == NULL || future == NULL) {
        return CT_EINVAL;
    }
    if (ct__load_acquire(&ex->broken)) {
        return CT_EBROKEN;
    }
    ct_future *f = ct__future_alloc(fn, arg);
    if (f == NULL) {
        return CT_ENOMEM;
    }
    if (ct__load_relaxed(&ex->nthreads) < ex->max_workers) {
        f->counted = true;
        int64_t pending = ct__fetch_add_acq_rel(&ex->pending, 1) + 1;
        if (pending > ct__load_acquire(&ex->nthreads)) {
            int rc = spawn(ex, pending);
            if (rc != 0 && ct__load_acquire(&ex->nthreads) == 0) {
                // No worker would ever run it: fail the submit instead.
                ct__fetch_sub_relaxed(&ex->pending, 1);
                ct__future_discard(f);
                return rc;
            }
        }
    }
    int rc = ct_queue_put(ex->queue, f, CT_NOWAIT);
    if (rc != 0) {
        if (f->counted) {
            ct__fetch_sub_relaxed(&ex->pending, 1);
        }
        ct__future_discard(f);
        return ct__load_acquire(&ex->broken) ? CT_EBROKEN : rc;
    }
    // The submitter's side of the handshake (top of the file).
    ct__fence_seq_cst();
    uint64_t w = ct__load_relaxed(&ex->idle);
    if (SLEEPERS(w) > 0 && SEARCHERS(w) == 0) {
        wake(ex, 1);
    }
    *future = f;
    return 0;
}

int
ct_executor_map(ct_executor *ex, ct_task_fn *fn, void *const *args, size_t n,
                void **results, ct_duration timeout)
{
    if (ex == NULL || fn == NULL ||
        (n > 0 && (args == NULL || results == NULL))) {
        return CT_EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    ct__deadline deadline = ct__deadline_after(timeout);
    ct_future **fs = n > SIZE_MAX / sizeof *fs ? NULL : malloc(n * sizeof *fs);
    if (fs == NULL) {
        return CT_ENOMEM;
    }
    // Python submits every call before it waits for the first.
    int rc = 0;
    size_t submitted = 0;
    while (submitted < n && rc == 0) {
        rc = ct_executor_submit(ex, fn, args[submitted], &fs[submitted]);
        submitted += rc == 0;
    }
    size_t i = 0;
    for (; rc == 0 && i < n; i++) {
        rc = ct_future_result(fs[i], &results[i],
                              ct__deadline_remaining(deadline));
        if (rc == CT_EFAILED) {
            (void)ct_future_exception(fs[i], &rc, CT_NOWAIT);
        }
        if (rc != 0) {
            break;
        }
    }
    // After a failure (at index i, or a submit's), cancel what has not
    // started; the futures go, whatever runs on keeps its own reference.
    for (size_t j = 0; j < submitted; j++) {
        if (j >= i) {
            (void)ct_future_cancel(fs[j]);
        }
        (void)ct_future_free(fs[j]);
    }
    free(fs);
    return rc;
}

int
ct_executor_shutdown(ct_executor *ex, bool wait, bool cancel_futures)
{
    if (ex == NULL) {
        return CT_EINVAL;
    }
    // The queue first: a put that still succeeds came before, and its
    // submit's spawn() saw `shut` clear, so a worker exists to run it.
    (void)ct_queue_shutdown(ex->queue, false);
    ct__lock_hold(&ex->spawn_lock);
    ex->shut = true;
    (void)ct_lock_release(&ex->spawn_lock);
    if (cancel_futures) {
        drain(ex, 0);
    }
    // Sleepers wake, drain what is left and exit.
    wake(ex, SIZE_MAX);
    if (!wait) {
        return 0;
    }
    if (self_pool == ex) {
        return CT_EDEADLK;
    }
    join_workers(ex);
    return 0;
}

int
ct_executor_free(ct_executor *ex)
{
    if (ex == NULL) {
        return 0;
    }
    int rc = ct_executor_shutdown(ex, true, false);
    if (rc != 0) {
        return rc; // CT_EDEADLK: one of its own workers
    }
    ct__lock_hold(&reg_lock);
    if (ex->listed) {
        CT__LIST_REMOVE(&reg_head, ex);
        ex->listed = false;
    }
    (void)ct_lock_release(&reg_lock);
    release(ex);
    return 0;
}

int
ct_executor_max_workers(const ct_executor *ex)
{
    return ex == NULL ? 0 : ex->max_workers;
}

int
ct_executor_thread_count(const ct_executor *ex)
{
    return ex == NULL ? 0 : ct__load_acquire(&ex->nthreads);
}
