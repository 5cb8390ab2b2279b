// Tests for ct_local (Python's threading.local): a value per thread;
// destructors at thread exit (raw pthreads), on replace, on delete and at
// destroy, each value exactly once, also when exits race a destroy; slot
// reuse without stale values; many keys; destructors that set values; and
// fork() children whose registry lock still works.
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "harness/test.h"

#include "local.h" // src/local.h: the thread layer's exit call

// A value whose destructions are counted: each must end at exactly 1.
typedef struct tracked {
    atomic_int destroyed;
    pthread_t by; // the thread that destroyed it
} tracked;

static atomic_int dtor_calls;

static void
count_dtor(void *value)
{
    tracked *v = value;
    v->by = pthread_self();
    atomic_fetch_add(&v->destroyed, 1);
    atomic_fetch_add(&dtor_calls, 1);
}

static void
reset_counts(void)
{
    atomic_store(&dtor_calls, 0);
}

static void
init_forms(void)
{
    reset_counts();
    ct_local a = CT_LOCAL_INIT(count_dtor);
    // init must work on garbage, not only on zeroed memory.
    ct_local b;
    memset(&b, 0xff, sizeof b);
    CHECK_OK(ct_local_init(&b, count_dtor));
    ct_local *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    CHECK_OK(ct_local_init(c, count_dtor));

    ct_local *all[] = {&a, &b, c};
    tracked v[3][2];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 3; i++) {
        CHECK(ct_local_get(all[i]) == NULL);
        CHECK_OK(ct_local_set(all[i], &v[i][0]));
        CHECK(ct_local_get(all[i]) == &v[i][0]);
        CHECK_OK(ct_local_set(all[i], &v[i][1]));
        CHECK(ct_local_get(all[i]) == &v[i][1]);
        CHECK_EQ(atomic_load(&v[i][0].destroyed), 1);
    }
    for (int i = 0; i < 3; i++) {
        CHECK(ct_local_get(all[i]) == &v[i][1]);
        ct_local_destroy(all[i]);
        CHECK_EQ(atomic_load(&v[i][1].destroyed), 1);
        CHECK(ct_local_get(all[i]) == NULL);
    }
    CHECK_EQ(atomic_load(&dtor_calls), 6);
    free(c);
}

// A zeroed key is a key without a destructor: values are only forgotten.
static void
zeroed_key_works(void)
{
    reset_counts();
    ct_local z;
    memset(&z, 0, sizeof z);
    int x = 1, y = 2;
    CHECK(ct_local_get(&z) == NULL);
    CHECK_OK(ct_local_set(&z, &x));
    CHECK(ct_local_get(&z) == &x);
    CHECK_OK(ct_local_set(&z, &y));
    CHECK(ct_local_get(&z) == &y);
    CHECK_OK(ct_local_set(&z, NULL));
    CHECK(ct_local_get(&z) == NULL);
    CHECK_OK(ct_local_set(&z, &x));
    ct_local_destroy(&z);
    CHECK(ct_local_get(&z) == NULL);
    CHECK_EQ(z._index, 0);
}

static void
get_before_set_is_null(void)
{
    ct_local a = CT_LOCAL_INIT(count_dtor);
    // This thread has no table yet.
    CHECK(ct_local_get(&a) == NULL);
    // Deleting a value that was never set takes no slot.
    CHECK_OK(ct_local_set(&a, NULL));
    CHECK_EQ(a._index, 0);
    CHECK(ct_local_get(&a) == NULL);
    tracked v = {0};
    CHECK_OK(ct_local_set(&a, &v));
    // A thread with a table, a key without a slot.
    ct_local b = CT_LOCAL_INIT(count_dtor);
    CHECK(ct_local_get(&b) == NULL);
    ct_local_destroy(&b);
    ct_local_destroy(&a);
    CHECK_EQ(atomic_load(&v.destroyed), 1);
}

static void
null_key(void)
{
    CHECK_RC(ct_local_init(NULL, count_dtor), CT_EINVAL);
    CHECK_RC(ct_local_init(NULL, NULL), CT_EINVAL);
    CHECK_RC(ct_local_set(NULL, &dtor_calls), CT_EINVAL);
    CHECK_RC(ct_local_set(NULL, NULL), CT_EINVAL);
    CHECK(ct_local_get(NULL) == NULL);
    ct_local_destroy(NULL);
    // Still NULL once the thread has a table.
    ct_local k = CT_LOCAL_INIT(NULL);
    CHECK_OK(ct_local_set(&k, &dtor_calls));
    CHECK(ct_local_get(NULL) == NULL);
    CHECK_RC(ct_local_set(NULL, &dtor_calls), CT_EINVAL);
    ct_local_destroy(NULL);
    CHECK(ct_local_get(&k) == &dtor_calls);
    ct_local_destroy(&k);
}

