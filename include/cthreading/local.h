// ct_local: Python's threading.local. Each thread sees its own value for a
// key; the key owns the values and destroys each with its destructor when
// the thread that set it ends (threads the library did not create too), when
// it is replaced, and when the key is destroyed.
#ifndef CTHREADING_LOCAL_H
#define CTHREADING_LOCAL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

// A key. Valid once initialized by CT_LOCAL_INIT(dtor) or ct_local_init();
// a zeroed key is a valid key without a destructor. It takes a slot of
// every thread's table at its first ct_local_set() and gives it back when
// destroyed; there is no limit on the number of keys.
typedef struct ct_local {
    void (*_dtor)(void *value); // private: called on each non-NULL value
    uint32_t _index;            // private: slot number + 1, 0 before use
    uint32_t _reserved;
} ct_local;

// clang-format off
#define CT_LOCAL_INIT(dtor) {(dtor), 0, 0}
// clang-format on

// Initializes a key whose values are destroyed with dtor(value) (dtor may be
// NULL: values are then only forgotten). Returns 0 or CT_EINVAL for NULL.
// Not for a key in use: destroy it first, or its slot is never given back.
CT_API int ct_local_init(ct_local *key, void (*dtor)(void *value));
// Destroys every thread's value of the key (in the calling thread, with the
// destructor) and gives its slot back; the key is then like a new one with
// the same destructor. No thread may get or set it meanwhile. A thread that
// is exiting at the same moment may already have taken its own value: it
// destroys that one itself, perhaps just after this returns. NULL: nothing.
CT_API void ct_local_destroy(ct_local *key);
// Returns the calling thread's value, or NULL if it set none (or NULL).
// Costs a few loads: no lock, no system call.
CT_API void *ct_local_get(ct_local *key);
// Sets the calling thread's value. The value it replaces, if any and not the
// same pointer, is destroyed with the destructor after the new one is
// stored (Python drops the old object); NULL deletes the value. Returns 0,
// CT_EINVAL for a NULL key, or CT_ENOMEM (out of memory, or the OS has no
// thread key left for the exit hook; the old value is then kept).
// Destructors may get and set values of any key: at a thread's exit the
// values they set are destroyed in turn, for up to 4 rounds, and values
// set in the last round are forgotten (as pthread does).
CT_API int ct_local_set(ct_local *key, void *value);

#ifdef __cplusplus
}
#endif
#endif
