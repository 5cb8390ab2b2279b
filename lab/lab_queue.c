// `ctlab queue`: the lesson's producer-consumer on ct_queue (3 producers, 2
// consumers, maxsize 10), with every item checked to arrive exactly once and
// producers seen to block on a full queue; a table of shapes beside a naive
// mutex-and-two-conditions ring built here as the baseline (and python3's
// queue.Queue); and task_done/join.
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cthreading.h>

#include "lab.h"

// --- The baseline: a naive bounded ring
// ---------------------------------------

// What a textbook bounded buffer looks like: one pthread mutex, a condition
// for "not empty" and one for "not full", and a closed flag that ends the
// consumers. Every put and get takes the mutex.
typedef struct naive {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **slots;
    size_t cap, head, count; // guarded by mu
    bool closed;             // guarded by mu
} naive;

static int
naive_init(naive *n, size_t cap)
{
    memset(n, 0, sizeof *n);
    n->slots = malloc(cap * sizeof *n->slots);
    if (n->slots == NULL) {
        return CT_ENOMEM;
    }
    n->cap = cap;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->not_empty, NULL);
    pthread_cond_init(&n->not_full, NULL);
    return 0;
}

static void
naive_destroy(naive *n)
{
    pthread_cond_destroy(&n->not_full);
    pthread_cond_destroy(&n->not_empty);
    pthread_mutex_destroy(&n->mu);
    free(n->slots);
}

static void
naive_put(naive *n, void *item)
{
    pthread_mutex_lock(&n->mu);
    while (n->count == n->cap) {
        pthread_cond_wait(&n->not_full, &n->mu);
    }
    n->slots[(n->head + n->count) % n->cap] = item;
    n->count++;
    pthread_cond_signal(&n->not_empty);
    pthread_mutex_unlock(&n->mu);
}

// Returns false once the ring is closed and empty.
static bool
naive_get(naive *n, void **item)
{
    pthread_mutex_lock(&n->mu);
    while (n->count == 0 && !n->closed) {
        pthread_cond_wait(&n->not_empty, &n->mu);
    }
    bool got = n->count > 0;
    if (got) {
        *item = n->slots[n->head];
        n->head = (n->head + 1) % n->cap;
        n->count--;
        pthread_cond_signal(&n->not_full);
    }
    pthread_mutex_unlock(&n->mu);
    return got;
}

static void
naive_close(naive *n)
{
    pthread_mutex_lock(&n->mu);
    n->closed = true;
    pthread_cond_broadcast(&n->not_empty);
    pthread_mutex_unlock(&n->mu);
}

// --- One producer-consumer run ----------------------------------------------

typedef enum { CTQ, NAIVE } impl;

// A run's size and what its threads share. Item k (0 .. total-1) travels as
// the pointer k + 1; seen[k] counts its arrivals.
typedef struct shared {
    impl how;
    int producers, consumers;
    long per_producer;
    int64_t maxsize; // <= 0: unbounded
    bool watch;      // the lesson's checks: try first (count Full), occupancy
    ct_queue *q;
    naive ring;
    ct_barrier start;
    atomic_int running; // threads past the barrier
    atomic_uchar *seen;
    // A lower bound of the items in the queue: +1 after a put returned, -1
    // before a get starts. It can only under-count, so a value above
    // maxsize would prove the queue overfilled.
    _Alignas(64) atomic_long occupancy;
    atomic_long max_occupancy;
} shared;

typedef struct role {
    shared *s;
    int index;
    bool producer;
    long moved, full; // items put or got; puts that found the queue full
    uint64_t sum;     // checksum of the items moved
    long bad;         // items that were never put (a corrupted pointer)
    int err;          // a ct error from put or get
    int64_t start_ns, end_ns;
} role;

// splitmix64's finalizer: a checksum that notices a lost, doubled or
// swapped item, unlike a plain sum of indexes.
static uint64_t
mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static void
note_occupancy(shared *s)
{
    long v = atomic_fetch_add(&s->occupancy, 1) + 1;
    long max = atomic_load_explicit(&s->max_occupancy, memory_order_relaxed);
    while (v > max &&
           !atomic_compare_exchange_weak(&s->max_occupancy, &max, v)) {
    }
}

