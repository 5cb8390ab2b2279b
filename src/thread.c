// ct_thread: threads with Python's lifecycle, the registry behind
// current_thread() / enumerate(), the excepthook, the join at process exit
// and the fork() fix-up. The OS side (create, join, names, exit hooks) is
// the platform layer's; what is here is bookkeeping on ct_lock,
// ct_condition and ct_event.
#include <cthreading/condition.h>
#include <cthreading/event.h>
#include <cthreading/lock.h>
#include <cthreading/thread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "local.h"
#include "thread_impl.h"
#include "platform/platform.h"
#include "sync/atomic.h"
#include "sync/parking_lot.h"

// What a ct_thread stands for.
enum kind {
    KIND_CREATED, // started by ct_thread_start(): joinable, has an OS handle
    KIND_MAIN,    // the main thread's static record
    KIND_DUMMY,   // a thread the library did not create ("Dummy-N")
};

// t->state, written by the thread's owner at each step and read anywhere:
//
//   state     set by                              is_alive  listed
//   NEW       ct_thread_new                       no        no
//   STARTING  ct_thread_start (CAS from NEW)      no        yes (limbo)
//   ALIVE     ct_thread_start once the OS thread  yes       yes
//             exists, or the new thread, first
//             (CAS from STARTING, either side)
//   FINISHED  the thread, when it ends            no        no
//
// A start that the OS refuses goes back from STARTING to NEW. The start
// does not wait for the new thread to run (that wait would serialize
// thread creation): the ident is chosen before, and the native id, which
// only the new thread can learn, is waited for by whoever asks for it
// (the `started` event), so no caller can tell the difference.
enum state { ST_NEW, ST_STARTING, ST_ALIVE, ST_FINISHED };

// t->os_state: who frees the OS thread. Exactly one party moves it out of
// JOINABLE, by CAS (claim_os): the first join after the thread finished, or
// a join without timeout (REAPED), the thread itself when it drops the last
// reference (DETACHED), or the last ct_thread_free() after it finished
// (REAPED). GONE: marked in a fork child, where the OS thread does not
// exist; a thread that had finished but was not reaped at the fork is not
// listed any more, so t->fork_gen (the fork generation it was started in)
// tells claim_os that its OS thread is gone too.
enum os_state { OS_NONE, OS_JOINABLE, OS_REAPED, OS_DETACHED, OS_GONE };

// Every name a thread had, kept until the handle is freed so that the
// pointer ct_thread_name() returned never dangles.
typedef struct name_node {
    struct name_node *older;
    char text[];
} name_node;

struct ct_thread {
    // Registry links and flags: under reg_lock.
    ct_thread *prev;
    ct_thread *next;
    bool in_shutdown; // inside a non-primary ct_shutdown()
    bool immortal;    // the main thread's record: never freed

    int kind;
    int state;     // enum state; atomic
    int os_state;  // enum os_state; atomic
    bool daemon;   // fixed once started
    uint32_t refs; // atomic: handles plus one while the thread runs

    uint32_t fork_gen; // fork_generation when started (see claim_os)

    ct_thread_fn *target;
    void *arg;
    size_t stack_size;
    int exit_code;  // written by the thread itself (ct_thread_exit)
    bool exited;    // it called ct_thread_exit()
    bool finishing; // its end began (the excepthook has been called)

    name_node *name;    // current name (atomic pointer), then older ones
    uint64_t ident;     // chosen by ct_thread_start, kept after the end
    uint64_t native_id; // set by the new thread before `started`

    ct_event started; // set by the new thread once its native id is set
    ct_event done;    // set when the thread has finished
    ct__os_thread os;
};

// The registry: every listed thread, a count, and a condition signalled
// whenever a thread finishes or enters ct_shutdown(), for the waits there.
static ct_lock reg_lock;
static ct_condition reg_cond = CT_CONDITION_INIT(&reg_lock);
static ct_thread *reg_head;
static int reg_count;

static ct_thread main_record;
static ct_thread *main_thread; // &main_record, or the forker in a child

