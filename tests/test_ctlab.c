// Tests of ctlab: each command runs (as a process: the ctlab built beside
// ct_tests) with --quick, and its --json output is parsed and checked for
// the invariants it claims; bad command lines exit 2 before anything runs;
// and the JSON and SVG writers (lab/json.c, lab/svg.c, linked in) produce
// what a strict parser and rsvg-convert accept.
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json_mini.h"
#include "lab.h"
#include "test.h"

#include "ctlab_run.h"

// The invariants of one race document: each row's expected total is
// threads x iterations, lost = expected - observed, the locked and atomic
// counters are exact, the unlocked one never exceeds the expected total,
// and each claim's verdict agrees with the numbers.
static void
check_race_doc(const json_value *doc, double threads)
{
    const char *base = "experiments.race";
    char p[160];
    snprintf(p, sizeof p, "%s.params.threads", base);
    check_num(__LINE__, doc, p, threads);
    snprintf(p, sizeof p, "%s.params.iterations", base);
    double m = json_num(doc, p);
    CHECK(m >= 1);
    static const char *const methods[] = {"unlocked", "locked", "atomic"};
    double lost_unlocked = NAN;
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s.tables.counter.rows[%d].method", base, i);
        check_str(__LINE__, doc, p, methods[i]);
        snprintf(p, sizeof p, "%s.tables.counter.rows[%d].expected", base, i);
        check_num(__LINE__, doc, p, threads * m);
        snprintf(p, sizeof p, "%s.tables.counter.rows[%d].observed", base, i);
        double observed = json_num(doc, p);
        CHECK(observed >= 1 && observed <= threads * m);
        if (i > 0) {
            check_num(__LINE__, doc, p, threads * m);
        }
        snprintf(p, sizeof p, "%s.tables.counter.rows[%d].lost", base, i);
        check_num(__LINE__, doc, p, threads * m - observed);
        lost_unlocked = i == 0 ? threads * m - observed : lost_unlocked;
        snprintf(p, sizeof p, "%s.tables.counter.rows[%d].ns_per_incr", base,
                 i);
        CHECK(json_num(doc, p) >= 0);
    }
    snprintf(p, sizeof p, "%s.claims", base);
    const json_value *claims = json_get(doc, p);
    CHECK(claims != NULL && claims->type == JSON_ARRAY && claims->len >= 3);
    bool seen_lost = false, seen_lock = false;
    for (size_t i = 0; i < claims->len; i++) {
        const char *claim = json_str(claims->items[i], "claim");
        const json_value *held = json_get(claims->items[i], "held");
        CHECK(claim != NULL && held != NULL && held->type == JSON_BOOL);
        CHECK(json_str(claims->items[i], "conclusion") != NULL);
        if (strcmp(claim, "counter += 1 without a lock loses updates") == 0) {
            CHECK(held->boolean == (lost_unlocked > 0));
            seen_lost = true;
        } else if (strcmp(claim, "with a lock no update is lost") == 0) {
            CHECK(held->boolean);
            seen_lock = true;
        }
    }
    CHECK(seen_lost && seen_lock);
}

// `ctlab race --quick --json F` exits 0 and its document holds the
// invariants; the printed table names the three methods.
static void
race_quick_json(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"race", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    check_str(__LINE__, doc, "ctlab", CT_VERSION_STRING);
    check_str(__LINE__, doc, "command", "race");
    CHECK(json_num(doc, "machine.cpus") >= 1);
    const json_value *quick = json_get(doc, "options.quick");
    CHECK(quick != NULL && quick->type == JSON_BOOL && quick->boolean);
    check_num(__LINE__, doc, "exit", 0);
    check_race_doc(doc, 4);
    json_free(doc);
    CHECK(strstr(r.out, "unlocked") != NULL && strstr(r.out, "atomic") != NULL);
    scratch_remove(&s);
}

// --threads and --iterations reach the experiment.
static void
race_sizes_from_flags(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc =
        run_ctlab_json(__LINE__, &s,
                       (const char *[]){"race", "--threads=3", "--iterations",
                                        "1000", "--no-python", NULL},
                       NULL, &r, 0);
    check_race_doc(doc, 3);
    check_num(__LINE__, doc, "experiments.race.params.iterations", 1000);
    check_num(__LINE__, doc, "experiments.race.tables.counter.rows[1].expected",
              3000);
    json_free(doc);
    scratch_remove(&s);
}

