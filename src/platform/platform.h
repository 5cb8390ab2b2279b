// The porting contract: everything cthreading needs from the OS. A port is
// one new file per group below, chosen once by the Makefile (PLATFORM=...).
// Only src/sync/ calls the parker; only files in src/platform/ know the OS.
#ifndef CT_PLATFORM_H
#define CT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// --- The thread parker (parker_linux.c: futex; parker_posix.c: mutex+cond)
//
// A parker is a one-shot wake-up slot owned by one thread. The owner arms it
// with ct__parker_prepare(), publishes itself somewhere (a wait queue), and
// calls ct__parker_park(); another thread that takes it off that queue calls
// ct__parker_unpark() exactly once. An unpark that comes before the park is
// not lost. Opaque storage so that src/sync/ can embed parkers in
// thread-local data without knowing the OS type inside.
typedef struct ct__parker {
    _Alignas(16) unsigned char opaque[128];
} ct__parker;

// Initializes a parker; called once by its owner before any other use.
void ct__parker_init(ct__parker *p);
// Arms the parker: a later park() sleeps until an unpark() made after this
// call. Called by the owner only.
void ct__parker_prepare(ct__parker *p);
// Returns true if the parker has been unparked since prepare() (acquire
// order: what the unparker wrote before unpark() is visible). Once it
// returns true, as once park() returns 0, the unparker touches the parker
// only in ways that stay harmless if the owner's thread has exited (see
// unpark below), so the owner may go on at once. Owner only.
bool ct__parker_poll(const ct__parker *p);
// Sleeps until unparked or until the absolute monotonic time `deadline_ns`
// (INT64_MAX: no deadline). Returns 0 when unparked, or CT_ETIMEDOUT (the
// parker stays armed: a later park() can still take the unpark). Spurious
// OS wake-ups are absorbed here. Owner only.
int ct__parker_park(ct__parker *p, int64_t deadline_ns);
// Wakes the parker's owner. Any thread, once per prepare(). The parker's
// memory may be reused as soon as the owner has returned from park(), so
// implementations touch it only in ways that stay harmless then (a futex
// wake on a recycled address is a spurious wake-up for someone who absorbs
// it).
void ct__parker_unpark(ct__parker *p);

// --- OS threads (thread_posix.c)
//
// The raw material of ct_thread: start, join or detach, identities, the OS
// name, and a per-thread exit hook. No registry and no policy here.
typedef struct ct__os_thread {
    _Alignas(16) unsigned char opaque[16];
} ct__os_thread;

// Starts fn(arg) on a new OS thread with a stack of at least `stack_bytes`
// (0: the OS default). Returns 0, CT_EINVAL if stack_bytes is non-zero and
// below ct__os_thread_stack_min(), or CT_EAGAIN if the OS refuses (thread
// limit, no memory for the stack); nothing is left behind on failure.
int ct__os_thread_start(ct__os_thread *t, size_t stack_bytes,
                        void *(*fn)(void *), void *arg);
// Waits for the thread to end and frees what the OS kept for it. Exactly
// once per started thread that was not detached; never on oneself.
void ct__os_thread_join(ct__os_thread *t);
// Lets the OS free the thread's resources when it ends (instead of join).
void ct__os_thread_detach(ct__os_thread *t);
// Returns the calling thread's OS handle as a non-zero integer (Python's
// get_ident(): unique among live threads, may be reused after one ends).
uintptr_t ct__os_thread_ident(void);
// Returns the kernel's id of the calling thread (Linux: gettid), as shown in
// /proc/self/task and by top -H (Python's get_native_id()).
uint64_t ct__os_thread_native_id(void);
// Sets the calling thread's OS name (top -H, gdb, /proc/.../comm) to the
// first CT__OS_NAME_MAX bytes of `name`, cut back to a UTF-8 character
// boundary. Best effort: silently does nothing where the OS cannot.
#define CT__OS_NAME_MAX 15
void ct__os_thread_set_name(const char *name);
// Sets the OS name of another thread started by ct__os_thread_start() that
// has not been joined or detached yet, as ct__os_thread_set_name() does for
// the calling thread. Best effort.
void ct__os_thread_set_name_of(ct__os_thread *t, const char *name);
// Returns the smallest stack size ct__os_thread_start() accepts.
size_t ct__os_thread_stack_min(void);
// Returns true if the caller is the process's first thread (the one main()
// runs on; after fork(), the forking thread). False where the OS cannot say.
bool ct__os_thread_is_initial(void);
// Ends the calling thread at once (pthread_exit): its exit hooks (keys
// below) run. Never returns.
_Noreturn void ct__os_thread_exit(void);

// A per-thread slot with an exit hook: when a thread that stored a non-NULL
// value exits, dtor(value) runs in that thread (also for threads the library
// did not create). Keys are few: create them once, at first need.
typedef struct ct__os_key {
    uintptr_t value;
} ct__os_key;

// Creates a key. Returns 0 or CT_EAGAIN (the OS ran out of keys).
int ct__os_key_create(ct__os_key *key, void (*dtor)(void *value));
// Stores / loads the calling thread's value for `key`.
void ct__os_key_set(ct__os_key key, void *value);
void *ct__os_key_get(ct__os_key key);

// --- Clock, scheduling and process facts (os_posix.c)

// Returns CLOCK_MONOTONIC in nanoseconds.
int64_t ct__clock_now_ns(void);
// Sleeps for `ns` nanoseconds (absorbs EINTR); returns at once if ns <= 0.
void ct__os_sleep_ns(int64_t ns);
// Gives the CPU to another runnable thread, if any.
void ct__os_yield(void);
// Returns the number of CPUs the calling thread may run on (at least 1),
// as Python 3.13's os.process_cpu_count() does: for sizing thread pools.
int ct__os_cpu_count(void);
// Returns the number of CPUs online (at least 1), whatever the calling
// thread's affinity: for the spin policy, which must not conclude "one
// CPU" from a thread pinned to one.
int ct__os_cpu_online(void);
// Arranges for the handlers to run around every fork() (pthread_atfork):
// `prepare` in the forking thread just before it (handlers registered later
// run first), then `parent` in the parent or `child` in the child, before
// fork() returns there (in the order registered). Any may be NULL. Call it
// once per set of handlers; `child` runs with only the forking thread alive.
void ct__os_at_fork(void (*prepare)(void), void (*parent)(void),
                    void (*child)(void));
// Arranges for `fn` to run at normal process exit (atexit: after main
// returns or exit() is called; handlers registered later run first).
// Returns 0 or CT_ENOMEM.
int ct__os_at_exit(void (*fn)(void));
// Prints "cthreading: fatal: <message>" to stderr and aborts. For states
// that cannot happen (an OS call that must not fail did).
_Noreturn void ct__os_abort(const char *message);

#endif
