// `ctlab race`: the lesson's lost update. N threads add 1 to one shared
// counter M times each, three ways: a separate load and store (relaxed C11
// atomics, so the race is real yet free of undefined behaviour and clean
// under TSan), the same under ct_lock, and atomic_fetch_add. Beside them,
// python3's `counter += 1` with and without a Lock.
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cthreading.h>

#include "lab.h"

typedef enum { UNLOCKED, LOCKED, ATOMIC, NMETHODS } method;

static const char *const method_key[NMETHODS] = {"unlocked", "locked",
                                                 "atomic"};
static const char *const method_code[NMETHODS] = {
    "load; store (no lock)",
    "CT_WITH_LOCK { n++ }",
    "atomic_fetch_add",
};

// What the threads of one run share. Each counter has its own cache line,
// so one method's traffic does not slow the next one's start.
typedef struct shared {
    method how;
    long iterations;
    ct_barrier start; // releases all threads at once: no head start
    int threads;
    atomic_int running; // threads past the barrier
    _Alignas(64) atomic_long racy;
    _Alignas(64) ct_lock lock;
    long locked; // guarded by lock
    _Alignas(64) atomic_long atomic;
} shared;

typedef struct worker {
    shared *s;
    int64_t start_ns, end_ns; // read by main after the join
} worker;

static int
work(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    if (ct_barrier_wait(&s->start, CT_FOREVER) < 0) {
        return 1; // main aborted the barrier: a sibling failed to start
    }
    // The barrier wakes its sleepers one by one, tens of microseconds
    // apart: enough for the first thread to finish a short run alone. So
    // each also waits, yielding its CPU, until all are running.
    atomic_fetch_add(&s->running, 1);
    while (atomic_load(&s->running) < s->threads) {
        sched_yield();
    }
    w->start_ns = lab_now_ns();
    long m = s->iterations;
    switch (s->how) {
    case UNLOCKED:
        for (long i = 0; i < m; i++) {
            // Two steps: another thread's store may land between them, and
            // this store then erases it. Relaxed: no order is wanted, only
            // the absence of a C data race.
            long v = atomic_load_explicit(&s->racy, memory_order_relaxed);
            atomic_store_explicit(&s->racy, v + 1, memory_order_relaxed);
        }
        break;
    case LOCKED:
        for (long i = 0; i < m; i++) {
            CT_WITH_LOCK(&s->lock) {
                s->locked++;
            }
        }
        break;
    case ATOMIC:
        for (long i = 0; i < m; i++) {
            atomic_fetch_add_explicit(&s->atomic, 1, memory_order_relaxed);
        }
        break;
    case NMETHODS:
        break;
    }
    w->end_ns = lab_now_ns();
    return 0;
}

typedef struct result {
    long long expected, observed;
    double wall_ns;
} result;

// Runs `threads` threads of method `how`, `iterations` each; fills *r.
// Returns 0, or a ct error code if a thread could not be created.
static int
run_method(lab_ctx *ctx, method how, int threads, long iterations, result *r)
{
    shared *s = calloc(1, sizeof *s);
    worker *w = calloc((size_t)threads, sizeof *w);
    ct_thread **t = calloc((size_t)threads, sizeof *t);
    int rc = s != NULL && w != NULL && t != NULL ? 0 : CT_ENOMEM;
    int started = 0;
    if (rc == 0) {
        s->how = how;
        s->iterations = iterations;
        s->threads = threads;
        rc = ct_barrier_init(&s->start, threads, NULL, NULL, CT_FOREVER);
    }
    for (int i = 0; i < threads && rc == 0; i++) {
        w[i].s = s;
    }
    if (rc == 0) {
        rc = lab_spawn(t, threads, work, w, sizeof *w, &s->start, &started);
    }
    lab_progress_begin(ctx, "race: %s, %d threads x %ld", method_key[how],
                       threads, iterations);
    (void)lab_join(ctx, t, started);
    lab_progress_end(ctx);
    if (rc == 0) {
        int64_t first = w[0].start_ns, last = w[0].end_ns;
        for (int i = 1; i < threads; i++) {
            first = w[i].start_ns < first ? w[i].start_ns : first;
            last = w[i].end_ns > last ? w[i].end_ns : last;
        }
        r->expected = (long long)threads * iterations;
        r->observed = how == UNLOCKED ? atomic_load(&s->racy)
                      : how == LOCKED ? s->locked
                                      : atomic_load(&s->atomic);
        r->wall_ns = (double)(last - first);
        ct_barrier_destroy(&s->start);
    }
    free(t);
    free(w);
    free(s);
    return rc;
}

