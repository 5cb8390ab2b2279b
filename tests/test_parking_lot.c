// The parking lot's own contract, below the primitives: FIFO order, exact
// unpark counts, tokens, validate, timeouts that never lose a wake-up, and
// keys that share a bucket.
#include "harness/test.h"

#include <stdatomic.h>
#include <unistd.h>

#include "sync/parking_lot.h"
#include "sync/spin.h"

static int key_word; // an address to park on
static atomic_int started;

typedef struct parker_arg {
    const void *key;
    int id;
    ct_duration timeout;
    int rc;
    uintptr_t token;
    atomic_int *log;     // order in which threads were woken
    atomic_int *log_len; // entries in log
} parker_arg;

static void *
park_thread(void *p)
{
    parker_arg *a = p;
    ct__park_args args = {.deadline = ct__deadline_after(a->timeout)};
    atomic_fetch_add(&started, 1);
    a->rc = ct__park(a->key, &args, &a->token);
    if (a->log != NULL) {
        int at = atomic_fetch_add(a->log_len, 1);
        atomic_store(&a->log[at], a->id);
    }
    return NULL;
}

// Waits until `n` threads are queued on `key`, by asking the parking lot
// itself: an unpark of 0 threads reports have_more.
static uintptr_t
count_cb(void *arg, ct__unpark_result r)
{
    *(bool *)arg = r.have_more;
    return 0;
}

static bool
someone_waits(const void *key)
{
    bool more = false;
    ct__unpark(key, 0, count_cb, &more);
    return more;
}

static void
wait_started(int n)
{
    while (atomic_load(&started) < n) {
        sched_yield();
    }
}

static atomic_int queued; // threads that reached before_sleep (are queued)

static void
note_queued(void *arg)
{
    (void)arg;
    atomic_fetch_add(&queued, 1);
}

static void *
park_fifo_thread(void *p)
{
    parker_arg *a = p;
    ct__park_args args = {.before_sleep = note_queued,
                          .deadline = CT__NO_DEADLINE};
    a->rc = ct__park(a->key, &args, &a->token);
    // Threads are woken one at a time, each only after the previous one
    // logged, so the slot is free; publish the entry before the count.
    int at = atomic_load(a->log_len);
    atomic_store(&a->log[at], a->id);
    atomic_store(a->log_len, at + 1);
    return NULL;
}

// Parks N threads running fn, each queued (before_sleep ran) before the
// next starts, then wakes them one at a time and checks they come out in
// the order `want` (by id).
static void
wake_order(void *(*fn)(void *), const int *want)
{
    enum { N = 6 };
    parker_arg a[N];
    pthread_t t[N];
    atomic_int log[N];
    atomic_int len = 0;
    atomic_store(&queued, 0);
    for (int i = 0; i < N; i++) {
        a[i] = (parker_arg){&key_word, i, CT_FOREVER, -1, 0, log, &len};
        t[i] = ct_test_spawn(fn, &a[i]);
        while (atomic_load(&queued) < i + 1) {
            sched_yield();
        }
    }
    // Wake one at a time, waiting for each to log before the next.
    for (int i = 0; i < N; i++) {
        CHECK_EQ(ct__unpark(&key_word, 1, NULL, NULL), 1);
        while (atomic_load(&len) < i + 1) {
            sched_yield();
        }
        CHECK_EQ(atomic_load(&log[i]), want[i]);
    }
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
        CHECK_EQ(a[i].rc, CT__PARK_UNPARKED);
    }
}

static void
unpark_wakes_in_fifo_order(void)
{
    static const int want[] = {0, 1, 2, 3, 4, 5};
    wake_order(park_fifo_thread, want);
}

// Waiters that park with `front` go ahead of the others, in their own
// arrival order: ids 1, 3 and 4 in front here.
static const bool front_ids[6] = {false, true, false, true, true, false};

static void *
park_front_thread(void *p)
{
    parker_arg *a = p;
    ct__park_args args = {.before_sleep = note_queued,
                          .deadline = CT__NO_DEADLINE,
                          .front = front_ids[a->id]};
    a->rc = ct__park(a->key, &args, &a->token);
    int at = atomic_load(a->log_len);
    atomic_store(&a->log[at], a->id);
    atomic_store(a->log_len, at + 1);
    return NULL;
}

static void
front_waiters_go_first(void)
{
    static const int want[] = {1, 3, 4, 0, 2, 5};
    wake_order(park_front_thread, want);
}

static void
unpark_n_wakes_exactly_n(void)
{
    enum { N = 6 };
    parker_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (parker_arg){&key_word, i, CT_FOREVER, -1, 0, NULL, NULL};
        t[i] = ct_test_spawn(park_thread, &a[i]);
    }
    wait_started(N);
    size_t woken = 0;
    // Everyone eventually queues; unpark 2 at a time and never more.
    while (woken < N) {
        size_t n = ct__unpark(&key_word, 2, NULL, NULL);
        CHECK(n <= 2);
        woken += n;
        if (n == 0) {
            sched_yield();
        }
    }
    CHECK_EQ(woken, N);
    CHECK_EQ(ct__unpark(&key_word, SIZE_MAX, NULL, NULL), 0);
    for (int i = 0; i < N; i++) {
        ct_test_join(t[i]);
    }
    atomic_store(&started, 0);
}

