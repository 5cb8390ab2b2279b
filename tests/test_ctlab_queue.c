// Tests of `ctlab queue` and `ctlab pool`: each runs (as a process, the
// ctlab built beside ct_tests) with --quick --json, and its document is
// checked for the invariants it claims: every item exactly once, the queue
// never above maxsize, join only after every task_done; a pool on at most
// max_workers threads, correct results, I/O-bound tasks that overlap. And
// each claim's verdict must agree with the numbers beside it.
#include <math.h>
#include <string.h>

#include "ctlab_run.h"
#include "json_mini.h"
#include "lab.h"
#include "test.h"

// Returns the verdict of claim `claim` of experiment `exp`, failing the
// test if the claim is missing or malformed.
static bool
claim_held(int line, const json_value *doc, const char *exp, const char *claim)
{
    char p[160];
    snprintf(p, sizeof p, "experiments.%s.claims", exp);
    const json_value *claims = json_get(doc, p);
    if (claims == NULL || claims->type != JSON_ARRAY) {
        ct_test_fail(__FILE__, line, "%s: no claims", exp);
    }
    for (size_t i = 0; i < claims->len; i++) {
        const char *name = json_str(claims->items[i], "claim");
        const json_value *held = json_get(claims->items[i], "held");
        if (name != NULL && strcmp(name, claim) == 0) {
            if (held == NULL || held->type != JSON_BOOL ||
                json_str(claims->items[i], "conclusion") == NULL) {
                ct_test_fail(__FILE__, line, "%s: claim '%s' malformed", exp,
                             claim);
            }
            return held->boolean;
        }
    }
    ct_test_fail(__FILE__, line, "%s: no claim '%s'", exp, claim);
    return false;
}

// The number at "experiments.EXP.PATH".
static double
num_at(const json_value *doc, const char *exp, const char *path)
{
    char p[200];
    snprintf(p, sizeof p, "experiments.%s.%s", exp, path);
    return json_num(doc, p);
}

// Fails unless the number at "experiments.EXP.PATH" equals want.
static void
expect(int line, const json_value *doc, const char *exp, const char *path,
       double want)
{
    char p[200];
    snprintf(p, sizeof p, "experiments.%s.%s", exp, path);
    check_num(line, doc, p, want);
}

static const char *
str_at(const json_value *doc, const char *exp, const char *path)
{
    char p[200];
    snprintf(p, sizeof p, "experiments.%s.%s", exp, path);
    return json_str(doc, p);
}

