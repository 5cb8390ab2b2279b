// ct_bench: runs the case tables (bench.h) section by section, pins the
// threads, takes the median of the reps, prints each section's table and
// its comparisons against the baselines measured in the same run, and
// writes every number to --json. See docs/benchmarks.md.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // pthread_attr_setaffinity_np, CPU_SET
#endif
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#define MAX_REPS 64

// ---- Options ------------------------------------------------------------

typedef struct options {
    bool quick;
    int reps;
    const char *only;   // comma-separated sections, NULL: all
    const char *filter; // substring of case names, NULL: all
    const char *json;
    const char *tsv;      // --tsv FILE: the comparisons, for ctlab bench
    bool instr_table;     // run the valgrind section (default: if found)
    bool instr_table_set; // --instr-table / --no-instr-table given
    bool contended_unpinned;
    int threads;        // contended: only this thread count (0: 2 and 4);
                        // thread: the batch size (0: BENCH_BATCH_MAX)
    double loop_s;      // target time of one uncontended/notify rep
    double contended_s; // one contended rep
    double pingpong_s;  // one ping-pong rep
    int64_t burn_ns;    // how long the burn waiter waits
    double thread_s;    // one thread start+join rep
    double queue_s;     // one queue throughput rep
    double python_s;    // one rep of the Python queue.Queue script

    // The executor section: tasks per throughput rep, round trips per
    // latency rep (back to back, and each after a pause), and the same for
    // the Python ThreadPoolExecutor script.
    uint64_t exec_tasks, exec_rounds, exec_idle_rounds;
    uint64_t py_exec_tasks, py_exec_rounds, py_exec_idle_rounds;

    // The GIL section: seconds of sequential CPU-bound work (and the units
    // that took), the I/O tasks and their sleep, seconds per convoy rep and
    // per slice rep; the Python script's sha256 calls per timing, countdown
    // length, and seconds per convoy load and per slice interval.
    double gil_cpu_s;
    uint64_t gil_cpu_units;
    int gil_io_tasks;
    int64_t gil_io_sleep_ns;
    double gil_convoy_s, gil_slice_s;
    uint64_t py_gil_calls, py_gil_countdown;
    double py_gil_convoy_s, py_gil_slice_s;
} options;

// The convoy's peer writes a tick every GIL_TICK_NS (plus the time the I/O
// thread took to answer the previous one).
#define GIL_TICK_NS 1000000

static options opt;

_Noreturn void
bench_fail(const char *what, int code)
{
    fprintf(stderr, "ct_bench: %s failed (%d)\n", what, code);
    exit(1);
}

// ---- CPUs and threads -----------------------------------------------------

static cpu_set_t g_allowed;
static int g_cpus[CPU_SETSIZE];
static int g_ncpu;

static void
cpus_init(void)
{
    if (sched_getaffinity(0, sizeof(g_allowed), &g_allowed) != 0) {
        bench_fail("sched_getaffinity", errno);
    }
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &g_allowed)) {
            g_cpus[g_ncpu++] = i;
        }
    }
    if (g_ncpu == 0) {
        bench_fail("no usable CPU", 0);
    }
}

// Pinning modes (baselines.md): same = every thread on the first CPU,
// diff = thread i on CPU i mod ncpu, none = the scheduler decides.
typedef enum pin_mode { PIN_SAME, PIN_DIFF, PIN_NONE } pin_mode;

static const char *const pin_names[] = {"same", "diff", "unpinned"};

static int
pin_index(pin_mode mode, int thread)
{
    switch (mode) {
    case PIN_SAME:
        return 0;
    case PIN_DIFF:
        return thread;
    default:
        return -1;
    }
}

// Starts a thread on the CPU with index `idx` among the usable ones (modulo
// their number), or on any usable CPU when idx < 0. The affinity is set
// before the thread runs, so it never starts on the wrong CPU.
static void
thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int idx)
{
    pthread_attr_t attr;
    cpu_set_t set;
    if (idx < 0) {
        set = g_allowed;
    } else {
        CPU_ZERO(&set);
        CPU_SET(g_cpus[idx % g_ncpu], &set);
    }
    BENCH_CHECK(pthread_attr_init(&attr));
    BENCH_CHECK(pthread_attr_setaffinity_np(&attr, sizeof(set), &set));
    BENCH_CHECK(pthread_create(t, &attr, fn, arg));
    pthread_attr_destroy(&attr);
}

static void
thread_join(pthread_t t)
{
    BENCH_CHECK(pthread_join(t, NULL));
}

static void
sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// ---- Results --------------------------------------------------------------

// One measured series: a metric of a case in a mode, one value per rep.
typedef struct result {
    const char *section;
    const char *name;
    const char *mode; // pin mode, or "-"
    int threads;      // contended: thread count, else 0
    const char *metric;
    const char *unit;
    int n;
    double v[MAX_REPS];
} result;

static result *g_results;
static size_t g_nresults, g_capresults;

static result *
result_get(const char *section, const char *name, const char *mode, int threads,
           const char *metric, const char *unit)
{
    for (size_t i = 0; i < g_nresults; i++) {
        result *r = &g_results[i];
        if (strcmp(r->section, section) == 0 && strcmp(r->name, name) == 0 &&
            strcmp(r->mode, mode) == 0 && r->threads == threads &&
            strcmp(r->metric, metric) == 0) {
            return r;
        }
    }
    if (g_nresults == g_capresults) {
        g_capresults = g_capresults ? g_capresults * 2 : 64;
        g_results = realloc(g_results, g_capresults * sizeof(result));
        if (g_results == NULL) {
            bench_fail("realloc", -ENOMEM);
        }
    }
    result *r = &g_results[g_nresults++];
    memset(r, 0, sizeof(*r));
    r->section = section;
    r->name = name;
    r->mode = mode;
    r->threads = threads;
    r->metric = metric;
    r->unit = unit;
    return r;
}

static void
result_push(result *r, double v)
{
    if (r->n < MAX_REPS) {
        r->v[r->n++] = v;
    }
}

static const result *
result_find(const char *section, const char *name, const char *mode,
            int threads, const char *metric)
{
    for (size_t i = 0; i < g_nresults; i++) {
        const result *r = &g_results[i];
        if (strcmp(r->section, section) == 0 && strcmp(r->name, name) == 0 &&
            strcmp(r->mode, mode) == 0 && r->threads == threads &&
            strcmp(r->metric, metric) == 0) {
            return r;
        }
    }
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
r_median(const result *r)
{
    if (r == NULL || r->n == 0) {
        return NAN;
    }
    double s[MAX_REPS];
    memcpy(s, r->v, (size_t)r->n * sizeof(double));
    qsort(s, (size_t)r->n, sizeof(double), cmp_double);
    return r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
}

static double
r_min(const result *r)
{
    if (r == NULL || r->n == 0) {
        return NAN;
    }
    double m = r->v[0];
    for (int i = 1; i < r->n; i++) {
        m = r->v[i] < m ? r->v[i] : m;
    }
    return m;
}

static double
r_max(const result *r)
{
    if (r == NULL || r->n == 0) {
        return NAN;
    }
    double m = r->v[0];
    for (int i = 1; i < r->n; i++) {
        m = r->v[i] > m ? r->v[i] : m;
    }
    return m;
}

// (max - min) / median, as a fraction.
static double
r_spread(const result *r)
{
    double med = r_median(r);
    if (isnan(med) || med == 0) {
        return NAN;
    }
    return (r_max(r) - r_min(r)) / med;
}

static double
med_of(const char *section, const char *name, const char *mode, int threads,
       const char *metric)
{
    return r_median(result_find(section, name, mode, threads, metric));
}

// ---- Comparisons ----------------------------------------------------------

// T_WITHIN: the ratio is within 1 +- limit.
typedef enum target_op { T_NONE, T_LE, T_GE, T_WITHIN } target_op;

typedef struct comparison {
    const char *section;
    char name[64];
    double ours;
    char unit[16];
    char base_name[48];
    double base;
    double ratio;
    char target[32];
    const char *status; // "ok", "MISS", "skip", "-"
    char note[64];
} comparison;

static comparison *g_cmps;
static size_t g_ncmps, g_capcmps;

static void
print_cmp_header(void)
{
    printf("\n  %-40s %12s  %-30s %6s  %-15s %s\n", "comparison", "ours",
           "baseline", "ratio", "target", "result");
}

static void
fmt_value(char *buf, size_t size, double v, const char *unit)
{
    if (isnan(v)) {
        snprintf(buf, size, "-");
    } else if (fabs(v) >= 1000 || strcmp(unit, "B") == 0) {
        snprintf(buf, size, "%.0f %s", v, unit);
    } else if (fabs(v) >= 100) {
        snprintf(buf, size, "%.1f %s", v, unit);
    } else {
        snprintf(buf, size, "%.2f %s", v, unit);
    }
}

// Records and prints one comparison row. With `on_ratio` the target applies
// to ours/base, else to ours itself; the ratio is shown whenever there is a
// baseline. A missing figure gives "skip"; `note` (may be NULL) says why, or
// adds a remark to a row that has its figures.
static void
compare(const char *section, const char *name, double ours, const char *unit,
        const char *base_name, double base, bool on_ratio, target_op op,
        double limit, const char *note)
{
    if (g_ncmps == g_capcmps) {
        g_capcmps = g_capcmps ? g_capcmps * 2 : 32;
        g_cmps = realloc(g_cmps, g_capcmps * sizeof(comparison));
        if (g_cmps == NULL) {
            bench_fail("realloc", -ENOMEM);
        }
    }
    comparison *c = &g_cmps[g_ncmps++];
    memset(c, 0, sizeof(*c));
    c->section = section;
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->unit, sizeof(c->unit), "%s", unit);
    snprintf(c->base_name, sizeof(c->base_name), "%s",
             base_name ? base_name : "");
    c->ours = ours;
    c->base = base_name ? base : NAN;
    c->ratio = (base_name && !isnan(base) && base != 0) ? ours / base : NAN;
    if (op == T_NONE) {
        snprintf(c->target, sizeof(c->target), "-");
    } else if (op == T_WITHIN) {
        snprintf(c->target, sizeof(c->target), "ratio 1 +- %g", limit);
    } else if (on_ratio) {
        snprintf(c->target, sizeof(c->target), "ratio %s %g",
                 op == T_LE ? "<=" : ">=", limit);
    } else {
        snprintf(c->target, sizeof(c->target), "%s %g %s",
                 op == T_LE ? "<=" : ">=", limit, unit);
    }
    double x = on_ratio ? c->ratio : ours;
    snprintf(c->note, sizeof(c->note), "%s", note ? note : "");
    if (isnan(ours) || (on_ratio && isnan(c->ratio))) {
        c->status = "skip";
        if (note == NULL) {
            snprintf(c->note, sizeof(c->note), "no data");
        }
    } else if (op == T_NONE) {
        c->status = "-";
    } else if (op == T_WITHIN ? fabs(x - 1) <= limit
               : op == T_LE   ? x <= limit
                              : x >= limit) {
        c->status = "ok";
    } else {
        c->status = "MISS";
    }

    char ov[32], bv[32], bcol[64], rv[16];
    fmt_value(ov, sizeof(ov), ours, unit);
    if (base_name && isnan(c->base)) {
        snprintf(bcol, sizeof(bcol), "- (%s)", base_name);
    } else if (base_name) {
        fmt_value(bv, sizeof(bv), c->base, unit);
        snprintf(bcol, sizeof(bcol), "%s %s", bv, base_name);
    } else {
        snprintf(bcol, sizeof(bcol), "-");
    }
    if (isnan(c->ratio)) {
        snprintf(rv, sizeof(rv), "-");
    } else {
        snprintf(rv, sizeof(rv), "%.2f", c->ratio);
    }
    printf("  %-40s %12s  %-30s %6s  %-15s %s%s%s\n", c->name, ov, bcol, rv,
           c->target, c->status, c->note[0] ? "  " : "", c->note);
}

// ---- Printing helpers -------------------------------------------------------

static bool
glib_built(void)
{
#ifdef CT_HAVE_GLIB
    return true;
#else
    return false;
#endif
}

// Why a case does not run in this build, or NULL if it does.
static const char *
case_skip_reason(const bench_case *c)
{
    if ((c->flags & BENCH_GLIB) && !glib_built()) {
        return "GLib not installed";
    }
    return NULL;
}

static bool
case_selected(const bench_case *c)
{
    if (opt.filter == NULL) {
        return true;
    }
    // A comma-separated list: a case runs if its name contains any item.
    for (const char *p = opt.filter; *p != '\0';) {
        size_t len = strcspn(p, ",");
        for (const char *n = c->name; *n != '\0'; n++) {
            if (len > 0 && strncmp(n, p, len) == 0) {
                return true;
            }
        }
        p += len + (p[len] == ',');
    }
    return false;
}

static const char *
role_name(bench_role r)
{
    switch (r) {
    case BENCH_OURS:
        return "ours";
    case BENCH_BASELINE:
        return "baseline";
    case BENCH_FLOOR:
        return "floor";
    default:
        return "overhead";
    }
}

static void
section_header(const char *title, const char *how)
{
    printf("\n== %s ==\n", title);
    if (how != NULL && how[0] != '\0') {
        printf("   %s\n", how);
    }
}

static void
fmt_spread(char *buf, size_t size, const result *r)
{
    double s = r_spread(r);
    if (isnan(s)) {
        snprintf(buf, size, "-");
    } else {
        snprintf(buf, size, "%.1f%%", s * 100);
    }
}

// ---- Single-thread loop sections (uncontended, notify) --------------------

typedef struct loop_job {
    const bench_case *cases[64];
    int ncases;
    uint64_t n[64];
    const char *section;
} loop_job;

static int64_t
time_loop(void (*loop)(uint64_t), uint64_t n)
{
    int64_t t0 = bench_now_ns();
    loop(n);
    return bench_now_ns() - t0;
}

// Picks n so that one rep takes about opt.loop_s, within [1000, 50M].
static uint64_t
calibrate_loop(void (*loop)(uint64_t))
{
    const uint64_t cap = 50000000;
    double target = opt.loop_s * 1e9;
    uint64_t n = 1000;
    for (;;) {
        int64_t dt = time_loop(loop, n);
        if (dt >= target / 5 || n >= cap) {
            double want = dt > 0 ? (double)n * target / (double)dt : cap;
            if (want > cap) {
                want = cap;
            }
            if (want < 1000) {
                want = 1000;
            }
            return (uint64_t)want;
        }
        n *= 4;
    }
}

// The worker: calibrates every case, then runs the reps interleaved (rep 1
// of every case, then rep 2...) so that a disturbance hits all cases alike.
static void *
loop_thread(void *arg)
{
    loop_job *job = arg;
    for (int i = 0; i < job->ncases; i++) {
        job->n[i] = calibrate_loop(job->cases[i]->loop);
    }
    for (int rep = 0; rep < opt.reps; rep++) {
        for (int i = 0; i < job->ncases; i++) {
            const bench_case *c = job->cases[i];
            int64_t dt = time_loop(c->loop, job->n[i]);
            result_push(
                result_get(job->section, c->name, "same", 0, "ns", "ns"),
                (double)dt / (double)job->n[i]);
        }
    }
    return NULL;
}

// Runs a loop section on one worker thread pinned to the first CPU; the
// main thread waits in pthread_join meanwhile (so the process has 2
// threads, as in baselines.md: "1 worker thread + 1 idle thread").
static void
run_loop_section(const bench_case *table, const char *section)
{
    loop_job job;
    memset(&job, 0, sizeof(job));
    job.section = section;
    for (const bench_case *c = table; c->name != NULL; c++) {
        if (strcmp(c->section, section) == 0 && c->loop != NULL &&
            case_selected(c) && job.ncases < 64) {
            job.cases[job.ncases++] = c;
        }
    }
    pthread_t t;
    thread_start(&t, loop_thread, &job, 0);
    thread_join(t);
}

static void
print_loop_table(const bench_case *table, const char *section,
                 const char *unit_label, const char *ref)
{
    double ref_ns = med_of(section, ref, "same", 0, "ns");
    char refcol[40];
    snprintf(refcol, sizeof(refcol), "vs %s", ref);
    printf("  %-24s %-9s %9s %9s %9s %7s %20s  %s\n", "case", "role",
           unit_label, "min", "max", "spread", refcol, "note");
    for (const bench_case *c = table; c->name != NULL; c++) {
        if (strcmp(c->section, section) != 0 || !case_selected(c)) {
            continue;
        }
        const char *why = case_skip_reason(c);
        const result *r = result_find(section, c->name, "same", 0, "ns");
        if (why != NULL || r == NULL) {
            printf("  %-24s %-9s %9s %9s %9s %7s %20s  %s\n", c->name,
                   role_name(c->role), "-", "-", "-", "-", "-",
                   why ? why : "not run");
            continue;
        }
        char sp[16], ratio[24];
        fmt_spread(sp, sizeof(sp), r);
        double med = r_median(r);
        if (isnan(ref_ns)) {
            snprintf(ratio, sizeof(ratio), "-");
        } else {
            snprintf(ratio, sizeof(ratio), "%.2f", med / ref_ns);
        }
        printf("  %-24s %-9s %9.2f %9.2f %9.2f %7s %20s  %s\n", c->name,
               role_name(c->role), med, r_min(r), r_max(r), sp, ratio,
               c->note ? c->note : "");
    }
}

