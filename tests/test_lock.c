// Tests for ct_lock (Python's threading.Lock): the behaviours CPython's
// lock_tests.py checks for Lock, plus every timeout form, the misuse codes,
// an N x M contention invariant and the fair hand-off to a starved waiter.
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

static void
init_forms(void)
{
    ct_lock a = CT_LOCK_INIT;
    ct_lock b;
    memset(&b, 0, sizeof b);
    // init must work on garbage, not only on zeroed memory.
    ct_lock c;
    memset(&c, 0xff, sizeof c);
    ct_lock_init(&c);
    ct_lock *d = calloc(1, sizeof *d);
    CHECK(d != NULL);

    ct_lock *all[] = {&a, &b, &c, d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK(!ct_lock_locked(all[i]));
        CHECK_OK(ct_lock_acquire(all[i], CT_NOWAIT));
        CHECK(ct_lock_locked(all[i]));
        CHECK_OK(ct_lock_release(all[i]));
        CHECK(!ct_lock_locked(all[i]));
        ct_lock_destroy(all[i]);
    }
    free(d);
}

static void
acquire_then_release(void)
{
    ct_lock l = CT_LOCK_INIT;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
        CHECK(ct_lock_locked(&l));
        CHECK_OK(ct_lock_release(&l));
        CHECK(!ct_lock_locked(&l));
    }
    // A finite timeout on a free lock acquires at once.
    CHECK_OK(ct_lock_acquire(&l, CT_MILLIS(10)));
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    ct_lock_destroy(&l);
}

static void
try_acquire(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_lock_acquire(&l, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(!ct_lock_locked(&l));
}

static void
negative_timeout_polls(void)
{
    // INT64_MIN must not be negated into "forever", and a big negative value
    // must not be taken as a long wait.
    const ct_duration negs[] = {-1, CT_MILLIS(-50), -CT_SECONDS(30), INT64_MIN,
                                INT64_MIN + 1};
    ct_lock l = CT_LOCK_INIT;
    for (size_t i = 0; i < sizeof negs / sizeof negs[0]; i++) {
        // On a free lock a negative timeout tries once, and succeeds.
        CHECK_OK(ct_lock_acquire(&l, negs[i]));
        CHECK(ct_lock_locked(&l));
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_lock_acquire(&l, negs[i]), CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        CHECK(ct_lock_locked(&l));
        CHECK_OK(ct_lock_release(&l));
    }
    CHECK(!ct_lock_locked(&l));
}

// lock_tests' test_state_after_timeout: a timed-out acquire changes nothing.
static void
timeout_expires_while_held(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    const ct_duration timeout = CT_MILLIS(50);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_lock_acquire(&l, timeout), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(!ct_lock_locked(&l));
    CHECK_RC(ct_lock_release(&l), CT_EPERM);
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    CHECK_OK(ct_lock_release(&l));
}

struct timed_arg {
    ct_lock *lock;
    ct_duration timeout;
    atomic_int started;
    atomic_int done;
    int rc;       // written by the thread, read after the join
    int64_t took; // likewise
    bool release; // release the lock after a successful acquire
};

static void *
timed_acquirer(void *p)
{
    struct timed_arg *a = p;
    atomic_fetch_add(&a->started, 1);
    int64_t t0 = ct_test_now();
    a->rc = ct_lock_acquire(a->lock, a->timeout);
    a->took = ct_test_now() - t0;
    if (a->rc == 0 && a->release) {
        CHECK_OK(ct_lock_release(a->lock));
    }
    atomic_fetch_add(&a->done, 1);
    return NULL;
}

static void
timeout_in_other_thread(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));

    struct timed_arg a = {.lock = &l, .timeout = CT_MILLIS(50)};
    ct_test_join(ct_test_spawn(timed_acquirer, &a));
    CHECK_RC(a.rc, CT_ETIMEDOUT);
    CHECK_ELAPSED(a.took, a.timeout);

    struct timed_arg b = {.lock = &l, .timeout = CT_NOWAIT};
    ct_test_join(ct_test_spawn(timed_acquirer, &b));
    CHECK_RC(b.rc, CT_ETIMEDOUT);
    CHECK(b.took < ct_test_quick_bound());

    struct timed_arg c = {.lock = &l, .timeout = INT64_MIN};
    ct_test_join(ct_test_spawn(timed_acquirer, &c));
    CHECK_RC(c.rc, CT_ETIMEDOUT);
    CHECK(c.took < ct_test_quick_bound());

    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(!ct_lock_locked(&l));
}

