// `ctlab gil`: the four GIL lessons measured with ct_gil, the library's
// GIL (docs/gil.md), under each of its policies:
//   cpu       CPU-bound work: one thread, two threads under the GIL, two
//             threads with the GIL disabled, two processes;
//   io        I/O-bound tasks overlap under the GIL, alone and beside a
//             CPU-bound thread;
//   release   "C extension" code that releases the GIL around each chunk of
//             work runs in parallel once the chunk outweighs the release;
//   convoy    how long an I/O thread waits for the GIL beside a CPU-bound
//             thread, per policy;
//   interval  the switch interval: hold slices of two CPU-bound threads;
// and, with --svg FILE, a timeline of who held the GIL, who waited and who
// was in a blocking call, under the CPython and I/O-priority policies.
//
// The workloads are the benchmark's (bench/bench_gil.c: a CPU "unit" is
// 100 LCG steps and one yield point, about 100 ns), so `ctlab gil` and
// `make bench` measure the same thing; python3, when installed, runs the
// lesson's Python versions in the same minute.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // bench.h's pthread affinity calls
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cthreading.h>

#include "bench.h"
#include "lab.h"

static const char *const policy_key[3] = {"cpython", "handoff", "io_priority"};
static const char *const policy_name[3] = {"CPython", "hand-off",
                                           "I/O priority"};

// bench_gil.c reports a call it cannot go on from here: the lab cannot
// either.
_Noreturn void
bench_fail(const char *what, int code)
{
    fprintf(stderr, "ctlab gil: %s failed (%d)\n", what, code);
    exit(LAB_EXIT_FAILED);
}

static int
usable_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// The q-quantile of n sorted values (0 when empty).
static double
quantile(const int64_t *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)v[i < n ? i : n - 1];
}

// --- python3
// ------------------------------------------------------------------

// The lesson's Python: a countdown run once, by two threads, by two
// processes, each the best of 3 taken in turns (the first runs of a fresh
// interpreter are slower: timed one shape after the other, the one-thread
// run came out 1.5x slower than two threads); then I/O-bound tasks
// (time.sleep) one after another and in threads. Prints: major minor t_seq
// t_threads t_procs io_seq io_threads.
static const char python_script[] =
    "import sys, time, threading, multiprocessing\n"
    "n = int(sys.argv[1]); k = int(sys.argv[2]); s = float(sys.argv[3])\n"
    "def count(m):\n"
    "    while m > 0:\n"
    "        m -= 1\n"
    "def timed(f):\n"
    "    t0 = time.perf_counter(); f(); return time.perf_counter() - t0\n"
    "def best(*fs):\n"
    "    t = [float('inf')] * len(fs)\n"
    "    for _ in range(3):\n"
    "        for i, f in enumerate(fs):\n"
    "            t[i] = min(t[i], timed(f))\n"
    "    return t\n"
    "def threads(fn, args):\n"
    "    ts = [threading.Thread(target=fn, args=a) for a in args]\n"
    "    for t in ts: t.start()\n"
    "    for t in ts: t.join()\n"
    "def procs():\n"
    "    mp = multiprocessing.get_context('fork')\n"
    "    ps = [mp.Process(target=count, args=(n // 2,)) for _ in range(2)]\n"
    "    for p in ps: p.start()\n"
    "    for p in ps: p.join()\n"
    "    if any(p.exitcode != 0 for p in ps): sys.exit(1)\n"
    "if __name__ == '__main__':\n"
    "    a, b, c = best(lambda: count(n),\n"
    "                   lambda: threads(count, [(n // 2,), (n // 2,)]),\n"
    "                   procs)\n"
    "    d = timed(lambda: [time.sleep(s) for _ in range(k)])\n"
    "    e = timed(lambda: threads(time.sleep, [(s,)] * k))\n"
    "    v = sys.version_info\n"
    "    gil = int(getattr(sys, '_is_gil_enabled', lambda: True)())\n"
    "    print(v[0], v[1], a, b, c, d, e, gil)\n";

typedef struct py_result {
    bool ok;
    char version[16];
    double t_seq, t_threads, t_procs, io_seq, io_threads;
    bool gil; // the GIL was on (not a free-threaded build)
} py_result;

static void
run_python(lab_ctx *ctx, long countdown, int tasks, double sleep_s,
           py_result *py)
{
    memset(py, 0, sizeof *py);
    char a1[32], a2[32], a3[32];
    snprintf(a1, sizeof a1, "%ld", countdown);
    snprintf(a2, sizeof a2, "%d", tasks);
    snprintf(a3, sizeof a3, "%g", sleep_s);
    const char *args[] = {a1, a2, a3, NULL};
    double v[8];
    if (!lab_python_column(ctx, "countdown and sleeps", python_script, args, v,
                           8, py->version, sizeof py->version, NULL, 0)) {
        return;
    }
    py->ok = true;
    py->t_seq = v[2];
    py->t_threads = v[3];
    py->t_procs = v[4];
    py->io_seq = v[5];
    py->io_threads = v[6];
    py->gil = v[7] != 0;
    lab_param_num(ctx, "python_countdown", (double)countdown);
}

// --- cpu: CPU-bound work -----------------------------------------------------