// --seconds sizes the run from a trial instead of the default M.
static void
race_sized_by_seconds(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc =
        run_ctlab_json(__LINE__, &s,
                       (const char *[]){"race", "--seconds", "0.2", "--threads",
                                        "2", "--no-python", NULL},
                       NULL, &r, 0);
    check_race_doc(doc, 2);
    check_str(__LINE__, doc, "experiments.race.params.sized_by", "seconds");
    check_num(__LINE__, doc, "options.seconds", 0.2);
    CHECK(json_num(doc, "experiments.race.params.iterations") >= 1000);
    json_free(doc);
    scratch_remove(&s);
}

// With python3 present, the Python table is there and its Lock is exact.
static void
race_python_column(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"race", "--quick", NULL}, NULL, &r, 0);
    (void)python_or_skip(__LINE__, doc, "experiments.race.params.python", &s);
    const char *t = "experiments.race.tables.python";
    char p[160];
    snprintf(p, sizeof p, "%s.rows[0].expected", t);
    double expected = json_num(doc, p);
    CHECK(expected >= 1);
    snprintf(p, sizeof p, "%s.rows[0].observed", t);
    CHECK(json_num(doc, p) <= expected);
    snprintf(p, sizeof p, "%s.rows[1].observed", t);
    check_num(__LINE__, doc, p, expected);
    json_free(doc);
    scratch_remove(&s);
}

// A missing python3 is reported as absent, not as a failure.
static void
race_python_absent(void)
{
    scratch s = {0};
    scratch_make(&s);
    run_result r;
    json_value *doc =
        run_ctlab_json(__LINE__, &s, (const char *[]){"race", "--quick", NULL},
                       "/nonexistent/python3", &r, 0);
    check_str(__LINE__, doc, "experiments.race.params.python", "absent");
    CHECK(json_get(doc, "experiments.race.tables.python") == NULL);
    CHECK(json_get(doc, "experiments.race.tables.counter") != NULL);
    json_free(doc);
    CHECK(strstr(r.out, "python3: skipped") != NULL);
    scratch_remove(&s);
}

// Plain `ctlab` runs the tour, which runs race.
static void
no_command_runs_tour(void)
{
    scratch s = {0};
    scratch_make(&s);
    const char *json = scratch_file(&s, "tour.json");
    run_result r;
    run_prog_limit_s = 50; // every command, one after another
    run_ctlab((const char *[]){"--quick", "--no-python", "--json", json, NULL},
              NULL, &r);
    check_status(__LINE__, "ctlab --quick", &r, 0);
    json_value *doc = parse_or_fail(__LINE__, json);
    check_str(__LINE__, doc, "command", "tour");
    check_race_doc(doc, 4);
    // Every command of the tour left its experiments in the document.
    static const char *const exps[] = {
        "experiments.sync_lock", "experiments.deadlock",
        "experiments.queue",     "experiments.pool_reuse",
        "experiments.gil_cpu",   "experiments.gil_convoy",
        "experiments.bench",
    };
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        if (json_get(doc, exps[i]) == NULL) {
            ct_test_fail(__FILE__, __LINE__, "the tour has no %s", exps[i]);
        }
    }
    json_free(doc);
    CHECK(strstr(r.out, "ctlab race") != NULL);
    CHECK(strstr(r.out, "ctlab bench") != NULL);
    scratch_remove(&s);
}

// Every command has help, three ways, on stdout with exit 0.
static void
help_for_every_command(void)
{
    run_result list;
    run_ctlab((const char *[]){"--commands", NULL}, NULL, &list);
    check_status(__LINE__, "--commands", &list, 0);
    run_result main_help;
    run_ctlab((const char *[]){"--help", NULL}, NULL, &main_help);
    check_status(__LINE__, "--help", &main_help, 0);
    CHECK(strstr(main_help.out, "usage: ctlab") != NULL);
    int commands = 0;
    char names[sizeof list.out];
    memcpy(names, list.out, sizeof names);
    for (char *save, *name = strtok_r(names, "\n", &save); name != NULL;
         name = strtok_r(NULL, "\n", &save)) {
        commands++;
        char usage[96];
        snprintf(usage, sizeof usage, "usage: ctlab %s", name);
        CHECK(strstr(main_help.out, name) != NULL);
        run_result r;
        run_ctlab((const char *[]){name, "--help", NULL}, NULL, &r);
        check_status(__LINE__, name, &r, 0);
        CHECK(strncmp(r.out, usage, strlen(usage)) == 0);
        CHECK(r.err[0] == '\0');
        run_ctlab((const char *[]){"help", name, NULL}, NULL, &r);
        check_status(__LINE__, name, &r, 0);
        CHECK(strncmp(r.out, usage, strlen(usage)) == 0);
        run_ctlab((const char *[]){name, "-h", NULL}, NULL, &r);
        check_status(__LINE__, name, &r, 0);
    }
    CHECK(commands >= 2); // tour and race at least
}

