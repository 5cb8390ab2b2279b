// Lesson program 3: fetch 10 "URLs" with at most 3 downloads at a time.
// Each URL gets its own thread, and a ct_semaphore of 3 admits three into
// the download at once: Python's `with semaphore:` around requests.get().
// The pages come from a small HTTP server on 127.0.0.1 that this program
// starts itself; it answers each request after a delay, like the web.
//   usage: lesson3_semaphore_fetch [urls [delay ms]]
#include <cthreading.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "loopback_http.h"

#define MAX_URLS 32
#define LIMIT 3

static http_server server;
static ct_semaphore slots = CT_SEMAPHORE_INIT(LIMIT);
static ct_lock print_lock = CT_LOCK_INIT; // one log line at a time
static atomic_int inside, max_inside;     // downloads now, and at most
static atomic_int fetched;

static int
fetch(void *arg)
{
    const char *url = arg;
    const char *me = ct_thread_name(ct_current_thread());
    // Wait for a slot, but not forever: a stuck download elsewhere should
    // show up as an error, not a hang.
    int rc = ct_semaphore_acquire(&slots, CT_SECONDS(30));
    if (rc != 0) {
        fprintf(stderr, "%s: no slot for %s: %s\n", me, url, ct_strerror(rc));
        return rc;
    }
    int now = atomic_fetch_add(&inside, 1) + 1;
    for (int m = atomic_load(&max_inside);
         now > m && !atomic_compare_exchange_weak(&max_inside, &m, now);) {
    }
    CT_WITH_LOCK(&print_lock) {
        printf("%-20s fetching %-9s (%d of %d slots busy)\n", me, url, now,
               LIMIT);
    }
    char body[256];
    long len = http_get(server.port, url, body, sizeof body);
    if (len >= 0) {
        atomic_fetch_add(&fetched, 1);
        CT_WITH_LOCK(&print_lock) {
            printf("%-20s done     %-9s (%ld bytes)\n", me, url, len);
        }
    }
    atomic_fetch_sub(&inside, 1);
    (void)ct_semaphore_release(&slots, 1); // the slot goes to a waiter
    if (len < 0) {
        fprintf(stderr, "%s: %s failed\n", me, url);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int urls = argc > 1 ? atoi(argv[1]) : 10;
    int delay_ms = argc > 2 ? atoi(argv[2]) : 200;
    if (urls < 1 || urls > MAX_URLS || delay_ms < 0) {
        fprintf(stderr, "usage: %s [urls (1-%d) [delay ms]]\n", argv[0],
                MAX_URLS);
        return 2;
    }
    // More server threads than the limit, so the limit seen is our own.
    int rc = http_server_start(&server, 10, CT_MILLIS(delay_ms));
    if (rc != 0) {
        fprintf(stderr, "server: %s\n", ct_strerror(rc));
        http_server_stop(&server);
        return 1;
    }
    char url[MAX_URLS][24];
    ct_thread *t[MAX_URLS];
    int n = 0;
    int64_t t0 = ct_monotonic_ns();
    for (; n < urls && rc == 0; n++) {
        snprintf(url[n], sizeof url[n], "/page/%d", n + 1);
        if ((rc = ct_thread_new(&t[n], fetch, url[n], NULL)) == 0 &&
            (rc = ct_thread_start(t[n])) != 0) {
            ct_thread_free(t[n]);
        }
    }
    n -= rc != 0;
    for (int i = 0; i < n; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc;
        ct_thread_free(t[i]);
    }
    double secs = (double)(ct_monotonic_ns() - t0) / 1e9;
    http_server_stop(&server);
    printf("fetched %d of %d URLs in %.2f s (%d ms each, %d at a time)\n",
           atomic_load(&fetched), urls, secs, delay_ms, LIMIT);
    printf("max concurrent fetches: %d (limit %d)\n", atomic_load(&max_inside),
           LIMIT);
    printf("max concurrent requests at the server: %d\n",
           atomic_load(&server.max_active));
    return rc == 0 && atomic_load(&fetched) == urls ? 0 : 1;
}
