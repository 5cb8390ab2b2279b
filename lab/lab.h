// ctlab's framework: what every subcommand (lab/lab_<name>.c) uses. The
// subcommand table, the common flags, aligned tables with units, conclusions
// computed from numbers, a progress line, the JSON and SVG writers and the
// python3 runner. docs/ctlab.md describes the output and the JSON schema.
//
// Adding a subcommand: write lab/lab_<name>.c defining
//   const lab_cmd lab_cmd_<name> = {"name", "summary", run, "help", ...};
// and add LAB_COMMAND(<name>) to lab/commands.h. A run function, e.g.:
//   static int
//   run(lab_ctx *ctx, int argc, char **argv)
//   {
//       lab_experiment_begin(ctx, "race", "4 threads increment a counter");
//       lab_table *t = lab_table_new(ctx, "counter", NULL);
//       lab_table_col(t, "method", "method", NULL);
//       lab_table_col(t, "ns", "time", "ns/incr");
//       lab_table_row(t);
//       lab_cell_str(t, "ct_lock");
//       lab_cell_num(t, ns, 1);
//       lab_table_print(ctx, t);
//       lab_claim(ctx, "the locked counter is exact", lost == 0, yes, no);
//       return lab_experiment_end(ctx);
//   }
#ifndef CTLAB_H
#define CTLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cthreading/barrier.h>
#include <cthreading/thread.h>

#define LAB_EXIT_OK 0
#define LAB_EXIT_FAILED 1 // an experiment could not run or broke a guarantee
#define LAB_EXIT_USAGE 2  // bad command line: nothing ran

// Limits of the common flags: beyond them a value is a typo, not a request.
#define LAB_THREADS_MAX 1024
#define LAB_SECONDS_MAX 3600.0

typedef struct lab_ctx lab_ctx;
typedef struct lab_table lab_table;
typedef struct lab_json lab_json;

// A flag of one subcommand (beyond the common ones). The framework parses
// and range-checks it before anything runs; read it with lab_opt_value().
typedef struct lab_opt {
    const char *name; // "--iterations"
    const char *arg;  // "N" (a number in [min, max]), or NULL for a switch
    double min, max;
    bool integer; // the number must be a whole number
    const char *help;
} lab_opt;

#define LAB_MAX_OPTS 16

// One subcommand. `help` is the paragraph `ctlab help NAME` prints after
// the usage line; `opts` ends with a zeroed entry (or is NULL).
typedef struct lab_cmd {
    const char *name;
    const char *summary; // one line, no final period
    int (*run)(lab_ctx *ctx, int argc, char **argv);
    const char *help;
    const lab_opt *opts;
    const char *args; // positional arguments it takes ("NAME"), or NULL
    bool draws;       // accepts --svg FILE
    bool timed;       // takes --seconds S (others refuse it; the tour
                      // passes it on to those that take it)
    bool in_tour;     // `ctlab tour` runs it (in table order)
    // Runs the Python half of the command's lessons alone, as experiments
    // of its own (`ctlab python` runs each in turn), or NULL.
    int (*python)(lab_ctx *ctx);
} lab_cmd;

// What a run function sees. The fields are read-only for subcommands.
struct lab_ctx {
    const lab_cmd *cmd; // the command running now (tour switches it)
    bool quick;         // --quick: tiny sizes, for tests
    bool tour;          // run by `ctlab tour`: small sizes
    int threads;        // --threads N, or 0: the command's default
    double seconds;     // --seconds S, or 0: the command's default
    bool no_python;     // --no-python
    FILE *svg;          // --svg FILE, opened before anything ran; or NULL
    const char *svg_path;

    // Private to the framework.
    double opt_values[LAB_MAX_OPTS]; // NaN: not given; 1: a switch given
    lab_json *json;                  // --json FILE's writer, or NULL
    struct lab_exp *exp;             // the experiment being run
    int64_t progress_start_ns;       // 0: no progress step
    int64_t progress_shown_ns;       // when the line was last drawn
    bool progress_visible;
    char progress_label[96];
};

// --- Commands and flags ------------------------------------------------------

