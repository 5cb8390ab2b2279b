// Lesson 6: a daemon monitor. A background thread prints a heartbeat every
// interval until the shutdown event is set. Waiting on the event with a
// timeout, rather than sleeping, lets it stop at once when asked. It is a
// daemon (the exit would not wait for it), yet a clean program still stops
// it and joins it, with a timeout, so a stuck monitor cannot hang the exit.
// Usage: lesson6_daemon_monitor [run ms [heartbeat ms]]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct monitor {
    ct_event shutdown;
    ct_duration interval;
    int beats; // read by main only after the join
} monitor;

static int
monitor_run(void *arg)
{
    monitor *m = arg;
    // Beat, then wait one interval: the wait returns 0 as soon as shutdown
    // is set and CT_ETIMEDOUT when it is time for the next beat.
    do {
        m->beats++;
        printf("heartbeat %d\n", m->beats);
        fflush(stdout);
    } while (ct_event_wait(&m->shutdown, m->interval) == CT_ETIMEDOUT);
    printf("monitor: shutdown seen, stopping\n");
    return 0;
}

int
main(int argc, char **argv)
{
    long run_ms = argc > 1 ? atol(argv[1]) : 1000;
    long beat_ms = argc > 2 ? atol(argv[2]) : 200;
    if (run_ms < 0 || beat_ms < 1) {
        fprintf(stderr, "usage: %s [run ms [heartbeat ms]]\n", argv[0]);
        return 2;
    }
    monitor m = {.shutdown = CT_EVENT_INIT, .interval = CT_MILLIS(beat_ms)};
    ct_thread_opts opts = {.name = "monitor", .daemon = CT_DAEMON_YES};
    ct_thread *t;
    int rc = ct_thread_new(&t, monitor_run, &m, &opts);
    if (rc != 0 || (rc = ct_thread_start(t)) != 0) {
        fprintf(stderr, "monitor: %s\n", ct_strerror(rc));
        return 1;
    }
    printf("main: working for %ld ms beside daemon '%s'\n", run_ms,
           ct_thread_name(t));
    ct_sleep(CT_MILLIS(run_ms)); // the program's real work goes here

    int64_t asked = ct_monotonic_ns();
    (void)ct_event_set(&m.shutdown);
    rc = ct_thread_join(t, CT_SECONDS(2));
    if (rc != 0) { // CT_ETIMEDOUT: being a daemon, it will not block exit
        printf("main: monitor did not stop: %s\n", ct_strerror(rc));
        return 1;
    }
    printf("main: monitor stopped after %d heartbeats, joined in %.1f ms\n",
           m.beats, (double)(ct_monotonic_ns() - asked) / 1e6);
    ct_thread_free(t);
    return 0;
}
