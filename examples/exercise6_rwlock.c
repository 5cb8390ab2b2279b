// Exercise 6: a read-write lock built from a ct_lock and a ct_condition.
// Many readers may hold it at once; a writer holds it alone. Writers go
// first once they wait (no new reader enters), so a stream of readers
// cannot starve them. 10 readers and 2 writers share a map; every write
// gives all its entries one new version, so a reader that sees two
// versions has seen a write half done.
//   usage: exercise6_rwlock [reads per reader]
#include <cthreading.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct rwlock {
    ct_lock lock;      // guards the three fields below
    ct_condition cond; // notified when a reader or the writer leaves
    int readers;       // readers inside
    bool writer;       // a writer inside
    int writers_waiting;
} rwlock;

static void
rw_init(rwlock *rw)
{
    ct_lock_init(&rw->lock);
    (void)ct_condition_init(&rw->cond, &rw->lock);
    rw->readers = 0;
    rw->writer = false;
    rw->writers_waiting = 0;
}

static int
rw_acquire_read(rwlock *rw, ct_duration timeout)
{
    int rc = 0;
    CT_WITH_LOCK(&rw->lock) {
        while (rc == 0 && (rw->writer || rw->writers_waiting > 0)) {
            rc = ct_condition_wait(&rw->cond, timeout);
        }
        rw->readers += rc == 0;
    }
    return rc;
}

static void
rw_release_read(rwlock *rw)
{
    CT_WITH_LOCK(&rw->lock) {
        if (--rw->readers == 0) {
            (void)ct_condition_notify_all(&rw->cond); // a writer may enter
        }
    }
}

static int
rw_acquire_write(rwlock *rw, ct_duration timeout)
{
    int rc = 0;
    CT_WITH_LOCK(&rw->lock) {
        rw->writers_waiting++;
        while (rc == 0 && (rw->writer || rw->readers > 0)) {
            rc = ct_condition_wait(&rw->cond, timeout);
        }
        rw->writers_waiting--;
        rw->writer = rc == 0;
        if (rc != 0) {
            (void)ct_condition_notify_all(&rw->cond); // readers we held off
        }
    }
    return rc;
}

static void
rw_release_write(rwlock *rw)
{
    CT_WITH_LOCK(&rw->lock) {
        rw->writer = false;
        (void)ct_condition_notify_all(&rw->cond); // readers and writers
    }
}

#define READERS 10
#define WRITERS 2
#define KEYS 64

static rwlock rw;
static long map[KEYS]; // map[k] = version: guarded by rw
static long reads = 2000;
static int writes = 200;
// What the threads saw inside the lock, for the checks at the end.
static atomic_int readers_in, writers_in, max_readers;
static atomic_long overlaps, torn;
static ct_barrier all_readers; // met inside the read lock: concurrency
static ct_event readers_met;   // holds the writers back until then

static int
met(void *arg) // the barrier's action: runs once all 10 are inside
{
    (void)arg;
    return ct_event_set(&readers_met);
}

static void
enter(atomic_int *me, atomic_int *other)
{
    int n = atomic_fetch_add(me, 1) + 1;
    if (me == &readers_in) {
        for (int m = atomic_load(&max_readers);
             n > m && !atomic_compare_exchange_weak(&max_readers, &m, n);) {
        }
    }
    if (atomic_load(other) > 0 || (me == &writers_in && n > 1)) {
        atomic_fetch_add(&overlaps, 1); // a writer was not alone
    }
}

static int
reader(void *arg)
{
    (void)arg;
    for (long i = 0; i < reads; i++) {
        int rc = rw_acquire_read(&rw, CT_SECONDS(10));
        if (rc != 0) {
            return rc;
        }
        enter(&readers_in, &writers_in);
        if (i == 0) {
            // Every reader waits here while holding the read lock: only a
            // lock that lets readers in together gets all 10 through.
            rc = ct_barrier_wait(&all_readers, CT_SECONDS(10));
        }
        for (int k = 1; k < KEYS; k++) {
            if (map[k] != map[0]) {
                atomic_fetch_add(&torn, 1);
                break;
            }
        }
        atomic_fetch_sub(&readers_in, 1);
        rw_release_read(&rw);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int
writer(void *arg)
{
    (void)arg;
    int rc = ct_event_wait(&readers_met, CT_SECONDS(10));
    for (int i = 0; i < writes && rc == 0; i++) {
        if ((rc = rw_acquire_write(&rw, CT_SECONDS(10))) == 0) {
            enter(&writers_in, &readers_in);
            long version = map[0] + 1;
            for (int k = 0; k < KEYS; k++) {
                map[k] = version;
            }
            atomic_fetch_sub(&writers_in, 1);
            rw_release_write(&rw);
        }
    }
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && (reads = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s [reads per reader]\n", argv[0]);
        return 2;
    }
    writes = reads / 10 > 0 ? (int)(reads / 10) : 1;
    rw_init(&rw);
    ct_event_init(&readers_met);
    int rc = ct_barrier_init(&all_readers, READERS, met, NULL, CT_FOREVER);
    ct_thread *t[READERS + WRITERS];
    int n = 0;
    for (; n < READERS + WRITERS && rc == 0; n++) {
        ct_thread_fn *fn = n < READERS ? reader : writer;
        if ((rc = ct_thread_new(&t[n], fn, NULL, NULL)) == 0 &&
            (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
    }
    n -= rc != 0;
    if (rc != 0) {
        (void)ct_barrier_abort(&all_readers); // the started ones give up
        ct_event_set(&readers_met);
    }
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
    }
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", ct_strerror(rc));
        return 1;
    }
    printf("%d readers x %ld reads, %d writers x %d writes\n", READERS, reads,
           WRITERS, writes);
    printf("max readers inside at once: %d\n", atomic_load(&max_readers));
    printf("writer not alone: %ld times\n", atomic_load(&overlaps));
    printf("torn reads: %ld\n", atomic_load(&torn));
    printf("final version: %ld (expected %d)\n", map[0], WRITERS * writes);
    bool ok = atomic_load(&max_readers) > 1 && atomic_load(&overlaps) == 0 &&
              atomic_load(&torn) == 0 && map[0] == WRITERS * writes;
    ct_barrier_destroy(&all_readers);
    return ok ? 0 : 1;
}