static uintptr_t
token_cb(void *arg, ct__unpark_result r)
{
    (void)arg;
    return r.unparked == 1 ? 42 : 7;
}

static void
token_reaches_the_woken_thread(void)
{
    parker_arg a = {&key_word, 0, CT_FOREVER, -1, 0, NULL, NULL};
    pthread_t t = ct_test_spawn(park_thread, &a);
    while (!someone_waits(&key_word)) {
        sched_yield();
    }
    CHECK_EQ(ct__unpark(&key_word, 1, token_cb, NULL), 1);
    ct_test_join(t);
    CHECK_EQ(a.rc, CT__PARK_UNPARKED);
    CHECK_EQ(a.token, 42);
}

static bool
refuse(void *arg)
{
    (void)arg;
    return false;
}

static void
validate_false_does_not_park(void)
{
    ct__park_args args = {.validate = refuse, .deadline = CT__NO_DEADLINE};
    CHECK_EQ(ct__park(&key_word, &args, NULL), CT__PARK_INVALID);
    CHECK(!someone_waits(&key_word));
}

static bool timed_out_more = true;
static int timed_out_calls;

static void
note_timed_out(void *arg, bool have_more)
{
    (void)arg;
    timed_out_calls++;
    timed_out_more = have_more;
}

static void
deadline_times_out_and_leaves_the_queue(void)
{
    int64_t t0 = ct_test_now();
    ct__park_args args = {
        .timed_out = note_timed_out,
        .deadline = ct__deadline_after(CT_MILLIS(30)),
        .spin = true,
    };
    CHECK_EQ(ct__park(&key_word, &args, NULL), CT_ETIMEDOUT);
    int64_t elapsed = ct_test_now() - t0;
    CHECK(elapsed >= CT_MILLIS(30));
    CHECK(elapsed < CT_MILLIS(30) + CT_SECONDS(2) * ct_test_scale());
    CHECK_EQ(timed_out_calls, 1);
    CHECK(!timed_out_more);
    CHECK(!someone_waits(&key_word));
}

static void
past_deadline_returns_at_once(void)
{
    ct__park_args args = {.deadline = ct__deadline_after(-5)};
    CHECK_EQ(ct__park(&key_word, &args, NULL), CT_ETIMEDOUT);
    args.deadline = INT64_MIN;
    CHECK_EQ(ct__park(&key_word, &args, NULL), CT_ETIMEDOUT);
}

// Timeouts racing unparks: every unpark that reports a thread must be seen
// by that thread as CT__PARK_UNPARKED, never lost to its timeout.
static void
unpark_racing_timeout_is_never_lost(void)
{
    enum { ROUNDS = 300 };
    int lost = 0;
    // Each round starts a thread; on a loaded machine that is slow, so the
    // test stops after 1.5 s whatever the count.
    int64_t end = ct_test_now() + CT_MILLIS(1500);
    for (int i = 0; i < ROUNDS && ct_test_now() < end; i++) {
        parker_arg a = {&key_word, 0,   CT_MICROS(50 + (i % 7) * 20), -1, 0,
                        NULL,      NULL};
        pthread_t t = ct_test_spawn(park_thread, &a);
        wait_started(1);
        size_t n = 0;
        for (int spin = 0; spin < (i % 5) * 40; spin++) {
            sched_yield();
        }
        n = ct__unpark(&key_word, 1, NULL, NULL);
        ct_test_join(t);
        if (n == 1 && a.rc != CT__PARK_UNPARKED) {
            lost++;
        }
        if (n == 0) {
            CHECK(a.rc == CT_ETIMEDOUT || a.rc == CT__PARK_UNPARKED);
        }
        atomic_store(&started, 0);
    }
    CHECK_EQ(lost, 0);
}

// Keys in the same bucket (there are 512): unparking one key never wakes a
// thread parked on another.
static int keys[2048];

static void
keys_sharing_a_bucket_stay_apart(void)
{
    enum { N = 8 };
    parker_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (parker_arg){&keys[i * 256], i, CT_FOREVER, -1, 0, NULL, NULL};
        t[i] = ct_test_spawn(park_thread, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        while (!someone_waits(&keys[i * 256])) {
            sched_yield();
        }
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(ct__unpark(&keys[i * 256], SIZE_MAX, NULL, NULL), 1);
        ct_test_join(t[i]);
        CHECK_EQ(a[i].rc, CT__PARK_UNPARKED);
        for (int j = i + 1; j < N; j++) {
            CHECK(someone_waits(&keys[j * 256]));
        }
    }
}