// The calling thread's record (NULL until it has one). initial-exec: a load
// through the thread pointer, as for ct__thread_ident.
static __thread ct_thread *self_record
    __attribute__((tls_model("initial-exec")));

// The exit hook: a key whose value is the record of a thread that must be
// finished if it ends without returning through bootstrap() (pthread_exit,
// ct_thread_exit, a Dummy or the main thread ending).
static ct__os_key exit_key;

static uint32_t name_counter;        // the N of Thread-N and Dummy-N
static uint32_t fork_generation;     // fork children this process has been
static ct_excepthook_fn *excepthook; // atomic; NULL: the default

// --- Names ----------------------------------------------------------------

// Returns true if `s` is valid UTF-8 (shortest forms, no surrogates, at
// most U+10FFFF). The executor checks thread name prefixes with it too.
bool
ct__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        unsigned c = *p++;
        int more;
        unsigned min;
        if (c < 0x80) {
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            more = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) {
                return false;
            }
            c = (c << 6) | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
            return false;
        }
    }
    return true;
}

static bool
is_identifier(const char *s)
{
    if (s == NULL ||
        !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
        return false;
    }
    for (s++; *s != 0; s++) {
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))) {
            return false;
        }
    }
    return true;
}

// Allocates a name node holding prefix + N (+ " (target)" when given).
static name_node *
name_new(const char *prefix, uint32_t n, const char *target)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%s%u", prefix, (unsigned)n);
    size_t extra = target != NULL ? strlen(target) + 3 : 0;
    name_node *node = malloc(sizeof *node + (size_t)len + extra + 1);
    if (node != NULL) {
        node->older = NULL;
        memcpy(node->text, buf, (size_t)len + 1);
        if (target != NULL) {
            sprintf(node->text + len, " (%s)", target);
        }
    }
    return node;
}

static name_node *
name_copy(const char *name)
{
    size_t len = strlen(name);
    name_node *node = malloc(sizeof *node + len + 1);
    if (node != NULL) {
        node->older = NULL;
        memcpy(node->text, name, len + 1);
    }
    return node;
}

// --- Records and references -----------------------------------------------

static void
record_destroy(ct_thread *t)
{
    name_node *n = t->name;
    while (n != NULL) {
        name_node *older = n->older;
        free(n);
        n = older;
    }
    free(t);
}

// Links `t` into the registry. Called with reg_lock held.
static void
reg_link(ct_thread *t)
{
    CT__LIST_PUSH(&reg_head, t);
    reg_count++;
}

// Unlinks `t`. Called with reg_lock held.
static void
reg_unlink(ct_thread *t)
{
    CT__LIST_REMOVE(&reg_head, t);
    reg_count--;
}

static void
lock_registry(void)
{
    while (ct_lock_acquire(&reg_lock, CT_FOREVER) != 0) {
    }
}

static void
unlock_registry(void)
{
    (void)ct_lock_release(&reg_lock);
}

// Claims the right to join or detach t's OS thread (JOINABLE -> `to`).
// Returns true if the caller must now do it: false if somebody else has
// claimed it, or if the OS thread belongs to the parent of a fork.
static bool
claim_os(ct_thread *t, int to)
{
    int expected = OS_JOINABLE;
    return ct__cas_acq_rel(&t->os_state, &expected, to) &&
           t->fork_gen == ct__load_relaxed(&fork_generation);
}

// Drops one reference. The last one destroys the record and settles the OS
// thread: joined if it ended (the caller is not the thread), detached if
// the thread itself drops it on its way out.
static void
unref(ct_thread *t, bool from_the_thread)
{
    if (t->immortal) {
        return; // the main thread's record (after fork(), maybe a heap one)
    }
    // acq_rel: the last dropper sees every write of the others.
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    if (from_the_thread) {
        if (claim_os(t, OS_DETACHED)) {
            ct__os_thread_detach(&t->os);
        }
    } else if (claim_os(t, OS_REAPED)) {
        ct__os_thread_join(&t->os);
    }
    record_destroy(t);
}

// --- Finishing ------------------------------------------------------------

