// Running ctlab from a test: shared by the tests of every ctlab command
// (tests/test_ctlab*.c). See ctlab_run.h.
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlab_run.h"
#include "test.h"

void
scratch_make(scratch *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/ct_ctlab_XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        ct_test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    }
    s->n = 0;
}

// Returns the path of a file `name` in the scratch directory.
const char *
scratch_file(scratch *s, const char *name)
{
    CHECK(s->n < 4);
    char dir[sizeof s->dir]; // a copy: GCC cannot tell the two fields apart
    memcpy(dir, s->dir, sizeof dir);
    snprintf(s->path[s->n], sizeof s->path[0], "%s/%s", dir, name);
    return s->path[s->n++];
}

void
scratch_remove(scratch *s)
{
    for (int i = 0; i < s->n; i++) {
        remove(s->path[i]);
    }
    rmdir(s->dir);
}

// Reads at most cap - 1 bytes of the file at `path` into buf.
static void
slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
}

// Runs argv[0] (found on PATH unless it holds a '/') with stdout and stderr
// captured, $CTLAB_PYTHON set to `python` when not NULL. Fails the test if
// it hangs. Returns 127 in r->status when the program cannot be run.
double run_prog_limit_s = 8;

void
run_prog(const char *const *argv, const char *python, run_result *r)
{
    scratch s = {0};
    scratch_make(&s);
    const char *out = scratch_file(&s, "stdout");
    const char *err = scratch_file(&s, "stderr");
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (freopen(out, "w", stdout) == NULL ||
            freopen(err, "w", stderr) == NULL) {
            _exit(126);
        }
        if (python != NULL) {
            setenv("CTLAB_PYTHON", python, 1);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    // ctlab --quick takes well under a second; sanitizers slow it down.
    int status = ct_test_wait_child(
        pid, (ct_duration)(run_prog_limit_s * 1e9 * ct_test_scale()));
    if (status == -2) {
        ct_test_fail(__FILE__, __LINE__, "%s %s hangs", argv[0],
                     argv[1] != NULL ? argv[1] : "");
    }
    r->status = status;
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    scratch_remove(&s);
}

// The path of the program `name` (a path relative to the build directory)
// built beside this test binary; fails the test when it is not built.
const char *
built_path(const char *name)
{
    static char prog[4200];
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        SKIP("no /proc/self/exe");
    }
    self[len] = '\0';
    snprintf(prog, sizeof prog, "%s/%s", dirname(self), name);
    if (access(prog, X_OK) != 0) {
        ct_test_fail(__FILE__, __LINE__, "%s not built", prog);
    }
    return prog;
}

const char *
ctlab_path(void)
{
    return built_path("ctlab");
}

// Runs ctlab with the NULL-terminated arguments.
void
run_ctlab(const char *const *args, const char *python, run_result *r)
{
    const char *argv[32] = {ctlab_path()};
    int n = 1;
    for (; args[n - 1] != NULL && n < 31; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    run_prog(argv, python, r);
}

json_value *
run_ctlab_json(int line, scratch *s, const char *const *args,
               const char *python, run_result *r, int want)
{
    char name[64];
    snprintf(name, sizeof name, "%s.json", args[0]);
    const char *json = scratch_file(s, name);
    const char *argv[32];
    char what[256] = "";
    int n = 0;
    for (; args[n] != NULL && n < 29; n++) {
        argv[n] = args[n];
        size_t len = strlen(what);
        snprintf(what + len, sizeof what - len, "%s%s", n > 0 ? " " : "",
                 args[n]);
    }
    argv[n++] = "--json";
    argv[n++] = json;
    argv[n] = NULL;
    run_ctlab(argv, python, r);
    check_status(line, what, r, want);
    return parse_or_fail(line, json);
}

const char *
python_or_skip(int line, json_value *doc, const char *path, scratch *s)
{
    const char *py = json_str(doc, path);
    if (py == NULL) {
        ct_test_fail(__FILE__, line, "%s: missing", path);
    }
    if (strcmp(py, "absent") == 0) {
        json_free(doc);
        scratch_remove(s);
        SKIP("python3 not installed");
    }
    return py;
}

// Fails with ctlab's stderr when it did not exit with `want`.
void
check_status(int line, const char *what, const run_result *r, int want)
{
    if (r->status != want) {
        ct_test_fail(__FILE__, line, "%s: exit %d, want %d; stderr:\n%s", what,
                     r->status, want, r->err);
    }
}

// Parses the JSON file at `path`, failing the test if it is not JSON.
json_value *
parse_or_fail(int line, const char *path)
{
    char err[160];
    json_value *doc = json_parse_file(path, err, sizeof err);
    if (doc == NULL) {
        ct_test_fail(__FILE__, line, "%s: %s", path, err);
    }
    return doc;
}

// Fails unless the number at `path` in doc equals want.
void
check_num(int line, const json_value *doc, const char *path, double want)
{
    double got = json_num(doc, path);
    if (!(got == want)) {
        ct_test_fail(__FILE__, line, "%s = %g, want %g", path, got, want);
    }
}

// Fails unless the string at `path` in doc equals want.
void
check_str(int line, const json_value *doc, const char *path, const char *want)
{
    const char *got = json_str(doc, path);
    if (got == NULL || strcmp(got, want) != 0) {
        ct_test_fail(__FILE__, line, "%s = '%s', want '%s'", path,
                     got != NULL ? got : "(none)", want);
    }
}

void
render_svg(scratch *s, const char *svg, const char *png)
{
    run_result r;
    run_prog((const char *[]){"rsvg-convert", "-o", png, svg, NULL}, NULL, &r);
    if (r.status == 127) {
        scratch_remove(s);
        SKIP("rsvg-convert not installed (librsvg2-bin)");
    }
    check_status(__LINE__, "rsvg-convert", &r, 0);
    char magic[8] = {0};
    FILE *p = fopen(png, "rb");
    CHECK(p != NULL);
    CHECK_EQ(fread(magic, 1, 8, p), 8);
    fclose(p);
    CHECK(memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0);
    scratch_remove(s);
}