static void
section_uncontended(void)
{
    char how[256];
    snprintf(how, sizeof(how),
             "ns per acquire+release pair; 1 worker pinned to CPU %d, main "
             "thread idle; median of %d reps of ~%.2f s; empty loop not "
             "subtracted",
             g_cpus[0], opt.reps, opt.loop_s);
    section_header("1. Uncontended acquire+release pair", how);
    run_loop_section(bench_lock_cases, BENCH_SEC_UNCONTENDED);
    print_loop_table(bench_lock_cases, BENCH_SEC_UNCONTENDED, "ns/pair",
                     "pthread_mutex");

    const char *sec = BENCH_SEC_UNCONTENDED;
    // The best plain (non-recursive, sleeping) mutex measured in this run.
    const char *plain[] = {"pthread_mutex", "pthread_adaptive", "mtx_t"};
    const char *best = NULL;
    double best_ns = NAN;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        double v = med_of(sec, plain[i], "same", 0, "ns");
        if (!isnan(v) && (best == NULL || v < best_ns)) {
            best = plain[i];
            best_ns = v;
        }
    }
    print_cmp_header();
    compare(sec, "ct_lock vs best plain mutex",
            med_of(sec, "ct_lock", "same", 0, "ns"), "ns",
            best ? best : "best mutex", best_ns, true, T_LE, 0.75, NULL);
    compare(sec, "ct_rlock first vs GRecMutex",
            med_of(sec, "ct_rlock_first", "same", 0, "ns"), "ns", "grecmutex",
            med_of(sec, "grecmutex", "same", 0, "ns"), true, T_LE, 0.85,
            glib_built() ? NULL : "GLib not installed");
    compare(sec, "ct_rlock first vs pthread recursive",
            med_of(sec, "ct_rlock_first", "same", 0, "ns"), "ns",
            "pthread_recursive",
            med_of(sec, "pthread_recursive", "same", 0, "ns"), true, T_NONE, 0,
            NULL);
    compare(sec, "ct_rlock nested (absolute)",
            med_of(sec, "ct_rlock_nested", "same", 0, "ns"), "ns", NULL, NAN,
            false, T_LE, 3.5, NULL);
}

static void
section_notify(void)
{
    char how[256];
    snprintf(how, sizeof(how),
             "ns per operation with nobody waiting, single thread pinned to "
             "CPU %d; median of %d reps of ~%.2f s",
             g_cpus[0], opt.reps, opt.loop_s);
    section_header("5. Notify / set with nobody waiting", how);
    run_loop_section(bench_notify_cases, BENCH_SEC_NOTIFY);
    print_loop_table(bench_notify_cases, BENCH_SEC_NOTIFY, "ns/op", "syscall");

    const char *sec = BENCH_SEC_NOTIFY;
    double sys = med_of(sec, "syscall", "same", 0, "ns");
    static const struct {
        const char *ours, *label, *base;
    } rows[] = {
        {"ct_event_set_clear", "ct_event set+clear (pair)", "futex_wake"},
        {"ct_event_set_set", "ct_event set (already set)", "futex_wake"},
        {"ct_cond_notify", "ct_condition_notify", "pthread_cond_signal"},
        {"ct_cond_notify_all", "ct_condition_notify_all",
         "pthread_cond_broadcast"},
        {"ct_sem_release_acquire", "ct_semaphore release+acquire (pair)",
         "sem_post_wait"},
    };
    print_cmp_header();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double v = med_of(sec, rows[i].ours, "same", 0, "ns");
        // A system call costs at least `sys`: well below it, there is none.
        const char *note = NULL;
        if (!isnan(v) && !isnan(sys)) {
            note = v < sys / 2 ? "(no syscall: < 1/2 of one)"
                               : "(may make a syscall)";
        }
        compare(sec, rows[i].label, v, "ns", rows[i].base,
                med_of(sec, rows[i].base, "same", 0, "ns"), false, T_LE, 20,
                note);
    }
}

// ---- Instruction counts (valgrind) ----------------------------------------

// The cases bench/instr.sh and the instr section count by default.
static const char *const instr_cases[] = {
    "ct_lock",          "ct_rlock_first",
    "ct_rlock_nested",  "pthread_mutex",
    "pthread_adaptive", "mtx_t",
    "gmutex",           "pthread_recursive",
    "grecmutex",        "ct_event_set_clear",
    "ct_cond_notify",   "ct_sem_release_acquire",
    "empty_loop",
};

static const bench_case *
find_loop_case(const char *name)
{
    const bench_case *tables[] = {bench_lock_cases, bench_notify_cases};
    for (size_t t = 0; t < 2; t++) {
        for (const bench_case *c = tables[t]; c->name != NULL; c++) {
            if (c->loop != NULL && strcmp(c->name, name) == 0) {
                return c;
            }
        }
    }
    return NULL;
}

typedef struct instr_job {
    const bench_case *c;
    uint64_t n;
} instr_job;

static void *
instr_thread(void *arg)
{
    instr_job *job = arg;
    job->c->loop(job->n);
    return NULL;
}

// --instr CASE N: runs the loop N times on a worker thread, quietly, for
// valgrind to count. Exit status 2: no such case in this build.
static int
instr_mode(const char *name, const char *count)
{
    const bench_case *c = find_loop_case(name);
    if (c == NULL) {
        fprintf(stderr, "ct_bench: no loop case '%s' in this build\n", name);
        return 2;
    }
    instr_job job = {c, strtoull(count, NULL, 10)};
    pthread_t t;
    thread_start(&t, instr_thread, &job, -1);
    thread_join(t);
    return 0;
}

static bool
have_valgrind(void)
{
    return system("valgrind --version >/dev/null 2>&1") == 0;
}

// Runs `ct_bench --instr CASE n` under callgrind; returns the instructions
// it collected, or -1.
static double
callgrind_ir(const char *exe, const char *name, uint64_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "valgrind --tool=callgrind --callgrind-out-file=/dev/null '%s' "
             "--instr %s %llu 2>&1",
             exe, name, (unsigned long long)n);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    char line[512];
    double ir = -1;
    while (fgets(line, sizeof(line), p) != NULL) {
        char *s = strstr(line, "Collected :");
        if (s != NULL) {
            ir = strtod(s + strlen("Collected :"), NULL);
        }
    }
    if (pclose(p) != 0) {
        return -1;
    }
    return ir;
}

static void
section_instr(void)
{
    const uint64_t n1 = 100000, n2 = 200000;
    char how[256];
    snprintf(how, sizeof(how),
             "instructions per operation = (Ir(N2) - Ir(N1)) / (N2 - N1), "
             "N1 = %llu, N2 = %llu, valgrind --tool=callgrind; exact, no reps",
             (unsigned long long)n1, (unsigned long long)n2);
    section_header("2. Instructions per pair (valgrind)", how);
    if (!have_valgrind()) {
        printf("   skipped: valgrind not installed\n");
        return;
    }
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0) {
        printf("   skipped: cannot find /proc/self/exe\n");
        return;
    }
    exe[len] = '\0';
    const char *sec = "instr";
    const size_t ncases = sizeof(instr_cases) / sizeof(instr_cases[0]);
    const char *status[sizeof(instr_cases) / sizeof(instr_cases[0])];
    // Count everything first, so that the ratio column has its reference.
    for (size_t i = 0; i < ncases; i++) {
        const char *name = instr_cases[i];
        const bench_case *c = find_loop_case(name);
        status[i] = NULL;
        if (c == NULL || (opt.filter && !strstr(name, opt.filter))) {
            status[i] = "";
            continue;
        }
        if (case_skip_reason(c) != NULL) {
            status[i] = case_skip_reason(c);
            continue;
        }
        double a = callgrind_ir(exe, name, n1);
        double b = callgrind_ir(exe, name, n2);
        if (a < 0 || b < 0) {
            status[i] = "valgrind failed";
            continue;
        }
        result_push(result_get(sec, c->name, "-", 0, "instr", "instr"),
                    (b - a) / (double)(n2 - n1));
    }
    double ref = med_of(sec, "pthread_mutex", "-", 0, "instr");
    printf("  %-24s %12s %18s\n", "case", "instr/op", "vs pthread_mutex");
    for (size_t i = 0; i < ncases; i++) {
        if (status[i] != NULL) {
            if (status[i][0] != '\0') {
                printf("  %-24s %12s %18s  %s\n", instr_cases[i], "-", "-",
                       status[i]);
            }
            continue;
        }
        double per = med_of(sec, instr_cases[i], "-", 0, "instr");
        char ratio[16];
        if (isnan(ref)) {
            snprintf(ratio, sizeof(ratio), "-");
        } else {
            snprintf(ratio, sizeof(ratio), "%.2f", per / ref);
        }
        printf("  %-24s %12.2f %18s\n", instr_cases[i], per, ratio);
    }
    print_cmp_header();
    compare(sec, "ct_lock pair (absolute)",
            med_of(sec, "ct_lock", "-", 0, "instr"), "instr", "pthread_mutex",
            med_of(sec, "pthread_mutex", "-", 0, "instr"), false, T_LE, 12,
            NULL);
    compare(sec, "ct_rlock first",
            med_of(sec, "ct_rlock_first", "-", 0, "instr"), "instr",
            "grecmutex", med_of(sec, "grecmutex", "-", 0, "instr"), false,
            T_NONE, 0, NULL);
    compare(sec, "ct_rlock nested",
            med_of(sec, "ct_rlock_nested", "-", 0, "instr"), "instr",
            "pthread_recursive",
            med_of(sec, "pthread_recursive", "-", 0, "instr"), false, T_NONE, 0,
            NULL);
}

// ---- Contended ------------------------------------------------------------

typedef struct con_thread {
    bench_arena *arena;
    const bench_case *c;
    bench_worker w;
    bool timed;
    pthread_barrier_t *start;
    long vcsw, ivcsw; // context switches during the run (voluntary, not)
} con_thread;

static void *
con_main(void *arg)
{
    con_thread *t = arg;
    struct rusage r0, r1;
    pthread_barrier_wait(t->start);
    // Read outside the loop: costs the loop nothing.
    getrusage(RUSAGE_THREAD, &r0);
    if (t->timed) {
        t->c->timed(t->arena, &t->w);
    } else {
        t->c->worker(t->arena, &t->w);
    }
    getrusage(RUSAGE_THREAD, &r1);
    t->vcsw = r1.ru_nvcsw - r0.ru_nvcsw;
    t->ivcsw = r1.ru_nivcsw - r0.ru_nivcsw;
    return NULL;
}

typedef struct con_rep {
    double mops, fairness, run_len, max_wait_us;
    double n_long, n_long2; // waits over 1 ms and over 2 ms (timed reps)
    double csw_per_kop;     // context switches (all threads) per 1000 ops
} con_rep;

// TSC ticks per millisecond, measured once against CLOCK_MONOTONIC over
// 20 ms (1e6 where bench_ticks() is the monotonic clock itself).
static uint64_t
ticks_per_ms(void)
{
    static uint64_t cached;
    if (cached == 0) {
        uint64_t k0 = bench_ticks();
        int64_t t0 = bench_now_ns();
        sleep_ns(20000000);
        uint64_t k1 = bench_ticks();
        int64_t t1 = bench_now_ns();
        cached = (uint64_t)((double)(k1 - k0) * 1e6 / (double)(t1 - t0));
        cached = cached ? cached : 1;
    }
    return cached;
}

// One rep: nthreads workers run for opt.contended_s. Throughput counts the
// operations done between the start barrier and the stop flag; the max
// wait (timed reps only) converts TSC ticks to ns with the rep's own
// TSC/monotonic ratio.
static con_rep
contended_rep(const bench_case *c, int nthreads, pin_mode mode, bool timed)
{
    bench_arena *a = aligned_alloc(64, sizeof(bench_arena));
    if (a == NULL) {
        bench_fail("aligned_alloc", -ENOMEM);
    }
    memset(a, 0, sizeof(*a));
    atomic_init(&a->stop, 0);
    c->init(a);
    pthread_barrier_t start;
    BENCH_CHECK(pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1));
    con_thread th[16];
    pthread_t tid[16];
    for (int i = 0; i < nthreads; i++) {
        th[i] =
            (con_thread){.arena = a, .c = c, .timed = timed, .start = &start};
        th[i].w.id = i;
        th[i].w.long_ticks = ticks_per_ms();
        thread_start(&tid[i], con_main, &th[i], pin_index(mode, i));
    }
    pthread_barrier_wait(&start);
    uint64_t k0 = bench_ticks();
    int64_t t0 = bench_now_ns();
    sleep_ns((int64_t)(opt.contended_s * 1e9));
    atomic_store(&a->stop, 1);
    int64_t t1 = bench_now_ns();
    uint64_t k1 = bench_ticks();
    for (int i = 0; i < nthreads; i++) {
        thread_join(tid[i]);
    }
    c->fini(a);
    BENCH_CHECK(pthread_barrier_destroy(&start));

    con_rep r = {0, 0, NAN, NAN, 0, 0, 0};
    long csw = 0;
    uint64_t total = a->shared, sum = 0, lo = UINT64_MAX, hi = 0, maxw = 0;
    for (int i = 0; i < nthreads; i++) {
        uint64_t ops = th[i].w.ops;
        sum += ops;
        lo = ops < lo ? ops : lo;
        hi = ops > hi ? ops : hi;
        maxw = th[i].w.max_wait > maxw ? th[i].w.max_wait : maxw;
        csw += th[i].vcsw + th[i].ivcsw;
        r.n_long += (double)th[i].w.n_long;
        r.n_long2 += (double)th[i].w.n_long2;
    }
    if (sum != total) {
        // A lock that lets two threads in at once loses increments.
        fprintf(stderr,
                "ct_bench: %s: %llu increments but %llu acquisitions "
                "(mutual exclusion broken)\n",
                c->name, (unsigned long long)total, (unsigned long long)sum);
        exit(1);
    }
    r.mops = (double)total / (double)(t1 - t0) * 1e3;
    r.fairness = hi ? (double)lo / (double)hi : 0;
    r.csw_per_kop = total ? (double)csw * 1000 / (double)total : NAN;
    if (a->switches > 0) {
        r.run_len = (double)total / (double)a->switches;
    }
    if (timed && k1 > k0) {
        double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0);
        r.max_wait_us = (double)maxw * ns_per_tick / 1e3;
    }
    free(a);
    return r;
}

static void
contended_config(int nthreads, pin_mode mode)
{
    const char *sec = BENCH_SEC_CONTENDED;
    const char *pm = pin_names[mode];
    const bench_case *cases[32];
    int n = 0;
    for (const bench_case *c = bench_lock_cases; c->name != NULL; c++) {
        if (strcmp(c->section, sec) == 0 && case_selected(c) && n < 32) {
            cases[n++] = c;
        }
    }
    for (int rep = 0; rep < opt.reps; rep++) {
        for (int i = 0; i < n; i++) {
            if (case_skip_reason(cases[i]) != NULL) {
                continue;
            }
            con_rep r = contended_rep(cases[i], nthreads, mode, false);
            const char *nm = cases[i]->name;
            result_push(result_get(sec, nm, pm, nthreads, "mops", "Mops/s"),
                        r.mops);
            result_push(result_get(sec, nm, pm, nthreads, "fairness", ""),
                        r.fairness);
            result_push(
                result_get(sec, nm, pm, nthreads, "csw_per_kop", "csw/kop"),
                r.csw_per_kop);
            if (!isnan(r.run_len)) {
                result_push(result_get(sec, nm, pm, nthreads, "run_len", ""),
                            r.run_len);
            }
        }
    }
    // The longest-wait reps: one per case, after the throughput reps.
    for (int i = 0; i < n; i++) {
        if (case_skip_reason(cases[i]) != NULL || cases[i]->timed == NULL) {
            continue;
        }
        con_rep r = contended_rep(cases[i], nthreads, mode, true);
        result_push(
            result_get(sec, cases[i]->name, pm, nthreads, "max_wait_us", "us"),
            r.max_wait_us);
        result_push(result_get(sec, cases[i]->name, pm, nthreads, "mops_timed",
                               "Mops/s"),
                    r.mops);
        result_push(
            result_get(sec, cases[i]->name, pm, nthreads, "waits_over_1ms", ""),
            r.n_long);
        result_push(
            result_get(sec, cases[i]->name, pm, nthreads, "waits_over_2ms", ""),
            r.n_long2);
    }

    // The best plain mutex of this configuration, by median throughput.
    const char *mutexes[] = {"pthread_mutex", "pthread_adaptive", "mtx_t",
                             "gmutex"};
    const char *best = NULL;
    double best_mops = NAN;
    for (size_t i = 0; i < sizeof(mutexes) / sizeof(mutexes[0]); i++) {
        double v = med_of(sec, mutexes[i], pm, nthreads, "mops");
        if (!isnan(v) && (best == NULL || v > best_mops)) {
            best = mutexes[i];
            best_mops = v;
        }
    }

    printf("\n  %d threads, %s%s%s:\n", nthreads,
           mode == PIN_NONE ? "" : "pinned ", pm,
           mode == PIN_DIFF && g_ncpu == 1 ? " (1 CPU: all on CPU 0)" : "");
    printf("  %-17s %-8s %8s %7s %17s %8s %8s %12s %10s %7s\n", "case", "role",
           "Mops/s", "spread", "fairness med(min)", "run_len", "csw/kop",
           "longest wait", ">1ms/>2ms", "vs best");
    for (int i = 0; i < n; i++) {
        const bench_case *c = cases[i];
        const char *why = case_skip_reason(c);
        if (why != NULL) {
            printf("  %-17s %-8s %8s  %s\n", c->name, role_name(c->role), "-",
                   why);
            continue;
        }
        const result *m = result_find(sec, c->name, pm, nthreads, "mops");
        const result *f = result_find(sec, c->name, pm, nthreads, "fairness");
        const result *rl = result_find(sec, c->name, pm, nthreads, "run_len");
        const result *w =
            result_find(sec, c->name, pm, nthreads, "max_wait_us");
        const result *l1 =
            result_find(sec, c->name, pm, nthreads, "waits_over_1ms");
        const result *l2 =
            result_find(sec, c->name, pm, nthreads, "waits_over_2ms");
        const result *cs =
            result_find(sec, c->name, pm, nthreads, "csw_per_kop");
        char sp[16], fair[32], runlen[24], wait[24], vs[16], longs[32];
        fmt_spread(sp, sizeof(sp), m);
        snprintf(fair, sizeof(fair), "%.2f (%.2f)", r_median(f), r_min(f));
        if (rl) {
            snprintf(runlen, sizeof(runlen), "%.1f", r_median(rl));
        } else {
            snprintf(runlen, sizeof(runlen), "-");
        }
        if (w) {
            snprintf(wait, sizeof(wait), "%.0f us", r_max(w));
            snprintf(longs, sizeof(longs), "%.0f/%.0f", r_max(l1), r_max(l2));
        } else {
            snprintf(wait, sizeof(wait), "-");
            snprintf(longs, sizeof(longs), "-");
        }
        if (isnan(best_mops)) {
            snprintf(vs, sizeof(vs), "-");
        } else {
            snprintf(vs, sizeof(vs), "%.2f", r_median(m) / best_mops);
        }
        printf("  %-17s %-8s %8.2f %7s %17s %8s %8.2f %12s %10s %7s\n", c->name,
               role_name(c->role), r_median(m), sp, fair, runlen, r_median(cs),
               wait, longs, vs);
    }
    if (mode != PIN_DIFF) {
        return; // goals use the pinned numbers only
    }
    char label[64];
    print_cmp_header();
    snprintf(label, sizeof(label), "ct_lock %d thr vs best mutex", nthreads);
    compare(sec, label, med_of(sec, "ct_lock", pm, nthreads, "mops"), "Mops/s",
            best ? best : "best mutex", best_mops, true, T_GE,
            nthreads <= 2 ? 1.5 : 1.2, NULL);
    if (nthreads <= 2) {
        snprintf(label, sizeof(label), "ct_lock %d thr fairness (median)",
                 nthreads);
        compare(sec, label, med_of(sec, "ct_lock", pm, nthreads, "fairness"),
                "", best ? best : "best mutex",
                med_of(sec, best ? best : "", pm, nthreads, "fairness"), false,
                T_GE, 0.5, NULL);
    }
    snprintf(label, sizeof(label), "ct_lock %d thr longest wait", nthreads);
    compare(
        sec, label,
        r_max(result_find(sec, "ct_lock", pm, nthreads, "max_wait_us")), "us",
        "pthread_mutex",
        r_max(result_find(sec, "pthread_mutex", pm, nthreads, "max_wait_us")),
        false, T_LE, 2000, NULL);
}

