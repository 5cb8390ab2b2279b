// ctlab's output: experiments with their aligned tables, params and claims,
// printed as they come and written to the JSON document when each
// experiment ends; and the progress line on stderr.
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"

#define MAX_COLS 16

typedef enum { CELL_NONE, CELL_STR, CELL_NUM, CELL_INT } cell_kind;

typedef struct cell {
    cell_kind kind;
    char *text; // as printed (and the JSON string of a CELL_STR)
    double num;
    long long integer;
} cell;

typedef struct column {
    char *key, *header, *unit;
} column;

struct lab_table {
    char *key, *title;
    column cols[MAX_COLS];
    int ncols;
    cell *cells; // nrows * ncols, row by row
    int nrows, filled, cap;
    struct lab_table *next;
};

// A param or a claim of the experiment, kept until its JSON is written.
typedef struct item {
    char *key, *text;
    double num;
    bool is_num, held;
    struct item *next;
} item;

typedef struct lab_exp {
    char *key, *title;
    lab_table *tables, **tables_tail;
    item *params, **params_tail;
    item *claims, **claims_tail;
} lab_exp;

// Memory for output is small and needed: without it ctlab cannot report.
static void *
must(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "ctlab: out of memory\n");
        exit(LAB_EXIT_FAILED);
    }
    return p;
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? must(strdup(s)) : NULL;
}

// Whether the last line printed was blank, so blocks get one blank line
// between them, never two.
static bool at_gap = true;

// Prints `text` after `prefix`, wrapped at 79 columns, continuation lines
// indented under the text.
static void
print_wrapped(const char *prefix, const char *text)
{
    enum { WIDTH = 79 };
    int indent = (int)strlen(prefix);
    int col = printf("%s", prefix);
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        size_t word = strcspn(p, " ");
        if (word == 0) {
            break;
        }
        if (col > indent && col + 1 + (int)word > WIDTH) {
            col = printf("\n%*s", indent, "") - 1;
        } else if (col > indent) {
            col += printf(" ");
        }
        col += printf("%.*s", (int)word, p);
        p += word;
    }
    printf("\n");
    at_gap = false;
}

int64_t
lab_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// --- Experiments -------------------------------------------------------------

void
lab_experiment_begin(lab_ctx *ctx, const char *key, const char *title)
{
    if (ctx->exp != NULL) {
        fprintf(stderr, "ctlab: experiment %s begun inside %s\n", key,
                ctx->exp->key);
        abort(); // a bug in a subcommand, not in the user's input
    }
    lab_exp *e = must(calloc(1, sizeof *e));
    e->key = must(strdup(key));
    e->title = must(strdup(title));
    e->tables_tail = &e->tables;
    e->params_tail = &e->params;
    e->claims_tail = &e->claims;
    ctx->exp = e;
    printf("%s%s\n\n", at_gap ? "" : "\n", title);
    at_gap = true;
}

static lab_exp *
current(const lab_ctx *ctx)
{
    if (ctx->exp == NULL) {
        fprintf(stderr, "ctlab: output outside an experiment\n");
        abort();
    }
    return ctx->exp;
}

static item *
add_item(item ***tail, const char *key)
{
    item *it = must(calloc(1, sizeof *it));
    it->key = must(strdup(key));
    **tail = it;
    *tail = &it->next;
    return it;
}

void
lab_param_num(lab_ctx *ctx, const char *key, double value)
{
    lab_exp *e = current(ctx);
    item *it = add_item(&e->params_tail, key);
    it->num = value;
    it->is_num = true;
}

void
lab_param_str(lab_ctx *ctx, const char *key, const char *value)
{
    lab_exp *e = current(ctx);
    add_item(&e->params_tail, key)->text = dup_or_null(value);
}

void
lab_note(lab_ctx *ctx, const char *fmt, ...)
{
    (void)current(ctx);
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    print_wrapped("  ", buf);
}

void
lab_claim(lab_ctx *ctx, const char *claim, bool held, const char *if_held,
          const char *if_not)
{
    lab_exp *e = current(ctx);
    item *it = add_item(&e->claims_tail, claim);
    it->held = held;
    it->text = must(strdup(held ? if_held : if_not));
    // A claim the machine did not bear out is marked, so it is not missed.
    print_wrapped(held ? "  => " : "  !! ", it->text);
}

static void
free_items(item *it)
{
    while (it != NULL) {
        item *next = it->next;
        free(it->key);
        free(it->text);
        free(it);
        it = next;
    }
}

