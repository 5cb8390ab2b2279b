// Tests for ct_future (concurrent.futures.Future), ct_wait and
// ct_as_completed, on futures driven by hand with the executor-author calls:
// every cell of the state table (cpython-semantics.md 4.1), waits that time
// out or are woken from another thread, done-callbacks (order, thread,
// exactly once), reference counting, the three ct_wait modes and the
// as_completed iterator, then races of cancel against a worker's start and
// of ct_wait against completions.
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness/test.h"

// --- Helpers -----------------------------------------------------------------

// Results are integers carried in the pointer.
#define P(v) ((void *)(intptr_t)(v))
#define V(p) ((intptr_t)(p))
// What an out-parameter holds before a call.
#define UNSET P(-7777)
// The value and failure code the state builder uses.
#define RESULT P(42)
#define CODE 7
// How long a call that must wait is watched to see that it does not return.
#define BLOCKED_WINDOW CT_MILLIS(30)

// The states of 4.1; FINISHED with a result and FINISHED with a failure
// are two columns here.
enum state { PENDING, RUNNING, CANCELLED, NOTIFIED, FINISHED, FAILED, NSTATES };
static const char *const state_names[] = {
    "PENDING",  "RUNNING",  "CANCELLED",
    "NOTIFIED", "FINISHED", "FINISHED (failed)",
};

static ct_future *
new_future(void)
{
    ct_future *f = NULL;
    CHECK_OK(ct_future_new(&f));
    CHECK(f != NULL);
    return f;
}

// Builds a future in `state` with the executor-author calls.
static ct_future *
future_in(int state)
{
    ct_future *f = new_future();
    switch (state) {
    case PENDING:
        break;
    case RUNNING:
        CHECK_RC(ct_future_set_running_or_notify_cancel(f), 1);
        break;
    case CANCELLED:
        CHECK(ct_future_cancel(f));
        break;
    case NOTIFIED:
        CHECK(ct_future_cancel(f));
        CHECK_RC(ct_future_set_running_or_notify_cancel(f), 0);
        break;
    case FINISHED:
        CHECK_OK(ct_future_set_result(f, RESULT));
        break;
    case FAILED:
        CHECK_OK(ct_future_set_exception(f, CODE));
        break;
    default:
        CHECK(false);
    }
    return f;
}

// Fails unless `f` shows `state`: done(), cancelled(), running(), and what
// result() and exception() give without waiting. FINISHED must hold
// `value`, FAILED `code`.
static void
check_state(const char *file, int line, ct_future *f, int state, void *value,
            int code)
{
    bool done = state != PENDING && state != RUNNING;
    bool cancelled = state == CANCELLED || state == NOTIFIED;
    int want_result = done ? 0 : CT_ETIMEDOUT;
    int want_exception = want_result;
    if (cancelled) {
        want_result = want_exception = CT_ECANCELED;
    } else if (state == FAILED) {
        want_result = CT_EFAILED;
    }
    void *got = UNSET;
    int rrc = ct_future_result(f, &got, CT_NOWAIT);
    int got_code = -7777;
    int erc = ct_future_exception(f, &got_code, CT_NOWAIT);
    bool ok = ct_future_done(f) == done &&
              ct_future_cancelled(f) == cancelled &&
              ct_future_running(f) == (state == RUNNING) &&
              rrc == want_result && erc == want_exception;
    if (state == FINISHED) {
        ok = ok && got == value && got_code == 0;
    } else if (state == FAILED) {
        ok = ok && got_code == code;
    }
    if (!ok) {
        ct_test_fail(file, line,
                     "want %s: done %d cancelled %d running %d, result %s "
                     "(%p), exception %s (code %d)",
                     state_names[state], ct_future_done(f),
                     ct_future_cancelled(f), ct_future_running(f),
                     ct_err_name(rrc), got, ct_err_name(erc), got_code);
    }
}
#define CHECK_STATE(f, s)                                                      \
    check_state(__FILE__, __LINE__, (f), (s), RESULT, CODE)
#define CHECK_FINISHED(f, v)                                                   \
    check_state(__FILE__, __LINE__, (f), FINISHED, (v), 0)
#define CHECK_FAILED(f, c)                                                     \
    check_state(__FILE__, __LINE__, (f), FAILED, NULL, (c))

// CHECK_STATE, plus the one thing that tells CANCELLED from NOTIFIED: only
// a plain cancelled future can still be notified. This moves CANCELLED on
// to NOTIFIED, so it ends a case.
static void
check_exact(const char *file, int line, ct_future *f, int state)
{
    check_state(file, line, f, state, RESULT, CODE);
    if (state == CANCELLED) {
        int rc = ct_future_set_running_or_notify_cancel(f);
        if (rc != 0) {
            ct_test_fail(file, line, "not plain CANCELLED: notify gave %s",
                         ct_err_name(rc));
        }
    } else if (state == NOTIFIED) {
        int rc = ct_future_set_running_or_notify_cancel(f);
        if (rc != CT_ESTATE) {
            ct_test_fail(file, line, "not NOTIFIED: notify gave %s",
                         ct_err_name(rc));
        }
    }
}
#define CHECK_EXACT(f, s) check_exact(__FILE__, __LINE__, (f), (s))

// Gives threads that announced themselves time to block in a wait: by a
// wait on an event nobody sets, not by sleeping. The tests stay correct if
// one has not blocked yet; they just test less.
static void
settle(void)
{
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, BLOCKED_WINDOW), CT_ETIMEDOUT);
}

// --- A call into a future from another thread --------------------------------

enum op { OP_RESULT, OP_EXCEPTION, OP_WAIT, OP_AS_COMPLETED_NEXT };

typedef struct call {
    enum op op;
    ct_future *f;
    ct_duration timeout;
    // OP_WAIT
    ct_future *const *fs;
    size_t n;
    int return_when;
    bool done[8];
    // OP_AS_COMPLETED_NEXT
    ct_as_completed *it;
    // what came back
    void *value;
    int code;
    ct_future *next;
    int rc;
    atomic_int started;
    atomic_int returned;
    pthread_t thread;
} call;

static void *
call_main(void *p)
{
    call *c = p;
    atomic_store(&c->started, 1);
    switch (c->op) {
    case OP_RESULT:
        c->rc = ct_future_result(c->f, &c->value, c->timeout);
        break;
    case OP_EXCEPTION:
        c->rc = ct_future_exception(c->f, &c->code, c->timeout);
        break;
    case OP_WAIT:
        CHECK(c->n <= 8);
        c->rc = ct_wait(c->fs, c->n, c->timeout, c->return_when, c->done);
        break;
    case OP_AS_COMPLETED_NEXT:
        c->rc = ct_as_completed_next(c->it, &c->next);
        break;
    }
    atomic_store(&c->returned, 1);
    return NULL;
}

static void
start_call(call *c)
{
    atomic_init(&c->started, 0);
    atomic_init(&c->returned, 0);
    c->value = UNSET;
    c->code = -7777;
    c->next = NULL;
    c->rc = -7777;
    c->thread = ct_test_spawn(call_main, c);
}

// Waits until the calls started, then checks that none returns within
// BLOCKED_WINDOW: each must be waiting.
static void
check_blocked(const char *file, int line, call *c, int n)
{
    for (int i = 0; i < n; i++) {
        if (!ct_test_poll_at_least(&c[i].started, 1, ct_test_long_wait())) {
            ct_test_fail(file, line, "call %d never started", i);
        }
    }
    int64_t end = ct_test_now() + BLOCKED_WINDOW;
    do {
        for (int i = 0; i < n; i++) {
            if (atomic_load(&c[i].returned)) {
                ct_test_fail(file, line,
                             "call %d returned %d (%s) instead of waiting", i,
                             c[i].rc, ct_err_name(c[i].rc));
            }
        }
        sched_yield();
    } while (ct_test_now() < end);
}
#define CHECK_BLOCKED(c, n) check_blocked(__FILE__, __LINE__, (c), (n))

// Waits for the call to return (a lost wake-up fails here, not at the
// watchdog), joins its thread and returns its code.
static int
finish_call(const char *file, int line, call *c)
{
    if (!ct_test_poll_at_least(&c->returned, 1, ct_test_long_wait())) {
        ct_test_fail(file, line, "the call did not return");
    }
    ct_test_join(c->thread);
    return c->rc;
}
#define FINISH(c) finish_call(__FILE__, __LINE__, (c))

// --- Done-callback log -------------------------------------------------------

enum { LOG_MAX = 16 };

// What the callbacks saw, slot by slot. A slot is claimed with `claimed`,
// filled, then published with `finished` (release), which readers poll.
typedef struct cb_log {
    atomic_int claimed;
    atomic_int finished;
    int ids[LOG_MAX];
    ct_future *futures[LOG_MAX];
    uint64_t idents[LOG_MAX];
    bool done_inside[LOG_MAX];
    int result_rc[LOG_MAX]; // ct_future_result(NOWAIT) inside the callback
} cb_log;

typedef struct cb_arg {
    cb_log *log;
    int id;
} cb_arg;

static void
log_cb(ct_future *f, void *arg)
{
    cb_arg *a = arg;
    int i = atomic_fetch_add(&a->log->claimed, 1);
    CHECK(i < LOG_MAX);
    a->log->ids[i] = a->id;
    a->log->futures[i] = f;
    a->log->idents[i] = ct_get_ident();
    a->log->done_inside[i] = ct_future_done(f);
    a->log->result_rc[i] = ct_future_result(f, NULL, CT_NOWAIT);
    atomic_fetch_add(&a->log->finished, 1);
}

