// Exercise 1: 5 threads x 1,000,000 increments of one counter, first
// without a lock, then with one. `counter += 1` is a load and a store: a
// store from another thread landing between them is erased, so updates are
// lost. With CT_WITH_LOCK the total is always exact.
//   usage: exercise1_lost_updates [increments per thread]
#include <cthreading.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 5

static long increments = 1000000;
static ct_barrier start; // lets the threads begin together

// Without a lock. Relaxed atomics keep the program free of undefined
// behaviour (a plain `counter++` would be a C data race), yet the load and
// the store stay two steps, as in Python: the race is real.
static atomic_long racy;

static int
add_unlocked(void *arg)
{
    (void)arg;
    if (ct_barrier_wait(&start, CT_FOREVER) < 0) {
        return 1;
    }
    for (long i = 0; i < increments; i++) {
        long v = atomic_load_explicit(&racy, memory_order_relaxed);
        atomic_store_explicit(&racy, v + 1, memory_order_relaxed);
    }
    return 0;
}

// With a lock: the load, add and store happen as one step.
static ct_lock lock = CT_LOCK_INIT;
static long counter; // guarded by lock

static int
add_locked(void *arg)
{
    (void)arg;
    if (ct_barrier_wait(&start, CT_FOREVER) < 0) {
        return 1;
    }
    for (long i = 0; i < increments; i++) {
        CT_WITH_LOCK(&lock) {
            counter++;
        }
    }
    return 0;
}

// Runs THREADS threads of `fn` and waits for them. Returns 0 or a code.
static int
run(ct_thread_fn *fn)
{
    ct_thread *t[THREADS];
    int rc = ct_barrier_init(&start, THREADS, NULL, NULL, CT_FOREVER);
    int n = 0;
    while (rc == 0 && n < THREADS) {
        rc = ct_thread_new(&t[n], fn, NULL, NULL);
        if (rc == 0 && (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
        n += rc == 0;
    }
    if (rc != 0) {
        (void)ct_barrier_abort(&start); // the started ones return at once
    }
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
    }
    ct_barrier_destroy(&start);
    return rc;
}

static void
report(const char *how, long total, double secs)
{
    long expected = THREADS * increments;
    printf("%-15s %ld of %ld, %ld lost (%.1f%%), %.3f s\n", how, total,
           expected, expected - total,
           100.0 * (double)(expected - total) / (double)expected, secs);
}

int
main(int argc, char **argv)
{
    if (argc > 1 && (increments = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s [increments per thread]\n", argv[0]);
        return 2;
    }
    printf("%d threads x %ld increments\n", THREADS, increments);
    int64_t t0 = ct_monotonic_ns();
    int rc = run(add_unlocked);
    int64_t t1 = ct_monotonic_ns();
    if (rc == 0) {
        report("without a lock:", atomic_load(&racy), (double)(t1 - t0) / 1e9);
        rc = run(add_locked);
    }
    int64_t t2 = ct_monotonic_ns();
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", ct_strerror(rc));
        return 1;
    }
    report("with a lock:", counter, (double)(t2 - t1) / 1e9);
    // The lock costs time: the price of a correct answer.
    return counter == THREADS * increments ? 0 : 1;
}
