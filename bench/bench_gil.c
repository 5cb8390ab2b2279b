// GIL cases: what the global interpreter lock costs when nobody else wants
// it (a release + acquire pair, a yield point) and how it behaves under the
// shapes of shared/reference/gil.md section 4, each with its own threads:
// CPU-bound work split over threads, I/O-bound tasks that sleep with the
// GIL released, the convoy (how long an I/O thread waits to get the GIL
// back beside CPU-bound threads) and the hold slices of two spinners, read
// from the trace. main.c runs the reps, the Python scripts and the
// comparisons.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // pthread_attr_setaffinity_np, CPU_SET
#endif
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---- Helpers ----------------------------------------------------------------

static void
nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Starts a thread on CPU `cpu`, or on any allowed CPU when cpu < 0.
static void
start(pthread_t *t, void *(*fn)(void *), void *arg, int cpu)
{
    pthread_attr_t attr;
    BENCH_CHECK(pthread_attr_init(&attr));
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        BENCH_CHECK(pthread_attr_setaffinity_np(&attr, sizeof(set), &set));
    }
    BENCH_CHECK(pthread_create(t, &attr, fn, arg));
    pthread_attr_destroy(&attr);
}

static ct_gil *
make_gil(const bench_gil_cfg *cfg, bool stats, size_t trace)
{
    ct_gil_opts o = {
        .interval = cfg ? cfg->interval_ns : 0,
        .disabled = cfg ? cfg->disabled : false,
        .policy = cfg ? cfg->policy : CT_GIL_POLICY_CPYTHON,
        .stats = stats,
        .trace_capacity = trace,
    };
    ct_gil *g;
    BENCH_CHECK(ct_gil_new(&g, &o));
    return g;
}

static void
take_counts(ct_gil *g, bench_gil_out *out)
{
    ct_gil_statistics s;
    BENCH_CHECK(ct_gil_stats(g, &s));
    out->counts = s.total;
}

static void
yield(ct_gil *g)
{
    int rc = ct_gil_yield_point(g);
    if (rc < 0) {
        bench_fail("ct_gil_yield_point", rc);
    }
}

// One unit of "interpreter work": 100 LCG steps (about 100 ns; the asm
// keeps every step), then the caller's yield point.
static inline uint64_t
work_unit(uint64_t x)
{
    for (int i = 0; i < 100; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// ---- Single-thread loops (gil_pair) -----------------------------------------

static void
loop_pair_policy(uint64_t n, int policy, bool stats, bool disabled)
{
    bench_gil_cfg cfg = {.policy = policy, .disabled = disabled};
    ct_gil *g = make_gil(&cfg, stats, 0);
    BENCH_CHECK(ct_gil_acquire(g));
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_gil_release(g));
        BENCH_CHECK(ct_gil_acquire(g));
    }
    BENCH_CHECK(ct_gil_release(g));
    BENCH_CHECK(ct_gil_free(g));
}

static void
loop_pair(uint64_t n)
{
    loop_pair_policy(n, CT_GIL_POLICY_CPYTHON, false, false);
}

static void
loop_pair_handoff(uint64_t n)
{
    loop_pair_policy(n, CT_GIL_POLICY_HANDOFF, false, false);
}

static void
loop_pair_io(uint64_t n)
{
    loop_pair_policy(n, CT_GIL_POLICY_IO_PRIORITY, false, false);
}

static void
loop_pair_stats(uint64_t n)
{
    loop_pair_policy(n, CT_GIL_POLICY_CPYTHON, true, false);
}

static void
loop_pair_disabled(uint64_t n)
{
    loop_pair_policy(n, CT_GIL_POLICY_CPYTHON, false, true);
}

static int
empty_fn(void *arg)
{
    (void)arg;
    return 0;
}

static void
loop_release_around(uint64_t n)
{
    ct_gil *g = make_gil(NULL, false, 0);
    BENCH_CHECK(ct_gil_acquire(g));
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_gil_release_around(g, empty_fn, NULL));
    }
    BENCH_CHECK(ct_gil_release(g));
    BENCH_CHECK(ct_gil_free(g));
}

