// ct_queue (see queue.h and docs/queues.md). Three implementations behind
// one API:
//
// - The ring (FIFO, 1 <= maxsize <= CT_QUEUE_RING_MAX): a bounded MPMC
//   array queue with a stamp per slot (Vyukov's design, in the form of
//   crossbeam's ArrayQueue, which allows any capacity without a division).
//   A put claims the tail position with one CAS when the slot's stamp says
//   it is free, writes the item and publishes it by storing the next stamp;
//   a get does the same on the head. Sleepers announce themselves with a
//   WAITERS bit in the very word the other side CASes, so the fast path
//   learns "someone sleeps" from its own CAS, with no extra load or fence.
//
// - The segmented queue (unbounded FIFO and SimpleQueue): a linked list of
//   blocks of slots (crossbeam's SegQueue), lock-free as well; a put never
//   waits for space, and getters sleep as on the ring.
//
// - The locked queue (every other kind and size): a ct_lock around an
//   array (a growable circular buffer, a stack or a binary heap), with
//   Python's three conditions (not_empty, not_full, all_tasks_done) as
//   ct_conditions. This is CPython's queue.py, with the same order of
//   checks.
#include <cthreading/condition.h>
#include <cthreading/lock.h>
#include <cthreading/queue.h>

#include <stdlib.h>
#include <string.h>

#include "sync/atomic.h"
#include "sync/deadline.h"
#include "sync/parking_lot.h"
#include "sync/spin.h"

// ---- The words of the ring ---------------------------------------------
//
// head, tail: a position (bits 0-61) plus flags. A position is a lap and
// an index: pos = lap * one_lap + index, one_lap the power of two above
// cap, so the index is pos & (one_lap - 1) and stepping past the last
// index jumps to the next lap. A slot's stamp is the position that may
// use it next: stamp == pos means free for a put at pos; pos + 1 means
// full, holding the item put at pos; after the get it becomes
// pos + one_lap, the same slot's position one lap later.
//
//   word   bit 63     bit 62                     bits 0-61
//   tail   SHUTDOWN   WAITERS: getters sleep     next put position
//   head   -          WAITERS: putters sleep     next get position
//   done   -          WAITERS: joiners sleep     task_done count
//
// WAITERS is set by a thread about to sleep (under no lock, by CAS, so it
// fails if the word moved, and the sleeper looks again) and cleared by a
// waker that leaves nobody asleep (in the parking lot's callback, under
// the bucket lock that the sleepers' validation also takes). A put keeps
// the bit in its CAS; seeing it, the put wakes one getter after
// publishing the item. So each put wakes one sleeping getter and each get
// one sleeping putter, as Python's notify() does, and an operation nobody
// waits for never visits the parking lot.
//
// The number of puts ever made is count(tail): the unfinished tasks are
// count(tail) - done, so a put needs no second counter.

#define POS_MASK ((UINT64_C(1) << 62) - 1)
#define WAITERS (UINT64_C(1) << 62)
#define SHUTDOWN (UINT64_C(1) << 63)

typedef struct slot {
    uint64_t stamp;
    void *item;
} slot;

// The locked queue's element. seq orders ties in a priority queue.
typedef struct entry {
    void *item;
    uint64_t seq;
} entry;

enum { INITIAL_CAP = 16, SHRINK_MIN = 1024 };

// The segmented queue's block: BLOCK_CAP slots and the link to the next.
enum { LAP = 32, BLOCK_CAP = LAP - 1, SPARES = 8 };

typedef struct seg_slot {
    void *item;
    uint32_t state;
} seg_slot;

typedef struct seg_block {
    struct seg_block *next;
    seg_slot slots[BLOCK_CAP];
} seg_block;

typedef enum impl { LOCKED, RING, SEG } impl;

struct ct_queue {
    // Read-only after creation: shared by every thread, never written.
    int kind;
    impl impl;
    int64_t maxsize;
    ct_queue_item_free *item_free;
    void *item_free_arg;
    // The ring.
    slot *slots;
    uint64_t cap;
    uint64_t one_lap;
    unsigned lap_shift;
    // The locked queue.
    ct_queue_compare *compare;

    // Each written word on its own cache line (with the segmented
    // queue's block pointer that goes with it).
    _Alignas(64) uint64_t head;
    seg_block *head_block;
    uint64_t tail_seen; // the segmented queue's last tail read by a get
    _Alignas(64) uint64_t tail;
    seg_block *tail_block;
    _Alignas(64) uint64_t done;
    _Alignas(64) seg_block *spare[SPARES]; // freed blocks kept for reuse

    // The locked queue's state, all under `lock` (count, unfinished and
    // shutdown are also read without it, atomically, by the snapshots).
    _Alignas(64) ct_lock lock;
    ct_condition not_empty;
    ct_condition not_full;
    ct_condition all_done;
    entry *buf;
    size_t buf_cap;
    size_t first; // the FIFO's oldest entry
    size_t count;
    uint64_t seq;
    int64_t unfinished;
    uint32_t shutdown;
};

