// Tests for ct_barrier: CPython's lock_tests.BarrierTests (lockstep, wait
// indices, action, abort, reset, timeouts) plus arrival order, the action's
// error codes, the default timeout and the static initializer.
#include "harness/test.h"

#include <stdatomic.h>
#include <stdbool.h>

// Gives the CPU away for a moment while polling for another thread's
// progress; it orders nothing by itself.
static void
relax(void)
{
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, CT_MICROS(50)), CT_ETIMEDOUT);
}

// Returns once exactly `n` threads wait in the barrier (it only grows while
// the test waits, so ">=" and "==" agree).
static void
await_waiting(ct_barrier *b, int n)
{
    while (ct_barrier_n_waiting(b) < n) {
        relax();
    }
    CHECK_EQ(ct_barrier_n_waiting(b), n);
}

static double
scale(void)
{
    return ct_test_scale();
}

// The barrier action: counts its runs and records its thread. Its fields
// are written under the barrier's lock and read by the parties after their
// wait returns (the lock orders the two).
typedef struct action_ctx {
    int calls;
    pthread_t ran_in;
    int code; // what it returns
} action_ctx;

static int
record_action(void *arg)
{
    action_ctx *a = arg;
    a->calls++;
    a->ran_in = pthread_self();
    return a->code;
}

// One party: waits once with `timeout` and keeps the result.
typedef struct party {
    ct_barrier *b;
    ct_duration timeout;
    int rc;
    bool ran_action; // this thread is where the action ran
    int calls_seen;  // the action's runs, as seen once the wait returned
    action_ctx *act; // may be NULL
    int64_t waited;
} party;

static void *
party_wait(void *p)
{
    party *pt = p;
    int64_t t0 = ct_test_now();
    pt->rc = ct_barrier_wait(pt->b, pt->timeout);
    pt->waited = ct_test_now() - t0;
    if (pt->act != NULL) {
        pt->calls_seen = pt->act->calls;
        pt->ran_action = pt->calls_seen > 0 &&
                         pthread_equal(pt->act->ran_in, pthread_self()) != 0;
    }
    return NULL;
}

static void
party_init(party *pt, ct_barrier *b, ct_duration timeout, action_ctx *act)
{
    memset(pt, 0, sizeof *pt);
    pt->b = b;
    pt->timeout = timeout;
    pt->act = act;
    pt->rc = 1000; // not a possible result
}

// Starts `n` parties that wait with `timeout` and returns once all wait.
static void
start_waiting_parties(ct_barrier *b, party *pts, pthread_t *threads, int n,
                      ct_duration timeout)
{
    for (int i = 0; i < n; i++) {
        party_init(&pts[i], b, timeout, NULL);
        threads[i] = ct_test_spawn(party_wait, &pts[i]);
    }
    await_waiting(b, n);
}

// Runs one full cycle of `n` threads on `b` and checks the indices are
// 0..n-1, each once.
static void
full_cycle(ct_barrier *b, int n)
{
    party pts[8];
    CHECK(n <= 8);
    for (int i = 0; i < n; i++) {
        party_init(&pts[i], b, CT_FOREVER, NULL);
    }
    ct_test_run_threads(n, party_wait, pts, sizeof pts[0]);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        CHECK(pts[i].rc >= 0 && pts[i].rc < n);
        CHECK((seen & (1 << pts[i].rc)) == 0);
        seen |= 1 << pts[i].rc;
    }
    CHECK_EQ(ct_barrier_n_waiting(b), 0);
    CHECK(!ct_barrier_is_broken(b));
}

// --- arguments and properties ---------------------------------------------

