// ct_queue: Python's queue module (Queue, LifoQueue, PriorityQueue and
// SimpleQueue, with Python 3.13's shutdown) for `void *` items.
//
// A bounded FIFO queue (maxsize 1 .. CT_QUEUE_RING_MAX) is a lock-free ring
// with a sequence number per slot, an unbounded FIFO queue or SimpleQueue a
// lock-free list of blocks: a put or get that need not wait is a few atomic
// operations, takes no lock and makes no system call. LIFO, priority and
// very large bounded queues are a short lock around an array (a stack, a
// binary heap or a growable ring). Blocked callers sleep in the parking lot,
// like every other primitive, after a brief spin, and are woken only when they
// sleep. See docs/queues.md.
#ifndef CTHREADING_QUEUE_H
#define CTHREADING_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_queue ct_queue;

// Kinds for ct_queue_new (one of them; they are not flags).
#define CT_QUEUE_FIFO 0     // queue.Queue: first in, first out
#define CT_QUEUE_LIFO 1     // queue.LifoQueue: last in, first out
#define CT_QUEUE_SIMPLE 2   // queue.SimpleQueue: unbounded FIFO, no tasks
#define CT_QUEUE_PRIORITY 3 // queue.PriorityQueue (ct_priority_queue_new)

// The largest maxsize served by the lock-free ring, whose slots are all
// allocated at creation (16 bytes each). A larger bounded queue is a locked
// array that grows as items arrive, up to maxsize.
#define CT_QUEUE_RING_MAX ((int64_t)1 << 20)
// The largest maxsize accepted (larger: CT_EINVAL); also the most items an
// unbounded LIFO or priority queue holds (a put beyond it fails with
// CT_ENOMEM). An unbounded FIFO queue is limited by memory alone.
#define CT_QUEUE_MAXSIZE_MAX ((int64_t)1 << 40)

// Orders a priority queue: receives two items (the pointers themselves, not
// pointers to them, unlike qsort) and returns < 0 when `a` comes out first,
// 0 when they tie, > 0 when `b` comes first. Ties come out in the order
// they were put (first in, first out), unlike Python's heap, which leaves
// them unordered. It runs with the queue's internal lock held: it must not
// call into the same queue.
typedef int ct_queue_compare(const void *a, const void *b);

// Disposes of an item that the queue drops: an immediate shutdown's drain,
// and ct_queue_free of a queue that still holds items.
typedef void ct_queue_item_free(void *item, void *arg);

// Creates a queue of `kind` (CT_QUEUE_FIFO, CT_QUEUE_LIFO or
// CT_QUEUE_SIMPLE) into *q. maxsize <= 0 means unbounded, as in Python;
// SIMPLE takes only 0. Returns 0, CT_EINVAL (q NULL, an unknown kind,
// CT_QUEUE_PRIORITY (use ct_priority_queue_new), maxsize above
// CT_QUEUE_MAXSIZE_MAX, SIMPLE with maxsize != 0) or CT_ENOMEM; *q is NULL
// after an error.
CT_API CT_NODISCARD int ct_queue_new(ct_queue **q, int kind, int64_t maxsize);
// Creates a priority queue: get returns the smallest item by `compare`,
// ties in put order. Returns 0, CT_EINVAL (q or compare NULL, maxsize above
// CT_QUEUE_MAXSIZE_MAX) or CT_ENOMEM.
CT_API CT_NODISCARD int ct_priority_queue_new(ct_queue **q, int64_t maxsize,
                                              ct_queue_compare *compare);
// Frees the queue. Items still queued go to the item_free function if one
// was set, and are otherwise left to the caller (the queue only held their
// pointers). Nobody may be using the queue, or blocked in it. NULL is a
// no-op.
CT_API void ct_queue_free(ct_queue *q);
// Sets the function that disposes of dropped items (NULL: none, the
// default). Call it before other threads use the queue. Returns 0 or
// CT_EINVAL for a NULL queue.
CT_API int ct_queue_set_item_free(ct_queue *q, ct_queue_item_free *item_free,
                                  void *arg);