static int
produce(role *r)
{
    shared *s = r->s;
    long base = r->index * s->per_producer;
    for (long i = 0; i < s->per_producer; i++) {
        uint64_t k = (uint64_t)(base + i);
        void *item = (void *)(uintptr_t)(k + 1);
        if (s->how == NAIVE) {
            naive_put(&s->ring, item);
        } else {
            int rc = CT_ETIMEDOUT;
            if (s->watch) {
                rc = ct_queue_put_nowait(s->q, item);
                r->full += rc == CT_ETIMEDOUT;
            }
            if (rc == CT_ETIMEDOUT) {
                rc = ct_queue_put(s->q, item, CT_FOREVER);
            }
            if (rc != 0) {
                r->err = rc;
                return 1;
            }
            if (s->watch) {
                note_occupancy(s);
            }
        }
        r->sum += mix(k);
        r->moved++;
    }
    return 0;
}

static int
consume(role *r)
{
    shared *s = r->s;
    uint64_t total = (uint64_t)s->producers * (uint64_t)s->per_producer;
    for (;;) {
        void *item;
        if (s->how == NAIVE) {
            if (!naive_get(&s->ring, &item)) {
                break;
            }
        } else {
            if (s->watch) {
                atomic_fetch_sub(&s->occupancy, 1);
            }
            int rc = ct_queue_get(s->q, &item, CT_FOREVER);
            if (rc != 0) {
                if (s->watch) {
                    atomic_fetch_add(&s->occupancy, 1);
                }
                // CT_ESHUTDOWN: the producers are done and the queue is
                // drained, the end of the stream.
                r->err = rc == CT_ESHUTDOWN ? 0 : rc;
                break;
            }
        }
        uint64_t k = (uint64_t)(uintptr_t)item - 1;
        if (k >= total) {
            r->bad++;
            continue;
        }
        atomic_fetch_add_explicit(&s->seen[k], 1, memory_order_relaxed);
        r->sum += mix(k);
        r->moved++;
    }
    return r->err != 0;
}

static int
role_main(void *arg)
{
    role *r = arg;
    if (ct_barrier_wait(&r->s->start, CT_FOREVER) < 0) {
        return 1; // main aborted the barrier: a sibling failed to start
    }
    // The barrier wakes its sleepers one by one: on a short run the first
    // ones would be done before the last start. So each yields until all
    // are running, as in `ctlab race`.
    shared *s = r->s;
    atomic_fetch_add(&s->running, 1);
    while (atomic_load(&s->running) < s->producers + s->consumers) {
        sched_yield();
    }
    r->start_ns = lab_now_ns();
    int rc = r->producer ? produce(r) : consume(r);
    r->end_ns = lab_now_ns();
    return rc;
}

// What one run measured.
typedef struct outcome {
    long long expected, received, duplicated, missing, bad, full;
    bool checksum_ok;
    long max_held; // the occupancy bound's maximum (watch only)
    double secs, items_per_s;
} outcome;