static void
section_contended(void)
{
    char how[320];
    snprintf(how, sizeof(how),
             "acquire; shared++; release in a loop; %.2f s per rep, median of "
             "%d reps; fairness = min/max of per-thread ops (median (min) "
             "over reps); run_len = ops / owner switches; longest wait = the "
             "longest single acquire, from 1 extra rep that reads the TSC "
             "around every acquire",
             opt.contended_s, opt.reps);
    section_header("3. Contended acquire; shared++; release", how);
    int threads[] = {2, 4};
    size_t nthr = 2;
    if (opt.threads != 0) {
        threads[0] = opt.threads;
        nthr = 1;
    }
    for (size_t i = 0; i < nthr; i++) {
        contended_config(threads[i], PIN_DIFF);
    }
    if (opt.contended_unpinned) {
        for (size_t i = 0; i < nthr; i++) {
            contended_config(threads[i], PIN_NONE);
        }
    }
}

// ---- Wake-ups: ping-pong and burn ---------------------------------------

typedef struct pp_thread {
    const bench_case *c;
    void *st;
    int side;
    uint64_t n;
    pthread_barrier_t *start;
    int64_t elapsed;
} pp_thread;

static void *
pp_main(void *arg)
{
    pp_thread *t = arg;
    pthread_barrier_wait(t->start);
    int64_t t0 = bench_now_ns();
    t->c->side(t->st, t->side, t->n);
    t->elapsed = bench_now_ns() - t0;
    return NULL;
}

// Runs n round trips; returns ns per round trip as side 0 saw it.
static double
pingpong_rep(const bench_case *c, pin_mode mode, uint64_t n)
{
    void *st = c->open();
    pthread_barrier_t start;
    BENCH_CHECK(pthread_barrier_init(&start, NULL, 2));
    pp_thread th[2];
    pthread_t tid[2];
    for (int i = 0; i < 2; i++) {
        th[i] = (pp_thread){c, st, i, n, &start, 0};
        thread_start(&tid[i], pp_main, &th[i], pin_index(mode, i));
    }
    thread_join(tid[0]);
    thread_join(tid[1]);
    BENCH_CHECK(pthread_barrier_destroy(&start));
    c->close(st);
    return (double)th[0].elapsed / (double)n;
}

static uint64_t
calibrate_pingpong(const bench_case *c, pin_mode mode)
{
    double target = opt.pingpong_s * 1e9;
    uint64_t n = 32;
    for (;;) {
        double per = pingpong_rep(c, mode, n);
        double dt = per * (double)n;
        if (dt >= target / 10 || n >= 1000000) {
            double want = per > 0 ? target / per : 1000000;
            want = want < 32 ? 32 : want > 2000000 ? 2000000 : want;
            return (uint64_t)want;
        }
        n *= 8;
    }
}

static bool
pingpong_runs(const bench_case *c, pin_mode mode)
{
    if (case_skip_reason(c) != NULL) {
        return false;
    }
    if (mode == PIN_DIFF && g_ncpu < 2) {
        return false;
    }
    return !(c->flags & BENCH_DIFF_ONLY) || mode == PIN_DIFF;
}

static void
section_pingpong(void)
{
    const char *sec = BENCH_SEC_PINGPONG;
    const bench_case *cases[32];
    int n = 0;
    for (const bench_case *c = bench_wake_cases; c->name != NULL; c++) {
        if (strcmp(c->section, sec) == 0 && case_selected(c) && n < 32) {
            cases[n++] = c;
        }
    }
    char how[320];
    snprintf(how, sizeof(how),
             "ns per round trip (2 wake-ups) between 2 threads; same = both "
             "on CPU %d, diff = CPUs %d and %d, unpinned; ~%.2f s per rep, "
             "median of %d reps",
             g_cpus[0], g_cpus[0], g_cpus[g_ncpu > 1 ? 1 : 0], opt.pingpong_s,
             opt.reps);
    section_header("4a. Wake-up round trip (ping-pong)", how);
    if (g_ncpu < 2) {
        printf("   only 1 CPU available: the different-CPU rows are "
               "skipped\n");
    }
    pin_mode modes[] = {PIN_SAME, PIN_DIFF, PIN_NONE};
    for (int m = 0; m < 3; m++) {
        uint64_t iters[32];
        for (int i = 0; i < n; i++) {
            iters[i] = pingpong_runs(cases[i], modes[m])
                           ? calibrate_pingpong(cases[i], modes[m])
                           : 0;
        }
        for (int rep = 0; rep < opt.reps; rep++) {
            for (int i = 0; i < n; i++) {
                if (iters[i] == 0) {
                    continue;
                }
                double v = pingpong_rep(cases[i], modes[m], iters[i]);
                result_push(result_get(sec, cases[i]->name, pin_names[modes[m]],
                                       0, "ns", "ns"),
                            v);
            }
        }
    }
    printf("  %-14s %-9s %12s %7s %12s %7s %12s %7s  %s\n", "case", "role",
           "same CPU", "spread", "diff CPUs", "spread", "unpinned", "spread",
           "note");
    for (int i = 0; i < n; i++) {
        const bench_case *c = cases[i];
        char cols[3][2][24];
        for (int m = 0; m < 3; m++) {
            const result *r =
                result_find(sec, c->name, pin_names[modes[m]], 0, "ns");
            if (r == NULL) {
                snprintf(cols[m][0], 24, "-");
                snprintf(cols[m][1], 24, "-");
            } else {
                snprintf(cols[m][0], 24, "%.0f", r_median(r));
                fmt_spread(cols[m][1], 24, r);
            }
        }
        const char *why = case_skip_reason(c);
        printf("  %-14s %-9s %12s %7s %12s %7s %12s %7s  %s\n", c->name,
               role_name(c->role), cols[0][0], cols[0][1], cols[1][0],
               cols[1][1], cols[2][0], cols[2][1],
               why ? why : (c->note ? c->note : ""));
    }
    print_cmp_header();
    const char *ours[] = {"ct_event", "ct_condition", "ct_semaphore"};
    for (size_t i = 0; i < 3; i++) {
        char label[64];
        snprintf(label, sizeof(label), "%s same CPU vs sem_t", ours[i]);
        compare(sec, label, med_of(sec, ours[i], "same", 0, "ns"), "ns",
                "sem_t", med_of(sec, "sem_t", "same", 0, "ns"), true, T_LE, 1.1,
                NULL);
    }
    for (size_t i = 0; i < 3; i++) {
        char label[64];
        snprintf(label, sizeof(label), "%s diff CPUs vs pthread_cond", ours[i]);
        compare(sec, label, med_of(sec, ours[i], "diff", 0, "ns"), "ns",
                "pthread_cond", med_of(sec, "pthread_cond", "diff", 0, "ns"),
                true, T_LE, 0.1, g_ncpu < 2 ? "only 1 CPU" : NULL);
    }
}

typedef struct burn_thread {
    const bench_case *c;
    void *st;
    pthread_barrier_t *start;
    int64_t cpu_ns, wall_ns;
} burn_thread;

static void *
burn_waiter(void *arg)
{
    burn_thread *t = arg;
    pthread_barrier_wait(t->start);
    int64_t c0 = thread_cpu_ns(), w0 = bench_now_ns();
    t->c->wait(t->st);
    t->cpu_ns = thread_cpu_ns() - c0;
    t->wall_ns = bench_now_ns() - w0;
    return NULL;
}

static void *
burn_waker(void *arg)
{
    burn_thread *t = arg;
    pthread_barrier_wait(t->start);
    sleep_ns(opt.burn_ns);
    t->c->wake(t->st);
    return NULL;
}

static void
section_burn(void)
{
    const char *sec = BENCH_SEC_BURN;
    pin_mode mode = g_ncpu > 1 ? PIN_DIFF : PIN_SAME;
    // A rep costs only one 50 ms wait, and the figures swing by tens of us
    // (the FUTEX_WAIT floor alone went from 14 to 78 us in one run), so
    // this section takes twice the reps plus one for a steadier median.
    int reps = opt.reps * 2 + 1;
    char how[320];
    snprintf(how, sizeof(how),
             "CPU time the waiting thread uses for one wait that lasts %.0f "
             "ms (CLOCK_THREAD_CPUTIME_ID around the call, in the waiter; "
             "includes the wake-up); waiter and waker pinned %s; median of %d "
             "reps",
             (double)opt.burn_ns / 1e6, pin_names[mode], reps);
    section_header("4b. CPU burnt by a waiter before it sleeps", how);
    const bench_case *cases[32];
    int n = 0;
    for (const bench_case *c = bench_wake_cases; c->name != NULL; c++) {
        if (strcmp(c->section, sec) == 0 && case_selected(c) && n < 32) {
            cases[n++] = c;
        }
    }
    for (int rep = 0; rep < reps; rep++) {
        for (int i = 0; i < n; i++) {
            const bench_case *c = cases[i];
            if (case_skip_reason(c) != NULL) {
                continue;
            }
            pthread_barrier_t start;
            BENCH_CHECK(pthread_barrier_init(&start, NULL, 2));
            burn_thread t = {c, c->open(), &start, 0, 0};
            pthread_t w, k;
            thread_start(&w, burn_waiter, &t, pin_index(mode, 0));
            thread_start(&k, burn_waker, &t, pin_index(mode, 1));
            thread_join(w);
            thread_join(k);
            BENCH_CHECK(pthread_barrier_destroy(&start));
            c->close(t.st);
            result_push(
                result_get(sec, c->name, pin_names[mode], 0, "cpu_us", "us"),
                (double)t.cpu_ns / 1e3);
            result_push(
                result_get(sec, c->name, pin_names[mode], 0, "wall_ms", "ms"),
                (double)t.wall_ns / 1e6);
        }
    }
    printf("  %-14s %-9s %12s %9s %9s %9s  %s\n", "case", "role", "CPU us/wait",
           "min", "max", "wall ms", "note");
    for (int i = 0; i < n; i++) {
        const bench_case *c = cases[i];
        const result *r =
            result_find(sec, c->name, pin_names[mode], 0, "cpu_us");
        const result *w =
            result_find(sec, c->name, pin_names[mode], 0, "wall_ms");
        if (r == NULL) {
            printf("  %-14s %-9s %12s  %s\n", c->name, role_name(c->role), "-",
                   case_skip_reason(c) ? case_skip_reason(c) : "not run");
            continue;
        }
        printf("  %-14s %-9s %12.1f %9.1f %9.1f %9.1f  %s\n", c->name,
               role_name(c->role), r_median(r), r_min(r), r_max(r), r_median(w),
               c->note ? c->note : "");
    }
    print_cmp_header();
    const char *ours[] = {"ct_event", "ct_condition", "ct_semaphore", "ct_lock",
                          "ct_queue"};
    const char *base[] = {"sem_t", "pthread_cond", "sem_t", "futex",
                          "pthread_cond"};
    const size_t nours = sizeof(ours) / sizeof(ours[0]);
    const char *pm = pin_names[mode];
    // The whole CPU of one wait, beside a baseline's: informational, since
    // it includes the kernel's sleep and wake-up, which cost 15-30 us of
    // thread CPU on some hosts for a bare FUTEX_WAIT alone.
    for (size_t i = 0; i < nours; i++) {
        char label[64];
        snprintf(label, sizeof(label), "%s CPU per wait", ours[i]);
        compare(sec, label, med_of(sec, ours[i], pm, 0, "cpu_us"), "us",
                base[i], med_of(sec, base[i], pm, 0, "cpu_us"), false, T_NONE,
                0, NULL);
    }
    // What the goal means by "burns before it sleeps": the CPU above what a
    // bare FUTEX_WAIT and its wake-up cost the same thread in this run.
    double floor_us = med_of(sec, "futex", pm, 0, "cpu_us");
    for (size_t i = 0; i < nours; i++) {
        char label[64];
        snprintf(label, sizeof(label), "%s net of FUTEX_WAIT floor", ours[i]);
        compare(sec, label, med_of(sec, ours[i], pm, 0, "cpu_us") - floor_us,
                "us", NULL, NAN, false, T_LE, 10,
                isnan(floor_us) ? "futex floor not run" : NULL);
    }
}

// ---- Thread start+join ----------------------------------------------------

// The creator: calibrates and times every case, latency first (one thread
// at a time), then batches; the reps are interleaved as in the loop
// sections. The threads it creates inherit its CPU affinity.
typedef struct thread_job {
    const bench_case *cases[16];
    int ncases;
    int batch; // threads per batch
    const char *mode;
} thread_job;

// Runs n threads one at a time (k == 0) or n batches of k; returns the ns.
static int64_t
time_threads(const bench_case *c, int k, uint64_t n)
{
    int64_t t0 = bench_now_ns();
    if (k == 0) {
        c->loop(n);
    } else {
        c->batch(n, k);
    }
    return bench_now_ns() - t0;
}

// Picks n so that one rep takes about opt.thread_s, within [4, 100000].
static uint64_t
calibrate_threads(const bench_case *c, int k)
{
    const uint64_t lo = 4, hi = 100000;
    double target = opt.thread_s * 1e9;
    uint64_t n = lo;
    for (;;) {
        int64_t dt = time_threads(c, k, n);
        if (dt >= target / 5 || n >= hi) {
            double want = dt > 0 ? (double)n * target / (double)dt : hi;
            want = want < lo ? lo : want > hi ? hi : want;
            return (uint64_t)want;
        }
        n *= 4;
    }
}

static void *
thread_creator(void *arg)
{
    thread_job *job = arg;
    const char *sec = BENCH_SEC_THREAD;
    for (int pass = 0; pass < 2; pass++) {
        int k = pass == 0 ? 0 : job->batch;
        const char *metric = pass == 0 ? "latency_ns" : "batch_ns";
        uint64_t n[16];
        for (int i = 0; i < job->ncases; i++) {
            n[i] = calibrate_threads(job->cases[i], k);
        }
        for (int rep = 0; rep < opt.reps; rep++) {
            for (int i = 0; i < job->ncases; i++) {
                const bench_case *c = job->cases[i];
                int64_t dt = time_threads(c, k, n[i]);
                double per = (double)dt / ((double)n[i] * (k ? k : 1));
                result_push(
                    result_get(sec, c->name, job->mode, k, metric, "ns"), per);
            }
        }
    }
    return NULL;
}

// One table: ns per thread and threads/s in each mode, with the ratio to
// pthread_create of the same mode.
static void
print_thread_table(const char *metric, int k, const pin_mode *modes)
{
    const char *sec = BENCH_SEC_THREAD;
    printf("  %-15s %-9s", "case", "role");
    for (int m = 0; m < 2; m++) {
        printf(" %9s %7s %8s %6s", m == 0 ? "same CPU" : "unpinned", "spread",
               "thr/s", "vs pt");
    }
    printf("  note\n");
    for (const bench_case *c = bench_thread_cases; c->name != NULL; c++) {
        if (!case_selected(c)) {
            continue;
        }
        const char *why = case_skip_reason(c);
        printf("  %-15s %-9s", c->name, role_name(c->role));
        for (int m = 0; m < 2; m++) {
            const char *pm = pin_names[modes[m]];
            const result *r = result_find(sec, c->name, pm, k, metric);
            double ref = med_of(sec, "pthread_create", pm, k, metric);
            char ns[24], sp[16], rate[24], vs[16];
            snprintf(ns, sizeof(ns), "-");
            snprintf(sp, sizeof(sp), "-");
            snprintf(rate, sizeof(rate), "-");
            snprintf(vs, sizeof(vs), "-");
            if (r != NULL) {
                double med = r_median(r);
                snprintf(ns, sizeof(ns), "%.0f", med);
                fmt_spread(sp, sizeof(sp), r);
                snprintf(rate, sizeof(rate), "%.0fk", 1e6 / med);
                if (!isnan(ref)) {
                    snprintf(vs, sizeof(vs), "%.2f", med / ref);
                }
            }
            printf(" %9s %7s %8s %6s", ns, sp, rate, vs);
        }
        printf("  %s\n", why ? why : (c->note ? c->note : ""));
    }
}