static void
invalid_arguments(void)
{
    ct_barrier b;
    CHECK_RC(ct_barrier_init(NULL, 2, NULL, NULL, CT_FOREVER), CT_EINVAL);
    // Python's ValueError for parties < 1 (3.11 accepted Barrier(0)).
    CHECK_RC(ct_barrier_init(&b, 0, NULL, NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_barrier_init(&b, -1, NULL, NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_barrier_init(&b, INT32_MIN, NULL, NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_barrier_wait(NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_barrier_wait(NULL, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_barrier_reset(NULL), CT_EINVAL);
    CHECK_RC(ct_barrier_abort(NULL), CT_EINVAL);
    CHECK_RC(ct_barrier_parties(NULL), CT_EINVAL);
    CHECK_RC(ct_barrier_n_waiting(NULL), CT_EINVAL);
    CHECK(!ct_barrier_is_broken(NULL));
    // A zeroed barrier has no parties: it must fail, not wait forever.
    ct_barrier zero;
    memset(&zero, 0, sizeof zero);
    CHECK_RC(ct_barrier_wait(&zero, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_barrier_parties(&zero), CT_EINVAL);
}

static void
properties_of_a_fresh_barrier(void)
{
    static const int sizes[] = {1, 2, 7, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ct_barrier b;
        CHECK_OK(ct_barrier_init(&b, sizes[i], NULL, NULL, CT_FOREVER));
        CHECK_EQ(ct_barrier_parties(&b), sizes[i]);
        CHECK_EQ(ct_barrier_n_waiting(&b), 0);
        CHECK(!ct_barrier_is_broken(&b));
        // Reset and abort with nobody waiting.
        CHECK_OK(ct_barrier_reset(&b));
        CHECK(!ct_barrier_is_broken(&b));
        CHECK_OK(ct_barrier_abort(&b));
        CHECK(ct_barrier_is_broken(&b));
        CHECK_EQ(ct_barrier_n_waiting(&b), 0);
        CHECK_OK(ct_barrier_reset(&b));
        CHECK(!ct_barrier_is_broken(&b));
        CHECK_EQ(ct_barrier_parties(&b), sizes[i]);
        ct_barrier_destroy(&b);
    }
}

// --- passing the barrier ----------------------------------------------------

#define N_PARTIES 5

static void
indices_distinct_and_action_first(void)
{
    // CPython's test_wait_return and test_action, made exact: the indices
    // are 0..n-1, the last arriver (n-1) runs the action, and every party
    // sees the action's effect once its wait returns.
    action_ctx act = {0};
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N_PARTIES, record_action, &act, CT_FOREVER));
    party pts[N_PARTIES];
    for (int i = 0; i < N_PARTIES; i++) {
        party_init(&pts[i], &b, CT_FOREVER, &act);
    }
    ct_test_run_threads(N_PARTIES, party_wait, pts, sizeof pts[0]);
    CHECK_EQ(act.calls, 1);
    int seen = 0;
    for (int i = 0; i < N_PARTIES; i++) {
        int rc = pts[i].rc;
        CHECK(rc >= 0 && rc < N_PARTIES);
        CHECK((seen & (1 << rc)) == 0);
        seen |= 1 << rc;
        // Every party saw the action done when its wait returned.
        CHECK_EQ(pts[i].calls_seen, 1);
        CHECK_EQ(pts[i].ran_action, rc == N_PARTIES - 1);
    }
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    CHECK(!ct_barrier_is_broken(&b));
    ct_barrier_destroy(&b);
}

static void
arrival_order_gives_index(void)
{
    // Parties arrive one by one (each known to wait before the next
    // starts); n_waiting counts them, and each index is its arrival rank.
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 4, NULL, NULL, CT_FOREVER));
    party pts[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        party_init(&pts[i], &b, CT_FOREVER, NULL);
        threads[i] = ct_test_spawn(party_wait, &pts[i]);
        await_waiting(&b, i + 1);
    }
    CHECK_EQ(ct_barrier_wait(&b, CT_FOREVER), 3);
    for (int i = 0; i < 3; i++) {
        ct_test_join(threads[i]);
        CHECK_EQ(pts[i].rc, i);
    }
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    CHECK(!ct_barrier_is_broken(&b));
}

static void
last_arriver_never_waits(void)
{
    // The last party does not block, so even a polling wait passes.
    static const ct_duration polls[] = {CT_NOWAIT, -1, INT64_MIN};
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 2, NULL, NULL, CT_FOREVER));
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        party pt;
        party_init(&pt, &b, CT_FOREVER, NULL);
        pthread_t t = ct_test_spawn(party_wait, &pt);
        await_waiting(&b, 1);
        CHECK_EQ(ct_barrier_wait(&b, polls[i]), 1);
        ct_test_join(t);
        CHECK_EQ(pt.rc, 0);
    }
    CHECK(!ct_barrier_is_broken(&b));
}