// Bad command lines: exit 2, a usage message on stderr, nothing run.
static void
bad_input_is_a_usage_error(void)
{
    static const char *const cases[][5] = {
        {"nosuch"},
        {"race", "--bogus"},
        {"race", "--threads", "0"},
        {"race", "--threads", "100000"},
        {"race", "--threads", "-3"},
        {"race", "--threads", "4x"},
        {"race", "--threads", "2.5"},
        {"race", "--threads"},
        {"race", "--seconds", "-1"},
        {"race", "--seconds", "1e9"},
        {"race", "--seconds", "0"},
        {"race", "--seconds", "nan"},
        {"race", "--seconds", "inf"},
        {"gil", "--seconds", "1"},
        {"sync", "--seconds", "2"},
        {"race", "--iterations", "0"},
        {"race", "--iterations", "1e12"},
        {"race", "--svg", "x.svg"},
        {"race", "--json", ""},
        {"race", "stray"},
        {"race", "--quick=1"},
        {"tour", "--iterations", "5"},
        {"help", "nosuch"},
        {"--bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r;
        run_ctlab(cases[i], NULL, &r);
        char what[128];
        snprintf(what, sizeof what, "%s %s %s", cases[i][0],
                 cases[i][1] ? cases[i][1] : "",
                 cases[i][2] ? cases[i][2] : "");
        check_status(__LINE__, what, &r, LAB_EXIT_USAGE);
        if (strstr(r.err, "usage: ctlab") == NULL || r.out[0] != '\0') {
            ct_test_fail(__FILE__, __LINE__, "%s: stdout '%s', stderr '%s'",
                         what, r.out, r.err);
        }
    }
}

// An unwritable --json file is refused before any experiment runs.
static void
unwritable_json_fails_first(void)
{
    run_result r;
    run_ctlab(
        (const char *[]){"race", "--json", "/nonexistent/dir/x.json", NULL},
        NULL, &r);
    CHECK(r.status != 0);
    CHECK(strstr(r.err, "/nonexistent/dir/x.json") != NULL);
    CHECK(r.out[0] == '\0'); // no experiment printed anything
}

// --- The writers -------------------------------------------------------------

// The JSON writer's strings, numbers and nesting read back exactly.
static void
json_writer_round_trip(void)
{
    static const char tricky[] = "q\" b\\ nl\n tab\t cr\r ctl\x01\x1f del\x7f "
                                 "slash/ caf\xc3\xa9 \xe2\x82\xac";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    lab_json *j = lab_json_new(f);
    CHECK(j != NULL);
    lab_json_object_begin(j, NULL);
    lab_json_str(j, tricky, tricky); // a key is escaped as well
    lab_json_num(j, "tenth", 0.1);
    lab_json_num(j, "third", 1.0 / 3);
    lab_json_num(j, "big", 1e300);
    lab_json_num(j, "tiny", 5e-324);
    lab_json_num(j, "nan", NAN);
    lab_json_num(j, "inf", -INFINITY);
    lab_json_int(j, "max", 9007199254740993LL);
    lab_json_bool(j, "yes", true);
    lab_json_str(j, "none", NULL);
    lab_json_array_begin(j, "list");
    lab_json_int(j, NULL, -1);
    lab_json_array_begin(j, NULL);
    lab_json_array_end(j);
    lab_json_object_begin(j, NULL);
    lab_json_object_end(j);
    lab_json_object_begin(j, NULL);
    lab_json_str(j, "deep", "x");
    lab_json_object_end(j);
    lab_json_array_end(j);
    lab_json_object_end(j);
    CHECK_EQ(lab_json_free(j), 0);
    fclose(f);

    char err[160];
    json_value *doc = json_parse(text, err, sizeof err);
    if (doc == NULL) {
        ct_test_fail(__FILE__, __LINE__, "%s in:\n%s", err, text);
    }
    CHECK(doc->type == JSON_OBJECT && doc->len == 11);
    CHECK(strcmp(doc->keys[0], tricky) == 0);
    CHECK(strcmp(doc->items[0]->string, tricky) == 0);
    CHECK(json_num(doc, "tenth") == 0.1);
    CHECK(json_num(doc, "third") == 1.0 / 3);
    CHECK(json_num(doc, "big") == 1e300);
    CHECK(json_num(doc, "tiny") == 5e-324);
    CHECK(json_get(doc, "nan")->type == JSON_NULL);
    CHECK(json_get(doc, "inf")->type == JSON_NULL);
    CHECK(strstr(text, "9007199254740993") != NULL); // not rounded via double
    CHECK(json_get(doc, "yes")->boolean);
    CHECK(json_get(doc, "none")->type == JSON_NULL);
    CHECK(json_num(doc, "list[0]") == -1);
    CHECK(json_get(doc, "list[1]")->type == JSON_ARRAY);
    CHECK(json_get(doc, "list[2]")->len == 0);
    check_str(__LINE__, doc, "list[3].deep", "x");
    CHECK(json_get(doc, "list[4]") == NULL);
    json_free(doc);
    free(text);

    // Misuse is reported: a key inside an array, an object left open.
    f = open_memstream(&text, &len);
    CHECK(f != NULL);
    j = lab_json_new(f);
    lab_json_array_begin(j, NULL);
    lab_json_int(j, "key", 1);
    lab_json_array_end(j);
    CHECK_EQ(lab_json_free(j), -1);
    j = lab_json_new(f);
    lab_json_object_begin(j, NULL);
    CHECK_EQ(lab_json_free(j), -1);
    fclose(f);
    free(text);
}

// The test parser is strict: what other parsers refuse, it refuses.
static void
json_mini_is_strict(void)
{
    static const char *const bad[] = {
        "",        "{",          "{\"a\":1,}", "[1,]",
        "[1 2]",   "01",         "1.",         ".5",
        "+1",      "1e",         "{a:1}",      "[1] x",
        "\"\\x\"", "\"\t\"",     "nul",        "\"\\ud800\"",
        "'s'",     "[\"a\",,1]", "{\"a\" 1}",  "NaN",
    };
    char err[160];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_value *v = json_parse(bad[i], err, sizeof err);
        if (v != NULL) {
            ct_test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
        }
    }
    json_value *v = json_parse(" {\"a\": [1, -0.5e+2, \"\\u00e9\\n\", true, "
                               "null, {}], \"b\": {\"c\": false}} ",
                               err, sizeof err);
    CHECK(v != NULL);
    CHECK(json_num(v, "a[1]") == -50);
    check_str(__LINE__, v, "a[2]", "\xc3\xa9\n");
    CHECK(json_get(v, "b.c")->type == JSON_BOOL);
    CHECK(json_get(v, "a[6]") == NULL && json_get(v, "b.d") == NULL);
    json_free(v);
}