static void
loop_yield(uint64_t n)
{
    ct_gil *g = make_gil(NULL, false, 0);
    BENCH_CHECK(ct_gil_acquire(g));
    for (uint64_t i = 0; i < n; i++) {
        yield(g);
        __asm__ volatile("" ::: "memory");
    }
    BENCH_CHECK(ct_gil_release(g));
    BENCH_CHECK(ct_gil_free(g));
}

static void
loop_pthread_mutex(uint64_t n)
{
    pthread_mutex_t m;
    BENCH_CHECK(pthread_mutex_init(&m, NULL));
    BENCH_CHECK(pthread_mutex_lock(&m));
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(pthread_mutex_unlock(&m));
        BENCH_CHECK(pthread_mutex_lock(&m));
    }
    BENCH_CHECK(pthread_mutex_unlock(&m));
    BENCH_CHECK(pthread_mutex_destroy(&m));
}

static void
loop_empty(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        __asm__ volatile("" ::: "memory");
    }
}

// ---- Spinners
// -----------------------------------------------------------------

typedef struct spinner {
    ct_gil *g;
    atomic_bool *stop;
    atomic_int *holding; // incremented at the first acquire
    pthread_t t;
    uint64_t units; // out
    int64_t t0, t1; // out: first acquire, stop seen
    uint64_t sink;  // out: the work's result
} spinner;

static void *
spinner_main(void *arg)
{
    spinner *s = arg;
    uint64_t x = (uint64_t)(uintptr_t)s, units = 0;
    BENCH_CHECK(ct_gil_acquire(s->g));
    s->t0 = bench_now_ns();
    atomic_fetch_add(s->holding, 1);
    while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
        x = work_unit(x);
        units++;
        yield(s->g);
    }
    s->t1 = bench_now_ns();
    BENCH_CHECK(ct_gil_release(s->g));
    s->units = units;
    s->sink = x;
    return NULL;
}

// Starts n spinners (spinner i on CPU cpus[i], or any CPU for NULL) and
// waits until one of them holds the GIL.
static void
spinners_start(spinner *sp, int n, ct_gil *g, atomic_bool *stop,
               atomic_int *holding, const int *cpus)
{
    for (int i = 0; i < n; i++) {
        memset(&sp[i], 0, sizeof(sp[i]));
        sp[i].g = g;
        sp[i].stop = stop;
        sp[i].holding = holding;
        start(&sp[i].t, spinner_main, &sp[i], cpus ? cpus[i] : -1);
    }
    while (n > 0 && atomic_load(holding) == 0) {
        nap(100000);
    }
}

// Stops them (*stop must be set); returns their units per second over the
// time from the first one's start to the last one's stop.
static double
spinners_join(spinner *sp, int n)
{
    uint64_t units = 0;
    int64_t t0 = 0, t1 = 0;
    for (int i = 0; i < n; i++) {
        BENCH_CHECK(pthread_join(sp[i].t, NULL));
        units += sp[i].units;
        t0 = (i == 0 || sp[i].t0 < t0) ? sp[i].t0 : t0;
        t1 = (i == 0 || sp[i].t1 > t1) ? sp[i].t1 : t1;
    }
    return n > 0 && t1 > t0 ? (double)units * 1e9 / (double)(t1 - t0) : 0;
}

// ---- CPU-bound
// ------------------------------------------------------------------

typedef struct cpu_arg {
    ct_gil *g;
    pthread_barrier_t *bar;
    uint64_t units;
    uint64_t sink;
    int64_t t0, t1; // out: this thread's start and end
} cpu_arg;

static void *
cpu_main(void *arg)
{
    cpu_arg *a = arg;
    uint64_t x = (uint64_t)(uintptr_t)a;
    pthread_barrier_wait(a->bar);
    a->t0 = bench_now_ns();
    BENCH_CHECK(ct_gil_acquire(a->g));
    for (uint64_t u = 0; u < a->units; u++) {
        x = work_unit(x);
        yield(a->g);
    }
    BENCH_CHECK(ct_gil_release(a->g));
    a->t1 = bench_now_ns();
    a->sink = x;
    return NULL;
}

