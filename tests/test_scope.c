// Tests for scope.h, Python's `with lock:`: each CT_WITH_* block holds its
// primitive inside and releases it exactly once on every way out (end,
// break, continue, return, goto), and skips its body for NULL.
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

static void
lock_released_at_end(void)
{
    ct_lock l = CT_LOCK_INIT;
    int runs = 0;
    CT_WITH_LOCK(&l) {
        CHECK(ct_lock_locked(&l));
        runs++;
    }
    CHECK_EQ(runs, 1);
    CHECK(!ct_lock_locked(&l));
    // Exactly one release: a second one would fail.
    CHECK_RC(ct_lock_release(&l), CT_EPERM);

    // Again, with a single statement as the body.
    CT_WITH_LOCK(&l)
        runs++;
    CHECK_EQ(runs, 2);
    CHECK(!ct_lock_locked(&l));
}

// `break` leaves the block itself (releasing), not the loop around it.
static void
lock_released_on_break(void)
{
    ct_lock l = CT_LOCK_INIT;
    int entered = 0, after_break = 0, loops = 0;
    for (int i = 0; i < 3; i++) {
        CT_WITH_LOCK(&l) {
            entered++;
            if (i >= 0) {
                break;
            }
            after_break++;
        }
        CHECK(!ct_lock_locked(&l));
        loops++;
    }
    CHECK_EQ(entered, 3);
    CHECK_EQ(after_break, 0);
    CHECK_EQ(loops, 3);
}

// `continue` also leaves the block, once: the body does not run again.
static void
lock_released_on_continue(void)
{
    ct_lock l = CT_LOCK_INIT;
    int entered = 0, after_continue = 0, loops = 0;
    for (int i = 0; i < 3; i++) {
        CT_WITH_LOCK(&l) {
            entered++;
            if (i >= 0) {
                continue;
            }
            after_continue++;
        }
        CHECK(!ct_lock_locked(&l));
        loops++;
    }
    CHECK_EQ(entered, 3);
    CHECK_EQ(after_continue, 0);
    CHECK_EQ(loops, 3);
}

// Returns from inside the block; the value is computed with the lock held.
static int
return_inside(ct_lock *l, int how)
{
    CT_WITH_LOCK(l) {
        if (how == 0) {
            return ct_lock_locked(l) ? 10 : -10;
        }
        // From inside a loop within the block.
        for (int i = 0; i < 5; i++) {
            if (i == how) {
                return ct_lock_locked(l) ? 20 + i : -20;
            }
        }
    }
    return 0;
}

static void
lock_released_on_return(void)
{
    ct_lock l = CT_LOCK_INIT;
    CHECK_EQ(return_inside(&l, 0), 10);
    CHECK(!ct_lock_locked(&l));
    CHECK_EQ(return_inside(&l, 3), 23);
    CHECK(!ct_lock_locked(&l));
    CHECK_EQ(return_inside(&l, 9), 0);
    CHECK(!ct_lock_locked(&l));
    CHECK_OK(ct_lock_acquire(&l, CT_NOWAIT));
    CHECK_OK(ct_lock_release(&l));
}

static void
lock_released_on_goto(void)
{
    ct_lock l = CT_LOCK_INIT;
    int after_goto = 0;
    CT_WITH_LOCK(&l) {
        CHECK(ct_lock_locked(&l));
        if (!after_goto) {
            goto out;
        }
        after_goto++;
    }
    CHECK(false); // not reached: the goto jumps over it
out:
    CHECK_EQ(after_goto, 0);
    CHECK(!ct_lock_locked(&l));
}

// A break inside a loop within the block leaves that loop only.
static void
inner_loop_break_keeps_lock(void)
{
    ct_lock l = CT_LOCK_INIT;
    int still_inside = 0;
    CT_WITH_LOCK(&l) {
        for (int i = 0; i < 10; i++) {
            if (i == 2) {
                break;
            }
        }
        still_inside = ct_lock_locked(&l);
    }
    CHECK(still_inside);
    CHECK(!ct_lock_locked(&l));
}

static void
nested_different_locks(void)
{
    ct_lock a = CT_LOCK_INIT;
    ct_lock b = CT_LOCK_INIT;
    CT_WITH_LOCK(&a) {
        CHECK(ct_lock_locked(&a));
        CHECK(!ct_lock_locked(&b));
        CT_WITH_LOCK(&b) {
            CHECK(ct_lock_locked(&a));
            CHECK(ct_lock_locked(&b));
        }
        CHECK(ct_lock_locked(&a));
        CHECK(!ct_lock_locked(&b));
        // Leaving both through the inner block's break and the outer one's.
        CT_WITH_LOCK(&b) {
            break;
        }
        CHECK(!ct_lock_locked(&b));
    }
    CHECK(!ct_lock_locked(&a));
    CHECK(!ct_lock_locked(&b));
}

