// A small strict JSON parser for the tests of ctlab's --json output: RFC
// 8259 grammar (no trailing commas, no comments, no leading zeros), a tree
// of values, and lookup by path: json_get(doc, "experiments.race.rows[1]").
#ifndef CT_JSON_MINI_H
#define CT_JSON_MINI_H

#include <stdbool.h>
#include <stddef.h>

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    bool boolean;
    double number;
    char *string;       // JSON_STRING: decoded UTF-8, NUL-terminated
    size_t len;         // JSON_ARRAY/OBJECT: members
    json_value **items; // members' values
    char **keys;        // JSON_OBJECT: members' keys
};

// Parses the whole of `text`. Returns the tree, or NULL with the reason and
// byte offset in err.
json_value *json_parse(const char *text, char *err, size_t err_len);
// Reads and parses the file at `path` (NULL with err on failure).
json_value *json_parse_file(const char *path, char *err, size_t err_len);
void json_free(json_value *v);

// Follows `path` from v: keys separated by '.', array indexes in brackets
// ("a.b[2].c"; "[0]" alone for a top-level array). Returns NULL if any
// step is missing or of the wrong type.
const json_value *json_get(const json_value *v, const char *path);
// The number at `path`, or NaN when missing or not a number.
double json_num(const json_value *v, const char *path);
// The string at `path`, or NULL.
const char *json_str(const json_value *v, const char *path);

#endif