// Runs `units` units in `procs` processes (units / procs each, each with
// its own GIL and one thread); returns the wall time in seconds, or -1.
static double
cpu_processes(uint64_t units, int procs)
{
    fflush(NULL);
    int64_t t0 = lab_now_ns();
    pid_t pid[8];
    int made = 0;
    for (; made < procs && made < 8; made++) {
        pid[made] = fork();
        if (pid[made] < 0) {
            break;
        }
        if (pid[made] == 0) {
            bench_gil_out o;
            bench_gil_cpu(NULL, 1, units / (uint64_t)procs, NULL, &o);
            _exit(0);
        }
    }
    bool ok = made == procs;
    for (int i = 0; i < made; i++) {
        int status = 0;
        pid_t r;
        while ((r = waitpid(pid[i], &status, 0)) < 0 && errno == EINTR) {
        }
        ok = ok && r == pid[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return ok ? (double)(lab_now_ns() - t0) / 1e9 : -1;
}

static int
cpu_part(lab_ctx *ctx, int threads, const py_result *py)
{
    uint64_t units = (uint64_t)lab_pick(ctx, 3e5, 3e6, 2e7);
    char title[160];
    snprintf(title, sizeof title,
             "gil cpu: %llu units of CPU-bound work (about 100 ns each), "
             "1 thread vs %d",
             (unsigned long long)units, threads);
    lab_experiment_begin(ctx, "gil_cpu", title);
    lab_param_num(ctx, "units", (double)units);
    lab_param_num(ctx, "threads", threads);
    lab_param_num(ctx, "cpus", usable_cpus());

    enum { SEQ, GIL, NOGIL, PROCS, NROWS };
    static const char *const key[NROWS] = {"sequential", "threads_gil",
                                           "threads_nogil", "processes"};
    static const char *const how[NROWS] = {
        "one thread", "threads, GIL on (CPython policy)",
        "threads, GIL disabled", "processes, a GIL each"};
    double wall[NROWS];
    bench_gil_out o;
    lab_progress_begin(ctx, "gil cpu: sequential");
    bench_gil_cpu(NULL, 1, units, NULL, &o);
    wall[SEQ] = o.wall_s;
    lab_progress_begin(ctx, "gil cpu: %d threads under the GIL", threads);
    bench_gil_cpu(NULL, threads, units, NULL, &o);
    wall[GIL] = o.wall_s;
    uint64_t switches = o.counts.switches;
    lab_progress_begin(ctx, "gil cpu: %d threads, GIL disabled", threads);
    bench_gil_cfg off = {.disabled = true};
    bench_gil_cpu(&off, threads, units, NULL, &o);
    wall[NOGIL] = o.wall_s;
    lab_progress_begin(ctx, "gil cpu: %d processes", threads);
    wall[PROCS] = cpu_processes(units, threads);
    lab_progress_end(ctx);
    if (wall[PROCS] < 0) {
        return lab_fail(ctx, "the processes failed");
    }

    lab_table *t = lab_table_new(ctx, "cpu", NULL);
    lab_table_col(t, "how", "how", NULL);
    lab_table_col(t, "wall_ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x sequential");
    lab_table_col(t, "python_speedup", "Python", "x sequential");
    double py_speed[NROWS] = {1, NAN, NAN, NAN};
    if (py->ok) {
        py_speed[GIL] = py->t_seq / py->t_threads;
        py_speed[PROCS] = py->t_seq / py->t_procs;
    }
    for (int i = 0; i < NROWS; i++) {
        lab_table_row(t);
        lab_cell_str(t, key[i]);
        lab_cell_num(t, wall[i] * 1e3, 1);
        lab_cell_num(t, wall[SEQ] / wall[i], 2);
        if (py->ok) {
            lab_cell_num(t, py_speed[i], 2);
        } else {
            lab_cell_none(t);
        }
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "rows: %s; %s; %s; %s. %llu switches under the GIL.",
             how[SEQ], how[GIL], how[NOGIL], how[PROCS],
             (unsigned long long)switches);

    char yes[320], no[320];
    double gil = wall[SEQ] / wall[GIL];
    snprintf(yes, sizeof yes,
             "Under the GIL %d threads ran at %.2fx one thread: only one "
             "runs at a time, so CPU-bound threads gain nothing.",
             threads, gil);
    snprintf(no, sizeof no,
             "Under the GIL %d threads ran at %.2fx one thread: faster than "
             "a GIL allows; something let them overlap.",
             threads, gil);
    lab_claim(ctx, "CPU-bound threads under the GIL are no faster than one",
              gil <= 1.15, yes, no);

    int cpus = usable_cpus();
    int par = threads < cpus ? threads : cpus;
    double nogil = wall[SEQ] / wall[NOGIL];
    double procs = wall[SEQ] / wall[PROCS];
    if (par < 2) {
        snprintf(yes, sizeof yes, "-");
        snprintf(no, sizeof no,
                 "Only %d CPU (or thread) here: nothing can run in parallel, "
                 "so no speedup is possible (%.2fx without the GIL).",
                 par, nogil);
        lab_claim(ctx, "without the GIL, threads run in parallel", false, yes,
                  no);
        return lab_experiment_end(ctx);
    }
    snprintf(yes, sizeof yes,
             "Without the GIL the same threads ran at %.2fx, processes at "
             "%.2fx: on %d CPUs the work runs in parallel.",
             nogil, procs, cpus);
    snprintf(no, sizeof no,
             "Without the GIL the threads ran at only %.2fx (processes "
             "%.2fx) on %d CPUs: the machine is busy, or its CPUs are "
             "shared.",
             nogil, procs, cpus);
    lab_claim(ctx, "without the GIL, threads run in parallel",
              nogil >= 0.75 * par, yes, no);
    return lab_experiment_end(ctx);
}

// --- io: I/O-bound tasks -----------------------------------------------------

static int
io_part(lab_ctx *ctx, const py_result *py, int tasks, double sleep_s)
{
    char title[160];
    snprintf(title, sizeof title,
             "gil io: %d tasks each blocking %.0f ms with the GIL released",
             tasks, sleep_s * 1e3);
    lab_experiment_begin(ctx, "gil_io", title);
    lab_param_num(ctx, "tasks", tasks);
    lab_param_num(ctx, "sleep_ms", sleep_s * 1e3);
    int64_t sleep_ns = (int64_t)(sleep_s * 1e9);

    bench_gil_out o;
    lab_progress_begin(ctx, "gil io: sequential");
    bench_gil_io(NULL, tasks, sleep_ns, true, 0, &o);
    double seq = o.wall_s;

    lab_table *t = lab_table_new(ctx, "io", NULL);
    lab_table_col(t, "how", "how", NULL);
    lab_table_col(t, "policy", "policy", NULL);
    lab_table_col(t, "wall_ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x sequential");
    lab_table_col(t, "python_speedup", "Python", "x sequential");
    lab_table_row(t);
    lab_cell_str(t, "sequential");
    lab_cell_str(t, "-");
    lab_cell_num(t, seq * 1e3, 1);
    lab_cell_num(t, 1, 2);
    if (py->ok) {
        lab_cell_num(t, 1, 2);
    } else {
        lab_cell_none(t);
    }
    double threads_speed = 0, beside[3] = {0};
    for (int row = 0; row < 4; row++) {
        // Row 0: the tasks alone; rows 1-3: beside a CPU-bound thread,
        // under each policy.
        int spinners = row == 0 ? 0 : 1;
        int policy = row == 0 ? CT_GIL_POLICY_CPYTHON : row - 1;
        bench_gil_cfg cfg = {.policy = policy};
        lab_progress_begin(ctx, "gil io: threads, %s", policy_name[policy]);
        bench_gil_io(&cfg, tasks, sleep_ns, false, spinners, &o);
        double speed = seq / o.wall_s;
        if (row == 0) {
            threads_speed = speed;
        } else {
            beside[policy] = speed;
        }
        lab_table_row(t);
        lab_cell_str(t, row == 0 ? "threads" : "threads + 1 CPU-bound");
        lab_cell_str(t, policy_key[policy]);
        lab_cell_num(t, o.wall_s * 1e3, 1);
        lab_cell_num(t, speed, 2);
        if (row == 0 && py->ok) {
            lab_cell_num(t, py->io_seq / py->io_threads, 2);
        } else {
            lab_cell_none(t);
        }
    }
    lab_progress_end(ctx);
    lab_table_print(ctx, t);

    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "%d I/O-bound threads finished %.1fx faster than one after "
             "another: a thread blocked with the GIL released lets the "
             "others run.",
             tasks, threads_speed);
    snprintf(no, sizeof no,
             "%d I/O-bound threads were only %.1fx faster than sequential: "
             "the machine did not let them overlap well this time.",
             tasks, threads_speed);
    lab_claim(ctx, "I/O-bound threads overlap under the GIL",
              threads_speed >= 0.5 * tasks, yes, no);
    snprintf(yes, sizeof yes,
             "Beside one CPU-bound thread they slowed to %.1fx under the "
             "CPython policy (each return from I/O waits for the GIL) and "
             "ran at %.1fx with I/O priority.",
             beside[CT_GIL_POLICY_CPYTHON], beside[CT_GIL_POLICY_IO_PRIORITY]);
    snprintf(no, sizeof no,
             "Beside one CPU-bound thread: %.1fx under the CPython policy, "
             "%.1fx with I/O priority: the priority did not help here.",
             beside[CT_GIL_POLICY_CPYTHON], beside[CT_GIL_POLICY_IO_PRIORITY]);
    lab_claim(ctx,
              "a CPU-bound thread slows I/O threads down; I/O priority "
              "helps",
              beside[CT_GIL_POLICY_IO_PRIORITY] > beside[CT_GIL_POLICY_CPYTHON],
              yes, no);
    return lab_experiment_end(ctx);
}

// --- release: a "C extension" that releases the GIL --------------------------

typedef struct release_arg {
    ct_gil *g;
    ct_barrier *start;
    uint64_t units, chunk;
    uint64_t sink;
    int64_t t0, t1; // out: this thread's start and end
} release_arg;

static inline uint64_t
lcg_units(uint64_t x, uint64_t units)
{
    for (uint64_t u = 0; u < units; u++) {
        for (int i = 0; i < 100; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            __asm__ volatile("" : "+r"(x));
        }
    }
    return x;
}

// The thread of an extension call: it holds the GIL (it runs "Python"),
// and does its work in chunks, each with the GIL released, as a C
// extension does around its number crunching.
static int
release_main(void *p)
{
    release_arg *a = p;
    uint64_t x = (uint64_t)(uintptr_t)a;
    if (ct_barrier_wait(a->start, CT_FOREVER) < 0) {
        return 1;
    }
    a->t0 = lab_now_ns();
    if (ct_gil_acquire(a->g) != 0) {
        return 1;
    }
    for (uint64_t done = 0; done < a->units; done += a->chunk) {
        CT_GIL_RELEASE_AROUND(a->g)
        {
            x = lcg_units(x, a->chunk);
        }
    }
    a->sink = x;
    int rc = ct_gil_release(a->g);
    a->t1 = lab_now_ns();
    return rc != 0;
}

// Runs `units` of work split over `threads` threads in chunks of `chunk`;
// returns the wall time in seconds, or -1 when threads could not start.
static double
release_run(int threads, uint64_t units, uint64_t chunk)
{
    enum { MAXT = 8 };
    ct_gil *g;
    if (threads > MAXT || ct_gil_new(&g, NULL) != 0) {
        return -1;
    }
    ct_barrier start;
    (void)ct_barrier_init(&start, threads + 1, NULL, NULL, CT_FOREVER);
    release_arg a[MAXT];
    ct_thread *t[MAXT];
    for (int i = 0; i < threads; i++) {
        a[i] =
            (release_arg){g, &start, units / (uint64_t)threads, chunk, 0, 0, 0};
    }
    int made;
    bool ok =
        lab_spawn(t, threads, release_main, a, sizeof a[0], &start, &made) == 0;
    if (ok && ct_barrier_wait(&start, CT_FOREVER) < 0) {
        ok = false;
    }
    ok = lab_join(NULL, t, made) == 0 && ok;
    // From the first thread's start to the last one's end, as they saw
    // them: this thread may not run again until they are almost done.
    int64_t t0 = 0, t1 = 0;
    for (int i = 0; i < made; i++) {
        t0 = (i == 0 || a[i].t0 < t0) ? a[i].t0 : t0;
        t1 = (i == 0 || a[i].t1 > t1) ? a[i].t1 : t1;
    }
    double wall = (double)(t1 - t0) / 1e9;
    (void)ct_gil_free(g);
    return ok ? wall : -1;
}

static int
release_part(lab_ctx *ctx, int threads)
{
    uint64_t units = (uint64_t)lab_pick(ctx, 2e5, 2e6, 2e7);
    static const uint64_t chunks[] = {1, 10, 100, 1000};
    enum { NCHUNKS = sizeof chunks / sizeof chunks[0] };
    char title[160];
    snprintf(title, sizeof title,
             "gil release: %d threads run C code with the GIL released "
             "around each chunk",
             threads);
    lab_experiment_begin(ctx, "gil_release", title);
    lab_param_num(ctx, "units", (double)units);
    lab_param_num(ctx, "threads", threads);

    lab_table *t = lab_table_new(ctx, "release", NULL);
    lab_table_col(t, "chunk_us", "chunk", "us of work");
    lab_table_col(t, "one_ms", "1 thread", "ms");
    lab_table_col(t, "threads_ms", "threads", "ms");
    lab_table_col(t, "speedup", "speedup", "x 1 thread");
    double best = 0, pays_at = NAN;
    int cpus = usable_cpus();
    int par = threads < cpus ? threads : cpus;
    for (int i = 0; i < NCHUNKS; i++) {
        lab_progress_begin(ctx, "gil release: chunks of %llu units",
                           (unsigned long long)chunks[i]);
        double one = release_run(1, units, chunks[i]);
        double many = release_run(threads, units, chunks[i]);
        if (one < 0 || many < 0) {
            lab_progress_end(ctx);
            return lab_fail(ctx, "cannot start %d threads", threads);
        }
        double speed = one / many;
        best = fmax(best, speed);
        if (isnan(pays_at) && par >= 2 && speed >= 0.75 * par) {
            pays_at = (double)chunks[i] * 0.1;
        }
        lab_table_row(t);
        lab_cell_num(t, (double)chunks[i] * 0.1, 1);
        lab_cell_num(t, one * 1e3, 1);
        lab_cell_num(t, many * 1e3, 1);
        lab_cell_num(t, speed, 2);
    }
    lab_progress_end(ctx);
    lab_table_print(ctx, t);
    lab_param_num(ctx, "pays_at_chunk_us", pays_at);

    char yes[320], no[320];
    if (par < 2) {
        snprintf(no, sizeof no,
                 "Only %d CPU (or thread): releasing the GIL cannot make C "
                 "code parallel here (best %.2fx).",
                 par, best);
        lab_claim(ctx, "C code that releases the GIL runs in parallel", false,
                  "-", no);
        return lab_experiment_end(ctx);
    }
    snprintf(yes, sizeof yes,
             "C code that releases the GIL ran up to %.2fx faster on %d "
             "threads; it pays from chunks of about %.1f us, where the "
             "release and re-acquire stop dominating.",
             best, threads, pays_at);
    snprintf(no, sizeof no,
             "Releasing the GIL gave at most %.2fx on %d threads and %d "
             "CPUs: the machine is busy, or the chunks are too small.",
             best, threads, cpus);
    lab_claim(ctx, "C code that releases the GIL runs in parallel",
              !isnan(pays_at), yes, no);
    return lab_experiment_end(ctx);
}

// --- convoy -----------------------------------------------------------------

static int
convoy_part(lab_ctx *ctx)
{
    int64_t dur = (int64_t)(lab_pick(ctx, 0.1, 0.5, 2) * 1e9);
    lab_experiment_begin(ctx, "gil_convoy",
                         "gil convoy: an I/O thread answers a 1 ms tick "
                         "beside a CPU-bound thread (5 ms interval)");
    lab_param_num(ctx, "seconds_per_policy", (double)dur / 1e9);
    bench_gil_out o;
    lab_progress_begin(ctx, "gil convoy: the CPU-bound thread alone");
    bench_gil_convoy(NULL, false, 1, dur, 1000000, NULL, &o);
    free(o.lat_ns);
    double solo = o.units_per_s;

    lab_table *t = lab_table_new(ctx, "convoy", NULL);
    lab_table_col(t, "policy", "policy", NULL);
    lab_table_col(t, "n", "answers", NULL);
    lab_table_col(t, "median_us", "median", "us");
    lab_table_col(t, "p99_us", "p99", "us");
    lab_table_col(t, "cpu_work_pct", "CPU-bound work", "% of alone");
    double med[3] = {0};
    for (int p = 0; p < 3; p++) {
        bench_gil_cfg cfg = {.policy = p};
        lab_progress_begin(ctx, "gil convoy: %s", policy_name[p]);
        bench_gil_convoy(&cfg, true, 1, dur, 1000000, NULL, &o);
        qsort(o.lat_ns, o.nlat, sizeof *o.lat_ns, cmp_i64);
        med[p] = quantile(o.lat_ns, o.nlat, 0.5) / 1e3;
        lab_table_row(t);
        lab_cell_str(t, policy_key[p]);
        lab_cell_int(t, (long long)o.nlat);
        lab_cell_num(t, med[p], 0);
        lab_cell_num(t, quantile(o.lat_ns, o.nlat, 0.99) / 1e3, 0);
        lab_cell_num(t, solo > 0 ? o.units_per_s / solo * 100 : NAN, 1);
        free(o.lat_ns);
    }
    lab_progress_end(ctx);
    lab_table_print(ctx, t);
    lab_note(ctx, "answer: from the tick written to the I/O thread holding "
                  "the GIL again after its read.");

    char yes[320], no[320];
    double interval_us = 5000;
    snprintf(yes, sizeof yes,
             "Under the CPython policy the I/O thread waited %.0f us at the "
             "median: about one interval, since it may only ask for the "
             "GIL after a full interval (the convoy effect).",
             med[CT_GIL_POLICY_CPYTHON]);
    snprintf(no, sizeof no,
             "Under the CPython policy the I/O thread waited %.0f us at the "
             "median, far from one interval (5000 us).",
             med[CT_GIL_POLICY_CPYTHON]);
    lab_claim(ctx, "an I/O thread beside a CPU-bound one waits an interval",
              med[CT_GIL_POLICY_CPYTHON] >= 0.5 * interval_us, yes, no);
    snprintf(yes, sizeof yes,
             "With I/O priority it waited %.0f us: a thread back from a "
             "blocking call asks at once, and the holder drops the GIL at "
             "its next yield point.",
             med[CT_GIL_POLICY_IO_PRIORITY]);
    snprintf(no, sizeof no,
             "With I/O priority it still waited %.0f us at the median.",
             med[CT_GIL_POLICY_IO_PRIORITY]);
    lab_claim(ctx, "the I/O-priority policy removes the convoy effect",
              med[CT_GIL_POLICY_IO_PRIORITY] <= 0.1 * interval_us, yes, no);
    return lab_experiment_end(ctx);
}

// --- interval: the switch interval -------------------------------------------

static int
interval_part(lab_ctx *ctx)
{
    static const double ms[] = {1, 5, 20};
    int n = ctx->quick ? 2 : 3;
    int64_t dur = (int64_t)(lab_pick(ctx, 0.1, 0.3, 1) * 1e9);
    lab_experiment_begin(ctx, "gil_interval",
                         "gil interval: two CPU-bound threads take turns; "
                         "how long each holds the GIL");
    lab_param_num(ctx, "seconds_per_interval", (double)dur / 1e9);
    lab_table *t = lab_table_new(ctx, "interval", NULL);
    lab_table_col(t, "interval_ms", "interval", "ms");
    lab_table_col(t, "median_ms", "median hold", "ms");
    lab_table_col(t, "p10_ms", "p10", "ms");
    lab_table_col(t, "p90_ms", "p90", "ms");
    lab_table_col(t, "switches_s", "switches", "/s");
    bool near = true;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        bench_gil_out o;
        lab_progress_begin(ctx, "gil interval: %.0f ms", ms[i]);
        bench_gil_slices((int64_t)(ms[i] * 1e6), 2, dur, NULL, &o);
        double med = o.slice_med_ns / 1e6;
        double off = fabs(med - ms[i]) / ms[i];
        worst = fmax(worst, off);
        near = near && off <= 0.25;
        lab_table_row(t);
        lab_cell_num(t, ms[i], 0);
        lab_cell_num(t, med, 2);
        lab_cell_num(t, o.slice_p10_ns / 1e6, 2);
        lab_cell_num(t, o.slice_p90_ns / 1e6, 2);
        lab_cell_num(t, o.handovers_s, 0);
    }
    lab_progress_end(ctx);
    lab_table_print(ctx, t);
    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "Each thread held the GIL for about the interval (at most "
             "%.0f%% off at the median): the interval sets how often CPU-"
             "bound threads switch.",
             worst * 100);
    snprintf(no, sizeof no,
             "Holds were up to %.0f%% off the interval at the median: the "
             "threads also wait for CPUs (a busy or small machine).",
             worst * 100);
    lab_claim(ctx, "a CPU-bound thread holds the GIL for one interval", near,
              yes, no);
    return lab_experiment_end(ctx);
}

