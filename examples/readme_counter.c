// The README's minimal example, built by `make examples` so it never goes
// stale: keep the two identical.
// cc counter.c $(pkg-config --cflags --libs cthreading)
#include <cthreading.h>
#include <stdio.h>

static ct_lock lock = CT_LOCK_INIT; // or zeroed memory
static long counter;

static int
work(void *arg) // a thread's target: a non-zero return means it failed
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        CT_WITH_LOCK(&lock) { // Python's `with lock:`
            counter++;
        }
    }
    return 0;
}

int
main(void)
{
    ct_thread *t[10];
    for (int i = 0; i < 10; i++) { // named "Thread-1 (work)", ...
        if (ct_thread_new(&t[i], work, NULL, NULL) != 0 ||
            ct_thread_start(t[i]) != 0) {
            return 1;
        }
    }
    for (int i = 0; i < 10; i++) {
        if (ct_thread_join(t[i], CT_FOREVER) != 0) {
            return 1;
        }
        ct_thread_free(t[i]);
    }
    printf("%ld\n", counter); // always 1000000

    ct_event ready = CT_EVENT_INIT;
    if (ct_event_wait(&ready, CT_MILLIS(10)) == CT_ETIMEDOUT) {
        printf("timed out: %s\n", ct_strerror(CT_ETIMEDOUT));
    }
    return 0;
}
