// A strict recursive-descent JSON parser (json_mini.h): strict so that a
// test fails when ctlab writes something another parser might refuse.
#include "json_mini.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
    const char *s, *p;
    char *err;
    size_t err_len;
    bool failed;
} parser;

static void
fail(parser *ps, const char *why)
{
    if (!ps->failed) {
        snprintf(ps->err, ps->err_len, "%s at byte %ld", why,
                 (long)(ps->p - ps->s));
    }
    ps->failed = true;
}

static void
skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
           *ps->p == '\r') {
        ps->p++;
    }
}

static json_value *
new_value(parser *ps, json_type type)
{
    json_value *v = calloc(1, sizeof *v);
    if (v == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    v->type = type;
    return v;
}

static bool
push(parser *ps, json_value *v, json_value *item, char *key)
{
    json_value **items = realloc(v->items, (v->len + 1) * sizeof *items);
    if (items == NULL) {
        fail(ps, "out of memory");
        return false;
    }
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, (v->len + 1) * sizeof *keys);
        if (keys == NULL) {
            fail(ps, "out of memory");
            return false;
        }
        v->keys = keys;
        v->keys[v->len] = key;
    }
    v->items[v->len++] = item;
    return true;
}

static int
hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

// Appends code point cp as UTF-8 to out (room is checked by the caller:
// at most 4 bytes, never more than the 6 of its escape).
static size_t
put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// Parses a string at ps->p (which is at the opening quote).
static char *
parse_string(parser *ps)
{
    const char *start = ++ps->p;
    size_t cap = 0;
    while (start[cap] != '"' && start[cap] != '\0') {
        cap += start[cap] == '\\' && start[cap + 1] != '\0' ? 2 : 1;
    }
    char *out = malloc(cap + 1);
    if (out == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            out[n] = '\0';
            return out;
        }
        if (c == '\0' || c < 0x20) {
            fail(ps, c == '\0' ? "unterminated string"
                               : "control character in string");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e != '\0' ? strchr(from, e) : NULL;
        if (hit != NULL) {
            out[n++] = to[hit - from];
            ps->p += 2;
            continue;
        }
        int cp = e == 'u' ? hex4(ps->p + 2) : -1;
        if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
            // ctlab never writes surrogates: refusing them keeps this short.
            fail(ps, "bad escape in string");
            free(out);
            return NULL;
        }
        n += put_utf8(out + n, (unsigned)cp);
        ps->p += 6;
    }
}

// Parses a number by the JSON grammar, then converts it with strtod.
static json_value *
parse_number(parser *ps)
{
    const char *p = ps->p;
    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        fail(ps, "bad number");
        return NULL;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) {
            fail(ps, "bad fraction");
            return NULL;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!(*p >= '0' && *p <= '9')) {
            fail(ps, "bad exponent");
            return NULL;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    json_value *v = new_value(ps, JSON_NUMBER);
    if (v != NULL) {
        v->number = strtod(ps->p, NULL);
        ps->p = p;
    }
    return v;
}

static json_value *parse_value(parser *ps, int depth);

// Parses an array or object; ps->p is at '[' or '{'.
static json_value *
parse_container(parser *ps, int depth, bool object)
{
    char close = object ? '}' : ']';
    json_value *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (v == NULL) {
        return NULL;
    }
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            if (*ps->p != '"') {
                fail(ps, "expected a key");
                break;
            }
            key = parse_string(ps);
            skip_ws(ps);
            if (key == NULL || *ps->p != ':') {
                free(key);
                fail(ps, "expected ':'");
                break;
            }
            ps->p++;
        }
        json_value *item = parse_value(ps, depth + 1);
        if (item == NULL || !push(ps, v, item, key)) {
            free(key);
            json_free(item);
            break;
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    json_free(v);
    return NULL;
}

static json_value *
parse_value(parser *ps, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(ps, "nested too deep");
        return NULL;
    }
    skip_ws(ps);
    static const struct {
        const char *word;
        json_type type;
        bool value;
    } words[] = {{"null", JSON_NULL, false},
                 {"true", JSON_BOOL, true},
                 {"false", JSON_BOOL, false}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if (strncmp(ps->p, words[i].word, n) == 0) {
            json_value *v = new_value(ps, words[i].type);
            if (v != NULL) {
                v->boolean = words[i].value;
                ps->p += n;
            }
            return v;
        }
    }
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"': {
        char *s = parse_string(ps);
        json_value *v = s != NULL ? new_value(ps, JSON_STRING) : NULL;
        if (v == NULL) {
            free(s);
            return NULL;
        }
        v->string = s;
        return v;
    }
    default:
        return parse_number(ps);
    }
}

json_value *
json_parse(const char *text, char *err, size_t err_len)
{
    parser ps = {text, text, err, err_len, false};
    json_value *v = parse_value(&ps, 0);
    skip_ws(&ps);
    if (v != NULL && *ps.p != '\0') {
        fail(&ps, "text after the value");
        json_free(v);
        return NULL;
    }
    return v;
}

json_value *
json_parse_file(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "cannot open %s", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        snprintf(err, err_len, "out of memory reading %s", path);
        return NULL;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        snprintf(err, err_len, "%s holds a NUL byte", path);
        return NULL;
    }
    json_value *v = json_parse(buf, err, err_len);
    free(buf);
    return v;
}

void
json_free(json_value *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->len; i++) {
        json_free(v->items[i]);
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

const json_value *
json_get(const json_value *v, const char *path)
{
    const char *p = path;
    while (v != NULL && *p != '\0') {
        if (*p == '.') {
            p++;
        }
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (v->type != JSON_ARRAY || *end != ']' || i < 0 ||
                (size_t)i >= v->len) {
                return NULL;
            }
            v = v->items[i];
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        const json_value *next = NULL;
        for (size_t i = 0; v->type == JSON_OBJECT && i < v->len; i++) {
            if (strlen(v->keys[i]) == n && strncmp(v->keys[i], p, n) == 0) {
                next = v->items[i]; // the last of duplicate keys wins
            }
        }
        v = next;
        p += n;
    }
    return v;
}

double
json_num(const json_value *v, const char *path)
{
    const json_value *x = json_get(v, path);
    return x != NULL && x->type == JSON_NUMBER ? x->number : NAN;
}

const char *
json_str(const json_value *v, const char *path)
{
    const json_value *x = json_get(v, path);
    return x != NULL && x->type == JSON_STRING ? x->string : NULL;
}