// --- The timeline (--svg) ----------------------------------------------------

// Lane 0 is a CPU-bound thread, lane TL_IOLANE the I/O thread: the
// convoy in its simplest form.
enum { TL_CPU = 1, TL_IOLANE = TL_CPU, TL_THREADS = TL_CPU + 1 };
enum { TL_SPANS = 4096, TL_IO = 1024 };

typedef struct timeline {
    ct_gil *g;
    int policy;
    ct_barrier start;
    atomic_bool stop;
    uint64_t ident[TL_THREADS];            // lane i's thread (ct_get_ident)
    int64_t io_out[TL_IO], io_back[TL_IO]; // the I/O thread's blocking calls
    int nio;
    int64_t t0, t1;
    ct_gil_span spans[TL_SPANS];
    size_t nspans;
} timeline;

typedef struct tl_arg {
    timeline *tl;
    int lane;
} tl_arg;

// A CPU lane, holding the GIL: computes until told to stop.
static int
tl_cpu(tl_arg *a)
{
    timeline *tl = a->tl;
    uint64_t x = (uint64_t)(uintptr_t)a;
    while (!atomic_load_explicit(&tl->stop, memory_order_relaxed)) {
        x = lcg_units(x, 1);
        if (ct_gil_yield_point(tl->g) < 0) {
            return 1;
        }
    }
    return ct_gil_release(tl->g) != 0 || x == 42;
}