// Counts its calls in the atomic_int at arg.
static void
count_cb(ct_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static int
log_count(cb_log *log)
{
    return atomic_load(&log->finished);
}

// --- The state table (4.1) ---------------------------------------------------

static void
new_is_pending(void)
{
    ct_future *f = new_future();
    CHECK_EXACT(f, PENDING);
    CHECK_OK(ct_future_free(f));
}

// done(), cancelled(), running(), result() and exception() in every state;
// a done future answers at once whatever the timeout.
static void
observers_in_each_state(void)
{
    const ct_duration timeouts[] = {
        CT_FOREVER, CT_SECONDS(1e9), CT_MILLIS(50), CT_NOWAIT, -1, INT64_MIN};
    for (int s = 0; s < NSTATES; s++) {
        ct_future *f = future_in(s);
        CHECK_STATE(f, s);
        if (s != PENDING && s != RUNNING) {
            for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
                int64_t t0 = ct_test_now();
                void *value = UNSET;
                int rc = ct_future_result(f, &value, timeouts[i]);
                int code = -1;
                int erc = ct_future_exception(f, &code, timeouts[i]);
                CHECK(ct_test_now() - t0 < ct_test_quick_bound());
                if (s == FINISHED) {
                    CHECK_OK(rc);
                    CHECK(value == RESULT);
                    CHECK_OK(erc);
                    CHECK_EQ(code, 0);
                } else if (s == FAILED) {
                    CHECK_RC(rc, CT_EFAILED);
                    CHECK_OK(erc);
                    CHECK_EQ(code, CODE);
                } else {
                    CHECK_RC(rc, CT_ECANCELED);
                    CHECK_RC(erc, CT_ECANCELED);
                }
            }
        }
        // Asking again changes nothing.
        CHECK_EXACT(f, s);
        CHECK_OK(ct_future_free(f));
    }
}

// cancel(): PENDING -> CANCELLED (true); RUNNING, FINISHED: false and
// unchanged; CANCELLED, NOTIFIED: true and unchanged.
static void
cancel_in_each_state(void)
{
    static const struct {
        int from;
        bool ret;
        int to;
    } cells[] = {
        {PENDING, true, CANCELLED},   {RUNNING, false, RUNNING},
        {CANCELLED, true, CANCELLED}, {NOTIFIED, true, NOTIFIED},
        {FINISHED, false, FINISHED},  {FAILED, false, FAILED},
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        ct_future *f = future_in(cells[i].from);
        if (ct_future_cancel(f) != cells[i].ret) {
            ct_test_fail(__FILE__, __LINE__, "cancel() in %s returned %d",
                         state_names[cells[i].from], !cells[i].ret);
        }
        CHECK_STATE(f, cells[i].to);
        // A second cancel answers the same and changes nothing either.
        CHECK(ct_future_cancel(f) == cells[i].ret);
        CHECK_EXACT(f, cells[i].to);
        CHECK_OK(ct_future_free(f));
    }
}

// set_running_or_notify_cancel(): PENDING -> RUNNING (1); CANCELLED ->
// NOTIFIED (0); CT_ESTATE everywhere else, state unchanged.
static void
set_running_in_each_state(void)
{
    static const struct {
        int from;
        int ret;
        int to;
    } cells[] = {
        {PENDING, 1, RUNNING},           {RUNNING, CT_ESTATE, RUNNING},
        {CANCELLED, 0, NOTIFIED},        {NOTIFIED, CT_ESTATE, NOTIFIED},
        {FINISHED, CT_ESTATE, FINISHED}, {FAILED, CT_ESTATE, FAILED},
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        ct_future *f = future_in(cells[i].from);
        int rc = ct_future_set_running_or_notify_cancel(f);
        if (rc != cells[i].ret) {
            ct_test_fail(__FILE__, __LINE__,
                         "set_running_or_notify_cancel() in %s returned %d "
                         "(%s)",
                         state_names[cells[i].from], rc, ct_err_name(rc));
        }
        CHECK_EXACT(f, cells[i].to);
        CHECK_OK(ct_future_free(f));
    }
}

// set_result() and set_exception(): from PENDING or RUNNING they finish the
// future; in every done state they give CT_ESTATE and the first outcome
// stays (Python's InvalidStateError).
static void
set_outcome_in_each_state(void)
{
    for (int with_exception = 0; with_exception < 2; with_exception++) {
        for (int s = 0; s < NSTATES; s++) {
            ct_future *f = future_in(s);
            int rc = with_exception ? ct_future_set_exception(f, 99)
                                    : ct_future_set_result(f, P(99));
            bool allowed = s == PENDING || s == RUNNING;
            if (rc != (allowed ? 0 : CT_ESTATE)) {
                ct_test_fail(__FILE__, __LINE__, "%s in %s returned %d (%s)",
                             with_exception ? "set_exception" : "set_result",
                             state_names[s], rc, ct_err_name(rc));
            }
            if (!allowed) {
                CHECK_EXACT(f, s); // RESULT or CODE, not 99
            } else if (with_exception) {
                CHECK_FAILED(f, 99);
            } else {
                CHECK_FINISHED(f, P(99));
            }
            // Once finished, neither call changes it again.
            CHECK_RC(ct_future_set_result(f, P(5)), CT_ESTATE);
            CHECK_RC(ct_future_set_exception(f, 5), CT_ESTATE);
            CHECK(!ct_future_cancel(f) || s == CANCELLED || s == NOTIFIED);
            if (allowed && with_exception) {
                CHECK_FAILED(f, 99);
            } else if (allowed) {
                CHECK_FINISHED(f, P(99));
            }
            CHECK_OK(ct_future_free(f));
        }
    }
}

// A zero code is not a failure: CT_EINVAL, and the future is untouched.
static void
set_exception_zero_code(void)
{
    for (int s = PENDING; s <= RUNNING; s++) {
        ct_future *f = future_in(s);
        CHECK_RC(ct_future_set_exception(f, 0), CT_EINVAL);
        CHECK_EXACT(f, s);
        CHECK_OK(ct_future_set_result(f, RESULT));
        CHECK_STATE(f, FINISHED);
        CHECK_OK(ct_future_free(f));
    }
}

// Any non-zero code is the task's own, even one that looks like a
// cthreading code: result() says CT_EFAILED, exception() gives the code.
static void
failure_codes_round_trip(void)
{
    const int codes[] = {1,          -1,           CT_ETIMEDOUT, CT_ECANCELED,
                         CT_EFAILED, CT_ESHUTDOWN, INT_MIN,      INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ct_future *f = new_future();
        CHECK_OK(ct_future_set_exception(f, codes[i]));
        CHECK_FAILED(f, codes[i]);
        CHECK_RC(ct_future_result(f, NULL, CT_FOREVER), CT_EFAILED);
        CHECK_OK(ct_future_free(f));
    }
}