// Runs one shape with `how` and fills *o. Returns 0, or a ct error code
// (no memory, a thread that could not start, a queue call that failed).
static int
run_shape(lab_ctx *ctx, impl how, int producers, int consumers, int64_t maxsize,
          long per_producer, bool watch, outcome *o)
{
    int n = producers + consumers;
    long long total = (long long)producers * per_producer;
    shared *s = calloc(1, sizeof *s);
    role *roles = calloc((size_t)n, sizeof *roles);
    ct_thread **t = calloc((size_t)n, sizeof *t);
    atomic_uchar *seen = calloc((size_t)total, sizeof *seen);
    int rc =
        s != NULL && roles != NULL && t != NULL && seen != NULL ? 0 : CT_ENOMEM;
    bool have_queue = false, have_barrier = false;
    if (rc == 0) {
        *s = (shared){.how = how,
                      .producers = producers,
                      .consumers = consumers,
                      .per_producer = per_producer,
                      .maxsize = maxsize,
                      .watch = watch && how == CTQ,
                      .seen = seen};
        if (how == CTQ) {
            rc = ct_queue_new(&s->q, CT_QUEUE_FIFO, maxsize);
        } else {
            // Unbounded: a ring that holds the whole run never fills.
            rc = naive_init(&s->ring,
                            maxsize > 0 ? (size_t)maxsize : (size_t)total);
        }
        have_queue = rc == 0;
    }
    if (rc == 0) {
        rc = ct_barrier_init(&s->start, n, NULL, NULL, CT_FOREVER);
        have_barrier = rc == 0;
    }
    // Consumers first (roles[0 .. consumers-1]), then producers.
    int started = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        role *r = &roles[i];
        r->s = s;
        r->producer = i >= consumers;
        r->index = r->producer ? i - consumers : i;
    }
    if (rc == 0) {
        rc = lab_spawn(t, n, role_main, roles, sizeof *roles, &s->start,
                       &started);
    }
    lab_progress_begin(ctx, "queue: %dp/%dc, %s", producers, consumers,
                       how == CTQ ? "ct_queue" : "naive ring");
    // Producers first; then the end of the stream for the consumers.
    int first_producer = started > consumers ? consumers : started;
    (void)lab_join(ctx, t + first_producer, started - first_producer);
    if (have_queue) {
        if (how == CTQ) {
            (void)ct_queue_shutdown(s->q, false);
        } else {
            naive_close(&s->ring);
        }
    }
    (void)lab_join(ctx, t, started < consumers ? started : consumers);
    lab_progress_end(ctx);

    if (rc == 0) {
        memset(o, 0, sizeof *o);
        o->expected = total;
        uint64_t put_sum = 0, got_sum = 0;
        int64_t first = roles[0].start_ns, last = roles[0].end_ns;
        for (int i = 0; i < n; i++) {
            role *r = &roles[i];
            rc = rc != 0 ? rc : r->err;
            first = r->start_ns < first ? r->start_ns : first;
            last = r->end_ns > last ? r->end_ns : last;
            if (r->producer) {
                put_sum += r->sum;
                o->full += r->full;
            } else {
                got_sum += r->sum;
                o->received += r->moved;
                o->bad += r->bad;
            }
        }
        for (long long k = 0; k < total; k++) {
            unsigned char c = atomic_load(&seen[k]);
            o->missing += c == 0;
            o->duplicated += c > 1;
        }
        o->checksum_ok = put_sum == got_sum;
        o->max_held = atomic_load(&s->max_occupancy);
        o->secs = (double)(last - first) / 1e9;
        o->items_per_s = (double)total / fmax(o->secs, 1e-9);
    }
    if (have_barrier) {
        ct_barrier_destroy(&s->start);
    }
    if (have_queue) {
        if (how == CTQ) {
            ct_queue_free(s->q);
        } else {
            naive_destroy(&s->ring);
        }
    }
    free(seen);
    free(t);
    free(roles);
    free(s);
    return rc;
}

static bool
exactly_once(const outcome *o)
{
    return o->received == o->expected && o->duplicated == 0 &&
           o->missing == 0 && o->bad == 0 && o->checksum_ok;
}

// --- Experiment 1: the lesson ------------------------------------------------

// A single thread fills an empty queue with put_nowait until it refuses:
// exactly maxsize items go in. Returns how many did, or a ct error.
static long
fill_probe(int64_t maxsize, bool *full_after)
{
    ct_queue *q;
    int rc = ct_queue_new(&q, CT_QUEUE_FIFO, maxsize);
    if (rc != 0) {
        return rc;
    }
    long accepted = 0;
    while (accepted <= maxsize + 1 &&
           ct_queue_put_nowait(q, (void *)(uintptr_t)(accepted + 1)) == 0) {
        accepted++;
    }
    *full_after = ct_queue_full(q) && (long)ct_queue_qsize(q) == accepted;
    ct_queue_free(q);
    return accepted;
}

