// The parking lot (see parking_lot.h). A fixed table of buckets, each a
// word lock and a FIFO list of waiting threads; a thread's queue entry and
// parkers live in its thread-local storage, so parking never allocates.
#include "sync/parking_lot.h"

#include <cthreading/base.h>
#include <cthreading/rlock.h>

#include "platform/platform.h"
#include "sync/atomic.h"
#include "sync/spin.h"

// A thread's parking record, in thread-local storage. The queue fields
// (key, next, queued, token, fair_at, front) belong to the bucket lock of
// `key` while the thread is queued.
typedef struct waiter {
    ct__parker parker;   // for ct__park()
    ct__parker lockwait; // for waiting on a bucket lock (never the same wait)
    const void *key;
    struct waiter *next;
    uintptr_t token;
    int64_t fair_at;
    bool queued;
    bool front; // queued ahead of the key's other waiters (ct__park_args)
    bool ready;
} waiter;

// The bucket lock is a word lock: bit 0 is LOCKED and the other bits point
// at a stack of lock_waiter records of threads sleeping for it.
//
//   word        meaning
//   0           unlocked, nobody sleeping
//   1           locked, nobody sleeping
//   p | 1       locked, p the most recent sleeper (p->next the one before)
//   p           unlocked, sleepers left (a woken one is retrying)
//
// Only the holder pops, so the stack has no ABA problem. Sections under it
// are a few dozen instructions, so a short PAUSE spin precedes sleeping.
typedef struct lock_waiter {
    struct lock_waiter *next;
    ct__parker *parker;
} lock_waiter;

typedef struct bucket {
    _Alignas(64) uintptr_t lock;
    waiter *head;
    waiter *tail;
    // Under the bucket lock: no fair hand-off before fair_next (see
    // ct__unpark), drawn with the generator state fair_rng.
    int64_t fair_next;
    uint32_t fair_rng;
} bucket;

#define BUCKET_BITS 9
static bucket buckets[1u << BUCKET_BITS];

static _Thread_local waiter self;

// Thread identities are numbered from 1 in order of first use and never
// reused, so an rlock left locked by a thread that exited cannot be taken
// for its own by a later thread at the same address. initial-exec TLS keeps
// the lookup to a couple of instructions even in the shared library.
// Declared in cthreading/rlock.h for the inline rlock fast paths.
__thread uintptr_t ct__thread_ident;
static uintptr_t last_identity;

uintptr_t
ct__thread_id_new(void)
{
    return ct__fetch_add_relaxed(&last_identity, 1) + 1;
}

void
ct__thread_id_adopt(uintptr_t id)
{
    ct__thread_ident = id;
}

uintptr_t
ct__thread_id(void)
{
    uintptr_t id = ct__thread_ident;
    if (CT_UNLIKELY(id == 0)) {
        id = ct__thread_id_new();
        ct__thread_ident = id;
    }
    return id;
}

// In a child of fork() only the forking thread exists: every other
// thread's queue entry is gone, and a bucket lock that another thread held
// at the fork would stay held forever. The forking thread itself is in no
// queue (it was running fork()), so emptying the whole table is exact.
// Spin slots held by vanished threads are returned too.
static void
after_fork_child(void)
{
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
        buckets[i].lock = 0;
        buckets[i].head = NULL;
        buckets[i].tail = NULL;
    }
    ct__spin_after_fork();
}

// Registers the fork handler when the library is loaded, before any thread
// of the program can park. Child handlers run in the order registered, and
// the layers above (the thread registry, ct_local) need a working parking
// lot in theirs: their constructors call this first, so whichever
// constructor runs first, the parking lot's handler comes first. Load-time
// constructors run on one thread, so a plain flag suffices.
void
ct__parking_lot_fork_setup(void)
{
    static bool registered;
    if (!registered) {
        registered = true;
        ct__os_at_fork(NULL, NULL, after_fork_child);
    }
}

__attribute__((constructor)) static void
register_fork_handler(void)
{
    ct__parking_lot_fork_setup();
}