// Marks `t` finished: out of the registry, FINISHED, `done` set, and every
// ct_shutdown() told. The reference the thread held is the caller's to drop.
static void
mark_finished(ct_thread *t)
{
    lock_registry();
    if (ct__load_relaxed(&t->state) != ST_FINISHED) {
        reg_unlink(t);
        ct__store_release(&t->state, ST_FINISHED);
    }
    (void)ct_condition_notify_all(&reg_cond);
    // Under the lock, so that a fork() never copies a finished thread
    // whose `done` is not set (joiners in the child would wait forever).
    (void)ct_event_set(&t->done);
    unlock_registry();
}

// The end of a thread the library created, on either path (return from the
// target, or the exit hook after pthread_exit): the excepthook, the thread's
// ct_local values, then finished. Python's order: the hook runs inside the
// thread before it counts as stopped.
//
// The exit hook stays armed until the thread counts as finished: a hook or
// a ct_local destructor that calls ct_thread_exit() (pthread_exit) lands in
// on_thread_exit(), which finishes the job without calling the hook again.
static void
finish_created(ct_thread *t, int code, bool exited)
{
    if (!t->finishing) {
        t->finishing = true;
        if (code != 0) {
            ct_excepthook_fn *hook = ct__load_acquire(&excepthook);
            if (hook != NULL) {
                hook(t, code);
            } else if (!exited) {
                ct_default_excepthook(t, code);
            }
        }
    }
    ct__local_thread_exit();
    mark_finished(t);
    ct__os_key_set(exit_key, NULL);
    self_record = NULL;
    unref(t, true);
}

// The exit hook (the key's destructor): a thread ends with its record still
// set. For a created thread that means pthread_exit()/ct_thread_exit().
static void
on_thread_exit(void *value)
{
    ct_thread *t = value;
    if (t->kind == KIND_CREATED) {
        finish_created(t, t->exit_code, t->exited);
        return;
    }
    ct__local_thread_exit();
    mark_finished(t);
    self_record = NULL;
    if (t->kind == KIND_DUMMY) {
        unref(t, true);
    }
}

static void *
bootstrap(void *arg)
{
    ct_thread *t = arg;
    ct__thread_id_adopt((uintptr_t)t->ident);
    self_record = t;
    ct__os_key_set(exit_key, t);
    int expected = ST_STARTING;
    (void)ct__cas_acq_rel(&t->state, &expected, ST_ALIVE);
    // The OS name first: whoever learns the native id (after `started`)
    // finds the name already in /proc. A rename from outside may race with
    // this: it stores the name before renaming the OS thread, so checking
    // the name again after setting it leaves the latest one in place.
    name_node *name = ct__load_seq_cst(&t->name);
    for (;;) {
        ct__os_thread_set_name(name->text);
        name_node *now = ct__load_seq_cst(&t->name);
        if (now == name) {
            break;
        }
        name = now;
    }
    t->native_id = ct__os_thread_native_id();
    (void)ct_event_set(&t->started); // release: pairs with native_id()

    int code = t->target(t->arg);
    finish_created(t, code, false);
    return NULL;
}

// --- Initialization, exit and fork ------------------------------------------

static void on_process_exit(void);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

// Sets up the main thread's record for the calling thread.
static void
main_record_init(void)
{
    ct_thread *m = &main_record;
    static name_node *main_name;
    if (main_name == NULL) {
        main_name = name_copy("MainThread");
        if (main_name == NULL) {
            ct__os_abort("out of memory at load time");
        }
    }
    memset(m, 0, sizeof *m);
    m->kind = KIND_MAIN;
    m->immortal = true;
    m->refs = 1;
    m->name = main_name;
    m->ident = (uint64_t)ct__thread_id();
    m->native_id = ct__os_thread_native_id();
    m->state = ST_ALIVE;
    (void)ct_event_set(&m->started);
    main_thread = m;
    self_record = m;
    ct__os_key_set(exit_key, m);
    reg_link(m);
}

