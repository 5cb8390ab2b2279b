// ctlab's python3 runner: the Python column of an experiment comes from a
// snippet run on the same machine in the same minute. posix_spawnp, not
// system() or popen(), so a missing python3 is told apart from a failing
// one without a shell, and a hung script is killed at its deadline.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"

extern char **environ;

#define MAX_ARGS 32
#define OUT_CAP 65536

// Waits for `pid` until `deadline_ns`, then kills it; returns its status
// word, or -1 if it had to be killed.
static int
reap(pid_t pid, int64_t deadline_ns)
{
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (lab_now_ns() >= deadline_ns) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return -1;
        }
        struct timespec nap = {0, 1000000}; // polls a child that is exiting
        nanosleep(&nap, NULL);
    }
}

// Reads the child's stdout into buf until EOF or the deadline. Returns the
// length, or -1 at the deadline.
static long
read_until(int fd, char *buf, size_t cap, int64_t deadline_ns)
{
    size_t len = 0;
    for (;;) {
        int64_t left_ns = deadline_ns - lab_now_ns();
        if (left_ns <= 0) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int ms = left_ns / 1000000 > 1000 ? 1000 : (int)(left_ns / 1000000) + 1;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR) {
            buf[len] = '\0';
            return (long)len;
        }
        if (r <= 0) {
            continue;
        }
        char scratch[512];
        char *dst = len < cap - 1 ? buf + len : scratch;
        size_t room = len < cap - 1 ? cap - 1 - len : sizeof scratch;
        ssize_t n = read(fd, dst, room);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            buf[len] = '\0';
            return (long)len;
        }
        if (n > 0 && dst != scratch) { // beyond the cap: drained, dropped
            len += (size_t)n;
        }
    }
}

lab_py_status
lab_python(const lab_ctx *ctx, const char *script, const char *const *args,
           double timeout_s, double *out, int cap, int *n, char *why,
           size_t why_len)
{
    *n = 0;
    snprintf(why, why_len, "%s", "");
    if (ctx->no_python) {
        snprintf(why, why_len, "--no-python");
        return LAB_PY_ABSENT;
    }
    const char *python = getenv("CTLAB_PYTHON");
    if (python == NULL || python[0] == '\0') {
        python = "python3";
    }
    char *argv[MAX_ARGS + 4];
    int argc = 0;
    argv[argc++] = (char *)python;
    argv[argc++] = (char *)"-c";
    argv[argc++] = (char *)script;
    for (int i = 0; args != NULL && args[i] != NULL && i < MAX_ARGS; i++) {
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return LAB_PY_FAILED;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    fflush(NULL); // nothing buffered may be written twice
    int rc = posix_spawnp(&pid, python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(why, why_len, "%s: %s", python,
                 rc == ENOENT ? "not found" : strerror(rc));
        return rc == ENOENT || rc == EACCES ? LAB_PY_ABSENT : LAB_PY_FAILED;
    }

    int64_t deadline = lab_now_ns() + (int64_t)(timeout_s * 1e9);
    char *buf = malloc(OUT_CAP);
    long len = buf != NULL ? read_until(fds[0], buf, OUT_CAP, deadline) : -1;
    close(fds[0]);
    int status = reap(pid, len < 0 ? lab_now_ns() : deadline);
    if (buf == NULL || len < 0 || status < 0) {
        free(buf);
        snprintf(why, why_len, "%s timed out after %g s", python, timeout_s);
        return LAB_PY_FAILED;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(buf);
        // The shell's 127 when the interpreter exists but cannot start.
        snprintf(why, why_len, "%s failed (status %d)", python,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return LAB_PY_FAILED;
    }
    char *p = buf;
    while (*n < cap) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) {
            break;
        }
        out[(*n)++] = v;
        p = end;
    }
    free(buf);
    if (*n == 0) {
        snprintf(why, why_len, "%s printed no number", python);
        return LAB_PY_FAILED;
    }
    return LAB_PY_OK;
}

bool
lab_python_column(lab_ctx *ctx, const char *what, const char *script,
                  const char *const *args, double *out, int want, char *version,
                  size_t version_len, char *note, size_t note_len)
{
    int n = 0;
    char why[160];
    lab_progress_begin(ctx, "%s: python3, %s", ctx->cmd->name, what);
    lab_py_status st =
        lab_python(ctx, script, args, lab_pick(ctx, 60, 120, 600), out, want,
                   &n, why, sizeof why);
    lab_progress_end(ctx);
    if (st == LAB_PY_OK && n < want) {
        st = LAB_PY_FAILED;
        snprintf(why, sizeof why, "python3 printed %d numbers, not %d", n,
                 want);
    }
    if (st != LAB_PY_OK) {
        const char *how = st == LAB_PY_ABSENT ? "skipped" : "failed";
        lab_param_str(ctx, "python", st == LAB_PY_ABSENT ? "absent" : "failed");
        lab_param_str(ctx, "python_why", why);
        if (note != NULL) {
            snprintf(note, note_len, "python3: %s (%s).", how, why);
        } else {
            lab_note(ctx, "python3: %s (%s).", how, why);
        }
        return false;
    }
    snprintf(version, version_len, "%.0f.%.0f", out[0], out[1]);
    lab_param_str(ctx, "python", version);
    return true;
}
