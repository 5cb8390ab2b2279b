// Tests of the lesson programs in examples/ (issue 8): each runs as a
// process at a small size, and its output is checked for the property the
// lesson demonstrates. Timing checks are one-sided, with slack.
#include <stdlib.h>
#include <string.h>

#include "ctlab_run.h"
#include "test.h"

// Runs examples/NAME with up to two arguments (NULL ends them early) and
// fails the test unless it exits with 0.
static void
run_lesson(const char *name, const char *a1, const char *a2, run_result *r)
{
    char path[64];
    snprintf(path, sizeof path, "examples/%s", name);
    const char *argv[] = {built_path(path), a1, a1 != NULL ? a2 : NULL, NULL};
    run_prog(argv, NULL, r);
    check_status(__LINE__, name, r, 0);
}

// Lesson 1: 10 threads x 2,000 locked increments give exactly 20,000.
static void
lesson1_counter_is_exact(void)
{
    run_result r;
    run_lesson("lesson1_counter", "2000", NULL, &r);
    long got = -1, want = -1;
    double s = -1;
    CHECK(sscanf(r.out, "counter = %ld (expected %ld) in %lf s", &got, &want,
                 &s) == 3);
    CHECK_EQ(want, 20000);
    CHECK_EQ(got, 20000);
    CHECK(s >= 0);
}

// Lesson 2: with 3 threads over 10 keys, each key is computed once (10
// misses, 20 hits), set() runs two rlock levels deep, and the plain lock's
// nested acquire times out instead of deadlocking.
static void
lesson2_rlock_reenters(void)
{
    run_result r;
    run_lesson("lesson2_rlock_cache", "3", NULL, &r);
    int threads = 0, keys = 0;
    long misses = -1, hits = -1, depth = -1;
    CHECK(sscanf(r.out,
                 "%d threads x %d keys: %ld misses, %ld hits, rlock depth %ld",
                 &threads, &keys, &misses, &hits, &depth) == 5);
    CHECK_EQ(threads, 3);
    CHECK_EQ(keys, 10);
    CHECK_EQ(misses, 10);
    CHECK_EQ(hits, 20);
    CHECK_EQ(depth, 2);
    CHECK(strstr(r.out, "plain lock, nested acquire: CT_ETIMEDOUT") != NULL);
}

// Lesson 4: every one of 50 items is consumed exactly once, and no consumer
// takes an item before the producer announced the event.
static void
lesson4_event_releases_consumers(void)
{
    enum { N = 50 };
    run_result r;
    run_lesson("lesson4_event", "50", NULL, &r);
    const char *ready = strstr(r.out, "producer: 50 items ready");
    CHECK(ready != NULL);
    int seen[N] = {0};
    int lines = 0;
    for (const char *p = r.out; (p = strstr(p, "got item ")) != NULL; p++) {
        CHECK(p > ready); // after set(), never before
        int item = atoi(p + strlen("got item "));
        CHECK(item >= 0 && item < N);
        seen[item]++;
        lines++;
    }
    CHECK_EQ(lines, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(seen[i], 1);
    }
    CHECK(strstr(r.out, "consumed 50 of 50 items") != NULL);
}

