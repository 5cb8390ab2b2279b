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
//   value  LOCKED PARKED  meaning
//   0      0      0       unlocked, nobody parked
//   1      1      0       locked, nobody parked: release is one CAS
//   2      0      1       unlocked, waiters parked (one is being woken)
//   3      1      1       locked, waiters parked: release goes slow
//
// PARKED is set by a waiter before it parks and is cleared, under the
// parking lot's bucket lock, by whoever removes the last waiter. A release
// in state 3 either hands the lock straight to the oldest waiter (it stays
// LOCKED) when that waiter has waited over ~1 ms, or wakes it to compete.
typedef struct ct_lock {
    uint8_t _state; // private: see the table above
} ct_lock;

#define CT_LOCK_INIT {0}
#define CT__LOCK_LOCKED 1u
#define CT__LOCK_PARKED 2u

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
        CT_LIKELY(__atomic_compare_exchange_n(&lock->_state, &expected,
                                              CT__LOCK_LOCKED, 0,
                                              __ATOMIC_ACQUIRE,
                                              __ATOMIC_RELAXED))) {
        return 0;
    }
    return ct__lock_acquire_slow(lock, timeout);
}

// Releases the lock; any thread may release it. Returns 0, CT_EPERM if it
// was not locked (state unchanged), CT_EINVAL for NULL. Never blocks.
CT_API inline int
ct_lock_release(ct_lock *lock)
{
    uint8_t expected = CT__LOCK_LOCKED;
    if (CT_LIKELY(lock != NULL) &&
        CT_LIKELY(__atomic_compare_exchange_n(&lock->_state, &expected, 0, 0,
                                              __ATOMIC_RELEASE,
                                              __ATOMIC_RELAXED))) {
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