// Any pointer is a result, NULL included; result() takes a NULL out.
static void
results_round_trip(void)
{
    void *const values[] = {NULL, P(1), P(-1), (void *)&values, P(INTPTR_MAX)};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        ct_future *f = future_in(i % 2 ? RUNNING : PENDING);
        CHECK_OK(ct_future_set_result(f, values[i]));
        CHECK_FINISHED(f, values[i]);
        CHECK_OK(ct_future_result(f, NULL, CT_NOWAIT));
        CHECK_OK(ct_future_free(f));
    }
    ct_future *f = future_in(PENDING);
    CHECK_RC(ct_future_result(f, NULL, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK(ct_future_cancel(f));
    CHECK_RC(ct_future_result(f, NULL, CT_NOWAIT), CT_ECANCELED);
    CHECK_OK(ct_future_free(f));
}

static void
noop_cb(ct_future *f, void *arg)
{
    (void)f;
    (void)arg;
}

// NULL everywhere: CT_EINVAL, false, or NULL; never a crash or a wait.
static void
bad_input(void)
{
    CHECK_RC(ct_future_new(NULL), CT_EINVAL);
    CHECK(ct_future_ref(NULL) == NULL);
    CHECK_RC(ct_future_free(NULL), CT_EINVAL);
    void *value = UNSET;
    int code = 0;
    CHECK_RC(ct_future_result(NULL, &value, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_future_result(NULL, NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_future_exception(NULL, &code, CT_FOREVER), CT_EINVAL);
    CHECK(!ct_future_cancel(NULL));
    CHECK(!ct_future_cancelled(NULL));
    CHECK(!ct_future_running(NULL));
    CHECK(!ct_future_done(NULL));
    CHECK_RC(ct_future_add_done_callback(NULL, noop_cb, NULL), CT_EINVAL);
    CHECK_RC(ct_future_set_running_or_notify_cancel(NULL), CT_EINVAL);
    CHECK_RC(ct_future_set_result(NULL, RESULT), CT_EINVAL);
    CHECK_RC(ct_future_set_exception(NULL, CODE), CT_EINVAL);

    ct_future *f = new_future();
    CHECK_RC(ct_future_add_done_callback(f, NULL, NULL), CT_EINVAL);
    // A NULL code pointer, pending or done: CT_EINVAL, without waiting.
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_future_exception(f, NULL, CT_FOREVER), CT_EINVAL);
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK_OK(ct_future_set_exception(f, CODE));
    CHECK_RC(ct_future_exception(f, NULL, CT_NOWAIT), CT_EINVAL);
    CHECK_RC(ct_future_add_done_callback(f, NULL, NULL), CT_EINVAL);
    CHECK_STATE(f, FAILED);
    CHECK_OK(ct_future_free(f));
}

// --- Waiting on one future ---------------------------------------------------

// A pending or running future: result() and exception() time out, never
// early; polls return at once.
static void
result_times_out(void)
{
    const ct_duration polls[] = {CT_NOWAIT, -1, -CT_SECONDS(30), INT64_MIN};
    for (int s = PENDING; s <= RUNNING; s++) {
        ct_future *f = future_in(s);
        for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
            int64_t t0 = ct_test_now();
            CHECK_RC(ct_future_result(f, NULL, polls[i]), CT_ETIMEDOUT);
            int code = 0;
            CHECK_RC(ct_future_exception(f, &code, polls[i]), CT_ETIMEDOUT);
            CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        }
        const ct_duration timeout = CT_MILLIS(50);
        int64_t t0 = ct_test_now();
        void *value = UNSET;
        CHECK_RC(ct_future_result(f, &value, timeout), CT_ETIMEDOUT);
        CHECK_ELAPSED(ct_test_now() - t0, timeout);
        t0 = ct_test_now();
        int code = 0;
        CHECK_RC(ct_future_exception(f, &code, timeout), CT_ETIMEDOUT);
        CHECK_ELAPSED(ct_test_now() - t0, timeout);
        CHECK_EXACT(f, s);
        // The timeouts did not hurt it.
        CHECK_OK(ct_future_set_result(f, RESULT));
        CHECK_STATE(f, FINISHED);
        CHECK_OK(ct_future_free(f));
    }
}

enum how { BY_RESULT, BY_EXCEPTION, BY_CANCEL };
static const char *const how_names[] = {"set_result", "set_exception",
                                        "cancel"};

static void
complete(ct_future *f, enum how how)
{
    switch (how) {
    case BY_RESULT:
        CHECK_OK(ct_future_set_result(f, P(5)));
        break;
    case BY_EXCEPTION:
        CHECK_OK(ct_future_set_exception(f, 11));
        break;
    case BY_CANCEL:
        CHECK(ct_future_cancel(f));
        break;
    }
}

// Waiters blocked in result() and exception(), with and without a
// deadline, all wake when another thread finishes or cancels the future
// (from PENDING, and from RUNNING where cancel does not apply).
static void
waiters_woken(void)
{
    enum { N = 4 };
    for (int s = PENDING; s <= RUNNING; s++) {
        for (int how = BY_RESULT; how <= BY_CANCEL; how++) {
            if (s == RUNNING && how == BY_CANCEL) {
                continue;
            }
            ct_future *f = future_in(s);
            call c[N];
            for (int i = 0; i < N; i++) {
                c[i] =
                    (call){.op = i % 2 ? OP_EXCEPTION : OP_RESULT,
                           .f = f,
                           .timeout = i < 2 ? CT_FOREVER : ct_test_long_wait()};
                start_call(&c[i]);
            }
            CHECK_BLOCKED(c, N);
            int64_t t0 = ct_test_now();
            complete(f, how);
            for (int i = 0; i < N; i++) {
                int rc = FINISH(&c[i]);
                int want = how == BY_CANCEL ? CT_ECANCELED
                           : c[i].op == OP_RESULT && how == BY_EXCEPTION
                               ? CT_EFAILED
                               : 0;
                if (rc != want) {
                    ct_test_fail(
                        __FILE__, __LINE__, "%s on %s: waiter %d returned %s",
                        how_names[how], state_names[s], i, ct_err_name(rc));
                }
                if (how == BY_RESULT && c[i].op == OP_RESULT) {
                    CHECK(c[i].value == P(5));
                }
                if (how != BY_CANCEL && c[i].op == OP_EXCEPTION) {
                    CHECK_EQ(c[i].code, how == BY_EXCEPTION ? 11 : 0);
                }
            }
            CHECK(ct_test_now() - t0 < ct_test_quick_bound());
            CHECK_OK(ct_future_free(f));
        }
    }
}

typedef struct completer {
    ct_future *f;
    enum how how;
    uint64_t ident;
} completer;

static void *
completer_main(void *p)
{
    completer *c = p;
    c->ident = ct_get_ident();
    settle(); // let the main thread block first, most of the time
    complete(c->f, c->how);
    return NULL;
}

// The other way round: the main thread waits, another thread completes.
static void
result_wakes_on_other_thread(void)
{
    for (int how = BY_RESULT; how <= BY_CANCEL; how++) {
        ct_future *f = new_future();
        completer c = {.f = f, .how = how};
        pthread_t t = ct_test_spawn(completer_main, &c);
        void *value = UNSET;
        int rc = ct_future_result(f, &value, CT_FOREVER);
        CHECK_RC(rc, how == BY_RESULT      ? 0
                     : how == BY_EXCEPTION ? CT_EFAILED
                                           : CT_ECANCELED);
        if (how == BY_RESULT) {
            CHECK(value == P(5));
        }
        ct_test_join(t);
        CHECK_OK(ct_future_free(f));
    }
}

// Marking a future running is not an outcome: its waiters stay blocked.
static void
set_running_does_not_wake(void)
{
    ct_future *f = new_future();
    call c[2] = {{.op = OP_RESULT, .f = f, .timeout = CT_FOREVER},
                 {.op = OP_EXCEPTION, .f = f, .timeout = ct_test_long_wait()}};
    start_call(&c[0]);
    start_call(&c[1]);
    CHECK_BLOCKED(c, 2);
    CHECK_RC(ct_future_set_running_or_notify_cancel(f), 1);
    CHECK_BLOCKED(c, 2);
    CHECK_OK(ct_future_set_result(f, RESULT));
    CHECK_OK(FINISH(&c[0]));
    CHECK_OK(FINISH(&c[1]));
    CHECK(c[0].value == RESULT);
    CHECK_EQ(c[1].code, 0);
    CHECK_OK(ct_future_free(f));
}

// --- Done-callbacks ----------------------------------------------------------

// Callbacks run in the order they were added, each once, with the future
// and their argument, before the completing call returns.
static void
callbacks_in_order(void)
{
    enum { N = 6 };
    for (int how = BY_RESULT; how <= BY_CANCEL; how++) {
        cb_log log = {0};
        cb_arg args[N];
        ct_future *f = new_future();
        for (int i = 0; i < N; i++) {
            args[i] = (cb_arg){&log, i};
            CHECK_OK(ct_future_add_done_callback(f, log_cb, &args[i]));
        }
        CHECK_EQ(log_count(&log), 0);
        complete(f, how);
        CHECK_EQ(log_count(&log), N);
        for (int i = 0; i < N; i++) {
            CHECK_EQ(log.ids[i], i);
            CHECK(log.futures[i] == f);
            CHECK(log.done_inside[i]);
            CHECK_RC(log.result_rc[i], how == BY_RESULT      ? 0
                                       : how == BY_EXCEPTION ? CT_EFAILED
                                                             : CT_ECANCELED);
        }
        CHECK_OK(ct_future_free(f));
        CHECK_EQ(log_count(&log), N);
    }
}

// The same callback with the same argument, added twice, runs twice.
static void
same_callback_twice(void)
{
    cb_log log = {0};
    cb_arg a = {&log, 3};
    ct_future *f = new_future();
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &a));
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &a));
    CHECK_OK(ct_future_set_result(f, RESULT));
    CHECK_EQ(log_count(&log), 2);
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &a));
    CHECK_EQ(log_count(&log), 3);
    CHECK_OK(ct_future_free(f));
}

// Callbacks run in the thread that completes the future, whichever call
// completes it, with waiters already able to see the outcome.
static void
callbacks_in_completing_thread(void)
{
    for (int how = BY_RESULT; how <= BY_CANCEL; how++) {
        cb_log log = {0};
        cb_arg a[2] = {{&log, 0}, {&log, 1}};
        ct_future *f = future_in(how == BY_CANCEL ? PENDING : RUNNING);
        CHECK_OK(ct_future_add_done_callback(f, log_cb, &a[0]));
        CHECK_OK(ct_future_add_done_callback(f, log_cb, &a[1]));
        completer c = {.f = f, .how = how};
        pthread_t t = ct_test_spawn(completer_main, &c);
        ct_test_join(t);
        CHECK_EQ(log_count(&log), 2);
        for (int i = 0; i < 2; i++) {
            if (log.idents[i] != c.ident) {
                ct_test_fail(__FILE__, __LINE__,
                             "after %s: callback %d ran in thread %llu, not "
                             "the completing %llu (main is %llu)",
                             how_names[how], i,
                             (unsigned long long)log.idents[i],
                             (unsigned long long)c.ident,
                             (unsigned long long)ct_get_ident());
            }
            CHECK(log.done_inside[i]);
        }
        CHECK_OK(ct_future_free(f));
    }
}