// Runs when the library is loaded, on the loading thread: that thread
// becomes MainThread. Constructors run one at a time, before main().
__attribute__((constructor)) static void
thread_layer_init(void)
{
    if (ct__os_key_create(&exit_key, on_thread_exit) != 0) {
        ct__os_abort("no pthread key for the thread registry");
    }
    main_record_init();
    ct__parking_lot_fork_setup();
    ct__os_at_fork(fork_prepare, fork_parent, fork_child);
    if (ct__os_at_exit(on_process_exit) != 0) {
        ct__os_abort("atexit failed");
    }
}

// Holds the registry across fork() so the child's lists are whole, once
// every started thread has set its native id and OS name: a start does not
// wait for that, and the child must not see a started thread without them
// (Python's start() waits). The new thread sets `started` without the
// registry lock, and a start the OS refused goes back to NEW without it,
// so waiting here with the lock held cannot deadlock.
static void
fork_prepare(void)
{
    lock_registry();
    for (ct_thread *t = reg_head; t != NULL;) {
        int state = ct__load_acquire(&t->state);
        if (t->kind != KIND_CREATED || state == ST_NEW ||
            state == ST_FINISHED ||
            ct_event_wait(&t->started, CT_MILLIS(1)) == 0) {
            t = t->next;
        }
    }
}

static void
fork_parent(void)
{
    unlock_registry();
}

// In the child only the forking thread exists. Every other record is
// finished (its OS thread is gone: nobody may join or detach it), the
// forker becomes the main thread, and the registry's lock and condition
// start afresh (the parking lot was reset before this handler ran).
static void
fork_child(void)
{
    ct_lock_init(&reg_lock);
    (void)ct_condition_init(&reg_cond, &reg_lock);
    fork_generation++;
    ct_thread *self = self_record;
    ct_thread *t = reg_head;
    while (t != NULL) {
        ct_thread *next = t->next;
        if (t != self) {
            reg_unlink(t);
            t->in_shutdown = false;
            ct__store_relaxed(&t->state, ST_FINISHED);
            (void)ct_event_set(&t->started); // native id 0 if it never ran
            (void)ct_event_set(&t->done);
            if (t->kind == KIND_CREATED) {
                ct__store_relaxed(&t->os_state, OS_GONE);
            }
            if (t->kind != KIND_MAIN) {
                unref(t, false); // the reference its thread held
            }
        }
        t = next;
    }
    if (self == NULL) {
        main_record_init(); // a thread without a record: a new MainThread
        return;
    }
    self->in_shutdown = false;
    self->fork_gen = fork_generation; // its OS thread is this one
    self->native_id = ct__os_thread_native_id();
    if (self->kind != KIND_MAIN) {
        self->immortal = true;
        self->daemon = false;
        if (self->kind == KIND_DUMMY) {
            self->kind = KIND_MAIN; // joinable now, through `done`
        }
        main_thread = self;
    }
}

// Set by the executor layer (thread_impl.h).
static void (*shutdown_hook)(void);

void
ct__thread_set_shutdown_hook(void (*hook)(void))
{
    ct__store_release(&shutdown_hook, hook);
}

// Python's threading._shutdown(). `primary`: the main thread or the exit
// handler, which waits for every non-daemon thread; any other caller skips
// the threads that are themselves inside ct_shutdown(), so that two of them
// never wait for each other. The hook runs first, as Python's atexit
// callbacks of threading do.
static void
shutdown(bool primary)
{
    ct_thread *self = self_record;
    if (self != NULL && self == main_thread) {
        primary = true;
        mark_finished(self);
    }
    // Any other caller is marked, primary or not: a non-primary one must
    // not wait for it (the exit handler may run in a thread, via exit()).
    // Marked before the hook, which may wait for a thread (a pool worker)
    // that is itself in here and must not wait for us.
    bool marked = self != NULL && self != main_thread;
    if (marked) {
        lock_registry();
        self->in_shutdown = true;
        (void)ct_condition_notify_all(&reg_cond);
        unlock_registry();
    }
    void (*hook)(void) = ct__load_acquire(&shutdown_hook);
    if (hook != NULL) {
        hook();
    }
    lock_registry();
    for (;;) {
        bool must_wait = false;
        for (ct_thread *t = reg_head; t != NULL; t = t->next) {
            if (t->kind == KIND_CREATED && !t->daemon && t != self &&
                (primary || !t->in_shutdown)) {
                must_wait = true;
                break;
            }
        }
        if (!must_wait) {
            break;
        }
        int rc = ct_condition_wait(&reg_cond, CT_FOREVER);
        (void)rc; // 0: notified (CT_FOREVER cannot time out)
    }
    if (marked) {
        self->in_shutdown = false;
        (void)ct_condition_notify_all(&reg_cond); // it may be waited for now
    }
    unlock_registry();
}