static int
rlock_return_at_depth(ct_rlock *r)
{
    CT_WITH_RLOCK(r) {
        CT_WITH_RLOCK(r) {
            return (int)ct_rlock_count(r);
        }
    }
    return -1;
}

static void
rlock_nested_same(void)
{
    ct_rlock r = CT_RLOCK_INIT;
    CT_WITH_RLOCK(&r) {
        CHECK_EQ(ct_rlock_count(&r), 1);
        CT_WITH_RLOCK(&r) {
            CHECK_EQ(ct_rlock_count(&r), 2);
            CT_WITH_RLOCK(&r) {
                CHECK_EQ(ct_rlock_count(&r), 3);
            }
            CHECK_EQ(ct_rlock_count(&r), 2);
        }
        CHECK_EQ(ct_rlock_count(&r), 1);
        CHECK(ct_rlock_is_owned(&r));
    }
    CHECK_EQ(ct_rlock_count(&r), 0);
    CHECK(!ct_rlock_locked(&r));

    // A return two levels deep releases both.
    CHECK_EQ(rlock_return_at_depth(&r), 2);
    CHECK_EQ(ct_rlock_count(&r), 0);
    CHECK(!ct_rlock_locked(&r));
    CHECK_RC(ct_rlock_release(&r), CT_EPERM);
}

static int
semaphore_return(ct_semaphore *s)
{
    CT_WITH_SEMAPHORE(s) {
        return (int)ct_semaphore_value(s);
    }
    return -1;
}

// The semaphore's count shows a double release, so each way out is checked
// to give the unit back exactly once.
static void
semaphore_count_restored(void)
{
    ct_semaphore s = CT_SEMAPHORE_INIT(2);
    CT_WITH_SEMAPHORE(&s) {
        CHECK_EQ(ct_semaphore_value(&s), 1);
        CT_WITH_SEMAPHORE(&s) {
            CHECK_EQ(ct_semaphore_value(&s), 0);
            CHECK_RC(ct_semaphore_acquire(&s, CT_NOWAIT), CT_ETIMEDOUT);
        }
        CHECK_EQ(ct_semaphore_value(&s), 1);
    }
    CHECK_EQ(ct_semaphore_value(&s), 2);

    for (int i = 0; i < 2; i++) {
        CT_WITH_SEMAPHORE(&s) {
            break;
        }
        CHECK_EQ(ct_semaphore_value(&s), 2);
        CT_WITH_SEMAPHORE(&s) {
            continue;
        }
        CHECK_EQ(ct_semaphore_value(&s), 2);
    }
    CHECK_EQ(semaphore_return(&s), 1);
    CHECK_EQ(ct_semaphore_value(&s), 2);
    CT_WITH_SEMAPHORE(&s) {
        goto out;
    }
out:
    CHECK_EQ(ct_semaphore_value(&s), 2);

    ct_semaphore b = CT_BOUNDED_SEMAPHORE_INIT(1);
    CT_WITH_SEMAPHORE(&b) {
        CHECK_EQ(ct_semaphore_value(&b), 0);
    }
    CHECK_EQ(ct_semaphore_value(&b), 1);
}

static void
condition_scope(void)
{
    ct_lock l = CT_LOCK_INIT;
    ct_condition c = CT_CONDITION_INIT(&l);
    int runs = 0;
    CT_WITH_CONDITION(&c) {
        CHECK(ct_lock_locked(&l));
        // Holding the lock, so notify is allowed (and wakes nobody).
        CHECK_EQ(ct_condition_notify(&c, 1), 0);
        runs++;
    }
    CHECK_EQ(runs, 1);
    CHECK(!ct_lock_locked(&l));

    ct_rlock r = CT_RLOCK_INIT;
    ct_condition cr;
    CHECK_OK(ct_condition_init_rlock(&cr, &r));
    CT_WITH_CONDITION(&cr) {
        CHECK_EQ(ct_rlock_count(&r), 1);
        CT_WITH_RLOCK(&r) {
            CHECK_EQ(ct_rlock_count(&r), 2);
            break;
        }
        CHECK_EQ(ct_rlock_count(&r), 1);
    }
    CHECK(!ct_rlock_locked(&r));
}

// A NULL primitive (or one whose acquire fails) skips the body and releases
// nothing.
static void
null_skips_body(void)
{
    int runs = 0;
    CT_WITH_LOCK(NULL) {
        runs++;
    }
    CT_WITH_RLOCK(NULL) {
        runs++;
    }
    CT_WITH_SEMAPHORE(NULL) {
        runs++;
    }
    CT_WITH_CONDITION(NULL) {
        runs++;
    }
    ct_lock *lp = NULL;
    ct_rlock *rp = NULL;
    ct_semaphore *sp = NULL;
    CT_WITH_LOCK(lp) {
        runs++;
    }
    CT_WITH_RLOCK(rp) {
        runs++;
    }
    CT_WITH_SEMAPHORE(sp) {
        runs++;
    }
    // A zeroed condition is bound to no lock: its acquire fails.
    ct_condition unbound;
    memset(&unbound, 0, sizeof unbound);
    CT_WITH_CONDITION(&unbound) {
        runs++;
    }
    CHECK_EQ(runs, 0);
}

