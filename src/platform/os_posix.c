// Clock, sleep, yield and CPU count on POSIX systems (Linux included). The
// CPU count prefers the affinity mask where the OS has one, as Python 3.13's
// process_cpu_count() does.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cthreading/base.h>

#include "platform.h"

int64_t
ct__clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ct__os_sleep_ns(int64_t ns)
{
    if (ns <= 0) {
        return;
    }
    int64_t deadline = ct__clock_now_ns();
    deadline = ns > INT64_MAX - deadline ? INT64_MAX : deadline + ns;
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR) {
    }
}

void
ct__os_yield(void)
{
    sched_yield();
}

int
ct__os_cpu_count(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) {
            return n;
        }
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int
ct__os_cpu_online(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void
ct__os_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    if (pthread_atfork(prepare, parent, child) != 0) {
        ct__os_abort("pthread_atfork failed");
    }
}

int
ct__os_at_exit(void (*fn)(void))
{
    return atexit(fn) == 0 ? 0 : CT_ENOMEM;
}

_Noreturn void
ct__os_abort(const char *message)
{
    fprintf(stderr, "cthreading: fatal: %s\n", message);
    fflush(stderr);
    abort();
}
