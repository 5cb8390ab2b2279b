// `ctlab deadlock`: the lesson's lock-order deadlock, made certain and
// then detected. Two threads each take one ct_lock, meet at a barrier (so
// each surely holds its first lock), then ask for the other's with a
// timeout: both wait for each other, and the timeout is the detection.
// Then the fix: the same two threads taking the locks in one order finish.
// The process never hangs: every wait has a timeout.
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <cthreading.h>

#include "lab.h"

// A generous bound on the barrier waits, which only a broken run reaches.
#define SAFETY CT_SECONDS(30)

typedef struct shared {
    ct_lock locks[2];
    ct_duration timeout;
    bool ordered;       // both take lock 1 then lock 2, `iterations` times
    long iterations;    // of the ordered run
    ct_barrier holding; // opposite orders: both hold their first lock
    ct_barrier done;    // opposite orders: both are back from the second
    ct_barrier gate;    // ordered: start together
    atomic_int running; // ordered: threads past the gate
} shared;

typedef struct worker {
    shared *s;
    int first, second; // lock indexes, in the order this thread takes them
    // Opposite orders: the second acquire's code and how long it waited.
    int second_rc;
    int64_t waited_ns;
    // Ordered: the timeouts it met, the rounds it completed, its times.
    long timeouts, completed;
    int64_t start_ns, end_ns;
    bool broken; // a barrier or the first acquire failed
} worker;

// Takes the first lock, waits until the other thread holds its own, then
// asks for the second with the timeout.
static int
opposite(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    if (ct_lock_acquire(&s->locks[w->first], SAFETY) != 0) {
        w->broken = true;
        (void)ct_barrier_abort(&s->holding);
        (void)ct_barrier_abort(&s->done);
        return 1;
    }
    if (ct_barrier_wait(&s->holding, SAFETY) < 0) {
        w->broken = true;
        ct_lock_release(&s->locks[w->first]);
        return 1;
    }
    int64_t t0 = lab_now_ns();
    w->second_rc = ct_lock_acquire(&s->locks[w->second], s->timeout);
    w->waited_ns = lab_now_ns() - t0;
    if (w->second_rc == 0) {
        ct_lock_release(&s->locks[w->second]);
    }
    // Both give up before either lets go: each sees the deadlock itself,
    // rather than one getting through once the other has given up.
    if (ct_barrier_wait(&s->done, SAFETY) < 0) {
        w->broken = true;
    }
    ct_lock_release(&s->locks[w->first]);
    return 0;
}

// Takes both locks in the same order, `iterations` times. A timeout is
// counted and the round retried; after 10 the thread gives up.
static int
ordered(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    if (ct_barrier_wait(&s->gate, SAFETY) < 0) {
        w->broken = true;
        return 1;
    }
    // The barrier wakes one thread before the other: wait for both, so
    // that the rounds overlap instead of running one thread after the other.
    atomic_fetch_add(&s->running, 1);
    while (atomic_load(&s->running) < 2) {
        sched_yield();
    }
    w->start_ns = lab_now_ns();
    while (w->completed < s->iterations && w->timeouts < 10) {
        if (ct_lock_acquire(&s->locks[w->first], s->timeout) != 0) {
            w->timeouts++;
            continue;
        }
        if (ct_lock_acquire(&s->locks[w->second], s->timeout) != 0) {
            w->timeouts++;
            ct_lock_release(&s->locks[w->first]);
            continue;
        }
        w->completed++;
        ct_lock_release(&s->locks[w->second]);
        ct_lock_release(&s->locks[w->first]);
    }
    w->end_ns = lab_now_ns();
    return 0;
}

