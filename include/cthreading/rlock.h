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

#define CT_RLOCK_INIT {0, 0, CT_LOCK_INIT}

// Initializes an unowned rlock (the same as CT_RLOCK_INIT or zeroed memory).
CT_API void ct_rlock_init(ct_rlock *rlock);
// Destroys an rlock; nothing to free.
CT_API void ct_rlock_destroy(ct_rlock *rlock);
// Acquires the rlock: at once, one level deeper, if the caller owns it;
// else waits up to `timeout` for it. Returns 0, CT_ETIMEDOUT, CT_EINVAL
// for NULL, or CT_EOVERFLOW when the depth would pass UINT32_MAX.
CT_API CT_NODISCARD int ct_rlock_acquire(ct_rlock *rlock, ct_duration timeout);
// Removes one level; the last one frees the lock. Returns 0, CT_EPERM if the
// caller does not own it (unlocked included), CT_EINVAL for NULL.
CT_API int ct_rlock_release(ct_rlock *rlock);
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