void
bench_gil_cpu(const bench_gil_cfg *cfg, int nthreads, uint64_t units,
              const int *cpus, bench_gil_out *out)
{
    enum { MAXT = 8 };
    memset(out, 0, sizeof(*out));
    if (nthreads < 1 || nthreads > MAXT) {
        bench_fail("bench_gil_cpu: thread count", nthreads);
    }
    ct_gil *g = make_gil(cfg, true, 0);
    pthread_barrier_t bar;
    BENCH_CHECK(pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1));
    cpu_arg args[MAXT];
    pthread_t t[MAXT];
    for (int i = 0; i < nthreads; i++) {
        args[i] = (cpu_arg){.g = g, .bar = &bar, .units = units / nthreads};
        start(&t[i], cpu_main, &args[i], cpus ? cpus[i] : -1);
    }
    pthread_barrier_wait(&bar);
    // The wall time runs from the first thread's start to the last one's
    // end, as the threads saw them: on 2 CPUs with 2 busy workers, this
    // thread may not run again until they are almost done.
    int64_t t0 = 0, t1 = 0;
    for (int i = 0; i < nthreads; i++) {
        BENCH_CHECK(pthread_join(t[i], NULL));
        t0 = (i == 0 || args[i].t0 < t0) ? args[i].t0 : t0;
        t1 = (i == 0 || args[i].t1 > t1) ? args[i].t1 : t1;
    }
    out->wall_s = (double)(t1 - t0) / 1e9;
    take_counts(g, out);
    BENCH_CHECK(pthread_barrier_destroy(&bar));
    BENCH_CHECK(ct_gil_free(g));
}

// ---- I/O-bound
// ------------------------------------------------------------------

typedef struct io_arg {
    ct_gil *g;
    pthread_barrier_t *bar;
    int ntasks;
    int64_t sleep_ns;
} io_arg;

static void *
io_main(void *arg)
{
    io_arg *a = arg;
    pthread_barrier_wait(a->bar);
    BENCH_CHECK(ct_gil_acquire(a->g));
    for (int k = 0; k < a->ntasks; k++) {
        CT_GIL_RELEASE_AROUND(a->g)
        {
            nap(a->sleep_ns);
        }
    }
    BENCH_CHECK(ct_gil_release(a->g));
    return NULL;
}

void
bench_gil_io(const bench_gil_cfg *cfg, int ntasks, int64_t sleep_ns,
             bool sequential, int nspinners, bench_gil_out *out)
{
    enum { MAXS = 4 };
    memset(out, 0, sizeof(*out));
    if (nspinners > MAXS || ntasks < 1) {
        bench_fail("bench_gil_io: arguments", nspinners);
    }
    ct_gil *g = make_gil(cfg, true, 0);
    int nthreads = sequential ? 1 : ntasks;
    pthread_barrier_t bar;
    BENCH_CHECK(pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1));
    io_arg *args = calloc((size_t)nthreads, sizeof(*args));
    pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
    if (args == NULL || t == NULL) {
        bench_fail("calloc", -ENOMEM);
    }
    for (int i = 0; i < nthreads; i++) {
        args[i] = (io_arg){.g = g,
                           .bar = &bar,
                           .ntasks = sequential ? ntasks : 1,
                           .sleep_ns = sleep_ns};
        start(&t[i], io_main, &args[i], -1);
    }
    atomic_bool stop;
    atomic_int holding;
    atomic_init(&stop, false);
    atomic_init(&holding, 0);
    spinner sp[MAXS];
    spinners_start(sp, nspinners, g, &stop, &holding, NULL);
    pthread_barrier_wait(&bar);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < nthreads; i++) {
        BENCH_CHECK(pthread_join(t[i], NULL));
    }
    out->wall_s = (double)(bench_now_ns() - t0) / 1e9;
    atomic_store(&stop, true);
    out->units_per_s = spinners_join(sp, nspinners);
    take_counts(g, out);
    BENCH_CHECK(pthread_barrier_destroy(&bar));
    BENCH_CHECK(ct_gil_free(g));
    free(args);
    free(t);
}