// The invariants of a queue document made with `threads` (for the "many"
// shape) and per_producer items per producer.
static void
check_queue_doc(const json_value *doc, double per_producer, double threads)
{
    // The lesson: 3 producers, 2 consumers, maxsize 10.
    const char *e = "queue";
    expect(__LINE__, doc, e, "params.producers", 3);
    expect(__LINE__, doc, e, "params.consumers", 2);
    double maxsize = num_at(doc, e, "params.maxsize");
    CHECK(maxsize == 10);
    expect(__LINE__, doc, e, "params.per_producer", per_producer);
    double put = num_at(doc, e, "tables.run.rows[0].put");
    CHECK(put == 3 * per_producer);
    expect(__LINE__, doc, e, "tables.run.rows[0].received", put);
    expect(__LINE__, doc, e, "tables.run.rows[0].duplicated", 0);
    expect(__LINE__, doc, e, "tables.run.rows[0].missing", 0);
    const char *sum = str_at(doc, e, "tables.run.rows[0].checksum_ok");
    CHECK(sum != NULL && strcmp(sum, "ok") == 0);
    double max_held = num_at(doc, e, "tables.run.rows[0].max_held");
    CHECK(max_held >= 0 && max_held <= maxsize);
    expect(__LINE__, doc, e, "params.fill_accepted", maxsize);
    double full = num_at(doc, e, "tables.run.rows[0].full");
    CHECK(full >= 0 && full <= put);
    CHECK(num_at(doc, e, "tables.run.rows[0].items_per_s") > 0);
    CHECK(claim_held(__LINE__, doc, e, "every item arrives exactly once"));
    CHECK(claim_held(__LINE__, doc, e,
                     "the queue never holds more than maxsize"));
    CHECK(claim_held(__LINE__, doc, e, "a full queue blocks the producers") ==
          (full > 0));

    // The shapes: each moved 3 x per_producer items (split among its
    // producers), each exactly once, through both queues.
    e = "queue_shapes";
    static const char *const shapes[] = {"lesson", "1p1c_unbounded",
                                         "1p1c_maxsize1", "many"};
    const double producers[] = {3, 1, 1, threads};
    double geo = 0;
    for (int i = 0; i < 4; i++) {
        char p[96];
        snprintf(p, sizeof p, "tables.shapes.rows[%d].shape", i);
        const char *name = str_at(doc, e, p);
        CHECK(name != NULL && strcmp(name, shapes[i]) == 0);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].producers", i);
        expect(__LINE__, doc, e, p, producers[i]);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].items", i);
        double items = num_at(doc, e, p);
        double per = floor(3 * per_producer / producers[i]);
        CHECK(items == (per < 1 ? 1 : per) * producers[i]);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].exact", i);
        const char *exact = str_at(doc, e, p);
        CHECK(exact != NULL && strcmp(exact, "yes") == 0);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].ct_queue", i);
        double ours = num_at(doc, e, p);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].naive", i);
        double naive = num_at(doc, e, p);
        CHECK(ours > 0 && naive > 0);
        snprintf(p, sizeof p, "tables.shapes.rows[%d].ratio", i);
        CHECK(fabs(num_at(doc, e, p) - ours / naive) <= 1e-9 * ours / naive);
        geo += log(ours / naive);
    }
    geo = exp(geo / 4);
    CHECK(fabs(num_at(doc, e, "params.geomean_ratio") - geo) <= 1e-6 * geo);
    CHECK(claim_held(__LINE__, doc, e,
                     "every item arrives exactly once in every shape"));

    // task_done / join.
    e = "queue_join";
    double items = num_at(doc, e, "params.items");
    CHECK(items == per_producer);
    expect(__LINE__, doc, e, "params.unfinished_before", items);
    expect(__LINE__, doc, e, "params.done_at_join", items);
    expect(__LINE__, doc, e, "params.unfinished_after", 0);
    const char *s = str_at(doc, e, "params.join_nowait");
    CHECK(s != NULL && strcmp(s, "CT_ETIMEDOUT") == 0);
    s = str_at(doc, e, "params.join");
    CHECK(s != NULL && strcmp(s, "OK") == 0);
    s = str_at(doc, e, "params.extra_task_done");
    CHECK(s != NULL && strcmp(s, "CT_EOVERFLOW") == 0);
    CHECK(claim_held(__LINE__, doc, e,
                     "join returns only after every task_done"));
    CHECK(
        claim_held(__LINE__, doc, e, "task_done called too often is refused"));
}

// `ctlab queue --quick --json F` exits 0 and its document holds the
// invariants; the printed tables name the shapes.
static void
queue_quick_json(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"queue", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    check_str(__LINE__, doc, "command", "queue");
    check_num(__LINE__, doc, "exit", 0);
    check_queue_doc(doc, 1000, 4);
    check_str(__LINE__, doc, "experiments.queue_shapes.params.python",
              "absent");
    json_free(doc);
    CHECK(strstr(r.out, "1p1c_unbounded") != NULL);
    CHECK(strstr(r.out, "mutex+2 conds") != NULL);
    scratch_remove(&s);
}

