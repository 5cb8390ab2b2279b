// Tests for ct_gil (CPython's GIL as a library): bad input, mutual exclusion
// of holders under each policy, forced switching within two intervals, the
// interval honoured, release around blocking calls (function and scope
// forms), the disabled ("free-threaded") mode, the hand-off policy's FIFO
// order, the I/O-priority policy asking at once (and CPython's convoy),
// statistics and the trace, a thread that exits holding, and fork.
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "harness/test.h"

static const int policies[] = {CT_GIL_POLICY_CPYTHON, CT_GIL_POLICY_HANDOFF,
                               CT_GIL_POLICY_IO_PRIORITY};
#define NPOLICIES ((int)(sizeof policies / sizeof policies[0]))

static bool
sanitized(void)
{
    return TSAN_BUILD || ASAN_BUILD;
}

static ct_gil *
new_gil(int policy, ct_duration interval, bool stats, size_t trace)
{
    ct_gil_opts o;
    memset(&o, 0, sizeof o);
    o.policy = policy;
    o.interval = interval;
    o.stats = stats;
    o.trace_capacity = trace;
    ct_gil *g = NULL;
    CHECK_OK(ct_gil_new(&g, &o));
    CHECK(g != NULL);
    return g;
}

static ct_gil_statistics
stats_of(ct_gil *g)
{
    ct_gil_statistics s;
    memset(&s, 0xa5, sizeof s);
    CHECK_OK(ct_gil_stats(g, &s));
    return s;
}

// The per-thread counts of `ident`, or NULL.
static const ct_gil_counts *
counts_of(const ct_gil_statistics *s, uint64_t ident)
{
    size_t n =
        s->nthreads < CT_GIL_STATS_THREADS ? s->nthreads : CT_GIL_STATS_THREADS;
    for (size_t i = 0; i < n; i++) {
        if (s->threads[i].ident == ident) {
            return &s->threads[i].counts;
        }
    }
    return NULL;
}

// Statistics off: every count is zero (total, histogram, exits, and each
// thread's counts).
static void
check_counts_zero(const char *file, int line, const ct_gil_statistics *s)
{
    ct_gil_counts zero;
    memset(&zero, 0, sizeof zero);
    bool ok =
        memcmp(&s->total, &zero, sizeof zero) == 0 && s->exits_holding == 0;
    for (int i = 0; i < CT_GIL_HIST_BUCKETS; i++) {
        ok = ok && s->wait_hist[i] == 0;
    }
    for (int i = 0; i < CT_GIL_STATS_THREADS; i++) {
        ok = ok && memcmp(&s->threads[i].counts, &zero, sizeof zero) == 0;
    }
    if (!ok) {
        ct_test_fail(file, line,
                     "statistics are off, yet counted: acquisitions %llu",
                     (unsigned long long)s->total.acquisitions);
    }
}
#define CHECK_COUNTS_ZERO(s) check_counts_zero(__FILE__, __LINE__, (s))

// ---------------------------------------------------------------------------
// Bad input.

static int
count_call(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 42;
}

static void
bad_input_new(void)
{
    ct_gil *g = NULL;
    CHECK_RC(ct_gil_new(NULL, NULL), CT_EINVAL);
    ct_gil_opts o;
    memset(&o, 0, sizeof o);
    CHECK_RC(ct_gil_new(NULL, &o), CT_EINVAL);
    o.interval = -1;
    CHECK_RC(ct_gil_new(&g, &o), CT_EINVAL);
    o.interval = INT64_MIN;
    CHECK_RC(ct_gil_new(&g, &o), CT_EINVAL);
    o.interval = 0;
    const int bad_policies[] = {-1, 3, 100, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_policies / sizeof bad_policies[0]; i++) {
        o.policy = bad_policies[i];
        CHECK_RC(ct_gil_new(&g, &o), CT_EINVAL);
    }
    o.policy = CT_GIL_POLICY_CPYTHON;
    // A trace that cannot be allocated.
    o.trace_capacity = SIZE_MAX;
    CHECK_RC(ct_gil_new(&g, &o), CT_ENOMEM);
    CHECK_OK(ct_gil_free(NULL));
}

// NULL options and zeroed options both mean 5 ms, enabled, CPython.
static void
defaults(void)
{
    ct_gil *g = NULL;
    CHECK_OK(ct_gil_new(&g, NULL));
    CHECK_EQ(ct_gil_interval(g), CT_GIL_DEFAULT_INTERVAL);
    CHECK_EQ(CT_GIL_DEFAULT_INTERVAL, CT_MILLIS(5));
    CHECK(!ct_gil_held(g));
    CHECK_OK(ct_gil_acquire(g));
    CHECK(ct_gil_held(g));
    CHECK_OK(ct_gil_release(g));
    CHECK(!ct_gil_held(g));
    CHECK_OK(ct_gil_free(g));

    ct_gil_opts o;
    memset(&o, 0, sizeof o);
    CHECK_OK(ct_gil_new(&g, &o));
    CHECK_EQ(ct_gil_interval(g), CT_MILLIS(5));
    // Statistics are off by default: all zero after use.
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    ct_gil_statistics s = stats_of(g);
    CHECK_COUNTS_ZERO(&s);
    // No trace by default.
    ct_gil_span span;
    CHECK_EQ(ct_gil_trace_read(g, &span, 1), 0);
    CHECK_EQ(ct_gil_trace_lost(g), 0);
    CHECK_OK(ct_gil_free(g));

    // Every policy and an explicit interval are accepted.
    for (int p = 0; p < NPOLICIES; p++) {
        g = new_gil(policies[p], CT_MICROS(1), false, 0);
        CHECK_EQ(ct_gil_interval(g), CT_MICROS(1));
        CHECK_OK(ct_gil_free(g));
    }
}

static void
bad_input_null(void)
{
    CHECK_RC(ct_gil_acquire(NULL), CT_EINVAL);
    CHECK_RC(ct_gil_release(NULL), CT_EINVAL);
    CHECK_RC(ct_gil_yield_point(NULL), CT_EINVAL);
    atomic_int calls = 0;
    CHECK_RC(ct_gil_release_around(NULL, count_call, &calls), CT_EINVAL);
    CHECK_RC(ct_gil_release_around(NULL, NULL, NULL), CT_EINVAL);
    CHECK_EQ(atomic_load(&calls), 0);
    CHECK_RC(ct_gil_set_interval(NULL, CT_MILLIS(1)), CT_EINVAL);
    CHECK_EQ(ct_gil_interval(NULL), 0);
    CHECK(!ct_gil_held(NULL));
    ct_gil_statistics s;
    CHECK_RC(ct_gil_stats(NULL, &s), CT_EINVAL);
    CHECK_RC(ct_gil_stats_reset(NULL), CT_EINVAL);
    ct_gil_span span;
    CHECK_EQ(ct_gil_trace_read(NULL, &span, 1), 0);
    CHECK_EQ(ct_gil_trace_lost(NULL), 0);
    ct_gil_trace_clear(NULL);
    CHECK_OK(ct_gil_free(NULL));

    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, 0, true, 4);
    CHECK_RC(ct_gil_stats(g, NULL), CT_EINVAL);
    CHECK_EQ(ct_gil_trace_read(g, NULL, 0), 0);
    // A NULL function: refused, and the caller keeps the GIL.
    CHECK_OK(ct_gil_acquire(g));
    CHECK_RC(ct_gil_release_around(g, NULL, NULL), CT_EINVAL);
    CHECK(ct_gil_held(g));
    CHECK_OK(ct_gil_release(g));
    CHECK_OK(ct_gil_free(g));
}

static void
bad_interval(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(3), false, 0);
    CHECK_RC(ct_gil_set_interval(g, 0), CT_EINVAL);
    CHECK_RC(ct_gil_set_interval(g, -1), CT_EINVAL);
    CHECK_RC(ct_gil_set_interval(g, INT64_MIN), CT_EINVAL);
    CHECK_EQ(ct_gil_interval(g), CT_MILLIS(3));
    CHECK_OK(ct_gil_set_interval(g, CT_MICROS(1500)));
    CHECK_EQ(ct_gil_interval(g), CT_MICROS(1500));
    CHECK_OK(ct_gil_set_interval(g, 1));
    CHECK_EQ(ct_gil_interval(g), 1);
    CHECK_OK(ct_gil_free(g));
}

static void *
yield_in_fresh_thread(void *p)
{
    ct_gil *g = p;
    // A thread that never touched any GIL: its cached ident is still 0,
    // like the first word of a free GIL.
    CHECK(!ct_gil_held(g));
    CHECK_RC(ct_gil_yield_point(g), CT_EPERM);
    CHECK_RC(ct_gil_release(g), CT_EPERM);
    return NULL;
}