// The value a destructor expects to find already stored (see below).
static ct_local replace_key;
static void *replace_expect;

static void
replace_dtor(void *value)
{
    // Python stores the new object before dropping the old one.
    CHECK(ct_local_get(&replace_key) == replace_expect);
    count_dtor(value);
}

static void
replace_destroys_old(void)
{
    reset_counts();
    CHECK_OK(ct_local_init(&replace_key, replace_dtor));
    tracked a = {0}, b = {0}, c = {0};
    CHECK_OK(ct_local_set(&replace_key, &a));
    // The same pointer again is no replacement.
    CHECK_OK(ct_local_set(&replace_key, &a));
    CHECK_EQ(atomic_load(&a.destroyed), 0);
    replace_expect = &b;
    CHECK_OK(ct_local_set(&replace_key, &b));
    CHECK_EQ(atomic_load(&a.destroyed), 1);
    CHECK(pthread_equal(a.by, pthread_self()));
    CHECK_EQ(atomic_load(&b.destroyed), 0);
    CHECK(ct_local_get(&replace_key) == &b);
    // NULL deletes, destroying the value; again is nothing.
    replace_expect = NULL;
    CHECK_OK(ct_local_set(&replace_key, NULL));
    CHECK_EQ(atomic_load(&b.destroyed), 1);
    CHECK(ct_local_get(&replace_key) == NULL);
    CHECK_OK(ct_local_set(&replace_key, NULL));
    CHECK_EQ(atomic_load(&dtor_calls), 2);
    // Deleted, then set again: the key keeps working.
    CHECK_OK(ct_local_set(&replace_key, &c));
    CHECK(ct_local_get(&replace_key) == &c);
    ct_local_destroy(&replace_key);
    CHECK_EQ(atomic_load(&c.destroyed), 1);
    CHECK_EQ(atomic_load(&a.destroyed), 1);
    CHECK_EQ(atomic_load(&b.destroyed), 1);
    CHECK_EQ(atomic_load(&dtor_calls), 3);
}

typedef struct per_thread {
    ct_local *key;
    ct_event set;  // the thread set its value
    ct_event go;   // the main thread checked its own
    atomic_int ok; // the thread's checks passed
} per_thread;

static void *
per_thread_main(void *p)
{
    per_thread *pt = p;
    static int theirs;
    bool ok = ct_local_get(pt->key) == NULL;
    ok = ct_local_set(pt->key, &theirs) == 0 && ok;
    ok = ct_local_get(pt->key) == &theirs && ok;
    (void)ct_event_set(&pt->set);
    ok = ct_event_wait(&pt->go, ct_test_long_wait()) == 0 && ok;
    ok = ct_local_get(pt->key) == &theirs && ok;
    atomic_store(&pt->ok, ok);
    return NULL;
}

// Thread A's value is invisible to thread B, and setting B's leaves A's.
static void
value_per_thread(void)
{
    ct_local key = CT_LOCAL_INIT(NULL);
    static int mine;
    CHECK_OK(ct_local_set(&key, &mine));
    per_thread pt = {.key = &key, .set = CT_EVENT_INIT, .go = CT_EVENT_INIT};
    pthread_t t = ct_test_spawn(per_thread_main, &pt);
    CHECK_OK(ct_event_wait(&pt.set, ct_test_long_wait()));
    CHECK(ct_local_get(&key) == &mine);
    CHECK_OK(ct_event_set(&pt.go));
    ct_test_join(t);
    CHECK(atomic_load(&pt.ok));
    CHECK(ct_local_get(&key) == &mine);
    ct_local_destroy(&key);
}

enum { EXIT_THREADS = 8 };

typedef struct exit_arg {
    ct_local *key;
    ct_local *deleted; // a key whose value the thread deletes itself
    tracked value;
    tracked gone;
    pthread_t self;
} exit_arg;

static void *
set_and_exit(void *p)
{
    exit_arg *a = p;
    a->self = pthread_self();
    CHECK_OK(ct_local_set(a->deleted, &a->gone));
    CHECK_OK(ct_local_set(a->key, &a->value));
    CHECK_OK(ct_local_set(a->deleted, NULL));
    CHECK_EQ(atomic_load(&a->gone.destroyed), 1);
    return NULL;
}

