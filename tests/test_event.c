// Tests for ct_event (Python's threading.Event): the flag, waits that return
// at once or time out, set() waking every waiter, a set() undone by clear()
// still waking the blocked (gh-57711), and set/clear cycles under load.
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

static void
init_forms(void)
{
    ct_event a = CT_EVENT_INIT;
    ct_event b;
    memset(&b, 0, sizeof b);
    // init must work on garbage, not only on zeroed memory.
    ct_event c;
    memset(&c, 0xff, sizeof c);
    ct_event_init(&c);
    ct_event *d = calloc(1, sizeof *d);
    CHECK(d != NULL);

    ct_event *all[] = {&a, &b, &c, d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK(!ct_event_is_set(all[i]));
        CHECK_RC(ct_event_wait(all[i], CT_NOWAIT), CT_ETIMEDOUT);
        CHECK_OK(ct_event_set(all[i]));
        CHECK(ct_event_is_set(all[i]));
        CHECK_OK(ct_event_wait(all[i], CT_NOWAIT));
        CHECK_OK(ct_event_clear(all[i]));
        CHECK(!ct_event_is_set(all[i]));
        ct_event_destroy(all[i]);
    }
    free(d);
}

// lock_tests' test_is_set.
static void
set_clear_is_set(void)
{
    ct_event e = CT_EVENT_INIT;
    CHECK(!ct_event_is_set(&e));
    CHECK_OK(ct_event_set(&e));
    CHECK(ct_event_is_set(&e));
    CHECK_OK(ct_event_set(&e));
    CHECK(ct_event_is_set(&e));
    CHECK_OK(ct_event_clear(&e));
    CHECK(!ct_event_is_set(&e));
    CHECK_OK(ct_event_clear(&e));
    CHECK(!ct_event_is_set(&e));
    // set then clear before any wait: the wait does not see it.
    CHECK_OK(ct_event_set(&e));
    CHECK_OK(ct_event_clear(&e));
    CHECK_RC(ct_event_wait(&e, CT_MILLIS(10)), CT_ETIMEDOUT);
    CHECK(!ct_event_is_set(&e));
}

static void
null_event(void)
{
    CHECK_RC(ct_event_set(NULL), CT_EINVAL);
    CHECK_RC(ct_event_clear(NULL), CT_EINVAL);
    CHECK(!ct_event_is_set(NULL));
    CHECK_RC(ct_event_wait(NULL, CT_NOWAIT), CT_EINVAL);
    // Must not wait forever on nothing.
    CHECK_RC(ct_event_wait(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_event_wait(NULL, CT_MILLIS(50)), CT_EINVAL);
    CHECK_RC(ct_event_wait(NULL, -1), CT_EINVAL);
}

static void
wait_when_set_returns_at_once(void)
{
    // From forever down to INT64_MIN: every one returns at once.
    const ct_duration timeouts[] = {
        CT_FOREVER, INT64_MAX - 1,   CT_SECONDS(1e9), CT_MILLIS(50), CT_NOWAIT,
        -1,         -CT_SECONDS(30), INT64_MIN,
    };
    ct_event e = CT_EVENT_INIT;
    CHECK_OK(ct_event_set(&e));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_OK(ct_event_wait(&e, timeouts[i]));
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        // A wait does not consume the flag.
        CHECK(ct_event_is_set(&e));
    }
}

// lock_tests' test_timeout: a clear event times out, and the flag stays.
static void
timeouts(void)
{
    ct_event e = CT_EVENT_INIT;
    const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(30), INT64_MIN};
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_event_wait(&e, polls[i]), CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        CHECK(!ct_event_is_set(&e));
    }
    const ct_duration timeout = CT_MILLIS(50);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_event_wait(&e, timeout), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK(!ct_event_is_set(&e));
    // Still a working event afterwards.
    CHECK_OK(ct_event_set(&e));
    CHECK_OK(ct_event_wait(&e, CT_NOWAIT));
}

struct waiters {
    ct_event *event;
    ct_duration timeout;
    atomic_int started;
    atomic_int returned;
    atomic_int ok;
    atomic_int timed_out;
    atomic_int other;
};