// On a done future (finished either way, or cancelled in either state) a
// callback runs at once, in the registering thread; on a pending or
// running one it waits.
static void
callback_on_done_future_runs_at_once(void)
{
    for (int s = 0; s < NSTATES; s++) {
        cb_log log = {0};
        cb_arg a = {&log, s};
        ct_future *f = future_in(s);
        CHECK_OK(ct_future_add_done_callback(f, log_cb, &a));
        bool done = s != PENDING && s != RUNNING;
        if (log_count(&log) != (done ? 1 : 0)) {
            ct_test_fail(__FILE__, __LINE__,
                         "add_done_callback in %s: %d calls at return",
                         state_names[s], log_count(&log));
        }
        if (done) {
            CHECK_EQ(log.idents[0], ct_get_ident());
            CHECK(log.futures[0] == f);
            CHECK(log.done_inside[0]);
        } else {
            CHECK_OK(ct_future_set_result(f, RESULT));
            CHECK_EQ(log_count(&log), 1);
        }
        CHECK_OK(ct_future_free(f));
    }
}

// Exactly once: a cancel, a second cancel, the executor's notification and
// late set_result/set_exception run nothing again; so do repeated
// attempts on a finished future, and a cancel that fails on a running one.
static void
callbacks_exactly_once(void)
{
    cb_log log = {0};
    cb_arg a[2] = {{&log, 0}, {&log, 1}};
    ct_future *f = new_future();
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &a[0]));
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &a[1]));
    CHECK(ct_future_cancel(f));
    CHECK_EQ(log_count(&log), 2);
    CHECK(ct_future_cancel(f));
    CHECK_RC(ct_future_set_running_or_notify_cancel(f), 0);
    CHECK(ct_future_cancel(f));
    CHECK_RC(ct_future_set_result(f, RESULT), CT_ESTATE);
    CHECK_RC(ct_future_set_exception(f, CODE), CT_ESTATE);
    CHECK_RC(ct_future_set_running_or_notify_cancel(f), CT_ESTATE);
    CHECK_EQ(log_count(&log), 2);
    CHECK_OK(ct_future_free(f));

    cb_log log2 = {0};
    cb_arg b = {&log2, 0};
    f = new_future();
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &b));
    CHECK_RC(ct_future_set_running_or_notify_cancel(f), 1);
    CHECK(!ct_future_cancel(f));
    CHECK_EQ(log_count(&log2), 0);
    CHECK_OK(ct_future_set_exception(f, CODE));
    CHECK_EQ(log_count(&log2), 1);
    CHECK_RC(ct_future_set_result(f, RESULT), CT_ESTATE);
    CHECK_RC(ct_future_set_exception(f, CODE), CT_ESTATE);
    CHECK(!ct_future_cancel(f));
    CHECK_EQ(log_count(&log2), 1);
    CHECK_OK(ct_future_free(f));
}

typedef struct nested {
    cb_log *log;
    cb_arg inner;
    int inner_count_at_return; // calls logged when add returned
} nested;

static void
adds_another(ct_future *f, void *arg)
{
    nested *n = arg;
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &n->inner));
    n->inner_count_at_return = log_count(n->log);
}

// A callback that adds a callback to its own (done) future: the new one
// runs at once, inside the add, without deadlocking.
static void
callback_added_from_callback(void)
{
    cb_log log = {0};
    nested n = {.log = &log, .inner = {&log, 9}, .inner_count_at_return = -1};
    cb_arg after = {&log, 10};
    ct_future *f = new_future();
    CHECK_OK(ct_future_add_done_callback(f, adds_another, &n));
    CHECK_OK(ct_future_add_done_callback(f, log_cb, &after));
    CHECK_OK(ct_future_set_result(f, RESULT));
    CHECK_EQ(n.inner_count_at_return, 1);
    CHECK_EQ(log_count(&log), 2);
    CHECK_EQ(log.ids[0], 9);
    CHECK_EQ(log.ids[1], 10);
    CHECK_OK(ct_future_free(f));
}

typedef struct self_freer {
    atomic_int calls;
    int free_rc;
    void *value;
} self_freer;

// Holds a reference of its own (taken at registration) and drops it.
static void
frees_own_ref(ct_future *f, void *arg)
{
    self_freer *s = arg;
    CHECK_OK(ct_future_result(f, &s->value, CT_NOWAIT));
    s->free_rc = ct_future_free(f);
    atomic_fetch_add(&s->calls, 1);
}

typedef struct holder {
    ct_future *f; // a reference this thread owns
    ct_event *go;
} holder;

static void *
set_then_free(void *p)
{
    holder *h = p;
    CHECK_OK(ct_event_wait(h->go, ct_test_long_wait()));
    CHECK_OK(ct_future_set_result(h->f, RESULT));
    CHECK_OK(ct_future_free(h->f));
    return NULL;
}

// A callback may free a reference it holds: on a future that is done
// already (at once, in the registering thread), and from the completing
// thread after the registering thread dropped its own reference.
static void
callback_frees_its_reference(void)
{
    self_freer s = {.free_rc = -1};
    ct_future *f = future_in(FINISHED);
    CHECK_OK(ct_future_add_done_callback(ct_future_ref(f), frees_own_ref, &s));
    CHECK_EQ(atomic_load(&s.calls), 1);
    CHECK_OK(s.free_rc);
    CHECK_STATE(f, FINISHED);
    CHECK_OK(ct_future_free(f));

    self_freer s2 = {.free_rc = -1};
    ct_event go = CT_EVENT_INIT;
    f = new_future();
    CHECK(ct_future_ref(f) == f); // the callback's
    CHECK_OK(ct_future_add_done_callback(f, frees_own_ref, &s2));
    holder h = {.f = ct_future_ref(f), .go = &go}; // the thread's
    pthread_t t = ct_test_spawn(set_then_free, &h);
    CHECK_OK(ct_future_free(f)); // the caller's: two remain
    CHECK_OK(ct_event_set(&go));
    ct_test_join(t);
    CHECK_EQ(atomic_load(&s2.calls), 1);
    CHECK_OK(s2.free_rc);
    CHECK(s2.value == RESULT);
}

// --- Reference counting ------------------------------------------------------

// ct_future_ref adds a reference and returns its argument; each free drops
// one, and the future works until the last.
static void
ref_and_free(void)
{
    enum { N = 100 };
    ct_future *f = new_future();
    for (int i = 0; i < N; i++) {
        CHECK(ct_future_ref(f) == f);
    }
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_future_free(f));
        CHECK_STATE(f, i < N / 2 ? PENDING : FINISHED);
        if (i == N / 2 - 1) {
            CHECK_OK(ct_future_set_result(f, RESULT));
        }
    }
    CHECK_STATE(f, FINISHED);
    CHECK_OK(ct_future_free(f));

    // A future never completed frees as well.
    for (int s = 0; s < NSTATES; s++) {
        CHECK_OK(ct_future_free(future_in(s)));
    }
}

typedef struct waiter_freer {
    ct_future *f; // the thread's reference
    int rc;
    void *value;
} waiter_freer;

static void *
wait_then_free(void *p)
{
    waiter_freer *w = p;
    w->rc = ct_future_result(w->f, &w->value, ct_test_long_wait());
    CHECK_OK(ct_future_free(w->f));
    return NULL;
}

// References handed to other threads are freed there, before or after the
// creator drops its own.
static void
free_from_other_thread(void)
{
    // The creator completes and frees first; the waiter frees the last.
    ct_future *f = new_future();
    waiter_freer w = {.f = ct_future_ref(f), .value = UNSET};
    pthread_t t = ct_test_spawn(wait_then_free, &w);
    settle();
    CHECK_OK(ct_future_set_result(f, RESULT));
    CHECK_OK(ct_future_free(f));
    ct_test_join(t);
    CHECK_OK(w.rc);
    CHECK(w.value == RESULT);

    // The other thread frees first (after the outcome), the creator last.
    f = new_future();
    waiter_freer w2 = {.f = ct_future_ref(f), .value = UNSET};
    t = ct_test_spawn(wait_then_free, &w2);
    CHECK_OK(ct_future_set_exception(f, CODE));
    ct_test_join(t);
    CHECK_RC(w2.rc, CT_EFAILED);
    CHECK_FAILED(f, CODE);
    CHECK_OK(ct_future_free(f));
}

// In a debug build the last 4096 freed futures are remembered: freeing one
// again is CT_ESTATE, and touches no other future.
static void
double_free_in_debug_build(void)
{
#ifdef CT_DEBUG
    ct_future *f = new_future();
    CHECK_OK(ct_future_free(f));
    ct_future *g = future_in(PENDING); // may not reuse f's memory
    CHECK_RC(ct_future_free(f), CT_ESTATE);
    CHECK_RC(ct_future_free(f), CT_ESTATE);
    CHECK_EXACT(g, PENDING);
    CHECK_OK(ct_future_set_result(g, RESULT));
    CHECK_STATE(g, FINISHED);

    // One of many: the memory of the most recent ones is not handed out.
    enum { N = 100 };
    ct_future *many[N];
    for (int i = 0; i < N; i++) {
        many[i] = new_future();
    }
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_future_free(many[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK_RC(ct_future_free(many[i]), CT_ESTATE);
    }
    CHECK_STATE(g, FINISHED);
    CHECK_OK(ct_future_free(g));
#else
    SKIP("needs a debug build (BUILD=debug, -DCT_DEBUG)");
#endif
}

// --- ct_wait -----------------------------------------------------------------

static const int all_modes[] = {CT_FIRST_COMPLETED, CT_FIRST_EXCEPTION,
                                CT_ALL_COMPLETED};
static const char *const mode_names[] = {"?", "FIRST_COMPLETED",
                                         "FIRST_EXCEPTION", "ALL_COMPLETED"};

// Fills flags with a value ct_wait must overwrite.
static void
scribble(bool *done, size_t n)
{
    memset(done, 0x5a, n * sizeof *done);
}

static void
check_flags(const char *file, int line, const bool *done, const bool *want,
            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        // Compare as bytes: a scribbled flag is neither true nor false.
        unsigned char got;
        memcpy(&got, &done[i], 1);
        if (got != (want[i] ? 1 : 0)) {
            ct_test_fail(file, line, "done[%zu] is %u, want %d", i, got,
                         want[i]);
        }
    }
}
#define CHECK_FLAGS(done, ...)                                                 \
    do {                                                                       \
        const bool want_[] = {__VA_ARGS__};                                    \
        check_flags(__FILE__, __LINE__, (done), want_,                         \
                    sizeof want_ / sizeof want_[0]);                           \
    } while (0)

