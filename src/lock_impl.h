// What the layers above the primitives share about ct_lock.
#ifndef CT_LOCK_IMPL_H
#define CT_LOCK_IMPL_H

#include <cthreading/lock.h>

// Takes a lock without a timeout, which cannot fail (a valid lock, an
// unlimited wait): for the library's own internal locks.
static inline void
ct__lock_hold(ct_lock *lock)
{
    int rc = ct_lock_acquire(lock, CT_FOREVER);
    (void)rc;
}

#endif