static void
section_thread(void)
{
    const char *sec = BENCH_SEC_THREAD;
    int k = opt.threads != 0 ? opt.threads : BENCH_BATCH_MAX;
    char how[384];
    snprintf(how, sizeof(how),
             "ns per thread from creation to join, target returns at once; "
             "one creator thread, pinned to CPU %d (same: the threads it "
             "creates inherit that CPU) or unpinned; latency = create, then "
             "join, one at a time; batch = start %d, then join the %d; "
             "~%.3f s per rep, median of %d reps",
             g_cpus[0], k, k, opt.thread_s, opt.reps);
    section_header("6. Thread start+join", how);
    pin_mode modes[] = {PIN_SAME, PIN_NONE};
    for (int m = 0; m < 2; m++) {
        thread_job job;
        memset(&job, 0, sizeof(job));
        job.batch = k;
        job.mode = pin_names[modes[m]];
        for (const bench_case *c = bench_thread_cases; c->name != NULL; c++) {
            if (case_selected(c) && case_skip_reason(c) == NULL &&
                job.ncases < 16) {
                job.cases[job.ncases++] = c;
            }
        }
        pthread_t t;
        thread_start(&t, thread_creator, &job, pin_index(modes[m], 0));
        thread_join(t);
    }
    printf("  latency: create, then join, one thread at a time (ns per "
           "thread; vs pt = ratio to pthread_create):\n");
    print_thread_table("latency_ns", 0, modes);
    printf("\n  throughput: batches of %d, start all, then join all (ns per "
           "thread):\n",
           k);
    print_thread_table("batch_ns", k, modes);

    print_cmp_header();
    for (int m = 0; m < 2; m++) {
        const char *pm = pin_names[modes[m]];
        const char *where = modes[m] == PIN_SAME ? "same CPU" : pm;
        // Targets on the pinned figures (the unpinned ones are bimodal).
        target_op op = modes[m] == PIN_SAME ? T_LE : T_NONE;
        const char *note = modes[m] == PIN_SAME ? NULL : "no target: unpinned";
        char label[64];
        snprintf(label, sizeof(label), "ct_thread start+join, %s", where);
        compare(sec, label, med_of(sec, "ct_thread", pm, 0, "latency_ns"), "ns",
                "pthread_create",
                med_of(sec, "pthread_create", pm, 0, "latency_ns"), true, op,
                1.2, note);
        snprintf(label, sizeof(label), "ct_thread batch of %d, %s", k, where);
        compare(sec, label, med_of(sec, "ct_thread", pm, k, "batch_ns"), "ns",
                "pthread_create",
                med_of(sec, "pthread_create", pm, k, "batch_ns"), true, op, 1.2,
                note);
    }
}

// ---- Queues -----------------------------------------------------------------

// One throughput rep's shared state, and one producer's or consumer's.
typedef struct q_rep_state {
    const bench_case *c;
    void *q;
    pthread_barrier_t start;
} q_rep_state;

typedef struct q_thread {
    _Alignas(64) q_rep_state *rs; // each thread's record on its own line
    bool producer;
    uint64_t n;     // items to put (producer) or to get (consumer)
    uint64_t sum;   // consumer: the sum of the items it took
    int64_t t0, t1; // after the start barrier, after the last item
} q_thread;

#define Q_MAX_THREADS 8

// A producer puts the items 1..n; a consumer takes exactly its share of
// all the items put, whatever their order, so every queue kind (LIFO and
// priority included) ends without sentinels or timeouts.
static void *
q_main(void *arg)
{
    q_thread *t = arg;
    const bench_case *c = t->rs->c;
    void *q = t->rs->q;
    pthread_barrier_wait(&t->rs->start);
    t->t0 = bench_now_ns();
    if (t->producer) {
        for (uint64_t i = 1; i <= t->n; i++) {
            c->put(q, (void *)(uintptr_t)i);
        }
    } else {
        uint64_t sum = 0;
        for (uint64_t i = 0; i < t->n; i++) {
            sum += (uintptr_t)c->get(q);
        }
        t->sum = sum;
    }
    t->t1 = bench_now_ns();
    return NULL;
}

// One rep: nprod producers put n items each, ncons consumers take them all;
// threads 0..nprod-1 are the producers, then the consumers (pinned by
// pin_index). Returns M items/s from the first thread's release from the
// start barrier to the last consumer's last item. Checks that the items
// taken add up to the items put.
static double
queue_rep(const bench_case *c, int nprod, int ncons, pin_mode mode, uint64_t n)
{
    int nthreads = nprod + ncons;
    q_rep_state rs = {.c = c, .q = c->open()};
    BENCH_CHECK(pthread_barrier_init(&rs.start, NULL, (unsigned)nthreads));
    q_thread th[Q_MAX_THREADS];
    pthread_t tid[Q_MAX_THREADS];
    uint64_t total = n * (uint64_t)nprod;
    for (int i = 0; i < nthreads; i++) {
        memset(&th[i], 0, sizeof(th[i]));
        th[i].rs = &rs;
        th[i].producer = i < nprod;
        if (th[i].producer) {
            th[i].n = n;
        } else {
            uint64_t k = (uint64_t)(i - nprod);
            th[i].n = total / (uint64_t)ncons + (k < total % (uint64_t)ncons);
        }
        thread_start(&tid[i], q_main, &th[i], pin_index(mode, i));
    }
    for (int i = 0; i < nthreads; i++) {
        thread_join(tid[i]);
    }
    BENCH_CHECK(pthread_barrier_destroy(&rs.start));
    c->close(rs.q);
    uint64_t sum = 0;
    int64_t t0 = th[0].t0, t1 = 0;
    for (int i = 0; i < nthreads; i++) {
        t0 = th[i].t0 < t0 ? th[i].t0 : t0;
        if (!th[i].producer) {
            sum += th[i].sum;
            t1 = th[i].t1 > t1 ? th[i].t1 : t1;
        }
    }
    uint64_t want = (uint64_t)nprod * (n * (n + 1) / 2);
    if (sum != want) {
        fprintf(stderr,
                "ct_bench: %s: the items taken add up to %llu, not %llu "
                "(items lost or duplicated)\n",
                c->name, (unsigned long long)sum, (unsigned long long)want);
        exit(1);
    }
    return (double)total / (double)(t1 > t0 ? t1 - t0 : 1) * 1e3;
}

// Picks the items per producer so that a rep takes about opt.queue_s,
// within [4096, 16M].
static uint64_t
calibrate_queue(const bench_case *c, int nprod, int ncons, pin_mode mode)
{
    const uint64_t lo = 4096, hi = 16u << 20;
    double target = opt.queue_s * 1e9;
    uint64_t n = lo;
    for (;;) {
        double mips = queue_rep(c, nprod, ncons, mode, n);
        double dt = (double)n * nprod / mips * 1e3;
        if (dt >= target / 10 || n >= hi) {
            double want = target * mips / 1e3 / nprod;
            want = want < lo ? lo : want > hi ? hi : want;
            return (uint64_t)want;
        }
        n *= 8;
    }
}

// The note of a comparison row of a pinned section: targets apply to the
// diff figures; a GLib baseline may be missing, diff may lack a CPU.
static const char *
cmp_note(pin_mode mode, bool glib_baseline)
{
    if (glib_baseline && !glib_built()) {
        return "GLib not installed";
    }
    if (mode == PIN_DIFF && g_ncpu < 2) {
        return "only 1 CPU";
    }
    if (mode == PIN_DIFF) {
        return NULL;
    }
    return mode == PIN_SAME ? "no target: same CPU" : "no target: unpinned";
}

// Whether a queue or executor case runs in this mode (diff needs 2 CPUs).
static bool
case_runs(const bench_case *c, pin_mode mode)
{
    return case_skip_reason(c) == NULL && !(mode == PIN_DIFF && g_ncpu < 2);
}

// Python's queue.Queue(1024), 1 producer thread and the consumer in the
// main thread, as baselines.md B6 measured it. Argument 1: the reps;
// argument 2: the seconds per rep. Prints one figure (M items/s) per rep.
// No single quotes: the shell passes the script in them.
static const char py_queue_script[] =
    "import queue, sys, threading, time\n"
    "def rep(n):\n"
    "    q = queue.Queue(1024)\n"
    "    def produce():\n"
    "        put = q.put\n"
    "        for i in range(n):\n"
    "            put(i)\n"
    "    get = q.get\n"
    "    t = threading.Thread(target=produce)\n"
    "    t0 = time.perf_counter()\n"
    "    t.start()\n"
    "    for i in range(n):\n"
    "        get()\n"
    "    dt = time.perf_counter() - t0\n"
    "    t.join()\n"
    "    return n / dt\n"
    "reps, secs = int(sys.argv[1]), float(sys.argv[2])\n"
    "n = max(1000, int(rep(20000) * secs))\n"
    "for k in range(reps):\n"
    "    print(rep(n) / 1e6, flush=True)\n";

// Runs the script with python3, if there is one; the result goes under the
// case "python_queue", unpinned, 2 threads. Returns why it did not run, or
// NULL.
static const char *
python_queue(void)
{
    if (system("command -v python3 > /dev/null 2>&1") != 0) {
        return "skipped: python3 not found";
    }
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "python3 -c '%s' %d %g 2>/dev/null",
             py_queue_script, opt.reps, opt.python_s);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return "skipped: cannot start python3";
    }
    result *r = NULL;
    char line[256];
    while (fgets(line, sizeof(line), p) != NULL) {
        char *end;
        double v = strtod(line, &end);
        if (end != line && v > 0) {
            r = r ? r
                  : result_get(BENCH_SEC_QUEUE, "python_queue", "unpinned", 2,
                               "mitems", "M items/s");
            result_push(r, v);
        }
    }
    if (pclose(p) != 0 || r == NULL) {
        return "skipped: python3 failed";
    }
    return NULL;
}

static void
print_queue_table(const bench_case *const *cases, int n, int nthreads,
                  const char *py_why)
{
    const char *sec = BENCH_SEC_QUEUE;
    static const pin_mode modes[] = {PIN_SAME, PIN_DIFF, PIN_NONE};
    double ring = med_of(sec, "pthread_ring", "diff", nthreads, "mitems");
    printf("  %-18s %-8s %9s %7s %9s %7s %9s %7s %8s  %s\n", "case", "role",
           "same CPU", "spread", "diff CPUs", "spread", "unpinned", "spread",
           "vs ring", "note");
    for (int i = 0; i <= n; i++) {
        // The row after the cases: Python, 1p/1c only.
        bool py = i == n;
        if (py && nthreads != 2) {
            break;
        }
        const char *name = py ? "python_queue" : cases[i]->name;
        char cols[3][2][24];
        for (int m = 0; m < 3; m++) {
            const result *r =
                result_find(sec, name, pin_names[modes[m]], nthreads, "mitems");
            snprintf(cols[m][0], 24, "-");
            snprintf(cols[m][1], 24, "-");
            if (r != NULL) {
                snprintf(cols[m][0], 24, "%.2f", r_median(r));
                fmt_spread(cols[m][1], 24, r);
            }
        }
        double diff = med_of(sec, name, "diff", nthreads, "mitems");
        char vs[16];
        snprintf(vs, sizeof(vs), "-");
        if (!isnan(diff) && !isnan(ring)) {
            snprintf(vs, sizeof(vs), "%.2f", diff / ring);
        }
        const char *note;
        if (py) {
            note = py_why ? py_why : "python3 queue.Queue(1024), GIL";
        } else {
            const char *why = case_skip_reason(cases[i]);
            note = why ? why : (cases[i]->note ? cases[i]->note : "");
        }
        printf("  %-18s %-8s %9s %7s %9s %7s %9s %7s %8s  %s\n", name,
               py ? "baseline" : role_name(cases[i]->role), cols[0][0],
               cols[0][1], cols[1][0], cols[1][1], cols[2][0], cols[2][1], vs,
               note);
    }
}

static void
section_queue(void)
{
    const char *sec = BENCH_SEC_QUEUE;
    char how[512];
    snprintf(how, sizeof(how),
             "M items/s through one queue: P producers put n pointer items "
             "each, C consumers take all P*n (each its share); timed from "
             "the start barrier to the last item taken; ~%.2f s per rep, "
             "median of %d reps; same = all threads on CPU %d, diff = "
             "thread i on CPU i mod %d (producers first, then consumers), "
             "unpinned; vs ring = diff / pthread_ring diff",
             opt.queue_s, opt.reps, g_cpus[0], g_ncpu);
    section_header("8. Queues", how);
    if (g_ncpu < 2) {
        printf("   only 1 CPU available: the different-CPU columns are "
               "skipped\n");
    }
    const bench_case *cases[32];
    int n = 0;
    for (const bench_case *c = bench_queue_cases; c->name != NULL; c++) {
        if (strcmp(c->section, sec) == 0 && case_selected(c) && n < 32) {
            cases[n++] = c;
        }
    }
    static const int configs[][2] = {{1, 1}, {2, 2}};
    pin_mode modes[] = {PIN_SAME, PIN_DIFF, PIN_NONE};
    for (size_t k = 0; k < 2; k++) {
        int np = configs[k][0], nc = configs[k][1];
        for (int m = 0; m < 3; m++) {
            uint64_t items[32];
            for (int i = 0; i < n; i++) {
                items[i] = case_runs(cases[i], modes[m])
                               ? calibrate_queue(cases[i], np, nc, modes[m])
                               : 0;
            }
            for (int rep = 0; rep < opt.reps; rep++) {
                for (int i = 0; i < n; i++) {
                    if (items[i] == 0) {
                        continue;
                    }
                    double v = queue_rep(cases[i], np, nc, modes[m], items[i]);
                    result_push(result_get(sec, cases[i]->name,
                                           pin_names[modes[m]], np + nc,
                                           "mitems", "M items/s"),
                                v);
                }
            }
        }
    }
    const bench_case py_case = {.name = "python_queue"};
    const char *py_why = "not selected";
    if (case_selected(&py_case)) {
        py_why = python_queue();
    }

    int c0 = g_cpus[0], c1 = g_cpus[g_ncpu > 1 ? 1 : 0];
    printf("\n  1 producer / 1 consumer (diff: producer on CPU %d, consumer "
           "on CPU %d):\n",
           c0, c1);
    print_queue_table(cases, n, 2, py_why);
    printf("\n  2 producers / 2 consumers (diff: one producer and one "
           "consumer on each CPU, P0+C0 on CPU %d, P1+C1 on CPU %d):\n",
           c0, c1);
    print_queue_table(cases, n, 4, NULL);

    printf("\n  timeouts: put+get pairs on one thread, a Queue(1024) holding "
           "4 items (nothing waits); ns per pair; 1 worker pinned to CPU %d; "
           "median of %d reps of ~%.3f s:\n",
           g_cpus[0], opt.reps, opt.loop_s);
    run_loop_section(bench_queue_cases, BENCH_SEC_QUEUE_TIMED);
    print_loop_table(bench_queue_cases, BENCH_SEC_QUEUE_TIMED, "ns/pair",
                     "ct_queue_forever");

    print_cmp_header();
    // Targets on the diff figures (baselines.md B4 "pinned"); the same-CPU
    // and unpinned ratios are shown for information.
    static const struct {
        int nthreads;
        const char *base, *label;
        double limit;
    } rows[] = {
        {2, "pthread_ring", "ring", 3},
        {2, "gasyncqueue", "GAsyncQueue", 2},
        {4, "gasyncqueue", "GAsyncQueue", 3},
    };
    const pin_mode cmp_modes[] = {PIN_DIFF, PIN_SAME, PIN_NONE};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int m = 0; m < 3; m++) {
            const char *pm = pin_names[cmp_modes[m]];
            bool target = cmp_modes[m] == PIN_DIFF;
            const char *note = cmp_note(
                cmp_modes[m], strcmp(rows[i].base, "gasyncqueue") == 0);
            char label[64];
            snprintf(label, sizeof(label), "ct_queue %s %s vs %s",
                     rows[i].nthreads == 2 ? "1p/1c" : "2p/2c",
                     cmp_modes[m] == PIN_SAME ? "same CPU" : pm, rows[i].label);
            compare(sec, label,
                    med_of(sec, "ct_queue", pm, rows[i].nthreads, "mitems"),
                    "M/s", rows[i].base,
                    med_of(sec, rows[i].base, pm, rows[i].nthreads, "mitems"),
                    true, target ? T_GE : T_NONE, rows[i].limit, note);
        }
    }
    compare(sec, "ct_queue 1p/1c diff vs Python",
            med_of(sec, "ct_queue", "diff", 2, "mitems"), "M/s",
            "python queue.Queue",
            med_of(sec, "python_queue", "unpinned", 2, "mitems"), true, T_GE,
            10, py_why ? py_why : "Python unpinned (GIL)");
    const char *tsec = BENCH_SEC_QUEUE_TIMED;
    double untimed = med_of(tsec, "ct_queue_forever", "same", 0, "ns");
    compare(sec, "ct_queue put+get, 1 s timeout",
            med_of(tsec, "ct_queue_timed_1s", "same", 0, "ns"), "ns", "untimed",
            untimed, true, T_LE, 1.1, NULL);
    compare(sec, "ct_queue put+get, CT_NOWAIT",
            med_of(tsec, "ct_queue_nowait", "same", 0, "ns"), "ns", "untimed",
            untimed, true, T_NONE, 0, NULL);
}

// ---- Executors -------------------------------------------------------------

// One rep of one executor case in one pinning mode.
typedef struct exec_job {
    const bench_case *c;
    pin_mode mode;
    bool latency;
    uint64_t n;   // tasks (throughput) or round trips (latency)
    double value; // out: M tasks/s, or the median round trip in ns
    double mean;  // out (latency): the mean round trip in ns
    double idle;  // out (latency): the median round trip after a pause
} exec_job;

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// Round trips before a latency rep's timed ones: the pool's threads are
// all waiting for work when the first timed task comes.
#define EXEC_WARM_ROUNDS 16
// The pause before each "after a pause" round trip: far longer than any
// spin before sleeping (spin.h: 4 us), so every worker sleeps when the
// task comes.
#define EXEC_PAUSE_NS 100000

// Times n round trips one by one, each after a pause of pause_ns if it is
// not 0; returns the median in ns, and the mean in *mean.
static double
exec_round_trips(const bench_case *c, void *st, uint64_t n, int64_t pause_ns,
                 double *mean)
{
    int64_t *rt = malloc(n * sizeof(int64_t));
    if (rt == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (pause_ns > 0) {
            sleep_ns(pause_ns);
        }
        int64_t t0 = bench_now_ns();
        c->tasks(st, 1);
        rt[i] = bench_now_ns() - t0;
        sum += (double)rt[i];
    }
    qsort(rt, n, sizeof(int64_t), cmp_i64);
    uint64_t h = n / 2;
    double med =
        n % 2 ? (double)rt[h] : ((double)rt[h - 1] + (double)rt[h]) / 2;
    *mean = sum / (double)n;
    free(rt);
    return med;
}

