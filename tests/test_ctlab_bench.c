// Tests of `ctlab bench` (lab/lab_bench.c): it runs ct_bench for one
// section, quick, and its summary in the --json document agrees with
// itself (each "better" figure from the ratio and the target's direction,
// the claim from the results); its --svg bar chart renders; a section that
// does not exist is a usage error.
#include <math.h>
#include <string.h>

#include "ctlab_run.h"
#include "test.h"

static void
bench_quick_section(void)
{
    scratch s = {0};
    scratch_make(&s);
    const char *svg = scratch_file(&s, "bench.svg");
    const char *png = scratch_file(&s, "bench.png");
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s,
        (const char *[]){"bench", "--quick", "uncontended", "--svg", svg, NULL},
        NULL, &r, 0);
    CHECK(strstr(r.out, "Summary") != NULL);
    check_str(__LINE__, doc, "experiments.bench.params.sections",
              "uncontended");
    const json_value *rows =
        json_get(doc, "experiments.bench.tables.comparisons.rows");
    CHECK(rows != NULL && rows->type == JSON_ARRAY && rows->len >= 1);
    int ok = 0, miss = 0;
    for (size_t i = 0; i < rows->len; i++) {
        const json_value *row = rows->items[i];
        const char *section = json_str(row, "section");
        const char *target = json_str(row, "target");
        const char *status = json_str(row, "status");
        CHECK(section != NULL && strcmp(section, "uncontended") == 0);
        CHECK(target != NULL && status != NULL);
        double ratio = json_num(row, "ratio");
        const json_value *better = json_get(row, "advantage");
        CHECK(better != NULL);
        if (strstr(target, "<=") != NULL && ratio > 0) {
            CHECK(fabs(better->number - 1 / ratio) <= 1e-9 / ratio);
        } else if (strstr(target, ">=") != NULL && ratio > 0) {
            CHECK(fabs(better->number - ratio) <= 1e-9 * ratio);
        } else {
            CHECK(better->type == JSON_NULL);
        }
        ok += strcmp(status, "ok") == 0;
        miss += strcmp(status, "MISS") == 0;
    }
    check_num(__LINE__, doc, "experiments.bench.params.targets_ok", ok);
    check_num(__LINE__, doc, "experiments.bench.params.targets_missed", miss);
    const json_value *claims = json_get(doc, "experiments.bench.claims");
    CHECK(claims != NULL && claims->len == 1);
    const json_value *held = json_get(claims->items[0], "held");
    CHECK(held != NULL && held->boolean == (miss == 0 && ok > 0));
    json_free(doc);
    render_svg(&s, svg, png);
}

static void
bench_unknown_section(void)
{
    run_result r;
    run_ctlab((const char *[]){"bench", "--quick", "no_such_section", NULL},
              NULL, &r);
    check_status(__LINE__, "ctlab bench no_such_section", &r, 2);
    CHECK(strstr(r.err, "no_such_section") != NULL);
    run_ctlab((const char *[]){"bench", "--quick", "-x", NULL}, NULL, &r);
    check_status(__LINE__, "ctlab bench -x", &r, 2);
}

CT_SUITE(ctlab_bench) = {
    {"bench quick section", bench_quick_section},
    {"bench unknown section", bench_unknown_section},
    {0},
};
