// Tests for ct_executor (concurrent.futures.ThreadPoolExecutor), after
// Python's test_concurrent_futures: submit and results, the default and the
// bounds of max_workers, lazy workers (saturation, idle reuse), thread
// names, the initializer and a broken pool, every shutdown mode (from
// outside and from a worker), map, futures that outlive their executor or
// their caller's reference, pending work at process exit, then stress with
// many submitters, cancels racing workers, and waits racing completions.
#define _GNU_SOURCE // sched_getaffinity and CPU_COUNT, for the default
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "harness/test.h"

// --- Helpers -----------------------------------------------------------------

// Results and arguments are integers carried in the pointer.
#define P(v) ((void *)(intptr_t)(v))
#define V(p) ((intptr_t)(p))
// What an out-parameter holds before a call.
#define UNSET ((void *)(intptr_t)-7777)
// How long something that must wait is watched to see that it does not end.
#define BLOCKED_WINDOW CT_MILLIS(30)

static ct_executor *
new_executor(int max_workers, const char *prefix)
{
    ct_executor_opts o = {.max_workers = max_workers,
                          .thread_name_prefix = prefix};
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, &o));
    CHECK(ex != NULL);
    return ex;
}

static ct_future *
submit(ct_executor *ex, ct_task_fn *fn, void *arg)
{
    ct_future *f = UNSET;
    CHECK_OK(ct_executor_submit(ex, fn, arg, &f));
    CHECK(f != NULL && f != UNSET);
    return f;
}

// Waits for f's result (it must succeed) and returns it.
static void *
result_of(ct_future *f)
{
    void *value = UNSET;
    CHECK_OK(ct_future_result(f, &value, ct_test_long_wait()));
    return value;
}

static void
free_all(ct_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(ct_future_free(fs[i]));
    }
}

// Gives threads time to get where they are going (to block, or to start
// a worker that should not be started), by a wait on an event nobody sets.
static void
settle(void)
{
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, BLOCKED_WINDOW), CT_ETIMEDOUT);
}

// Computes 2 * arg; checks that *result starts NULL.
static int
task_double(void *arg, void **result)
{
    CHECK(*result == NULL);
    *result = P(2 * V(arg));
    return 0;
}

// Fails with the code in arg.
static int
task_fail(void *arg, void **result)
{
    (void)result;
    return (int)V(arg);
}

// Tasks that block until released, counting how many run at once.
typedef struct gate {
    ct_event go;
    atomic_int started;
    atomic_int finished;
    atomic_int running;
    atomic_int max_running;
} gate;

static int
task_blocked(void *arg, void **result)
{
    gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    ct_test_update_max(&g->max_running, atomic_fetch_add(&g->running, 1) + 1);
    CHECK_OK(ct_event_wait(&g->go, ct_test_long_wait()));
    atomic_fetch_sub(&g->running, 1);
    atomic_fetch_add(&g->finished, 1);
    *result = P(ct_get_ident());
    return 0;
}

// Counts its runs and returns arg + 1000.
static atomic_int counted_runs;

static int
task_counted(void *arg, void **result)
{
    atomic_fetch_add(&counted_runs, 1);
    *result = P(V(arg) + 1000);
    return 0;
}

// Waits until `n` tasks of the gate started, then a little more to see
// that no more start.
static void
check_started(const char *file, int line, gate *g, int n)
{
    if (!ct_test_poll_at_least(&g->started, n, ct_test_long_wait())) {
        ct_test_fail(file, line, "%d of %d tasks started",
                     atomic_load(&g->started), n);
    }
    settle();
    if (atomic_load(&g->started) != n) {
        ct_test_fail(file, line, "%d tasks started, want %d",
                     atomic_load(&g->started), n);
    }
}
#define CHECK_STARTED(g, n) check_started(__FILE__, __LINE__, (g), (n))

// Done-callback that counts.
static void
count_cb(ct_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

// The number of CPUs this process may run on.
static int
usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        return CPU_COUNT(&set);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int
default_workers(int cpus)
{
    return cpus + 4 < 32 ? cpus + 4 : 32;
}

// --- Submit and results ------------------------------------------------------

// Results come back; failures keep the task's own code (CT_EFAILED from
// result(), the code from exception()), even one that looks like a
// cthreading code. Workers start lazily.
static void
submit_and_result(void)
{
    ct_executor *ex = new_executor(0, NULL);
    CHECK_EQ(ct_executor_thread_count(ex), 0);
    enum { N = 10 };
    ct_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = submit(ex, task_double, P(i));
        CHECK(ct_executor_thread_count(ex) >= 1);
    }
    for (int i = 0; i < N; i++) {
        CHECK(result_of(fs[i]) == P(2 * i));
        int code = -1;
        CHECK_OK(ct_future_exception(fs[i], &code, CT_NOWAIT));
        CHECK_EQ(code, 0);
        CHECK(ct_future_done(fs[i]));
        CHECK(!ct_future_cancelled(fs[i]));
        CHECK(!ct_future_running(fs[i]));
        CHECK(!ct_future_cancel(fs[i]));
    }
    free_all(fs, N);

    const int codes[] = {1,          -1,         CT_ETIMEDOUT, CT_ECANCELED,
                         CT_EBROKEN, CT_EFAILED, INT_MIN,      INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ct_future *f = submit(ex, task_fail, P(codes[i]));
        void *value = UNSET;
        CHECK_RC(ct_future_result(f, &value, ct_test_long_wait()), CT_EFAILED);
        int code = 0;
        CHECK_OK(ct_future_exception(f, &code, CT_NOWAIT));
        CHECK_EQ(code, codes[i]);
        CHECK(!ct_future_cancelled(f));
        CHECK_OK(ct_future_free(f));
    }
    CHECK_OK(ct_executor_free(ex));
}

typedef struct probe {
    ct_event go;
    ct_event entered;
    uint64_t ident;
} probe;

static int
task_probe(void *arg, void **result)
{
    probe *p = arg;
    p->ident = ct_get_ident();
    CHECK_OK(ct_event_set(&p->entered));
    CHECK_OK(ct_event_wait(&p->go, ct_test_long_wait()));
    *result = P(7);
    return 0;
}

typedef struct ident_log {
    uint64_t ident;
    atomic_int calls;
} ident_log;

static void
ident_cb(ct_future *f, void *arg)
{
    ident_log *l = arg;
    CHECK(ct_future_done(f));
    l->ident = ct_get_ident();
    atomic_fetch_add(&l->calls, 1);
}

// A queued future is pending, a started one running, then finished; a
// queued one can be cancelled (its task never runs, later ones do), a
// running one cannot; callbacks run in the worker.
static void
states_through_the_executor(void)
{
    ct_executor *ex = new_executor(1, NULL);
    probe p = {.go = CT_EVENT_INIT, .entered = CT_EVENT_INIT};
    ct_future *running = submit(ex, task_probe, &p);
    ct_future *queued = submit(ex, task_counted, P(1));
    ident_log log = {0};
    CHECK_OK(ct_future_add_done_callback(running, ident_cb, &log));
    CHECK_OK(ct_event_wait(&p.entered, ct_test_long_wait()));
    CHECK(ct_future_running(running));
    CHECK(!ct_future_done(running));
    CHECK(!ct_future_running(queued));
    CHECK(!ct_future_done(queued));
    CHECK_RC(ct_future_result(running, NULL, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK(!ct_future_cancel(running));
    CHECK(ct_future_cancel(queued));
    CHECK(ct_future_cancelled(queued));
    CHECK_RC(ct_future_result(queued, NULL, CT_FOREVER), CT_ECANCELED);
    ct_future *later = submit(ex, task_counted, P(2));
    CHECK_OK(ct_event_set(&p.go));
    CHECK(result_of(running) == P(7));
    CHECK(result_of(later) == P(1002));
    CHECK(ct_test_poll_at_least(&log.calls, 1, ct_test_long_wait()));
    CHECK_EQ(log.ident, p.ident);
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&counted_runs), 1); // not the cancelled one
    CHECK_EQ(atomic_load(&log.calls), 1);
    CHECK(ct_future_cancelled(queued));
    CHECK_OK(ct_future_free(running));
    CHECK_OK(ct_future_free(queued));
    CHECK_OK(ct_future_free(later));
}

// --- Options -----------------------------------------------------------------

// max_workers 0 (NULL or zeroed options) is min(32, usable CPUs + 4).
static void
default_max_workers(void)
{
    int want = default_workers(usable_cpus());
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, NULL));
    CHECK_EQ(ct_executor_max_workers(ex), want);
    CHECK_OK(ct_executor_free(ex));
    ct_executor_opts zero;
    memset(&zero, 0, sizeof zero);
    CHECK_OK(ct_executor_new(&ex, &zero));
    CHECK_EQ(ct_executor_max_workers(ex), want);
    CHECK_OK(ct_executor_free(ex));
}

static void
one_cpu_child(void)
{
    cpu_set_t set;
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int first = 0;
    while (!CPU_ISSET(first, &set)) {
        first++;
    }
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    CHECK_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, NULL));
    CHECK_EQ(ct_executor_max_workers(ex), 5);
    CHECK_OK(ct_executor_free(ex));
}

// The CPUs this process may use (Python 3.13's process_cpu_count), not
// those the machine has: restricted to one, the default is 5.
static void
default_follows_affinity(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        SKIP("one CPU: affinity cannot make a difference");
    }
    CHECK_EQ(ct_test_in_child(one_cpu_child), 0);
}

