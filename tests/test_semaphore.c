// Tests for ct_semaphore (Python's Semaphore and BoundedSemaphore): counting,
// release(n) waking exactly the right number of waiters, the concurrency
// limit, bounded over-release from any thread, timeouts and misuse codes.
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

// Takes `n` units without waiting; each must be there.
static void
take(ct_semaphore *s, int n)
{
    for (int i = 0; i < n; i++) {
        CHECK_OK(ct_semaphore_acquire(s, CT_NOWAIT));
    }
}

static void
init_forms(void)
{
    ct_semaphore a = CT_SEMAPHORE_INIT(3);
    CHECK_EQ(ct_semaphore_value(&a), 3);

    ct_semaphore b;
    memset(&b, 0xff, sizeof b);
    CHECK_OK(ct_semaphore_init(&b, 3));
    CHECK_EQ(ct_semaphore_value(&b), 3);

    ct_semaphore c;
    memset(&c, 0xff, sizeof c);
    CHECK_OK(ct_bounded_semaphore_init(&c, 3));
    CHECK_EQ(ct_semaphore_value(&c), 3);

    ct_semaphore d = CT_BOUNDED_SEMAPHORE_INIT(3);
    CHECK_EQ(ct_semaphore_value(&d), 3);

    ct_semaphore *all[] = {&a, &b, &c, &d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        take(all[i], 3);
        CHECK_EQ(ct_semaphore_value(all[i]), 0);
        CHECK_RC(ct_semaphore_acquire(all[i], CT_NOWAIT), CT_ETIMEDOUT);
        CHECK_OK(ct_semaphore_release(all[i], 3));
        CHECK_EQ(ct_semaphore_value(all[i]), 3);
        ct_semaphore_destroy(all[i]);
    }
    // Only the bounded ones refuse a fourth unit.
    CHECK_OK(ct_semaphore_release(&a, 1));
    CHECK_OK(ct_semaphore_release(&b, 1));
    CHECK_RC(ct_semaphore_release(&c, 1), CT_EOVERFLOW);
    CHECK_RC(ct_semaphore_release(&d, 1), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&c), 3);
    CHECK_EQ(ct_semaphore_value(&d), 3);
}

