// Tests for ct_rlock (Python's threading.RLock): ownership, depth per
// thread, release by non-owners, timeouts, and waiters that must wait until
// every level of a recursive hold is gone (lock_tests.py's RLockTests).
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

// A thread that takes the rlock `depth` times, reports it, holds it until
// told to let go, then releases every level.
struct holder {
    ct_rlock *rlock;
    int depth;
    atomic_int held;
    atomic_int let_go;
    atomic_int released;
};

static void *
holder_main(void *p)
{
    struct holder *h = p;
    for (int i = 0; i < h->depth; i++) {
        CHECK_OK(ct_rlock_acquire(h->rlock, CT_FOREVER));
    }
    CHECK_EQ(ct_rlock_count(h->rlock), h->depth);
    atomic_store(&h->held, 1);
    CHECK(ct_test_poll_at_least(&h->let_go, 1, ct_test_long_wait()));
    // Whatever the other threads tried meanwhile, our depth is intact.
    CHECK(ct_rlock_is_owned(h->rlock));
    CHECK_EQ(ct_rlock_count(h->rlock), h->depth);
    for (int i = 0; i < h->depth; i++) {
        CHECK_OK(ct_rlock_release(h->rlock));
    }
    CHECK(!ct_rlock_is_owned(h->rlock));
    atomic_store(&h->released, 1);
    return NULL;
}

static pthread_t
start_holder(struct holder *h, ct_rlock *r, int depth)
{
    *h = (struct holder){.rlock = r, .depth = depth};
    pthread_t t = ct_test_spawn(holder_main, h);
    CHECK(ct_test_poll_at_least(&h->held, 1, ct_test_long_wait()));
    return t;
}

static void
stop_holder(struct holder *h, pthread_t t)
{
    atomic_store(&h->let_go, 1);
    ct_test_join(t);
    CHECK_EQ(atomic_load(&h->released), 1);
}

static void
check_unowned(ct_rlock *r)
{
    CHECK(!ct_rlock_locked(r));
    CHECK(!ct_rlock_is_owned(r));
    CHECK_EQ(ct_rlock_count(r), 0);
}

static void
init_forms(void)
{
    ct_rlock a = CT_RLOCK_INIT;
    ct_rlock b;
    memset(&b, 0, sizeof b);
    // init must work on garbage, not only on zeroed memory.
    ct_rlock c;
    memset(&c, 0xff, sizeof c);
    ct_rlock_init(&c);
    ct_rlock *d = calloc(1, sizeof *d);
    CHECK(d != NULL);

    ct_rlock *all[] = {&a, &b, &c, d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        check_unowned(all[i]);
        CHECK_OK(ct_rlock_acquire(all[i], CT_NOWAIT));
        CHECK(ct_rlock_locked(all[i]));
        CHECK(ct_rlock_is_owned(all[i]));
        CHECK_EQ(ct_rlock_count(all[i]), 1);
        CHECK_OK(ct_rlock_release(all[i]));
        check_unowned(all[i]);
        ct_rlock_destroy(all[i]);
    }
    free(d);
}

// lock_tests' test_reacquire and test_recursion_count.
static void
nested_acquire_release(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    for (unsigned i = 1; i <= 5; i++) {
        CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
        CHECK_EQ(ct_rlock_count(&r), i);
        CHECK(ct_rlock_is_owned(&r));
        CHECK(ct_rlock_locked(&r));
    }
    for (unsigned i = 5; i > 0; i--) {
        CHECK(ct_rlock_locked(&r));
        CHECK_OK(ct_rlock_release(&r));
        CHECK_EQ(ct_rlock_count(&r), i - 1);
    }
    check_unowned(&r);
    CHECK_RC(ct_rlock_release(&r), CT_EPERM);
    check_unowned(&r);

    // Several full rounds: the owner is forgotten after each.
    for (int round = 0; round < 3; round++) {
        CHECK_OK(ct_rlock_acquire(&r, CT_NOWAIT));
        CHECK_OK(ct_rlock_acquire(&r, CT_NOWAIT));
        CHECK_OK(ct_rlock_release(&r));
        CHECK_OK(ct_rlock_release(&r));
        check_unowned(&r);
    }
    ct_rlock_destroy(&r);
}

