// `ctlab sync`: what each primitive guarantees, checked and timed, one
// experiment each: Lock (one thread inside, no update lost), RLock (its
// owner re-enters, others wait for the last release), Semaphore (at most N
// inside; a BoundedSemaphore refuses extra releases), Event (set releases
// every waiter), Condition (a bounded buffer keeps producers and consumers
// in step), Barrier (no thread runs ahead a round) and Timer (fires after
// its interval, never once cancelled). Threads are ordered with barriers
// and events, never with sleeps; each claim is computed from the numbers.
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cthreading.h>

#include "lab.h"

// --- Helpers -----------------------------------------------------------------

// The threads of one run: fn(args + i * size) for i in [0, n).
typedef struct crew {
    ct_thread **t;
    int started;
} crew;

// Starts n threads (lab_spawn). On failure aborts `gate` (the barrier they
// meet at first), so those already started return, and returns the ct
// error code; crew_join must follow either way.
static int
crew_start(crew *c, int n, ct_thread_fn *fn, void *args, size_t size,
           ct_barrier *gate)
{
    c->started = 0;
    c->t = calloc((size_t)n, sizeof *c->t);
    if (c->t == NULL) {
        (void)ct_barrier_abort(gate);
        return CT_ENOMEM;
    }
    return lab_spawn(c->t, n, fn, args, size, gate, &c->started);
}

// Joins every started thread, ticking the progress line while it waits.
static void
crew_join(lab_ctx *ctx, crew *c)
{
    (void)lab_join(ctx, c->t, c->started);
    free(c->t);
    c->t = NULL;
    c->started = 0;
}

// Meets the others at `gate`, then waits (yielding its CPU) until all
// `n` are running: a barrier wakes its sleepers one by one, and the first
// one out could otherwise finish a short run alone. Returns false if the
// barrier was aborted.
static bool
start_together(ct_barrier *gate, atomic_int *running, int n)
{
    if (ct_barrier_wait(gate, CT_FOREVER) < 0) {
        return false;
    }
    atomic_fetch_add(running, 1);
    while (atomic_load(running) < n) {
        sched_yield();
    }
    return true;
}

// Raises *max to v if v is larger.
static void
atomic_max(atomic_int *max, int v)
{
    int seen = atomic_load(max);
    while (v > seen && !atomic_compare_exchange_weak(max, &seen, v)) {
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The nearest-rank percentile q (0..1) of v[0..n), sorted in place; NaN
// when n is 0.
static double
percentile(double *v, size_t n, double q)
{
    if (n == 0) {
        return NAN;
    }
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank > 0 ? rank - 1 : 0];
}

// Runs a python3 snippet for the current experiment's Python column
// (lab_python_column, which records why when there is none).
static bool
python_column(lab_ctx *ctx, const char *what, const char *script,
              const char *const *args, double *out, int cap)
{
    char version[16];
    return lab_python_column(ctx, what, script, args, out, cap, version,
                             sizeof version, NULL, 0);
}

// --- Lock --------------------------------------------------------------------

typedef enum { LOCK_CHECK, LOCK_CT, LOCK_PTHREAD } lock_mode;

typedef struct lock_shared {
    lock_mode mode;
    long pairs;
    int threads;
    ct_barrier gate;
    atomic_int running;
    _Alignas(64) ct_lock lock;
    _Alignas(64) pthread_mutex_t mutex;
    _Alignas(64) atomic_int inside; // threads in the critical section
    long counter;                   // guarded by lock (or mutex)
} lock_shared;

typedef struct lock_worker {
    lock_shared *s;
    int64_t start_ns, end_ns;
    int max_inside; // the most threads this one saw inside, itself included
    bool failed;
} lock_worker;

static int
lock_work(void *arg)
{
    lock_worker *w = arg;
    lock_shared *s = w->s;
    if (!start_together(&s->gate, &s->running, s->threads)) {
        return 1;
    }
    w->start_ns = lab_now_ns();
    for (long i = 0; i < s->pairs; i++) {
        switch (s->mode) {
        case LOCK_CHECK:
            if (ct_lock_acquire(&s->lock, CT_FOREVER) != 0) {
                w->failed = true;
                return 1;
            }
            int now = atomic_fetch_add(&s->inside, 1) + 1;
            w->max_inside = now > w->max_inside ? now : w->max_inside;
            s->counter++;
            if ((i & 15) == 0) {
                // Give the CPU away while holding the lock now and then:
                // were the lock broken, another thread would come in now,
                // even on 2 cores where threads rarely overlap otherwise.
                sched_yield();
            }
            atomic_fetch_sub(&s->inside, 1);
            ct_lock_release(&s->lock);
            break;
        case LOCK_CT:
            if (ct_lock_acquire(&s->lock, CT_FOREVER) != 0) {
                w->failed = true;
                return 1;
            }
            s->counter++;
            ct_lock_release(&s->lock);
            break;
        case LOCK_PTHREAD:
            pthread_mutex_lock(&s->mutex);
            s->counter++;
            pthread_mutex_unlock(&s->mutex);
            break;
        }
    }
    w->end_ns = lab_now_ns();
    return 0;
}

typedef struct lock_result {
    long long expected, counter;
    int max_inside;
    double ns_per_pair;
} lock_result;

// Runs `threads` threads of `mode`, `pairs` acquire/release pairs each.
// Returns 0 or a ct error code.
static int
lock_run(lab_ctx *ctx, lock_mode mode, int threads, long pairs, lock_result *r)
{
    lock_shared *s = calloc(1, sizeof *s);
    lock_worker *w = calloc((size_t)threads, sizeof *w);
    if (s == NULL || w == NULL) {
        free(s);
        free(w);
        return CT_ENOMEM;
    }
    s->mode = mode;
    s->pairs = pairs;
    s->threads = threads;
    pthread_mutex_init(&s->mutex, NULL);
    int rc = ct_barrier_init(&s->gate, threads, NULL, NULL, CT_FOREVER);
    for (int i = 0; i < threads; i++) {
        w[i].s = s;
    }
    crew c = {0};
    if (rc == 0) {
        rc = crew_start(&c, threads, lock_work, w, sizeof *w, &s->gate);
    }
    crew_join(ctx, &c);
    if (rc == 0) {
        int64_t first = w[0].start_ns, last = w[0].end_ns;
        r->max_inside = 0;
        for (int i = 0; i < threads; i++) {
            first = w[i].start_ns < first ? w[i].start_ns : first;
            last = w[i].end_ns > last ? w[i].end_ns : last;
            r->max_inside = w[i].max_inside > r->max_inside ? w[i].max_inside
                                                            : r->max_inside;
            rc = w[i].failed ? CT_EINVAL : rc;
        }
        r->expected = (long long)threads * pairs;
        r->counter = s->counter;
        r->ns_per_pair = (double)(last - first) / (double)r->expected;
    }
    ct_barrier_destroy(&s->gate);
    pthread_mutex_destroy(&s->mutex);
    free(w);
    free(s);
    return rc;
}

// Returns whether the lock experiment held its guarantees; *rc gets a ct
// error code when it could not run.
static bool
sync_lock(lab_ctx *ctx, int *rc)
{
    int threads = lab_threads(ctx, 4);
    long pairs = (long)lab_pick(ctx, 2e4, 2e5, 2e6);
    char title[160];
    snprintf(title, sizeof title,
             "Lock: %d threads x %ld acquire/release pairs around a "
             "non-atomic counter",
             threads, pairs);
    lab_experiment_begin(ctx, "sync_lock", title);
    lab_param_num(ctx, "threads", threads);
    lab_param_num(ctx, "pairs", (double)pairs);

    lab_progress_begin(ctx, "sync: lock, %d threads", threads);
    lock_result check, ct1, pt1, ctn, ptn;
    *rc = lock_run(ctx, LOCK_CHECK, threads, pairs, &check);
    *rc = *rc != 0 ? *rc : lock_run(ctx, LOCK_CT, 1, pairs, &ct1);
    *rc = *rc != 0 ? *rc : lock_run(ctx, LOCK_PTHREAD, 1, pairs, &pt1);
    *rc = *rc != 0 ? *rc : lock_run(ctx, LOCK_CT, threads, pairs, &ctn);
    *rc = *rc != 0 ? *rc : lock_run(ctx, LOCK_PTHREAD, threads, pairs, &ptn);
    lab_progress_end(ctx);
    if (*rc != 0) {
        return false;
    }

    lab_table *t = lab_table_new(ctx, "check", NULL);
    lab_table_col(t, "threads", "threads", NULL);
    lab_table_col(t, "expected", "expected", "increments");
    lab_table_col(t, "counter", "counter", "increments");
    lab_table_col(t, "max_inside", "most inside", "threads");
    lab_table_row(t);
    lab_cell_int(t, threads);
    lab_cell_int(t, check.expected);
    lab_cell_int(t, check.counter);
    lab_cell_int(t, check.max_inside);
    lab_table_print(ctx, t);
    lab_param_num(ctx, "max_inside", check.max_inside);

    t = lab_table_new(ctx, "timing", NULL);
    lab_table_col(t, "case", "case", NULL);
    lab_table_col(t, "threads", "threads", NULL);
    lab_table_col(t, "ct_lock_ns", "ct_lock", "ns/pair");
    lab_table_col(t, "pthread_ns", "pthread_mutex", "ns/pair");
    lab_table_col(t, "ratio", "ratio", "pthread/ct");
    const lock_result *ct[2] = {&ct1, &ctn}, *pt[2] = {&pt1, &ptn};
    static const char *const cases[2] = {"uncontended", "contended"};
    for (int i = 0; i < 2; i++) {
        lab_table_row(t);
        lab_cell_str(t, cases[i]);
        lab_cell_int(t, i == 0 ? 1 : threads);
        lab_cell_num(t, ct[i]->ns_per_pair, 1);
        lab_cell_num(t, pt[i]->ns_per_pair, 1);
        lab_cell_num(t, pt[i]->ns_per_pair / ct[i]->ns_per_pair, 2);
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "most inside: the largest value of an atomic counter "
                  "incremented on entry to the critical section and "
                  "decremented on exit. ns/pair: wall-clock time over all "
                  "pairs (threads overlap); ratio > 1: ct_lock is faster.");

    bool one = check.max_inside == 1;
    bool exact = check.counter == check.expected;
    char yes[320], no[320];
    if (threads > 1) {
        snprintf(yes, sizeof yes,
                 "At most one thread was ever inside the critical section "
                 "(%d threads, %lld entries).",
                 threads, check.expected);
    } else {
        snprintf(yes, sizeof yes,
                 "One thread was inside, as it must be with one thread: run "
                 "with --threads 2 or more to put the lock to the test.");
    }
    snprintf(no, sizeof no,
             "%d threads were inside the critical section at once: a bug in "
             "ct_lock!",
             check.max_inside);
    lab_claim(ctx, "a Lock lets one thread at a time in", one, yes, no);
    snprintf(yes, sizeof yes,
             "The counter is exact: %lld increments, none lost.",
             check.counter);
    snprintf(no, sizeof no, "The counter reads %lld, not %lld: a bug!",
             check.counter, check.expected);
    lab_claim(ctx, "with a Lock no update is lost", exact, yes, no);
    double r1 = pt1.ns_per_pair / ct1.ns_per_pair;
    double rn = ptn.ns_per_pair / ctn.ns_per_pair;
    snprintf(yes, sizeof yes,
             "ct_lock was faster than pthread_mutex here: %.2fx uncontended, "
             "%.2fx with %d threads.",
             r1, rn, threads);
    snprintf(no, sizeof no,
             "ct_lock was not faster than pthread_mutex in both cases this "
             "time: %.2fx uncontended, %.2fx with %d threads (ratio > 1 means "
             "faster; a busy machine blurs small differences).",
             r1, rn, threads);
    lab_claim(ctx, "ct_lock is faster than pthread_mutex", r1 >= 1 && rn >= 1,
              yes, no);
    return one && exact;
}

// --- RLock -------------------------------------------------------------------

typedef struct rlock_shared {
    ct_rlock rlock;
    ct_barrier step; // main and the other thread, in lock step
    int depth;
    // Written by the other thread, read by main after the join.
    int refused;         // tries refused while main held some depth
    int tries;           // tries while main held it
    int after_last;      // the try's code after main's last release
    int foreign_release; // the other thread's release while main held it
} rlock_shared;

// The other thread: at each depth main holds (depth .. 1, then 0), tries
// to take the rlock without waiting.
static int
rlock_other(void *arg)
{
    rlock_shared *s = arg;
    for (int level = s->depth; level >= 0; level--) {
        if (ct_barrier_wait(&s->step, CT_FOREVER) < 0) {
            return 1;
        }
        if (level == s->depth) {
            s->foreign_release = ct_rlock_release(&s->rlock);
        }
        int rc = ct_rlock_acquire(&s->rlock, CT_NOWAIT);
        if (level > 0) {
            s->tries++;
            s->refused += rc == CT_ETIMEDOUT;
        } else {
            s->after_last = rc;
        }
        if (rc == 0) {
            ct_rlock_release(&s->rlock);
        }
        if (ct_barrier_wait(&s->step, CT_FOREVER) < 0) {
            return 1;
        }
    }
    return 0;
}

// Times `pairs` acquire/release pairs in one thread: ct_lock, ct_rlock at
// depth 1, ct_rlock nested `depth` deep, a recursive pthread mutex nested
// the same. ns[] gets ns per pair.
static void
rlock_timing(int depth, long pairs, double ns[4])
{
    ct_lock lock = CT_LOCK_INIT;
    ct_rlock rlock = CT_RLOCK_INIT;
    pthread_mutexattr_t attr;
    pthread_mutex_t mutex;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&mutex, &attr);
    long rounds = pairs / depth > 0 ? pairs / depth : 1;
    long done = rounds * depth;

    int64_t t0 = lab_now_ns();
    for (long i = 0; i < done; i++) {
        if (ct_lock_acquire(&lock, CT_FOREVER) == 0) {
            ct_lock_release(&lock);
        }
    }
    int64_t t1 = lab_now_ns();
    for (long i = 0; i < done; i++) {
        if (ct_rlock_acquire(&rlock, CT_FOREVER) == 0) {
            ct_rlock_release(&rlock);
        }
    }
    int64_t t2 = lab_now_ns();
    for (long i = 0; i < rounds; i++) {
        int got = 0;
        for (int d = 0; d < depth; d++) {
            got += ct_rlock_acquire(&rlock, CT_FOREVER) == 0;
        }
        for (int d = 0; d < got; d++) {
            ct_rlock_release(&rlock);
        }
    }
    int64_t t3 = lab_now_ns();
    for (long i = 0; i < rounds; i++) {
        for (int d = 0; d < depth; d++) {
            pthread_mutex_lock(&mutex);
        }
        for (int d = 0; d < depth; d++) {
            pthread_mutex_unlock(&mutex);
        }
    }
    int64_t t4 = lab_now_ns();
    ns[0] = (double)(t1 - t0) / (double)done;
    ns[1] = (double)(t2 - t1) / (double)done;
    ns[2] = (double)(t3 - t2) / (double)done;
    ns[3] = (double)(t4 - t3) / (double)done;
    pthread_mutex_destroy(&mutex);
    pthread_mutexattr_destroy(&attr);
    ct_rlock_destroy(&rlock);
    ct_lock_destroy(&lock);
}