static int
lesson(lab_ctx *ctx, long per_producer)
{
    const int producers = 3, consumers = 2;
    const int64_t maxsize = 10;
    char title[160];
    snprintf(title, sizeof title,
             "queue: %d producers put %ld items each into a ct_queue of "
             "maxsize %lld; %d consumers get them",
             producers, per_producer, (long long)maxsize, consumers);
    lab_experiment_begin(ctx, "queue", title);
    lab_param_num(ctx, "producers", producers);
    lab_param_num(ctx, "consumers", consumers);
    lab_param_num(ctx, "maxsize", (double)maxsize);
    lab_param_num(ctx, "per_producer", (double)per_producer);

    bool full_after = false;
    long accepted = fill_probe(maxsize, &full_after);
    if (accepted < 0) {
        return lab_fail(ctx, "ct_queue_new: %s", ct_strerror((int)accepted));
    }
    outcome o;
    int rc = run_shape(ctx, CTQ, producers, consumers, maxsize, per_producer,
                       true, &o);
    if (rc != 0) {
        return lab_fail(ctx, "the producer-consumer run failed: %s",
                        ct_strerror(rc));
    }
    lab_param_num(ctx, "fill_accepted", (double)accepted);

    lab_table *t = lab_table_new(ctx, "run", NULL);
    lab_table_col(t, "put", "put", "items");
    lab_table_col(t, "received", "received", "items");
    lab_table_col(t, "duplicated", "twice", "items");
    lab_table_col(t, "missing", "missing", "items");
    lab_table_col(t, "checksum_ok", "checksum", NULL);
    lab_table_col(t, "full", "found full", "puts");
    lab_table_col(t, "max_held", "max held", "items");
    lab_table_col(t, "items_per_s", "rate", "items/s");
    lab_table_row(t);
    lab_cell_int(t, o.expected);
    lab_cell_int(t, o.received);
    lab_cell_int(t, o.duplicated);
    lab_cell_int(t, o.missing);
    lab_cell_str(t, o.checksum_ok ? "ok" : "WRONG");
    lab_cell_int(t, o.full);
    lab_cell_int(t, o.max_held);
    lab_cell_num(t, o.items_per_s, 0);
    lab_table_print(ctx, t);
    lab_note(ctx, "found full: puts that first tried put_nowait and got "
                  "CT_ETIMEDOUT (queue.Full), then blocked in put.");
    lab_note(ctx, "max held: a lower bound of the queue's contents, counted "
                  "after each put returned and before each get began.");

    char yes[320], no[320];
    bool once = exactly_once(&o);
    snprintf(yes, sizeof yes,
             "Every one of the %lld items arrived exactly once, and the "
             "checksums of what was put and what was got agree.",
             o.expected);
    snprintf(no, sizeof no,
             "Of %lld items %lld arrived, %lld twice, %lld never, %lld "
             "corrupted; checksum %s: a bug in ct_queue!",
             o.expected, o.received, o.duplicated, o.missing, o.bad,
             o.checksum_ok ? "ok" : "wrong");
    lab_claim(ctx, "every item arrives exactly once", once, yes, no);

    bool bounded = accepted == maxsize && full_after && o.max_held <= maxsize;
    snprintf(yes, sizeof yes,
             "The queue never held more than maxsize: an empty one took "
             "exactly %ld put_nowait calls before refusing, and during the "
             "run at least %ld items were seen in it at once, never more "
             "than %lld.",
             accepted, o.max_held, (long long)maxsize);
    snprintf(no, sizeof no,
             "The bound did not hold: an empty queue took %ld put_nowait "
             "calls (maxsize %lld), and %ld items were seen in it at once!",
             accepted, (long long)maxsize, o.max_held);
    lab_claim(ctx, "the queue never holds more than maxsize", bounded, yes, no);

    double full_pct = 100.0 * (double)o.full / (double)o.expected;
    snprintf(yes, sizeof yes,
             "Producers ran ahead and the full queue held them back: %lld "
             "of %lld puts (%.1f%%) found it full and blocked until a "
             "consumer made room.",
             o.full, o.expected, full_pct);
    snprintf(no, sizeof no,
             "No put found the queue full this time: the consumers kept "
             "up with the producers.");
    lab_claim(ctx, "a full queue blocks the producers", o.full > 0, yes, no);
    lab_note(ctx, "%.0f items/s through the lesson's queue.", o.items_per_s);
    int end = lab_experiment_end(ctx);
    return !once || !bounded ? lab_fail(ctx, "ct_queue broke a guarantee")
                             : end;
}

// --- Experiment 2: shapes against the naive ring and Python -----------------

