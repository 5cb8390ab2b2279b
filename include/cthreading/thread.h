// ct_thread: Python's threading.Thread and the module functions around it
// (current_thread, main_thread, enumerate, excepthook, the exit join).
//
// A ct_thread is library-owned and reference counted. ct_thread_new() gives
// the caller one reference; ct_thread_free() drops one. A running thread
// holds a reference of its own, so freeing the handle of a running thread
// is safe: the thread keeps running and cleans up after itself. The OS
// thread is reaped by the first join after it ended, or when the last
// reference goes.
//
// Lifecycle (as Python's): new -> started (ct_thread_start returned; ident
// and native id set) -> finished (the target returned or called
// ct_thread_exit; its ct_local values destroyed). A finished thread reports
// not alive, leaves ct_enumerate(), and keeps its name, ident and native id.
#ifndef CTHREADING_THREAD_H
#define CTHREADING_THREAD_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_thread ct_thread;

// A thread's target. A non-zero return is the thread's "unhandled
// exception": it goes to the excepthook (never to join).
typedef int ct_thread_fn(void *arg);

// ct_thread_opts.daemon: Python's daemon=None / False / True. INHERIT (0,
// so zeroed options inherit) takes the creating thread's flag when
// ct_thread_new() runs.
#define CT_DAEMON_INHERIT 0
#define CT_DAEMON_NO 1
#define CT_DAEMON_YES 2

// The smallest non-zero stack_size accepted (Linux CPython's limit); the OS
// may ask for more (ct_thread_new then returns CT_EINVAL too).
#define CT_THREAD_STACK_MIN ((size_t)32768)

// Options for ct_thread_new(); NULL or zeroed options mean: the default
// name, daemon inherited, the OS default stack.
typedef struct ct_thread_opts {
    // NULL or "": "Thread-N (target)", N counting default names from 1.
    // Any length, valid UTF-8; the OS sees its first 15 bytes, cut at a
    // character boundary.
    const char *name;
    int daemon;        // CT_DAEMON_INHERIT, CT_DAEMON_NO or CT_DAEMON_YES
    size_t stack_size; // 0: the OS default; else >= CT_THREAD_STACK_MIN
} ct_thread_opts;

// Creates a thread that will run target(arg) once started; *thread
// receives the handle (one reference). Returns 0, CT_EINVAL (NULL thread or
// target, a daemon value not listed above, a name that is not UTF-8, a stack
// size below the minimum), or CT_ENOMEM. Nothing runs until
// ct_thread_start(). Used through the macro below, the default name carries
// the target's name: "Thread-3 (worker)".
CT_API int ct_thread_new(ct_thread **thread, ct_thread_fn *target, void *arg,
                         const ct_thread_opts *opts);
// ct_thread_new() with the target's name for the default thread name (the
// macro below passes it; NULL or a non-identifier leaves it out).
CT_API int ct_thread_new_named(ct_thread **thread, ct_thread_fn *target,
                               void *arg, const ct_thread_opts *opts,
                               const char *target_name);
