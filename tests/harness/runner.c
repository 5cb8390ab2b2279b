// The test runner: runs each test of tests/suites.h in a forked child under a
// watchdog, so a crash or a deadlock fails one test instead of the whole run.
// Prints one line per test and closes with "N passed, N failed, N skipped".
// Usage: ct_tests [--list] [--no-fork] [-v] [suite | suite/test ...]
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

// Weak, so that a suite whose file is missing fails one line, not the link.
#define CT_SUITE_ENTRY(unit)                                                   \
    extern const ct_test ct_suite_##unit[] __attribute__((weak));
#include "suites.h"
#undef CT_SUITE_ENTRY

typedef struct suite {
    const char *name;
    const ct_test *tests;
} suite;

#define CT_SUITE_ENTRY(unit) {#unit, ct_suite_##unit},
static const suite suites[] = {
#include "suites.h"
};
#undef CT_SUITE_ENTRY

#define NSUITES (sizeof(suites) / sizeof(suites[0]))

// A suite's table, or an empty one when its test file was not linked.
static const ct_test *
suite_tests(size_t s)
{
    static const ct_test none[] = {{0}};
    return suites[s].tests != NULL ? suites[s].tests : none;
}

#define TIMEOUT_S 10.0
// A test named "slow: ..." (CT_SLOW in test.h) gets SLOW_TIMES as long: a
// whole program run end to end, such as ctlab's tour.
#define SLOW_TIMES 6.0

// The child's end of the pipe that carries a skip reason back (-1 if none),
// and, with --no-fork, where a skip on the main thread jumps back to.
static int skip_fd = -1;
static bool no_fork;
static pthread_t main_thread;
static jmp_buf skip_jump;
static char skip_reason[256];

// The child being watched, killed with its process group on SIGINT/SIGTERM.
static volatile sig_atomic_t current_child;

double
ct_test_scale(void)
{
    const char *s = getenv("CT_TEST_TIMEOUT_SCALE");
    char *end;
    double scale = s != NULL ? strtod(s, &end) : 1.0;
    if (s == NULL || end == s || !(scale >= 1.0)) {
        return 1.0;
    }
    return scale;
}

int64_t
ct_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ct_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stdout);
    fflush(stderr);
    if (no_fork) {
        abort(); // stop here under gdb: `break ct_test_fail` also works
    }
    _exit(CT_TEST_EXIT_FAIL);
}

void
ct_test_skip(const char *reason)
{
    if (reason == NULL) {
        reason = "";
    }
    fflush(stdout);
    fflush(stderr);
    if (no_fork && pthread_equal(pthread_self(), main_thread)) {
        snprintf(skip_reason, sizeof skip_reason, "%s", reason);
        longjmp(skip_jump, 1);
    }
    if (skip_fd < 0 || write(skip_fd, reason, strlen(reason)) < 0) {
        fprintf(stderr, "  skipped: %s\n", reason);
    }
    _exit(CT_TEST_EXIT_SKIP);
}

pthread_t
ct_test_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0) {
        ct_test_fail(__FILE__, __LINE__, "pthread_create: %s", strerror(rc));
    }
    return t;
}

void
ct_test_join(pthread_t t)
{
    int rc = pthread_join(t, NULL);
    if (rc != 0) {
        ct_test_fail(__FILE__, __LINE__, "pthread_join: %s", strerror(rc));
    }
}

void
ct_test_run_threads(int n, void *(*fn)(void *), void *base, size_t stride)
{
    if (n < 0) {
        ct_test_fail(__FILE__, __LINE__, "ct_test_run_threads: n = %d", n);
    }
    pthread_t *threads = calloc((size_t)n + 1, sizeof *threads);
    if (threads == NULL) {
        ct_test_fail(__FILE__, __LINE__, "ct_test_run_threads: no memory");
    }
    for (int i = 0; i < n; i++) {
        threads[i] = ct_test_spawn(fn, (char *)base + (size_t)i * stride);
    }
    for (int i = 0; i < n; i++) {
        ct_test_join(threads[i]);
    }
    free(threads);
}

