// ct_future: one atomic state word, a lock for the rare listeners, and the
// parking lot for result() waiters. Plus ct_wait and ct_as_completed,
// which listen on many futures at once.
//
// The state word (64 bits):
//
//   bits 0-2  STATE     PENDING, RUNNING, COMPLETING, CANCELLED, NOTIFIED
//                       (cancelled and seen by an executor), FINISHED
//   bit 3     PARKED    result()/exception() callers may sleep on the future
//   bit 4     LISTENERS the listener list may be non-empty: the completer
//                       must take `lock` and fire it
//   bit 5     EXEC      an executor holds a reference (queued or running)
//   bits 6-63 REFS      the callers' references
//
// Transitions (every one a CAS on the word):
//
//   PENDING    -> RUNNING     set_running_or_notify_cancel (returns 1)
//   PENDING    -> CANCELLED   cancel (wakes waiters, fires listeners)
//   CANCELLED  -> NOTIFIED    set_running_or_notify_cancel (returns 0)
//   PENDING, RUNNING -> COMPLETING  set_result / set_exception claim the
//                         future, write code and result, then
//   COMPLETING -> FINISHED    publish (release) and wake/fire
//
// COMPLETING is invisible outside: it reads as "not done", so two racing
// setters never both write the result, and readers never see half of it.
// Done = CANCELLED, NOTIFIED or FINISHED. The memory goes when REFS is 0
// and EXEC is clear, decided by the RMW that made it so.
#include <stdlib.h>
#include <string.h>

#include <cthreading/future.h>

#include "future_impl.h"
#include "list.h"
#include "lock_impl.h"
#include "sync/atomic.h"
#include "sync/deadline.h"
#include "sync/parking_lot.h"
#include "sync/spin.h"

enum {
    PENDING = 0,
    RUNNING = 1,
    COMPLETING = 2,
    CANCELLED = 3,
    NOTIFIED = 4,
    FINISHED = 5,
};
#define STATE ((uint64_t)7)
#define PARKED ((uint64_t)8)
#define LISTENERS ((uint64_t)16)
#define EXEC ((uint64_t)32)
#define REF ((uint64_t)64)
#define REFS (~(uint64_t)63)

static inline unsigned
state_of(uint64_t w)
{
    return (unsigned)(w & STATE);
}

static inline bool
is_done(uint64_t w)
{
    return state_of(w) >= CANCELLED;
}

// A listener: a done-callback (cb != NULL, heap node owned by the future)
// or a wait of ct_wait / ct_as_completed (notify != NULL, a node owned by
// the waiting call, which takes it back under the future's lock).
struct ct__flistener {
    ct__flistener *prev, *next;
    ct_future_done_fn *cb;
    void *arg;
    // Runs under the future's lock, so the node's owner, which unlinks it
    // under the same lock, never frees it under a running notify.
    void (*notify)(ct__flistener *self, ct_future *f);
    bool linked;
};

// --- Memory ------------------------------------------------------------------

#ifdef CT_DEBUG
// Debug builds keep the last QUARANTINE freed futures allocated and marked,
// so that a double ct_future_free is reported instead of corrupting memory.
#define MAGIC_LIVE 0x46757475u
#define MAGIC_DEAD 0xdeadf00du
#define QUARANTINE 4096
static ct_lock quarantine_lock;
static ct_future *quarantine[QUARANTINE];
static size_t quarantine_next;
#endif