// Runs two threads of `fn`: A takes lock 1 then lock 2, B starts with
// lock b_first + 1. Returns 0 or a ct error code.
static int
run_pair(lab_ctx *ctx, shared *s, ct_thread_fn *fn, worker w[2], int b_first)
{
    ct_thread *t[2] = {NULL, NULL};
    int started = 0;
    w[0] = (worker){.s = s, .first = 0, .second = 1};
    w[1] = (worker){.s = s, .first = b_first, .second = 1 - b_first};
    int rc = lab_spawn(t, 2, fn, w, sizeof w[0], &s->gate, &started);
    if (rc != 0) {
        // The started thread may wait at any of them: it gets CT_EBROKEN.
        (void)ct_barrier_abort(&s->holding);
        (void)ct_barrier_abort(&s->done);
    }
    (void)lab_join(ctx, t, started);
    if (rc == 0 && (w[0].broken || w[1].broken)) {
        rc = CT_EBROKEN;
    }
    return rc;
}

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    double timeout_s =
        ctx->seconds > 0 ? ctx->seconds : lab_pick(ctx, 0.1, 0.2, 0.2);
    long iterations = (long)lab_pick(ctx, 2000, 20000, 200000);
    char title[160];
    snprintf(title, sizeof title,
             "deadlock: two threads, two ct_locks, opposite orders, "
             "acquire with a %.0f ms timeout",
             timeout_s * 1e3);
    lab_experiment_begin(ctx, "deadlock", title);
    lab_param_num(ctx, "timeout_ms", timeout_s * 1e3);
    lab_param_num(ctx, "iterations", (double)iterations);

    shared *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return lab_fail(ctx, "out of memory");
    }
    s->timeout = CT_SECONDS(timeout_s);
    s->iterations = iterations;
    ct_lock_init(&s->locks[0]);
    ct_lock_init(&s->locks[1]);
    int rc = ct_barrier_init(&s->holding, 2, NULL, NULL, CT_FOREVER);
    rc = rc != 0 ? rc : ct_barrier_init(&s->done, 2, NULL, NULL, CT_FOREVER);
    rc = rc != 0 ? rc : ct_barrier_init(&s->gate, 2, NULL, NULL, CT_FOREVER);

    // 1. Opposite orders: A takes lock 1 then 2, B lock 2 then 1.
    worker opp[2] = {{0}}, ord[2] = {{0}};
    int64_t t0 = lab_now_ns();
    lab_progress_begin(ctx, "deadlock: opposite orders");
    if (rc == 0) {
        rc = run_pair(ctx, s, opposite, opp, 1);
    }
    lab_progress_end(ctx);
    double opposite_ms = (double)(lab_now_ns() - t0) / 1e6;
    // 2. The fix: both take lock 1 then lock 2.
    lab_progress_begin(ctx, "deadlock: one order");
    if (rc == 0) {
        rc = run_pair(ctx, s, ordered, ord, 0);
    }
    lab_progress_end(ctx);
    ct_barrier_destroy(&s->holding);
    ct_barrier_destroy(&s->done);
    ct_barrier_destroy(&s->gate);
    ct_lock_destroy(&s->locks[0]);
    ct_lock_destroy(&s->locks[1]);
    free(s);
    if (rc != 0) {
        return lab_fail(ctx, "could not run two threads: %s", ct_strerror(rc));
    }

    static const char *const names[2] = {"A", "B"};
    lab_table *t = lab_table_new(ctx, "opposite", "Opposite orders:");
    lab_table_col(t, "thread", "thread", NULL);
    lab_table_col(t, "holds", "holds", NULL);
    lab_table_col(t, "waits_for", "waits for", NULL);
    lab_table_col(t, "result", "result", NULL);
    lab_table_col(t, "waited_ms", "gave up after", "ms");
    bool detected = true;
    for (int i = 0; i < 2; i++) {
        char holds[24], wants[24];
        snprintf(holds, sizeof holds, "lock %d", opp[i].first + 1);
        snprintf(wants, sizeof wants, "lock %d", opp[i].second + 1);
        bool timed_out = opp[i].second_rc == CT_ETIMEDOUT;
        detected = detected && timed_out;
        lab_table_row(t);
        lab_cell_str(t, names[i]);
        lab_cell_str(t, holds);
        lab_cell_str(t, wants);
        lab_cell_str(t, timed_out ? "timed out"
                        : opp[i].second_rc == 0
                            ? "acquired"
                            : ct_err_name(opp[i].second_rc));
        lab_cell_num(t, (double)opp[i].waited_ns / 1e6, 1);
    }
    lab_table_print(ctx, t);
    double detect_ms =
        fmax((double)opp[0].waited_ns, (double)opp[1].waited_ns) / 1e6;
    // Who holds and waits for what, from what the threads did.
    char report[160];
    snprintf(report, sizeof report,
             "thread A holds lock %d and waits for lock %d; thread B holds "
             "lock %d and waits for lock %d",
             opp[0].first + 1, opp[0].second + 1, opp[1].first + 1,
             opp[1].second + 1);
    if (detected) {
        lab_note(ctx,
                 "Deadlock detected by the timeout: %s. Each gave up after "
                 "%.1f / %.1f ms (timeout %.0f ms).",
                 report, (double)opp[0].waited_ns / 1e6,
                 (double)opp[1].waited_ns / 1e6, timeout_s * 1e3);
        lab_param_str(ctx, "report", report);
    }

    long total = 2 * iterations,
         completed = ord[0].completed + ord[1].completed;
    long timeouts = ord[0].timeouts + ord[1].timeouts;
    int64_t first =
        ord[0].start_ns < ord[1].start_ns ? ord[0].start_ns : ord[1].start_ns;
    int64_t last =
        ord[0].end_ns > ord[1].end_ns ? ord[0].end_ns : ord[1].end_ns;
    double wall_ms = (double)(last - first) / 1e6;
    t = lab_table_new(ctx, "ordered", "The fix, one order (lock 1, then 2):");
    lab_table_col(t, "threads", "threads", NULL);
    lab_table_col(t, "rounds", "rounds", NULL);
    lab_table_col(t, "completed", "completed", "rounds");
    lab_table_col(t, "timeouts", "timeouts", NULL);
    lab_table_col(t, "wall_ms", "wall", "ms");
    lab_table_col(t, "ns_per_round", "time", "ns/round");
    lab_table_row(t);
    lab_cell_int(t, 2);
    lab_cell_int(t, total);
    lab_cell_int(t, completed);
    lab_cell_int(t, timeouts);
    lab_cell_num(t, wall_ms, 1);
    lab_cell_num(t, wall_ms * 1e6 / (double)(completed > 0 ? completed : 1), 1);
    lab_table_print(ctx, t);
    lab_note(ctx, "A round takes both locks and releases them. No debug "
                  "lock-order checker exists in cthreading yet (to come): it "
                  "would report the inversion when B asks for lock 1, "
                  "without waiting for a timeout.");

    lab_param_num(ctx, "detected", detected);
    lab_param_num(ctx, "detect_ms", detect_ms);
    lab_param_num(ctx, "opposite_ms", opposite_ms);
    bool finished = completed == total;
    lab_param_num(ctx, "ordered_completed", finished);
    lab_param_num(ctx, "ordered_timeouts", (double)timeouts);

    char yes[400], no[400];
    snprintf(yes, sizeof yes,
             "Opposite lock orders deadlocked: thread A held lock 1 and "
             "waited for lock 2 while thread B held lock 2 and waited for "
             "lock 1; the %.0f ms timeout detected it after %.1f ms.",
             timeout_s * 1e3, detect_ms);
    snprintf(no, sizeof no,
             "Opposite lock orders did not deadlock (A: %s, B: %s), though "
             "the barrier made each hold its first lock: a bug!",
             opp[0].second_rc == 0 ? "acquired" : ct_err_name(opp[0].second_rc),
             opp[1].second_rc == 0 ? "acquired"
                                   : ct_err_name(opp[1].second_rc));
    lab_claim(ctx, "inconsistent lock order deadlocks", detected, yes, no);
    snprintf(yes, sizeof yes,
             "Taking the locks in one order, both threads completed all %ld "
             "rounds in %.1f ms, without a timeout.",
             total, wall_ms);
    if (finished) {
        snprintf(no, sizeof no,
                 "In one order both threads completed all %ld rounds, but "
                 "met %ld timeouts of %.0f ms on the way: not a deadlock, a "
                 "thread kept from the CPU that long (a busy machine).",
                 total, timeouts, timeout_s * 1e3);
    } else {
        snprintf(no, sizeof no,
                 "In one order the threads completed only %ld of %ld rounds "
                 "(%ld timeouts of %.0f ms).",
                 completed, total, timeouts, timeout_s * 1e3);
    }
    lab_claim(ctx, "a consistent lock order does not deadlock",
              finished && timeouts == 0, yes, no);
    int end = lab_experiment_end(ctx);
    if (!detected) {
        return lab_fail(ctx, "the opposite orders did not deadlock");
    }
    if (!finished) {
        return lab_fail(ctx, "the ordered run did not complete");
    }
    return end;
}

const lab_cmd lab_cmd_deadlock = {
    .name = "deadlock",
    .summary = "two locks taken in opposite orders: deadlock detected, fixed",
    .run = run,
    .help =
        "Two threads each take one ct_lock, meet at a ct_barrier (so each "
        "surely holds\nit), then ask for the other's lock with a timeout "
        "(--seconds S, default 0.2;\n--quick 0.1): both wait for each other, "
        "and the timeout detects the deadlock.\nctlab reports who holds and "
        "waits for what, and the time until detection.\nThen the fix: the "
        "same two threads taking both locks in one order, many\ntimes, "
        "complete. No debug lock-order checker exists yet (to come).",
    .in_tour = true,
    .timed = true,
};
