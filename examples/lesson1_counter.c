// Lesson 1: a thread-safe counter "class". The struct carries its own lock,
// and every function that touches the value takes it, so callers cannot
// forget. 10 threads x 100,000 increments always give 1,000,000.
// Usage: lesson1_counter [increments per thread]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 10

// Python: class Counter: def __init__(self): self._lock = Lock() ...
typedef struct counter {
    ct_lock lock; // guards value
    long value;
} counter;

static void
counter_increment(counter *c)
{
    CT_WITH_LOCK(&c->lock) { // the read, the add and the write as one step
        c->value++;
    }
}

static long
counter_value(counter *c)
{
    long v = 0;
    CT_WITH_LOCK(&c->lock) { // a read under the lock sees the last write
        v = c->value;
    }
    return v;
}

typedef struct job {
    counter *c;
    long times;
} job;

static int
work(void *arg)
{
    job *j = arg;
    for (long i = 0; i < j->times; i++) {
        counter_increment(j->c);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long times = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (times < 1) {
        fprintf(stderr, "usage: %s [increments per thread]\n", argv[0]);
        return 2;
    }
    counter c = {CT_LOCK_INIT, 0};
    job j = {&c, times};
    ct_thread *t[THREADS];
    int64_t start = ct_monotonic_ns();
    for (int i = 0; i < THREADS; i++) {
        int rc = ct_thread_new(&t[i], work, &j, NULL);
        if (rc == 0 && (rc = ct_thread_start(t[i])) != 0) {
            ct_thread_free(t[i]);
        }
        if (rc != 0) {
            fprintf(stderr, "thread %d: %s\n", i, ct_strerror(rc));
            return 1; // the threads already started are joined at exit
        }
    }
    for (int i = 0; i < THREADS; i++) {
        int rc = ct_thread_join(t[i], CT_FOREVER);
        if (rc != 0) {
            fprintf(stderr, "join: %s\n", ct_strerror(rc));
            return 1;
        }
        ct_thread_free(t[i]);
    }
    double elapsed = ct_to_seconds(ct_monotonic_ns() - start);
    long want = THREADS * times;
    printf("counter = %ld (expected %ld) in %.3f s\n", counter_value(&c), want,
           elapsed);
    return counter_value(&c) == want ? 0 : 1;
}
