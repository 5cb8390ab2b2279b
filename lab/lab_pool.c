// `ctlab pool`: ct_executor, Python's ThreadPoolExecutor. A pool reuses a
// few threads for many tasks (and costs less per task than a thread per
// task); I/O-bound tasks overlap (speedup tasks / ceil(tasks / workers));
// CPU-bound tasks speed up with the CPUs, since C has no GIL (python3's
// ThreadPoolExecutor beside it does not); map and as_completed give every
// result.
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cthreading.h>

#include "lab.h"

static int
cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > LAB_THREADS_MAX ? LAB_THREADS_MAX : (int)n;
}

// Creates a pool of `workers`. Returns 0 or a ct error.
static int
pool_new(ct_executor **ex, int workers)
{
    ct_executor_opts o = {.max_workers = workers,
                          .thread_name_prefix = "ctlab-pool"};
    return ct_executor_new(ex, &o);
}

// Submits fn(args[i]) for i < n and waits for every result into
// results[i] (may be NULL). Returns 0 or the first error.
static int
pool_run(lab_ctx *ctx, ct_executor *ex, ct_task_fn *fn, void *const *args,
         size_t n, void **results)
{
    ct_future **fs = calloc(n, sizeof *fs);
    if (fs == NULL) {
        return CT_ENOMEM;
    }
    int rc = 0;
    size_t submitted = 0;
    for (; submitted < n && rc == 0; submitted++) {
        rc = ct_executor_submit(ex, fn, args[submitted], &fs[submitted]);
        if (rc != 0) {
            break;
        }
    }
    for (size_t i = 0; i < submitted; i++) {
        void *r = NULL;
        int frc;
        while ((frc = ct_future_result(fs[i], &r, CT_MILLIS(100))) ==
               CT_ETIMEDOUT) {
            lab_progress_tick(ctx);
        }
        rc = rc != 0 ? rc : frc;
        if (results != NULL) {
            results[i] = r;
        }
        (void)ct_future_free(fs[i]);
    }
    free(fs);
    return rc;
}

// --- Experiment 1: reuse
// -------------------------------------------------------

// A tiny task: records which thread ran it.
static int
record_ident(void *arg, void **result)
{
    (void)result;
    *(uint64_t *)arg = ct_get_ident();
    return 0;
}

