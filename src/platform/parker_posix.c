// The portable parker: a mutex, a condition variable on CLOCK_MONOTONIC and
// a flag. Slower than a futex but correct on any POSIX system; the Makefile
// picks it with PLATFORM=posix.
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <cthreading/base.h>

#include "platform.h"

typedef struct posix_parker {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    _Atomic int notified;
} posix_parker;

_Static_assert(sizeof(posix_parker) <= sizeof(ct__parker), "parker size");

static inline posix_parker *
pp(const ct__parker *p)
{
    return (posix_parker *)(uintptr_t)p->opaque;
}

static void
check(int rc, const char *what)
{
    if (rc != 0) {
        ct__os_abort(what);
    }
}

void
ct__parker_init(ct__parker *p)
{
    posix_parker *k = pp(p);
    pthread_condattr_t attr;
    check(pthread_mutex_init(&k->mutex, NULL), "pthread_mutex_init failed");
    check(pthread_condattr_init(&attr), "pthread_condattr_init failed");
    check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC),
          "pthread_condattr_setclock failed");
    check(pthread_cond_init(&k->cond, &attr), "pthread_cond_init failed");
    pthread_condattr_destroy(&attr);
    atomic_init(&k->notified, 1);
}

void
ct__parker_prepare(ct__parker *p)
{
    atomic_store_explicit(&pp(p)->notified, 0, memory_order_relaxed);
}

bool
ct__parker_poll(const ct__parker *p)
{
    posix_parker *k = pp(p);
    if (!atomic_load_explicit(&k->notified, memory_order_acquire)) {
        return false;
    }
    // The unparker sets the flag under the mutex and still signals and
    // unlocks after it: wait for that to finish, or our thread could exit
    // and recycle the parker's memory while the unparker is using it.
    check(pthread_mutex_lock(&k->mutex), "pthread_mutex_lock failed");
    check(pthread_mutex_unlock(&k->mutex), "pthread_mutex_unlock failed");
    return true;
}

int
ct__parker_park(ct__parker *p, int64_t deadline_ns)
{
    posix_parker *k = pp(p);
    int result = 0;
    struct timespec ts;
    if (deadline_ns != INT64_MAX) {
        if (deadline_ns < 0) {
            deadline_ns = 0;
        }
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
    }
    // The condition waits are cancellation points; a cancelled waiter would
    // leave its record in a parking-lot queue. Parking is never cancelled.
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    check(pthread_mutex_lock(&k->mutex), "pthread_mutex_lock failed");
    while (!atomic_load_explicit(&k->notified, memory_order_acquire)) {
        if (deadline_ns == INT64_MAX) {
            check(pthread_cond_wait(&k->cond, &k->mutex),
                  "pthread_cond_wait failed");
        } else {
            int rc = pthread_cond_timedwait(&k->cond, &k->mutex, &ts);
            if (rc == ETIMEDOUT) {
                if (!atomic_load_explicit(&k->notified, memory_order_acquire)) {
                    result = CT_ETIMEDOUT;
                }
                break;
            }
            if (rc != 0 && rc != EINTR) {
                ct__os_abort("pthread_cond_timedwait failed");
            }
        }
    }
    check(pthread_mutex_unlock(&k->mutex), "pthread_mutex_unlock failed");
    pthread_setcancelstate(cancel_state, NULL);
    return result;
}

void
ct__parker_unpark(ct__parker *p)
{
    posix_parker *k = pp(p);
    // The flag is set under the mutex so the owner cannot check it and go to
    // sleep between our store and our signal. The owner returns from park()
    // and from a true poll() only after taking the mutex, which we release
    // last, so the parker is still alive for the whole of this function.
    check(pthread_mutex_lock(&k->mutex), "pthread_mutex_lock failed");
    atomic_store_explicit(&k->notified, 1, memory_order_release);
    check(pthread_cond_signal(&k->cond), "pthread_cond_signal failed");
    check(pthread_mutex_unlock(&k->mutex), "pthread_mutex_unlock failed");
}