// Makes the pool, then runs the timed part. The thread starts on the
// workers' CPU (CPU 0 for same, CPU 1 for diff, any for unpinned), so the
// pool's threads, which open() creates, inherit it; for diff it then moves
// itself to CPU 0 and submits from there.
static void *
exec_thread(void *arg)
{
    exec_job *job = arg;
    const bench_case *c = job->c;
    void *st = c->open();
    if (job->mode == PIN_DIFF) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(g_cpus[0], &set);
        BENCH_CHECK(pthread_setaffinity_np(pthread_self(), sizeof(set), &set));
    }
    if (!job->latency) {
        int64_t t0 = bench_now_ns();
        c->tasks(st, job->n);
        int64_t dt = bench_now_ns() - t0;
        job->value = (double)job->n / (double)(dt > 0 ? dt : 1) * 1e3;
    } else {
        c->tasks(st, EXEC_WARM_ROUNDS);
        job->value = exec_round_trips(c, st, job->n, 0, &job->mean);
        double unused;
        job->idle = exec_round_trips(c, st, opt.exec_idle_rounds, EXEC_PAUSE_NS,
                                     &unused);
    }
    c->close(st);
    return NULL;
}

// Python's ThreadPoolExecutor(max_workers=2), as baselines.md B5 and B6
// measured it. Arguments: the reps, the tasks per throughput rep, the
// round trips per latency rep, back to back and after a pause. Each rep
// uses new executors whose two threads were started by a first burst of
// tasks, and prints three lines: "T <M tasks/s>", "L <median ns> <mean
// ns>" and "I <median ns after a pause>". The script starts with the
// pause ("PAUSE = seconds"). No single quotes: the shell passes the
// script in them.
static const char py_executor_script[] =
    "import statistics, sys, time\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "def f():\n"
    "    pass\n"
    "def pool():\n"
    "    ex = ThreadPoolExecutor(max_workers=2)\n"
    "    for x in [ex.submit(f) for _ in range(64)]:\n"
    "        x.result()\n"
    "    return ex\n"
    "reps, n = int(sys.argv[1]), int(sys.argv[2])\n"
    "rounds, idle_rounds = int(sys.argv[3]), int(sys.argv[4])\n"
    "def trips(ex, k, pause):\n"
    "    now = time.perf_counter_ns\n"
    "    rt = []\n"
    "    for i in range(k):\n"
    "        if pause:\n"
    "            time.sleep(pause)\n"
    "        t0 = now()\n"
    "        ex.submit(f).result()\n"
    "        rt.append(now() - t0)\n"
    "    return rt\n"
    "for k in range(reps):\n"
    "    ex = pool()\n"
    "    t0 = time.perf_counter()\n"
    "    fs = [ex.submit(f) for _ in range(n)]\n"
    "    for x in fs:\n"
    "        x.result()\n"
    "    dt = time.perf_counter() - t0\n"
    "    ex.shutdown()\n"
    "    print(\"T\", n / dt / 1e6, flush=True)\n"
    "    ex = pool()\n"
    "    rt = trips(ex, rounds, 0)\n"
    "    print(\"L\", statistics.median(rt), statistics.fmean(rt), "
    "flush=True)\n"
    "    rt = trips(ex, idle_rounds, PAUSE)\n"
    "    print(\"I\", statistics.median(rt), flush=True)\n"
    "    ex.shutdown()\n";

// Runs the script with python3, if there is one; the results go under the
// case "python_executor", unpinned. Returns why it did not run, or NULL.
static const char *
python_executor(void)
{
    if (system("command -v python3 > /dev/null 2>&1") != 0) {
        return "skipped: python3 not found";
    }
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'PAUSE = %g\n%s' %d %llu %llu %llu 2>/dev/null",
             EXEC_PAUSE_NS / 1e9, py_executor_script, opt.reps,
             (unsigned long long)opt.py_exec_tasks,
             (unsigned long long)opt.py_exec_rounds,
             (unsigned long long)opt.py_exec_idle_rounds);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return "skipped: cannot start python3";
    }
    int got = 0;
    char line[256];
    const char *name = "python_executor";
    while (fgets(line, sizeof(line), p) != NULL) {
        char *end;
        if (line[0] == 'T' && line[1] == ' ') {
            double v = strtod(line + 2, &end);
            if (end != line + 2 && v > 0) {
                result_push(result_get(BENCH_SEC_EXECUTOR, name, "unpinned",
                                       BENCH_EXEC_WORKERS, "mtasks",
                                       "M tasks/s"),
                            v);
                got++;
            }
        } else if (line[0] == 'L' && line[1] == ' ') {
            double med = strtod(line + 2, &end);
            double mean = strtod(end, NULL);
            if (end != line + 2 && med > 0) {
                result_push(result_get(BENCH_SEC_EXECUTOR_LATENCY, name,
                                       "unpinned", BENCH_EXEC_WORKERS, "rtt_ns",
                                       "ns"),
                            med);
                result_push(result_get(BENCH_SEC_EXECUTOR_LATENCY, name,
                                       "unpinned", BENCH_EXEC_WORKERS,
                                       "rtt_mean_ns", "ns"),
                            mean);
                got++;
            }
        } else if (line[0] == 'I' && line[1] == ' ') {
            double med = strtod(line + 2, &end);
            if (end != line + 2 && med > 0) {
                result_push(result_get(BENCH_SEC_EXECUTOR_LATENCY, name,
                                       "unpinned", BENCH_EXEC_WORKERS,
                                       "rtt_idle_ns", "ns"),
                            med);
                got++;
            }
        }
    }
    if (pclose(p) != 0 || got == 0) {
        return "skipped: python3 failed";
    }
    return NULL;
}

// One table: a column pair (median, spread) per mode, the ratio of the diff
// figure to `ref`'s, and the Python row (unpinned only) after the cases.
static void
print_exec_table(const char *sec, const char *metric, const char *ref,
                 const bench_case *const *cases, int n, const char *py_note)
{
    static const pin_mode modes[] = {PIN_SAME, PIN_DIFF, PIN_NONE};
    bool latency = strcmp(sec, BENCH_SEC_EXECUTOR_LATENCY) == 0;
    const int w = BENCH_EXEC_WORKERS;
    double refv = med_of(sec, ref, "diff", w, metric);
    char vs_head[32];
    snprintf(vs_head, sizeof(vs_head), "vs %s", ref);
    printf("  %-18s %-8s %9s %7s %9s %7s %9s %7s %15s  %s\n", "case", "role",
           "same CPU", "spread", "diff CPUs", "spread", "unpinned", "spread",
           vs_head, "note");
    for (int i = 0; i <= n; i++) {
        bool py = i == n;
        const char *name = py ? "python_executor" : cases[i]->name;
        if (py && py_note == NULL) {
            break;
        }
        char cols[3][2][24];
        for (int m = 0; m < 3; m++) {
            const result *r =
                result_find(sec, name, pin_names[modes[m]], w, metric);
            snprintf(cols[m][0], 24, "-");
            snprintf(cols[m][1], 24, "-");
            if (r != NULL) {
                snprintf(cols[m][0], 24, latency ? "%.0f" : "%.3f",
                         r_median(r));
                fmt_spread(cols[m][1], 24, r);
            }
        }
        double diff = med_of(sec, name, "diff", w, metric);
        char vs[16];
        snprintf(vs, sizeof(vs), "-");
        if (!isnan(diff) && !isnan(refv)) {
            snprintf(vs, sizeof(vs), "%.2f", diff / refv);
        }
        const char *note;
        if (py) {
            note = py_note;
        } else {
            const char *why = case_skip_reason(cases[i]);
            note = why ? why : (cases[i]->note ? cases[i]->note : "");
        }
        printf("  %-18s %-8s %9s %7s %9s %7s %9s %7s %15s  %s\n", name,
               py ? "baseline" : role_name(cases[i]->role), cols[0][0],
               cols[0][1], cols[1][0], cols[1][1], cols[2][0], cols[2][1], vs,
               note);
    }
}

static void
section_executor(void)
{
    const char *sec = BENCH_SEC_EXECUTOR, *lsec = BENCH_SEC_EXECUTOR_LATENCY;
    const int w = BENCH_EXEC_WORKERS;
    int c0 = g_cpus[0], c1 = g_cpus[g_ncpu > 1 ? 1 : 0];
    char how[768];
    snprintf(how, sizeof(how),
             "pools of %d workers running empty tasks. Throughput: M tasks/s, "
             "%llu tasks submitted back to back, then all waited for "
             "(timed from the first submit to the end of the wait). "
             "Latency: ns per round trip on an idle pool (submit one task, "
             "wait for its result), median of %llu round trips back to "
             "back, and of %llu each after a %.0f us sleep. Median of "
             "%d reps; each rep makes a new pool and starts its workers "
             "before the timed part. same = submitter and workers on CPU "
             "%d, diff = workers on CPU %d and submitter on CPU %d, "
             "unpinned",
             w, (unsigned long long)opt.exec_tasks,
             (unsigned long long)opt.exec_rounds,
             (unsigned long long)opt.exec_idle_rounds, EXEC_PAUSE_NS / 1e3,
             opt.reps, c0, c1, c0);
    section_header("9. Executor", how);
    if (g_ncpu < 2) {
        printf("   only 1 CPU available: the different-CPU columns are "
               "skipped\n");
    }
    const bench_case *tput[32], *lat[32];
    int nt = 0, nl = 0;
    for (const bench_case *c = bench_executor_cases; c->name != NULL; c++) {
        if (!case_selected(c)) {
            continue;
        }
        if (strcmp(c->section, sec) == 0 && nt < 32) {
            tput[nt++] = c;
        } else if (strcmp(c->section, lsec) == 0 && nl < 32) {
            lat[nl++] = c;
        }
    }
    static const pin_mode modes[] = {PIN_SAME, PIN_DIFF, PIN_NONE};
    for (int part = 0; part < 2; part++) {
        bool latency = part == 1;
        const bench_case *const *cases = latency ? lat : tput;
        int n = latency ? nl : nt;
        for (int m = 0; m < 3; m++) {
            const char *pm = pin_names[modes[m]];
            for (int rep = 0; rep < opt.reps; rep++) {
                for (int i = 0; i < n; i++) {
                    if (!case_runs(cases[i], modes[m])) {
                        continue;
                    }
                    exec_job job = {
                        .c = cases[i],
                        .mode = modes[m],
                        .latency = latency,
                        .n = latency ? opt.exec_rounds : opt.exec_tasks,
                    };
                    // The thread starts on the workers' CPU (see above).
                    int idx = modes[m] == PIN_DIFF ? 1 : pin_index(modes[m], 0);
                    pthread_t t;
                    thread_start(&t, exec_thread, &job, idx);
                    thread_join(t);
                    if (latency) {
                        result_push(result_get(lsec, cases[i]->name, pm, w,
                                               "rtt_ns", "ns"),
                                    job.value);
                        result_push(result_get(lsec, cases[i]->name, pm, w,
                                               "rtt_mean_ns", "ns"),
                                    job.mean);
                        result_push(result_get(lsec, cases[i]->name, pm, w,
                                               "rtt_idle_ns", "ns"),
                                    job.idle);
                    } else {
                        result_push(result_get(sec, cases[i]->name, pm, w,
                                               "mtasks", "M tasks/s"),
                                    job.value);
                    }
                }
            }
        }
    }
    const bench_case py_case = {.name = "python_executor"};
    const char *py_why = "not selected";
    if (case_selected(&py_case)) {
        py_why = python_executor();
    }
    char py_tnote[96], py_lnote[96], py_inote[96];
    snprintf(py_tnote, sizeof(py_tnote),
             "python3 ThreadPoolExecutor(2), %llu tasks",
             (unsigned long long)opt.py_exec_tasks);
    snprintf(py_lnote, sizeof(py_lnote),
             "python3 submit().result(), %llu round trips",
             (unsigned long long)opt.py_exec_rounds);
    snprintf(py_inote, sizeof(py_inote),
             "python3 submit().result(), %llu round trips",
             (unsigned long long)opt.py_exec_idle_rounds);

    printf("\n  throughput, M tasks/s (vs naive_pool = diff / naive_pool "
           "diff):\n");
    print_exec_table(sec, "mtasks", "naive_pool", tput, nt,
                     py_why ? py_why : py_tnote);
    printf("\n  latency, ns per round trip, back to back (a worker may "
           "still be spinning for work when the next task comes); median "
           "round trip of each rep (vs naive_future = diff / naive_future "
           "diff):\n");
    print_exec_table(lsec, "rtt_ns", "naive_future", lat, nl,
                     py_why ? py_why : py_lnote);
    printf("\n  latency after a pause: each round trip after a %.0f us "
           "sleep, every worker asleep when the task comes:\n",
           EXEC_PAUSE_NS / 1e3);
    print_exec_table(lsec, "rtt_idle_ns", "naive_future", lat, nl,
                     py_why ? py_why : py_inote);

    print_cmp_header();
    // Targets on the diff figures (pinned, as everywhere); the same-CPU
    // and unpinned ratios (baselines.md B5 measured unpinned) are shown
    // for information.
    static const struct {
        const char *base, *label;
        double limit;
    } rows[] = {
        {"gthreadpool", "GThreadPool", 3},
        {"naive_pool", "naive pool", 1},
        {"naive_future", "naive futures", 3},
    };
    const pin_mode cmp_modes[] = {PIN_DIFF, PIN_SAME, PIN_NONE};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int m = 0; m < 3; m++) {
            const char *pm = pin_names[cmp_modes[m]];
            bool target = cmp_modes[m] == PIN_DIFF;
            const char *note = cmp_note(
                cmp_modes[m], strcmp(rows[i].base, "gthreadpool") == 0);
            char label[64];
            snprintf(label, sizeof(label), "ct_executor %s vs %s",
                     cmp_modes[m] == PIN_SAME ? "same CPU" : pm, rows[i].label);
            compare(sec, label, med_of(sec, "ct_executor", pm, w, "mtasks"),
                    "M/s", rows[i].base,
                    med_of(sec, rows[i].base, pm, w, "mtasks"), true,
                    target ? T_GE : T_NONE, rows[i].limit, note);
        }
    }
    compare(sec, "ct_executor diff vs Python",
            med_of(sec, "ct_executor", "diff", w, "mtasks"), "M/s",
            "python_executor",
            med_of(sec, "python_executor", "unpinned", w, "mtasks"), true, T_GE,
            50, py_why ? py_why : "Python unpinned (GIL)");
    compare(sec, "ct_wait(ALL) diff vs result() each",
            med_of(sec, "ct_executor_wait", "diff", w, "mtasks"), "M/s",
            "ct_executor", med_of(sec, "ct_executor", "diff", w, "mtasks"),
            true, T_NONE, 0, NULL);
    compare(sec, "ct no futures diff vs naive pool",
            med_of(sec, "ct_executor_nofut", "diff", w, "mtasks"), "M/s",
            "naive_pool", med_of(sec, "naive_pool", "diff", w, "mtasks"), true,
            T_NONE, 0, NULL);
    // Latency: no targets; lower is better.
    static const struct {
        const char *metric, *label;
    } lrows[] = {
        {"rtt_ns", "round trip"},
        {"rtt_idle_ns", "after pause"},
    };
    for (size_t k = 0; k < 2; k++) {
        const char *met = lrows[k].metric;
        for (int m = 0; m < 3; m++) {
            const char *pm = pin_names[cmp_modes[m]];
            const char *where = cmp_modes[m] == PIN_SAME ? "same CPU" : pm;
            char label[64];
            snprintf(label, sizeof(label), "ct %s %s vs naive future",
                     lrows[k].label, where);
            compare(lsec, label, med_of(lsec, "ct_executor", pm, w, met), "ns",
                    "naive_future", med_of(lsec, "naive_future", pm, w, met),
                    true, T_NONE, 0, NULL);
        }
        char label[64];
        snprintf(label, sizeof(label), "ct %s diff vs thread", lrows[k].label);
        compare(lsec, label, med_of(lsec, "ct_executor", "diff", w, met), "ns",
                "pthread_create",
                med_of(lsec, "pthread_create", "diff", w, met), true, T_NONE, 0,
                NULL);
        snprintf(label, sizeof(label), "ct %s diff vs Python", lrows[k].label);
        compare(lsec, label, med_of(lsec, "ct_executor", "diff", w, met), "ns",
                "python_executor",
                med_of(lsec, "python_executor", "unpinned", w, met), true,
                T_NONE, 0, py_why ? py_why : "Python unpinned (GIL)");
    }
}

// ---- GIL ------------------------------------------------------------------

// The GIL section's stages each get a time limit: a stage that overruns it
// (a lost wake-up, a hand-over that never comes) ends the run with its name
// instead of hanging `make bench`.
static const char *volatile g_gil_stage = "";

static void
gil_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "\nct_bench: gil: stage did not finish in time "
                              "(a hang in the GIL?): ";
    const char *s = g_gil_stage;
    ssize_t rc = write(2, msg, sizeof(msg) - 1);
    rc = write(2, s, strlen(s));
    rc = write(2, "\n", 1);
    (void)rc;
    _exit(3);
}

static void
gil_stage(const char *name, unsigned limit_s)
{
    g_gil_stage = name;
    signal(SIGALRM, gil_alarm);
    alarm(limit_s);
}

static const char *const gil_policy_names[] = {"cpython", "handoff",
                                               "io_priority"};

// Sorts v and gives its median, p90, p99 and max (NAN when empty).
static void
gil_percentiles(int64_t *v, size_t n, double *med, double *p90, double *p99,
                double *max)
{
    *med = *p90 = *p99 = *max = NAN;
    if (n == 0) {
        return;
    }
    qsort(v, n, sizeof(int64_t), cmp_i64);
    *med = (double)v[n / 2];
    *p90 = (double)v[(n * 90) / 100];
    *p99 = (double)v[(n * 99) / 100];
    *max = (double)v[n - 1];
}

