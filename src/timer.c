// ct_timer: a ct_thread that waits on an event for the interval and then
// calls the function, unless cancel() set the event first. One CAS on the
// state word decides between the two when they race.
#include <cthreading/event.h>
#include <cthreading/timer.h>

#include <stdlib.h>

#include "sync/atomic.h"

// The state word: PENDING until one side wins its CAS.
//
//   state      set by                  meaning
//   PENDING    ct_timer_new            nothing decided yet
//   FIRED      the timer thread (CAS)  the function runs (or ran)
//   CANCELLED  ct_timer_cancel (CAS)   the function never runs
enum { PENDING, FIRED, CANCELLED };

struct ct_timer {
    ct_thread *thread;
    ct_event finished; // set by cancel() and when the thread is done
    uint32_t state;
    uint32_t refs; // the handle, plus one while the thread runs
    ct_duration interval;
    ct_timer_fn *fn;
    void *arg;
};

static void
timer_unref(ct_timer *tm)
{
    // acq_rel: the last dropper sees the other's writes before freeing.
    if (__atomic_sub_fetch(&tm->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(tm);
    }
}

static int
timer_run(void *arg)
{
    ct_timer *tm = arg;
    if (ct_event_wait(&tm->finished, tm->interval) == CT_ETIMEDOUT) {
        uint32_t expected = PENDING;
        if (ct__cas_acq_rel(&tm->state, &expected, FIRED)) {
            tm->fn(tm->arg);
        }
    }
    (void)ct_event_set(&tm->finished);
    timer_unref(tm);
    return 0;
}

int
ct_timer_new(ct_timer **timer, ct_duration interval, ct_timer_fn *fn, void *arg)
{
    if (timer == NULL || fn == NULL) {
        return CT_EINVAL;
    }
    ct_timer *tm = calloc(1, sizeof *tm);
    if (tm == NULL) {
        return CT_ENOMEM;
    }
    // Python's Timer is a Thread without a target: "Thread-N".
    int rc = ct_thread_new_named(&tm->thread, timer_run, tm, NULL, NULL);
    if (rc != 0) {
        free(tm);
        return rc;
    }
    tm->state = PENDING;
    tm->refs = 1;
    tm->interval = interval;
    tm->fn = fn;
    tm->arg = arg;
    *timer = tm;
    return 0;
}

int
ct_timer_start(ct_timer *tm)
{
    if (tm == NULL) {
        return CT_EINVAL;
    }
    ct__fetch_add_relaxed(&tm->refs, 1); // the thread's, dropped by timer_run
    int rc = ct_thread_start(tm->thread);
    if (rc != 0) {
        ct__fetch_sub_relaxed(&tm->refs, 1);
    }
    return rc;
}

int
ct_timer_cancel(ct_timer *tm)
{
    if (tm == NULL) {
        return CT_EINVAL;
    }
    uint32_t expected = PENDING;
    if (!ct__cas_acq_rel(&tm->state, &expected, CANCELLED) &&
        expected == FIRED) {
        return CT_ESTATE;
    }
    (void)ct_event_set(&tm->finished);
    return 0;
}

int
ct_timer_join(ct_timer *tm, ct_duration timeout)
{
    return tm != NULL ? ct_thread_join(tm->thread, timeout) : CT_EINVAL;
}

ct_thread *
ct_timer_thread(ct_timer *tm)
{
    return tm != NULL ? tm->thread : NULL;
}

void
ct_timer_free(ct_timer *tm)
{
    if (tm != NULL) {
        ct_thread_free(tm->thread);
        timer_unref(tm);
    }
}