static const char python_queue_script[] =
    "import sys, threading, time, queue\n"
    "p, c, m, n = map(int, sys.argv[1:5])\n"
    "q = queue.Queue(m)\n"
    "got = []\n"
    "def producer(k):\n"
    "    for i in range(n):\n"
    "        q.put(k * n + i)\n"
    "def consumer():\n"
    "    s = cnt = 0\n"
    "    while True:\n"
    "        x = q.get()\n"
    "        if x is None:\n"
    "            break\n"
    "        s += x\n"
    "        cnt += 1\n"
    "    got.append((cnt, s))\n"
    "ps = [threading.Thread(target=producer, args=(k,)) for k in range(p)]\n"
    "cs = [threading.Thread(target=consumer) for _ in range(c)]\n"
    "t0 = time.perf_counter()\n"
    "for t in cs + ps: t.start()\n"
    "for t in ps: t.join()\n"
    "for _ in cs: q.put(None)\n"
    "for t in cs: t.join()\n"
    "dt = time.perf_counter() - t0\n"
    "total = p * n\n"
    "cnt = sum(g[0] for g in got)\n"
    "ok = int(cnt == total and sum(g[1] for g in got) == "
    "total * (total - 1) // 2)\n"
    "v = sys.version_info\n"
    "print(v[0], v[1], total, ok, dt)\n";

// Runs the lesson's shape in python3. Returns its items/s, or NaN (and
// records why, and in `note` the line to print under the table) when
// python3 is absent or failed.
static double
python_rate(lab_ctx *ctx, long per_producer, char *note, size_t note_len)
{
    char n_arg[32];
    snprintf(n_arg, sizeof n_arg, "%ld", per_producer);
    const char *args[] = {"3", "2", "10", n_arg, NULL};
    double v[5];
    char version[16];
    if (!lab_python_column(ctx, "3p/2c", python_queue_script, args, v, 5,
                           version, sizeof version, note, note_len)) {
        return NAN;
    }
    if (v[3] != 1) {
        lab_param_str(ctx, "python_why", "python3's items did not add up");
        snprintf(note, note_len, "python3: failed (its items did not add up).");
        return NAN;
    }
    lab_param_num(ctx, "python_items", v[2]);
    return v[2] / fmax(v[4], 1e-9);
}

typedef struct shape {
    const char *key;
    int producers, consumers;
    int64_t maxsize;
} shape;