// Puts `item` (any pointer, NULL included), waiting up to `timeout` for a
// free slot of a bounded queue; an unbounded queue never waits. Checks in
// Python's order: shut down, then full. Returns 0, CT_ESHUTDOWN (the queue
// is shut down, also when a blocked put is woken by the shutdown),
// CT_ETIMEDOUT (still full: queue.Full), CT_ENOMEM (an unbounded queue could
// not grow; nothing changed) or CT_EINVAL (NULL queue). On every error the
// caller keeps the item. A negative timeout polls, like CT_NOWAIT (Python
// raises ValueError). On Queue, LifoQueue and PriorityQueue a put adds one
// unfinished task.
CT_API int ct_queue_put(ct_queue *q, void *item, ct_duration timeout);
// Takes the next item into *item, waiting up to `timeout` for one. Returns
// 0, CT_ESHUTDOWN (shut down and empty; queued items are still returned
// after a non-immediate shutdown), CT_ETIMEDOUT (still empty: queue.Empty)
// or CT_EINVAL (q or item NULL). *item is left alone on an error.
CT_API int ct_queue_get(ct_queue *q, void **item, ct_duration timeout);
// ct_queue_put(q, item, CT_NOWAIT) and ct_queue_get(q, item, CT_NOWAIT).
CT_API int ct_queue_put_nowait(ct_queue *q, void *item);
CT_API int ct_queue_get_nowait(ct_queue *q, void **item);

// Marks one task finished: one earlier put's item is fully processed. When
// no task is left unfinished, every ct_queue_join returns. Returns 0,
// CT_EOVERFLOW (called more times than items were put; the count stays at
// 0) or CT_EINVAL (NULL, or a SimpleQueue, which has no tasks).
CT_API int ct_queue_task_done(ct_queue *q);
// Waits up to `timeout` until every task put so far is done (at once if
// none is unfinished). Returns 0, CT_ETIMEDOUT, or CT_EINVAL (NULL or a
// SimpleQueue). Any number of threads may join at once.
CT_API int ct_queue_join(ct_queue *q, ct_duration timeout);
// Returns the number of unfinished tasks (0 for NULL or a SimpleQueue).
CT_API int64_t ct_queue_unfinished_tasks(const ct_queue *q);

// Snapshots, stale as soon as they return (as in Python): the number of
// queued items, qsize() == 0, and 0 < maxsize <= qsize(). NULL: 0, true,
// false.
CT_API size_t ct_queue_qsize(const ct_queue *q);
CT_API bool ct_queue_empty(const ct_queue *q);
CT_API bool ct_queue_full(const ct_queue *q);
// Returns maxsize as given at creation (<= 0: unbounded; 0 for NULL).
CT_API int64_t ct_queue_maxsize(const ct_queue *q);

// Shuts the queue down (Python 3.13 queue.shutdown). From then on every
// put fails with CT_ESHUTDOWN and blocked putters wake with it. Without
// `immediate`, gets go on returning the queued items and fail with
// CT_ESHUTDOWN once the queue is empty; blocked getters wake with it. With
// `immediate`, the queued items are dropped at once (given to the
// item_free function, if set), the unfinished-task count falls by the
// number dropped (never below 0), every blocked caller wakes, and joiners
// return once the tasks already taken are done. Allowed in any order and
// any number of times; a later non-immediate call after an immediate one
// changes nothing. To free the queued items yourself instead, shut down
// without `immediate` and get until CT_ESHUTDOWN. Returns 0, or CT_EINVAL
// (NULL, or a SimpleQueue, which Python gives no shutdown).
CT_API int ct_queue_shutdown(ct_queue *q, bool immediate);
// Returns whether ct_queue_shutdown was called (false for NULL).
CT_API bool ct_queue_is_shutdown(const ct_queue *q);

#ifdef __cplusplus
}
#endif
#endif