static void
max_workers_bounds(void)
{
    const int good[] = {1, 2, 33, CT_EXECUTOR_MAX_WORKERS};
    int before = ct_active_count();
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ct_executor *ex = new_executor(good[i], NULL);
        CHECK_EQ(ct_executor_max_workers(ex), good[i]);
        CHECK_EQ(ct_executor_thread_count(ex), 0);
        CHECK_EQ(ct_active_count(), before); // starts no thread
        CHECK_OK(ct_executor_free(ex));
    }
    const int bad[] = {-1, -32, INT_MIN, CT_EXECUTOR_MAX_WORKERS + 1, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ct_executor_opts o = {.max_workers = bad[i]};
        ct_executor *ex = NULL;
        CHECK_RC(ct_executor_new(&ex, &o), CT_EINVAL);
    }
}

// NULL everywhere: CT_EINVAL (or 0 / nothing), never a crash or a wait;
// *future is NULL after a failed submit.
static void
bad_input(void)
{
    CHECK_RC(ct_executor_new(NULL, NULL), CT_EINVAL);
    ct_executor_opts o = {.max_workers = 2};
    CHECK_RC(ct_executor_new(NULL, &o), CT_EINVAL);

    ct_future *f = UNSET;
    CHECK_RC(ct_executor_submit(NULL, task_double, P(1), &f), CT_EINVAL);
    CHECK(f == NULL);
    CHECK_RC(ct_executor_submit(NULL, task_double, P(1), NULL), CT_EINVAL);
    void *args[1] = {P(1)};
    void *results[1] = {UNSET};
    CHECK_RC(ct_executor_map(NULL, task_double, args, 1, results, CT_FOREVER),
             CT_EINVAL);
    CHECK_RC(ct_executor_shutdown(NULL, true, true), CT_EINVAL);
    CHECK_RC(ct_executor_shutdown(NULL, false, false), CT_EINVAL);
    CHECK_OK(ct_executor_free(NULL));
    CHECK_EQ(ct_executor_max_workers(NULL), 0);
    CHECK_EQ(ct_executor_thread_count(NULL), 0);

    ct_executor *ex = new_executor(2, NULL);
    f = UNSET;
    CHECK_RC(ct_executor_submit(ex, NULL, P(1), &f), CT_EINVAL);
    CHECK(f == NULL);
    CHECK_RC(ct_executor_submit(ex, task_double, P(1), NULL), CT_EINVAL);
    CHECK_RC(ct_executor_map(ex, NULL, args, 1, results, CT_FOREVER),
             CT_EINVAL);
    CHECK_RC(ct_executor_map(ex, task_double, NULL, 1, results, CT_FOREVER),
             CT_EINVAL);
    CHECK_RC(ct_executor_map(ex, task_double, args, 1, NULL, CT_FOREVER),
             CT_EINVAL);
    CHECK(results[0] == UNSET);
    // Nothing was submitted by any of those.
    CHECK_EQ(ct_executor_thread_count(ex), 0);
    // n == 0: nothing to do, NULL arrays fine.
    CHECK_OK(ct_executor_map(ex, task_double, NULL, 0, NULL, CT_FOREVER));
    CHECK_OK(ct_executor_map(ex, task_double, args, 0, results, CT_NOWAIT));
    CHECK(results[0] == UNSET);
    CHECK_EQ(ct_executor_thread_count(ex), 0);
    // The executor still works.
    f = submit(ex, task_double, P(4));
    CHECK(result_of(f) == P(8));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
}

// A prefix is UTF-8 of at most 64 bytes.
static void
bad_prefix(void)
{
    char long_prefix[66];
    memset(long_prefix, 'p', 65);
    long_prefix[65] = '\0';
    ct_executor_opts o = {.thread_name_prefix = long_prefix};
    ct_executor *ex = NULL;
    CHECK_RC(ct_executor_new(&ex, &o), CT_EINVAL);
    long_prefix[64] = '\0';
    ex = new_executor(1, long_prefix);
    CHECK_OK(ct_executor_free(ex));
    const char *bad[] = {"\xff", "pool\xc3", "\xc3\x28", "\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.thread_name_prefix = bad[i];
        CHECK_RC(ct_executor_new(&ex, &o), CT_EINVAL);
    }
    ex = new_executor(1, "p\xc3\xa9ta\xe2\x82\xac");
    CHECK_OK(ct_executor_free(ex));
}

// --- Workers -----------------------------------------------------------------

// test_saturation: 60 tasks blocked on one event, max_workers 4: exactly
// 4 workers, never more than 4 tasks at once.
static void
saturation(void)
{
    enum { MAX = 4, N = 60 };
    ct_executor *ex = new_executor(MAX, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = submit(ex, task_blocked, &g);
        CHECK(ct_executor_thread_count(ex) <= MAX);
    }
    CHECK_STARTED(&g, MAX);
    CHECK_EQ(ct_executor_thread_count(ex), MAX);
    CHECK_OK(ct_event_set(&g.go));
    for (int i = 0; i < N; i++) {
        CHECK(result_of(fs[i]) != NULL);
    }
    CHECK_EQ(atomic_load(&g.finished), N);
    CHECK_EQ(atomic_load(&g.max_running), MAX);
    CHECK_EQ(ct_executor_thread_count(ex), MAX);
    free_all(fs, N);
    CHECK_OK(ct_executor_free(ex));
}

// Idle workers sleep: with 4 workers started and nothing to do, the
// process uses a small part of a CPU over 300 ms (a worker that cannot
// sleep burns a whole one). One-sided with wide slack.
static double
cpu_seconds(void)
{
    struct rusage ru;
    CHECK_OK(getrusage(RUSAGE_SELF, &ru));
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
idle_workers_sleep(void)
{
    enum { MAX = 4 };
    ct_executor *ex = new_executor(MAX, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *fs[MAX];
    for (int i = 0; i < MAX; i++) {
        fs[i] = submit(ex, task_blocked, &g);
    }
    CHECK_STARTED(&g, MAX);
    CHECK_OK(ct_event_set(&g.go));
    for (int i = 0; i < MAX; i++) {
        CHECK(result_of(fs[i]) != NULL);
    }
    free_all(fs, MAX);
    CHECK_EQ(ct_executor_thread_count(ex), MAX);
    ct_sleep(CT_MILLIS(50)); // let the searcher give up its spin
    double cpu0 = cpu_seconds();
    int64_t t0 = ct_monotonic_ns();
    ct_sleep(CT_MILLIS(300));
    double cpu = cpu_seconds() - cpu0;
    double wall = (double)(ct_monotonic_ns() - t0) / 1e9;
    if (!(cpu < 0.25 * wall)) {
        ct_test_fail(__FILE__, __LINE__,
                     "idle pool used %.3f s of CPU in %.3f s", cpu, wall);
    }
    CHECK_OK(ct_executor_free(ex));
}

// test_idle_thread_reuse: three submit+result in a row use one worker.
static void
idle_reuse(void)
{
    ct_executor *ex = new_executor(0, NULL);
    for (int i = 0; i < 3; i++) {
        ct_future *f = submit(ex, task_double, P(i));
        CHECK(result_of(f) == P(2 * i));
        CHECK_OK(ct_future_free(f));
    }
    CHECK_EQ(ct_executor_thread_count(ex), 1);
    // And with waits in between (the worker went to sleep).
    for (int i = 0; i < 3; i++) {
        settle();
        ct_future *f = submit(ex, task_double, P(i));
        CHECK(result_of(f) == P(2 * i));
        CHECK_OK(ct_future_free(f));
    }
    CHECK_EQ(ct_executor_thread_count(ex), 1);
    CHECK_OK(ct_executor_free(ex));
}

enum { NAME_MAX_LEN = 128 };

typedef struct namer {
    gate *g; // NULL: do not block
    char name[NAME_MAX_LEN];
} namer;

// Copies the worker's name, after blocking at the gate if there is one.
static int
task_name(void *arg, void **result)
{
    namer *n = arg;
    snprintf(n->name, sizeof n->name, "%s",
             ct_thread_name(ct_current_thread()));
    if (n->g != NULL) {
        task_blocked(n->g, result);
    }
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

// Workers are PREFIX_0, PREFIX_1, ... in creation order.
static void
thread_names(void)
{
    enum { N = 3 };
    ct_executor *ex = new_executor(N, "pool");
    gate g = {.go = CT_EVENT_INIT};
    namer names[N + 1];
    ct_future *fs[N + 1];
    for (int i = 0; i < N; i++) {
        names[i].g = &g;
        fs[i] = submit(ex, task_name, &names[i]);
    }
    CHECK_STARTED(&g, N);
    CHECK_OK(ct_event_set(&g.go));
    for (int i = 0; i < N; i++) {
        (void)result_of(fs[i]);
    }
    char sorted[N][NAME_MAX_LEN];
    for (int i = 0; i < N; i++) {
        memcpy(sorted[i], names[i].name, NAME_MAX_LEN);
    }
    qsort(sorted, N, NAME_MAX_LEN, cmp_str);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "pool_%d", i);
        if (strcmp(sorted[i], want) != 0) {
            ct_test_fail(__FILE__, __LINE__, "worker names %s, %s, %s",
                         sorted[0], sorted[1], sorted[2]);
        }
    }
    // A later task runs on one of them.
    names[N].g = NULL;
    fs[N] = submit(ex, task_name, &names[N]);
    (void)result_of(fs[N]);
    CHECK(strncmp(names[N].name, "pool_", 5) == 0);
    CHECK(names[N].name[5] >= '0' && names[N].name[5] < '0' + N);
    CHECK_EQ(strlen(names[N].name), 6);
    free_all(fs, N + 1);
    CHECK_OK(ct_executor_free(ex));
}

// Returns the name of the first worker of a new executor with `prefix`.
static void
first_worker_name(const char *prefix, char *out)
{
    ct_executor *ex = new_executor(1, prefix);
    namer n = {.g = NULL};
    ct_future *f = submit(ex, task_name, &n);
    (void)result_of(f);
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
    memcpy(out, n.name, NAME_MAX_LEN);
}

// No prefix (NULL or ""): "ThreadPoolExecutor-K_0", K counting executors.
static void
default_thread_names(void)
{
    char a[NAME_MAX_LEN], b[NAME_MAX_LEN];
    first_worker_name(NULL, a);
    first_worker_name("", b);
    int ka = -1, kb = -1;
    char rest[8];
    if (sscanf(a, "ThreadPoolExecutor-%d_%7s", &ka, rest) != 2 ||
        strcmp(rest, "0") != 0 ||
        sscanf(b, "ThreadPoolExecutor-%d_%7s", &kb, rest) != 2 ||
        strcmp(rest, "0") != 0) {
        ct_test_fail(__FILE__, __LINE__, "default worker names '%s', '%s'", a,
                     b);
    }
    CHECK(ka >= 0);
    CHECK_EQ(kb, ka + 1);
    // Exact form: no padding, nothing after.
    char want[NAME_MAX_LEN];
    snprintf(want, sizeof want, "ThreadPoolExecutor-%d_0", ka);
    CHECK(strcmp(a, want) == 0);
}

static atomic_int init_calls;
static _Thread_local void *init_seen; // what the initializer got, per thread
static uint64_t init_idents[8];

static int
record_init(void *arg)
{
    int i = atomic_fetch_add(&init_calls, 1);
    CHECK(i < 8);
    init_idents[i] = ct_get_ident();
    init_seen = arg;
    return 0;
}

static int initarg;

// Checks that its worker ran the initializer (with initarg) first.
static int
task_after_init(void *arg, void **result)
{
    CHECK(init_seen == &initarg);
    return task_blocked(arg, result);
}

// The initializer runs once in each worker, before its first task, with
// initarg.
static void
initializer_once_per_worker(void)
{
    enum { N = 3 };
    ct_executor_opts o = {
        .max_workers = N, .initializer = record_init, .initarg = &initarg};
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, &o));
    CHECK_EQ(atomic_load(&init_calls), 0); // no thread yet
    gate g = {.go = CT_EVENT_INIT};
    ct_future *fs[2 * N];
    for (int i = 0; i < N; i++) {
        fs[i] = submit(ex, task_after_init, &g);
    }
    CHECK_STARTED(&g, N);
    CHECK_EQ(atomic_load(&init_calls), N);
    CHECK_OK(ct_event_set(&g.go));
    for (int i = N; i < 2 * N; i++) {
        fs[i] = submit(ex, task_after_init, &g);
    }
    for (int i = 0; i < 2 * N; i++) {
        uint64_t ident = (uint64_t)V(result_of(fs[i]));
        bool found = false;
        for (int k = 0; k < N; k++) {
            found = found || init_idents[k] == ident;
        }
        CHECK(found);
    }
    CHECK_EQ(atomic_load(&init_calls), N);
    CHECK_EQ(ct_executor_thread_count(ex), N);
    free_all(fs, 2 * N);
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&init_calls), N);
}