// An I/O lane, holding the GIL: blocking calls with the GIL released.
static int
tl_io(tl_arg *a)
{
    timeline *tl = a->tl;
    while (!atomic_load_explicit(&tl->stop, memory_order_relaxed) &&
           tl->nio < TL_IO) {
        int k = tl->nio;
        tl->io_out[k] = lab_now_ns();
        CT_GIL_RELEASE_AROUND(tl->g)
        {
            struct timespec ts = {0, 2000000}; // a 2 ms blocking call
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
            tl->io_back[k] = lab_now_ns();
        }
        tl->nio = k + 1;
        (void)lcg_units(1, 20); // handles the answer with the GIL
    }
    return ct_gil_release(tl->g) != 0;
}

// A timeline thread: records its ident, starts with the others, takes the
// GIL; then lanes below TL_CPU compute, the others do I/O.
static int
tl_main(void *p)
{
    tl_arg *a = p;
    timeline *tl = a->tl;
    tl->ident[a->lane] = ct_get_ident();
    if (ct_barrier_wait(&tl->start, CT_FOREVER) < 0 ||
        ct_gil_acquire(tl->g) != 0) {
        return 1;
    }
    return a->lane < TL_CPU ? tl_cpu(a) : tl_io(a);
}

// Runs the timeline's threads for `dur` ns under `policy`.
static int
timeline_run(timeline *tl, int policy, int64_t dur)
{
    memset(tl, 0, sizeof *tl);
    tl->policy = policy;
    ct_gil_opts o = {.policy = policy, .trace_capacity = TL_SPANS};
    if (ct_gil_new(&tl->g, &o) != 0) {
        return CT_ENOMEM;
    }
    (void)ct_barrier_init(&tl->start, TL_THREADS + 1, NULL, NULL, CT_FOREVER);
    tl_arg args[TL_THREADS];
    ct_thread *t[TL_THREADS];
    for (int i = 0; i < TL_THREADS; i++) {
        args[i] = (tl_arg){tl, i};
    }
    int made;
    int rc = lab_spawn(t, TL_THREADS, tl_main, args, sizeof args[0], &tl->start,
                       &made);
    if (rc == 0) {
        if (ct_barrier_wait(&tl->start, CT_FOREVER) < 0) {
            rc = CT_ESTATE;
        }
        tl->t0 = lab_now_ns();
        struct timespec ts = {(time_t)(dur / 1000000000),
                              (long)(dur % 1000000000)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        tl->t1 = lab_now_ns();
    }
    atomic_store(&tl->stop, true);
    if (lab_join(NULL, t, made) != 0 && rc == 0) {
        rc = CT_ESTATE;
    }
    tl->nspans = ct_gil_trace_read(tl->g, tl->spans, TL_SPANS);
    (void)ct_gil_free(tl->g);
    return rc;
}

// The I/O thread's waits in the window: from each blocking call's return to
// its next hold; returns the median in us (0 if none).
static double
timeline_io_wait(const timeline *tl)
{
    int64_t w[TL_IO];
    int n = 0;
    for (int k = 0; k < tl->nio; k++) {
        int64_t back = tl->io_back[k];
        for (size_t s = 0; s < tl->nspans; s++) {
            const ct_gil_span *sp = &tl->spans[s];
            if (sp->ident == tl->ident[TL_IOLANE] && sp->start_ns >= back) {
                w[n++] = sp->start_ns - back;
                break;
            }
        }
    }
    qsort(w, (size_t)n, sizeof *w, cmp_i64);
    return quantile(w, (size_t)n, 0.5) / 1e3;
}

// Draws one policy's lanes from y; the window is [t0, t0 + span_ns).
static void
timeline_draw(FILE *f, const timeline *tl, double y, int64_t t0,
              int64_t span_ns, double x0, double width)
{
    static const char *const lane_name[TL_THREADS] = {"CPU-bound", "I/O"};
    const char *hold = lab_svg_color(0), *wait = lab_svg_color(1),
               *io = "#bbbbbb";
    double lane_h = 22, gap = 6;
    char label[160];
    snprintf(label, sizeof label,
             "%s policy: the I/O thread waited %.0f us (median) after each "
             "blocking call",
             policy_name[tl->policy], timeline_io_wait(tl));
    lab_svg_text(f, x0, y - 8, 13, "start", "#000000", label);
    int64_t end = t0 + span_ns;
    double scale = width / (double)span_ns;
    for (int lane = 0; lane < TL_THREADS; lane++) {
        double ly = y + lane * (lane_h + gap);
        lab_svg_text(f, x0 - 8, ly + 15, 12, "end", "#000000", lane_name[lane]);
        // Waiting is the background of the lane; holds and blocking calls
        // are drawn over it.
        lab_svg_rect(f, x0, ly, width, lane_h, wait, "waiting for the GIL");
        if (lane == TL_IOLANE) {
            for (int k = 0; k < tl->nio; k++) {
                int64_t a = tl->io_out[k] > t0 ? tl->io_out[k] : t0;
                int64_t b = tl->io_back[k] < end ? tl->io_back[k] : end;
                if (b > a) {
                    lab_svg_rect(f, x0 + (double)(a - t0) * scale, ly,
                                 (double)(b - a) * scale, lane_h, io,
                                 "in a blocking call, GIL released");
                }
            }
        }
        for (size_t s = 0; s < tl->nspans; s++) {
            const ct_gil_span *sp = &tl->spans[s];
            if (sp->ident != tl->ident[lane]) {
                continue;
            }
            int64_t a = sp->start_ns > t0 ? sp->start_ns : t0;
            int64_t b = sp->end_ns < end ? sp->end_ns : end;
            if (b > a) {
                snprintf(label, sizeof label, "holds the GIL %.3f ms",
                         (double)(sp->end_ns - sp->start_ns) / 1e6);
                lab_svg_rect(f, x0 + (double)(a - t0) * scale, ly,
                             fmax((double)(b - a) * scale, 0.5), lane_h, hold,
                             label);
            }
        }
    }
}

// Runs the CPython and I/O-priority timelines and writes the SVG.
static int
timeline_part(lab_ctx *ctx)
{
    static timeline tl[2];
    static const int policies[2] = {CT_GIL_POLICY_CPYTHON,
                                    CT_GIL_POLICY_IO_PRIORITY};
    int64_t window = 40000000; // 40 ms: eight 5 ms intervals
    lab_experiment_begin(ctx, "gil_timeline",
                         "gil timeline: a CPU-bound thread and an I/O "
                         "thread, 40 ms, drawn to the SVG");
    lab_param_str(ctx, "svg", ctx->svg_path);
    for (int i = 0; i < 2; i++) {
        lab_progress_begin(ctx, "gil timeline: %s", policy_name[policies[i]]);
        // 20 ms more than the window: the first holds are the start-up.
        int rc = timeline_run(&tl[i], policies[i], window + 20000000);
        if (rc != 0) {
            lab_progress_end(ctx);
            return lab_fail(ctx, "the timeline's threads: %s", ct_strerror(rc));
        }
    }
    lab_progress_end(ctx);

    double width = 900, x0 = 110, panel = TL_THREADS * 28 + 50;
    FILE *f = ctx->svg;
    lab_svg_begin(f, x0 + width + 30, 60 + 2 * panel + 50,
                  "ctlab gil: who holds the GIL");
    lab_svg_text(f, x0, 24, 15, "start", "#000000",
                 "ctlab gil: who holds the GIL (blue), waits for it "
                 "(orange), or blocks with it released (grey)");
    lab_table *t = lab_table_new(ctx, "timeline", NULL);
    lab_table_col(t, "policy", "policy", NULL);
    lab_table_col(t, "holds", "holds", NULL);
    lab_table_col(t, "io_calls", "I/O calls", NULL);
    lab_table_col(t, "io_wait_us", "I/O thread's wait", "us (median)");
    for (int i = 0; i < 2; i++) {
        int64_t t0 = tl[i].t0 + 20000000;
        timeline_draw(f, &tl[i], 70 + i * panel, t0, window, x0, width);
        lab_table_row(t);
        lab_cell_str(t, policy_key[policies[i]]);
        lab_cell_int(t, (long long)tl[i].nspans);
        lab_cell_int(t, tl[i].nio);
        lab_cell_num(t, timeline_io_wait(&tl[i]), 0);
    }
    // The time axis, in ms, under the panels.
    double ay = 60 + 2 * panel + 10;
    lab_svg_line(f, x0, ay, x0 + width, ay, "#000000", 1);
    for (int ms = 0; ms <= 40; ms += 5) {
        double x = x0 + width * ms / 40.0;
        char tick[16];
        snprintf(tick, sizeof tick, "%d ms", ms);
        lab_svg_line(f, x, ay, x, ay + 5, "#000000", 1);
        lab_svg_text(f, x, ay + 18, 11, "middle", "#000000", tick);
    }
    if (lab_svg_end(f) != 0) {
        return lab_fail(ctx, "writing %s failed", ctx->svg_path);
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "The timeline is in %s.", ctx->svg_path);
    return lab_experiment_end(ctx);
}

// --- The command -------------------------------------------------------------

// The I/O-bound lesson's size: tasks, and how long each blocks.
static int
io_tasks(const lab_ctx *ctx)
{
    return (int)lab_pick(ctx, 10, 20, 20);
}

static double
io_sleep_s(const lab_ctx *ctx)
{
    return lab_pick(ctx, 0.005, 0.02, 0.1);
}

// The Python experiment: python3's countdown and I/O tasks, with their own
// table and claims; py gets the numbers for the other tables' Python
// columns.
static int
python_experiment(lab_ctx *ctx, int tasks, double sleep_s, py_result *py)
{
    long countdown = (long)lab_pick(ctx, 2e5, 5e6, 2e7);
    char title[160];
    snprintf(title, sizeof title,
             "gil python: python3 counts down %ld by 1 and runs %d tasks "
             "sleeping %.0f ms",
             countdown, tasks, sleep_s * 1e3);
    lab_experiment_begin(ctx, "gil_python", title);
    run_python(ctx, countdown, tasks, sleep_s, py);
    if (!py->ok) {
        return lab_experiment_end(ctx);
    }
    lab_table *t = lab_table_new(ctx, "python", NULL);
    lab_table_col(t, "how", "how", NULL);
    lab_table_col(t, "wall_ms", "wall", "ms");
    lab_table_col(t, "speedup", "speedup", "x sequential");
    const struct {
        const char *how;
        double s, seq;
    } rows[] = {
        {"cpu: one thread", py->t_seq, py->t_seq},
        {"cpu: 2 threads", py->t_threads, py->t_seq},
        {"cpu: 2 processes", py->t_procs, py->t_seq},
        {"io: one after another", py->io_seq, py->io_seq},
        {"io: a thread each", py->io_threads, py->io_seq},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        lab_table_row(t);
        lab_cell_str(t, rows[i].how);
        lab_cell_num(t, rows[i].s * 1e3, 1);
        lab_cell_num(t, rows[i].seq / rows[i].s, 2);
    }
    lab_table_print(ctx, t);
    char yes[320], no[320];
    double threads = py->t_seq / py->t_threads;
    snprintf(yes, sizeof yes,
             "Python %s: 2 threads counted down at %.2fx one thread; the "
             "GIL lets one run at a time.",
             py->version, threads);
    if (py->gil) {
        snprintf(no, sizeof no,
                 "Python %s: 2 threads counted down at %.2fx one thread, "
                 "though its GIL was on: the machine slowed the one-thread "
                 "runs (a busy or shared CPU), not parallelism; a full "
                 "`ctlab gil` times longer runs.",
                 py->version, threads);
    } else {
        snprintf(no, sizeof no,
                 "Python %s runs without its GIL (a free-threaded build): 2 "
                 "threads counted down at %.2fx one thread.",
                 py->version, threads);
    }
    lab_claim(ctx, "python: CPU-bound threads are no faster than one",
              threads <= 1.15, yes, no);
    double io = py->io_seq / py->io_threads;
    snprintf(yes, sizeof yes,
             "Python %s: %d sleeping threads finished %.1fx faster than one "
             "after another.",
             py->version, tasks, io);
    snprintf(no, sizeof no,
             "Python %s: %d sleeping threads were only %.1fx faster than "
             "one after another.",
             py->version, tasks, io);
    lab_claim(ctx, "python: I/O-bound threads overlap", io >= 0.5 * tasks, yes,
              no);
    return lab_experiment_end(ctx);
}

// `ctlab python`: the lessons' Python alone.
static int
python_only(lab_ctx *ctx)
{
    py_result py;
    return python_experiment(ctx, io_tasks(ctx), io_sleep_s(ctx), &py);
}

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int threads = lab_threads(ctx, 2);
    if (threads > 8) {
        return lab_usage(ctx, "gil runs at most 8 threads (--threads %d)",
                         threads);
    }
    int tasks = io_tasks(ctx);
    double sleep_s = io_sleep_s(ctx);
    py_result py;
    memset(&py, 0, sizeof py);
    if (!ctx->no_python) {
        // One python3 run for the cpu and io tables, before our own runs
        // (so it does not compete with them).
        int rc = python_experiment(ctx, tasks, sleep_s, &py);
        if (rc != 0) {
            return rc;
        }
    }
    int worst = LAB_EXIT_OK, rc;
    rc = cpu_part(ctx, threads, &py);
    worst = rc > worst ? rc : worst;
    rc = io_part(ctx, &py, tasks, sleep_s);
    worst = rc > worst ? rc : worst;
    rc = release_part(ctx, threads);
    worst = rc > worst ? rc : worst;
    rc = convoy_part(ctx);
    worst = rc > worst ? rc : worst;
    rc = interval_part(ctx);
    worst = rc > worst ? rc : worst;
    if (ctx->svg != NULL) {
        rc = timeline_part(ctx);
        worst = rc > worst ? rc : worst;
    }
    return worst;
}