// The owner gets another level at once, even when it asks not to wait.
static void
owner_nowait_and_negative(void)
{
    const ct_duration timeouts[] = {CT_NOWAIT, -1, INT64_MIN, CT_MILLIS(1)};
    ct_rlock r = CT_RLOCK_INIT;
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_OK(ct_rlock_acquire(&r, timeouts[i]));
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        CHECK_EQ(ct_rlock_count(&r), i + 2);
    }
    for (size_t i = 0; i <= sizeof timeouts / sizeof timeouts[0]; i++) {
        CHECK_OK(ct_rlock_release(&r));
    }
    check_unowned(&r);
    // A negative timeout on a free rlock tries once and succeeds.
    CHECK_OK(ct_rlock_acquire(&r, INT64_MIN));
    CHECK_EQ(ct_rlock_count(&r), 1);
    CHECK_OK(ct_rlock_release(&r));
    check_unowned(&r);
}

static void
release_unacquired(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    CHECK_RC(ct_rlock_release(&r), CT_EPERM);
    check_unowned(&r);
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    CHECK_OK(ct_rlock_release(&r));
    CHECK_RC(ct_rlock_release(&r), CT_EPERM);
    check_unowned(&r);
}

static void
null_rlock(void)
{
    CHECK_RC(ct_rlock_acquire(NULL, CT_NOWAIT), CT_EINVAL);
    // Must not wait forever on nothing.
    CHECK_RC(ct_rlock_acquire(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_rlock_acquire(NULL, CT_MILLIS(50)), CT_EINVAL);
    CHECK_RC(ct_rlock_release(NULL), CT_EINVAL);
}

struct view {
    ct_rlock *rlock;
    bool locked;
    bool owned;
    unsigned count;
    int release_rc;
    int acquire_rc;
    ct_duration timeout;
    int64_t took;
};

// Looks at the rlock from another thread, then tries to release and take it.
static void *
viewer(void *p)
{
    struct view *v = p;
    v->locked = ct_rlock_locked(v->rlock);
    v->owned = ct_rlock_is_owned(v->rlock);
    v->count = ct_rlock_count(v->rlock);
    v->release_rc = ct_rlock_release(v->rlock);
    int64_t t0 = ct_test_now();
    v->acquire_rc = ct_rlock_acquire(v->rlock, v->timeout);
    v->took = ct_test_now() - t0;
    if (v->acquire_rc == 0) {
        CHECK_EQ(ct_rlock_count(v->rlock), 1);
        CHECK_OK(ct_rlock_release(v->rlock));
    }
    return NULL;
}

// lock_tests' test_different_thread, test__is_owned, test_locked and
// test_locked_with_2threads: another thread sees the rlock locked but not
// its own, with depth 0, and cannot release it.
static void
other_thread_view(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));

    struct view v = {.rlock = &r, .timeout = CT_NOWAIT};
    ct_test_join(ct_test_spawn(viewer, &v));
    CHECK(v.locked);
    CHECK(!v.owned);
    CHECK_EQ(v.count, 0);
    CHECK_RC(v.release_rc, CT_EPERM);
    CHECK_RC(v.acquire_rc, CT_ETIMEDOUT);
    // The failed release left our two levels alone.
    CHECK(ct_rlock_is_owned(&r));
    CHECK_EQ(ct_rlock_count(&r), 2);

    CHECK_OK(ct_rlock_release(&r));
    CHECK_OK(ct_rlock_release(&r));
    check_unowned(&r);

    // Once free, the other thread sees it unlocked and can take it.
    struct view w = {.rlock = &r, .timeout = CT_NOWAIT};
    ct_test_join(ct_test_spawn(viewer, &w));
    CHECK(!w.locked);
    CHECK(!w.owned);
    CHECK_EQ(w.count, 0);
    CHECK_RC(w.release_rc, CT_EPERM);
    CHECK_OK(w.acquire_rc);
    check_unowned(&r);
}

// The reverse: held by another thread, released here.
static void
release_by_non_owner(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    struct holder h;
    pthread_t t = start_holder(&h, &r, 3);
    CHECK(ct_rlock_locked(&r));
    CHECK(!ct_rlock_is_owned(&r));
    CHECK_EQ(ct_rlock_count(&r), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(ct_rlock_release(&r), CT_EPERM);
    }
    CHECK(ct_rlock_locked(&r));
    // The holder checks that its depth is still 3 before releasing.
    stop_holder(&h, t);
    check_unowned(&r);
}