static int
shapes(lab_ctx *ctx, long items, int threads)
{
    const shape list[] = {
        {"lesson", 3, 2, 10},
        {"1p1c_unbounded", 1, 1, 0},
        {"1p1c_maxsize1", 1, 1, 1},
        {"many", threads, threads, 100},
    };
    enum { NSHAPES = sizeof list / sizeof list[0] };
    char title[160];
    snprintf(title, sizeof title,
             "queue shapes: %ld items each, ct_queue vs a mutex + 2 "
             "condition variables ring",
             items);
    lab_experiment_begin(ctx, "queue_shapes", title);
    lab_param_num(ctx, "items", (double)items);
    lab_param_num(ctx, "threads", threads);

    outcome o[NSHAPES][2];
    bool all_once = true;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *sh = &list[i];
        long per = items / sh->producers;
        per = per < 1 ? 1 : per;
        for (int h = 0; h < 2; h++) {
            int rc =
                run_shape(ctx, h == 0 ? CTQ : NAIVE, sh->producers,
                          sh->consumers, sh->maxsize, per, false, &o[i][h]);
            if (rc != 0) {
                return lab_fail(ctx, "shape %s failed: %s", sh->key,
                                ct_strerror(rc));
            }
            all_once = all_once && exactly_once(&o[i][h]);
        }
    }
    long py_per = (long)lab_pick(ctx, 1000, 10000, 50000);
    char py_note[200] = "";
    double py = python_rate(ctx, py_per, py_note, sizeof py_note);

    lab_table *t = lab_table_new(ctx, "shapes", NULL);
    lab_table_col(t, "shape", "shape", NULL);
    lab_table_col(t, "producers", "prod", NULL);
    lab_table_col(t, "consumers", "cons", NULL);
    lab_table_col(t, "maxsize", "maxsize", NULL);
    lab_table_col(t, "items", "items", NULL);
    lab_table_col(t, "ct_queue", "ct_queue", "items/s");
    lab_table_col(t, "naive", "mutex+2 conds", "items/s");
    lab_table_col(t, "ratio", "ratio", "x");
    lab_table_col(t, "exact", "each once", NULL);
    if (!isnan(py)) {
        lab_table_col(t, "python", "python3 Queue", "items/s");
    }
    double geo = 0;
    int faster = 0;
    for (int i = 0; i < NSHAPES; i++) {
        const shape *sh = &list[i];
        double ratio = o[i][0].items_per_s / o[i][1].items_per_s;
        geo += log(ratio);
        faster += ratio > 1;
        lab_table_row(t);
        lab_cell_str(t, sh->key);
        lab_cell_int(t, sh->producers);
        lab_cell_int(t, sh->consumers);
        if (sh->maxsize > 0) {
            lab_cell_int(t, sh->maxsize);
        } else {
            lab_cell_str(t, "inf");
        }
        lab_cell_int(t, o[i][0].expected);
        lab_cell_num(t, o[i][0].items_per_s, 0);
        lab_cell_num(t, o[i][1].items_per_s, 0);
        lab_cell_num(t, ratio, 2);
        lab_cell_str(
            t, exactly_once(&o[i][0]) && exactly_once(&o[i][1]) ? "yes" : "NO");
        if (!isnan(py)) {
            if (i == 0) {
                lab_cell_num(t, py, 0);
            } else {
                lab_cell_none(t);
            }
        }
    }
    lab_table_print(ctx, t);
    lab_note(ctx, "ratio: ct_queue's rate over the naive ring's, both "
                  "measured in this run; the unbounded naive ring is sized "
                  "to hold the whole run.");
    if (py_note[0] != '\0') {
        lab_note(ctx, "%s", py_note);
    }
    geo = exp(geo / NSHAPES);
    lab_param_num(ctx, "geomean_ratio", geo);

    char yes[320], no[320];
    snprintf(yes, sizeof yes,
             "Every item of every shape arrived exactly once, through both "
             "queues.");
    snprintf(no, sizeof no, "Some shape lost, doubled or corrupted items!");
    lab_claim(ctx, "every item arrives exactly once in every shape", all_once,
              yes, no);
    snprintf(yes, sizeof yes,
             "ct_queue moved items faster than the mutex-and-conditions "
             "ring in %d of %d shapes (geometric mean %.2fx).",
             faster, NSHAPES, geo);
    snprintf(no, sizeof no,
             "ct_queue was faster in only %d of %d shapes this time "
             "(geometric mean %.2fx): on a loaded or small machine the "
             "ranking can change.",
             faster, NSHAPES, geo);
    lab_claim(ctx, "ct_queue is faster than a mutex + 2 conditions ring",
              geo > 1 && faster * 2 > NSHAPES, yes, no);
    if (!isnan(py)) {
        snprintf(yes, sizeof yes,
                 "In the lesson's shape ct_queue moved %.0fx as many items "
                 "per second as python3's queue.Queue.",
                 o[0][0].items_per_s / py);
        snprintf(no, sizeof no,
                 "In the lesson's shape python3's queue.Queue kept up with "
                 "ct_queue (%.0f vs %.0f items/s).",
                 py, o[0][0].items_per_s);
        lab_claim(ctx, "ct_queue is faster than python3's queue.Queue",
                  o[0][0].items_per_s > py, yes, no);
    }
    int end = lab_experiment_end(ctx);
    return all_once ? end : lab_fail(ctx, "a queue lost or doubled items");
}

// --- Experiment 3: task_done and join ---------------------------------------

typedef struct worker_args {
    ct_queue *q;
    atomic_long *done;
    uint64_t sink;
    int err;
} worker_args;

static int
task_worker(void *arg)
{
    worker_args *w = arg;
    void *item;
    int rc;
    while ((rc = ct_queue_get(w->q, &item, CT_FOREVER)) == 0) {
        w->sink += mix((uint64_t)(uintptr_t)item); // the "work"
        // Counted before task_done: a join that returned early would see
        // fewer than N.
        atomic_fetch_add(w->done, 1);
        rc = ct_queue_task_done(w->q);
        if (rc != 0) {
            w->err = rc;
            return 1;
        }
    }
    w->err = rc == CT_ESHUTDOWN ? 0 : rc;
    return w->err != 0;
}