static ct_event init_go = CT_EVENT_INIT;
static atomic_int init_ok_budget; // initializers that succeed before one fails

// Succeeds init_ok_budget times, then waits for init_go and fails with 5.
static int
failing_init(void *arg)
{
    (void)arg;
    if (atomic_fetch_sub(&init_ok_budget, 1) > 0) {
        return 0;
    }
    CHECK_OK(ct_event_wait(&init_go, ct_test_long_wait()));
    return 5;
}

static void
check_broken(const char *file, int line, ct_future *f)
{
    int rc = ct_future_result(f, NULL, ct_test_long_wait());
    int code = 0;
    int erc = ct_future_exception(f, &code, CT_NOWAIT);
    if (rc != CT_EFAILED || erc != 0 || code != CT_EBROKEN ||
        ct_future_cancelled(f)) {
        ct_test_fail(file, line,
                     "a future of a broken pool: result %s, exception %s "
                     "(code %d: %s), cancelled %d",
                     ct_err_name(rc), ct_err_name(erc), code, ct_err_name(code),
                     ct_future_cancelled(f));
    }
}
#define CHECK_BROKEN(f) check_broken(__FILE__, __LINE__, (f))

// A failing initializer breaks the pool: the queued futures fail with
// CT_EBROKEN (result() gives CT_EFAILED, exception() CT_EBROKEN), their
// tasks never run, and later submits and maps return CT_EBROKEN.
static void
initializer_failure_breaks_the_pool(void)
{
    enum { N = 5 };
    ct_executor_opts o = {.max_workers = 1, .initializer = failing_init};
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, &o));
    ct_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = submit(ex, task_counted, P(i));
    }
    CHECK_OK(ct_event_set(&init_go));
    for (int i = 0; i < N; i++) {
        CHECK_BROKEN(fs[i]);
    }
    CHECK_EQ(atomic_load(&counted_runs), 0);
    ct_future *f = UNSET;
    CHECK_RC(ct_executor_submit(ex, task_counted, P(9), &f), CT_EBROKEN);
    CHECK(f == NULL);
    void *args[2] = {P(1), P(2)};
    void *results[2];
    CHECK_RC(ct_executor_map(ex, task_counted, args, 2, results, CT_FOREVER),
             CT_EBROKEN);
    CHECK_OK(ct_executor_shutdown(ex, true, false));
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&counted_runs), 0);
    free_all(fs, N);
}

// A second worker's initializer fails while the first worker runs a task:
// that task is not affected; the queued ones fail.
static void
initializer_failure_spares_running_work(void)
{
    atomic_store(&init_ok_budget, 1);
    ct_executor_opts o = {.max_workers = 2, .initializer = failing_init};
    ct_executor *ex = NULL;
    CHECK_OK(ct_executor_new(&ex, &o));
    gate g = {.go = CT_EVENT_INIT};
    ct_future *running = submit(ex, task_blocked, &g);
    CHECK_STARTED(&g, 1);
    // The first worker is busy: these start the second, whose initializer
    // waits for init_go, then fails.
    ct_future *queued[3];
    for (int i = 0; i < 3; i++) {
        queued[i] = submit(ex, task_counted, P(i));
    }
    CHECK_EQ(ct_executor_thread_count(ex), 2);
    CHECK_OK(ct_event_set(&init_go));
    for (int i = 0; i < 3; i++) {
        CHECK_BROKEN(queued[i]);
    }
    CHECK(ct_future_running(running));
    ct_future *f = UNSET;
    CHECK_RC(ct_executor_submit(ex, task_counted, P(9), &f), CT_EBROKEN);
    CHECK(f == NULL);
    CHECK_OK(ct_event_set(&g.go));
    CHECK(result_of(running) != NULL);
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&counted_runs), 0);
    CHECK_OK(ct_future_free(running));
    free_all(queued, 3);
}

// --- Shutdown ----------------------------------------------------------------

// After shutdown, submit and map return CT_ESHUTDOWN; shutdown again in
// any mode is fine (idempotent), and so is the free after it.
static void
submit_after_shutdown(void)
{
    for (int started = 0; started < 2; started++) {
        ct_executor *ex = new_executor(2, NULL);
        if (started) {
            ct_future *f = submit(ex, task_double, P(1));
            CHECK(result_of(f) == P(2));
            CHECK_OK(ct_future_free(f));
        }
        CHECK_OK(ct_executor_shutdown(ex, started, false));
        ct_future *f = UNSET;
        CHECK_RC(ct_executor_submit(ex, task_double, P(1), &f), CT_ESHUTDOWN);
        CHECK(f == NULL);
        void *args[1] = {P(1)};
        void *results[1];
        CHECK_RC(ct_executor_map(ex, task_double, args, 1, results, CT_FOREVER),
                 CT_ESHUTDOWN);
        CHECK_OK(ct_executor_shutdown(ex, true, false));
        CHECK_OK(ct_executor_shutdown(ex, false, true));
        CHECK_OK(ct_executor_shutdown(ex, true, true));
        CHECK_OK(ct_executor_shutdown(ex, false, false));
        CHECK_RC(ct_executor_submit(ex, task_double, P(1), &f), CT_ESHUTDOWN);
        CHECK_EQ(ct_executor_thread_count(ex), started);
        CHECK_OK(ct_executor_free(ex));
    }
}

typedef struct shutdown_call {
    ct_executor *ex;
    bool wait, cancel;
    atomic_int returned;
    int rc;
} shutdown_call;

static void *
shutdown_main(void *p)
{
    shutdown_call *s = p;
    s->rc = ct_executor_shutdown(s->ex, s->wait, s->cancel);
    atomic_store(&s->returned, 1);
    return NULL;
}

typedef struct wait_call {
    ct_future **fs;
    size_t n;
    atomic_int started;
    atomic_int returned;
    int rc;
} wait_call;

// ct_wait(ALL_COMPLETED) on the futures, with a long timeout.
static void *
wait_main(void *p)
{
    wait_call *w = p;
    atomic_store(&w->started, 1);
    w->rc = ct_wait(w->fs, w->n, ct_test_long_wait(), CT_ALL_COMPLETED, NULL);
    atomic_store(&w->returned, 1);
    return NULL;
}

