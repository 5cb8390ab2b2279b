// ctlab's main: picks the subcommand, parses and checks every flag, opens
// the output files, then runs the command inside one JSON document. Nothing
// runs until the whole command line is known to be good (exit 2 otherwise).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cthreading.h>

#include "lab.h"

#define LAB_COMMAND(name) extern const lab_cmd lab_cmd_##name;
#include "commands.h"
#undef LAB_COMMAND

#define LAB_COMMAND(name) &lab_cmd_##name,
const lab_cmd *const lab_commands[] = {
#include "commands.h"
    NULL,
};
#undef LAB_COMMAND

static const char common_help[] =
    "Common flags:\n"
    "  --quick          tiny sizes (seconds in all; for tests)\n"
    "  --threads N      threads per experiment, 1 to 1024 "
    "(default: the command's)\n"
    "  --seconds S      time budget per experiment, over 0 and up to 3600\n"
    "  --json FILE      also write every number measured to FILE "
    "(docs/ctlab.md)\n"
    "  --svg FILE       draw a picture to FILE (commands that draw)\n"
    "  --no-python      skip the python3 column\n"
    "  -h, --help       this help\n";

static const lab_cmd *
find_cmd(const char *name)
{
    for (int i = 0; lab_commands[i] != NULL; i++) {
        if (strcmp(lab_commands[i]->name, name) == 0) {
            return lab_commands[i];
        }
    }
    return NULL;
}

static int
count_opts(const lab_cmd *cmd)
{
    int n = 0;
    while (cmd->opts != NULL && cmd->opts[n].name != NULL) {
        n++;
    }
    return n;
}

// Prints "usage: ctlab CMD [flags] ARGS" on `f`.
static void
print_usage_line(FILE *f, const lab_cmd *cmd)
{
    fprintf(f, "usage: ctlab %s [flags]%s%s\n", cmd->name,
            cmd->args != NULL ? " " : "", cmd->args != NULL ? cmd->args : "");
}

static void
print_cmd_help(const lab_cmd *cmd)
{
    print_usage_line(stdout, cmd);
    printf("\nctlab %s: %s.\n\n%s\n", cmd->name, cmd->summary, cmd->help);
    int n = count_opts(cmd);
    if (n > 0) {
        printf("\nFlags of %s:\n", cmd->name);
        for (int i = 0; i < n; i++) {
            const lab_opt *o = &cmd->opts[i];
            char left[64];
            snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
            printf("  %-16s %s\n", left, o->help);
        }
    }
    printf("\n%s", common_help);
    if (!cmd->draws) {
        printf("  (%s draws nothing: it refuses --svg)\n", cmd->name);
    }
    if (!cmd->timed && strcmp(cmd->name, "tour") != 0) {
        printf("  (%s has fixed sizes: it refuses --seconds)\n", cmd->name);
    }
}

static void
print_main_help(void)
{
    printf("usage: ctlab [COMMAND] [flags]\n\n"
           "ctlab runs the claims of Python's threading lessons as "
           "experiments on this\nmachine, with cthreading, and prints what "
           "it measured beside what python3 does.\n"
           "Without a COMMAND it runs the tour.\n\nCommands:\n");
    for (int i = 0; lab_commands[i] != NULL; i++) {
        printf("  %-10s %s\n", lab_commands[i]->name, lab_commands[i]->summary);
    }
    printf("  %-10s %s\n\n%s\n", "help CMD", "a command's help", common_help);
}

// Reports a bad command line on stderr; returns LAB_EXIT_USAGE.
static int usage_error(const lab_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const lab_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ctlab%s%s: ", cmd != NULL ? " " : "",
            cmd != NULL ? cmd->name : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cmd != NULL) {
        print_usage_line(stderr, cmd);
        fprintf(stderr, "Try 'ctlab help %s'.\n", cmd->name);
    } else {
        fprintf(stderr,
                "usage: ctlab [COMMAND] [flags]\nTry 'ctlab --help'.\n");
    }
    return LAB_EXIT_USAGE;
}

