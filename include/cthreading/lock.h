// ct_lock: Python's threading.Lock. One byte, valid when zeroed, released by
// any thread, with a fair hand-off to a waiter that has waited about 1 ms.
// The uncontended acquire and release are one compare-and-swap each, inline.
#ifndef CTHREADING_LOCK_H
#define CTHREADING_LOCK_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

// State of the lock byte (the parking lot keys its waiters by its address):
//
//   bit  name     set by                          cleared by
//   0    LOCKED   the acquirer                    release (unless handed off)
//   1    PARKED   a waiter, just before it parks  whoever removes the last
//                                                 waiter, under the bucket lock
//   2    WAKING   a release that woke a waiter    that waiter, when it takes
//                                                 the lock, parks again, or
//                                                 gives up
//
// The uncontended word is 0 or LOCKED, and release is one CAS. A release
// that sees PARKED goes slow: if WAKING is set, a woken waiter is already on
// its way and the release only clears LOCKED; otherwise it wakes the oldest
// waiter, handing it the lock (LOCKED stays) if it has waited over ~1 ms
// (at most one such hand-off every 0.5 ms on average), or letting it
// compete (WAKING set). So at most one woken waiter competes at a
// time, and a holder that re-takes the lock in a loop pays for one wake-up
// per round trip of that waiter, not one per release.
typedef struct ct_lock {
    uint8_t _state; // private: see the table above
} ct_lock;

// clang-format off
#define CT_LOCK_INIT {0}
// clang-format on
#define CT__LOCK_LOCKED 1u
#define CT__LOCK_PARKED 2u
#define CT__LOCK_WAKING 4u

// Initializes an unlocked lock (the same as CT_LOCK_INIT or zeroed memory).
CT_API void ct_lock_init(ct_lock *lock);
// Destroys a lock. Nothing to free: a lock may be destroyed while held as
// long as nobody waits on it (Python's test_acquire_destroy).
CT_API void ct_lock_destroy(ct_lock *lock);

// Exported for the inline fast paths below; not part of the API.
CT_API int ct__lock_acquire_slow(ct_lock *lock, ct_duration timeout);
CT_API int ct__lock_release_slow(ct_lock *lock);

#if defined(__GNUC__) || defined(__clang__)
// Acquires the lock, waiting up to `timeout` (CT_FOREVER, CT_NOWAIT, or a
// relative time). Returns 0 when acquired, CT_ETIMEDOUT when the time ran
// out (the lock is unchanged), CT_EINVAL for NULL. Not re-entrant: a second
// acquire by the holder waits until some thread releases.
CT_API inline CT_NODISCARD int
ct_lock_acquire(ct_lock *lock, ct_duration timeout)
{
    uint8_t expected = 0;
    if (CT_LIKELY(lock != NULL) &&
        CT_LIKELY(__atomic_compare_exchange_n(
            &lock->_state, &expected, CT__LOCK_LOCKED, 0, __ATOMIC_ACQUIRE,
            __ATOMIC_RELAXED))) {
        return 0;
    }
    return ct__lock_acquire_slow(lock, timeout);
}

// Releases the lock; any thread may release it. Returns 0, CT_EPERM if it
// was not locked (state unchanged), CT_EINVAL for NULL. Never blocks.
// Two releases of one acquisition must not race each other: with waiters
// parked both may return 0, and the second may unlock the lock under the
// waiter it was handed to (CPython's PyMutex behaves the same). A release
// that follows the first one in time gets CT_EPERM.

CT_API inline int
ct_lock_release(ct_lock *lock)
{
    uint8_t expected = CT__LOCK_LOCKED;
    if (CT_LIKELY(lock != NULL) && CT_LIKELY(__atomic_compare_exchange_n(
                                       &lock->_state, &expected, 0, 0,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED))) {
        return 0;
    }
    return ct__lock_release_slow(lock);
}
#else
CT_API CT_NODISCARD int ct_lock_acquire(ct_lock *lock, ct_duration timeout);
CT_API int ct_lock_release(ct_lock *lock);
#endif

// Returns true if some thread holds the lock (false for NULL). A snapshot:
// it may change at once.
CT_API bool ct_lock_locked(const ct_lock *lock);

#ifdef __cplusplus
}
#endif
#endif