static bool
sync_rlock(lab_ctx *ctx, int *rc)
{
    int depth = (int)lab_opt_value(ctx, "--depth", 5);
    long pairs = (long)lab_pick(ctx, 5e4, 5e5, 5e6);
    char title[160];
    snprintf(title, sizeof title,
             "RLock: one thread takes it %d deep while another tries to "
             "take it",
             depth);
    lab_experiment_begin(ctx, "sync_rlock", title);
    lab_param_num(ctx, "depth", depth);
    lab_param_num(ctx, "pairs", (double)pairs);

    rlock_shared *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *rc = CT_ENOMEM;
        return false;
    }
    s->depth = depth;
    s->after_last = 1;
    ct_rlock_init(&s->rlock);
    *rc = ct_barrier_init(&s->step, 2, NULL, NULL, CT_FOREVER);
    crew c = {0};
    if (*rc == 0) {
        *rc = crew_start(&c, 1, rlock_other, s, sizeof *s, &s->step);
    }
    // Main is the owner: takes it `depth` times, then releases level by
    // level; the other thread tries at each level in between.
    int counts_ok = 0, acquired = 0, released = 0;
    for (int i = 0; *rc == 0 && i < depth; i++) {
        acquired += ct_rlock_acquire(&s->rlock, CT_FOREVER) == 0;
        counts_ok += ct_rlock_count(&s->rlock) == (unsigned)(i + 1);
    }
    for (int level = depth; *rc == 0 && level >= 0; level--) {
        if (ct_barrier_wait(&s->step, CT_FOREVER) < 0 ||
            ct_barrier_wait(&s->step, CT_FOREVER) < 0) {
            *rc = CT_EBROKEN;
            break;
        }
        if (level > 0) {
            released += ct_rlock_release(&s->rlock) == 0;
            counts_ok += ct_rlock_count(&s->rlock) == (unsigned)(level - 1);
        }
    }
    if (*rc != 0) {
        (void)ct_barrier_abort(&s->step);
    }
    crew_join(ctx, &c);
    ct_barrier_destroy(&s->step);
    if (*rc != 0) {
        free(s);
        return false;
    }

    double ns[4];
    lab_progress_begin(ctx, "sync: rlock timing");
    rlock_timing(depth, pairs, ns);
    lab_progress_end(ctx);

    lab_table *t = lab_table_new(ctx, "check", NULL);
    lab_table_col(t, "depth", "depth", NULL);
    lab_table_col(t, "tries_while_held", "tries while held", NULL);
    lab_table_col(t, "refused", "refused", NULL);
    lab_table_col(t, "after_last_release", "try after last release", NULL);
    lab_table_col(t, "foreign_release", "other's release", NULL);
    lab_table_row(t);
    lab_cell_int(t, depth);
    lab_cell_int(t, s->tries);
    lab_cell_int(t, s->refused);
    lab_cell_str(t, s->after_last == 0 ? "ok" : ct_err_name(s->after_last));
    lab_cell_str(t, s->foreign_release == 0 ? "ok"
                                            : ct_err_name(s->foreign_release));
    lab_table_print(ctx, t);

    t = lab_table_new(ctx, "timing", NULL);
    lab_table_col(t, "case", "case", NULL);
    lab_table_col(t, "ns", "time", "ns/pair");
    lab_table_col(t, "vs_lock", "vs ct_lock", "x");
    char nested[64], pnested[64];
    snprintf(nested, sizeof nested, "ct_rlock nested %d deep", depth);
    snprintf(pnested, sizeof pnested, "recursive pthread_mutex %d deep", depth);
    const char *names[4] = {"ct_lock", "ct_rlock depth 1", nested, pnested};
    for (int i = 0; i < 4; i++) {
        lab_table_row(t);
        lab_cell_str(t, names[i]);
        lab_cell_num(t, ns[i], 1);
        lab_cell_num(t, ns[i] / ns[0], 2);
    }
    lab_table_print(ctx, t);
    lab_note(ctx,
             "One thread, %ld pairs each; a nested pair is one "
             "acquire and one release at some depth.",
             pairs);

    bool ok = acquired == depth && released == depth &&
              counts_ok == 2 * depth && s->tries == depth &&
              s->refused == depth && s->after_last == 0 &&
              s->foreign_release == CT_EPERM;
    lab_param_num(ctx, "refused", s->refused);
    lab_param_num(ctx, "tries_while_held", s->tries);
    lab_param_str(ctx, "after_last_release",
                  s->after_last == 0 ? "ok" : ct_err_name(s->after_last));
    lab_param_str(ctx, "foreign_release",
                  s->foreign_release == 0 ? "ok"
                                          : ct_err_name(s->foreign_release));
    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "The owner took it %d deep; the other thread was refused at "
             "every depth (%d of %d tries) and got it right after the last "
             "release; its own release while not owning gave %s.",
             depth, s->refused, s->tries, ct_err_name(s->foreign_release));
    snprintf(no, sizeof no,
             "Something broke: %d of %d nested acquires, %d of %d releases, "
             "%d of %d tries refused, try after the last release: %s, "
             "foreign release: %s.",
             acquired, depth, released, depth, s->refused, s->tries,
             s->after_last == 0 ? "ok" : ct_err_name(s->after_last),
             s->foreign_release == 0 ? "ok" : ct_err_name(s->foreign_release));
    lab_claim(ctx,
              "an RLock is re-entered by its owner and freed by the last "
              "release only",
              ok, yes, no);
    lab_note(ctx, "A nested pair cost %.1f ns, %.2fx a ct_lock pair (%.1f ns).",
             ns[2], ns[2] / ns[0], ns[0]);
    free(s);
    return ok;
}