// shutdown(wait) returns once the running task and every queued one
// finished, and the workers exited.
static void
shutdown_waits_for_queued_work(void)
{
    int before = ct_active_count();
    ct_executor *ex = new_executor(2, NULL);
    gate g = {.go = CT_EVENT_INIT};
    enum { QUEUED = 6 };
    ct_future *blockers[2] = {submit(ex, task_blocked, &g),
                              submit(ex, task_blocked, &g)};
    ct_future *queued[QUEUED];
    for (int i = 0; i < QUEUED; i++) {
        queued[i] = submit(ex, task_counted, P(i));
    }
    CHECK_STARTED(&g, 2);
    CHECK_EQ(ct_active_count(), before + 2);
    // Two threads at once: both wait.
    shutdown_call s = {.ex = ex, .wait = true};
    shutdown_call s2 = {.ex = ex, .wait = true};
    pthread_t t = ct_test_spawn(shutdown_main, &s);
    pthread_t t2 = ct_test_spawn(shutdown_main, &s2);
    CHECK(!ct_test_poll_at_least(&s.returned, 1, BLOCKED_WINDOW));
    CHECK(!ct_test_poll_at_least(&s2.returned, 1, 0));
    CHECK_OK(ct_event_set(&g.go));
    CHECK(ct_test_poll_at_least(&s.returned, 1, ct_test_long_wait()));
    CHECK_OK(s.rc);
    // Everything ran, before shutdown returned.
    CHECK_EQ(atomic_load(&counted_runs), QUEUED);
    CHECK_EQ(atomic_load(&g.finished), 2);
    for (int i = 0; i < QUEUED; i++) {
        CHECK(ct_future_done(queued[i]));
        CHECK(result_of(queued[i]) == P(i + 1000));
    }
    CHECK(ct_future_done(blockers[0]) && ct_future_done(blockers[1]));
    CHECK_EQ(ct_active_count(), before);
    ct_test_join(t);
    ct_test_join(t2);
    CHECK_OK(s2.rc);
    CHECK_OK(ct_executor_free(ex));
    free_all(blockers, 2);
    free_all(queued, QUEUED);
}

// shutdown without wait returns while a task runs; the queued work still
// completes, and the free waits for it.
static void
shutdown_without_wait(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *running = submit(ex, task_blocked, &g);
    ct_future *queued[3];
    for (int i = 0; i < 3; i++) {
        queued[i] = submit(ex, task_counted, P(i));
    }
    CHECK_STARTED(&g, 1);
    int64_t t0 = ct_test_now();
    CHECK_OK(ct_executor_shutdown(ex, false, false));
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK(ct_future_running(running));
    for (int i = 0; i < 3; i++) {
        CHECK(!ct_future_done(queued[i]));
        CHECK(!ct_future_cancelled(queued[i]));
    }
    CHECK_OK(ct_event_set(&g.go));
    for (int i = 0; i < 3; i++) {
        CHECK(result_of(queued[i]) == P(i + 1000));
    }
    CHECK(result_of(running) != NULL);
    CHECK_OK(ct_executor_free(ex));
    CHECK_OK(ct_future_free(running));
    free_all(queued, 3);

    // The free alone waits for queued work too.
    ex = new_executor(1, NULL);
    gate g2 = {.go = CT_EVENT_INIT};
    running = submit(ex, task_blocked, &g2);
    for (int i = 0; i < 3; i++) {
        queued[i] = submit(ex, task_counted, P(i));
    }
    CHECK_STARTED(&g2, 1);
    CHECK_OK(ct_event_set(&g2.go));
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&counted_runs), 6);
    for (int i = 0; i < 3; i++) {
        CHECK(ct_future_done(queued[i]));
    }
    CHECK_OK(ct_future_free(running));
    free_all(queued, 3);
}

// cancel_futures cancels the queued futures (done for ct_wait and
// as_completed at once, callbacks run); the running one completes.
static void
shutdown_cancel_futures(void)
{
    for (int wait = 0; wait < 2; wait++) {
        enum { QUEUED = 5 };
        ct_executor *ex = new_executor(1, NULL);
        gate g = {.go = CT_EVENT_INIT};
        ct_future *running = submit(ex, task_blocked, &g);
        ct_future *queued[QUEUED];
        atomic_int callbacks = 0;
        for (int i = 0; i < QUEUED; i++) {
            queued[i] = submit(ex, task_counted, P(i));
            CHECK_OK(
                ct_future_add_done_callback(queued[i], count_cb, &callbacks));
        }
        CHECK_STARTED(&g, 1);
        // Blocked before the shutdown: the cancels wake it.
        wait_call w = {.fs = queued, .n = QUEUED};
        pthread_t tw = ct_test_spawn(wait_main, &w);
        CHECK(ct_test_poll_at_least(&w.started, 1, ct_test_long_wait()));
        CHECK(!ct_test_poll_at_least(&w.returned, 1, BLOCKED_WINDOW));
        shutdown_call s = {.ex = ex, .wait = wait, .cancel = true};
        pthread_t t = ct_test_spawn(shutdown_main, &s);
        if (wait) {
            CHECK(!ct_test_poll_at_least(&s.returned, 1, BLOCKED_WINDOW));
        } else {
            CHECK(ct_test_poll_at_least(&s.returned, 1, ct_test_long_wait()));
            CHECK_OK(s.rc);
        }
        for (int i = 0; i < QUEUED; i++) {
            CHECK_RC(ct_future_result(queued[i], NULL, ct_test_long_wait()),
                     CT_ECANCELED);
            CHECK(ct_future_cancelled(queued[i]));
            CHECK(ct_future_done(queued[i]));
        }
        CHECK(ct_test_poll_at_least(&callbacks, QUEUED, ct_test_long_wait()));
        ct_test_join(tw);
        CHECK_RC(w.rc, QUEUED);
        bool done[QUEUED];
        int64_t t0 = ct_test_now();
        CHECK_RC(ct_wait(queued, QUEUED, ct_test_long_wait(), CT_ALL_COMPLETED,
                         done),
                 QUEUED);
        ct_as_completed *it = NULL;
        CHECK_OK(ct_as_completed_new(&it, queued, QUEUED, ct_test_long_wait()));
        for (int i = 0; i < QUEUED; i++) {
            ct_future *f = NULL;
            CHECK_OK(ct_as_completed_next(it, &f));
            CHECK(f == queued[i]); // all done at the start: input order
        }
        ct_future *f = NULL;
        CHECK_RC(ct_as_completed_next(it, &f), CT_EOF);
        ct_as_completed_free(it);
        CHECK(ct_test_now() - t0 < ct_test_quick_bound());
        // The running task was not cancelled.
        CHECK(ct_future_running(running));
        CHECK(!ct_future_cancelled(running));
        CHECK_OK(ct_event_set(&g.go));
        CHECK(result_of(running) != NULL);
        ct_test_join(t);
        CHECK_OK(s.rc);
        CHECK_OK(ct_executor_free(ex));
        CHECK_EQ(atomic_load(&counted_runs), 0);
        CHECK_EQ(atomic_load(&callbacks), QUEUED);
        CHECK_OK(ct_future_free(running));
        free_all(queued, QUEUED);
    }
}

typedef struct self_call {
    ct_executor *ex;
    int how; // 0: shutdown(wait), 1: shutdown(no wait), 2: free
} self_call;

// Shuts down or frees its own executor and returns the code.
static int
task_self_shutdown(void *arg, void **result)
{
    self_call *c = arg;
    int rc = c->how == 2 ? ct_executor_free(c->ex)
                         : ct_executor_shutdown(c->ex, c->how == 0, false);
    *result = P(rc);
    return 0;
}

// From one of its own workers, shutdown(wait) and free return CT_EDEADLK
// without hanging, and the shutdown has started; shutdown without wait is
// fine.
static void
shutdown_from_own_worker(void)
{
    const int want[] = {CT_EDEADLK, 0, CT_EDEADLK};
    for (int how = 0; how < 3; how++) {
        ct_executor *ex = new_executor(2, NULL);
        self_call c = {ex, how};
        ct_future *f = submit(ex, task_self_shutdown, &c);
        int rc = (int)V(result_of(f));
        if (rc != want[how]) {
            ct_test_fail(__FILE__, __LINE__, "case %d from a worker: %s", how,
                         ct_err_name(rc));
        }
        ct_future *g = UNSET;
        CHECK_RC(ct_executor_submit(ex, task_double, P(1), &g), CT_ESHUTDOWN);
        CHECK(g == NULL);
        CHECK_OK(ct_executor_shutdown(ex, true, false));
        CHECK_OK(ct_executor_free(ex));
        CHECK_OK(ct_future_free(f));
    }
}

typedef struct cb_shutdown {
    ct_executor *ex;
    int rc;
    ct_event called;
} cb_shutdown;

static void
shutdown_cb(ct_future *f, void *arg)
{
    (void)f;
    cb_shutdown *c = arg;
    c->rc = ct_executor_shutdown(c->ex, true, false);
    CHECK_OK(ct_event_set(&c->called));
}

// A done-callback runs in the worker, so shutdown(wait) there is
// CT_EDEADLK too, without a hang.
static void
shutdown_from_callback_in_worker(void)
{
    ct_executor *ex = new_executor(2, NULL);
    gate g = {.go = CT_EVENT_INIT};
    cb_shutdown c = {.ex = ex, .rc = -7777, .called = CT_EVENT_INIT};
    ct_future *f = submit(ex, task_blocked, &g);
    CHECK_OK(ct_future_add_done_callback(f, shutdown_cb, &c));
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_event_wait(&c.called, ct_test_long_wait()));
    CHECK_RC(c.rc, CT_EDEADLK);
    ct_future *h = UNSET;
    CHECK_RC(ct_executor_submit(ex, task_double, P(1), &h), CT_ESHUTDOWN);
    CHECK_OK(ct_executor_free(ex));
    CHECK_OK(ct_future_free(f));
}

// --- map ---------------------------------------------------------------------

enum { CHAIN = 4 };