struct blocked_ctx {
    ct_lock lock;
    atomic_int started;
    atomic_int inside;
};

static void *
blocked_with(void *p)
{
    struct blocked_ctx *ctx = p;
    atomic_store(&ctx->started, 1);
    CT_WITH_LOCK(&ctx->lock) {
        atomic_store(&ctx->inside, 1);
    }
    return NULL;
}

// CT_WITH_LOCK waits for a lock held elsewhere before running its body.
static void
with_waits_for_holder(void)
{
    struct blocked_ctx ctx = {.lock = CT_LOCK_INIT};
    atomic_init(&ctx.started, 0);
    atomic_init(&ctx.inside, 0);
    CHECK_OK(ct_lock_acquire(&ctx.lock, CT_FOREVER));
    pthread_t t = ct_test_spawn(blocked_with, &ctx);
    CHECK(ct_test_poll_at_least(&ctx.started, 1, ct_test_long_wait()));
    CHECK(!ct_test_poll_at_least(&ctx.inside, 1, CT_MILLIS(50)));
    CHECK_OK(ct_lock_release(&ctx.lock));
    CHECK(ct_test_poll_at_least(&ctx.inside, 1, ct_test_long_wait()));
    ct_test_join(t);
    CHECK(!ct_lock_locked(&ctx.lock));
}

enum { CONTENTION_THREADS = 4, CONTENTION_ITERS = 10000 };

struct counter_ctx {
    ct_lock lock;
    ct_rlock rlock;
    long value;  // protected by lock: deliberately not atomic
    long rvalue; // protected by rlock
    atomic_int inside;
    atomic_int max_inside;
};

static void *
contention_worker(void *p)
{
    struct counter_ctx *ctx = p;
    for (int i = 0; i < CONTENTION_ITERS; i++) {
        CT_WITH_LOCK(&ctx->lock) {
            ct_test_update_max(&ctx->max_inside,
                               atomic_fetch_add(&ctx->inside, 1) + 1);
            ctx->value++;
            atomic_fetch_sub(&ctx->inside, 1);
            // Leave early on some iterations: the release must still happen.
            if (i % 7 == 0) {
                continue;
            }
        }
        CT_WITH_RLOCK(&ctx->rlock) {
            CT_WITH_RLOCK(&ctx->rlock) {
                ctx->rvalue++;
            }
        }
    }
    return NULL;
}

static void
contention(void)
{
    struct counter_ctx ctx = {.lock = CT_LOCK_INIT, .rlock = CT_RLOCK_INIT};
    atomic_init(&ctx.inside, 0);
    atomic_init(&ctx.max_inside, 0);
    ct_test_run_threads(CONTENTION_THREADS, contention_worker, &ctx, 0);
    CHECK_EQ(ctx.value, (long)CONTENTION_THREADS * CONTENTION_ITERS);
    CHECK_EQ(ctx.rvalue, (long)CONTENTION_THREADS * CONTENTION_ITERS);
    CHECK_EQ(atomic_load(&ctx.max_inside), 1);
    CHECK(!ct_lock_locked(&ctx.lock));
    CHECK(!ct_rlock_locked(&ctx.rlock));
}

// The primitive expression is evaluated once, like a function argument:
// `CT_WITH_LOCK(&locks[i++])` takes and releases the same lock.
static void
expression_evaluated_once(void)
{
    ct_lock locks[3] = {CT_LOCK_INIT, CT_LOCK_INIT, CT_LOCK_INIT};
    int i = 0;
    CT_WITH_LOCK(&locks[i++]) {
        CHECK_EQ(i, 1);
        CHECK(ct_lock_locked(&locks[0]));
        CHECK(!ct_lock_locked(&locks[1]));
    }
    CHECK_EQ(i, 1);
    for (int k = 0; k < 3; k++) {
        CHECK(!ct_lock_locked(&locks[k]));
    }
}

CT_SUITE(scope) = {
    {"expression evaluated once", expression_evaluated_once},
    {"lock released at end", lock_released_at_end},
    {"lock released on break", lock_released_on_break},
    {"lock released on continue", lock_released_on_continue},
    {"lock released on return", lock_released_on_return},
    {"lock released on goto", lock_released_on_goto},
    {"inner loop break keeps lock", inner_loop_break_keeps_lock},
    {"nested different locks", nested_different_locks},
    {"rlock nested same", rlock_nested_same},
    {"semaphore count restored", semaphore_count_restored},
    {"condition scope", condition_scope},
    {"null skips body", null_skips_body},
    {"with waits for holder", with_waits_for_holder},
    {"contention", contention},
    {0},
};