static int
record_ident_thread(void *arg)
{
    return record_ident(arg, NULL);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long
distinct(uint64_t *ids, size_t n)
{
    qsort(ids, n, sizeof *ids, cmp_u64);
    long d = 0;
    for (size_t i = 0; i < n; i++) {
        d += ids[i] != 0 && (i == 0 || ids[i] != ids[i - 1]);
    }
    return d;
}

static int
reuse(lab_ctx *ctx, long tasks, int workers)
{
    char title[160];
    snprintf(title, sizeof title,
             "pool reuse: %ld tiny tasks in a pool of %d workers vs one "
             "ct_thread per task",
             tasks, workers);
    lab_experiment_begin(ctx, "pool_reuse", title);
    lab_param_num(ctx, "tasks", (double)tasks);
    lab_param_num(ctx, "max_workers", workers);

    uint64_t *ids = calloc((size_t)tasks, sizeof *ids);
    void **args = calloc((size_t)tasks, sizeof *args);
    if (ids == NULL || args == NULL) {
        free(ids);
        free(args);
        return lab_fail(ctx, "out of memory");
    }
    for (long i = 0; i < tasks; i++) {
        args[i] = &ids[i];
    }
    // The pool: created, used and shut down inside the timing.
    lab_progress_begin(ctx, "pool: %ld tasks in a pool", tasks);
    int64_t t0 = lab_now_ns();
    ct_executor *ex;
    int rc = pool_new(&ex, workers);
    int started = 0;
    if (rc == 0) {
        rc = pool_run(ctx, ex, record_ident, args, (size_t)tasks, NULL);
        started = ct_executor_thread_count(ex);
        (void)ct_executor_free(ex);
    }
    double pool_ns = (double)(lab_now_ns() - t0) / (double)tasks;
    lab_progress_end(ctx);
    long pool_distinct = distinct(ids, (size_t)tasks);

    // One thread per task, each started and joined in turn.
    memset(ids, 0, (size_t)tasks * sizeof *ids);
    lab_progress_begin(ctx, "pool: %ld threads", tasks);
    t0 = lab_now_ns();
    for (long i = 0; i < tasks && rc == 0; i++) {
        ct_thread *t;
        int n;
        rc = lab_spawn(&t, 1, record_ident_thread, &ids[i], 0, NULL, &n);
        if (rc == 0) {
            rc = lab_join(NULL, &t, n);
        }
        lab_progress_tick(ctx);
    }
    double thread_ns = (double)(lab_now_ns() - t0) / (double)tasks;
    lab_progress_end(ctx);
    long thread_distinct = distinct(ids, (size_t)tasks);
    free(ids);
    free(args);
    if (rc != 0) {
        return lab_fail(ctx, "the reuse run failed: %s", ct_strerror(rc));
    }

    lab_table *t = lab_table_new(ctx, "reuse", NULL);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "tasks", "tasks", NULL);
    lab_table_col(t, "threads_started", "started", "threads");
    lab_table_col(t, "distinct_threads", "ran tasks", "threads");
    lab_table_col(t, "us_per_task", "time", "us/task");
    lab_table_row(t);
    lab_cell_str(t, "ct_executor");
    lab_cell_int(t, tasks);
    lab_cell_int(t, started);
    lab_cell_int(t, pool_distinct);
    lab_cell_num(t, pool_ns / 1e3, 2);
    lab_table_row(t);
    lab_cell_str(t, "ct_thread per task");
    lab_cell_int(t, tasks);
    lab_cell_int(t, tasks);
    lab_cell_int(t, thread_distinct);
    lab_cell_num(t, thread_ns / 1e3, 2);
    lab_table_print(ctx, t);
    lab_note(ctx, "ran tasks: distinct thread idents (ct_get_ident) seen by "
                  "the tasks; time includes creating and shutting down the "
                  "pool.");
    double ratio = thread_ns / pool_ns;
    lab_param_num(ctx, "ratio", ratio);

    char yes[320], no[320];
    bool reused = pool_distinct >= 1 && pool_distinct <= workers &&
                  started >= 1 && started <= workers;
    snprintf(yes, sizeof yes,
             "The pool ran %ld tasks on %ld thread%s (it started %d, at "
             "most max_workers = %d): threads are reused.",
             tasks, pool_distinct, pool_distinct == 1 ? "" : "s", started,
             workers);
    snprintf(no, sizeof no,
             "The pool ran %ld tasks on %ld threads and started %d, but "
             "max_workers is %d!",
             tasks, pool_distinct, started, workers);
    lab_claim(ctx, "a pool reuses at most max_workers threads", reused, yes,
              no);
    snprintf(yes, sizeof yes,
             "A task in the pool cost %.2f us, a thread per task %.2f us: "
             "the pool is %.1fx cheaper.",
             pool_ns / 1e3, thread_ns / 1e3, ratio);
    snprintf(no, sizeof no,
             "A task in the pool cost %.2f us, a thread per task %.2f us: "
             "the pool was not cheaper this time.",
             pool_ns / 1e3, thread_ns / 1e3);
    lab_claim(ctx, "a pool task costs less than a thread per task", ratio > 1,
              yes, no);
    int end = lab_experiment_end(ctx);
    return reused ? end : lab_fail(ctx, "the pool exceeded max_workers");
}

// --- Experiment 2: I/O-bound tasks overlap ---------------------------------

static int
sleep_task(void *arg, void **result)
{
    (void)result;
    long ms = (long)(intptr_t)arg;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    return 0;
}