// The SVG writer's output renders (rsvg-convert), text with XML's special
// characters included.
static void
svg_renders(void)
{
    scratch s = {0};
    scratch_make(&s);
    const char *svg = scratch_file(&s, "t.svg");
    const char *png = scratch_file(&s, "t.png");
    FILE *f = fopen(svg, "w");
    CHECK(f != NULL);
    lab_svg_begin(f, 320, 120, "a <test> & \"quotes\"");
    for (int i = 0; i < 8; i++) {
        lab_svg_rect(f, 10 + i * 35, 20, 30, 60, lab_svg_color(i),
                     i == 0 ? "tip <&>" : NULL);
    }
    lab_svg_line(f, 10, 90, 310, 90, "#000000", 1.5);
    lab_svg_text(f, 160, 110, 12, "middle", "#333333",
                 "x < y && 'z' > \"w\" \x01");
    CHECK_EQ(lab_svg_end(f), 0);
    fclose(f);
    CHECK(strcmp(lab_svg_color(8), lab_svg_color(0)) == 0);
    CHECK(strcmp(lab_svg_color(-1), lab_svg_color(7)) == 0);

    render_svg(&s, svg, png);
}

CT_SUITE(ctlab) = {
    {"race quick json invariants", race_quick_json},
    {"race sizes from flags", race_sizes_from_flags},
    {"race sized by seconds", race_sized_by_seconds},
    {"race python column", race_python_column},
    {"race python absent", race_python_absent},
    {CT_SLOW("no command runs the tour"), no_command_runs_tour},
    {"help for every command", help_for_every_command},
    {"bad input is a usage error", bad_input_is_a_usage_error},
    {"unwritable json fails first", unwritable_json_fails_first},
    {"json writer round trip", json_writer_round_trip},
    {"json mini is strict", json_mini_is_strict},
    {"svg renders", svg_renders},
    {0},
};