// --- Semaphore ---------------------------------------------------------------

#define SEM_VALUE 3

typedef struct sem_shared {
    bool guarded; // false: the same work with no semaphore (the control)
    int threads;
    long entries;
    ct_barrier gate;
    atomic_int running;
    ct_semaphore sem;
    _Alignas(64) atomic_int inside;
    atomic_int max_inside;
    int64_t start_ns;
} sem_shared;

typedef struct sem_worker {
    sem_shared *s;
    int64_t end_ns;
    bool failed;
} sem_worker;

static int
sem_work(void *arg)
{
    sem_worker *w = arg;
    sem_shared *s = w->s;
    if (!start_together(&s->gate, &s->running, s->threads)) {
        return 1;
    }
    for (long i = 0; i < s->entries; i++) {
        if (s->guarded && ct_semaphore_acquire(&s->sem, CT_FOREVER) != 0) {
            w->failed = true;
            return 1;
        }
        atomic_max(&s->max_inside, atomic_fetch_add(&s->inside, 1) + 1);
        // The work: give the CPU away while inside, so that others get
        // the chance to come in too (on 2 cores as on 64).
        sched_yield();
        atomic_fetch_sub(&s->inside, 1);
        if (s->guarded) {
            ct_semaphore_release(&s->sem, 1);
        }
    }
    w->end_ns = lab_now_ns();
    return 0;
}

// Runs the semaphore (or control) run; *max_inside gets the most threads
// seen inside, *ns the wall time per entry. Returns 0 or a ct error code.
static int
sem_run(lab_ctx *ctx, bool guarded, int threads, long entries, int *max_inside,
        double *ns)
{
    sem_shared *s = calloc(1, sizeof *s);
    sem_worker *w = calloc((size_t)threads, sizeof *w);
    if (s == NULL || w == NULL) {
        free(s);
        free(w);
        return CT_ENOMEM;
    }
    s->guarded = guarded;
    s->threads = threads;
    s->entries = entries;
    int rc = ct_semaphore_init(&s->sem, SEM_VALUE);
    rc = rc != 0 ? rc
                 : ct_barrier_init(&s->gate, threads, NULL, NULL, CT_FOREVER);
    for (int i = 0; i < threads; i++) {
        w[i].s = s;
    }
    crew c = {0};
    int64_t t0 = lab_now_ns();
    if (rc == 0) {
        rc = crew_start(&c, threads, sem_work, w, sizeof *w, &s->gate);
    }
    crew_join(ctx, &c);
    int64_t last = t0;
    for (int i = 0; rc == 0 && i < threads; i++) {
        last = w[i].end_ns > last ? w[i].end_ns : last;
        rc = w[i].failed ? CT_EINVAL : rc;
    }
    *max_inside = atomic_load(&s->max_inside);
    *ns = (double)(last - t0) / ((double)threads * (double)entries);
    ct_barrier_destroy(&s->gate);
    ct_semaphore_destroy(&s->sem);
    free(w);
    free(s);
    return rc;
}

// The lesson's program in Python: n threads, Semaphore(3).
static const char python_semaphore[] =
    "import sys, threading, time\n"
    "n, m = int(sys.argv[1]), int(sys.argv[2])\n"
    "sem = threading.Semaphore(3)\n"
    "lk = threading.Lock()\n"
    "inside = most = 0\n"
    "def work():\n"
    "    global inside, most\n"
    "    for _ in range(m):\n"
    "        with sem:\n"
    "            with lk:\n"
    "                inside += 1\n"
    "                most = max(most, inside)\n"
    "            time.sleep(0)\n"
    "            with lk:\n"
    "                inside -= 1\n"
    "ts = [threading.Thread(target=work) for _ in range(n)]\n"
    "t0 = time.perf_counter()\n"
    "for t in ts: t.start()\n"
    "for t in ts: t.join()\n"
    "s = time.perf_counter() - t0\n"
    "v = sys.version_info\n"
    "print(v[0], v[1], most, s / (n * m) * 1e9)\n";