// Zeroed memory is a plain Semaphore(0).
static void
zeroed_is_semaphore_zero(void)
{
    ct_semaphore *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    CHECK_EQ(ct_semaphore_value(s), 0);
    CHECK_RC(ct_semaphore_acquire(s, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_OK(ct_semaphore_release(s, 1));
    CHECK_OK(ct_semaphore_release(s, 1));
    CHECK_EQ(ct_semaphore_value(s), 2);
    take(s, 2);
    CHECK_EQ(ct_semaphore_value(s), 0);
    ct_semaphore_destroy(s);
    free(s);

    ct_semaphore z = CT_SEMAPHORE_INIT(0);
    CHECK_OK(ct_semaphore_init(&z, 0));
    CHECK_RC(ct_semaphore_acquire(&z, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_OK(ct_bounded_semaphore_init(&z, 0));
    CHECK_RC(ct_semaphore_release(&z, 1), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&z), 0);
}

static void
bad_init(void)
{
    CHECK_RC(ct_semaphore_init(NULL, 1), CT_EINVAL);
    CHECK_RC(ct_bounded_semaphore_init(NULL, 1), CT_EINVAL);

    const int64_t bad[] = {-1, INT64_MIN, CT_SEMAPHORE_MAX + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        // A refused init leaves a working semaphore as it was.
        ct_semaphore s = CT_SEMAPHORE_INIT(5);
        CHECK_RC(ct_semaphore_init(&s, bad[i]), CT_EINVAL);
        CHECK_EQ(ct_semaphore_value(&s), 5);
        CHECK_RC(ct_bounded_semaphore_init(&s, bad[i]), CT_EINVAL);
        CHECK_EQ(ct_semaphore_value(&s), 5);
        take(&s, 5);
        CHECK_RC(ct_semaphore_acquire(&s, CT_NOWAIT), CT_ETIMEDOUT);
        // Still a plain semaphore: no bound appeared.
        CHECK_OK(ct_semaphore_release(&s, 6));
        CHECK_EQ(ct_semaphore_value(&s), 6);
    }

    ct_semaphore m;
    CHECK_OK(ct_semaphore_init(&m, CT_SEMAPHORE_MAX));
    CHECK_EQ(ct_semaphore_value(&m), CT_SEMAPHORE_MAX);
    CHECK_OK(ct_bounded_semaphore_init(&m, CT_SEMAPHORE_MAX));
    CHECK_EQ(ct_semaphore_value(&m), CT_SEMAPHORE_MAX);
}

static void
null_semaphore(void)
{
    CHECK_RC(ct_semaphore_acquire(NULL, CT_NOWAIT), CT_EINVAL);
    // Must not wait forever on nothing.
    CHECK_RC(ct_semaphore_acquire(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_semaphore_acquire(NULL, CT_MILLIS(50)), CT_EINVAL);
    CHECK_RC(ct_semaphore_release(NULL, 1), CT_EINVAL);
    CHECK_RC(ct_semaphore_release(NULL, 0), CT_EINVAL);
    CHECK_EQ(ct_semaphore_value(NULL), CT_EINVAL);
}

// lock_tests' test_acquire and test_release_unacquired: a plain semaphore
// counts without an upper bound.
static void
acquire_release_counting(void)
{
    ct_semaphore s;
    CHECK_OK(ct_semaphore_init(&s, 2));
    CHECK_OK(ct_semaphore_acquire(&s, CT_FOREVER));
    CHECK_EQ(ct_semaphore_value(&s), 1);
    CHECK_OK(ct_semaphore_acquire(&s, CT_MILLIS(10)));
    CHECK_EQ(ct_semaphore_value(&s), 0);
    CHECK_RC(ct_semaphore_acquire(&s, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_EQ(ct_semaphore_value(&s), 0);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_EQ(ct_semaphore_value(&s), 1);
    CHECK_OK(ct_semaphore_release(&s, 3));
    CHECK_EQ(ct_semaphore_value(&s), 4);
    // Past the initial value: allowed for a plain semaphore.
    CHECK_OK(ct_semaphore_release(&s, 10));
    CHECK_EQ(ct_semaphore_value(&s), 14);
    take(&s, 14);
    CHECK_RC(ct_semaphore_acquire(&s, CT_NOWAIT), CT_ETIMEDOUT);
    ct_semaphore_destroy(&s);
}

static void
release_n_below_one(void)
{
    const int64_t bad[] = {0, -1, INT64_MIN};
    ct_semaphore s = CT_SEMAPHORE_INIT(2);
    ct_semaphore b = CT_BOUNDED_SEMAPHORE_INIT(2);
    CHECK_OK(ct_semaphore_acquire(&b, CT_NOWAIT));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(ct_semaphore_release(&s, bad[i]), CT_EINVAL);
        CHECK_EQ(ct_semaphore_value(&s), 2);
        CHECK_RC(ct_semaphore_release(&b, bad[i]), CT_EINVAL);
        CHECK_EQ(ct_semaphore_value(&b), 1);
    }
}

// The count may not pass CT_SEMAPHORE_MAX, and a huge n must not wrap the
// sum around.
static void
count_overflow(void)
{
    ct_semaphore s;
    CHECK_OK(ct_semaphore_init(&s, CT_SEMAPHORE_MAX));
    CHECK_RC(ct_semaphore_release(&s, 1), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), CT_SEMAPHORE_MAX);
    CHECK_OK(ct_semaphore_acquire(&s, CT_NOWAIT));
    CHECK_RC(ct_semaphore_release(&s, 2), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), CT_SEMAPHORE_MAX - 1);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_EQ(ct_semaphore_value(&s), CT_SEMAPHORE_MAX);

    CHECK_OK(ct_semaphore_init(&s, 5));
    CHECK_RC(ct_semaphore_release(&s, INT64_MAX), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 5);
    CHECK_RC(ct_semaphore_release(&s, CT_SEMAPHORE_MAX), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 5);
    CHECK_OK(ct_semaphore_release(&s, CT_SEMAPHORE_MAX - 5));
    CHECK_EQ(ct_semaphore_value(&s), CT_SEMAPHORE_MAX);

    CHECK_OK(ct_bounded_semaphore_init(&s, 3));
    CHECK_RC(ct_semaphore_release(&s, INT64_MAX), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 3);
}

// lock_tests' BoundedSemaphore test_release_unacquired and test_multirelease.
static void
bounded_over_release(void)
{
    ct_semaphore s;
    CHECK_OK(ct_bounded_semaphore_init(&s, 2));
    CHECK_RC(ct_semaphore_release(&s, 1), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 2);
    take(&s, 2);
    CHECK_RC(ct_semaphore_release(&s, 3), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 0);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_RC(ct_semaphore_release(&s, 2), CT_EOVERFLOW);
    CHECK_EQ(ct_semaphore_value(&s), 1);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_EQ(ct_semaphore_value(&s), 2);
    CHECK_RC(ct_semaphore_release(&s, 1), CT_EOVERFLOW);
    take(&s, 2);
    CHECK_OK(ct_semaphore_release(&s, 2));
    CHECK_EQ(ct_semaphore_value(&s), 2);
    // The semaphore still works after all the refusals.
    take(&s, 2);
    CHECK_RC(ct_semaphore_acquire(&s, CT_NOWAIT), CT_ETIMEDOUT);
}

static void *
nowait_acquire(void *p)
{
    CHECK_OK(ct_semaphore_acquire(p, CT_NOWAIT));
    return NULL;
}

static void *
release_one(void *p)
{
    CHECK_OK(ct_semaphore_release(p, 1));
    return NULL;
}

static void *
release_one_overflows(void *p)
{
    CHECK_RC(ct_semaphore_release(p, 1), CT_EOVERFLOW);
    return NULL;
}

struct release_result {
    ct_semaphore *sem;
    pthread_barrier_t *start;
    atomic_int *ok;
    atomic_int *overflow;
};

static void *
racing_release(void *p)
{
    struct release_result *r = p;
    int rc = pthread_barrier_wait(r->start);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
    rc = ct_semaphore_release(r->sem, 1);
    if (rc == 0) {
        atomic_fetch_add(r->ok, 1);
    } else {
        CHECK_RC(rc, CT_EOVERFLOW);
        atomic_fetch_add(r->overflow, 1);
    }
    return NULL;
}

// lock_tests' test_BoundedSemaphore_limit: units taken by some threads and
// given back by others; the bound holds across threads, also when releases
// race each other.
static void
bounded_limit_across_threads(void)
{
    for (int limit = 1; limit <= 5; limit++) {
        ct_semaphore s;
        CHECK_OK(ct_bounded_semaphore_init(&s, limit));
        pthread_t t[5];
        for (int i = 0; i < limit; i++) {
            t[i] = ct_test_spawn(nowait_acquire, &s);
        }
        for (int i = 0; i < limit; i++) {
            ct_test_join(t[i]);
        }
        CHECK_EQ(ct_semaphore_value(&s), 0);
        for (int i = 0; i < limit; i++) {
            t[i] = ct_test_spawn(release_one, &s);
        }
        for (int i = 0; i < limit; i++) {
            ct_test_join(t[i]);
        }
        CHECK_EQ(ct_semaphore_value(&s), limit);
        CHECK_RC(ct_semaphore_release(&s, 1), CT_EOVERFLOW);
        ct_test_join(ct_test_spawn(release_one_overflows, &s));
        CHECK_EQ(ct_semaphore_value(&s), limit);
    }

    // 2k threads race to give back k units: exactly k succeed.
    enum { K = 4, N = 2 * K };
    ct_semaphore s;
    CHECK_OK(ct_bounded_semaphore_init(&s, K));
    take(&s, K);
    pthread_barrier_t start;
    CHECK_EQ(pthread_barrier_init(&start, NULL, N), 0);
    atomic_int ok = 0, overflow = 0;
    struct release_result r = {&s, &start, &ok, &overflow};
    ct_test_run_threads(N, racing_release, &r, 0);
    pthread_barrier_destroy(&start);
    CHECK_EQ(atomic_load(&ok), K);
    CHECK_EQ(atomic_load(&overflow), N - K);
    CHECK_EQ(ct_semaphore_value(&s), K);
}

struct waiters {
    ct_semaphore *sem;
    ct_duration timeout;
    atomic_int started;
    atomic_int passed;
    atomic_int failed;
};

static void *
waiter_main(void *p)
{
    struct waiters *w = p;
    atomic_fetch_add(&w->started, 1);
    int rc = ct_semaphore_acquire(w->sem, w->timeout);
    if (rc == 0) {
        atomic_fetch_add(&w->passed, 1);
    } else {
        atomic_fetch_add(&w->failed, 1);
    }
    return NULL;
}

// Checks that exactly `want` waiters have passed, and that no more pass
// within a short wait.
static void
check_passed(const char *file, int line, struct waiters *w, int want)
{
    if (!ct_test_poll_at_least(&w->passed, want, ct_test_long_wait()) ||
        ct_test_poll_at_least(&w->passed, want + 1, CT_MILLIS(50)) ||
        atomic_load(&w->failed) != 0) {
        ct_test_fail(file, line, "%d waiters passed, %d failed; want %d",
                     atomic_load(&w->passed), atomic_load(&w->failed), want);
    }
}
#define CHECK_PASSED(w, want) check_passed(__FILE__, __LINE__, (w), (want))

// lock_tests' test_multirelease: release(n) lets exactly n waiters through,
// whatever the order in which they reach the semaphore.
static void
release_n_wakes_n(void)
{
    enum { N = 3 };
    ct_semaphore s = CT_SEMAPHORE_INIT(0);
    struct waiters w = {.sem = &s, .timeout = CT_FOREVER};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &w);
    }
    CHECK(ct_test_poll_at_least(&w.started, N, ct_test_long_wait()));
    CHECK_PASSED(&w, 0);
    CHECK_OK(ct_semaphore_release(&s, 2));
    CHECK_PASSED(&w, 2);
    CHECK_EQ(ct_semaphore_value(&s), 0);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_PASSED(&w, 3);
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
    CHECK_EQ(ct_semaphore_value(&s), 0);

    // More units than waiters: each waiter takes one, the rest stays.
    struct waiters w2 = {.sem = &s, .timeout = CT_FOREVER};
    for (int i = 0; i < 2; i++) {
        t[i] = ct_test_spawn(waiter_main, &w2);
    }
    CHECK(ct_test_poll_at_least(&w2.started, 2, ct_test_long_wait()));
    CHECK_OK(ct_semaphore_release(&s, 5));
    CHECK_PASSED(&w2, 2);
    for (int i = 0; i < 2; i++) {
        ct_test_join(t[i]);
    }
    CHECK_EQ(ct_semaphore_value(&s), 3);
}

// lock_tests' test_acquire_contended: of 10 threads on a Semaphore(7), 7 go
// through at once; then every release lets exactly one more through.
static void
acquire_contended(void)
{
    enum { N = 10, K = 7 };
    ct_semaphore s = CT_SEMAPHORE_INIT(K);
    struct waiters w = {.sem = &s, .timeout = CT_FOREVER};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(waiter_main, &w);
    }
    CHECK(ct_test_poll_at_least(&w.started, N, ct_test_long_wait()));
    CHECK_PASSED(&w, K);
    for (int i = K + 1; i <= N; i++) {
        CHECK_OK(ct_semaphore_release(&s, 1));
        CHECK_PASSED(&w, i);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
    CHECK_EQ(ct_semaphore_value(&s), 0);
}

// Semaphore(0) blocks until some thread releases.
static void
zero_blocks_until_release(void)
{
    ct_semaphore s;
    CHECK_OK(ct_semaphore_init(&s, 0));
    struct waiters w = {.sem = &s, .timeout = CT_FOREVER};
    pthread_t t = ct_test_spawn(waiter_main, &w);
    CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
    CHECK_PASSED(&w, 0);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_PASSED(&w, 1);
    ct_test_join(t);
    CHECK_EQ(ct_semaphore_value(&s), 0);
}

static void
timeouts(void)
{
    ct_semaphore s = CT_SEMAPHORE_INIT(0);
    const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(30), INT64_MIN};
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_semaphore_acquire(&s, polls[i]), CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        CHECK_EQ(ct_semaphore_value(&s), 0);
        // With a unit there, a poll takes it.
        CHECK_OK(ct_semaphore_release(&s, 1));
        CHECK_OK(ct_semaphore_acquire(&s, polls[i]));
        CHECK_EQ(ct_semaphore_value(&s), 0);
    }
    const ct_duration timeout = CT_MILLIS(50);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_semaphore_acquire(&s, timeout), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK_EQ(ct_semaphore_value(&s), 0);
    // A timed-out acquire left nothing behind: a release is still a unit.
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_EQ(ct_semaphore_value(&s), 1);
    CHECK_OK(ct_semaphore_acquire(&s, CT_NOWAIT));
}

