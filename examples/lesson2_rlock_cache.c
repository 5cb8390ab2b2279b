// Lesson 2: reentrancy. A cached repository whose get_or_set() calls get()
// and set(), and all three take the same ct_rlock: the thread that holds it
// may take it again, so the nested calls go through. With a plain ct_lock
// the inner acquire would wait for its own thread forever; we show that
// with a timeout instead of hanging.
// Usage: lesson2_rlock_cache [threads]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

#define KEYS 10

typedef struct repository {
    ct_rlock lock; // guards everything below
    bool cached[KEYS];
    long value[KEYS];
    long hits, misses, max_depth;
} repository;

static bool
repo_get(repository *r, int key, long *value)
{
    bool found = false;
    CT_WITH_RLOCK(&r->lock) { // depth 2 when called from get_or_set
        found = r->cached[key];
        if (found) {
            *value = r->value[key];
        }
    }
    return found;
}

static void
repo_set(repository *r, int key, long value)
{
    CT_WITH_RLOCK(&r->lock) {
        long depth = (long)ct_rlock_count(&r->lock);
        r->max_depth = depth > r->max_depth ? depth : r->max_depth;
        r->cached[key] = true;
        r->value[key] = value;
    }
}

// Holds the lock across get and set, so two threads cannot both miss the
// same key and both compute it: each key is computed exactly once.
static long
repo_get_or_set(repository *r, int key)
{
    long v = 0;
    CT_WITH_RLOCK(&r->lock) {
        if (repo_get(r, key, &v)) {
            r->hits++;
        } else {
            r->misses++;
            v = (long)key * key; // the "expensive" computation
            repo_set(r, key, v);
        }
    }
    return v;
}

static int
client(void *arg)
{
    repository *r = arg;
    for (int key = 0; key < KEYS; key++) {
        if (repo_get_or_set(r, key) != (long)key * key) {
            return 1; // a wrong value: the excepthook reports it
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (n < 1 || n > 64) {
        fprintf(stderr, "usage: %s [threads, 1-64]\n", argv[0]);
        return 2;
    }
    repository repo = {.lock = CT_RLOCK_INIT};
    ct_thread *t[64];
    for (int i = 0; i < n; i++) {
        if (ct_thread_new(&t[i], client, &repo, NULL) != 0 ||
            ct_thread_start(t[i]) != 0) {
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        if (ct_thread_join(t[i], CT_FOREVER) != 0) {
            return 1;
        }
        ct_thread_free(t[i]);
    }
    printf("%d threads x %d keys: %ld misses, %ld hits, rlock depth %ld "
           "in set\n",
           n, KEYS, repo.misses, repo.hits, repo.max_depth);

    // The same nesting on a plain Lock: get_or_set holds it, and get's
    // acquire waits for a release that only this thread could make. Python
    // would hang here; we ask with a timeout to show it.
    ct_lock plain = CT_LOCK_INIT;
    CT_WITH_LOCK(&plain) { // get_or_set takes the lock...
        int rc = ct_lock_acquire(&plain, CT_MILLIS(100)); // ...then get
        printf("plain lock, nested acquire: %s (%s): it would deadlock\n",
               ct_err_name(rc), ct_strerror(rc));
        if (rc == 0) {
            (void)ct_lock_release(&plain); // never: a Lock is not reentrant
        }
    }
    return repo.misses == KEYS ? 0 : 1;
}