// At normal process exit: the join, then the exiting thread's ct_local
// values (pthread runs no key destructors for a thread that calls exit(),
// and Python releases the main thread's locals at finalization).
static void
on_process_exit(void)
{
    shutdown(true);
    ct__local_thread_exit();
}

int
ct_shutdown(void)
{
    shutdown(false);
    return 0;
}

// --- The thread API --------------------------------------------------------

static ct_thread *
current_or_null(void)
{
    return self_record;
}

int
ct_thread_new_named(ct_thread **thread, ct_thread_fn *target, void *arg,
                    const ct_thread_opts *opts, const char *target_name)
{
    static const ct_thread_opts defaults = {NULL, CT_DAEMON_INHERIT, 0};
    if (opts == NULL) {
        opts = &defaults;
    }
    if (thread == NULL || target == NULL || opts->daemon < CT_DAEMON_INHERIT ||
        opts->daemon > CT_DAEMON_YES ||
        (opts->stack_size != 0 &&
         opts->stack_size < ct__os_thread_stack_min()) ||
        (opts->name != NULL && !ct__utf8_valid(opts->name))) {
        return CT_EINVAL;
    }
    bool daemon;
    if (opts->daemon == CT_DAEMON_INHERIT) {
        ct_thread *creator = ct_current_thread();
        daemon = creator != NULL && creator->daemon;
    } else {
        daemon = opts->daemon == CT_DAEMON_YES;
    }
    ct_thread *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return CT_ENOMEM;
    }
    // As in Python, only a default name takes a number.
    if (opts->name != NULL && opts->name[0] != '\0') {
        t->name = name_copy(opts->name);
    } else {
        uint32_t n = ct__fetch_add_relaxed(&name_counter, 1) + 1;
        t->name = name_new("Thread-", n,
                           is_identifier(target_name) ? target_name : NULL);
    }
    if (t->name == NULL) {
        free(t);
        return CT_ENOMEM;
    }
    t->kind = KIND_CREATED;
    t->state = ST_NEW;
    t->os_state = OS_NONE;
    t->daemon = daemon;
    t->refs = 1;
    t->target = target;
    t->arg = arg;
    t->stack_size = opts->stack_size;
    *thread = t;
    return 0;
}

int(ct_thread_new)(ct_thread **thread, ct_thread_fn *target, void *arg,
                   const ct_thread_opts *opts)
{
    return ct_thread_new_named(thread, target, arg, opts, NULL);
}

int
ct_thread_start(ct_thread *t)
{
    if (t == NULL) {
        return CT_EINVAL;
    }
    int expected = ST_NEW;
    if (t->kind != KIND_CREATED ||
        !ct__cas_acq_rel(&t->state, &expected, ST_STARTING)) {
        return CT_ESTATE;
    }
    // Two references: the running thread's, and this call's own, since the
    // new thread may free the caller's handle before this call is done.
    ct__fetch_add_relaxed(&t->refs, 2);
    if (t->ident == 0) {
        t->ident = (uint64_t)ct__thread_id_new(); // kept if a start fails
    }
    name_node *named = ct__load_acquire(&t->name);
    lock_registry();
    reg_link(t);
    unlock_registry();
    t->fork_gen = ct__load_relaxed(&fork_generation);
    // The handle goes to a local first: other threads read t->os only once
    // os_state says it is there (the new thread may run, and be found by
    // ct_enumerate, before pthread_create has returned).
    ct__os_thread os = {{0}};
    int rc = ct__os_thread_start(&os, t->stack_size, bootstrap, t);
    if (rc != 0) {
        ct__store_release(&t->state, ST_NEW); // first: see fork_prepare
        lock_registry();
        reg_unlink(t);
        (void)ct_condition_notify_all(&reg_cond); // a ct_shutdown() may wait
        unlock_registry();
        ct__fetch_sub_relaxed(&t->refs, 2);
        return rc;
    }
    lock_registry();
    t->os = os;
    ct__store_release(&t->os_state, OS_JOINABLE);
    int starting = ST_STARTING;
    (void)ct__cas_acq_rel(&t->state, &starting, ST_ALIVE);
    // A rename that came before the handle was here could not reach the
    // OS thread (nor, perhaps, the thread's own naming): apply it now.
    name_node *now = t->name;
    if (now != named && ct__load_relaxed(&t->state) == ST_ALIVE) {
        ct__os_thread_set_name_of(&t->os, now->text);
    }
    unlock_registry();
    unref(t, false); // this call's reference
    return 0;
}

