// Tests of `ctlab sync` and `ctlab deadlock`: each runs (as a process: the
// ctlab built beside ct_tests) with --quick --json, and the document is
// checked for the guarantees each experiment claims (one thread inside a
// Lock, at most 3 inside a Semaphore(3), the bounded buffer's bounds and
// checksum, the barrier's order, a cancelled timer silent, the deadlock
// detected and the ordered run complete), and each claim's verdict against
// the numbers; help exits 0 and a bad flag exits 2.
#include <math.h>
#include <string.h>

#include "json_mini.h"
#include "lab.h"
#include "test.h"

#include "ctlab_run.h"

// Returns the claim named `claim` of experiment `exp`, failing the test if
// it is missing or malformed.
static const json_value *
find_claim(int line, const json_value *doc, const char *exp, const char *claim)
{
    char p[160];
    snprintf(p, sizeof p, "experiments.%s.claims", exp);
    const json_value *claims = json_get(doc, p);
    if (claims == NULL || claims->type != JSON_ARRAY) {
        ct_test_fail(__FILE__, line, "%s: no claims", exp);
    }
    for (size_t i = 0; i < claims->len; i++) {
        const char *name = json_str(claims->items[i], "claim");
        const json_value *held = json_get(claims->items[i], "held");
        if (name == NULL || held == NULL || held->type != JSON_BOOL ||
            json_str(claims->items[i], "conclusion") == NULL) {
            ct_test_fail(__FILE__, line, "%s: a malformed claim", exp);
        }
        if (strcmp(name, claim) == 0) {
            return claims->items[i];
        }
    }
    ct_test_fail(__FILE__, line, "%s: no claim '%s'", exp, claim);
    return NULL;
}

// Fails unless the claim's verdict is `want`.
static void
check_claim(int line, const json_value *doc, const char *exp, const char *claim,
            bool want)
{
    const json_value *c = find_claim(line, doc, exp, claim);
    if (json_get(c, "held")->boolean != want) {
        ct_test_fail(__FILE__, line, "%s: '%s' held = %d, want %d: %s", exp,
                     claim, !want, want, json_str(c, "conclusion"));
    }
}

// The number at "experiments.EXP.REST".
static double
num(const json_value *doc, const char *exp, const char *rest)
{
    char p[192];
    snprintf(p, sizeof p, "experiments.%s.%s", exp, rest);
    return json_num(doc, p);
}

static const char *
str(const json_value *doc, const char *exp, const char *rest)
{
    char p[192];
    snprintf(p, sizeof p, "experiments.%s.%s", exp, rest);
    const char *s = json_str(doc, p);
    return s != NULL ? s : "(none)";
}

// The guarantees of a whole `ctlab sync` document run with `threads`
// (the --threads given, which Semaphore's 8 and the others' 4 yield to).
static void
check_sync_doc(const json_value *doc, int threads)
{
    // Lock: exact counter, one inside at a time.
    const char *e = "sync_lock";
    int lock_threads = threads > 0 ? threads : 4;
    CHECK_EQ(num(doc, e, "params.threads"), lock_threads);
    double expected = lock_threads * num(doc, e, "params.pairs");
    CHECK(expected >= 1);
    CHECK_EQ(num(doc, e, "tables.check.rows[0].expected"), expected);
    CHECK_EQ(num(doc, e, "tables.check.rows[0].counter"), expected);
    CHECK_EQ(num(doc, e, "tables.check.rows[0].max_inside"), 1);
    CHECK(num(doc, e, "tables.timing.rows[0].ct_lock_ns") > 0);
    CHECK(num(doc, e, "tables.timing.rows[1].pthread_ns") > 0);
    check_claim(__LINE__, doc, e, "a Lock lets one thread at a time in", true);
    check_claim(__LINE__, doc, e, "with a Lock no update is lost", true);
    double r1 = num(doc, e, "tables.timing.rows[0].ratio");
    double rn = num(doc, e, "tables.timing.rows[1].ratio");
    check_claim(__LINE__, doc, e, "ct_lock is faster than pthread_mutex",
                r1 >= 1 && rn >= 1);

    // RLock: refused at every depth, free after the last release.
    e = "sync_rlock";
    double depth = num(doc, e, "params.depth");
    CHECK(depth >= 1);
    CHECK_EQ(num(doc, e, "tables.check.rows[0].tries_while_held"), depth);
    CHECK_EQ(num(doc, e, "tables.check.rows[0].refused"), depth);
    CHECK(strcmp(str(doc, e, "tables.check.rows[0].after_last_release"),
                 "ok") == 0);
    CHECK(strcmp(str(doc, e, "tables.check.rows[0].foreign_release"),
                 "CT_EPERM") == 0);
    check_claim(__LINE__, doc, e,
                "an RLock is re-entered by its owner and freed by the last "
                "release only",
                true);

    // Semaphore(3): never more than 3 inside; bounded refuses.
    e = "sync_semaphore";
    int sem_threads = threads > 0 ? threads : 8;
    CHECK_EQ(num(doc, e, "params.threads"), sem_threads);
    CHECK_EQ(num(doc, e, "params.value"), 3);
    double most = num(doc, e, "tables.concurrency.rows[0].max_inside");
    CHECK(most >= 1 && most <= 3 && most <= sem_threads);
    CHECK_EQ(num(doc, e, "params.max_inside"), most);
    double unguarded = num(doc, e, "tables.concurrency.rows[1].max_inside");
    CHECK(unguarded >= 1 && unguarded <= sem_threads);
    check_claim(__LINE__, doc, e, "a Semaphore limits concurrency", true);
    CHECK(strcmp(str(doc, e, "tables.bounded.rows[0].extra_release"), "ok") ==
          0);
    CHECK_EQ(num(doc, e, "tables.bounded.rows[0].value_after"), 4);
    CHECK(strcmp(str(doc, e, "tables.bounded.rows[1].extra_release"),
                 "CT_EOVERFLOW") == 0);
    CHECK_EQ(num(doc, e, "tables.bounded.rows[1].value_after"), 3);
    check_claim(__LINE__, doc, e,
                "a BoundedSemaphore refuses a release past its value", true);

    // Event: every waiter released, every round.
    e = "sync_event";
    double waits = num(doc, e, "params.waiters") * num(doc, e, "params.rounds");
    CHECK(waits >= 1);
    CHECK_EQ(num(doc, e, "tables.wake.rows[0].expected"), waits);
    CHECK_EQ(num(doc, e, "tables.wake.rows[0].released"), waits);
    CHECK_EQ(num(doc, e, "tables.wake.rows[0].timeouts"), 0);
    double late = num(doc, e, "tables.wake.rows[0].late");
    CHECK(late >= 0 && late <= waits);
    if (late < waits) { // some waiter was measured
        double p50 = num(doc, e, "tables.wake.rows[0].p50_us");
        double p99 = num(doc, e, "tables.wake.rows[0].p99_us");
        CHECK(p50 >= 0 && p99 >= p50);
    }
    check_claim(__LINE__, doc, e, "Event.set() releases every waiter", true);

    // Condition: bounds kept, every item once.
    e = "sync_condition";
    CHECK_EQ(num(doc, e, "params.capacity"), 10);
    double items = 3 * num(doc, e, "params.items_per_producer");
    CHECK(items >= 1);
    CHECK_EQ(num(doc, e, "tables.buffer.rows[0].items"), items);
    CHECK_EQ(num(doc, e, "tables.buffer.rows[0].taken"), items);
    CHECK_EQ(num(doc, e, "tables.buffer.rows[0].duplicates"), 0);
    CHECK_EQ(num(doc, e, "tables.buffer.rows[0].missing"), 0);
    double fullest = num(doc, e, "tables.buffer.rows[0].max_count");
    CHECK(fullest >= 1 && fullest <= 10);
    CHECK(num(doc, e, "tables.buffer.rows[0].min_count") >= 0);
    CHECK_EQ(num(doc, e, "params.checksum"), items * (items + 1) / 2);
    CHECK_EQ(num(doc, e, "params.checksum_expected"), items * (items + 1) / 2);
    CHECK(num(doc, e, "params.items_per_s") > 0);
    check_claim(__LINE__, doc, e,
                "a bounded buffer with a Condition keeps producers and "
                "consumers in step",
                true);
    check_claim(__LINE__, doc, e, "every item is consumed exactly once", true);

    // Barrier: nobody ran a round ahead.
    e = "sync_barrier";
    CHECK_EQ(num(doc, e, "params.threads"), lock_threads);
    CHECK(num(doc, e, "params.rounds") >= 1);
    CHECK_EQ(num(doc, e, "tables.rounds.rows[0].early"), 0);
    CHECK_EQ(num(doc, e, "params.early"), 0);
    CHECK(num(doc, e, "tables.rounds.rows[0].us_per_round") > 0);
    check_claim(__LINE__, doc, e, "a Barrier lets no thread run a round ahead",
                true);

    // Timer: each fired once, never early; the cancelled one never.
    e = "sync_timer";
    double timers = num(doc, e, "params.timers");
    CHECK(timers >= 1);
    CHECK_EQ(num(doc, e, "params.fired"), timers);
    CHECK(num(doc, e, "params.min_late_ms") >= 0);
    CHECK(strcmp(str(doc, e, "params.cancel"), "ok") == 0);
    CHECK_EQ(num(doc, e, "params.cancelled_fired"), 0);
    CHECK_EQ(num(doc, e, "tables.cancel.rows[0].fired"), 0);
    check_claim(__LINE__, doc, e,
                "a Timer calls its function once, after its interval", true);
    check_claim(__LINE__, doc, e, "a cancelled Timer never fires", true);
}

