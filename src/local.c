// ct_local: Python's threading.local as a slot number per key and an array
// of values per thread, so a get is a few loads and no lock. One registry
// lock guards slot numbers and the list of thread tables, which thread exits
// and ct_local_destroy() walk; destructors always run outside it.
#include <cthreading/local.h>

#include <stdlib.h>
#include <string.h>

#include <cthreading/lock.h>

#include "list.h"
#include "local.h"
#include "platform/platform.h"
#include "sync/atomic.h"
#include "sync/parking_lot.h"

// What a slot number means. A slot in use holds its key's destructor,
// copied when the slot is given, so that a thread exit never reads a key
// (which the program may have freed without destroying it). A free slot
// links the free list.
typedef struct slot_info {
    void (*dtor)(void *value);
    uint32_t next_free; // free slot: the next free slot + 1; 0 ends the list
} slot_info;

// A thread's values: slots[i] is its value for the key whose _index is
// i + 1. Only the owner stores non-NULL values, without the lock; other
// threads only take values out (exchange with NULL), under the lock. Only
// the owner changes `slots` and `cap`, under the lock, so it may read them
// without it.
typedef struct table {
    struct table *prev, *next; // the registry's list; under the lock
    size_t cap;
    void **slots;
} table;

// The registry: everything below is guarded by `registry`, and so are the
// list links, `cap` and `slots` of every table (as above). The lock is
// never held while a destructor runs (destructors may call ct_local_set)
// nor while allocating, so its sections are short and fork()'s prepare
// handler can take it. Invariants, with the lock held:
// - Slots below slot_count are in use (some key's _index is slot + 1) or
//   on the free list; slots from slot_count up were never given.
// - A free slot is NULL in every table: ct_local_destroy() takes the last
//   value out and frees the slot in one critical section. So a non-NULL
//   slot always belongs to a key in use, and slot_infos[slot].dtor is its
//   destructor.
// - Every thread with a table (self != NULL) has it on the list, until
//   its exit; after fork() the child keeps the tables of threads that did
//   not survive, so ct_local_destroy() there still destroys their values.
static ct_lock registry;
static slot_info *slot_infos; // slot_cap entries, slot_count in use
static uint32_t slot_count;
static uint32_t slot_cap;
static uint32_t free_head;  // the first free slot + 1; 0: none
static table *tables;       // the list head
static ct__os_key exit_key; // a thread's value is its table: the exit hook
static bool exit_key_ready;

// The calling thread's table, NULL until its first ct_local_set().
// Initial-exec TLS keeps ct_local_get() free of a __tls_get_addr call in
// the shared library (docs/design.md, "Thread-local storage").
static _Thread_local table *self __attribute__((tls_model("initial-exec")));

// Slot numbers fit _index (slot + 1) and sizes fit size_t.
#define MAX_SLOTS                                                              \
    (SIZE_MAX / sizeof(slot_info) < UINT32_MAX - 1                             \
         ? (uint32_t)(SIZE_MAX / sizeof(slot_info))                            \
         : UINT32_MAX - 1)
// Initial capacities: slots of the registry, values of a thread.
#define FIRST_SLOTS 64u
#define FIRST_CAP ((size_t)16)
// Values taken out per critical section by a thread exit or a destroy,
// then destroyed with the lock released.
#define BATCH 32
// How many times a thread exit sweeps its table again when destructors
// set new values (pthread's PTHREAD_DESTRUCTOR_ITERATIONS is 4 too).
#define ROUNDS 4

static void
lock(void)
{
    // Cannot fail: the lock is valid and the wait unlimited.
    int rc = ct_lock_acquire(&registry, CT_FOREVER);
    (void)rc;
}

static void
unlock(void)
{
    (void)ct_lock_release(&registry);
}

// fork() copies only the forking thread. Holding the lock across it means
// the child never inherits a half-done critical section (a half-linked
// table, a half-copied array).
static void
before_fork(void)
{
    lock();
}

static void
after_fork_parent(void)
{
    unlock();
}

// The child's lock word may have PARKED set for threads that do not exist
// there; the parking lot's child handler, registered before this one, has
// emptied their queues, so a plain reset to unlocked is exact.
static void
after_fork_child(void)
{
    ct_lock_init(&registry);
}

__attribute__((constructor)) static void
register_fork_handlers(void)
{
    ct__parking_lot_fork_setup();
    ct__os_at_fork(before_fork, after_fork_parent, after_fork_child);
}