// The table of subcommands (lab/commands.h), in help and tour order; ends
// with NULL.
extern const lab_cmd *const lab_commands[];

// Returns the value of the current command's flag `name` (a switch gives
// 1), or `dflt` when it was not given.
double lab_opt_value(const lab_ctx *ctx, const char *name, double dflt);

// Returns quick when --quick, tour in the tour, full otherwise: the one way
// a command picks its sizes.
double lab_pick(const lab_ctx *ctx, double quick, double tour, double full);

// Returns --threads if given, else dflt.
int lab_threads(const lab_ctx *ctx, int dflt);

// Prints "ctlab CMD: <message>" and the command's usage line on stderr and
// returns LAB_EXIT_USAGE, for a run function to return on a bad positional
// argument (the framework checks flags itself).
int lab_usage(const lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Prints "ctlab CMD: <message>" on stderr and returns LAB_EXIT_FAILED.
int lab_fail(const lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// --- Experiments, tables, conclusions (lab/out.c) ----------------------------

// Starts an experiment: prints its title and opens its JSON object under
// "experiments"."key". Experiments do not nest; keys are unique per run.
void lab_experiment_begin(lab_ctx *ctx, const char *key, const char *title);
// Records a named number or string of the experiment (its size, a
// measured value shown in prose): JSON "params" of the experiment.
void lab_param_num(lab_ctx *ctx, const char *key, double value);
void lab_param_str(lab_ctx *ctx, const char *key, const char *value);
// Prints a line of prose under the experiment (wrapped by the caller).
void lab_note(lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Records and prints the verdict on one claim of the lessons. `held` must
// be computed from the measurements; the line printed is `if_held` or
// `if_not` (already formatted with the numbers). JSON: "claims".
void lab_claim(lab_ctx *ctx, const char *claim, bool held, const char *if_held,
               const char *if_not);
// Ends the experiment: writes its JSON (params, tables, claims) and frees
// its tables. Returns LAB_EXIT_OK (a failed write shows when the document
// is closed, and ctlab then exits 1).
int lab_experiment_end(lab_ctx *ctx);

// Creates a table owned by the current experiment; `key` names it in the
// JSON ("tables"."key"), `title` (or NULL) is printed above it. Aborts
// the program when memory runs out (a lab cannot go on without it).
lab_table *lab_table_new(lab_ctx *ctx, const char *key, const char *title);
// Adds a column: `key` is its JSON name, `header` its printed name, `unit`
// (or NULL) is printed under the header ("ns/incr").
void lab_table_col(lab_table *t, const char *key, const char *header,
                   const char *unit);
// Starts a new row; the cells that follow fill it left to right.
void lab_table_row(lab_table *t);
// Adds a cell: text (left-aligned), a number with `decimals` digits after
// the point (right-aligned; NaN or inf prints "-" and is null in JSON), an
// integer, or an absent value ("-", null) for a cell with nothing to say.
void lab_cell_str(lab_table *t, const char *s);
void lab_cell_num(lab_table *t, double v, int decimals);
void lab_cell_int(lab_table *t, long long v);
void lab_cell_none(lab_table *t);
// Prints the table, aligned, to stdout. It stays in the experiment's JSON.
void lab_table_print(lab_ctx *ctx, const lab_table *t);

// Progress on stderr, only when stderr is a terminal: begin a step, tick
// as it runs (the line appears once the step has lasted a second, then
// refreshes at most 10 times a second), end it (clears the line).
void lab_progress_begin(lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lab_progress_tick(lab_ctx *ctx);
void lab_progress_end(lab_ctx *ctx);

// Monotonic time in nanoseconds.
int64_t lab_now_ns(void);

// --- Threads (lab/threads.c) -----------------------------------------------

// Starts n threads into t[0..n), thread i running fn(args + i * stride)
// (fill per-thread arguments before the call). Stops at the first that
// cannot be created or started, aborts `gate` (when not NULL: the barrier
// the threads meet at first) so those already waiting there return, and
// returns its ct error code; otherwise returns 0. *started gets how many
// run either way; lab_join(ctx, t, *started) must follow.
int lab_spawn(ct_thread **t, int n, ct_thread_fn *fn, void *args, size_t stride,
              ct_barrier *gate, int *started);
// Joins and frees t[0..n). With a ctx it waits in 0.1 s slices, ticking
// the progress line; with NULL it just waits. Returns 0, or the first
// join's error code. Blocks.
int lab_join(lab_ctx *ctx, ct_thread **t, int n);

// --- JSON writer (lab/json.c; standalone, the tests link it) -----------------

// Opens a streaming writer on `f` (which it does not close). Values go into
// the innermost open object (with a key) or array (key NULL). Indented, one
// member per line. Returns NULL when memory runs out.
lab_json *lab_json_new(FILE *f);
// Flushes and frees the writer. Returns 0, or -1 if any write failed or an
// object or array was left open.
int lab_json_free(lab_json *j);
void lab_json_object_begin(lab_json *j, const char *key);
void lab_json_object_end(lab_json *j);
void lab_json_array_begin(lab_json *j, const char *key);
void lab_json_array_end(lab_json *j);
// A finite double (NaN and inf become null), written exactly enough to read
// back the same double.
void lab_json_num(lab_json *j, const char *key, double v);
void lab_json_int(lab_json *j, const char *key, long long v);
// A string, escaped (quotes, backslash, control characters); NULL is null.
void lab_json_str(lab_json *j, const char *key, const char *s);
void lab_json_bool(lab_json *j, const char *key, bool v);
void lab_json_null(lab_json *j, const char *key);

// --- SVG writer (lab/svg.c; standalone, the tests link it) -------------------

// Starts a plain SVG 1.1 document of w x h user units on `f` with a white
// background and `title` (or NULL) as its <title>.
void lab_svg_begin(FILE *f, double w, double h, const char *title);
// Ends the document. Returns 0, or -1 if a write failed.
int lab_svg_end(FILE *f);
// A filled rectangle; `tip` (or NULL) is a tooltip (<title>).
void lab_svg_rect(FILE *f, double x, double y, double w, double h,
                  const char *fill, const char *tip);
void lab_svg_line(FILE *f, double x1, double y1, double x2, double y2,
                  const char *stroke, double width);
// Text at (x, y) (the baseline); anchor is "start", "middle" or "end".
void lab_svg_text(FILE *f, double x, double y, double size, const char *anchor,
                  const char *fill, const char *text);
// Returns colour i of a palette of 8 that colour-blind readers tell apart
// (Okabe and Ito), cycling; "#rrggbb".
const char *lab_svg_color(int i);
// Writes `s` with &, <, >, " and ' escaped for XML text and attributes.
void lab_svg_escape(FILE *f, const char *s);

// --- python3 (lab/python.c) --------------------------------------------------

typedef enum lab_py_status {
    LAB_PY_OK,     // it ran, exited 0, and printed numbers
    LAB_PY_ABSENT, // no python3 (or --no-python): not an error
    LAB_PY_FAILED, // it ran but failed, printed no number or timed out
} lab_py_status;

// Runs `python3 -c script args...` (the interpreter is $CTLAB_PYTHON when
// set) with stdin and stderr on /dev/null, for at most timeout_s seconds
// (then it is killed), and reads up to `cap` whitespace-separated numbers
// from its stdout into out[] (*n gets how many). On ABSENT or FAILED,
// `why` says why in a few words. `args` ends with NULL. Blocks.
lab_py_status lab_python(const lab_ctx *ctx, const char *script,
                         const char *const *args, double timeout_s, double *out,
                         int cap, int *n, char *why, size_t why_len);

// The usual way to get an experiment's Python column: runs `script` as
// lab_python does (with a progress line naming `what`), and wants at least
// `want` numbers, the first two python3's version (sys.version_info[:2]).
// Returns true with out[] filled, the version ("3.11") in `version` and in
// the experiment's param "python". Otherwise records params "python"
// ("absent" or "failed") and "python_why", writes "python3: skipped (why)."
// into `note` (or, when note is NULL, prints it as a note at once), and
// returns false.
bool lab_python_column(lab_ctx *ctx, const char *what, const char *script,
                       const char *const *args, double *out, int want,
                       char *version, size_t version_len, char *note,
                       size_t note_len);

#endif