static void
timeouts_while_held_elsewhere(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    struct holder h;
    pthread_t t = start_holder(&h, &r, 2);

    const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(30), INT64_MIN};
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_rlock_acquire(&r, polls[i]), CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    }
    const ct_duration timeout = CT_MILLIS(50);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_rlock_acquire(&r, timeout), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);

    // Nothing changed: not ours, still locked, the holder keeps its depth.
    CHECK(ct_rlock_locked(&r));
    CHECK(!ct_rlock_is_owned(&r));
    CHECK_EQ(ct_rlock_count(&r), 0);
    stop_holder(&h, t);
    check_unowned(&r);
    CHECK_OK(ct_rlock_acquire(&r, CT_NOWAIT));
    CHECK_OK(ct_rlock_release(&r));
}

struct waiter {
    ct_rlock *rlock;
    ct_duration timeout;
    atomic_int started;
    atomic_int got;
    int rc;
};

static void *
waiter_main(void *p)
{
    struct waiter *w = p;
    atomic_store(&w->started, 1);
    w->rc = ct_rlock_acquire(w->rlock, w->timeout);
    if (w->rc == 0) {
        CHECK(ct_rlock_is_owned(w->rlock));
        CHECK_EQ(ct_rlock_count(w->rlock), 1);
        atomic_store(&w->got, 1);
        CHECK_OK(ct_rlock_release(w->rlock));
    } else {
        atomic_store(&w->got, -1);
    }
    return NULL;
}

// A waiter gets an rlock held three levels deep only after the third release.
static void
waiter_needs_every_level(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    }
    struct waiter w = {.rlock = &r, .timeout = CT_FOREVER};
    pthread_t t = ct_test_spawn(waiter_main, &w);
    CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
    for (int i = 2; i >= 0; i--) {
        // got must stay 0 while we hold any level (-1 would mean an error).
        CHECK(!ct_test_poll_at_least(&w.got, 1, CT_MILLIS(30)));
        CHECK_EQ(atomic_load(&w.got), 0);
        CHECK_OK(ct_rlock_release(&r));
        CHECK_EQ(ct_rlock_count(&r), i);
    }
    CHECK(ct_test_poll_at_least(&w.got, 1, ct_test_long_wait()));
    ct_test_join(t);
    CHECK_OK(w.rc);
    check_unowned(&r);
}

// A timeout far in the future must not overflow into an immediate return.
static void
huge_timeout(void)
{
    const ct_duration huge[] = {INT64_MAX - 1, CT_SECONDS(1e9), CT_FOREVER};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        ct_rlock r = CT_RLOCK_INIT;
        CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
        struct waiter w = {.rlock = &r, .timeout = huge[i]};
        pthread_t t = ct_test_spawn(waiter_main, &w);
        CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
        if (atomic_load(&w.got) != 0 ||
            ct_test_poll_at_least(&w.got, 1, CT_MILLIS(50))) {
            ct_test_join(t);
            ct_test_fail(__FILE__, __LINE__,
                         "acquire(%lld) returned %d (%s) while held",
                         (long long)huge[i], w.rc, ct_err_name(w.rc));
        }
        CHECK_OK(ct_rlock_release(&r));
        ct_test_join(t);
        CHECK_OK(w.rc);
        check_unowned(&r);
    }
}

// A waiter that times out leaves the rlock to the one still waiting.
static void
timed_out_waiter_among_parked(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    struct waiter forever = {.rlock = &r, .timeout = CT_FOREVER};
    pthread_t tf = ct_test_spawn(waiter_main, &forever);
    CHECK(ct_test_poll_at_least(&forever.started, 1, ct_test_long_wait()));

    struct waiter timed = {.rlock = &r, .timeout = CT_MILLIS(40)};
    int64_t t0 = ct_test_now();
    ct_test_join(ct_test_spawn(waiter_main, &timed));
    CHECK_RC(timed.rc, CT_ETIMEDOUT);
    CHECK(ct_test_now() - t0 >= timed.timeout);
    CHECK_EQ(atomic_load(&forever.got), 0);
    CHECK_EQ(ct_rlock_count(&r), 2);

    CHECK_OK(ct_rlock_release(&r));
    CHECK_OK(ct_rlock_release(&r));
    CHECK(ct_test_poll_at_least(&forever.got, 1, ct_test_long_wait()));
    ct_test_join(tf);
    CHECK_OK(forever.rc);
    check_unowned(&r);
}