typedef struct lockstep_ctx {
    ct_barrier b;
    int passes;
    atomic_int before; // arrivals at the first wait of a pass
    atomic_int after;  // arrivals at the second wait
} lockstep_ctx;

static void *
lockstep_party(void *p)
{
    lockstep_ctx *c = p;
    int m = ct_barrier_parties(&c->b);
    for (int i = 0; i < c->passes; i++) {
        atomic_fetch_add(&c->before, 1);
        CHECK_EQ(atomic_load(&c->after), i * m);
        CHECK(ct_barrier_wait(&c->b, CT_FOREVER) >= 0);
        atomic_fetch_add(&c->after, 1);
        CHECK_EQ(atomic_load(&c->before), (i + 1) * m);
        CHECK(ct_barrier_wait(&c->b, CT_FOREVER) >= 0);
    }
    return NULL;
}

static void
lockstep_passes(void)
{
    // CPython's test_barrier / test_barrier_10: nobody runs ahead.
    lockstep_ctx c;
    CHECK_OK(ct_barrier_init(&c.b, N_PARTIES, NULL, NULL, CT_FOREVER));
    c.passes = 10;
    atomic_init(&c.before, 0);
    atomic_init(&c.after, 0);
    ct_test_run_threads(N_PARTIES, lockstep_party, &c, 0);
    CHECK_EQ(atomic_load(&c.before), 10 * N_PARTIES);
    CHECK_EQ(atomic_load(&c.after), 10 * N_PARTIES);
    CHECK_EQ(ct_barrier_n_waiting(&c.b), 0);
    CHECK(!ct_barrier_is_broken(&c.b));
}

#define CYC_THREADS 4
#define CYC_ROUNDS 200

typedef struct cyclic_ctx {
    ct_barrier b;
    action_ctx act;
    int index[CYC_ROUNDS][CYC_THREADS];
} cyclic_ctx;

typedef struct cyclic_arg {
    cyclic_ctx *c;
    int id;
} cyclic_arg;

static void *
cyclic_party(void *p)
{
    cyclic_arg *a = p;
    cyclic_ctx *c = a->c;
    for (int r = 0; r < CYC_ROUNDS; r++) {
        int rc = ct_barrier_wait(&c->b, CT_FOREVER);
        CHECK(rc >= 0 && rc < CYC_THREADS);
        c->index[r][a->id] = rc;
        // This round's action ran; the next cannot run before we arrive.
        CHECK_EQ(c->act.calls, r + 1);
    }
    return NULL;
}

static void
cyclic_reuse(void)
{
    cyclic_ctx c;
    memset(&c, 0, sizeof c);
    CHECK_OK(
        ct_barrier_init(&c.b, CYC_THREADS, record_action, &c.act, CT_FOREVER));
    cyclic_arg args[CYC_THREADS];
    for (int i = 0; i < CYC_THREADS; i++) {
        args[i].c = &c;
        args[i].id = i;
    }
    ct_test_run_threads(CYC_THREADS, cyclic_party, args, sizeof args[0]);
    CHECK_EQ(c.act.calls, CYC_ROUNDS);
    for (int r = 0; r < CYC_ROUNDS; r++) {
        int seen = 0;
        for (int i = 0; i < CYC_THREADS; i++) {
            int idx = c.index[r][i];
            if (idx < 0 || idx >= CYC_THREADS || (seen & (1 << idx)) != 0) {
                ct_test_fail(__FILE__, __LINE__, "round %d: bad index %d", r,
                             idx);
            }
            seen |= 1 << idx;
        }
    }
    CHECK_EQ(ct_barrier_n_waiting(&c.b), 0);
    CHECK(!ct_barrier_is_broken(&c.b));
}