static void
free_all(ct_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(ct_future_free(fs[i]));
    }
}

// n == 0 returns 0 at once in every mode, with or without an array
// (finite timeouts first, so that a failure says so before a hang).
static void
wait_on_nothing(void)
{
    ct_future *f = new_future();
    const ct_duration timeouts[] = {CT_NOWAIT, CT_MILLIS(50), CT_FOREVER};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        for (size_t m = 0; m < 3; m++) {
            int64_t t0 = ct_test_now();
            int rc = ct_wait(NULL, 0, timeouts[i], all_modes[m], NULL);
            if (rc != 0) {
                ct_test_fail(__FILE__, __LINE__,
                             "ct_wait(NULL, 0, %lld, %s) returned %s",
                             (long long)timeouts[i], mode_names[all_modes[m]],
                             ct_err_name(rc));
            }
            bool done[1] = {false};
            CHECK_RC(ct_wait(&f, 0, timeouts[i], all_modes[m], done), 0);
            CHECK(!done[0]);
            CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        }
    }
    CHECK_OK(ct_future_free(f));
}

// CT_EINVAL for a NULL array, a NULL entry and an unknown return_when,
// at once, even where the condition already holds (CPython only notices
// a bad return_when when it has to wait).
static void
wait_bad_input(void)
{
    ct_future *fs[2] = {future_in(FINISHED), future_in(FAILED)};
    bool done[2];
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_wait(NULL, 1, CT_FOREVER, CT_ALL_COMPLETED, done), CT_EINVAL);
    CHECK_RC(ct_wait(NULL, 2, CT_NOWAIT, CT_FIRST_COMPLETED, NULL), CT_EINVAL);
    ct_future *with_null[3] = {fs[0], NULL, fs[1]};
    for (size_t m = 0; m < 3; m++) {
        CHECK_RC(ct_wait(with_null, 3, CT_FOREVER, all_modes[m], NULL),
                 CT_EINVAL);
    }
    const int bad[] = {0, 4, -1, 5, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        // The futures are done: CPython would return here.
        CHECK_RC(ct_wait(fs, 2, CT_NOWAIT, bad[i], done), CT_EINVAL);
        CHECK_RC(ct_wait(fs, 2, CT_FOREVER, bad[i], NULL), CT_EINVAL);
    }
    // And where CPython would have to wait too.
    ct_future *p = new_future();
    CHECK_RC(ct_wait(&p, 1, CT_FOREVER, 0, NULL), CT_EINVAL);
    CHECK_RC(ct_wait(&p, 1, CT_FOREVER, 4, NULL), CT_EINVAL);
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK_EXACT(p, PENDING);
    CHECK_OK(ct_future_free(p));
    free_all(fs, 2);
}

// Everything done at entry: every mode returns n at once, flags all set,
// whatever the timeout; a NULL flags array is fine.
static void
wait_all_done_at_entry(void)
{
    ct_future *fs[4] = {future_in(FINISHED), future_in(FAILED),
                        future_in(CANCELLED), future_in(NOTIFIED)};
    const ct_duration timeouts[] = {CT_FOREVER, CT_MILLIS(50), CT_NOWAIT, -1};
    for (size_t m = 0; m < 3; m++) {
        for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
            bool done[4];
            scribble(done, 4);
            int64_t t0 = ct_test_now();
            CHECK_RC(ct_wait(fs, 4, timeouts[i], all_modes[m], done), 4);
            CHECK(ct_test_now() - t0 < ct_test_quick_bound());
            CHECK_FLAGS(done, true, true, true, true);
            CHECK_RC(ct_wait(fs, 4, timeouts[i], all_modes[m], NULL), 4);
        }
    }
    free_all(fs, 4);
}

// FIRST_COMPLETED: returns as soon as one is done (at once if one is at
// entry), with the flags of that moment; waits while none is.
static void
wait_first_completed(void)
{
    ct_future *fs[3] = {new_future(), future_in(RUNNING), new_future()};
    bool done[3];
    scribble(done, 3);
    CHECK_RC(ct_wait(fs, 3, CT_NOWAIT, CT_FIRST_COMPLETED, done), CT_ETIMEDOUT);
    CHECK_FLAGS(done, false, false, false);

    for (int how = BY_RESULT; how <= BY_CANCEL; how++) {
        call c = {.op = OP_WAIT,
                  .fs = fs,
                  .n = 3,
                  .timeout =
                      how == BY_RESULT ? CT_FOREVER : ct_test_long_wait(),
                  .return_when = CT_FIRST_COMPLETED};
        scribble(c.done, 3);
        start_call(&c);
        CHECK_BLOCKED(&c, 1);
        // Complete the last pending one; the others stay pending.
        complete(fs[2], how);
        if (FINISH(&c) != 1) {
            ct_test_fail(__FILE__, __LINE__, "after %s: ct_wait returned %s",
                         how_names[how], ct_err_name(c.rc));
        }
        CHECK_FLAGS(c.done, false, false, true);
        // Done at entry now: at once.
        scribble(done, 3);
        CHECK_RC(ct_wait(fs, 3, CT_FOREVER, CT_FIRST_COMPLETED, done), 1);
        CHECK_FLAGS(done, false, false, true);
        CHECK_OK(ct_future_free(fs[2]));
        fs[2] = new_future();
    }
    CHECK_OK(ct_future_set_result(fs[1], RESULT));
    CHECK_RC(ct_wait(fs, 3, CT_FOREVER, CT_FIRST_COMPLETED, done), 1);
    CHECK_FLAGS(done, false, true, false);
    free_all(fs, 3);
}

// ALL_COMPLETED: one completion is not enough; the last one returns it.
static void
wait_all_completed(void)
{
    ct_future *fs[3] = {new_future(), future_in(FINISHED), new_future()};
    call c = {.op = OP_WAIT,
              .fs = fs,
              .n = 3,
              .timeout = CT_FOREVER,
              .return_when = CT_ALL_COMPLETED};
    start_call(&c);
    CHECK_BLOCKED(&c, 1);
    CHECK_OK(ct_future_set_exception(fs[0], CODE)); // a failure is not enough
    CHECK_BLOCKED(&c, 1);
    CHECK(ct_future_cancel(fs[2]));
    CHECK_RC(FINISH(&c), 3);
    CHECK_FLAGS(c.done, true, true, true);
    free_all(fs, 3);
}

// FIRST_EXCEPTION: a failure (at entry or later) returns it; a cancelled
// future is not a failure; with no failure it waits for all, like
// ALL_COMPLETED.
static void
wait_first_exception(void)
{
    // A failure at entry, others pending: at once.
    ct_future *fs[3] = {new_future(), future_in(FAILED), new_future()};
    bool done[3];
    scribble(done, 3);
    CHECK_RC(ct_wait(fs, 3, CT_FOREVER, CT_FIRST_EXCEPTION, done), 1);
    CHECK_FLAGS(done, false, true, false);
    free_all(fs, 3);

    // Successes and a cancel do not return it; a later failure does.
    ct_future *gs[4] = {new_future(), future_in(FINISHED), future_in(CANCELLED),
                        new_future()};
    call c = {.op = OP_WAIT,
              .fs = gs,
              .n = 4,
              .timeout = CT_FOREVER,
              .return_when = CT_FIRST_EXCEPTION};
    scribble(c.done, 4);
    start_call(&c);
    CHECK_BLOCKED(&c, 1);
    CHECK_OK(ct_future_set_result(gs[3], RESULT));
    CHECK_BLOCKED(&c, 1);
    bool done4[4];
    scribble(done4, 4);
    CHECK_RC(ct_wait(gs, 4, CT_NOWAIT, CT_FIRST_EXCEPTION, done4),
             CT_ETIMEDOUT);
    CHECK_FLAGS(done4, false, true, true, true);
    CHECK_OK(ct_future_set_exception(gs[0], CODE));
    CHECK_RC(FINISH(&c), 4);
    CHECK_FLAGS(c.done, true, true, true, true);
    free_all(gs, 4);

    // No failure at all: returns once the last is done.
    ct_future *hs[3] = {new_future(), future_in(RUNNING), future_in(FINISHED)};
    call d = {.op = OP_WAIT,
              .fs = hs,
              .n = 3,
              .timeout = ct_test_long_wait(),
              .return_when = CT_FIRST_EXCEPTION};
    start_call(&d);
    CHECK_BLOCKED(&d, 1);
    CHECK_OK(ct_future_set_result(hs[1], RESULT));
    CHECK_BLOCKED(&d, 1);
    CHECK(ct_future_cancel(hs[0]));
    CHECK_RC(FINISH(&d), 3);
    CHECK_FLAGS(d.done, true, true, true);
    free_all(hs, 3);
}

