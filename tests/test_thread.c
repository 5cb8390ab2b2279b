// Tests for ct_thread (Python's threading.Thread) and the registry around
// it: the lifecycle and its errors, joins (timed, many at once, repeated),
// names (defaults, the OS name in /proc), daemon inheritance, idents,
// Dummy threads, the excepthook, ct_thread_exit, freeing running threads,
// ct_shutdown and the join at process exit (in a child program), a refused
// thread under RLIMIT_NPROC, and fork() with threads running.
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness/test.h"

// --- Helpers -----------------------------------------------------------------

typedef struct probe {
    atomic_int ran;
    ct_event go;      // the target waits for it when `wait` is set
    ct_event entered; // set by the target on entry
    bool wait;
    int code; // the target's return
    uint64_t ident;
    uint64_t native_id;
    ct_thread *current;
} probe;

static int
probe_target(void *arg)
{
    probe *p = arg;
    p->ident = ct_get_ident();
    p->native_id = ct_get_native_id();
    p->current = ct_current_thread();
    atomic_fetch_add(&p->ran, 1);
    CHECK_OK(ct_event_set(&p->entered));
    if (p->wait) {
        CHECK_OK(ct_event_wait(&p->go, ct_test_long_wait()));
    }
    return p->code;
}

static ct_thread *
start_probe(probe *p, const ct_thread_opts *opts)
{
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, probe_target, p, opts));
    CHECK(t != NULL);
    CHECK_OK(ct_thread_start(t));
    return t;
}

static void
join_free(ct_thread *t)
{
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    ct_thread_free(t);
}

// Returns whether `t` is among the live threads of ct_enumerate().
static bool
listed(const ct_thread *t)
{
    ct_thread *buf[256];
    int n = ct_enumerate(buf, 256);
    CHECK(n >= 0 && n <= 256);
    bool found = false;
    for (int i = 0; i < n; i++) {
        found = found || buf[i] == t;
        ct_thread_free(buf[i]);
    }
    return found;
}

// --- Lifecycle
// -----------------------------------------------------------------

static void
start_join_runs_target(void)
{
    probe p = {0};
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, probe_target, &p, NULL));
    CHECK(!ct_thread_is_alive(t));
    CHECK_EQ(ct_thread_ident(t), 0);
    CHECK_EQ(ct_thread_native_id(t), 0);
    CHECK_OK(ct_thread_start(t));
    // start() returns after the ids are set, whatever the target does.
    CHECK(ct_thread_ident(t) != 0);
    CHECK(ct_thread_native_id(t) != 0);
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&p.ran), 1);
    CHECK(!ct_thread_is_alive(t));
    CHECK(p.current == t);
    CHECK_EQ(ct_thread_ident(t), p.ident);
    CHECK_EQ(ct_thread_native_id(t), p.native_id);
    ct_thread_free(t);
}

static void
start_twice_and_join_before_start(void)
{
    probe p = {0};
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, probe_target, &p, NULL));
    CHECK_RC(ct_thread_join(t, CT_NOWAIT), CT_ESTATE);
    CHECK_RC(ct_thread_join(t, CT_MILLIS(10)), CT_ESTATE);
    CHECK_OK(ct_thread_set_daemon(t, true));
    CHECK_OK(ct_thread_set_daemon(t, false));
    CHECK_OK(ct_thread_start(t));
    CHECK_RC(ct_thread_start(t), CT_ESTATE);
    CHECK_RC(ct_thread_set_daemon(t, true), CT_ESTATE);
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK_RC(ct_thread_start(t), CT_ESTATE);
    CHECK_RC(ct_thread_set_daemon(t, true), CT_ESTATE);
    CHECK(!ct_thread_is_daemon(t));
    CHECK_EQ(atomic_load(&p.ran), 1);
    ct_thread_free(t);
}

static int
join_self_target(void *arg)
{
    (void)arg;
    CHECK_RC(ct_thread_join(ct_current_thread(), CT_NOWAIT), CT_EDEADLK);
    CHECK_RC(ct_thread_join(ct_current_thread(), CT_FOREVER), CT_EDEADLK);
    return 0;
}

static void
join_self(void)
{
    CHECK_RC(ct_thread_join(ct_main_thread(), CT_FOREVER), CT_EDEADLK);
    CHECK_RC(ct_thread_join(ct_current_thread(), CT_NOWAIT), CT_EDEADLK);
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, join_self_target, NULL, NULL));
    CHECK_OK(ct_thread_start(t));
    join_free(t);
}

// Python's join(timeout) on a thread blocked on an event.
static void
join_timeout_then_join(void)
{
    probe p = {.wait = true};
    ct_thread *t = start_probe(&p, NULL);
    int64_t t0 = ct_test_now();
    CHECK_RC(ct_thread_join(t, CT_MILLIS(50)), CT_ETIMEDOUT);
    CHECK_ELAPSED(ct_test_now() - t0, CT_MILLIS(50));
    CHECK_RC(ct_thread_join(t, CT_NOWAIT), CT_ETIMEDOUT);
    CHECK_RC(ct_thread_join(t, -5), CT_ETIMEDOUT);
    CHECK(ct_thread_is_alive(t));
    CHECK_OK(ct_event_set(&p.go));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK(!ct_thread_is_alive(t));
    // After the end: at once, again and again, whatever the timeout.
    CHECK_OK(ct_thread_join(t, CT_NOWAIT));
    CHECK_OK(ct_thread_join(t, -1));
    CHECK_OK(ct_thread_join(t, CT_FOREVER));
    ct_thread_free(t);
}

typedef struct joiner {
    ct_thread *target;
    ct_barrier *ready;
    atomic_int *joined;
} joiner;

