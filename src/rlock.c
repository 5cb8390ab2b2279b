// ct_rlock: an owner identity and a depth on top of a ct_lock. The owner
// field is written only by the thread holding the inner lock, and read by
// others only to compare it with themselves, which cannot give a false
// "mine": a thread's own identity is stored only by that thread.
#include <cthreading/rlock.h>

#include "sync/atomic.h"
#include "sync/parking_lot.h"

void
ct_rlock_init(ct_rlock *rlock)
{
    if (rlock != NULL) {
        ct__store_relaxed(&rlock->_owner, 0);
        rlock->_count = 0;
        ct_lock_init(&rlock->_lock);
    }
}

void
ct_rlock_destroy(ct_rlock *rlock)
{
    (void)rlock;
}

#if defined(__GNUC__) || defined(__clang__)
// Emit the external definitions of the header's inline fast paths here.
extern inline int ct_rlock_acquire(ct_rlock *rlock, ct_duration timeout);
extern inline int ct_rlock_release(ct_rlock *rlock);
#else
int
ct_rlock_acquire(ct_rlock *rlock, ct_duration timeout)
{
    return ct__rlock_acquire_slow(rlock, timeout);
}

int
ct_rlock_release(ct_rlock *rlock)
{
    return ct__rlock_release_slow(rlock);
}
#endif

// The whole acquire; the inline fast path comes here when the rlock is
// held by another thread, the thread has no identity yet, or for NULL.
int
ct__rlock_acquire_slow(ct_rlock *rlock, ct_duration timeout)
{
    if (rlock == NULL) {
        return CT_EINVAL;
    }
    uintptr_t me = ct__thread_id();
    // relaxed: only this thread ever stores `me` here, so seeing it means we
    // stored it ourselves and still hold the lock.
    if (ct__load_relaxed(&rlock->_owner) == me) {
        if (rlock->_count == UINT32_MAX) {
            return CT_EOVERFLOW;
        }
        rlock->_count++;
        return 0;
    }
    int rc = ct_lock_acquire(&rlock->_lock, timeout);
    if (rc != 0) {
        return rc;
    }
    ct__store_relaxed(&rlock->_owner, me);
    rlock->_count = 1;
    return 0;
}

int
ct__rlock_release_slow(ct_rlock *rlock)
{
    if (rlock == NULL) {
        return CT_EINVAL;
    }
    if (ct__load_relaxed(&rlock->_owner) != ct__thread_id()) {
        return CT_EPERM;
    }
    if (--rlock->_count == 0) {
        ct__store_relaxed(&rlock->_owner, 0);
        // release order comes from the inner lock's release.
        return ct_lock_release(&rlock->_lock);
    }
    return 0;
}

bool
ct_rlock_is_owned(const ct_rlock *rlock)
{
    return rlock != NULL && ct__load_relaxed(&rlock->_owner) == ct__thread_id();
}

bool
ct_rlock_locked(const ct_rlock *rlock)
{
    return rlock != NULL && ct_lock_locked(&rlock->_lock);
}

unsigned
ct_rlock_count(const ct_rlock *rlock)
{
    if (!ct_rlock_is_owned(rlock)) {
        return 0;
    }
    return rlock->_count;
}