// A raw pthread's values are destroyed in that thread when it ends, before
// pthread_join returns (pthread key destructors), each exactly once.
static void
destructor_runs_at_thread_exit(void)
{
    reset_counts();
    ct_local key = CT_LOCAL_INIT(count_dtor);
    ct_local deleted = CT_LOCAL_INIT(count_dtor);
    exit_arg args[EXIT_THREADS];
    memset(args, 0, sizeof args);
    for (int i = 0; i < EXIT_THREADS; i++) {
        args[i].key = &key;
        args[i].deleted = &deleted;
        pthread_t t = ct_test_spawn(set_and_exit, &args[i]);
        ct_test_join(t);
        CHECK_EQ(atomic_load(&args[i].value.destroyed), 1);
        CHECK(pthread_equal(args[i].value.by, args[i].self));
        CHECK_EQ(atomic_load(&args[i].gone.destroyed), 1);
        CHECK_EQ(atomic_load(&dtor_calls), 2 * (i + 1));
    }
    // Nothing of theirs is left to destroy.
    ct_local_destroy(&key);
    ct_local_destroy(&deleted);
    CHECK_EQ(atomic_load(&dtor_calls), 2 * EXIT_THREADS);
}

typedef struct exit_call_arg {
    ct_local *key;
    tracked first;
    tracked second;
    atomic_int ok;
} exit_call_arg;

static void *
exit_call_main(void *p)
{
    exit_call_arg *a = p;
    bool ok = ct_local_set(a->key, &a->first) == 0;
    ct__local_thread_exit();
    ok = atomic_load(&a->first.destroyed) == 1 && ok;
    ok = ct_local_get(a->key) == NULL && ok;
    ct__local_thread_exit(); // idempotent
    ok = atomic_load(&a->first.destroyed) == 1 && ok;
    // Values set afterwards get a new table, destroyed at the real exit.
    ok = ct_local_set(a->key, &a->second) == 0 && ok;
    ok = ct_local_get(a->key) == &a->second && ok;
    atomic_store(&a->ok, ok);
    return NULL;
}

// The thread layer's call: destroys the values before the thread ends,
// disarms the exit hook (no second destruction), and may be repeated.
static void
thread_exit_call(void)
{
    reset_counts();
    ct_local key = CT_LOCAL_INIT(count_dtor);
    exit_call_arg a = {.key = &key};
    pthread_t t = ct_test_spawn(exit_call_main, &a);
    ct_test_join(t);
    CHECK(atomic_load(&a.ok));
    CHECK_EQ(atomic_load(&a.first.destroyed), 1);
    CHECK_EQ(atomic_load(&a.second.destroyed), 1);
    CHECK_EQ(atomic_load(&dtor_calls), 2);
    // A thread without values: the call does nothing.
    ct__local_thread_exit();
    ct_local_destroy(&key);
}

enum { HOLDERS = 6 };

typedef struct holder_ctx {
    ct_local *key;
    ct_event go;
    atomic_int ready;
    tracked first[HOLDERS];
    tracked second[HOLDERS];
    pthread_t self[HOLDERS];
    atomic_int ok;
} holder_ctx;

typedef struct holder_arg {
    holder_ctx *ctx;
    int i;
} holder_arg;

static void *
holder_main(void *p)
{
    holder_arg *ha = p;
    holder_ctx *ctx = ha->ctx;
    ctx->self[ha->i] = pthread_self();
    CHECK_OK(ct_local_set(ctx->key, &ctx->first[ha->i]));
    atomic_fetch_add(&ctx->ready, 1);
    CHECK_OK(ct_event_wait(&ctx->go, ct_test_long_wait()));
    // Destroyed meanwhile: gone, and the key works again.
    if (ct_local_get(ctx->key) != NULL) {
        atomic_store(&ctx->ok, 0);
    }
    CHECK_OK(ct_local_set(ctx->key, &ctx->second[ha->i]));
    if (ct_local_get(ctx->key) != &ctx->second[ha->i]) {
        atomic_store(&ctx->ok, 0);
    }
    return NULL;
}

static holder_ctx *
holder_ctx_new(ct_local *key)
{
    holder_ctx *ctx = calloc(1, sizeof *ctx);
    CHECK(ctx != NULL);
    ctx->key = key;
    ct_event_init(&ctx->go);
    atomic_store(&ctx->ok, 1);
    return ctx;
}