// A timeout far in the future must not overflow into an immediate return.
static void
huge_timeout(void)
{
    const ct_duration huge[] = {INT64_MAX - 1, CT_SECONDS(1e9), CT_FOREVER};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        ct_semaphore s = CT_SEMAPHORE_INIT(0);
        struct waiters w = {.sem = &s, .timeout = huge[i]};
        pthread_t t = ct_test_spawn(waiter_main, &w);
        CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
        CHECK(!ct_test_poll_at_least(&w.failed, 1, CT_MILLIS(50)));
        CHECK_PASSED(&w, 0);
        CHECK_OK(ct_semaphore_release(&s, 1));
        CHECK_PASSED(&w, 1);
        ct_test_join(t);
    }
}

// Waiters that time out must not swallow a release meant for one that still
// waits (the count of waiters must go back down).
static void
timed_out_waiters_among_parked(void)
{
    ct_semaphore s = CT_SEMAPHORE_INIT(0);
    struct waiters forever = {.sem = &s, .timeout = CT_FOREVER};
    pthread_t tf = ct_test_spawn(waiter_main, &forever);
    CHECK(ct_test_poll_at_least(&forever.started, 1, ct_test_long_wait()));

    enum { N = 3 };
    struct waiters timed = {.sem = &s, .timeout = CT_MILLIS(30)};
    pthread_t tt[N];
    for (int i = 0; i < N; i++) {
        tt[i] = ct_test_spawn(waiter_main, &timed);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
    }
    CHECK_EQ(atomic_load(&timed.failed), N);
    CHECK_EQ(atomic_load(&timed.passed), 0);
    CHECK_EQ(atomic_load(&forever.passed), 0);

    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_PASSED(&forever, 1);
    ct_test_join(tf);
    CHECK_EQ(ct_semaphore_value(&s), 0);

    // Only timed-out waiters: afterwards a release is simply a unit.
    for (int i = 0; i < N; i++) {
        tt[i] = ct_test_spawn(waiter_main, &timed);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
    }
    CHECK_EQ(atomic_load(&timed.failed), 2 * N);
    CHECK_OK(ct_semaphore_release(&s, 1));
    CHECK_EQ(ct_semaphore_value(&s), 1);
    CHECK_OK(ct_semaphore_acquire(&s, CT_NOWAIT));
}