static ct_future *
future_alloc(uint64_t word)
{
    ct_future *f = malloc(sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->word = word;
    ct_lock_init(&f->lock);
    f->code = 0;
    f->result = NULL;
    f->listeners = NULL;
    f->fn = NULL;
    f->arg = NULL;
    f->counted = false;
#ifdef CT_DEBUG
    ct__store_relaxed(&f->magic, MAGIC_LIVE);
#endif
    return f;
}

static void
future_destroy(ct_future *f)
{
    // Callbacks of a future that never completed (a ct_future_new freed
    // pending). No wait can be listening: a wait holds a reference.
    for (ct__flistener *n = f->listeners, *next; n != NULL; n = next) {
        next = n->next;
        free(n);
    }
#ifdef CT_DEBUG
    ct__store_relaxed(&f->magic, MAGIC_DEAD);
    ct__lock_hold(&quarantine_lock);
    ct_future *old = quarantine[quarantine_next];
    quarantine[quarantine_next] = f;
    quarantine_next = (quarantine_next + 1) % QUARANTINE;
    (void)ct_lock_release(&quarantine_lock);
    free(old);
#else
    free(f);
#endif
}

// The word after an RMW that removed a reference (REF or EXEC): the last
// one frees.
static inline void
free_if_unreferenced(ct_future *f, uint64_t now)
{
    if ((now & (REFS | EXEC)) == 0) {
        future_destroy(f);
    }
}

int
ct_future_new(ct_future **future)
{
    if (future == NULL) {
        return CT_EINVAL;
    }
    *future = future_alloc(REF);
    return *future == NULL ? CT_ENOMEM : 0;
}

ct_future *
ct__future_alloc(ct_task_fn *fn, void *arg)
{
    ct_future *f = future_alloc(REF | EXEC);
    if (f != NULL) {
        f->fn = fn;
        f->arg = arg;
    }
    return f;
}

void
ct__future_discard(ct_future *f)
{
    future_destroy(f);
}

ct_future *
ct_future_ref(ct_future *future)
{
    if (future != NULL) {
        ct__fetch_add_relaxed(&future->word, REF);
    }
    return future;
}

int
ct_future_free(ct_future *future)
{
    if (future == NULL) {
        return CT_EINVAL;
    }
#ifdef CT_DEBUG
    if (ct__load_relaxed(&future->magic) != MAGIC_LIVE) {
        return CT_ESTATE;
    }
#endif
    uint64_t v = ct__load_relaxed(&future->word);
    do {
        if ((v & REFS) == 0) {
            return CT_ESTATE; // only the executor's reference is left
        }
        // acq_rel: the last one out sees every write of the others.
    } while (!ct__cas_acq_rel(&future->word, &v, v - REF));
    free_if_unreferenced(future, v - REF);
    return 0;
}

// --- Completion --------------------------------------------------------------

// Wakes the result() sleepers and fires the listeners of a future that just
// became done (`old`: the word before that transition).
static void
notify_done(ct_future *f, uint64_t old, int64_t *busy)
{
    if (old & PARKED) {
        ct__unpark(f, SIZE_MAX, NULL, NULL);
    }
    if (!(old & LISTENERS)) {
        return;
    }
    // Waits are notified under the lock (their owners take them back under
    // it); callbacks run after it, oldest first, since they are user code
    // that may call into this future.
    ct__flistener *callbacks = NULL;
    ct__lock_hold(&f->lock);
    ct__flistener *n = f->listeners;
    f->listeners = NULL;
    while (n != NULL) {
        ct__flistener *next = n->next;
        n->linked = false;
        if (n->notify != NULL) {
            n->notify(n, f);
        } else {
            n->next = callbacks; // newest first in, oldest first out
            callbacks = n;
        }
        n = next;
    }
    (void)ct_lock_release(&f->lock);
    bool bumped = callbacks != NULL && busy != NULL;
    if (bumped) {
        ct__fetch_add_relaxed(busy, 1);
    }
    while (callbacks != NULL) {
        ct__flistener *next = callbacks->next;
        callbacks->cb(f, callbacks->arg);
        free(callbacks);
        callbacks = next;
    }
    if (bumped) {
        ct__fetch_sub_relaxed(busy, 1);
    }
}

// Drops the executor's reference.
static void
drop_exec(ct_future *f)
{
    free_if_unreferenced(f, ct__fetch_and_acq_rel(&f->word, ~EXEC) & ~EXEC);
}

// Moves the future from state `from` to the done state `to`, wakes and
// fires, and drops the executor's reference if `exec`. Returns false (and
// changes nothing) if the future is not in `from`.
static bool
transition(ct_future *f, unsigned from, unsigned to, bool exec, int64_t *busy)
{
    uint64_t v = ct__load_relaxed(&f->word);
    uint64_t next;
    bool quiet;
    do {
        if (state_of(v) != from) {
            return false;
        }
        quiet = !(v & (PARKED | LISTENERS));
        next = (v & ~(STATE | PARKED)) | to;
        if (exec && quiet) {
            next &= ~EXEC; // nothing to do after this CAS: let go at once
        }
        // acq_rel: release publishes code and result; acquire orders the
        // listener list and the other references' writes before a free.
    } while (!ct__cas_acq_rel(&f->word, &v, next));
    if (quiet) {
        if (exec) {
            free_if_unreferenced(f, next);
        }
        return true;
    }
    notify_done(f, v, busy);
    if (exec) {
        drop_exec(f);
    }
    return true;
}

// Claims a pending or running future for a setter. Returns false if it is
// done, or another setter claimed it first.
static bool
claim(ct_future *f)
{
    uint64_t v = ct__load_relaxed(&f->word);
    do {
        if (state_of(v) != PENDING && state_of(v) != RUNNING) {
            return false;
        }
    } while (!ct__cas_acquire(&f->word, &v, (v & ~STATE) | COMPLETING));
    return true;
}

static int
set_outcome(ct_future *f, int code, void *result, bool exec, int64_t *busy)
{
    if (!claim(f)) {
        return CT_ESTATE;
    }
    f->code = code;
    f->result = code == 0 ? result : NULL;
    (void)transition(f, COMPLETING, FINISHED, exec, busy);
    return 0;
}

int
ct_future_set_result(ct_future *future, void *result)
{
    if (future == NULL) {
        return CT_EINVAL;
    }
    return set_outcome(future, 0, result, false, NULL);
}

int
ct_future_set_exception(ct_future *future, int code)
{
    if (future == NULL || code == 0) {
        return CT_EINVAL;
    }
    return set_outcome(future, code, NULL, false, NULL);
}

// PENDING -> CANCELLED; true if the future is cancelled now or was before.
static bool
cancel(ct_future *f)
{
    if (transition(f, PENDING, CANCELLED, false, NULL)) {
        return true;
    }
    unsigned s = state_of(ct__load_relaxed(&f->word));
    return s == CANCELLED || s == NOTIFIED;
}

bool
ct_future_cancel(ct_future *future)
{
    return future != NULL && cancel(future);
}

static int
set_running_or_notify_cancel(ct_future *f)
{
    uint64_t v = ct__load_relaxed(&f->word);
    for (;;) {
        unsigned s = state_of(v);
        if (s != PENDING && s != CANCELLED) {
            return CT_ESTATE;
        }
        uint64_t next = (v & ~STATE) | (s == PENDING ? RUNNING : NOTIFIED);
        // acquire: the worker sees the submitter's writes to the item.
        if (ct__cas_acquire(&f->word, &v, next)) {
            return s == PENDING;
        }
    }
}

int
ct_future_set_running_or_notify_cancel(ct_future *future)
{
    if (future == NULL) {
        return CT_EINVAL;
    }
    return set_running_or_notify_cancel(future);
}

bool
ct__future_start(ct_future *f)
{
    if (set_running_or_notify_cancel(f) == 1) {
        return true;
    }
    // Cancelled while queued: its waiters were woken by the cancel.
    drop_exec(f);
    return false;
}

void
ct__future_finish(ct_future *f, int code, void *result, int64_t *busy)
{
    if (set_outcome(f, code, result, true, busy) != 0) {
        // Someone set an outcome on our running future (Python allows it):
        // theirs stands.
        drop_exec(f);
    }
}

void
ct__future_abandon(ct_future *f, int code)
{
    if (code != 0) {
        ct__future_finish(f, code, NULL, NULL); // pending: claim works
        return;
    }
    // Cancel it (unless its owner did), and record that the executor saw
    // it, as a worker would have: CANCELLED -> NOTIFIED.
    (void)cancel(f);
    (void)set_running_or_notify_cancel(f);
    drop_exec(f);
}

// --- Queries and waits ------------------------------------------------------

bool
ct_future_cancelled(const ct_future *future)
{
    if (future == NULL) {
        return false;
    }
    unsigned s = state_of(ct__load_acquire(&future->word));
    return s == CANCELLED || s == NOTIFIED;
}

bool
ct_future_running(const ct_future *future)
{
    // COMPLETING is still running from the outside.
    if (future == NULL) {
        return false;
    }
    unsigned s = state_of(ct__load_acquire(&future->word));
    return s == RUNNING || s == COMPLETING;
}

bool
ct_future_done(const ct_future *future)
{
    return future != NULL && is_done(ct__load_acquire(&future->word));
}

static bool
validate_not_done(void *arg)
{
    uint64_t w = ct__load_relaxed(&((ct_future *)arg)->word);
    return !is_done(w) && (w & PARKED);
}

// Waits until the future is done; returns its state, or CT_ETIMEDOUT.
static int
wait_done(ct_future *f, ct_duration timeout)
{
    // acquire: pairs with publish(), so code and result are visible.
    uint64_t v = ct__load_acquire(&f->word);
    if (is_done(v)) {
        return (int)state_of(v);
    }
    if (timeout <= 0) {
        return CT_ETIMEDOUT;
    }
    // Spin on the word before announcing a sleeper: a future that is about
    // to complete then costs its completer no visit to the parking lot.
    ct__spin spin = CT__SPIN_INIT;
    while (ct__spin_next(&spin)) {
        v = ct__load_acquire(&f->word);
        if (is_done(v)) {
            ct__spin_end(&spin);
            return (int)state_of(v);
        }
    }
    ct__deadline deadline = ct__deadline_after(timeout);
    for (;;) {
        if (!(v & PARKED) && !ct__cas_acquire(&f->word, &v, v | PARKED)) {
            if (is_done(v)) {
                return (int)state_of(v);
            }
            continue;
        }
        ct__park_args args = {
            .validate = validate_not_done,
            .arg = f,
            .deadline = deadline,
        };
        int rc = ct__park(f, &args, NULL);
        v = ct__load_acquire(&f->word);
        if (is_done(v)) {
            return (int)state_of(v);
        }
        if (rc == CT_ETIMEDOUT) {
            // PARKED stays set for other sleepers: a stale bit costs the
            // completer one visit to the parking lot.
            return CT_ETIMEDOUT;
        }
    }
}

int
ct_future_result(ct_future *future, void **result, ct_duration timeout)
{
    if (future == NULL) {
        return CT_EINVAL;
    }
    int s = wait_done(future, timeout);
    if (s < 0) {
        return s;
    }
    if (s != FINISHED) {
        return CT_ECANCELED;
    }
    if (future->code != 0) {
        return CT_EFAILED;
    }
    if (result != NULL) {
        *result = future->result;
    }
    return 0;
}

int
ct_future_exception(ct_future *future, int *code, ct_duration timeout)
{
    if (future == NULL || code == NULL) {
        return CT_EINVAL;
    }
    int s = wait_done(future, timeout);
    if (s < 0) {
        return s;
    }
    if (s != FINISHED) {
        return CT_ECANCELED;
    }
    *code = future->code;
    return 0;
}

// --- Listeners ---------------------------------------------------------------

// Links `n` into the future's listeners, or returns false (linking nothing)
// if the future is done already.
static bool
listen(ct_future *f, ct__flistener *n)
{
    ct__lock_hold(&f->lock);
    uint64_t v = ct__load_relaxed(&f->word);
    for (;;) {
        if (is_done(v)) {
            (void)ct_lock_release(&f->lock);
            return false;
        }
        // Setting LISTENERS and seeing "not done" is one CAS, so a completer
        // either sees the bit (and then takes the lock after us) or made the
        // future done before it (and we see that).
        if ((v & LISTENERS) || ct__cas_acq_rel(&f->word, &v, v | LISTENERS)) {
            break;
        }
    }
    CT__LIST_PUSH(&f->listeners, n);
    n->linked = true;
    (void)ct_lock_release(&f->lock);
    return true;
}

// Takes a wait's node back; no notify runs on it after this returns.
static void
unlisten(ct_future *f, ct__flistener *n)
{
    ct__lock_hold(&f->lock);
    if (n->linked) {
        CT__LIST_REMOVE(&f->listeners, n);
        n->linked = false;
    }
    (void)ct_lock_release(&f->lock);
}

int
ct_future_add_done_callback(ct_future *future, ct_future_done_fn *cb, void *arg)
{
    if (future == NULL || cb == NULL) {
        return CT_EINVAL;
    }
    if (!is_done(ct__load_acquire(&future->word))) {
        ct__flistener *n = malloc(sizeof *n);
        if (n == NULL) {
            return CT_ENOMEM;
        }
        *n = (ct__flistener){.cb = cb, .arg = arg};
        if (listen(future, n)) {
            return 0;
        }
        free(n);
    }
    cb(future, arg);
    return 0;
}

// --- ct_wait -----------------------------------------------------------------

static bool
is_failed(ct_future *f)
{
    // acquire: pairs with the release that published the code.
    return state_of(ct__load_acquire(&f->word)) == FINISHED && f->code != 0;
}

// The word of one ct_wait or as_completed call: how many of its futures
// completed since it started listening, a failure seen, and whether its
// thread sleeps on the word.
#define MW_FAILED ((uint64_t)1)
#define MW_PARKED ((uint64_t)2)
#define MW_ONE ((uint64_t)4)

// Counts one completion (and a failure) into *word and wakes its sleeper.
// Runs under the future's lock, which the waiting call takes before it
// returns: *word outlives this call.
static void
mw_count(uint64_t *word, bool failed)
{
    uint64_t v = ct__load_relaxed(word);
    uint64_t next;
    do {
        next = ((v + MW_ONE) & ~MW_PARKED) | (failed ? MW_FAILED : 0);
        // release: pairs with the waiter's acquire loads of the word.
    } while (!ct__cas_acq_rel(word, &v, next));
    if (v & MW_PARKED) {
        ct__unpark(word, 1, NULL, NULL);
    }
}

typedef struct mw_park {
    const uint64_t *word;
    uint64_t seen; // the value the sleeper saw, PARKED included
} mw_park;

static bool
mw_validate(void *arg)
{
    mw_park *p = arg;
    return ct__load_relaxed(p->word) == p->seen;
}

// Sleeps on *word while it reads `seen`, until `deadline`. Returns false
// once the deadline passed.
static bool
mw_sleep(uint64_t *word, uint64_t seen, ct__deadline deadline)
{
    if (deadline != CT__NO_DEADLINE && ct__deadline_remaining(deadline) <= 0) {
        return false;
    }
    if (!(seen & MW_PARKED)) {
        if (!ct__cas_acquire(word, &seen, seen | MW_PARKED)) {
            return true; // it changed: look again
        }
        seen |= MW_PARKED;
    }
    mw_park p = {word, seen};
    ct__park_args args = {
        .validate = mw_validate,
        .arg = &p,
        .deadline = deadline,
        .spin = true,
    };
    return ct__park(word, &args, NULL) != CT_ETIMEDOUT;
}

static void
wait_notify(ct__flistener *n, ct_future *f)
{
    mw_count(n->arg, is_failed(f));
}

// Whether return_when holds, given `ndone` of n done and a failure seen.
static bool
wait_holds(int return_when, size_t ndone, size_t n, bool failed)
{
    switch (return_when) {
    case CT_FIRST_COMPLETED:
        return ndone > 0 || n == 0; // nothing to wait for: Python returns
    case CT_FIRST_EXCEPTION:
        return failed || ndone == n;
    default:
        return ndone == n;
    }
}

// Fills done[] and returns the count, or CT_ETIMEDOUT if return_when does
// not hold.
static int
wait_result(ct_future *const *fs, size_t n, int return_when, bool *done)
{
    size_t ndone = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        bool d = is_done(ct__load_acquire(&fs[i]->word));
        ndone += d;
        failed = failed || is_failed(fs[i]);
        if (done != NULL) {
            done[i] = d;
        }
    }
    if (!wait_holds(return_when, ndone, n, failed)) {
        return CT_ETIMEDOUT;
    }
    return ndone > INT32_MAX ? INT32_MAX : (int)ndone;
}