// ct_local_destroy destroys the value of every live thread (parked, holding
// one) exactly once, in the calling thread; the key is usable afterwards.
static void
destroy_reaches_every_thread(void)
{
    reset_counts();
    ct_local key = CT_LOCAL_INIT(count_dtor);
    holder_ctx *ctx = holder_ctx_new(&key);
    holder_arg args[HOLDERS];
    pthread_t t[HOLDERS];
    for (int i = 0; i < HOLDERS; i++) {
        args[i] = (holder_arg){ctx, i};
        t[i] = ct_test_spawn(holder_main, &args[i]);
    }
    tracked mine = {0};
    CHECK_OK(ct_local_set(&key, &mine));
    CHECK(ct_test_poll_at_least(&ctx->ready, HOLDERS, ct_test_long_wait()));
    ct_local_destroy(&key);
    CHECK_EQ(atomic_load(&mine.destroyed), 1);
    for (int i = 0; i < HOLDERS; i++) {
        CHECK_EQ(atomic_load(&ctx->first[i].destroyed), 1);
        CHECK(pthread_equal(ctx->first[i].by, pthread_self()));
    }
    CHECK_EQ(atomic_load(&dtor_calls), HOLDERS + 1);
    CHECK(ct_local_get(&key) == NULL);
    // A second destroy finds nothing.
    ct_local_destroy(&key);
    CHECK_EQ(atomic_load(&dtor_calls), HOLDERS + 1);

    CHECK_OK(ct_event_set(&ctx->go));
    for (int i = 0; i < HOLDERS; i++) {
        ct_test_join(t[i]);
        CHECK_EQ(atomic_load(&ctx->second[i].destroyed), 1);
        CHECK(pthread_equal(ctx->second[i].by, ctx->self[i]));
        CHECK_EQ(atomic_load(&ctx->first[i].destroyed), 1);
    }
    CHECK(atomic_load(&ctx->ok));
    CHECK_EQ(atomic_load(&dtor_calls), 2 * HOLDERS + 1);
    CHECK_EQ(atomic_load(&mine.destroyed), 1);
    ct_local_destroy(&key);
    free(ctx);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

// Sorts `v` and returns whether its n indices are distinct and non-zero.
static bool
all_distinct(uint32_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u32);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == 0 || (i > 0 && v[i] == v[i - 1])) {
            return false;
        }
    }
    return true;
}

// More keys than pthread has (PTHREAD_KEYS_MAX is 1024 on glibc).
enum { MANY_KEYS = 2000 };

typedef struct many_ctx {
    ct_local *keys;
    tracked *theirs;
    atomic_int ok;
} many_ctx;

static void *
many_keys_thread(void *p)
{
    many_ctx *m = p;
    bool ok = true;
    for (int i = 0; i < MANY_KEYS; i++) {
        ok = ct_local_get(&m->keys[i]) == NULL && ok;
        ok = ct_local_set(&m->keys[i], &m->theirs[i]) == 0 && ok;
    }
    for (int i = 0; i < MANY_KEYS; i++) {
        ok = ct_local_get(&m->keys[i]) == &m->theirs[i] && ok;
    }
    atomic_store(&m->ok, ok);
    return NULL;
}

static void
many_keys(void)
{
    reset_counts();
    many_ctx m = {0};
    m.keys = calloc(MANY_KEYS, sizeof *m.keys);
    m.theirs = calloc(MANY_KEYS, sizeof *m.theirs);
    tracked *mine = calloc(MANY_KEYS, sizeof *mine);
    CHECK(m.keys != NULL && m.theirs != NULL && mine != NULL);
    for (int i = 0; i < MANY_KEYS; i++) {
        CHECK_OK(ct_local_init(&m.keys[i], count_dtor));
        CHECK_OK(ct_local_set(&m.keys[i], &mine[i]));
    }
    pthread_t t = ct_test_spawn(many_keys_thread, &m);
    ct_test_join(t);
    CHECK(atomic_load(&m.ok));
    for (int i = 0; i < MANY_KEYS; i++) {
        CHECK_EQ(atomic_load(&m.theirs[i].destroyed), 1);
        CHECK(ct_local_get(&m.keys[i]) == &mine[i]);
        CHECK_EQ(atomic_load(&mine[i].destroyed), 0);
    }
    CHECK_EQ(atomic_load(&dtor_calls), MANY_KEYS);
    uint32_t *slots = calloc(MANY_KEYS, sizeof *slots);
    CHECK(slots != NULL);
    for (int i = 0; i < MANY_KEYS; i++) {
        slots[i] = m.keys[i]._index;
    }
    CHECK(all_distinct(slots, MANY_KEYS));
    free(slots);
    for (int i = 0; i < MANY_KEYS; i++) {
        ct_local_destroy(&m.keys[i]);
        CHECK_EQ(atomic_load(&mine[i].destroyed), 1);
    }
    CHECK_EQ(atomic_load(&dtor_calls), 2 * MANY_KEYS);
    free(m.keys);
    free(m.theirs);
    free(mine);
}

