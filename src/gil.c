// ct_gil: CPython's "new GIL" (take_gil / drop_gil of Python/ceval_gil.c,
// described in shared/reference/gil.md) on the parking lot, plus a hand-off
// policy and an I/O-priority policy, per-thread statistics and a trace.
//
// The words:
//
//   yield_word  holder's ident (0: free), top bit DROP while a waiter asks
//               the holder to drop, next bit SLICE (hand-off policies) while
//               others wait, so that the holder's yield point reads the
//               clock and drops at slice_due itself. The first member:
//               ct_gil_yield_point() compares it with the caller's ident
//               inline, so either bit sends the holder to the slow path.
//                 0                free
//                 ident            held, no request (the inline fast path)
//                 ident|SLICE      held, waiters: drop at slice_due
//                 ident|DROP(|SLICE)  held, drop at the next yield point
//               Only the taker stores an ident; a release stores 0.
//   state       LOCKED (1) | PARKED (2): waiters sleep on &state.
//                 0              free, nobody sleeps
//                 LOCKED         held, nobody sleeps
//                 LOCKED|PARKED  held, waiters sleep
//                 PARKED         free, waiters sleep (CPython policy only,
//                                between a release and a waiter's CAS)
//   last_holder, switch_number   CPython's: a waiter that timed out asks
//               for a drop only if no switch happened during its interval;
//               a requested dropper waits until last_holder is not itself
//               (forced switching), sleeping on &switch_number.
//
// CPython policy: the releaser clears LOCKED and wakes one waiter, which
// competes for the GIL with anyone (barging allowed). Hand-off policies:
// while waiters sleep, the releaser keeps LOCKED and hands the GIL to the
// oldest waiter through the unpark token, and newcomers queue behind.
#include <stdlib.h>
#include <string.h>

#include <cthreading/gil.h>
#include <cthreading/local.h>
#include <cthreading/lock.h>

#include "list.h"
#include "lock_impl.h"
#include "platform/platform.h"
#include "sync/atomic.h"
#include "sync/deadline.h"
#include "sync/parking_lot.h"

#define DROP ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))
#define SLICE ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 2))
// The holder under SLICE reads the clock every SLICE_EVERY yield points; a
// hand-off waiter's own request comes BACKSTOP intervals into a slice.
enum { SLICE_EVERY = 16, BACKSTOP = 2 };

// Clock and interval arithmetic saturates: an interval may be as long as
// CT_FOREVER (no switching at all), and a time past INT64_MAX is "never".
static inline int64_t
sat_add(int64_t t, int64_t d)
{
    return d > INT64_MAX - t ? INT64_MAX : t + d;
}

static inline int64_t
backstop(ct_duration interval)
{
    return interval > INT64_MAX / BACKSTOP ? INT64_MAX : interval * BACKSTOP;
}
enum { LOCKED = 1u, PARKED = 2u };
enum { TOKEN_WAKE = 0, TOKEN_HANDOFF = 1 };

typedef struct gil_thread {
    struct gil_thread *next;
    ct_gil *g;
    uintptr_t ident;
    bool holding;
    bool io_return; // its last release was voluntary (around a blocking call)
    bool requested; // it asked for a drop and has not had the GIL since
    int countdown;  // yield points until the holder reads the clock again
    int64_t acquired_at;
    // Written by this thread only (relaxed), read by ct_gil_stats.
    ct_gil_counts c;
    uint64_t hist[CT_GIL_HIST_BUCKETS];
} gil_thread;

struct ct_gil {
    uintptr_t yield_word; // must stay first (gil.h)
    uint32_t state;
    uint32_t switch_parked; // a forced dropper sleeps on &switch_number
    uintptr_t last_holder;
    uint64_t switch_number;
    int64_t switch_at;    // when the last switch happened (clock, atomic)
    int64_t slice_due;    // hand-off: the holder drops then if SLICE (atomic)
    ct_duration interval; // atomic
    int policy;
    bool disabled;
    bool stats;
    uint64_t gen; // tells this GIL from an earlier one at the same address
    int waiting;  // threads inside a waiting acquire (atomic)
    uint64_t exits_holding;
    ct_lock lock; // guards `threads` and the trace
    gil_thread *threads;
    ct_local key; // each thread's record, for the exit check
    ct_gil_span *trace;
    size_t trace_cap;
    uint64_t trace_n;    // spans written so far
    ct_gil *prev, *next; // every live GIL, for fork()
};