// The Python half: the lesson's own program, timed, both ways.
static const char python_script[] =
    "import sys, threading, time\n"
    "n, m = int(sys.argv[1]), int(sys.argv[2])\n"
    "counter = 0\n"
    "lock = threading.Lock()\n"
    "def bump():\n"
    "    global counter\n"
    "    for _ in range(m):\n"
    "        counter += 1\n"
    "def bump_locked():\n"
    "    global counter\n"
    "    for _ in range(m):\n"
    "        with lock:\n"
    "            counter += 1\n"
    "def run(fn):\n"
    "    global counter\n"
    "    counter = 0\n"
    "    ts = [threading.Thread(target=fn) for _ in range(n)]\n"
    "    t0 = time.perf_counter()\n"
    "    for t in ts: t.start()\n"
    "    for t in ts: t.join()\n"
    "    return counter, time.perf_counter() - t0\n"
    "a, ta = run(bump)\n"
    "b, tb = run(bump_locked)\n"
    "v = sys.version_info\n"
    "print(v[0], v[1], n * m, a, ta, b, tb)\n";

// Runs the Python version and adds its table and claims.
static void
python_part(lab_ctx *ctx, int threads, long iterations)
{
    long m = (long)fmin((double)iterations, lab_pick(ctx, 5e3, 5e4, 5e5));
    char n_arg[32], m_arg[32];
    snprintf(n_arg, sizeof n_arg, "%d", threads);
    snprintf(m_arg, sizeof m_arg, "%ld", m);
    const char *args[] = {n_arg, m_arg, NULL};
    double v[7];
    char version[16];
    if (!lab_python_column(ctx, "counter += 1", python_script, args, v, 7,
                           version, sizeof version, NULL, 0)) {
        return;
    }
    lab_param_num(ctx, "python_iterations", (double)m);
    long long expected = (long long)v[2];
    long long observed[2] = {(long long)v[3], (long long)v[5]};
    double secs[2] = {v[4], v[6]};
    char title[96];
    snprintf(title, sizeof title, "Python %s, %d threads x %ld:", version,
             threads, m);
    lab_table *t = lab_table_new(ctx, "python", title);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "code", "code", NULL);
    lab_table_col(t, "expected", "expected", "increments");
    lab_table_col(t, "observed", "observed", "increments");
    lab_table_col(t, "lost", "lost", "updates");
    lab_table_col(t, "ns_per_incr", "time", "ns/incr");
    static const char *const code[2] = {"counter += 1", "with lock: ..."};
    for (int i = 0; i < 2; i++) {
        lab_table_row(t);
        lab_cell_str(t, method_key[i]);
        lab_cell_str(t, code[i]);
        lab_cell_int(t, expected);
        lab_cell_int(t, observed[i]);
        lab_cell_int(t, expected - observed[i]);
        lab_cell_num(t, secs[i] * 1e9 / (double)expected, 1);
    }
    lab_table_print(ctx, t);

    char yes[256], no[320];
    long long lost = expected - observed[0];
    snprintf(yes, sizeof yes,
             "Python %s lost %lld of %lld updates without a Lock.", version,
             lost, expected);
    snprintf(no, sizeof no,
             "Python %s lost no update without a Lock this time: since "
             "3.10 CPython switches threads only at calls and backward "
             "jumps, so `counter += 1` is rarely cut in two. The race is "
             "still there, only rare; a Lock rules it out.",
             version);
    lab_claim(ctx, "python: counter += 1 loses updates without a Lock",
              lost > 0, yes, no);
    snprintf(yes, sizeof yes, "Python with a Lock counted all %lld.", expected);
    snprintf(no, sizeof no, "Python with a Lock counted %lld of %lld!",
             observed[1], expected);
    lab_claim(ctx, "python: with a Lock no update is lost",
              observed[1] == expected, yes, no);
}

