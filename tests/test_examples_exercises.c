// The lessons' program 3 and the six exercises (examples/), each run at a
// small size with its output checked for the property it demonstrates.
#include <stdio.h>
#include <string.h>

#include "ctlab_run.h"
#include "test.h"

// Runs examples/NAME with the NULL-terminated arguments; fails unless it
// exits with 0.
static void
run_example(const char *name, const char *const *args, run_result *r)
{
    char rel[128];
    snprintf(rel, sizeof rel, "examples/%s", name);
    const char *argv[8] = {built_path(rel)};
    for (int i = 0; i < 6 && args[i] != NULL; i++) {
        argv[i + 1] = args[i];
    }
    run_prog(argv, NULL, r);
    if (r->status != 0) {
        ct_test_fail(__FILE__, __LINE__, "%s exited with %d:\n%s\n%s", name,
                     r->status, r->out, r->err);
    }
}

// Returns the number that follows `key` in the output; fails the test when
// the key is missing.
static double
number_after(const run_result *r, const char *key)
{
    const char *p = strstr(r->out, key);
    double v;
    if (p == NULL || sscanf(p + strlen(key), "%lf", &v) != 1) {
        ct_test_fail(__FILE__, __LINE__, "no number after \"%s\" in:\n%s", key,
                     r->out);
    }
    return v;
}

// Lesson 3: every URL fetched, never more than 3 at once (counted by the
// fetchers and by the server), so 6 URLs of 20 ms take two rounds at least.
static void
lesson3_semaphore_fetch(void)
{
    run_result r;
    run_example("lesson3_semaphore_fetch", (const char *[]){"6", "20", NULL},
                &r);
    CHECK(strstr(r.out, "fetched 6 of 6 URLs") != NULL);
    double most = number_after(&r, "max concurrent fetches:");
    CHECK(most >= 1 && most <= 3);
    CHECK(number_after(&r, "requests at the server:") <= 3);
    CHECK(number_after(&r, "URLs in") >= 0.04);
    int lines = 0;
    for (const char *p = r.out; (p = strstr(p, " (fetch) ")) != NULL; p++) {
        lines++;
    }
    CHECK_EQ(lines, 12); // "fetching" and "done" for each URL
}

// Exercise 1: the locked total is exact; the unlocked one never exceeds it.
static void
exercise1_lost_updates(void)
{
    run_result r;
    run_example("exercise1_lost_updates", (const char *[]){"20000", NULL}, &r);
    CHECK_EQ(number_after(&r, "with a lock:"), 100000);
    CHECK(number_after(&r, "without a lock:") <= 100000);
    CHECK(strstr(r.out, "lost") != NULL);
}

// Exercise 3: every item consumed exactly once, the checksums agree, and
// the throughput is printed.
static void
exercise3_pipeline(void)
{
    run_result r;
    run_example("exercise3_pipeline", (const char *[]){"2000", NULL}, &r);
    CHECK_EQ(number_after(&r, "items:"), 6000);
    CHECK_EQ(number_after(&r, "produced,"), 6000);
    CHECK(strstr(r.out, "consumed exactly once") != NULL);
    CHECK(strstr(r.out, "checksum of squares: ok") != NULL);
    CHECK(number_after(&r, "throughput:") > 0);
    CHECK(strstr(r.out, "items/s") != NULL);
}

// Exercise 4: never more than 3 connections out, the acquire on an
// exhausted pool times out (not early), and all come back.
static void
exercise4_connection_pool(void)
{
    run_result r;
    run_example("exercise4_connection_pool", (const char *[]){"10", NULL}, &r);
    double most = number_after(&r, "at most");
    CHECK(most >= 1 && most <= 3);
    CHECK(strstr(r.out, "returned CT_ETIMEDOUT after") != NULL);
    CHECK(number_after(&r, "CT_ETIMEDOUT after") >= 100);
    CHECK(strstr(r.out, "released twice: CT_EOVERFLOW") != NULL);
    CHECK(strstr(r.out, "free at the end: 3 of 3") != NULL);
}

// Exercise 5: the threaded hashes (with and without the GIL) equal the
// sequential ones, and each speed-up is printed. Timing is one-sided: the
// sequential downloads take at least 4 delays; whether hashing speeds up
// depends on the free CPUs, so it is not asserted.
static void
exercise5_threads_vs_sequential(void)
{
    run_result r;
    run_example("exercise5_threads_vs_sequential",
                (const char *[]){"4", "1", "20", NULL}, &r);
    CHECK(strstr(r.out, "hashes match sequential: threads yes, with the "
                        "GIL yes") != NULL);
    CHECK(number_after(&r, "sequential") >= 0.08);
    const char *p = r.out;
    for (int i = 0; i < 3; i++) { // (a), (b) and (c)
        double v;
        p = strstr(p, "speedup ");
        CHECK(p != NULL && sscanf(p, "speedup %lfx", &v) == 1 && v > 0);
        p++;
    }
}

// Exercise 6: all 10 readers inside at once, writers always alone, no torn
// read, every write counted.
static void
exercise6_rwlock(void)
{
    run_result r;
    run_example("exercise6_rwlock", (const char *[]){"100", NULL}, &r);
    CHECK_EQ(number_after(&r, "max readers inside at once:"), 10);
    CHECK_EQ(number_after(&r, "writer not alone:"), 0);
    CHECK_EQ(number_after(&r, "torn reads:"), 0);
    CHECK_EQ(number_after(&r, "final version:"), 20);
}

// Exercise 2: the invariants held at every check, the cache is full but
// not over, and both hits and misses happened.
static void
exercise2_lru_cache(void)
{
    run_result r;
    run_example("exercise2_lru_cache", (const char *[]){"16", "3000", NULL},
                &r);
    CHECK(number_after(&r, "invariant checks:") > 10);
    CHECK_EQ(number_after(&r, "failed:"), 0);
    CHECK_EQ(number_after(&r, "size at the end"), 16);
    CHECK(number_after(&r, "hits") > 0);
    CHECK(number_after(&r, "misses") > 0);
}

CT_SUITE(examples_exercises) = {
    {"lesson 3: at most 3 fetches at once", lesson3_semaphore_fetch},
    {"exercise 1: lost updates, exact with a lock", exercise1_lost_updates},
    {"exercise 2: LRU cache keeps its invariants", exercise2_lru_cache},
    {"exercise 3: pipeline, each item consumed once", exercise3_pipeline},
    {"exercise 4: connection pool, timeout and release",
     exercise4_connection_pool},
    {"exercise 5: threads vs sequential, hashes match",
     exercise5_threads_vs_sequential},
    {"exercise 6: rwlock, readers together, writers alone", exercise6_rwlock},
    {0},
};