// The OS calls this when a thread whose exit_key value is non-NULL ends,
// including threads the library did not create; `value` is its table.
static void
on_thread_exit(void *value)
{
    (void)value;
    ct__local_thread_exit();
}

int
ct_local_init(ct_local *key, void (*dtor)(void *value))
{
    if (key == NULL) {
        return CT_EINVAL;
    }
    key->_dtor = dtor;
    ct__store_relaxed(&key->_index, 0);
    key->_reserved = 0;
    return 0;
}

// Returns the next capacity of slot_infos, or 0 at the limit.
static uint32_t
next_slot_cap(uint32_t cap)
{
    if (cap >= MAX_SLOTS) {
        return 0;
    }
    if (cap == 0) {
        return FIRST_SLOTS < MAX_SLOTS ? FIRST_SLOTS : MAX_SLOTS;
    }
    return cap <= MAX_SLOTS / 2 ? cap * 2 : MAX_SLOTS;
}

// Gives `key` a slot unless it has one, and returns its _index (slot + 1),
// or 0 when out of memory. Threads may race to set a fresh key first: the
// lock makes one of them choose, and the others find its choice.
static uint32_t
assign_slot(ct_local *key)
{
    slot_info *spare = NULL; // a bigger slot_infos, allocated unlocked
    uint32_t spare_cap = 0;
    for (;;) {
        lock();
        uint32_t idx = ct__load_relaxed(&key->_index);
        slot_info *old = NULL;
        if (idx == 0) {
            uint32_t slot;
            if (free_head != 0) {
                slot = free_head - 1;
                free_head = slot_infos[slot].next_free;
            } else if (slot_count < slot_cap) {
                slot = slot_count++;
            } else if (spare_cap > slot_cap) {
                if (slot_count > 0) {
                    memcpy(spare, slot_infos, slot_count * sizeof *spare);
                }
                old = slot_infos;
                slot_infos = spare;
                slot_cap = spare_cap;
                spare = NULL;
                slot = slot_count++;
            } else {
                uint32_t want = next_slot_cap(slot_cap);
                unlock();
                free(spare);
                spare = want != 0 ? malloc(want * sizeof *spare) : NULL;
                if (spare == NULL) {
                    return 0;
                }
                spare_cap = want;
                continue;
            }
            slot_infos[slot].dtor = key->_dtor;
            slot_infos[slot].next_free = 0;
            idx = slot + 1;
            // release: pairs with the acquire loads in ct_local_get() and
            // ct_local_set(). The slot may have served a destroyed key; a
            // thread that sees the new index also sees the destroy's
            // emptying of its own table, so no stale value shows through.
            ct__store_release(&key->_index, idx);
        }
        unlock();
        free(old);
        free(spare);
        return idx;
    }
}

// Makes the calling thread's table hold index `idx`, creating the table
// (and arming the exit hook) at the thread's first value. Returns the
// table, or NULL when out of memory or OS keys (nothing changed then).
static table *
reserve(uint32_t idx)
{
    table *t = self;
    size_t cap = t != NULL ? t->cap : 0;
    // cap * 2 cannot overflow: cap pointers already fit in memory.
    size_t new_cap = cap * 2 > FIRST_CAP ? cap * 2 : FIRST_CAP;
    if (new_cap < idx) {
        new_cap = idx;
    }
    void **slots = calloc(new_cap, sizeof *slots);
    table *fresh = t == NULL ? calloc(1, sizeof *fresh) : NULL;
    if (slots == NULL || (t == NULL && fresh == NULL)) {
        free(slots);
        free(fresh);
        return NULL;
    }
    lock();
    if (!exit_key_ready) {
        if (ct__os_key_create(&exit_key, on_thread_exit) != 0) {
            unlock();
            free(slots);
            free(fresh);
            return NULL;
        }
        exit_key_ready = true;
    }
    void **old = NULL;
    if (fresh != NULL) {
        t = fresh;
        CT__LIST_PUSH(&tables, t);
    } else {
        // Under the lock: another thread's destroy may be taking values
        // out of the old array; it sees either array whole, never both.
        old = t->slots;
        memcpy(slots, old, t->cap * sizeof *slots);
    }
    t->slots = slots;
    t->cap = new_cap;
    unlock();
    free(old);
    if (fresh != NULL) {
        self = fresh;
        ct__os_key_set(exit_key, fresh);
    }
    return t;
}