static void
single_party(void)
{
    // Barrier(1): every wait is the last arrival; it returns 0 at once and
    // runs the action each time, whatever the timeout.
    action_ctx act = {0};
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 1, record_action, &act, CT_FOREVER));
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(ct_barrier_wait(&b, CT_FOREVER), 0);
        CHECK_EQ(act.calls, i + 1);
    }
    CHECK_EQ(ct_barrier_wait(&b, CT_NOWAIT), 0);
    CHECK_EQ(ct_barrier_wait(&b, -1), 0);
    CHECK_EQ(act.calls, 12);
    CHECK(pthread_equal(act.ran_in, pthread_self()));
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    CHECK(!ct_barrier_is_broken(&b));
}

// --- a failing action -------------------------------------------------------

static void
action_negative_code(void)
{
    // Python: the action's exception reaches the last arriver, the others
    // get BrokenBarrierError. Here the last arriver gets the code itself.
    enum { N = 3 };
    const int code = -1234;
    action_ctx act = {0};
    act.code = code;
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, record_action, &act, CT_FOREVER));
    party pts[N];
    for (int i = 0; i < N; i++) {
        party_init(&pts[i], &b, CT_FOREVER, &act);
    }
    ct_test_run_threads(N, party_wait, pts, sizeof pts[0]);
    CHECK_EQ(act.calls, 1);
    int got_code = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pts[i].calls_seen, 1);
        if (pts[i].rc == code) {
            got_code++;
            CHECK(pts[i].ran_action);
        } else {
            CHECK_RC(pts[i].rc, CT_EBROKEN);
            CHECK(!pts[i].ran_action);
        }
    }
    CHECK_EQ(got_code, 1);
    CHECK(ct_barrier_is_broken(&b));
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    // Broken until reset: a later wait fails at once, even a long one.
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_EBROKEN);
    CHECK_RC(ct_barrier_wait(&b, CT_NOWAIT), CT_EBROKEN);
    CHECK_EQ(act.calls, 1);
    CHECK_OK(ct_barrier_reset(&b));
    CHECK(!ct_barrier_is_broken(&b));
    act.code = 0;
    full_cycle(&b, N);
    CHECK_EQ(act.calls, 2);
}

static void
action_positive_code(void)
{
    // A positive failure is not a code to pass on: everyone gets CT_EBROKEN.
    enum { N = 3 };
    action_ctx act = {0};
    act.code = 5;
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, record_action, &act, CT_FOREVER));
    party pts[N];
    for (int i = 0; i < N; i++) {
        party_init(&pts[i], &b, CT_FOREVER, &act);
    }
    ct_test_run_threads(N, party_wait, pts, sizeof pts[0]);
    CHECK_EQ(act.calls, 1);
    int ran = 0;
    for (int i = 0; i < N; i++) {
        CHECK_RC(pts[i].rc, CT_EBROKEN);
        ran += pts[i].ran_action;
    }
    CHECK_EQ(ran, 1);
    CHECK(ct_barrier_is_broken(&b));
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_EBROKEN);
}

static void
action_failure_single_party(void)
{
    action_ctx act = {0};
    act.code = CT_ECANCELED;
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 1, record_action, &act, CT_FOREVER));
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_ECANCELED);
    CHECK(ct_barrier_is_broken(&b));
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_EBROKEN);
    CHECK_EQ(act.calls, 1);
    CHECK_OK(ct_barrier_reset(&b));
    act.code = 0;
    CHECK_EQ(ct_barrier_wait(&b, CT_FOREVER), 0);
    CHECK_EQ(act.calls, 2);
}

// --- abort and reset --------------------------------------------------------

static void
abort_wakes_waiters(void)
{
    enum { N = 3 };
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, NULL, NULL, CT_FOREVER));
    party pts[N - 1];
    pthread_t threads[N - 1];
    start_waiting_parties(&b, pts, threads, N - 1, CT_FOREVER);
    CHECK_OK(ct_barrier_abort(&b));
    for (int i = 0; i < N - 1; i++) {
        ct_test_join(threads[i]);
        CHECK_RC(pts[i].rc, CT_EBROKEN);
    }
    CHECK(ct_barrier_is_broken(&b));
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    // Later waits fail at once until reset; a poll says broken, not
    // timed out.
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_EBROKEN);
    CHECK_RC(ct_barrier_wait(&b, CT_NOWAIT), CT_EBROKEN);
    CHECK_OK(ct_barrier_abort(&b));
    CHECK(ct_barrier_is_broken(&b));
    CHECK_OK(ct_barrier_reset(&b));
    CHECK(!ct_barrier_is_broken(&b));
    full_cycle(&b, N);
}

