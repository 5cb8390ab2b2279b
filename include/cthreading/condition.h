// ct_condition: Python's threading.Condition, bound to a ct_lock or a
// ct_rlock. Waiters queue in FIFO order in the parking lot; notify(n) wakes
// exactly the n oldest, and a wait returns 0 only when notified.
#ifndef CTHREADING_CONDITION_H
#define CTHREADING_CONDITION_H

#include "lock.h"
#include "rlock.h"

#ifdef __cplusplus
extern "C" {
#endif

// _lock points at the bound lock; _kind says which type it is; _waiters
// counts the threads between the start of a wait and the re-acquisition of
// the lock, so that a notify with nobody waiting costs one load. 16 bytes.
typedef struct ct_condition {
    void *_lock;
    uint32_t _kind;
    uint32_t _waiters;
} ct_condition;

#define CT__COND_NONE 0u
#define CT__COND_LOCK 1u
#define CT__COND_RLOCK 2u
// Static initializers: CT_CONDITION_INIT(&lock) binds a ct_lock,
// CT_CONDITION_INIT_RLOCK(&rlock) a ct_rlock. A zeroed condition has no lock:
// every call on it returns CT_EINVAL until ct_condition_init*.
// clang-format off
#define CT_CONDITION_INIT(lockp) {(lockp), CT__COND_LOCK, 0}
// clang-format on
// clang-format off
#define CT_CONDITION_INIT_RLOCK(rlockp) {(rlockp), CT__COND_RLOCK, 0}
// clang-format on

// Binds the condition to `lock`. Returns 0, or CT_EINVAL if either is NULL.
// With a plain ct_lock, "held by the caller" can only mean "locked" (a Lock
// has no owner); bind a ct_rlock to have ownership checked.
CT_API int ct_condition_init(ct_condition *cond, ct_lock *lock);
// Binds the condition to `rlock`; wait releases every level and restores
// them. Returns 0, or CT_EINVAL if either is NULL.
CT_API int ct_condition_init_rlock(ct_condition *cond, ct_rlock *rlock);
// Destroys the condition; nothing to free. Nobody may be waiting.
CT_API void ct_condition_destroy(ct_condition *cond);

// Acquires / releases the bound lock (Python's cond.acquire()/release()).
// Same codes as ct_lock_acquire/ct_rlock_acquire and their release, plus
// CT_EINVAL for a NULL or unbound condition.
CT_API CT_NODISCARD int ct_condition_acquire(ct_condition *cond,
                                             ct_duration timeout);
CT_API int ct_condition_release(ct_condition *cond);

// Releases the lock (every level of an rlock), waits until notified or until
// `timeout`, then re-acquires the lock (restoring the depth) before it
// returns, on every path. Returns 0 if notified, CT_ETIMEDOUT if the time
// ran out, CT_EPERM if the caller does not hold the lock (nothing waited),
// CT_EINVAL for a NULL or unbound condition. No spurious wake-ups. A
// timeout <= 0 returns CT_ETIMEDOUT at once without releasing the lock
// (Python's wait(0) releases and re-takes it; nobody could notify a wait
// that does not last, so only other threads' chance to run differs).
CT_API CT_NODISCARD int ct_condition_wait(ct_condition *cond,
                                          ct_duration timeout);

// Evaluates `pred(arg)` with the lock held and waits until it is true or
// `timeout` runs out (measured from the call, over all the waits). Returns
// 0 when the predicate's last value was true, CT_ETIMEDOUT when it was
// false, and CT_EPERM / CT_EINVAL as ct_condition_wait (also for NULL pred).
CT_API CT_NODISCARD int ct_condition_wait_for(ct_condition *cond,
                                              bool (*pred)(void *arg),
                                              void *arg, ct_duration timeout);

// Wakes the min(n, waiting) oldest waiters; n <= 0 wakes nobody. The caller
// must hold the lock. Returns the number woken, CT_EPERM without the lock,
// CT_EINVAL for a NULL or unbound condition. Makes no system call when
// nobody waits.
CT_API int ct_condition_notify(ct_condition *cond, int n);
// Wakes every waiter. Returns the number woken, or the same codes.
CT_API int ct_condition_notify_all(ct_condition *cond);

#ifdef __cplusplus
}
#endif
#endif