static bool
sync_semaphore(lab_ctx *ctx, int *rc)
{
    int threads = lab_threads(ctx, 8);
    long entries = (long)lab_pick(ctx, 300, 3000, 30000);
    char title[160];
    snprintf(title, sizeof title,
             "Semaphore(%d): %d threads enter %ld times each, yielding "
             "the CPU while inside",
             SEM_VALUE, threads, entries);
    lab_experiment_begin(ctx, "sync_semaphore", title);
    lab_param_num(ctx, "value", SEM_VALUE);
    lab_param_num(ctx, "threads", threads);
    lab_param_num(ctx, "entries", (double)entries);

    int max_sem = 0, max_none = 0;
    double ns_sem = NAN, ns_none = NAN;
    lab_progress_begin(ctx, "sync: semaphore, %d threads", threads);
    *rc = sem_run(ctx, true, threads, entries, &max_sem, &ns_sem);
    *rc = *rc != 0 ? *rc
                   : sem_run(ctx, false, threads, entries, &max_none, &ns_none);
    lab_progress_end(ctx);
    if (*rc != 0) {
        return false;
    }

    // A BoundedSemaphore refuses a release past its initial value; a plain
    // one counts on.
    ct_semaphore plain, bounded;
    int extra[2] = {0, 0};
    int64_t after[2];
    ct_semaphore *sems[2] = {&plain, &bounded};
    (void)ct_semaphore_init(&plain, SEM_VALUE);
    (void)ct_bounded_semaphore_init(&bounded, SEM_VALUE);
    for (int i = 0; i < 2; i++) {
        if (ct_semaphore_acquire(sems[i], CT_NOWAIT) == 0) {
            ct_semaphore_release(sems[i], 1);
        }
        extra[i] = ct_semaphore_release(sems[i], 1);
        after[i] = ct_semaphore_value(sems[i]);
        ct_semaphore_destroy(sems[i]);
    }

    // Single-thread cost of a pair, beside a POSIX sem_t.
    long pairs = (long)lab_pick(ctx, 5e4, 5e5, 5e6);
    ct_semaphore one;
    (void)ct_semaphore_init(&one, 1);
    sem_t psem;
    sem_init(&psem, 0, 1);
    int64_t t0 = lab_now_ns();
    for (long i = 0; i < pairs; i++) {
        if (ct_semaphore_acquire(&one, CT_FOREVER) == 0) {
            ct_semaphore_release(&one, 1);
        }
    }
    int64_t t1 = lab_now_ns();
    for (long i = 0; i < pairs; i++) {
        if (sem_wait(&psem) == 0) {
            sem_post(&psem);
        }
    }
    int64_t t2 = lab_now_ns();
    sem_destroy(&psem);
    ct_semaphore_destroy(&one);
    double ct_pair = (double)(t1 - t0) / (double)pairs;
    double posix_pair = (double)(t2 - t1) / (double)pairs;

    double py[4] = {NAN, NAN, NAN, NAN};
    bool have_py = false;
    if (!ctx->no_python) {
        long m = (long)lab_pick(ctx, 20, 200, 2000);
        char n_arg[32], m_arg[32];
        snprintf(n_arg, sizeof n_arg, "%d", threads);
        snprintf(m_arg, sizeof m_arg, "%ld", m);
        const char *args[] = {n_arg, m_arg, NULL};
        have_py =
            python_column(ctx, "semaphore", python_semaphore, args, py, 4);
        lab_param_num(ctx, "python_entries", (double)m);
    } else {
        lab_param_str(ctx, "python", "absent");
    }

    lab_table *t = lab_table_new(ctx, "concurrency", NULL);
    lab_table_col(t, "guard", "guard", NULL);
    lab_table_col(t, "threads", "threads", NULL);
    lab_table_col(t, "limit", "limit", "threads");
    lab_table_col(t, "max_inside", "most inside", "threads");
    lab_table_col(t, "ns_per_entry", "time", "ns/entry");
    char guard[48];
    snprintf(guard, sizeof guard, "ct_semaphore(%d)", SEM_VALUE);
    lab_table_row(t);
    lab_cell_str(t, guard);
    lab_cell_int(t, threads);
    lab_cell_int(t, SEM_VALUE);
    lab_cell_int(t, max_sem);
    lab_cell_num(t, ns_sem, 0);
    lab_table_row(t);
    lab_cell_str(t, "none");
    lab_cell_int(t, threads);
    lab_cell_none(t);
    lab_cell_int(t, max_none);
    lab_cell_num(t, ns_none, 0);
    if (have_py) {
        char pyguard[64];
        snprintf(pyguard, sizeof pyguard, "python %.0f.%.0f Semaphore(%d)",
                 py[0], py[1], SEM_VALUE);
        lab_table_row(t);
        lab_cell_str(t, pyguard);
        lab_cell_int(t, threads);
        lab_cell_int(t, SEM_VALUE);
        lab_cell_int(t, (long long)py[2]);
        lab_cell_num(t, py[3], 0);
    }
    lab_table_print(ctx, t);
    lab_param_num(ctx, "max_inside", max_sem);
    lab_param_num(ctx, "max_inside_unguarded", max_none);

    t = lab_table_new(ctx, "bounded", NULL);
    lab_table_col(t, "kind", "kind", NULL);
    lab_table_col(t, "extra_release", "one release too many", NULL);
    lab_table_col(t, "value_after", "value after", NULL);
    static const char *const kinds[2] = {"Semaphore(3)", "BoundedSemaphore(3)"};
    for (int i = 0; i < 2; i++) {
        lab_table_row(t);
        lab_cell_str(t, kinds[i]);
        lab_cell_str(t, extra[i] == 0 ? "ok" : ct_err_name(extra[i]));
        lab_cell_int(t, after[i]);
    }
    lab_table_print(ctx, t);

    t = lab_table_new(ctx, "timing", NULL);
    lab_table_col(t, "case", "case", NULL);
    lab_table_col(t, "ct_semaphore_ns", "ct_semaphore", "ns/pair");
    lab_table_col(t, "sem_t_ns", "POSIX sem_t", "ns/pair");
    lab_table_col(t, "ratio", "ratio", "sem_t/ct");
    lab_table_row(t);
    lab_cell_str(t, "uncontended acquire+release");
    lab_cell_num(t, ct_pair, 1);
    lab_cell_num(t, posix_pair, 1);
    lab_cell_num(t, posix_pair / ct_pair, 2);
    lab_table_print(ctx, t);

    char yes[400], no[320];
    bool within = max_sem >= 1 && max_sem <= SEM_VALUE;
    if (max_sem == SEM_VALUE) {
        snprintf(yes, sizeof yes,
                 "At most %d threads were ever inside, and %d were: the "
                 "semaphore was the limit (without it, %d of %d were "
                 "inside at once).",
                 SEM_VALUE, max_sem, max_none, threads);
    } else if (threads < SEM_VALUE) {
        snprintf(yes, sizeof yes,
                 "Never more than %d inside: only %d ran, so the limit "
                 "of %d could not be reached (use --threads %d or more).",
                 max_sem, threads, SEM_VALUE, SEM_VALUE + 1);
    } else {
        snprintf(yes, sizeof yes,
                 "At most %d threads were inside, never more than %d; the "
                 "limit itself was not reached this time (without the "
                 "semaphore: %d).",
                 max_sem, SEM_VALUE, max_none);
    }
    snprintf(no, sizeof no,
             "%d threads were inside a Semaphore(%d) at once: a bug in "
             "ct_semaphore!",
             max_sem, SEM_VALUE);
    lab_claim(ctx, "a Semaphore limits concurrency", within, yes, no);
    bool refused = extra[1] == CT_EOVERFLOW && after[1] == SEM_VALUE;
    snprintf(yes, sizeof yes,
             "Releasing a BoundedSemaphore(%d) once too often gave %s and "
             "left its value at %lld; a plain Semaphore counted on to %lld.",
             SEM_VALUE, ct_err_name(extra[1]), (long long)after[1],
             (long long)after[0]);
    snprintf(no, sizeof no,
             "Releasing a BoundedSemaphore(%d) once too often gave %s and "
             "left its value at %lld, not CT_EOVERFLOW and %d!",
             SEM_VALUE, extra[1] == 0 ? "ok" : ct_err_name(extra[1]),
             (long long)after[1], SEM_VALUE);
    lab_claim(ctx, "a BoundedSemaphore refuses a release past its value",
              refused, yes, no);
    if (have_py) {
        bool py_within = py[2] <= SEM_VALUE;
        snprintf(yes, sizeof yes,
                 "Python %.0f.%.0f: at most %.0f threads inside its "
                 "Semaphore(%d).",
                 py[0], py[1], py[2], SEM_VALUE);
        snprintf(no, sizeof no,
                 "Python %.0f.%.0f: %.0f threads inside its Semaphore(%d)!",
                 py[0], py[1], py[2], SEM_VALUE);
        lab_claim(ctx, "python: a Semaphore limits concurrency", py_within, yes,
                  no);
    }
    return within && refused;
}

// --- Event -------------------------------------------------------------------

typedef struct event_shared {
    ct_event event;
    ct_barrier round; // the setter and the waiters, twice per round
    int waiters;
    long rounds;
    atomic_int ready;       // waiters about to wait, this round
    _Atomic int64_t set_ns; // when the setter called set, this round
    double *latency_us;     // rounds x waiters; NaN: arrived after the set
    atomic_long released, timeouts, late;
} event_shared;

typedef struct event_worker {
    event_shared *s;
    int index;
} event_worker;

static int
event_wait_rounds(void *arg)
{
    event_worker *w = arg;
    event_shared *s = w->s;
    for (long r = 0; r < s->rounds; r++) {
        if (ct_barrier_wait(&s->round, CT_FOREVER) < 0) {
            return 1;
        }
        atomic_fetch_add(&s->ready, 1);
        int64_t before = lab_now_ns();
        int rc = ct_event_wait(&s->event, CT_SECONDS(10));
        int64_t woke = lab_now_ns();
        double *slot = &s->latency_us[r * s->waiters + w->index];
        int64_t set_ns = atomic_load(&s->set_ns);
        if (rc != 0) {
            atomic_fetch_add(&s->timeouts, 1);
            *slot = NAN;
        } else if (before > set_ns) {
            atomic_fetch_add(&s->released, 1);
            atomic_fetch_add(&s->late, 1); // not waiting yet: no latency
            *slot = NAN;
        } else {
            atomic_fetch_add(&s->released, 1);
            *slot = (double)(woke - set_ns) / 1e3;
        }
        if (ct_barrier_wait(&s->round, CT_FOREVER) < 0) {
            return 1;
        }
    }
    return 0;
}

