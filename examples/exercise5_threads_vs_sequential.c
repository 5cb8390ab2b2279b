// Exercise 5: threads against a sequential loop, for (a) I/O-bound work,
// downloading pages from a slow local server, and (b) CPU-bound work,
// SHA-256 of large buffers with OpenSSL's libcrypto. In Python threads
// speed up (a) only: the GIL lets one thread run Python at a time. C has
// no GIL, so here both speed up (b by up to the number of CPUs). Then (c)
// runs (b) again with each thread holding a ct_gil around its hash, as a
// Python thread holds the GIL: the speed-up is gone.
//   usage: exercise5_threads_vs_sequential [count [MB per buffer [delay ms]]]
#include <cthreading.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopback_http.h"

#define MAX_JOBS HTTP_MAX_WORKERS

typedef struct job {
    int index;
    const unsigned char *data; // (b), (c): the buffer to hash
    size_t len;
    unsigned char digest[32];
    int rc;
} job;

static http_server server;
static ct_gil *gil; // (c) only

static int
download(void *arg)
{
    job *j = arg;
    char path[32], body[256];
    snprintf(path, sizeof path, "/page/%d", j->index);
    j->rc = http_get(server.port, path, body, sizeof body) < 0 ? 1 : 0;
    return j->rc;
}

static int
hash(void *arg)
{
    job *j = arg;
    unsigned int len = 0;
    j->rc =
        EVP_Digest(j->data, j->len, j->digest, &len, EVP_sha256(), NULL) == 1 &&
                len == 32
            ? 0
            : 1;
    return j->rc;
}

// (c): the whole hash under the GIL, as Python code runs, never releasing
// it inside (hashlib would release it: the lesson is about Python code).
static int
hash_holding_gil(void *arg)
{
    if (ct_gil_acquire(gil) != 0) {
        return 1;
    }
    int rc = hash(arg);
    return ct_gil_release(gil) == 0 ? rc : 1;
}

// Runs fn on every job, one after another (threads == false) or each on a
// thread of its own; returns the seconds taken, or -1 on an error.
static double
run(ct_thread_fn *fn, job *jobs, int n, bool threads)
{
    ct_thread *t[MAX_JOBS];
    int started = 0, rc = 0;
    int64_t t0 = ct_monotonic_ns();
    for (int i = 0; i < n && rc == 0; i++) {
        if (!threads) {
            rc = fn(&jobs[i]);
        } else if ((rc = ct_thread_new(&t[i], fn, &jobs[i], NULL)) == 0) {
            if ((rc = ct_thread_start(t[i])) != 0) {
                ct_thread_free(t[i]);
            }
            started += rc == 0;
        }
    }
    for (int i = 0; i < started; i++) {
        int jrc = ct_thread_join(t[i], CT_FOREVER);
        rc = rc != 0 ? rc : jrc != 0 ? jrc : jobs[i].rc;
        ct_thread_free(t[i]);
    }
    return rc == 0 ? (double)(ct_monotonic_ns() - t0) / 1e9 : -1;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    long mb = argc > 2 ? atol(argv[2]) : 16;
    int delay_ms = argc > 3 ? atoi(argv[3]) : 100;
    if (n < 1 || n > MAX_JOBS || mb < 1 || delay_ms < 0) {
        fprintf(stderr, "usage: %s [count (1-%d) [MB [delay ms]]]\n", argv[0],
                MAX_JOBS);
        return 2;
    }
    printf("%ld CPUs\n", sysconf(_SC_NPROCESSORS_ONLN));

    // (a) I/O-bound: each download mostly waits for the server.
    job jobs[MAX_JOBS], seq[MAX_JOBS];
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){.index = i + 1};
    }
    int rc = http_server_start(&server, n, CT_MILLIS(delay_ms));
    double s_seq = rc == 0 ? run(download, jobs, n, false) : -1;
    double s_thr = s_seq >= 0 ? run(download, jobs, n, true) : -1;
    http_server_stop(&server);
    if (s_thr < 0) {
        fprintf(stderr, "download failed\n");
        return 1;
    }
    printf("(a) download %d pages (%d ms each): sequential %.3f s, "
           "threads %.3f s, speedup %.1fx\n",
           n, delay_ms, s_seq, s_thr, s_seq / s_thr);

    // (b) CPU-bound: hashing keeps a CPU busy the whole time.
    size_t len = (size_t)mb << 20;
    unsigned char *data = malloc(len * (size_t)n);
    if (data == NULL) {
        return 1;
    }
    for (size_t i = 0; i < len * (size_t)n; i++) {
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    }
    for (int i = 0; i < n; i++) {
        seq[i] = jobs[i] = (job){i + 1, data + (size_t)i * len, len, {0}, 0};
    }
    double h_seq = run(hash, seq, n, false);
    double h_thr = h_seq >= 0 ? run(hash, jobs, n, true) : -1;
    bool same = h_thr >= 0;
    for (int i = 0; i < n && same; i++) {
        same = memcmp(seq[i].digest, jobs[i].digest, 32) == 0;
    }
    printf("(b) SHA-256 of %d x %ld MB: sequential %.3f s, threads %.3f s, "
           "speedup %.1fx\n",
           n, mb, h_seq, h_thr, h_seq / h_thr);

    // (c) The same threads, each holding the GIL while it hashes.
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){i + 1, data + (size_t)i * len, len, {0}, 0};
    }
    double h_gil = same && ct_gil_new(&gil, NULL) == 0
                       ? run(hash_holding_gil, jobs, n, true)
                       : -1;
    bool same_gil = h_gil >= 0;
    for (int i = 0; i < n && same_gil; i++) {
        same_gil = memcmp(seq[i].digest, jobs[i].digest, 32) == 0;
    }
    printf("(c) SHA-256, threads holding a ct_gil: %.3f s, speedup %.1fx\n",
           h_gil, h_seq / h_gil);
    printf("hashes match sequential: threads %s, with the GIL %s\n",
           same ? "yes" : "NO", same_gil ? "yes" : "NO");
    printf("first digest: ");
    for (int i = 0; i < 32; i++) {
        printf("%02x", seq[0].digest[i]);
    }
    printf("\n");
    (void)ct_gil_free(gil);
    free(data);
    return same && same_gil ? 0 : 1;
}
