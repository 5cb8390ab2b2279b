// ct_executor: concurrent.futures.ThreadPoolExecutor.
//
// Workers start lazily, one per submit that finds no idle worker, up to
// max_workers, and idle workers are reused. A submit allocates one object
// (the future, which carries the work item), puts it on a lock-free queue,
// and wakes a sleeping worker only when no idle worker is awake. No lock is
// held while a task runs. See docs/executor.md.
//
// At process exit (ct_shutdown, which the library runs from an atexit
// handler) every live executor is shut down and its queued work completes
// before the process ends, as in Python.
#ifndef CTHREADING_EXECUTOR_H
#define CTHREADING_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_executor ct_executor;

// A task: computes from arg, stores its result in *result (NULL before the
// call) and returns 0, or returns a non-zero failure code (Python: the task
// raised), which ct_future_exception reports and ct_future_result turns
// into CT_EFAILED.
typedef int ct_task_fn(void *arg, void **result);

// The most workers an executor may have (ct_executor_new: CT_EINVAL above).
#define CT_EXECUTOR_MAX_WORKERS 4096

// Options for ct_executor_new; NULL or zeroed options mean the defaults.
typedef struct ct_executor_opts {
    // Workers at most; 0: min(32, CPUs this process may use + 4).
    int max_workers;
    // Workers are named PREFIX_0, PREFIX_1, ... in creation order; NULL or
    // "": "ThreadPoolExecutor-K" with K counting executors from 0.
    const char *thread_name_prefix;
    // Runs first in each worker; a non-zero return breaks the pool: every
    // queued future fails with the code CT_EBROKEN (ct_future_result gives
    // CT_EFAILED, ct_future_exception CT_EBROKEN) and later submits return
    // CT_EBROKEN.
    int (*initializer)(void *arg);
    void *initarg;
} ct_executor_opts;

// Creates an executor into *ex. Starts no thread. Returns 0, CT_EINVAL (ex
// NULL, max_workers < 0 or above CT_EXECUTOR_MAX_WORKERS, a prefix that is
// not UTF-8 or longer than 64 bytes), CT_ESHUTDOWN once the process is
// exiting, or CT_ENOMEM.
CT_API CT_NODISCARD int ct_executor_new(ct_executor **ex,
                                        const ct_executor_opts *opts);
// Schedules fn(arg) and returns its future in *future (one reference, the
// caller's to free). Starts a worker if none is idle and fewer than
// max_workers exist. Returns 0, CT_ESHUTDOWN after ct_executor_shutdown
// (or at process exit), CT_EBROKEN once an initializer failed, CT_EINVAL
// (NULL ex, fn or future), CT_ENOMEM, or CT_EAGAIN if the OS refused the
// pool's first thread. *future is NULL after an error.
CT_API CT_NODISCARD int ct_executor_submit(ct_executor *ex, ct_task_fn *fn,
                                           void *arg, ct_future **future);
// Executor.map for one argument list: runs fn(args[i]) for every i (all
// submitted at once), and stores the results in input order in results[i].
// Returns 0 when every task succeeded. Otherwise, at the first failure in
// input order it cancels the tasks not yet started and returns that
// failure: the task's own code, CT_ETIMEDOUT (the deadline, now + timeout,
// passed), CT_ECANCELED (cancelled by a shutdown), or a submit error;
// results before the failing index are filled (none after a submit error,
// which cancels every task submitted). Tasks that were already running
// keep running after it returns. CT_EINVAL for NULL ex or fn, or NULL args
// or results with n > 0.
CT_API int ct_executor_map(ct_executor *ex, ct_task_fn *fn, void *const *args,
                           size_t n, void **results, ct_duration timeout);
// Shuts down: later submits return CT_ESHUTDOWN. Queued tasks still run,
// unless cancel_futures, which cancels those not yet started (they count as
// done for ct_wait and ct_as_completed). With `wait`, returns once every
// remaining task finished and every worker exited. Idempotent. Returns 0,
// CT_EINVAL for NULL, or CT_EDEADLK when called with `wait` from one of the
// executor's own workers (the shutdown still starts; the call does not
// wait, since it would wait for itself).
CT_API int ct_executor_shutdown(ct_executor *ex, bool wait,
                                bool cancel_futures);
// Shuts down with wait and frees the executor; futures stay valid. Returns
// 0 (NULL: nothing to do) or CT_EDEADLK from one of its own workers (the
// shutdown starts; nothing is freed).
CT_API int ct_executor_free(ct_executor *ex);
// Returns max_workers as resolved at creation (0 for NULL).
CT_API int ct_executor_max_workers(const ct_executor *ex);
// Returns how many workers were started so far (0 for NULL).
CT_API int ct_executor_thread_count(const ct_executor *ex);

#ifdef __cplusplus
}
#endif
#endif
