// Exercise 2: a thread-safe LRU cache of configurable size: a hash map
// finds a key's node, a doubly linked list keeps the nodes from most to
// least recently used, and one ct_lock guards both, so every operation
// sees them agree. 10 threads then do random reads and writes while the
// invariants are checked again and again.
//   usage: exercise2_lru_cache [capacity [operations per thread]]
#include <cthreading.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    long key, value;
    struct node *prev, *next; // the recency list
    struct node *chain;       // the next node in the same hash bucket
} node;

typedef struct lru {
    ct_lock lock; // guards everything below
    size_t capacity, size, nbuckets;
    node **buckets;
    node head; // sentinel: head.next is the most recent, head.prev the least
} lru;

static int
lru_init(lru *c, size_t capacity)
{
    ct_lock_init(&c->lock);
    c->capacity = capacity;
    c->size = 0;
    c->nbuckets = 2 * capacity + 1;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    c->head.prev = c->head.next = &c->head;
    return c->buckets != NULL ? 0 : CT_ENOMEM;
}

// Called with c->lock held, as are the two helpers below.
static node **
find(lru *c, long key)
{
    node **p = &c->buckets[(uint64_t)key % c->nbuckets];
    while (*p != NULL && (*p)->key != key) {
        p = &(*p)->chain;
    }
    return p;
}

static void
unlink_node(node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

static void
push_front(lru *c, node *n)
{
    n->prev = &c->head;
    n->next = c->head.next;
    c->head.next->prev = n;
    c->head.next = n;
}

// Looks `key` up; on a hit stores its value in *value, marks it most
// recently used and returns true.
static bool
lru_get(lru *c, long key, long *value)
{
    bool hit = false;
    CT_WITH_LOCK(&c->lock) {
        node *n = *find(c, key);
        if (n != NULL) {
            unlink_node(n);
            push_front(c, n);
            *value = n->value;
            hit = true;
        }
    }
    return hit;
}

// Sets key to value, evicting the least recently used entry when full.
// Returns 0 or CT_ENOMEM.
static int
lru_put(lru *c, long key, long value)
{
    node *fresh = malloc(sizeof *fresh); // allocate outside the lock
    node *evicted = NULL;
    if (fresh == NULL) {
        return CT_ENOMEM;
    }
    CT_WITH_LOCK(&c->lock) {
        node **slot = find(c, key);
        if (*slot != NULL) { // update in place
            (*slot)->value = value;
            unlink_node(*slot);
            push_front(c, *slot);
            evicted = fresh; // not needed after all
            break;           // leaves the CT_WITH_LOCK block, unlocking
        }
        *fresh = (node){key, value, NULL, NULL, NULL};
        *slot = fresh;
        push_front(c, fresh);
        if (++c->size > c->capacity) {
            evicted = c->head.prev;
            unlink_node(evicted);
            *find(c, evicted->key) = evicted->chain;
            c->size--;
        }
    }
    free(evicted);
    return 0;
}

static void
lru_free(lru *c)
{
    for (node *n = c->head.next, *next; n != &c->head; n = next) {
        next = n->next;
        free(n);
    }
    free(c->buckets);
}

static long
value_for(long key) // what every writer stores for a key
{
    return key * 7919 + 1;
}

// Checks the invariants under the lock: size <= capacity, the list and
// the map hold the same nodes (as many, and each list node is the one the
// map finds for its key), links point both ways, values match keys.
static bool
lru_check(lru *c)
{
    bool ok = true;
    CT_WITH_LOCK(&c->lock) {
        size_t listed = 0, mapped = 0;
        for (node *n = c->head.next; n != &c->head && ok; n = n->next) {
            listed++;
            ok = n->next->prev == n && *find(c, n->key) == n &&
                 n->value == value_for(n->key) && listed <= c->size;
        }
        for (size_t b = 0; b < c->nbuckets; b++) {
            for (node *n = c->buckets[b]; n != NULL; n = n->chain) {
                mapped++;
            }
        }
        ok = ok && listed == c->size && mapped == c->size &&
             c->size <= c->capacity;
    }
    return ok;
}

#define THREADS 10

static lru cache;
static long ops = 20000;

typedef struct stats {
    long hits, misses, checks, bad;
} stats;

static int
stress(void *arg)
{
    stats *s = arg;
    uint64_t x = (uint64_t)(uintptr_t)arg | 1; // xorshift state per thread
    long keys = (long)(2 * cache.capacity);    // half fit: hits and misses
    for (long i = 0; i < ops; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        long key = (long)(x % (uint64_t)keys), value;
        if (x & (1u << 20)) { // half reads, half writes
            if (lru_get(&cache, key, &value)) {
                s->hits++;
                s->bad += value != value_for(key);
            } else {
                s->misses++;
            }
        } else if (lru_put(&cache, key, value_for(key)) != 0) {
            return CT_ENOMEM;
        }
        if (i % 256 == 0) {
            s->checks++;
            s->bad += !lru_check(&cache);
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long capacity = argc > 1 ? atol(argv[1]) : 100;
    if (argc > 2) {
        ops = atol(argv[2]);
    }
    if (capacity < 1 || ops < 1 || lru_init(&cache, (size_t)capacity) != 0) {
        fprintf(stderr, "usage: %s [capacity [ops per thread]]\n", argv[0]);
        return 2;
    }
    ct_thread *t[THREADS];
    stats s[THREADS] = {{0}};
    int n = 0, rc = 0;
    for (; n < THREADS && rc == 0; n++) {
        if ((rc = ct_thread_new(&t[n], stress, &s[n], NULL)) == 0 &&
            (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
    }
    n -= rc != 0;
    stats sum = {0};
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
        sum.hits += s[i].hits, sum.misses += s[i].misses;
        sum.checks += s[i].checks, sum.bad += s[i].bad;
    }
    sum.checks++;
    sum.bad += !lru_check(&cache);
    printf("%d threads x %ld operations, capacity %ld\n", THREADS, ops,
           capacity);
    printf("hits %ld, misses %ld, size at the end %zu\n", sum.hits, sum.misses,
           cache.size);
    printf("invariant checks: %ld, failed: %ld\n", sum.checks, sum.bad);
    lru_free(&cache);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", ct_strerror(rc));
    }
    return rc == 0 && sum.bad == 0 ? 0 : 1;
}
