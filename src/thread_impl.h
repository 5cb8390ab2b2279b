// The internal side of the thread layer for the layers above it.
#ifndef CT_THREAD_IMPL_H
#define CT_THREAD_IMPL_H

#include <stdbool.h>

// Sets the function that ct_shutdown() (and so the process's exit) runs
// first, before it waits for the non-daemon threads: the executor layer
// finishes its pools there, as Python's threading._register_atexit hooks
// do, so that their non-daemon workers can end. One hook; the last set
// wins; NULL removes it. Any thread may call it.
void ct__thread_set_shutdown_hook(void (*hook)(void));

// Returns whether `s` is well-formed UTF-8 (thread names must be).
bool ct__utf8_valid(const char *s);

#endif