#define ABORT_N 4

typedef struct abort_ctx {
    ct_barrier b;
    ct_barrier sync; // lines the parties up around the reset
    atomic_int passed;
    atomic_int broken;
    atomic_int unexpected;
    atomic_int final_passes;
} abort_ctx;

static void *
abort_party(void *p)
{
    abort_ctx *c = p;
    int i = ct_barrier_wait(&c->b, CT_FOREVER);
    if (i == ABORT_N / 2) {
        // This party "fails" and aborts the others' second wait.
        CHECK_OK(ct_barrier_abort(&c->b));
    } else {
        // A party still leaving the first wait when the abort comes gets
        // CT_EBROKEN there already (as in CPython, where the first wait sits
        // in the same try block).
        int rc = i;
        if (i >= 0) {
            CHECK(i < ABORT_N);
            rc = ct_barrier_wait(&c->b, CT_FOREVER);
        }
        if (rc == CT_EBROKEN) {
            atomic_fetch_add(&c->broken, 1);
        } else if (rc >= 0) {
            atomic_fetch_add(&c->passed, 1);
        } else {
            atomic_fetch_add(&c->unexpected, 1);
        }
    }
    // Everyone has left the barrier before the reset, and nobody enters it
    // again before the reset is done.
    if (ct_barrier_wait(&c->sync, CT_FOREVER) == ABORT_N / 2) {
        CHECK(ct_barrier_is_broken(&c->b));
        CHECK_OK(ct_barrier_reset(&c->b));
    }
    CHECK(ct_barrier_wait(&c->sync, CT_FOREVER) >= 0);
    CHECK(ct_barrier_wait(&c->b, CT_FOREVER) >= 0);
    atomic_fetch_add(&c->final_passes, 1);
    return NULL;
}

static void
abort_by_a_party_then_reset(void)
{
    // CPython's test_abort and test_abort_and_reset.
    abort_ctx c;
    CHECK_OK(ct_barrier_init(&c.b, ABORT_N, NULL, NULL, CT_FOREVER));
    CHECK_OK(ct_barrier_init(&c.sync, ABORT_N, NULL, NULL, CT_FOREVER));
    atomic_init(&c.passed, 0);
    atomic_init(&c.broken, 0);
    atomic_init(&c.unexpected, 0);
    atomic_init(&c.final_passes, 0);
    ct_test_run_threads(ABORT_N, abort_party, &c, 0);
    CHECK_EQ(atomic_load(&c.passed), 0);
    CHECK_EQ(atomic_load(&c.unexpected), 0);
    CHECK_EQ(atomic_load(&c.broken), ABORT_N - 1);
    CHECK_EQ(atomic_load(&c.final_passes), ABORT_N);
    CHECK(!ct_barrier_is_broken(&c.b));
}

static void
reset_kicks_waiters(void)
{
    enum { N = 3 };
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, NULL, NULL, CT_FOREVER));
    party pts[N - 1];
    pthread_t threads[N - 1];
    start_waiting_parties(&b, pts, threads, N - 1, CT_FOREVER);
    CHECK_OK(ct_barrier_reset(&b));
    // Resetting is not broken (Python's `broken` is False meanwhile).
    CHECK(!ct_barrier_is_broken(&b));
    for (int i = 0; i < N - 1; i++) {
        ct_test_join(threads[i]);
        CHECK_RC(pts[i].rc, CT_EBROKEN);
    }
    CHECK(!ct_barrier_is_broken(&b));
    CHECK_EQ(ct_barrier_n_waiting(&b), 0);
    // Usable again at once, twice over.
    full_cycle(&b, N);
    full_cycle(&b, N);
}

typedef struct reset_ctx {
    ct_barrier b;
    atomic_int passed;
    atomic_int broken;
    atomic_int final_passes;
} reset_ctx;

