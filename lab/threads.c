// Starting and joining a run's threads, the same way in every command: a
// thread that fails to start aborts the barrier the others wait at, so they
// return instead of waiting for it forever.
#include <cthreading.h>

#include "lab.h"

int
lab_spawn(ct_thread **t, int n, ct_thread_fn *fn, void *args, size_t stride,
          ct_barrier *gate, int *started)
{
    *started = 0;
    for (int i = 0; i < n; i++) {
        int rc =
            ct_thread_new(&t[i], fn, (char *)args + (size_t)i * stride, NULL);
        if (rc == 0) {
            rc = ct_thread_start(t[i]);
            if (rc != 0) {
                ct_thread_free(t[i]);
            }
        }
        if (rc != 0) {
            // Those already waiting get CT_EBROKEN and return.
            if (gate != NULL) {
                (void)ct_barrier_abort(gate);
            }
            return rc;
        }
        (*started)++;
    }
    return 0;
}

int
lab_join(lab_ctx *ctx, ct_thread **t, int n)
{
    int first = 0;
    for (int i = 0; i < n; i++) {
        int rc;
        if (ctx == NULL) {
            rc = ct_thread_join(t[i], CT_FOREVER);
        } else {
            while ((rc = ct_thread_join(t[i], CT_MILLIS(100))) ==
                   CT_ETIMEDOUT) {
                lab_progress_tick(ctx);
            }
        }
        first = first != 0 ? first : rc;
        ct_thread_free(t[i]);
    }
    return first;
}