// Lesson 5: 30 items go through in order; each line is printed under the
// buffer's lock, so replaying them gives the size at every step, and it
// matches the printed size and never passes 5.
static void
lesson5_buffer_stays_bounded(void)
{
    run_result r;
    run_lesson("lesson5_bounded_buffer", "30", NULL, &r);
    int puts = 0, gets = 0;
    for (char *line = strtok(r.out, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        int item = -1, size = -1;
        if (sscanf(line, "put %d size %d", &item, &size) == 2) {
            CHECK_EQ(item, puts);
            puts++;
        } else if (sscanf(line, "got %d size %d", &item, &size) == 2) {
            CHECK_EQ(item, gets);
            gets++;
        } else {
            continue;
        }
        CHECK_EQ(size, puts - gets);
        CHECK(size >= 0 && size <= 5);
    }
    CHECK_EQ(puts, 30);
    CHECK_EQ(gets, 30);
}

// Lesson 6: the monitor beats at least once, stops when the event is set,
// and the timed join returns well within its 2 s (one-sided, with slack).
static void
lesson6_monitor_stops_cleanly(void)
{
    run_result r;
    run_lesson("lesson6_daemon_monitor", "100", "10", &r);
    int lines = 0;
    for (const char *p = r.out; (p = strstr(p, "heartbeat ")) != NULL; p++) {
        lines++;
    }
    const char *seen = strstr(r.out, "monitor: shutdown seen");
    const char *end = strstr(r.out, "main: monitor stopped after ");
    CHECK(seen != NULL && end != NULL && seen < end);
    int beats = -1;
    double ms = -1;
    CHECK(sscanf(end,
                 "main: monitor stopped after %d heartbeats, joined in "
                 "%lf ms",
                 &beats, &ms) == 2);
    CHECK(beats > 0);
    CHECK_EQ(beats, lines);
    CHECK(ms >= 0 && ms < 500 * ct_test_scale());
}

// Lesson 7: two 200 ms downloads overlap (both take under 1.5 x one, never
// less than one); the racy balance never gains money, the locked one is
// exact.
static void
lesson7_overlap_and_exact_balance(void)
{
    run_result r;
    run_lesson("lesson7_downloads_balance", "200", "5000", &r);
    const char *p = strstr(r.out, "both downloads: ");
    CHECK(p != NULL);
    double total = -1;
    long one = -1;
    CHECK(sscanf(p, "both downloads: %lf ms (one alone: %ld ms", &total,
                 &one) == 2);
    CHECK_EQ(one, 200);
    CHECK(total >= 200 && total < 1.5 * 200);
    long racy = -1, want = -1, lost = -1, safe = -1, want2 = -1;
    p = strstr(r.out, "no lock: ");
    CHECK(p != NULL);
    CHECK(sscanf(p, "no lock: balance %ld of %ld (%ld deposits lost)", &racy,
                 &want, &lost) == 3);
    CHECK_EQ(want, 4 * 5000);
    CHECK(racy > 0 && racy <= want);
    CHECK_EQ(lost, want - racy);
    p = strstr(r.out, "locked:  ");
    CHECK(p != NULL);
    CHECK(sscanf(p, "locked:  balance %ld of %ld", &safe, &want2) == 2);
    CHECK_EQ(want2, want);
    CHECK_EQ(safe, want);
}

// Lesson 8: the two threads alternate exactly, whatever the scheduler does.
static void
lesson8_interleaving_is_exact(void)
{
    run_result r;
    run_lesson("lesson8_interleave", "26", NULL, &r);
    char want[128] = "";
    for (int i = 0; i < 26; i++) {
        size_t len = strlen(want);
        snprintf(want + len, sizeof want - len, "%s%d %c", i ? " " : "", i + 1,
                 'a' + i);
    }
    strcat(want, "\n");
    if (strcmp(r.out, want) != 0) {
        ct_test_fail(__FILE__, __LINE__, "got '%s', want '%s'", r.out, want);
    }
}

CT_SUITE(examples_lessons) = {
    {"lesson 1: the locked counter is exact", lesson1_counter_is_exact},
    {"lesson 2: get_or_set re-enters the rlock", lesson2_rlock_reenters},
    {"lesson 4: an event releases both consumers",
     lesson4_event_releases_consumers},
    {"lesson 5: the bounded buffer never holds more than 5",
     lesson5_buffer_stays_bounded},
    {"lesson 6: the daemon monitor stops on its event",
     lesson6_monitor_stops_cleanly},
    {"lesson 7: downloads overlap, the locked balance is exact",
     lesson7_overlap_and_exact_balance},
    {"lesson 8: numbers and letters alternate exactly",
     lesson8_interleaving_is_exact},
    {0},
};
