// ct_event: a flag word plus the parking lot (state table in event.h).
// set() on an event nobody waits for is one CAS; it visits the parking lot
// only when PARKED says someone may sleep.
#include <cthreading/event.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"

enum { SET = 1u, PARKED = 2u, GEN_ONE = 4u, FLAGS = 3u };

void
ct_event_init(ct_event *event)
{
    if (event != NULL) {
        ct__store_relaxed(&event->_state, 0);
    }
}

void
ct_event_destroy(ct_event *event)
{
    (void)event;
}

int
ct_event_set(ct_event *event)
{
    if (event == NULL) {
        return CT_EINVAL;
    }
    uint32_t v = ct__load_relaxed(&event->_state);
    uint32_t next;
    do {
        if ((v & FLAGS) == SET) {
            return 0;
        }
        // Waiters may sleep: announce a new generation so that they, and
        // only they, know a set() happened during their wait. It wraps
        // after 2^30 such sets; a waiter descheduled across exactly that
        // many would miss one wake-up and wait for the next set.
        next = (v & PARKED) ? ((v & ~FLAGS) + GEN_ONE) | SET : v | SET;
        // acq_rel: release pairs with the waiters' acquire loads.
    } while (!ct__cas_acq_rel(&event->_state, &v, next));
    if (v & PARKED) {
        ct__unpark(event, SIZE_MAX, NULL, NULL);
    }
    return 0;
}

int
ct_event_clear(ct_event *event)
{
    if (event == NULL) {
        return CT_EINVAL;
    }
    // Only SET goes: PARKED and the generation stay for the waiters.
    ct__fetch_and_relaxed(&event->_state, ~(uint32_t)SET);
    return 0;
}

bool
ct_event_is_set(const ct_event *event)
{
    return event != NULL && (ct__load_acquire(&event->_state) & SET) != 0;
}

typedef struct wait_state {
    ct_event *event;
    uint32_t parked; // the word we sleep on: our generation | PARKED
} wait_state;

static bool
validate_unchanged(void *arg)
{
    wait_state *ws = arg;
    return ct__load_relaxed(&ws->event->_state) == ws->parked;
}

int
ct_event_wait(ct_event *event, ct_duration timeout)
{
    if (event == NULL) {
        return CT_EINVAL;
    }
    // acquire: pairs with the CAS in ct_event_set().
    uint32_t v = ct__load_acquire(&event->_state);
    if (v & SET) {
        return 0;
    }
    if (timeout <= 0) {
        return CT_ETIMEDOUT;
    }
    ct__deadline deadline = ct__deadline_after(timeout);
    const uint32_t gen = v & ~FLAGS;
    for (;;) {
        if ((v & SET) || (v & ~FLAGS) != gen) {
            return 0; // set during our wait (and maybe cleared since)
        }
        if (!(v & PARKED) && !ct__cas_acquire(&event->_state, &v, v | PARKED)) {
            continue;
        }
        wait_state ws = {event, gen | PARKED};
        ct__park_args args = {
            .validate = validate_unchanged,
            .arg = &ws,
            .deadline = deadline,
            .spin = true,
        };
        int rc = ct__park(event, &args, NULL);
        v = ct__load_acquire(&event->_state);
        if (rc == CT_ETIMEDOUT) {
            // PARKED stays: other waiters may sleep on it, and a stale bit
            // costs the next set() one parking-lot visit.
            return (v & SET) || (v & ~FLAGS) != gen ? 0 : CT_ETIMEDOUT;
        }
        // Unparked or invalidated: the loop's first test tells a real set()
        // from a stale wake-up of an older one.
    }
}