// Python's side of every shape, as shared/reference/gil.md measured it,
// each part short. Arguments: reps, sha256 calls per timing, countdown n,
// I/O tasks, I/O sleep (s), convoy seconds per load, tick (s), slice
// seconds per interval. Lines: "P ns" (uncontended release+acquire: a
// 2048-byte sha256 update, which releases the GIL, minus a 2047-byte one,
// which does not; same 33 blocks; two hash objects, as an object that has
// once hashed 2048 bytes has a lock and releases on every update after), "S s T
// s" (countdown sequential, 2 threads), "Q s" (I/O sequential), "I s J s" (I/O
// threads, and with a spinner), "C spinners n med p90 p99 rel" (convoy, us,
// pooled; rel = spinner work / solo), "L interval_ms median_ms handovers_per_s"
// (slices). No single quotes: the shell passes the script in them.
static const char py_gil_script[] =
    "import hashlib, os, statistics, struct, sys, threading, time\n"
    "reps, calls, cn = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "ntasks, sl = int(sys.argv[4]), float(sys.argv[5])\n"
    "cdur, tick, sdur = float(sys.argv[6]), float(sys.argv[7]), "
    "float(sys.argv[8])\n"
    "pc = time.perf_counter\n"
    "def spin(stop, cnt, i):\n"
    "    n = 0\n"
    "    while not stop[0]:\n"
    "        n += 1\n"
    "    cnt[i] = n\n"
    "def spinners(k):\n"
    "    stop, cnt = [False], [0] * k\n"
    "    ts = [threading.Thread(target=spin, args=(stop, cnt, i)) "
    "for i in range(k)]\n"
    "    for t in ts:\n"
    "        t.start()\n"
    "    return stop, cnt, ts\n"
    "def halt(sp):\n"
    "    sp[0][0] = True\n"
    "    for t in sp[2]:\n"
    "        t.join()\n"
    "    return sum(sp[1])\n"
    "ua, ub = hashlib.sha256().update, hashlib.sha256().update\n"
    "a, b = b\"x\" * 2047, b\"x\" * 2048\n"
    "pn = time.perf_counter_ns\n"
    "for r in range(reps):\n"
    "    d = []\n"
    "    for k in range(5):\n"
    "        t0 = pn()\n"
    "        for i in range(calls):\n"
    "            ua(a)\n"
    "        t1 = pn()\n"
    "        for i in range(calls):\n"
    "            ub(b)\n"
    "        t2 = pn()\n"
    "        d.append(((t2 - t1) - (t1 - t0)) / calls)\n"
    "    print(\"P\", statistics.median(d), flush=True)\n"
    "def countdown(n):\n"
    "    while n > 0:\n"
    "        n -= 1\n"
    "countdown(cn // 10)\n"
    "for r in range(reps):\n"
    "    t0 = pc()\n"
    "    countdown(cn)\n"
    "    s = pc() - t0\n"
    "    ts = [threading.Thread(target=countdown, args=(cn // 2,)) "
    "for i in range(2)]\n"
    "    t0 = pc()\n"
    "    for t in ts:\n"
    "        t.start()\n"
    "    for t in ts:\n"
    "        t.join()\n"
    "    print(\"S\", s, \"T\", pc() - t0, flush=True)\n"
    "def task():\n"
    "    time.sleep(sl)\n"
    "def io_threads():\n"
    "    ts = [threading.Thread(target=task) for i in range(ntasks)]\n"
    "    t0 = pc()\n"
    "    for t in ts:\n"
    "        t.start()\n"
    "    for t in ts:\n"
    "        t.join()\n"
    "    return pc() - t0\n"
    "t0 = pc()\n"
    "for i in range(ntasks):\n"
    "    task()\n"
    "print(\"Q\", pc() - t0, flush=True)\n"
    "for r in range(reps):\n"
    "    i = io_threads()\n"
    "    sp = spinners(1)\n"
    "    j = io_threads()\n"
    "    halt(sp)\n"
    "    print(\"I\", i, \"J\", j, flush=True)\n"
    "def convoy(k):\n"
    "    tr, tw = os.pipe()\n"
    "    ar, aw = os.pipe()\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        os.close(tr)\n"
    "        os.close(aw)\n"
    "        try:\n"
    "            while True:\n"
    "                time.sleep(tick)\n"
    "                os.write(tw, struct.pack(\"q\", pn()))\n"
    "                if not os.read(ar, 1):\n"
    "                    break\n"
    "        finally:\n"
    "            os._exit(0)\n"
    "    os.close(tw)\n"
    "    os.close(ar)\n"
    "    sp = spinners(k)\n"
    "    lat = []\n"
    "    t0 = pc()\n"
    "    end = t0 + cdur\n"
    "    while pc() < end:\n"
    "        d = os.read(tr, 8)\n"
    "        lat.append(pn() - struct.unpack(\"q\", d)[0])\n"
    "        os.write(aw, b\"x\")\n"
    "    t1 = pc()\n"
    "    work = halt(sp)\n"
    "    os.close(aw)\n"
    "    os.close(tr)\n"
    "    os.waitpid(pid, 0)\n"
    "    return lat, work / (t1 - t0)\n"
    "sp = spinners(1)\n"
    "time.sleep(cdur / 2)\n"
    "solo = halt(sp) / (cdur / 2)\n"
    "for k in (0, 1, 2):\n"
    "    lat, w = convoy(k)\n"
    "    lat.sort()\n"
    "    n = len(lat)\n"
    "    if n:\n"
    "        print(\"C\", k, n, lat[n // 2] / 1e3, lat[n * 90 // 100] / 1e3, "
    "lat[n * 99 // 100] / 1e3, w / solo if k else 0, flush=True)\n"
    "def slicer(stop, out):\n"
    "    last = st = pc()\n"
    "    s = []\n"
    "    while not stop[0]:\n"
    "        t = pc()\n"
    "        if t - last > 200e-6:\n"
    "            s.append(last - st)\n"
    "            st = t\n"
    "        last = t\n"
    "    out.append(s[1:])\n"
    "for iv in (0.005, 0.001):\n"
    "    sys.setswitchinterval(iv)\n"
    "    stop, out = [False], []\n"
    "    ts = [threading.Thread(target=slicer, args=(stop, out)) "
    "for i in range(2)]\n"
    "    for t in ts:\n"
    "        t.start()\n"
    "    time.sleep(sdur)\n"
    "    stop[0] = True\n"
    "    for t in ts:\n"
    "        t.join()\n"
    "    s = sorted(x for o in out for x in o)\n"
    "    if s:\n"
    "        print(\"L\", iv * 1e3, s[len(s) // 2] * 1e3, len(s) / sdur, "
    "flush=True)\n";

// Reads one "KEY v ..." line's numbers after the key into v (up to n);
// returns how many it read.
static int
gil_nums(const char *line, double *v, int n)
{
    int k = 0;
    const char *p = line + 1;
    while (k < n) {
        char *end;
        while (*p == ' ' || (*p >= 'A' && *p <= 'Z')) {
            p++;
        }
        double x = strtod(p, &end);
        if (end == p) {
            break;
        }
        v[k++] = x;
        p = end;
    }
    return k;
}

// Runs the script with python3, if there is one; the results go under the
// policy name "python". Returns why it did not run, or NULL.
static const char *
python_gil(void)
{
    if (system("command -v python3 > /dev/null 2>&1") != 0) {
        return "skipped: python3 not found";
    }
    static char cmd[16384];
    snprintf(cmd, sizeof(cmd),
             "python3 -c '%s' %d %llu %llu %d %g %g %g %g 2>/dev/null",
             py_gil_script, opt.reps, (unsigned long long)opt.py_gil_calls,
             (unsigned long long)opt.py_gil_countdown, opt.gil_io_tasks,
             (double)opt.gil_io_sleep_ns / 1e9, opt.py_gil_convoy_s,
             (double)GIL_TICK_NS / 1e9, opt.py_gil_slice_s);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return "skipped: cannot start python3";
    }
    const char *sec = BENCH_SEC_GIL, *py = "python";
    int got = 0;
    char line[512];
    while (fgets(line, sizeof(line), p) != NULL) {
        double v[8];
        int k = gil_nums(line, v, 8);
        if (line[0] == 'P' && k == 1) {
            result_push(result_get(sec, "pair", py, 1, "ns", "ns"), v[0]);
        } else if (line[0] == 'S' && k == 2 && v[1] > 0) {
            result_push(result_get(sec, "cpu", py, 1, "wall_s", "s"), v[0]);
            result_push(result_get(sec, "cpu", py, 2, "wall_s", "s"), v[1]);
            result_push(result_get(sec, "cpu", py, 2, "speedup", "x"),
                        v[0] / v[1]);
        } else if (line[0] == 'Q' && k == 1) {
            result_push(result_get(sec, "io_seq", py, 0, "wall_s", "s"), v[0]);
        } else if (line[0] == 'I' && k == 2) {
            result_push(result_get(sec, "io", py, 0, "wall_s", "s"), v[0]);
            result_push(result_get(sec, "io", py, 1, "wall_s", "s"), v[1]);
        } else if (line[0] == 'C' && k == 6) {
            int sp = (int)v[0];
            result_push(result_get(sec, "convoy", py, sp, "n", ""), v[1]);
            result_push(result_get(sec, "convoy", py, sp, "med_us", "us"),
                        v[2]);
            result_push(result_get(sec, "convoy", py, sp, "p90_us", "us"),
                        v[3]);
            result_push(result_get(sec, "convoy", py, sp, "p99_us", "us"),
                        v[4]);
            if (sp > 0) {
                result_push(result_get(sec, "convoy", py, sp, "tput_pct", "%"),
                            v[5] * 100);
            }
        } else if (line[0] == 'L' && k == 3) {
            const char *name = v[0] > 2 ? "slices_5ms" : "slices_1ms";
            result_push(result_get(sec, name, py, 2, "med_ms", "ms"), v[1]);
            result_push(result_get(sec, name, py, 2, "handovers_s", "/s"),
                        v[2]);
        } else {
            continue;
        }
        got++;
    }
    if (pclose(p) != 0 || got == 0) {
        return "skipped: python3 failed";
    }
    // Speed-ups against the sequential run of the same script.
    double seq = med_of(sec, "io_seq", py, 0, "wall_s");
    for (int sp = 0; sp <= 1; sp++) {
        const result *r = result_find(sec, "io", py, sp, "wall_s");
        for (int i = 0; r != NULL && i < r->n; i++) {
            result_push(result_get(sec, "io", py, sp, "speedup", "x"),
                        seq / r->v[i]);
        }
    }
    return NULL;
}

// One table row: the median of a result, or "-".
static void
gil_cell(char *buf, size_t size, const char *name, const char *pol, int thr,
         const char *metric, const char *fmt)
{
    double v = med_of(BENCH_SEC_GIL, name, pol, thr, metric);
    if (isnan(v)) {
        snprintf(buf, size, "-");
    } else {
        snprintf(buf, size, fmt, v);
    }
}

static void
gil_spread(char *buf, size_t size, const char *name, const char *pol, int thr,
           const char *metric)
{
    snprintf(buf, size, "-");
    const result *r = result_find(BENCH_SEC_GIL, name, pol, thr, metric);
    if (r != NULL && r->n > 1) {
        fmt_spread(buf, size, r);
    }
}

// Pushes the run's per-second statistics for a table's last columns.
static void
gil_push_counts(const char *name, const char *pol, int thr,
                const bench_gil_out *o, double secs)
{
    const char *sec = BENCH_SEC_GIL;
    if (secs <= 0) {
        return;
    }
    result_push(result_get(sec, name, pol, thr, "switches_s", "/s"),
                (double)o->counts.switches / secs);
    result_push(result_get(sec, name, pol, thr, "drop_requests", ""),
                (double)o->counts.drop_requests);
    result_push(result_get(sec, name, pol, thr, "lost_requests", ""),
                (double)o->counts.lost_requests);
}

static void
gil_cpu_part(void)
{
    const char *sec = BENCH_SEC_GIL;
    int cpus[2] = {g_cpus[0], g_cpus[g_ncpu > 1 ? 1 : 0]};
    bench_gil_cfg cfgs[] = {
        {.policy = CT_GIL_POLICY_CPYTHON},
        {.policy = CT_GIL_POLICY_HANDOFF},
        {.policy = CT_GIL_POLICY_IO_PRIORITY},
        {.policy = CT_GIL_POLICY_CPYTHON, .disabled = true},
    };
    const char *names[] = {"cpython", "handoff", "io_priority", "disabled"};
    bench_gil_cfg seq_cfg = {.policy = CT_GIL_POLICY_CPYTHON};
    bench_gil_out o;
    // Units for a sequential run of about opt.gil_cpu_s.
    gil_stage("cpu: calibration", 30);
    uint64_t units = 100000;
    bench_gil_cpu(&seq_cfg, 1, units, cpus, &o);
    units = (uint64_t)((double)units * opt.gil_cpu_s /
                       (o.wall_s > 0 ? o.wall_s : 1e-3));
    units = units < 1000 ? 1000 : units;
    opt.gil_cpu_units = units;
    for (int rep = 0; rep < opt.reps; rep++) {
        gil_stage("cpu: sequential", 30);
        bench_gil_cpu(&seq_cfg, 1, units, cpus, &o);
        double seq = o.wall_s;
        result_push(result_get(sec, "cpu", "cpython", 1, "wall_s", "s"), seq);
        for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
            char stage[64];
            snprintf(stage, sizeof(stage), "cpu: 2 threads, %s", names[k]);
            gil_stage(stage, 30);
            bench_gil_cpu(&cfgs[k], 2, units, cpus, &o);
            result_push(result_get(sec, "cpu", names[k], 2, "wall_s", "s"),
                        o.wall_s);
            result_push(result_get(sec, "cpu", names[k], 2, "speedup", "x"),
                        seq / o.wall_s);
            gil_push_counts("cpu", names[k], 2, &o, o.wall_s);
        }
    }
    alarm(0);
}

static void
gil_io_part(void)
{
    const char *sec = BENCH_SEC_GIL;
    int n = opt.gil_io_tasks;
    int64_t ns = opt.gil_io_sleep_ns;
    bench_gil_out o;
    bench_gil_cfg cpy = {.policy = CT_GIL_POLICY_CPYTHON};
    gil_stage("io: sequential", 60);
    bench_gil_io(&cpy, n, ns, true, 0, &o);
    double seq = o.wall_s;
    result_push(result_get(sec, "io_seq", "cpython", 0, "wall_s", "s"), seq);
    static const struct {
        int policy, spinners;
    } runs[] = {
        {CT_GIL_POLICY_CPYTHON, 0},
        {CT_GIL_POLICY_CPYTHON, 1},
        {CT_GIL_POLICY_HANDOFF, 1},
        {CT_GIL_POLICY_IO_PRIORITY, 1},
    };
    for (int rep = 0; rep < opt.reps; rep++) {
        for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
            bench_gil_cfg cfg = {.policy = runs[k].policy};
            const char *pol = gil_policy_names[runs[k].policy];
            char stage[64];
            snprintf(stage, sizeof(stage), "io: %d threads + %d spinner, %s", n,
                     runs[k].spinners, pol);
            gil_stage(stage, 30);
            bench_gil_io(&cfg, n, ns, false, runs[k].spinners, &o);
            int sp = runs[k].spinners;
            result_push(result_get(sec, "io", pol, sp, "wall_s", "s"),
                        o.wall_s);
            result_push(result_get(sec, "io", pol, sp, "speedup", "x"),
                        seq / o.wall_s);
            gil_push_counts("io", pol, sp, &o, o.wall_s);
        }
    }
    alarm(0);
}

// The convoy's loads: policy, spinners (the I/O thread always runs).
static const struct {
    int policy, spinners;
} gil_convoy_runs[] = {
    {CT_GIL_POLICY_CPYTHON, 0},     {CT_GIL_POLICY_CPYTHON, 1},
    {CT_GIL_POLICY_HANDOFF, 1},     {CT_GIL_POLICY_IO_PRIORITY, 1},
    {CT_GIL_POLICY_CPYTHON, 2},     {CT_GIL_POLICY_HANDOFF, 2},
    {CT_GIL_POLICY_IO_PRIORITY, 2},
};
#define GIL_CONVOY_RUNS (sizeof(gil_convoy_runs) / sizeof(gil_convoy_runs[0]))

static void
gil_convoy_part(void)
{
    const char *sec = BENCH_SEC_GIL;
    int64_t dur = (int64_t)(opt.gil_convoy_s * 1e9);
    bench_gil_out o;
    int64_t *pool[GIL_CONVOY_RUNS] = {0};
    size_t npool[GIL_CONVOY_RUNS] = {0};
    for (int rep = 0; rep < opt.reps; rep++) {
        // The spinner alone: its solo throughput, which the loads compare
        // against.
        bench_gil_cfg cpy = {.policy = CT_GIL_POLICY_CPYTHON};
        gil_stage("convoy: solo spinner", 30);
        bench_gil_convoy(&cpy, false, 1, dur, GIL_TICK_NS, NULL, &o);
        free(o.lat_ns);
        result_push(
            result_get(sec, "convoy_solo", "cpython", 1, "units_s", "units/s"),
            o.units_per_s);
    }
    double solo = med_of(sec, "convoy_solo", "cpython", 1, "units_s");
    for (int rep = 0; rep < opt.reps; rep++) {
        for (size_t k = 0; k < GIL_CONVOY_RUNS; k++) {
            bench_gil_cfg cfg = {.policy = gil_convoy_runs[k].policy};
            const char *pol = gil_policy_names[cfg.policy];
            int sp = gil_convoy_runs[k].spinners;
            char stage[64];
            snprintf(stage, sizeof(stage), "convoy: %d spinners, %s", sp, pol);
            gil_stage(stage, 30);
            bench_gil_convoy(&cfg, true, sp, dur, GIL_TICK_NS, NULL, &o);
            double med, p90, p99, max;
            gil_percentiles(o.lat_ns, o.nlat, &med, &p90, &p99, &max);
            result_push(result_get(sec, "convoy", pol, sp, "rep_med_us", "us"),
                        med / 1e3);
            result_push(result_get(sec, "convoy", pol, sp, "rep_p99_us", "us"),
                        p99 / 1e3);
            if (sp > 0) {
                result_push(result_get(sec, "convoy", pol, sp, "tput_pct", "%"),
                            o.units_per_s / solo * 100);
            }
            gil_push_counts("convoy", pol, sp, &o, (double)dur / 1e9);
            int64_t *grown =
                realloc(pool[k], (npool[k] + o.nlat + 1) * sizeof(int64_t));
            if (grown == NULL) {
                bench_fail("realloc", -ENOMEM);
            }
            pool[k] = grown;
            memcpy(pool[k] + npool[k], o.lat_ns, o.nlat * sizeof(int64_t));
            npool[k] += o.nlat;
            free(o.lat_ns);
        }
    }
    alarm(0);
    // The pooled figures, as CPython's were taken (one value each).
    for (size_t k = 0; k < GIL_CONVOY_RUNS; k++) {
        const char *pol = gil_policy_names[gil_convoy_runs[k].policy];
        int sp = gil_convoy_runs[k].spinners;
        double med, p90, p99, max;
        gil_percentiles(pool[k], npool[k], &med, &p90, &p99, &max);
        result_push(result_get(sec, "convoy", pol, sp, "n", ""),
                    (double)npool[k]);
        result_push(result_get(sec, "convoy", pol, sp, "med_us", "us"),
                    med / 1e3);
        result_push(result_get(sec, "convoy", pol, sp, "p90_us", "us"),
                    p90 / 1e3);
        result_push(result_get(sec, "convoy", pol, sp, "p99_us", "us"),
                    p99 / 1e3);
        result_push(result_get(sec, "convoy", pol, sp, "max_us", "us"),
                    max / 1e3);
        free(pool[k]);
    }
}

