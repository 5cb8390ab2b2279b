// ct_lock's slow paths: barging acquisition, a short first-arrival spin,
// parking with a deadline, and release with a fair hand-off once the oldest
// waiter has waited FAIR_NS. The state table is in cthreading/lock.h.
#include <cthreading/lock.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"
#include "sync/spin.h"

// How long a waiter may be overtaken by barging threads before a release
// hands it the lock directly (CPython's PyMutex uses the same 1 ms).
#define FAIR_NS 1000000

// The token a release passes to a waiter it handed the lock to.
#define TOKEN_HANDOFF 1

enum {
    LOCKED = CT__LOCK_LOCKED,
    PARKED = CT__LOCK_PARKED,
    WAKING = CT__LOCK_WAKING,
};

#if defined(__GNUC__) || defined(__clang__)
// Emit the external definitions of the header's inline fast paths here.
extern inline int ct_lock_acquire(ct_lock *lock, ct_duration timeout);
extern inline int ct_lock_release(ct_lock *lock);
#else
int
ct_lock_acquire(ct_lock *lock, ct_duration timeout)
{
    return ct__lock_acquire_slow(lock, timeout);
}

int
ct_lock_release(ct_lock *lock)
{
    return ct__lock_release_slow(lock);
}
#endif

void
ct_lock_init(ct_lock *lock)
{
    if (lock != NULL) {
        ct__store_relaxed(&lock->_state, 0);
    }
}

void
ct_lock_destroy(ct_lock *lock)
{
    (void)lock;
}

bool
ct_lock_locked(const ct_lock *lock)
{
    return lock != NULL && (ct__load_relaxed(&lock->_state) & LOCKED) != 0;
}

// Parks only while the lock is locked with PARKED set (WAKING may come and
// go): a release in between changed the word, and the waiter must look again.
static bool
validate_locked_parked(void *arg)
{
    ct_lock *lock = arg;
    uint8_t v = ct__load_relaxed(&lock->_state);
    return (v & (LOCKED | PARKED)) == (LOCKED | PARKED);
}

// A waiter that timed out was the last one: nobody is parked any more.
static void
timed_out_clear_parked(void *arg, bool have_more)
{
    ct_lock *lock = arg;
    if (!have_more) {
        ct__fetch_and_relaxed(&lock->_state, (uint8_t)~PARKED);
    }
}

int
ct__lock_acquire_slow(ct_lock *lock, ct_duration timeout)
{
    if (lock == NULL) {
        return CT_EINVAL;
    }
    ct__deadline deadline = 0;
    bool have_deadline = false;
    int64_t fair_at = 0;
    // Spin only as a first arrival, only while nobody is parked, and only
    // the brief PAUSE rounds: a thread woken from the queue that spun again
    // would trade the lock back and forth with the holder and turn every
    // release into a slow one, and with two threads per CPU a yielding
    // spinner competes with the holder for its CPU (4 threads on 2 CPUs:
    // 52 Mops/s with yields, 72-79 without).
    ct__spin spin = CT__SPIN_INIT_BRIEF;
    bool may_spin = true;
    // Woken by a release that set WAKING for us: every way out of this
    // state (taking the lock, parking again, giving up) clears WAKING, or
    // no release would ever wake another waiter.
    bool woken = false;

    for (;;) {
        uint8_t v = ct__load_relaxed(&lock->_state);
        uint8_t keep = woken ? (uint8_t)~WAKING : (uint8_t)0xff;
        if (!(v & LOCKED)) {
            // Barging: free (possibly with waiters) means anyone may take it.
            if (ct__cas_acquire(&lock->_state, &v, (v | LOCKED) & keep)) {
                ct__spin_end(&spin);
                return 0;
            }
            continue;
        }
        if (timeout <= 0) {
            // Give up, but only while someone else holds the lock: its
            // release will then see WAKING clear and wake the next waiter.
            if (woken && !ct__cas_relaxed(&lock->_state, &v, v & keep)) {
                continue;
            }
            return CT_ETIMEDOUT;
        }
        if (!(v & PARKED) && may_spin) {
            if (ct__spin_next(&spin)) {
                continue;
            }
            may_spin = false;
        }
        uint8_t want = (uint8_t)((v | PARKED) & keep);
        if (want != v && !ct__cas_relaxed(&lock->_state, &v, want)) {
            continue;
        }
        // Leaving the spin phase (its budget ran out, or PARKED appeared):
        // give the spin slot back before sleeping.
        may_spin = false;
        ct__spin_end(&spin);
        woken = false;
        if (!have_deadline) {
            deadline = ct__deadline_after(timeout);
            fair_at = ct__clock_now_ns() + FAIR_NS;
            have_deadline = true;
        }
        ct__park_args args = {
            .validate = validate_locked_parked,
            .timed_out = timed_out_clear_parked,
            .arg = lock,
            .deadline = deadline,
            .fair_at = fair_at,
            .spin = false,
        };
        uintptr_t token = 0;
        int rc = ct__park(lock, &args, &token);
        if (rc == CT__PARK_UNPARKED && token == TOKEN_HANDOFF) {
            // The releaser left LOCKED set for us. acquire: the parker's
            // acquire already ordered us after the releaser's writes.
            return 0;
        }
        if (rc == CT_ETIMEDOUT) {
            return CT_ETIMEDOUT;
        }
        // Unparked (a release set WAKING for us) or invalidated.
        woken = rc == CT__PARK_UNPARKED;
        may_spin = false;
        if (deadline != CT__NO_DEADLINE && ct__clock_now_ns() >= deadline) {
            // Woken or invalidated too late: one last try, then give up.
            timeout = 0;
        }
    }
}

// Under the bucket lock: sets the word for what the release found. Waiters
// cannot come or go meanwhile; LOCKED|PARKED is set and WAKING clear, so no
// other thread changes the word (an arrival's CAS to add PARKED is a no-op
// and no woken waiter exists), and a plain store is safe.
static uintptr_t
release_unparked(void *arg, ct__unpark_result r)
{
    ct_lock *lock = arg;
    uint8_t more = r.have_more ? PARKED : 0;
    if (r.unparked > 0 && r.be_fair) {
        // Hand-off: the lock stays LOCKED and now belongs to the waiter.
        ct__store_release(&lock->_state, (uint8_t)(LOCKED | more));
        return TOKEN_HANDOFF;
    }
    ct__store_release(&lock->_state,
                      (uint8_t)(more | (r.unparked > 0 ? WAKING : 0)));
    return 0;
}

int
ct__lock_release_slow(ct_lock *lock)
{
    if (lock == NULL) {
        return CT_EINVAL;
    }
    uint8_t v = ct__load_relaxed(&lock->_state);
    for (;;) {
        if (!(v & LOCKED)) {
            return CT_EPERM;
        }
        if (!(v & PARKED) || (v & WAKING)) {
            // Nobody to wake, or a woken waiter is already on its way.
            if (ct__cas_release(&lock->_state, &v, v & (uint8_t)~LOCKED)) {
                return 0;
            }
            continue;
        }
        ct__unpark(lock, 1, release_unparked, lock);
        return 0;
    }
}