enum { LIMIT_K = 3, LIMIT_THREADS = 8, LIMIT_ITERS = 2000 };

struct limit_ctx {
    ct_semaphore sem;
    atomic_int inside;
    atomic_int max_inside;
};

static void *
limit_worker(void *p)
{
    struct limit_ctx *ctx = p;
    for (int i = 0; i < LIMIT_ITERS; i++) {
        if (i % 2 == 0) {
            CHECK_OK(ct_semaphore_acquire(&ctx->sem, CT_FOREVER));
        } else {
            CHECK_OK(ct_semaphore_acquire(&ctx->sem, ct_test_long_wait()));
        }
        ct_test_update_max(&ctx->max_inside,
                           atomic_fetch_add(&ctx->inside, 1) + 1);
        // Stay inside a little so that others pile up.
        if (i % 8 == 0) {
            sched_yield();
        }
        atomic_fetch_sub(&ctx->inside, 1);
        CHECK_OK(ct_semaphore_release(&ctx->sem, 1));
    }
    return NULL;
}

// Semaphore(k) admits at most k threads at a time.
static void
concurrency_limit(void)
{
    struct limit_ctx ctx;
    CHECK_OK(ct_semaphore_init(&ctx.sem, LIMIT_K));
    atomic_init(&ctx.inside, 0);
    atomic_init(&ctx.max_inside, 0);
    ct_test_run_threads(LIMIT_THREADS, limit_worker, &ctx, 0);
    int max = atomic_load(&ctx.max_inside);
    CHECK(max >= 1);
    CHECK(max <= LIMIT_K);
    CHECK_EQ(ct_semaphore_value(&ctx.sem), LIMIT_K);

    // The same through a bounded semaphore, which must never overflow here.
    CHECK_OK(ct_bounded_semaphore_init(&ctx.sem, LIMIT_K));
    atomic_store(&ctx.max_inside, 0);
    ct_test_run_threads(LIMIT_THREADS, limit_worker, &ctx, 0);
    CHECK(atomic_load(&ctx.max_inside) <= LIMIT_K);
    CHECK_EQ(ct_semaphore_value(&ctx.sem), LIMIT_K);
}