static atomic_int other_calls;

static void
other_dtor(void *value)
{
    (void)value;
    atomic_fetch_add(&other_calls, 1);
}

typedef struct reuse_ctx {
    ct_local *a;
    ct_local *b;
    tracked theirs_a;
    int theirs_b;
    ct_event set;
    ct_event go;
    atomic_int ok;
} reuse_ctx;

static void *
reuse_thread(void *p)
{
    reuse_ctx *r = p;
    CHECK_OK(ct_local_set(r->a, &r->theirs_a));
    CHECK_OK(ct_event_set(&r->set));
    CHECK_OK(ct_event_wait(&r->go, ct_test_long_wait()));
    // Key b has key a's old slot: a's destroyed value must not show.
    bool ok = ct_local_get(r->b) == NULL;
    ok = ct_local_get(r->a) == NULL && ok;
    ok = ct_local_set(r->b, &r->theirs_b) == 0 && ok;
    atomic_store(&r->ok, ok);
    return NULL;
}

// A destroyed key's slot serves the next key, and no value of the old key
// leaks into the new one (nor gets destroyed again with its destructor).
static void
slot_reuse_does_not_leak(void)
{
    reset_counts();
    atomic_store(&other_calls, 0);
    ct_local a = CT_LOCAL_INIT(count_dtor);
    ct_local b = CT_LOCAL_INIT(other_dtor);
    reuse_ctx r = {.a = &a, .b = &b, .set = CT_EVENT_INIT, .go = CT_EVENT_INIT};
    pthread_t t = ct_test_spawn(reuse_thread, &r);
    tracked mine_a = {0};
    CHECK_OK(ct_local_set(&a, &mine_a));
    CHECK_OK(ct_event_wait(&r.set, ct_test_long_wait()));
    uint32_t slot = a._index;
    ct_local_destroy(&a);
    CHECK_EQ(atomic_load(&mine_a.destroyed), 1);
    CHECK_EQ(atomic_load(&r.theirs_a.destroyed), 1);

    CHECK(ct_local_get(&b) == NULL);
    int mine_b;
    CHECK_OK(ct_local_set(&b, &mine_b));
    CHECK_EQ(b._index, slot);
    CHECK(ct_local_get(&b) == &mine_b);
    CHECK(ct_local_get(&a) == NULL);
    CHECK_OK(ct_event_set(&r.go));
    ct_test_join(t);
    CHECK(atomic_load(&r.ok));
    // The thread's exit destroyed its b value only.
    CHECK_EQ(atomic_load(&other_calls), 1);
    CHECK_EQ(atomic_load(&r.theirs_a.destroyed), 1);
    CHECK_EQ(atomic_load(&dtor_calls), 2);
    ct_local_destroy(&b);
    CHECK_EQ(atomic_load(&other_calls), 2);

    // Several freed slots serve as many new keys, none handed out twice.
    enum { N = 5 };
    ct_local old[N], fresh[N];
    uint32_t freed[N], taken[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_local_init(&old[i], NULL));
        CHECK_OK(ct_local_set(&old[i], &mine_b));
        freed[i] = old[i]._index;
    }
    for (int i = 0; i < N; i++) {
        ct_local_destroy(&old[i]);
    }
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct_local_init(&fresh[i], NULL));
        CHECK_OK(ct_local_set(&fresh[i], &mine_b));
        taken[i] = fresh[i]._index;
    }
    CHECK(all_distinct(freed, N));
    CHECK(all_distinct(taken, N));
    CHECK(memcmp(freed, taken, sizeof freed) == 0);
    for (int i = 0; i < N; i++) {
        ct_local_destroy(&fresh[i]);
    }
}

// Destructors that set values: key a's destructor sets key b, key c's
// re-sets c twice per thread, and key d's re-sets d forever.
static ct_local chain_a, chain_b, chain_c, chain_d;
static tracked chain_b_value;
static atomic_int c_calls, d_calls, a_calls;
static _Thread_local int c_resets;

static void
a_dtor(void *value)
{
    (void)value;
    atomic_fetch_add(&a_calls, 1);
    CHECK_OK(ct_local_set(&chain_b, &chain_b_value));
}

static void
c_dtor(void *value)
{
    atomic_fetch_add(&c_calls, 1);
    if (c_resets++ < 2) {
        CHECK_OK(ct_local_set(&chain_c, value));
    }
}