static void
not_held(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
    ct_test_join(ct_test_spawn(yield_in_fresh_thread, g));
    CHECK_RC(ct_gil_yield_point(g), CT_EPERM);
    CHECK_RC(ct_gil_release(g), CT_EPERM);
    atomic_int calls = 0;
    CHECK_RC(ct_gil_release_around(g, count_call, &calls), CT_EPERM);
    CHECK_EQ(atomic_load(&calls), 0);
    CHECK(!ct_gil_held(g));
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    // After a release: still not the holder.
    CHECK_RC(ct_gil_yield_point(g), CT_EPERM);
    CHECK_RC(ct_gil_release(g), CT_EPERM);
    CHECK(!ct_gil_held(g));
    CHECK_OK(ct_gil_free(g));
}

static void
acquire_twice(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        ct_gil *g = new_gil(policies[p], CT_MILLIS(1), true, 0);
        CHECK_OK(ct_gil_acquire(g));
        CHECK_RC(ct_gil_acquire(g), CT_EDEADLK);
        CHECK(ct_gil_held(g));
        CHECK_EQ(ct_gil_yield_point(g), 0);
        CHECK_OK(ct_gil_release(g));
        CHECK(!ct_gil_held(g));
        CHECK_RC(ct_gil_release(g), CT_EPERM);
        ct_gil_statistics s = stats_of(g);
        CHECK_EQ(s.total.acquisitions, 1);
        CHECK_EQ(s.total.releases, 1);
        CHECK_OK(ct_gil_free(g));
    }
}

static void
free_while_held(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
    CHECK_OK(ct_gil_acquire(g));
    CHECK_RC(ct_gil_free(g), CT_ESTATE);
    // Nothing was freed: the GIL still works.
    CHECK(ct_gil_held(g));
    CHECK_EQ(ct_gil_yield_point(g), 0);
    CHECK_OK(ct_gil_release(g));
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    CHECK_OK(ct_gil_free(g));
}

// Another thread holds: a release or yield point by this one is refused
// and the holder keeps it.
struct holder {
    ct_gil *g;
    ct_event holding;
    ct_event done;
    atomic_int still_held;
};

static void *
holder_main(void *p)
{
    struct holder *h = p;
    CHECK_OK(ct_gil_acquire(h->g));
    CHECK_OK(ct_event_set(&h->holding));
    CHECK_OK(ct_event_wait(&h->done, ct_test_long_wait()));
    atomic_store(&h->still_held, ct_gil_held(h->g));
    CHECK_OK(ct_gil_release(h->g));
    return NULL;
}

static void
release_by_non_holder(void)
{
    struct holder h = {.holding = CT_EVENT_INIT, .done = CT_EVENT_INIT};
    h.g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
    pthread_t t = ct_test_spawn(holder_main, &h);
    CHECK_OK(ct_event_wait(&h.holding, ct_test_long_wait()));
    CHECK(!ct_gil_held(h.g));
    CHECK_RC(ct_gil_release(h.g), CT_EPERM);
    CHECK_RC(ct_gil_yield_point(h.g), CT_EPERM);
    CHECK_RC(ct_gil_free(h.g), CT_ESTATE);
    CHECK_OK(ct_event_set(&h.done));
    ct_test_join(t);
    CHECK(atomic_load(&h.still_held));
    CHECK_OK(ct_gil_free(h.g));
}

// Holding one GIL says nothing about another; the inline yield point reads
// the GIL it was given, not a thread-wide flag.
static void
two_gils_are_independent(void)
{
    ct_gil *a = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
    ct_gil *b = new_gil(CT_GIL_POLICY_HANDOFF, CT_MILLIS(1), false, 0);
    CHECK_OK(ct_gil_acquire(a));
    CHECK(ct_gil_held(a));
    CHECK(!ct_gil_held(b));
    CHECK_RC(ct_gil_yield_point(b), CT_EPERM);
    CHECK_RC(ct_gil_release(b), CT_EPERM);
    CHECK_OK(ct_gil_acquire(b));
    CHECK(ct_gil_held(b));
    CHECK_EQ(ct_gil_yield_point(a), 0);
    CHECK_EQ(ct_gil_yield_point(b), 0);
    CHECK_OK(ct_gil_release(a));
    CHECK(!ct_gil_held(a));
    CHECK(ct_gil_held(b));
    CHECK_RC(ct_gil_yield_point(a), CT_EPERM);
    CHECK_EQ(ct_gil_yield_point(b), 0);
    CHECK_OK(ct_gil_release(b));
    CHECK_OK(ct_gil_free(a));
    CHECK_OK(ct_gil_free(b));
}

// A GIL freed and a new one made (often at the same address): the thread's
// cached record must not be the freed GIL's.
static void *
use_once(void *p)
{
    ct_gil *g = p;
    CHECK(!ct_gil_held(g));
    CHECK_OK(ct_gil_acquire(g));
    CHECK(ct_gil_held(g));
    CHECK_EQ(ct_gil_yield_point(g), 0);
    CHECK_OK(ct_gil_release(g));
    return NULL;
}

static void
new_gil_after_free(void)
{
    for (int i = 0; i < 4; i++) {
        ct_gil *g = new_gil(policies[i % NPOLICIES], CT_MILLIS(1), true, 2);
        use_once(g);
        ct_test_join(ct_test_spawn(use_once, g));
        use_once(g);
        ct_gil_statistics s = stats_of(g);
        CHECK_EQ(s.nthreads, 2);
        CHECK_EQ(s.total.acquisitions, 3);
        CHECK_EQ(s.total.releases, 3);
        const ct_gil_counts *mine = counts_of(&s, ct_get_ident());
        CHECK(mine != NULL);
        CHECK_EQ(mine->acquisitions, 2);
        CHECK_OK(ct_gil_free(g));
    }
}

// ---------------------------------------------------------------------------
// Mutual exclusion.

struct mx {
    ct_gil *g;
    int iters;
    atomic_int counter; // a relaxed load and a separate store
    long plain;         // TSan sees a race if the GIL orders nothing
    atomic_int inside;
    atomic_int max_inside;
};

static void
mx_enter(struct mx *m)
{
    ct_test_update_max(&m->max_inside, atomic_fetch_add(&m->inside, 1) + 1);
}

static void *
mx_main(void *p)
{
    struct mx *m = p;
    for (int i = 0; i < m->iters; i++) {
        CHECK_OK(ct_gil_acquire(m->g));
        for (int j = 0; j < 4; j++) {
            mx_enter(m);
            int v = atomic_load_explicit(&m->counter, memory_order_relaxed);
            for (volatile int k = 0; k < 20; k++) {
            }
            atomic_store_explicit(&m->counter, v + 1, memory_order_relaxed);
            m->plain++;
            atomic_fetch_sub(&m->inside, 1);
            // A hand-over may happen here, between increments.
            int rc = ct_gil_yield_point(m->g);
            CHECK(rc == 0 || rc == 1);
            CHECK(ct_gil_held(m->g));
        }
        CHECK_OK(ct_gil_release(m->g));
    }
    return NULL;
}

static void
mutual_exclusion_with(int policy)
{
    enum { N = 4 };
    struct mx m;
    memset(&m, 0, sizeof m);
    m.g = new_gil(policy, CT_MILLIS(1), true, 0);
    m.iters = sanitized() ? 200 : 2000;
    ct_test_run_threads(N, mx_main, &m, 0);
    CHECK_EQ(atomic_load(&m.counter), N * m.iters * 4);
    CHECK_EQ(m.plain, (long)N * m.iters * 4);
    CHECK_EQ(atomic_load(&m.max_inside), 1);
    ct_gil_statistics s = stats_of(m.g);
    CHECK_EQ(s.nthreads, N);
    CHECK(s.total.acquisitions >= (uint64_t)N * m.iters);
    CHECK_EQ(s.total.acquisitions, s.total.releases);
    CHECK_OK(ct_gil_free(m.g));
}

static void
mutual_exclusion_cpython(void)
{
    mutual_exclusion_with(CT_GIL_POLICY_CPYTHON);
}

static void
mutual_exclusion_handoff(void)
{
    mutual_exclusion_with(CT_GIL_POLICY_HANDOFF);
}

static void
mutual_exclusion_io_priority(void)
{
    mutual_exclusion_with(CT_GIL_POLICY_IO_PRIORITY);
}

// Threads that hold the GIL all along and only hand it over at yield
// points (two CPU-bound threads): still one at a time, and each gets turns.
struct spinners {
    ct_gil *g;
    int want;      // both stop after this many hand-overs in all
    int64_t until; // or then, so that a broken GIL fails instead of hanging
    atomic_int inside, max_inside;
    atomic_int handed[2];
    atomic_int ready;
    atomic_int idx;
};

static void *
spinner_pair_main(void *p)
{
    struct spinners *s = p;
    int me = atomic_fetch_add(&s->idx, 1);
    CHECK_OK(ct_gil_acquire(s->g));
    atomic_fetch_add(&s->ready, 1);
    while (atomic_load(&s->handed[0]) + atomic_load(&s->handed[1]) < s->want &&
           ct_test_now() < s->until) {
        ct_test_update_max(&s->max_inside, atomic_fetch_add(&s->inside, 1) + 1);
        atomic_fetch_sub(&s->inside, 1);
        int rc = ct_gil_yield_point(s->g);
        CHECK(rc == 0 || rc == 1);
        atomic_fetch_add(&s->handed[me], rc);
    }
    CHECK_OK(ct_gil_release(s->g));
    return NULL;
}