// ---- Creation -------------------------------------------------------------

static bool
valid_maxsize(int64_t maxsize)
{
    return maxsize <= CT_QUEUE_MAXSIZE_MAX;
}

static ct_queue *
alloc_queue(int kind, int64_t maxsize)
{
    size_t size = (sizeof(ct_queue) + 63) & ~(size_t)63;
    ct_queue *q = aligned_alloc(64, size);
    if (q == NULL) {
        return NULL;
    }
    memset(q, 0, size);
    q->kind = kind;
    q->maxsize = maxsize;
    ct_lock_init(&q->lock);
    (void)ct_condition_init(&q->not_empty, &q->lock);
    (void)ct_condition_init(&q->not_full, &q->lock);
    (void)ct_condition_init(&q->all_done, &q->lock);
    return q;
}

static int
ring_init(ct_queue *q, uint64_t cap)
{
    unsigned shift = 0;
    while ((UINT64_C(1) << shift) <= cap) {
        shift++;
    }
    q->slots = malloc(cap * sizeof(slot));
    if (q->slots == NULL) {
        return CT_ENOMEM;
    }
    for (uint64_t i = 0; i < cap; i++) {
        q->slots[i].stamp = i;
        q->slots[i].item = NULL;
    }
    q->impl = RING;
    q->cap = cap;
    q->lap_shift = shift;
    q->one_lap = UINT64_C(1) << shift;
    return 0;
}

