// Helpers shared by the test files: bounds scaled for slow (sanitized)
// builds, polling without sleeps, and one-sided timing checks.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

ct_duration
ct_test_long_wait(void)
{
    return (ct_duration)(5e9 * ct_test_scale());
}

int64_t
ct_test_quick_bound(void)
{
    return (int64_t)(1e9 * ct_test_scale());
}

bool
ct_test_poll_at_least(atomic_int *v, int want, ct_duration timeout)
{
    int64_t deadline = ct_test_now() + timeout;
    while (atomic_load(v) < want) {
        if (ct_test_now() >= deadline) {
            return false;
        }
        sched_yield();
    }
    return true;
}

void
ct_test_update_max(atomic_int *max, int v)
{
    int cur = atomic_load(max);
    while (v > cur && !atomic_compare_exchange_weak(max, &cur, v)) {
    }
}

void
ct_test_check_elapsed(const char *file, int line, int64_t elapsed,
                      ct_duration timeout)
{
    if (elapsed < timeout ||
        elapsed > timeout + (int64_t)(2e9 * ct_test_scale())) {
        ct_test_fail(file, line, "timeout of %lld ns took %lld ns",
                     (long long)timeout, (long long)elapsed);
    }
}

int
ct_test_wait_child(int pid, ct_duration bound)
{
    int status = 0;
    int64_t deadline = ct_test_now() + bound;
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 &&
           ct_test_now() < deadline) {
        ct_sleep(CT_MICROS(200));
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -2;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
ct_test_in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = ct_test_wait_child(pid, ct_test_long_wait());
    CHECK(status >= 0);
    return status;
}