static void
spinners_take_turns(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        struct spinners s;
        memset(&s, 0, sizeof s);
        s.g = new_gil(policies[p], CT_MILLIS(1), true, 0);
        s.want = 6;
        s.until = ct_test_now() + ct_test_long_wait();
        ct_test_run_threads(2, spinner_pair_main, &s, 0);
        CHECK_EQ(atomic_load(&s.max_inside), 1);
        // They alternate: each was forced to hand over.
        CHECK(atomic_load(&s.handed[0]) + atomic_load(&s.handed[1]) >= 6);
        CHECK(atomic_load(&s.handed[0]) >= 1);
        CHECK(atomic_load(&s.handed[1]) >= 1);
        ct_gil_statistics st = stats_of(s.g);
        // Each yield point that returned 1 was a requested drop that
        // waited for a taker.
        CHECK(
            st.total.forced_switches >=
            (uint64_t)(atomic_load(&s.handed[0]) + atomic_load(&s.handed[1])));
        CHECK(st.total.forced_switches <= st.total.drop_requests);
        CHECK_EQ(st.total.acquisitions, st.total.releases);
        CHECK_OK(ct_gil_free(s.g));
    }
}

// ---------------------------------------------------------------------------
// Forced switching and the interval.

// A thread that takes the GIL and spins on yield points until told to stop
// (or, so that a broken GIL fails instead of hanging, until long_wait).
struct spinner {
    ct_gil *g;
    ct_event holding;
    atomic_int stop;
    atomic_int handed; // yield points that returned 1
    atomic_long quiet; // yield points that returned 0
    atomic_int bad;    // yield points that returned anything else
};

static void *
spinner_main(void *p)
{
    struct spinner *s = p;
    CHECK_OK(ct_gil_acquire(s->g));
    CHECK_OK(ct_event_set(&s->holding));
    int64_t deadline = ct_test_now() + ct_test_long_wait();
    while (!atomic_load(&s->stop) && ct_test_now() < deadline) {
        int rc = ct_gil_yield_point(s->g);
        if (rc == 1) {
            atomic_fetch_add(&s->handed, 1);
        } else if (rc == 0) {
            atomic_fetch_add(&s->quiet, 1);
        } else {
            atomic_fetch_add(&s->bad, 1);
        }
    }
    CHECK(ct_gil_held(s->g));
    CHECK_OK(ct_gil_release(s->g));
    return NULL;
}

static pthread_t
start_spinner(struct spinner *s, ct_gil *g)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    ct_event_init(&s->holding);
    pthread_t t = ct_test_spawn(spinner_main, s);
    CHECK_OK(ct_event_wait(&s->holding, ct_test_long_wait()));
    return t;
}

static void
stop_spinner(struct spinner *s, pthread_t t)
{
    atomic_store(&s->stop, 1);
    ct_test_join(t);
    CHECK_EQ(atomic_load(&s->bad), 0);
}

// The requester gets the GIL from a holder spinning on yield points within
// two intervals (plus slack for a noisy machine); the holder's yield point
// returns 1 once, after it had the GIL back.
static void
forced_switch_with(int policy)
{
    const ct_duration interval = CT_MILLIS(2);
    ct_gil *g = new_gil(policy, interval, true, 0);
    struct spinner s;
    pthread_t t = start_spinner(&s, g);
    int64_t t0 = ct_test_now();
    CHECK_OK(ct_gil_acquire(g));
    int64_t waited = ct_test_now() - t0;
    CHECK(ct_gil_held(g));
    int64_t bound = 2 * interval + (int64_t)(CT_MILLIS(100) * ct_test_scale());
    if (waited > bound) {
        ct_test_fail(__FILE__, __LINE__,
                     "the requester waited %lld us for the GIL (bound %lld)",
                     (long long)waited / 1000, (long long)bound / 1000);
    }
    CHECK_EQ(atomic_load(&s.handed), 0); // it waits in its yield point
    atomic_store(&s.stop, 1);
    CHECK_OK(ct_gil_release(g));
    stop_spinner(&s, t);
    CHECK_EQ(atomic_load(&s.handed), 1);
    CHECK(atomic_load(&s.quiet) >= 1);

    ct_gil_statistics st = stats_of(g);
    CHECK(st.total.drop_requests >= 1);
    CHECK(st.total.forced_switches >= 1);
    CHECK(st.total.forced_switches <= st.total.drop_requests);
    CHECK(st.total.switches >= 2);
    CHECK_EQ(st.total.acquisitions, 3); // spinner, me, spinner again
    CHECK_EQ(st.total.releases, 3);
    const ct_gil_counts *mine = counts_of(&st, ct_get_ident());
    CHECK(mine != NULL);
    CHECK_EQ(mine->acquisitions, 1);
    CHECK_EQ(mine->contended, 1);
    // Under the hand-off policies the holder may end its slice before the
    // requester's own request: the total counts it either way.
    CHECK(policy != CT_GIL_POLICY_CPYTHON || mine->drop_requests >= 1);
    CHECK(mine->waited_ns > 0 && mine->waited_ns <= waited);
    CHECK_OK(ct_gil_free(g));
}

static void
forced_switch_cpython(void)
{
    forced_switch_with(CT_GIL_POLICY_CPYTHON);
}

static void
forced_switch_handoff(void)
{
    forced_switch_with(CT_GIL_POLICY_HANDOFF);
}

static void
forced_switch_io_priority(void)
{
    forced_switch_with(CT_GIL_POLICY_IO_PRIORITY);
}

// Hand-off policies: the holder ends its own slice when someone waits (its
// yield point reads the clock), so the drop request is the holder's, not
// the waiter's, whose own request is only a backstop two intervals in.
// The interval is long, so that the holder's check comes first even on a
// loaded machine.
static void
holder_ends_its_slice(void)
{
    const ct_duration interval = CT_MILLIS(50) * (ct_duration)ct_test_scale();
    const int ps[] = {CT_GIL_POLICY_HANDOFF, CT_GIL_POLICY_IO_PRIORITY};
    for (int p = 0; p < 2; p++) {
        ct_gil *g = new_gil(ps[p], interval, true, 0);
        struct spinner s;
        pthread_t t = start_spinner(&s, g);
        int64_t t0 = ct_test_now();
        CHECK_OK(ct_gil_acquire(g));
        int64_t waited = ct_test_now() - t0;
        atomic_store(&s.stop, 1);
        CHECK_OK(ct_gil_release(g));
        stop_spinner(&s, t);
        CHECK_EQ(atomic_load(&s.handed), 1);
        ct_gil_statistics st = stats_of(g);
        const ct_gil_counts *mine = counts_of(&st, ct_get_ident());
        CHECK(mine != NULL);
        if (mine->drop_requests != 0 || st.total.drop_requests != 1 ||
            st.total.forced_switches != 1 || waited < interval * 9 / 10) {
            ct_test_fail(__FILE__, __LINE__,
                         "policy %d: waited %lld us (interval %lld us); "
                         "drop requests: %llu mine, %llu in all; forced "
                         "switches %llu",
                         ps[p], (long long)waited / 1000,
                         (long long)interval / 1000,
                         (unsigned long long)mine->drop_requests,
                         (unsigned long long)st.total.drop_requests,
                         (unsigned long long)st.total.forced_switches);
        }
        CHECK_OK(ct_gil_free(g));
    }
}

// A waiter does not get the GIL from a spinning holder much before one
// interval (it waits the interval before asking); set_interval applies to
// waits that start afterwards. One-sided: a slow machine only waits longer.
static void
interval_honoured(void)
{
    const ct_duration interval = CT_MILLIS(20);
    for (int p = 0; p < NPOLICIES; p++) {
        ct_gil *g = new_gil(policies[p], CT_MILLIS(1), false, 0);
        CHECK_OK(ct_gil_set_interval(g, interval));
        struct spinner s;
        pthread_t t = start_spinner(&s, g);
        int64_t t0 = ct_test_now();
        CHECK_OK(ct_gil_acquire(g));
        int64_t waited = ct_test_now() - t0;
        atomic_store(&s.stop, 1);
        CHECK_OK(ct_gil_release(g));
        stop_spinner(&s, t);
        if (waited < interval - interval / 10) {
            ct_test_fail(__FILE__, __LINE__,
                         "policy %d: the GIL changed hands after %lld us, "
                         "interval %lld us",
                         policies[p], (long long)waited / 1000,
                         (long long)interval / 1000);
        }
        CHECK_EQ(atomic_load(&s.handed), 1);
        CHECK_OK(ct_gil_free(g));
    }
}

