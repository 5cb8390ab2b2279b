// Notify/set with nobody waiting, single thread: what an unconditional
// set(), notify() or release() costs when there is no one to wake. Ours
// should be a few atomic operations and no system call; the baselines
// include a bare system call and a FUTEX_WAKE to show what one costs.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // syscall()
#endif
#include "bench.h"

#include <linux/futex.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

static ct_event g_event;
static ct_lock g_lock;
static ct_condition g_cond;
static ct_semaphore g_csem;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_pcond = PTHREAD_COND_INITIALIZER;
static sem_t g_sem;
static atomic_uint g_futex;

static void
loop_event_set_clear(uint64_t n)
{
    ct_event_init(&g_event);
    for (uint64_t i = 0; i < n; i++) {
        ct_event_set(&g_event);
        ct_event_clear(&g_event);
    }
    ct_event_destroy(&g_event);
}

static void
loop_event_set_set(uint64_t n)
{
    ct_event_init(&g_event);
    ct_event_set(&g_event);
    for (uint64_t i = 0; i < n; i++) {
        ct_event_set(&g_event);
    }
    ct_event_destroy(&g_event);
}

static void
cond_begin(void)
{
    ct_lock_init(&g_lock);
    BENCH_CHECK(ct_condition_init(&g_cond, &g_lock));
    BENCH_CHECK(ct_lock_acquire(&g_lock, CT_FOREVER));
}

static void
cond_end(void)
{
    ct_lock_release(&g_lock);
    ct_condition_destroy(&g_cond);
    ct_lock_destroy(&g_lock);
}

static void
loop_cond_notify(uint64_t n)
{
    cond_begin();
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_condition_notify(&g_cond, 1));
    }
    cond_end();
}

static void
loop_cond_notify_all(uint64_t n)
{
    cond_begin();
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_condition_notify_all(&g_cond));
    }
    cond_end();
}

static void
loop_csem_release_acquire(uint64_t n)
{
    BENCH_CHECK(ct_semaphore_init(&g_csem, 0));
    for (uint64_t i = 0; i < n; i++) {
        BENCH_CHECK(ct_semaphore_release(&g_csem, 1));
        BENCH_CHECK(ct_semaphore_acquire(&g_csem, CT_FOREVER));
    }
    ct_semaphore_destroy(&g_csem);
}

static void
loop_pthread_cond_signal(uint64_t n)
{
    // Held, as a notifier would hold it; glibc's signal does not need it.
    pthread_mutex_lock(&g_mutex);
    for (uint64_t i = 0; i < n; i++) {
        pthread_cond_signal(&g_pcond);
    }
    pthread_mutex_unlock(&g_mutex);
}

static void
loop_pthread_cond_broadcast(uint64_t n)
{
    pthread_mutex_lock(&g_mutex);
    for (uint64_t i = 0; i < n; i++) {
        pthread_cond_broadcast(&g_pcond);
    }
    pthread_mutex_unlock(&g_mutex);
}

static void
loop_sem_post_wait(uint64_t n)
{
    BENCH_CHECK(sem_init(&g_sem, 0, 0));
    for (uint64_t i = 0; i < n; i++) {
        sem_post(&g_sem);
        sem_wait(&g_sem);
    }
    sem_destroy(&g_sem);
}

static void
loop_futex_wake(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        syscall(SYS_futex, &g_futex, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL,
                NULL, 0);
    }
}

static void
loop_syscall(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        syscall(SYS_getppid);
    }
}

#define NOTIFY(n, r, fn, nt)                                                   \
    {                                                                          \
        .section = BENCH_SEC_NOTIFY, .name = (n), .role = (r), .loop = (fn),   \
        .note = (nt)                                                           \
    }

const bench_case bench_notify_cases[] = {
    NOTIFY("ct_event_set_clear", BENCH_OURS, loop_event_set_clear,
           "per set+clear pair"),
    NOTIFY("ct_event_set_set", BENCH_OURS, loop_event_set_set,
           "set on a set event"),
    NOTIFY("ct_cond_notify", BENCH_OURS, loop_cond_notify,
           "notify(1), lock held"),
    NOTIFY("ct_cond_notify_all", BENCH_OURS, loop_cond_notify_all, "lock held"),
    NOTIFY("ct_sem_release_acquire", BENCH_OURS, loop_csem_release_acquire,
           "per release+acquire pair"),
    NOTIFY("pthread_cond_signal", BENCH_BASELINE, loop_pthread_cond_signal,
           "mutex held"),
    NOTIFY("pthread_cond_broadcast", BENCH_BASELINE,
           loop_pthread_cond_broadcast, "mutex held"),
    NOTIFY("sem_post_wait", BENCH_BASELINE, loop_sem_post_wait,
           "per post+wait pair"),
    NOTIFY("futex_wake", BENCH_FLOOR, loop_futex_wake,
           "FUTEX_WAKE, nobody waiting"),
    NOTIFY("syscall", BENCH_FLOOR, loop_syscall, "bare getppid()"),
    {0},
};