// ---- Convoy
// ----------------------------------------------------------------------

typedef struct convoy {
    ct_gil *g;
    int tick[2]; // peer -> I/O thread: the peer's clock at the write
    int ack[2];  // I/O thread -> peer: one byte per tick
    atomic_bool *stop;
    int64_t tick_ns;
    int64_t *lat;
    size_t n, cap;
} convoy;

// The peer never touches the GIL (CPython's measurement used a process).
static void *
peer_main(void *arg)
{
    convoy *c = arg;
    // The first tick waits for the I/O thread's first hold: a tick written
    // while it still waits for its first acquire would time that start-up
    // (a wait behind every spinner already queued), not a return from I/O.
    char b;
    if (read(c->ack[0], &b, 1) != 1) {
        close(c->tick[1]);
        return NULL;
    }
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        nap(c->tick_ns);
        int64_t stamp = bench_now_ns();
        if (write(c->tick[1], &stamp, sizeof(stamp)) != sizeof(stamp)) {
            bench_fail("write(tick)", errno);
        }
        if (read(c->ack[0], &b, 1) != 1) {
            break;
        }
    }
    close(c->tick[1]); // the I/O thread reads the end of the stream
    return NULL;
}

static void *
convoy_io_main(void *arg)
{
    convoy *c = arg;
    BENCH_CHECK(ct_gil_acquire(c->g));
    char ready = 1; // the peer's first tick may come now
    if (write(c->ack[1], &ready, 1) != 1) {
        bench_fail("write(ack)", errno);
    }
    for (;;) {
        int64_t stamp = 0;
        ssize_t r = 0;
        CT_GIL_RELEASE_AROUND(c->g)
        {
            do {
                r = read(c->tick[0], &stamp, sizeof(stamp));
            } while (r < 0 && errno == EINTR);
        }
        int64_t now = bench_now_ns();
        if (r != (ssize_t)sizeof(stamp)) {
            break;
        }
        if (c->n < c->cap) {
            c->lat[c->n++] = now - stamp;
        }
        // Written with the GIL held: a short non-blocking call.
        char b = 1;
        if (write(c->ack[1], &b, 1) != 1) {
            bench_fail("write(ack)", errno);
        }
    }
    BENCH_CHECK(ct_gil_release(c->g));
    return NULL;
}