// Two spinners: each hold that ended in a forced hand-over lasted about an
// interval (the waiter's interval starts after the previous switch), not
// much less. One-sided: the first span and the last two (the final
// releases) are left out. Under the hand-off policies the dropper's
// interval starts at the hand-off, before the taker runs, so a span is an
// interval less the taker's wake-up: a longer interval under sanitizers.
static void
slices_last_an_interval(void)
{
    enum { CAP = 256 };
    const ct_duration interval = sanitized() ? CT_MILLIS(10) : CT_MILLIS(2);
    for (int p = 0; p < NPOLICIES; p++) {
        struct spinners s;
        memset(&s, 0, sizeof s);
        s.g = new_gil(policies[p], interval, false, CAP);
        s.want = 8;
        s.until = ct_test_now() + ct_test_long_wait();
        ct_test_run_threads(2, spinner_pair_main, &s, 0);
        CHECK(atomic_load(&s.handed[0]) + atomic_load(&s.handed[1]) >= 8);
        static ct_gil_span sp[CAP];
        size_t n = ct_gil_trace_read(s.g, sp, CAP);
        CHECK(n >= 8);
        for (size_t i = 1; i + 2 < n; i++) {
            int64_t len = sp[i].end_ns - sp[i].start_ns;
            if (len < interval / 2) {
                ct_test_fail(__FILE__, __LINE__,
                             "policy %d: span %zu of %zu lasted %lld us, "
                             "interval %lld us",
                             policies[p], i, n, (long long)len / 1000,
                             (long long)interval / 1000);
            }
        }
        CHECK_OK(ct_gil_free(s.g));
    }
}

// A release (not at a yield point) while a drop is requested waits until
// another thread took the GIL (CPython's drop_gil): the releaser, acquiring
// again at once, comes after the requester in the trace.
struct requester {
    ct_gil *g;
    atomic_int started;
};

static void *
requester_main(void *p)
{
    struct requester *q = p;
    atomic_store(&q->started, 1);
    CHECK_OK(ct_gil_acquire(q->g));
    CHECK_OK(ct_gil_release(q->g));
    return NULL;
}

static void
requested_release_waits_for_taker(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        struct requester q = {0};
        q.g = new_gil(policies[p], CT_MILLIS(1), true, 8);
        CHECK_OK(ct_gil_acquire(q.g));
        pthread_t t = ct_test_spawn(requester_main, &q);
        // The only waiter: its request is counted once it asked.
        int64_t deadline = ct_test_now() + ct_test_long_wait();
        while (stats_of(q.g).total.drop_requests == 0) {
            CHECK(ct_test_now() < deadline);
            sched_yield();
        }
        CHECK_OK(ct_gil_release(q.g));
        CHECK_OK(ct_gil_acquire(q.g));
        CHECK_OK(ct_gil_release(q.g));
        ct_test_join(t);
        ct_gil_span sp[8];
        CHECK_EQ(ct_gil_trace_read(q.g, sp, 8), 3);
        if (sp[0].ident != ct_get_ident() || sp[1].ident == ct_get_ident() ||
            sp[2].ident != ct_get_ident()) {
            ct_test_fail(__FILE__, __LINE__,
                         "policy %d: the requested release did not wait for "
                         "the requester: holders %llu, %llu, %llu (me %llu)",
                         policies[p], (unsigned long long)sp[0].ident,
                         (unsigned long long)sp[1].ident,
                         (unsigned long long)sp[2].ident,
                         (unsigned long long)ct_get_ident());
        }
        ct_gil_statistics st = stats_of(q.g);
        const ct_gil_counts *mine = counts_of(&st, ct_get_ident());
        CHECK(mine != NULL);
        CHECK(mine->forced_switches >= 1);
        CHECK_OK(ct_gil_free(q.g));
    }
}

// ---------------------------------------------------------------------------
// Release around blocking calls.

// The other thread: takes the GIL once `blocked` is set, then sets `ran`.
struct other {
    ct_gil *g;
    ct_event blocked;
    ct_event ran;
};

static void *
other_main(void *p)
{
    struct other *o = p;
    CHECK_OK(ct_event_wait(&o->blocked, ct_test_long_wait()));
    CHECK_OK(ct_gil_acquire(o->g));
    CHECK(ct_gil_held(o->g));
    CHECK_EQ(ct_gil_yield_point(o->g), 0);
    CHECK_OK(ct_gil_release(o->g));
    CHECK_OK(ct_event_set(&o->ran));
    return NULL;
}

// The "blocking call": lets the other thread run, and waits until it did.
static int
blocking_call(void *p)
{
    struct other *o = p;
    CHECK(!ct_gil_held(o->g));
    CHECK_OK(ct_event_set(&o->blocked));
    CHECK_OK(ct_event_wait(&o->ran, ct_test_long_wait()));
    return 42;
}

static void
release_around_function(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        struct other o = {.blocked = CT_EVENT_INIT, .ran = CT_EVENT_INIT};
        o.g = new_gil(policies[p], CT_MILLIS(1), false, 0);
        pthread_t t = ct_test_spawn(other_main, &o);
        CHECK_OK(ct_gil_acquire(o.g));
        CHECK_EQ(ct_gil_release_around(o.g, blocking_call, &o), 42);
        CHECK(ct_gil_held(o.g));
        ct_test_join(t);
        CHECK_OK(ct_gil_release(o.g));
        CHECK_OK(ct_gil_free(o.g));
    }
}

static int
return_from_scope(struct other *o)
{
    CT_GIL_RELEASE_AROUND(o->g)
    {
        return blocking_call(o);
    }
    return -1;
}

static void
release_around_scope(void)
{
    for (int how = 0; how < 3; how++) {
        struct other o = {.blocked = CT_EVENT_INIT, .ran = CT_EVENT_INIT};
        o.g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
        pthread_t t = ct_test_spawn(other_main, &o);
        CHECK_OK(ct_gil_acquire(o.g));
        int after = 0;
        if (how == 0) { // falls off the end
            CT_GIL_RELEASE_AROUND(o.g)
            {
                CHECK_EQ(blocking_call(&o), 42);
            }
            after = 1;
        } else if (how == 1) { // break
            for (int i = 0; i < 3; i++) {
                CT_GIL_RELEASE_AROUND(o.g)
                {
                    CHECK_EQ(blocking_call(&o), 42);
                    break;
                }
                // The break left the scope, not this loop.
                after++;
                CHECK(ct_gil_held(o.g));
                break;
            }
        } else { // return
            CHECK_EQ(return_from_scope(&o), 42);
            after = 1;
        }
        CHECK_EQ(after, 1);
        CHECK(ct_gil_held(o.g));
        CHECK_EQ(ct_gil_yield_point(o.g), 0);
        ct_test_join(t);
        CHECK_OK(ct_gil_release(o.g));
        CHECK_OK(ct_gil_free(o.g));
    }
}

// ---------------------------------------------------------------------------
// Disabled: both threads "hold" at once, and are still counted.

static void *exit_holding_main(void *p);

struct both {
    ct_gil *g;
    ct_event in[2];
};

static void *
both_main(void *p)
{
    struct both *b = p;
    CHECK_OK(ct_gil_acquire(b->g));
    CHECK(ct_gil_held(b->g));
    CHECK_OK(ct_event_set(&b->in[1]));
    CHECK_OK(ct_event_wait(&b->in[0], ct_test_long_wait()));
    CHECK_EQ(ct_gil_yield_point(b->g), 0);
    CHECK_OK(ct_gil_release(b->g));
    return NULL;
}

static void
disabled_lets_both_hold(void)
{
    struct both b = {.in = {CT_EVENT_INIT, CT_EVENT_INIT}};
    ct_gil_opts o;
    memset(&o, 0, sizeof o);
    o.disabled = true;
    o.stats = true;
    o.interval = CT_MILLIS(1);
    CHECK_OK(ct_gil_new(&b.g, &o));
    // The same calls, the same errors.
    CHECK_RC(ct_gil_release(b.g), CT_EPERM);
    CHECK_RC(ct_gil_yield_point(b.g), CT_EPERM);
    CHECK_OK(ct_gil_acquire(b.g));
    CHECK_RC(ct_gil_acquire(b.g), CT_EDEADLK);
    pthread_t t = ct_test_spawn(both_main, &b);
    // The other thread got in while this one holds.
    CHECK_OK(ct_event_wait(&b.in[1], ct_test_long_wait()));
    CHECK(ct_gil_held(b.g));
    CHECK_EQ(ct_gil_yield_point(b.g), 0);
    CHECK_OK(ct_event_set(&b.in[0]));
    ct_test_join(t);
    CHECK_OK(ct_gil_release(b.g));
    ct_gil_statistics s = stats_of(b.g);
    CHECK_EQ(s.total.acquisitions, 2);
    CHECK_EQ(s.total.releases, 2);
    CHECK_EQ(s.nthreads, 2);
    // A thread that exits "holding" is counted here too.
    ct_test_join(ct_test_spawn(exit_holding_main, b.g));
    s = stats_of(b.g);
    CHECK_EQ(s.exits_holding, 1);
    CHECK_OK(ct_gil_free(b.g));
}

// ---------------------------------------------------------------------------
// Policies' promises.

