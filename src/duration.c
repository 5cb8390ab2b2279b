// ct_duration helpers: saturating conversions and arithmetic, the monotonic
// clock and sleep for users (the platform layer does the OS part).
#include <cthreading/base.h>

#include <math.h>

#include "platform/platform.h"

ct_duration
ct_seconds(double seconds)
{
    if (isnan(seconds)) {
        return CT_NOWAIT;
    }
    double ns = seconds * 1e9;
    // 2^63 is exactly representable; anything at or past it saturates.
    if (ns >= 9223372036854775808.0) {
        return CT_FOREVER;
    }
    if (ns <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (ct_duration)ns;
}

double
ct_to_seconds(ct_duration d)
{
    if (d == CT_FOREVER) {
        return INFINITY;
    }
    return (double)d / 1e9;
}

ct_duration
ct_duration_add(ct_duration a, ct_duration b)
{
    if (a == CT_FOREVER || b == CT_FOREVER) {
        // Forever plus a finite non-negative amount stays forever; forever
        // minus something is forever too (no deadline arithmetic needed).
        return CT_FOREVER;
    }
    if (b > 0 && a > INT64_MAX - b) {
        return CT_FOREVER;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

int64_t
ct_monotonic_ns(void)
{
    return ct__clock_now_ns();
}

void
ct_sleep(ct_duration d)
{
    if (d == CT_FOREVER) {
        for (;;) {
            ct__os_sleep_ns(INT64_MAX / 2);
        }
    }
    ct__os_sleep_ns(d);
}