// `ctlab sync --quick --json F` exits 0 and its document holds every
// guarantee.
static void
sync_quick_json(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"sync", "--quick", "--no-python", NULL},
        NULL, &r, 0);
    check_str(__LINE__, doc, "command", "sync");
    check_num(__LINE__, doc, "exit", 0);
    check_sync_doc(doc, 0);
    check_str(__LINE__, doc, "experiments.sync_semaphore.params.python",
              "absent");
    json_free(doc);
    CHECK(strstr(r.out, "Semaphore(3)") != NULL);
    CHECK(strstr(r.out, "BoundedSemaphore(3)") != NULL);
    scratch_remove(&s);
}

// --threads 2 reaches every experiment; with 2 threads a Semaphore(3)
// cannot fill, and the conclusion says so instead of claiming the limit.
static void
sync_two_threads(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc =
        run_ctlab_json(__LINE__, &s,
                       (const char *[]){"sync", "--quick", "--threads", "2",
                                        "--depth", "3", "--no-python", NULL},
                       NULL, &r, 0);
    check_sync_doc(doc, 2);
    check_num(__LINE__, doc, "experiments.sync_rlock.params.depth", 3);
    check_num(__LINE__, doc, "experiments.sync_event.params.waiters", 2);
    const json_value *c = find_claim(__LINE__, doc, "sync_semaphore",
                                     "a Semaphore limits concurrency");
    CHECK(strstr(json_str(c, "conclusion"), "only 2 ran") != NULL);
    json_free(doc);
    scratch_remove(&s);
}

// With python3 present, its Semaphore(3) and bounded buffer hold too.
static void
sync_python_column(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"sync", "--quick", NULL}, NULL, &r, 0);
    (void)python_or_skip(__LINE__, doc,
                         "experiments.sync_semaphore.params.python", &s);
    double most =
        json_num(doc, "experiments.sync_semaphore.tables.concurrency.rows[2]."
                      "max_inside");
    CHECK(most >= 1 && most <= 3);
    check_claim(__LINE__, doc, "sync_semaphore",
                "python: a Semaphore limits concurrency", true);
    const char *b = "experiments.sync_condition.tables.buffer.rows[1]";
    char p[160];
    snprintf(p, sizeof p, "%s.items", b);
    double items = json_num(doc, p);
    CHECK_EQ(items, 3 * json_num(doc, "experiments.sync_condition.params."
                                      "python_items_per_producer"));
    snprintf(p, sizeof p, "%s.taken", b);
    check_num(__LINE__, doc, p, items);
    check_claim(__LINE__, doc, "sync_condition",
                "python: every item is consumed exactly once", true);
    json_free(doc);
    scratch_remove(&s);
}