static int
joiner_target(void *arg)
{
    joiner *j = arg;
    int rc = ct_barrier_wait(j->ready, ct_test_long_wait());
    CHECK(rc >= 0);
    CHECK_OK(ct_thread_join(j->target, ct_test_long_wait()));
    CHECK(!ct_thread_is_alive(j->target));
    atomic_fetch_add(j->joined, 1);
    return 0;
}

// test_join_from_multiple_threads: eight threads join one at once.
static void
many_joiners(void)
{
    enum { N = 8 };
    probe p = {.wait = true};
    ct_thread *t = start_probe(&p, NULL);
    ct_barrier ready;
    CHECK_OK(ct_barrier_init(&ready, N + 1, NULL, NULL, CT_FOREVER));
    atomic_int joined = 0;
    joiner js[N];
    ct_thread *ths[N];
    for (int i = 0; i < N; i++) {
        js[i] = (joiner){t, &ready, &joined};
        CHECK_OK(ct_thread_new(&ths[i], joiner_target, &js[i], NULL));
        CHECK_OK(ct_thread_start(ths[i]));
    }
    CHECK(ct_barrier_wait(&ready, ct_test_long_wait()) >= 0);
    // Nobody returns while the target runs.
    CHECK(!ct_test_poll_at_least(&joined, 1, CT_MILLIS(20)));
    CHECK_OK(ct_event_set(&p.go));
    for (int i = 0; i < N; i++) {
        join_free(ths[i]);
    }
    CHECK_EQ(atomic_load(&joined), N);
    join_free(t);
    ct_barrier_destroy(&ready);
}

static void
idents_unique_and_kept(void)
{
    enum { N = 6 };
    probe ps[N];
    ct_thread *ts[N];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < N; i++) {
        ps[i].wait = true;
        ts[i] = start_probe(&ps[i], NULL);
    }
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_event_wait(&ps[i].entered, ct_test_long_wait()));
        CHECK(ct_thread_ident(ts[i]) != ct_get_ident());
        CHECK(ct_thread_native_id(ts[i]) != ct_get_native_id());
        for (int j = 0; j < i; j++) {
            CHECK(ct_thread_ident(ts[i]) != ct_thread_ident(ts[j]));
            CHECK(ct_thread_native_id(ts[i]) != ct_thread_native_id(ts[j]));
        }
    }
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_event_set(&ps[i].go));
        CHECK_OK(ct_thread_join(ts[i], ct_test_long_wait()));
        CHECK_EQ(ct_thread_ident(ts[i]), ps[i].ident);
        CHECK_EQ(ct_thread_native_id(ts[i]), ps[i].native_id);
        ct_thread_free(ts[i]);
    }
    // The main thread: the ids of the caller, the kernel's TID.
    CHECK_EQ(ct_thread_ident(ct_main_thread()), ct_get_ident());
    CHECK_EQ(ct_get_native_id(), (uint64_t)getpid());
    CHECK_EQ(ct_thread_native_id(ct_main_thread()), (uint64_t)getpid());
}

// --- Names -------------------------------------------------------------------

static int
worker(void *arg)
{
    (void)arg;
    return 0;
}

// Parses N out of "Thread-N..." (0 if it does not start so).
static unsigned
thread_number(const char *name)
{
    unsigned n = 0;
    return sscanf(name, "Thread-%u", &n) == 1 ? n : 0;
}

static void
default_names(void)
{
    ct_thread *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    CHECK_OK(ct_thread_new(&a, worker, NULL, NULL));
    unsigned n = thread_number(ct_thread_name(a));
    CHECK(n >= 1);
    char want[64];
    snprintf(want, sizeof want, "Thread-%u (worker)", n);
    CHECK(strcmp(ct_thread_name(a), want) == 0);
    // A given name takes no number (as in Python); "" counts as not given.
    ct_thread_opts named = {.name = "reader"};
    CHECK_OK(ct_thread_new(&b, worker, NULL, &named));
    CHECK(strcmp(ct_thread_name(b), "reader") == 0);
    ct_thread_opts empty = {.name = ""};
    CHECK_OK(ct_thread_new(&c, worker, NULL, &empty));
    snprintf(want, sizeof want, "Thread-%u (worker)", n + 1);
    CHECK(strcmp(ct_thread_name(c), want) == 0);
    // The function itself (not the macro) knows no target name; nor does
    // the macro when the target is not a plain identifier.
    CHECK_OK((ct_thread_new)(&d, worker, NULL, NULL));
    snprintf(want, sizeof want, "Thread-%u", n + 2);
    CHECK(strcmp(ct_thread_name(d), want) == 0);
    ct_thread_fn *fns[1] = {worker};
    CHECK_OK(ct_thread_new(&e, fns[0], NULL, NULL));
    snprintf(want, sizeof want, "Thread-%u", n + 3);
    CHECK(strcmp(ct_thread_name(e), want) == 0);
    // Renames keep the old string valid until the handle is freed.
    const char *old = ct_thread_name(a);
    CHECK_OK(ct_thread_set_name(a, "renamed"));
    CHECK(strcmp(ct_thread_name(a), "renamed") == 0);
    CHECK(strncmp(old, "Thread-", 7) == 0);
    CHECK_OK(ct_thread_set_name(a, ""));
    CHECK(strcmp(ct_thread_name(a), "") == 0);
    CHECK(strcmp(ct_thread_name(ct_main_thread()), "MainThread") == 0);
    ct_thread *all[] = {a, b, c, d, e};
    for (size_t i = 0; i < 5; i++) {
        ct_thread_free(all[i]);
    }
}

// Reads /proc/self/task/TID/comm into buf without the newline.
static bool
os_name_of(uint64_t tid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%llu/comm",
             (unsigned long long)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

static int
rename_self_target(void *arg)
{
    probe *p = arg;
    CHECK_OK(ct_thread_set_name(ct_current_thread(), "self-named"));
    return probe_target(p);
}

static void
os_names(void)
{
    char comm[64];
    if (!os_name_of((uint64_t)getpid(), comm, sizeof comm)) {
        SKIP("no /proc/self/task/TID/comm");
    }
    // A long name: the OS sees its first 15 bytes.
    probe p = {.wait = true};
    ct_thread_opts o = {.name = "a-rather-long-thread-name"};
    ct_thread *t = start_probe(&p, &o);
    CHECK(os_name_of(ct_thread_native_id(t), comm, sizeof comm));
    CHECK(strcmp(comm, "a-rather-long-t") == 0);
    CHECK(strcmp(ct_thread_name(t), "a-rather-long-thread-name") == 0);
    // Renamed from outside while it runs: the OS name follows.
    CHECK_OK(ct_thread_set_name(t, "outside"));
    CHECK(os_name_of(ct_thread_native_id(t), comm, sizeof comm));
    CHECK(strcmp(comm, "outside") == 0);
    // Cut at a character boundary: "é" is two bytes, 14 + 2 > 15.
    CHECK_OK(ct_thread_set_name(t, "abcdefghijklmn\xc3\xa9z"));
    CHECK(os_name_of(ct_thread_native_id(t), comm, sizeof comm));
    CHECK(strcmp(comm, "abcdefghijklmn") == 0);
    CHECK_OK(ct_event_set(&p.go));
    join_free(t);

    // Default names reach the OS too, and a rename from inside.
    probe q = {.wait = true};
    ct_thread *u = NULL;
    CHECK_OK(ct_thread_new(&u, rename_self_target, &q, NULL));
    CHECK_OK(ct_thread_start(u));
    CHECK_OK(ct_event_wait(&q.entered, ct_test_long_wait()));
    CHECK(os_name_of(ct_thread_native_id(u), comm, sizeof comm));
    CHECK(strcmp(comm, "self-named") == 0);
    CHECK_OK(ct_event_set(&q.go));
    join_free(u);

    probe r = {.wait = true};
    ct_thread *v = start_probe(&r, NULL);
    CHECK(os_name_of(ct_thread_native_id(v), comm, sizeof comm));
    CHECK(strncmp(comm, "Thread-", 7) == 0);
    CHECK_OK(ct_event_set(&r.go));
    join_free(v);
    // The main thread keeps the OS name (the program's name), whatever ours.
    char before[64];
    CHECK(os_name_of((uint64_t)getpid(), before, sizeof before));
    CHECK_OK(ct_thread_set_name(ct_main_thread(), "NotTheProgram"));
    CHECK(os_name_of((uint64_t)getpid(), comm, sizeof comm));
    CHECK(strcmp(comm, before) == 0);
}

static void
bad_input(void)
{
    ct_thread *t = NULL;
    ct_thread_opts o = {0};
    CHECK_RC(ct_thread_new(NULL, worker, NULL, NULL), CT_EINVAL);
    CHECK_RC(ct_thread_new(&t, NULL, NULL, NULL), CT_EINVAL);
    o.daemon = 7;
    CHECK_RC(ct_thread_new(&t, worker, NULL, &o), CT_EINVAL);
    o.daemon = -1;
    CHECK_RC(ct_thread_new(&t, worker, NULL, &o), CT_EINVAL);
    o.daemon = 0;
    o.stack_size = 1000;
    CHECK_RC(ct_thread_new(&t, worker, NULL, &o), CT_EINVAL);
    o.stack_size = CT_THREAD_STACK_MIN - 1;
    CHECK_RC(ct_thread_new(&t, worker, NULL, &o), CT_EINVAL);
    o.stack_size = 0;
    const char *bad_names[] = {
        "\xff",         "ab\x80",           "\xc0\x80",     "\xc3",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        o.name = bad_names[i];
        CHECK_RC(ct_thread_new(&t, worker, NULL, &o), CT_EINVAL);
    }
    CHECK(t == NULL);                            // untouched on every failure
    o.name = "\xe2\x9c\x93 ok \xf0\x9f\x98\x80"; // valid: check mark, emoji
    CHECK_OK(ct_thread_new(&t, worker, NULL, &o));
    CHECK_RC(ct_thread_set_name(t, "\xff"), CT_EINVAL);
    CHECK_RC(ct_thread_set_name(t, NULL), CT_EINVAL);
    CHECK(strcmp(ct_thread_name(t), o.name) == 0);
    ct_thread_free(t);

    CHECK_RC(ct_thread_start(NULL), CT_EINVAL);
    CHECK_RC(ct_thread_join(NULL, CT_FOREVER), CT_EINVAL);
    CHECK(!ct_thread_is_alive(NULL));
    CHECK(strcmp(ct_thread_name(NULL), "") == 0);
    CHECK_RC(ct_thread_set_name(NULL, "x"), CT_EINVAL);
    CHECK(!ct_thread_is_daemon(NULL));
    CHECK_RC(ct_thread_set_daemon(NULL, true), CT_EINVAL);
    CHECK_EQ(ct_thread_ident(NULL), 0);
    CHECK_EQ(ct_thread_native_id(NULL), 0);
    CHECK(ct_thread_ref(NULL) == NULL);
    ct_thread_free(NULL);
    CHECK_RC(ct_enumerate(NULL, 1), CT_EINVAL);
    CHECK(ct_enumerate(NULL, 0) >= 1);
    // The main thread: not startable, daemon fixed, free does nothing.
    CHECK_RC(ct_thread_start(ct_main_thread()), CT_ESTATE);
    CHECK_RC(ct_thread_set_daemon(ct_main_thread(), true), CT_ESTATE);
    ct_thread_free(ct_main_thread());
    CHECK(ct_thread_is_alive(ct_main_thread()));
}

static void
stack_sizes(void)
{
    const size_t sizes[] = {CT_THREAD_STACK_MIN < 65536 ? 65536 : 0,
                            (size_t)1 << 20, (size_t)8 << 20};
    for (size_t i = 0; i < 3; i++) {
        probe p = {0};
        ct_thread_opts o = {.stack_size = sizes[i]};
        ct_thread *t = start_probe(&p, &o);
        join_free(t);
        CHECK_EQ(atomic_load(&p.ran), 1);
    }
}

// --- Daemon flag and the registry --------------------------------------------

typedef struct spawner {
    ct_thread_opts opts;
    bool child_daemon;
} spawner;

static int
spawner_target(void *arg)
{
    spawner *s = arg;
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, worker, NULL, &s->opts));
    s->child_daemon = ct_thread_is_daemon(t);
    ct_thread_free(t);
    return 0;
}