// At the deadline the condition does not hold: CT_ETIMEDOUT, never early,
// with the flags of that moment.
static void
wait_timeout_fills_flags(void)
{
    ct_future *fs[4] = {new_future(), future_in(FINISHED), future_in(RUNNING),
                        future_in(CANCELLED)};
    const ct_duration timeout = CT_MILLIS(50);
    // ALL_COMPLETED and FIRST_EXCEPTION with some done, none failed.
    for (size_t m = 1; m < 3; m++) {
        bool done[4];
        scribble(done, 4);
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_wait(fs, 4, timeout, all_modes[m], done), CT_ETIMEDOUT);
        CHECK_ELAPSED(ct_test_now() - t0, timeout);
        CHECK_FLAGS(done, false, true, false, true);
        scribble(done, 4);
        t0 = ct_test_now();
        CHECK_RC(ct_wait(fs, 4, CT_NOWAIT, all_modes[m], done), CT_ETIMEDOUT);
        CHECK_RC(ct_wait(fs, 4, -CT_SECONDS(1), all_modes[m], NULL),
                 CT_ETIMEDOUT);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        CHECK_FLAGS(done, false, true, false, true);
    }
    // FIRST_COMPLETED with none done.
    ct_future *pending[2] = {fs[0], fs[2]};
    bool done[2];
    scribble(done, 2);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_wait(pending, 2, timeout, CT_FIRST_COMPLETED, done),
             CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK_FLAGS(done, false, false);
    free_all(fs, 4);
}

// A future listed twice gets the same flag twice and counts as two
// entries; waiting on [a, a] for all needs only a.
static void
wait_duplicates(void)
{
    ct_future *a = future_in(FINISHED), *b = new_future();
    ct_future *fs[5] = {a, b, a, b, a};
    bool done[5];
    scribble(done, 5);
    CHECK_RC(ct_wait(fs, 5, CT_FOREVER, CT_FIRST_COMPLETED, done), 3);
    CHECK_FLAGS(done, true, false, true, false, true);
    scribble(done, 5);
    CHECK_RC(ct_wait(fs, 5, CT_NOWAIT, CT_ALL_COMPLETED, done), CT_ETIMEDOUT);
    CHECK_FLAGS(done, true, false, true, false, true);

    ct_future *bb[2] = {b, b};
    call c = {.op = OP_WAIT,
              .fs = bb,
              .n = 2,
              .timeout = CT_FOREVER,
              .return_when = CT_ALL_COMPLETED};
    start_call(&c);
    CHECK_BLOCKED(&c, 1);
    CHECK_OK(ct_future_set_exception(b, CODE));
    CHECK_RC(FINISH(&c), 2);
    CHECK_FLAGS(c.done, true, true);
    CHECK_RC(ct_wait(fs, 5, CT_FOREVER, CT_FIRST_EXCEPTION, NULL), 5);
    CHECK_OK(ct_future_free(a));
    CHECK_OK(ct_future_free(b));
}

// A cancelled future is done for ct_wait in both cancelled states (CPython
// would wait forever on a plain CANCELLED one), and a cancel wakes it.
static void
wait_counts_cancelled_as_done(void)
{
    ct_future *fs[2] = {future_in(CANCELLED), future_in(NOTIFIED)};
    bool done[2];
    for (size_t m = 0; m < 3; m++) {
        scribble(done, 2);
        CHECK_RC(ct_wait(fs, 2, CT_MILLIS(500), all_modes[m], done), 2);
        CHECK_FLAGS(done, true, true);
    }
    free_all(fs, 2);

    for (size_t m = 0; m < 3; m++) {
        ct_future *f = new_future();
        call c = {.op = OP_WAIT,
                  .fs = &f,
                  .n = 1,
                  .timeout = CT_FOREVER,
                  .return_when = all_modes[m]};
        start_call(&c);
        CHECK_BLOCKED(&c, 1);
        CHECK(ct_future_cancel(f));
        if (FINISH(&c) != 1) {
            ct_test_fail(__FILE__, __LINE__, "%s after cancel: %s",
                         mode_names[all_modes[m]], ct_err_name(c.rc));
        }
        CHECK_FLAGS(c.done, true);
        CHECK_OK(ct_future_free(f));
    }
}

// --- ct_as_completed ---------------------------------------------------------

static ct_as_completed *
iterate(ct_future *const *fs, size_t n, ct_duration timeout)
{
    ct_as_completed *it = NULL;
    CHECK_OK(ct_as_completed_new(&it, fs, n, timeout));
    CHECK(it != NULL);
    return it;
}

static ct_future *
next_now(ct_as_completed *it)
{
    ct_future *f = NULL;
    CHECK_OK(ct_as_completed_next(it, &f));
    CHECK(f != NULL);
    return f;
}

static void
check_eof(const char *file, int line, ct_as_completed *it)
{
    for (int i = 0; i < 2; i++) {
        ct_future *f = NULL;
        int64_t t0 = ct_test_now();
        int rc = ct_as_completed_next(it, &f);
        if (rc != CT_EOF || ct_test_now() - t0 >= ct_test_quick_bound()) {
            ct_test_fail(file, line, "next at the end: %s", ct_err_name(rc));
        }
    }
    if (ct_as_completed_pending(it) != 0) {
        ct_test_fail(file, line, "%zu pending at the end",
                     ct_as_completed_pending(it));
    }
}
#define CHECK_EOF(it) check_eof(__FILE__, __LINE__, (it))

// Done at the start: in input order. Then in completion order, not input
// order, whether or not the consumer is waiting when they complete.
static void
as_completed_order(void)
{
    ct_future *fs[6] = {new_future(),         future_in(FAILED),
                        new_future(),         future_in(FINISHED),
                        future_in(CANCELLED), new_future()};
    ct_as_completed *it = iterate(fs, 6, ct_test_long_wait());
    CHECK_EQ(ct_as_completed_count(it), 6);
    CHECK_EQ(ct_as_completed_pending(it), 6);
    CHECK(next_now(it) == fs[1]);
    CHECK(next_now(it) == fs[3]);
    CHECK(next_now(it) == fs[4]);
    CHECK_EQ(ct_as_completed_pending(it), 3);
    // Completed after the start, before the next call: fs[5], then fs[0].
    CHECK_OK(ct_future_set_result(fs[5], RESULT));
    CHECK_OK(ct_future_set_exception(fs[0], CODE));
    CHECK(next_now(it) == fs[5]);
    CHECK(next_now(it) == fs[0]);
    CHECK_EQ(ct_as_completed_pending(it), 1);
    // The consumer blocks; a completion from another thread wakes it.
    call c = {.op = OP_AS_COMPLETED_NEXT, .it = it};
    start_call(&c);
    CHECK_BLOCKED(&c, 1);
    completer k = {.f = fs[2], .how = BY_CANCEL};
    pthread_t t = ct_test_spawn(completer_main, &k);
    CHECK_OK(FINISH(&c));
    CHECK(c.next == fs[2]);
    ct_test_join(t);
    CHECK_EOF(it);
    CHECK_EQ(ct_as_completed_count(it), 6);
    ct_as_completed_free(it);
    free_all(fs, 6);
}

// Futures completed by another thread in a chosen order come out in that
// order.
typedef struct sequencer {
    ct_future **fs;
    const int *order;
    int n;
} sequencer;

static void *
sequencer_main(void *p)
{
    sequencer *s = p;
    for (int i = 0; i < s->n; i++) {
        complete(s->fs[s->order[i]], (enum how)(i % 3));
    }
    return NULL;
}

static void
as_completed_follows_completion_order(void)
{
    enum { N = 6 };
    static const int orders[][N] = {
        {5, 4, 3, 2, 1, 0}, {0, 1, 2, 3, 4, 5}, {2, 5, 0, 3, 1, 4}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        ct_future *fs[N];
        for (int i = 0; i < N; i++) {
            fs[i] = new_future();
        }
        ct_as_completed *it = iterate(fs, N, CT_FOREVER);
        sequencer s = {fs, orders[o], N};
        pthread_t t = ct_test_spawn(sequencer_main, &s);
        ct_test_join(t);
        for (int i = 0; i < N; i++) {
            CHECK(next_now(it) == fs[orders[o][i]]);
        }
        CHECK_EOF(it);
        ct_as_completed_free(it);
        free_all(fs, N);
    }
}

// Duplicates are yielded once and counted once.
static void
as_completed_duplicates(void)
{
    ct_future *a = future_in(FINISHED), *b = new_future();
    ct_future *fs[5] = {a, b, a, b, a};
    ct_as_completed *it = iterate(fs, 5, ct_test_long_wait());
    CHECK_EQ(ct_as_completed_count(it), 2);
    CHECK_EQ(ct_as_completed_pending(it), 2);
    CHECK(next_now(it) == a);
    CHECK_OK(ct_future_set_result(b, RESULT));
    CHECK(next_now(it) == b);
    CHECK_EOF(it);
    ct_as_completed_free(it);
    CHECK_OK(ct_future_free(a));
    CHECK_OK(ct_future_free(b));
}

static void
as_completed_empty(void)
{
    ct_as_completed *it = iterate(NULL, 0, CT_FOREVER);
    CHECK_EQ(ct_as_completed_count(it), 0);
    CHECK_EOF(it);
    ct_as_completed_free(it);
    ct_future *f = new_future();
    it = iterate(&f, 0, CT_NOWAIT);
    CHECK_EOF(it);
    ct_as_completed_free(it);
    CHECK_OK(ct_future_free(f));
}