static void *
waiter_main(void *p)
{
    struct waiters *w = p;
    atomic_fetch_add(&w->started, 1);
    int rc = ct_event_wait(w->event, w->timeout);
    if (rc == 0) {
        atomic_fetch_add(&w->ok, 1);
    } else if (rc == CT_ETIMEDOUT) {
        atomic_fetch_add(&w->timed_out, 1);
    } else {
        atomic_fetch_add(&w->other, 1);
    }
    atomic_fetch_add(&w->returned, 1);
    return NULL;
}

// Gives the `n` waiters that announced themselves time to really block in
// ct_event_wait: by a wait on an event nobody sets, not by sleeping. The
// tests stay correct if some waiter has not blocked yet; they just test less.
static void
let_waiters_block(struct waiters *w, int n)
{
    ct_event never = CT_EVENT_INIT;
    CHECK(ct_test_poll_at_least(&w->started, n, ct_test_long_wait()));
    CHECK_RC(ct_event_wait(&never, CT_MILLIS(30)), CT_ETIMEDOUT);
    CHECK_EQ(atomic_load(&w->returned), 0);
}

static void
check_all_ok(const char *file, int line, struct waiters *w, int n)
{
    if (!ct_test_poll_at_least(&w->returned, n, ct_test_long_wait()) ||
        atomic_load(&w->ok) != n) {
        ct_test_fail(file, line,
                     "of %d waiters: %d returned 0, %d timed out, %d failed "
                     "otherwise, %d still waiting",
                     n, atomic_load(&w->ok), atomic_load(&w->timed_out),
                     atomic_load(&w->other), n - atomic_load(&w->returned));
    }
}
#define CHECK_ALL_OK(w, n) check_all_ok(__FILE__, __LINE__, (w), (n))

// lock_tests' test_notify: set() wakes every waiter, and once set, new
// waiters return at once.
static void
set_wakes_all(void)
{
    enum { N = 5 };
    ct_event e = CT_EVENT_INIT;
    struct waiters w = {.event = &e, .timeout = CT_FOREVER};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &w);
    }
    let_waiters_block(&w, N);
    CHECK(!ct_test_poll_at_least(&w.returned, 1, CT_MILLIS(20)));
    CHECK_OK(ct_event_set(&e));
    CHECK_ALL_OK(&w, N);
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }

    struct waiters again = {.event = &e, .timeout = CT_FOREVER};
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &again);
    }
    CHECK_ALL_OK(&again, N);
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
    CHECK(ct_event_is_set(&e));
}

// Waiters with a finite timeout are woken by set() too, well before it.
static void
set_wakes_timed_waiters(void)
{
    enum { N = 4 };
    ct_event e = CT_EVENT_INIT;
    struct waiters w = {.event = &e, .timeout = ct_test_long_wait()};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &w);
    }
    let_waiters_block(&w, N);
    int64_t t0 = ct_test_now();
    CHECK_OK(ct_event_set(&e));
    CHECK_ALL_OK(&w, N);
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
}

// gh-57711: a waiter blocked during a set() returns 0 even if clear()
// came before it ran.
static void
set_then_clear_wakes_blocked(void)
{
    enum { N = 5 };
    for (int round = 0; round < 3; round++) {
        ct_event e = CT_EVENT_INIT;
        struct waiters w = {.event = &e, .timeout = CT_FOREVER};
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
            t[i] = ct_test_spawn(waiter_main, &w);
        }
        let_waiters_block(&w, N);
        CHECK_OK(ct_event_set(&e));
        CHECK_OK(ct_event_clear(&e));
        CHECK(!ct_event_is_set(&e));
        CHECK_ALL_OK(&w, N);
        for (int i = 0; i < N; i++) {
            ct_test_join(t[i]);
        }
        CHECK(!ct_event_is_set(&e));
        // The clear stands: a new wait blocks.
        CHECK_RC(ct_event_wait(&e, CT_MILLIS(10)), CT_ETIMEDOUT);
    }
}

