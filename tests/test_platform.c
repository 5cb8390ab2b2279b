// The platform layer's OS threads (src/platform/thread_posix.c): start and
// join, identities, stack sizes, the OS thread name as /proc shows it, and
// the per-thread exit hook.
#include "harness/test.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"

typedef struct seen {
    uintptr_t ident;
    uint64_t native_id;
    char comm[32];
    const char *set_name; // if not NULL, set this OS name, then read comm
    size_t touch_bytes;   // bytes of stack to use
    ct_event done;
} seen;

// Reads the calling thread's OS name as /proc shows it.
static void
read_comm(char *out, size_t cap, uint64_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%llu/comm",
             (unsigned long long)tid);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    if (fgets(out, (int)cap, f) != NULL) {
        out[strcspn(out, "\n")] = '\0';
    }
    fclose(f);
}

static void *
record(void *p)
{
    seen *s = p;
    s->ident = ct__os_thread_ident();
    s->native_id = ct__os_thread_native_id();
    if (s->set_name != NULL) {
        ct__os_thread_set_name(s->set_name);
        read_comm(s->comm, sizeof s->comm, s->native_id);
    }
    if (s->touch_bytes > 0) {
        // A large local array proves the stack is as big as asked.
        volatile char *buf = __builtin_alloca(s->touch_bytes);
        memset((char *)buf, 1, s->touch_bytes);
    }
    CHECK_OK(ct_event_set(&s->done));
    return NULL;
}

static void
start_join_and_identities(void)
{
    seen s = {0};
    ct__os_thread t;
    CHECK_OK(ct__os_thread_start(&t, 0, record, &s));
    ct__os_thread_join(&t);
    CHECK(s.ident != 0);
    CHECK(s.ident != ct__os_thread_ident());
    CHECK(s.native_id != 0);
    CHECK(s.native_id != ct__os_thread_native_id());
    // Python's main thread has native_id == pid.
    CHECK_EQ(ct__os_thread_native_id(), (uint64_t)getpid());
}

static void
stack_sizes(void)
{
    seen s = {0};
    ct__os_thread t;
    size_t min = ct__os_thread_stack_min();
    CHECK(min >= 32768);
    CHECK_RC(ct__os_thread_start(&t, min - 1, record, &s), CT_EINVAL);
    CHECK_RC(ct__os_thread_start(&t, 1, record, &s), CT_EINVAL);
    s.touch_bytes = 768 * 1024;
    CHECK_OK(ct__os_thread_start(&t, 4 * 1024 * 1024, record, &s));
    ct__os_thread_join(&t);
    CHECK(ct_event_is_set(&s.done));
}

static void
impossible_stack_is_refused(void)
{
    seen s = {0};
    ct__os_thread t;
    // More than the whole user address space: the OS must refuse, with a
    // code, and no thread runs.
    int rc = ct__os_thread_start(&t, (size_t)1 << 50, record, &s);
    CHECK(rc == CT_EAGAIN || rc == CT_EINVAL);
    CHECK(!ct_event_is_set(&s.done));
}

static void
check_name(const char *set, const char *want)
{
    seen s = {0};
    s.set_name = set;
    ct__os_thread t;
    CHECK_OK(ct__os_thread_start(&t, 0, record, &s));
    ct__os_thread_join(&t);
    if (strcmp(s.comm, want) != 0) {
        ct_test_fail(__FILE__, __LINE__,
                     "name \"%s\" shows as \"%s\", want "
                     "\"%s\"",
                     set, s.comm, want);
    }
}

static void
os_name_is_set_and_cut(void)
{
    if (access("/proc/self/task", R_OK) != 0) {
        SKIP("no /proc/self/task");
    }
    check_name("worker-1", "worker-1");
    check_name("abcdefghijklmnopqrstuvwxyz", "abcdefghijklmno");
    // 14 bytes, then a 2-byte character: cutting at 15 would split it.
    check_name("aaaaaaaaaaaaaa\xc3\xa9x", "aaaaaaaaaaaaaa");
    check_name("", "");
}

static void *
detached_main(void *p)
{
    CHECK_OK(ct_event_set(p));
    return NULL;
}

static void
detached_thread_runs(void)
{
    ct_event done = CT_EVENT_INIT;
    ct__os_thread t;
    CHECK_OK(ct__os_thread_start(&t, 0, detached_main, &done));
    ct__os_thread_detach(&t);
    CHECK_OK(ct_event_wait(&done, ct_test_long_wait()));
}

static atomic_int hook_calls;
static atomic_intptr_t hook_value;

static void
exit_hook(void *value)
{
    atomic_fetch_add(&hook_calls, 1);
    atomic_store(&hook_value, (intptr_t)value);
}

static ct__os_key hook_key;

static void *
set_hook(void *p)
{
    CHECK(ct__os_key_get(hook_key) == NULL);
    if (p != NULL) {
        ct__os_key_set(hook_key, p);
        CHECK(ct__os_key_get(hook_key) == p);
    }
    return NULL;
}

static void
exit_hook_runs_once_per_thread(void)
{
    CHECK_OK(ct__os_key_create(&hook_key, exit_hook));
    static int token;
    ct__os_thread t;
    CHECK_OK(ct__os_thread_start(&t, 0, set_hook, &token));
    ct__os_thread_join(&t);
    CHECK_EQ(atomic_load(&hook_calls), 1);
    CHECK(atomic_load(&hook_value) == (intptr_t)&token);
    // A thread that stored nothing gets no call.
    CHECK_OK(ct__os_thread_start(&t, 0, set_hook, NULL));
    ct__os_thread_join(&t);
    CHECK_EQ(atomic_load(&hook_calls), 1);
}

static void
many_threads_start_and_join(void)
{
    enum { N = 64 };
    static seen s[N];
    ct__os_thread t[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(ct__os_thread_start(&t[i], 0, record, &s[i]));
    }
    for (int i = 0; i < N; i++) {
        ct__os_thread_join(&t[i]);
    }
    // Kernel ids may be reused once a thread ends, so only check that each
    // thread ran and got one.
    for (int i = 0; i < N; i++) {
        CHECK(s[i].native_id != 0);
        CHECK(ct_event_is_set(&s[i].done));
    }
}

CT_SUITE(platform) = {
    {"start, join and identities", start_join_and_identities},
    {"stack sizes", stack_sizes},
    {"impossible stack is refused", impossible_stack_is_refused},
    {"OS name is set and cut", os_name_is_set_and_cut},
    {"detached thread runs", detached_thread_runs},
    {"exit hook runs once per thread", exit_hook_runs_once_per_thread},
    {"many threads start and join", many_threads_start_and_join},
    {0},
};