// The deadline covers the whole iteration: "2 (of 4) futures unfinished"
// at the deadline, and a later next() returns what completed since without
// waiting.
static void
as_completed_timeout(void)
{
    ct_future *fs[4] = {future_in(FINISHED), new_future(), future_in(FAILED),
                        future_in(RUNNING)};
    const ct_duration timeout = CT_MILLIS(100);
    int64_t t0 = ct_test_now();
    ct_as_completed *it = iterate(fs, 4, timeout);
    CHECK(next_now(it) == fs[0]);
    CHECK(next_now(it) == fs[2]);
    ct_future *got = UNSET;
    CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK_EQ(ct_as_completed_pending(it), 2);
    CHECK_EQ(ct_as_completed_count(it), 4);
    // Past the deadline: no more waiting.
    int64_t t1 = ct_test_now();
    CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
    CHECK(ct_test_now() - t1 < ct_test_quick_bound());
    CHECK_OK(ct_future_set_result(fs[3], RESULT));
    t1 = ct_test_now();
    CHECK(next_now(it) == fs[3]);
    CHECK_EQ(ct_as_completed_pending(it), 1);
    CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
    CHECK(ct_future_cancel(fs[1]));
    CHECK(next_now(it) == fs[1]);
    CHECK(ct_test_now() - t1 < ct_test_quick_bound());
    CHECK_EOF(it);
    ct_as_completed_free(it);
    free_all(fs, 4);
}

// The deadline runs from the start, also while the consumer is busy: a
// next() after it has passed does not wait a timeout of its own.
static void
as_completed_deadline_covers_consumer_time(void)
{
    const ct_duration timeout = (ct_duration)(CT_MILLIS(300) * ct_test_scale());
    ct_future *fs[2] = {future_in(FINISHED), new_future()};
    int64_t t0 = ct_test_now();
    ct_as_completed *it = iterate(fs, 2, timeout);
    CHECK(next_now(it) == fs[0]);
    // The consumer works past the deadline.
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, timeout), CT_ETIMEDOUT);
    int64_t t1 = ct_test_now();
    ct_future *got = NULL;
    CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
    // A fresh timeout per call would wait it all again.
    CHECK(ct_test_now() - t1 < timeout);
    CHECK(ct_test_now() - t0 >= timeout);
    CHECK_EQ(ct_as_completed_pending(it), 1);
    ct_as_completed_free(it);
    free_all(fs, 2);

    // A zero timeout: what is done, then CT_ETIMEDOUT at once.
    ct_future *gs[2] = {new_future(), future_in(NOTIFIED)};
    it = iterate(gs, 2, CT_NOWAIT);
    CHECK(next_now(it) == gs[1]);
    t1 = ct_test_now();
    CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
    CHECK(ct_test_now() - t1 < ct_test_quick_bound());
    CHECK_EQ(ct_as_completed_pending(it), 1);
    ct_as_completed_free(it); // ended early, with one pending
    free_all(gs, 2);
}

// Cancelled futures are delivered: cancelled before the start (either
// state) and cancelled while the consumer waits.
static void
as_completed_delivers_cancelled(void)
{
    ct_future *fs[3] = {new_future(), future_in(CANCELLED),
                        future_in(NOTIFIED)};
    ct_as_completed *it = iterate(fs, 3, ct_test_long_wait());
    CHECK(next_now(it) == fs[1]);
    CHECK(next_now(it) == fs[2]);
    call c = {.op = OP_AS_COMPLETED_NEXT, .it = it};
    start_call(&c);
    CHECK_BLOCKED(&c, 1);
    CHECK(ct_future_cancel(fs[0]));
    CHECK_OK(FINISH(&c));
    CHECK(c.next == fs[0]);
    CHECK_EOF(it);
    ct_as_completed_free(it);
    free_all(fs, 3);
}

static void
as_completed_bad_input(void)
{
    ct_future *f = future_in(FINISHED);
    ct_future *with_null[2] = {f, NULL};
    ct_as_completed *it = NULL;
    CHECK_RC(ct_as_completed_new(NULL, &f, 1, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_as_completed_new(&it, NULL, 1, CT_FOREVER), CT_EINVAL);
    CHECK_RC(ct_as_completed_new(&it, with_null, 2, CT_FOREVER), CT_EINVAL);
    ct_future *got = NULL;
    CHECK_RC(ct_as_completed_next(NULL, &got), CT_EINVAL);
    CHECK_EQ(ct_as_completed_pending(NULL), 0);
    CHECK_EQ(ct_as_completed_count(NULL), 0);
    ct_as_completed_free(NULL);
    it = iterate(&f, 1, CT_FOREVER);
    CHECK_RC(ct_as_completed_next(it, NULL), CT_EINVAL);
    // The NULL did not use the future up.
    CHECK_EQ(ct_as_completed_pending(it), 1);
    CHECK(next_now(it) == f);
    CHECK_EOF(it);
    ct_as_completed_free(it);
    CHECK_OK(ct_future_free(f));
}

// --- Many futures, many waiters ----------------------------------------------

// More futures than fit on a small stack array: FIRST_COMPLETED wakes for
// the one that completes, ALL_COMPLETED for the last, and as_completed
// follows the completion order.
static void
many_futures(void)
{
    enum { N = 100 };
    ct_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = new_future();
    }
    bool *flags = calloc(N, sizeof *flags);
    CHECK(flags != NULL);
    ct_as_completed *it = iterate(fs, N, ct_test_long_wait());
    completer k = {.f = fs[77], .how = BY_EXCEPTION};
    pthread_t t = ct_test_spawn(completer_main, &k);
    CHECK_RC(ct_wait(fs, N, ct_test_long_wait(), CT_FIRST_COMPLETED, flags), 1);
    for (int i = 0; i < N; i++) {
        CHECK(flags[i] == (i == 77));
    }
    ct_test_join(t);
    CHECK_RC(ct_wait(fs, N, CT_NOWAIT, CT_FIRST_EXCEPTION, NULL), 1);
    // Complete the rest backwards, from a thread, while ALL_COMPLETED waits.
    int order[N - 1];
    for (int i = 0, j = N - 1; j >= 0; j--) {
        if (j != 77) {
            order[i++] = j;
        }
    }
    sequencer s = {fs, order, N - 1};
    t = ct_test_spawn(sequencer_main, &s);
    CHECK_RC(ct_wait(fs, N, ct_test_long_wait(), CT_ALL_COMPLETED, flags), N);
    ct_test_join(t);
    for (int i = 0; i < N; i++) {
        CHECK(flags[i]);
    }
    CHECK(next_now(it) == fs[77]);
    for (int i = 0; i < N - 1; i++) {
        CHECK(next_now(it) == fs[order[i]]);
    }
    CHECK_EOF(it);
    ct_as_completed_free(it);
    free(flags);
    free_all(fs, N);
}

// A wait that timed out and an iteration freed early leave nothing behind
// in the futures: completing them afterwards touches no dead memory (ASan
// sees it) and runs their callbacks as usual.
static void
no_listener_left_behind(void)
{
    const size_t sizes[] = {1, 3, 40};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        ct_future **fs = calloc(n, sizeof *fs);
        CHECK(fs != NULL);
        for (size_t i = 0; i < n; i++) {
            fs[i] = new_future();
        }
        for (size_t m = 0; m < 3; m++) {
            CHECK_RC(ct_wait(fs, n, CT_MILLIS(5), all_modes[m], NULL),
                     CT_ETIMEDOUT);
        }
        ct_as_completed *it = iterate(fs, n, CT_MILLIS(5));
        ct_future *got = NULL;
        CHECK_RC(ct_as_completed_next(it, &got), CT_ETIMEDOUT);
        ct_as_completed_free(it);
        it = iterate(fs, n, CT_FOREVER); // never asked
        ct_as_completed_free(it);
        atomic_int calls = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK_OK(ct_future_add_done_callback(fs[i], count_cb, &calls));
            complete(fs[i], (enum how)(i % 3));
        }
        CHECK_EQ(atomic_load(&calls), (int)n);
        free_all(fs, n);
        free(fs);
    }
}