typedef struct chain {
    ct_event done[CHAIN];
} chain;

typedef struct chain_link {
    chain *c;
    int i;
} chain_link;

// Finishes after the next link: the tasks complete in reverse order.
static int
task_link(void *arg, void **result)
{
    chain_link *l = arg;
    if (l->i + 1 < CHAIN) {
        CHECK_OK(ct_event_wait(&l->c->done[l->i + 1], ct_test_long_wait()));
    }
    *result = P(10 * l->i);
    CHECK_OK(ct_event_set(&l->c->done[l->i]));
    return 0;
}

// Results come in input order, whatever the completion order; n == 0
// returns 0.
static void
map_in_input_order(void)
{
    ct_executor *ex = new_executor(CHAIN, NULL);
    chain c;
    memset(&c, 0, sizeof c);
    chain_link links[CHAIN];
    void *args[CHAIN], *results[CHAIN];
    for (int i = 0; i < CHAIN; i++) {
        links[i] = (chain_link){&c, i};
        args[i] = &links[i];
        results[i] = UNSET;
    }
    CHECK_OK(ct_executor_map(ex, task_link, args, CHAIN, results, CT_FOREVER));
    for (int i = 0; i < CHAIN; i++) {
        CHECK(results[i] == P(10 * i));
    }

    enum { N = 100 };
    void *many_args[N], *many[N];
    for (int i = 0; i < N; i++) {
        many_args[i] = P(i);
        many[i] = UNSET;
    }
    CHECK_OK(ct_executor_map(ex, task_double, many_args, N, many, CT_FOREVER));
    for (int i = 0; i < N; i++) {
        CHECK(many[i] == P(2 * i));
    }
    CHECK_OK(ct_executor_map(ex, task_double, many_args, 0, many, CT_NOWAIT));
    CHECK_OK(ct_executor_free(ex));
}

enum { MAP_N = 8, MAP_FAIL = 2 };

typedef struct map_case {
    ct_event go;
    atomic_int ran[MAP_N];
    int i;
} map_case;

typedef struct map_arg {
    map_case *m;
    int i;
} map_arg;

// Task i: MAP_FAIL fails with 9; those after it wait for go.
static int
task_map(void *arg, void **result)
{
    map_arg *a = arg;
    atomic_fetch_add(&a->m->ran[a->i], 1);
    if (a->i == MAP_FAIL) {
        return 9;
    }
    if (a->i > MAP_FAIL) {
        CHECK_OK(ct_event_wait(&a->m->go, ct_test_long_wait()));
    }
    *result = P(a->i + 100);
    return 0;
}

// The first failure in input order is returned with its own code, the
// results before it are filled, and the tasks not yet started are
// cancelled (one worker: at most one of them started).
static void
map_failure_cancels_the_rest(void)
{
    ct_executor *ex = new_executor(1, NULL);
    map_case m = {.go = CT_EVENT_INIT};
    map_arg margs[MAP_N];
    void *args[MAP_N], *results[MAP_N];
    for (int i = 0; i < MAP_N; i++) {
        margs[i] = (map_arg){&m, i};
        args[i] = &margs[i];
        results[i] = UNSET;
    }
    CHECK_RC(ct_executor_map(ex, task_map, args, MAP_N, results, CT_FOREVER),
             9);
    CHECK(results[0] == P(100));
    CHECK(results[1] == P(101));
    CHECK_OK(ct_event_set(&m.go));
    CHECK_OK(ct_executor_shutdown(ex, true, false));
    for (int i = 0; i <= MAP_FAIL; i++) {
        CHECK_EQ(atomic_load(&m.ran[i]), 1);
    }
    int later = 0;
    for (int i = MAP_FAIL + 1; i < MAP_N; i++) {
        later += atomic_load(&m.ran[i]);
    }
    if (later > 1) {
        ct_test_fail(__FILE__, __LINE__,
                     "%d tasks after the failure ran: not cancelled", later);
    }
    CHECK_OK(ct_executor_free(ex));
}

typedef struct map_call {
    ct_executor *ex;
    ct_task_fn *fn;
    void **args;
    size_t n;
    void **results;
    int rc;
} map_call;

typedef struct order_case {
    ct_event go;
    atomic_int fast_failed;
} order_case;

static order_case order_now;

// Task 0 fails late (after go) with 5; task 1 fails at once with 6.
static int
task_fail_late_or_fast(void *arg, void **result)
{
    (void)result;
    if (V(arg) == 0) {
        CHECK_OK(ct_event_wait(&order_now.go, ct_test_long_wait()));
        return 5;
    }
    atomic_store(&order_now.fast_failed, 1);
    return 6;
}

static void *
map_main(void *p)
{
    map_call *m = p;
    m->rc = ct_executor_map(m->ex, m->fn, m->args, m->n, m->results,
                            ct_test_long_wait());
    return NULL;
}

// "The first failure in input order": a later task that failed first does
// not win over an earlier one that fails after it.
static void
map_reports_first_failure_in_input_order(void)
{
    ct_executor *ex = new_executor(2, NULL);
    order_now = (order_case){.go = CT_EVENT_INIT};
    void *args[2] = {P(0), P(1)};
    void *results[2] = {UNSET, UNSET};
    map_call m = {ex, task_fail_late_or_fast, args, 2, results, -7777};
    pthread_t t = ct_test_spawn(map_main, &m);
    CHECK(
        ct_test_poll_at_least(&order_now.fast_failed, 1, ct_test_long_wait()));
    settle(); // map is waiting for task 0 by now, most of the time
    CHECK_OK(ct_event_set(&order_now.go));
    ct_test_join(t);
    CHECK_RC(m.rc, 5);
    CHECK_OK(ct_executor_free(ex));
}

// The deadline (now + timeout) passing: CT_ETIMEDOUT, never early, with
// the results before the late one filled.
static void
map_timeout(void)
{
    ct_executor *ex = new_executor(2, NULL);
    gate g = {.go = CT_EVENT_INIT};
    const ct_duration timeout = CT_MILLIS(50);
    ct_future *blocker = submit(ex, task_blocked, &g); // keeps one worker
    CHECK_STARTED(&g, 1);
    // Quick tasks meet a deadline on the other worker.
    void *quick[2] = {P(1), P(2)};
    void *quick_results[2] = {UNSET, UNSET};
    CHECK_OK(ct_executor_map(ex, task_double, quick, 2, quick_results,
                             ct_test_long_wait()));
    CHECK(quick_results[0] == P(2) && quick_results[1] == P(4));

    // One worker left busy by the blocker, the other by map's first task.
    void *slow[3] = {&g, &g, &g};
    void *slow_results[3] = {UNSET, UNSET, UNSET};
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_executor_map(ex, task_blocked, slow, 3, slow_results, timeout),
             CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, timeout);
    CHECK_OK(ct_event_set(&g.go));
    CHECK(result_of(blocker) != NULL);
    CHECK_OK(ct_executor_free(ex));
    // The blocker ran, and map's first task if it had started by the
    // deadline; the other two were cancelled (no worker was free for them).
    CHECK(atomic_load(&g.started) >= 1 && atomic_load(&g.started) <= 2);
    CHECK_OK(ct_future_free(blocker));

    // A zero timeout with a task still running times out at once.
    ex = new_executor(1, NULL);
    gate g2 = {.go = CT_EVENT_INIT};
    void *one[1] = {&g2};
    void *one_result[1] = {UNSET};
    t0 = ct_test_now();
    CHECK_RC(ct_executor_map(ex, task_blocked, one, 1, one_result, CT_NOWAIT),
             CT_ETIMEDOUT);
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK_OK(ct_event_set(&g2.go));
    CHECK_OK(ct_executor_free(ex));
}

static gate *blocked_gate;

// Blocks at blocked_gate for its argument, doubles any other.
static int
task_blocked_or_double(void *arg, void **result)
{
    if (arg == blocked_gate) {
        return task_blocked(arg, result);
    }
    return task_double(arg, result);
}

// A shutdown with cancel_futures while map waits: map returns CT_ECANCELED
// for the first cancelled task, with the results before it.
static void
map_cancelled_by_shutdown(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    blocked_gate = &g;
    void *args[3] = {&g, P(1), P(2)};
    void *results[3] = {UNSET, UNSET, UNSET};
    map_call m = {ex, task_blocked_or_double, args, 3, results, -7777};
    pthread_t t = ct_test_spawn(map_main, &m);
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_executor_shutdown(ex, false, true));
    CHECK_OK(ct_event_set(&g.go));
    ct_test_join(t);
    CHECK_RC(m.rc, CT_ECANCELED);
    CHECK(results[0] != UNSET && results[0] != NULL);
    CHECK_OK(ct_executor_free(ex));
}

// --- Futures and their executor ----------------------------------------------

static int
task_submits_and_waits(void *arg, void **result)
{
    ct_executor *ex = arg;
    ct_future *inner = submit(ex, task_double, P(21));
    *result = result_of(inner);
    CHECK_OK(ct_future_free(inner));
    return 0;
}

static int
task_submits(void *arg, void **result)
{
    ct_executor *ex = arg;
    *result = submit(ex, task_double, P(5));
    return 0;
}

// A task may submit to its own executor: and wait for the result where a
// second worker exists, or hand the future back with one worker.
static void
task_submits_to_same_executor(void)
{
    ct_executor *ex = new_executor(2, NULL);
    ct_future *f = submit(ex, task_submits_and_waits, ex);
    CHECK(result_of(f) == P(42));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));

    ex = new_executor(1, NULL);
    f = submit(ex, task_submits, ex);
    ct_future *inner = result_of(f);
    CHECK(inner != NULL);
    CHECK(result_of(inner) == P(10));
    CHECK_EQ(ct_executor_thread_count(ex), 1);
    CHECK_OK(ct_future_free(inner));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
}