static ct_lock reg_lock;
static ct_gil *reg_head;
static uint64_t gen_counter;

static _Thread_local struct {
    uint64_t gen;
    gil_thread *rec;
} cache __attribute__((tls_model("initial-exec")));

static inline void
bump(uint64_t *x, uint64_t v)
{
    ct__store_relaxed(x, ct__load_relaxed(x) + v);
}

static inline void
add_time(int64_t *sum, int64_t *max, int64_t v)
{
    ct__store_relaxed(sum, ct__load_relaxed(sum) + v);
    if (v > ct__load_relaxed(max)) {
        ct__store_relaxed(max, v);
    }
}

// --- Per-thread records -----------------------------------------------------

static void release_locked(ct_gil *g, gil_thread *r, bool final);

// ct_local destructor: the thread ends. Holding the GIL then is an error
// that must not deadlock the others: the hold ends here (a final release,
// which never waits) and is counted.
static void
on_thread_exit(void *value)
{
    gil_thread *r = value;
    if (r->holding) {
        ct_gil *g = r->g;
        if (!g->disabled) {
            release_locked(g, r, true);
        } else {
            ct__store_relaxed(&r->holding, false);
        }
        ct__fetch_add_relaxed(&g->exits_holding, 1);
    }
    if (cache.rec == r) {
        cache.gen = 0;
        cache.rec = NULL;
    }
}

// The calling thread's record in g; created on first use when `create`.
static gil_thread *
record(ct_gil *g, bool create)
{
    if (cache.gen == g->gen) {
        return cache.rec;
    }
    uintptr_t me = ct__thread_id();
    ct__lock_hold(&g->lock);
    gil_thread *r = g->threads;
    while (r != NULL && r->ident != me) {
        r = r->next;
    }
    if (r == NULL && create) {
        r = calloc(1, sizeof *r);
        if (r != NULL) {
            r->g = g;
            r->ident = me;
            if (ct_local_set(&g->key, r) != 0) {
                free(r);
                r = NULL;
            } else {
                r->next = g->threads;
                g->threads = r;
            }
        }
    }
    (void)ct_lock_release(&g->lock);
    if (r != NULL) {
        cache.gen = g->gen;
        cache.rec = r;
    }
    return r;
}

// --- Creation
// ------------------------------------------------------------------

static void
before_fork(void)
{
    ct__lock_hold(&reg_lock);
}

static void
after_fork_parent(void)
{
    (void)ct_lock_release(&reg_lock);
}

// The child has only the forking thread: a GIL it holds stays held, any
// other hold or wait is gone (the parking lot's queues were emptied).
static void
after_fork_child(void)
{
    uintptr_t me = ct__thread_ident;
    for (ct_gil *g = reg_head; g != NULL; g = g->next) {
        ct_lock_init(&g->lock);
        g->waiting = 0;
        g->switch_parked = 0;
        bool mine = me != 0 && (g->yield_word & ~(DROP | SLICE)) == me;
        g->state = mine ? LOCKED : 0;
        g->yield_word = mine ? me : 0;
        for (gil_thread *r = g->threads; r != NULL; r = r->next) {
            if (r->ident != me) {
                ct__store_relaxed(&r->holding, false);
            }
        }
    }
    ct_lock_init(&reg_lock);
}

__attribute__((constructor)) static void
gil_layer_init(void)
{
    ct__parking_lot_fork_setup();
    ct__os_at_fork(before_fork, after_fork_parent, after_fork_child);
}

