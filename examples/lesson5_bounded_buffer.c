// Lesson 5: a bounded buffer on a Condition. The producer waits while the
// buffer is full, the consumer while it is empty; both conditions share the
// buffer's lock. Each wait sits in a loop that re-checks its predicate, as
// with Python's `while not ...: cond.wait()`. The size never exceeds 5.
// Usage: lesson5_bounded_buffer [items]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

#define CAPACITY 5

typedef struct buffer {
    ct_lock lock; // guards everything below
    ct_condition not_full, not_empty;
    int items[CAPACITY]; // a ring: `size` items from `head`
    int head, size;
} buffer;

static int
buffer_put(buffer *b, int item)
{
    int rc = 0;
    CT_WITH_LOCK(&b->lock) {
        while (b->size == CAPACITY && rc == 0) {
            printf("producer: buffer full, waiting\n");
            rc = ct_condition_wait(&b->not_full, CT_SECONDS(5));
        }
        if (rc != 0) {
            break; // leaves the CT_WITH_LOCK block, releasing the lock
        }
        b->items[(b->head + b->size) % CAPACITY] = item;
        b->size++;
        printf("put %2d  size %d\n", item, b->size);
        (void)ct_condition_notify(&b->not_empty, 1);
    }
    return rc;
}

static int
buffer_get(buffer *b, int *item)
{
    int rc = 0;
    CT_WITH_LOCK(&b->lock) {
        while (b->size == 0 && rc == 0) {
            rc = ct_condition_wait(&b->not_empty, CT_SECONDS(5));
        }
        if (rc != 0) {
            break;
        }
        *item = b->items[b->head];
        b->head = (b->head + 1) % CAPACITY;
        b->size--;
        printf("got %2d  size %d\n", *item, b->size);
        (void)ct_condition_notify(&b->not_full, 1);
    }
    return rc;
}

typedef struct job {
    buffer *b;
    int count;
} job;

static int
producer(void *arg)
{
    job *j = arg;
    for (int i = 0; i < j->count; i++) {
        int rc = buffer_put(j->b, i);
        if (rc != 0) {
            return rc; // CT_ETIMEDOUT: the consumer stopped taking
        }
    }
    return 0;
}

static int
consumer(void *arg)
{
    job *j = arg;
    for (int i = 0; i < j->count; i++) {
        int item = -1;
        int rc = buffer_get(j->b, &item);
        if (rc != 0 || item != i) {
            return rc != 0 ? rc : 1; // a lost or reordered item
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 20;
    if (count < 1) {
        fprintf(stderr, "usage: %s [items]\n", argv[0]);
        return 2;
    }
    static buffer b = {
        .lock = CT_LOCK_INIT,
        .not_full = CT_CONDITION_INIT(&b.lock),
        .not_empty = CT_CONDITION_INIT(&b.lock),
    };
    job j = {&b, count};
    ct_thread *prod, *cons;
    if (ct_thread_new(&prod, producer, &j, NULL) != 0 ||
        ct_thread_new(&cons, consumer, &j, NULL) != 0 ||
        ct_thread_start(prod) != 0 || ct_thread_start(cons) != 0) {
        return 1;
    }
    if (ct_thread_join(prod, CT_FOREVER) != 0 ||
        ct_thread_join(cons, CT_FOREVER) != 0) {
        return 1;
    }
    ct_thread_free(prod);
    ct_thread_free(cons);
    printf("%d items through a buffer of %d\n", count, CAPACITY);
    return 0;
}