static void
d_dtor(void *value)
{
    atomic_fetch_add(&d_calls, 1);
    CHECK_OK(ct_local_set(&chain_d, value));
}

static void *
chain_thread(void *p)
{
    static int a_value, c_value, d_value;
    bool use_d = p != NULL;
    CHECK_OK(ct_local_set(&chain_a, &a_value));
    CHECK_OK(ct_local_set(&chain_c, &c_value));
    if (use_d) {
        CHECK_OK(ct_local_set(&chain_d, &d_value));
    }
    return NULL;
}

static void
destructors_that_set_values(void)
{
    reset_counts();
    CHECK_OK(ct_local_init(&chain_a, a_dtor));
    CHECK_OK(ct_local_init(&chain_b, count_dtor));
    CHECK_OK(ct_local_init(&chain_c, c_dtor));
    CHECK_OK(ct_local_init(&chain_d, d_dtor));
    // Key b has no slot before the exit: a_dtor's set assigns one in the
    // middle of the exit.
    pthread_t t = ct_test_spawn(chain_thread, NULL);
    ct_test_join(t);
    CHECK_EQ(atomic_load(&a_calls), 1);
    CHECK_EQ(atomic_load(&chain_b_value.destroyed), 1);
    CHECK_EQ(atomic_load(&c_calls), 3);

    // A destructor that always sets again cannot keep a thread alive.
    t = ct_test_spawn(chain_thread, &chain_d);
    ct_test_join(t);
    int d = atomic_load(&d_calls);
    CHECK(d >= 2 && d <= 16);
    CHECK_EQ(atomic_load(&a_calls), 2);
    CHECK_EQ(atomic_load(&chain_b_value.destroyed), 2);
    CHECK_EQ(atomic_load(&c_calls), 6);
    ct_local_destroy(&chain_a);
    ct_local_destroy(&chain_b);
    ct_local_destroy(&chain_c);
    ct_local_destroy(&chain_d);
    CHECK_EQ(atomic_load(&d_calls), d);
}

enum { FIRST_SETTERS = 8 };

typedef struct first_ctx {
    ct_local key;
    ct_barrier barrier;
    tracked values[FIRST_SETTERS];
    atomic_int next;
    atomic_int ok;
} first_ctx;

static void *
first_setter(void *p)
{
    first_ctx *f = p;
    int i = atomic_fetch_add(&f->next, 1);
    bool ok = ct_barrier_wait(&f->barrier, ct_test_long_wait()) >= 0;
    ok = ct_local_set(&f->key, &f->values[i]) == 0 && ok;
    ok = ct_local_get(&f->key) == &f->values[i] && ok;
    // Nobody exits before all have set.
    ok = ct_barrier_wait(&f->barrier, ct_test_long_wait()) >= 0 && ok;
    ok = ct_local_get(&f->key) == &f->values[i] && ok;
    if (!ok) {
        atomic_store(&f->ok, 0);
    }
    return NULL;
}

// Threads racing to set a fresh key first agree on one slot.
static void
concurrent_first_set(void)
{
    reset_counts();
    for (int round = 0; round < 20; round++) {
        first_ctx *f = calloc(1, sizeof *f);
        CHECK(f != NULL);
        CHECK_OK(ct_local_init(&f->key, count_dtor));
        CHECK_OK(ct_barrier_init(&f->barrier, FIRST_SETTERS, NULL, NULL,
                                 CT_FOREVER));
        atomic_store(&f->ok, 1);
        ct_test_run_threads(FIRST_SETTERS, first_setter, f, 0);
        CHECK(atomic_load(&f->ok));
        for (int i = 0; i < FIRST_SETTERS; i++) {
            CHECK_EQ(atomic_load(&f->values[i].destroyed), 1);
        }
        ct_local_destroy(&f->key);
        free(f);
    }
    CHECK_EQ(atomic_load(&dtor_calls), 20 * FIRST_SETTERS);
}

enum { CHURN_THREADS = 4, CHURN_ITERS = 300, CHURN_KEYS = 8 };

static ct_local churn_shared = CT_LOCAL_INIT(count_dtor);

typedef struct churn_arg {
    tracked own[CHURN_ITERS][CHURN_KEYS];
    tracked shared[CHURN_ITERS];
    atomic_int ok;
} churn_arg;

