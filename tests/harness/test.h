// The test harness: registration tables, assertions and thread helpers.
// runner.c runs each test in a forked child with a watchdog; a failed check
// prints its place and ends the child, so one test cannot disturb another.
#ifndef CT_TEST_H
#define CT_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cthreading.h>

typedef struct ct_test {
    const char *name;
    void (*fn)(void);
} ct_test;

// Each tests/test_<unit>.c ends with a table:
//   CT_SUITE(lock) = { {"acquire then release", acquire_then_release}, {0} };
// and tests/suites.h lists the unit once.
#define CT_SUITE(unit) const ct_test ct_suite_##unit[]
// A test's name for a test that runs a whole program end to end: the
// runner gives it six times the usual time limit.
#define CT_SLOW(name) "slow: " name

// TSAN_BUILD is 1 under ThreadSanitizer (GCC's or Clang's spelling), so a
// test can scale down or skip what TSan cannot follow.
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif
#ifndef TSAN_BUILD
#define TSAN_BUILD 0
#endif

// ASAN_BUILD is 1 under AddressSanitizer.
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

// Exit codes of a test child (the runner reads them).
#define CT_TEST_EXIT_PASS 0
#define CT_TEST_EXIT_FAIL 1
#define CT_TEST_EXIT_SKIP 77

void ct_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void ct_test_skip(const char *reason) __attribute__((noreturn));

// Fails the test unless `cond` holds.
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ct_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);              \
        }                                                                      \
    } while (0)

// Fails the test unless the two integers are equal; prints both.
#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long ct__a = (long long)(a), ct__b = (long long)(b);              \
        if (ct__a != ct__b) {                                                  \
            ct_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", \
                         #a, #b, ct__a, ct__b);                                \
        }                                                                      \
    } while (0)

// Fails the test unless `expr` returns the cthreading code `code`; prints
// both codes by name.
#define CHECK_RC(expr, code)                                                   \
    do {                                                                       \
        int ct__rc = (int)(expr), ct__want = (int)(code);                      \
        if (ct__rc != ct__want) {                                              \
            ct_test_fail(__FILE__, __LINE__, "%s returned %d (%s), want %s",   \
                         #expr, ct__rc, ct_err_name(ct__rc),                   \
                         ct_err_name(ct__want));                               \
        }                                                                      \
    } while (0)

// Fails the test unless `expr` returns 0.
#define CHECK_OK(expr) CHECK_RC((expr), 0)

// Skips the test (counted as skipped, not failed).
#define SKIP(reason) ct_test_skip(reason)

// Multiplier for generous upper bounds on timings: CT_TEST_TIMEOUT_SCALE
// (set under sanitizers and valgrind), at least 1.
double ct_test_scale(void);

// Monotonic time in nanoseconds.
int64_t ct_test_now(void);

// Starts a thread running fn(arg); fails the test if it cannot.
pthread_t ct_test_spawn(void *(*fn)(void *), void *arg);
// Joins a thread started by ct_test_spawn.
void ct_test_join(pthread_t t);

// Starts `n` threads running fn(arg_i) where arg_i = (char *)base + i *
// stride, and joins them all. For N-threads x M-iterations contention tests.
void ct_test_run_threads(int n, void *(*fn)(void *), void *base, size_t stride);

// A bound for waits that must succeed (5 s x scale): far above any real
// delay, yet a lost wake-up fails with a message before the watchdog fires.
ct_duration ct_test_long_wait(void);
// The most a call that must not wait ("at once") may take on a noisy
// machine (1 s x scale).
int64_t ct_test_quick_bound(void);
// Polls until *v >= want or `timeout` passes; returns whether it got there.
// Orders threads without sleeping; with a short timeout it checks that
// something stays false (a blocked thread has not proceeded).
bool ct_test_poll_at_least(atomic_int *v, int want, ct_duration timeout);
// Raises *max to v if v is larger (for "never more than k inside" checks).
void ct_test_update_max(atomic_int *max, int v);
// Waits for the fork() child `pid` for at most `bound` (a hung child is a
// bug to report, not a reason to hang): returns its exit status, -1 if it
// ended by a signal, or -2 if it was still running (then it is killed).
int ct_test_wait_child(int pid, ct_duration bound);
// Runs fn() in a fork() child that then ends with _exit(0) (skipping the
// atexit handlers); returns the child's status as ct_test_wait_child does,
// bounded by ct_test_long_wait(). A CHECK failing in the child fails it.
int ct_test_in_child(void (*fn)(void));

// Fails unless a timed-out call took at least `timeout` and at most
// timeout + 2 s x scale: never early, and not absurdly late.
void ct_test_check_elapsed(const char *file, int line, int64_t elapsed,
                           ct_duration timeout);
#define CHECK_ELAPSED(elapsed, timeout)                                        \
    ct_test_check_elapsed(__FILE__, __LINE__, (elapsed), (timeout))

#endif
