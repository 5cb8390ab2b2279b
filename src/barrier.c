// ct_barrier: CPython's Barrier algorithm on a ct_lock and a ct_condition
// (states in barrier.h). All fields are guarded by the barrier's lock.
#include <cthreading/barrier.h>

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };

int
ct_barrier_init(ct_barrier *barrier, int parties, int (*action)(void *arg),
                void *arg, ct_duration timeout)
{
    if (barrier == NULL || parties < 1) {
        return CT_EINVAL;
    }
    ct_lock_init(&barrier->_lock);
    (void)ct_condition_init(&barrier->_cond, &barrier->_lock);
    barrier->_state = FILLING;
    barrier->_parties = (uint32_t)parties;
    barrier->_count = 0;
    barrier->_action = action;
    barrier->_arg = arg;
    barrier->_timeout = timeout;
    return 0;
}

void
ct_barrier_destroy(ct_barrier *barrier)
{
    (void)barrier;
}

static bool
valid(const ct_barrier *barrier)
{
    return barrier != NULL && barrier->_parties >= 1 &&
           barrier->_cond._lock == &barrier->_lock;
}

static void
lock(ct_barrier *b)
{
    // Cannot fail: the lock is valid and the wait unlimited.
    int rc = ct_lock_acquire(&b->_lock, CT_FOREVER);
    (void)rc;
}

static void
unlock(ct_barrier *b)
{
    (void)ct_lock_release(&b->_lock);
}

// Breaks the barrier and wakes everyone. Called with the lock held.
static void
break_barrier(ct_barrier *b)
{
    b->_state = BROKEN;
    (void)ct_condition_notify_all(&b->_cond);
}

static bool
not_filling(void *arg)
{
    return ((ct_barrier *)arg)->_state != FILLING;
}

static bool
not_settling(void *arg)
{
    int8_t s = ((ct_barrier *)arg)->_state;
    return s != DRAINING && s != RESETTING;
}

int
ct_barrier_wait(ct_barrier *b, ct_duration timeout)
{
    if (!valid(b)) {
        return CT_EINVAL;
    }
    if (timeout == CT_FOREVER) {
        timeout = b->_timeout;
    }
    lock(b);
    // Wait for a previous cycle to drain or a reset to finish (CPython
    // waits here without a timeout: those phases end on their own).
    int settled = ct_condition_wait_for(&b->_cond, not_settling, b, CT_FOREVER);
    (void)settled;
    if (b->_state == BROKEN) {
        unlock(b);
        return CT_EBROKEN;
    }
    int index = (int)b->_count++;
    int rc = index;
    if ((uint32_t)index + 1 == b->_parties) {
        int code = b->_action != NULL ? b->_action(b->_arg) : 0;
        if (code != 0) {
            break_barrier(b);
            rc = code < 0 ? code : CT_EBROKEN;
        } else {
            b->_state = DRAINING;
            (void)ct_condition_notify_all(&b->_cond);
        }
    } else if (ct_condition_wait_for(&b->_cond, not_filling, b, timeout) != 0) {
        break_barrier(b);
        rc = CT_ETIMEDOUT;
    } else if (b->_state < 0) {
        rc = CT_EBROKEN;
    }
    // The last thread out of a drain or a reset reopens the barrier.
    if (--b->_count == 0 && (b->_state == DRAINING || b->_state == RESETTING)) {
        b->_state = FILLING;
        (void)ct_condition_notify_all(&b->_cond);
    }
    unlock(b);
    return rc;
}

int
ct_barrier_reset(ct_barrier *b)
{
    if (!valid(b)) {
        return CT_EINVAL;
    }
    lock(b);
    if (b->_count > 0) {
        if (b->_state == FILLING || b->_state == BROKEN) {
            b->_state = RESETTING;
        }
    } else {
        b->_state = FILLING;
    }
    (void)ct_condition_notify_all(&b->_cond);
    unlock(b);
    return 0;
}

int
ct_barrier_abort(ct_barrier *b)
{
    if (!valid(b)) {
        return CT_EINVAL;
    }
    lock(b);
    break_barrier(b);
    unlock(b);
    return 0;
}

int
ct_barrier_parties(ct_barrier *b)
{
    if (!valid(b)) {
        return CT_EINVAL;
    }
    return (int)b->_parties;
}

int
ct_barrier_n_waiting(ct_barrier *b)
{
    if (!valid(b)) {
        return CT_EINVAL;
    }
    lock(b);
    int n = b->_state == FILLING ? (int)b->_count : 0;
    unlock(b);
    return n;
}

bool
ct_barrier_is_broken(ct_barrier *b)
{
    if (!valid(b)) {
        return false;
    }
    lock(b);
    bool broken = b->_state == BROKEN;
    unlock(b);
    return broken;
}