const lab_cmd lab_cmd_gil = {
    .name = "gil",
    .summary = "the GIL lessons: CPU- and I/O-bound threads, releasing C "
               "code, the convoy, the interval",
    .run = run,
    .help =
        "Runs the GIL lessons with ct_gil, the library's GIL, under each "
        "policy:\n"
        "  cpu       CPU-bound work: one thread, threads under the GIL, "
        "threads with\n"
        "            the GIL disabled, processes;\n"
        "  io        20 I/O-bound tasks sequential vs in threads, alone and "
        "beside a\n"
        "            CPU-bound thread (CPython, hand-off, I/O-priority "
        "policies);\n"
        "  release   threads running C code that releases the GIL around "
        "each chunk\n"
        "            of work, for chunk sizes from 0.1 to 100 us;\n"
        "  convoy    an I/O thread's wait for the GIL beside a CPU-bound "
        "thread;\n"
        "  interval  hold slices of two CPU-bound threads at 1, 5 and 20 "
        "ms.\n"
        "python3, when installed, runs the same CPU- and I/O-bound lessons. "
        "--threads N\n(default 2, at most 8) sets the threads of cpu and "
        "release. --svg FILE draws\nthe GIL timeline (who holds it, who "
        "waits, who blocks) of a CPU-bound\nthread and an I/O thread (the "
        "convoy) under the CPython and I/O-priority\npolicies.",
    .draws = true,
    .in_tour = true,
    .python = python_only,
};