// A timeout far in the future must not overflow a deadline into the past
// (an immediate CT_ETIMEDOUT) or into an error.
static void
huge_timeout(void)
{
    const ct_duration huge[] = {INT64_MAX - 1, CT_SECONDS(1e9), INT64_MAX / 2,
                                CT_FOREVER};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        ct_lock l = CT_LOCK_INIT;
        CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
        struct timed_arg a = {.lock = &l, .timeout = huge[i], .release = true};
        pthread_t t = ct_test_spawn(timed_acquirer, &a);
        CHECK(ct_test_poll_at_least(&a.started, 1, ct_test_long_wait()));
        // The thread must still be waiting: an overflowed deadline returns
        // at once.
        if (ct_test_poll_at_least(&a.done, 1, CT_MILLIS(50))) {
            ct_test_fail(__FILE__, __LINE__,
                         "acquire(%lld) returned %d (%s) while held",
                         (long long)huge[i], a.rc, ct_err_name(a.rc));
        }
        CHECK_OK(ct_lock_release(&l));
        ct_test_join(t);
        CHECK_OK(a.rc);
        CHECK(!ct_lock_locked(&l));
    }
}

struct pair_arg {
    ct_lock *lock;
    int rc;
};

static void *
releaser(void *p)
{
    struct pair_arg *a = p;
    a->rc = ct_lock_release(a->lock);
    return NULL;
}

static void *
nowait_acquirer(void *p)
{
    struct pair_arg *a = p;
    a->rc = ct_lock_acquire(a->lock, CT_NOWAIT);
    return NULL;
}

// lock_tests' test_different_thread: a Lock has no owner.
static void
any_thread_releases(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    struct pair_arg a = {.lock = &l};
    ct_test_join(ct_test_spawn(releaser, &a));
    CHECK_OK(a.rc);
    CHECK(!ct_lock_locked(&l));

    // And the other way round: taken in a thread, released here.
    struct pair_arg b = {.lock = &l};
    ct_test_join(ct_test_spawn(nowait_acquirer, &b));
    CHECK_OK(b.rc);
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(!ct_lock_locked(&l));
}

static void
release_unlocked(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_RC(ct_lock_release(&l), CT_EPERM);
    CHECK(!ct_lock_locked(&l));
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    CHECK_OK(ct_lock_release(&l));
    CHECK_RC(ct_lock_release(&l), CT_EPERM);
    CHECK(!ct_lock_locked(&l));

    // From another thread too.
    struct pair_arg a = {.lock = &l};
    ct_test_join(ct_test_spawn(releaser, &a));
    CHECK_RC(a.rc, CT_EPERM);
    CHECK(!ct_lock_locked(&l));
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    CHECK_OK(ct_lock_release(&l));
}

static void
null_lock(void)
{
    CHECK_RC(ct_lock_acquire(NULL, CT_NOWAIT), CT_EINVAL);
    // Must not wait forever on nothing.
    CHECK_RC(ct_lock_acquire(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_lock_acquire(NULL, CT_MILLIS(50)), CT_EINVAL);
    CHECK_RC(ct_lock_acquire(NULL, -1), CT_EINVAL);
    CHECK_RC(ct_lock_release(NULL), CT_EINVAL);
    CHECK(!ct_lock_locked(NULL));
}

struct reacquire_arg {
    ct_lock *lock;
    atomic_int phase;
};

static void *
reacquirer(void *p)
{
    struct reacquire_arg *a = p;
    CHECK_OK(ct_lock_acquire(a->lock, CT_FOREVER));
    atomic_fetch_add(&a->phase, 1);
    // Not re-entrant: this blocks until the main thread releases.
    CHECK_OK(ct_lock_acquire(a->lock, CT_FOREVER));
    atomic_fetch_add(&a->phase, 1);
    CHECK_OK(ct_lock_release(a->lock));
    return NULL;
}

// lock_tests' test_reacquire: the holder's second acquire blocks until some
// other thread releases.
static void
reacquire_blocks(void)
{
    ct_lock l = CT_LOCK_INIT;
    struct reacquire_arg a = {.lock = &l};
    pthread_t t = ct_test_spawn(reacquirer, &a);
    CHECK(ct_test_poll_at_least(&a.phase, 1, ct_test_long_wait()));
    CHECK(!ct_test_poll_at_least(&a.phase, 2, CT_MILLIS(50)));
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(ct_test_poll_at_least(&a.phase, 2, ct_test_long_wait()));
    ct_test_join(t);
    CHECK(!ct_lock_locked(&l));
}

struct contended_arg {
    ct_lock *lock;
    atomic_int started;
    atomic_int finished;
};

static void *
contended_worker(void *p)
{
    struct contended_arg *a = p;
    atomic_fetch_add(&a->started, 1);
    CHECK_OK(ct_lock_acquire(a->lock, CT_FOREVER));
    atomic_fetch_add(&a->finished, 1);
    CHECK_OK(ct_lock_release(a->lock));
    return NULL;
}

// lock_tests' test_acquire_contended: threads blocked on a held lock all get
// it, one after the other, once it is released.
static void
acquire_contended(void)
{
    enum { N = 5 };
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    struct contended_arg a = {.lock = &l};
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = ct_test_spawn(contended_worker, &a);
    }
    CHECK(ct_test_poll_at_least(&a.started, N, ct_test_long_wait()));
    CHECK(!ct_test_poll_at_least(&a.finished, 1, CT_MILLIS(50)));
    CHECK_OK(ct_lock_release(&l));
    CHECK(ct_test_poll_at_least(&a.finished, N, ct_test_long_wait()));
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
    CHECK(!ct_lock_locked(&l));
}