// Slices: pinned (spinner i on CPU i: the target) and unpinned (for
// information: two spinners that the scheduler puts on one CPU wait for
// each other's scheduler slice, not only for the GIL).
static void
gil_slices_part(void)
{
    const char *sec = BENCH_SEC_GIL;
    int64_t dur = (int64_t)(opt.gil_slice_s * 1e9);
    int cpus[2] = {g_cpus[0], g_cpus[g_ncpu > 1 ? 1 : 0]};
    bench_gil_out o;
    for (int rep = 0; rep < opt.reps; rep++) {
        for (int k = 0; k < 4; k++) {
            const char *name = k % 2 == 0 ? "slices_5ms" : "slices_1ms";
            const char *mode = k < 2 ? "diff" : "unpinned";
            int64_t iv = k % 2 == 0 ? CT_MILLIS(5) : CT_MILLIS(1);
            gil_stage(name, 30);
            bench_gil_slices(iv, 2, dur, k < 2 ? cpus : NULL, &o);
            result_push(result_get(sec, name, mode, 2, "med_ms", "ms"),
                        o.slice_med_ns / 1e6);
            result_push(result_get(sec, name, mode, 2, "p10_ms", "ms"),
                        o.slice_p10_ns / 1e6);
            result_push(result_get(sec, name, mode, 2, "p90_ms", "ms"),
                        o.slice_p90_ns / 1e6);
            result_push(result_get(sec, name, mode, 2, "handovers_s", "/s"),
                        o.handovers_s);
        }
    }
    alarm(0);
}

static void
section_gil(void)
{
    const char *sec = BENCH_SEC_GIL;
    char how[1024];
    snprintf(how, sizeof(how),
             "ct_gil beside CPython (python3, this run) on the shapes of "
             "shared/reference/gil.md section 4; median of %d reps. A CPU "
             "unit = 100 LCG steps + one ct_gil_yield_point (~100 ns); "
             "CPU-bound threads pinned to CPUs %d and %d, the other shapes "
             "unpinned as CPython's were; default interval 5 ms",
             opt.reps, g_cpus[0], g_cpus[g_ncpu > 1 ? 1 : 0]);
    section_header("10. GIL", how);

    printf("\n  uncontended: ns per operation, 1 worker pinned to CPU %d, "
           "nobody else touches the GIL; median of %d reps of ~%.3f s:\n",
           g_cpus[0], opt.reps, opt.loop_s);
    gil_stage("uncontended loops", 120);
    run_loop_section(bench_gil_cases, BENCH_SEC_GIL_PAIR);
    alarm(0);
    print_loop_table(bench_gil_cases, BENCH_SEC_GIL_PAIR, "ns/op",
                     "pthread_mutex");

    gil_cpu_part();
    gil_io_part();
    gil_convoy_part();
    gil_slices_part();
    const bench_case py_case = {.name = "python_gil"};
    const char *py_why = "not selected";
    if (case_selected(&py_case)) {
        gil_stage("python3", 120);
        py_why = python_gil();
        alarm(0);
    }
    const char *pyn = py_why ? py_why : "python3 (GIL)";

    char a[32], b[32], c[32], d[32], e[32], f[32], s1[16];
    printf("\n  CPU-bound: %llu units (~%.2f s sequential) split over the "
           "threads; wall s; speed-up = sequential / threaded, each rep "
           "against its own sequential run (Python: countdown(%llu), pure "
           "Python, unpinned):\n",
           (unsigned long long)opt.gil_cpu_units, opt.gil_cpu_s,
           (unsigned long long)opt.py_gil_countdown);
    printf("  %-22s %-11s %9s %7s %9s %11s %9s\n", "run", "policy", "wall s",
           "spread", "speed-up", "switches/s", "lost req");
    static const struct {
        const char *label, *pol;
        int thr;
    } cpu_rows[] = {
        {"sequential", "cpython", 1},
        {"2 threads", "cpython", 2},
        {"2 threads", "handoff", 2},
        {"2 threads", "io_priority", 2},
        {"2 threads, no GIL", "disabled", 2},
        {"python sequential", "python", 1},
        {"python 2 threads", "python", 2},
    };
    for (size_t i = 0; i < sizeof(cpu_rows) / sizeof(cpu_rows[0]); i++) {
        const char *pol = cpu_rows[i].pol;
        int thr = cpu_rows[i].thr;
        gil_cell(a, sizeof(a), "cpu", pol, thr, "wall_s", "%.3f");
        gil_spread(s1, sizeof(s1), "cpu", pol, thr, "wall_s");
        gil_cell(b, sizeof(b), "cpu", pol, thr, "speedup", "%.2fx");
        gil_cell(c, sizeof(c), "cpu", pol, thr, "switches_s", "%.0f");
        gil_cell(d, sizeof(d), "cpu", pol, thr, "lost_requests", "%.0f");
        printf("  %-22s %-11s %9s %7s %9s %11s %9s\n", cpu_rows[i].label,
               strcmp(pol, "python") == 0 ? "-" : pol, a, s1, b, c, d);
    }

    printf("\n  I/O-bound: %d tasks, each taking the GIL and sleeping %.0f ms "
           "inside CT_GIL_RELEASE_AROUND (Python: time.sleep), a thread "
           "each, beside 0 or 1 CPU-bound spinner; sequential: one thread, "
           "one run; speed-up = sequential / threaded:\n",
           opt.gil_io_tasks, (double)opt.gil_io_sleep_ns / 1e6);
    printf("  %-22s %-11s %9s %7s %9s %11s %9s\n", "run", "policy", "wall s",
           "spread", "speed-up", "switches/s", "lost req");
    static const struct {
        const char *label, *name, *pol;
        int sp;
    } io_rows[] = {
        {"sequential", "io_seq", "cpython", 0},
        {"threads", "io", "cpython", 0},
        {"threads + 1 spinner", "io", "cpython", 1},
        {"threads + 1 spinner", "io", "handoff", 1},
        {"threads + 1 spinner", "io", "io_priority", 1},
        {"python sequential", "io_seq", "python", 0},
        {"python threads", "io", "python", 0},
        {"python + 1 spinner", "io", "python", 1},
    };
    for (size_t i = 0; i < sizeof(io_rows) / sizeof(io_rows[0]); i++) {
        const char *n = io_rows[i].name, *pol = io_rows[i].pol;
        int sp = io_rows[i].sp;
        gil_cell(a, sizeof(a), n, pol, sp, "wall_s", "%.3f");
        gil_spread(s1, sizeof(s1), n, pol, sp, "wall_s");
        gil_cell(b, sizeof(b), n, pol, sp, "speedup", "%.1fx");
        gil_cell(c, sizeof(c), n, pol, sp, "switches_s", "%.0f");
        gil_cell(d, sizeof(d), n, pol, sp, "lost_requests", "%.0f");
        printf("  %-22s %-11s %9s %7s %9s %11s %9s\n", io_rows[i].label,
               strcmp(pol, "python") == 0 ? "-" : pol, a, s1, b, c, d);
    }

    printf("\n  convoy: a GIL-less peer thread sleeps %.0f ms, writes its "
           "clock to a pipe and waits for an ack; the I/O thread reads it "
           "inside CT_GIL_RELEASE_AROUND; latency = write to GIL held "
           "again, us, pooled over %d reps of %.2f s (Python: a forked "
           "peer, os.read, %.2f s per load); spinner work = the spinners' "
           "units/s as %% of one spinner alone:\n",
           (double)GIL_TICK_NS / 1e6, opt.reps, opt.gil_convoy_s,
           opt.py_gil_convoy_s);
    printf("  %-12s %-11s %6s %9s %9s %9s %9s %8s %8s %8s\n", "spinners",
           "policy", "ticks", "median", "p90", "p99", "max", "work %",
           "drop req", "lost");
    for (size_t i = 0; i <= GIL_CONVOY_RUNS + 2; i++) {
        bool py = i >= GIL_CONVOY_RUNS;
        const char *pol =
            py ? "python" : gil_policy_names[gil_convoy_runs[i].policy];
        int sp = py ? (int)(i - GIL_CONVOY_RUNS) : gil_convoy_runs[i].spinners;
        gil_cell(a, sizeof(a), "convoy", pol, sp, "n", "%.0f");
        gil_cell(b, sizeof(b), "convoy", pol, sp, "med_us", "%.1f");
        gil_cell(c, sizeof(c), "convoy", pol, sp, "p90_us", "%.1f");
        gil_cell(d, sizeof(d), "convoy", pol, sp, "p99_us", "%.1f");
        gil_cell(e, sizeof(e), "convoy", pol, sp, "max_us", "%.1f");
        gil_cell(f, sizeof(f), "convoy", pol, sp, "tput_pct", "%.1f");
        char dr[32], lr[32], lab[24];
        gil_cell(dr, sizeof(dr), "convoy", pol, sp, "drop_requests", "%.0f");
        gil_cell(lr, sizeof(lr), "convoy", pol, sp, "lost_requests", "%.0f");
        snprintf(lab, sizeof(lab), "%s%d", py ? "python " : "", sp);
        printf("  %-12s %-11s %6s %9s %9s %9s %9s %8s %8s %8s\n", lab,
               py ? "-" : pol, a, b, c, d, e, f, dr, lr);
    }

    printf("\n  hold slices: 2 spinners, CPython policy, %.2f s per rep, "
           "from ct_gil_trace_read (the first hold and the ones cut by the "
           "stop left out); diff = spinner i on CPU i, unpinned = the "
           "scheduler's choice; Python: 2 spinners, unpinned, a gap > "
           "200 us between two perf_counter() reads = off the GIL:\n",
           opt.gil_slice_s);
    printf("  %-10s %-18s %9s %7s %9s %9s %11s\n", "interval", "who",
           "median ms", "spread", "p10 ms", "p90 ms", "handovers/s");
    static const char *const slice_who[][2] = {
        {"diff", "ct_gil diff"},
        {"unpinned", "ct_gil unpinned"},
        {"python", "python"},
    };
    for (int k = 0; k < 6; k++) {
        const char *name = k % 2 == 0 ? "slices_5ms" : "slices_1ms";
        const char *mode = slice_who[k / 2][0];
        gil_cell(a, sizeof(a), name, mode, 2, "med_ms", "%.3f");
        gil_spread(s1, sizeof(s1), name, mode, 2, "med_ms");
        gil_cell(b, sizeof(b), name, mode, 2, "p10_ms", "%.3f");
        gil_cell(c, sizeof(c), name, mode, 2, "p90_ms", "%.3f");
        gil_cell(d, sizeof(d), name, mode, 2, "handovers_s", "%.0f");
        printf("  %-10s %-18s %9s %7s %9s %9s %11s\n",
               k % 2 == 0 ? "5 ms" : "1 ms", slice_who[k / 2][1], a, s1, b, c,
               d);
    }

    print_cmp_header();
    // 1. Uncontended pair; Python's figure is a proxy (see the script), or
    // the reference's when python3 did not run.
    double py_pair = med_of(sec, "pair", "python", 1, "ns");
    bool pair_ref = isnan(py_pair);
    compare(sec, "ct_gil release+acquire (pair)",
            med_of(BENCH_SEC_GIL_PAIR, "ct_gil_pair", "same", 0, "ns"), "ns",
            pair_ref ? "CPython ref (gil.md)" : "python sha256 proxy",
            pair_ref ? 49 : py_pair, false, T_LE, 20,
            pair_ref ? "reference figure, not this run"
                     : "proxy has a hash lock too; gil.md 30-50");
    compare(sec, "ct_gil yield point, nobody waits",
            med_of(BENCH_SEC_GIL_PAIR, "ct_gil_yield_point", "same", 0, "ns"),
            "ns", "empty_loop",
            med_of(BENCH_SEC_GIL_PAIR, "empty_loop", "same", 0, "ns"), false,
            T_NONE, 0, "one relaxed load + compare");
    // 2. CPU-bound.
    compare(sec, "CPU 2 threads GIL vs sequential",
            med_of(sec, "cpu", "cpython", 2, "speedup"), "x", "python",
            med_of(sec, "cpu", "python", 2, "speedup"), false, T_GE, 0.95,
            py_why ? pyn : "CPython here: 0.95x");
    compare(sec, "CPU 2 threads hand-off vs sequential",
            med_of(sec, "cpu", "handoff", 2, "speedup"), "x", "python",
            med_of(sec, "cpu", "python", 2, "speedup"), false, T_NONE, 0,
            py_why);
    compare(sec, "CPU 2 threads no GIL vs sequential",
            med_of(sec, "cpu", "disabled", 2, "speedup"), "x", NULL, NAN, false,
            T_GE, g_ncpu > 1 ? 1.8 : 0.9,
            g_ncpu > 1 ? "CPython 2 processes: 1.83x (gil.md)"
                       : "only 1 CPU: target 0.9");
    // 3. I/O-bound.
    compare(sec, "I/O threads vs sequential",
            med_of(sec, "io", "cpython", 0, "speedup"), "x", "python",
            med_of(sec, "io", "python", 0, "speedup"), false,
            opt.quick ? T_NONE : T_GE, 19,
            opt.quick ? "--quick: fewer, shorter tasks" : py_why);
    compare(sec, "I/O + spinner, CPython policy",
            med_of(sec, "io", "cpython", 1, "speedup"), "x", "python",
            med_of(sec, "io", "python", 1, "speedup"), false, T_NONE, 0,
            py_why ? pyn : "about as CPython (8.4x in gil.md)");
    compare(sec, "I/O + spinner, I/O priority",
            med_of(sec, "io", "io_priority", 1, "speedup"), "x", "python",
            med_of(sec, "io", "python", 1, "speedup"), false,
            opt.quick ? T_NONE : T_GE, 15,
            opt.quick ? "--quick: fewer, shorter tasks" : py_why);
    compare(sec, "I/O + spinner, hand-off",
            med_of(sec, "io", "handoff", 1, "speedup"), "x", "python",
            med_of(sec, "io", "python", 1, "speedup"), false, T_NONE, 0,
            py_why);
    // 4. Convoy (pooled latencies), each beside Python's same figure. A
    // row's note shows when Python ran; otherwise why it did not.
    static const struct {
        const char *name, *policy, *metric, *unit;
        int spinners;
        target_op op;
        double limit;
        const char *note;
    } convoy_cmps[] = {
        {"convoy alone, median", "cpython", "med_us", "us", 0, T_NONE, 0, NULL},
        {"convoy 1 spinner CPython, median", "cpython", "med_us", "us", 1,
         T_NONE, 0, "about one interval (CPython 5168 us)"},
        {"convoy 1 spinner CPython, p99", "cpython", "p99_us", "us", 1, T_NONE,
         0, "CPython 9236 us"},
        {"convoy 1 spinner I/O prio, median", "io_priority", "med_us", "us", 1,
         T_LE, 500, NULL},
        {"convoy 1 spinner I/O prio, p99", "io_priority", "p99_us", "us", 1,
         T_LE, 1000, NULL},
        {"convoy 1 spinner I/O prio, CPU work", "io_priority", "tput_pct", "%",
         1, T_GE, 90, "% of the spinner alone"},
        {"convoy 2 spinners CPython, p99", "cpython", "p99_us", "us", 2, T_NONE,
         0, "CPython 66024 us"},
        {"convoy 2 spinners hand-off, p99", "handoff", "p99_us", "us", 2, T_LE,
         10000, "<= 2 intervals"},
    };
    for (size_t i = 0; i < sizeof(convoy_cmps) / sizeof(convoy_cmps[0]); i++) {
        const char *note = convoy_cmps[i].note;
        int sp = convoy_cmps[i].spinners;
        compare(sec, convoy_cmps[i].name,
                med_of(sec, "convoy", convoy_cmps[i].policy, sp,
                       convoy_cmps[i].metric),
                convoy_cmps[i].unit, "python",
                med_of(sec, "convoy", "python", sp, convoy_cmps[i].metric),
                false, convoy_cmps[i].op, convoy_cmps[i].limit,
                note == NULL ? py_why : (py_why ? pyn : note));
    }
    // 5. Slices: the median hold against the interval.
    compare(sec, "slice median, 5 ms interval, diff",
            med_of(sec, "slices_5ms", "diff", 2, "med_ms"), "ms", "interval", 5,
            true, T_WITHIN, 0.1, g_ncpu > 1 ? NULL : "only 1 CPU");
    compare(sec, "slice median, 1 ms interval, diff",
            med_of(sec, "slices_1ms", "diff", 2, "med_ms"), "ms", "interval", 1,
            true, T_WITHIN, 0.1, g_ncpu > 1 ? NULL : "only 1 CPU");
    compare(sec, "slice median 5 ms unpinned vs Python",
            med_of(sec, "slices_5ms", "unpinned", 2, "med_ms"), "ms", "python",
            med_of(sec, "slices_5ms", "python", 2, "med_ms"), true, T_NONE, 0,
            py_why);
    compare(sec, "slice median 1 ms unpinned vs Python",
            med_of(sec, "slices_1ms", "unpinned", 2, "med_ms"), "ms", "python",
            med_of(sec, "slices_1ms", "python", 2, "med_ms"), true, T_NONE, 0,
            py_why);
}

// ---- Sizes ----------------------------------------------------------------

static size_t
size_of(const char *name)
{
    for (const bench_size *s = bench_sizes; s->name != NULL; s++) {
        if (strcmp(s->name, name) == 0) {
            return s->size;
        }
    }
    return 0;
}

