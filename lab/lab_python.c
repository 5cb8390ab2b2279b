// `ctlab python`: the Python half of every lesson alone, with python3 (or
// $CTLAB_PYTHON), so that the Python numbers come from this machine and
// this minute. Each command that has a Python half says so in its
// lab_cmd (`python`); this runs them in table order.
#include <string.h>

#include "lab.h"

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (ctx->no_python) {
        return lab_usage(ctx, "--no-python leaves nothing to run");
    }
    // Is there a python3 at all? One clear line instead of one per lesson.
    double v[2];
    int n = 0;
    char why[160];
    lab_py_status st =
        lab_python(ctx, "import sys; print(*sys.version_info[:2])", NULL, 30, v,
                   2, &n, why, sizeof why);
    if (st != LAB_PY_OK || n < 2) {
        lab_experiment_begin(ctx, "python", "python: no python3 to run");
        lab_param_str(ctx, "python", st == LAB_PY_ABSENT ? "absent" : "failed");
        lab_param_str(ctx, "python_why", why);
        lab_note(ctx,
                 "python3: %s (%s); the lessons' C halves still run "
                 "(ctlab tour).",
                 st == LAB_PY_ABSENT ? "not found" : "failed", why);
        int rc = lab_experiment_end(ctx);
        return st == LAB_PY_ABSENT ? rc : LAB_EXIT_FAILED;
    }
    printf("python3 %.0f.%.0f\n", v[0], v[1]);
    const lab_cmd *self = ctx->cmd;
    int worst = LAB_EXIT_OK;
    for (int i = 0; lab_commands[i] != NULL; i++) {
        const lab_cmd *cmd = lab_commands[i];
        if (cmd->python == NULL) {
            continue;
        }
        ctx->cmd = cmd; // for its messages and lab_pick's sizes
        int rc = cmd->python(ctx);
        lab_progress_end(ctx);
        worst = rc > worst ? rc : worst;
    }
    ctx->cmd = self;
    return worst;
}

const lab_cmd lab_cmd_python = {
    .name = "python",
    .summary = "the Python half of every lesson alone, with python3",
    .run = run,
    .help = "Runs the Python programs of the lessons (the ones the other "
            "commands run for\ntheir Python columns) with python3, or "
            "$CTLAB_PYTHON, and prints their\nnumbers and conclusions: the "
            "same machine, the same minute as the C runs. Without\npython3 it "
            "says so and exits 0. --quick runs them at tiny sizes.",
};