enum { PC_PAIRS = 2, PC_ITEMS = 10000 };

struct pc_ctx {
    ct_semaphore sem;
    atomic_int consumed;
};

static void *
producer(void *p)
{
    struct pc_ctx *ctx = p;
    for (int i = 0; i < PC_ITEMS; i++) {
        CHECK_OK(ct_semaphore_release(&ctx->sem, 1));
    }
    return NULL;
}

static void *
consumer(void *p)
{
    struct pc_ctx *ctx = p;
    for (int i = 0; i < PC_ITEMS; i++) {
        // A lost wake-up shows up as a timeout here.
        CHECK_OK(ct_semaphore_acquire(&ctx->sem, ct_test_long_wait()));
        atomic_fetch_add(&ctx->consumed, 1);
    }
    return NULL;
}

// Releases racing acquirers that park and unpark: no lost wake-up, no unit
// lost or made up.
static void
producers_consumers(void)
{
    struct pc_ctx ctx = {.sem = CT_SEMAPHORE_INIT(0)};
    pthread_t t[2 * PC_PAIRS];
    for (int i = 0; i < PC_PAIRS; i++) {
        t[2 * i] = ct_test_spawn(consumer, &ctx);
        t[2 * i + 1] = ct_test_spawn(producer, &ctx);
    }
    for (int i = 0; i < 2 * PC_PAIRS; i++) {
        ct_test_join(t[i]);
    }
    CHECK_EQ(atomic_load(&ctx.consumed), PC_PAIRS * PC_ITEMS);
    CHECK_EQ(ct_semaphore_value(&ctx.sem), 0);
}