// Waiters queued in a known order get the GIL in that order (hand-off and
// I/O priority). A waiter is known to be queued once the kernel shows its
// thread asleep: it does nothing but ct_gil_acquire while another thread
// holds the GIL. (Its drop request cannot tell: only the first waiter's
// request is counted, the others find the request already made.)
struct fifo {
    ct_gil *g;
    atomic_int stat_fd[3]; // /proc/thread-self/stat of each waiter
    atomic_int next;
    int order[3];
    atomic_int started;
};

struct fifo_arg {
    struct fifo *f;
    int me;
};

static void *
fifo_main(void *p)
{
    struct fifo_arg *a = p;
    atomic_store(&a->f->stat_fd[a->me],
                 open("/proc/thread-self/stat", O_RDONLY));
    atomic_fetch_add(&a->f->started, 1);
    CHECK_OK(ct_gil_acquire(a->f->g));
    a->f->order[atomic_fetch_add(&a->f->next, 1)] = a->me;
    CHECK_OK(ct_gil_release(a->f->g));
    return NULL;
}

// The state letter of a thread's /proc stat ('R', 'S', ...), or 0.
static char
thread_state(int fd)
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

static void
wait_until_asleep(int fd)
{
    int64_t deadline = ct_test_now() + ct_test_long_wait();
    while (thread_state(fd) != 'S') {
        if (ct_test_now() >= deadline) {
            ct_test_fail(__FILE__, __LINE__,
                         "a waiter never went to sleep in ct_gil_acquire");
        }
        sched_yield();
    }
}

// Waits until waiter i of f (the (i+1)-th to start) sleeps in
// ct_gil_acquire; returns its stat file (the caller closes it). Skips the
// test where there is no /proc/thread-self/stat to see it asleep.
static int
await_asleep(struct fifo *f, int i)
{
    CHECK(ct_test_poll_at_least(&f->started, i + 1, ct_test_long_wait()));
    int fd = atomic_load(&f->stat_fd[i]);
    if (fd < 0) {
        SKIP("no /proc/thread-self/stat to see a waiter asleep");
    }
    wait_until_asleep(fd);
    return fd;
}

// Takes the GIL, then starts n waiters (fifo_main) one after another, each
// asleep in ct_gil_acquire before the next starts, so they queue in order.
// Their stat files are closed by fifo_join.
static void
hold_and_queue(struct fifo *f, struct fifo_arg *args, pthread_t *t, int n)
{
    CHECK_OK(ct_gil_acquire(f->g));
    for (int i = 0; i < n; i++) {
        args[i] = (struct fifo_arg){f, i};
        t[i] = ct_test_spawn(fifo_main, &args[i]);
        (void)await_asleep(f, i);
    }
}

// Joins the n waiters of hold_and_queue and closes their stat files.
static void
fifo_join(struct fifo *f, pthread_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        ct_test_join(t[i]);
        close(atomic_load(&f->stat_fd[i]));
    }
}

static void
fifo_with(int policy)
{
    struct fifo f;
    memset(&f, 0, sizeof f);
    f.g = new_gil(policy, CT_MILLIS(1), true, 0);
    struct fifo_arg args[3];
    pthread_t t[3];
    hold_and_queue(&f, args, t, 3);
    CHECK_OK(ct_gil_release(f.g));
    fifo_join(&f, t, 3);
    CHECK_EQ(atomic_load(&f.next), 3);
    for (int i = 0; i < 3; i++) {
        if (f.order[i] != i) {
            ct_test_fail(__FILE__, __LINE__,
                         "queued 0, 1, 2; got the GIL in order %d, %d, %d",
                         f.order[0], f.order[1], f.order[2]);
        }
    }
    ct_gil_statistics s = stats_of(f.g);
    CHECK_EQ(s.total.acquisitions, 4);
    CHECK_EQ(s.total.releases, 4);
    CHECK(s.total.contended >= 3);
    CHECK_OK(ct_gil_free(f.g));
}

// Hand-off: a holder forced to drop at a yield point queues up behind the
// threads already waiting, so its yield point returns only after each of
// them had the GIL, in order.
static void
dropper_queues_behind_with(int policy)
{
    struct fifo f;
    memset(&f, 0, sizeof f);
    f.g = new_gil(policy, CT_MILLIS(1), false, 0);
    struct fifo_arg args[2];
    pthread_t t[2];
    hold_and_queue(&f, args, t, 2);
    int64_t deadline = ct_test_now() + ct_test_long_wait();
    int rc;
    while ((rc = ct_gil_yield_point(f.g)) == 0) {
        CHECK(ct_test_now() < deadline);
    }
    CHECK_EQ(rc, 1);
    int had = atomic_load(&f.next);
    CHECK_OK(ct_gil_release(f.g));
    fifo_join(&f, t, 2);
    if (had != 2 || f.order[0] != 0 || f.order[1] != 1) {
        ct_test_fail(__FILE__, __LINE__,
                     "policy %d: the dropper had the GIL back after %d of "
                     "the 2 waiters (order %d, %d)",
                     policy, had, f.order[0], f.order[1]);
    }
    CHECK_OK(ct_gil_free(f.g));
}

static void
dropper_queues_behind(void)
{
    dropper_queues_behind_with(CT_GIL_POLICY_HANDOFF);
    dropper_queues_behind_with(CT_GIL_POLICY_IO_PRIORITY);
}

static void
handoff_is_fifo(void)
{
    fifo_with(CT_GIL_POLICY_HANDOFF);
}

static void
io_priority_is_fifo(void)
{
    fifo_with(CT_GIL_POLICY_IO_PRIORITY);
}

// An interval of CT_FOREVER means no switching at all, under every
// policy: a waiter beside a holder spinning on yield points never asks
// (the clock arithmetic saturates instead of wrapping around).
static void
forever_interval_never_switches(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        struct fifo f;
        memset(&f, 0, sizeof f);
        f.g = new_gil(policies[p], CT_FOREVER, true, 0);
        struct spinner s;
        pthread_t ts = start_spinner(&s, f.g);
        struct fifo_arg w = {&f, 0};
        pthread_t tw = ct_test_spawn(fifo_main, &w);
        int fd = await_asleep(&f, 0);
        // One-sided: 50 ms of spinning with a waiter asleep, no hand-over.
        int64_t until = ct_test_now() + CT_MILLIS(50);
        while (ct_test_now() < until) {
            sched_yield();
        }
        CHECK_EQ(atomic_load(&s.handed), 0);
        CHECK_EQ(atomic_load(&f.next), 0);
        stop_spinner(&s, ts); // its final release hands the GIL over
        ct_test_join(tw);
        close(fd);
        CHECK_EQ(atomic_load(&f.next), 1);
        ct_gil_statistics st = stats_of(f.g);
        if (st.total.drop_requests != 0) {
            ct_test_fail(__FILE__, __LINE__,
                         "policy %d: %llu drop requests with an endless "
                         "interval",
                         policies[p],
                         (unsigned long long)st.total.drop_requests);
        }
        CHECK_OK(ct_gil_free(f.g));
    }
}

// I/O priority: a thread back from a blocking call (its last release was
// voluntary) queues ahead of a CPU-bound waiter that came first, so the
// holder's release hands the GIL to it; under the hand-off policy it stays
// behind.
struct returner {
    struct fifo *f;
    ct_event ready, go;
};

static void *
returner_main(void *p)
{
    struct returner *q = p;
    CHECK_OK(ct_gil_acquire(q->f->g));
    CHECK_OK(ct_gil_release(q->f->g)); // as around a blocking call
    CHECK_OK(ct_event_set(&q->ready));
    CHECK_OK(ct_event_wait(&q->go, ct_test_long_wait()));
    struct fifo_arg a = {q->f, 1};
    fifo_main(&a);
    return NULL;
}

static void
io_returner_order(int policy, int first, int second)
{
    struct fifo f;
    memset(&f, 0, sizeof f);
    f.g = new_gil(policy, CT_SECONDS(10), false, 0);
    struct returner q = {.f = &f};
    ct_event_init(&q.ready);
    ct_event_init(&q.go);
    pthread_t tr = ct_test_spawn(returner_main, &q);
    CHECK_OK(ct_event_wait(&q.ready, ct_test_long_wait()));
    CHECK_OK(ct_gil_acquire(f.g));
    // The CPU-bound waiter first (a fresh thread: its first acquire).
    struct fifo_arg w = {&f, 0};
    pthread_t tw = ct_test_spawn(fifo_main, &w);
    int fd0 = await_asleep(&f, 0);
    // Then the returner.
    CHECK_OK(ct_event_set(&q.go));
    int fd1 = await_asleep(&f, 1);
    CHECK_OK(ct_gil_release(f.g));
    ct_test_join(tw);
    ct_test_join(tr);
    close(fd0);
    close(fd1);
    if (f.order[0] != first || f.order[1] != second) {
        ct_test_fail(__FILE__, __LINE__,
                     "policy %d: the GIL went to %s, then %s", policy,
                     f.order[0] == 1 ? "the returner" : "the CPU-bound waiter",
                     f.order[1] == 1 ? "the returner" : "the CPU-bound waiter");
    }
    CHECK_OK(ct_gil_free(f.g));
}

