// ct_timer: Python's threading.Timer. A thread that calls fn(arg) once,
// after `interval`, unless cancelled first.
#ifndef CTHREADING_TIMER_H
#define CTHREADING_TIMER_H

#include "base.h"
#include "thread.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_timer ct_timer;

// The timer's function (Python's `function`); its return has no meaning.
typedef void ct_timer_fn(void *arg);

// Creates a timer that, once started, waits `interval` (zero or negative:
// no wait) and then calls fn(arg) on its own thread, unless cancelled
// first. Its thread is a ct_thread named "Thread-N" with daemon inherited,
// as Python's; ct_timer_thread() gives it for renaming or ct_thread_set_daemon
// before start. Returns 0, CT_EINVAL (NULL timer or fn) or CT_ENOMEM.
CT_API int ct_timer_new(ct_timer **timer, ct_duration interval, ct_timer_fn *fn,
                        void *arg);
// Starts the timer's thread. Same codes as ct_thread_start().
CT_API int ct_timer_start(ct_timer *timer);
// Cancels the call: before start or during the wait the function never
// runs and the thread ends at once. Returns 0 when the function will not run
// (this call or an earlier one cancelled it), CT_ESTATE when it has already
// started (Python's cancel() then does nothing either), CT_EINVAL for NULL.
CT_API int ct_timer_cancel(ct_timer *timer);
// Waits for the timer's thread to end, as ct_thread_join().
CT_API CT_NODISCARD int ct_timer_join(ct_timer *timer, ct_duration timeout);
// Returns the timer's thread (borrowed from the timer; NULL for NULL).
CT_API ct_thread *ct_timer_thread(ct_timer *timer);
// Drops the handle. A started timer still fires unless cancelled, as in
// Python, and frees itself when its thread ends. NULL: nothing.
CT_API void ct_timer_free(ct_timer *timer);

#ifdef __cplusplus
}
#endif
#endif