// A one-shot completion: the waiter frees the semaphore as soon as its
// acquire returns, while the releaser is still inside release(). release()
// must not touch the semaphore after publishing the unit (ASan reports a
// heap-use-after-free if it does, as glibc's sem_post once did). The window
// is narrow: against the old code this caught it in 2 runs out of 3.
static _Atomic(ct_semaphore *) mailbox;
static atomic_int mailbox_stop;

static void *
completion_releaser(void *arg)
{
    (void)arg;
    while (!atomic_load(&mailbox_stop)) {
        ct_semaphore *s = atomic_exchange(&mailbox, NULL);
        if (s != NULL) {
            CHECK_OK(ct_semaphore_release(s, 1));
        } else {
            sched_yield();
        }
    }
    return NULL;
}

static void
one_shot_completion_freed_by_waiter(void)
{
    pthread_t t = ct_test_spawn(completion_releaser, NULL);
    // Up to 200000 rounds (the window is narrow), but at most 1 s: on a
    // loaded machine each round waits for both threads to be scheduled.
    int64_t end = ct_test_now() + CT_SECONDS(1);
    for (int i = 0; i < 200000 && ct_test_now() < end; i++) {
        ct_semaphore *s = malloc(sizeof *s);
        CHECK(s != NULL);
        CHECK_OK(ct_semaphore_init(s, 0));
        atomic_store(&mailbox, s);
        if (i % 2 == 0) {
            // Polling takes the unit the instant the release publishes it,
            // which is what opens the window.
            while (ct_semaphore_acquire(s, CT_NOWAIT) != 0) {
                sched_yield();
            }
        } else {
            CHECK_OK(ct_semaphore_acquire(s, ct_test_long_wait()));
        }
        ct_semaphore_destroy(s);
        free(s);
    }
    atomic_store(&mailbox_stop, 1);
    ct_test_join(t);
}

CT_SUITE(semaphore) = {
    {"one-shot completion freed by waiter",
     one_shot_completion_freed_by_waiter},
    {"init forms", init_forms},
    {"zeroed is semaphore zero", zeroed_is_semaphore_zero},
    {"bad init", bad_init},
    {"null semaphore", null_semaphore},
    {"acquire release counting", acquire_release_counting},
    {"release n below one", release_n_below_one},
    {"count overflow", count_overflow},
    {"bounded over release", bounded_over_release},
    {"bounded limit across threads", bounded_limit_across_threads},
    {"release n wakes n", release_n_wakes_n},
    {"acquire contended", acquire_contended},
    {"zero blocks until release", zero_blocks_until_release},
    {"timeouts", timeouts},
    {"huge timeout", huge_timeout},
    {"timed out waiters among parked", timed_out_waiters_among_parked},
    {"concurrency limit", concurrency_limit},
    {"producers consumers", producers_consumers},
    {0},
};