int
lab_usage(const lab_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ctlab %s: ", ctx->cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    print_usage_line(stderr, ctx->cmd);
    fprintf(stderr, "Try 'ctlab help %s'.\n", ctx->cmd->name);
    return LAB_EXIT_USAGE;
}

int
lab_fail(const lab_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "ctlab %s: ", ctx->cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return LAB_EXIT_FAILED;
}

double
lab_opt_value(const lab_ctx *ctx, const char *name, double dflt)
{
    int n = count_opts(ctx->cmd);
    for (int i = 0; i < n && i < LAB_MAX_OPTS; i++) {
        if (strcmp(ctx->cmd->opts[i].name, name) == 0) {
            return isnan(ctx->opt_values[i]) ? dflt : ctx->opt_values[i];
        }
    }
    return dflt;
}

double
lab_pick(const lab_ctx *ctx, double quick, double tour, double full)
{
    return ctx->quick ? quick : ctx->tour ? tour : full;
}

int
lab_threads(const lab_ctx *ctx, int dflt)
{
    return ctx->threads > 0 ? ctx->threads : dflt;
}

// Parses a finite number in [min, max] (a whole one if `integer`) that
// fills the whole of `s`.
static bool
parse_number(const char *s, bool integer, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) ||
        v < min || v > max || (integer && v != floor(v))) {
        return false;
    }
    *out = v;
    return true;
}

// What the command line asked for, before anything is opened.
typedef struct request {
    const lab_cmd *cmd;
    const char *json_path;
    char **args; // positional arguments
    int nargs;
} request;

