// Tests of `ctlab gil` (lab/lab_gil.c): the command runs with --quick, and
// its --json document holds the invariants each experiment claims (rows
// that add up, claims whose verdicts agree with the numbers), and its
// --svg timeline renders.
#include <math.h>
#include <string.h>

#include "ctlab_run.h"
#include "test.h"

// The number at `path` (printf-style) in doc.
static double
num_at(const json_value *doc, const char *fmt, int i)
{
    char p[160];
    snprintf(p, sizeof p, fmt, i);
    return json_num(doc, p);
}

// The verdict of the claim `claim` of experiment `exp`: 1 held, 0 not,
// and fails the test when the claim is missing.
static int
claim_held(const json_value *doc, const char *exp, const char *claim)
{
    char p[160];
    snprintf(p, sizeof p, "experiments.%s.claims", exp);
    const json_value *claims = json_get(doc, p);
    CHECK(claims != NULL && claims->type == JSON_ARRAY);
    for (size_t i = 0; i < claims->len; i++) {
        const char *c = json_str(claims->items[i], "claim");
        const json_value *held = json_get(claims->items[i], "held");
        CHECK(c != NULL && held != NULL && held->type == JSON_BOOL);
        CHECK(json_str(claims->items[i], "conclusion") != NULL);
        if (strcmp(c, claim) == 0) {
            return held->boolean;
        }
    }
    ct_test_fail(__FILE__, __LINE__, "%s: no claim '%s'", exp, claim);
}

static void
check_cpu(const json_value *doc)
{
    static const char *const how[] = {"sequential", "threads_gil",
                                      "threads_nogil", "processes"};
    const char *rows = "experiments.gil_cpu.tables.cpu.rows[%d].";
    char p[160];
    double seq = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "experiments.gil_cpu.tables.cpu.rows[%d].how", i);
        check_str(__LINE__, doc, p, how[i]);
        char f[200];
        snprintf(f, sizeof f, "%swall_ms", rows);
        double wall = num_at(doc, f, i);
        CHECK(wall > 0);
        seq = i == 0 ? wall : seq;
        snprintf(f, sizeof f, "%sspeedup", rows);
        double speed = num_at(doc, f, i);
        CHECK(fabs(speed - seq / wall) <= 1e-9 * speed);
    }
    double gil =
        num_at(doc, "experiments.gil_cpu.tables.cpu.rows[%d].speedup", 1);
    CHECK(claim_held(doc, "gil_cpu",
                     "CPU-bound threads under the GIL are no faster than "
                     "one") == (gil <= 1.15));
}

static void
check_io(const json_value *doc)
{
    double tasks = json_num(doc, "experiments.gil_io.params.tasks");
    CHECK(tasks >= 2);
    static const char *const policy[] = {"-", "cpython", "cpython", "handoff",
                                         "io_priority"};
    for (int i = 0; i < 5; i++) {
        char p[160];
        snprintf(p, sizeof p, "experiments.gil_io.tables.io.rows[%d].policy",
                 i);
        check_str(__LINE__, doc, p, policy[i]);
    }
    // The tasks alone overlap: one-sided and generous (10 tasks of 5 ms
    // take 50 ms one after another).
    double speed =
        num_at(doc, "experiments.gil_io.tables.io.rows[%d].speedup", 1);
    if (!(speed > 2)) {
        ct_test_fail(__FILE__, __LINE__,
                     "%g I/O-bound threads ran only %gx faster than one "
                     "after another",
                     tasks, speed);
    }
    CHECK(
        claim_held(doc, "gil_io", "I/O-bound threads overlap under the GIL") ==
        (speed >= 0.5 * tasks));
}

static void
check_convoy(const json_value *doc)
{
    static const char *const policy[] = {"cpython", "handoff", "io_priority"};
    double med[3];
    for (int i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p,
                 "experiments.gil_convoy.tables.convoy.rows[%d].policy", i);
        check_str(__LINE__, doc, p, policy[i]);
        CHECK(num_at(doc, "experiments.gil_convoy.tables.convoy.rows[%d].n",
                     i) >= 1);
        med[i] = num_at(
            doc, "experiments.gil_convoy.tables.convoy.rows[%d].median_us", i);
        double p99 = num_at(
            doc, "experiments.gil_convoy.tables.convoy.rows[%d].p99_us", i);
        CHECK(med[i] >= 0 && p99 >= med[i]);
    }
    CHECK(claim_held(doc, "gil_convoy",
                     "an I/O thread beside a CPU-bound one waits an "
                     "interval") == (med[0] >= 2500));
    CHECK(claim_held(doc, "gil_convoy",
                     "the I/O-priority policy removes the convoy effect") ==
          (med[2] <= 500));
}

static void
check_interval_and_timeline(const json_value *doc)
{
    for (int i = 0; i < 2; i++) {
        double ms = num_at(
            doc,
            "experiments.gil_interval.tables.interval.rows[%d].interval_ms", i);
        CHECK(ms == (i == 0 ? 1 : 5));
        CHECK(num_at(doc,
                     "experiments.gil_interval.tables.interval.rows[%d]."
                     "median_ms",
                     i) > 0);
        CHECK(num_at(doc,
                     "experiments.gil_timeline.tables.timeline.rows[%d].holds",
                     i) >= 1);
        CHECK(num_at(doc,
                     "experiments.gil_timeline.tables.timeline.rows[%d]."
                     "io_calls",
                     i) >= 1);
    }
}

// The whole command, quick: every experiment's invariants, and the SVG.
static void
gil_quick_json_and_svg(void)
{
    scratch s = {0};
    scratch_make(&s);
    const char *svg = scratch_file(&s, "gil.svg");
    const char *png = scratch_file(&s, "gil.png");
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s,
        (const char *[]){"gil", "--quick", "--no-python", "--svg", svg, NULL},
        NULL, &r, 0);
    CHECK(strstr(r.out, "gil cpu") != NULL);
    check_str(__LINE__, doc, "command", "gil");
    check_cpu(doc);
    check_io(doc);
    check_convoy(doc);
    check_interval_and_timeline(doc);
    json_free(doc);
    render_svg(&s, svg, png);
}

// Without --svg there is no timeline experiment.
static void
gil_without_svg(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"gil", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    CHECK(json_get(doc, "experiments.gil_cpu") != NULL);
    CHECK(json_get(doc, "experiments.gil_timeline") == NULL);
    json_free(doc);
    scratch_remove(&s);
}

// --threads beyond what gil runs is a usage error: exit 2, nothing ran.
static void
gil_too_many_threads(void)
{
    run_result r;
    run_ctlab((const char *[]){"gil", "--quick", "--threads", "9", NULL}, NULL,
              &r);
    check_status(__LINE__, "ctlab gil --threads 9", &r, 2);
    CHECK(strstr(r.out, "gil cpu") == NULL);
    CHECK(strstr(r.err, "threads") != NULL);
}

CT_SUITE(ctlab_gil) = {
    {"gil quick json and svg", gil_quick_json_and_svg},
    {"gil without svg", gil_without_svg},
    {"gil too many threads", gil_too_many_threads},
    {0},
};