#define WAIT_STACK_NODES 16

int
ct_wait(ct_future *const *fs, size_t n, ct_duration timeout, int return_when,
        bool *done)
{
    if ((fs == NULL && n > 0) || return_when < CT_FIRST_COMPLETED ||
        return_when > CT_ALL_COMPLETED) {
        return CT_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (fs[i] == NULL) {
            return CT_EINVAL;
        }
    }
    int rc = wait_result(fs, n, return_when, NULL);
    if (rc >= 0 || timeout <= 0) {
        return wait_result(fs, n, return_when, done);
    }
    ct__deadline deadline = ct__deadline_after(timeout);
    if (return_when == CT_ALL_COMPLETED) {
        // No listeners needed: wait for each in turn, on one deadline.
        for (size_t i = 0; i < n; i++) {
            if (wait_done(fs[i], ct__deadline_remaining(deadline)) < 0) {
                break;
            }
        }
        return wait_result(fs, n, return_when, done);
    }
    ct__flistener stack_nodes[WAIT_STACK_NODES];
    ct__flistener *nodes = stack_nodes;
    if (n > WAIT_STACK_NODES) {
        nodes = malloc(n * sizeof *nodes);
        if (nodes == NULL) {
            return CT_ENOMEM;
        }
    }
    uint64_t word = 0;
    for (size_t i = 0; i < n; i++) {
        nodes[i] = (ct__flistener){.notify = wait_notify, .arg = &word};
        if (!listen(fs[i], &nodes[i])) {
            mw_count(&word, is_failed(fs[i]));
        }
    }
    for (;;) {
        uint64_t v = ct__load_acquire(&word);
        if (wait_holds(return_when, v / MW_ONE, n, v & MW_FAILED) ||
            !mw_sleep(&word, v, deadline)) {
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        unlisten(fs[i], &nodes[i]);
    }
    if (nodes != stack_nodes) {
        free(nodes);
    }
    return wait_result(fs, n, return_when, done);
}

// --- ct_as_completed ---------------------------------------------------------

typedef struct ac_node {
    ct__flistener l; // l.arg: the iteration
    struct ac_node *done_next;
    size_t index;
} ac_node;

struct ct_as_completed {
    size_t n;        // distinct futures
    size_t returned; // how many next() returned
    ct_future **fs;  // the distinct futures, in input order
    ac_node *nodes;  // one per future
    // Indices of futures to return, in order: those done at the start, then
    // completions moved from `stack`.
    size_t *ready;
    size_t ready_head, ready_tail;
    ac_node *stack; // completions not yet in `ready`, newest first
    uint64_t word;  // counts completions; the sleeper parks on it
    ct__deadline deadline;
};

static void
ac_notify(ct__flistener *n, ct_future *f)
{
    (void)f;
    ac_node *node = (ac_node *)n;
    ct_as_completed *it = n->arg;
    ac_node *head = ct__load_relaxed(&it->stack);
    do {
        node->done_next = head;
        // release: the iterator's swap (acquire) sees done_next.
    } while (!ct__cas_release(&it->stack, &head, node));
    mw_count(&it->word, false);
}

static int
ptr_index_cmp(const void *a, const void *b)
{
    const uintptr_t *x = a, *y = b;
    if (x[0] != y[0]) {
        return x[0] < y[0] ? -1 : 1;
    }
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

// Marks keep[i] for the first occurrence of each future in fs; returns the
// number of distinct futures, or 0 with *nomem set.
static size_t
mark_distinct(ct_future *const *fs, size_t n, bool *keep, bool *nomem)
{
    uintptr_t(*pairs)[2] = malloc(n * sizeof *pairs);
    if (pairs == NULL) {
        *nomem = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[i][0] = (uintptr_t)fs[i];
        pairs[i][1] = i;
        keep[i] = false;
    }
    qsort(pairs, n, sizeof *pairs, ptr_index_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || pairs[i][0] != pairs[i - 1][0]) {
            keep[pairs[i][1]] = true;
            distinct++;
        }
    }
    free(pairs);
    return distinct;
}

int
ct_as_completed_new(ct_as_completed **it, ct_future *const *fs, size_t n,
                    ct_duration timeout)
{
    if (it == NULL) {
        return CT_EINVAL;
    }
    *it = NULL;
    if (fs == NULL && n > 0) {
        return CT_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (fs[i] == NULL) {
            return CT_EINVAL;
        }
    }
    if (n > SIZE_MAX / (sizeof(ac_node) + sizeof(ct_future *) + sizeof(size_t) +
                        2 * sizeof(uintptr_t))) {
        return CT_ENOMEM;
    }
    bool *keep = malloc(n > 0 ? n : 1);
    bool nomem = false;
    size_t distinct =
        keep == NULL || n == 0 ? 0 : mark_distinct(fs, n, keep, &nomem);
    ct_as_completed *a = NULL;
    if (keep != NULL && !nomem) {
        a = malloc(sizeof *a +
                   distinct * (sizeof(ac_node) + sizeof(ct_future *) +
                               sizeof(size_t)));
    }
    if (a == NULL) {
        free(keep);
        return CT_ENOMEM;
    }
    // One block: the header, the nodes, the futures, the ready indices.
    a->nodes = (ac_node *)(a + 1);
    a->fs = (ct_future **)(a->nodes + distinct);
    a->ready = (size_t *)(a->fs + distinct);
    a->n = distinct;
    a->returned = 0;
    a->ready_head = a->ready_tail = 0;
    a->stack = NULL;
    a->word = 0;
    a->deadline = ct__deadline_after(timeout);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            a->fs[k] = fs[i];
            a->nodes[k] =
                (ac_node){.l = {.notify = ac_notify, .arg = a}, .index = k};
            k++;
        }
    }
    free(keep);
    for (size_t i = 0; i < distinct; i++) {
        if (!listen(a->fs[i], &a->nodes[i].l)) {
            a->ready[a->ready_tail++] = i; // done already: input order
        }
    }
    *it = a;
    return 0;
}

