// Deadlines: a relative ct_duration becomes an absolute monotonic time once,
// on entry to a slow path, and every wait loops on that absolute time across
// spurious wake-ups. The arithmetic saturates; it never overflows.
#ifndef CT_SYNC_DEADLINE_H
#define CT_SYNC_DEADLINE_H

#include <cthreading/base.h>

#include "platform/platform.h"

// An absolute CLOCK_MONOTONIC time in nanoseconds; CT__NO_DEADLINE waits
// forever.
typedef int64_t ct__deadline;
#define CT__NO_DEADLINE INT64_MAX

// Converts a timeout to a deadline: CT_FOREVER gives CT__NO_DEADLINE, a
// timeout <= 0 gives "now" (so the caller polls), and a sum that would pass
// INT64_MAX saturates to CT__NO_DEADLINE (292 years away anyway). Reads the
// clock unless the timeout is CT_FOREVER.
static inline ct__deadline
ct__deadline_after(ct_duration timeout)
{
    if (timeout == CT_FOREVER) {
        return CT__NO_DEADLINE;
    }
    int64_t now = ct__clock_now_ns();
    if (timeout <= 0) {
        return now;
    }
    return timeout > INT64_MAX - now ? CT__NO_DEADLINE : now + timeout;
}

// Returns the time left until `d` (CT_FOREVER for no deadline, <= 0 once
// it has passed).
static inline ct_duration
ct__deadline_remaining(ct__deadline d)
{
    if (d == CT__NO_DEADLINE) {
        return CT_FOREVER;
    }
    return d - ct__clock_now_ns();
}

#endif