static bool
sync_event(lab_ctx *ctx, int *rc)
{
    int waiters = lab_threads(ctx, 4);
    long rounds = (long)lab_pick(ctx, 20, 200, 2000);
    char title[160];
    snprintf(title, sizeof title,
             "Event: one setter, %d waiters, %ld rounds of wait / set / "
             "clear",
             waiters, rounds);
    lab_experiment_begin(ctx, "sync_event", title);
    lab_param_num(ctx, "waiters", waiters);
    lab_param_num(ctx, "rounds", (double)rounds);

    event_shared *s = calloc(1, sizeof *s);
    event_worker *w = calloc((size_t)waiters, sizeof *w);
    double *lat = calloc((size_t)(rounds * waiters), sizeof *lat);
    if (s == NULL || w == NULL || lat == NULL) {
        free(s);
        free(w);
        free(lat);
        *rc = CT_ENOMEM;
        return false;
    }
    s->waiters = waiters;
    s->rounds = rounds;
    s->latency_us = lat;
    ct_event_init(&s->event);
    *rc = ct_barrier_init(&s->round, waiters + 1, NULL, NULL, CT_FOREVER);
    for (int i = 0; i < waiters; i++) {
        w[i].s = s;
        w[i].index = i;
    }
    crew c = {0};
    if (*rc == 0) {
        *rc =
            crew_start(&c, waiters, event_wait_rounds, w, sizeof *w, &s->round);
    }
    lab_progress_begin(ctx, "sync: event, %d waiters", waiters);
    // Main is the setter. It sets once every waiter has said it is about
    // to wait, plus 50 us for them to park (a waiter that was not waiting
    // yet is counted as late, its time left out).
    for (long r = 0; *rc == 0 && r < rounds; r++) {
        if (ct_barrier_wait(&s->round, CT_FOREVER) < 0) {
            *rc = CT_EBROKEN;
            break;
        }
        while (atomic_load(&s->ready) < waiters) {
            sched_yield();
        }
        for (int64_t until = lab_now_ns() + 50000; lab_now_ns() < until;) {
        }
        atomic_store(&s->set_ns, lab_now_ns());
        ct_event_set(&s->event);
        if (ct_barrier_wait(&s->round, CT_FOREVER) < 0) {
            *rc = CT_EBROKEN;
            break;
        }
        atomic_store(&s->ready, 0);
        ct_event_clear(&s->event);
        lab_progress_tick(ctx);
    }
    if (*rc != 0) {
        (void)ct_barrier_abort(&s->round);
    }
    crew_join(ctx, &c);
    lab_progress_end(ctx);
    ct_barrier_destroy(&s->round);
    ct_event_destroy(&s->event);

    long long expected = (long long)rounds * waiters;
    long long released = atomic_load(&s->released);
    long long timeouts = atomic_load(&s->timeouts);
    long long late = atomic_load(&s->late);
    size_t n = 0;
    for (long long i = 0; i < expected; i++) {
        if (!isnan(lat[i])) {
            lat[n++] = lat[i];
        }
    }
    double p50 = percentile(lat, n, 0.5), p99 = percentile(lat, n, 0.99);
    double max = n > 0 ? lat[n - 1] : NAN;
    free(lat);
    free(w);
    free(s);
    if (*rc != 0) {
        return false;
    }

    lab_table *t = lab_table_new(ctx, "wake", NULL);
    lab_table_col(t, "waiters", "waiters", NULL);
    lab_table_col(t, "rounds", "rounds", NULL);
    lab_table_col(t, "expected", "expected", "wakes");
    lab_table_col(t, "released", "released", "wakes");
    lab_table_col(t, "timeouts", "timed out", NULL);
    lab_table_col(t, "late", "late", "waiters");
    lab_table_col(t, "p50_us", "median", "us");
    lab_table_col(t, "p99_us", "p99", "us");
    lab_table_col(t, "max_us", "max", "us");
    lab_table_row(t);
    lab_cell_int(t, waiters);
    lab_cell_int(t, rounds);
    lab_cell_int(t, expected);
    lab_cell_int(t, released);
    lab_cell_int(t, timeouts);
    lab_cell_int(t, late);
    lab_cell_num(t, p50, 1);
    lab_cell_num(t, p99, 1);
    lab_cell_num(t, max, 1);
    lab_table_print(ctx, t);
    lab_note(ctx, "Wake latency: from just before set() to the waiter "
                  "running again. late: waiters that reached wait() after "
                  "the set (released at once; left out of the latency).");
    lab_param_num(ctx, "released", (double)released);
    lab_param_num(ctx, "expected", (double)expected);

    bool all = released == expected && timeouts == 0;
    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "set() released every waiter in every round (%lld of %lld); a "
             "waiter ran again %.1f us after set() (median, p99 %.1f us).",
             released, expected, p50, p99);
    snprintf(no, sizeof no,
             "Only %lld of %lld waits were released (%lld timed out after "
             "10 s): a bug in ct_event!",
             released, expected, timeouts);
    lab_claim(ctx, "Event.set() releases every waiter", all, yes, no);
    return all;
}

// --- Condition: the bounded buffer -------------------------------------------

#define BUF_CAP 10
#define PRODUCERS 3
#define CONSUMERS 2

typedef struct buffer {
    ct_lock lock;
    ct_condition not_full, not_empty; // both bound to lock
    ct_barrier gate;
    // Guarded by lock.
    long items[BUF_CAP];
    int head, count;
    int max_count, min_count; // the extremes seen after each put / get
    long long total, taken;   // items to move, items taken
    long long sum;            // of the items taken
    unsigned char *seen;      // seen[v - 1]: times item v was taken
    long long producer_waits, consumer_waits;
    long per_producer;
    bool failed;
    int64_t start_ns, end_ns;
} buffer;

typedef struct buf_worker {
    buffer *b;
    int index;
} buf_worker;

static int
produce(void *arg)
{
    buf_worker *w = arg;
    buffer *b = w->b;
    if (ct_barrier_wait(&b->gate, CT_FOREVER) < 0) {
        return 1;
    }
    for (long j = 0; j < b->per_producer; j++) {
        long item = (long)w->index * b->per_producer + j + 1; // 1..total
        if (ct_lock_acquire(&b->lock, CT_FOREVER) != 0) {
            return 1;
        }
        while (b->count == BUF_CAP) {
            b->producer_waits++;
            if (ct_condition_wait(&b->not_full, CT_FOREVER) != 0) {
                b->failed = true;
                break;
            }
        }
        b->items[(b->head + b->count) % BUF_CAP] = item;
        b->count++;
        b->max_count = b->count > b->max_count ? b->count : b->max_count;
        (void)ct_condition_notify(&b->not_empty, 1);
        ct_lock_release(&b->lock);
    }
    return 0;
}

static int
consume(void *arg)
{
    buf_worker *w = arg;
    buffer *b = w->b;
    if (ct_barrier_wait(&b->gate, CT_FOREVER) < 0) {
        return 1;
    }
    for (;;) {
        if (ct_lock_acquire(&b->lock, CT_FOREVER) != 0) {
            return 1;
        }
        while (b->count == 0 && b->taken < b->total) {
            b->consumer_waits++;
            if (ct_condition_wait(&b->not_empty, CT_FOREVER) != 0) {
                b->failed = true;
                break;
            }
        }
        if (b->taken == b->total) {
            ct_lock_release(&b->lock);
            return 0;
        }
        long item = b->items[b->head];
        b->head = (b->head + 1) % BUF_CAP;
        b->count--;
        b->min_count = b->count < b->min_count ? b->count : b->min_count;
        b->taken++;
        b->sum += item;
        if (item >= 1 && item <= b->total && b->seen[item - 1] < 255) {
            b->seen[item - 1]++;
        }
        if (b->taken == b->total) {
            b->end_ns = lab_now_ns();
            (void)ct_condition_notify_all(&b->not_empty); // the others stop
        }
        (void)ct_condition_notify(&b->not_full, 1);
        ct_lock_release(&b->lock);
    }
}

// The lesson's program in Python: 3 producers, 2 consumers, buffer 10.
static const char python_buffer[] =
    "import sys, threading, time\n"
    "per = int(sys.argv[1])\n"
    "cap, total = 10, 3 * per\n"
    "buf, taken, total_sum = [], 0, 0\n"
    "lock = threading.Lock()\n"
    "not_full = threading.Condition(lock)\n"
    "not_empty = threading.Condition(lock)\n"
    "def produce(k):\n"
    "    for j in range(per):\n"
    "        with not_full:\n"
    "            while len(buf) == cap: not_full.wait()\n"
    "            buf.append(k * per + j + 1)\n"
    "            not_empty.notify()\n"
    "def consume():\n"
    "    global taken, total_sum\n"
    "    while True:\n"
    "        with not_empty:\n"
    "            while not buf and taken < total: not_empty.wait()\n"
    "            if taken == total: return\n"
    "            total_sum += buf.pop(0)\n"
    "            taken += 1\n"
    "            if taken == total: not_empty.notify_all()\n"
    "            not_full.notify()\n"
    "ts = [threading.Thread(target=produce, args=(k,)) for k in range(3)]\n"
    "ts += [threading.Thread(target=consume) for _ in range(2)]\n"
    "t0 = time.perf_counter()\n"
    "for t in ts: t.start()\n"
    "for t in ts: t.join()\n"
    "s = time.perf_counter() - t0\n"
    "v = sys.version_info\n"
    "print(v[0], v[1], total, taken, total_sum, total / s)\n";