// Python lets anyone set the outcome of a running or queued executor
// future: the first outcome stands, a queued task then never runs, the
// running one's own outcome is dropped, and the executor lets go of the
// future either way (ASan would see a leak).
static void
outcome_set_from_outside(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    atomic_int calls = 0;
    ct_future *running = submit(ex, task_blocked, &g);
    ct_future *queued = submit(ex, task_counted, P(1));
    CHECK_OK(ct_future_add_done_callback(running, count_cb, &calls));
    CHECK_OK(ct_future_add_done_callback(queued, count_cb, &calls));
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_future_set_result(running, P(77)));
    CHECK_OK(ct_future_set_exception(queued, 13));
    CHECK_EQ(atomic_load(&calls), 2); // here, in this thread
    CHECK(result_of(running) == P(77));
    CHECK(!ct_future_running(running));
    CHECK(!ct_future_cancel(queued));
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_executor_free(ex));
    CHECK(result_of(running) == P(77));
    int code = 0;
    CHECK_OK(ct_future_exception(queued, &code, CT_NOWAIT));
    CHECK_EQ(code, 13);
    CHECK_EQ(atomic_load(&counted_runs), 0);
    CHECK_EQ(atomic_load(&calls), 2);
    CHECK_EQ(atomic_load(&g.finished), 1);
    CHECK_OK(ct_future_free(running));
    CHECK_OK(ct_future_free(queued));
}

// Futures stay valid after their executor is freed, finished or cancelled.
static void
future_outlives_executor(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *done = submit(ex, task_double, P(3));
    CHECK(result_of(done) == P(6));
    ct_future *running = submit(ex, task_blocked, &g);
    ct_future *queued = submit(ex, task_double, P(4));
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_executor_shutdown(ex, false, true));
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_executor_free(ex));
    CHECK(result_of(done) == P(6));
    CHECK(result_of(running) != NULL);
    CHECK(ct_future_cancelled(queued));
    CHECK_RC(ct_future_result(queued, NULL, CT_NOWAIT), CT_ECANCELED);
    atomic_int calls = 0;
    CHECK_OK(ct_future_add_done_callback(done, count_cb, &calls));
    CHECK_OK(ct_future_add_done_callback(queued, count_cb, &calls));
    CHECK_EQ(atomic_load(&calls), 2);
    CHECK_OK(ct_future_free(done));
    CHECK_OK(ct_future_free(running));
    CHECK_OK(ct_future_free(queued));
}

typedef struct forgotten {
    ct_event called;
    int result_rc;
    void *value;
    bool done;
    int free_rc; // when the callback holds a reference of its own
    bool owns_ref;
} forgotten;

static void
forgotten_cb(ct_future *f, void *arg)
{
    forgotten *s = arg;
    s->done = ct_future_done(f);
    s->result_rc = ct_future_result(f, &s->value, CT_NOWAIT);
    if (s->owns_ref) {
        s->free_rc = ct_future_free(f);
    }
    CHECK_OK(ct_event_set(&s->called));
}

// Fire and forget: the caller drops its reference while the task runs;
// the future lives until its callbacks ran (one of which may hold and drop
// a reference of its own).
static void
fire_and_forget(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    forgotten a = {.called = CT_EVENT_INIT, .value = UNSET};
    forgotten b = {.called = CT_EVENT_INIT,
                   .value = UNSET,
                   .owns_ref = true,
                   .free_rc = -7777};
    forgotten c = {.called = CT_EVENT_INIT, .value = UNSET};
    ct_future *f = submit(ex, task_blocked, &g);
    CHECK_OK(ct_future_add_done_callback(f, forgotten_cb, &a));
    CHECK_OK(ct_future_add_done_callback(ct_future_ref(f), forgotten_cb, &b));
    // After b dropped what is then the last caller reference: the future
    // still lives for c (the executor's reference covers the callbacks).
    CHECK_OK(ct_future_add_done_callback(f, forgotten_cb, &c));
    CHECK_OK(ct_future_free(f));
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_event_wait(&a.called, ct_test_long_wait()));
    CHECK_OK(ct_event_wait(&b.called, ct_test_long_wait()));
    CHECK_OK(ct_event_wait(&c.called, ct_test_long_wait()));
    CHECK(a.done && b.done && c.done);
    CHECK_OK(a.result_rc);
    CHECK_OK(b.result_rc);
    CHECK_OK(c.result_rc);
    CHECK(a.value != UNSET && a.value == b.value && b.value == c.value);
    CHECK_OK(b.free_rc);

    // Many at once, never waited for.
    enum { N = 50 };
    atomic_int calls = 0;
    for (int i = 0; i < N; i++) {
        ct_future *h = submit(ex, task_double, P(i));
        CHECK_OK(ct_future_add_done_callback(h, count_cb, &calls));
        CHECK_OK(ct_future_free(h));
    }
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&calls), N);
}

// Freeing more references than the caller holds, while only the
// executor's is left, is CT_ESTATE (always detected), and does not take
// the executor's away: the task completes and its callbacks run.
static void
free_beyond_callers_references(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    forgotten a = {.called = CT_EVENT_INIT, .value = UNSET};
    ct_future *f = submit(ex, task_blocked, &g);
    CHECK_OK(ct_future_add_done_callback(f, forgotten_cb, &a));
    CHECK_STARTED(&g, 1);
    CHECK(ct_future_ref(f) == f);
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_future_free(f));
    CHECK_RC(ct_future_free(f), CT_ESTATE);
    CHECK_RC(ct_future_free(f), CT_ESTATE);
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_event_wait(&a.called, ct_test_long_wait()));
    CHECK_OK(a.result_rc);
    CHECK_OK(ct_executor_free(ex));
}

// --- Process exit ------------------------------------------------------------

static int exit_fd = -1;

// Still running when main exits: waits a little, then writes its line.
static int
task_write_late(void *arg, void **result)
{
    (void)result;
    ct_event never = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&never, CT_MILLIS(20)), CT_ETIMEDOUT);
    char line[32];
    int len = snprintf(line, sizeof line, "task %d\n", (int)V(arg));
    CHECK_EQ(write(exit_fd, line, (size_t)len), len);
    return 0;
}

static void
exit_from_main_child(void)
{
    ct_executor *ex = new_executor(1, "exiting");
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ct_future_free(submit(ex, task_write_late, P(i))));
    }
    // One running, two queued; the exit hook must finish them all.
    exit(0);
}

static ct_event exit_submitted = CT_EVENT_INIT;
static ct_event exit_release = CT_EVENT_INIT;

// Task 0: waits for the exiting task, then writes its line late.
static int
task_write_after_release(void *arg, void **result)
{
    CHECK_OK(ct_event_wait(&exit_release, ct_test_long_wait()));
    return task_write_late(arg, result);
}

// Calls exit() from a worker once everything is submitted.
static int
task_exit(void *arg, void **result)
{
    (void)arg;
    (void)result;
    CHECK_OK(ct_event_wait(&exit_submitted, ct_test_long_wait()));
    CHECK_OK(ct_event_set(&exit_release));
    exit(0);
}

static void
exit_from_task_child(void)
{
    ct_executor *ex = new_executor(2, NULL);
    CHECK_OK(ct_future_free(submit(ex, task_write_after_release, P(0))));
    CHECK_OK(ct_future_free(submit(ex, task_exit, NULL)));
    // Queued behind them: only the other worker is left to run these.
    for (int i = 2; i < 4; i++) {
        CHECK_OK(ct_future_free(submit(ex, task_write_late, P(i))));
    }
    CHECK_OK(ct_event_set(&exit_submitted));
    ct_event never = CT_EVENT_INIT;
    while (ct_event_wait(&never, CT_FOREVER) != 0) {
    }
}

