// ct_bench's registry: every benchmark case is a row in a table exported by
// one of the bench_*.c files (libuv's benchmark-list.h style); main.c runs
// the tables, takes medians, prints the comparisons with their targets and
// writes the JSON. The case files hold only the measured code.
#ifndef CT_BENCH_H
#define CT_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include <cthreading/barrier.h>
#include <cthreading/condition.h>
#include <cthreading/event.h>
#include <cthreading/executor.h>
#include <cthreading/future.h>
#include <cthreading/gil.h>
#include <cthreading/lock.h>
#include <cthreading/queue.h>
#include <cthreading/rlock.h>
#include <cthreading/semaphore.h>

#ifdef CT_HAVE_GLIB
#include <glib.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

// Who a row speaks for: our library, what C programmers use today, a
// physical limit, or the cost of the measuring loop itself.
typedef enum bench_role {
    BENCH_OURS,
    BENCH_BASELINE,
    BENCH_FLOOR,
    BENCH_OVERHEAD,
} bench_role;

// Case flags.
#define BENCH_GLIB 1u      // needs GLib: skipped when built without it
#define BENCH_DIFF_ONLY 2u // a pure spin: only run with the threads on two CPUs

// Section names, as --only spells them.
#define BENCH_SEC_UNCONTENDED "uncontended"
#define BENCH_SEC_CONTENDED "contended"
#define BENCH_SEC_PINGPONG "pingpong"
#define BENCH_SEC_BURN "burn"
#define BENCH_SEC_NOTIFY "notify"
#define BENCH_SEC_THREAD "thread"
#define BENCH_SEC_QUEUE "queue"
// The queue section's single-thread put+get loops (run by `--only queue`).
#define BENCH_SEC_QUEUE_TIMED "queue_timed"
// The executor section's throughput cases, and its round trips on an idle
// pool (both run by `--only executor`).
#define BENCH_SEC_EXECUTOR "executor"
#define BENCH_SEC_EXECUTOR_LATENCY "executor_latency"
// The GIL section, and its single-thread loops (both run by `--only gil`).
#define BENCH_SEC_GIL "gil"
#define BENCH_SEC_GIL_PAIR "gil_pair"

// The executor section's pools: their workers, and the most tasks one
// tasks() call may run (the arrays of futures hold that many).
#define BENCH_EXEC_WORKERS 2
#define BENCH_EXEC_TASKS_MAX 1000000

// The thread section's largest batch (--threads caps it too).
#define BENCH_BATCH_MAX 16

// The contended section's shared state. The lock and the data it protects
// share one cache line, as they would in a real program (a 40-byte pthread
// mutex plus the three fields fill it exactly); the stop flag the workers
// poll has its own line so that polling it costs no transfers.
typedef union bench_any_lock {
    ct_lock ct;
    pthread_mutex_t pm;
    mtx_t mtx;
#ifdef CT_HAVE_GLIB
    GMutex gm;
#endif
    atomic_uint_fast64_t counter; // the fetch_add floor has no lock
} bench_any_lock;

typedef struct bench_arena {
    _Alignas(64) bench_any_lock lock;
    uint64_t shared;   // incremented in the critical section
    uint64_t switches; // owner changes seen in the critical section
    uint32_t last;     // the last owner's id + 1
    _Alignas(64) atomic_int stop;
} bench_arena;

// One contended worker's inputs and results.
typedef struct bench_worker {
    int id;              // 0..nthreads-1
    uint64_t long_ticks; // timed workers: a "long" wait, in ticks (1 ms)
    uint64_t ops;        // out: acquisitions made
    uint64_t max_wait;   // out (timed workers): longest acquire, in ticks
    uint64_t n_long;     // out (timed workers): waits over long_ticks
    uint64_t n_long2;    // out (timed workers): waits over 2 * long_ticks
} bench_worker;

// A benchmark case. `section` says which hooks it fills:
//   uncontended, notify: loop(n) runs the operation n times on the calling
//       thread (setting up and tearing down its object around the loop);
//   contended: init/fini set up a->lock; worker runs acquire, a->shared++,
//       release until a->stop; timed does the same and also times every
//       acquire (a separate rep, so that reading the clock does not slow the
//       throughput reps); the fetch_add floor leaves `timed` NULL;
//   pingpong: open() makes the shared state, side(st, 0, n) runs n round
//       trips as the initiator (ping, then wait for the pong), side(st, 1, n)
//       answers them; close() frees the state;
//   burn: open(); wait(st) blocks until wake(st), which another thread calls
//       50 ms later; close();
//   thread: loop(n) creates n threads one after another, each joined before
//       the next starts; batch(n, k) n times starts k threads (k <=
//       BENCH_BATCH_MAX), then joins the k. Every thread returns at once;
//   queue: open() makes an empty queue (its kind and capacity are the
//       case's own); put(st, item) adds one item, waiting while the queue
//       is full; get(st) removes one and returns it, waiting while the
//       queue is empty; any number of threads call put and get at once;
//       close() frees the queue, empty by then. Items are never NULL;
//   queue_timed: loop(n) runs n put+get pairs on a queue that it makes
//       and frees around the loop, which never has to wait;
//   executor, executor_latency: open() makes a pool of BENCH_EXEC_WORKERS
//       workers and starts them (the calling thread creates them, so they
//       inherit its CPU affinity); tasks(st, n) runs n empty tasks on it
//       (n <= BENCH_EXEC_TASKS_MAX): the executor cases submit all n, then
//       wait until all n are done; the latency cases run n round trips,
//       each one task submitted and waited for before the next. A pool
//       serves any number of tasks() calls, from one thread at a time;
//       close() frees it.
typedef struct bench_case {
    const char *section;
    const char *name;
    bench_role role;
    unsigned flags;
    const char *note;
    void (*loop)(uint64_t n);
    void (*init)(bench_arena *a);
    void (*worker)(bench_arena *a, bench_worker *w);
    void (*timed)(bench_arena *a, bench_worker *w);
    void (*fini)(bench_arena *a);
    void *(*open)(void);
    void (*side)(void *st, int side, uint64_t n);
    void (*wait)(void *st);
    void (*wake)(void *st);
    void (*close)(void *st);
    void (*batch)(uint64_t n, int k);
    void (*put)(void *st, void *item);
    void *(*get)(void *st);
    void (*tasks)(void *st, uint64_t n);
} bench_case;