int
ct_gil_new(ct_gil **g, const ct_gil_opts *opts)
{
    static const ct_gil_opts defaults = {0, false, 0, false, 0};
    if (g == NULL) {
        return CT_EINVAL;
    }
    *g = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->interval < 0 || opts->policy < CT_GIL_POLICY_CPYTHON ||
        opts->policy > CT_GIL_POLICY_IO_PRIORITY) {
        return CT_EINVAL;
    }
    ct_gil *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return CT_ENOMEM;
    }
    n->interval = opts->interval > 0 ? opts->interval : CT_GIL_DEFAULT_INTERVAL;
    n->policy = opts->policy;
    n->disabled = opts->disabled;
    n->stats = opts->stats;
    n->gen = ct__fetch_add_relaxed(&gen_counter, 1) + 1;
    ct_lock_init(&n->lock);
    if (ct_local_init(&n->key, on_thread_exit) != 0) {
        free(n);
        return CT_ENOMEM;
    }
    if (opts->trace_capacity > 0) {
        n->trace = opts->trace_capacity > SIZE_MAX / sizeof *n->trace
                       ? NULL
                       : malloc(opts->trace_capacity * sizeof *n->trace);
        if (n->trace == NULL) {
            ct_local_destroy(&n->key);
            free(n);
            return CT_ENOMEM;
        }
        n->trace_cap = opts->trace_capacity;
    }
    ct__lock_hold(&reg_lock);
    CT__LIST_PUSH(&reg_head, n);
    (void)ct_lock_release(&reg_lock);
    *g = n;
    return 0;
}

int
ct_gil_free(ct_gil *g)
{
    if (g == NULL) {
        return 0;
    }
    bool busy =
        ct__load_acquire(&g->state) != 0 || ct__load_acquire(&g->waiting) != 0;
    ct__lock_hold(&g->lock);
    for (gil_thread *r = g->threads; r != NULL && !busy; r = r->next) {
        busy = ct__load_relaxed(&r->holding);
    }
    (void)ct_lock_release(&g->lock);
    if (busy) {
        return CT_ESTATE;
    }
    ct__lock_hold(&reg_lock);
    CT__LIST_REMOVE(&reg_head, g);
    (void)ct_lock_release(&reg_lock);
    ct_local_destroy(&g->key); // runs on_thread_exit on each: none holds
    if (cache.gen == g->gen) {
        cache.gen = 0;
        cache.rec = NULL;
    }
    while (g->threads != NULL) {
        gil_thread *next = g->threads->next;
        free(g->threads);
        g->threads = next;
    }
    free(g->trace);
    free(g);
    return 0;
}

// --- Acquire -----------------------------------------------------------------

typedef struct park_state {
    ct_gil *g;
    gil_thread *r;
    bool handoff;  // no barging: sleep while waiters sleep, even if free
    bool ask_now;  // I/O priority: request the drop once queued
    uint64_t seen; // switch_number when the current interval began
} park_state;

static void ask(park_state *ps);

// Hand-off policies: tells the holder that others wait (SLICE), so that
// its yield point reads the clock and it drops the GIL itself at
// slice_due; a waiter's timer is then only a backstop (a late timer on a
// busy machine would lengthen the slice). The first to set SLICE in a hold
// sets the due time: `due`, or one interval from now when 0. A racer whose
// CAS fails may have stored its own due time over the winner's: one slice
// then ends a little earlier or later, never more than an interval off.
static void
mark_slice(ct_gil *g, int64_t due)
{
    uintptr_t w = ct__load_relaxed(&g->yield_word);
    while (w != 0 && !(w & SLICE)) {
        ct__store_relaxed(&g->slice_due,
                          due != 0 ? due
                                   : sat_add(ct__clock_now_ns(),
                                             ct__load_relaxed(&g->interval)));
        if (ct__cas_release(&g->yield_word, &w, w | SLICE)) {
            return;
        }
    }
}

// Under the bucket lock: sleep only while the GIL is held (or, without
// barging, while others sleep for it); announce the sleeper with PARKED.
static bool
validate_wait(void *arg)
{
    park_state *ps = arg;
    uint32_t v = ct__load_relaxed(&ps->g->state);
    for (;;) {
        if (!(v & LOCKED) && !(ps->handoff && (v & PARKED))) {
            return false;
        }
        if ((v & PARKED) || ct__cas_relaxed(&ps->g->state, &v, v | PARKED)) {
            if (ps->handoff) {
                ct__fence_seq_cst();
                mark_slice(ps->g, 0);
            }
            if (ps->ask_now) {
                // Queued now (PARKED is set under this bucket lock), so the
                // holder's release will find us: a request made before
                // that could be answered by a release to nobody.
                ps->ask_now = false;
                ask(ps);
            }
            return true;
        }
    }
}

