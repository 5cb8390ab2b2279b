// ct_future: concurrent.futures.Future, plus wait() and as_completed().
//
// A future is the result of a computation that may not have finished yet.
// Its state is one atomic word; a caller that must wait sleeps in the
// parking lot, like every other primitive. See docs/executor.md.
//
// States (as Python's): PENDING -> RUNNING -> FINISHED (a result or a
// failure code), or PENDING -> CANCELLED (-> CANCELLED_AND_NOTIFIED once an
// executor saw it). A future is "done" once it is cancelled or finished.
// Unlike CPython, a cancelled future counts as done for ct_wait and
// ct_as_completed in both cancelled states (CPython waits forever on a
// future cancelled outside a worker; we do not copy that quirk).
//
// Ownership: a future is reference counted. ct_future_new and
// ct_executor_submit give the caller one reference; ct_future_ref adds one
// and ct_future_free drops one. An executor holds its own reference while
// the future is queued or running, so the caller may free its reference at
// any time (a future with done-callbacks still runs them), and a future may
// outlive its executor and be freed from any thread. Every call below needs
// the caller to hold a reference for its whole duration.
#ifndef CTHREADING_FUTURE_H
#define CTHREADING_FUTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_future ct_future;

// A done-callback: receives the future (done) and the argument given at
// registration. It runs in the thread that completed the future (a worker,
// or the thread that called ct_future_cancel or set the result), or at once
// in the registering thread if the future was done already. It must not
// free the future's last reference unless it holds one of its own.
typedef void ct_future_done_fn(ct_future *future, void *arg);

// Creates a pending future (for executor authors and tests) into *future,
// with one reference. Returns 0, CT_EINVAL (future NULL) or CT_ENOMEM.
CT_API CT_NODISCARD int ct_future_new(ct_future **future);
// Adds a reference and returns `future` (NULL for NULL): to hand the future
// to another thread that frees it on its own.
CT_API ct_future *ct_future_ref(ct_future *future);
// Drops one reference; the memory goes with the last one (the executor's
// included). Returns 0, CT_EINVAL for NULL, or CT_ESTATE when the caller
// holds no reference: every reference was dropped already but the
// executor's (always detected), or the future is already gone (detected
// in debug builds, -DCT_DEBUG, for the last 4096 futures freed; in a
// release build that is a use after free).
CT_API int ct_future_free(ct_future *future);

// Waits until the future is done or `timeout` passes. Returns 0 with the
// task's result in *result (which may be NULL: only the outcome is wanted),
// CT_ETIMEDOUT, CT_ECANCELED if it was cancelled, CT_EFAILED if the task
// failed (ct_future_exception gives its code), or CT_EINVAL for NULL.
CT_API int ct_future_result(ct_future *future, void **result,
                            ct_duration timeout);
// Waits like ct_future_result. Returns 0 with the task's failure code in
// *code (0 if it succeeded), CT_ETIMEDOUT, CT_ECANCELED, or CT_EINVAL for
// NULL arguments.
CT_API int ct_future_exception(ct_future *future, int *code,
                               ct_duration timeout);
// Cancels a pending future: it becomes done, its waiters wake and its
// callbacks run in this thread. Returns true if the future is now
// cancelled (it was pending, or cancelled before), false if it is running
// or finished (or NULL).
CT_API bool ct_future_cancel(ct_future *future);
// Returns true if the future was cancelled (false for NULL).
CT_API bool ct_future_cancelled(const ct_future *future);
// Returns true while the task runs (false for NULL).
CT_API bool ct_future_running(const ct_future *future);
// Returns true once the future is cancelled or finished (false for NULL).
CT_API bool ct_future_done(const ct_future *future);
// Calls cb(future, arg) once the future is done: at once in this thread if
// it is done already, else in the completing thread. Callbacks run in the
// order they were added, each exactly once. Returns 0, CT_EINVAL (NULL
// future or cb) or CT_ENOMEM (nothing registered, nothing called).
CT_API int ct_future_add_done_callback(ct_future *future, ct_future_done_fn *cb,
                                       void *arg);

// For executor authors: marks a pending future running and returns 1, or,
// for a cancelled one, records that the executor saw the cancellation and
// returns 0 (do not run the task). Returns CT_ESTATE if it is running,
// finished or was already notified, CT_EINVAL for NULL.
CT_API int ct_future_set_running_or_notify_cancel(ct_future *future);
// Finishes a pending or running future with `result`: waiters wake, then
// the callbacks run in this thread. Returns 0, CT_ESTATE if it was done
// already (the first outcome is kept: Python's InvalidStateError), or
// CT_EINVAL for NULL.
CT_API int ct_future_set_result(ct_future *future, void *result);
// Finishes a pending or running future as failed with `code` (non-zero; any
// value the task chose). Returns 0, CT_ESTATE if it was done already, or
// CT_EINVAL for NULL or a zero code.
CT_API int ct_future_set_exception(ct_future *future, int code);

// ct_wait's return_when.
#define CT_FIRST_COMPLETED 1 // any future done
#define CT_FIRST_EXCEPTION 2 // any future failed, or all done
#define CT_ALL_COMPLETED 3   // every future done

// concurrent.futures.wait: waits until the condition `return_when` holds
// for the n futures in fs, or `timeout` passes. Fills done[i] (if done is
// not NULL) with whether fs[i] is done at return (a future listed twice
// gets the same answer twice). Returns the number of entries done (>= 0)
// when the condition holds, CT_ETIMEDOUT when it does not at the deadline,
// or CT_EINVAL (fs NULL with n > 0, a NULL entry, an unknown return_when:
// always rejected, where CPython only notices when it has to wait), or
// CT_ENOMEM. n == 0 returns 0 at once (after the argument checks). A
// cancelled future is done but not failed (for CT_FIRST_EXCEPTION).
CT_API int ct_wait(ct_future *const *fs, size_t n, ct_duration timeout,
                   int return_when, bool *done);

// concurrent.futures.as_completed as an iterator.
typedef struct ct_as_completed ct_as_completed;

// Starts an iteration over the n futures in fs (duplicates are yielded
// once). The deadline is now + timeout and covers the whole iteration.
// Returns 0, CT_EINVAL (it NULL, fs NULL with n > 0, a NULL entry) or
// CT_ENOMEM. The futures must stay referenced until ct_as_completed_free.
CT_API CT_NODISCARD int ct_as_completed_new(ct_as_completed **it,
                                            ct_future *const *fs, size_t n,
                                            ct_duration timeout);
// Returns 0 with the next done future in *future: first those done when
// the iteration started (in input order), then the others in the order
// they complete. CT_EOF once every future was returned, CT_ETIMEDOUT when
// the deadline passed before the next one completed (a later call still
// returns futures that completed since, without waiting), CT_EINVAL for
// NULL arguments.
CT_API int ct_as_completed_next(ct_as_completed *it, ct_future **future);
// Returns how many futures the iteration has not returned yet (the "2 (of
// 4) futures unfinished" of Python's TimeoutError); 0 for NULL.
CT_API size_t ct_as_completed_pending(const ct_as_completed *it);
// Returns how many distinct futures the iteration covers; 0 for NULL.
CT_API size_t ct_as_completed_count(const ct_as_completed *it);
// Ends the iteration; NULL is ignored.
CT_API void ct_as_completed_free(ct_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif
