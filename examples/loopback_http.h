// A tiny HTTP/1.0 server and client on 127.0.0.1 for the examples that
// "download pages" (lesson 3, exercise 5) without a network: the example
// starts the server on a port the kernel picks, and every response waits
// `delay` first, as a slow remote server would. Header-only: static
// functions, POSIX sockets, server threads from cthreading.
#ifndef LOOPBACK_HTTP_H
#define LOOPBACK_HTTP_H

#include <arpa/inet.h>
#include <cthreading.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_MAX_WORKERS 32

typedef struct http_server {
    int fd;            // the listening socket
    uint16_t port;     // in host order
    ct_duration delay; // before each response
    int nworkers;
    ct_thread *workers[HTTP_MAX_WORKERS];
    atomic_bool stopping;
    atomic_int active, max_active; // requests being served: now, at most
    atomic_long served;
} http_server;

// Sends all of buf; returns false on an error. MSG_NOSIGNAL: a peer that
// hung up gives an error, not SIGPIPE.
static bool
http_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        buf += n, len -= (size_t)n;
    }
    return true;
}

// Serves one request on fd: reads up to the blank line, waits, answers
// with a small page that names the path.
static void
http_serve(http_server *s, int fd)
{
    char req[1024] = "";
    size_t len = 0;
    while (len < sizeof req - 1 && strstr(req, "\r\n\r\n") == NULL) {
        ssize_t n = read(fd, req + len, sizeof req - 1 - len);
        if (n <= 0) {
            return;
        }
        req[len += (size_t)n] = '\0';
    }
    char path[256] = "/";
    if (sscanf(req, "GET %255s", path) != 1) {
        return;
    }
    int now = atomic_fetch_add(&s->active, 1) + 1;
    for (int m = atomic_load(&s->max_active);
         now > m && !atomic_compare_exchange_weak(&s->max_active, &m, now);) {
    }
    ct_sleep(s->delay); // the slow server
    char body[320], resp[512];
    int blen = snprintf(body, sizeof body, "<p>the page at %s</p>\n", path);
    int rlen = snprintf(resp, sizeof resp,
                        "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    atomic_fetch_sub(&s->active, 1);
    atomic_fetch_add(&s->served, 1);
    (void)http_write_all(fd, resp, (size_t)rlen);
}

// A server thread: accepts connections one by one until stopped.
static int
http_worker(void *arg)
{
    http_server *s = arg;
    for (;;) {
        int fd = accept(s->fd, NULL, NULL);
        if (atomic_load(&s->stopping)) {
            if (fd >= 0) {
                close(fd);
            }
            return 0;
        }
        if (fd >= 0) {
            http_serve(s, fd);
            close(fd);
        }
    }
}

// Opens a TCP connection to 127.0.0.1:port; returns the socket or -1.
static int
http_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

// Starts a server with `nworkers` threads (so up to that many requests at
// once) on an ephemeral port of 127.0.0.1. Returns 0, CT_EINVAL, or
// CT_EAGAIN when a socket or thread cannot be had.
static int
http_server_start(http_server *s, int nworkers, ct_duration delay)
{
    if (nworkers < 1 || nworkers > HTTP_MAX_WORKERS) {
        return CT_EINVAL;
    }
    memset(s, 0, sizeof *s);
    s->delay = delay;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // port 0: the kernel picks
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->fd, 64) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        if (s->fd >= 0) {
            close(s->fd);
        }
        s->fd = -1;
        return CT_EAGAIN;
    }
    s->port = ntohs(a.sin_port);
    int rc = 0;
    for (; s->nworkers < nworkers && rc == 0; s->nworkers++) {
        ct_thread_opts o = {.name = "http-server"};
        ct_thread **t = &s->workers[s->nworkers];
        if ((rc = ct_thread_new(t, http_worker, s, &o)) == 0 &&
            (rc = ct_thread_start(*t)) != 0) {
            ct_thread_free(*t);
        }
    }
    s->nworkers -= rc != 0;
    return rc;
}

// Stops the server: wakes each worker's accept() with a connection of its
// own, joins them and closes the socket. Call it once, after a start
// (including a failed one).
static void
http_server_stop(http_server *s)
{
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nworkers; i++) {
        int fd = http_connect(s->port);
        if (fd >= 0) {
            close(fd);
        }
    }
    // A worker whose wake-up connection failed (no file descriptor left,
    // say) is woken by this: accept() on a shut-down socket fails.
    if (s->fd >= 0) {
        shutdown(s->fd, SHUT_RDWR);
    }
    for (int i = 0; i < s->nworkers; i++) {
        if (ct_thread_join(s->workers[i], CT_FOREVER) != 0) {
            fprintf(stderr, "http: a server thread cannot be joined\n");
        }
        ct_thread_free(s->workers[i]);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
}

// Fetches http://127.0.0.1:port/path into body (NUL-terminated, cut at
// cap - 1). Returns the body's length, or -1 on any error.
static long
http_get(uint16_t port, const char *path, char *body, size_t cap)
{
    int fd = http_connect(port);
    char buf[2048];
    int len = snprintf(buf, sizeof buf, "GET %s HTTP/1.0\r\n\r\n", path);
    if (fd < 0 || len < 0 || (size_t)len >= sizeof buf ||
        !http_write_all(fd, buf, (size_t)len)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    size_t got = 0; // HTTP/1.0: the server closes after the response
    ssize_t n;
    while (got < sizeof buf - 1 &&
           (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    char *start = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.0 200", 12) != 0 || start == NULL || cap == 0) {
        return -1;
    }
    snprintf(body, cap, "%s", start + 4);
    return (long)strlen(body);
}

#endif
