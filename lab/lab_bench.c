// `ctlab bench`: every primitive's benchmark against the baselines measured
// in the same run. It runs ct_bench, the project's benchmark program (built
// beside ctlab; `make bench` runs the same thing), lets its tables through,
// and reads back its comparisons (--tsv) for one summary table, the claims
// and, with --svg FILE, a bar chart of how many times faster than its
// baseline each primitive was.
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"

enum { MAX_CMPS = 256 };

typedef struct cmp {
    char section[24], name[64], unit[16], base_name[48], target[32], status[8];
    double ours, base, ratio;
    double advantage; // times better than the baseline; NaN when no sense
} cmp;

// Where ct_bench is: beside this program (the build directory), else on
// PATH. Returns false when neither has it.
static bool
find_bench(char *path, size_t cap)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        snprintf(path, cap, "%s/ct_bench", dirname(self));
        if (access(path, X_OK) == 0) {
            return true;
        }
    }
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env != NULL ? env : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/ct_bench", d);
        if (access(path, X_OK) == 0) {
            return true;
        }
    }
    return false;
}

// Copies the next tab-separated field of *line into out.
static void
field(char **line, char *out, size_t cap)
{
    char *s = *line;
    size_t n = strcspn(s, "\t\n");
    snprintf(out, cap, "%.*s", (int)n, s);
    *line = s + n + (s[n] != '\0');
}

// How many times better than its baseline a comparison is, from its
// target's direction: "ratio <= x" compares costs (lower is better),
// "ratio >= x" rates. NaN when the target says neither.
static double
advantage(const cmp *c)
{
    if (!(c->ratio > 0) || !isfinite(c->ratio)) {
        return NAN;
    }
    if (strstr(c->target, "<=") != NULL) {
        return 1 / c->ratio;
    }
    if (strstr(c->target, ">=") != NULL) {
        return c->ratio;
    }
    return NAN;
}

// Reads ct_bench's --tsv file; returns how many comparisons, or -1.
static int
read_tsv(const char *path, cmp *out, int cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[1024];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f) != NULL) {
        cmp *c = &out[n];
        char num[3][48];
        char *p = line;
        field(&p, c->section, sizeof c->section);
        field(&p, c->name, sizeof c->name);
        field(&p, num[0], sizeof num[0]);
        field(&p, c->unit, sizeof c->unit);
        field(&p, c->base_name, sizeof c->base_name);
        field(&p, num[1], sizeof num[1]);
        field(&p, num[2], sizeof num[2]);
        field(&p, c->target, sizeof c->target);
        field(&p, c->status, sizeof c->status);
        c->ours = strtod(num[0], NULL);
        c->base = strtod(num[1], NULL);
        c->ratio = strtod(num[2], NULL);
        c->advantage = advantage(c);
        n++;
    }
    fclose(f);
    return n;
}

