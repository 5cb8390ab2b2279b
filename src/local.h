// The internal side of ct_local for the thread layer (thread.c).
#ifndef CT_LOCAL_INTERNAL_H
#define CT_LOCAL_INTERNAL_H

// Destroys every ct_local value of the calling thread (repeating while
// destructors set new ones, up to 4 rounds) and frees the thread's table.
// thread.c calls it when a thread it started ends, before the thread counts
// as finished, so a join that returns has seen the values destroyed. For
// other threads local.c's own exit hook calls it. Idempotent: a thread
// without values costs one thread-local load.
void ct__local_thread_exit(void);

#endif