static void *
acquire_and_end(void *p)
{
    CHECK_OK(ct_rlock_acquire(p, CT_FOREVER));
    CHECK_OK(ct_rlock_acquire(p, CT_FOREVER));
    return NULL;
}

// Python: a thread that ends while holding an RLock leaves it locked, and
// nobody else becomes its owner.
static void
owner_exits_holding(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    ct_test_join(ct_test_spawn(acquire_and_end, &r));
    CHECK(ct_rlock_locked(&r));
    CHECK(!ct_rlock_is_owned(&r));
    CHECK_EQ(ct_rlock_count(&r), 0);
    CHECK_RC(ct_rlock_release(&r), CT_EPERM);
    CHECK_RC(ct_rlock_acquire(&r, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_RC(ct_rlock_acquire(&r, CT_MILLIS(20)), CT_ETIMEDOUT);
    CHECK(ct_rlock_locked(&r));
    CHECK(!ct_rlock_is_owned(&r));
}

enum { CONTENTION_THREADS = 4, CONTENTION_ITERS = 10000 };

struct counter_ctx {
    ct_rlock rlock;
    long value; // protected by rlock: deliberately not atomic
    atomic_int inside;
    atomic_int max_inside;
};

static void *
contention_worker(void *p)
{
    struct counter_ctx *ctx = p;
    for (int i = 0; i < CONTENTION_ITERS; i++) {
        if (i % 2 == 0) {
            CHECK_OK(ct_rlock_acquire(&ctx->rlock, CT_FOREVER));
        } else {
            CHECK_OK(ct_rlock_acquire(&ctx->rlock, ct_test_long_wait()));
        }
        // A nested level never waits, whatever the timeout.
        CHECK_OK(ct_rlock_acquire(&ctx->rlock, CT_NOWAIT));
        CHECK_EQ(ct_rlock_count(&ctx->rlock), 2);
        ct_test_update_max(&ctx->max_inside,
                           atomic_fetch_add(&ctx->inside, 1) + 1);
        ctx->value++;
        atomic_fetch_sub(&ctx->inside, 1);
        CHECK_OK(ct_rlock_release(&ctx->rlock));
        CHECK_EQ(ct_rlock_count(&ctx->rlock), 1);
        CHECK_OK(ct_rlock_release(&ctx->rlock));
        CHECK_EQ(ct_rlock_count(&ctx->rlock), 0);
        // Not the owner any more: a release here must fail, not free it
        // under whoever took it meanwhile.
        if (i % 64 == 0) {
            CHECK_RC(ct_rlock_release(&ctx->rlock), CT_EPERM);
        }
    }
    return NULL;
}

static void
contention(void)
{
    struct counter_ctx ctx = {.rlock = CT_RLOCK_INIT};
    ct_test_run_threads(CONTENTION_THREADS, contention_worker, &ctx, 0);
    CHECK_EQ(ctx.value, (long)CONTENTION_THREADS * CONTENTION_ITERS);
    CHECK_EQ(atomic_load(&ctx.max_inside), 1);
    check_unowned(&ctx.rlock);
}

static void
destroy_and_reinit(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    CHECK_OK(ct_rlock_acquire(&r, CT_FOREVER));
    CHECK_OK(ct_rlock_release(&r));
    ct_rlock_destroy(&r);
    ct_rlock_init(&r);
    check_unowned(&r);
    CHECK_OK(ct_rlock_acquire(&r, CT_NOWAIT));
    CHECK_OK(ct_rlock_release(&r));
}

CT_SUITE(rlock) = {
    {"init forms", init_forms},
    {"nested acquire release", nested_acquire_release},
    {"owner nowait and negative", owner_nowait_and_negative},
    {"release unacquired", release_unacquired},
    {"null rlock", null_rlock},
    {"other thread view", other_thread_view},
    {"release by non owner", release_by_non_owner},
    {"timeouts while held elsewhere", timeouts_while_held_elsewhere},
    {"waiter needs every level", waiter_needs_every_level},
    {"huge timeout", huge_timeout},
    {"timed out waiter among parked", timed_out_waiter_among_parked},
    {"owner exits holding", owner_exits_holding},
    {"contention", contention},
    {"destroy and reinit", destroy_and_reinit},
    {0},
};