static void
spawn_from(bool daemon, int child_flag, bool want)
{
    spawner s = {.opts = {.daemon = child_flag}};
    ct_thread_opts o = {.daemon = daemon ? CT_DAEMON_YES : CT_DAEMON_NO};
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, spawner_target, &s, &o));
    CHECK(ct_thread_is_daemon(t) == daemon);
    CHECK_OK(ct_thread_start(t));
    join_free(t);
    CHECK(s.child_daemon == want);
}

static void *
foreign_spawner(void *arg)
{
    spawner *s = arg;
    CHECK_EQ(spawner_target(s), 0);
    return NULL;
}

static void
daemon_inheritance(void)
{
    CHECK(!ct_thread_is_daemon(ct_main_thread()));
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, worker, NULL, NULL));
    CHECK(!ct_thread_is_daemon(t)); // from the main thread
    ct_thread_free(t);
    spawn_from(true, CT_DAEMON_INHERIT, true);
    spawn_from(false, CT_DAEMON_INHERIT, false);
    spawn_from(true, CT_DAEMON_NO, false);
    spawn_from(false, CT_DAEMON_YES, true);
    // A thread the library did not create is a daemon Dummy: so are its
    // children by default (Python's behaviour).
    spawner s = {.opts = {0}};
    ct_test_join(ct_test_spawn(foreign_spawner, &s));
    CHECK(s.child_daemon);
}

static void
registry(void)
{
    int before = ct_active_count();
    CHECK(before >= 1);
    CHECK(listed(ct_main_thread()));
    probe p = {.wait = true};
    ct_thread *unstarted = NULL;
    CHECK_OK(ct_thread_new(&unstarted, worker, NULL, NULL));
    CHECK(!listed(unstarted));
    CHECK_EQ(ct_active_count(), before);
    ct_thread *t = start_probe(&p, NULL);
    CHECK_EQ(ct_active_count(), before + 1);
    CHECK(listed(t));
    // A buffer too small still gives the count.
    ct_thread *one[1];
    CHECK_EQ(ct_enumerate(one, 1), before + 1);
    ct_thread_free(one[0]);
    CHECK_EQ(ct_enumerate(NULL, 0), before + 1);
    CHECK_OK(ct_event_set(&p.go));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    // Gone from the list once join returned (test_enumerate_after_join).
    CHECK(!listed(t));
    CHECK_EQ(ct_active_count(), before);
    ct_thread_free(t);
    ct_thread_free(unstarted);
}

typedef struct dummy_info {
    ct_thread *self;
    char name[32];
    bool daemon, alive, in_list, same_again;
    int join_rc;
    uint64_t ident;
    ct_event entered, go;
} dummy_info;

static void *
foreign_thread(void *arg)
{
    dummy_info *d = arg;
    d->self = ct_current_thread();
    CHECK(d->self != NULL);
    snprintf(d->name, sizeof d->name, "%s", ct_thread_name(d->self));
    d->daemon = ct_thread_is_daemon(d->self);
    d->alive = ct_thread_is_alive(d->self);
    d->same_again = ct_current_thread() == d->self;
    d->ident = ct_get_ident();
    CHECK_EQ(ct_thread_ident(d->self), d->ident);
    CHECK_OK(ct_event_set(&d->entered));
    CHECK_OK(ct_event_wait(&d->go, ct_test_long_wait()));
    return NULL;
}

static void
dummy_threads(void)
{
    int before = ct_active_count();
    dummy_info d = {0};
    pthread_t pt = ct_test_spawn(foreign_thread, &d);
    CHECK_OK(ct_event_wait(&d.entered, ct_test_long_wait()));
    CHECK(strncmp(d.name, "Dummy-", 6) == 0);
    CHECK(d.daemon && d.alive && d.same_again);
    CHECK_EQ(ct_active_count(), before + 1);
    CHECK(listed(d.self));
    CHECK_RC(ct_thread_join(d.self, CT_NOWAIT), CT_ESTATE);
    CHECK_RC(ct_thread_set_daemon(d.self, false), CT_ESTATE);
    ct_thread *kept = ct_thread_ref(d.self);
    CHECK_OK(ct_event_set(&d.go));
    ct_test_join(pt);
    // The exit hook ran before pthread_join returned.
    CHECK_EQ(ct_active_count(), before);
    CHECK(!ct_thread_is_alive(kept));
    CHECK_EQ(ct_thread_ident(kept), d.ident);
    ct_thread_free(kept);
}

// --- excepthook and ct_thread_exit
// --------------------------------------------

static struct {
    atomic_int calls;
    ct_thread *thread;
    int code;
} hook_seen;

static void
record_hook(ct_thread *t, int code)
{
    hook_seen.thread = t;
    hook_seen.code = code;
    atomic_fetch_add(&hook_seen.calls, 1);
}

// Runs `fn` with stderr sent to a temporary file; returns what was written.
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    int fd = fileno(f);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0);
    CHECK(dup2(fd, 2) == 2);
    fn(arg);
    fflush(stderr);
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    static char buf[1024];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    fclose(f);
    CHECK(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void
run_probe_code(void *arg)
{
    probe *p = arg;
    ct_thread_opts o = {.name = "failing"};
    join_free(start_probe(p, &o));
}

static void
excepthook(void)
{
    // The default hook prints the name and the code.
    probe p = {.code = CT_EINVAL};
    char *out = capture_stderr(run_probe_code, &p);
    CHECK(strcmp(out, "Exception in thread failing: error -22 (CT_EINVAL: "
                      "invalid argument)\n") == 0);
    probe q = {.code = 3};
    out = capture_stderr(run_probe_code, &q);
    CHECK(strcmp(out, "Exception in thread failing: error 3\n") == 0);
    probe ok = {.code = 0};
    out = capture_stderr(run_probe_code, &ok);
    CHECK(strcmp(out, "") == 0);

    // A custom hook runs in the thread before join returns, never twice.
    ct_set_excepthook(record_hook);
    probe r = {.code = 42};
    ct_thread *t = start_probe(&r, NULL);
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK_EQ(atomic_load(&hook_seen.calls), 1);
    CHECK(hook_seen.thread == t);
    CHECK_EQ(hook_seen.code, 42);
    ct_thread_free(t);
    probe s = {.code = 0};
    join_free(start_probe(&s, NULL));
    CHECK_EQ(atomic_load(&hook_seen.calls), 1);
    // NULL restores the default.
    ct_set_excepthook(NULL);
    probe u = {.code = CT_ETIMEDOUT};
    out = capture_stderr(run_probe_code, &u);
    CHECK(strstr(out, "Exception in thread failing: error -110 "
                      "(CT_ETIMEDOUT") == out);
    CHECK_EQ(atomic_load(&hook_seen.calls), 1);
}

static void
exiting_hook(ct_thread *t, int code)
{
    (void)t;
    if (code == 77) {
        ct_thread_exit(0); // from inside the hook: the thread still ends
    }
}

static int
return_77(void *arg)
{
    (void)arg;
    return 77;
}

// The thread frees the last reference to itself from a pthread key
// destructor that runs after its end: it must detach, not join itself.
static pthread_key_t self_ref_key;

static int
keep_self_ref(void *arg)
{
    (void)arg;
    CHECK_EQ(
        pthread_setspecific(self_ref_key, ct_thread_ref(ct_current_thread())),
        0);
    return 0;
}

static void
free_thread(void *t)
{
    ct_thread_free(t);
}

static void
unusual_ends(void)
{
    ct_set_excepthook(exiting_hook);
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, return_77, NULL, NULL));
    CHECK_OK(ct_thread_start(t));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK(!ct_thread_is_alive(t));
    ct_thread_free(t);
    ct_set_excepthook(NULL);

    CHECK_EQ(pthread_key_create(&self_ref_key, free_thread), 0);
    for (int i = 0; i < 20; i++) {
        ct_thread *u = NULL;
        CHECK_OK(ct_thread_new(&u, keep_self_ref, NULL, NULL));
        CHECK_OK(ct_thread_start(u));
        // A timed join returns at `done`, before the key destructors: the
        // thread's own free is then often the last.
        CHECK_OK(ct_thread_join(u, ct_test_long_wait()));
        ct_thread_free(u);
    }
}

static atomic_int after_exit;

static int
exit_target(void *arg)
{
    int code = *(int *)arg;
    ct_thread_exit(code);
    atomic_store(&after_exit, 1); // never reached
    return 0;
}

static int
pthread_exit_target(void *arg)
{
    (void)arg;
    pthread_exit(NULL);
}

static void
run_exit_code(void *arg)
{
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, exit_target, arg, NULL));
    CHECK_OK(ct_thread_start(t));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK(!ct_thread_is_alive(t));
    CHECK(!listed(t));
    ct_thread_free(t);
}

static void
thread_exit(void)
{
    int before = ct_active_count();
    // Like SystemExit: the default hook is silent, whatever the code.
    int code = 9;
    char *out = capture_stderr(run_exit_code, &code);
    CHECK(strcmp(out, "") == 0);
    CHECK_EQ(atomic_load(&after_exit), 0);
    // A custom hook sees a non-zero exit code, not a zero one.
    ct_set_excepthook(record_hook);
    atomic_store(&hook_seen.calls, 0);
    run_exit_code(&code);
    CHECK_EQ(atomic_load(&hook_seen.calls), 1);
    CHECK_EQ(hook_seen.code, 9);
    code = 0;
    run_exit_code(&code);
    CHECK_EQ(atomic_load(&hook_seen.calls), 1);
    ct_set_excepthook(NULL);
    // pthread_exit() inside a target is the same as ct_thread_exit(0).
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, pthread_exit_target, NULL, NULL));
    CHECK_OK(ct_thread_start(t));
    CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
    CHECK(!ct_thread_is_alive(t));
    ct_thread_free(t);
    CHECK_EQ(ct_active_count(), before);
}

// --- ct_local at a thread's end ---------------------------------------------

static atomic_int local_destroyed;

static void
count_destroyed(void *value)
{
    free(value);
    atomic_fetch_add(&local_destroyed, 1);
}

static ct_local thread_local_key = CT_LOCAL_INIT(count_destroyed);

static int
set_local_target(void *arg)
{
    CHECK_OK(ct_local_set(&thread_local_key, malloc(16)));
    if (arg != NULL) {
        ct_thread_exit(0);
    }
    return 0;
}

// A thread's values are destroyed before it counts as finished: a join
// that returned has seen the destructors run, whichever way it ended.
static void
locals_destroyed_before_join(void)
{
    static int exit_path;
    void *args[] = {NULL, &exit_path};
    for (int i = 0; i < 2; i++) {
        atomic_store(&local_destroyed, 0);
        ct_thread *t = NULL;
        CHECK_OK(ct_thread_new(&t, set_local_target, args[i], NULL));
        CHECK_OK(ct_thread_start(t));
        CHECK_OK(ct_thread_join(t, ct_test_long_wait()));
        CHECK_EQ(atomic_load(&local_destroyed), 1);
        ct_thread_free(t);
    }
    CHECK(ct_local_get(&thread_local_key) == NULL); // the main thread's own
    ct_local_destroy(&thread_local_key);
}

// --- Handles -----------------------------------------------------------------

static void
free_running_and_unstarted(void)
{
    // Freed while it runs: it keeps running and cleans up after itself.
    probe p = {.wait = true};
    ct_thread *t = start_probe(&p, NULL);
    ct_thread *kept = ct_thread_ref(t);
    ct_thread_free(t);
    CHECK(ct_thread_is_alive(kept));
    ct_thread_free(kept); // the last handle; the thread still runs
    int before = ct_active_count();
    CHECK_OK(ct_event_set(&p.go));
    // It leaves the registry on its own (no join).
    for (int64_t end = ct_test_now() + ct_test_long_wait();
         ct_active_count() == before && ct_test_now() < end;) {
        ct_sleep(CT_MILLIS(1));
    }
    CHECK_EQ(ct_active_count(), before - 1);
    CHECK_EQ(atomic_load(&p.ran), 1);

    ct_thread *u = NULL;
    CHECK_OK(ct_thread_new(&u, worker, NULL, NULL));
    ct_thread_free(u);

    // Many short threads freed without a join: no leak (ASan checks), no
    // thread left behind.
    for (int i = 0; i < 64; i++) {
        probe *q = calloc(1, sizeof *q);
        CHECK(q != NULL);
        ct_thread *v = start_probe(q, NULL);
        CHECK_OK(ct_thread_join(v, ct_test_long_wait()));
        ct_thread_free(v);
        free(q);
    }
}

// --- ct_shutdown and the exit join -------------------------------------------

static int
join_main_target(void *arg)
{
    atomic_int *done = arg;
    CHECK_OK(ct_thread_join(ct_main_thread(), ct_test_long_wait()));
    atomic_store(done, 1);
    return 0;
}

static int
blocked_forever_target(void *arg)
{
    ct_event *never = arg;
    CHECK_RC(ct_event_wait(never, CT_FOREVER), 0);
    return 0;
}

typedef struct nested {
    atomic_int inner_done;
} nested;

static int
inner_target(void *arg)
{
    return join_main_target(&((nested *)arg)->inner_done);
}

static int
outer_target(void *arg)
{
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, inner_target, arg, NULL));
    CHECK_OK(ct_thread_start(t));
    ct_thread_free(t);
    return 0;
}

// test_1_join_on_shutdown and test_thread_from_thread: ct_shutdown() from
// the main thread marks it finished (its joiners return) and waits for
// non-daemon threads, those started by other threads too, not daemons.
static void
shutdown_from_main(void)
{
    atomic_int done = 0;
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, join_main_target, &done, NULL));
    CHECK_OK(ct_thread_start(t));
    nested n = {0};
    ct_thread *outer = NULL;
    CHECK_OK(ct_thread_new(&outer, outer_target, &n, NULL));
    CHECK_OK(ct_thread_start(outer));
    ct_event never = CT_EVENT_INIT;
    ct_thread_opts daemon = {.daemon = CT_DAEMON_YES};
    ct_thread *d = NULL;
    CHECK_OK(ct_thread_new(&d, blocked_forever_target, &never, &daemon));
    CHECK_OK(ct_thread_start(d));
    CHECK_OK(ct_thread_join(outer, ct_test_long_wait()));

    CHECK_OK(ct_shutdown());
    CHECK_EQ(atomic_load(&done), 1);
    CHECK_EQ(atomic_load(&n.inner_done), 1);
    CHECK(!ct_thread_is_alive(ct_main_thread()));
    CHECK(!ct_thread_is_alive(t));
    CHECK(ct_thread_is_alive(d));
    // Python: the main thread still cannot join itself.
    CHECK_RC(ct_thread_join(ct_main_thread(), CT_NOWAIT), CT_EDEADLK);
    ct_thread_free(t);
    ct_thread_free(outer);
    // The daemon stays blocked: let it go so the test ends cleanly.
    CHECK_OK(ct_event_set(&never));
    join_free(d);
}

typedef struct mutual {
    ct_barrier *both;
    ct_event *release;
    atomic_int *returned;
} mutual;

static int
shutdown_caller(void *arg)
{
    mutual *m = arg;
    CHECK(ct_barrier_wait(m->both, ct_test_long_wait()) >= 0);
    CHECK_OK(ct_shutdown());
    atomic_fetch_add(m->returned, 1);
    return 0;
}