// Runs fn in a forked child whose stdout-like pipe is exit_fd; returns its
// exit status and what it wrote (in out), failing if it does not end.
static int
run_exit_child(void (*fn)(void), char *out, size_t cap)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        exit_fd = fds[1];
        fn();
        _exit(99);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    // Reads until the child (and every thread) closed the pipe.
    while (n < cap - 1 && (r = read(fds[0], out + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int status = ct_test_wait_child(pid, ct_test_long_wait());
    if (status == -2) {
        ct_test_fail(__FILE__, __LINE__, "the child hangs at exit");
    }
    return status;
}

// At process exit (exit() from main, or from a task: then that worker's
// executor finishes without it) every executor is shut down and its
// pending work completes before the process ends, as in Python.
static void
pending_work_completes_at_exit(void)
{
    static const struct {
        void (*fn)(void);
        const char *out;
    } cases[] = {
        {exit_from_main_child, "task 0\ntask 1\ntask 2\n"},
        {exit_from_task_child, "task 0\ntask 2\ntask 3\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        int status = run_exit_child(cases[i].fn, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0) {
            ct_test_fail(__FILE__, __LINE__, "child %zu wrote '%s'", i, out);
        }
        CHECK_EQ(status, 0);
    }
}

static void
fork_child_new_executor(void)
{
    ct_executor *ex = new_executor(1, NULL);
    ct_future *f = submit(ex, task_double, P(8));
    CHECK(result_of(f) == P(16));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
    ex = new_executor(1, NULL);
    CHECK_OK(ct_future_free(submit(ex, task_double, P(1))));
    if (ASAN_BUILD) {
        // LeakSanitizer cannot follow a child forked from a threaded
        // process (it reports the parent's executor): run the exit hook
        // itself and skip the leak check.
        CHECK_OK(ct_shutdown());
        _exit(0);
    }
    exit(0); // the exit hook must not wait for the parent's workers
}

// fork() with an executor whose worker is alive: the child has none of the
// parent's workers, makes executors of its own and exits without hanging
// (Python's gh-94440); the parent's executor works on.
static void
fork_with_a_live_executor(void)
{
    if (TSAN_BUILD) {
        SKIP("TSan cannot start threads after a multi-threaded fork");
    }
    ct_executor *ex = new_executor(2, NULL);
    ct_future *f = submit(ex, task_double, P(1));
    CHECK(result_of(f) == P(2));
    CHECK_OK(ct_future_free(f));
    CHECK_EQ(ct_test_in_child(fork_child_new_executor), 0);
    f = submit(ex, task_double, P(3));
    CHECK(result_of(f) == P(6));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
}

// fork() after executors were made: the child may free the parent's
// executor (it has no workers there) without losing its own executors from
// the exit hook's list; ct_shutdown() then finishes the child's pool.
static ct_executor *parent_pool;

static void
fork_child_frees_parent_executor(void)
{
    ct_executor *mine = new_executor(1, NULL);
    ct_future *f = submit(mine, task_double, P(4));
    CHECK(result_of(f) == P(8));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(parent_pool));
    // Leave `mine` to the hook: with a lost registry entry its non-daemon
    // worker would never end, and this call would not return.
    CHECK_OK(ct_shutdown());
}

static void
fork_child_frees_the_parents_executor(void)
{
    ct_executor *other = new_executor(1, NULL);
    parent_pool = new_executor(1, NULL); // no worker; first in the list
    CHECK_EQ(ct_test_in_child(fork_child_frees_parent_executor), 0);
    CHECK_OK(ct_executor_free(other));
    CHECK_OK(ct_executor_free(parent_pool));
}

// A done-callback that runs in a worker, submits to the same pool and waits
// for that task gets a worker of its own (the callback's worker is busy),
// as in Python, instead of waiting behind itself.
static ct_executor *cb_pool;
static atomic_int cb_inner_rc = 1;
static ct_event cb_done = CT_EVENT_INIT;

static void
cb_submits_and_waits(ct_future *f, void *arg)
{
    (void)f;
    (void)arg;
    ct_future *g = NULL;
    int rc = ct_executor_submit(cb_pool, task_double, P(5), &g);
    if (rc == 0) {
        void *v = NULL;
        rc = ct_future_result(g, &v, ct_test_long_wait());
        if (rc == 0 && v != P(10)) {
            rc = -1;
        }
        CHECK_OK(ct_future_free(g));
    }
    atomic_store(&cb_inner_rc, rc);
    CHECK_OK(ct_event_set(&cb_done));
}

static void
callback_submits_and_waits(void)
{
    cb_pool = new_executor(4, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *f = submit(cb_pool, task_blocked, &g);
    CHECK_OK(ct_future_add_done_callback(f, cb_submits_and_waits, NULL));
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_event_set(&g.go));
    CHECK(result_of(f) != NULL);
    // The callback runs after the outcome is published: wait for it.
    CHECK_OK(ct_event_wait(&cb_done, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&cb_inner_rc), 0);
    CHECK_EQ(ct_executor_thread_count(cb_pool), 2);
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(cb_pool));
}

// Two threads in ct_shutdown() at once, one of them a pool's worker: the
// other one's exit hook joins that worker, which must not wait for it in
// turn (each skips threads that are inside ct_shutdown()).
static atomic_int user_in_shutdown;

static int
task_shuts_down(void *arg, void **result)
{
    (void)arg;
    (void)result;
    CHECK(ct_test_poll_at_least(&user_in_shutdown, 1, ct_test_long_wait()));
    ct_sleep(CT_MILLIS(50)); // widens the window: the user thread's hook
    return ct_shutdown();
}

static int
user_shuts_down(void *arg)
{
    (void)arg;
    atomic_store(&user_in_shutdown, 1);
    return ct_shutdown(); // its hook joins the worker
}

static void
two_shutdowns_child(void)
{
    ct_executor *ex = new_executor(1, NULL);
    ct_future *f = submit(ex, task_shuts_down, NULL);
    ct_thread *t;
    CHECK_OK(ct_thread_new(&t, user_shuts_down, NULL, NULL));
    CHECK_OK(ct_thread_start(t));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK(result_of(f) == NULL);
    ct_thread_free(t);
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_executor_free(ex));
}

static void
two_threads_in_ct_shutdown(void)
{
    CHECK_EQ(ct_test_in_child(two_shutdowns_child), 0);
}

static atomic_int ticket;
static int start_order[32];

static int
task_ticket(void *arg, void **result)
{
    (void)result;
    start_order[atomic_fetch_add(&ticket, 1)] = (int)V(arg);
    return 0;
}

// Work items start in submission order (one worker: one at a time).
static void
tasks_start_in_submission_order(void)
{
    enum { N = 32 };
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *blocker = submit(ex, task_blocked, &g);
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_future_free(submit(ex, task_ticket, P(i))));
    }
    CHECK_STARTED(&g, 1);
    CHECK_OK(ct_event_set(&g.go));
    CHECK_OK(ct_executor_free(ex));
    CHECK_EQ(atomic_load(&ticket), N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(start_order[i], i);
    }
    CHECK_OK(ct_future_free(blocker));
}

static void
refused_child(void)
{
    ct_executor *ex = new_executor(4, NULL);
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NPROC, &old), 0);
    // This process already counts against a limit of 1, so clone() fails;
    // root is exempt from RLIMIT_NPROC: become nobody first.
    struct rlimit one = {1, old.rlim_max};
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &one), 0);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        _exit(77);
    }
    ct_future *f = UNSET;
    int rc = ct_executor_submit(ex, task_double, P(1), &f);
    if (rc == 0) {
        _exit(78); // the limit did not bite here (a kernel without it)
    }
    // The pool's first thread refused: CT_EAGAIN, nothing queued.
    CHECK_RC(rc, CT_EAGAIN);
    CHECK(f == NULL);
    CHECK_EQ(ct_executor_thread_count(ex), 0);
    // Lifted: the same executor starts a worker.
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &old), 0);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *blocker = submit(ex, task_blocked, &g);
    CHECK_STARTED(&g, 1);
    // A later worker refused is no error: the task waits for the first.
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &one), 0);
    f = submit(ex, task_double, P(2));
    CHECK_OK(ct_event_set(&g.go));
    CHECK(result_of(f) == P(4));
    CHECK(result_of(blocker) != NULL);
    CHECK_EQ(ct_executor_thread_count(ex), 1);
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &old), 0);
    CHECK_OK(ct_executor_free(ex));
    CHECK_OK(ct_future_free(f));
    CHECK_OK(ct_future_free(blocker));
}

// CT_EAGAIN when the OS refuses the pool's first thread; a refused later
// worker is not an error.
static void
submit_refused_by_the_os(void)
{
    int status = ct_test_in_child(refused_child);
    if (status == 77) {
        SKIP("cannot drop root to make RLIMIT_NPROC bite");
    }
    if (status == 78) {
        SKIP("RLIMIT_NPROC did not stop a thread here");
    }
    CHECK_EQ(status, 0);
}

typedef struct exit_probe {
    ct_executor *ex;
    gate *g;
    int new_rc;
} exit_probe;

// Submits until the executor says CT_ESHUTDOWN (ct_shutdown began), then
// tries a new executor, then lets the blocked task go.
static void *
exit_prober(void *p)
{
    exit_probe *e = p;
    for (;;) {
        ct_future *f = NULL;
        int rc = ct_executor_submit(e->ex, task_double, P(1), &f);
        if (rc == CT_ESHUTDOWN) {
            CHECK(f == NULL);
            break;
        }
        CHECK_OK(rc);
        CHECK_OK(ct_future_free(f));
        sched_yield();
    }
    ct_executor *late = NULL;
    e->new_rc = ct_executor_new(&late, NULL);
    CHECK_OK(ct_event_set(&e->g->go));
    return NULL;
}

static void
shutdown_child(void)
{
    ct_executor *ex = new_executor(1, NULL);
    gate g = {.go = CT_EVENT_INIT};
    ct_future *blocker = submit(ex, task_blocked, &g);
    ct_future *queued[3];
    for (int i = 0; i < 3; i++) {
        queued[i] = submit(ex, task_counted, P(i));
    }
    CHECK_STARTED(&g, 1);
    exit_probe e = {.ex = ex, .g = &g, .new_rc = -7777};
    pthread_t t = ct_test_spawn(exit_prober, &e);
    CHECK_OK(ct_shutdown());
    // Every executor was shut down and its work finished.
    CHECK(ct_future_done(blocker));
    CHECK_EQ(atomic_load(&counted_runs), 3);
    for (int i = 0; i < 3; i++) {
        CHECK(ct_future_done(queued[i]));
    }
    ct_test_join(t);
    CHECK_RC(e.new_rc, CT_ESHUTDOWN);
    ct_executor *late = NULL;
    CHECK_RC(ct_executor_new(&late, NULL), CT_ESHUTDOWN);
    CHECK_OK(ct_executor_free(ex));
    CHECK_OK(ct_future_free(blocker));
    free_all(queued, 3);
}

// ct_shutdown() (what the process runs at exit) shuts every executor down
// and waits for its queued work; from then on submits and new executors
// get CT_ESHUTDOWN.
static void
ct_shutdown_finishes_executors(void)
{
    CHECK_EQ(ct_test_in_child(shutdown_child), 0);
}

// --- Stress ------------------------------------------------------------------

static bool
slow_build(void)
{
    return TSAN_BUILD || ASAN_BUILD;
}

