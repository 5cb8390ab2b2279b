// Tests for ct_condition over a ct_lock and over a ct_rlock: the behaviours
// of CPython's lock_tests.ConditionTests (misuse, timeouts, FIFO notify,
// wait_for) plus exact notify counts under timeout races and buffer stress.
#include "harness/test.h"

#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

enum { KIND_LOCK, KIND_RLOCK };

// A condition with the lock it is bound to. The pointers let the same
// helpers drive statically initialized objects too.
typedef struct fixture {
    int kind;
    ct_condition *cond;
    ct_lock *lock;   // KIND_LOCK
    ct_rlock *rlock; // KIND_RLOCK
    ct_condition cond_mem;
    ct_lock lock_mem;
    ct_rlock rlock_mem;
} fixture;

static void
fixture_init(fixture *f, int kind)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->cond = &f->cond_mem;
    f->lock = &f->lock_mem;
    f->rlock = &f->rlock_mem;
    ct_lock_init(f->lock);
    ct_rlock_init(f->rlock);
    if (kind == KIND_LOCK) {
        CHECK_OK(ct_condition_init(f->cond, f->lock));
    } else {
        CHECK_OK(ct_condition_init_rlock(f->cond, f->rlock));
    }
}

// Binds another condition to the fixture's lock.
static void
bind_extra(fixture *f, ct_condition *extra)
{
    if (f->kind == KIND_LOCK) {
        CHECK_OK(ct_condition_init(extra, f->lock));
    } else {
        CHECK_OK(ct_condition_init_rlock(extra, f->rlock));
    }
}

static void
hold(fixture *f)
{
    CHECK_OK(ct_condition_acquire(f->cond, CT_FOREVER));
}

static void
unhold(fixture *f)
{
    CHECK_OK(ct_condition_release(f->cond));
}

// Checks that the caller holds the lock; an rlock at exactly `depth`.
static void
check_held(fixture *f, unsigned depth)
{
    if (f->kind == KIND_LOCK) {
        CHECK(ct_lock_locked(f->lock));
    } else {
        CHECK(ct_rlock_is_owned(f->rlock));
        CHECK_EQ(ct_rlock_count(f->rlock), depth);
    }
}

// Checks that nobody holds the lock.
static void
check_free(fixture *f)
{
    if (f->kind == KIND_LOCK) {
        CHECK(!ct_lock_locked(f->lock));
    } else {
        CHECK(!ct_rlock_locked(f->rlock));
    }
}

// Gives the CPU away for a moment while polling for another thread's
// progress; it orders nothing by itself.
static void
relax(void)
{
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, CT_MICROS(50)), CT_ETIMEDOUT);
}

// Returns with the lock held once *counter (guarded by the lock) reaches
// `want`. A waiter bumps its counter under the lock just before it waits,
// and the wait releases the lock only once the waiter is queued, so seeing
// the count under the lock proves the waiter is queued.
static void
hold_when(fixture *f, const int *counter, int want)
{
    for (;;) {
        hold(f);
        if (*counter >= want) {
            return;
        }
        unhold(f);
        relax();
    }
}

static double
scale(void)
{
    return ct_test_scale();
}

static bool
pred_true(void *arg)
{
    int *calls = arg;
    ++*calls;
    return true;
}

static bool
pred_false(void *arg)
{
    int *calls = arg;
    ++*calls;
    return false;
}

// Declares name_lock and name_rlock running name(kind).
#define BOTH_KINDS(name)                                                       \
    static void name##_lock(void)                                              \
    {                                                                          \
        name(KIND_LOCK);                                                       \
    }                                                                          \
    static void name##_rlock(void)                                             \
    {                                                                          \
        name(KIND_RLOCK);                                                      \
    }

// --- misuse ---------------------------------------------------------------