// A timeout far in the future must not overflow into an immediate return.
static void
huge_timeout(void)
{
    const ct_duration huge[] = {INT64_MAX - 1, CT_SECONDS(1e9), INT64_MAX / 2,
                                CT_FOREVER};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        ct_event e = CT_EVENT_INIT;
        struct waiters w = {.event = &e, .timeout = huge[i]};
        pthread_t t = ct_test_spawn(waiter_main, &w);
        CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
        if (ct_test_poll_at_least(&w.returned, 1, CT_MILLIS(50))) {
            ct_test_fail(__FILE__, __LINE__,
                         "wait(%lld) returned (%d timed out, %d other) while "
                         "clear",
                         (long long)huge[i], atomic_load(&w.timed_out),
                         atomic_load(&w.other));
        }
        CHECK_OK(ct_event_set(&e));
        CHECK_ALL_OK(&w, 1);
        ct_test_join(t);
    }
}

// Waiters timing out beside one that waits forever must leave the event
// able to wake it, and a clear event must stay clear.
static void
timed_out_waiters_among_parked(void)
{
    ct_event e = CT_EVENT_INIT;
    struct waiters forever = {.event = &e, .timeout = CT_FOREVER};
    pthread_t tf = ct_test_spawn(waiter_main, &forever);
    CHECK(ct_test_poll_at_least(&forever.started, 1, ct_test_long_wait()));

    enum { N = 3 };
    struct waiters timed = {.event = &e, .timeout = CT_MILLIS(30)};
    pthread_t tt[N];
    int64_t t0 = ct_test_now();
    for (int i = 0; i < N; i++) {
        tt[i] = ct_test_spawn(waiter_main, &timed);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
    }
    CHECK(ct_test_now() - t0 >= timed.timeout);
    CHECK_EQ(atomic_load(&timed.timed_out), N);
    CHECK_EQ(atomic_load(&forever.returned), 0);
    CHECK(!ct_event_is_set(&e));

    CHECK_OK(ct_event_set(&e));
    CHECK_ALL_OK(&forever, 1);
    ct_test_join(tf);

    // Only timed-out waiters this time: the event still works as new.
    CHECK_OK(ct_event_clear(&e));
    struct waiters timed2 = {.event = &e, .timeout = CT_MILLIS(20)};
    for (int i = 0; i < N; i++) {
        tt[i] = ct_test_spawn(waiter_main, &timed2);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
    }
    CHECK_EQ(atomic_load(&timed2.timed_out), N);
    CHECK(!ct_event_is_set(&e));
    CHECK_OK(ct_event_set(&e));
    CHECK(ct_event_is_set(&e));
    CHECK_OK(ct_event_wait(&e, CT_NOWAIT));
    CHECK_OK(ct_event_clear(&e));
    CHECK(!ct_event_is_set(&e));
}

enum { CYCLE_WAITERS = 4, CYCLES = 1000 };

struct cycle_ctx {
    ct_event event;
    pthread_barrier_t ready;   // every waiter about to wait, event clear
    pthread_barrier_t through; // every waiter returned
    atomic_int failures;
};

static void
barrier_wait(pthread_barrier_t *b)
{
    int rc = pthread_barrier_wait(b);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
}

static void *
cycle_waiter(void *p)
{
    struct cycle_ctx *ctx = p;
    for (int c = 0; c < CYCLES; c++) {
        barrier_wait(&ctx->ready);
        // Finite on odd cycles so both wait paths see the race with set().
        int rc = ct_event_wait(&ctx->event,
                               c % 2 ? ct_test_long_wait() : CT_FOREVER);
        if (rc != 0) {
            atomic_fetch_add(&ctx->failures, 1);
        }
        barrier_wait(&ctx->through);
    }
    return NULL;
}

