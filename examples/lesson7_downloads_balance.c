// Lesson 7, two halves. First, threads overlap waiting: two simulated
// downloads run at once, so both take about as long as one. Second, a race:
// threads deposit into one balance with a separate read and write, and
// updates get lost; the same under a lock is always exact. The racy read
// and write are relaxed atomics, so the race is real but C's undefined
// behaviour (and TSan's report) is avoided, as in `ctlab race`.
// Usage: lesson7_downloads_balance [download ms [deposits per thread]]
#include <cthreading.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define DEPOSITORS 4

typedef struct download {
    const char *name;
    long ms; // how long the "network" takes
} download;

static int
fetch(void *arg)
{
    download *d = arg;
    ct_sleep(CT_MILLIS(d->ms)); // waiting, as on a socket: no CPU used
    printf("download %s: done\n", d->name);
    return 0;
}

typedef struct bank {
    ct_event go; // releases every depositor at once
    long deposits;
    atomic_long racy; // updated by a read, then a write: no lock
    ct_lock lock;     // guards safe
    long safe;
} bank;

static int
deposit_racy(void *arg)
{
    bank *b = arg;
    if (ct_event_wait(&b->go, CT_SECONDS(5)) != 0) {
        return 1;
    }
    for (long i = 0; i < b->deposits; i++) {
        // balance = balance + 1, in two steps: another thread's write may
        // land between them, and this write then erases it.
        long v = atomic_load_explicit(&b->racy, memory_order_relaxed);
        atomic_store_explicit(&b->racy, v + 1, memory_order_relaxed);
    }
    return 0;
}

static int
deposit_locked(void *arg)
{
    bank *b = arg;
    if (ct_event_wait(&b->go, CT_SECONDS(5)) != 0) {
        return 1;
    }
    for (long i = 0; i < b->deposits; i++) {
        CT_WITH_LOCK(&b->lock) { // the read and the write as one step
            b->safe++;
        }
    }
    return 0;
}

// Starts `n` threads running fn(args + i * size) (size 0: all share one
// argument), then sets `go` (if not NULL) and joins them all. Returns 0 or the
// first error code.
static int
run_all(int n, ct_thread_fn *fn, void *args, size_t size, ct_event *go)
{
    ct_thread *t[DEPOSITORS];
    for (int i = 0; i < n; i++) {
        int rc = ct_thread_new(&t[i], fn, (char *)args + i * size, NULL);
        if (rc == 0 && (rc = ct_thread_start(t[i])) != 0) {
            ct_thread_free(t[i]);
        }
        if (rc != 0) { // the threads started so far are joined at exit
            fprintf(stderr, "thread: %s\n", ct_strerror(rc));
            return rc;
        }
    }
    if (go != NULL) {
        (void)ct_event_set(go);
    }
    for (int i = 0; i < n; i++) {
        int rc = ct_thread_join(t[i], CT_FOREVER);
        if (rc != 0) {
            return rc;
        }
        ct_thread_free(t[i]);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 500;
    long deposits = argc > 2 ? atol(argv[2]) : 100000;
    if (ms < 1 || deposits < 1) {
        fprintf(stderr, "usage: %s [download ms [deposits]]\n", argv[0]);
        return 2;
    }
    download d[2] = {{"a.zip", ms}, {"b.zip", ms}};
    int64_t start = ct_monotonic_ns();
    if (run_all(2, fetch, d, sizeof d[0], NULL) != 0) {
        return 1;
    }
    printf("both downloads: %.0f ms (one alone: %ld ms, one after the "
           "other: %ld ms)\n",
           (double)(ct_monotonic_ns() - start) / 1e6, ms, 2 * ms);

    static bank b = {.go = CT_EVENT_INIT, .lock = CT_LOCK_INIT};
    b.deposits = deposits;
    long want = DEPOSITORS * deposits;
    if (run_all(DEPOSITORS, deposit_racy, &b, 0, &b.go) != 0) {
        return 1;
    }
    long racy = atomic_load(&b.racy);
    printf("no lock: balance %ld of %ld (%ld deposits lost)\n", racy, want,
           want - racy);
    (void)ct_event_clear(&b.go);
    if (run_all(DEPOSITORS, deposit_locked, &b, 0, &b.go) != 0) {
        return 1;
    }
    printf("locked:  balance %ld of %ld\n", b.safe, want);
    return b.safe == want ? 0 : 1;
}
