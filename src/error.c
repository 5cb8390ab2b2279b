// Error codes: their names and sentences, in one table.
#include <cthreading/base.h>

#include <stddef.h>

typedef struct code_info {
    int code;
    const char *name;
    const char *text;
} code_info;

static const code_info codes[] = {
    {CT_EPERM, "CT_EPERM",
     "operation not permitted: the caller does not "
     "hold the lock"},
    {CT_EINVAL, "CT_EINVAL", "invalid argument"},
    {CT_ETIMEDOUT, "CT_ETIMEDOUT", "timed out"},
    {CT_EDEADLK, "CT_EDEADLK", "the call would wait for itself (deadlock)"},
    {CT_EOVERFLOW, "CT_EOVERFLOW",
     "released too many times (or a count would overflow)"},
    {CT_EAGAIN, "CT_EAGAIN", "resource temporarily unavailable"},
    {CT_ENOMEM, "CT_ENOMEM", "out of memory"},
    {CT_ECANCELED, "CT_ECANCELED", "cancelled"},
    {CT_ESTATE, "CT_ESTATE", "invalid state for this operation"},
    {CT_EBROKEN, "CT_EBROKEN", "broken (barrier or thread pool)"},
    {CT_ESHUTDOWN, "CT_ESHUTDOWN", "shut down"},
    {CT_EFAILED, "CT_EFAILED", "the task or thread failed"},
    {CT_EOF, "CT_EOF", "end of iteration"},
};

static const code_info *
find(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i].code == code) {
            return &codes[i];
        }
    }
    return NULL;
}

const char *
ct_strerror(int code)
{
    if (code >= 0) {
        return "success";
    }
    const code_info *c = find(code);
    return c != NULL ? c->text : "unknown error";
}

const char *
ct_err_name(int code)
{
    if (code >= 0) {
        return "OK";
    }
    const code_info *c = find(code);
    return c != NULL ? c->name : "CT_EUNKNOWN";
}

const char *
ct_version(void)
{
    return CT_VERSION_STRING;
}
