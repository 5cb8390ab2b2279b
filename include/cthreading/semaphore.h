// ct_semaphore: Python's threading.Semaphore and BoundedSemaphore, in one
// type. A count plus the parking lot; blocked acquirers are woken in FIFO
// order, though a newly arriving acquirer may take the count first.
#ifndef CTHREADING_SEMAPHORE_H
#define CTHREADING_SEMAPHORE_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

// _state packs the count (low 32 bits) and the number of threads about to
// park or parked (high 32 bits) into one word, so a release learns from
// its own CAS whether to wake anyone and never touches the semaphore
// after making the unit available: the thread that takes it may free the
// semaphore at once (a one-shot completion). _limit is 0 for a plain
// semaphore or initial + 1 for a bounded one; it never changes after init.
// Valid when zeroed (a Semaphore(0)).
typedef struct ct_semaphore {
    uint64_t _state;
    int64_t _limit;
} ct_semaphore;

// clang-format off
#define CT_SEMAPHORE_INIT(value) {(uint64_t)(value), 0}
#define CT_BOUNDED_SEMAPHORE_INIT(value) {(uint64_t)(value), (value) + 1}
// clang-format on
// The largest initial value and count (the count has 31 bits of the word).
#define CT_SEMAPHORE_MAX ((int64_t)INT32_MAX)

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