static void *
churn_main(void *p)
{
    churn_arg *c = p;
    bool ok = true;
    for (int it = 0; it < CHURN_ITERS; it++) {
        ct_local keys[CHURN_KEYS];
        for (int k = 0; k < CHURN_KEYS; k++) {
            ok = ct_local_init(&keys[k], count_dtor) == 0 && ok;
            ok = ct_local_set(&keys[k], &c->own[it][k]) == 0 && ok;
        }
        ok = ct_local_set(&churn_shared, &c->shared[it]) == 0 && ok;
        for (int k = 0; k < CHURN_KEYS; k++) {
            ok = ct_local_get(&keys[k]) == &c->own[it][k] && ok;
            ct_local_destroy(&keys[k]);
            ok = atomic_load(&c->own[it][k].destroyed) == 1 && ok;
        }
        ok = ct_local_get(&churn_shared) == &c->shared[it] && ok;
    }
    atomic_store(&c->ok, ok);
    return NULL;
}

// Threads creating, setting and destroying keys of their own (slots taken
// and freed, tables growing) while all set one shared key: every value is
// destroyed once, and each thread always reads its own.
static void
contention(void)
{
    reset_counts();
    churn_arg *args = calloc(CHURN_THREADS, sizeof *args);
    CHECK(args != NULL);
    ct_test_run_threads(CHURN_THREADS, churn_main, args, sizeof *args);
    for (int i = 0; i < CHURN_THREADS; i++) {
        CHECK(atomic_load(&args[i].ok));
        for (int it = 0; it < CHURN_ITERS; it++) {
            CHECK_EQ(atomic_load(&args[i].shared[it].destroyed), 1);
        }
    }
    CHECK_EQ(atomic_load(&dtor_calls),
             CHURN_THREADS * CHURN_ITERS * (CHURN_KEYS + 1));
    ct_local_destroy(&churn_shared);
    free(args);
}

enum { RACERS = 4 };

typedef struct race_ctx {
    ct_local keys[2];
    ct_event go;
    atomic_int ready;
    tracked values[RACERS][2];
} race_ctx;

typedef struct race_arg {
    race_ctx *ctx;
    int i;
} race_arg;

static void *
racer_main(void *p)
{
    race_arg *ra = p;
    race_ctx *ctx = ra->ctx;
    CHECK_OK(ct_local_set(&ctx->keys[0], &ctx->values[ra->i][0]));
    CHECK_OK(ct_local_set(&ctx->keys[1], &ctx->values[ra->i][1]));
    atomic_fetch_add(&ctx->ready, 1);
    CHECK_OK(ct_event_wait(&ctx->go, ct_test_long_wait()));
    return NULL; // the exit races the main thread's destroy
}

// Threads exiting while another thread destroys the key: whichever takes a
// value destroys it, and each is destroyed exactly once. Bounded by time.
static void
destroy_races_thread_exits(void)
{
    reset_counts();
    int64_t end = ct_test_now() + CT_MILLIS(300);
    int rounds = 0;
    do {
        race_ctx *ctx = calloc(1, sizeof *ctx);
        CHECK(ctx != NULL);
        CHECK_OK(ct_local_init(&ctx->keys[0], count_dtor));
        CHECK_OK(ct_local_init(&ctx->keys[1], count_dtor));
        ct_event_init(&ctx->go);
        race_arg args[RACERS];
        pthread_t t[RACERS];
        for (int i = 0; i < RACERS; i++) {
            args[i] = (race_arg){ctx, i};
            t[i] = ct_test_spawn(racer_main, &args[i]);
        }
        CHECK(ct_test_poll_at_least(&ctx->ready, RACERS, ct_test_long_wait()));
        CHECK_OK(ct_event_set(&ctx->go));
        ct_local_destroy(&ctx->keys[rounds % 2]);
        ct_local_destroy(&ctx->keys[1 - rounds % 2]);
        for (int i = 0; i < RACERS; i++) {
            ct_test_join(t[i]);
        }
        for (int i = 0; i < RACERS; i++) {
            for (int k = 0; k < 2; k++) {
                CHECK_EQ(atomic_load(&ctx->values[i][k].destroyed), 1);
            }
        }
        free(ctx);
        rounds++;
    } while (ct_test_now() < end);
    CHECK_EQ(atomic_load(&dtor_calls), rounds * RACERS * 2);
}

static atomic_int fork_stop;

static void *
registry_hammer(void *p)
{
    (void)p;
    static int value;
    while (!atomic_load(&fork_stop)) {
        ct_local k = CT_LOCAL_INIT(NULL);
        CHECK_OK(ct_local_set(&k, &value));
        ct_local_destroy(&k);
    }
    return NULL;
}

