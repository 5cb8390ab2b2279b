// ct_gil: a global interpreter lock for interpreter and runtime authors,
// with CPython's "new GIL" behaviour by default (switch interval, drop
// requests, forced switching) and two policies beyond it, statistics and a
// trace of who held it when. See docs/gil.md.
//
// The model is CPython's: a thread holds the GIL while it runs "interpreter
// code" and calls ct_gil_yield_point() often (CPython's eval-loop check).
// A thread that waits for the GIL waits one switch interval, then asks the
// holder to drop it; the holder sees the request at its next yield point,
// releases, waits until another thread took the GIL (forced switching) and
// queues up again. Around a blocking call the holder releases the GIL
// (Py_BEGIN_ALLOW_THREADS): CT_GIL_RELEASE_AROUND or ct_gil_release /
// ct_gil_acquire.
//
// fork(): in the child, a GIL that the forking thread held stays held by it;
// every other thread's hold or wait is gone, and the GIL works at once.
//
// Per-thread state: a thread's first ct_gil_acquire() gives it a record in
// the GIL (its statistics, whether it holds the GIL, whether it last
// released around a blocking call), found again through a thread-local
// cache; records live until ct_gil_free. Nothing needs registering.
#ifndef CTHREADING_GIL_H
#define CTHREADING_GIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_gil ct_gil;

// Policies (ct_gil_opts.policy).
//
// CPYTHON: CPython 3.2-3.14 exactly: a waiter asks for a drop after a full
//   interval without a switch; a requested drop waits until someone else
//   took the GIL, but any waiter (or a barging newcomer) may be the one;
//   a release around a blocking call does not wait, and the thread coming
//   back waits a full interval before it may ask (the convoy effect).
// HANDOFF: every release with waiters hands the GIL to the oldest waiter
//   (no barging, so a requester never loses its turn and a forced switch
//   is never lost). The holder ends its own slice: while others wait its
//   yield point reads the clock (every 16th call) and drops the GIL one
//   interval after the first waiter came, or after the hand-off that gave
//   it the GIL (at least half an interval after it began to run); a
//   waiter's own request, two intervals into a slice, remains as a
//   backstop. So a late timer on a busy machine does not lengthen the
//   slices.
// IO_PRIORITY: HANDOFF, and a thread coming back from a release around a
//   blocking call asks for the drop at once instead of after an interval
//   (Beazley's proposal against the convoy effect), and queues ahead of
//   the waiters that are not back from one (behind those that are, in
//   their order), so it is served next even beside several CPU-bound
//   threads.
#define CT_GIL_POLICY_CPYTHON 0
#define CT_GIL_POLICY_HANDOFF 1
#define CT_GIL_POLICY_IO_PRIORITY 2

#define CT_GIL_DEFAULT_INTERVAL CT_MILLIS(5)

// Options for ct_gil_new; NULL or zeroed options mean CPython's defaults:
// 5 ms, enabled, CPython policy, no statistics, no trace.
typedef struct ct_gil_opts {
    ct_duration interval; // switch interval; 0: 5 ms; < 0: CT_EINVAL
    // The "free-threaded build": the same calls, no mutual exclusion (every
    // thread "holds" at once), still counted in the statistics.
    bool disabled;
    int policy; // CT_GIL_POLICY_*
    // Count acquisitions, switches, requests and times (a few clock reads
    // per acquire and release).
    bool stats;
    // Record the last trace_capacity hold intervals (0: no trace).
    size_t trace_capacity;
} ct_gil_opts;

// Creates a GIL into *g. Returns 0, CT_EINVAL (g NULL, a negative interval,
// an unknown policy) or CT_ENOMEM.
CT_API CT_NODISCARD int ct_gil_new(ct_gil **g, const ct_gil_opts *opts);
// Frees the GIL. Returns 0 (NULL: nothing to do) or CT_ESTATE while a
// thread holds or waits for it (nothing is freed).
CT_API int ct_gil_free(ct_gil *g);

// Takes the GIL, waiting as the policy says. Returns 0, CT_EDEADLK if the
// caller holds it already, or CT_EINVAL for NULL.
CT_API int ct_gil_acquire(ct_gil *g);
// Releases the GIL (a voluntary release: around a blocking call, or for
// good). If a drop was requested from the caller, waits until another
// thread took the GIL (forced switching), as CPython's drop_gil does.
// Returns 0, CT_EPERM if the caller does not hold it, CT_EINVAL for NULL.
CT_API int ct_gil_release(ct_gil *g);
// Runs fn(arg) with the GIL released (Py_BEGIN/END_ALLOW_THREADS) and
// returns what fn returned, or the release's error (fn not called; NULL fn
// is CT_EINVAL, and the caller keeps the GIL). Under the I/O-priority
// policy any voluntary release counts as one around a blocking call: the
// thread's next acquire asks for the GIL at once.
CT_API int ct_gil_release_around(ct_gil *g, int (*fn)(void *), void *arg);

// Exported for the inline yield point; not part of the API.
#if defined(__GNUC__) || defined(__clang__)
CT_API extern __thread uintptr_t ct__thread_ident
    __attribute__((tls_model("initial-exec")));
#endif
CT_API int ct__gil_yield_slow(ct_gil *g);