// Under the bucket lock, if a waiter ever leaves at its deadline (it does
// not: see wait_extend): PARKED goes with the last sleeper.
static void
on_wait_timeout(void *arg, bool have_more)
{
    park_state *ps = arg;
    if (!have_more) {
        ct__fetch_and_relaxed(&ps->g->state, ~(uint32_t)PARKED);
    }
}

// Asks the holder to drop the GIL (the DROP bit in its yield word).
static bool
request_drop(ct_gil *g)
{
    uintptr_t w = ct__load_relaxed(&g->yield_word);
    while (w != 0 && !(w & DROP)) {
        if (ct__cas_relaxed(&g->yield_word, &w, w | DROP)) {
            return true;
        }
    }
    return false;
}

// The new holder's bookkeeping (CPython's take_gil steps 7 and 9).
static void
took(ct_gil *g, gil_thread *r, int64_t wait_start, bool handed)
{
    uintptr_t me = r->ident;
    // release: pairs with the inline yield point's relaxed load only in
    // the sense that the holder itself reads it; the DROP of the previous
    // holder is cleared by this store.
    ct__store_release(&g->yield_word, me);
    ct__store_relaxed(&r->holding, true);
    r->requested = false;
    bool is_switch = ct__load_relaxed(&g->last_holder) != me;
    int64_t handed_at = handed ? ct__load_relaxed(&g->switch_at) : 0;
    if (is_switch) {
        // Only switches read the clock: a thread taking the GIL back from
        // itself (the uncontended pair) does not. Before switch_number,
        // as in on_handoff.
        ct__store_relaxed(&g->switch_at, ct__clock_now_ns());
    }
    if ((handed || is_switch) && g->policy != CT_GIL_POLICY_CPYTHON) {
        // Others may still wait (Dekker with validate_wait: store the
        // ident, then look for PARKED). A handed slice ends one interval
        // after the hand-off, so that the taker's wake-up is not added to
        // the next waiter's wait; but a taker slow to wake still gets half
        // an interval from its own start.
        ct__fence_seq_cst();
        if (ct__load_relaxed(&g->state) & PARKED) {
            ct_duration interval = ct__load_relaxed(&g->interval);
            int64_t now = ct__clock_now_ns();
            int64_t due = sat_add(now, interval);
            if (handed) {
                int64_t from_handoff = sat_add(handed_at, interval);
                due = sat_add(now, interval / 2);
                due = from_handoff > due ? from_handoff : due;
            }
            mark_slice(g, due);
        }
    }
    if (handed) {
        ct__store_relaxed(&g->last_holder, me); // counted by on_handoff
    } else if (is_switch) {
        ct__store_release(&g->switch_number,
                          ct__load_relaxed(&g->switch_number) + 1);
        ct__store_seq_cst(&g->last_holder, me);
        // A forced dropper may wait for exactly this (Dekker with its
        // validate: store last_holder, then look for it).
        ct__fence_seq_cst();
        if (ct__load_relaxed(&g->switch_parked)) {
            ct__store_relaxed(&g->switch_parked, 0);
            ct__unpark(&g->switch_number, SIZE_MAX, NULL, NULL);
        }
    }
    if (g->stats || g->trace != NULL) {
        int64_t now = ct__clock_now_ns();
        r->acquired_at = now;
        if (g->stats) {
            bump(&r->c.acquisitions, 1);
            bump(&r->c.switches, is_switch);
            if (wait_start != 0) {
                int64_t w = now - wait_start;
                bump(&r->c.contended, 1);
                add_time(&r->c.waited_ns, &r->c.max_waited_ns, w);
                int b = 0;
                for (int64_t us = w / 1000;
                     us > 0 && b < CT_GIL_HIST_BUCKETS - 1; us >>= 1) {
                    b++;
                }
                bump(&r->hist[b], 1);
            }
        }
    }
}

static bool request_drop(ct_gil *g);