// Many set/clear cycles with waiters arriving around the set(): each wait
// of each cycle must return 0. A lost wake-up fails as a timeout (or, on
// the CT_FOREVER cycles, as the runner's watchdog).
static void
set_clear_cycles(void)
{
    struct cycle_ctx ctx = {.event = CT_EVENT_INIT};
    atomic_init(&ctx.failures, 0);
    CHECK_EQ(pthread_barrier_init(&ctx.ready, NULL, CYCLE_WAITERS + 1), 0);
    CHECK_EQ(pthread_barrier_init(&ctx.through, NULL, CYCLE_WAITERS + 1), 0);
    pthread_t t[CYCLE_WAITERS];
    for (int i = 0; i < CYCLE_WAITERS; i++) {
        t[i] = ct_test_spawn(cycle_waiter, &ctx);
    }
    for (int c = 0; c < CYCLES; c++) {
        barrier_wait(&ctx.ready);
        // Vary how far the waiters get before the set().
        for (int y = 0; y < c % 4; y++) {
            sched_yield();
        }
        CHECK_OK(ct_event_set(&ctx.event));
        if (c % 3 == 0) {
            // A redundant clear and set must not lose the wake-up either.
            CHECK_OK(ct_event_clear(&ctx.event));
            CHECK_OK(ct_event_set(&ctx.event));
        }
        barrier_wait(&ctx.through);
        CHECK_OK(ct_event_clear(&ctx.event));
    }
    for (int i = 0; i < CYCLE_WAITERS; i++) {
        ct_test_join(t[i]);
    }
    pthread_barrier_destroy(&ctx.ready);
    pthread_barrier_destroy(&ctx.through);
    CHECK_EQ(atomic_load(&ctx.failures), 0);
    CHECK(!ct_event_is_set(&ctx.event));
}

enum { STORM_THREADS = 4, STORM_ITERS = 5000 };

struct storm_ctx {
    ct_event event;
    atomic_int stop;
};

static void *
storm_toggler(void *p)
{
    struct storm_ctx *ctx = p;
    for (int i = 0; i < STORM_ITERS; i++) {
        CHECK_OK(ct_event_set(&ctx->event));
        CHECK_OK(ct_event_clear(&ctx->event));
    }
    return NULL;
}

static void *
storm_waiter(void *p)
{
    struct storm_ctx *ctx = p;
    while (!atomic_load(&ctx->stop)) {
        int rc = ct_event_wait(&ctx->event, CT_MICROS(200));
        if (rc != 0) {
            CHECK_RC(rc, CT_ETIMEDOUT);
        }
    }
    return NULL;
}

// set() and clear() from several threads against short timed waits: no
// error, no crash, and the final set() reaches every waiter.
static void
set_clear_storm(void)
{
    struct storm_ctx ctx = {.event = CT_EVENT_INIT};
    atomic_init(&ctx.stop, 0);
    pthread_t waiters[2];
    for (int i = 0; i < 2; i++) {
        waiters[i] = ct_test_spawn(storm_waiter, &ctx);
    }
    ct_test_run_threads(STORM_THREADS, storm_toggler, &ctx, 0);
    atomic_store(&ctx.stop, 1);
    for (int i = 0; i < 2; i++) {
        ct_test_join(waiters[i]);
    }
    CHECK(!ct_event_is_set(&ctx.event));

    enum { N = 3 };
    struct waiters w = {.event = &ctx.event, .timeout = CT_FOREVER};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &w);
    }
    let_waiters_block(&w, N);
    CHECK_OK(ct_event_set(&ctx.event));
    CHECK_ALL_OK(&w, N);
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
}

CT_SUITE(event) = {
    {"init forms", init_forms},
    {"set clear is set", set_clear_is_set},
    {"null event", null_event},
    {"wait when set returns at once", wait_when_set_returns_at_once},
    {"timeouts", timeouts},
    {"set wakes all", set_wakes_all},
    {"set wakes timed waiters", set_wakes_timed_waiters},
    {"set then clear wakes blocked", set_then_clear_wakes_blocked},
    {"huge timeout", huge_timeout},
    {"timed out waiters among parked", timed_out_waiters_among_parked},
    {"set clear cycles", set_clear_cycles},
    {"set clear storm", set_clear_storm},
    {0},
};