static int
io_bound(lab_ctx *ctx, long tasks, long ms, int small)
{
    char title[160];
    snprintf(title, sizeof title,
             "pool I/O-bound: %ld tasks that each sleep %ld ms (a blocking "
             "call), sequential vs pools",
             tasks, ms);
    lab_experiment_begin(ctx, "pool_io", title);
    lab_param_num(ctx, "tasks", (double)tasks);
    lab_param_num(ctx, "sleep_ms", (double)ms);

    void **args = calloc((size_t)tasks, sizeof *args);
    if (args == NULL) {
        return lab_fail(ctx, "out of memory");
    }
    for (long i = 0; i < tasks; i++) {
        args[i] = (void *)(intptr_t)ms;
    }
    lab_progress_begin(ctx, "pool: %ld sleeps in turn", tasks);
    int64_t t0 = lab_now_ns();
    for (long i = 0; i < tasks; i++) {
        (void)sleep_task(args[i], NULL);
        lab_progress_tick(ctx);
    }
    double seq_s = (double)(lab_now_ns() - t0) / 1e9;
    lab_progress_end(ctx);

    int sizes[2] = {(int)tasks, small};
    double secs[2];
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        lab_progress_begin(ctx, "pool: %ld sleeps in %d workers", tasks,
                           sizes[k]);
        t0 = lab_now_ns();
        ct_executor *ex;
        rc = pool_new(&ex, sizes[k]);
        if (rc == 0) {
            rc = pool_run(ctx, ex, sleep_task, args, (size_t)tasks, NULL);
            (void)ct_executor_free(ex);
        }
        secs[k] = (double)(lab_now_ns() - t0) / 1e9;
        lab_progress_end(ctx);
    }
    free(args);
    if (rc != 0) {
        return lab_fail(ctx, "the I/O-bound run failed: %s", ct_strerror(rc));
    }

    lab_table *t = lab_table_new(ctx, "io", NULL);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "workers", "workers", NULL);
    lab_table_col(t, "ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x");
    lab_table_col(t, "ideal", "ideal", "x");
    lab_table_row(t);
    lab_cell_str(t, "sequential");
    lab_cell_int(t, 1);
    lab_cell_num(t, seq_s * 1e3, 1);
    lab_cell_num(t, 1, 2);
    lab_cell_num(t, 1, 2);
    double speedup[2], ideal[2];
    bool held[2];
    for (int k = 0; k < 2; k++) {
        long rounds = (tasks + sizes[k] - 1) / sizes[k];
        ideal[k] = (double)tasks / (double)rounds;
        speedup[k] = seq_s / secs[k];
        // A pool of w cannot beat ceil(tasks / w) sleeps in a row; well
        // below the ideal, the sleeps did not overlap.
        held[k] = speedup[k] >= 0.6 * ideal[k] && speedup[k] <= 1.05 * ideal[k];
        lab_table_row(t);
        lab_cell_str(t, "ct_executor");
        lab_cell_int(t, sizes[k]);
        lab_cell_num(t, secs[k] * 1e3, 1);
        lab_cell_num(t, speedup[k], 2);
        lab_cell_num(t, ideal[k], 2);
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "ideal: tasks / ceil(tasks / workers), the sleeps a pool "
                  "must still make one after another.");
    lab_param_num(ctx, "speedup_all", speedup[0]);
    lab_param_num(ctx, "speedup_small", speedup[1]);
    lab_param_num(ctx, "small_workers", small);

    char yes[320], no[320];
    for (int k = 0; k < 2; k++) {
        snprintf(yes, sizeof yes,
                 "With %d workers the %ld sleeps overlapped: %.2fx faster "
                 "than one after another (ideal %.2fx).",
                 sizes[k], tasks, speedup[k], ideal[k]);
        snprintf(no, sizeof no,
                 "With %d workers the speedup was %.2fx, far from the ideal "
                 "%.2fx.",
                 sizes[k], speedup[k], ideal[k]);
        lab_claim(ctx,
                  k == 0 ? "I/O-bound tasks overlap: one worker each"
                         : "I/O-bound tasks overlap: speedup tasks / "
                           "ceil(tasks / workers)",
                  held[k], yes, no);
    }
    return lab_experiment_end(ctx);
}

// --- Experiment 3: CPU-bound tasks, no GIL
// ------------------------------------

typedef struct cpu_arg {
    uint32_t seed;
    long iterations;
} cpu_arg;

// Pure arithmetic: an LCG the compiler cannot fold, result returned.
static uint32_t
crunch(uint32_t x, long n)
{
    for (long i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
    }
    return x;
}

static int
cpu_task(void *arg, void **result)
{
    const cpu_arg *a = arg;
    *result = (void *)(uintptr_t)crunch(a->seed, a->iterations);
    return 0;
}

