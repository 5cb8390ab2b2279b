// ct_semaphore: Python's threading.Semaphore and BoundedSemaphore, in one
// type. A count plus the parking lot; blocked acquirers are woken in FIFO
// order, though a newly arriving acquirer may take the count first.
#ifndef CTHREADING_SEMAPHORE_H
#define CTHREADING_SEMAPHORE_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

// _value is the count; _limit is 0 for a plain semaphore or initial + 1
// for a bounded one; _waiters counts threads about to park or parked, so
// release wakes nobody (and makes no system call) when it is 0. Valid when
// zeroed (a Semaphore(0)).
typedef struct ct_semaphore {
    int64_t _value;
    int64_t _limit;
    uint32_t _waiters;
    uint32_t _reserved;
} ct_semaphore;

// clang-format off
#define CT_SEMAPHORE_INIT(value) {(value), 0, 0, 0}
// clang-format on
// clang-format off
#define CT_BOUNDED_SEMAPHORE_INIT(value) {(value), (value) + 1, 0, 0}
// clang-format on
// The largest initial value and count.
#define CT_SEMAPHORE_MAX (INT64_MAX - 1)

// Initializes a semaphore with count `value`. Returns 0, or CT_EINVAL if
// `sem` is NULL or value is negative or above CT_SEMAPHORE_MAX.
CT_API int ct_semaphore_init(ct_semaphore *sem, int64_t value);
// Initializes a bounded semaphore: a release that would lift the count above
// `value` fails with CT_EOVERFLOW. Same codes as ct_semaphore_init.
CT_API int ct_bounded_semaphore_init(ct_semaphore *sem, int64_t value);
// Destroys the semaphore; nothing to free. Nobody may be waiting.
CT_API void ct_semaphore_destroy(ct_semaphore *sem);
// Takes one from the count, waiting up to `timeout` while it is 0. Returns
// 0, CT_ETIMEDOUT, or CT_EINVAL for NULL.
CT_API CT_NODISCARD int ct_semaphore_acquire(ct_semaphore *sem,
                                             ct_duration timeout);
// Adds `n` to the count and wakes up to n waiters. Returns 0, CT_EINVAL if
// sem is NULL or n < 1, CT_EOVERFLOW (count unchanged) if a bounded
// semaphore would pass its initial value or the count CT_SEMAPHORE_MAX.
CT_API int ct_semaphore_release(ct_semaphore *sem, int64_t n);
// Returns the current count (a snapshot), or CT_EINVAL for NULL.
CT_API int64_t ct_semaphore_value(const ct_semaphore *sem);

#ifdef __cplusplus
}
#endif
#endif