#define ct_thread_new(thread, target, arg, opts)                               \
    ct_thread_new_named((thread), (target), (arg), (opts), #target)

// Starts the thread. Returns 0 once the OS thread exists: from then on the
// thread is alive (until it ends), listed, and its ident is set, and
// ct_thread_native_id() returns its native id (after the few microseconds
// the new thread takes to set it and its OS name), so callers observe what
// Python promises after start(), while creating threads back to back
// overlaps as with pthread_create. Returns CT_ESTATE if it was started
// before; CT_EINVAL for NULL; CT_EAGAIN if the OS refused a thread: the
// thread is then in no list and may be started again.
CT_API int ct_thread_start(ct_thread *thread);
// Waits until the thread has finished or `timeout` passes. Returns 0 (at
// once, and again and again, once it finished), CT_ETIMEDOUT, CT_EDEADLK
// when a thread joins itself, CT_ESTATE before start or for a thread the
// library did not create (a "Dummy-N"), or CT_EINVAL for NULL. Any number
// of threads may join one thread at once. A join without a timeout also
// waits for the OS thread to be gone (pthread_join, after the thread's
// last pthread key destructors); a timed join returns once the thread has
// finished. The main thread can be joined:
// it finishes in ct_shutdown(), which the process runs at exit.
CT_API CT_NODISCARD int ct_thread_join(ct_thread *thread, ct_duration timeout);
// Returns true from the moment ct_thread_start() returns until the thread
// has finished: its target returned (or it called ct_thread_exit), the
// excepthook ran and its ct_local values were destroyed. False for NULL,
// before start and after.
CT_API bool ct_thread_is_alive(const ct_thread *thread);
// Returns the thread's name (never NULL; "" for NULL). The string stays
// valid until the handle is freed, even across renames (a rename keeps the
// old string until then).
CT_API const char *ct_thread_name(const ct_thread *thread);
// Renames the thread (any string, "" included, as Python's setter). A
// thread the library created also gets the new OS name (its first 15 bytes
// at a UTF-8 boundary) while it runs; the main thread and Dummy threads keep
// their OS names. Returns 0, CT_EINVAL (NULL thread or name, not UTF-8) or
// CT_ENOMEM.
CT_API int ct_thread_set_name(ct_thread *thread, const char *name);
// Returns the daemon flag (false for NULL).
CT_API bool ct_thread_is_daemon(const ct_thread *thread);
// Sets the daemon flag. Returns 0, CT_ESTATE once started (or for the main
// and Dummy threads), or CT_EINVAL for NULL.
CT_API int ct_thread_set_daemon(ct_thread *thread, bool daemon);
// Returns the thread's ident (equal to ct_get_ident() inside it), 0 before
// start. Kept after the thread ends.
CT_API uint64_t ct_thread_ident(const ct_thread *thread);
// Returns the kernel's id of the thread (Linux: the TID of top -H and
// /proc/self/task, where its OS name is already set), 0 before start. Kept
// after the thread ends. Right after a start it may wait the few
// microseconds the new thread takes to learn its id.
CT_API uint64_t ct_thread_native_id(const ct_thread *thread);
// Adds a reference to the handle and returns it (NULL for NULL): to keep a
// handle from ct_current_thread() beyond the life of its thread.
CT_API ct_thread *ct_thread_ref(ct_thread *thread);
// Drops one reference. A thread not yet started is destroyed with the last
// one; a running thread keeps running and is destroyed when it ends and
// nobody refers to it. NULL, the main thread: nothing happens.
CT_API void ct_thread_free(ct_thread *thread);

// Ends the calling thread at once (Python's _thread.exit() or sys.exit()
// inside a thread). Joiners see it finished, its ct_local values are
// destroyed. A non-zero code reaches an excepthook set by
// ct_set_excepthook(); the default one stays silent, as Python's does for
// SystemExit. In the main thread or a thread the library did not create it
// ends that OS thread the same way (pthread_exit). Never returns.
CT_API CT_NORETURN void ct_thread_exit(int code);

// Returns the calling thread's handle, borrowed: valid while that thread
// runs (ct_thread_ref() keeps it longer). A thread the library did not
// create gets a "Dummy-N" entry (daemon, not joinable) on its first call,
// removed when it exits. NULL only if memory ran out for that entry.
CT_API ct_thread *ct_current_thread(void);
// Returns the main thread's handle ("MainThread"): the thread that loaded
// the library (the process's first thread unless the library was dlopen'd
// from another), or after fork() the thread that forked. Never freed.
CT_API ct_thread *ct_main_thread(void);
// Returns the number of live threads: started and not finished, Dummy
// threads and the main thread included (Python's active_count()).
CT_API int ct_active_count(void);
// Stores up to `cap` live threads into buf, each with a new reference the
// caller drops with ct_thread_free(), and returns how many are live (which
// may exceed cap: call again with a larger buffer). Returns CT_EINVAL for a
// NULL buf with cap > 0.
CT_API int ct_enumerate(ct_thread **buf, size_t cap);
// Returns the calling thread's ident: non-zero, and never reused within the
// process (Python allows reuse; we do not). The same number identifies
// the owner of a ct_rlock.
CT_API uint64_t ct_get_ident(void);
// Returns the calling thread's kernel id (Linux: gettid()).
CT_API uint64_t ct_get_native_id(void);

// threading.excepthook. Runs in the failing thread, after its target
// returned `code` != 0 (or called ct_thread_exit with it) and before the
// thread counts as finished, so a join that returns has seen it run.
typedef void ct_excepthook_fn(ct_thread *thread, int code);
// Installs `hook` for every thread (looked up when a thread fails); NULL
// restores the default. Any thread may call it.
CT_API void ct_set_excepthook(ct_excepthook_fn *hook);
// The default hook: prints "Exception in thread NAME: error CODE (NAME:
// description)" to stderr (just "error CODE" for codes cthreading does not
// know). Custom hooks may call it.
CT_API void ct_default_excepthook(ct_thread *thread, int code);

// What Python does at interpreter exit: shuts down every live ct_executor
// and waits for its queued work (later submits and new executors get
// CT_ESHUTDOWN), marks the main thread finished (when
// called from it) and waits until every non-daemon thread the library
// started has finished, threads started meanwhile included; daemon threads
// are left running. Skips the caller and threads inside ct_shutdown()
// themselves, so it cannot wait for itself. The process calls it from an
// atexit handler, after main returns or exit() is called; see docs/threads.md
// for opting out. Returns 0.
CT_API int ct_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