// What a waiter does at the end of each interval (CPython's take_gil step
// 5): if no switch happened during it, ask the holder to drop the GIL; a
// request of ours that someone else's switch answered is counted lost.
static ct__deadline
interval_passed(park_state *ps)
{
    ct_gil *g = ps->g;
    gil_thread *r = ps->r;
    uint64_t now_switch = ct__load_acquire(&g->switch_number);
    ct_duration interval = ct__load_relaxed(&g->interval);
    if (r->requested && now_switch != ps->seen) {
        r->requested = false;
        if (g->stats) {
            bump(&r->c.lost_requests, 1);
        }
    }
    bool held = (ct__load_relaxed(&g->state) & LOCKED) != 0;
    bool switched = now_switch != ps->seen;
    ps->seen = now_switch;
    if (held && ps->handoff) {
        // The holder ends its slice itself (SLICE); the waiter asks only
        // as a backstop, BACKSTOP intervals into the slice (for a holder
        // that missed SLICE, or one that releases without yield points).
        // A queued waiter keeps its turn, so it keeps its clock too: the
        // slice began at switch_at (set again by the taker when it runs),
        // not now (which, with switches at every interval, could put the
        // request off again and again).
        int64_t due =
            sat_add(ct__load_relaxed(&g->switch_at), backstop(interval));
        if (due > ct__clock_now_ns()) {
            return due;
        }
        ask(ps);
    } else if (held && !switched) {
        ask(ps);
    }
    return ct__deadline_after(ps->handoff ? backstop(interval) : interval);
}

// Sets the drop request and counts it (a request already pending, set by
// another waiter, is left alone and not counted).
static void
ask(park_state *ps)
{
    if (request_drop(ps->g)) {
        ps->r->requested = true;
        if (ps->g->stats) {
            bump(&ps->r->c.drop_requests, 1);
        }
    }
}

// The parking lot calls this at each deadline: the waiter stays in its
// place in the queue (the hand-off policies serve the queue in order) and
// starts a new full interval.
static ct__deadline
wait_extend(void *arg)
{
    return interval_passed(arg);
}

static void
acquire_slow(ct_gil *g, gil_thread *r, bool dropped)
{
    bool handoff = g->policy != CT_GIL_POLICY_CPYTHON;
    // 0 means "not contended" to took(): a clock that reads 0 reads 1.
    int64_t wait_start = g->stats ? ct__clock_now_ns() | 1 : 0;
    ct__fetch_add_relaxed(&g->waiting, 1);
    // Back from a blocking call: ask at once (Beazley's proposal), from the
    // first validate_wait, and queue ahead of the CPU-bound waiters.
    bool io_first = g->policy == CT_GIL_POLICY_IO_PRIORITY && r->io_return;
    park_state ps = {g, r, handoff, io_first, 0};
    bool handed = false;
    for (;;) {
        uint32_t v = ct__load_relaxed(&g->state);
        if (!(v & LOCKED) && !(handoff && (v & PARKED)) &&
            ct__cas_acquire(&g->state, &v, v | LOCKED)) {
            break;
        }
        ps.seen = ct__load_acquire(&g->switch_number);
        ct_duration interval = ct__load_relaxed(&g->interval);
        if (handoff) {
            interval = backstop(interval);
        }
        ct__deadline deadline = ct__deadline_after(interval);
        if (dropped) {
            // A forced dropper's interval starts at the switch it waited
            // for, not after its own wake-up (which otherwise lengthens
            // every slice by a wake-up: CPython's 1 ms slices last 1.1).
            int64_t due = sat_add(ct__load_relaxed(&g->switch_at), interval);
            deadline = due < deadline ? due : deadline;
            dropped = false;
        }
        ct__park_args args = {
            .validate = validate_wait,
            .timed_out = on_wait_timeout,
            .extend = wait_extend,
            .arg = &ps,
            .deadline = deadline,
            .front = io_first,
        };
        uintptr_t token = TOKEN_WAKE;
        int rc = ct__park(&g->state, &args, &token);
        if (rc == CT__PARK_UNPARKED && token == TOKEN_HANDOFF) {
            handed = true; // the releaser kept LOCKED for us
            break;
        }
        // Woken by a release (CPython policy) or the state changed: try
        // again; a new full interval starts if we must wait.
        if (r->requested && ct__load_acquire(&g->switch_number) != ps.seen) {
            r->requested = false;
            if (g->stats) {
                bump(&r->c.lost_requests, 1);
            }
        }
    }
    ct__fetch_sub_relaxed(&g->waiting, 1);
    ct__fence_seq_cst();
    took(g, r, wait_start, handed);
}

