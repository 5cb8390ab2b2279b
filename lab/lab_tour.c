// `ctlab tour`: every command marked in_tour, in the order of
// lab/commands.h, at the small sizes each picks for the tour (lab_pick).
// What the README's first command shows a new user.
#include <math.h>
#include <string.h>

#include "lab.h"

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    const lab_cmd *tour = ctx->cmd;
    double saved[LAB_MAX_OPTS];
    memcpy(saved, ctx->opt_values, sizeof saved);
    int worst = LAB_EXIT_OK;
    int step = 0, steps = 0;
    for (int i = 0; lab_commands[i] != NULL; i++) {
        steps += lab_commands[i]->in_tour;
    }
    for (int i = 0; lab_commands[i] != NULL; i++) {
        const lab_cmd *cmd = lab_commands[i];
        if (!cmd->in_tour) {
            continue;
        }
        printf("\n== %d/%d  ctlab %s: %s ==\n", ++step, steps, cmd->name,
               cmd->summary);
        // The command runs with the common flags and its own defaults.
        ctx->cmd = cmd;
        ctx->tour = true;
        for (int o = 0; o < LAB_MAX_OPTS; o++) {
            ctx->opt_values[o] = NAN;
        }
        int rc = cmd->run(ctx, 0, argv);
        lab_progress_end(ctx);
        if (ctx->exp != NULL) {
            lab_experiment_end(ctx);
        }
        // One failing experiment does not hide the others.
        worst = rc > worst ? rc : worst;
    }
    ctx->cmd = tour;
    ctx->tour = false;
    memcpy(ctx->opt_values, saved, sizeof saved);
    printf("\nThe tour ran %d command%s. 'ctlab help CMD' tells more; "
           "'ctlab CMD' runs one at full size.\n",
           steps, steps == 1 ? "" : "s");
    return worst;
}

const lab_cmd lab_cmd_tour = {
    .name = "tour",
    .summary = "every experiment at a small size (what plain `ctlab` runs)",
    .run = run,
    .help = "Runs each experiment of ctlab in turn at a small size, each with "
            "a short table\nand a conclusion drawn from what it measured. "
            "The common flags pass on to\neach experiment.",
};