static void
io_returner_goes_first(void)
{
    io_returner_order(CT_GIL_POLICY_IO_PRIORITY, 1, 0);
    io_returner_order(CT_GIL_POLICY_HANDOFF, 0, 1);
}

// A thread comes back from a release around a blocking call while another
// thread spins on yield points; how long until it has the GIL again?
struct convoy {
    ct_gil *g;
    bool scope; // CT_GIL_RELEASE_AROUND instead of ct_gil_release_around
    ct_event released, spinning;
    atomic_int stop;
    atomic_int handed;
    int64_t back; // when the blocking call returned
};

static void *
convoy_cpu(void *p)
{
    struct convoy *c = p;
    CHECK_OK(ct_event_wait(&c->released, ct_test_long_wait()));
    CHECK_OK(ct_gil_acquire(c->g));
    CHECK_OK(ct_event_set(&c->spinning));
    int64_t deadline = ct_test_now() + ct_test_long_wait();
    while (!atomic_load(&c->stop) && ct_test_now() < deadline) {
        int rc = ct_gil_yield_point(c->g);
        CHECK(rc == 0 || rc == 1);
        atomic_fetch_add(&c->handed, rc);
    }
    CHECK_OK(ct_gil_release(c->g));
    return NULL;
}

static int
convoy_blocking(void *p)
{
    struct convoy *c = p;
    CHECK_OK(ct_event_set(&c->released));
    CHECK_OK(ct_event_wait(&c->spinning, ct_test_long_wait()));
    c->back = ct_test_now();
    return 0;
}

// Returns how long the I/O thread (this one) waited for the GIL after its
// blocking call returned.
static int64_t
convoy_wait(int policy, ct_duration interval, bool scope)
{
    struct convoy c;
    memset(&c, 0, sizeof c);
    ct_event_init(&c.released);
    ct_event_init(&c.spinning);
    c.scope = scope;
    c.g = new_gil(policy, interval, false, 0);
    pthread_t t = ct_test_spawn(convoy_cpu, &c);
    CHECK_OK(ct_gil_acquire(c.g));
    if (scope) {
        CT_GIL_RELEASE_AROUND(c.g)
        {
            convoy_blocking(&c);
        }
    } else {
        CHECK_OK(ct_gil_release_around(c.g, convoy_blocking, &c));
    }
    int64_t waited = ct_test_now() - c.back;
    CHECK(ct_gil_held(c.g));
    // The spinner's yield point handed the GIL over once, to this thread,
    // and waits for it in there: it cannot have come back already.
    int handed = atomic_load(&c.handed);
    atomic_store(&c.stop, 1);
    CHECK_OK(ct_gil_release(c.g));
    ct_test_join(t);
    if (handed != 0 || atomic_load(&c.handed) != 1) {
        ct_test_fail(__FILE__, __LINE__,
                     "policy %d: the spinner's yield point returned 1 %d "
                     "times while this thread waited %lld us for the GIL "
                     "(then %d times)",
                     policy, handed, (long long)waited / 1000,
                     atomic_load(&c.handed));
    }
    CHECK_OK(ct_gil_free(c.g));
    return waited;
}

static void
io_priority_asks_at_once(void)
{
    const ct_duration interval = CT_MILLIS(200);
    // Several rounds: the request made at once races the holder's next
    // yield point, which must not take the GIL back before the requester.
    for (int round = 0; round < 20; round++) {
        bool scope = round % 2;
        int64_t waited =
            convoy_wait(CT_GIL_POLICY_IO_PRIORITY, interval, scope);
        if (waited >= interval / 2) {
            ct_test_fail(__FILE__, __LINE__,
                         "%s: back from blocking, waited %lld us for the "
                         "GIL (interval %lld us)",
                         scope ? "CT_GIL_RELEASE_AROUND"
                               : "ct_gil_release_around",
                         (long long)waited / 1000, (long long)interval / 1000);
        }
    }
}

// The same under CPython's policy (and hand-off, whose requests are
// CPython's): the convoy effect, a full interval.
static void
cpython_convoy(void)
{
    const ct_duration interval = CT_MILLIS(100);
    const int ps[] = {CT_GIL_POLICY_CPYTHON, CT_GIL_POLICY_HANDOFF};
    for (int i = 0; i < 2; i++) {
        int64_t waited = convoy_wait(ps[i], interval, false);
        if (waited < interval - interval / 10) {
            ct_test_fail(__FILE__, __LINE__,
                         "policy %d: back from blocking, got the GIL after "
                         "%lld us, before the interval (%lld us)",
                         ps[i], (long long)waited / 1000,
                         (long long)interval / 1000);
        }
    }
}

// ---------------------------------------------------------------------------
// Statistics.

// `total`: the relations between threads too (a forced switch is counted
// for the dropper, the request it answered for the requester).
static void
check_counts(const char *what, const ct_gil_counts *c, bool total)
{
    if (c->releases != c->acquisitions || c->switches > c->acquisitions ||
        c->contended > c->acquisitions ||
        (total && c->forced_switches > c->drop_requests) ||
        (total && c->lost_requests > c->drop_requests) || c->held_ns < 0 ||
        c->max_held_ns > c->held_ns || c->waited_ns < 0 ||
        c->max_waited_ns > c->waited_ns) {
        ct_test_fail(
            __FILE__, __LINE__,
            "%s: acquisitions %llu releases %llu switches %llu contended "
            "%llu drop_requests %llu forced %llu lost %llu held %lld (max "
            "%lld) waited %lld (max %lld)",
            what, (unsigned long long)c->acquisitions,
            (unsigned long long)c->releases, (unsigned long long)c->switches,
            (unsigned long long)c->contended,
            (unsigned long long)c->drop_requests,
            (unsigned long long)c->forced_switches,
            (unsigned long long)c->lost_requests, (long long)c->held_ns,
            (long long)c->max_held_ns, (long long)c->waited_ns,
            (long long)c->max_waited_ns);
    }
}

static void
stats_add_up(void)
{
    enum { N = 3 };
    for (int p = 0; p < NPOLICIES; p++) {
        struct mx m;
        memset(&m, 0, sizeof m);
        m.g = new_gil(policies[p], CT_MICROS(500), true, 0);
        m.iters = sanitized() ? 100 : 1000;
        ct_test_run_threads(N, mx_main, &m, 0);
        ct_gil_statistics s = stats_of(m.g);
        check_counts("total", &s.total, true);
        CHECK(s.total.acquisitions >= (uint64_t)N * m.iters);
        CHECK(s.total.switches >= N - 1);
        CHECK_EQ(s.nthreads, N);
        CHECK_EQ(s.exits_holding, 0);
        ct_gil_counts sum;
        memset(&sum, 0, sizeof sum);
        for (int i = 0; i < N; i++) {
            const ct_gil_counts *c = &s.threads[i].counts;
            CHECK(s.threads[i].ident != 0);
            check_counts("thread", c, false);
            CHECK(c->acquisitions >= (uint64_t)m.iters);
            sum.acquisitions += c->acquisitions;
            sum.releases += c->releases;
            sum.contended += c->contended;
            sum.switches += c->switches;
            sum.drop_requests += c->drop_requests;
            sum.forced_switches += c->forced_switches;
            sum.lost_requests += c->lost_requests;
        }
        CHECK_EQ(sum.acquisitions, s.total.acquisitions);
        CHECK_EQ(sum.releases, s.total.releases);
        CHECK_EQ(sum.contended, s.total.contended);
        CHECK_EQ(sum.switches, s.total.switches);
        CHECK_EQ(sum.drop_requests, s.total.drop_requests);
        CHECK_EQ(sum.forced_switches, s.total.forced_switches);
        CHECK_EQ(sum.lost_requests, s.total.lost_requests);
        uint64_t hist = 0;
        for (int i = 0; i < CT_GIL_HIST_BUCKETS; i++) {
            hist += s.wait_hist[i];
        }
        // Every waiting acquire is in the histogram; nothing else than
        // acquisitions can be.
        CHECK(hist >= s.total.contended);
        CHECK(hist <= s.total.acquisitions);
        CHECK_OK(ct_gil_free(m.g));
    }
}

// More threads than threads[] holds: nthreads counts them all, the total
// too, and threads[] has the first 32 (oldest first).
struct ident_use {
    ct_gil *g;
    uint64_t ident;
};

static void *
ident_and_use(void *p)
{
    struct ident_use *a = p;
    a->ident = ct_get_ident();
    use_once(a->g);
    return NULL;
}

static void
stats_many_threads(void)
{
    enum { N = CT_GIL_STATS_THREADS + 8 };
    struct ident_use a[N];
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), true, 0);
    for (int i = 0; i < N; i++) {
        a[i].g = g;
        ct_test_join(ct_test_spawn(ident_and_use, &a[i]));
    }
    ct_gil_statistics s = stats_of(g);
    CHECK_EQ(s.nthreads, N);
    CHECK_EQ(s.total.acquisitions, N);
    CHECK_EQ(s.total.releases, N);
    for (int i = 0; i < CT_GIL_STATS_THREADS; i++) {
        CHECK_EQ(s.threads[i].ident, a[i].ident);
        CHECK_EQ(s.threads[i].counts.acquisitions, 1);
    }
    CHECK_OK(ct_gil_free(g));
}