static void
free_table(lab_table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        free(t->cols[c].key);
        free(t->cols[c].header);
        free(t->cols[c].unit);
    }
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i].text);
    }
    free(t->cells);
    free(t->key);
    free(t->title);
    free(t);
}

static void
write_table(lab_json *j, const lab_table *t)
{
    lab_json_object_begin(j, t->key);
    lab_json_str(j, "title", t->title);
    lab_json_array_begin(j, "columns");
    for (int c = 0; c < t->ncols; c++) {
        lab_json_object_begin(j, NULL);
        lab_json_str(j, "key", t->cols[c].key);
        lab_json_str(j, "header", t->cols[c].header);
        lab_json_str(j, "unit", t->cols[c].unit);
        lab_json_object_end(j);
    }
    lab_json_array_end(j);
    lab_json_array_begin(j, "rows");
    for (int r = 0; r < t->nrows; r++) {
        lab_json_object_begin(j, NULL);
        for (int c = 0; c < t->ncols; c++) {
            const cell *x = &t->cells[r * t->ncols + c];
            const char *key = t->cols[c].key;
            if (x->kind == CELL_NONE) {
                lab_json_null(j, key);
            } else if (x->kind == CELL_STR) {
                lab_json_str(j, key, x->text);
            } else if (x->kind == CELL_INT) {
                lab_json_int(j, key, x->integer);
            } else {
                lab_json_num(j, key, x->num);
            }
        }
        lab_json_object_end(j);
    }
    lab_json_array_end(j);
    lab_json_object_end(j);
}

int
lab_experiment_end(lab_ctx *ctx)
{
    lab_exp *e = current(ctx);
    lab_json *j = ctx->json;
    if (j != NULL) {
        lab_json_object_begin(j, e->key);
        lab_json_str(j, "title", e->title);
        lab_json_object_begin(j, "params");
        for (item *it = e->params; it != NULL; it = it->next) {
            if (it->is_num) {
                lab_json_num(j, it->key, it->num);
            } else {
                lab_json_str(j, it->key, it->text);
            }
        }
        lab_json_object_end(j);
        lab_json_object_begin(j, "tables");
        for (lab_table *t = e->tables; t != NULL; t = t->next) {
            write_table(j, t);
        }
        lab_json_object_end(j);
        lab_json_array_begin(j, "claims");
        for (item *it = e->claims; it != NULL; it = it->next) {
            lab_json_object_begin(j, NULL);
            lab_json_str(j, "claim", it->key);
            lab_json_bool(j, "held", it->held);
            lab_json_str(j, "conclusion", it->text);
            lab_json_object_end(j);
        }
        lab_json_array_end(j);
        lab_json_object_end(j);
    }
    lab_table *t = e->tables;
    while (t != NULL) {
        lab_table *next = t->next;
        free_table(t);
        t = next;
    }
    free_items(e->params);
    free_items(e->claims);
    free(e->key);
    free(e->title);
    free(e);
    ctx->exp = NULL;
    fflush(stdout);
    return LAB_EXIT_OK;
}

// --- Tables ------------------------------------------------------------------

lab_table *
lab_table_new(lab_ctx *ctx, const char *key, const char *title)
{
    lab_exp *e = current(ctx);
    lab_table *t = must(calloc(1, sizeof *t));
    t->key = must(strdup(key));
    t->title = dup_or_null(title);
    *e->tables_tail = t;
    e->tables_tail = &t->next;
    return t;
}

void
lab_table_col(lab_table *t, const char *key, const char *header,
              const char *unit)
{
    if (t->ncols == MAX_COLS || t->nrows > 0) {
        fprintf(stderr, "ctlab: table %s: column %s added late\n", t->key, key);
        abort();
    }
    column *c = &t->cols[t->ncols++];
    c->key = must(strdup(key));
    c->header = must(strdup(header));
    c->unit = dup_or_null(unit);
}

void
lab_table_row(lab_table *t)
{
    // Cells missing from the previous row stay absent (zeroed: CELL_NONE).
    t->filled = t->nrows * t->ncols;
    t->nrows++;
    if (t->nrows * t->ncols > t->cap) {
        int cap = t->cap > 0 ? t->cap * 2 : 8 * t->ncols;
        while (cap < t->nrows * t->ncols) {
            cap *= 2;
        }
        t->cells = must(realloc(t->cells, (size_t)cap * sizeof *t->cells));
        t->cap = cap;
    }
    memset(&t->cells[t->filled], 0, (size_t)t->ncols * sizeof *t->cells);
}