static int
release_waiter(void *arg)
{
    return ct_event_wait((ct_event *)arg, ct_test_long_wait());
}

// Two non-daemon threads in ct_shutdown() at once skip each other (no
// deadlock) but both wait for a third that is not in it.
static void
shutdown_from_two_threads(void)
{
    ct_barrier both;
    CHECK_OK(ct_barrier_init(&both, 2, NULL, NULL, CT_FOREVER));
    ct_event release = CT_EVENT_INIT;
    atomic_int returned = 0;
    mutual m = {&both, &release, &returned};
    ct_thread *w = NULL, *a = NULL, *b = NULL;
    CHECK_OK(ct_thread_new(&w, release_waiter, &release, NULL));
    CHECK_OK(ct_thread_start(w));
    CHECK_OK(ct_thread_new(&a, shutdown_caller, &m, NULL));
    CHECK_OK(ct_thread_new(&b, shutdown_caller, &m, NULL));
    CHECK_OK(ct_thread_start(a));
    CHECK_OK(ct_thread_start(b));
    CHECK(!ct_test_poll_at_least(&returned, 1, CT_MILLIS(30)));
    CHECK_OK(ct_event_set(&release));
    join_free(a);
    join_free(b);
    join_free(w);
    CHECK_EQ(atomic_load(&returned), 2);
    ct_barrier_destroy(&both);
}

// Runs tests/exit_child.c's program in `mode`; returns its exit status and
// stdout (in out), failing the test if it does not end in time.
static int
run_exit_child(const char *mode, char *out, size_t cap)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        SKIP("no /proc/self/exe");
    }
    self[len] = '\0';
    char prog[4200];
    snprintf(prog, sizeof prog, "%s/ct_exit_child", dirname(self));
    if (access(prog, X_OK) != 0) {
        ct_test_fail(__FILE__, __LINE__, "%s not built", prog);
    }
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(prog, prog, mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    // Reads until the child (and every thread) closed stdout: EOF.
    while (n < cap - 1 && (r = read(fds[0], out + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int status = ct_test_wait_child(pid, ct_test_long_wait());
    if (status == -2) {
        ct_test_fail(__FILE__, __LINE__, "exit_child %s hangs", mode);
    }
    CHECK(status >= 0);
    return status;
}

// Non-daemon threads run to the end at exit (their output appears), those
// started by other threads and when exit() comes from a thread too; daemon
// threads are abandoned, and _exit() (the documented opt-out) joins nothing.
static void
exit_join_rules(void)
{
    static const struct {
        const char *mode;
        int status;
        const char *out;
    } cases[] = {
        {"non-daemon", 0, "main returns\nworker done\n"},
        {"nested", 0, "main returns\ninner done\n"},
        {"exit-in-thread", 3, "exiting\nworker done\n"},
        {"local", 0, "main returns\nworker done\nmain's local destroyed\n"},
        {"exit-during-shutdown", 0, "shutdown returned 0\n"},
        {"daemon", 0, "main returns\n"},
        {"_exit", 0, "main returns\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[512];
        CHECK_EQ(run_exit_child(cases[i].mode, out, sizeof out),
                 cases[i].status);
        if (strcmp(out, cases[i].out) != 0) {
            ct_test_fail(__FILE__, __LINE__, "exit_child %s printed '%s'",
                         cases[i].mode, out);
        }
    }
}

// --- The OS refuses a thread -------------------------------------------------

static void
refused_child(void)
{
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_NPROC, &old), 0);
    // One process already counts against the limit of 1, so clone() fails.
    // root is exempt from RLIMIT_NPROC: become nobody first.
    struct rlimit one = {1, old.rlim_max};
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &one), 0);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
        _exit(77);
    }
    int before = ct_active_count();
    probe p = {0};
    ct_thread *t = NULL;
    CHECK_OK(ct_thread_new(&t, probe_target, &p, NULL));
    int rc = ct_thread_start(t);
    if (rc == 0) {
        join_free(t);
        _exit(78); // the limit did not bite here (a kernel without it)
    }
    CHECK_RC(rc, CT_EAGAIN);
    CHECK(!ct_thread_is_alive(t));
    CHECK(!listed(t));
    CHECK_EQ(ct_active_count(), before);
    CHECK_RC(ct_thread_join(t, CT_NOWAIT), CT_ESTATE);
    CHECK_EQ(ct_thread_ident(t), 0);
    // Lift the limit: the same handle starts now.
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &old), 0);
    CHECK_OK(ct_thread_start(t));
    join_free(t);
    CHECK_EQ(atomic_load(&p.ran), 1);
}

static void
start_refused_by_the_os(void)
{
    int status = ct_test_in_child(refused_child);
    if (status == 77) {
        SKIP("cannot drop root to make RLIMIT_NPROC bite");
    }
    if (status == 78) {
        SKIP("RLIMIT_NPROC did not stop a thread here");
    }
    CHECK_EQ(status, 0);
}

// --- fork() ------------------------------------------------------------------

static probe fork_probes[3];
static ct_thread *fork_threads[3];