static void
stats_times(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), true, 0);
    CHECK_OK(ct_gil_acquire(g));
    ct_sleep(CT_MILLIS(10));
    CHECK_OK(ct_gil_release(g));
    ct_gil_statistics s = stats_of(g);
    CHECK_EQ(s.total.acquisitions, 1);
    CHECK_EQ(s.total.releases, 1);
    CHECK_EQ(s.total.contended, 0);
    CHECK(s.total.held_ns >= CT_MILLIS(10));
    CHECK(s.total.max_held_ns >= CT_MILLIS(10));
    CHECK_EQ(s.nthreads, 1);
    CHECK_EQ(s.threads[0].ident, ct_get_ident());
    CHECK_OK(ct_gil_free(g));
}

static void
stats_reset(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_HANDOFF, CT_MILLIS(1), true, 0);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(ct_gil_acquire(g));
        CHECK_OK(ct_gil_release(g));
    }
    ct_gil_statistics s = stats_of(g);
    CHECK_EQ(s.total.acquisitions, 5);
    CHECK_OK(ct_gil_stats_reset(g));
    s = stats_of(g);
    CHECK_EQ(s.total.acquisitions, 0);
    CHECK_EQ(s.total.releases, 0);
    CHECK_EQ(s.total.held_ns, 0);
    CHECK_EQ(s.total.max_held_ns, 0);
    uint64_t hist = 0;
    for (int i = 0; i < CT_GIL_HIST_BUCKETS; i++) {
        hist += s.wait_hist[i];
    }
    CHECK_EQ(hist, 0);
    for (size_t i = 0; i < s.nthreads && i < CT_GIL_STATS_THREADS; i++) {
        CHECK_EQ(s.threads[i].counts.acquisitions, 0);
        CHECK_EQ(s.threads[i].counts.releases, 0);
    }
    // Counting goes on after a reset.
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    s = stats_of(g);
    CHECK_EQ(s.total.acquisitions, 1);
    CHECK_EQ(s.total.releases, 1);
    CHECK_OK(ct_gil_free(g));
}

// With statistics off, everything stays zero even under contention.
static void
stats_off_all_zero(void)
{
    struct mx m;
    memset(&m, 0, sizeof m);
    m.g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MICROS(500), false, 0);
    m.iters = sanitized() ? 50 : 300;
    ct_test_run_threads(3, mx_main, &m, 0);
    ct_gil_statistics s = stats_of(m.g);
    CHECK_COUNTS_ZERO(&s);
    CHECK_OK(ct_gil_stats_reset(m.g));
    CHECK_OK(ct_gil_free(m.g));
}

// The header: "all zero when statistics are off", so no thread records
// either (nthreads and the idents).
static void
stats_off_no_threads(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 0);
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    ct_gil_statistics s = stats_of(g);
    CHECK_COUNTS_ZERO(&s);
    CHECK_EQ(s.nthreads, 0);
    CHECK_EQ(s.threads[0].ident, 0);
    CHECK_OK(ct_gil_free(g));
}

// ---------------------------------------------------------------------------
// The trace.

static void
trace_one_span(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 8);
    int64_t t0 = ct_monotonic_ns();
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    int64_t t1 = ct_monotonic_ns();
    ct_gil_span sp[8];
    CHECK_EQ(ct_gil_trace_read(g, sp, 8), 1);
    CHECK_EQ(sp[0].ident, ct_get_ident());
    CHECK(t0 <= sp[0].start_ns);
    CHECK(sp[0].start_ns <= sp[0].end_ns);
    CHECK(sp[0].end_ns <= t1);
    CHECK_EQ(ct_gil_trace_lost(g), 0);
    // cap bounds the copy.
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    CHECK_EQ(ct_gil_trace_read(g, sp, 1), 1);
    CHECK_EQ(ct_gil_trace_read(g, sp, 0), 0);
    CHECK_EQ(ct_gil_trace_read(g, sp, 8), 2);
    ct_gil_trace_clear(g);
    CHECK_EQ(ct_gil_trace_read(g, sp, 8), 0);
    CHECK_OK(ct_gil_acquire(g));
    CHECK_OK(ct_gil_release(g));
    CHECK_EQ(ct_gil_trace_read(g, sp, 8), 1);
    CHECK_OK(ct_gil_free(g));
}

// A ring of 4 after 10 holds: the last 4, oldest first, and 6 lost.
static void
trace_ring_overwrites(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), false, 4);
    int64_t starts[10];
    for (int i = 0; i < 10; i++) {
        starts[i] = ct_monotonic_ns();
        CHECK_OK(ct_gil_acquire(g));
        CHECK_OK(ct_gil_release(g));
    }
    ct_gil_span sp[16];
    CHECK_EQ(ct_gil_trace_read(g, sp, 16), 4);
    CHECK_EQ(ct_gil_trace_lost(g), 6);
    for (int i = 0; i < 4; i++) {
        CHECK(sp[i].start_ns >= starts[6 + i]);
        CHECK(i == 9 - 6 || sp[i].end_ns <= starts[6 + i + 1]);
        CHECK(sp[i].start_ns <= sp[i].end_ns);
    }
    CHECK_OK(ct_gil_free(g));
}

// Several threads, with hand-overs at yield points: the spans are in
// order, each start <= end, and no two overlap (one holder at a time).
static void
trace_shows_mutual_exclusion(void)
{
    enum { N = 3, CAP = 512 };
    for (int p = 0; p < NPOLICIES; p++) {
        struct mx m;
        memset(&m, 0, sizeof m);
        m.g = new_gil(policies[p], CT_MICROS(200), false, CAP);
        m.iters = sanitized() ? 40 : 200;
        ct_test_run_threads(N, mx_main, &m, 0);
        static ct_gil_span sp[CAP];
        size_t n = ct_gil_trace_read(m.g, sp, CAP);
        CHECK(n >= 2);
        CHECK(n <= CAP);
        bool several = false;
        for (size_t i = 0; i < n; i++) {
            CHECK(sp[i].ident != 0);
            CHECK(sp[i].start_ns <= sp[i].end_ns);
            if (i > 0 && sp[i - 1].end_ns > sp[i].start_ns) {
                ct_test_fail(
                    __FILE__, __LINE__,
                    "policy %d: span %zu (thread %llu, %lld..%lld) "
                    "overlaps span %zu (thread %llu, %lld..%lld)",
                    policies[p], i - 1, (unsigned long long)sp[i - 1].ident,
                    (long long)sp[i - 1].start_ns, (long long)sp[i - 1].end_ns,
                    i, (unsigned long long)sp[i].ident,
                    (long long)sp[i].start_ns, (long long)sp[i].end_ns);
            }
            several |= i > 0 && sp[i].ident != sp[0].ident;
        }
        CHECK(several);
        CHECK_OK(ct_gil_free(m.g));
    }
}

// ---------------------------------------------------------------------------
// A thread that exits holding: counted, and the GIL is free again.

static void *
exit_holding_main(void *p)
{
    CHECK_OK(ct_gil_acquire((ct_gil *)p));
    return NULL;
}

struct taker {
    ct_gil *g;
    atomic_int started;
    atomic_int got;
};

static void *
taker_main(void *p)
{
    struct taker *k = p;
    atomic_store(&k->started, 1);
    CHECK_OK(ct_gil_acquire(k->g));
    atomic_store(&k->got, 1);
    CHECK_OK(ct_gil_release(k->g));
    return NULL;
}

static void
check_taken(struct taker *k, pthread_t t)
{
    if (!ct_test_poll_at_least(&k->got, 1, ct_test_long_wait())) {
        ct_test_fail(__FILE__, __LINE__,
                     "no thread can take the GIL after its holder exited");
    }
    ct_test_join(t);
}

static void
exit_while_holding(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        ct_gil *g = new_gil(policies[p], CT_MILLIS(1), true, 0);
        ct_test_join(ct_test_spawn(exit_holding_main, g));
        struct taker k = {.g = g};
        check_taken(&k, ct_test_spawn(taker_main, &k));
        ct_gil_statistics s = stats_of(g);
        CHECK_EQ(s.exits_holding, 1);
        CHECK_EQ(s.total.acquisitions, 2);
        CHECK(!ct_gil_held(g));
        CHECK_OK(ct_gil_acquire(g));
        CHECK_OK(ct_gil_release(g));
        CHECK_OK(ct_gil_free(g));
    }
}

// The holder exits while another thread already waits for the GIL.
struct exiter {
    ct_gil *g;
    ct_event holding, go;
};

static void *
exiter_main(void *p)
{
    struct exiter *e = p;
    CHECK_OK(ct_gil_acquire(e->g));
    CHECK_OK(ct_event_set(&e->holding));
    CHECK_OK(ct_event_wait(&e->go, ct_test_long_wait()));
    return NULL;
}