int
ct_gil_acquire(ct_gil *g)
{
    if (g == NULL) {
        return CT_EINVAL;
    }
    gil_thread *r = record(g, true);
    if (r == NULL) {
        return CT_ENOMEM;
    }
    if (r->holding) {
        return CT_EDEADLK;
    }
    if (g->disabled) {
        ct__store_relaxed(&r->holding, true);
        if (g->stats) {
            bump(&r->c.acquisitions, 1);
            r->acquired_at = ct__clock_now_ns();
        }
        return 0;
    }
    uint32_t expected = 0;
    if (CT_LIKELY(ct__cas_acquire(&g->state, &expected, LOCKED))) {
        took(g, r, 0, false);
    } else {
        acquire_slow(g, r, false);
    }
    r->io_return = false;
    return 0;
}

// --- Release -----------------------------------------------------------------

// Under the bucket lock, with what ct__unpark found: hand the GIL to the
// woken waiter (keep LOCKED), or free it.
static uintptr_t
on_handoff(void *arg, ct__unpark_result res)
{
    ct_gil *g = arg;
    if (res.unparked > 0) {
        if (!res.have_more) {
            ct__fetch_and_relaxed(&g->state, ~(uint32_t)PARKED);
        }
        // The switch counts now, before the dropper queues up again: its
        // interval must start after this switch, as in CPython, where the
        // forced-switch wait orders them. The taker sets last_holder.
        // switch_at first: a waiter that sees the new switch_number
        // (acquire) sees when it happened.
        ct__store_relaxed(&g->switch_at, ct__clock_now_ns());
        ct__store_release(&g->switch_number,
                          ct__load_relaxed(&g->switch_number) + 1);
        ct__store_relaxed(&g->last_holder, (uintptr_t)0);
        return TOKEN_HANDOFF;
    }
    ct__store_release(&g->state, 0);
    return TOKEN_WAKE;
}

static uintptr_t
on_wake(void *arg, ct__unpark_result res)
{
    ct_gil *g = arg;
    if (!res.have_more) {
        ct__fetch_and_relaxed(&g->state, ~(uint32_t)PARKED);
    }
    return TOKEN_WAKE;
}

typedef struct switch_wait {
    ct_gil *g;
    uintptr_t me;
} switch_wait;

static bool
validate_switch(void *arg)
{
    switch_wait *sw = arg;
    ct__store_seq_cst(&sw->g->switch_parked, 1);
    ct__fence_seq_cst();
    return ct__load_relaxed(&sw->g->last_holder) == sw->me;
}

static void
trace_span(ct_gil *g, gil_thread *r, int64_t end)
{
    ct__lock_hold(&g->lock);
    ct_gil_span *s = &g->trace[g->trace_n % g->trace_cap];
    s->ident = r->ident;
    s->start_ns = r->acquired_at;
    s->end_ns = end;
    g->trace_n++;
    (void)ct_lock_release(&g->lock);
}