void *
ct_local_get(ct_local *key)
{
    table *t = self;
    if (key == NULL || t == NULL) {
        return NULL;
    }
    // acquire: pairs with the release in assign_slot().
    uint32_t idx = ct__load_acquire(&key->_index);
    if (idx == 0 || idx > t->cap) {
        return NULL;
    }
    // relaxed: only this thread stores non-NULL values here.
    return ct__load_relaxed(&t->slots[idx - 1]);
}

int
ct_local_set(ct_local *key, void *value)
{
    if (key == NULL) {
        return CT_EINVAL;
    }
    // acquire: pairs with the release in assign_slot(), as in get.
    uint32_t idx = ct__load_acquire(&key->_index);
    table *t = self;
    if (idx == 0 || t == NULL || idx > t->cap) {
        if (value == NULL) {
            return 0; // no value to delete, and no need for a slot
        }
        if (idx == 0 && (idx = assign_slot(key)) == 0) {
            return CT_ENOMEM;
        }
        if ((t == NULL || idx > t->cap) && (t = reserve(idx)) == NULL) {
            return CT_ENOMEM;
        }
    }
    // acq_rel: the release publishes *value to ct_local_destroy() in
    // another thread, whose exchange under the lock acquires it.
    void *old = ct__swap_acq_rel(&t->slots[idx - 1], value);
    if (old != NULL && old != value && key->_dtor != NULL) {
        key->_dtor(old);
    }
    return 0;
}

void
ct_local_destroy(ct_local *key)
{
    if (key == NULL) {
        return;
    }
    uint32_t idx = ct__load_acquire(&key->_index);
    if (idx == 0) {
        return; // never set: no thread holds a value
    }
    size_t slot = idx - 1;
    // Batches of values taken out under the lock and destroyed outside it.
    // Each pass starts again from the list head, since threads may exit
    // (and free their tables) while the lock is released.
    for (;;) {
        void *batch[BATCH];
        size_t n = 0;
        lock();
        if (ct__load_relaxed(&key->_index) != idx) {
            unlock(); // a concurrent destroy (misuse) finished first
            return;
        }
        for (table *t = tables; t != NULL && n < BATCH; t = t->next) {
            if (slot < t->cap) {
                // acq_rel: acquire pairs with the owner's exchange in
                // ct_local_set(), so the destructor sees *value whole.
                void *v = ct__swap_acq_rel(&t->slots[slot], NULL);
                if (v != NULL) {
                    batch[n++] = v;
                }
            }
        }
        if (n == 0) {
            // Empty in every table: the slot may serve another key.
            slot_infos[slot].dtor = NULL;
            slot_infos[slot].next_free = free_head;
            free_head = idx;
            ct__store_relaxed(&key->_index, 0);
            unlock();
            return;
        }
        unlock();
        if (key->_dtor != NULL) {
            for (size_t i = 0; i < n; i++) {
                key->_dtor(batch[i]);
            }
        }
    }
}

typedef struct taken {
    void *value;
    void (*dtor)(void *value);
} taken;

// Takes the values out of one sweep of the caller's table, in batches,
// and destroys them with the lock released. Returns whether it found any.
static bool
sweep(table *t)
{
    bool found = false;
    size_t i = 0;
    for (;;) {
        taken batch[BATCH];
        size_t n = 0;
        lock();
        // The destructor is read in the same critical section that takes
        // the value out: once the lock is released, ct_local_destroy() may
        // find the slot empty and give it to another key. cap and slots
        // are read again each time: a destructor may have grown the table.
        for (; i < t->cap && n < BATCH; i++) {
            void *v = ct__swap_acq_rel(&t->slots[i], NULL);
            if (v != NULL) {
                batch[n].value = v;
                batch[n].dtor = slot_infos[i].dtor;
                n++;
            }
        }
        bool done = i >= t->cap;
        unlock();
        for (size_t k = 0; k < n; k++) {
            if (batch[k].dtor != NULL) {
                batch[k].dtor(batch[k].value);
            }
        }
        found = found || n > 0;
        if (done) {
            return found;
        }
    }
}

void
ct__local_thread_exit(void)
{
    table *t = self;
    if (t == NULL) {
        return;
    }
    // Destructors may set values (of any key) in this thread: sweep again
    // while a sweep destroyed something, up to ROUNDS times. Values set in
    // the last round are forgotten, as pthread forgets them.
    for (int round = 0; round < ROUNDS && sweep(t); round++) {
    }
    lock();
    CT__LIST_REMOVE(&tables, t);
    unlock();
    self = NULL;
    free(t->slots);
    free(t);
    ct__os_key_set(exit_key, NULL);
}