// Moves the completions pushed so far into `ready`, oldest first.
static void
ac_collect(ct_as_completed *it)
{
    // acquire: pairs with ac_notify's release push.
    ac_node *n = ct__swap_acq_rel(&it->stack, (ac_node *)NULL);
    size_t start = it->ready_tail;
    for (; n != NULL; n = n->done_next) {
        it->ready[it->ready_tail++] = n->index;
    }
    // The stack gave them newest first: reverse the new stretch.
    for (size_t i = start, j = it->ready_tail; i + 1 < j; i++, j--) {
        size_t t = it->ready[i];
        it->ready[i] = it->ready[j - 1];
        it->ready[j - 1] = t;
    }
}

int
ct_as_completed_next(ct_as_completed *it, ct_future **future)
{
    if (it == NULL || future == NULL) {
        return CT_EINVAL;
    }
    for (;;) {
        if (it->ready_head == it->ready_tail) {
            ac_collect(it);
        }
        if (it->ready_head < it->ready_tail) {
            *future = it->fs[it->ready[it->ready_head++]];
            it->returned++;
            return 0;
        }
        if (it->returned == it->n) {
            return CT_EOF;
        }
        uint64_t v = ct__load_acquire(&it->word);
        if (ct__load_relaxed(&it->stack) != NULL) {
            continue;
        }
        if (!mw_sleep(&it->word, v, it->deadline)) {
            ac_collect(it);
            if (it->ready_head < it->ready_tail) {
                continue;
            }
            return CT_ETIMEDOUT;
        }
    }
}

size_t
ct_as_completed_pending(const ct_as_completed *it)
{
    return it == NULL ? 0 : it->n - it->returned;
}

size_t
ct_as_completed_count(const ct_as_completed *it)
{
    return it == NULL ? 0 : it->n;
}

void
ct_as_completed_free(ct_as_completed *it)
{
    if (it == NULL) {
        return;
    }
    for (size_t i = 0; i < it->n; i++) {
        unlisten(it->fs[i], &it->nodes[i].l);
    }
    free(it);
}
