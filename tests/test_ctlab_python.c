// Tests of `ctlab python` (lab/lab_python.c): with python3, the Python
// halves of the lessons run alone and their JSON holds their invariants;
// without it, it says so and exits 0; --no-python contradicts it.
#include <string.h>

#include "ctlab_run.h"
#include "test.h"

static void
python_runs_each_lesson(void)
{
    scratch s = {0};
    scratch_make(&s);
    const char *json = scratch_file(&s, "python.json");
    run_result r;
    run_ctlab((const char *[]){"python", "--quick", "--json", json, NULL}, NULL,
              &r);
    json_value *doc = parse_or_fail(__LINE__, json);
    if (json_get(doc, "experiments.python") != NULL) {
        check_str(__LINE__, doc, "experiments.python.params.python", "absent");
        json_free(doc);
        scratch_remove(&s);
        SKIP("python3 not installed");
    }
    check_status(__LINE__, "ctlab python --quick", &r, 0);
    // race: the locked counter is exact.
    const char *race = "experiments.race_python.tables.python";
    char p[160];
    snprintf(p, sizeof p, "%s.rows[0].expected", race);
    double expected = json_num(doc, p);
    CHECK(expected >= 1);
    snprintf(p, sizeof p, "%s.rows[1].observed", race);
    check_num(__LINE__, doc, p, expected);
    // sync: the Semaphore(3) held; the buffer delivered each item once.
    CHECK(json_num(doc, "experiments.sync_python_semaphore.tables.python."
                        "rows[0].max_inside") <= 3);
    const json_value *buf =
        json_get(doc, "experiments.sync_python_buffer.tables.python.rows[0]");
    CHECK(buf != NULL);
    CHECK(json_num(buf, "taken") == json_num(buf, "items"));
    // queue and pool ran too.
    CHECK(json_num(doc, "experiments.queue_python.tables.python.rows[0]."
                        "items_per_s") > 0);
    CHECK(json_get(doc, "experiments.pool_python.tables.python") != NULL);
    // gil: five rows, each speedup the first row's wall over its own, and
    // the CPU claim agrees with its number.
    const json_value *rows =
        json_get(doc, "experiments.gil_python.tables.python.rows");
    CHECK(rows != NULL && rows->len == 5);
    double threads = json_num(rows->items[1], "speedup");
    CHECK(threads > 0);
    const json_value *claims = json_get(doc, "experiments.gil_python.claims");
    CHECK(claims != NULL && claims->len == 2);
    CHECK(strcmp(json_str(claims->items[0], "claim"),
                 "python: CPU-bound threads are no faster than one") == 0);
    CHECK(json_get(claims->items[0], "held")->boolean == (threads <= 1.15));
    json_free(doc);
    scratch_remove(&s);
}

static void
python_absent(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"python", "--quick", NULL},
        "/nonexistent/python3", &r, 0);
    CHECK(strstr(r.out, "not found") != NULL);
    check_str(__LINE__, doc, "experiments.python.params.python", "absent");
    CHECK(json_get(doc, "experiments.race_python") == NULL);
    json_free(doc);
    scratch_remove(&s);
}

static void
python_with_no_python(void)
{
    run_result r;
    run_ctlab((const char *[]){"python", "--no-python", NULL}, NULL, &r);
    check_status(__LINE__, "ctlab python --no-python", &r, 2);
}

CT_SUITE(ctlab_python) = {
    {"python runs each lesson", python_runs_each_lesson},
    {"python absent", python_absent},
    {"python with --no-python", python_with_no_python},
    {0},
};