// The holder's periodic check (CPython's eval breaker). Returns 0 when
// nothing happened, 1 when a drop was requested and the GIL went to another
// thread and came back, CT_EPERM if the caller does not hold the GIL, or
// CT_EINVAL for NULL. When nobody waits it is one relaxed load and a
// compare: the first word of a ct_gil is the holder's ident, with the top
// bit set while a drop is requested.
#if defined(__GNUC__) || defined(__clang__)
static inline int
ct_gil_yield_point(ct_gil *g)
{
    if (CT_LIKELY(g != NULL) &&
        CT_LIKELY(__atomic_load_n((const uintptr_t *)(void *)g,
                                  __ATOMIC_RELAXED) == ct__thread_ident) &&
        CT_LIKELY(ct__thread_ident != 0)) {
        return 0;
    }
    return ct__gil_yield_slow(g);
}
#else
CT_API int ct_gil_yield_point(ct_gil *g);
#endif

// Sets the switch interval (sys.setswitchinterval): waits that start
// afterwards use it. Returns 0 or CT_EINVAL (NULL, interval <= 0).
CT_API int ct_gil_set_interval(ct_gil *g, ct_duration interval);
// Returns the switch interval (0 for NULL).
CT_API ct_duration ct_gil_interval(const ct_gil *g);
// Returns whether the calling thread holds the GIL (false for NULL).
CT_API bool ct_gil_held(const ct_gil *g);

// Statistics (ct_gil_opts.stats). When statistics are off every count is
// zero and no thread is listed; exits_holding is counted either way.
// Counts are charged to the thread that did the thing: acquisitions, waits,
// drop requests and lost requests to the waiter or taker, releases, hold
// times and forced switches to the releaser (so forced_switches <=
// drop_requests holds for the totals only). A drop request is counted once,
// for the thread that set it: a waiter, or under the hand-off policies the
// holder whose slice ended. wait_hist counts the acquisitions that had
// to wait.
#define CT_GIL_HIST_BUCKETS 24 // wait times: [0,1us), [1,2us), ... doubling
#define CT_GIL_STATS_THREADS 32

typedef struct ct_gil_counts {
    uint64_t acquisitions; // every successful acquire (yield points too)
    uint64_t releases;
    uint64_t contended;       // acquisitions that had to wait
    uint64_t switches;        // acquisitions by a thread other than the last
    uint64_t drop_requests;   // requests set (see above)
    uint64_t forced_switches; // requested drops that waited for a taker
    uint64_t lost_requests;   // a requester found that another waiter (or a
                              // barging thread) took the GIL it asked for
    int64_t held_ns, max_held_ns;     // time between acquire and release
    int64_t waited_ns, max_waited_ns; // time inside a waiting acquire
} ct_gil_counts;

typedef struct ct_gil_thread_stats {
    uint64_t ident; // ct_get_ident() of the thread
    ct_gil_counts counts;
} ct_gil_thread_stats;

typedef struct ct_gil_statistics {
    ct_gil_counts total;
    // wait_hist[i]: waits of [2^(i-1), 2^i) us (i = 0: under 1 us); the
    // last bucket takes everything longer.
    uint64_t wait_hist[CT_GIL_HIST_BUCKETS];
    // Threads that exited while holding (their hold was ended for them).
    uint64_t exits_holding;
    size_t nthreads; // threads with a record (threads[] has the first 32)
    ct_gil_thread_stats threads[CT_GIL_STATS_THREADS];
} ct_gil_statistics;

// Copies the statistics into *s. Returns 0 or CT_EINVAL (NULL).
CT_API int ct_gil_stats(ct_gil *g, ct_gil_statistics *s);
// Zeroes the statistics. Returns 0 or CT_EINVAL.
CT_API int ct_gil_stats_reset(ct_gil *g);

// One hold interval of the trace: the thread (ident: its ct_get_ident())
// held the GIL from start_ns to end_ns (ct_monotonic_ns()). A disabled GIL
// records no spans.
typedef struct ct_gil_span {
    uint64_t ident;
    int64_t start_ns, end_ns;
} ct_gil_span;

// Copies up to cap recorded spans, oldest first, into buf and returns how
// many it copied (0 without a trace or for NULL).
CT_API size_t ct_gil_trace_read(ct_gil *g, ct_gil_span *buf, size_t cap);
// Returns how many spans were overwritten because the ring was full.
CT_API uint64_t ct_gil_trace_lost(ct_gil *g);
// Empties the trace.
CT_API void ct_gil_trace_clear(ct_gil *g);

// Releases the GIL for the block and takes it back on every way out
// (falling off the end, break, return, goto). Needs GCC or Clang. If the
// caller does not hold the GIL the block runs anyway and nothing is taken
// afterwards.
//
//   CT_GIL_RELEASE_AROUND(g) { n = read(fd, buf, len); }
#if defined(__GNUC__) || defined(__clang__)
typedef struct ct__gil_scope {
    ct_gil *g;
    int once;
} ct__gil_scope;

static inline void
ct__gil_scope_exit(ct__gil_scope *s)
{
    if (s->g != NULL) {
        (void)ct_gil_acquire(s->g);
    }
}

static inline ct__gil_scope
ct__gil_scope_enter(ct_gil *g)
{
    ct__gil_scope s;
    s.g = ct_gil_release(g) == 0 ? g : NULL;
    s.once = 1;
    return s;
}

#define CT__GIL_CAT2(a, b) a##b
#define CT__GIL_CAT(a, b) CT__GIL_CAT2(a, b)
#define CT__GIL_VAR CT__GIL_CAT(ct__gil_scope_, __LINE__)
#define CT_GIL_RELEASE_AROUND(g)                                               \
    for (ct__gil_scope CT__GIL_VAR                                             \
         __attribute__((cleanup(ct__gil_scope_exit))) =                        \
             ct__gil_scope_enter(g);                                           \
         CT__GIL_VAR.once; CT__GIL_VAR.once = 0)
#endif

#ifdef __cplusplus
}
#endif
#endif