static const char python_cpu_script[] =
    "import sys, time\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "tasks, workers, n = map(int, sys.argv[1:4])\n"
    "def work(x):\n"
    "    for _ in range(n):\n"
    "        x = (x * 1103515245 + 12345) & 0xffffffff\n"
    "    return x\n"
    "t0 = time.perf_counter()\n"
    "seq = [work(k) for k in range(tasks)]\n"
    "ts = time.perf_counter() - t0\n"
    "t0 = time.perf_counter()\n"
    "with ThreadPoolExecutor(workers) as ex:\n"
    "    par = list(ex.map(work, range(tasks)))\n"
    "tp = time.perf_counter() - t0\n"
    "gil = int(getattr(sys, '_is_gil_enabled', lambda: True)())\n"
    "v = sys.version_info\n"
    "print(v[0], v[1], ts, tp, int(seq == par), gil)\n";

// python3's ThreadPoolExecutor on the same arithmetic: a table and a claim.
static void
python_cpu(lab_ctx *ctx, long tasks, int workers)
{
    long n = (long)lab_pick(ctx, 5e4, 3e5, 2e6);
    char a0[32], a1[32], a2[32];
    snprintf(a0, sizeof a0, "%ld", tasks);
    snprintf(a1, sizeof a1, "%d", workers);
    snprintf(a2, sizeof a2, "%ld", n);
    const char *args[] = {a0, a1, a2, NULL};
    double v[6];
    char version[16];
    if (!lab_python_column(ctx, "ThreadPoolExecutor", python_cpu_script, args,
                           v, 6, version, sizeof version, NULL, 0)) {
        return;
    }
    lab_param_num(ctx, "python_iterations", (double)n);
    lab_param_num(ctx, "python_gil", v[5]);
    double speedup = v[2] / v[3];
    char title[128];
    snprintf(title, sizeof title,
             "Python %s, %ld tasks x %ld iterations, ThreadPoolExecutor(%d):",
             version, tasks, n, workers);
    lab_table *t = lab_table_new(ctx, "python", title);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x");
    lab_table_row(t);
    lab_cell_str(t, "sequential");
    lab_cell_num(t, v[2] * 1e3, 1);
    lab_cell_num(t, 1, 2);
    lab_table_row(t);
    lab_cell_str(t, "ThreadPoolExecutor");
    lab_cell_num(t, v[3] * 1e3, 1);
    lab_cell_num(t, speedup, 2);
    lab_table_print(ctx, t);

    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "Python %s's threads did not speed up the arithmetic (%.2fx): "
             "only the thread holding the GIL runs Python code.",
             version, speedup);
    snprintf(no, sizeof no,
             "Python %s's threads sped the arithmetic up %.2fx%s.", version,
             speedup,
             v[5] == 0 ? ": this is a free-threaded build, without the GIL"
                       : ", though its GIL was on: the one-thread run "
                         "was slowed (a busy or shared CPU), not "
                         "parallelism");
    lab_claim(ctx, "python: threads do not speed up CPU-bound work",
              speedup < 1.3, yes, no);
}