static int
join_experiment(lab_ctx *ctx, long items, int workers)
{
    char title[160];
    snprintf(title, sizeof title,
             "queue join: %ld items, %d workers each call task_done; "
             "join waits for all",
             items, workers);
    lab_experiment_begin(ctx, "queue_join", title);
    lab_param_num(ctx, "items", (double)items);
    lab_param_num(ctx, "workers", workers);

    ct_queue *q;
    int rc = ct_queue_new(&q, CT_QUEUE_FIFO, 0);
    if (rc != 0) {
        return lab_fail(ctx, "ct_queue_new: %s", ct_strerror(rc));
    }
    for (long i = 0; i < items && rc == 0; i++) {
        rc = ct_queue_put(q, (void *)(uintptr_t)(i + 1), CT_FOREVER);
    }
    int64_t unfinished_before = ct_queue_unfinished_tasks(q);
    int nowait = ct_queue_join(q, CT_NOWAIT);
    atomic_long done = 0;
    worker_args *w = calloc((size_t)workers, sizeof *w);
    ct_thread **t = calloc((size_t)workers, sizeof *t);
    rc = rc != 0 ? rc : w != NULL && t != NULL ? 0 : CT_ENOMEM;
    int started = 0;
    for (int i = 0; i < workers && rc == 0; i++) {
        w[i] = (worker_args){.q = q, .done = &done};
    }
    if (rc == 0) {
        rc = lab_spawn(t, workers, task_worker, w, sizeof *w, NULL, &started);
    }
    int64_t t0 = lab_now_ns();
    long done_at_join = -1;
    int joined = CT_ETIMEDOUT;
    if (rc == 0) {
        lab_progress_begin(ctx, "queue: join");
        while ((joined = ct_queue_join(q, CT_MILLIS(100))) == CT_ETIMEDOUT) {
            lab_progress_tick(ctx);
        }
        done_at_join = atomic_load(&done);
        lab_progress_end(ctx);
    }
    double join_ms = (double)(lab_now_ns() - t0) / 1e6;
    int64_t unfinished_after = ct_queue_unfinished_tasks(q);
    (void)ct_queue_shutdown(q, false); // the workers' gets end
    (void)lab_join(ctx, t, started);
    int extra = ct_queue_task_done(q); // one more than was put
    for (int i = 0; i < started; i++) {
        rc = rc != 0 ? rc : w[i].err;
    }
    free(t);
    free(w);
    ct_queue_free(q);
    if (rc != 0) {
        return lab_fail(ctx, "the join run failed: %s", ct_strerror(rc));
    }

    lab_table *tb = lab_table_new(ctx, "join", NULL);
    lab_table_col(tb, "step", "step", NULL);
    lab_table_col(tb, "returned", "returned", NULL);
    lab_table_col(tb, "unfinished", "unfinished", "tasks");
    lab_table_col(tb, "done", "done", "tasks");
    lab_table_row(tb);
    lab_cell_str(tb, "join(NOWAIT) after the puts");
    lab_cell_str(tb, ct_err_name(nowait));
    lab_cell_int(tb, unfinished_before);
    lab_cell_int(tb, 0);
    lab_table_row(tb);
    lab_cell_str(tb, "join(FOREVER) with workers");
    lab_cell_str(tb, ct_err_name(joined));
    lab_cell_int(tb, unfinished_after);
    lab_cell_int(tb, done_at_join);
    lab_table_row(tb);
    lab_cell_str(tb, "one task_done too many");
    lab_cell_str(tb, ct_err_name(extra));
    lab_cell_int(tb, 0);
    lab_cell_none(tb);
    lab_table_print(ctx, tb);
    lab_param_num(ctx, "done_at_join", (double)done_at_join);
    lab_param_num(ctx, "unfinished_before", (double)unfinished_before);
    lab_param_num(ctx, "unfinished_after", (double)unfinished_after);
    lab_param_str(ctx, "join_nowait", ct_err_name(nowait));
    lab_param_str(ctx, "join", ct_err_name(joined));
    lab_param_str(ctx, "extra_task_done", ct_err_name(extra));
    lab_param_num(ctx, "join_ms", join_ms);

    char yes[320], no[320];
    bool waited = nowait == CT_ETIMEDOUT && unfinished_before == items &&
                  joined == 0 && done_at_join == items && unfinished_after == 0;
    snprintf(yes, sizeof yes,
             "join waited: with %ld tasks unfinished it timed out at once, "
             "and it returned only when all %ld task_done calls had been "
             "made (%.1f ms).",
             items, done_at_join, join_ms);
    snprintf(no, sizeof no,
             "join did not wait for every task: %s with %lld unfinished "
             "before, then %s with %ld of %ld done!",
             ct_err_name(nowait), (long long)unfinished_before,
             ct_err_name(joined), done_at_join, items);
    lab_claim(ctx, "join returns only after every task_done", waited, yes, no);
    snprintf(yes, sizeof yes,
             "A task_done beyond the items put returns CT_EOVERFLOW "
             "(Python's ValueError).");
    snprintf(no, sizeof no, "A task_done beyond the items put returned %s.",
             ct_err_name(extra));
    lab_claim(ctx, "task_done called too often is refused",
              extra == CT_EOVERFLOW, yes, no);
    int end = lab_experiment_end(ctx);
    return waited ? end : lab_fail(ctx, "join did not wait for every task");
}

