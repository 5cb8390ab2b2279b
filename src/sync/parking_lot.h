// The parking lot: one process-wide table of FIFO wait queues keyed by
// address. Every blocking primitive is a few bytes of atomic state plus
// calls into here, so that sleeping, timeouts, spinning and fairness are
// written once (the design of WebKit's ParkingLot, Rust's parking_lot and
// CPython 3.13's Python/parking_lot.c).
#ifndef CT_SYNC_PARKING_LOT_H
#define CT_SYNC_PARKING_LOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/deadline.h"

// What a waiter tells ct__park(). Every callback is optional (NULL).
typedef struct ct__park_args {
    // Runs under the bucket lock before the thread is queued; returning
    // false means "the state changed, do not sleep" (CT__PARK_INVALID).
    // This is the check that makes "test the word, then sleep" atomic
    // against an unparker, which takes the same bucket lock.
    bool (*validate)(void *arg);
    // Runs after the thread is queued and the bucket lock released, before
    // it sleeps: a condition variable releases its lock here, so a notify
    // that follows is sure to find the waiter.
    void (*before_sleep)(void *arg);
    // Runs under the bucket lock when the deadline passed and the waiter
    // took itself off the queue; `have_more` says whether other threads
    // still wait on the key (a lock clears its PARKED bit when not).
    void (*timed_out)(void *arg, bool have_more);
    // Runs under the bucket lock when the deadline passed while the thread
    // is still queued, before timed_out: returning a later deadline keeps
    // the thread asleep in its place in the queue until then (a GIL waiter
    // that asks for the GIL at each interval without losing its turn);
    // returning 0 lets it leave as usual.
    ct__deadline (*extend)(void *arg);
    void *arg;
    // Absolute deadline (CT__NO_DEADLINE: none).
    ct__deadline deadline;
    // Monotonic time after which an unparker should hand the resource to
    // this waiter directly (ct__unpark_result.be_fair); 0: never.
    int64_t fair_at;
    // Spin (see spin.h) on the wake-up before sleeping in the kernel.
    bool spin;
    // Queue ahead of the key's waiters that did not ask for this (behind
    // those that did, in their order) instead of at the back: the GIL's
    // I/O-priority policy serves a thread back from a blocking call first.
    bool front;
} ct__park_args;

enum {
    CT__PARK_UNPARKED = 0, // woken by ct__unpark (the token says more)
    CT__PARK_INVALID = 1,  // validate() returned false; nothing waited
    // CT_ETIMEDOUT: the deadline passed and the waiter left the queue
};

// Queues the calling thread on `key` (any address: the primitive's own)
// and sleeps until a ct__unpark() takes it off the queue or the deadline
// passes. Returns CT__PARK_UNPARKED with the unparker's token in *token (if
// token is not NULL), CT__PARK_INVALID, or CT_ETIMEDOUT. A waiter that is
// unparked while its deadline passes reports CT__PARK_UNPARKED: a wake-up is
// never lost, so notify(n) can promise to wake exactly n.
int ct__park(const void *key, const ct__park_args *args, uintptr_t *token);

typedef struct ct__unpark_result {
    size_t unparked; // threads taken off the queue by this call
    bool have_more;  // threads still queued on the key after this call
    bool be_fair;    // the first one unparked reached its fair_at
} ct__unpark_result;

// Called under the bucket lock with what ct__unpark() found, before any
// thread is woken; returns the token the woken threads receive. A lock uses
// it to set its word (clear PARKED, or keep LOCKED for a hand-off) while no
// waiter can come or go.
typedef uintptr_t ct__unpark_fn(void *arg, ct__unpark_result result);

// Takes up to `max` of the oldest threads queued on `key` off the queue and
// wakes them (after releasing the bucket lock). `callback` may be NULL
// (token 0). Returns the number woken. Any thread may call it.
size_t ct__unpark(const void *key, size_t max, ct__unpark_fn *callback,
                  void *arg);

// Registers the parking lot's fork() handler if not done yet. A layer whose
// own at-fork child handler parks or unparks calls this from its load-time
// constructor before registering that handler, so the parking lot is
// already reset when it runs.
void ct__parking_lot_fork_setup(void);

// Returns a non-zero identity of the calling thread, never reused within the
// process, and cheap (a thread-local load). RLock and condition owners.
uintptr_t ct__thread_id(void);
// Hands out a fresh identity for a thread about to start (so its creator
// knows it at once); the new thread adopts it before anything else, which
// must be before its first ct__thread_id().
uintptr_t ct__thread_id_new(void);
void ct__thread_id_adopt(uintptr_t id);

#endif