// The next cell of the current row; a cell beyond the columns is a bug.
static cell *
next_cell(lab_table *t)
{
    if (t->nrows == 0 || t->filled >= t->nrows * t->ncols) {
        fprintf(stderr, "ctlab: table %s: too many cells\n", t->key);
        abort();
    }
    return &t->cells[t->filled++];
}

void
lab_cell_str(lab_table *t, const char *s)
{
    cell *c = next_cell(t);
    c->kind = CELL_STR;
    c->text = must(strdup(s));
}

void
lab_cell_num(lab_table *t, double v, int decimals)
{
    cell *c = next_cell(t);
    if (!isfinite(v)) {
        c->kind = CELL_NONE;
        c->text = must(strdup("-"));
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    c->kind = CELL_NUM;
    c->num = v;
    c->text = must(strdup(buf));
}

void
lab_cell_int(lab_table *t, long long v)
{
    cell *c = next_cell(t);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    c->kind = CELL_INT;
    c->integer = v;
    c->text = must(strdup(buf));
}

void
lab_cell_none(lab_table *t)
{
    cell *c = next_cell(t);
    c->kind = CELL_NONE;
    c->text = must(strdup("-"));
}

static const char *
cell_text(const lab_table *t, int r, int c)
{
    const char *s = t->cells[r * t->ncols + c].text;
    return s != NULL ? s : "-";
}

static bool
column_is_text(const lab_table *t, int c)
{
    for (int r = 0; r < t->nrows; r++) {
        if (t->cells[r * t->ncols + c].kind == CELL_STR) {
            return true;
        }
    }
    return false;
}

void
lab_table_print(lab_ctx *ctx, const lab_table *t)
{
    (void)ctx;
    int width[MAX_COLS];
    bool text[MAX_COLS];
    bool units = false;
    for (int c = 0; c < t->ncols; c++) {
        const column *col = &t->cols[c];
        width[c] = (int)strlen(col->header);
        if (col->unit != NULL) {
            units = true;
            int w = (int)strlen(col->unit);
            width[c] = w > width[c] ? w : width[c];
        }
        for (int r = 0; r < t->nrows; r++) {
            int w = (int)strlen(cell_text(t, r, c));
            width[c] = w > width[c] ? w : width[c];
        }
        text[c] = column_is_text(t, c);
    }
    if (!at_gap) {
        printf("\n");
    }
    if (t->title != NULL) {
        printf("  %s\n", t->title);
    }
    // Text columns align left, numbers right; units sit under the header.
    for (int line = 0; line < (units ? 2 : 1); line++) {
        printf(" ");
        for (int c = 0; c < t->ncols; c++) {
            const char *s = line == 0 ? t->cols[c].header : t->cols[c].unit;
            printf(text[c] ? " %-*s" : " %*s", width[c], s != NULL ? s : "");
        }
        printf("\n");
    }
    for (int r = 0; r < t->nrows; r++) {
        printf(" ");
        for (int c = 0; c < t->ncols; c++) {
            printf(text[c] ? " %-*s" : " %*s", width[c], cell_text(t, r, c));
        }
        printf("\n");
    }
    printf("\n");
    at_gap = true;
    fflush(stdout);
}

// --- Progress ----------------------------------------------------------------

#define PROGRESS_AFTER_NS 1000000000 // steps shorter than this show nothing
#define PROGRESS_EVERY_NS 100000000

void
lab_progress_begin(lab_ctx *ctx, const char *fmt, ...)
{
    lab_progress_end(ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->progress_label, sizeof ctx->progress_label, fmt, ap);
    va_end(ap);
    ctx->progress_start_ns = isatty(STDERR_FILENO) ? lab_now_ns() : 0;
    ctx->progress_shown_ns = 0;
}

void
lab_progress_tick(lab_ctx *ctx)
{
    if (ctx->progress_start_ns == 0) {
        return;
    }
    int64_t now = lab_now_ns();
    int64_t ran = now - ctx->progress_start_ns;
    if (ran < PROGRESS_AFTER_NS ||
        now - ctx->progress_shown_ns < PROGRESS_EVERY_NS) {
        return;
    }
    ctx->progress_shown_ns = now;
    ctx->progress_visible = true;
    // \r and erase-to-end-of-line: the line is rewritten in place.
    fprintf(stderr, "\r  %s ... %.1f s\033[K", ctx->progress_label,
            (double)ran / 1e9);
    fflush(stderr);
}

void
lab_progress_end(lab_ctx *ctx)
{
    if (ctx->progress_visible) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    ctx->progress_visible = false;
    ctx->progress_start_ns = 0;
}