static void *
reset_party(void *p)
{
    reset_ctx *c = p;
    int i = ct_barrier_wait(&c->b, CT_FOREVER);
    CHECK(i >= 0 && i < ABORT_N);
    if (i == ABORT_N / 2) {
        // Wait until the others are all in their second wait, then reset.
        await_waiting(&c->b, ABORT_N - 1);
        CHECK_OK(ct_barrier_reset(&c->b));
    } else {
        int rc = ct_barrier_wait(&c->b, CT_FOREVER);
        if (rc == CT_EBROKEN) {
            atomic_fetch_add(&c->broken, 1);
        } else {
            atomic_fetch_add(&c->passed, 1);
        }
    }
    // Now pass the barrier again: arrivals during the reset wait for it to
    // finish.
    CHECK(ct_barrier_wait(&c->b, CT_FOREVER) >= 0);
    atomic_fetch_add(&c->final_passes, 1);
    return NULL;
}

static void
reset_by_a_party(void)
{
    // CPython's test_reset.
    reset_ctx c;
    CHECK_OK(ct_barrier_init(&c.b, ABORT_N, NULL, NULL, CT_FOREVER));
    atomic_init(&c.passed, 0);
    atomic_init(&c.broken, 0);
    atomic_init(&c.final_passes, 0);
    ct_test_run_threads(ABORT_N, reset_party, &c, 0);
    CHECK_EQ(atomic_load(&c.passed), 0);
    CHECK_EQ(atomic_load(&c.broken), ABORT_N - 1);
    CHECK_EQ(atomic_load(&c.final_passes), ABORT_N);
    CHECK(!ct_barrier_is_broken(&c.b));
}

// --- timeouts ---------------------------------------------------------------

static void
timeout_breaks_the_barrier(void)
{
    // The thread whose time ran out gets CT_ETIMEDOUT; it breaks the
    // barrier, so the others get CT_EBROKEN (Python: BrokenBarrierError in
    // all of them).
    enum { N = 4 };
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, NULL, NULL, CT_FOREVER));
    party pts[2];
    pthread_t threads[2];
    start_waiting_parties(&b, pts, threads, 2, CT_FOREVER);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_barrier_wait(&b, CT_MILLIS(50)), CT_ETIMEDOUT);
    int64_t waited = ct_test_now() - t0;
    CHECK(waited >= CT_MILLIS(50));
    CHECK(waited < CT_MILLIS(50) + (int64_t)(CT_SECONDS(2) * scale()));
    for (int i = 0; i < 2; i++) {
        ct_test_join(threads[i]);
        CHECK_RC(pts[i].rc, CT_EBROKEN);
    }
    CHECK(ct_barrier_is_broken(&b));
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_EBROKEN);
    CHECK_OK(ct_barrier_reset(&b));
    full_cycle(&b, N);
}

static void
poll_timeout_breaks_the_barrier(void)
{
    // Python: wait(0) by a party that is not last breaks the barrier.
    static const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(5),
                                        INT64_MIN};
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 2, NULL, NULL, CT_SECONDS(60)));
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_barrier_wait(&b, polls[i]), CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < (int64_t)(CT_MILLIS(500) * scale()));
        CHECK(ct_barrier_is_broken(&b));
        CHECK_EQ(ct_barrier_n_waiting(&b), 0);
        CHECK_OK(ct_barrier_reset(&b));
    }
    full_cycle(&b, 2);
}

static void
default_timeout_applies(void)
{
    // CT_FOREVER means "the barrier's default" (Python's timeout=None), and
    // an explicit timeout, even a longer one, replaces the default.
    enum { N = 3 };
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, N, NULL, NULL, CT_MILLIS(50)));
    party pts[1];
    pthread_t threads[1];
    start_waiting_parties(&b, pts, threads, 1, CT_SECONDS(60));
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_barrier_wait(&b, CT_FOREVER), CT_ETIMEDOUT);
    int64_t waited = ct_test_now() - t0;
    CHECK(waited >= CT_MILLIS(50));
    CHECK(waited < CT_MILLIS(50) + (int64_t)(CT_SECONDS(2) * scale()));
    ct_test_join(threads[0]);
    // The 60 s party did not time out on the 50 ms default: it was broken.
    CHECK_RC(pts[0].rc, CT_EBROKEN);
    CHECK(ct_barrier_is_broken(&b));
    CHECK_OK(ct_barrier_reset(&b));
    // A lone party with the default times out by itself too.
    party lone;
    party_init(&lone, &b, CT_FOREVER, NULL);
    party_wait(&lone);
    CHECK_RC(lone.rc, CT_ETIMEDOUT);
    CHECK(lone.waited >= CT_MILLIS(50));
    CHECK_OK(ct_barrier_reset(&b));
    // A full cycle within the default passes.
    full_cycle(&b, N);
}