void
bench_gil_convoy(const bench_gil_cfg *cfg, bool io, int nspinners,
                 int64_t dur_ns, int64_t tick_ns, const int *cpus,
                 bench_gil_out *out)
{
    enum { MAXS = 4 };
    memset(out, 0, sizeof(*out));
    if (nspinners > MAXS) {
        bench_fail("bench_gil_convoy: spinners", nspinners);
    }
    ct_gil *g = make_gil(cfg, true, 0);
    atomic_bool stop;
    atomic_int holding;
    atomic_init(&stop, false);
    atomic_init(&holding, 0);
    convoy c = {.g = g, .stop = &stop, .tick_ns = tick_ns};
    c.cap = (size_t)(dur_ns / (tick_ns > 0 ? tick_ns : 1)) + 64;
    c.lat = malloc(c.cap * sizeof(int64_t));
    if (c.lat == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    spinner sp[MAXS];
    spinners_start(sp, nspinners, g, &stop, &holding, cpus ? cpus + 1 : NULL);
    pthread_t tio, tpeer;
    if (io) {
        if (pipe(c.tick) != 0 || pipe(c.ack) != 0) {
            bench_fail("pipe", errno);
        }
        start(&tio, convoy_io_main, &c, cpus ? cpus[0] : -1);
        start(&tpeer, peer_main, &c, cpus ? cpus[0] : -1);
    }
    nap(dur_ns);
    atomic_store(&stop, true);
    if (io) {
        BENCH_CHECK(pthread_join(tpeer, NULL));
        BENCH_CHECK(pthread_join(tio, NULL));
        close(c.tick[0]);
        close(c.ack[0]);
        close(c.ack[1]);
    }
    out->units_per_s = spinners_join(sp, nspinners);
    take_counts(g, out);
    BENCH_CHECK(ct_gil_free(g));
    out->lat_ns = c.lat;
    out->nlat = c.n;
}

// ---- Slices
// ----------------------------------------------------------------------

void
bench_gil_slices(int64_t interval_ns, int nspinners, int64_t dur_ns,
                 const int *cpus, bench_gil_out *out)
{
    enum { MAXS = 4, CAP = 1 << 16 };
    memset(out, 0, sizeof(*out));
    if (nspinners < 1 || nspinners > MAXS) {
        bench_fail("bench_gil_slices: spinners", nspinners);
    }
    bench_gil_cfg cfg = {.interval_ns = interval_ns};
    ct_gil *g = make_gil(&cfg, true, CAP);
    atomic_bool stop;
    atomic_int holding;
    atomic_init(&stop, false);
    atomic_init(&holding, 0);
    spinner sp[MAXS];
    spinners_start(sp, nspinners, g, &stop, &holding, cpus);
    nap(dur_ns);
    int64_t t_stop = bench_now_ns();
    atomic_store(&stop, true);
    (void)spinners_join(sp, nspinners);
    take_counts(g, out);
    ct_gil_span *spans = malloc(CAP * sizeof(*spans));
    int64_t *len = malloc(CAP * sizeof(*len));
    if (spans == NULL || len == NULL) {
        bench_fail("malloc", -ENOMEM);
    }
    size_t n = ct_gil_trace_read(g, spans, CAP);
    BENCH_CHECK(ct_gil_free(g));
    // The first hold began before anyone else wanted the GIL, and the
    // holds that ended after t_stop were cut short by the stop.
    size_t k = 0;
    int64_t first = 0, last = 0;
    for (size_t i = 1; i < n; i++) {
        if (spans[i].end_ns >= t_stop) {
            continue;
        }
        if (k == 0) {
            first = spans[i].start_ns;
        }
        last = spans[i].end_ns;
        len[k++] = spans[i].end_ns - spans[i].start_ns;
    }
    if (k > 0) {
        qsort(len, k, sizeof(int64_t), cmp_i64);
        out->slice_med_ns = (double)len[k / 2];
        out->slice_p10_ns = (double)len[k / 10];
        out->slice_p90_ns = (double)len[(k * 9) / 10];
        out->handovers_s =
            last > first ? (double)k * 1e9 / (double)(last - first) : 0;
    }
    free(spans);
    free(len);
}

// ---- The table
// -------------------------------------------------------------------

#define GLOOP(n, r, fn, nt)                                                    \
    {                                                                          \
        .section = BENCH_SEC_GIL_PAIR, .name = (n), .role = (r), .loop = (fn), \
        .note = (nt)                                                           \
    }

const bench_case bench_gil_cases[] = {
    GLOOP("ct_gil_pair", BENCH_OURS, loop_pair,
          "release + acquire, CPython policy, stats off"),
    GLOOP("ct_gil_pair_handoff", BENCH_OURS, loop_pair_handoff,
          "release + acquire, hand-off policy"),
    GLOOP("ct_gil_pair_io", BENCH_OURS, loop_pair_io,
          "release + acquire, I/O-priority policy"),
    GLOOP("ct_gil_pair_stats", BENCH_OURS, loop_pair_stats,
          "release + acquire, statistics on"),
    GLOOP("ct_gil_pair_disabled", BENCH_OURS, loop_pair_disabled,
          "release + acquire, GIL disabled"),
    GLOOP("ct_gil_release_around", BENCH_OURS, loop_release_around,
          "ct_gil_release_around(empty function)"),
    GLOOP("ct_gil_yield_point", BENCH_OURS, loop_yield,
          "yield point, nobody waiting"),
    GLOOP("pthread_mutex", BENCH_BASELINE, loop_pthread_mutex,
          "unlock + lock pair"),
    GLOOP("empty_loop", BENCH_OVERHEAD, loop_empty, "not subtracted"),
    {0},
};
