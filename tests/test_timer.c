// Tests for ct_timer (Python's threading.Timer): it fires once after the
// interval, at once for zero or negative intervals, never after a cancel
// that came before or during the wait, and cancel() says truthfully
// whether it came in time, even when it races the timer.
#include <stdatomic.h>
#include <stdbool.h>

#include "harness/test.h"

typedef struct fired {
    atomic_int calls;
    int64_t at;       // when the function ran
    ct_event entered; // set by the function
    ct_event go;      // the function waits for it when `hold` is set
    bool hold;
} fired;

static void
on_fire(void *arg)
{
    fired *f = arg;
    f->at = ct_test_now();
    atomic_fetch_add(&f->calls, 1);
    CHECK_OK(ct_event_set(&f->entered));
    if (f->hold) {
        CHECK_OK(ct_event_wait(&f->go, ct_test_long_wait()));
    }
}

static void
fires_after_interval(void)
{
    fired f = {0};
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, CT_MILLIS(30), on_fire, &f));
    int64_t t0 = ct_test_now();
    CHECK_OK(ct_timer_start(tm));
    CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&f.calls), 1);
    CHECK(f.at - t0 >= CT_MILLIS(30));
    // Too late to cancel now.
    CHECK_RC(ct_timer_cancel(tm), CT_ESTATE);
    CHECK_RC(ct_timer_start(tm), CT_ESTATE);
    ct_timer_free(tm);
}

static void
zero_and_negative_fire_at_once(void)
{
    const ct_duration intervals[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < 3; i++) {
        fired f = {0};
        ct_timer *tm = NULL;
        CHECK_OK(ct_timer_new(&tm, intervals[i], on_fire, &f));
        int64_t t0 = ct_test_now();
        CHECK_OK(ct_timer_start(tm));
        CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
        CHECK_EQ(atomic_load(&f.calls), 1);
        CHECK(f.at - t0 < ct_test_quick_bound());
        ct_timer_free(tm);
    }
}

static void
cancel_before_start(void)
{
    fired f = {0};
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, 0, on_fire, &f));
    CHECK_OK(ct_timer_cancel(tm));
    CHECK_OK(ct_timer_cancel(tm)); // again: still "will not run"
    CHECK_OK(ct_timer_start(tm));
    CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&f.calls), 0);
    ct_timer_free(tm);
}

static void
cancel_during_wait(void)
{
    fired f = {0};
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, CT_SECONDS(60), on_fire, &f));
    CHECK_OK(ct_timer_start(tm));
    CHECK(ct_thread_is_alive(ct_timer_thread(tm)));
    CHECK_RC(ct_timer_join(tm, CT_MILLIS(10)), CT_ETIMEDOUT);
    int64_t t0 = ct_test_now();
    CHECK_OK(ct_timer_cancel(tm));
    // The thread ends at once, not after the minute.
    CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
    CHECK(ct_test_now() - t0 < ct_test_quick_bound());
    CHECK_EQ(atomic_load(&f.calls), 0);
    ct_timer_free(tm);
}

static void
cancel_while_running(void)
{
    fired f = {.hold = true};
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, 0, on_fire, &f));
    CHECK_OK(ct_timer_start(tm));
    CHECK_OK(ct_event_wait(&f.entered, ct_test_long_wait()));
    CHECK_RC(ct_timer_cancel(tm), CT_ESTATE);
    CHECK_OK(ct_event_set(&f.go));
    CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&f.calls), 1);
    ct_timer_free(tm);
}

// Cancels race the end of short waits: the function ran exactly when
// cancel() said it came too late.
static void
cancel_races(void)
{
    int64_t end = ct_test_now() + CT_MILLIS(300);
    int rounds = 0, too_late = 0;
    while (ct_test_now() < end || rounds < 20) {
        fired f = {0};
        ct_timer *tm = NULL;
        CHECK_OK(ct_timer_new(&tm, CT_MICROS(rounds % 40), on_fire, &f));
        CHECK_OK(ct_timer_start(tm));
        int rc = ct_timer_cancel(tm);
        CHECK(rc == 0 || rc == CT_ESTATE);
        CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
        CHECK_EQ(atomic_load(&f.calls), rc == CT_ESTATE ? 1 : 0);
        too_late += rc == CT_ESTATE;
        ct_timer_free(tm);
        rounds++;
    }
    (void)too_late; // either outcome may dominate on a given machine
}

// Like Python, dropping the handle does not cancel the timer.
static void
free_started_timer_still_fires(void)
{
    static fired f; // the timer thread may outlive this function
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, CT_MILLIS(5), on_fire, &f));
    CHECK_OK(ct_timer_start(tm));
    ct_timer_free(tm);
    CHECK_OK(ct_event_wait(&f.entered, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&f.calls), 1);
    // Freed without start: nothing runs, nothing leaks.
    ct_timer *unused = NULL;
    CHECK_OK(ct_timer_new(&unused, 0, on_fire, &f));
    ct_timer_free(unused);
}

static void
timer_thread_and_bad_input(void)
{
    fired f = {0};
    ct_timer *tm = NULL;
    CHECK_OK(ct_timer_new(&tm, 0, on_fire, &f));
    ct_thread *t = ct_timer_thread(tm);
    CHECK(t != NULL);
    CHECK(strncmp(ct_thread_name(t), "Thread-", 7) == 0);
    CHECK(strchr(ct_thread_name(t), '(') == NULL); // Python: no target name
    CHECK_OK(ct_thread_set_name(t, "alarm"));
    CHECK_OK(ct_thread_set_daemon(t, true));
    CHECK_OK(ct_timer_start(tm));
    CHECK(strcmp(ct_thread_name(t), "alarm") == 0);
    CHECK(ct_thread_is_daemon(t));
    CHECK_OK(ct_timer_join(tm, ct_test_long_wait()));
    ct_timer_free(tm);

    CHECK_RC(ct_timer_new(NULL, 0, on_fire, NULL), CT_EINVAL);
    CHECK_RC(ct_timer_new(&tm, 0, NULL, NULL), CT_EINVAL);
    CHECK_RC(ct_timer_start(NULL), CT_EINVAL);
    CHECK_RC(ct_timer_cancel(NULL), CT_EINVAL);
    CHECK_RC(ct_timer_join(NULL, CT_FOREVER), CT_EINVAL);
    CHECK(ct_timer_thread(NULL) == NULL);
    ct_timer_free(NULL);
}

// clang-format off
CT_SUITE(timer) = {
    {"fires after the interval", fires_after_interval},
    {"zero and negative fire at once", zero_and_negative_fire_at_once},
    {"cancel before start", cancel_before_start},
    {"cancel during the wait", cancel_during_wait},
    {"cancel while running", cancel_while_running},
    {"cancel races", cancel_races},
    {"free a started timer", free_started_timer_still_fires},
    {"timer thread, bad input", timer_thread_and_bad_input},
    {0},
};
// clang-format on
