// ct_rlock: Python's threading.RLock. A ct_lock plus the owner's identity
// and the depth; only the owner may release, and each acquire by the owner
// adds one level that a release removes.
#ifndef CTHREADING_RLOCK_H
#define CTHREADING_RLOCK_H

#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

// _owner is 0 or the owning thread's identity (written only by the thread
// that holds _lock); _count is the depth, read and written only by the
// owner. Valid when zeroed.
typedef struct ct_rlock {
    uintptr_t _owner;
    uint32_t _count;
    ct_lock _lock;
} ct_rlock;

// clang-format off
#define CT_RLOCK_INIT {0, 0, CT_LOCK_INIT}
// clang-format on

// Initializes an unowned rlock (the same as CT_RLOCK_INIT or zeroed memory).
CT_API void ct_rlock_init(ct_rlock *rlock);
// Destroys an rlock; nothing to free.
CT_API void ct_rlock_destroy(ct_rlock *rlock);

// Exported for the inline fast paths below; not part of the API. The
// calling thread's identity (0 until the library first needs it, then a
// number never reused in the process), and the slow paths.
#if defined(__GNUC__) || defined(__clang__)
CT_API extern __thread uintptr_t ct__thread_ident
    __attribute__((tls_model("initial-exec")));
#endif
CT_API int ct__rlock_acquire_slow(ct_rlock *rlock, ct_duration timeout);
CT_API int ct__rlock_release_slow(ct_rlock *rlock);

#if defined(__GNUC__) || defined(__clang__)
// Acquires the rlock: at once, one level deeper, if the caller owns it;
// else waits up to `timeout` for it. Returns 0, CT_ETIMEDOUT, CT_EINVAL
// for NULL, or CT_EOVERFLOW when the depth would pass UINT32_MAX.
CT_API inline CT_NODISCARD int
ct_rlock_acquire(ct_rlock *rlock, ct_duration timeout)
{
    uintptr_t me = ct__thread_ident;
    if (CT_LIKELY(rlock != NULL) && CT_LIKELY(me != 0)) {
        // relaxed: only this thread ever stores `me` in _owner.
        if (__atomic_load_n(&rlock->_owner, __ATOMIC_RELAXED) == me) {
            if (CT_LIKELY(rlock->_count != UINT32_MAX)) {
                rlock->_count++;
                return 0;
            }
        } else {
            uint8_t expected = 0;
            if (__atomic_compare_exchange_n(
                    &rlock->_lock._state, &expected, CT__LOCK_LOCKED, 0,
                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                __atomic_store_n(&rlock->_owner, me, __ATOMIC_RELAXED);
                rlock->_count = 1;
                return 0;
            }
        }
    }
    return ct__rlock_acquire_slow(rlock, timeout);
}

// Removes one level; the last one frees the lock. Returns 0, CT_EPERM if the
// caller does not own it (unlocked included), CT_EINVAL for NULL.
CT_API inline int
ct_rlock_release(ct_rlock *rlock)
{
    uintptr_t me = ct__thread_ident;
    if (CT_LIKELY(rlock != NULL) && CT_LIKELY(me != 0) &&
        __atomic_load_n(&rlock->_owner, __ATOMIC_RELAXED) == me) {
        if (rlock->_count > 1) {
            rlock->_count--;
            return 0;
        }
        rlock->_count = 0;
        __atomic_store_n(&rlock->_owner, (uintptr_t)0, __ATOMIC_RELAXED);
        return ct_lock_release(&rlock->_lock);
    }
    return ct__rlock_release_slow(rlock);
}
#else
CT_API CT_NODISCARD int ct_rlock_acquire(ct_rlock *rlock, ct_duration timeout);
CT_API int ct_rlock_release(ct_rlock *rlock);
#endif

// Returns true if the calling thread owns the rlock.
CT_API bool ct_rlock_is_owned(const ct_rlock *rlock);
// Returns true if any thread owns the rlock (Python 3.14's locked()).
CT_API bool ct_rlock_locked(const ct_rlock *rlock);
// Returns the calling thread's depth: 0 if it does not own the rlock.
CT_API unsigned ct_rlock_count(const ct_rlock *rlock);

#ifdef __cplusplus
}
#endif
#endif