// One completion wakes every kind of waiter on the future at once:
// result(), exception(), ct_wait in each mode and two iterations.
static void
every_kind_of_waiter(void)
{
    ct_future *f = new_future();
    ct_future *other = new_future();
    ct_future *pair[2] = {other, f};
    ct_as_completed *it1 = iterate(&f, 1, CT_FOREVER);
    ct_as_completed *it2 = iterate(pair, 2, ct_test_long_wait());
    enum { N = 7 };
    call c[N] = {
        {.op = OP_RESULT, .f = f, .timeout = CT_FOREVER},
        {.op = OP_EXCEPTION, .f = f, .timeout = ct_test_long_wait()},
        {.op = OP_WAIT,
         .fs = pair,
         .n = 2,
         .timeout = CT_FOREVER,
         .return_when = CT_FIRST_COMPLETED},
        {.op = OP_WAIT,
         .fs = pair,
         .n = 2,
         .timeout = CT_FOREVER,
         .return_when = CT_FIRST_EXCEPTION},
        {.op = OP_WAIT,
         .fs = &f,
         .n = 1,
         .timeout = CT_FOREVER,
         .return_when = CT_ALL_COMPLETED},
        {.op = OP_AS_COMPLETED_NEXT, .it = it1},
        {.op = OP_AS_COMPLETED_NEXT, .it = it2},
    };
    for (int i = 0; i < N; i++) {
        start_call(&c[i]);
    }
    CHECK_BLOCKED(c, N);
    CHECK_OK(ct_future_set_exception(f, CODE));
    CHECK_RC(FINISH(&c[0]), CT_EFAILED);
    CHECK_OK(FINISH(&c[1]));
    CHECK_EQ(c[1].code, CODE);
    CHECK_RC(FINISH(&c[2]), 1);
    CHECK_FLAGS(c[2].done, false, true);
    CHECK_RC(FINISH(&c[3]), 1);
    CHECK_FLAGS(c[3].done, false, true);
    CHECK_RC(FINISH(&c[4]), 1);
    CHECK_OK(FINISH(&c[5]));
    CHECK(c[5].next == f);
    CHECK_OK(FINISH(&c[6]));
    CHECK(c[6].next == f);
    CHECK_EOF(it1);
    CHECK_EQ(ct_as_completed_pending(it2), 1);
    ct_as_completed_free(it1);
    ct_as_completed_free(it2);
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_future_free(other));
}

// --- Races -------------------------------------------------------------------

enum { RACE_ROUNDS = 2000, RACE_ROUNDS_SLOW = 200 };

static int
race_rounds(void)
{
    return TSAN_BUILD || ASAN_BUILD ? RACE_ROUNDS_SLOW : RACE_ROUNDS;
}

typedef struct race {
    pthread_barrier_t start, end;
    ct_future *f;
    atomic_int callbacks;
    bool cancel_ret;
    int start_ret;
    int set_ret;
} race;

static void
race_barrier(pthread_barrier_t *b)
{
    int rc = pthread_barrier_wait(b);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
}

static void *
race_canceller(void *p)
{
    race *r = p;
    for (int i = 0; i < race_rounds(); i++) {
        race_barrier(&r->start);
        r->cancel_ret = ct_future_cancel(r->f);
        race_barrier(&r->end);
    }
    return NULL;
}

static void *
race_worker(void *p)
{
    race *r = p;
    for (int i = 0; i < race_rounds(); i++) {
        race_barrier(&r->start);
        r->start_ret = ct_future_set_running_or_notify_cancel(r->f);
        r->set_ret =
            r->start_ret == 1 ? ct_future_set_result(r->f, RESULT) : -7777;
        race_barrier(&r->end);
    }
    return NULL;
}

// A cancel racing a worker's start: either the cancel wins (true; the
// worker is told 0 and does not run) or the start does (cancel false, the
// result set); never both, callbacks exactly once.
static void
cancel_races_start(void)
{
    race r = {0};
    CHECK_EQ(pthread_barrier_init(&r.start, NULL, 3), 0);
    CHECK_EQ(pthread_barrier_init(&r.end, NULL, 3), 0);
    pthread_t a = ct_test_spawn(race_canceller, &r);
    pthread_t b = ct_test_spawn(race_worker, &r);
    int cancelled = 0;
    for (int i = 0; i < race_rounds(); i++) {
        r.f = new_future();
        atomic_store(&r.callbacks, 0);
        CHECK_OK(ct_future_add_done_callback(r.f, count_cb, &r.callbacks));
        race_barrier(&r.start);
        race_barrier(&r.end);
        if (r.cancel_ret) {
            cancelled++;
            CHECK_RC(r.start_ret, 0);
            CHECK_EXACT(r.f, NOTIFIED);
        } else {
            CHECK_RC(r.start_ret, 1);
            CHECK_OK(r.set_ret);
            CHECK_STATE(r.f, FINISHED);
        }
        CHECK_EQ(atomic_load(&r.callbacks), 1);
        CHECK_OK(ct_future_free(r.f));
    }
    ct_test_join(a);
    ct_test_join(b);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.end);
    // Not asserted (scheduling decides), but both sides should win.
    (void)cancelled;
}

typedef struct wait_race {
    pthread_barrier_t start, end;
    ct_future *fs[4];
    int which; // the one to complete this round
} wait_race;

static void *
wait_race_completer(void *p)
{
    wait_race *w = p;
    for (int i = 0; i < race_rounds(); i++) {
        race_barrier(&w->start);
        complete(w->fs[w->which], (enum how)(i % 3));
        race_barrier(&w->end);
    }
    return NULL;
}

// ct_wait racing one completion: FIRST_COMPLETED (and FIRST_EXCEPTION when
// the completion is a failure) returns 1 with the right flag whether the
// completion came before, during or after its registration (a lost wake-up
// fails at the long wait).
static void
wait_races_completion(void)
{
    wait_race w = {0};
    CHECK_EQ(pthread_barrier_init(&w.start, NULL, 2), 0);
    CHECK_EQ(pthread_barrier_init(&w.end, NULL, 2), 0);
    pthread_t t = ct_test_spawn(wait_race_completer, &w);
    for (int i = 0; i < race_rounds(); i++) {
        for (int k = 0; k < 4; k++) {
            w.fs[k] = new_future();
        }
        w.which = (i * 7) % 4;
        // The completer completes with how = i % 3.
        int mode = i % 3 == BY_EXCEPTION && i % 2 ? CT_FIRST_EXCEPTION
                                                  : CT_FIRST_COMPLETED;
        race_barrier(&w.start);
        for (int y = 0; y < i % 4; y++) {
            sched_yield();
        }
        bool done[4];
        scribble(done, 4);
        int rc = ct_wait(w.fs, 4, ct_test_long_wait(), mode, done);
        race_barrier(&w.end);
        if (rc != 1) {
            ct_test_fail(__FILE__, __LINE__, "round %d (%s after %s): %s", i,
                         mode_names[mode], how_names[i % 3], ct_err_name(rc));
        }
        for (int k = 0; k < 4; k++) {
            CHECK(done[k] == (k == w.which));
        }
        free_all(w.fs, 4);
    }
    ct_test_join(t);
    pthread_barrier_destroy(&w.start);
    pthread_barrier_destroy(&w.end);
}

// clang-format off
// A future freed pending with callbacks registered frees their nodes too
// (the ASan build's leak check fails otherwise); they never run.
static atomic_int never_ran;

static void
cb_count_never(ct_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&never_ran, 1);
}

static void
free_pending_with_callbacks(void)
{
    ct_future *f = NULL;
    CHECK_OK(ct_future_new(&f));
    CHECK_OK(ct_future_add_done_callback(f, cb_count_never, NULL));
    CHECK_OK(ct_future_add_done_callback(f, cb_count_never, NULL));
    CHECK_OK(ct_future_free(f));
    CHECK_EQ(atomic_load(&never_ran), 0);
}

CT_SUITE(future) = {
    {"free pending with callbacks", free_pending_with_callbacks},
    {"new is pending", new_is_pending},
    {"observers in each state", observers_in_each_state},
    {"cancel in each state", cancel_in_each_state},
    {"set_running_or_notify_cancel in each state", set_running_in_each_state},
    {"set_result and set_exception in each state", set_outcome_in_each_state},
    {"set_exception with a zero code", set_exception_zero_code},
    {"failure codes round-trip", failure_codes_round_trip},
    {"results round-trip", results_round_trip},
    {"bad input", bad_input},
    {"result times out", result_times_out},
    {"waiters woken by the outcome", waiters_woken},
    {"result wakes on another thread's outcome", result_wakes_on_other_thread},
    {"set_running does not wake waiters", set_running_does_not_wake},
    {"callbacks in order", callbacks_in_order},
    {"same callback twice", same_callback_twice},
    {"callbacks in the completing thread", callbacks_in_completing_thread},
    {"callback on a done future runs at once", callback_on_done_future_runs_at_once},
    {"callbacks exactly once", callbacks_exactly_once},
    {"callback added from a callback", callback_added_from_callback},
    {"callback frees its own reference", callback_frees_its_reference},
    {"ref and free", ref_and_free},
    {"free from another thread", free_from_other_thread},
    {"double free in a debug build", double_free_in_debug_build},
    {"wait on nothing", wait_on_nothing},
    {"wait bad input", wait_bad_input},
    {"wait all done at entry", wait_all_done_at_entry},
    {"wait FIRST_COMPLETED", wait_first_completed},
    {"wait ALL_COMPLETED", wait_all_completed},
    {"wait FIRST_EXCEPTION", wait_first_exception},
    {"wait timeout fills the flags", wait_timeout_fills_flags},
    {"wait duplicates", wait_duplicates},
    {"wait counts cancelled as done", wait_counts_cancelled_as_done},
    {"as_completed order", as_completed_order},
    {"as_completed follows completion order", as_completed_follows_completion_order},
    {"as_completed duplicates", as_completed_duplicates},
    {"as_completed empty", as_completed_empty},
    {"as_completed timeout", as_completed_timeout},
    {"as_completed deadline covers the consumer's time", as_completed_deadline_covers_consumer_time},
    {"as_completed delivers cancelled", as_completed_delivers_cancelled},
    {"as_completed bad input", as_completed_bad_input},
    {"many futures", many_futures},
    {"no listener left behind", no_listener_left_behind},
    {"every kind of waiter", every_kind_of_waiter},
    {"cancel races start", cancel_races_start},
    {"wait races completion", wait_races_completion},
    {0},
};
// clang-format on