static void
null_and_unbound(void)
{
    ct_lock l = CT_LOCK_INIT;
    ct_rlock r = CT_RLOCK_INIT;
    ct_condition zero;
    memset(&zero, 0, sizeof zero);
    int calls = 0;

    CHECK_RC(ct_condition_init(NULL, &l), CT_EINVAL);
    CHECK_RC(ct_condition_init_rlock(NULL, &r), CT_EINVAL);
    ct_condition c;
    CHECK_RC(ct_condition_init(&c, NULL), CT_EINVAL);
    CHECK_RC(ct_condition_init_rlock(&c, NULL), CT_EINVAL);

    CHECK_RC(ct_condition_wait(NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_condition_wait(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_condition_wait_for(NULL, pred_true, &calls, CT_FOREVER),
             CT_EINVAL);
    CHECK_RC(ct_condition_notify(NULL, 1), CT_EINVAL);
    CHECK_RC(ct_condition_notify_all(NULL), CT_EINVAL);
    CHECK_RC(ct_condition_acquire(NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_condition_release(NULL), CT_EINVAL);

    // A zeroed condition has no lock: every call fails, none blocks.
    CHECK_RC(ct_condition_wait(&zero, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_condition_wait(&zero, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_condition_wait_for(&zero, pred_true, &calls, CT_FOREVER),
             CT_EINVAL);
    CHECK_RC(ct_condition_notify(&zero, 1), CT_EINVAL);
    CHECK_RC(ct_condition_notify(&zero, 0), CT_EINVAL);
    CHECK_RC(ct_condition_notify_all(&zero), CT_EINVAL);
    CHECK_RC(ct_condition_acquire(&zero, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_condition_release(&zero), CT_EINVAL);
    CHECK_EQ(calls, 0);
    CHECK(!ct_lock_locked(&l));
    CHECK(!ct_rlock_locked(&r));
}

static void
null_predicate(int kind)
{
    fixture f;
    fixture_init(&f, kind);
    hold(&f);
    CHECK_RC(ct_condition_wait_for(f.cond, NULL, NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_condition_wait_for(f.cond, NULL, NULL, CT_FOREVER), CT_EINVAL);
    check_held(&f, 1);
    unhold(&f);
    check_free(&f);
}
BOTH_KINDS(null_predicate)

static void
unheld_calls_fail(int kind)
{
    fixture f;
    fixture_init(&f, kind);
    int calls = 0;
    // Python's RuntimeError("cannot wait on un-acquired lock"); a wait
    // that wrongly went ahead would time out instead.
    CHECK_RC(ct_condition_wait(f.cond, CT_NOWAIT), CT_EPERM);
    CHECK_RC(ct_condition_wait(f.cond, CT_MILLIS(1)), CT_EPERM);
    CHECK_RC(ct_condition_wait(f.cond, -1), CT_EPERM);
    CHECK_RC(ct_condition_notify(f.cond, 1), CT_EPERM);
    CHECK_RC(ct_condition_notify(f.cond, 0), CT_EPERM);
    CHECK_RC(ct_condition_notify_all(f.cond), CT_EPERM);
    // Unlike CPython, wait_for checks before it evaluates the predicate.
    CHECK_RC(ct_condition_wait_for(f.cond, pred_true, &calls, CT_NOWAIT),
             CT_EPERM);
    CHECK_RC(ct_condition_wait_for(f.cond, pred_true, &calls, CT_FOREVER),
             CT_EPERM);
    CHECK_EQ(calls, 0);
    CHECK_RC(ct_condition_release(f.cond), CT_EPERM);
    // Nothing was taken or given back.
    check_free(&f);
    hold(&f);
    check_held(&f, 1);
    unhold(&f);
    check_free(&f);
}
BOTH_KINDS(unheld_calls_fail)

typedef struct other_holder {
    fixture *f;
    ct_event held;
    ct_event go;
} other_holder;

static void *
hold_until_go(void *p)
{
    other_holder *o = p;
    hold(o->f);
    CHECK_OK(ct_event_set(&o->held));
    CHECK_OK(ct_event_wait(&o->go, CT_FOREVER));
    unhold(o->f);
    return NULL;
}

static void
rlock_held_by_other_thread(void)
{
    fixture f;
    fixture_init(&f, KIND_RLOCK);
    other_holder o = {&f, CT_EVENT_INIT, CT_EVENT_INIT};
    pthread_t t = ct_test_spawn(hold_until_go, &o);
    CHECK_OK(ct_event_wait(&o.held, CT_FOREVER));
    int calls = 0;
    // An rlock has an owner: locked by someone else is not held by us.
    CHECK_RC(ct_condition_wait(f.cond, CT_MILLIS(1)), CT_EPERM);
    CHECK_RC(ct_condition_wait(f.cond, CT_NOWAIT), CT_EPERM);
    CHECK_RC(ct_condition_wait_for(f.cond, pred_true, &calls, CT_MILLIS(1)),
             CT_EPERM);
    CHECK_RC(ct_condition_notify(f.cond, 1), CT_EPERM);
    CHECK_RC(ct_condition_notify_all(f.cond), CT_EPERM);
    CHECK_RC(ct_condition_release(f.cond), CT_EPERM);
    CHECK_EQ(calls, 0);
    // The owner's hold is untouched.
    CHECK(ct_rlock_locked(f.rlock));
    CHECK(!ct_rlock_is_owned(f.rlock));
    CHECK_RC(ct_condition_acquire(f.cond, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_OK(ct_event_set(&o.go));
    ct_test_join(t);
    check_free(&f);
}

static void
plain_lock_held_means_locked(void)
{
    // A Lock has no owner, so the bound condition can only check "locked":
    // a thread that did not take it may notify while another holds it.
    fixture f;
    fixture_init(&f, KIND_LOCK);
    other_holder o = {&f, CT_EVENT_INIT, CT_EVENT_INIT};
    pthread_t t = ct_test_spawn(hold_until_go, &o);
    CHECK_OK(ct_event_wait(&o.held, CT_FOREVER));
    CHECK_RC(ct_condition_notify(f.cond, 1), 0);
    CHECK_RC(ct_condition_notify_all(f.cond), 0);
    CHECK(ct_lock_locked(f.lock));
    CHECK_OK(ct_event_set(&o.go));
    ct_test_join(t);
    check_free(&f);
}

// --- acquire, release, scope, static initializers ---------------------------

static void
acquire_release_lock(void)
{
    // CPython's test_acquire: the condition's acquire is its lock's.
    fixture f;
    fixture_init(&f, KIND_LOCK);
    CHECK_OK(ct_condition_acquire(f.cond, CT_NOWAIT));
    CHECK(ct_lock_locked(f.lock));
    CHECK_RC(ct_lock_acquire(f.lock, CT_NOWAIT), CT_ETIMEDOUT);
    // A Lock is not re-entrant, through the condition either.
    CHECK_RC(ct_condition_acquire(f.cond, CT_MILLIS(1)), CT_ETIMEDOUT);
    CHECK_OK(ct_condition_release(f.cond));
    CHECK(!ct_lock_locked(f.lock));
    CHECK_OK(ct_lock_acquire(f.lock, CT_NOWAIT));
    CHECK_RC(ct_condition_acquire(f.cond, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_OK(ct_condition_release(f.cond));
    CHECK_RC(ct_condition_release(f.cond), CT_EPERM);
    CT_WITH_CONDITION(f.cond) {
        CHECK(ct_lock_locked(f.lock));
        CHECK_RC(ct_lock_acquire(f.lock, CT_NOWAIT), CT_ETIMEDOUT);
    }
    CHECK(!ct_lock_locked(f.lock));
    for (int i = 0; i < 3; i++) {
        CT_WITH_CONDITION(f.cond) {
            // break leaves the block and releases; the loop goes on.
            break;
        }
        CHECK(!ct_lock_locked(f.lock));
    }
}

static void
acquire_release_rlock(void)
{
    fixture f;
    fixture_init(&f, KIND_RLOCK);
    CHECK_OK(ct_condition_acquire(f.cond, CT_NOWAIT));
    CHECK_OK(ct_condition_acquire(f.cond, CT_NOWAIT));
    check_held(&f, 2);
    CHECK_OK(ct_condition_release(f.cond));
    check_held(&f, 1);
    CT_WITH_CONDITION(f.cond) {
        check_held(&f, 2);
    }
    check_held(&f, 1);
    CHECK_OK(ct_condition_release(f.cond));
    check_free(&f);
    CHECK_RC(ct_condition_release(f.cond), CT_EPERM);
}

typedef struct ping {
    fixture *f;
    int entered;
    int flag;
    int rc;
} ping;

static void *
ping_waiter(void *p)
{
    ping *pg = p;
    hold(pg->f);
    pg->entered++;
    while (!pg->flag) {
        pg->rc = ct_condition_wait(pg->f->cond, CT_FOREVER);
        CHECK_OK(pg->rc);
    }
    check_held(pg->f, 1);
    unhold(pg->f);
    return NULL;
}

// One waiter, one notify: it must be woken by exactly that notify.
static void
ping_once(fixture *f)
{
    ping pg = {f, 0, 0, -1};
    pthread_t t = ct_test_spawn(ping_waiter, &pg);
    hold_when(f, &pg.entered, 1);
    pg.flag = 1;
    CHECK_EQ(ct_condition_notify(f->cond, 1), 1);
    unhold(f);
    ct_test_join(t);
    CHECK_OK(pg.rc);
    check_free(f);
}

static ct_lock static_lock = CT_LOCK_INIT;
static ct_condition static_cond = CT_CONDITION_INIT(&static_lock);
static ct_rlock static_rlock = CT_RLOCK_INIT;
static ct_condition static_rcond = CT_CONDITION_INIT_RLOCK(&static_rlock);

static void
static_initializers(void)
{
    fixture f;
    memset(&f, 0, sizeof f);
    f.kind = KIND_LOCK;
    f.cond = &static_cond;
    f.lock = &static_lock;
    ping_once(&f);
    f.kind = KIND_RLOCK;
    f.cond = &static_rcond;
    f.rlock = &static_rlock;
    ping_once(&f);
}

static void
several_conditions_one_lock(int kind)
{
    // Notifies on one condition must not wake waiters of another bound to
    // the same lock.
    fixture f;
    fixture_init(&f, kind);
    ct_condition other;
    bind_extra(&f, &other);
    ping pg = {&f, 0, 0, -1};
    pthread_t t = ct_test_spawn(ping_waiter, &pg);
    hold_when(&f, &pg.entered, 1);
    CHECK_EQ(ct_condition_notify(&other, 1), 0);
    CHECK_EQ(ct_condition_notify_all(&other), 0);
    pg.flag = 1;
    CHECK_EQ(ct_condition_notify_all(f.cond), 1);
    unhold(&f);
    ct_test_join(t);
    ping_once(&f);
}
BOTH_KINDS(several_conditions_one_lock)

// --- timeouts -------------------------------------------------------------

static void
poll_timeouts(int kind)
{
    fixture f;
    fixture_init(&f, kind);
    static const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(1),
                                        INT64_MIN};
    unsigned depth = kind == KIND_RLOCK ? 2 : 1;
    for (unsigned i = 0; i < depth; i++) {
        hold(&f);
    }
    int64_t t0 = ct_test_now();
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
            CHECK_RC(ct_condition_wait(f.cond, polls[i]), CT_ETIMEDOUT);
            check_held(&f, depth);
            int calls = 0;
            CHECK_RC(
                ct_condition_wait_for(f.cond, pred_false, &calls, polls[i]),
                CT_ETIMEDOUT);
            CHECK(calls >= 1);
            check_held(&f, depth);
        }
    }
    // 400 polls: none may have turned into a real wait.
    CHECK(ct_test_now() - t0 < (int64_t)(CT_MILLIS(500) * scale()));
    for (unsigned i = 0; i < depth; i++) {
        unhold(&f);
    }
    check_free(&f);
}
BOTH_KINDS(poll_timeouts)

typedef struct timed_ctx {
    fixture f;
    ct_duration timeout;
} timed_ctx;

static void *
timed_waiter(void *p)
{
    timed_ctx *c = p;
    hold(&c->f);
    int64_t t0 = ct_test_now();
    int rc = ct_condition_wait(c->f.cond, c->timeout);
    int64_t waited = ct_test_now() - t0;
    CHECK_RC(rc, CT_ETIMEDOUT);
    check_held(&c->f, 1);
    if (waited < c->timeout) {
        ct_test_fail(__FILE__, __LINE__, "timed wait returned after %lld ns",
                     (long long)waited);
    }
    CHECK(waited < c->timeout + (int64_t)(CT_SECONDS(2) * scale()));
    unhold(&c->f);
    return NULL;
}

static void
timed_wait_never_early(int kind)
{
    // CPython's test_timeout: several threads time out together, each
    // with its lock re-held and none early.
    timed_ctx c;
    fixture_init(&c.f, kind);
    c.timeout = CT_MILLIS(50);
    timed_waiter(&c);
    c.timeout = CT_MILLIS(30);
    ct_test_run_threads(4, timed_waiter, &c, 0);
    check_free(&c.f);
}
BOTH_KINDS(timed_wait_never_early)

typedef struct contended_ctx {
    fixture f;
    ct_duration timeout;
    int entered;
    int returned;
    int64_t released_at; // when the main thread let go of the lock
    int64_t returned_at; // when the waiter's wait returned
    int rc;
} contended_ctx;

static void *
contended_timeout_waiter(void *p)
{
    contended_ctx *c = p;
    hold(&c->f);
    c->entered++;
    c->rc = ct_condition_wait(c->f.cond, c->timeout);
    c->returned_at = ct_test_now();
    c->returned = 1;
    check_held(&c->f, 1);
    unhold(&c->f);
    return NULL;
}

static void
timeout_reacquires_before_returning(int kind)
{
    // The main thread takes the lock while the waiter waits and keeps it
    // across the waiter's deadline: the waiter may return only after it
    // has the lock back. If the main thread comes too late (the waiter
    // already returned), try again with a longer timeout.
    for (int attempt = 0; attempt < 6; attempt++) {
        contended_ctx c;
        memset(&c, 0, sizeof c);
        fixture_init(&c.f, kind);
        c.timeout = CT_MILLIS(10) << attempt;
        pthread_t t = ct_test_spawn(contended_timeout_waiter, &c);
        hold_when(&c.f, &c.entered, 1);
        bool in_time = !c.returned;
        if (in_time) {
            ct_event never = CT_EVENT_INIT;
            // Keeps the lock over the deadline (the check below holds even
            // if it does not).
            CHECK_RC(ct_event_wait(&never, c.timeout + CT_MILLIS(20)),
                     CT_ETIMEDOUT);
            c.released_at = ct_test_now();
        }
        unhold(&c.f);
        ct_test_join(t);
        CHECK_RC(c.rc, CT_ETIMEDOUT);
        check_free(&c.f);
        if (in_time) {
            CHECK(c.returned_at >= c.released_at);
            return;
        }
    }
    SKIP("the waiter always timed out before the main thread ran");
}
BOTH_KINDS(timeout_reacquires_before_returning)

typedef struct huge_ctx {
    fixture f;
    int entered;
    ct_duration timeout;
    int rc;
} huge_ctx;

static void *
huge_timeout_waiter(void *p)
{
    huge_ctx *c = p;
    hold(&c->f);
    c->entered++;
    c->rc = ct_condition_wait(c->f.cond, c->timeout);
    check_held(&c->f, 1);
    unhold(&c->f);
    return NULL;
}

static void
huge_timeouts_saturate(int kind)
{
    // No OverflowError: timeouts near INT64_MAX must wait like forever
    // (a wrapped deadline would return at once with CT_ETIMEDOUT).
    static const ct_duration huge[] = {CT_FOREVER - 1, INT64_MAX / 2 + 1,
                                       CT_SECONDS(1e9)};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        huge_ctx c;
        memset(&c, 0, sizeof c);
        fixture_init(&c.f, kind);
        c.timeout = huge[i];
        c.rc = -1;
        pthread_t t = ct_test_spawn(huge_timeout_waiter, &c);
        hold_when(&c.f, &c.entered, 1);
        CHECK_EQ(ct_condition_notify(c.f.cond, 1), 1);
        unhold(&c.f);
        ct_test_join(t);
        CHECK_OK(c.rc);
    }
}
BOTH_KINDS(huge_timeouts_saturate)

// --- the wait releases the lock completely --------------------------------

typedef struct release_ctx {
    fixture f;
    int flag;
    int notified;
} release_ctx;

static void *
release_helper(void *p)
{
    release_ctx *c = p;
    // Blocks until the main thread's wait lets go of every level.
    hold(&c->f);
    check_held(&c->f, 1);
    c->flag = 1;
    c->notified = ct_condition_notify(c->f.cond, 1);
    unhold(&c->f);
    return NULL;
}

static bool
flag_set(void *arg)
{
    return *(int *)arg != 0;
}

static void
wait_releases_every_level(int kind)
{
    unsigned depth = kind == KIND_RLOCK ? 3 : 1;
    for (int use_wait_for = 0; use_wait_for < 2; use_wait_for++) {
        release_ctx c;
        memset(&c, 0, sizeof c);
        fixture_init(&c.f, kind);
        for (unsigned i = 0; i < depth; i++) {
            hold(&c.f);
        }
        check_held(&c.f, depth);
        pthread_t t = ct_test_spawn(release_helper, &c);
        if (use_wait_for) {
            CHECK_OK(
                ct_condition_wait_for(c.f.cond, flag_set, &c.flag, CT_FOREVER));
        } else {
            CHECK_OK(ct_condition_wait(c.f.cond, CT_FOREVER));
        }
        check_held(&c.f, depth);
        CHECK_EQ(c.flag, 1);
        CHECK_EQ(c.notified, 1);
        ct_test_join(t);
        for (unsigned i = 0; i < depth; i++) {
            check_held(&c.f, depth - i);
            unhold(&c.f);
        }
        check_free(&c.f);
    }
}
BOTH_KINDS(wait_releases_every_level)

static void
timed_wait_restores_depth(void)
{
    fixture f;
    fixture_init(&f, KIND_RLOCK);
    for (int i = 0; i < 3; i++) {
        hold(&f);
    }
    CHECK_RC(ct_condition_wait(f.cond, CT_MILLIS(5)), CT_ETIMEDOUT);
    check_held(&f, 3);
    int calls = 0;
    CHECK_RC(ct_condition_wait_for(f.cond, pred_false, &calls, CT_MILLIS(5)),
             CT_ETIMEDOUT);
    check_held(&f, 3);
    for (int i = 0; i < 3; i++) {
        unhold(&f);
    }
    check_free(&f);
}

// --- notify: exact counts, oldest first -----------------------------------

#define ORDER_N 5

typedef struct order_ctx {
    fixture f;
    int entered; // waiters that reached their wait
    int phase;   // set by the notifier, under the lock, after each notify
    int log_n;
    int log_id[ORDER_N];
    int log_phase[ORDER_N];
    int log_rc[ORDER_N];
} order_ctx;

typedef struct order_arg {
    order_ctx *ctx;
    int id;
} order_arg;

static void *
order_waiter(void *p)
{
    order_arg *a = p;
    order_ctx *c = a->ctx;
    hold(&c->f);
    c->entered++;
    int rc = ct_condition_wait(c->f.cond, CT_FOREVER);
    check_held(&c->f, 1);
    c->log_id[c->log_n] = a->id;
    c->log_phase[c->log_n] = c->phase;
    c->log_rc[c->log_n] = rc;
    c->log_n++;
    unhold(&c->f);
    return NULL;
}

// Starts ORDER_N waiters and returns once all are queued, in id order.
static void
start_ordered_waiters(order_ctx *c, order_arg *args, pthread_t *threads, int n)
{
    for (int i = 0; i < n; i++) {
        args[i].ctx = c;
        args[i].id = i;
        threads[i] = ct_test_spawn(order_waiter, &args[i]);
        // Waiter i is queued before waiter i + 1 starts.
        hold_when(&c->f, &c->entered, i + 1);
        unhold(&c->f);
    }
}

// Holds the lock until the log has `n` entries, then checks it has exactly
// n; returns with the lock held.
static void
hold_until_logged(order_ctx *c, int n)
{
    hold_when(&c->f, &c->log_n, n);
    CHECK_EQ(c->log_n, n);
}

// True if log entries [from, from + 2) are the ids a and b in any order (two
// woken threads may take the lock back in either order).
static bool
logged_pair(const order_ctx *c, int from, int a, int b)
{
    int x = c->log_id[from], y = c->log_id[from + 1];
    return (x == a && y == b) || (x == b && y == a);
}

static void
notify_wakes_oldest_first(int kind)
{
    order_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    // Twice over the same condition: its state must be clean after a round
    // (CPython runs _check_notify twice for the same reason).
    for (int round = 0; round < 2; round++) {
        c.entered = 0;
        c.phase = 0;
        c.log_n = 0;
        order_arg args[ORDER_N];
        pthread_t threads[ORDER_N];
        start_ordered_waiters(&c, args, threads, ORDER_N);

        hold(&c.f);
        CHECK_EQ(ct_condition_notify(c.f.cond, 1), 1);
        c.phase = 1;
        unhold(&c.f);
        hold_until_logged(&c, 1);
        CHECK_EQ(c.log_id[0], 0);
        // Only the oldest left: the next notify finds the four others.
        CHECK_EQ(ct_condition_notify(c.f.cond, 2), 2);
        c.phase = 2;
        unhold(&c.f);

        hold_until_logged(&c, 3);
        CHECK(logged_pair(&c, 1, 1, 2));
        // n above the number waiting wakes exactly those waiting.
        CHECK_EQ(ct_condition_notify(c.f.cond, 10), 2);
        c.phase = 3;
        unhold(&c.f);

        hold_until_logged(&c, 5);
        CHECK(logged_pair(&c, 3, 3, 4));
        CHECK_EQ(ct_condition_notify(c.f.cond, 1), 0);
        CHECK_EQ(ct_condition_notify_all(c.f.cond), 0);
        unhold(&c.f);

        for (int i = 0; i < ORDER_N; i++) {
            ct_test_join(threads[i]);
        }
        // Each returned 0 in the phase of the notify meant for it: a
        // spurious wake-up would show an earlier phase.
        static const int want_phase[ORDER_N] = {1, 2, 2, 3, 3};
        for (int i = 0; i < ORDER_N; i++) {
            CHECK_OK(c.log_rc[i]);
            CHECK_EQ(c.log_phase[i], want_phase[c.log_id[i]]);
        }
        check_free(&c.f);
    }
}
BOTH_KINDS(notify_wakes_oldest_first)

static void
notify_all_wakes_everyone(int kind)
{
    order_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    order_arg args[ORDER_N];
    pthread_t threads[ORDER_N];
    start_ordered_waiters(&c, args, threads, ORDER_N);
    hold(&c.f);
    CHECK_EQ(ct_condition_notify_all(c.f.cond), ORDER_N);
    c.phase = 1;
    CHECK_EQ(ct_condition_notify_all(c.f.cond), 0);
    unhold(&c.f);
    for (int i = 0; i < ORDER_N; i++) {
        ct_test_join(threads[i]);
    }
    CHECK_EQ(c.log_n, ORDER_N);
    for (int i = 0; i < ORDER_N; i++) {
        CHECK_OK(c.log_rc[i]);
        CHECK_EQ(c.log_phase[i], 1);
    }
    check_free(&c.f);
}
BOTH_KINDS(notify_all_wakes_everyone)

static void
notify_zero_or_negative_wakes_nobody(int kind)
{
    order_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    hold(&c.f);
    // Nobody waiting: 0 whatever n is.
    CHECK_EQ(ct_condition_notify(c.f.cond, 1), 0);
    CHECK_EQ(ct_condition_notify(c.f.cond, INT_MAX), 0);
    CHECK_EQ(ct_condition_notify_all(c.f.cond), 0);
    unhold(&c.f);

    order_arg args[3];
    pthread_t threads[3];
    start_ordered_waiters(&c, args, threads, 3);
    hold(&c.f);
    CHECK_EQ(ct_condition_notify(c.f.cond, 0), 0);
    CHECK_EQ(ct_condition_notify(c.f.cond, -1), 0);
    CHECK_EQ(ct_condition_notify(c.f.cond, INT_MIN), 0);
    // All three are still queued: a woken one would be missing here.
    CHECK_EQ(ct_condition_notify_all(c.f.cond), 3);
    c.phase = 1;
    unhold(&c.f);
    for (int i = 0; i < 3; i++) {
        ct_test_join(threads[i]);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(c.log_rc[i]);
        CHECK_EQ(c.log_phase[i], 1);
    }
}
BOTH_KINDS(notify_zero_or_negative_wakes_nobody)

// --- wait_for -------------------------------------------------------------

static void
wait_for_true_predicate_returns_at_once(int kind)
{
    fixture f;
    fixture_init(&f, kind);
    unsigned depth = kind == KIND_RLOCK ? 2 : 1;
    for (unsigned i = 0; i < depth; i++) {
        hold(&f);
    }
    static const ct_duration timeouts[] = {CT_NOWAIT, -1, CT_MILLIS(1),
                                           CT_FOREVER};
    int64_t t0 = ct_test_now();
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int calls = 0;
        CHECK_OK(ct_condition_wait_for(f.cond, pred_true, &calls, timeouts[i]));
        // Evaluated once, and no wait: CT_FOREVER would hang otherwise.
        CHECK_EQ(calls, 1);
        check_held(&f, depth);
    }
    CHECK(ct_test_now() - t0 < (int64_t)(CT_MILLIS(500) * scale()));
    for (unsigned i = 0; i < depth; i++) {
        unhold(&f);
    }
    check_free(&f);
}
BOTH_KINDS(wait_for_true_predicate_returns_at_once)

typedef struct state_ctx {
    fixture f;
    int state;
    int target;
    int calls; // predicate evaluations, under the lock
    int done;  // the waiter's wait_for returned
    ct_duration timeout;
    int rc;
    int state_at_return;
    int64_t waited;
} state_ctx;

static bool
state_reached(void *arg)
{
    state_ctx *c = arg;
    c->calls++;
    return c->state == c->target;
}

static void *
state_waiter(void *p)
{
    state_ctx *c = p;
    hold(&c->f);
    int64_t t0 = ct_test_now();
    c->rc = ct_condition_wait_for(c->f.cond, state_reached, c, c->timeout);
    c->waited = ct_test_now() - t0;
    c->state_at_return = c->state;
    c->done = 1;
    check_held(&c->f, 1);
    unhold(&c->f);
    return NULL;
}

// Bumps the state up to `steps` times, each time only once the waiter has
// looked at the previous value (and so waits again), and notifies. With
// `exact`, each notify must find the waiter; a timed wait_for may instead
// have run out of time (then it is done, or leaving its wait). Returns the
// number of bumps made.
static int
bump_state(state_ctx *c, int steps, bool exact)
{
    int bumps = 0;
    while (bumps < steps) {
        for (;;) {
            hold(&c->f);
            if (c->done || c->calls >= bumps + 1) {
                break;
            }
            unhold(&c->f);
            relax();
        }
        if (c->done) {
            unhold(&c->f);
            break;
        }
        c->state++;
        bumps++;
        int r = ct_condition_notify(c->f.cond, 1);
        if (exact) {
            CHECK_EQ(r, 1);
        } else {
            CHECK(r == 0 || r == 1);
        }
        unhold(&c->f);
    }
    return bumps;
}

static void
wait_for_predicate_made_true(int kind)
{
    // CPython's test_waitfor: woken four times, true on the fourth.
    state_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    c.target = 4;
    c.timeout = CT_FOREVER;
    pthread_t t = ct_test_spawn(state_waiter, &c);
    CHECK_EQ(bump_state(&c, 4, true), 4);
    ct_test_join(t);
    CHECK_OK(c.rc);
    CHECK_EQ(c.state_at_return, 4);
    CHECK_EQ(c.calls, 5);
    check_free(&c.f);
}
BOTH_KINDS(wait_for_predicate_made_true)

static void
wait_for_timeout(int kind)
{
    // CPython's test_waitfor_timeout: three bumps of four, then the time
    // runs out over all the waits together.
    state_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    c.target = 4;
    c.timeout = CT_MILLIS(100);
    pthread_t t = ct_test_spawn(state_waiter, &c);
    // On a very slow machine the time may run out before the third bump.
    int bumps = bump_state(&c, 3, false);
    ct_test_join(t);
    CHECK_RC(c.rc, CT_ETIMEDOUT);
    CHECK_EQ(c.state_at_return, bumps);
    CHECK(c.calls >= bumps + 1);
    CHECK(c.calls >= 2);
    CHECK(c.waited >= CT_MILLIS(100));
    // Measured from the call: the wake-ups do not restart the clock.
    CHECK(c.waited < CT_MILLIS(100) + (int64_t)(CT_SECONDS(2) * scale()));
    check_free(&c.f);
}
BOTH_KINDS(wait_for_timeout)

typedef struct clock_pred {
    int64_t true_from; // ct_test_now() value from which it is true
    int calls;
} clock_pred;

static bool
clock_reached(void *arg)
{
    clock_pred *p = arg;
    p->calls++;
    return ct_test_now() >= p->true_from;
}

static void
wait_for_returns_last_predicate_value(int kind)
{
    fixture f;
    fixture_init(&f, kind);
    hold(&f);
    // True by the time the timeout ends: the predicate is evaluated once
    // more after the last wait, and that value (true) is returned.
    int64_t t0 = ct_test_now();
    clock_pred p = {t0 + CT_MILLIS(20), 0};
    CHECK_OK(ct_condition_wait_for(f.cond, clock_reached, &p, CT_MILLIS(20)));
    CHECK(ct_test_now() - t0 >= CT_MILLIS(20));
    CHECK(p.calls >= 2);
    check_held(&f, 1);
    // Never true in time: false after the last wait too.
    clock_pred never = {ct_test_now() + CT_SECONDS(3600), 0};
    t0 = ct_test_now();
    CHECK_RC(
        ct_condition_wait_for(f.cond, clock_reached, &never, CT_MILLIS(20)),
        CT_ETIMEDOUT);
    CHECK(ct_test_now() - t0 >= CT_MILLIS(20));
    CHECK(never.calls >= 2);
    check_held(&f, 1);
    unhold(&f);
    check_free(&f);
}
BOTH_KINDS(wait_for_returns_last_predicate_value)

// --- a timed-out waiter never consumes a notify -----------------------------

#define RACE_WAITERS 3
#define RACE_WAITS 400

typedef struct race_ctx {
    fixture f;
    long woken;     // waits that returned 0
    long timed_out; // waits that returned CT_ETIMEDOUT
    long notified;  // sum of what notify returned
    atomic_int running;
} race_ctx;

static void *
race_waiter(void *p)
{
    race_ctx *c = p;
    for (int i = 0; i < RACE_WAITS; i++) {
        hold(&c->f);
        // Short, varied timeouts so that deadlines land right on notifies.
        int rc = ct_condition_wait(c->f.cond, CT_MICROS(1 + (i % 8) * 15));
        check_held(&c->f, 1);
        if (rc == 0) {
            c->woken++;
        } else {
            CHECK_RC(rc, CT_ETIMEDOUT);
            c->timed_out++;
        }
        unhold(&c->f);
    }
    atomic_fetch_sub(&c->running, 1);
    return NULL;
}

static void
timed_out_waiter_never_consumes_notify(int kind)
{
    race_ctx c;
    memset(&c, 0, sizeof c);
    fixture_init(&c.f, kind);
    atomic_init(&c.running, RACE_WAITERS);
    pthread_t threads[RACE_WAITERS];
    for (int i = 0; i < RACE_WAITERS; i++) {
        threads[i] = ct_test_spawn(race_waiter, &c);
    }
    unsigned round = 0;
    while (atomic_load(&c.running) > 0) {
        hold(&c.f);
        int n = 1 + (int)(round % 2);
        int r = ct_condition_notify(c.f.cond, n);
        CHECK(r >= 0 && r <= n);
        c.notified += r;
        unhold(&c.f);
        round++;
        // Jitter (not ordering): notifies land at varied points of the
        // waiters' short timeouts, so that some of them hit a deadline.
        int64_t until = ct_test_now() + CT_MICROS((round * 7919u) % 60u);
        while (ct_test_now() < until) {
            sched_yield();
        }
    }
    for (int i = 0; i < RACE_WAITERS; i++) {
        ct_test_join(threads[i]);
    }
    // Every thread a notify counted returned 0, and only those did.
    CHECK_EQ(c.notified, c.woken);
    CHECK_EQ(c.woken + c.timed_out, (long)RACE_WAITERS * RACE_WAITS);
    check_free(&c.f);
}
BOTH_KINDS(timed_out_waiter_never_consumes_notify)

// --- bounded buffer, producers and consumers --------------------------------

#define BUF_CAP 5
#define MAX_PRODUCERS 4

typedef struct buffer {
    fixture f;
    bool two;              // not_full / not_empty, or one condition
    ct_condition not_full; // bound to f's lock
    ct_condition not_empty;
    long items[BUF_CAP];
    int head;
    int count;
    int producers_left;
    int items_per_producer;
    unsigned depth; // levels a consumer holds an rlock at while waiting
} buffer;

typedef struct producer_arg {
    buffer *b;
    int id;
} producer_arg;

typedef struct consumer_arg {
    buffer *b;
    long got;
    long last_seq[MAX_PRODUCERS]; // per producer, to check FIFO order
} consumer_arg;

static bool
has_room(void *arg)
{
    buffer *b = arg;
    return b->count < BUF_CAP;
}

static bool
has_item_or_done(void *arg)
{
    buffer *b = arg;
    return b->count > 0 || b->producers_left == 0;
}

static void
buffer_init(buffer *b, int kind, bool two, int producers, int per_producer)
{
    memset(b, 0, sizeof *b);
    fixture_init(&b->f, kind);
    b->two = two;
    bind_extra(&b->f, &b->not_full);
    bind_extra(&b->f, &b->not_empty);
    b->producers_left = producers;
    b->items_per_producer = per_producer;
    b->depth = kind == KIND_RLOCK ? 2 : 1;
}

static void
buffer_put(buffer *b, long v)
{
    hold(&b->f);
    if (b->two) {
        while (b->count == BUF_CAP) {
            CHECK_OK(ct_condition_wait(&b->not_full, CT_FOREVER));
        }
    } else {
        CHECK_OK(ct_condition_wait_for(b->f.cond, has_room, b, CT_FOREVER));
    }
    check_held(&b->f, 1);
    CHECK(b->count < BUF_CAP);
    b->items[(b->head + b->count) % BUF_CAP] = v;
    b->count++;
    if (b->two) {
        int r = ct_condition_notify(&b->not_empty, 1);
        CHECK(r == 0 || r == 1);
    } else {
        // Producers and consumers share the one condition: wake them all
        // so that the right kind is sure to run.
        CHECK(ct_condition_notify_all(b->f.cond) >= 0);
    }
    unhold(&b->f);
}

// Takes the next item; false once the buffer is empty and every producer
// has finished.
static bool
buffer_get(buffer *b, long *v)
{
    // Consumers hold an rlock two levels deep, so that every wait must
    // save and restore the depth under contention.
    for (unsigned i = 0; i < b->depth; i++) {
        hold(&b->f);
    }
    if (b->two) {
        while (!has_item_or_done(b)) {
            CHECK_OK(ct_condition_wait(&b->not_empty, CT_FOREVER));
            check_held(&b->f, b->depth);
        }
    } else {
        CHECK_OK(
            ct_condition_wait_for(b->f.cond, has_item_or_done, b, CT_FOREVER));
    }
    check_held(&b->f, b->depth);
    bool got = b->count > 0;
    if (got) {
        *v = b->items[b->head];
        b->head = (b->head + 1) % BUF_CAP;
        b->count--;
        if (b->two) {
            int r = ct_condition_notify(&b->not_full, 1);
            CHECK(r == 0 || r == 1);
        } else {
            CHECK(ct_condition_notify_all(b->f.cond) >= 0);
        }
    }
    for (unsigned i = 0; i < b->depth; i++) {
        unhold(&b->f);
    }
    return got;
}

static void *
producer(void *p)
{
    producer_arg *a = p;
    buffer *b = a->b;
    for (long seq = 0; seq < b->items_per_producer; seq++) {
        buffer_put(b, (long)a->id * 1000000 + seq);
    }
    hold(&b->f);
    b->producers_left--;
    // Consumers waiting on an empty buffer must see the end.
    CHECK(ct_condition_notify_all(&b->not_empty) >= 0);
    CHECK(ct_condition_notify_all(b->f.cond) >= 0);
    unhold(&b->f);
    return NULL;
}

static void *
consumer(void *p)
{
    consumer_arg *a = p;
    for (int i = 0; i < MAX_PRODUCERS; i++) {
        a->last_seq[i] = -1;
    }
    long v;
    while (buffer_get(a->b, &v)) {
        int id = (int)(v / 1000000);
        long seq = v % 1000000;
        CHECK(id >= 0 && id < MAX_PRODUCERS);
        // The buffer is FIFO: one producer's items come out in order.
        CHECK(seq > a->last_seq[id]);
        a->last_seq[id] = seq;
        a->got++;
    }
    return NULL;
}

static void
run_buffer(int kind, bool two, int producers, int consumers, int per_producer)
{
    buffer b;
    buffer_init(&b, kind, two, producers, per_producer);
    producer_arg pa[MAX_PRODUCERS];
    consumer_arg ca[MAX_PRODUCERS];
    pthread_t pt[MAX_PRODUCERS], ctid[MAX_PRODUCERS];
    for (int i = 0; i < consumers; i++) {
        memset(&ca[i], 0, sizeof ca[i]);
        ca[i].b = &b;
        ctid[i] = ct_test_spawn(consumer, &ca[i]);
    }
    for (int i = 0; i < producers; i++) {
        pa[i].b = &b;
        pa[i].id = i;
        pt[i] = ct_test_spawn(producer, &pa[i]);
    }
    for (int i = 0; i < producers; i++) {
        ct_test_join(pt[i]);
    }
    long total = 0;
    long last[MAX_PRODUCERS];
    for (int i = 0; i < producers; i++) {
        last[i] = -1;
    }
    for (int i = 0; i < consumers; i++) {
        ct_test_join(ctid[i]);
        total += ca[i].got;
        for (int p = 0; p < producers; p++) {
            if (ca[i].last_seq[p] > last[p]) {
                last[p] = ca[i].last_seq[p];
            }
        }
    }
    // Nothing lost, nothing doubled, every last item delivered.
    CHECK_EQ(total, (long)producers * per_producer);
    for (int p = 0; p < producers; p++) {
        CHECK_EQ(last[p], per_producer - 1);
    }
    CHECK_EQ(b.count, 0);
    check_free(&b.f);
}

static void
bounded_buffer_two_conditions(int kind)
{
    // One producer and one consumer: the consumer checks the exact order.
    run_buffer(kind, true, 1, 1, 20000);
}
BOTH_KINDS(bounded_buffer_two_conditions)

static void
bounded_buffer_one_condition(int kind)
{
    run_buffer(kind, false, 1, 1, 20000);
}
BOTH_KINDS(bounded_buffer_one_condition)

static void
stress_producers_consumers(int kind)
{
    run_buffer(kind, true, 3, 3, 3000);
    run_buffer(kind, false, 3, 3, 2000);
}
BOTH_KINDS(stress_producers_consumers)

CT_SUITE(condition) = {
    {"null and unbound", null_and_unbound},
    {"null predicate (lock)", null_predicate_lock},
    {"null predicate (rlock)", null_predicate_rlock},
    {"unheld calls fail (lock)", unheld_calls_fail_lock},
    {"unheld calls fail (rlock)", unheld_calls_fail_rlock},
    {"rlock held by another thread", rlock_held_by_other_thread},
    {"plain lock: held means locked", plain_lock_held_means_locked},
    {"acquire and release (lock)", acquire_release_lock},
    {"acquire and release (rlock)", acquire_release_rlock},
    {"static initializers", static_initializers},
    {"several conditions on one lock (lock)", several_conditions_one_lock_lock},
    {"several conditions on one lock (rlock)",
     several_conditions_one_lock_rlock},
    {"poll timeouts (lock)", poll_timeouts_lock},
    {"poll timeouts (rlock)", poll_timeouts_rlock},
    {"timed wait never early (lock)", timed_wait_never_early_lock},
    {"timed wait never early (rlock)", timed_wait_never_early_rlock},
    {"timeout re-acquires before returning (lock)",
     timeout_reacquires_before_returning_lock},
    {"timeout re-acquires before returning (rlock)",
     timeout_reacquires_before_returning_rlock},
    {"huge timeouts saturate (lock)", huge_timeouts_saturate_lock},
    {"huge timeouts saturate (rlock)", huge_timeouts_saturate_rlock},
    {"wait releases the lock (lock)", wait_releases_every_level_lock},
    {"wait releases every level (rlock)", wait_releases_every_level_rlock},
    {"timed wait restores depth (rlock)", timed_wait_restores_depth},
    {"notify wakes oldest first (lock)", notify_wakes_oldest_first_lock},
    {"notify wakes oldest first (rlock)", notify_wakes_oldest_first_rlock},
    {"notify_all wakes everyone (lock)", notify_all_wakes_everyone_lock},
    {"notify_all wakes everyone (rlock)", notify_all_wakes_everyone_rlock},
    {"notify 0 or negative wakes nobody (lock)",
     notify_zero_or_negative_wakes_nobody_lock},
    {"notify 0 or negative wakes nobody (rlock)",
     notify_zero_or_negative_wakes_nobody_rlock},
    {"wait_for true predicate returns at once (lock)",
     wait_for_true_predicate_returns_at_once_lock},
    {"wait_for true predicate returns at once (rlock)",
     wait_for_true_predicate_returns_at_once_rlock},
    {"wait_for predicate made true (lock)", wait_for_predicate_made_true_lock},
    {"wait_for predicate made true (rlock)",
     wait_for_predicate_made_true_rlock},
    {"wait_for timeout (lock)", wait_for_timeout_lock},
    {"wait_for timeout (rlock)", wait_for_timeout_rlock},
    {"wait_for returns last predicate value (lock)",
     wait_for_returns_last_predicate_value_lock},
    {"wait_for returns last predicate value (rlock)",
     wait_for_returns_last_predicate_value_rlock},
    {"timed-out waiter never consumes a notify (lock)",
     timed_out_waiter_never_consumes_notify_lock},
    {"timed-out waiter never consumes a notify (rlock)",
     timed_out_waiter_never_consumes_notify_rlock},
    {"bounded buffer, two conditions (lock)",
     bounded_buffer_two_conditions_lock},
    {"bounded buffer, two conditions (rlock)",
     bounded_buffer_two_conditions_rlock},
    {"bounded buffer, one condition (lock)", bounded_buffer_one_condition_lock},
    {"bounded buffer, one condition (rlock)",
     bounded_buffer_one_condition_rlock},
    {"stress producers and consumers (lock)", stress_producers_consumers_lock},
    {"stress producers and consumers (rlock)",
     stress_producers_consumers_rlock},
    {0},
};