// Drops the GIL held by r. `final`: the thread is going away (no forced
// switching wait). Returns whether the drop had been requested.
static void
release_locked(ct_gil *g, gil_thread *r, bool final)
{
    bool requested = (ct__load_relaxed(&g->yield_word) & DROP) != 0;
    if (g->stats || g->trace != NULL) {
        int64_t now = ct__clock_now_ns();
        if (g->stats) {
            bump(&r->c.releases, 1);
            add_time(&r->c.held_ns, &r->c.max_held_ns, now - r->acquired_at);
            bump(&r->c.forced_switches, requested && !final);
        }
        if (g->trace != NULL) {
            trace_span(g, r, now);
        }
    }
    ct__store_relaxed(&r->holding, false);
    ct__store_relaxed(&g->yield_word, 0);
    if (g->policy != CT_GIL_POLICY_CPYTHON) {
        uint32_t v = ct__load_relaxed(&g->state);
        if (v == LOCKED && ct__cas_release(&g->state, &v, 0)) {
            return; // nobody sleeps: the fast release
        }
        // Waiters sleep: the oldest gets the GIL (on_handoff frees it if
        // they all left meanwhile). No forced-switch wait is needed: the
        // dropper cannot barge back in.
        ct__unpark(&g->state, 1, on_handoff, g);
        return;
    }
    // release: the holder's writes go with the GIL.
    uint32_t v = ct__fetch_and_release(&g->state, ~(uint32_t)LOCKED);
    if (v & PARKED) {
        ct__unpark(&g->state, 1, on_wake, g);
    }
    if (requested && !final) {
        // Forced switching: do not take it back before someone else had it.
        switch_wait sw = {g, r->ident};
        ct__park_args args = {
            .validate = validate_switch,
            .arg = &sw,
            .deadline = CT__NO_DEADLINE,
        };
        (void)ct__park(&g->switch_number, &args, NULL);
    }
}

int
ct_gil_release(ct_gil *g)
{
    if (g == NULL) {
        return CT_EINVAL;
    }
    gil_thread *r = record(g, false);
    if (r == NULL || !r->holding) {
        return CT_EPERM;
    }
    if (g->disabled) {
        ct__store_relaxed(&r->holding, false);
        if (g->stats) {
            bump(&r->c.releases, 1);
            add_time(&r->c.held_ns, &r->c.max_held_ns,
                     ct__clock_now_ns() - r->acquired_at);
        }
        r->io_return = true;
        return 0;
    }
    bool requested = (ct__load_relaxed(&g->yield_word) & DROP) != 0;
    release_locked(g, r, false);
    r->io_return = !requested;
    return 0;
}

int
ct_gil_release_around(ct_gil *g, int (*fn)(void *), void *arg)
{
    if (fn == NULL) {
        return CT_EINVAL;
    }
    int rc = ct_gil_release(g);
    if (rc != 0) {
        return rc;
    }
    rc = fn(arg);
    (void)ct_gil_acquire(g);
    return rc;
}

int
ct__gil_yield_slow(ct_gil *g)
{
    if (g == NULL) {
        return CT_EINVAL;
    }
    gil_thread *r = record(g, false);
    if (r == NULL || !r->holding) {
        return CT_EPERM;
    }
    if (g->disabled) {
        return 0;
    }
    uintptr_t w = ct__load_acquire(&g->yield_word);
    if (!(w & DROP)) {
        if (!(w & SLICE) || --r->countdown > 0) {
            return 0;
        }
        r->countdown = SLICE_EVERY;
        if (ct__clock_now_ns() < ct__load_relaxed(&g->slice_due)) {
            return 0;
        }
        // The slice is over and others wait: the holder asks itself.
        if (!(ct__fetch_or_acq_rel(&g->yield_word, DROP) & DROP) && g->stats) {
            bump(&r->c.drop_requests, 1);
        }
    }
    release_locked(g, r, false);
    r->io_return = false;
    uint32_t expected = 0;
    if (g->policy == CT_GIL_POLICY_CPYTHON &&
        ct__cas_acquire(&g->state, &expected, LOCKED)) {
        took(g, r, 0, false);
    } else {
        acquire_slow(g, r, true);
    }
    return 1;
}

#if !defined(__GNUC__) && !defined(__clang__)
int
ct_gil_yield_point(ct_gil *g)
{
    return ct__gil_yield_slow(g);
}
#endif

// --- Settings, statistics, trace
// -----------------------------------------------

int
ct_gil_set_interval(ct_gil *g, ct_duration interval)
{
    if (g == NULL || interval <= 0) {
        return CT_EINVAL;
    }
    ct__store_relaxed(&g->interval, interval);
    return 0;
}

ct_duration
ct_gil_interval(const ct_gil *g)
{
    return g == NULL ? 0 : ct__load_relaxed(&g->interval);
}

bool
ct_gil_held(const ct_gil *g)
{
    if (g == NULL) {
        return false;
    }
    gil_thread *r = record((ct_gil *)g, false);
    return r != NULL && r->holding;
}