// The invariants of a deadlock document whose timeout is timeout_ms.
static void
check_deadlock_doc(const json_value *doc, double timeout_ms)
{
    const char *e = "deadlock";
    CHECK_EQ(num(doc, e, "params.timeout_ms"), timeout_ms);
    CHECK_EQ(num(doc, e, "params.detected"), 1);
    static const char *const who[2][3] = {{"A", "lock 1", "lock 2"},
                                          {"B", "lock 2", "lock 1"}};
    for (int i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "tables.opposite.rows[%d].thread", i);
        CHECK(strcmp(str(doc, e, p), who[i][0]) == 0);
        snprintf(p, sizeof p, "tables.opposite.rows[%d].holds", i);
        CHECK(strcmp(str(doc, e, p), who[i][1]) == 0);
        snprintf(p, sizeof p, "tables.opposite.rows[%d].waits_for", i);
        CHECK(strcmp(str(doc, e, p), who[i][2]) == 0);
        snprintf(p, sizeof p, "tables.opposite.rows[%d].result", i);
        CHECK(strcmp(str(doc, e, p), "timed out") == 0);
        snprintf(p, sizeof p, "tables.opposite.rows[%d].waited_ms", i);
        CHECK(num(doc, e, p) >= timeout_ms); // a timeout never ends early
    }
    CHECK(num(doc, e, "params.detect_ms") >= timeout_ms);
    check_claim(__LINE__, doc, e, "inconsistent lock order deadlocks", true);
    CHECK_EQ(num(doc, e, "params.ordered_completed"), 1);
    double rounds = 2 * num(doc, e, "params.iterations");
    CHECK(rounds >= 2);
    CHECK_EQ(num(doc, e, "tables.ordered.rows[0].rounds"), rounds);
    CHECK_EQ(num(doc, e, "tables.ordered.rows[0].completed"), rounds);
    double timeouts = num(doc, e, "params.ordered_timeouts");
    CHECK(timeouts >= 0);
    check_claim(__LINE__, doc, e, "a consistent lock order does not deadlock",
                timeouts == 0);
}

// `ctlab deadlock --quick --json F`: the deadlock is detected by the
// timeout and reported; the ordered run completes; the process ends.
static void
deadlock_quick_json(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    json_value *doc = run_ctlab_json(
        __LINE__, &s, (const char *[]){"deadlock", "--quick", NULL}, NULL, &r,
        0);
    check_str(__LINE__, doc, "command", "deadlock");
    check_num(__LINE__, doc, "exit", 0);
    check_deadlock_doc(doc, 100);
    check_str(__LINE__, doc, "experiments.deadlock.params.report",
              "thread A holds lock 1 and waits for lock 2; thread B holds "
              "lock 2 and waits for lock 1");
    json_free(doc);
    CHECK(strstr(r.out, "Deadlock detected by the timeout") != NULL);
    CHECK(strstr(r.out, "to come") != NULL);
    scratch_remove(&s);
}

// --seconds sets the acquire timeout, and detection takes at least that.
static void
deadlock_timeout_from_seconds(void)
{
    scratch s;
    scratch_make(&s);
    run_result r;
    int64_t t0 = ct_test_now();
    json_value *doc = run_ctlab_json(
        __LINE__, &s,
        (const char *[]){"deadlock", "--quick", "--seconds", "0.3", NULL}, NULL,
        &r, 0);
    int64_t elapsed = ct_test_now() - t0;
    CHECK(elapsed >= 300000000); // it waited for the timeout
    check_deadlock_doc(doc, 300);
    json_free(doc);
    scratch_remove(&s);
}

// Help for both commands; a bad flag or value exits 2 before running.
static void
help_and_bad_flags(void)
{
    static const char *const names[] = {"sync", "deadlock"};
    for (int i = 0; i < 2; i++) {
        run_result r;
        run_ctlab((const char *[]){names[i], "--help", NULL}, NULL, &r);
        check_status(__LINE__, names[i], &r, 0);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: ctlab %s", names[i]);
        CHECK(strncmp(r.out, usage, strlen(usage)) == 0);
    }
    static const char *const bad[][4] = {
        {"sync", "--bogus"},          {"sync", "--depth", "0"},
        {"sync", "--depth", "1.5"},   {"sync", "stray"},
        {"deadlock", "--depth", "3"}, {"deadlock", "--seconds", "-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_result r;
        run_ctlab(bad[i], NULL, &r);
        char what[96];
        snprintf(what, sizeof what, "%s %s %s", bad[i][0], bad[i][1],
                 bad[i][2] != NULL ? bad[i][2] : "");
        check_status(__LINE__, what, &r, LAB_EXIT_USAGE);
        if (strstr(r.err, "usage: ctlab") == NULL || r.out[0] != '\0') {
            ct_test_fail(__FILE__, __LINE__, "%s: stdout '%s', stderr '%s'",
                         what, r.out, r.err);
        }
    }
}

CT_SUITE(ctlab_sync) = {
    {"sync quick json invariants", sync_quick_json},
    {"sync two threads", sync_two_threads},
    {"sync python column", sync_python_column},
    {"deadlock quick json invariants", deadlock_quick_json},
    {"deadlock timeout from seconds", deadlock_timeout_from_seconds},
    {"help and bad flags", help_and_bad_flags},
    {0},
};