static int
finish_new(ct_queue **out, ct_queue *q)
{
    if (q == NULL) {
        return CT_ENOMEM;
    }
    int rc = 0;
    if (q->kind == CT_QUEUE_FIFO && q->maxsize > 0 &&
        q->maxsize <= CT_QUEUE_RING_MAX) {
        rc = ring_init(q, (uint64_t)q->maxsize);
    } else if (q->maxsize <= 0 &&
               (q->kind == CT_QUEUE_FIFO || q->kind == CT_QUEUE_SIMPLE)) {
        q->head_block = q->tail_block = calloc(1, sizeof(seg_block));
        rc = q->head_block == NULL ? CT_ENOMEM : 0;
        q->impl = SEG;
    }
    if (rc != 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

int
ct_queue_new(ct_queue **q, int kind, int64_t maxsize)
{
    if (q == NULL) {
        return CT_EINVAL;
    }
    *q = NULL;
    if ((kind != CT_QUEUE_FIFO && kind != CT_QUEUE_LIFO &&
         kind != CT_QUEUE_SIMPLE) ||
        (kind == CT_QUEUE_SIMPLE && maxsize != 0) || !valid_maxsize(maxsize)) {
        return CT_EINVAL;
    }
    return finish_new(q, alloc_queue(kind, maxsize));
}

int
ct_priority_queue_new(ct_queue **q, int64_t maxsize, ct_queue_compare *compare)
{
    if (q == NULL) {
        return CT_EINVAL;
    }
    *q = NULL;
    if (compare == NULL || !valid_maxsize(maxsize)) {
        return CT_EINVAL;
    }
    ct_queue *nq = alloc_queue(CT_QUEUE_PRIORITY, maxsize);
    if (nq != NULL) {
        nq->compare = compare;
    }
    return finish_new(q, nq);
}

int
ct_queue_set_item_free(ct_queue *q, ct_queue_item_free *item_free, void *arg)
{
    if (q == NULL) {
        return CT_EINVAL;
    }
    q->item_free = item_free;
    q->item_free_arg = arg;
    return 0;
}

static void
drop_item(const ct_queue *q, void *item)
{
    if (q->item_free != NULL) {
        q->item_free(item, q->item_free_arg);
    }
}

// ---- The ring ---------------------------------------------------------------

// What a try reports besides 0 and CT_ESHUTDOWN.
enum {
    TRY_WAIT = 1, // full (put) or empty (get): the caller may sleep
    TRY_BUSY = 2, // a peer is mid-operation on the slot: back off, retry
};

static inline uint64_t
ring_next(const ct_queue *q, uint64_t pos)
{
    uint64_t index = pos & (q->one_lap - 1);
    return index + 1 < q->cap ? pos + 1
                              : (pos & ~(q->one_lap - 1)) + q->one_lap;
}

// The number of positions before `pos`: puts made when pos is the tail.
static inline uint64_t
ring_count(const ct_queue *q, uint64_t pos)
{
    return (pos >> q->lap_shift) * q->cap + (pos & (q->one_lap - 1));
}

// Clears WAITERS on `word` when the parking lot says nobody is left
// sleeping on it; runs under the bucket lock (as a waker's callback, or
// when a sleeper times out), so no sleeper can be mid-validation.
static void
clear_waiters_if_none(uint64_t *word, bool have_more)
{
    if (!have_more) {
        ct__fetch_and_seq_cst(word, ~WAITERS);
    }
}

static uintptr_t
woke_one(void *arg, ct__unpark_result r)
{
    clear_waiters_if_none(arg, r.have_more);
    return 0;
}

// Wakes the oldest thread sleeping on `word` (the parking lot's key is the
// word's address).
static void
wake_one(uint64_t *word)
{
    ct__unpark(word, 1, woke_one, word);
}

// Wakes every thread sleeping on `word`, to look again. WAITERS is cleared
// first, so a thread that is just setting it fails its CAS or its
// validation and looks again too; nobody sleeps on a stale bit.
static void
wake_all(uint64_t *word)
{
    ct__fetch_and_seq_cst(word, ~WAITERS);
    ct__unpark(word, SIZE_MAX, NULL, NULL);
}

static int
ring_try_put(ct_queue *q, void *item, uint64_t *seen)
{
    uint64_t t = ct__load_relaxed(&q->tail);
    for (;;) {
        if (t & SHUTDOWN) {
            return CT_ESHUTDOWN;
        }
        uint64_t pos = t & POS_MASK;
        slot *s = &q->slots[pos & (q->one_lap - 1)];
        // acquire: pairs with the get's release of the slot.
        uint64_t stamp = ct__load_acquire(&s->stamp);
        if (stamp == pos) {
            if (ct__cas_seq_cst(&q->tail, &t,
                                ring_next(q, pos) | (t & WAITERS))) {
                s->item = item;
                // release: the getter that sees the stamp sees the item.
                ct__store_release(&s->stamp, pos + 1);
                if (t & WAITERS) {
                    wake_one(&q->tail);
                }
                return 0;
            }
            continue; // the failed CAS reloaded t
        }
        if (stamp + q->one_lap == pos + 1) {
            // The slot still holds the item put one lap ago: the queue is
            // full, unless a getter has claimed that item and is about to
            // free the slot.
            uint64_t h = ct__load_seq_cst(&q->head);
            if ((h & POS_MASK) + q->one_lap == pos) {
                *seen = h;
                return TRY_WAIT;
            }
            return TRY_BUSY;
        }
        // Either another put took the position first (the tail moved:
        // look again) or the put one lap ago is still writing this slot
        // (the tail has not moved): wait for it, with backoff, like any
        // peer mid-operation.
        uint64_t now = ct__load_relaxed(&q->tail);
        if (now == t) {
            return TRY_BUSY;
        }
        t = now;
    }
}

static int
ring_try_get(ct_queue *q, void **item, uint64_t *seen)
{
    uint64_t h = ct__load_relaxed(&q->head);
    for (;;) {
        uint64_t pos = h & POS_MASK;
        slot *s = &q->slots[pos & (q->one_lap - 1)];
        // acquire: pairs with the put's release, so the item is visible.
        uint64_t stamp = ct__load_acquire(&s->stamp);
        if (stamp == pos + 1) {
            if (ct__cas_seq_cst(&q->head, &h,
                                ring_next(q, pos) | (h & WAITERS))) {
                *item = s->item;
                // release: our read of the item happens before the next
                // put writes the slot.
                ct__store_release(&s->stamp, pos + q->one_lap);
                if (h & WAITERS) {
                    wake_one(&q->head);
                }
                return 0;
            }
            continue;
        }
        if (stamp == pos) {
            // Nothing published at this position: the queue is empty,
            // unless a put has claimed it and is about to write.
            uint64_t t = ct__load_seq_cst(&q->tail);
            if ((t & POS_MASK) == pos) {
                *seen = t;
                return (t & SHUTDOWN) ? CT_ESHUTDOWN : TRY_WAIT;
            }
            return TRY_BUSY;
        }
        // As in the put: the head moved, or the get one lap ago is still
        // freeing this slot.
        uint64_t now = ct__load_relaxed(&q->head);
        if (now == h) {
            return TRY_BUSY;
        }
        h = now;
    }
}

// ---- The segmented queue ----------------------------------------------------
//
// Unbounded FIFO queues and SimpleQueue: a linked list of blocks of
// BLOCK_CAP slots (crossbeam's SegQueue). The tail word is the ring's (the
// same flags, the same sleeping getters); positions count in steps of 2,
// because bit 0 of the head word is HAS_NEXT: "the head block has a
// successor", so a get need not read the tail to know it is not empty.
// A position's offset in its block is (pos >> 1) % LAP; offset BLOCK_CAP
// means "the next block is being installed", and everyone waits that out.
//
//   slot state   set by                 meaning
//   WRITTEN      the put                the item is in the slot
//   READ         the get                the item has been taken
//   DESTROY      the block's destroyer  this slot's get, still at work,
//                                       must finish freeing the block
//
// A block is freed by the last of its readers: the get of its last slot
// starts, and hands the job to any earlier get still at work (DESTROY).
// No thread touches a freed block, and no hazard pointers are needed: a
// put or get dereferences a block only after its CAS on the index proved
// the block current, and the get that frees it comes after every such
// access. Freed blocks are kept in SPARES slots, so a queue in a steady
// state allocates nothing. "Lock-free" with crossbeam's caveat: a put that
// is preempted while installing the next block (or a get moving the head
// to it) holds up the others at that block boundary, who back off
// (ct__backoff) until it runs again.

#define HAS_NEXT UINT64_C(1)
#define SEG_STEP UINT64_C(2)
enum { WRITTEN = 1u, READ = 2u, DESTROY = 4u };

static inline uint64_t
seg_count(uint64_t pos)
{
    uint64_t i = pos / SEG_STEP;
    return i / LAP * BLOCK_CAP + i % LAP;
}

static seg_block *
block_new(ct_queue *q)
{
    // acq_rel: the spare's last user is done with it before we clear it.
    seg_block *b = NULL;
    for (int i = 0; i < SPARES && b == NULL; i++) {
        if (ct__load_relaxed(&q->spare[i]) != NULL) {
            b = ct__swap_acq_rel(&q->spare[i], NULL);
        }
    }
    if (b == NULL) {
        b = malloc(sizeof *b);
        if (b == NULL) {
            return NULL;
        }
    }
    memset(b, 0, sizeof *b);
    return b;
}

static void
block_retire(ct_queue *q, seg_block *b)
{
    for (int i = 0; i < SPARES; i++) {
        seg_block *none = NULL;
        if (ct__load_relaxed(&q->spare[i]) == NULL &&
            ct__cas_acq_rel(&q->spare[i], &none, b)) {
            return;
        }
    }
    free(b);
}

// Frees block `b` unless a get is still at work in one of the slots from
// `start` on; that get then continues from its own slot.
static void
block_destroy(ct_queue *q, seg_block *b, int start)
{
    // The last slot needs no mark: its get started the destruction.
    for (int i = start; i < BLOCK_CAP - 1; i++) {
        uint32_t *state = &b->slots[i].state;
        if (!(ct__load_acquire(state) & READ) &&
            !(ct__fetch_or_acq_rel(state, DESTROY) & READ)) {
            return;
        }
    }
    block_retire(q, b);
}

static int
seg_try_put(ct_queue *q, void *item)
{
    seg_block *next_block = NULL; // for the put that fills a block
    int rc;
    // acquire, index before block: the block read is at least as new as
    // the index (the installer stores the block first).
    uint64_t t = ct__load_acquire(&q->tail);
    seg_block *b = ct__load_acquire(&q->tail_block);
    for (;;) {
        if (t & SHUTDOWN) {
            rc = CT_ESHUTDOWN;
            break;
        }
        uint64_t pos = t & POS_MASK;
        uint64_t offset = pos / SEG_STEP % LAP;
        if (offset == BLOCK_CAP) {
            rc = TRY_BUSY; // another put is installing the next block
            break;
        }
        if (offset + 1 == BLOCK_CAP && next_block == NULL) {
            // Allocate before claiming, so a failure changes nothing.
            next_block = block_new(q);
            if (next_block == NULL) {
                rc = CT_ENOMEM;
                break;
            }
        }
        if (ct__cas_seq_cst(&q->tail, &t, (pos + SEG_STEP) | (t & WAITERS))) {
            if (offset + 1 == BLOCK_CAP) {
                // We took the block's last slot: install the next block,
                // then step the index past the BLOCK_CAP offset with an
                // add, which keeps the flags set meanwhile.
                ct__store_release(&q->tail_block, next_block);
                ct__fetch_add_seq_cst(&q->tail, SEG_STEP);
                ct__store_release(&b->next, next_block);
                next_block = NULL;
            }
            seg_slot *s = &b->slots[offset];
            s->item = item;
            // release: a get that sees WRITTEN sees the item. An OR, since
            // a destroyer may have marked the slot already.
            ct__fetch_or_release(&s->state, WRITTEN);
            if (t & WAITERS) {
                wake_one(&q->tail);
            }
            rc = 0;
            break;
        }
        b = ct__load_acquire(&q->tail_block);
    }
    if (next_block != NULL) {
        block_retire(q, next_block);
    }
    return rc;
}

static int
seg_try_get(ct_queue *q, void **item, uint64_t *seen)
{
    uint64_t h = ct__load_acquire(&q->head);
    seg_block *b = ct__load_acquire(&q->head_block);
    for (;;) {
        uint64_t offset = h / SEG_STEP % LAP;
        if (offset == BLOCK_CAP) {
            return TRY_BUSY; // another get is moving to the next block
        }
        uint64_t next = h + SEG_STEP;
        if (!(h & HAS_NEXT)) {
            // Read the tail only when the last one seen is not past us:
            // the tail's line is the puts' to write, and a get that read
            // it every time would steal it from them on every item.
            // acquire/release: whoever reads our head after our CAS must
            // also see a tail at least this far (the chain through
            // tail_seen replaces the tail read that the CAS now skips;
            // relaxed would let a weakly ordered CPU see head > tail).
            uint64_t tpos = ct__load_acquire(&q->tail_seen);
            if (h / SEG_STEP >= tpos) {
                uint64_t t = ct__load_seq_cst(&q->tail);
                tpos = (t & POS_MASK) / SEG_STEP;
                if (h / SEG_STEP == tpos) {
                    *seen = t;
                    return (t & SHUTDOWN) ? CT_ESHUTDOWN : TRY_WAIT;
                }
                ct__store_release(&q->tail_seen, tpos);
            }
            if (h / SEG_STEP / LAP != tpos / LAP) {
                next |= HAS_NEXT; // the tail is in a later block
            }
        }
        if (ct__cas_seq_cst(&q->head, &h, next)) {
            uint32_t backoff = 0;
            if (offset + 1 == BLOCK_CAP) {
                // We took the block's last slot: move the head to the next
                // block, which its installer links right after its CAS.
                seg_block *nb;
                while ((nb = ct__load_acquire(&b->next)) == NULL) {
                    ct__backoff(&backoff);
                }
                uint64_t index = (next & ~HAS_NEXT) + SEG_STEP;
                if (ct__load_acquire(&nb->next) != NULL) {
                    index |= HAS_NEXT;
                }
                ct__store_release(&q->head_block, nb);
                ct__store_release(&q->head, index);
            }
            seg_slot *s = &b->slots[offset];
            // The put claimed the slot before we could; wait for its item.
            while (!(ct__load_acquire(&s->state) & WRITTEN)) {
                ct__backoff(&backoff);
            }
            *item = s->item;
            if (offset + 1 == BLOCK_CAP) {
                block_destroy(q, b, 0);
            } else if (ct__fetch_or_acq_rel(&s->state, READ) & DESTROY) {
                block_destroy(q, b, (int)offset + 1);
            }
            return 0;
        }
        b = ct__load_acquire(&q->head_block);
    }
}

// ---- Both lock-free queues ------------------------------------------------

// The number of puts ever made, from a tail word.
static inline uint64_t
puts_count(const ct_queue *q, uint64_t tail)
{
    return q->impl == RING ? ring_count(q, tail & POS_MASK)
                           : seg_count(tail & POS_MASK);
}

static inline int
lf_try_put(ct_queue *q, void *item, uint64_t *seen)
{
    return q->impl == RING ? ring_try_put(q, item, seen) : seg_try_put(q, item);
}

static inline int
lf_try_get(ct_queue *q, void **item, uint64_t *seen)
{
    return q->impl == RING ? ring_try_get(q, item, seen)
                           : seg_try_get(q, item, seen);
}

// A sleeper's view: it sleeps only while `word` still reads `expect` (its
// own WAITERS bit included) and, for a putter, the queue is not shut down.
typedef struct sleep_check {
    uint64_t *word;
    uint64_t expect;
    const uint64_t *tail; // a putter's check of SHUTDOWN, or NULL
} sleep_check;

static bool
still_waiting(void *arg)
{
    const sleep_check *c = arg;
    return ct__load_seq_cst(c->word) == c->expect &&
           (c->tail == NULL || !(ct__load_seq_cst(c->tail) & SHUTDOWN));
}

static void
timed_out_waiter(void *arg, bool have_more)
{
    const sleep_check *c = arg;
    clear_waiters_if_none(c->word, have_more);
}

// Sets WAITERS in `word` if it still reads `seen` and sleeps on it until
// woken, the word changes, or the deadline. Returns false if the deadline
// passed (the caller tries once more, then gives up).
static bool
lf_sleep(ct_queue *q, uint64_t *word, uint64_t seen, ct__deadline deadline,
         bool putter)
{
    if (!(seen & WAITERS)) {
        uint64_t want = seen;
        if (!ct__cas_seq_cst(word, &want, seen | WAITERS)) {
            return true; // the word moved: look at the queue again
        }
    }
    sleep_check check = {word, seen | WAITERS, putter ? &q->tail : NULL};
    ct__park_args args = {
        .validate = still_waiting,
        .timed_out = timed_out_waiter,
        .arg = &check,
        .deadline = deadline,
    };
    return ct__park(word, &args, NULL) != CT_ETIMEDOUT;
}

static bool
time_left(ct__deadline deadline)
{
    return ct__deadline_remaining(deadline) > 0;
}

// One try of a put (out == NULL: put `item`) or a get (into *out).
static inline int
lf_try(ct_queue *q, void *item, void **out, uint64_t *seen)
{
    return out == NULL ? lf_try_put(q, item, seen) : lf_try_get(q, out, seen);
}

// The slow path of put and get. A wait goes through three stages: back
// off while a peer is mid-operation (that state always passes), spin while
// full or empty for a few microseconds (a peer on another CPU usually acts
// within that), then sleep with WAITERS set: a putter in the head word, a
// getter in the tail word.
static int
lf_slow(ct_queue *q, void *item, void **out, ct_duration timeout)
{
    ct__deadline deadline = ct__deadline_after(timeout);
    ct__spin spin = CT__SPIN_INIT;
    uint32_t backoff = 0;
    bool put = out == NULL;
    for (;;) {
        uint64_t seen = 0;
        int rc = lf_try(q, item, out, &seen);
        if (rc == TRY_BUSY) {
            ct__backoff(&backoff);
            continue;
        }
        if (rc != TRY_WAIT) {
            ct__spin_end(&spin);
            return rc;
        }
        backoff = 0; // each peer mid-operation gets a fresh backoff
        if (!time_left(deadline)) {
            ct__spin_end(&spin);
            return CT_ETIMEDOUT;
        }
        if (ct__spin_next(&spin)) {
            continue;
        }
        if (!lf_sleep(q, put ? &q->head : &q->tail, seen, deadline, put)) {
            // Out of time: one last look, so that a slot or an item that
            // came at the deadline is not wasted; then time_left() ends
            // the loop.
            deadline = ct__deadline_after(0);
        }
    }
}

// put (out == NULL) or get: the fast path, inline, then lf_slow.
static inline int
lf_op(ct_queue *q, void *item, void **out, ct_duration timeout)
{
    uint64_t seen = 0;
    int rc = lf_try(q, item, out, &seen);
    if (CT_LIKELY(rc <= 0)) {
        return rc;
    }
    if (rc == TRY_WAIT && timeout <= 0) {
        return CT_ETIMEDOUT;
    }
    return lf_slow(q, item, out, timeout);
}

static int64_t
lf_unfinished(const ct_queue *q)
{
    // done first: tail only grows, so a tail read later that equals it
    // proves the count was 0 when done was read.
    uint64_t d = ct__load_seq_cst(&q->done) & POS_MASK;
    return (int64_t)(puts_count(q, ct__load_seq_cst(&q->tail)) - d);
}

// Adds `n` (at most the unfinished count, so possibly fewer) to the done
// count; wakes the joiners if no task is left. Returns the number added.
static uint64_t
lf_add_done(ct_queue *q, uint64_t n)
{
    // acquire: the tail read below comes after the read of done, so it is
    // at least the tail that the last task_done saw (on a weakly ordered
    // CPU a relaxed load could be satisfied later, and then puts < done).
    uint64_t d = ct__load_acquire(&q->done);
    uint64_t add;
    do {
        uint64_t puts = puts_count(q, ct__load_seq_cst(&q->tail));
        uint64_t left = puts > (d & POS_MASK) ? puts - (d & POS_MASK) : 0;
        add = n < left ? n : left;
        if (add == 0) {
            return 0;
        }
    } while (!ct__cas_seq_cst(&q->done, &d, d + add));
    d += add;
    if ((d & WAITERS) &&
        puts_count(q, ct__load_seq_cst(&q->tail)) == (d & POS_MASK)) {
        wake_all(&q->done); // no task left: every joiner goes
    }
    return add;
}

static int
lf_join(ct_queue *q, ct_duration timeout)
{
    ct__deadline deadline = 0;
    bool timed = false;
    for (;;) {
        uint64_t d = ct__load_seq_cst(&q->done);
        if (puts_count(q, ct__load_seq_cst(&q->tail)) == (d & POS_MASK)) {
            return 0;
        }
        if (!timed) {
            if (timeout <= 0) {
                return CT_ETIMEDOUT;
            }
            deadline = ct__deadline_after(timeout);
            timed = true;
        } else if (!time_left(deadline)) {
            return CT_ETIMEDOUT;
        }
        if (!lf_sleep(q, &q->done, d, deadline, false)) {
            deadline = ct__deadline_after(0);
        }
    }
}

static void
lf_shutdown(ct_queue *q, bool immediate)
{
    ct__fetch_or_seq_cst(&q->tail, SHUTDOWN);
    if (immediate) {
        // No put can start now; the ones already past their CAS finish,
        // and a get waits for them (a peer mid-operation), so the drain of
        // CT_NOWAIT gets misses nothing.
        uint64_t dropped = 0;
        void *item;
        while (lf_op(q, NULL, &item, CT_NOWAIT) == 0) {
            drop_item(q, item);
            dropped++;
        }
        lf_add_done(q, dropped);
        // Joiners re-check: the count may have reached 0 just now, or
        // was 0 all along on a queue whose drain added nothing.
        wake_all(&q->done);
    }
    // Every sleeper looks again: putters fail, getters of an empty queue
    // fail.
    wake_all(&q->head);
    wake_all(&q->tail);
}

// ---- The locked queue ------------------------------------------------------

static bool
locked_full(const ct_queue *q)
{
    return q->maxsize > 0 && q->count >= (uint64_t)q->maxsize;
}

// Heap order: the compare function, then put order.
static bool
before(const ct_queue *q, const entry *a, const entry *b)
{
    int c = q->compare(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

// Moves the buffer to `cap` entries (>= count), the FIFO's oldest first.
static int
resize(ct_queue *q, size_t cap)
{
    entry *nb = malloc(cap * sizeof(entry));
    if (nb == NULL) {
        return CT_ENOMEM;
    }
    for (size_t i = 0; i < q->count; i++) {
        nb[i] = q->buf[(q->first + i) % q->buf_cap];
    }
    free(q->buf);
    q->buf = nb;
    q->buf_cap = cap;
    q->first = 0;
    return 0;
}

static int
push(ct_queue *q, void *item)
{
    if (q->count == q->buf_cap) {
        if (q->count >= (size_t)CT_QUEUE_MAXSIZE_MAX) {
            return CT_ENOMEM;
        }
        size_t cap = q->buf_cap == 0 ? INITIAL_CAP : q->buf_cap * 2;
        if (q->maxsize > 0 && cap > (size_t)q->maxsize) {
            cap = (size_t)q->maxsize;
        }
        int rc = resize(q, cap);
        if (rc != 0) {
            return rc;
        }
    }
    entry e = {item, q->seq++};
    if (q->kind == CT_QUEUE_PRIORITY) {
        size_t i = q->count;
        while (i > 0 && before(q, &e, &q->buf[(i - 1) / 2])) {
            q->buf[i] = q->buf[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        q->buf[i] = e;
    } else if (q->kind == CT_QUEUE_LIFO) {
        q->buf[q->count] = e;
    } else {
        q->buf[(q->first + q->count) % q->buf_cap] = e;
    }
    ct__store_relaxed(&q->count, q->count + 1);
    return 0;
}

static void *
pop(ct_queue *q)
{
    size_t n = q->count - 1;
    void *item;
    if (q->kind == CT_QUEUE_PRIORITY) {
        item = q->buf[0].item;
        entry last = q->buf[n];
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n) {
                break;
            }
            if (c + 1 < n && before(q, &q->buf[c + 1], &q->buf[c])) {
                c++;
            }
            if (!before(q, &q->buf[c], &last)) {
                break;
            }
            q->buf[i] = q->buf[c];
            i = c;
        }
        if (n > 0) {
            q->buf[i] = last;
        }
    } else if (q->kind == CT_QUEUE_LIFO) {
        item = q->buf[n].item;
    } else {
        item = q->buf[q->first].item;
        q->first = (q->first + 1) % q->buf_cap;
    }
    ct__store_relaxed(&q->count, n);
    // Give memory back after a burst, with hysteresis so that a steady
    // state never allocates.
    if (q->buf_cap > SHRINK_MIN && n < q->buf_cap / 8) {
        (void)resize(q, q->buf_cap / 2);
    }
    return item;
}

static void
lock_queue(ct_queue *q)
{
    // Cannot fail: no timeout, and the lock is valid.
    int rc = ct_lock_acquire(&q->lock, CT_FOREVER);
    (void)rc;
}

// The predicates of the three conditions, evaluated with the lock held.
static bool
put_may_go(void *arg)
{
    const ct_queue *q = arg;
    return q->shutdown || !locked_full(q);
}

static bool
get_may_go(void *arg)
{
    const ct_queue *q = arg;
    return q->shutdown || q->count > 0;
}

static bool
no_task_left(void *arg)
{
    const ct_queue *q = arg;
    return q->unfinished == 0;
}

static int
locked_put(ct_queue *q, void *item, ct_duration timeout)
{
    lock_queue(q);
    int rc = ct_condition_wait_for(&q->not_full, put_may_go, q, timeout);
    // Python's order: shut down first (even with space, and after every
    // wake-up), then full (the wait timed out).
    if (q->shutdown) {
        rc = CT_ESHUTDOWN;
    } else if (rc == 0) {
        rc = push(q, item);
    }
    if (rc == 0) {
        ct__store_relaxed(&q->unfinished, q->unfinished + 1);
        (void)ct_condition_notify(&q->not_empty, 1);
    }
    (void)ct_lock_release(&q->lock);
    return rc;
}

static int
locked_get(ct_queue *q, void **item, ct_duration timeout)
{
    lock_queue(q);
    // Items first: a queue shut down without `immediate` is drained.
    int rc = ct_condition_wait_for(&q->not_empty, get_may_go, q, timeout);
    if (rc == 0 && q->count == 0) {
        rc = CT_ESHUTDOWN;
    } else if (rc == 0) {
        *item = pop(q);
        (void)ct_condition_notify(&q->not_full, 1);
    }
    (void)ct_lock_release(&q->lock);
    return rc;
}

// ---- The API
// ------------------------------------------------------------------

int
ct_queue_put(ct_queue *q, void *item, ct_duration timeout)
{
    if (q == NULL) {
        return CT_EINVAL;
    }
    return q->impl != LOCKED ? lf_op(q, item, NULL, timeout)
                             : locked_put(q, item, timeout);
}

int
ct_queue_get(ct_queue *q, void **item, ct_duration timeout)
{
    if (q == NULL || item == NULL) {
        return CT_EINVAL;
    }
    return q->impl != LOCKED ? lf_op(q, NULL, item, timeout)
                             : locked_get(q, item, timeout);
}

int
ct_queue_put_nowait(ct_queue *q, void *item)
{
    return ct_queue_put(q, item, CT_NOWAIT);
}

int
ct_queue_get_nowait(ct_queue *q, void **item)
{
    return ct_queue_get(q, item, CT_NOWAIT);
}

int
ct_queue_task_done(ct_queue *q)
{
    if (q == NULL || q->kind == CT_QUEUE_SIMPLE) {
        return CT_EINVAL;
    }
    if (q->impl != LOCKED) {
        return lf_add_done(q, 1) == 1 ? 0 : CT_EOVERFLOW;
    }
    lock_queue(q);
    int rc = 0;
    if (q->unfinished <= 0) {
        rc = CT_EOVERFLOW;
    } else {
        ct__store_relaxed(&q->unfinished, q->unfinished - 1);
        if (q->unfinished == 0) {
            (void)ct_condition_notify_all(&q->all_done);
        }
    }
    (void)ct_lock_release(&q->lock);
    return rc;
}

int
ct_queue_join(ct_queue *q, ct_duration timeout)
{
    if (q == NULL || q->kind == CT_QUEUE_SIMPLE) {
        return CT_EINVAL;
    }
    if (q->impl != LOCKED) {
        return lf_join(q, timeout);
    }
    lock_queue(q);
    int rc = ct_condition_wait_for(&q->all_done, no_task_left, q, timeout);
    (void)ct_lock_release(&q->lock);
    return rc;
}

int64_t
ct_queue_unfinished_tasks(const ct_queue *q)
{
    if (q == NULL || q->kind == CT_QUEUE_SIMPLE) {
        return 0;
    }
    return q->impl != LOCKED ? lf_unfinished(q)
                             : ct__load_relaxed(&q->unfinished);
}

size_t
ct_queue_qsize(const ct_queue *q)
{
    if (q == NULL) {
        return 0;
    }
    if (q->impl == LOCKED) {
        return ct__load_relaxed(&q->count);
    }
    // head first: the tail read after it is at least as far, so the
    // difference is never negative; it can exceed cap if the reads are
    // far apart, hence the clamp.
    uint64_t h = puts_count(q, ct__load_seq_cst(&q->head));
    uint64_t t = puts_count(q, ct__load_seq_cst(&q->tail));
    uint64_t n = t > h ? t - h : 0;
    return (size_t)(q->impl == RING && n > q->cap ? q->cap : n);
}

bool
ct_queue_empty(const ct_queue *q)
{
    return ct_queue_qsize(q) == 0;
}

bool
ct_queue_full(const ct_queue *q)
{
    return q != NULL && q->maxsize > 0 &&
           ct_queue_qsize(q) >= (uint64_t)q->maxsize;
}

int64_t
ct_queue_maxsize(const ct_queue *q)
{
    return q == NULL ? 0 : q->maxsize;
}

int
ct_queue_shutdown(ct_queue *q, bool immediate)
{
    if (q == NULL || q->kind == CT_QUEUE_SIMPLE) {
        return CT_EINVAL;
    }
    if (q->impl != LOCKED) {
        lf_shutdown(q, immediate);
        return 0;
    }
    lock_queue(q);
    ct__store_relaxed(&q->shutdown, 1);
    if (immediate) {
        while (q->count > 0) {
            drop_item(q, pop(q));
            if (q->unfinished > 0) {
                ct__store_relaxed(&q->unfinished, q->unfinished - 1);
            }
        }
        (void)ct_condition_notify_all(&q->all_done);
    }
    (void)ct_condition_notify_all(&q->not_empty);
    (void)ct_condition_notify_all(&q->not_full);
    (void)ct_lock_release(&q->lock);
    return 0;
}

bool
ct_queue_is_shutdown(const ct_queue *q)
{
    if (q == NULL) {
        return false;
    }
    return q->impl != LOCKED ? (ct__load_seq_cst(&q->tail) & SHUTDOWN) != 0
                             : ct__load_relaxed(&q->shutdown) != 0;
}

void
ct_queue_free(ct_queue *q)
{
    if (q == NULL) {
        return;
    }
    if (q->impl == RING) {
        uint64_t h = q->head & POS_MASK;
        uint64_t t = q->tail & POS_MASK;
        for (uint64_t pos = h; pos != t; pos = ring_next(q, pos)) {
            drop_item(q, q->slots[pos & (q->one_lap - 1)].item);
        }
        free(q->slots);
    } else if (q->impl == SEG) {
        // Nobody is at work: every block before head_block is freed, and
        // the blocks from it on hold exactly the items from head to tail.
        uint64_t pos = (q->head & ~HAS_NEXT) / SEG_STEP;
        uint64_t end = (q->tail & POS_MASK) / SEG_STEP;
        seg_block *b = q->head_block;
        for (; pos != end; pos++) {
            if (pos % LAP == BLOCK_CAP) {
                seg_block *next = b->next;
                free(b);
                b = next;
            } else {
                drop_item(q, b->slots[pos % LAP].item);
            }
        }
        free(b);
        for (int i = 0; i < SPARES; i++) {
            free(q->spare[i]);
        }
    } else {
        for (size_t i = 0; i < q->count; i++) {
            drop_item(q, q->buf[(q->first + i) % q->buf_cap].item);
        }
        free(q->buf);
    }
    ct_condition_destroy(&q->not_empty);
    ct_condition_destroy(&q->not_full);
    ct_condition_destroy(&q->all_done);
    ct_lock_destroy(&q->lock);
    free(q);
}