static void
try_acquire_contended(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    struct pair_arg a = {.lock = &l};
    ct_test_join(ct_test_spawn(nowait_acquirer, &a));
    CHECK_RC(a.rc, CT_ETIMEDOUT);
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
}

// lock_tests' test_acquire_destroy: destroying a held lock is fine.
static void
destroy_while_held(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    ct_lock_destroy(&l);

    ct_lock_init(&l);
    CHECK(!ct_lock_locked(&l));
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    CHECK_OK(ct_lock_release(&l));
    ct_lock_destroy(&l);
}

// A waiter that times out must leave the lock usable, and must not take the
// wake-up meant for a waiter that is still parked.
static void
timed_out_waiter_among_parked(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));

    struct timed_arg forever = {
        .lock = &l, .timeout = CT_FOREVER, .release = true};
    pthread_t tf = ct_test_spawn(timed_acquirer, &forever);
    CHECK(ct_test_poll_at_least(&forever.started, 1, ct_test_long_wait()));

    enum { N = 3 };
    struct timed_arg timed[N];
    pthread_t tt[N];
    for (int i = 0; i < N; i++) {
        timed[i] = (struct timed_arg){
            .lock = &l, .timeout = CT_MILLIS(30 + 10 * i), .release = true};
        tt[i] = ct_test_spawn(timed_acquirer, &timed[i]);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
        CHECK_RC(timed[i].rc, CT_ETIMEDOUT);
        CHECK_ELAPSED(timed[i].took, timed[i].timeout);
    }
    CHECK_EQ(atomic_load(&forever.done), 0);
    CHECK(ct_lock_locked(&l));

    CHECK_OK(ct_lock_release(&l));
    CHECK(ct_test_poll_at_least(&forever.done, 1, ct_test_long_wait()));
    ct_test_join(tf);
    CHECK_OK(forever.rc);
    CHECK(!ct_lock_locked(&l));

    // Only timed-out waiters this time: afterwards the lock works as new.
    CHECK_OK(ct_lock_acquire(&l, CT_FOREVER));
    for (int i = 0; i < N; i++) {
        timed[i] = (struct timed_arg){.lock = &l, .timeout = CT_MILLIS(20)};
        tt[i] = ct_test_spawn(timed_acquirer, &timed[i]);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(tt[i]);
        CHECK_RC(timed[i].rc, CT_ETIMEDOUT);
    }
    CHECK(ct_lock_locked(&l));
    CHECK_OK(ct_lock_release(&l));
    CHECK(!ct_lock_locked(&l));
    CHECK_RC(ct_lock_release(&l), CT_EPERM);
    struct pair_arg p = {.lock = &l};
    ct_test_join(ct_test_spawn(nowait_acquirer, &p));
    CHECK_OK(p.rc);
    CHECK_OK(ct_lock_release(&l));
}

enum { CONTENTION_THREADS = 4, CONTENTION_ITERS = 20000 };

struct counter_ctx {
    ct_lock lock;
    long value; // protected by lock: deliberately not atomic
    atomic_int inside;
    atomic_int max_inside;
};