int
ct_thread_join(ct_thread *t, ct_duration timeout)
{
    if (t == NULL) {
        return CT_EINVAL;
    }
    if (t->kind == KIND_DUMMY) {
        return CT_ESTATE;
    }
    if (t == current_or_null()) {
        return CT_EDEADLK;
    }
    int state = ct__load_acquire(&t->state);
    if (state == ST_NEW || state == ST_STARTING) {
        return CT_ESTATE;
    }
    // A join without a timeout reaps the OS thread itself if nobody has
    // claimed it: one wake-up (the OS thread's end) instead of two (`done`,
    // then the end). The thread sets `done` before its OS thread ends.
    if (timeout == CT_FOREVER && claim_os(t, OS_REAPED)) {
        ct__os_thread_join(&t->os);
        return 0;
    }
    int rc = ct_event_wait(&t->done, timeout);
    if (rc != 0) {
        return rc;
    }
    if (claim_os(t, OS_REAPED)) {
        ct__os_thread_join(&t->os);
    }
    return 0;
}

bool
ct_thread_is_alive(const ct_thread *t)
{
    return t != NULL && ct__load_acquire(&t->state) == ST_ALIVE;
}

const char *
ct_thread_name(const ct_thread *t)
{
    return t != NULL ? ct__load_acquire(&t->name)->text : "";
}

int
ct_thread_set_name(ct_thread *t, const char *name)
{
    if (t == NULL || name == NULL || !ct__utf8_valid(name)) {
        return CT_EINVAL;
    }
    name_node *node = name_copy(name);
    if (node == NULL) {
        return CT_ENOMEM;
    }
    // Under reg_lock: the chain of names, and the OS rename of another
    // thread, which must not race with that thread ending (its handle is
    // valid while it is ALIVE, and it cannot finish while we hold the lock).
    lock_registry();
    node->older = t->name;
    // seq_cst: against bootstrap()'s naming loop, which reads the name
    // after setting the OS name (one of the two sees the other).
    ct__store_seq_cst(&t->name, node);
    if (t->kind == KIND_CREATED && ct__load_seq_cst(&t->state) == ST_ALIVE) {
        if (t == self_record) {
            ct__os_thread_set_name(t->name->text);
        } else if (ct__load_acquire(&t->os_state) != OS_NONE) {
            // The handle is valid: the thread cannot finish (and be
            // reaped) while we hold the registry lock. Without a handle
            // yet, ct_thread_start applies the name once it has one.
            ct__os_thread_set_name_of(&t->os, t->name->text);
        }
    }
    unlock_registry();
    return 0;
}

bool
ct_thread_is_daemon(const ct_thread *t)
{
    return t != NULL && t->daemon;
}

int
ct_thread_set_daemon(ct_thread *t, bool daemon)
{
    if (t == NULL) {
        return CT_EINVAL;
    }
    if (t->kind != KIND_CREATED || ct__load_acquire(&t->state) != ST_NEW) {
        return CT_ESTATE;
    }
    t->daemon = daemon;
    return 0;
}

uint64_t
ct_thread_ident(const ct_thread *t)
{
    if (t == NULL || ct__load_acquire(&t->state) == ST_NEW) {
        return 0;
    }
    return t->ident;
}

