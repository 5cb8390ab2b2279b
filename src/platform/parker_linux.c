// The Linux parker: one futex word per parker. FUTEX_WAIT_BITSET takes an
// absolute CLOCK_MONOTONIC deadline, so a timed park never re-computes a
// relative timeout across spurious wake-ups.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cthreading/base.h>

#include "platform.h"

// The futex word:
//   EMPTY    armed, the owner is not asleep: unpark needs no system call
//   NOTIFIED unparked
//   SLEEPING armed, the owner is (about to be) in futex_wait: unpark wakes it
enum { EMPTY = 0, NOTIFIED = 1, SLEEPING = 2 };

typedef struct linux_parker {
    _Atomic uint32_t word;
} linux_parker;

_Static_assert(sizeof(linux_parker) <= sizeof(ct__parker), "parker size");

static inline linux_parker *
lp(const ct__parker *p)
{
    return (linux_parker *)(uintptr_t)p->opaque;
}

void
ct__parker_init(ct__parker *p)
{
    atomic_init(&lp(p)->word, NOTIFIED);
}

void
ct__parker_prepare(ct__parker *p)
{
    // relaxed: the queue insertion that publishes the parker (under the
    // bucket lock) orders this store before any unparker's exchange.
    atomic_store_explicit(&lp(p)->word, EMPTY, memory_order_relaxed);
}

bool
ct__parker_poll(const ct__parker *p)
{
    // acquire: pairs with the release exchange in ct__parker_unpark().
    return atomic_load_explicit(&lp(p)->word, memory_order_acquire) == NOTIFIED;
}

int
ct__parker_park(ct__parker *p, int64_t deadline_ns)
{
    linux_parker *k = lp(p);
    uint32_t v = EMPTY;
    if (!atomic_compare_exchange_strong_explicit(&k->word, &v, SLEEPING,
                                                 memory_order_acquire,
                                                 memory_order_acquire)) {
        if (v == NOTIFIED) {
            return 0;
        }
    }
    struct timespec ts, *tsp = NULL;
    // A deadline past what time_t holds (32-bit time_t) is no deadline.
    if (deadline_ns != INT64_MAX &&
        (sizeof(time_t) >= 8 || deadline_ns / 1000000000 <= INT32_MAX)) {
        if (deadline_ns < 0) {
            deadline_ns = 0;
        }
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tsp = &ts;
    }
    for (;;) {
        long r =
            syscall(SYS_futex, &k->word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                    SLEEPING, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
        if (atomic_load_explicit(&k->word, memory_order_acquire) == NOTIFIED) {
            return 0;
        }
        if (r == -1 && errno == ETIMEDOUT) {
            // Back to EMPTY so that a late unpark skips the system call;
            // if the unpark won the race the word is NOTIFIED: take it.
            v = SLEEPING;
            if (!atomic_compare_exchange_strong_explicit(
                    &k->word, &v, EMPTY, memory_order_acquire,
                    memory_order_acquire)) {
                return 0;
            }
            return CT_ETIMEDOUT;
        }
        if (r == -1 && errno != EAGAIN && errno != EINTR) {
            // EFAULT, EINVAL, ENOSYS: looping would spin forever.
            ct__os_abort("futex wait failed");
        }
        // 0 (woken), EAGAIN (word changed), EINTR: check again.
    }
}

void
ct__parker_unpark(ct__parker *p)
{
    linux_parker *k = lp(p);
    // release: pairs with the acquire in park() and poll().
    uint32_t old =
        atomic_exchange_explicit(&k->word, NOTIFIED, memory_order_release);
    if (old == SLEEPING) {
        // The owner may already be gone (it saw NOTIFIED after a spurious
        // wake-up); waking a dead or recycled futex word is harmless.
        syscall(SYS_futex, &k->word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL,
                NULL, 0);
    }
}