// Runs ct_bench with argv (NULL-terminated), its output going to ours
// (to /dev/null in the tour). Returns its exit status, or -1 when it could
// not run or died.
static int
run_bench(lab_ctx *ctx, const char *const *argv)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        // In the tour only the summary is shown: ct_bench's own tables
        // (hundreds of lines) would bury the other lessons.
        int null = ctx->tour ? open("/dev/null", O_WRONLY) : -1;
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            close(null);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The bar chart: one bar per comparison with a direction, on a log scale
// of "times better than the baseline", coloured by its target's result.
static int
draw(lab_ctx *ctx, const cmp *c, int n)
{
    int shown = 0;
    double hi = 10;
    for (int i = 0; i < n; i++) {
        if (!isnan(c[i].advantage)) {
            shown++;
            hi = fmax(hi, c[i].advantage);
        }
    }
    double lo = 0.1;
    double decades = ceil(log10(hi)) - log10(lo);
    double bar_h = 16, gap = 5, x0 = 380, width = 520, y0 = 60;
    double h = y0 + shown * (bar_h + gap) + 50;
    FILE *f = ctx->svg;
    lab_svg_begin(f, x0 + width + 40, h,
                  "ctlab bench: times faster than "
                  "the baseline");
    lab_svg_text(f, 20, 26, 15, "start", "#000000",
                 "ctlab bench: how many times better than its baseline, "
                 "measured in the same run");
    lab_svg_text(f, 20, 44, 11, "start", "#555555",
                 "green: target met; vermillion: missed; grey: no target. "
                 "Log scale; the line marks 1x.");
    double y = y0;
    for (int i = 0; i < n; i++) {
        if (isnan(c[i].advantage)) {
            continue;
        }
        char label[160];
        snprintf(label, sizeof label, "%.23s: %.63s", c[i].section, c[i].name);
        lab_svg_text(f, x0 - 8, y + 12, 11, "end", "#000000", label);
        double a = fmax(c[i].advantage, lo);
        double w = width * (log10(a) - log10(lo)) / decades;
        const char *fill = strcmp(c[i].status, "ok") == 0     ? "#009e73"
                           : strcmp(c[i].status, "MISS") == 0 ? "#d55e00"
                                                              : "#999999";
        snprintf(label, sizeof label,
                 "%.3g x (ours %.4g %.15s, %.47s %.4g; target %.31s: %.7s)",
                 c[i].advantage, c[i].ours, c[i].unit, c[i].base_name,
                 c[i].base, c[i].target, c[i].status);
        lab_svg_rect(f, x0, y, fmax(w, 1), bar_h, fill, label);
        char value[32];
        snprintf(value, sizeof value, "%.3gx", c[i].advantage);
        lab_svg_text(f, x0 + fmax(w, 1) + 4, y + 12, 10, "start", "#000000",
                     value);
        y += bar_h + gap;
    }
    // The axis: a tick per decade, and the 1x line.
    for (int d = 0; d <= (int)decades; d++) {
        double x = x0 + width * d / decades;
        char tick[16];
        snprintf(tick, sizeof tick, "%gx", lo * pow(10, d));
        lab_svg_line(f, x, y + 4, x, y + 10, "#000000", 1);
        lab_svg_text(f, x, y + 24, 11, "middle", "#000000", tick);
    }
    lab_svg_line(f, x0, y + 4, x0 + width, y + 4, "#000000", 1);
    double one = x0 + width * (0 - log10(lo)) / decades;
    lab_svg_line(f, one, y0 - 4, one, y + 4, "#000000", 1);
    return lab_svg_end(f) == 0
               ? LAB_EXIT_OK
               : lab_fail(ctx, "writing %s failed", ctx->svg_path);
}

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    char bench[4200];
    if (!find_bench(bench, sizeof bench)) {
        return lab_fail(ctx, "ct_bench is not built beside ctlab nor on "
                             "PATH ('make bench' builds it)");
    }
    char only[256] = "";
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' ||
            strlen(only) + strlen(argv[i]) + 2 > sizeof only) {
            return lab_usage(ctx, "bad section '%s'", argv[i]);
        }
        if (only[0] != '\0') {
            strcat(only, ",");
        }
        strcat(only, argv[i]);
    }
    char tsv[] = "/tmp/ctlab_bench_XXXXXX";
    int fd = mkstemp(tsv);
    if (fd < 0) {
        return lab_fail(ctx, "mkstemp: %s", strerror(errno));
    }
    close(fd);
    bool quick = ctx->quick || ctx->tour;
    if (ctx->quick && only[0] == '\0') {
        // --quick is for tests: one section, well under a second.
        snprintf(only, sizeof only, "uncontended");
    }
    const char *args[12];
    int k = 0;
    args[k++] = bench;
    if (quick) {
        args[k++] = "--quick";
    }
    if (only[0] != '\0') {
        args[k++] = "--only";
        args[k++] = only;
    }
    args[k++] = "--tsv";
    args[k++] = tsv;
    args[k] = NULL;

    char title[400];
    snprintf(title, sizeof title,
             "bench: %s%s%s, every baseline in the same "
             "run",
             quick ? "a quick run of ct_bench" : "ct_bench",
             only[0] != '\0' ? " --only " : "", only);
    lab_experiment_begin(ctx, "bench", title);
    lab_param_str(ctx, "sections", only[0] != '\0' ? only : "all");
    lab_param_str(ctx, "size", quick ? "quick" : "full");
    printf("\n");
    int status = run_bench(ctx, args);
    static cmp c[MAX_CMPS];
    int n = status == 0 ? read_tsv(tsv, c, MAX_CMPS) : -1;
    remove(tsv);
    if (status != 0 || n < 0) {
        (void)lab_experiment_end(ctx);
        return status == 2
                   ? lab_usage(ctx, "ct_bench refused the sections")
                   : lab_fail(ctx, "ct_bench failed (status %d)", status);
    }

    if (n == 0) {
        (void)lab_experiment_end(ctx);
        return only[0] != '\0'
                   ? lab_usage(ctx,
                               "no comparison in '%s': not a section? "
                               "(ct_bench --list names them)",
                               only)
                   : lab_fail(ctx, "ct_bench made no comparison");
    }
    lab_table *t = lab_table_new(ctx, "comparisons",
                                 "\nSummary: each comparison, ours against "
                                 "the baseline of the same run:");
    lab_table_col(t, "section", "section", NULL);
    lab_table_col(t, "name", "comparison", NULL);
    lab_table_col(t, "ours", "ours", NULL);
    lab_table_col(t, "unit", "unit", NULL);
    lab_table_col(t, "baseline_name", "baseline", NULL);
    lab_table_col(t, "baseline", "baseline", NULL);
    lab_table_col(t, "ratio", "ratio", NULL);
    lab_table_col(t, "advantage", "better", "x");
    lab_table_col(t, "target", "target", NULL);
    lab_table_col(t, "status", "result", NULL);
    int ok = 0, miss = 0;
    double best = 0;
    const char *best_name = "";
    for (int i = 0; i < n; i++) {
        lab_table_row(t);
        lab_cell_str(t, c[i].section);
        lab_cell_str(t, c[i].name);
        lab_cell_num(t, c[i].ours, 3);
        lab_cell_str(t, c[i].unit);
        lab_cell_str(t, c[i].base_name);
        lab_cell_num(t, c[i].base, 3);
        lab_cell_num(t, c[i].ratio, 3);
        lab_cell_num(t, c[i].advantage, 2);
        lab_cell_str(t, c[i].target);
        lab_cell_str(t, c[i].status);
        ok += strcmp(c[i].status, "ok") == 0;
        miss += strcmp(c[i].status, "MISS") == 0;
        if (c[i].advantage > best) {
            best = c[i].advantage;
            best_name = c[i].name;
        }
    }
    lab_table_print(ctx, t);
    if (ctx->tour) {
        lab_note(ctx, "ctlab bench shows ct_bench's own tables too: each "
                      "case beside every baseline.");
    }
    lab_param_num(ctx, "targets_ok", ok);
    lab_param_num(ctx, "targets_missed", miss);

    char yes[320], no[400];
    snprintf(yes, sizeof yes,
             "All %d targets were met (the best: %s, %.1fx better than its "
             "baseline).",
             ok, best_name, best);
    snprintf(no, sizeof no,
             "%d of %d targets were met, %d missed%s. A busy machine or a "
             "quick run misses targets; a full `ctlab bench` on a quiet "
             "machine is the measurement that counts.",
             ok, ok + miss, miss,
             quick ? " in this quick run (tiny sizes, one rep)" : "");
    lab_claim(ctx, "every primitive meets its target against its baseline",
              miss == 0 && ok > 0, yes, no);
    int rc = LAB_EXIT_OK;
    if (ctx->svg != NULL) {
        rc = draw(ctx, c, n);
        lab_note(ctx, "The bar chart is in %s.", ctx->svg_path);
    }
    int end = lab_experiment_end(ctx);
    return rc > end ? rc : end;
}

const lab_cmd lab_cmd_bench = {
    .name = "bench",
    .summary = "every primitive against pthread, GLib and Python, measured "
               "in the same run",
    .run = run,
    .help =
        "Runs ct_bench, the project's benchmark (what `make bench` runs), "
        "for the\nSECTIONs given (default: all; `ct_bench --list` names "
        "them), lets its tables\nthrough, then prints one summary: each "
        "comparison of ours against the baseline\nmeasured in the same run, "
        "the ratio, how many times better, the target and\nwhether it was "
        "met. --quick (and the tour) run ct_bench --quick: tiny sizes,\none "
        "rep, noisy. --svg FILE draws a bar chart of how many times better "
        "than its\nbaseline each primitive was. docs/benchmarks.md explains "
        "every section.",
    .args = "[SECTION...]",
    .draws = true,
    .in_tour = true,
};
