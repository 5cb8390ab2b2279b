// ct_condition: waiters queue on the condition's address in the parking
// lot. A waiter is queued before it releases the lock (the park's
// before_sleep step), so a notify made under the lock always finds it, and
// the parking lot's "unparked beats timed out" rule gives exact notify(n).
#include <cthreading/condition.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"

int
ct_condition_init(ct_condition *cond, ct_lock *lock)
{
    if (cond == NULL || lock == NULL) {
        return CT_EINVAL;
    }
    cond->_lock = lock;
    cond->_kind = CT__COND_LOCK;
    cond->_waiters = 0;
    return 0;
}

int
ct_condition_init_rlock(ct_condition *cond, ct_rlock *rlock)
{
    if (cond == NULL || rlock == NULL) {
        return CT_EINVAL;
    }
    cond->_lock = rlock;
    cond->_kind = CT__COND_RLOCK;
    cond->_waiters = 0;
    return 0;
}

void
ct_condition_destroy(ct_condition *cond)
{
    (void)cond;
}

static bool
is_bound(const ct_condition *cond)
{
    return cond != NULL && cond->_lock != NULL &&
           (cond->_kind == CT__COND_LOCK || cond->_kind == CT__COND_RLOCK);
}

// Returns 0 if the caller holds the bound lock, CT_EPERM if not, CT_EINVAL
// for a NULL or unbound condition. A plain lock has no owner: "held" can
// only mean "locked".
static int
check_held(const ct_condition *cond)
{
    if (!is_bound(cond)) {
        return CT_EINVAL;
    }
    bool held = cond->_kind == CT__COND_LOCK ? ct_lock_locked(cond->_lock)
                                             : ct_rlock_is_owned(cond->_lock);
    return held ? 0 : CT_EPERM;
}

int
ct_condition_acquire(ct_condition *cond, ct_duration timeout)
{
    if (!is_bound(cond)) {
        return CT_EINVAL;
    }
    if (cond->_kind == CT__COND_LOCK) {
        return ct_lock_acquire(cond->_lock, timeout);
    }
    return ct_rlock_acquire(cond->_lock, timeout);
}

int
ct_condition_release(ct_condition *cond)
{
    if (!is_bound(cond)) {
        return CT_EINVAL;
    }
    if (cond->_kind == CT__COND_LOCK) {
        return ct_lock_release(cond->_lock);
    }
    return ct_rlock_release(cond->_lock);
}

typedef struct wait_state {
    ct_condition *cond;
    uint32_t depth; // the rlock depth to restore
} wait_state;

// before_sleep: the waiter is queued; now let go of the lock completely.
static void
release_all(void *arg)
{
    wait_state *ws = arg;
    if (ws->cond->_kind == CT__COND_LOCK) {
        (void)ct_lock_release(ws->cond->_lock);
        return;
    }
    ct_rlock *r = ws->cond->_lock;
    ws->depth = r->_count;
    r->_count = 0;
    ct__store_relaxed(&r->_owner, 0);
    (void)ct_lock_release(&r->_lock);
}

// Takes the lock back (it cannot fail: valid lock, no time limit).
static void
reacquire(wait_state *ws)
{
    int rc;
    if (ws->cond->_kind == CT__COND_LOCK) {
        rc = ct_lock_acquire(ws->cond->_lock, CT_FOREVER);
        (void)rc;
        return;
    }
    ct_rlock *r = ws->cond->_lock;
    rc = ct_lock_acquire(&r->_lock, CT_FOREVER);
    (void)rc;
    ct__store_relaxed(&r->_owner, ct__thread_id());
    r->_count = ws->depth;
}

// Waits until notified or the deadline; the caller holds the lock (checked).
static int
wait_until(ct_condition *cond, ct__deadline deadline)
{
    wait_state ws = {cond, 0};
    // relaxed: _waiters changes only under the bound lock; the atomics keep
    // a misused notify (lock not held) from being a data race.
    ct__fetch_add_relaxed(&cond->_waiters, 1);
    ct__park_args args = {
        .before_sleep = release_all,
        .arg = &ws,
        .deadline = deadline,
        .spin = true,
    };
    int rc = ct__park(cond, &args, NULL);
    reacquire(&ws);
    ct__fetch_sub_relaxed(&cond->_waiters, 1);
    return rc == CT__PARK_UNPARKED ? 0 : CT_ETIMEDOUT;
}

int
ct_condition_wait(ct_condition *cond, ct_duration timeout)
{
    int rc = check_held(cond);
    if (rc != 0) {
        return rc;
    }
    if (timeout <= 0) {
        // Nobody could notify a wait that does not last: poll.
        return CT_ETIMEDOUT;
    }
    return wait_until(cond, ct__deadline_after(timeout));
}

int
ct_condition_wait_for(ct_condition *cond, bool (*pred)(void *arg), void *arg,
                      ct_duration timeout)
{
    int rc = check_held(cond);
    if (rc != 0) {
        return rc;
    }
    if (pred == NULL) {
        return CT_EINVAL;
    }
    ct__deadline deadline = 0;
    bool have_deadline = false;
    while (!pred(arg)) {
        if (!have_deadline) {
            deadline = ct__deadline_after(timeout);
            have_deadline = true;
        }
        if (deadline != CT__NO_DEADLINE &&
            ct__deadline_remaining(deadline) <= 0) {
            return CT_ETIMEDOUT;
        }
        (void)wait_until(cond, deadline);
    }
    return 0;
}

int
ct_condition_notify(ct_condition *cond, int n)
{
    int rc = check_held(cond);
    if (rc != 0) {
        return rc;
    }
    if (n <= 0 || ct__load_relaxed(&cond->_waiters) == 0) {
        return 0;
    }
    return (int)ct__unpark(cond, (size_t)n, NULL, NULL);
}

int
ct_condition_notify_all(ct_condition *cond)
{
    int rc = check_held(cond);
    if (rc != 0) {
        return rc;
    }
    if (ct__load_relaxed(&cond->_waiters) == 0) {
        return 0;
    }
    return (int)ct__unpark(cond, SIZE_MAX, NULL, NULL);
}