// --items and --threads reach the experiments.
static void
queue_sizes_from_flags(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc =
        run_ctlab_json(__LINE__, &s,
                       (const char *[]){"queue", "--items", "70", "--threads=3",
                                        "--no-python", NULL},
                       NULL, &r, 0);
    check_queue_doc(doc, 70, 3);
    check_num(__LINE__, doc,
              "experiments.queue_shapes.tables.shapes.rows[3]"
              ".consumers",
              3);
    json_free(doc);
    scratch_remove(&s);
}

// With python3 present, the shapes table has its queue.Queue column.
static void
queue_python_column(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"queue", "--quick", NULL}, NULL, &r, 0);
    const char *py = python_or_skip(
        __LINE__, doc, "experiments.queue_shapes.params.python", &s);
    CHECK(strcmp(py, "failed") != 0);
    const char *t = "experiments.queue_shapes.tables.shapes";
    char p[160];
    snprintf(p, sizeof p, "%s.rows[0].python", t);
    CHECK(json_num(doc, p) > 0);
    snprintf(p, sizeof p, "%s.rows[1].python", t);
    CHECK(json_get(doc, p) != NULL && json_get(doc, p)->type == JSON_NULL);
    json_free(doc);
    scratch_remove(&s);
}

// The invariants of a pool document made with `workers` workers.
static void
check_pool_doc(const json_value *doc, double workers)
{
    const char *e = "pool_reuse";
    double tasks = num_at(doc, e, "params.tasks");
    CHECK(tasks >= 1);
    expect(__LINE__, doc, e, "params.max_workers", workers);
    double started = num_at(doc, e, "tables.reuse.rows[0].threads_started");
    double distinct = num_at(doc, e, "tables.reuse.rows[0].distinct_threads");
    CHECK(started >= 1 && started <= workers);
    CHECK(distinct >= 1 && distinct <= workers);
    expect(__LINE__, doc, e, "tables.reuse.rows[1].distinct_threads", tasks);
    double pool_us = num_at(doc, e, "tables.reuse.rows[0].us_per_task");
    double thread_us = num_at(doc, e, "tables.reuse.rows[1].us_per_task");
    CHECK(pool_us > 0 && thread_us > 0);
    CHECK(claim_held(__LINE__, doc, e,
                     "a pool reuses at most max_workers threads"));
    CHECK(claim_held(__LINE__, doc, e,
                     "a pool task costs less than a thread per task") ==
          (thread_us / pool_us > 1));

    // I/O-bound: one-sided and generous, the machine may be loaded.
    e = "pool_io";
    CHECK(num_at(doc, e, "params.speedup_all") > 1);
    CHECK(num_at(doc, e, "params.speedup_small") > 1);
    double io_tasks = num_at(doc, e, "params.tasks");
    CHECK(io_tasks >= 1);
    double ideal = num_at(doc, e, "tables.io.rows[2].ideal");
    CHECK(fabs(ideal - io_tasks / ceil(io_tasks / workers)) < 1e-9);
    expect(__LINE__, doc, e, "tables.io.rows[1].workers", io_tasks);

    e = "pool_cpu";
    expect(__LINE__, doc, e, "params.wrong", 0);
    CHECK(num_at(doc, e, "params.speedup") > 0);
    CHECK(claim_held(__LINE__, doc, e,
                     "the pool's results equal the sequential ones"));

    e = "pool_futures";
    double n = num_at(doc, e, "params.tasks");
    CHECK(n >= 1);
    expect(__LINE__, doc, e, "params.map_wrong", 0);
    expect(__LINE__, doc, e, "params.as_completed_yielded", n);
    expect(__LINE__, doc, e, "params.as_completed_wrong", 0);
    expect(__LINE__, doc, e, "params.as_completed_twice", 0);
    CHECK(claim_held(__LINE__, doc, e, "map returns every result in order"));
    CHECK(
        claim_held(__LINE__, doc, e, "as_completed yields every future once"));
}

