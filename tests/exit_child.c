// A program for the exit tests of tests/test_thread.c: it starts threads in
// the way its one argument names, then ends main, and the test reads what
// reached stdout. Python's rules: non-daemon threads are joined when the
// process exits normally (their output appears), daemon threads are not.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cthreading.h>

static ct_event never = CT_EVENT_INIT;
static char worker_name[] = "worker", daemon_name[] = "daemon",
            inner_name[] = "inner";
static ct_event go = CT_EVENT_INIT;

// Waits until the main thread counts as finished (the exit handler marks it
// so), then prints: proof that it ran after main returned.
static int
after_main(void *arg)
{
    if (ct_thread_join(ct_main_thread(), CT_FOREVER) == 0) {
        printf("%s done\n", (const char *)arg);
    }
    return 0;
}

static int
blocked(void *arg)
{
    if (ct_event_wait(&never, CT_FOREVER) == 0) {
        printf("%s done\n", (const char *)arg);
    }
    return 0;
}

static int
starts_inner(void *arg)
{
    (void)arg;
    ct_thread *t = NULL;
    if (ct_thread_new(&t, after_main, inner_name, NULL) != 0 ||
        ct_thread_start(t) != 0) {
        return 1;
    }
    ct_thread_free(t);
    return 0;
}

static int
waits_for_go(void *arg)
{
    if (ct_event_wait(&go, CT_FOREVER) == 0) {
        printf("%s done\n", (const char *)arg);
    }
    return 0;
}

static int
calls_exit(void *arg)
{
    (void)arg;
    printf("exiting\n");
    (void)ct_event_set(&go);
    exit(3);
}

static ct_event in_shutdown_soon = CT_EVENT_INIT;

static int
calls_shutdown(void *arg)
{
    (void)arg;
    (void)ct_event_set(&in_shutdown_soon);
    int rc = ct_shutdown();
    printf("shutdown returned %d\n", rc);
    return 0;
}

static int
exits_after_go(void *arg)
{
    (void)arg;
    while (ct_event_wait(&in_shutdown_soon, CT_FOREVER) != 0) {
    }
    exit(0);
}

static int
start(ct_thread_fn *fn, void *arg, int daemon)
{
    ct_thread_opts opts = {.daemon = daemon};
    ct_thread *t = NULL;
    int rc = ct_thread_new(&t, fn, arg, &opts);
    if (rc == 0) {
        rc = ct_thread_start(t);
        ct_thread_free(t);
    }
    return rc;
}

static void
say_destroyed(void *value)
{
    printf("%s destroyed\n", (const char *)value);
}

static ct_local main_local = CT_LOCAL_INIT(say_destroyed);
static char main_value[] = "main's local";

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    int rc = 0;
    if (strcmp(mode, "non-daemon") == 0) {
        rc = start(after_main, worker_name, CT_DAEMON_NO);
    } else if (strcmp(mode, "nested") == 0) {
        rc = start(starts_inner, NULL, CT_DAEMON_NO);
    } else if (strcmp(mode, "local") == 0) {
        // The main thread's ct_local values are destroyed at exit, after
        // the join.
        rc = ct_local_set(&main_local, main_value);
        if (rc == 0) {
            rc = start(after_main, worker_name, CT_DAEMON_NO);
        }
    } else if (strcmp(mode, "exit-during-shutdown") == 0) {
        // exit() in one thread while another is inside ct_shutdown(): the
        // two must not wait for each other.
        rc = start(calls_shutdown, NULL, CT_DAEMON_NO);
        if (rc == 0) {
            rc = start(exits_after_go, NULL, CT_DAEMON_NO);
        }
        while (ct_event_wait(&never, CT_FOREVER) != 0) {
        }
    } else if (strcmp(mode, "daemon") == 0) {
        rc = start(blocked, daemon_name, CT_DAEMON_YES);
    } else if (strcmp(mode, "_exit") == 0) {
        rc = start(blocked, worker_name, CT_DAEMON_NO);
        printf("main returns\n");
        _exit(rc);
    } else if (strcmp(mode, "exit-in-thread") == 0) {
        // exit() from a thread joins the other non-daemon threads there.
        rc = start(waits_for_go, worker_name, CT_DAEMON_NO);
        if (rc == 0) {
            rc = start(calls_exit, NULL, CT_DAEMON_NO);
        }
        // The main thread waits for something that never comes.
        while (ct_event_wait(&never, CT_FOREVER) != 0) {
        }
    } else {
        fprintf(stderr, "exit_child: unknown mode '%s'\n", mode);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "exit_child: %s\n", ct_strerror(rc));
        return 1;
    }
    printf("main returns\n");
    return 0;
}
