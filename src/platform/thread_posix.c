// OS threads on POSIX: pthread_create/join/detach, identities, the OS
// thread name and exit hooks (pthread keys). Linux specifics (gettid, the
// name) are chosen per function at file level, as the porting contract asks.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#if defined(__FreeBSD__) || defined(__OpenBSD__)
#include <pthread_np.h>
#endif

#include <cthreading/base.h>

#include "platform.h"

_Static_assert(sizeof(pthread_t) <= sizeof(ct__os_thread), "pthread_t size");
_Static_assert(sizeof(pthread_key_t) <= sizeof(uintptr_t), "key size");

static pthread_t *
handle(ct__os_thread *t)
{
    return (pthread_t *)(void *)t->opaque;
}

// CPython refuses stacks under 32 KiB on Linux; the OS minimum is smaller.
#define STACK_MIN_BYTES ((size_t)32768)

size_t
ct__os_thread_stack_min(void)
{
    size_t os_min = (size_t)PTHREAD_STACK_MIN;
    return os_min > STACK_MIN_BYTES ? os_min : STACK_MIN_BYTES;
}

int
ct__os_thread_start(ct__os_thread *t, size_t stack_bytes, void *(*fn)(void *),
                    void *arg)
{
    if (stack_bytes != 0 && stack_bytes < ct__os_thread_stack_min()) {
        return CT_EINVAL;
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        return CT_EAGAIN;
    }
    int rc = 0;
    if (stack_bytes != 0 && pthread_attr_setstacksize(&attr, stack_bytes)) {
        rc = CT_EINVAL;
    } else {
        int err = pthread_create(handle(t), &attr, fn, arg);
        // EAGAIN (limits, memory for the stack) and anything else the OS
        // says mean the same to a caller: no thread now.
        rc = err == 0 ? 0 : err == EINVAL ? CT_EINVAL : CT_EAGAIN;
    }
    pthread_attr_destroy(&attr);
    return rc;
}

void
ct__os_thread_join(ct__os_thread *t)
{
    if (pthread_join(*handle(t), NULL) != 0) {
        ct__os_abort("pthread_join failed");
    }
}

void
ct__os_thread_detach(ct__os_thread *t)
{
    if (pthread_detach(*handle(t)) != 0) {
        ct__os_abort("pthread_detach failed");
    }
}

uintptr_t
ct__os_thread_ident(void)
{
    return (uintptr_t)pthread_self();
}

#if defined(__linux__)
uint64_t
ct__os_thread_native_id(void)
{
    return (uint64_t)syscall(SYS_gettid);
}
#else
uint64_t
ct__os_thread_native_id(void)
{
    return (uint64_t)(uintptr_t)pthread_self();
}
#endif

// Cuts `name` to at most CT__OS_NAME_MAX bytes without splitting a UTF-8
// character (a continuation byte has its top two bits set to 1, 0).
static void
cut_name(char *out, const char *name)
{
    size_t n = strnlen(name, CT__OS_NAME_MAX);
    if (name[n] != '\0') {
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(out, name, n);
    out[n] = '\0';
}

#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__)
static void
set_name_of(pthread_t t, const char *name)
{
    char buf[CT__OS_NAME_MAX + 1];
    cut_name(buf, name);
    (void)pthread_setname_np(t, buf);
}

void
ct__os_thread_set_name(const char *name)
{
    set_name_of(pthread_self(), name);
}

void
ct__os_thread_set_name_of(ct__os_thread *t, const char *name)
{
    set_name_of(*handle(t), name);
}
#elif defined(__APPLE__)
void
ct__os_thread_set_name(const char *name)
{
    char buf[CT__OS_NAME_MAX + 1];
    cut_name(buf, name);
    (void)pthread_setname_np(buf);
}

// macOS names only the calling thread.
void
ct__os_thread_set_name_of(ct__os_thread *t, const char *name)
{
    (void)t;
    (void)name;
}
#else
void
ct__os_thread_set_name(const char *name)
{
    (void)name;
}

void
ct__os_thread_set_name_of(ct__os_thread *t, const char *name)
{
    (void)t;
    (void)name;
}
#endif

#if defined(__linux__)
bool
ct__os_thread_is_initial(void)
{
    return syscall(SYS_gettid) == getpid();
}
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__)
bool
ct__os_thread_is_initial(void)
{
    return pthread_main_np() == 1;
}
#else
bool
ct__os_thread_is_initial(void)
{
    return false;
}
#endif

_Noreturn void
ct__os_thread_exit(void)
{
    pthread_exit(NULL);
}

int
ct__os_key_create(ct__os_key *key, void (*dtor)(void *value))
{
    pthread_key_t k;
    if (pthread_key_create(&k, dtor) != 0) {
        return CT_EAGAIN;
    }
    key->value = (uintptr_t)k;
    return 0;
}

void
ct__os_key_set(ct__os_key key, void *value)
{
    if (pthread_setspecific((pthread_key_t)key.value, value) != 0) {
        ct__os_abort("pthread_setspecific failed");
    }
}

void *
ct__os_key_get(ct__os_key key)
{
    return pthread_getspecific((pthread_key_t)key.value);
}
