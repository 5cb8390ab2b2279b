// What the executor needs of a future beyond the public API: the future
// carries its own work item (so a submit allocates one object), and the
// executor holds a reference of its own (EXEC in the state word) from the
// submit until the task's outcome is published.
#ifndef CT_FUTURE_IMPL_H
#define CT_FUTURE_IMPL_H

#include <cthreading/executor.h>
#include <cthreading/future.h>
#include <cthreading/lock.h>

typedef struct ct__flistener ct__flistener;

struct ct_future {
    // State word: see the table in future.c.
    uint64_t word;
    // Guards `listeners`; taken only once LISTENERS is set in the word.
    ct_lock lock;
    // The failure code once FINISHED (0: success, `result` holds the value).
    int code;
    void *result;
    // Done-callbacks and the waits of ct_wait / ct_as_completed, newest
    // first.
    ct__flistener *listeners;
    // The work item of an executor's future.
    ct_task_fn *fn;
    void *arg;
    // Executor bookkeeping: the submit counted this task in the pool's
    // count of unfinished tasks (see executor.c).
    bool counted;
#ifdef CT_DEBUG
    uint32_t magic; // detects a use of a freed future (ct_future_free)
#endif
};

// Allocates a pending future for the executor: one reference for the
// caller plus the executor's. Returns NULL when memory ran out.
ct_future *ct__future_alloc(ct_task_fn *fn, void *arg);
// Frees a future from ct__future_alloc that nobody else has seen (a
// submit that failed).
void ct__future_discard(ct_future *f);
// Worker side, step 1: marks the future running and returns true, or
// returns false for a future cancelled while it was queued (then the
// executor's reference is gone: do not touch the future again).
bool ct__future_start(ct_future *f);
// Worker side, step 2: publishes the task's outcome (code != 0: failed)
// and drops the executor's reference. If `busy` is not NULL, *busy is one
// higher while the done-callbacks run (the pool's count of unfinished
// tasks: a worker in a callback is not idle).
void ct__future_finish(ct_future *f, int code, void *result, int64_t *busy);
// Publishes `code` as the failure of a queued future the executor will not
// run (a broken pool), or cancels it (code 0: a shutdown that cancels
// futures), and drops the executor's reference.
void ct__future_abandon(ct_future *f, int code);

#endif