static const lab_opt opts[] = {
    {"--iterations", "M", 1, 1e9, true,
     "increments per thread and method (default: 160000000\n"
     "                   in all, 40000000 in the tour, 80000 with --quick, "
     "shared\n                   among the threads)"},
    {0},
};

// The default M: a total shared among the threads, so that --quick stays
// quick with --threads 1000 (where a contended lock hands itself from
// sleeper to sleeper, microseconds an increment).
static double
default_iterations(const lab_ctx *ctx)
{
    double total = lab_pick(ctx, 8e4, 4e7, 1.6e8);
    return fmax(floor(total / lab_threads(ctx, 4)), 100);
}

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int threads = lab_threads(ctx, 4);
    long iterations =
        (long)lab_opt_value(ctx, "--iterations", default_iterations(ctx));
    bool calibrated = false;
    if (ctx->seconds > 0 && isnan(lab_opt_value(ctx, "--iterations", NAN))) {
        // Sizes the run from a short locked trial (the slowest method on
        // most machines), so the three methods share the budget.
        result trial;
        long probe = 10000;
        int rc = run_method(ctx, LOCKED, threads, probe, &trial);
        if (rc != 0) {
            return lab_fail(ctx, "cannot start %d threads: %s", threads,
                            ct_strerror(rc));
        }
        double ns = fmax(trial.wall_ns / (double)trial.expected, 0.1);
        double m = ctx->seconds / 3 * 1e9 / (ns * threads);
        iterations = (long)fmin(fmax(m, 1000), 1e9);
        calibrated = true;
    }

    char title[160];
    snprintf(title, sizeof title,
             "race: %d threads each add 1 to one shared counter %ld times",
             threads, iterations);
    lab_experiment_begin(ctx, "race", title);
    lab_param_num(ctx, "threads", threads);
    lab_param_num(ctx, "iterations", (double)iterations);
    lab_param_str(ctx, "sized_by", calibrated ? "seconds" : "iterations");

    result r[NMETHODS];
    for (int i = 0; i < NMETHODS; i++) {
        int rc = run_method(ctx, (method)i, threads, iterations, &r[i]);
        if (rc != 0) {
            return lab_fail(ctx, "cannot start %d threads: %s", threads,
                            ct_strerror(rc));
        }
    }

    lab_table *t = lab_table_new(ctx, "counter", NULL);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "code", "code", NULL);
    lab_table_col(t, "expected", "expected", "increments");
    lab_table_col(t, "observed", "observed", "increments");
    lab_table_col(t, "lost", "lost", "updates");
    lab_table_col(t, "ns_per_incr", "time", "ns/incr");
    lab_table_col(t, "wall_ms", "wall", "ms");
    for (int i = 0; i < NMETHODS; i++) {
        lab_table_row(t);
        lab_cell_str(t, method_key[i]);
        lab_cell_str(t, method_code[i]);
        lab_cell_int(t, r[i].expected);
        lab_cell_int(t, r[i].observed);
        lab_cell_int(t, r[i].expected - r[i].observed);
        lab_cell_num(t, r[i].wall_ns / (double)r[i].expected, 2);
        lab_cell_num(t, r[i].wall_ns / 1e6, 1);
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "time: wall-clock time of the run over all increments "
                  "(threads overlap).");

    char yes[320], no[320];
    long long expected = r[UNLOCKED].expected;
    long long lost = expected - r[UNLOCKED].observed;
    snprintf(yes, sizeof yes,
             "Without a lock the counter lost %lld of %lld updates (%.1f%%): "
             "between a thread's load and its store, other threads' stores "
             "land and are overwritten.",
             lost, expected, 100.0 * (double)lost / (double)expected);
    if (threads == 1) {
        snprintf(no, sizeof no,
                 "With one thread nothing can be lost: run with "
                 "--threads 2 or more to see the race.");
    } else {
        snprintf(no, sizeof no,
                 "This time the unlocked counter lost no update (%d threads "
                 "x %ld): the race needs the threads to overlap. Try more "
                 "--threads or --iterations.",
                 threads, iterations);
    }
    lab_claim(ctx, "counter += 1 without a lock loses updates", lost > 0, yes,
              no);

    bool exact_locked = r[LOCKED].observed == r[LOCKED].expected;
    bool exact_atomic = r[ATOMIC].observed == r[ATOMIC].expected;
    snprintf(yes, sizeof yes, "With ct_lock every update counted: %lld.",
             r[LOCKED].observed);
    snprintf(no, sizeof no,
             "With ct_lock the counter reads %lld, not %lld: "
             "a bug in ct_lock!",
             r[LOCKED].observed, r[LOCKED].expected);
    lab_claim(ctx, "with a lock no update is lost", exact_locked, yes, no);

    double lock_ns = r[LOCKED].wall_ns / (double)expected;
    double atomic_ns = r[ATOMIC].wall_ns / (double)expected;
    bool cheaper = exact_atomic && atomic_ns < lock_ns;
    snprintf(yes, sizeof yes,
             "atomic_fetch_add is exact too, and %.1fx cheaper than the lock "
             "here (%.2f vs %.2f ns/incr): one instruction, no critical "
             "section.",
             lock_ns / atomic_ns, atomic_ns, lock_ns);
    if (!exact_atomic) {
        snprintf(no, sizeof no, "atomic_fetch_add counted %lld, not %lld!",
                 r[ATOMIC].observed, r[ATOMIC].expected);
    } else {
        snprintf(no, sizeof no,
                 "atomic_fetch_add is exact, but was not cheaper than the "
                 "lock this time (%.2f vs %.2f ns/incr).",
                 atomic_ns, lock_ns);
    }
    lab_claim(ctx, "an atomic add is exact and cheaper than a lock", cheaper,
              yes, no);

    python_part(ctx, threads, iterations);
    int rc = lab_experiment_end(ctx);
    if (!exact_locked || !exact_atomic) {
        return lab_fail(ctx, "a synchronized counter lost updates");
    }
    return rc;
}

// `ctlab python`: the lesson's Python alone.
static int
python_only(lab_ctx *ctx)
{
    int threads = lab_threads(ctx, 4);
    lab_experiment_begin(ctx, "race_python",
                         "race: python3's counter += 1, with and without a "
                         "Lock");
    python_part(ctx, threads, (long)default_iterations(ctx));
    return lab_experiment_end(ctx);
}

const lab_cmd lab_cmd_race = {
    .name = "race",
    .summary = "threads incrementing one counter: no lock, ct_lock, atomic",
    .run = run,
    .help =
        "Each of N threads (--threads, default 4) adds 1 to one shared "
        "counter M times\n(--iterations), three ways: a separate load and "
        "store (C11 relaxed atomics:\na real lost-update race, without "
        "undefined behaviour), the same under ct_lock,\nand "
        "atomic_fetch_add. The threads start together at a ct_barrier. The "
        "table\nshows the expected and observed totals, the updates lost and "
        "the time per\nincrement; python3, when installed, runs the lesson's "
        "`counter += 1` with and\nwithout a Lock. --seconds S sizes M from a "
        "short trial so the run takes\nabout S seconds.",
    .opts = opts,
    .in_tour = true,
    .python = python_only,
    .timed = true,
};