// In a fork() child: a key of its own, grown tables, delete and destroy.
static int
child_uses_keys(void)
{
    enum { N = 100 };
    static ct_local keys[N];
    static tracked values[N];
    reset_counts();
    for (int i = 0; i < N; i++) {
        if (ct_local_init(&keys[i], count_dtor) != 0 ||
            ct_local_set(&keys[i], &values[i]) != 0 ||
            ct_local_get(&keys[i]) != &values[i]) {
            return 1;
        }
    }
    if (ct_local_set(&keys[0], NULL) != 0 || ct_local_get(&keys[0]) != NULL) {
        return 2;
    }
    for (int i = 0; i < N; i++) {
        ct_local_destroy(&keys[i]);
        if (atomic_load(&values[i].destroyed) != 1) {
            return 3;
        }
    }
    return atomic_load(&dtor_calls) == N ? 0 : 4;
}

// fork() while another thread keeps taking the registry lock: the child
// inherits it unlocked and can use keys.
static void
fork_child_lock_usable(void)
{
    if (ASAN_BUILD || TSAN_BUILD) {
        // The child mallocs (a key's table) while the hammer thread may
        // have held the allocator's lock at the fork: glibc's malloc resets
        // its locks in the child, the sanitizers' allocators do not, and
        // the child deadlocks in malloc (ASan: 1 run in ~15 under load;
        // TSan: 1 in ~50, in SizeClassAllocator64::GetFromAllocator).
        SKIP("the sanitizer's allocator is not fork-safe with another "
             "thread allocating at the fork");
    }
    atomic_store(&fork_stop, 0);
    pthread_t t = ct_test_spawn(registry_hammer, NULL);
    for (int i = 0; i < 50; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            _exit(child_uses_keys());
        }
        int status = ct_test_wait_child(pid, ct_test_long_wait());
        if (status != 0) {
            atomic_store(&fork_stop, 1);
            ct_test_join(t);
            ct_test_fail(__FILE__, __LINE__, "fork child %d: status %d", i,
                         status);
        }
    }
    atomic_store(&fork_stop, 1);
    ct_test_join(t);
}

// In a fork() child the threads that held values are gone, but their
// values are not: ct_local_destroy there still destroys them.
static void
fork_child_destroys_vanished_values(void)
{
    reset_counts();
    ct_local key = CT_LOCAL_INIT(count_dtor);
    holder_ctx *ctx = holder_ctx_new(&key);
    holder_arg arg = {ctx, 0};
    pthread_t t = ct_test_spawn(holder_main, &arg);
    CHECK(ct_test_poll_at_least(&ctx->ready, 1, ct_test_long_wait()));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        ct_local_destroy(&key);
        bool ok = atomic_load(&ctx->first[0].destroyed) == 1 &&
                  atomic_load(&dtor_calls) == 1 && ct_local_get(&key) == NULL;
        _exit(ok ? 0 : 1);
    }
    CHECK_EQ(ct_test_wait_child(pid, ct_test_long_wait()), 0);
    // The parent's copy is untouched, and the parent's registry works.
    CHECK_EQ(atomic_load(&ctx->first[0].destroyed), 0);
    ct_local_destroy(&key);
    CHECK_EQ(atomic_load(&ctx->first[0].destroyed), 1);
    CHECK_OK(ct_event_set(&ctx->go));
    ct_test_join(t);
    CHECK(atomic_load(&ctx->ok));
    CHECK_EQ(atomic_load(&ctx->first[0].destroyed), 1);
    CHECK_EQ(atomic_load(&ctx->second[0].destroyed), 1);
    ct_local_destroy(&key);
    free(ctx);
}

CT_SUITE(local) = {
    {"init forms", init_forms},
    {"zeroed key works", zeroed_key_works},
    {"get before set is null", get_before_set_is_null},
    {"null key", null_key},
    {"replace destroys old", replace_destroys_old},
    {"value per thread", value_per_thread},
    {"destructor runs at thread exit", destructor_runs_at_thread_exit},
    {"thread exit call", thread_exit_call},
    {"destroy reaches every thread", destroy_reaches_every_thread},
    {"many keys", many_keys},
    {"slot reuse does not leak", slot_reuse_does_not_leak},
    {"destructors that set values", destructors_that_set_values},
    {"concurrent first set", concurrent_first_set},
    {"contention", contention},
    {"destroy races thread exits", destroy_races_thread_exits},
    {"fork child lock usable", fork_child_lock_usable},
    {"fork child destroys vanished values",
     fork_child_destroys_vanished_values},
    {0},
};
