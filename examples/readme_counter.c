// The README's minimal example, built by `make examples` so it never goes
// stale: keep the two identical.
// cc counter.c -pthread $(pkg-config --cflags --libs cthreading)
#include <cthreading.h>
#include <pthread.h>
#include <stdio.h>

static ct_lock lock = CT_LOCK_INIT; // or zeroed memory
static long counter;

static void *
work(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        CT_WITH_LOCK(&lock) { // Python's `with lock:`
            counter++;
        }
    }
    return NULL;
}

int
main(void)
{
    pthread_t t[10];
    for (int i = 0; i < 10; i++) {
        pthread_create(&t[i], NULL, work, NULL);
    }
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
    }
    printf("%ld\n", counter); // always 1000000

    ct_event ready = CT_EVENT_INIT;
    if (ct_event_wait(&ready, CT_MILLIS(10)) == CT_ETIMEDOUT) {
        printf("timed out: %s\n", ct_strerror(CT_ETIMEDOUT));
    }
    return 0;
}