// Type sizes for the sizes section.
typedef struct bench_size {
    const char *name;
    size_t size;
    bench_role role;
} bench_size;

// The tables, each ended by an entry whose name is NULL.
extern const bench_case bench_lock_cases[];     // bench_lock.c
extern const bench_case bench_wake_cases[];     // bench_wake.c
extern const bench_case bench_notify_cases[];   // bench_notify.c
extern const bench_case bench_thread_cases[];   // bench_thread.c
extern const bench_case bench_queue_cases[];    // bench_queue.c
extern const bench_case bench_executor_cases[]; // bench_executor.c
extern const bench_case bench_gil_cases[];      // bench_gil.c (gil_pair)
extern const bench_size bench_sizes[];          // bench_sizes.c

// ---- The GIL section's experiments (bench_gil.c) -------------------------
//
// Each call makes its own ct_gil, starts its threads, runs the shape once
// and frees everything; main.c runs the reps, the Python scripts and the
// comparisons. A CPU "unit" is 100 steps of an LCG and one yield point
// (about 100 ns: CPython checks its eval breaker about as often).

// How a run's GIL is made.
typedef struct bench_gil_cfg {
    int policy;          // CT_GIL_POLICY_*
    bool disabled;       // the "free-threaded build"
    int64_t interval_ns; // 0: the default 5 ms
} bench_gil_cfg;

// What a run measured; the fields a shape does not fill stay 0.
typedef struct bench_gil_out {
    double wall_s;        // cpu, io: start barrier to the last join
    double units_per_s;   // convoy: the spinners' units per second
    int64_t *lat_ns;      // convoy: malloc'd reaction latencies (free it)
    size_t nlat;          // convoy: how many
    double slice_med_ns;  // slices: median hold, first and cut ones out
    double slice_p10_ns;  // slices
    double slice_p90_ns;  // slices
    double handovers_s;   // slices: holds per second
    ct_gil_counts counts; // the statistics' totals (stats on)
} bench_gil_out;

// CPU-bound: `units` units of work split over nthreads threads (thread i
// on CPU cpus[i], -1: any), each holding the GIL while it works.
void bench_gil_cpu(const bench_gil_cfg *cfg, int nthreads, uint64_t units,
                   const int *cpus, bench_gil_out *out);
// I/O-bound: ntasks tasks, each taking the GIL and then sleeping sleep_ns
// inside CT_GIL_RELEASE_AROUND; sequential: one thread runs them one after
// another; else a thread per task, with nspinners CPU-bound threads
// spinning on yield points beside them. Threads unpinned.
void bench_gil_io(const bench_gil_cfg *cfg, int ntasks, int64_t sleep_ns,
                  bool sequential, int nspinners, bench_gil_out *out);
// Convoy: for dur_ns, a GIL-less peer thread sleeps tick_ns, then writes
// its clock to a pipe and waits for an acknowledgement; the I/O thread
// reads the pipe inside CT_GIL_RELEASE_AROUND and records how long after
// the write it held the GIL again; nspinners CPU-bound threads spin
// beside it. Without `io`, the spinners alone (their solo throughput).
// cpus NULL: every thread unpinned; else the I/O thread and the peer on
// CPU cpus[0], spinner i on CPU cpus[1 + i].
void bench_gil_convoy(const bench_gil_cfg *cfg, bool io, int nspinners,
                      int64_t dur_ns, int64_t tick_ns, const int *cpus,
                      bench_gil_out *out);
// Slices: nspinners spinners for dur_ns at the given interval, with the
// trace on; the hold lengths come from ct_gil_trace_read. cpus NULL:
// unpinned; else spinner i on CPU cpus[i].
void bench_gil_slices(int64_t interval_ns, int nspinners, int64_t dur_ns,
                      const int *cpus, bench_gil_out *out);

// Reports a failed call that a benchmark cannot go on from, and exits.
_Noreturn void bench_fail(const char *what, int code);

// Calls that must not fail: a failure ends the run with a message.
#define BENCH_CHECK(expr)                                                      \
    do {                                                                       \
        int bench_rc_ = (int)(expr);                                           \
        if (bench_rc_ != 0) {                                                  \
            bench_fail(#expr, bench_rc_);                                      \
        }                                                                      \
    } while (0)

// CLOCK_MONOTONIC in nanoseconds.
static inline int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// A cheap timestamp for timing single acquires: the TSC on x86 (about 10 ns,
// no system call; main.c converts ticks to ns against CLOCK_MONOTONIC over
// the whole rep), the monotonic clock elsewhere.
static inline uint64_t
bench_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return (uint64_t)bench_now_ns();
#endif
}

// One spin-wait hint (PAUSE on x86).
static inline void
bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