static void
explicit_timeout_overrides_default(void)
{
    ct_barrier b;
    CHECK_OK(ct_barrier_init(&b, 2, NULL, NULL, CT_SECONDS(60)));
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_barrier_wait(&b, CT_MILLIS(30)), CT_ETIMEDOUT);
    int64_t waited = ct_test_now() - t0;
    CHECK(waited >= CT_MILLIS(30));
    CHECK(waited < CT_MILLIS(30) + (int64_t)(CT_SECONDS(2) * scale()));
    CHECK(ct_barrier_is_broken(&b));
}

// --- static initializer -----------------------------------------------------

static action_ctx static_act;
static ct_barrier static_barrier =
    CT_BARRIER_INIT(static_barrier, 3, record_action, &static_act, CT_FOREVER);

typedef struct static_arg {
    int rounds_ok;
} static_arg;

static void *
static_party(void *p)
{
    static_arg *a = p;
    for (int r = 0; r < 5; r++) {
        int rc = ct_barrier_wait(&static_barrier, CT_FOREVER);
        CHECK(rc >= 0 && rc < 3);
        CHECK_EQ(static_act.calls, r + 1);
        a->rounds_ok++;
    }
    return NULL;
}

static void
static_initializer(void)
{
    CHECK_EQ(ct_barrier_parties(&static_barrier), 3);
    CHECK_EQ(ct_barrier_n_waiting(&static_barrier), 0);
    CHECK(!ct_barrier_is_broken(&static_barrier));
    static_arg args[3];
    memset(args, 0, sizeof args);
    ct_test_run_threads(3, static_party, args, sizeof args[0]);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(args[i].rounds_ok, 5);
    }
    CHECK_EQ(static_act.calls, 5);
    // In block scope too, with a default timeout.
    ct_barrier one = CT_BARRIER_INIT(one, 1, NULL, NULL, CT_FOREVER);
    CHECK_EQ(ct_barrier_wait(&one, CT_FOREVER), 0);
    ct_barrier timed = CT_BARRIER_INIT(timed, 2, NULL, NULL, CT_MILLIS(20));
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_barrier_wait(&timed, CT_FOREVER), CT_ETIMEDOUT);
    CHECK(ct_test_now() - t0 >= CT_MILLIS(20));
    CHECK(ct_barrier_is_broken(&timed));
}

CT_SUITE(barrier) = {
    {"invalid arguments", invalid_arguments},
    {"properties of a fresh barrier", properties_of_a_fresh_barrier},
    {"indices distinct, action first", indices_distinct_and_action_first},
    {"arrival order gives the index", arrival_order_gives_index},
    {"last arriver never waits", last_arriver_never_waits},
    {"lockstep passes", lockstep_passes},
    {"cyclic reuse", cyclic_reuse},
    {"single party", single_party},
    {"action negative code", action_negative_code},
    {"action positive code", action_positive_code},
    {"action failure, single party", action_failure_single_party},
    {"abort wakes waiters", abort_wakes_waiters},
    {"abort by a party, then reset", abort_by_a_party_then_reset},
    {"reset kicks waiters", reset_kicks_waiters},
    {"reset by a party", reset_by_a_party},
    {"timeout breaks the barrier", timeout_breaks_the_barrier},
    {"poll timeout breaks the barrier", poll_timeout_breaks_the_barrier},
    {"default timeout applies", default_timeout_applies},
    {"explicit timeout overrides default", explicit_timeout_overrides_default},
    {"static initializer", static_initializer},
    {0},
};
