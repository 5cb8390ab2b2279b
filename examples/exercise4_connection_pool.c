// Exercise 4: a connection pool on a ct_semaphore. The semaphore counts the
// free connections, so pool_acquire() waits only while all are taken and
// gives up with CT_ETIMEDOUT after its timeout; a ct_lock guards the list
// of which connection is free. Workers share 3 connections, then the main
// thread takes all 3 and shows a timed-out acquire.
//   usage: exercise4_connection_pool [jobs per worker]
#include <cthreading.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define POOL_SIZE 3
#define WORKERS 8

typedef struct conn {
    int id;
    long queries; // guarded by holding the connection
} conn;

typedef struct pool {
    ct_semaphore free_count; // one unit per free connection
    ct_lock lock;            // guards in_use[]
    bool in_use[POOL_SIZE];
    conn conns[POOL_SIZE];
} pool;

static void
pool_init(pool *p)
{
    (void)ct_bounded_semaphore_init(&p->free_count, POOL_SIZE);
    ct_lock_init(&p->lock);
    for (int i = 0; i < POOL_SIZE; i++) {
        p->in_use[i] = false;
        p->conns[i] = (conn){i + 1, 0};
    }
}

// Takes a free connection into *c, waiting up to `timeout`. Returns 0 or
// CT_ETIMEDOUT (Python: acquire() returned False).
static int
pool_acquire(pool *p, conn **c, ct_duration timeout)
{
    int rc = ct_semaphore_acquire(&p->free_count, timeout);
    if (rc != 0) {
        return rc;
    }
    // A unit of the semaphore guarantees that one connection is free.
    CT_WITH_LOCK(&p->lock) {
        for (int i = 0; i < POOL_SIZE; i++) {
            if (!p->in_use[i]) {
                p->in_use[i] = true;
                *c = &p->conns[i];
                break;
            }
        }
    }
    return 0;
}

// Gives the connection back. Returns 0, or CT_EOVERFLOW if released twice
// (the bounded semaphore catches it, as BoundedSemaphore raises ValueError).
static int
pool_release(pool *p, conn *c)
{
    CT_WITH_LOCK(&p->lock) {
        p->in_use[c->id - 1] = false;
    }
    return ct_semaphore_release(&p->free_count, 1);
}

static pool db;
static long jobs = 50;
static atomic_int busy, max_busy; // connections held right now, and at most

static int
worker(void *arg)
{
    (void)arg;
    for (long j = 0; j < jobs; j++) {
        conn *c;
        int rc = pool_acquire(&db, &c, CT_SECONDS(10));
        if (rc != 0) {
            return rc; // with 3 connections and short jobs: never
        }
        int now = atomic_fetch_add(&busy, 1) + 1;
        for (int m = atomic_load(&max_busy);
             now > m && !atomic_compare_exchange_weak(&max_busy, &m, now);) {
        }
        c->queries++;
        ct_sleep(CT_MILLIS(1)); // "run a query" (waiting on a database)
        atomic_fetch_sub(&busy, 1);
        if ((rc = pool_release(&db, c)) != 0) {
            return rc;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && (jobs = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s [jobs per worker]\n", argv[0]);
        return 2;
    }
    pool_init(&db);
    ct_thread *t[WORKERS];
    int n = 0, rc = 0;
    for (; n < WORKERS && rc == 0; n++) {
        if ((rc = ct_thread_new(&t[n], worker, NULL, NULL)) == 0 &&
            (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
    }
    n -= rc != 0;
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
    }
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", ct_strerror(rc));
        return 1;
    }
    printf("%d workers x %ld jobs on %d connections: at most %d in use\n",
           WORKERS, jobs, POOL_SIZE, atomic_load(&max_busy));
    for (int i = 0; i < POOL_SIZE; i++) {
        printf("  connection %d ran %ld queries\n", db.conns[i].id,
               db.conns[i].queries);
    }

    // Exhaust the pool, then ask for one more: it waits 100 ms and fails.
    conn *held[POOL_SIZE], *extra;
    for (int i = 0; i < POOL_SIZE; i++) {
        if (pool_acquire(&db, &held[i], CT_NOWAIT) != 0) {
            return 1;
        }
    }
    int64_t t0 = ct_monotonic_ns();
    rc = pool_acquire(&db, &extra, CT_MILLIS(100));
    printf("all %d taken; acquire(100 ms) returned %s after %.0f ms\n",
           POOL_SIZE, ct_err_name(rc), (double)(ct_monotonic_ns() - t0) / 1e6);
    for (int i = 0; i < POOL_SIZE; i++) {
        if (pool_release(&db, held[i]) != 0) {
            return 1;
        }
    }
    printf("released twice: %s\n", ct_err_name(pool_release(&db, held[0])));
    printf("free at the end: %lld of %d\n",
           (long long)ct_semaphore_value(&db.free_count), POOL_SIZE);
    return rc == CT_ETIMEDOUT ? 0 : 1;
}