enum { SUBMITTERS = 4, STRESS_WORKERS = 3 };

typedef struct stress {
    ct_executor *ex;
    int per;
    atomic_int *ran;
    atomic_int *called;
} stress;

static stress *stress_now;

static int
task_stress(void *arg, void **result)
{
    intptr_t i = V(arg);
    atomic_fetch_add(&stress_now->ran[i], 1);
    *result = P(3 * i + 1);
    return 0;
}

typedef struct submitter {
    stress *s;
    int id;
} submitter;

static void *
submitter_main(void *p)
{
    submitter *sub = p;
    stress *s = sub->s;
    for (int k = 0; k < s->per; k++) {
        int i = sub->id * s->per + k;
        ct_future *f = submit(s->ex, task_stress, P(i));
        CHECK_OK(ct_future_add_done_callback(f, count_cb, &s->called[i]));
        if (k % 2 == 0) {
            CHECK(result_of(f) == P(3 * i + 1));
        }
        CHECK_OK(ct_future_free(f)); // odd ones: fire and forget
        CHECK(ct_executor_thread_count(s->ex) <= STRESS_WORKERS);
    }
    return NULL;
}

// Four threads submit many tasks to three workers: every task runs once,
// every callback runs once, results are right, no more than max_workers
// threads start.
static void
stress_submitters(void)
{
    stress s = {.per = slow_build() ? 300 : 3000};
    int total = SUBMITTERS * s.per;
    s.ran = calloc((size_t)total, sizeof *s.ran);
    s.called = calloc((size_t)total, sizeof *s.called);
    CHECK(s.ran != NULL && s.called != NULL);
    s.ex = new_executor(STRESS_WORKERS, NULL);
    stress_now = &s;
    submitter subs[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (submitter){&s, i};
    }
    ct_test_run_threads(SUBMITTERS, submitter_main, subs, sizeof subs[0]);
    CHECK_OK(ct_executor_free(s.ex));
    for (int i = 0; i < total; i++) {
        if (atomic_load(&s.ran[i]) != 1 || atomic_load(&s.called[i]) != 1) {
            ct_test_fail(__FILE__, __LINE__,
                         "task %d: ran %d times, %d callbacks", i,
                         atomic_load(&s.ran[i]), atomic_load(&s.called[i]));
        }
    }
    free(s.ran);
    free(s.called);
}

typedef struct cancel_race {
    ct_executor *ex;
    int n;
    ct_future **fs;
    atomic_int published;
    bool *cancel_ret;
    atomic_int *ran;
    atomic_int *called;
} cancel_race;

static cancel_race *cancel_now;

static int
task_cancel_race(void *arg, void **result)
{
    atomic_fetch_add(&cancel_now->ran[V(arg)], 1);
    *result = P(V(arg) + 1);
    return 0;
}

static void *
canceller_main(void *p)
{
    cancel_race *c = p;
    for (int i = 0; i < c->n; i++) {
        while (atomic_load(&c->published) <= i) {
            sched_yield();
        }
        c->cancel_ret[i] = ct_future_cancel(c->fs[i]);
    }
    return NULL;
}

// Cancels race workers starting the tasks: each future ends either
// cancelled (cancel returned true, the task never ran) or finished (cancel
// returned false, the task ran once), with its callback run exactly once.
static void
stress_cancel_races_start(void)
{
    cancel_race c = {.n = slow_build() ? 500 : 5000};
    c.fs = calloc((size_t)c.n, sizeof *c.fs);
    c.cancel_ret = calloc((size_t)c.n, sizeof *c.cancel_ret);
    c.ran = calloc((size_t)c.n, sizeof *c.ran);
    c.called = calloc((size_t)c.n, sizeof *c.called);
    CHECK(c.fs && c.cancel_ret && c.ran && c.called);
    c.ex = new_executor(2, NULL);
    cancel_now = &c;
    pthread_t t = ct_test_spawn(canceller_main, &c);
    for (int i = 0; i < c.n; i++) {
        c.fs[i] = submit(c.ex, task_cancel_race, P(i));
        CHECK_OK(ct_future_add_done_callback(c.fs[i], count_cb, &c.called[i]));
        atomic_store(&c.published, i + 1);
    }
    ct_test_join(t);
    CHECK_OK(ct_executor_free(c.ex));
    int cancelled = 0;
    for (int i = 0; i < c.n; i++) {
        ct_future *f = c.fs[i];
        CHECK(ct_future_done(f));
        CHECK_EQ(atomic_load(&c.called[i]), 1);
        if (c.cancel_ret[i]) {
            cancelled++;
            CHECK(ct_future_cancelled(f));
            CHECK_RC(ct_future_result(f, NULL, CT_NOWAIT), CT_ECANCELED);
            CHECK_EQ(atomic_load(&c.ran[i]), 0);
        } else {
            CHECK(!ct_future_cancelled(f));
            void *value = UNSET;
            CHECK_OK(ct_future_result(f, &value, CT_NOWAIT));
            CHECK(value == P(i + 1));
            CHECK_EQ(atomic_load(&c.ran[i]), 1);
        }
        CHECK_OK(ct_future_free(f));
    }
    (void)cancelled; // how many, scheduling decides
    free(c.fs);
    free(c.cancel_ret);
    free(c.ran);
    free(c.called);
}

// ct_wait(FIRST_COMPLETED) and as_completed over futures the workers are
// completing right now: the flags agree with done(), each future comes out
// of as_completed once, and nothing is lost.
static void
stress_waits_race_completions(void)
{
    enum { K = 4 };
    int rounds = slow_build() ? 100 : 1000;
    ct_executor *ex = new_executor(3, NULL);
    for (int r = 0; r < rounds; r++) {
        ct_future *fs[K];
        for (int k = 0; k < K; k++) {
            fs[k] = submit(ex, task_double, P(k));
        }
        bool done[K];
        int rc = ct_wait(fs, K, ct_test_long_wait(), CT_FIRST_COMPLETED, done);
        CHECK(rc >= 1 && rc <= K);
        int flagged = 0;
        for (int k = 0; k < K; k++) {
            flagged += done[k];
            CHECK(!done[k] || ct_future_done(fs[k]));
        }
        CHECK_EQ(flagged, rc);

        ct_as_completed *it = NULL;
        CHECK_OK(ct_as_completed_new(&it, fs, K, ct_test_long_wait()));
        bool seen[K] = {false};
        for (int k = 0; k < K; k++) {
            ct_future *f = NULL;
            CHECK_OK(ct_as_completed_next(it, &f));
            CHECK(ct_future_done(f));
            int at = -1;
            for (int j = 0; j < K; j++) {
                at = fs[j] == f ? j : at;
            }
            CHECK(at >= 0 && !seen[at]);
            seen[at] = true;
        }
        ct_future *f = NULL;
        CHECK_RC(ct_as_completed_next(it, &f), CT_EOF);
        ct_as_completed_free(it);
        CHECK_RC(ct_wait(fs, K, CT_NOWAIT, CT_ALL_COMPLETED, NULL), K);
        for (int k = 0; k < K; k++) {
            CHECK(result_of(fs[k]) == P(2 * k));
        }
        free_all(fs, K);
    }
    CHECK_OK(ct_executor_free(ex));
}

// clang-format off
CT_SUITE(executor) = {
    {"submit and result", submit_and_result},
    {"states through the executor", states_through_the_executor},
    {"default max_workers", default_max_workers},
    {"default follows affinity", default_follows_affinity},
    {"max_workers bounds", max_workers_bounds},
    {"bad input", bad_input},
    {"bad prefix", bad_prefix},
    {"saturation", saturation},
    {"idle reuse", idle_reuse},
    {"idle workers sleep", idle_workers_sleep},
    {"callback submits and waits", callback_submits_and_waits},
    {"fork child frees the parent's executor", fork_child_frees_the_parents_executor},
    {"two threads in ct_shutdown", two_threads_in_ct_shutdown},
    {"thread names", thread_names},
    {"default thread names", default_thread_names},
    {"initializer once per worker", initializer_once_per_worker},
    {"initializer failure breaks the pool", initializer_failure_breaks_the_pool},
    {"initializer failure spares running work", initializer_failure_spares_running_work},
    {"submit after shutdown", submit_after_shutdown},
    {"shutdown waits for queued work", shutdown_waits_for_queued_work},
    {"shutdown without wait", shutdown_without_wait},
    {"shutdown cancel_futures", shutdown_cancel_futures},
    {"shutdown from own worker", shutdown_from_own_worker},
    {"shutdown from a callback in a worker", shutdown_from_callback_in_worker},
    {"map in input order", map_in_input_order},
    {"map failure cancels the rest", map_failure_cancels_the_rest},
    {"map reports the first failure in input order", map_reports_first_failure_in_input_order},
    {"map timeout", map_timeout},
    {"map cancelled by shutdown", map_cancelled_by_shutdown},
    {"task submits to same executor", task_submits_to_same_executor},
    {"outcome set from outside", outcome_set_from_outside},
    {"future outlives executor", future_outlives_executor},
    {"fire and forget", fire_and_forget},
    {"free beyond the caller's references", free_beyond_callers_references},
    {"pending work completes at exit", pending_work_completes_at_exit},
    {"fork with a live executor", fork_with_a_live_executor},
    {"tasks start in submission order", tasks_start_in_submission_order},
    {"submit refused by the OS", submit_refused_by_the_os},
    {"ct_shutdown finishes executors", ct_shutdown_finishes_executors},
    {"stress submitters", stress_submitters},
    {"stress cancel races start", stress_cancel_races_start},
    {"stress waits race completions", stress_waits_race_completions},
    {0},
};
// clang-format on