static bool
sync_condition(lab_ctx *ctx, int *rc)
{
    long per = (long)lab_pick(ctx, 2000, 30000, 300000);
    char title[192];
    snprintf(title, sizeof title,
             "Condition: a bounded buffer of %d, %d producers x %ld items, "
             "%d consumers (ct_lock + two ct_conditions)",
             BUF_CAP, PRODUCERS, per, CONSUMERS);
    lab_experiment_begin(ctx, "sync_condition", title);
    lab_param_num(ctx, "capacity", BUF_CAP);
    lab_param_num(ctx, "producers", PRODUCERS);
    lab_param_num(ctx, "consumers", CONSUMERS);
    lab_param_num(ctx, "items_per_producer", (double)per);

    buffer *b = calloc(1, sizeof *b);
    long long total = (long long)PRODUCERS * per;
    unsigned char *seen = calloc((size_t)total, 1);
    if (b == NULL || seen == NULL) {
        free(b);
        free(seen);
        *rc = CT_ENOMEM;
        return false;
    }
    ct_lock_init(&b->lock);
    (void)ct_condition_init(&b->not_full, &b->lock);
    (void)ct_condition_init(&b->not_empty, &b->lock);
    b->total = total;
    b->per_producer = per;
    b->seen = seen;
    b->min_count = 0;
    *rc = ct_barrier_init(&b->gate, PRODUCERS + CONSUMERS + 1, NULL, NULL,
                          CT_FOREVER);
    buf_worker w[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        w[i].b = b;
        w[i].index = i < PRODUCERS ? i : i - PRODUCERS;
    }
    crew prod = {0}, cons = {0};
    lab_progress_begin(ctx, "sync: bounded buffer, %lld items", total);
    if (*rc == 0) {
        *rc = crew_start(&prod, PRODUCERS, produce, w, sizeof w[0], &b->gate);
    }
    if (*rc == 0) {
        *rc = crew_start(&cons, CONSUMERS, consume, w + PRODUCERS, sizeof w[0],
                         &b->gate);
    }
    if (*rc == 0) {
        b->start_ns = lab_now_ns(); // written before main's barrier wait
        if (ct_barrier_wait(&b->gate, CT_FOREVER) < 0) {
            *rc = CT_EBROKEN;
        }
    }
    crew_join(ctx, &prod);
    crew_join(ctx, &cons);
    lab_progress_end(ctx);
    long long dup = 0, missing = 0;
    for (long long i = 0; i < total; i++) {
        dup += seen[i] > 1;
        missing += seen[i] == 0;
    }
    long long want_sum = total * (total + 1) / 2;
    double items_s =
        (double)b->taken / ((double)(b->end_ns - b->start_ns) / 1e9);
    buffer r = *b; // the numbers, after the joins
    ct_barrier_destroy(&b->gate);
    ct_condition_destroy(&b->not_full);
    ct_condition_destroy(&b->not_empty);
    ct_lock_destroy(&b->lock);
    free(seen);
    free(b);
    if (*rc != 0) {
        return false;
    }

    double py[6];
    bool have_py = false;
    long py_per = (long)lab_pick(ctx, 500, 5000, 50000);
    if (!ctx->no_python) {
        char per_arg[32];
        snprintf(per_arg, sizeof per_arg, "%ld", py_per);
        const char *args[] = {per_arg, NULL};
        have_py =
            python_column(ctx, "bounded buffer", python_buffer, args, py, 6);
        lab_param_num(ctx, "python_items_per_producer", (double)py_per);
    } else {
        lab_param_str(ctx, "python", "absent");
    }

    lab_table *t = lab_table_new(ctx, "buffer", NULL);
    lab_table_col(t, "impl", "implementation", NULL);
    lab_table_col(t, "items", "items", NULL);
    lab_table_col(t, "taken", "taken", NULL);
    lab_table_col(t, "duplicates", "twice", "items");
    lab_table_col(t, "missing", "missing", "items");
    lab_table_col(t, "max_count", "fullest", "items");
    lab_table_col(t, "min_count", "emptiest", "items");
    lab_table_col(t, "producer_waits", "producer", "waits");
    lab_table_col(t, "consumer_waits", "consumer", "waits");
    lab_table_col(t, "items_per_s", "rate", "items/s");
    lab_table_row(t);
    lab_cell_str(t, "ct_lock + ct_condition");
    lab_cell_int(t, total);
    lab_cell_int(t, r.taken);
    lab_cell_int(t, dup);
    lab_cell_int(t, missing);
    lab_cell_int(t, r.max_count);
    lab_cell_int(t, r.min_count);
    lab_cell_int(t, r.producer_waits);
    lab_cell_int(t, r.consumer_waits);
    lab_cell_num(t, items_s, 0);
    if (have_py) {
        char impl[64];
        snprintf(impl, sizeof impl, "python %.0f.%.0f Condition", py[0], py[1]);
        lab_table_row(t);
        lab_cell_str(t, impl);
        lab_cell_int(t, (long long)py[2]);
        lab_cell_int(t, (long long)py[3]);
        lab_cell_none(t);
        lab_cell_int(t, (long long)(py[2] - py[3]));
        lab_cell_none(t);
        lab_cell_none(t);
        lab_cell_none(t);
        lab_cell_none(t);
        lab_cell_num(t, py[5], 0);
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "fullest, emptiest: the item count after each put and "
                  "get. waits: times a producer found the buffer full, a "
                  "consumer found it empty.");
    lab_param_num(ctx, "checksum", (double)r.sum);
    lab_param_num(ctx, "checksum_expected", (double)want_sum);
    lab_param_num(ctx, "items_per_s", items_s);

    bool bounds = r.max_count <= BUF_CAP && r.min_count >= 0 && !r.failed;
    bool once =
        r.taken == total && dup == 0 && missing == 0 && r.sum == want_sum;
    char yes[400], no[400];
    snprintf(yes, sizeof yes,
             "The buffer held between %d and %d items, never more than %d: "
             "producers waited %lld times for room, consumers %lld times "
             "for items.",
             r.min_count, r.max_count, BUF_CAP, r.producer_waits,
             r.consumer_waits);
    snprintf(no, sizeof no,
             "The buffer held between %d and %d items (capacity %d)%s: a "
             "bug!",
             r.min_count, r.max_count, BUF_CAP,
             r.failed ? ", and a wait failed" : "");
    lab_claim(ctx,
              "a bounded buffer with a Condition keeps producers and "
              "consumers in step",
              bounds, yes, no);
    snprintf(yes, sizeof yes,
             "Every one of the %lld items was consumed exactly once "
             "(checksum %lld), at %.0f items/s.",
             total, r.sum, items_s);
    snprintf(no, sizeof no,
             "Of %lld items, %lld were taken, %lld twice, %lld never "
             "(checksum %lld, expected %lld): a bug!",
             total, r.taken, dup, missing, r.sum, want_sum);
    lab_claim(ctx, "every item is consumed exactly once", once, yes, no);
    if (have_py) {
        bool py_once = py[3] == py[2] && py[4] == py[2] * (py[2] + 1) / 2;
        snprintf(yes, sizeof yes,
                 "Python %.0f.%.0f consumed each of its %.0f items exactly "
                 "once (checksum %.0f).",
                 py[0], py[1], py[2], py[4]);
        snprintf(no, sizeof no,
                 "Python %.0f.%.0f took %.0f of %.0f items (checksum %.0f)!",
                 py[0], py[1], py[3], py[2], py[4]);
        lab_claim(ctx, "python: every item is consumed exactly once", py_once,
                  yes, no);
        double x = items_s / py[5];
        lab_note(ctx, "ct_condition moved %.0f items/s, Python %.0f: %s %.1fx.",
                 items_s, py[5], x >= 1 ? "C faster by" : "Python faster by",
                 x >= 1 ? x : 1 / x);
    }
    return bounds && once;
}

// --- Barrier -----------------------------------------------------------------

typedef struct barrier_shared {
    bool posix; // pthread_barrier_t instead of ct_barrier
    int threads;
    long rounds;
    ct_barrier gate, barrier;
    pthread_barrier_t pbarrier;
    atomic_int running;
    _Alignas(64) atomic_long finished; // round-work done, all threads
    atomic_long early;                 // a thread past round r saw less
    // The first thread's start and the last one's end, as they saw them:
    // main may not run again until the threads are almost done.
    _Atomic int64_t start_ns, end_ns;
} barrier_shared;

