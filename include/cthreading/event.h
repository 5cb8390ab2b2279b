// ct_event: Python's threading.Event. A 4-byte flag, valid when zeroed;
// set() wakes every waiter and costs one atomic operation when nobody waits.
#ifndef CTHREADING_EVENT_H
#define CTHREADING_EVENT_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

// State word: bit 0 SET, bit 1 PARKED, bits 2-31 a generation that counts
// the set() calls that found waiters (modulo 2^30).
//
//   SET PARKED  meaning
//   0   0       clear, nobody waits
//   1   0       set: waiters return at once
//   0   1       clear, waiters parked or about to park
//   1   1       never stored: set() stores SET and a new generation
//
// A waiter remembers the generation, turns PARKED on and parks while the
// word is unchanged. set() stores SET (bumping the generation if PARKED was
// on) and then wakes every waiter. A waiter returns 0 once SET or a new
// generation shows: so a set() that a clear() already undid still counts
// (gh-57711), and a wake-up from an older set() that arrives late is
// recognised as stale and the waiter parks again.
typedef struct ct_event {
    uint32_t _state;
} ct_event;

// clang-format off
#define CT_EVENT_INIT {0}
// clang-format on

// Initializes a clear event (the same as CT_EVENT_INIT or zeroed memory).
CT_API void ct_event_init(ct_event *event);
// Destroys an event; nothing to free. Nobody may be waiting.
CT_API void ct_event_destroy(ct_event *event);
// Sets the flag and wakes every waiter. Returns 0, or CT_EINVAL for NULL.
CT_API int ct_event_set(ct_event *event);
// Clears the flag. Returns 0, or CT_EINVAL for NULL.
CT_API int ct_event_clear(ct_event *event);
// Returns true if the flag is set (false for NULL).
CT_API bool ct_event_is_set(const ct_event *event);
// Waits until the flag is set or `timeout` passes. Returns 0 if it was set
// (at entry, or at some moment during the wait even if cleared since),
// CT_ETIMEDOUT, or CT_EINVAL for NULL. Any thread may call it.
CT_API CT_NODISCARD int ct_event_wait(ct_event *event, ct_duration timeout);

#ifdef __cplusplus
}
#endif
#endif
