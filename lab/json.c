// ctlab's JSON writer: a streaming writer with a stack of open objects and
// arrays, so output never needs a tree in memory. Depends only on libc, so
// the tests link this file to check its escaping against their parser.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

#define MAX_DEPTH 32

struct lab_json {
    FILE *f;
    int depth;
    bool failed;               // a misuse (too deep, key mismatch)
    bool is_object[MAX_DEPTH]; // what each open level is
    long members[MAX_DEPTH];   // how many members each level holds so far
    bool top_written;          // the one top-level value was written
};

lab_json *
lab_json_new(FILE *f)
{
    lab_json *j = calloc(1, sizeof *j);
    if (j != NULL) {
        j->f = f;
    }
    return j;
}

int
lab_json_free(lab_json *j)
{
    if (j == NULL) {
        return -1;
    }
    bool bad = j->failed || j->depth != 0;
    if (!bad) {
        fputc('\n', j->f);
    }
    bad = fflush(j->f) != 0 || ferror(j->f) || bad;
    free(j);
    return bad ? -1 : 0;
}

static void
write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(f, "\\u%04x", *p);
            } else {
                fputc(*p, f); // UTF-8 passes through as it is
            }
        }
    }
    fputc('"', f);
}

// Writes what comes before a value: the comma, the indentation and the key.
// A key is required inside an object and refused elsewhere; a mismatch
// marks the writer failed (lab_json_free reports it) and writes a
// placeholder key, so the output stays parseable.
static void
start_value(lab_json *j, const char *key)
{
    if (j->depth == 0) {
        if (j->top_written || key != NULL) {
            j->failed = true;
        }
        j->top_written = true;
        return;
    }
    int d = j->depth - 1;
    fputs(j->members[d]++ > 0 ? ",\n" : "\n", j->f);
    fprintf(j->f, "%*s", 2 * j->depth, "");
    if (j->is_object[d]) {
        if (key == NULL) {
            j->failed = true;
            key = "?";
        }
        write_string(j->f, key);
        fputs(": ", j->f);
    } else if (key != NULL) {
        j->failed = true;
    }
}

static void
open_level(lab_json *j, const char *key, bool object)
{
    start_value(j, key);
    fputc(object ? '{' : '[', j->f);
    if (j->depth == MAX_DEPTH) {
        j->failed = true;
        return;
    }
    j->is_object[j->depth] = object;
    j->members[j->depth] = 0;
    j->depth++;
}

static void
close_level(lab_json *j, bool object)
{
    if (j->depth == 0 || j->is_object[j->depth - 1] != object) {
        j->failed = true;
        return;
    }
    j->depth--;
    if (j->members[j->depth] > 0) {
        fprintf(j->f, "\n%*s", 2 * j->depth, "");
    }
    fputc(object ? '}' : ']', j->f);
}

void
lab_json_object_begin(lab_json *j, const char *key)
{
    open_level(j, key, true);
}

void
lab_json_object_end(lab_json *j)
{
    close_level(j, true);
}

void
lab_json_array_begin(lab_json *j, const char *key)
{
    open_level(j, key, false);
}

void
lab_json_array_end(lab_json *j)
{
    close_level(j, false);
}

void
lab_json_num(lab_json *j, const char *key, double v)
{
    start_value(j, key);
    if (!isfinite(v)) {
        fputs("null", j->f);
        return;
    }
    // The shortest of 15 or 17 digits that reads back as the same double.
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, sizeof buf, "%.17g", v);
    }
    fputs(buf, j->f);
}

void
lab_json_int(lab_json *j, const char *key, long long v)
{
    start_value(j, key);
    fprintf(j->f, "%lld", v);
}

void
lab_json_str(lab_json *j, const char *key, const char *s)
{
    start_value(j, key);
    if (s == NULL) {
        fputs("null", j->f);
    } else {
        write_string(j->f, s);
    }
}

void
lab_json_bool(lab_json *j, const char *key, bool v)
{
    start_value(j, key);
    fputs(v ? "true" : "false", j->f);
}

void
lab_json_null(lab_json *j, const char *key)
{
    start_value(j, key);
    fputs("null", j->f);
}