static int
cpu_bound(lab_ctx *ctx, long tasks, long iterations, int workers)
{
    int cpus = cpu_count();
    char title[160];
    snprintf(title, sizeof title,
             "pool CPU-bound: %ld tasks of %ld arithmetic steps, "
             "sequential vs a pool of %d (%d CPUs)",
             tasks, iterations, workers, cpus);
    lab_experiment_begin(ctx, "pool_cpu", title);
    lab_param_num(ctx, "tasks", (double)tasks);
    lab_param_num(ctx, "iterations", (double)iterations);
    lab_param_num(ctx, "workers", workers);
    lab_param_num(ctx, "cpus", cpus);

    cpu_arg *a = calloc((size_t)tasks, sizeof *a);
    void **args = calloc((size_t)tasks, sizeof *args);
    uintptr_t *seq = calloc((size_t)tasks, sizeof *seq);
    void **par = calloc((size_t)tasks, sizeof *par);
    int rc = a && args && seq && par ? 0 : CT_ENOMEM;
    for (long i = 0; rc == 0 && i < tasks; i++) {
        a[i] = (cpu_arg){(uint32_t)i, iterations};
        args[i] = &a[i];
    }
    double seq_s = 0, pool_s = 0;
    if (rc == 0) {
        lab_progress_begin(ctx, "pool: CPU-bound, sequential");
        int64_t t0 = lab_now_ns();
        for (long i = 0; i < tasks; i++) {
            seq[i] = crunch(a[i].seed, a[i].iterations);
            lab_progress_tick(ctx);
        }
        seq_s = (double)(lab_now_ns() - t0) / 1e9;
        lab_progress_end(ctx);
        lab_progress_begin(ctx, "pool: CPU-bound, %d workers", workers);
        t0 = lab_now_ns();
        ct_executor *ex;
        rc = pool_new(&ex, workers);
        if (rc == 0) {
            rc = pool_run(ctx, ex, cpu_task, args, (size_t)tasks, par);
            (void)ct_executor_free(ex);
        }
        pool_s = (double)(lab_now_ns() - t0) / 1e9;
        lab_progress_end(ctx);
    }
    long wrong = 0;
    for (long i = 0; rc == 0 && i < tasks; i++) {
        wrong += (uintptr_t)par[i] != seq[i];
    }
    free(par);
    free(seq);
    free(args);
    free(a);
    if (rc != 0) {
        return lab_fail(ctx, "the CPU-bound run failed: %s", ct_strerror(rc));
    }

    int expected = workers < cpus ? workers : cpus;
    double speedup = seq_s / pool_s;
    lab_table *t = lab_table_new(ctx, "cpu", NULL);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "workers", "workers", NULL);
    lab_table_col(t, "ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x");
    lab_table_col(t, "ideal", "ideal", "x");
    lab_table_col(t, "wrong", "wrong", "results");
    lab_table_row(t);
    lab_cell_str(t, "sequential");
    lab_cell_int(t, 1);
    lab_cell_num(t, seq_s * 1e3, 1);
    lab_cell_num(t, 1, 2);
    lab_cell_num(t, 1, 2);
    lab_cell_int(t, 0);
    lab_table_row(t);
    lab_cell_str(t, "ct_executor");
    lab_cell_int(t, workers);
    lab_cell_num(t, pool_s * 1e3, 1);
    lab_cell_num(t, speedup, 2);
    lab_cell_num(t, expected, 2);
    lab_cell_int(t, wrong);
    lab_table_print(ctx, t);
    lab_note(ctx, "ideal: min(workers, CPUs); other programs running on the "
                  "machine take CPUs away.");
    lab_param_num(ctx, "speedup", speedup);
    lab_param_num(ctx, "ideal", expected);
    lab_param_num(ctx, "wrong", (double)wrong);

    char yes[320], no[320];
    bool held = expected >= 2 ? speedup >= 0.6 * expected : speedup >= 0.7;
    if (expected >= 2) {
        snprintf(yes, sizeof yes,
                 "The pool of %d ran the arithmetic %.2fx faster than one "
                 "thread (ideal %dx): C threads run in parallel, there is "
                 "no GIL.",
                 workers, speedup, expected);
        snprintf(no, sizeof no,
                 "The pool of %d was only %.2fx faster (ideal %dx): other "
                 "work on this machine likely held the CPUs.",
                 workers, speedup, expected);
    } else {
        snprintf(yes, sizeof yes,
                 "With %s, the pool cannot beat one thread, and was no slower "
                 "(%.2fx).",
                 cpus == 1 ? "one CPU" : "one worker", speedup);
        snprintf(no, sizeof no, "With %s, the pool ran at %.2fx of one thread.",
                 cpus == 1 ? "one CPU" : "one worker", speedup);
    }
    lab_claim(ctx, "CPU-bound C tasks speed up with min(workers, CPUs)", held,
              yes, no);
    snprintf(yes, sizeof yes, "All %ld results equal the sequential ones.",
             tasks);
    snprintf(no, sizeof no, "%ld of %ld results differ from the sequential!",
             wrong, tasks);
    lab_claim(ctx, "the pool's results equal the sequential ones", wrong == 0,
              yes, no);
    python_cpu(ctx, tasks, workers);
    int end = lab_experiment_end(ctx);
    return wrong == 0 ? end : lab_fail(ctx, "the pool computed wrong results");
}

// --- Experiment 4: futures: map and as_completed
// ------------------------------

// The function the futures compute: small (12 bits), so that a result
// packs with its index into 32 bits.
static uintptr_t
square_plus(uintptr_t i)
{
    return (i * i + 1) % 4093;
}

// Returns (f(i), i) packed: i in the low 20 bits (n <= 2^20), so that an
// as_completed consumer knows which task a result belongs to.
static int
square_task(void *arg, void **result)
{
    uintptr_t i = (uintptr_t)arg;
    *result = (void *)(uintptr_t)(square_plus(i) << 20 | i);
    return 0;
}