static void
section_sizes(void)
{
    section_header("7. Sizes (bytes)", "sizeof, this build");
    const char *sec = "sizes";
    for (const bench_size *s = bench_sizes; s->name != NULL; s++) {
        printf("  %-18s %-9s %5zu\n", s->name, role_name(s->role), s->size);
        result_push(result_get(sec, s->name, "-", 0, "bytes", "B"),
                    (double)s->size);
    }
    static const struct {
        const char *ours, *base;
        double limit;
    } rows[] = {
        {"ct_lock", "pthread_mutex_t", 4},
        {"ct_event", "mutex+cond+flag", 8},
        {"ct_condition", "pthread_cond_t", 16},
        {"ct_rlock", "pthread_mutex_t", 0},
        {"ct_rlock", "GRecMutex", 0},
        {"ct_semaphore", "sem_t", 0},
        {"ct_barrier", "pthread_barrier_t", 0},
        {"ct_lock", "GMutex", 0},
        {"ct_condition", "GCond", 0},
    };
    print_cmp_header();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t b = size_of(rows[i].base);
        if (b == 0 && !glib_built()) {
            continue; // a GLib type in a build without GLib
        }
        char label[64];
        snprintf(label, sizeof(label), "sizeof %s", rows[i].ours);
        compare(sec, label, (double)size_of(rows[i].ours), "B", rows[i].base,
                (double)b, false, rows[i].limit > 0 ? T_LE : T_NONE,
                rows[i].limit, NULL);
    }
}

// ---- Machine info and JSON --------------------------------------------------

typedef struct machine {
    char model[128];
    char kernel[256];
    char glibc[32];
    char glib[32];
    char date[64];
    char loadavg[64];
    long online;
} machine;

static machine g_machine;

static void
read_first_line(const char *path, const char *prefix, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    snprintf(out, size, "unknown");
    if (f == NULL) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (prefix == NULL || strncmp(line, prefix, strlen(prefix)) == 0) {
            char *s = line;
            if (prefix != NULL) {
                s = strchr(line, ':');
                s = s ? s + 1 : line;
                while (*s == ' ' || *s == '\t') {
                    s++;
                }
            }
            size_t n = strcspn(s, "\n");
            n = n < size ? n : size - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
}

static void
machine_init(void)
{
    machine *m = &g_machine;
    m->online = sysconf(_SC_NPROCESSORS_ONLN);
    read_first_line("/proc/cpuinfo", "model name", m->model, sizeof(m->model));
    read_first_line("/proc/loadavg", NULL, m->loadavg, sizeof(m->loadavg));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release,
                 u.machine);
    }
#ifdef __GLIBC__
    snprintf(m->glibc, sizeof(m->glibc), "%s", gnu_get_libc_version());
#else
    snprintf(m->glibc, sizeof(m->glibc), "not glibc");
#endif
#ifdef CT_HAVE_GLIB
    snprintf(m->glib, sizeof(m->glib), "%u.%u.%u", glib_major_version,
             glib_minor_version, glib_micro_version);
#else
    snprintf(m->glib, sizeof(m->glib), "not installed");
#endif
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void
print_machine(void)
{
    machine *m = &g_machine;
    printf("ct_bench: cthreading %s (header %s)\n", ct_version(),
           CT_VERSION_STRING);
    printf("machine:  %d usable CPUs (%ld online), %s\n", g_ncpu, m->online,
           m->model);
    printf("system:   %s, glibc %s, GLib %s, compiler %s\n", m->kernel,
           m->glibc, m->glib,
#ifdef __VERSION__
           __VERSION__
#else
           "unknown"
#endif
    );
    printf("run:      %s, load average %s, %d rep%s%s\n", m->date, m->loadavg,
           opt.reps, opt.reps == 1 ? "" : "s", opt.quick ? ", --quick" : "");
    printf("reading:  medians; spread = (max-min)/median; ratio = ours / "
           "baseline (lower is better for ns, higher for Mops/s)\n");
}

static void
json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if ((unsigned char)*s < 0x20) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void
json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v)) {
        fputs("null", f);
    } else {
        fprintf(f, "%.6g", v);
    }
}

static void
write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "ct_bench: cannot write %s: %s\n", path,
                strerror(errno));
        return;
    }
    machine *m = &g_machine;
    fprintf(f,
            "{\n  \"machine\": {\"usable_cpus\": %d, \"online_cpus\": %ld, "
            "\"model\": ",
            g_ncpu, m->online);
    json_str(f, m->model);
    fputs(", \"kernel\": ", f);
    json_str(f, m->kernel);
    fputs(", \"glibc\": ", f);
    json_str(f, m->glibc);
    fputs(", \"glib\": ", f);
    json_str(f, m->glib);
    fputs(", \"cthreading\": ", f);
    json_str(f, ct_version());
    fputs(", \"date\": ", f);
    json_str(f, m->date);
    fputs(", \"loadavg\": ", f);
    json_str(f, m->loadavg);
    fprintf(f,
            "},\n  \"settings\": {\"reps\": %d, \"quick\": %s, "
            "\"loop_s\": %g, \"contended_s\": %g, \"pingpong_s\": %g, "
            "\"burn_ms\": %g, \"thread_s\": %g, \"thread_batch\": %d, "
            "\"queue_s\": %g, \"python_s\": %g, \"exec_tasks\": %llu, "
            "\"exec_rounds\": %llu, \"exec_idle_rounds\": %llu, "
            "\"exec_pause_us\": %g, \"python_exec_tasks\": %llu, "
            "\"python_exec_rounds\": %llu, \"python_exec_idle_rounds\": "
            "%llu, \"gil_cpu_s\": %g, \"gil_cpu_units\": %llu, "
            "\"gil_io_tasks\": %d, \"gil_io_sleep_ms\": %g, "
            "\"gil_convoy_s\": %g, \"gil_tick_ms\": %g, \"gil_slice_s\": "
            "%g, \"python_gil_calls\": %llu, \"python_gil_countdown\": "
            "%llu, \"python_gil_convoy_s\": %g, \"python_gil_slice_s\": "
            "%g},\n",
            opt.reps, opt.quick ? "true" : "false", opt.loop_s, opt.contended_s,
            opt.pingpong_s, (double)opt.burn_ns / 1e6, opt.thread_s,
            opt.threads != 0 ? opt.threads : BENCH_BATCH_MAX, opt.queue_s,
            opt.python_s, (unsigned long long)opt.exec_tasks,
            (unsigned long long)opt.exec_rounds,
            (unsigned long long)opt.exec_idle_rounds, EXEC_PAUSE_NS / 1e3,
            (unsigned long long)opt.py_exec_tasks,
            (unsigned long long)opt.py_exec_rounds,
            (unsigned long long)opt.py_exec_idle_rounds, opt.gil_cpu_s,
            (unsigned long long)opt.gil_cpu_units, opt.gil_io_tasks,
            (double)opt.gil_io_sleep_ns / 1e6, opt.gil_convoy_s,
            (double)GIL_TICK_NS / 1e6, opt.gil_slice_s,
            (unsigned long long)opt.py_gil_calls,
            (unsigned long long)opt.py_gil_countdown, opt.py_gil_convoy_s,
            opt.py_gil_slice_s);
    fputs("  \"results\": [\n", f);
    for (size_t i = 0; i < g_nresults; i++) {
        const result *r = &g_results[i];
        fputs("    {\"section\": ", f);
        json_str(f, r->section);
        fputs(", \"case\": ", f);
        json_str(f, r->name);
        fputs(", \"mode\": ", f);
        json_str(f, r->mode);
        fprintf(f, ", \"threads\": %d, \"metric\": ", r->threads);
        json_str(f, r->metric);
        fputs(", \"unit\": ", f);
        json_str(f, r->unit);
        fputs(", \"median\": ", f);
        json_num(f, r_median(r));
        fputs(", \"min\": ", f);
        json_num(f, r_min(r));
        fputs(", \"max\": ", f);
        json_num(f, r_max(r));
        fputs(", \"spread\": ", f);
        json_num(f, r_spread(r));
        fputs(", \"values\": [", f);
        for (int k = 0; k < r->n; k++) {
            if (k) {
                fputs(", ", f);
            }
            json_num(f, r->v[k]);
        }
        fprintf(f, "]}%s\n", i + 1 < g_nresults ? "," : "");
    }
    fputs("  ],\n  \"comparisons\": [\n", f);
    for (size_t i = 0; i < g_ncmps; i++) {
        const comparison *c = &g_cmps[i];
        fputs("    {\"section\": ", f);
        json_str(f, c->section);
        fputs(", \"name\": ", f);
        json_str(f, c->name);
        fputs(", \"ours\": ", f);
        json_num(f, c->ours);
        fputs(", \"unit\": ", f);
        json_str(f, c->unit);
        fputs(", \"baseline_name\": ", f);
        json_str(f, c->base_name);
        fputs(", \"baseline\": ", f);
        json_num(f, c->base);
        fputs(", \"ratio\": ", f);
        json_num(f, c->ratio);
        fputs(", \"target\": ", f);
        json_str(f, c->target);
        fputs(", \"status\": ", f);
        json_str(f, c->status);
        fputs(", \"note\": ", f);
        json_str(f, c->note);
        fprintf(f, "}%s\n", i + 1 < g_ncmps ? "," : "");
    }
    fputs("  ]\n}\n", f);
    fclose(f);
}

// The comparisons as tab-separated lines: section, name, ours, unit,
// baseline name, baseline, ratio, target, status (names hold no tab or
// newline; numbers in %.9g, "nan" when missing).
static void
write_tsv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        bench_fail("fopen(--tsv)", errno);
    }
    for (size_t i = 0; i < g_ncmps; i++) {
        const comparison *c = &g_cmps[i];
        fprintf(f, "%s\t%s\t%.9g\t%s\t%s\t%.9g\t%.9g\t%s\t%s\n", c->section,
                c->name, c->ours, c->unit, c->base_name, c->base, c->ratio,
                c->target, c->status);
    }
    if (fclose(f) != 0) {
        bench_fail("writing --tsv", errno);
    }
}

static void
print_summary(void)
{
    int ok = 0, miss = 0, skip = 0;
    for (size_t i = 0; i < g_ncmps; i++) {
        const char *s = g_cmps[i].status;
        ok += strcmp(s, "ok") == 0;
        miss += strcmp(s, "MISS") == 0;
        skip += strcmp(s, "skip") == 0;
    }
    printf("\n== Summary: %d ok, %d MISS, %d skipped ==\n", ok, miss, skip);
    for (size_t i = 0; i < g_ncmps; i++) {
        if (strcmp(g_cmps[i].status, "MISS") == 0) {
            printf("  MISS  %-12s %s\n", g_cmps[i].section, g_cmps[i].name);
        }
    }
}

// ---- main -----------------------------------------------------------------

static void
usage(FILE *f)
{
    fputs("usage: ct_bench [options]\n"
          "  --quick            tiny sizes, 1 rep (CI smoke, < 20 s); no "
          "valgrind section\n"
          "  --reps N           reps per measurement (default 5)\n"
          "  --only LIST        sections, comma-separated: uncontended, "
          "instr,\n"
          "                     contended, wake (= pingpong + burn), "
          "pingpong,\n"
          "                     burn, notify, thread, sizes, queue, "
          "executor\n"
          "  --case SUBSTR      only cases whose name contains SUBSTR\n"
          "  --json FILE        write every number to FILE\n"
          "  --tsv FILE         write the comparisons to FILE, one per line,\n"
          "                     tab-separated (what `ctlab bench` reads)\n"
          "  --instr-table      run the valgrind section (default when "
          "valgrind\n"
          "                     is installed and not --quick)\n"
          "  --no-instr-table   skip it\n"
          "  --contended-unpinned  also run the contended section unpinned\n"
          "  --threads N        contended section: only N threads (default 2 "
          "and 4);\n"
          "                     thread section: batches of N (default 16)\n"
          "  --list             list the cases\n"
          "  --instr-cases      print the cases bench/instr.sh counts\n"
          "  --instr CASE N     run loop CASE N times quietly (for "
          "valgrind)\n",
          f);
}

static bool
want(const char *section)
{
    if (opt.only == NULL) {
        return strcmp(section, "instr") != 0 || opt.instr_table;
    }
    // Match whole comma-separated words.
    size_t len = strlen(section);
    for (const char *p = opt.only; *p;) {
        size_t w = strcspn(p, ",");
        if (w == len && strncmp(p, section, len) == 0) {
            return true;
        }
        if (w == 4 && strncmp(p, "wake", 4) == 0 &&
            (strcmp(section, "pingpong") == 0 ||
             strcmp(section, "burn") == 0)) {
            return true;
        }
        p += w;
        if (*p == ',') {
            p++;
        }
    }
    return false;
}

static void
list_cases(void)
{
    const bench_case *tables[] = {bench_lock_cases,   bench_wake_cases,
                                  bench_notify_cases, bench_thread_cases,
                                  bench_queue_cases,  bench_executor_cases,
                                  bench_gil_cases};
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const bench_case *c = tables[t]; c->name != NULL; c++) {
            const char *why = case_skip_reason(c);
            printf("%-12s %-24s %-9s %s%s%s%s\n", c->section, c->name,
                   role_name(c->role), c->note ? c->note : "", why ? "  [" : "",
                   why ? why : "", why ? "]" : "");
        }
    }
}

static int
parse_int(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > MAX_REPS) {
        fprintf(stderr, "ct_bench: bad %s '%s' (1..%d)\n", what, s, MAX_REPS);
        exit(2);
    }
    return (int)v;
}

int
main(int argc, char **argv)
{
    cpus_init();
    opt.reps = 5;
    bool reps_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = true;
        } else if (strcmp(a, "--reps") == 0 && has_arg) {
            opt.reps = parse_int(argv[++i], "--reps");
            reps_set = true;
        } else if (strcmp(a, "--only") == 0 && has_arg) {
            opt.only = argv[++i];
        } else if (strcmp(a, "--case") == 0 && has_arg) {
            opt.filter = argv[++i];
        } else if (strcmp(a, "--json") == 0 && has_arg) {
            opt.json = argv[++i];
        } else if (strcmp(a, "--tsv") == 0 && has_arg) {
            opt.tsv = argv[++i];
        } else if (strcmp(a, "--instr-table") == 0) {
            opt.instr_table = opt.instr_table_set = true;
        } else if (strcmp(a, "--no-instr-table") == 0) {
            opt.instr_table = false;
            opt.instr_table_set = true;
        } else if (strcmp(a, "--threads") == 0 && has_arg) {
            opt.threads = parse_int(argv[++i], "--threads");
            if (opt.threads > 16) {
                fprintf(stderr, "ct_bench: --threads: at most 16\n");
                return 2;
            }
        } else if (strcmp(a, "--contended-unpinned") == 0) {
            opt.contended_unpinned = true;
        } else if (strcmp(a, "--list") == 0) {
            list_cases();
            return 0;
        } else if (strcmp(a, "--instr-cases") == 0) {
            for (size_t k = 0; k < sizeof(instr_cases) / sizeof(instr_cases[0]);
                 k++) {
                printf("%s\n", instr_cases[k]);
            }
            return 0;
        } else if (strcmp(a, "--instr") == 0 && i + 2 < argc) {
            return instr_mode(argv[i + 1], argv[i + 2]);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ct_bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (opt.quick) {
        opt.reps = reps_set ? opt.reps : 1;
        opt.loop_s = 0.005;
        opt.contended_s = 0.1;
        opt.pingpong_s = 0.01;
        opt.burn_ns = 50000000;
        opt.thread_s = 0.005;
        opt.queue_s = 0.02;
        opt.python_s = 0.05;
        opt.exec_tasks = 20000;
        opt.exec_rounds = 500;
        opt.exec_idle_rounds = 50;
        opt.py_exec_tasks = 5000;
        opt.py_exec_rounds = 200;
        opt.py_exec_idle_rounds = 50;
        opt.gil_cpu_s = 0.03;
        opt.gil_io_tasks = 5;
        opt.gil_io_sleep_ns = 20000000;
        opt.gil_convoy_s = 0.1;
        opt.gil_slice_s = 0.1;
        opt.py_gil_calls = 2000;
        opt.py_gil_countdown = 1000000;
        opt.py_gil_convoy_s = 0.1;
        opt.py_gil_slice_s = 0.1;
    } else {
        opt.loop_s = 0.1;
        opt.contended_s = 0.5;
        opt.pingpong_s = 0.1;
        opt.burn_ns = 50000000;
        opt.thread_s = 0.04;
        opt.queue_s = 0.3;
        opt.python_s = 0.5;
        opt.exec_tasks = BENCH_EXEC_TASKS_MAX;
        opt.exec_rounds = 10000;
        opt.exec_idle_rounds = 1000;
        opt.py_exec_tasks = 100000;
        opt.py_exec_rounds = 2000;
        opt.py_exec_idle_rounds = 500;
        opt.gil_cpu_s = 0.25;
        opt.gil_io_tasks = 20;
        opt.gil_io_sleep_ns = 100000000;
        // 1 s per convoy rep: with two spinners an answer takes about two
        // intervals, and a p99 of 150 answers is their second largest.
        opt.gil_convoy_s = 1.0;
        opt.gil_slice_s = 0.3;
        opt.py_gil_calls = 20000;
        opt.py_gil_countdown = 10000000;
        opt.py_gil_convoy_s = 2.0;
        opt.py_gil_slice_s = 0.4;
    }
    if (!opt.instr_table_set) {
        // ~25 valgrind runs of ~0.5 s: on by default, but not in --quick.
        opt.instr_table = !opt.quick;
    }
    // Line-buffered so that progress shows when piped (make, guarded_run).
    setvbuf(stdout, NULL, _IOLBF, 0);
    machine_init();
    print_machine();

    if (want("uncontended")) {
        section_uncontended();
    }
    if (want("instr")) {
        section_instr();
    }
    if (want("contended")) {
        section_contended();
    }
    if (want("pingpong")) {
        section_pingpong();
    }
    if (want("burn")) {
        section_burn();
    }
    if (want("notify")) {
        section_notify();
    }
    if (want("thread")) {
        section_thread();
    }
    if (want("sizes")) {
        section_sizes();
    }
    if (want("queue")) {
        section_queue();
    }
    if (want("executor")) {
        section_executor();
    }
    if (want("gil")) {
        section_gil();
    }
    print_summary();
    if (opt.tsv != NULL) {
        write_tsv(opt.tsv);
    }
    if (opt.json != NULL) {
        write_json(opt.json);
        printf("(all numbers written to %s)\n", opt.json);
    }
    return 0;
}