// Takes the value of flag argv[*i] ("--flag V" or "--flag=V"), advancing *i.
static const char *
flag_value(const lab_cmd *cmd, int argc, char **argv, int *i, const char *name,
           int *rc)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq != NULL) {
        return eq + 1;
    }
    if (*i + 1 >= argc) {
        *rc = usage_error(cmd, "%s needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

// True when argv's flag is `name` or `name=...`.
static bool
is_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

// Parses the flags and arguments after the command name into ctx and req.
// Returns 0, LAB_EXIT_USAGE (said why), or -1 when help was printed.
static int
parse_flags(lab_ctx *ctx, request *req, int argc, char **argv)
{
    const lab_cmd *cmd = req->cmd;
    int nopts = count_opts(cmd);
    for (int i = 0; i < LAB_MAX_OPTS; i++) {
        ctx->opt_values[i] = NAN;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        double v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_cmd_help(cmd);
            return -1;
        } else if (strcmp(a, "--quick") == 0) {
            ctx->quick = true;
        } else if (strcmp(a, "--no-python") == 0) {
            ctx->no_python = true;
        } else if (is_flag(a, "--threads")) {
            const char *s = flag_value(cmd, argc, argv, &i, "--threads", &rc);
            if (s == NULL) {
                return rc;
            }
            if (!parse_number(s, true, 1, LAB_THREADS_MAX, &v)) {
                return usage_error(cmd,
                                   "--threads '%s': need a whole number "
                                   "from 1 to %d",
                                   s, LAB_THREADS_MAX);
            }
            ctx->threads = (int)v;
        } else if (is_flag(a, "--seconds")) {
            const char *s = flag_value(cmd, argc, argv, &i, "--seconds", &rc);
            if (s == NULL) {
                return rc;
            }
            if (!parse_number(s, false, 0, LAB_SECONDS_MAX, &v) || v <= 0) {
                return usage_error(cmd,
                                   "--seconds '%s': need a number over 0 "
                                   "and up to %g",
                                   s, LAB_SECONDS_MAX);
            }
            if (!cmd->timed && strcmp(cmd->name, "tour") != 0) {
                return usage_error(cmd,
                                   "--seconds: %s has fixed sizes (--quick "
                                   "makes them small)",
                                   cmd->name);
            }
            ctx->seconds = v;
        } else if (is_flag(a, "--json") || is_flag(a, "--svg")) {
            bool json = is_flag(a, "--json");
            const char *name = json ? "--json" : "--svg";
            const char *s = flag_value(cmd, argc, argv, &i, name, &rc);
            if (s == NULL) {
                return rc;
            }
            if (s[0] == '\0') {
                return usage_error(cmd, "%s needs a file name", name);
            }
            if (!json && !cmd->draws) {
                return usage_error(cmd, "--svg: %s draws nothing", cmd->name);
            }
            *(json ? &req->json_path : &ctx->svg_path) = s;
        } else if (a[0] == '-' && a[1] != '\0') {
            int o = 0;
            while (o < nopts && !is_flag(a, cmd->opts[o].name)) {
                o++;
            }
            if (o == nopts || o >= LAB_MAX_OPTS) {
                return usage_error(cmd, "unknown flag '%s'", a);
            }
            const lab_opt *opt = &cmd->opts[o];
            if (opt->arg == NULL) {
                if (strchr(a, '=') != NULL) {
                    return usage_error(cmd, "%s takes no value", opt->name);
                }
                ctx->opt_values[o] = 1;
                continue;
            }
            const char *s = flag_value(cmd, argc, argv, &i, opt->name, &rc);
            if (s == NULL) {
                return rc;
            }
            if (!parse_number(s, opt->integer, opt->min, opt->max, &v)) {
                return usage_error(cmd, "%s '%s': need a %s from %g to %g",
                                   opt->name, s,
                                   opt->integer ? "whole number" : "number",
                                   opt->min, opt->max);
            }
            ctx->opt_values[o] = v;
        } else if (cmd->args == NULL) {
            return usage_error(cmd, "unexpected argument '%s'", a);
        } else {
            req->args[req->nargs++] = argv[i];
        }
    }
    return 0;
}

static void
write_machine(lab_json *j)
{
    lab_json_object_begin(j, "machine");
    lab_json_int(j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
    struct utsname u;
    bool named = uname(&u) == 0;
    lab_json_str(j, "os", named ? u.sysname : NULL);
    lab_json_str(j, "release", named ? u.release : NULL);
    lab_json_str(j, "arch", named ? u.machine : NULL);
#ifdef __VERSION__
    lab_json_str(j, "compiler", __VERSION__);
#else
    lab_json_null(j, "compiler");
#endif
#if defined(__SANITIZE_THREAD__)
    lab_json_str(j, "sanitizer", "thread");
#elif defined(__SANITIZE_ADDRESS__)
    lab_json_str(j, "sanitizer", "address");
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    lab_json_str(j, "sanitizer", "thread");
#elif __has_feature(address_sanitizer)
    lab_json_str(j, "sanitizer", "address");
#else
    lab_json_null(j, "sanitizer");
#endif
#else
    lab_json_null(j, "sanitizer");
#endif
    lab_json_object_end(j);
}

// Opens `path` for writing, or says why not. Opening before anything runs
// is what turns an unwritable file into a usage error, not lost work.
static FILE *
open_output(const lab_cmd *cmd, const char *flag, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        usage_error(cmd, "%s %s: cannot write: %s", flag, path,
                    strerror(errno));
    }
    return f;
}

static int
run_command(lab_ctx *ctx, request *req)
{
    FILE *json_file = NULL;
    if (req->json_path != NULL) {
        json_file = open_output(req->cmd, "--json", req->json_path);
        if (json_file == NULL) {
            return LAB_EXIT_USAGE;
        }
    }
    if (ctx->svg_path != NULL) {
        ctx->svg = open_output(req->cmd, "--svg", ctx->svg_path);
        if (ctx->svg == NULL) {
            if (json_file != NULL) {
                fclose(json_file);
                remove(req->json_path);
            }
            return LAB_EXIT_USAGE;
        }
    }
    if (json_file != NULL) {
        ctx->json = lab_json_new(json_file);
        if (ctx->json == NULL) {
            fprintf(stderr, "ctlab: out of memory\n");
            return LAB_EXIT_FAILED;
        }
        lab_json *j = ctx->json;
        lab_json_object_begin(j, NULL);
        lab_json_str(j, "ctlab", CT_VERSION_STRING);
        lab_json_str(j, "command", req->cmd->name);
        lab_json_object_begin(j, "options");
        lab_json_bool(j, "quick", ctx->quick);
        lab_json_int(j, "threads", ctx->threads);
        lab_json_num(j, "seconds", ctx->seconds);
        lab_json_bool(j, "python", !ctx->no_python);
        lab_json_object_end(j);
        write_machine(j);
        lab_json_object_begin(j, "experiments");
    }

    printf("ctlab %s: %s (%ld CPUs)\n", CT_VERSION_STRING, req->cmd->name,
           sysconf(_SC_NPROCESSORS_ONLN));
    req->args[req->nargs] = NULL;
    int rc = req->cmd->run(ctx, req->nargs, req->args);
    lab_progress_end(ctx);
    if (ctx->exp != NULL) { // a run that failed halfway: keep what it has
        lab_experiment_end(ctx);
    }
    fflush(stdout);

    if (ctx->json != NULL) {
        lab_json_object_end(ctx->json); // experiments
        lab_json_int(ctx->json, "exit", rc);
        lab_json_object_end(ctx->json);
        int bad = lab_json_free(ctx->json);
        bad |= fclose(json_file) != 0;
        if (bad && rc == 0) {
            fprintf(stderr, "ctlab: writing %s failed\n", req->json_path);
            rc = LAB_EXIT_FAILED;
        }
        if (rc == LAB_EXIT_USAGE) {
            remove(req->json_path); // nothing ran: leave nothing behind
        }
    }
    if (ctx->svg != NULL) {
        if (fclose(ctx->svg) != 0 && rc == 0) {
            fprintf(stderr, "ctlab: writing %s failed\n", ctx->svg_path);
            rc = LAB_EXIT_FAILED;
        }
        if (rc == LAB_EXIT_USAGE) {
            remove(ctx->svg_path);
        }
    }
    return rc;
}

int
main(int argc, char **argv)
{
    lab_ctx ctx = {0};
    request req = {0};
    int first = 1; // where the command's flags begin
    if (argc > 1 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        print_main_help();
        return LAB_EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "--commands") == 0) {
        for (int i = 0; lab_commands[i] != NULL; i++) {
            printf("%s\n", lab_commands[i]->name);
        }
        return LAB_EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "help") == 0) {
        if (argc == 2) {
            print_main_help();
            return LAB_EXIT_OK;
        }
        if (argc > 3) {
            return usage_error(NULL, "help takes one command, not %d",
                               argc - 2);
        }
        const lab_cmd *cmd = find_cmd(argv[2]);
        if (cmd == NULL) {
            return usage_error(NULL, "help: no command '%s'", argv[2]);
        }
        print_cmd_help(cmd);
        return LAB_EXIT_OK;
    }
    if (argc > 1 && argv[1][0] != '-') {
        req.cmd = find_cmd(argv[1]);
        if (req.cmd == NULL) {
            return usage_error(NULL, "no command '%s'", argv[1]);
        }
        first = 2;
    } else {
        req.cmd = find_cmd("tour");
    }
    ctx.cmd = req.cmd;
    req.args = calloc((size_t)argc + 1, sizeof *req.args);
    if (req.args == NULL) {
        fprintf(stderr, "ctlab: out of memory\n");
        return LAB_EXIT_FAILED;
    }
    int rc = parse_flags(&ctx, &req, argc - first, argv + first);
    if (rc == 0) {
        rc = run_command(&ctx, &req);
    } else if (rc < 0) {
        rc = LAB_EXIT_OK; // help was asked for and printed
    }
    free(req.args);
    return rc;
}