static waiter *
self_waiter(void)
{
    waiter *w = &self;
    if (!w->ready) {
        ct__parker_init(&w->parker);
        ct__parker_init(&w->lockwait);
        w->ready = true;
    }
    return w;
}

static bucket *
bucket_for(const void *key)
{
    // Fibonacci hashing: the multiply spreads neighbouring addresses, the
    // top bits index the table.
    uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return &buckets[h >> (64 - BUCKET_BITS)];
}

static void
bucket_lock_slow(bucket *b)
{
    unsigned spins = 0;
    ct__parker *parker = NULL;
    for (;;) {
        uintptr_t v = ct__load_relaxed(&b->lock);
        if (!(v & 1)) {
            if (ct__cas_acquire(&b->lock, &v, v | 1)) {
                return;
            }
            continue;
        }
        if (spins < 64) {
            spins++;
            ct__cpu_relax();
            continue;
        }
        if (parker == NULL) {
            parker = &self_waiter()->lockwait;
        }
        lock_waiter lw = {(lock_waiter *)(v & ~(uintptr_t)1), parker};
        ct__parker_prepare(parker);
        // release: publishes lw.next and the armed parker to the popper.
        if (ct__cas_release(&b->lock, &v, (uintptr_t)&lw | 1)) {
            ct__parker_park(parker, CT__NO_DEADLINE);
            spins = 0;
        }
    }
}

static inline void
bucket_lock(bucket *b)
{
    uintptr_t v = 0;
    if (!ct__cas_acquire(&b->lock, &v, 1)) {
        bucket_lock_slow(b);
    }
}

static void
bucket_unlock(bucket *b)
{
    uintptr_t v = 1;
    if (ct__cas_release(&b->lock, &v, 0)) {
        return;
    }
    // v is p | 1 with p the top sleeper. acquire: pairs with the push's
    // release, so p->next is visible. Pop it and unlock in one step.
    v = ct__load_acquire(&b->lock);
    for (;;) {
        lock_waiter *top = (lock_waiter *)(v & ~(uintptr_t)1);
        ct__parker *parker = top->parker;
        if (ct__cas_acq_rel(&b->lock, &v, (uintptr_t)top->next)) {
            ct__parker_unpark(parker);
            return;
        }
    }
}

// Takes `w` out of b's queue, `prev` being the entry before it (NULL at the
// head). Called with the bucket locked.
static void
unlink_after(bucket *b, waiter *prev, waiter *w)
{
    if (prev == NULL) {
        b->head = w->next;
    } else {
        prev->next = w->next;
    }
    if (b->tail == w) {
        b->tail = prev;
    }
}

// Removes `w` (queued in `b`) and returns whether another thread still
// waits on the same key. Called with the bucket locked.
static bool
dequeue(bucket *b, waiter *w)
{
    waiter *prev = NULL;
    bool more = false;
    for (waiter *it = b->head; it != NULL; it = it->next) {
        if (it == w) {
            waiter *next = w->next;
            unlink_after(b, prev, w);
            for (waiter *rest = next; rest != NULL && !more;
                 rest = rest->next) {
                more = rest->key == w->key;
            }
            w->queued = false;
            return more;
        }
        more = more || it->key == w->key;
        prev = it;
    }
    ct__os_abort("parking lot: waiter missing from its queue");
}