static const lab_opt opts[] = {
    {"--items", "N", 1, 1e8, true,
     "items each producer puts in the lesson's shape; each shape moves 3N "
     "(default 200000; tour 20000; --quick 1000)"},
    {0},
};

static int
run(lab_ctx *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int threads = lab_threads(ctx, 4);
    long items =
        (long)lab_opt_value(ctx, "--items", lab_pick(ctx, 1000, 20000, 2e5));
    int rc = lesson(ctx, items);
    if (rc != LAB_EXIT_OK) {
        return rc;
    }
    rc = shapes(ctx, 3 * items, threads);
    int rc2 = join_experiment(ctx, items, threads < 2 ? threads : 2);
    return rc > rc2 ? rc : rc2;
}

// `ctlab python`: python3's queue.Queue in the lesson's shape alone.
static int
python_only(lab_ctx *ctx)
{
    long per = (long)lab_pick(ctx, 1000, 10000, 50000);
    lab_experiment_begin(ctx, "queue_python",
                         "queue: python3's queue.Queue(10), 3 producers, 2 "
                         "consumers");
    char note[200] = "";
    double rate = python_rate(ctx, per, note, sizeof note);
    if (isnan(rate)) {
        lab_note(ctx, "%s", note);
        return lab_experiment_end(ctx);
    }
    lab_table *t = lab_table_new(ctx, "python", NULL);
    lab_table_col(t, "shape", "shape", NULL);
    lab_table_col(t, "items", "items", NULL);
    lab_table_col(t, "items_per_s", "rate", "items/s");
    lab_table_row(t);
    lab_cell_str(t, "3 producers, 2 consumers, maxsize 10");
    lab_cell_int(t, 3 * per);
    lab_cell_num(t, rate, 0);
    lab_table_print(ctx, t);
    char yes[200];
    snprintf(yes, sizeof yes,
             "python3's queue.Queue delivered all %ld items exactly once, "
             "at %.0f items/s.",
             3 * per, rate);
    // python_rate refuses a run whose items did not add up.
    lab_claim(ctx, "python: queue.Queue delivers every item exactly once", true,
              yes, "-");
    return lab_experiment_end(ctx);
}

const lab_cmd lab_cmd_queue = {
    .name = "queue",
    .summary = "producer-consumer through ct_queue: exactly once, bounded, "
               "fast; task_done/join",
    .run = run,
    .help =
        "The lesson's producer-consumer: 3 producers put N items each "
        "(--items) into a\nct_queue of maxsize 10 and 2 consumers get them "
        "until the queue is shut down.\nEvery item is checked to arrive "
        "exactly once (count and checksum), the queue\nto hold no more than "
        "maxsize, and producers to block when it is full. Then a\ntable of "
        "shapes (the lesson's, 1 producer and 1 consumer unbounded and with\n"
        "maxsize 1, and --threads producers and consumers with maxsize 100, "
        "default 4)\nmeasures items/s beside a naive ring of one mutex and "
        "two condition variables\nrun in the same process, and python3's "
        "queue.Queue in the lesson's shape when\ninstalled. Last, "
        "task_done/join: join returns only once every item was\nmarked done.",
    .opts = opts,
    .in_tour = true,
    .python = python_only,
};
