// ct_semaphore: one 64-bit word holding the count (low 32 bits) and the
// number of waiters (high 32 bits), plus the parking lot. Because both live
// in one word, a release's CAS returns, atomically with raising the count,
// whether anyone may sleep: no lost wake-up without any fence games, and no
// access to the semaphore after the unit is published (glibc's sem_post had
// that bug, #12674: the thread that takes the unit may free the semaphore).
#include <cthreading/semaphore.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"

#define COUNT_MASK UINT64_C(0xffffffff)
#define ONE_WAITER (UINT64_C(1) << 32)

static int
init(ct_semaphore *sem, int64_t value, bool bounded)
{
    if (sem == NULL || value < 0 || value > CT_SEMAPHORE_MAX) {
        return CT_EINVAL;
    }
    sem->_state = (uint64_t)value;
    sem->_limit = bounded ? value + 1 : 0;
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
    uint64_t v = ct__load_relaxed(&sem->_state);
    while ((v & COUNT_MASK) > 0) {
        // acquire: pairs with the release's CAS, so what the releaser wrote
        // before release() is visible.
        if (ct__cas_acquire(&sem->_state, &v, v - 1)) {
            return true;
        }
    }
    return false;
}

static bool
validate_empty(void *arg)
{
    ct_semaphore *sem = arg;
    return (ct__load_relaxed(&sem->_state) & COUNT_MASK) == 0;
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
    // Counted as a waiter from here on: a release that raises the count
    // after this sees us in the same word and wakes someone.
    ct__fetch_add_seq_cst(&sem->_state, ONE_WAITER);
    int rc = CT_ETIMEDOUT;
    for (;;) {
        if (try_take(sem)) {
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
    ct__fetch_sub_relaxed(&sem->_state, ONE_WAITER);
    return rc;
}

int
ct_semaphore_release(ct_semaphore *sem, int64_t n)
{
    if (sem == NULL || n < 1) {
        return CT_EINVAL;
    }
    int64_t max = sem->_limit > 0 ? sem->_limit - 1 : CT_SEMAPHORE_MAX;
    uint64_t v = ct__load_relaxed(&sem->_state);
    do {
        if (n > max - (int64_t)(v & COUNT_MASK)) {
            return CT_EOVERFLOW;
        }
    } while (!ct__cas_seq_cst(&sem->_state, &v, v + (uint64_t)n));
    // From here on `sem` may already be freed: only its address is used.
    if ((v >> 32) != 0) {
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
    return (int64_t)(ct__load_relaxed(&sem->_state) & COUNT_MASK);
}