static const char *
signal_name(int sig)
{
    static char buf[32];
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGABRT, "SIGABRT"}, {SIGALRM, "SIGALRM"}, {SIGBUS, "SIGBUS"},
        {SIGFPE, "SIGFPE"},   {SIGHUP, "SIGHUP"},   {SIGILL, "SIGILL"},
        {SIGINT, "SIGINT"},   {SIGKILL, "SIGKILL"}, {SIGPIPE, "SIGPIPE"},
        {SIGQUIT, "SIGQUIT"}, {SIGSEGV, "SIGSEGV"}, {SIGSYS, "SIGSYS"},
        {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGUSR1, "SIGUSR1"},
        {SIGUSR2, "SIGUSR2"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].sig == sig) {
            return names[i].name;
        }
    }
    snprintf(buf, sizeof buf, "signal %d", sig);
    return buf;
}

static void
sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void
on_interrupt(int sig)
{
    pid_t pid = (pid_t)current_child;
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

// Waits for `pid` until `limit_ns` passes, polling with sleeps that grow
// from 0.1 ms to 20 ms. Returns true with *status filled once it exited.
static bool
wait_child(pid_t pid, int64_t limit_ns, int *status)
{
    int64_t start = ct_test_now();
    int64_t nap = 100000;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            return r == pid;
        }
        if (ct_test_now() - start >= limit_ns) {
            return false;
        }
        sleep_ns(nap);
        nap = nap * 2 < 20000000 ? nap * 2 : 20000000;
    }
}

typedef enum { PASS, FAIL, SKIP, TIMEOUT } outcome;

// Runs one test in a forked child (or in-process with --no-fork). Fills
// `why` with the reason for a failure or a skip.
static outcome
run_test(const ct_test *t, char *why, size_t why_len)
{
    why[0] = '\0';
    if (no_fork) {
        if (setjmp(skip_jump) != 0) {
            snprintf(why, why_len, "%s", skip_reason);
            return SKIP;
        }
        t->fn();
        return PASS;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return FAIL;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return FAIL;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        close(fds[0]);
        skip_fd = fds[1];
        t->fn();
        fflush(stdout);
        fflush(stderr);
        exit(CT_TEST_EXIT_PASS); // exit, not _exit: atexit work and LSan run
    }
    setpgid(pid, pid); // also done by the child: whichever runs first wins
    current_child = pid;
    close(fds[1]);
    double limit_s = TIMEOUT_S * ct_test_scale() *
                     (strncmp(t->name, "slow: ", 6) == 0 ? SLOW_TIMES : 1);
    int status = 0;
    bool exited = wait_child(pid, (int64_t)(limit_s * 1e9), &status);
    if (!exited) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        if (!wait_child(pid, 5000000000, &status)) {
            fprintf(stderr, "  child %d did not die\n", (int)pid);
        }
    }
    current_child = 0;
    ssize_t n = read(fds[0], why, why_len - 1);
    why[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    if (!exited) {
        snprintf(why, why_len, "timeout after %g s (deadlock?)", limit_s);
        return TIMEOUT;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, why_len, "killed by %s", signal_name(WTERMSIG(status)));
        return FAIL;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == CT_TEST_EXIT_PASS) {
        return PASS;
    }
    if (code == CT_TEST_EXIT_SKIP) {
        return SKIP;
    }
    why[0] = '\0'; // a failed CHECK has said why on stderr
    if (code != CT_TEST_EXIT_FAIL) {
        snprintf(why, why_len, "exit status %d", code);
    }
    return FAIL;
}

// What one command-line name picks: a whole suite (test < 0) or one test.
typedef struct pick {
    size_t suite;
    int test;
} pick;

// Resolves `arg`: "suite", "suite/test", or "suite/pre" where "pre" is a
// unique prefix of a test name. Returns false, having said why, when it
// names nothing or is ambiguous.
static bool
resolve(const char *arg, pick *p)
{
    const char *slash = strchr(arg, '/');
    size_t len = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
    for (size_t s = 0; s < NSUITES; s++) {
        if (strlen(suites[s].name) != len ||
            strncmp(suites[s].name, arg, len) != 0) {
            continue;
        }
        *p = (pick){s, -1};
        if (slash == NULL) {
            return true;
        }
        const ct_test *tests = suite_tests(s);
        int nprefix = 0;
        for (int i = 0; tests[i].name != NULL; i++) {
            if (strcmp(tests[i].name, slash + 1) == 0) {
                p->test = i;
                return true;
            }
            if (strncmp(tests[i].name, slash + 1, strlen(slash + 1)) == 0) {
                p->test = nprefix++ == 0 ? i : p->test;
            }
        }
        if (nprefix == 1) {
            return true;
        }
        fprintf(stderr, "ct_tests: '%s' %s\n", arg,
                nprefix > 1 ? "is ambiguous" : "matches no test");
        return false;
    }
    fprintf(stderr, "ct_tests: '%s' matches no suite\n", arg);
    return false;
}