int
ct__park(const void *key, const ct__park_args *args, uintptr_t *token)
{
    waiter *w = self_waiter();
    bucket *b = bucket_for(key);

    bucket_lock(b);
    if (args->validate != NULL && !args->validate(args->arg)) {
        bucket_unlock(b);
        return CT__PARK_INVALID;
    }
    w->key = key;
    w->next = NULL;
    w->token = 0;
    w->fair_at = args->fair_at;
    w->queued = true;
    w->front = args->front;
    ct__parker_prepare(&w->parker);
    if (w->front) {
        // Before the key's first waiter that is not in front: front
        // waiters keep their own arrival order (a walk, but only for them).
        waiter *prev = NULL, *it = b->head;
        while (it != NULL && !(it->key == key && !it->front)) {
            prev = it;
            it = it->next;
        }
        w->next = it;
        if (prev == NULL) {
            b->head = w;
        } else {
            prev->next = w;
        }
        if (it == NULL) {
            b->tail = w;
        }
    } else {
        if (b->tail == NULL) {
            b->head = w;
        } else {
            b->tail->next = w;
        }
        b->tail = w;
    }
    bucket_unlock(b);

    if (args->before_sleep != NULL) {
        args->before_sleep(args->arg);
    }

    int rc = CT_ETIMEDOUT;
    if (args->spin) {
        ct__spin spin = CT__SPIN_INIT;
        while (ct__spin_next(&spin)) {
            if (ct__parker_poll(&w->parker)) {
                ct__spin_end(&spin);
                rc = 0;
                break;
            }
        }
    }
    if (rc != 0) {
        rc = ct__parker_park(&w->parker, args->deadline);
    }
    while (rc == CT_ETIMEDOUT && args->extend != NULL) {
        // The parker is armed again after a timeout: sleeping on is safe.
        bucket_lock(b);
        ct__deadline later = w->queued ? args->extend(args->arg) : 0;
        bucket_unlock(b);
        if (later == 0) {
            break;
        }
        rc = ct__parker_park(&w->parker, later);
    }
    if (rc == CT_ETIMEDOUT) {
        bucket_lock(b);
        if (w->queued) {
            bool more = dequeue(b, w);
            if (args->timed_out != NULL) {
                args->timed_out(args->arg, more);
            }
            bucket_unlock(b);
            return CT_ETIMEDOUT;
        }
        bucket_unlock(b);
        // An unparker took us off the queue before we could: its unpark is
        // on its way. Wait for it so that the wake-up is not lost and the
        // parker is idle before its next use.
        ct__parker_park(&w->parker, CT__NO_DEADLINE);
    }
    if (token != NULL) {
        // The unparker wrote the token before its unpark (release), and
        // park/poll returned with acquire order.
        *token = w->token;
    }
    return CT__PARK_UNPARKED;
}

size_t
ct__unpark(const void *key, size_t max, ct__unpark_fn *callback, void *arg)
{
    bucket *b = bucket_for(key);
    waiter *woken = NULL, **woken_tail = &woken;
    ct__unpark_result r = {0, false, false};

    bucket_lock(b);
    waiter *prev = NULL;
    for (waiter *it = b->head; it != NULL;) {
        waiter *next = it->next;
        if (it->key != key) {
            prev = it;
        } else if (r.unparked == max) {
            r.have_more = true;
            break;
        } else {
            unlink_after(b, prev, it);
            it->queued = false;
            it->next = NULL;
            *woken_tail = it;
            woken_tail = &it->next;
            r.unparked++;
        }
        it = next;
    }
    if (woken != NULL && woken->fair_at != 0) {
        // A waiter past its fair_at gets the hand-off, but at most one
        // such hand-off per bucket every 0.5 ms on average (a random
        // 0-1 ms apart, as Rust's parking_lot does): a hand-off to a
        // sleeping thread makes everyone wait for its wake-up, and with
        // many old waiters every release would be one: a convoy (1024
        // threads on 2 CPUs took 10 us per ct_lock increment, not 50 ns).
        int64_t now = ct__clock_now_ns();
        if (now >= woken->fair_at && now >= b->fair_next) {
            r.be_fair = true;
            b->fair_rng = b->fair_rng * 1103515245u + 12345u;
            b->fair_next = now + (int64_t)((b->fair_rng >> 8) % 1000000u);
        }
    }
    uintptr_t token = callback != NULL ? callback(arg, r) : 0;
    for (waiter *it = woken; it != NULL; it = it->next) {
        it->token = token;
    }
    bucket_unlock(b);

    // Wake outside the bucket lock, so a woken thread never blocks on it
    // straight away. Read `next` first: after its unpark a waiter may
    // return and reuse its record.
    while (woken != NULL) {
        waiter *next = woken->next;
        ct__parker_unpark(&woken->parker);
        woken = next;
    }
    return r.unparked;
}