uint64_t
ct_thread_native_id(const ct_thread *t)
{
    int state = t != NULL ? ct__load_acquire(&t->state) : ST_NEW;
    if (state == ST_NEW) {
        return 0;
    }
    // Started: the id is there or a few microseconds away (the new thread
    // sets it first thing). A start that the OS refuses meanwhile goes back
    // to NEW without setting `started`: hence the rechecks.
    while (ct_event_wait((ct_event *)&t->started, CT_MILLIS(1)) != 0) {
        if (ct__load_acquire(&t->state) == ST_NEW) {
            return 0;
        }
    }
    return t->native_id;
}

ct_thread *
ct_thread_ref(ct_thread *t)
{
    if (t != NULL && !t->immortal) {
        ct__fetch_add_relaxed(&t->refs, 1);
    }
    return t;
}

void
ct_thread_free(ct_thread *t)
{
    if (t != NULL) {
        // The thread itself may drop the last reference (from a pthread key
        // destructor after its end): then it must detach, not join itself.
        unref(t, t->kind == KIND_CREATED && t->ident == ct_get_ident());
    }
}

void
ct_thread_exit(int code)
{
    ct_thread *t = self_record;
    if (t != NULL && t->kind == KIND_CREATED) {
        t->exit_code = code;
        t->exited = true;
    }
    ct__os_thread_exit();
}

// --- The registry API -------------------------------------------------------

ct_thread *
ct_current_thread(void)
{
    ct_thread *t = self_record;
    if (CT_LIKELY(t != NULL)) {
        return t;
    }
    // A thread the library did not create: a Dummy record, daemon and
    // alive, removed by the exit hook when the thread ends.
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    uint32_t n = ct__fetch_add_relaxed(&name_counter, 1) + 1;
    t->name = name_new("Dummy-", n, NULL);
    if (t->name == NULL) {
        free(t);
        return NULL;
    }
    t->kind = KIND_DUMMY;
    t->daemon = true;
    t->refs = 1;
    t->ident = (uint64_t)ct__thread_id();
    t->native_id = ct__os_thread_native_id();
    t->state = ST_ALIVE;
    (void)ct_event_set(&t->started);
    self_record = t;
    ct__os_key_set(exit_key, t);
    lock_registry();
    reg_link(t);
    unlock_registry();
    return t;
}

ct_thread *
ct_main_thread(void)
{
    return main_thread;
}

int
ct_active_count(void)
{
    lock_registry();
    int n = reg_count;
    unlock_registry();
    return n;
}

int
ct_enumerate(ct_thread **buf, size_t cap)
{
    if (buf == NULL && cap > 0) {
        return CT_EINVAL;
    }
    lock_registry();
    size_t i = 0;
    for (ct_thread *t = reg_head; t != NULL && i < cap; t = t->next) {
        buf[i++] = ct_thread_ref(t);
    }
    int n = reg_count;
    unlock_registry();
    return n;
}

uint64_t
ct_get_ident(void)
{
    return (uint64_t)ct__thread_id();
}

uint64_t
ct_get_native_id(void)
{
    ct_thread *t = self_record;
    return t != NULL ? t->native_id : ct__os_thread_native_id();
}

// --- excepthook -------------------------------------------------------------

void
ct_set_excepthook(ct_excepthook_fn *hook)
{
    ct__store_release(&excepthook, hook);
}

void
ct_default_excepthook(ct_thread *t, int code)
{
    char who[64];
    const char *name = t != NULL ? ct_thread_name(t) : NULL;
    if (name == NULL) {
        snprintf(who, sizeof who, "%llu", (unsigned long long)ct_get_ident());
        name = who;
    }
    if (code < 0 && strcmp(ct_err_name(code), "CT_EUNKNOWN") != 0) {
        fprintf(stderr, "Exception in thread %s: error %d (%s: %s)\n", name,
                code, ct_err_name(code), ct_strerror(code));
    } else {
        fprintf(stderr, "Exception in thread %s: error %d\n", name, code);
    }
    fflush(stderr);
}
