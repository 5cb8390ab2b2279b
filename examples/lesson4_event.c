// Lesson 4: signalling with an Event. Two consumers wait on `ready` while
// the producer prepares the data; one ct_event_set() wakes both at once.
// They then share the items through a lock-protected index, so each item
// is consumed exactly once.
// Usage: lesson4_event [items]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ITEMS 1000

typedef struct shared {
    ct_event ready; // set once the producer has filled `items`
    int items[MAX_ITEMS];
    int count;
    ct_lock lock; // guards next
    int next;     // the first item nobody took yet
} shared;

typedef struct consumer_arg {
    shared *s;
    int id;
} consumer_arg;

static int
producer(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < s->count; i++) {
        s->items[i] = i; // written before set(): set/wait publishes them
    }
    printf("producer: %d items ready, setting the event\n", s->count);
    return ct_event_set(&s->ready);
}

static int
consumer(void *arg)
{
    consumer_arg *c = arg;
    shared *s = c->s;
    // Python: ready.wait(timeout=5); a timeout here means the producer died.
    int rc = ct_event_wait(&s->ready, CT_SECONDS(5));
    if (rc != 0) {
        printf("consumer %d: %s\n", c->id, ct_strerror(rc));
        return rc;
    }
    for (;;) {
        int i = -1;
        CT_WITH_LOCK(&s->lock) {
            if (s->next < s->count) {
                i = s->next++;
            }
        }
        if (i < 0) {
            return 0; // all taken
        }
        printf("consumer %d got item %d\n", c->id, s->items[i]);
    }
}

int
main(int argc, char **argv)
{
    static shared s = {.ready = CT_EVENT_INIT, .lock = CT_LOCK_INIT};
    s.count = argc > 1 ? atoi(argv[1]) : 10;
    if (s.count < 1 || s.count > MAX_ITEMS) {
        fprintf(stderr, "usage: %s [items, 1-%d]\n", argv[0], MAX_ITEMS);
        return 2;
    }
    consumer_arg args[2] = {{&s, 1}, {&s, 2}};
    ct_thread *t[3];
    // The consumers start first: they block on the event, not on a sleep.
    if (ct_thread_new(&t[0], consumer, &args[0], NULL) != 0 ||
        ct_thread_new(&t[1], consumer, &args[1], NULL) != 0 ||
        ct_thread_new(&t[2], producer, &s, NULL) != 0) {
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        if (ct_thread_start(t[i]) != 0) {
            return 1;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (ct_thread_join(t[i], CT_FOREVER) != 0) {
            return 1;
        }
        ct_thread_free(t[i]);
    }
    printf("consumed %d of %d items\n", s.next, s.count);
    return 0;
}
