// Error codes, durations, export macros and version: what every other
// cthreading header builds on. Python's exceptions become negative CT_E*
// codes; timeouts are relative nanoseconds on the monotonic clock.
#ifndef CTHREADING_BASE_H
#define CTHREADING_BASE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CT_API __attribute__((visibility("default")))
#define CT_NODISCARD __attribute__((warn_unused_result))
#define CT_LIKELY(x) __builtin_expect(!!(x), 1)
#define CT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CT_NORETURN __attribute__((noreturn))
#else
#define CT_API
#define CT_NODISCARD
#define CT_LIKELY(x) (x)
#define CT_UNLIKELY(x) (x)
#if defined(__cplusplus)
#define CT_NORETURN [[noreturn]]
#else
#define CT_NORETURN _Noreturn
#endif
#endif

#define CT_VERSION_MAJOR 0
#define CT_VERSION_MINOR 1
#define CT_VERSION_PATCH 0
#define CT_VERSION_STRING "0.1.0"

// Returns the library's version string ("MAJOR.MINOR.PATCH"), which may
// differ from CT_VERSION_STRING when a program runs against a newer library.
CT_API const char *ct_version(void);

// Error codes. Every call returns 0 (or a documented non-negative value) on
// success and one of these on failure. Where an errno exists the code is
// -errno; the codes of our own sit in a reserved block below -3000.
#define CT_EPERM (-EPERM)         // lock not held by the caller
#define CT_EINVAL (-EINVAL)       // bad argument (NULL, out of range)
#define CT_ETIMEDOUT (-ETIMEDOUT) // the timeout ran out (Empty, Full, False)
#define CT_EDEADLK (-EDEADLK)     // the call would wait for itself
#define CT_EOVERFLOW (-EOVERFLOW) // released too many times; state unchanged
#define CT_EAGAIN (-EAGAIN)       // the OS refused a resource (a thread)
#define CT_ENOMEM (-ENOMEM)       // out of memory
#define CT_ECANCELED (-ECANCELED) // the future was cancelled
#define CT_ESTATE (-3001)         // wrong state for the call (start twice...)
#define CT_EBROKEN (-3002)        // broken barrier or thread pool
#define CT_ESHUTDOWN (-3003)      // queue or executor shut down
#define CT_EFAILED (-3004)        // the task or thread failed with a code
#define CT_EOF (-3005)            // end of an iteration (StopIteration)

// Returns a sentence describing `code` ("timed out"); never NULL. Unknown
// codes give "unknown error". Any thread may call it.
CT_API const char *ct_strerror(int code);
// Returns the symbolic name of `code` ("CT_ETIMEDOUT"), "OK" for 0 and
// positive values, or "CT_EUNKNOWN". Any thread may call it.
CT_API const char *ct_err_name(int code);

// A relative timeout in nanoseconds. CT_FOREVER waits without limit,
// CT_NOWAIT (0) tries once, and every negative value behaves like 0, so a
// remaining time that went negative polls and never turns into forever.
typedef int64_t ct_duration;

#define CT_FOREVER INT64_MAX
#define CT_NOWAIT ((ct_duration)0)
// Constant-friendly conversions. Use ct_seconds() for run-time values: it
// saturates where these macros would overflow.
#define CT_SECONDS(x) ((ct_duration)((x)*1000000000.0))
#define CT_MILLIS(x) ((ct_duration)(x)*1000000)
#define CT_MICROS(x) ((ct_duration)(x)*1000)

// Converts seconds to a duration, saturating: values at or above about 292
// years give CT_FOREVER, values below -292 years give INT64_MIN (which polls
// like 0), and NaN gives CT_NOWAIT.
CT_API ct_duration ct_seconds(double seconds);
// Converts a duration to seconds (CT_FOREVER gives +infinity).
CT_API double ct_to_seconds(ct_duration d);
// Adds two durations, saturating at CT_FOREVER and INT64_MIN; CT_FOREVER
// plus anything non-negative stays CT_FOREVER.
CT_API ct_duration ct_duration_add(ct_duration a, ct_duration b);
// Returns the monotonic clock in nanoseconds since an arbitrary start. It
// never goes back and does not jump when the wall clock is set.
CT_API int64_t ct_monotonic_ns(void);
// Sleeps for at least `d` (time.sleep); returns at once when d <= 0.
// CT_FOREVER sleeps forever.
CT_API void ct_sleep(ct_duration d);

#ifdef __cplusplus
}
#endif
#endif