static void *
contention_worker(void *p)
{
    struct counter_ctx *ctx = p;
    for (int i = 0; i < CONTENTION_ITERS; i++) {
        // Mix the three ways to wait so each slow path is exercised.
        switch (i % 3) {
        case 0:
            CHECK_OK(ct_lock_acquire(&ctx->lock, CT_FOREVER));
            break;
        case 1:
            CHECK_OK(ct_lock_acquire(&ctx->lock, ct_test_long_wait()));
            break;
        default:
            for (;;) {
                int rc = ct_lock_acquire(&ctx->lock, CT_NOWAIT);
                if (rc == 0) {
                    break;
                }
                CHECK_RC(rc, CT_ETIMEDOUT);
                sched_yield();
            }
            break;
        }
        ct_test_update_max(&ctx->max_inside,
                           atomic_fetch_add(&ctx->inside, 1) + 1);
        ctx->value++;
        atomic_fetch_sub(&ctx->inside, 1);
        CHECK_OK(ct_lock_release(&ctx->lock));
    }
    return NULL;
}

static void
contention(void)
{
    struct counter_ctx ctx = {.lock = CT_LOCK_INIT};
    ct_test_run_threads(CONTENTION_THREADS, contention_worker, &ctx, 0);
    CHECK_EQ(ctx.value, (long)CONTENTION_THREADS * CONTENTION_ITERS);
    CHECK_EQ(atomic_load(&ctx.max_inside), 1);
    CHECK(!ct_lock_locked(&ctx.lock));
}

struct fair_ctx {
    ct_lock lock;
    atomic_int hog_iters;
    atomic_int waiter_done;
    atomic_int waiter_got;
    atomic_int starved;
};

static void *
fair_hog(void *p)
{
    struct fair_ctx *ctx = p;
    int64_t deadline = ct_test_now() + (int64_t)(5e9 * ct_test_scale());
    while (!atomic_load(&ctx->waiter_done)) {
        CHECK_OK(ct_lock_acquire(&ctx->lock, CT_FOREVER));
        // Hold it for a while and re-take it right after the release, so
        // that a woken waiter that must compete almost always finds it
        // taken: only a hand-off lets it in.
        int64_t until = ct_test_now() + 20000;
        while (ct_test_now() < until) {
        }
        CHECK_OK(ct_lock_release(&ctx->lock));
        atomic_fetch_add(&ctx->hog_iters, 1);
        if (ct_test_now() > deadline) {
            if (!atomic_load(&ctx->waiter_done)) {
                atomic_store(&ctx->starved, 1);
            }
            break;
        }
    }
    return NULL;
}

static void *
fair_waiter(void *p)
{
    struct fair_ctx *ctx = p;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(ct_lock_acquire(&ctx->lock, CT_FOREVER));
        atomic_fetch_add(&ctx->waiter_got, 1);
        CHECK_OK(ct_lock_release(&ctx->lock));
    }
    atomic_store(&ctx->waiter_done, 1);
    return NULL;
}

// A thread re-taking the lock in a tight loop must not starve a waiter
// (CPython 3.13's PyMutex hands the lock over after about 1 ms).
static void
fair_handoff(void)
{
    struct fair_ctx ctx = {.lock = CT_LOCK_INIT};
    pthread_t hog = ct_test_spawn(fair_hog, &ctx);
    CHECK(ct_test_poll_at_least(&ctx.hog_iters, 1, ct_test_long_wait()));
    pthread_t waiter = ct_test_spawn(fair_waiter, &ctx);
    ct_test_join(waiter);
    ct_test_join(hog);
    if (atomic_load(&ctx.starved)) {
        ct_test_fail(__FILE__, __LINE__,
                     "waiter starved: %d of 10 acquisitions while the hog "
                     "looped %d times",
                     atomic_load(&ctx.waiter_got), atomic_load(&ctx.hog_iters));
    }
    CHECK_EQ(atomic_load(&ctx.waiter_got), 10);
    CHECK(!ct_lock_locked(&ctx.lock));
}

CT_SUITE(lock) = {
    {"init forms", init_forms},
    {"acquire then release", acquire_then_release},
    {"try acquire", try_acquire},
    {"negative timeout polls", negative_timeout_polls},
    {"timeout expires while held", timeout_expires_while_held},
    {"timeout in other thread", timeout_in_other_thread},
    {"huge timeout", huge_timeout},
    {"any thread releases", any_thread_releases},
    {"release unlocked", release_unlocked},
    {"null lock", null_lock},
    {"reacquire blocks", reacquire_blocks},
    {"acquire contended", acquire_contended},
    {"try acquire contended", try_acquire_contended},
    {"destroy while held", destroy_while_held},
    {"timed out waiter among parked", timed_out_waiter_among_parked},
    {"contention", contention},
    {"fair handoff", fair_handoff},
    {0},
};
