// ct_semaphore: a count plus the parking lot. _waiters tells release
// whether anyone may be parked, so the common release is one CAS and no
// system call. A waiter raises _waiters before it last looks at the count
// and a releaser raises the count before it looks at _waiters (both
// seq_cst), so at least one of them sees the other: no lost wake-up.
#include <cthreading/semaphore.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"

static int
init(ct_semaphore *sem, int64_t value, bool bounded)
{
    if (sem == NULL || value < 0 || value > CT_SEMAPHORE_MAX) {
        return CT_EINVAL;
    }
    sem->_value = value;
    sem->_limit = bounded ? value + 1 : 0;
    sem->_waiters = 0;
    sem->_reserved = 0;
    return 0;
}

int
ct_semaphore_init(ct_semaphore *sem, int64_t value)
{
    return init(sem, value, false);
}

int
ct_bounded_semaphore_init(ct_semaphore *sem, int64_t value)
{
    return init(sem, value, true);
}

void
ct_semaphore_destroy(ct_semaphore *sem)
{
    (void)sem;
}

// Takes one unit if there is one.
static bool
try_take(ct_semaphore *sem)
{
    int64_t v = ct__load_relaxed(&sem->_value);
    while (v > 0) {
        // acquire: pairs with the release's CAS, so what the releaser wrote
        // before release() is visible.
        if (ct__cas_acquire(&sem->_value, &v, v - 1)) {
            return true;
        }
    }
    return false;
}

static bool
validate_empty(void *arg)
{
    ct_semaphore *sem = arg;
    return ct__load_relaxed(&sem->_value) <= 0;
}

int
ct_semaphore_acquire(ct_semaphore *sem, ct_duration timeout)
{
    if (sem == NULL) {
        return CT_EINVAL;
    }
    if (try_take(sem)) {
        return 0;
    }
    if (timeout <= 0) {
        return CT_ETIMEDOUT;
    }
    ct__deadline deadline = ct__deadline_after(timeout);
    ct__fetch_add_seq_cst(&sem->_waiters, 1);
    int rc = CT_ETIMEDOUT;
    for (;;) {
        if (ct__load_seq_cst(&sem->_value) > 0 && try_take(sem)) {
            rc = 0;
            break;
        }
        ct__park_args args = {
            .validate = validate_empty,
            .arg = sem,
            .deadline = deadline,
            .spin = true,
        };
        if (ct__park(sem, &args, NULL) == CT_ETIMEDOUT) {
            // A release may have landed as the time ran out: take it rather
            // than leave a unit nobody is woken for.
            rc = try_take(sem) ? 0 : CT_ETIMEDOUT;
            break;
        }
    }
    ct__fetch_sub_relaxed(&sem->_waiters, 1);
    return rc;
}

int
ct_semaphore_release(ct_semaphore *sem, int64_t n)
{
    if (sem == NULL || n < 1) {
        return CT_EINVAL;
    }
    int64_t max = sem->_limit > 0 ? sem->_limit - 1 : CT_SEMAPHORE_MAX;
    int64_t v = ct__load_relaxed(&sem->_value);
    do {
        if (n > max - v) {
            return CT_EOVERFLOW;
        }
    } while (!ct__cas_seq_cst(&sem->_value, &v, v + n));
    if (ct__load_seq_cst(&sem->_waiters) != 0) {
        ct__unpark(sem, (size_t)n, NULL, NULL);
    }
    return 0;
}

int64_t
ct_semaphore_value(const ct_semaphore *sem)
{
    if (sem == NULL) {
        return CT_EINVAL;
    }
    return ct__load_relaxed(&sem->_value);
}