// `ctlab pool --quick --json F` exits 0 and its document holds the
// invariants.
static void
pool_quick_json(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"pool", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    check_str(__LINE__, doc, "command", "pool");
    check_num(__LINE__, doc, "exit", 0);
    check_pool_doc(doc, 4);
    check_num(__LINE__, doc, "experiments.pool_reuse.params.tasks", 200);
    json_free(doc);
    CHECK(strstr(r.out, "ct_thread per task") != NULL);
    scratch_remove(&s);
}

// --threads sets the pool size, --tasks and --sleep-ms the sizes.
static void
pool_sizes_from_flags(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s,
        (const char *[]){"pool", "--quick", "--threads", "2", "--tasks", "50",
                         "--sleep-ms", "5", "--no-python", NULL},
        NULL, &r, 0);
    check_pool_doc(doc, 2);
    check_num(__LINE__, doc, "experiments.pool_reuse.params.tasks", 50);
    check_num(__LINE__, doc, "experiments.pool_io.params.sleep_ms", 5);
    check_num(__LINE__, doc, "experiments.pool_cpu.params.workers", 2);
    json_free(doc);
    scratch_remove(&s);
}

// With python3 present, the CPU-bound experiment has Python's table.
static void
pool_python_table(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"pool", "--quick", NULL}, NULL, &r, 0);
    const char *py =
        python_or_skip(__LINE__, doc, "experiments.pool_cpu.params.python", &s);
    CHECK(strcmp(py, "failed") != 0);
    double speedup =
        json_num(doc, "experiments.pool_cpu.tables.python.rows[1].speedup");
    CHECK(speedup > 0);
    // The verdict agrees with the number (whatever this Python did).
    CHECK(claim_held(__LINE__, doc, "pool_cpu",
                     "python: threads do not speed up CPU-bound work") ==
          (speedup < 1.3));
    json_free(doc);
    scratch_remove(&s);
}

// The tour runs both commands.
static void
tour_runs_queue_and_pool(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"tour", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    check_queue_doc(doc, 1000, 4);
    check_pool_doc(doc, 4);
    json_free(doc);
    CHECK(strstr(r.out, "ctlab queue") != NULL);
    CHECK(strstr(r.out, "ctlab pool") != NULL);
    scratch_remove(&s);
}

// Help for both, on stdout, exit 0.
static void
help_exits_zero(void)
{
    static const char *const names[] = {"queue", "pool"};
    for (int i = 0; i < 2; i++) {
        run_result r;
        run_ctlab((const char *[]){names[i], "--help", NULL}, NULL, &r);
        check_status(__LINE__, names[i], &r, 0);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: ctlab %s", names[i]);
        CHECK(strncmp(r.out, usage, strlen(usage)) == 0);
        CHECK(strstr(r.out, i == 0 ? "--items" : "--sleep-ms") != NULL);
    }
}

// A bad flag is a usage error: exit 2, nothing run.
static void
bad_flag_exits_two(void)
{
    static const char *const cases[][4] = {
        {"queue", "--bogus"},
        {"queue", "--items", "0"},
        {"pool", "--tasks", "-5"},
        {"pool", "--sleep-ms", "5000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r;
        run_ctlab(cases[i], NULL, &r);
        check_status(__LINE__, cases[i][1], &r, LAB_EXIT_USAGE);
        CHECK(strstr(r.err, "usage: ctlab") != NULL);
        CHECK(r.out[0] == '\0');
    }
}

CT_SUITE(ctlab_queue) = {
    {"queue quick json invariants", queue_quick_json},
    {"queue sizes from flags", queue_sizes_from_flags},
    {"queue python column", queue_python_column},
    {"pool quick json invariants", pool_quick_json},
    {"pool sizes from flags", pool_sizes_from_flags},
    {"pool python table", pool_python_table},
    {"tour runs queue and pool", tour_runs_queue_and_pool},
    {"help exits zero", help_exits_zero},
    {"bad flag exits two", bad_flag_exits_two},
    {0},
};
