// Running ctlab from a test (tests/ctlab_run.c): the ctlab built beside
// ct_tests, run as a process with its output captured, and checks on its
// exit status and --json document. Each check fails the calling test with
// the caller's line.
#ifndef CT_TESTS_CTLAB_RUN_H
#define CT_TESTS_CTLAB_RUN_H

#include "json_mini.h"

// A scratch directory for one test's files; the test child removes it.
typedef struct scratch {
    char dir[64];
    char path[4][128]; // files made in it, removed with it
    int n;
} scratch;

void scratch_make(scratch *s);
// Returns the path of a file `name` in the scratch directory.
const char *scratch_file(scratch *s, const char *name);
void scratch_remove(scratch *s);

// What one run of a program left: its exit status and its output.
typedef struct run_result {
    int status; // exit code; -1 if it died by a signal
    char out[16384];
    char err[4096];
} run_result;

// Runs argv[0] (found on PATH unless it holds a '/') with stdout and stderr
// captured, $CTLAB_PYTHON set to `python` when not NULL. Fails the test if
// it hangs. Returns 127 in r->status when the program cannot be run.
void run_prog(const char *const *argv, const char *python, run_result *r);
// How long run_prog lets a program run (x the test scale): 8 s, unless a
// test (a CT_SLOW one) sets more.
extern double run_prog_limit_s;
// The path of the program `name` ("ctlab", "examples/counter") built
// beside this test binary; fails the test when it is not built.
const char *built_path(const char *name);
// The path of the ctlab built beside this test binary.
const char *ctlab_path(void);
// Runs ctlab with the NULL-terminated arguments.
void run_ctlab(const char *const *args, const char *python, run_result *r);

// Runs ctlab with `args` (NULL-terminated, args[0] the command) and
// "--json FILE" appended, FILE "<command>.json" in `s` (made by
// scratch_make); checks that it exits with `want` and returns its parsed
// document (json_free it). Fails the test otherwise.
json_value *run_ctlab_json(int line, scratch *s, const char *const *args,
                           const char *python, run_result *r, int want);
// Returns the experiment's param "python" at `path` in doc (failing when
// there is none). When it is "absent" (no python3 here) it frees doc,
// removes s and skips the test.
const char *python_or_skip(int line, json_value *doc, const char *path,
                           scratch *s);

// Fails with ctlab's stderr when it did not exit with `want`.
void check_status(int line, const char *what, const run_result *r, int want);
// Parses the JSON file at `path`, failing the test if it is not JSON.
json_value *parse_or_fail(int line, const char *path);
// Fail unless the number (string) at `path` in doc equals want.
void check_num(int line, const json_value *doc, const char *path, double want);
void check_str(int line, const json_value *doc, const char *path,
               const char *want);

// Renders the SVG file `svg` to the PNG file `png` with rsvg-convert and
// checks the PNG's signature, then removes `s` (a test's last step). Fails
// the test if it does not render; skips it when rsvg-convert is not
// installed.
void render_svg(scratch *s, const char *svg, const char *png);

#endif
