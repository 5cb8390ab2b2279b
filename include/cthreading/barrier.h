// ct_barrier: Python's threading.Barrier. A fixed number of parties meet;
// the last to arrive runs the action, then all go on. Cyclic, with reset,
// abort, a default timeout and a broken state.
#ifndef CTHREADING_BARRIER_H
#define CTHREADING_BARRIER_H

#include "condition.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

// The barrier's states (_state), as in CPython:
//
//   FILLING    0   collecting parties; _count = threads waiting
//   DRAINING   1   the last party arrived; waiters are leaving
//   RESETTING -1   reset() kicks the waiters out with CT_EBROKEN
//   BROKEN    -2   every wait fails with CT_EBROKEN until reset()
//
// A thread arriving while DRAINING or RESETTING waits for FILLING. The last
// thread out of DRAINING or RESETTING puts the barrier back to FILLING.
// Every field is guarded by _lock; _cond is bound to _lock.
typedef struct ct_barrier {
    ct_condition _cond;
    ct_lock _lock;
    int8_t _state;
    uint32_t _parties;
    uint32_t _count;
    int (*_action)(void *arg);
    void *_arg;
    ct_duration _timeout;
} ct_barrier;

// Static initializer; `self` is the variable being initialized:
//   static ct_barrier b = CT_BARRIER_INIT(b, 3, NULL, NULL, CT_FOREVER);
// clang-format off
#define CT_BARRIER_INIT(self, parties, action, arg, timeout)                   \
    {CT_CONDITION_INIT(&(self)._lock), CT_LOCK_INIT, 0, (parties), 0,          \
     (action), (arg), (timeout)}
// clang-format on

// Initializes a barrier for `parties` threads. `action` (may be NULL) runs
// in the last arriving thread before anyone is released; a non-zero return
// breaks the barrier. `timeout` is the default for ct_barrier_wait.
// Returns 0, or CT_EINVAL if barrier is NULL or parties < 1.
CT_API int ct_barrier_init(ct_barrier *barrier, int parties,
                           int (*action)(void *arg), void *arg,
                           ct_duration timeout);
// Destroys the barrier; nothing to free. Nobody may be waiting.
CT_API void ct_barrier_destroy(ct_barrier *barrier);

// Waits until `parties` threads have called it. `timeout` CT_FOREVER means
// the barrier's default timeout (itself CT_FOREVER unless set at init), as
// Python's timeout=None does. Returns the arrival index 0..parties-1 (the
// last arriver gets parties-1), or:
//   CT_EBROKEN    the barrier is or became broken, aborted or reset;
//   CT_ETIMEDOUT  this thread's time ran out: it broke the barrier, and the
//                 other waiters get CT_EBROKEN (Python raises
//                 BrokenBarrierError in both);
//   the action's code, if negative, in the last arriver when the action
//                 failed (a positive failure gives CT_EBROKEN);
//   CT_EINVAL     NULL, or a barrier with no parties.
CT_API CT_NODISCARD int ct_barrier_wait(ct_barrier *barrier,
                                        ct_duration timeout);
// Returns the barrier to FILLING; current waiters get CT_EBROKEN. Clears the
// broken state. Returns 0, or CT_EINVAL for NULL.
CT_API int ct_barrier_reset(ct_barrier *barrier);
// Breaks the barrier: current and later waits get CT_EBROKEN until reset.
// Returns 0, or CT_EINVAL for NULL.
CT_API int ct_barrier_abort(ct_barrier *barrier);
// Returns the number of parties (CT_EINVAL for NULL).
CT_API int ct_barrier_parties(ct_barrier *barrier);
// Returns the number of threads waiting while FILLING (CT_EINVAL for NULL).
CT_API int ct_barrier_n_waiting(ct_barrier *barrier);
// Returns true if the barrier is broken (false for NULL).
CT_API bool ct_barrier_is_broken(ct_barrier *barrier);

#ifdef __cplusplus
}
#endif
#endif