static void
exit_while_holding_with_waiter(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        struct exiter e = {.holding = CT_EVENT_INIT, .go = CT_EVENT_INIT};
        e.g = new_gil(policies[p], CT_MILLIS(1), true, 0);
        pthread_t te = ct_test_spawn(exiter_main, &e);
        CHECK_OK(ct_event_wait(&e.holding, ct_test_long_wait()));
        struct taker k = {.g = e.g};
        pthread_t tk = ct_test_spawn(taker_main, &k);
        CHECK(ct_test_poll_at_least(&k.started, 1, ct_test_long_wait()));
        // Best effort: let the taker reach its wait (it requests a drop
        // after one interval; nobody answers it).
        CHECK(!ct_test_poll_at_least(&k.got, 1, CT_MILLIS(5)));
        CHECK_OK(ct_event_set(&e.go));
        ct_test_join(te);
        check_taken(&k, tk);
        ct_gil_statistics s = stats_of(e.g);
        CHECK_EQ(s.exits_holding, 1);
        CHECK_OK(ct_gil_free(e.g));
    }
}

// A thread that used the GIL and released it exits normally: no error.
static void
exit_after_release(void)
{
    ct_gil *g = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), true, 0);
    ct_test_join(ct_test_spawn(use_once, g));
    ct_gil_statistics s = stats_of(g);
    CHECK_EQ(s.exits_holding, 0);
    CHECK_EQ(s.total.acquisitions, 1);
    CHECK_EQ(s.total.releases, 1);
    use_once(g);
    CHECK_OK(ct_gil_free(g));
}

// ---------------------------------------------------------------------------
// fork(). The header says nothing of fork; the child must at least be able
// to take and release the GIL it inherited, whoever held it in the parent.
// docs/gil.md adds that a GIL the forking thread held stays held by it in
// the child (as in CPython), and every other hold or wait is gone.

static ct_gil *fork_gil;
static bool fork_expect_held; // docs/gil.md: the forker's hold stays

static void
fork_child_uses_gil(void)
{
    if (fork_expect_held) {
        CHECK(ct_gil_held(fork_gil));
        CHECK_EQ(ct_gil_yield_point(fork_gil), 0);
        // Held for real: another thread of the child sleeps until the
        // release (a GIL freed by the fork would let it through at once,
        // and it would never be seen asleep). TSan cannot start a thread
        // after a multi-threaded fork.
    }
    if (fork_expect_held && !TSAN_BUILD) {
        struct fifo f;
        memset(&f, 0, sizeof f);
        f.g = fork_gil;
        struct fifo_arg a = {&f, 0};
        pthread_t t = ct_test_spawn(fifo_main, &a);
        CHECK(ct_test_poll_at_least(&f.started, 1, ct_test_long_wait()));
        int fd = atomic_load(&f.stat_fd[0]);
        if (fd >= 0) {
            wait_until_asleep(fd);
            close(fd);
        }
        CHECK_EQ(atomic_load(&f.next), 0);
        CHECK_OK(ct_gil_release(fork_gil));
        ct_test_join(t);
        CHECK_EQ(atomic_load(&f.next), 1);
    }
    // If the forking thread held the GIL, the child may keep it (CPython)
    // or not: either way, it must end with a working acquire/release.
    if (ct_gil_held(fork_gil)) {
        CHECK_EQ(ct_gil_yield_point(fork_gil), 0);
        CHECK_OK(ct_gil_release(fork_gil));
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ct_gil_acquire(fork_gil));
        CHECK(ct_gil_held(fork_gil));
        CHECK_EQ(ct_gil_yield_point(fork_gil), 0);
        CHECK_OK(ct_gil_release(fork_gil));
    }
    // Nobody holds or waits for it in the child.
    CHECK_OK(ct_gil_free(fork_gil));
}

static void
fork_check(const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fork_child_uses_gil();
        _exit(0);
    }
    int status = ct_test_wait_child(pid, (ct_duration)(2e9 * ct_test_scale()));
    if (status != 0) {
        ct_test_fail(__FILE__, __LINE__, "fork child (%s): %s (status %d)",
                     what, status == -2 ? "hangs" : "failed", status);
    }
}

static void
fork_not_held(void)
{
    fork_gil = new_gil(CT_GIL_POLICY_CPYTHON, CT_MILLIS(1), true, 4);
    CHECK_OK(ct_gil_acquire(fork_gil));
    CHECK_OK(ct_gil_release(fork_gil));
    fork_check("nobody held the GIL");
    // The parent's GIL is untouched.
    use_once(fork_gil);
    CHECK_OK(ct_gil_free(fork_gil));
}

static void
fork_held_by_forker(void)
{
    fork_gil = new_gil(CT_GIL_POLICY_HANDOFF, CT_MILLIS(1), true, 4);
    CHECK_OK(ct_gil_acquire(fork_gil));
    fork_expect_held = true;
    fork_check("the forking thread held the GIL");
    fork_expect_held = false;
    CHECK(ct_gil_held(fork_gil));
    CHECK_OK(ct_gil_release(fork_gil));
    CHECK_OK(ct_gil_free(fork_gil));
}

// The forker holds a hand-off GIL while a waiter sleeps (so the holder's
// yield word carries SLICE): the child still holds it, and it works.
static void
fork_held_by_forker_with_waiter(void)
{
    struct fifo f;
    memset(&f, 0, sizeof f);
    f.g = fork_gil = new_gil(CT_GIL_POLICY_HANDOFF, CT_SECONDS(1), true, 4);
    CHECK_OK(ct_gil_acquire(f.g));
    struct fifo_arg arg = {&f, 0};
    pthread_t t = ct_test_spawn(fifo_main, &arg);
    int fd = await_asleep(&f, 0);
    fork_expect_held = true;
    fork_check("the forking thread held the GIL, a waiter slept");
    fork_expect_held = false;
    CHECK_OK(ct_gil_release(f.g));
    ct_test_join(t);
    close(fd);
    CHECK_EQ(atomic_load(&f.next), 1);
    CHECK_OK(ct_gil_free(f.g));
}

// Another thread holds the GIL (spinning on yield points) at the fork: it
// does not exist in the child, which must not wait for it forever.
static void
fork_held_by_other_thread(void)
{
    for (int p = 0; p < NPOLICIES; p++) {
        fork_gil = new_gil(policies[p], CT_MILLIS(1), true, 4);
        struct spinner s;
        pthread_t t = start_spinner(&s, fork_gil);
        fork_check("another thread held the GIL");
        stop_spinner(&s, t);
        CHECK_OK(ct_gil_free(fork_gil));
    }
}

// clang-format off
CT_SUITE(gil) = {
    {"bad input to new", bad_input_new},
    {"defaults", defaults},
    {"NULL everywhere", bad_input_null},
    {"bad interval", bad_interval},
    {"not held", not_held},
    {"acquire twice", acquire_twice},
    {"free while held", free_while_held},
    {"release by a non-holder", release_by_non_holder},
    {"two GILs are independent", two_gils_are_independent},
    {"new GIL after free", new_gil_after_free},
    {"mutual exclusion (CPython)", mutual_exclusion_cpython},
    {"mutual exclusion (hand-off)", mutual_exclusion_handoff},
    {"mutual exclusion (I/O priority)", mutual_exclusion_io_priority},
    {"spinners take turns", spinners_take_turns},
    {"forced switch (CPython)", forced_switch_cpython},
    {"forced switch (hand-off)", forced_switch_handoff},
    {"forced switch (I/O priority)", forced_switch_io_priority},
    {"hand-off holder ends its own slice", holder_ends_its_slice},
    {"interval honoured", interval_honoured},
    {"an endless interval never switches", forever_interval_never_switches},
    {"slices last an interval", slices_last_an_interval},
    {"requested release waits for the taker", requested_release_waits_for_taker},
    {"release around (function)", release_around_function},
    {"release around (scope)", release_around_scope},
    {"disabled lets both hold", disabled_lets_both_hold},
    {"hand-off is FIFO", handoff_is_fifo},
    {"I/O priority is FIFO", io_priority_is_fifo},
    {"the dropper queues behind the waiters", dropper_queues_behind},
    {"I/O priority asks at once", io_priority_asks_at_once},
    {"an I/O returner goes ahead of CPU-bound waiters",
     io_returner_goes_first},
    {"CPython convoy", cpython_convoy},
    {"stats add up", stats_add_up},
    {"stats times", stats_times},
    {"stats of many threads", stats_many_threads},
    {"stats reset", stats_reset},
    {"stats off all zero", stats_off_all_zero},
    {"stats off reports no threads", stats_off_no_threads},
    {"trace one span", trace_one_span},
    {"trace ring overwrites", trace_ring_overwrites},
    {"trace shows mutual exclusion", trace_shows_mutual_exclusion},
    {"exit while holding", exit_while_holding},
    {"exit while holding with a waiter", exit_while_holding_with_waiter},
    {"exit after release", exit_after_release},
    {"fork, not held", fork_not_held},
    {"fork, held by the forking thread", fork_held_by_forker},
    {"fork, held by the forker, a waiter asleep",
     fork_held_by_forker_with_waiter},
    {"fork, held by another thread", fork_held_by_other_thread},
    {0},
};
// clang-format on