// Lowers (raises, when `up`) *x to v.
static void
atomic_bound(_Atomic int64_t *x, int64_t v, bool up)
{
    int64_t cur = atomic_load(x);
    while ((up ? v > cur : v < cur) &&
           !atomic_compare_exchange_weak(x, &cur, v)) {
    }
}

static int
barrier_rounds(void *arg)
{
    barrier_shared *s = arg;
    if (!start_together(&s->gate, &s->running, s->threads)) {
        return 1;
    }
    atomic_bound(&s->start_ns, lab_now_ns(), false);
    for (long r = 0; r < s->rounds; r++) {
        atomic_fetch_add(&s->finished, 1); // this thread's round r is done
        int rc;
        if (s->posix) {
            rc = pthread_barrier_wait(&s->pbarrier);
            rc = rc == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : rc;
        } else {
            rc = ct_barrier_wait(&s->barrier, CT_FOREVER) < 0;
        }
        if (rc != 0) {
            return 1;
        }
        // Past the barrier of round r: all threads must have finished it.
        if (atomic_load(&s->finished) < (long)s->threads * (r + 1)) {
            atomic_fetch_add(&s->early, 1);
        }
    }
    atomic_bound(&s->end_ns, lab_now_ns(), true);
    return 0;
}

// Runs `rounds` rounds of `threads` threads; fills *ns_round and *early.
static int
barrier_run(lab_ctx *ctx, bool posix, int threads, long rounds,
            double *ns_round, long *early)
{
    barrier_shared *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return CT_ENOMEM;
    }
    s->posix = posix;
    s->threads = threads;
    s->rounds = rounds;
    atomic_init(&s->start_ns, INT64_MAX);
    atomic_init(&s->end_ns, 0);
    int rc = ct_barrier_init(&s->gate, threads, NULL, NULL, CT_FOREVER);
    rc = rc != 0
             ? rc
             : ct_barrier_init(&s->barrier, threads, NULL, NULL, CT_FOREVER);
    if (rc == 0 &&
        pthread_barrier_init(&s->pbarrier, NULL, (unsigned)threads) != 0) {
        rc = CT_ENOMEM;
    }
    crew c = {0};
    if (rc == 0) {
        rc = crew_start(&c, threads, barrier_rounds, s, 0, &s->gate);
    }
    crew_join(ctx, &c);
    if (rc == 0) {
        *ns_round =
            (double)(atomic_load(&s->end_ns) - atomic_load(&s->start_ns)) /
            (double)rounds;
        *early = atomic_load(&s->early);
        if (atomic_load(&s->finished) != (long)threads * rounds) {
            rc = CT_EBROKEN;
        }
        pthread_barrier_destroy(&s->pbarrier);
    }
    ct_barrier_destroy(&s->barrier);
    ct_barrier_destroy(&s->gate);
    free(s);
    return rc;
}

static bool
sync_barrier(lab_ctx *ctx, int *rc)
{
    int threads = lab_threads(ctx, 4);
    long rounds = (long)lab_pick(ctx, 300, 3000, 30000);
    char title[160];
    snprintf(title, sizeof title, "Barrier: %d threads meet %ld times", threads,
             rounds);
    lab_experiment_begin(ctx, "sync_barrier", title);
    lab_param_num(ctx, "threads", threads);
    lab_param_num(ctx, "rounds", (double)rounds);

    double ns_ct = NAN, ns_posix = NAN;
    long early_ct = -1, early_posix = -1;
    lab_progress_begin(ctx, "sync: barrier, %d threads", threads);
    *rc = barrier_run(ctx, false, threads, rounds, &ns_ct, &early_ct);
    *rc = *rc != 0 ? *rc
                   : barrier_run(ctx, true, threads, rounds, &ns_posix,
                                 &early_posix);
    lab_progress_end(ctx);
    if (*rc != 0) {
        return false;
    }

    lab_table *t = lab_table_new(ctx, "rounds", NULL);
    lab_table_col(t, "barrier", "barrier", NULL);
    lab_table_col(t, "threads", "threads", NULL);
    lab_table_col(t, "rounds", "rounds", NULL);
    lab_table_col(t, "early", "ran ahead", "threads");
    lab_table_col(t, "us_per_round", "time", "us/round");
    lab_table_row(t);
    lab_cell_str(t, "ct_barrier");
    lab_cell_int(t, threads);
    lab_cell_int(t, rounds);
    lab_cell_int(t, early_ct);
    lab_cell_num(t, ns_ct / 1e3, 2);
    lab_table_row(t);
    lab_cell_str(t, "pthread_barrier_t");
    lab_cell_int(t, threads);
    lab_cell_int(t, rounds);
    lab_cell_int(t, early_posix);
    lab_cell_num(t, ns_posix / 1e3, 2);
    lab_table_print(ctx, t);
    lab_note(ctx, "ran ahead: times a thread, just past the barrier of round "
                  "r, found fewer than all threads done with round r (a "
                  "shared counter each bumps before waiting).");
    lab_param_num(ctx, "early", (double)early_ct);

    bool ok = early_ct == 0;
    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "No thread started round r+1 before all %d had finished round r, "
             "in %ld rounds; a round took %.2f us (pthread_barrier_t: "
             "%.2f us).",
             threads, rounds, ns_ct / 1e3, ns_posix / 1e3);
    snprintf(no, sizeof no,
             "%ld times a thread went past the barrier before all had "
             "arrived: a bug in ct_barrier!",
             early_ct);
    lab_claim(ctx, "a Barrier lets no thread run a round ahead", ok, yes, no);
    return ok;
}

// --- Timer -------------------------------------------------------------------

#define TIMER_MS 50

typedef struct timer_shot {
    _Atomic int64_t fired_ns; // 0 until the function ran
    atomic_int calls;
    ct_event done;
} timer_shot;

static void
timer_fire(void *arg)
{
    timer_shot *shot = arg;
    atomic_store(&shot->fired_ns, lab_now_ns());
    atomic_fetch_add(&shot->calls, 1);
    ct_event_set(&shot->done);
}

// Starts one timer of TIMER_MS; cancels it at once if `cancel`. Fills
// *late_ms (fired - start - interval), *cancel_rc and *calls once the
// timer's thread has ended. Returns 0 or a ct error code.
static int
timer_once(bool cancel, double *late_ms, int *cancel_rc, int *calls)
{
    timer_shot shot = {0};
    ct_event_init(&shot.done);
    ct_timer *timer;
    int rc = ct_timer_new(&timer, CT_MILLIS(TIMER_MS), timer_fire, &shot);
    if (rc != 0) {
        return rc;
    }
    int64_t t0 = lab_now_ns();
    rc = ct_timer_start(timer);
    if (rc == 0 && cancel) {
        *cancel_rc = ct_timer_cancel(timer);
    }
    if (rc == 0 && !cancel && ct_event_wait(&shot.done, CT_SECONDS(10)) != 0) {
        rc = CT_ETIMEDOUT;
    }
    // Once its thread has ended, the timer can no longer fire.
    if (rc == 0 && ct_timer_join(timer, CT_SECONDS(10)) != 0) {
        rc = CT_ETIMEDOUT;
    }
    if (rc != 0) {
        // A stalled timer must not fire into `shot` after we return: cancel
        // it, and if it is already firing, wait for it to end.
        if (ct_timer_cancel(timer) != 0 &&
            ct_timer_join(timer, CT_FOREVER) != 0) {
            rc = CT_ESTATE; // cannot happen: joining forever returns 0
        }
    }
    ct_timer_free(timer);
    *calls = atomic_load(&shot.calls);
    int64_t fired = atomic_load(&shot.fired_ns);
    *late_ms = fired != 0 ? (double)(fired - t0) / 1e6 - TIMER_MS : NAN;
    ct_event_destroy(&shot.done);
    return rc;
}