static int
futures(lab_ctx *ctx, long n, int workers)
{
    char title[160];
    snprintf(title, sizeof title,
             "pool futures: %ld tasks through ct_executor_map and "
             "ct_as_completed",
             n);
    lab_experiment_begin(ctx, "pool_futures", title);
    lab_param_num(ctx, "tasks", (double)n);
    lab_param_num(ctx, "workers", workers);

    void **args = calloc((size_t)n, sizeof *args);
    void **results = calloc((size_t)n, sizeof *results);
    ct_future **fs = calloc((size_t)n, sizeof *fs);
    unsigned char *seen = calloc((size_t)n, 1);
    ct_executor *ex = NULL;
    int rc = args && results && fs && seen ? 0 : CT_ENOMEM;
    if (rc == 0) {
        rc = pool_new(&ex, workers);
    }
    for (long i = 0; rc == 0 && i < n; i++) {
        args[i] = (void *)(uintptr_t)i;
    }
    long map_wrong = 0, ac_wrong = 0, ac_yielded = 0, ac_twice = 0;
    int map_rc = CT_EINVAL, ac_rc = CT_EINVAL;
    if (rc == 0) {
        lab_progress_begin(ctx, "pool: map");
        map_rc = ct_executor_map(ex, square_task, args, (size_t)n, results,
                                 CT_FOREVER);
        lab_progress_end(ctx);
        for (long i = 0; map_rc == 0 && i < n; i++) {
            uintptr_t r = (uintptr_t)results[i];
            map_wrong += r != (square_plus((uintptr_t)i) << 20 | (uintptr_t)i);
        }
        long submitted = 0;
        for (; submitted < n && rc == 0; submitted++) {
            rc = ct_executor_submit(ex, square_task, args[submitted],
                                    &fs[submitted]);
            if (rc != 0) {
                break;
            }
        }
        ct_as_completed *it = NULL;
        if (rc == 0) {
            rc = ct_as_completed_new(&it, fs, (size_t)n, CT_FOREVER);
        }
        if (rc == 0) {
            lab_progress_begin(ctx, "pool: as_completed");
            ct_future *f;
            while ((ac_rc = ct_as_completed_next(it, &f)) == 0) {
                void *r = NULL;
                int frc = ct_future_result(f, &r, CT_NOWAIT);
                uintptr_t v = (uintptr_t)r, i = v & ((1u << 20) - 1);
                ac_yielded++;
                if (frc != 0 || (long)i >= n || v >> 20 != square_plus(i)) {
                    ac_wrong++;
                } else {
                    ac_twice += seen[i]++ > 0;
                }
                lab_progress_tick(ctx);
            }
            lab_progress_end(ctx);
            ct_as_completed_free(it);
        }
        for (long i = 0; i < submitted; i++) {
            (void)ct_future_free(fs[i]);
        }
        (void)ct_executor_free(ex);
    }
    free(seen);
    free(fs);
    free(results);
    free(args);
    if (rc != 0) {
        return lab_fail(ctx, "the futures run failed: %s", ct_strerror(rc));
    }

    lab_table *t = lab_table_new(ctx, "futures", NULL);
    lab_table_col(t, "method", "method", NULL);
    lab_table_col(t, "returned", "returned", NULL);
    lab_table_col(t, "results", "results", NULL);
    lab_table_col(t, "wrong", "wrong", NULL);
    lab_table_col(t, "twice", "twice", NULL);
    lab_table_row(t);
    lab_cell_str(t, "ct_executor_map");
    lab_cell_str(t, ct_err_name(map_rc));
    lab_cell_int(t, map_rc == 0 ? n : 0);
    lab_cell_int(t, map_wrong);
    lab_cell_int(t, 0);
    lab_table_row(t);
    lab_cell_str(t, "ct_as_completed");
    lab_cell_str(t, ct_err_name(ac_rc));
    lab_cell_int(t, ac_yielded);
    lab_cell_int(t, ac_wrong);
    lab_cell_int(t, ac_twice);
    lab_table_print(ctx, t);

    char yes[320], no[320];
    bool map_ok = map_rc == 0 && map_wrong == 0;
    snprintf(yes, sizeof yes,
             "ct_executor_map returned all %ld results, in input order, "
             "each correct.",
             n);
    snprintf(no, sizeof no,
             "ct_executor_map returned %s with %ld wrong results of %ld!",
             ct_err_name(map_rc), map_wrong, n);
    lab_claim(ctx, "map returns every result in order", map_ok, yes, no);
    bool ac_ok =
        ac_rc == CT_EOF && ac_yielded == n && ac_wrong == 0 && ac_twice == 0;
    snprintf(yes, sizeof yes,
             "ct_as_completed yielded each of the %ld futures once, in "
             "completion order, each result correct.",
             n);
    snprintf(no, sizeof no,
             "ct_as_completed yielded %ld futures of %ld (%ld wrong, %ld "
             "twice), then %s!",
             ac_yielded, n, ac_wrong, ac_twice, ct_err_name(ac_rc));
    lab_claim(ctx, "as_completed yields every future once", ac_ok, yes, no);
    lab_param_num(ctx, "map_wrong", (double)map_wrong);
    lab_param_num(ctx, "as_completed_yielded", (double)ac_yielded);
    lab_param_num(ctx, "as_completed_wrong", (double)ac_wrong);
    lab_param_num(ctx, "as_completed_twice", (double)ac_twice);
    int end = lab_experiment_end(ctx);
    return map_ok && ac_ok ? end : lab_fail(ctx, "futures gave wrong results");
}

