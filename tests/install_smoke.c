// The install smoke test: `make install-check` builds this file against the
// installed headers and libraries only (through pkg-config), statically and
// shared, and runs it. It calls an inline header function, plain exports
// and a timed wait.
#include <stdio.h>
#include <string.h>

#include <cthreading.h>

int
main(void)
{
    ct_lock lock = CT_LOCK_INIT;
    ct_event event = CT_EVENT_INIT;
    int failures = 0;

    failures += strcmp(ct_version(), CT_VERSION_STRING) != 0;
    failures += ct_lock_acquire(&lock, CT_FOREVER) != 0;
    failures += ct_lock_acquire(&lock, CT_NOWAIT) != CT_ETIMEDOUT;
    failures += ct_lock_release(&lock) != 0;
    failures += ct_event_set(&event) != 0;
    failures += ct_event_wait(&event, CT_MILLIS(10)) != 0;
    failures += strcmp(ct_err_name(CT_ETIMEDOUT), "CT_ETIMEDOUT") != 0;
    printf("install smoke: cthreading %s, %s\n", ct_version(),
           failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