static void
fork_child_checks(ct_thread *forker)
{
    CHECK_EQ(ct_active_count(), 1);
    CHECK(ct_main_thread() == forker);
    CHECK(ct_current_thread() == forker);
    CHECK(!ct_thread_is_daemon(forker));
    CHECK_EQ(ct_get_native_id(), (uint64_t)getpid());
    CHECK_EQ(ct_thread_native_id(forker), (uint64_t)getpid());
    for (int i = 0; i < 3; i++) {
        if (fork_threads[i] != forker) {
            CHECK(!ct_thread_is_alive(fork_threads[i]));
            CHECK_OK(ct_thread_join(fork_threads[i], CT_NOWAIT));
        }
    }
    // Every lock inside works: the registry's, the parking lot's.
    CHECK_OK(ct_thread_set_name(forker, ct_thread_name(forker)));
    CHECK(listed(forker));
    ct_event e = CT_EVENT_INIT;
    CHECK_RC(ct_event_wait(&e, CT_MILLIS(1)), CT_ETIMEDOUT);
    if (TSAN_BUILD) {
        return; // TSan cannot start threads after a multi-threaded fork
    }
    // And threads start and end as before.
    probe p = {.wait = true};
    ct_thread *t = start_probe(&p, NULL);
    CHECK_EQ(ct_active_count(), 2);
    CHECK_OK(ct_event_set(&p.go));
    join_free(t);
    CHECK_EQ(ct_active_count(), 1);
    CHECK_EQ(atomic_load(&p.ran), 1);
}

static ct_thread *ended_unjoined;

// A thread that finished in the parent but was not joined: in the child its
// OS thread does not exist, so neither join nor free may touch it (a
// pthread_join there could wait forever).
static void
join_ended_in_child(void)
{
    CHECK_OK(ct_thread_join(ended_unjoined, CT_FOREVER));
    CHECK_OK(ct_thread_join(ended_unjoined, CT_NOWAIT));
    ct_thread_free(ended_unjoined);
}

static void
fork_after_an_unjoined_end(void)
{
    if (TSAN_BUILD) {
        SKIP("TSan reports the unjoined thread at fork as a leak, by design");
    }
    probe p = {0};
    ended_unjoined = start_probe(&p, NULL);
    for (int64_t end = ct_test_now() + ct_test_long_wait();
         ct_thread_is_alive(ended_unjoined) && ct_test_now() < end;) {
        ct_sleep(CT_MILLIS(1));
    }
    CHECK(!ct_thread_is_alive(ended_unjoined));
    CHECK_EQ(ct_test_in_child(join_ended_in_child), 0);
    join_free(ended_unjoined);
}

static void
fork_from_main_child(void)
{
    uint64_t ident = ct_get_ident();
    fork_child_checks(ct_main_thread());
    CHECK_EQ(ct_get_ident(), ident);
    CHECK(strcmp(ct_thread_name(ct_main_thread()), "MainThread") == 0);
}

static void
fork_with_threads_running(void)
{
    for (int i = 0; i < 3; i++) {
        fork_probes[i] = (probe){.wait = true};
        fork_threads[i] = start_probe(&fork_probes[i], NULL);
        // Running its target: ASan cannot fork in the middle of a thread's
        // start (its own thread registry deadlocks the child).
        CHECK_OK(ct_event_wait(&fork_probes[i].entered, ct_test_long_wait()));
    }
    CHECK_EQ(ct_test_in_child(fork_from_main_child), 0);
    for (int i = 0; i < 3; i++) {
        CHECK(ct_thread_is_alive(fork_threads[i])); // the parent's still run
        CHECK_OK(ct_event_set(&fork_probes[i].go));
        join_free(fork_threads[i]);
    }
}

static ct_thread *forking_thread;

static void
fork_from_thread_child(void)
{
    fork_child_checks(forking_thread);
    CHECK(strcmp(ct_thread_name(forking_thread), "forker") == 0);
}

static int
forker_target(void *arg)
{
    int *status = arg;
    *status = ct_test_in_child(fork_from_thread_child);
    return 0;
}

static void
fork_from_a_thread(void)
{
    for (int i = 0; i < 3; i++) {
        fork_probes[i] = (probe){.wait = true};
        fork_threads[i] = start_probe(&fork_probes[i], NULL);
        // Running its target: ASan cannot fork in the middle of a thread's
        // start (its own thread registry deadlocks the child).
        CHECK_OK(ct_event_wait(&fork_probes[i].entered, ct_test_long_wait()));
    }
    int status = -1;
    ct_thread_opts o = {.name = "forker"};
    CHECK_OK(ct_thread_new(&forking_thread, forker_target, &status, &o));
    CHECK_OK(ct_thread_start(forking_thread));
    join_free(forking_thread);
    CHECK_EQ(status, 0);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ct_event_set(&fork_probes[i].go));
        join_free(fork_threads[i]);
    }
}

// clang-format off
CT_SUITE(thread) = {
    {"start then join runs the target", start_join_runs_target},
    {"start twice, join before start", start_twice_and_join_before_start},
    {"join self", join_self},
    {"join with timeout, then join", join_timeout_then_join},
    {"many joiners", many_joiners},
    {"idents unique and kept", idents_unique_and_kept},
    {"default names", default_names},
    {"OS names", os_names},
    {"bad input", bad_input},
    {"stack sizes", stack_sizes},
    {"daemon inheritance", daemon_inheritance},
    {"registry", registry},
    {"dummy threads", dummy_threads},
    {"excepthook", excepthook},
    {"thread exit", thread_exit},
    {"exit from the hook, self-free at the end", unusual_ends},
    {"locals destroyed before join", locals_destroyed_before_join},
    {"free running and unstarted", free_running_and_unstarted},
    {"shutdown from main", shutdown_from_main},
    {"shutdown from two threads", shutdown_from_two_threads},
    {"exit joins non-daemon threads only", exit_join_rules},
    {"start refused by the OS", start_refused_by_the_os},
    {"fork with threads running", fork_with_threads_running},
    {"fork from a thread", fork_from_a_thread},
    {"fork after an unjoined end", fork_after_an_unjoined_end},
    {0},
};
// clang-format on
