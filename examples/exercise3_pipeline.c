// Exercise 3: a pipeline. 3 producers generate random numbers, 2 consumers
// square them, through a bounded buffer of 10 built on ct_conditions: a
// producer waits while the buffer is full, a consumer while it is empty.
// Each item carries an id, so the end can check it was consumed exactly
// once; the sums of the squares made and consumed must agree too.
//   usage: exercise3_pipeline [items per producer]
#include <cthreading.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 3
#define CONSUMERS 2
#define CAPACITY 10

typedef struct item {
    long id;
    uint32_t value;
} item;

// The bounded buffer: a ring of CAPACITY items, all guarded by `lock`.
static ct_lock lock = CT_LOCK_INIT;
// Two conditions on the one lock: producers wait for not_full, consumers
// for not_empty, so each notify wakes a thread that can proceed.
static ct_condition not_full = CT_CONDITION_INIT(&lock);
static ct_condition not_empty = CT_CONDITION_INIT(&lock);
static item ring[CAPACITY];
static int head, count;
static int producers_left = PRODUCERS; // consumers stop at 0 and empty

static long per_producer = 100000;
static unsigned char *seen;          // seen[id]: times consumed (consumers)
static uint64_t made_sum[PRODUCERS]; // sum of value^2, per producer
static uint64_t used_sum[CONSUMERS]; // sum of value^2, per consumer

static int
produce(void *arg)
{
    int p = (int)(intptr_t)arg;
    uint64_t x = 0x9E3779B97F4A7C15u * (uint64_t)(p + 1); // xorshift state
    for (long i = 0; i < per_producer; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        item it = {p * per_producer + i, (uint32_t)(x >> 40)};
        made_sum[p] += (uint64_t)it.value * it.value;
        CT_WITH_LOCK(&lock) {
            // Always wait in a loop: re-check the condition after waking.
            while (count == CAPACITY) {
                if (ct_condition_wait(&not_full, CT_FOREVER) != 0) {
                    return 1;
                }
            }
            ring[(head + count) % CAPACITY] = it;
            count++;
            (void)ct_condition_notify(&not_empty, 1);
        }
    }
    CT_WITH_LOCK(&lock) {
        producers_left--; // the last one wakes every idle consumer
        (void)ct_condition_notify_all(&not_empty);
    }
    return 0;
}

static int
consume(void *arg)
{
    int c = (int)(intptr_t)arg;
    for (;;) {
        item it = {-1, 0};
        CT_WITH_LOCK(&lock) {
            while (count == 0 && producers_left > 0) {
                if (ct_condition_wait(&not_empty, CT_FOREVER) != 0) {
                    return 1;
                }
            }
            if (count > 0) {
                it = ring[head];
                head = (head + 1) % CAPACITY;
                count--;
                (void)ct_condition_notify(&not_full, 1);
            }
        }
        if (it.id < 0) {
            return 0; // empty, and no producer left
        }
        used_sum[c] += (uint64_t)it.value * it.value; // the work: squaring
        seen[it.id]++; // ids are unique: no other thread writes this byte
    }
}

int
main(int argc, char **argv)
{
    if (argc > 1 && (per_producer = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s [items per producer]\n", argv[0]);
        return 2;
    }
    long total = PRODUCERS * per_producer;
    if ((seen = calloc((size_t)total, 1)) == NULL) {
        return 1;
    }
    ct_thread *t[PRODUCERS + CONSUMERS];
    int n = 0, rc = 0;
    int64_t t0 = ct_monotonic_ns();
    for (; n < PRODUCERS + CONSUMERS && rc == 0; n++) {
        ct_thread_fn *fn = n < PRODUCERS ? produce : consume;
        intptr_t index = n < PRODUCERS ? n : n - PRODUCERS;
        rc = ct_thread_new(&t[n], fn, (void *)index, NULL);
        if (rc == 0 && (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
    }
    // With a thread missing the others could wait forever, and exit()
    // would join them: give up with _Exit, which does not.
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", ct_strerror(rc));
        _Exit(1);
    }
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
    }
    double secs = (double)(ct_monotonic_ns() - t0) / 1e9;
    long once = 0;
    for (long id = 0; id < total; id++) {
        once += seen[id] == 1;
    }
    uint64_t made = 0, used = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        made += made_sum[i];
    }
    for (int i = 0; i < CONSUMERS; i++) {
        used += used_sum[i];
    }
    printf("%d producers -> buffer of %d -> %d consumers\n", PRODUCERS,
           CAPACITY, CONSUMERS);
    printf("items: %ld produced, %ld consumed exactly once\n", total, once);
    printf("checksum of squares: %s (%llu)\n", made == used ? "ok" : "BAD",
           (unsigned long long)used);
    printf("throughput: %.0f items/s (%.3f s)\n", (double)total / secs, secs);
    free(seen);
    return rc == 0 && once == total && made == used ? 0 : 1;
}