static bool
picked(const pick *picks, int npicks, size_t s, int test)
{
    for (int i = 0; i < npicks; i++) {
        if (picks[i].suite == s &&
            (picks[i].test < 0 || picks[i].test == test)) {
            return true;
        }
    }
    return npicks == 0;
}

// Prints the test's line: "PASS  suite/test (0.012 s)",
// "FAIL  suite/test: killed by SIGSEGV (0.003 s)", "SKIP  suite/test (why)".
static void
print_result(outcome o, const char *suite_name, const char *test_name,
             const char *why, double secs)
{
    bool has_why = why[0] != '\0';
    switch (o) {
    case PASS:
        printf("PASS  %s/%s (%.3f s)\n", suite_name, test_name, secs);
        break;
    case FAIL:
        printf("FAIL  %s/%s%s%s (%.3f s)\n", suite_name, test_name,
               has_why ? ": " : "", why, secs);
        break;
    case TIMEOUT:
        printf("FAIL  %s/%s: %s\n", suite_name, test_name, why);
        break;
    case SKIP:
        printf("SKIP  %s/%s%s%s%s\n", suite_name, test_name,
               has_why ? " (" : "", why, has_why ? ")" : "");
        break;
    }
}

int
main(int argc, char **argv)
{
    pick *picks = calloc((size_t)argc, sizeof *picks);
    int npicks = 0;
    bool list = false, verbose = false;

    setvbuf(stdout, NULL, _IOLBF, 0);
    main_thread = pthread_self();
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[a], "--no-fork") == 0) {
            no_fork = true;
        } else if (strcmp(argv[a], "-v") == 0) {
            verbose = true;
        } else if (argv[a][0] == '-') {
            fprintf(stderr, "usage: ct_tests [--list] [--no-fork] [-v] "
                            "[suite | suite/test ...]\n");
            return strcmp(argv[a], "-h") == 0 ? 0 : 2;
        } else if (picks == NULL || !resolve(argv[a], &picks[npicks++])) {
            return 2;
        }
    }

    signal(SIGCHLD, SIG_DFL); // an inherited SIG_IGN would reap our children
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    if (verbose && !list) {
        printf("timeout %g s per test%s\n", TIMEOUT_S * ct_test_scale(),
               no_fork ? " (not enforced: --no-fork)" : "");
    }
    int passed = 0, failed = 0, skipped = 0;
    for (size_t s = 0; s < NSUITES; s++) {
        if (suites[s].tests == NULL && !list && picked(picks, npicks, s, -1)) {
            printf("FAIL  %s: no tests linked (tests/test_%s.c missing?)\n",
                   suites[s].name, suites[s].name);
            failed++;
        }
        const ct_test *tests = suite_tests(s);
        for (int i = 0; tests[i].name != NULL; i++) {
            if (!picked(picks, npicks, s, i)) {
                continue;
            }
            if (list) {
                printf("%s/%s\n", suites[s].name, tests[i].name);
                continue;
            }
            if (verbose) {
                printf("RUN   %s/%s\n", suites[s].name, tests[i].name);
            }
            char why[256];
            int64_t start = ct_test_now();
            outcome o = run_test(&tests[i], why, sizeof why);
            double secs = (double)(ct_test_now() - start) / 1e9;
            print_result(o, suites[s].name, tests[i].name, why, secs);
            passed += o == PASS;
            failed += o == FAIL || o == TIMEOUT;
            skipped += o == SKIP;
        }
    }
    free(picks);
    if (list) {
        return 0;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    // check-all sums the closing lines of its several runs through this file.
    const char *path = getenv("CT_TEST_SUMMARY_FILE");
    FILE *f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%d passed, %d failed, %d skipped\n", passed, failed,
                skipped);
        fclose(f);
    }
    return failed > 0 ? 1 : 0;
}