static const lab_opt opts[] = {
    {"--tasks", "N", 1, 1e6, true,
     "tiny tasks of the reuse experiment (default 10000; tour 1000; "
     "--quick 200)"},
    {"--sleep-ms", "MS", 1, 1000, true,
     "each I/O-bound task's sleep (default 50; --quick 10)"},
    {0},
};

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int cpus = cpu_count();
    int workers = lab_threads(ctx, 4);
    long tasks =
        (long)lab_opt_value(ctx, "--tasks", lab_pick(ctx, 200, 1000, 10000));
    long ms = (long)lab_opt_value(ctx, "--sleep-ms", lab_pick(ctx, 10, 50, 50));
    long io_tasks = (long)lab_pick(ctx, 8, 20, 20);
    int rc = reuse(ctx, tasks, workers);
    int r2 = io_bound(ctx, io_tasks, ms, workers);
    rc = r2 > rc ? r2 : rc;
    int cpu_workers = ctx->threads > 0 ? ctx->threads : cpus;
    long cpu_tasks = 4L * cpu_workers;
    long total = (long)lab_pick(ctx, 2e7, 4e8, 4e9);
    r2 = cpu_bound(ctx, cpu_tasks, total / cpu_tasks, cpu_workers);
    rc = r2 > rc ? r2 : rc;
    r2 = futures(ctx, (long)lab_pick(ctx, 200, 2000, 20000), workers);
    return r2 > rc ? r2 : rc;
}

// `ctlab python`: python3's ThreadPoolExecutor on CPU-bound work alone.
static int
python_only(lab_ctx *ctx)
{
    int workers = ctx->threads > 0 ? ctx->threads : cpu_count();
    lab_experiment_begin(ctx, "pool_python",
                         "pool: python3's ThreadPoolExecutor on CPU-bound "
                         "work");
    python_cpu(ctx, 4L * workers, workers);
    return lab_experiment_end(ctx);
}

const lab_cmd lab_cmd_pool = {
    .name = "pool",
    .summary = "ct_executor: thread reuse, I/O-bound and CPU-bound speedup, "
               "futures",
    .run = run,
    .help = "ct_executor (Python's ThreadPoolExecutor) in four experiments. "
            "Reuse: N tiny\ntasks (--tasks) in a pool of --threads workers "
            "(default 4) run on at most\nthat many threads, and cost less each "
            "than one ct_thread per task. I/O-bound:\n20 tasks that sleep "
            "--sleep-ms each, one after another and in pools of 20 and\n"
            "--threads workers: the speedup is tasks / ceil(tasks / workers). "
            "CPU-bound:\npure C arithmetic, sequential and in a pool of one "
            "worker per CPU (or\n--threads): it speeds up with the CPUs, as C "
            "has no GIL; python3's\nThreadPoolExecutor on the same arithmetic, "
            "when installed, does not. Futures:\nct_executor_map and "
            "ct_as_completed return every result, correct.",
    .opts = opts,
    .in_tour = true,
    .python = python_only,
};
