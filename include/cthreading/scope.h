// Scoped locking, Python's `with lock:`. Each macro opens a block that holds
// the primitive and releases it on every way out of the block: falling off
// its end, `break`, `continue`, `return` and `goto`. Needs GCC or Clang (the
// cleanup attribute). `break` and `continue` leave the block itself, not a
// loop around it. If the primitive is NULL the block is skipped.
//
//   CT_WITH_LOCK(&l) {
//       if (done) return 0;   // released here
//       shared++;
//   }                         // and here
#ifndef CTHREADING_SCOPE_H
#define CTHREADING_SCOPE_H

#include "condition.h"
#include "lock.h"
#include "rlock.h"
#include "semaphore.h"

#if defined(__GNUC__) || defined(__clang__)

#ifdef __cplusplus
extern "C" {
#endif

#define CT__CAT2(a, b) a##b
#define CT__CAT(a, b) CT__CAT2(a, b)
#define CT__SCOPE_VAR CT__CAT(ct__scope_, __LINE__)

typedef struct ct__scope {
    void *obj;
    int (*release)(void *obj);
    int once;
} ct__scope;

static inline void
ct__scope_exit(ct__scope *s)
{
    if (s->obj != NULL) {
        (void)s->release(s->obj);
    }
}

static inline int
ct__scope_acquire_lock(void *p)
{
    return ct_lock_acquire((ct_lock *)p, CT_FOREVER);
}

static inline int
ct__scope_release_lock(void *p)
{
    return ct_lock_release((ct_lock *)p);
}

static inline int
ct__scope_acquire_rlock(void *p)
{
    return ct_rlock_acquire((ct_rlock *)p, CT_FOREVER);
}

static inline int
ct__scope_release_rlock(void *p)
{
    return ct_rlock_release((ct_rlock *)p);
}

static inline int
ct__scope_acquire_semaphore(void *p)
{
    return ct_semaphore_acquire((ct_semaphore *)p, CT_FOREVER);
}

static inline int
ct__scope_release_semaphore(void *p)
{
    return ct_semaphore_release((ct_semaphore *)p, 1);
}

static inline int
ct__scope_acquire_condition(void *p)
{
    return ct_condition_acquire((ct_condition *)p, CT_FOREVER);
}

static inline int
ct__scope_release_condition(void *p)
{
    return ct_condition_release((ct_condition *)p);
}

// Acquires `obj` (evaluated once, by the macro) and makes the scope
// record; if the acquire fails (NULL, an unbound condition) the block is
// skipped and nothing is released.
static inline ct__scope
ct__scope_enter(void *obj, int (*acquire)(void *), int (*release)(void *))
{
    ct__scope s;
    int rc = acquire(obj);
    s.obj = rc == 0 ? obj : NULL;
    s.release = release;
    s.once = rc == 0;
    return s;
}

#define CT__WITH(obj, acquire, release)                                        \
    for (ct__scope CT__SCOPE_VAR __attribute__((cleanup(ct__scope_exit))) =    \
             ct__scope_enter((void *)(obj), (acquire), (release));             \
         CT__SCOPE_VAR.once; CT__SCOPE_VAR.once = 0)

// Holds a ct_lock for the block.
#define CT_WITH_LOCK(lockp)                                                    \
    CT__WITH((lockp), ct__scope_acquire_lock, ct__scope_release_lock)
// Holds a ct_rlock for the block.
#define CT_WITH_RLOCK(rlockp)                                                  \
    CT__WITH((rlockp), ct__scope_acquire_rlock, ct__scope_release_rlock)
// Holds one unit of a ct_semaphore for the block.
#define CT_WITH_SEMAPHORE(semp)                                                \
    CT__WITH((semp), ct__scope_acquire_semaphore, ct__scope_release_semaphore)
// Holds a condition's lock for the block.
#define CT_WITH_CONDITION(condp)                                               \
    CT__WITH((condp), ct__scope_acquire_condition, ct__scope_release_condition)

#ifdef __cplusplus
}
#endif
#endif
#endif