static bool
sync_timer(lab_ctx *ctx, int *rc)
{
    int shots = (int)lab_pick(ctx, 2, 4, 10);
    char title[160];
    snprintf(title, sizeof title,
             "Timer: %d timers of %d ms, one after the other, then one "
             "cancelled",
             shots, TIMER_MS);
    lab_experiment_begin(ctx, "sync_timer", title);
    lab_param_num(ctx, "timers", shots);
    lab_param_num(ctx, "interval_ms", TIMER_MS);

    double late[16];
    int calls = 0, fired_total = 0;
    lab_progress_begin(ctx, "sync: timers");
    *rc = 0;
    for (int i = 0; *rc == 0 && i < shots; i++) {
        int unused;
        *rc = timer_once(false, &late[i], &unused, &calls);
        fired_total += calls;
        lab_progress_tick(ctx);
    }
    double cancelled_late;
    int cancel_rc = 1, cancelled_calls = -1;
    if (*rc == 0) {
        *rc = timer_once(true, &cancelled_late, &cancel_rc, &cancelled_calls);
    }
    lab_progress_end(ctx);
    if (*rc != 0) {
        return false;
    }
    double lo = late[0], hi = late[0];
    for (int i = 1; i < shots; i++) {
        lo = late[i] < lo ? late[i] : lo;
        hi = late[i] > hi ? late[i] : hi;
    }
    double sorted[16];
    memcpy(sorted, late, sizeof(double) * (size_t)shots);
    double med = percentile(sorted, (size_t)shots, 0.5);

    lab_table *t = lab_table_new(ctx, "lateness", NULL);
    lab_table_col(t, "timers", "timers", NULL);
    lab_table_col(t, "fired", "fired", NULL);
    lab_table_col(t, "interval_ms", "interval", "ms");
    lab_table_col(t, "min_late_ms", "least late", "ms");
    lab_table_col(t, "median_late_ms", "median late", "ms");
    lab_table_col(t, "max_late_ms", "most late", "ms");
    lab_table_row(t);
    lab_cell_int(t, shots);
    lab_cell_int(t, fired_total);
    lab_cell_int(t, TIMER_MS);
    lab_cell_num(t, lo, 3);
    lab_cell_num(t, med, 3);
    lab_cell_num(t, hi, 3);
    lab_table_print(ctx, t);

    t = lab_table_new(ctx, "cancel", NULL);
    lab_table_col(t, "cancel", "ct_timer_cancel", NULL);
    lab_table_col(t, "fired", "fired after", "times");
    lab_table_row(t);
    lab_cell_str(t, cancel_rc == 0 ? "ok" : ct_err_name(cancel_rc));
    lab_cell_int(t, cancelled_calls);
    lab_table_print(ctx, t);
    lab_note(ctx, "late: time from ct_timer_start() to the function "
                  "running, minus the interval. The cancelled timer is "
                  "checked after its thread has ended, when it can no "
                  "longer fire.");
    lab_param_num(ctx, "fired", fired_total);
    lab_param_num(ctx, "min_late_ms", lo);
    lab_param_num(ctx, "cancelled_fired", cancelled_calls);
    lab_param_str(ctx, "cancel",
                  cancel_rc == 0 ? "ok" : ct_err_name(cancel_rc));

    bool on_time = fired_total == shots && lo >= 0;
    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "Each of %d timers fired once, never early: %.3f to %.3f ms "
             "after its %d ms (median %.3f ms).",
             shots, lo, hi, TIMER_MS, med);
    snprintf(no, sizeof no,
             "%d calls from %d timers, lateness %.3f to %.3f ms: a timer "
             "fired early or not once!",
             fired_total, shots, lo, hi);
    lab_claim(ctx, "a Timer calls its function once, after its interval",
              on_time, yes, no);
    bool never = cancel_rc == 0 && cancelled_calls == 0;
    snprintf(yes, sizeof yes,
             "The timer cancelled right after its start never fired "
             "(cancel: ok; calls: 0).");
    snprintf(no, sizeof no,
             "The cancelled timer: cancel gave %s and it fired %d times!",
             cancel_rc == 0 ? "ok" : ct_err_name(cancel_rc), cancelled_calls);
    lab_claim(ctx, "a cancelled Timer never fires", never, yes, no);
    return on_time && never;
}

// --- The command -------------------------------------------------------------

static const lab_opt opts[] = {
    {"--depth", "K", 1, 1000, true, "RLock nesting depth (default 5)"},
    {0},
};

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static bool (*const experiments[])(lab_ctx *, int *) = {
        sync_lock,      sync_rlock,   sync_semaphore, sync_event,
        sync_condition, sync_barrier, sync_timer,
    };
    static const char *const names[] = {
        "lock", "rlock", "semaphore", "event", "condition", "barrier", "timer",
    };
    int worst = LAB_EXIT_OK;
    for (size_t i = 0; i < sizeof experiments / sizeof experiments[0]; i++) {
        int rc = 0;
        bool ok = experiments[i](ctx, &rc);
        int end = ctx->exp != NULL ? lab_experiment_end(ctx) : LAB_EXIT_OK;
        if (rc != 0) {
            worst = lab_fail(ctx, "%s: could not run: %s", names[i],
                             ct_strerror(rc));
        } else if (!ok) {
            worst = lab_fail(ctx, "%s: a guarantee was broken", names[i]);
        }
        worst = end > worst ? end : worst;
    }
    return worst;
}

// `ctlab python`: python3's Semaphore(3) and Condition bounded buffer
// alone, each an experiment of its own.
static int
python_only(lab_ctx *ctx)
{
    int threads = lab_threads(ctx, 8);
    long m = (long)lab_pick(ctx, 20, 200, 2000);
    long per = (long)lab_pick(ctx, 500, 5000, 50000);
    char n_arg[32], m_arg[32], per_arg[32];
    snprintf(n_arg, sizeof n_arg, "%d", threads);
    snprintf(m_arg, sizeof m_arg, "%ld", m);
    snprintf(per_arg, sizeof per_arg, "%ld", per);
    char yes[200], no[200];

    lab_experiment_begin(ctx, "sync_python_semaphore",
                         "sync: python3's Semaphore(3)");
    const char *sem_args[] = {n_arg, m_arg, NULL};
    double sem[4];
    if (python_column(ctx, "semaphore", python_semaphore, sem_args, sem, 4)) {
        lab_table *t = lab_table_new(ctx, "python", NULL);
        lab_table_col(t, "threads", "threads", NULL);
        lab_table_col(t, "entries", "entries", "per thread");
        lab_table_col(t, "max_inside", "most inside", NULL);
        lab_table_col(t, "ns_per_entry", "time", "ns/entry");
        lab_table_row(t);
        lab_cell_int(t, threads);
        lab_cell_int(t, m);
        lab_cell_int(t, (long long)sem[2]);
        lab_cell_num(t, sem[3], 0);
        lab_table_print(ctx, t);
        snprintf(yes, sizeof yes,
                 "At most %.0f threads were inside "
                 "Python's Semaphore(3) at once.",
                 sem[2]);
        snprintf(no, sizeof no,
                 "%.0f threads were inside Python's "
                 "Semaphore(3) at once!",
                 sem[2]);
        lab_claim(ctx, "python: a Semaphore(3) lets at most 3 in",
                  sem[2] <= SEM_VALUE, yes, no);
    }
    int rc = lab_experiment_end(ctx);

    lab_experiment_begin(ctx, "sync_python_buffer",
                         "sync: python3's bounded buffer on a Condition");
    const char *buf_args[] = {per_arg, NULL};
    double buf[6];
    if (python_column(ctx, "bounded buffer", python_buffer, buf_args, buf, 6)) {
        lab_table *t = lab_table_new(ctx, "python", NULL);
        lab_table_col(t, "items", "items", NULL);
        lab_table_col(t, "taken", "taken", NULL);
        lab_table_col(t, "items_per_s", "rate", "items/s");
        lab_table_row(t);
        lab_cell_int(t, (long long)buf[2]);
        lab_cell_int(t, (long long)buf[3]);
        lab_cell_num(t, buf[5], 0);
        lab_table_print(ctx, t);
        bool once = buf[3] == buf[2] && buf[4] == buf[2] * (buf[2] + 1) / 2;
        snprintf(yes, sizeof yes,
                 "Each of the %.0f items was taken once "
                 "(the checksums agree).",
                 buf[2]);
        snprintf(no, sizeof no,
                 "%.0f of %.0f items taken, or the checksums "
                 "differ!",
                 buf[3], buf[2]);
        lab_claim(ctx, "python: the bounded buffer delivers each item once",
                  once, yes, no);
    }
    int end = lab_experiment_end(ctx);
    return rc > end ? rc : end;
}

const lab_cmd lab_cmd_sync = {
    .name = "sync",
    .summary = "each primitive's guarantee checked and timed: Lock to Timer",
    .run = run,
    .help =
        "Seven experiments, each checking what a primitive guarantees and "
        "timing it:\n"
        "Lock (N threads, --threads, default 4: one inside at a time, the "
        "counter\nexact; ns per pair beside pthread_mutex), RLock (the owner "
        "re-enters --depth\ntimes, another thread is refused until the last "
        "release), Semaphore(3) (8\nthreads: never more than 3 inside; a "
        "BoundedSemaphore refuses an extra\nrelease), Event (one set "
        "releases every waiter; wake latency), Condition (a\nbounded buffer "
        "of 10, 3 producers, 2 consumers: bounds kept, every item once),\n"
        "Barrier (no thread runs a round ahead; us per round beside "
        "pthread_barrier_t)\nand Timer (fires after 50 ms, never early; a "
        "cancelled one never fires).\n--threads sets the threads of Lock, "
        "Semaphore, Event and Barrier. python3,\nwhen installed, runs the "
        "semaphore and bounded-buffer lessons too.\nThe sizes are fixed "
        "(smaller in the tour and with --quick).",
    .opts = opts,
    .in_tour = true,
    .python = python_only,
};