static void
sum_counts(ct_gil_counts *t, const ct_gil_counts *c)
{
    t->acquisitions += ct__load_relaxed(&c->acquisitions);
    t->releases += ct__load_relaxed(&c->releases);
    t->contended += ct__load_relaxed(&c->contended);
    t->switches += ct__load_relaxed(&c->switches);
    t->drop_requests += ct__load_relaxed(&c->drop_requests);
    t->forced_switches += ct__load_relaxed(&c->forced_switches);
    t->lost_requests += ct__load_relaxed(&c->lost_requests);
    t->held_ns += ct__load_relaxed(&c->held_ns);
    t->waited_ns += ct__load_relaxed(&c->waited_ns);
    int64_t mh = ct__load_relaxed(&c->max_held_ns);
    int64_t mw = ct__load_relaxed(&c->max_waited_ns);
    t->max_held_ns = mh > t->max_held_ns ? mh : t->max_held_ns;
    t->max_waited_ns = mw > t->max_waited_ns ? mw : t->max_waited_ns;
}

int
ct_gil_stats(ct_gil *g, ct_gil_statistics *s)
{
    if (g == NULL || s == NULL) {
        return CT_EINVAL;
    }
    memset(s, 0, sizeof *s);
    s->exits_holding = ct__load_relaxed(&g->exits_holding);
    if (!g->stats) {
        return 0;
    }
    ct__lock_hold(&g->lock);
    // Oldest record first: the list is newest first.
    size_t n = 0;
    for (gil_thread *r = g->threads; r != NULL; r = r->next) {
        n++;
    }
    s->nthreads = n;
    size_t i = n;
    for (gil_thread *r = g->threads; r != NULL; r = r->next) {
        i--;
        sum_counts(&s->total, &r->c);
        for (int b = 0; b < CT_GIL_HIST_BUCKETS; b++) {
            s->wait_hist[b] += ct__load_relaxed(&r->hist[b]);
        }
        if (i < CT_GIL_STATS_THREADS) {
            s->threads[i].ident = r->ident;
            sum_counts(&s->threads[i].counts, &r->c);
        }
    }
    (void)ct_lock_release(&g->lock);
    return 0;
}

int
ct_gil_stats_reset(ct_gil *g)
{
    if (g == NULL) {
        return CT_EINVAL;
    }
    ct__lock_hold(&g->lock);
    for (gil_thread *r = g->threads; r != NULL; r = r->next) {
        uint64_t *w = (uint64_t *)(void *)&r->c;
        for (size_t k = 0; k < sizeof r->c / sizeof *w; k++) {
            ct__store_relaxed(&w[k], 0);
        }
        for (int b = 0; b < CT_GIL_HIST_BUCKETS; b++) {
            ct__store_relaxed(&r->hist[b], 0);
        }
    }
    (void)ct_lock_release(&g->lock);
    ct__store_relaxed(&g->exits_holding, 0);
    return 0;
}

size_t
ct_gil_trace_read(ct_gil *g, ct_gil_span *buf, size_t cap)
{
    if (g == NULL || buf == NULL || g->trace == NULL) {
        return 0;
    }
    ct__lock_hold(&g->lock);
    uint64_t n = g->trace_n;
    uint64_t have = n < g->trace_cap ? n : g->trace_cap;
    uint64_t first = n - have;
    size_t k = 0;
    for (; k < cap && k < have; k++) {
        buf[k] = g->trace[(first + k) % g->trace_cap];
    }
    (void)ct_lock_release(&g->lock);
    return k;
}

uint64_t
ct_gil_trace_lost(ct_gil *g)
{
    if (g == NULL || g->trace == NULL) {
        return 0;
    }
    ct__lock_hold(&g->lock);
    uint64_t lost = g->trace_n > g->trace_cap ? g->trace_n - g->trace_cap : 0;
    (void)ct_lock_release(&g->lock);
    return lost;
}

void
ct_gil_trace_clear(ct_gil *g)
{
    if (g == NULL || g->trace == NULL) {
        return;
    }
    ct__lock_hold(&g->lock);
    g->trace_n = 0;
    (void)ct_lock_release(&g->lock);
}