static void
thread_ids_are_distinct_and_stable(void)
{
    uintptr_t me = ct__thread_id();
    CHECK(me != 0);
    CHECK_EQ(ct__thread_id(), me);
}

static void *
record_id(void *p)
{
    *(uintptr_t *)p = ct__thread_id();
    return NULL;
}

static void
thread_ids_are_not_reused(void)
{
    uintptr_t ids[16];
    for (int i = 0; i < 16; i++) {
        ct_test_join(ct_test_spawn(record_id, &ids[i]));
        CHECK(ids[i] != 0);
        CHECK(ids[i] != ct__thread_id());
        for (int j = 0; j < i; j++) {
            CHECK(ids[i] != ids[j]);
        }
    }
}

static void
spin_budget_is_bounded(void)
{
    ct__spin s = CT__SPIN_INIT;
    int rounds = 0;
    int64_t t0 = ct_test_now();
    while (ct__spin_next(&s)) {
        rounds++;
        CHECK(rounds < 1000);
    }
    // Once false, always false.
    CHECK(!ct__spin_next(&s));
    ct__spin_end(&s);
    // The budget is about 10 us of waiting; allow a lot for a loaded machine.
    CHECK(ct_test_now() - t0 < CT_MILLIS(200) * ct_test_scale());
}

// Every primitive gives its spin slot back on every path: after contended
// locks (spinning cut short by PARKED), timeouts and wake-ups, no slot is
// left taken, or spinning would stop for the whole process.
static ct_lock slot_lock;
static ct_event slot_event;

static void *
slot_worker(void *p)
{
    (void)p;
    for (int i = 0; i < 3000; i++) {
        int rc = ct_lock_acquire(&slot_lock, (i % 3) ? CT_FOREVER : 1000);
        if (rc == 0) {
            // Hold it for a few microseconds, so that arrivals spin and see
            // PARKED appear while they do.
            for (volatile int k = 0; k < 2000; k++) {
            }
            CHECK_OK(ct_lock_release(&slot_lock));
        }
        if (i % 1000 == 0) {
            CHECK_RC(ct_event_wait(&slot_event, CT_MICROS(20)), CT_ETIMEDOUT);
        }
    }
    return NULL;
}

static void
spin_slots_are_always_returned(void)
{
    ct_test_run_threads(4, slot_worker, NULL, 0);
    CHECK_EQ(ct__spin_active(), 0);
}

// fork() while another thread keeps taking one bucket's lock: in the child
// that thread is gone, and without the at-fork reset the child would block
// forever on a lock it inherited held. Each child parks on a key of that
// bucket with a 1 ms deadline and must come back with CT_ETIMEDOUT.
static int fork_key;
static atomic_int fork_stop;

static void *
bucket_hammer(void *p)
{
    (void)p;
    while (!atomic_load(&fork_stop)) {
        ct__unpark(&fork_key, 1, NULL, NULL);
    }
    return NULL;
}

static void
fork_child_can_park(void)
{
    pthread_t t = ct_test_spawn(bucket_hammer, NULL);
    for (int i = 0; i < 100; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            ct__park_args args = {.deadline = ct__deadline_after(CT_MILLIS(1))};
            int rc = ct__park(&fork_key, &args, NULL);
            _exit(rc == CT_ETIMEDOUT && ct__spin_active() == 0 ? 0 : 1);
        }
        // Wait for the child, but never forever: a hung child is the bug.
        int status = ct_test_wait_child(pid, CT_SECONDS(2) * ct_test_scale());
        if (status == -2) {
            atomic_store(&fork_stop, 1);
            ct_test_join(t);
            ct_test_fail(__FILE__, __LINE__, "fork child %d hung parking", i);
        }
        CHECK_EQ(status, 0);
    }
    atomic_store(&fork_stop, 1);
    ct_test_join(t);
}

CT_SUITE(parking_lot) = {
    {"fork child can park", fork_child_can_park},
    {"spin slots are always returned", spin_slots_are_always_returned},
    {"unpark wakes in FIFO order", unpark_wakes_in_fifo_order},
    {"front waiters go first", front_waiters_go_first},
    {"unpark n wakes exactly n", unpark_n_wakes_exactly_n},
    {"token reaches the woken thread", token_reaches_the_woken_thread},
    {"validate false does not park", validate_false_does_not_park},
    {"deadline times out and leaves the queue",
     deadline_times_out_and_leaves_the_queue},
    {"past deadline returns at once", past_deadline_returns_at_once},
    {"unpark racing timeout is never lost",
     unpark_racing_timeout_is_never_lost},
    {"keys sharing a bucket stay apart", keys_sharing_a_bucket_stay_apart},
    {"thread ids are distinct and stable", thread_ids_are_distinct_and_stable},
    {"thread ids are not reused", thread_ids_are_not_reused},
    {"spin budget is bounded", spin_budget_is_bounded},
    {0},
};
