/*
 * The config loader. Three stages:
 *
 * 1. libyaml events become a neutral tree of nodes (scalar, sequence, mapping) that keeps the
 *    file, line and column of every key and value. Aliases point at the anchored node (shared,
 *    never copied; an alias may only name a node that is complete, so there are no cycles), "<<"
 *    merge keys are expanded, duplicate keys are reported with both positions, and the size after
 *    alias expansion is bounded so a "billion laughs" document cannot blow up the mapping.
 * 2. The tree is mapped into struct config by one declarative table per section (struct field:
 *    key, type, default, offset, description). The same tables supply the defaults (written
 *    once, as text parsed by the same code as user values), reject unknown keys, tell a known
 *    Prometheus key that pollster does not support from a typo, free the result and print the
 *    reference text. A section's check hook does what a table cannot: cross-field rules,
 *    secrets read from files, targets resolved to URLs.
 * 3. Every error is collected with its position; the config is returned only when there is none.
 *
 * All of this is blocking file I/O, done at start-up or reload, never on the loop.
 */
#include "build-config.h"

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <yaml.h>

#include "job_json.h"
#include "status.h"
#include "strbuf.h"
#include "units.h"

#define NODE_WEIGHT_MAX 10000000u    /* nodes in a document after alias expansion */
#define FILE_MAX_BYTES (64u << 20)   /* a config or file_sd file */
#define SECRET_MAX_BYTES (64u << 10) /* a password_file or credentials_file */
#define SUMMARY_MAX_URLS 3           /* target URLs shown per job by config_summary */
#define PATH_MAX_TEXT 256            /* "scrape_configs[0].static_configs[1]" */

/* Small helpers */

__attribute__((format(printf, 1, 0))) static char *
xvprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    char *s;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (s == NULL) {
        return NULL;
    }
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

__attribute__((format(printf, 1, 2))) static char *
xprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = xvprintf(fmt, ap);
    va_end(ap);
    return s;
}

/*
 * Makes room for element @n of an array whose capacity is implied by its count: arrays grown
 * only through here are full exactly when the count is 0 or a power of two. New room is zeroed.
 */
static void *
grow(void *arr, size_t n, size_t elem)
{
    size_t cap;
    char *p;

    if (n != 0 && (n & (n - 1)) != 0) {
        return arr;
    }
    cap = n == 0 ? 1 : n * 2;
    if (cap > SIZE_MAX / elem) {
        return NULL;
    }
    p = realloc(arr, cap * elem);
    if (p == NULL) {
        return NULL;
    }
    memset(p + n * elem, 0, (cap - n) * elem);
    return p;
}

static bool
is_label_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_')) {
        return false;
    }
    for (s++; *s != '\0'; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_')) {
            return false;
        }
    }
    return true;
}

static bool
is_metric_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_' || *s == ':')) {
        return false;
    }
    for (s++; *s != '\0'; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':')) {
            return false;
        }
    }
    return true;
}

/* RFC 9110 token */
static bool
is_header_name(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL) {
            return false;
        }
    }
    return true;
}

static const char *
fmt_ms(int64_t ms, char *buf, size_t len)
{
    return units_format_duration(ms, buf, len);
}

/* Errors */

void
config_errors_init(struct config_errors *e)
{
    memset(e, 0, sizeof(*e));
}

void
config_errors_add(struct config_errors *e, const char *file, int line, int col, const char *fmt,
                  ...)
{
    va_list ap;
    char *msg, *text;

    if (e == NULL) {
        return;
    }
    if (e->n >= CONFIG_ERRORS_MAX) {
        e->dropped++;
        return;
    }
    va_start(ap, fmt);
    msg = xvprintf(fmt, ap);
    va_end(ap);
    if (msg == NULL) {
        e->dropped++;
        return;
    }
    if (file == NULL) {
        file = "<config>";
    }
    if (line > 0 && col > 0) {
        text = xprintf("%s:%d:%d: %s", file, line, col, msg);
    }
    else if (line > 0) {
        text = xprintf("%s:%d: %s", file, line, msg);
    }
    else {
        text = xprintf("%s: %s", file, msg);
    }
    free(msg);
    struct config_error *v = grow(e->v, e->n, sizeof(*e->v));
    char *fcopy = strdup(file);
    if (text == NULL || v == NULL || fcopy == NULL) {
        free(text);
        free(fcopy);
        if (v != NULL) {
            e->v = v;
        }
        e->dropped++;
        return;
    }
    e->v = v;
    e->v[e->n].text = text;
    e->v[e->n].file = fcopy;
    e->v[e->n].line = line;
    e->v[e->n].col = col;
    e->n++;
}

void
config_errors_print(FILE *f, const struct config_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        fprintf(f, "%s\n", e->v[i].text);
    }
    if (e->dropped > 0) {
        fprintf(f, "%zu more error%s not shown\n", e->dropped, e->dropped == 1 ? "" : "s");
    }
}

void
config_errors_release(struct config_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].text);
        free(e->v[i].file);
    }
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* The rank of @e->v[i]'s file among the files of v[from..]: the order of first mention. */
static size_t
error_file_rank(const struct config_errors *e, size_t from, size_t i)
{
    size_t rank = 0;

    for (size_t j = from; j < i; j++) {
        bool first = true;
        for (size_t k = from; k < j; k++) {
            if (strcmp(e->v[k].file, e->v[j].file) == 0) {
                first = false;
                break;
            }
        }
        if (strcmp(e->v[j].file, e->v[i].file) == 0) {
            return rank;
        }
        rank += first;
    }
    return rank;
}

/*
 * Sorts the errors from index @from on by file and position (stable: insertion sort, as there
 * are at most CONFIG_ERRORS_MAX). Check hooks run after a section's keys are mapped, so without
 * this their errors would come after those of the section's nested keys.
 */
static void
errors_sort(struct config_errors *e, size_t from)
{
    size_t n = e->n - from;
    size_t *rank = calloc(n + 1, sizeof(*rank));

    if (rank == NULL) {
        return; /* unsorted is still correct */
    }
    for (size_t i = 0; i < n; i++) {
        rank[i] = error_file_rank(e, from, from + i);
    }
    for (size_t i = 1; i < n; i++) {
        struct config_error t = e->v[from + i];
        size_t r = rank[i];
        size_t j = i;
        while (j > 0) {
            const struct config_error *p = &e->v[from + j - 1];
            if (rank[j - 1] < r || (rank[j - 1] == r &&
                                    (p->line < t.line || (p->line == t.line && p->col <= t.col)))) {
                break;
            }
            e->v[from + j] = *p;
            rank[j] = rank[j - 1];
            j--;
        }
        e->v[from + j] = t;
        rank[j] = r;
    }
    free(rank);
}

/* Load context */

struct ctx {
    struct config_errors *errs; /* borrowed */
    struct config *cfg;         /* being built */
    char *dir;                  /* owned: base of relative paths; NULL = use them as written */
    size_t nerr;                /* errors reported through this context */
    bool oom;
    uint64_t regex_cost; /* of the regexes checked so far (regex_compile) */
};

__attribute__((format(printf, 5, 6))) static void
cerr_at(struct ctx *x, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    x->nerr++;
    va_start(ap, fmt);
    msg = xvprintf(fmt, ap);
    va_end(ap);
    if (msg == NULL) {
        if (x->errs != NULL) {
            x->errs->dropped++;
        }
        return;
    }
    config_errors_add(x->errs, file, line, col, "%s", msg);
    free(msg);
}

static void
oom(struct ctx *x)
{
    if (!x->oom) {
        x->oom = true;
        cerr_at(x, x->cfg->path, 0, 0, "out of memory");
    }
}

/* The node tree */

enum node_kind { NODE_SCALAR = 0, NODE_SEQ, NODE_MAP };

struct node {
    enum node_kind kind;
    bool plain;       /* an unquoted scalar: may be null */
    int line;         /* 1-based */
    int col;          /* 1-based */
    const char *file; /* borrowed: the doc */
    char *str;        /* scalar: owned, NUL-terminated */
    size_t len;
    struct node **kids; /* sequence: items; mapping: key, value, key, value, ... (borrowed) */
    size_t n;
    size_t cap;
    uint64_t weight;       /* nodes under this one after alias expansion, itself included */
    struct node *all_next; /* the doc's list of every node (owner) */
};

struct anchor {
    char *name;
    struct node *node;
};

struct doc {
    char *file;        /* owned */
    struct node *root; /* NULL for an empty document */
    struct node *all;  /* owned: every node */
    struct anchor *anchors;
    size_t nanchors;
};

struct frame {
    struct node *node;
    char *anchor; /* owned */
};

static const char *
node_kind_name(const struct node *n)
{
    switch (n->kind) {
    case NODE_SEQ:
        return "sequence";
    case NODE_MAP:
        return "mapping";
    default:
        return "scalar";
    }
}

static bool
node_is_null(const struct node *n)
{
    if (n == NULL) {
        return true;
    }
    if (n->kind != NODE_SCALAR || !n->plain) {
        return false;
    }
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

static size_t
map_len(const struct node *m)
{
    return m->n / 2;
}

static const struct node *
map_key(const struct node *m, size_t i)
{
    return m->kids[2 * i];
}

static const struct node *
map_val(const struct node *m, size_t i)
{
    return m->kids[2 * i + 1];
}

/* The value of @key in mapping @m, or NULL when absent or null. */
static const struct node *
map_get(const struct node *m, const char *key)
{
    if (m == NULL || m->kind != NODE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map_len(m); i++) {
        if (strcmp(map_key(m, i)->str, key) == 0) {
            const struct node *v = map_val(m, i);
            return node_is_null(v) ? NULL : v;
        }
    }
    return NULL;
}

/* The key node of @key in mapping @m (for positions), or NULL. */
static const struct node *
map_get_key(const struct node *m, const char *key)
{
    if (m == NULL || m->kind != NODE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map_len(m); i++) {
        if (strcmp(map_key(m, i)->str, key) == 0) {
            return map_key(m, i);
        }
    }
    return NULL;
}

__attribute__((format(printf, 3, 4))) static void
cerr(struct ctx *x, const struct node *at, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvprintf(fmt, ap);
    va_end(ap);
    if (msg == NULL) {
        x->nerr++;
        if (x->errs != NULL) {
            x->errs->dropped++;
        }
        return;
    }
    cerr_at(x, at->file, at->line, at->col, "%s", msg);
    free(msg);
}

static struct node *
node_new(struct doc *d, enum node_kind kind, const yaml_mark_t *mark)
{
    struct node *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    n->file = d->file;
    n->weight = 1;
    n->all_next = d->all;
    d->all = n;
    return n;
}

static int
node_append(struct node *parent, struct node *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap == 0 ? 8 : parent->cap * 2;
        struct node **k = realloc(parent->kids, cap * sizeof(*k));
        if (k == NULL) {
            return -ENOMEM;
        }
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static void
doc_release(struct doc *d)
{
    struct node *n = d->all;

    while (n != NULL) {
        struct node *next = n->all_next;
        free(n->str);
        free(n->kids);
        free(n);
        n = next;
    }
    for (size_t i = 0; i < d->nanchors; i++) {
        free(d->anchors[i].name);
    }
    free(d->anchors);
    free(d->file);
    memset(d, 0, sizeof(*d));
}

static int
anchor_add(struct doc *d, const char *name, struct node *n)
{
    struct anchor *a = grow(d->anchors, d->nanchors, sizeof(*a));
    char *copy = strdup(name);

    if (a == NULL || copy == NULL) {
        free(copy);
        if (a != NULL) {
            d->anchors = a;
        }
        return -ENOMEM;
    }
    d->anchors = a;
    a[d->nanchors].name = copy;
    a[d->nanchors].node = n;
    d->nanchors++;
    return 0;
}

/* The latest complete node anchored as @name (a later anchor of the same name wins). */
static struct node *
anchor_find(const struct doc *d, const char *name)
{
    for (size_t i = d->nanchors; i > 0; i--) {
        if (strcmp(d->anchors[i - 1].name, name) == 0) {
            return d->anchors[i - 1].node;
        }
    }
    return NULL;
}

static const struct node *
pairs_find(struct node **kids, size_t n, const char *key)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (strcmp(kids[i]->str, key) == 0) {
            return kids[i];
        }
    }
    return NULL;
}

static int
pairs_add(struct node ***kids, size_t *n, size_t *cap, struct node *k, struct node *v)
{
    if (*n + 2 > *cap) {
        size_t c = *cap == 0 ? 8 : *cap * 2;
        struct node **p = realloc(*kids, c * sizeof(*p));
        if (p == NULL) {
            return -ENOMEM;
        }
        *kids = p;
        *cap = c;
    }
    (*kids)[(*n)++] = k;
    (*kids)[(*n)++] = v;
    return 0;
}

/*
 * A mapping is complete: checks its keys (scalars, no duplicates) and expands "<<" merge keys
 * (explicit keys win, then earlier merge sources win, as in YAML 1.1).
 */
static int
map_finish(struct ctx *x, struct node *m)
{
    struct node **kids = NULL;
    size_t n = 0, cap = 0;
    struct node *merges[64];
    size_t nmerges = 0;

    for (size_t i = 0; i + 1 < m->n; i += 2) {
        struct node *k = m->kids[i], *v = m->kids[i + 1];
        const struct node *first;

        if (k->kind != NODE_SCALAR) {
            cerr(x, k, "mapping keys must be scalars, got a %s", node_kind_name(k));
            continue;
        }
        if (k->plain && strcmp(k->str, "<<") == 0) {
            if (nmerges < sizeof(merges) / sizeof(merges[0])) {
                merges[nmerges++] = v;
            }
            else {
                cerr(x, k, "too many merge keys");
            }
            continue;
        }
        first = pairs_find(kids, n, k->str);
        if (first != NULL) {
            cerr(x, k, "duplicate key \"%s\" (first at line %d, column %d)", k->str, first->line,
                 first->col);
            continue;
        }
        if (pairs_add(&kids, &n, &cap, k, v) != 0) {
            free(kids);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < nmerges; i++) {
        struct node *src = merges[i];
        struct node *one[1] = {src};
        struct node **srcs = one;
        size_t nsrcs = 1;

        if (src->kind == NODE_SEQ) {
            srcs = src->kids;
            nsrcs = src->n;
        }
        for (size_t j = 0; j < nsrcs; j++) {
            if (srcs[j]->kind != NODE_MAP) {
                cerr(x, srcs[j], "merge key \"<<\" expects a mapping or a sequence of mappings");
                continue;
            }
            for (size_t p = 0; p < map_len(srcs[j]); p++) {
                struct node *k = srcs[j]->kids[2 * p], *v = srcs[j]->kids[2 * p + 1];
                if (pairs_find(kids, n, k->str) == NULL && pairs_add(&kids, &n, &cap, k, v) != 0) {
                    free(kids);
                    return -ENOMEM;
                }
            }
        }
    }
    free(m->kids);
    m->kids = kids;
    m->n = n;
    m->cap = cap;
    return 0;
}

static void
weigh(struct node *n)
{
    uint64_t w = 1;

    for (size_t i = 0; i < n->n; i++) {
        w += n->kids[i]->weight;
        if (w > NODE_WEIGHT_MAX) {
            w = NODE_WEIGHT_MAX + 1ull;
            break;
        }
    }
    n->weight = w;
}

static void
offset_to_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        }
        else {
            (*col)++;
        }
    }
}

static void
yaml_error(struct ctx *x, const struct doc *d, const yaml_parser_t *p, const char *buf, size_t len)
{
    const char *problem = p->problem != NULL ? p->problem : "unknown error";
    int line, col;

    if (p->error == YAML_MEMORY_ERROR) {
        oom(x);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(buf, len, p->problem_offset, &line, &col);
        cerr_at(x, d->file, line, col, "%s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context != NULL) {
        cerr_at(x, d->file, line, col, "%s (%s at line %zu, column %zu)", problem, p->context,
                p->context_mark.line + 1, p->context_mark.column + 1);
    }
    else {
        cerr_at(x, d->file, line, col, "%s", problem);
    }
}

/*
 * Parses @len bytes of @buf (named d->file) into d->root. Returns 0, or -EINVAL / -ENOMEM after
 * reporting. A tree is always left in @d for doc_release, even after an error.
 */
static int
doc_parse(struct ctx *x, struct doc *d, const char *buf, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct frame *stack = NULL;
    size_t depth = 0;
    int ndocs = 0, rc = 0;
    bool done = false;

    if (!yaml_parser_initialize(&p)) {
        oom(x);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done) {
        struct node *n = NULL;
        char *anchor = NULL;

        if (!yaml_parser_parse(&p, &ev)) {
            yaml_error(x, d, &p, buf, len);
            rc = -EINVAL;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                cerr_at(x, d->file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                        "only one YAML document is allowed");
                rc = -EINVAL;
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = node_new(d, NODE_SCALAR, &ev.start_mark);
            if (n == NULL) {
                rc = -ENOMEM;
                break;
            }
            n->str = malloc(ev.data.scalar.length + 1);
            if (n->str == NULL) {
                rc = -ENOMEM;
                break;
            }
            memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
            n->str[ev.data.scalar.length] = '\0';
            n->len = ev.data.scalar.length;
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (ev.data.scalar.anchor != NULL) {
                anchor = strdup((const char *)ev.data.scalar.anchor);
                if (anchor == NULL) {
                    rc = -ENOMEM;
                }
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            struct frame *s = grow(stack, depth, sizeof(*s));
            const yaml_char_t *a = ev.type == YAML_SEQUENCE_START_EVENT
                                       ? ev.data.sequence_start.anchor
                                       : ev.data.mapping_start.anchor;
            if (s == NULL) {
                rc = -ENOMEM;
                break;
            }
            stack = s;
            stack[depth].node = node_new(
                d, ev.type == YAML_SEQUENCE_START_EVENT ? NODE_SEQ : NODE_MAP, &ev.start_mark);
            stack[depth].anchor = a != NULL ? strdup((const char *)a) : NULL;
            if (stack[depth].node == NULL || (a != NULL && stack[depth].anchor == NULL)) {
                free(stack[depth].anchor);
                rc = -ENOMEM;
                break;
            }
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            n = stack[depth].node;
            anchor = stack[depth].anchor;
            if (n->kind == NODE_MAP && map_finish(x, n) != 0) {
                rc = -ENOMEM;
                break;
            }
            weigh(n);
            if (n->weight > NODE_WEIGHT_MAX) {
                cerr(x, n, "document too large (more than %u nodes after alias expansion)",
                     NODE_WEIGHT_MAX);
                rc = -E2BIG;
            }
            break;
        case YAML_ALIAS_EVENT:
            n = anchor_find(d, (const char *)ev.data.alias.anchor);
            if (n == NULL) {
                cerr_at(x, d->file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                        "undefined alias \"%s\"", (const char *)ev.data.alias.anchor);
                rc = -EINVAL;
                /* a null stands in, so the mapping around it keeps its key/value pairs */
                n = node_new(d, NODE_SCALAR, &ev.start_mark);
                if (n == NULL || (n->str = strdup("")) == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                n->plain = true;
            }
            break;
        default:
            break;
        }
        if (rc == -ENOMEM) {
            free(anchor);
            yaml_event_delete(&ev);
            oom(x);
            break;
        }
        if (n != NULL) {
            if (anchor != NULL && anchor_add(d, anchor, n) != 0) {
                rc = -ENOMEM;
            }
            if (depth == 0) {
                d->root = n;
            }
            else if (node_append(stack[depth - 1].node, n) != 0) {
                rc = -ENOMEM;
            }
        }
        free(anchor);
        yaml_event_delete(&ev);
        if (rc == -ENOMEM) {
            oom(x);
            break;
        }
        if (rc == -E2BIG) {
            break;
        }
    }
    while (depth > 0) {
        free(stack[--depth].anchor);
    }
    free(stack);
    yaml_parser_delete(&p);
    if (rc == 0 && d->root != NULL && d->root->kind == NODE_SCALAR && node_is_null(d->root)) {
        d->root = NULL; /* "---" alone, or an empty document */
    }
    return rc;
}

/* Reads a whole file. 0, or a negative errno (-EFBIG past @max). */
static int
read_file(const char *path, size_t max, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;

    if (f == NULL) {
        return -errno;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 4096 : cap * 2;
            char *p;
            if (cap > max) {
                rc = -EFBIG;
                break;
            }
            p = realloc(buf, ncap + 1);
            if (p == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = errno != 0 ? -errno : -EIO;
            }
            break;
        }
    }
    fclose(f);
    if (rc == 0 && len > max) {
        rc = -EFBIG;
    }
    if (rc != 0) {
        free(buf);
        return rc;
    }
    if (buf == NULL) {
        buf = malloc(1);
        if (buf == NULL) {
            return -ENOMEM;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* The tables */

enum ftype {
    FT_STR,      /* char * */
    FT_PATH,     /* char *, relative to the config file's directory */
    FT_DURATION, /* int64_t ms; -1 when unset and without a default */
    FT_SIZE,     /* uint64_t bytes */
    FT_INT,      /* int64_t in [min, max] */
    FT_BOOL,     /* bool */
    FT_ENUM,     /* an int-sized enum, from aux (struct choice[]) */
    FT_LABELS,   /* struct label * + size_t count: a map of label name to string */
    FT_HEADERS,  /* struct config_header * + size_t count */
    FT_STRLIST,  /* char ** + size_t count */
    FT_INTLIST,  /* int * + size_t count, each in [min, max] */
    FT_REGEXES,  /* char ** + size_t count, each a valid regex */
    FT_PARAMS,   /* struct config_param * + size_t count */
    FT_SECTION,  /* an embedded struct described by aux (struct section) */
    FT_LIST,     /* an array of structs described by aux + size_t count */
    FT_DEFER,    /* accepted here, read by the section's check hook */
};

#define CF_REQUIRED 0x01u
#define CF_SECRET 0x02u      /* never printed */
#define CF_NONEMPTY 0x04u    /* strings (and list items) must not be empty */
#define CF_FIRST 0x08u       /* mapped before the other keys of the section */
#define CF_RESERVED_OK 0x10u /* labels: "__" names allowed (target groups) */
#define CF_SHARED 0x20u      /* list storage shared by several fields: freed by its owner */
#define CF_DEFAULTS 0x40u    /* section: defaults apply even when the key is absent */
#define CF_LABELNAME 0x80u   /* strings (and list items) must be label names */

struct choice {
    const char *name;
    int value;
    bool unsupported; /* a known value pollster does not implement yet */
};

struct section;

struct field {
    const char *key;
    enum ftype type;
    size_t off;      /* the value, or the array */
    size_t off_n;    /* the count of an array */
    const char *def; /* default, as a user would write it; NULL = none */
    unsigned flags;
    const struct section *sub;    /* FT_SECTION, FT_LIST */
    const struct choice *choices; /* FT_ENUM, ended by a NULL name */
    int64_t min, max;             /* FT_INT, FT_INTLIST */
    unsigned only;                /* outputs: mask of 1 << type the key applies to; 0 = all */
    const char *desc;
};

struct section {
    const char *name; /* for the reference text */
    const struct field *fields;
    size_t nfields;
    const char *const *unsupported; /* fnmatch patterns of known keys not supported yet */
    size_t size;                    /* sizeof one element (list items) */
    void (*init)(void *base);       /* before the defaults; idempotent */
    void (*check)(struct ctx *x, void *base, const struct node *map, const char *path);
    void (*release)(void *base); /* frees what the fields do not describe */
};

#define FIELDS(a) .fields = (a), .nfields = sizeof(a) / sizeof((a)[0])
#define FLD(k, t, st, m, ...)                                                                      \
    {                                                                                              \
        .key = (k), .type = (t), .off = offsetof(st, m), __VA_ARGS__                               \
    }
#define FLDN(k, t, st, m, nm, ...)                                                                 \
    {                                                                                              \
        .key = (k), .type = (t), .off = offsetof(st, m), .off_n = offsetof(st, nm), __VA_ARGS__    \
    }

static const struct choice scheme_choices[] = {
    {"http", CONFIG_SCHEME_HTTP, false}, {"https", CONFIG_SCHEME_HTTPS, false}, {NULL, 0, false}};

static const struct choice method_choices[] = {
    {"GET", CONFIG_METHOD_GET, false}, {"HEAD", CONFIG_METHOD_HEAD, false}, {NULL, 0, false}};

static const struct choice action_choices[] = {
    {"replace", CONFIG_RELABEL_REPLACE, false},
    {"keep", CONFIG_RELABEL_KEEP, false},
    {"drop", CONFIG_RELABEL_DROP, false},
    {"labeldrop", CONFIG_RELABEL_LABELDROP, false},
    {"labelkeep", CONFIG_RELABEL_LABELKEEP, false},
    {"hashmod", 0, true},
    {"labelmap", 0, true},
    {"lowercase", 0, true},
    {"uppercase", 0, true},
    {"keepequal", 0, true},
    {"dropequal", 0, true},
    {NULL, 0, false},
};

static const struct choice metric_type_choices[] = {{"gauge", SAMPLE_GAUGE, false},
                                                    {"counter", SAMPLE_COUNTER, false},
                                                    {"untyped", SAMPLE_UNTYPED, false},
                                                    {NULL, 0, false}};

static const struct choice output_type_choices[] = {{"stdout", CONFIG_OUTPUT_STDOUT, false},
                                                    {"file", CONFIG_OUTPUT_FILE, false},
                                                    {"http", CONFIG_OUTPUT_HTTP, false},
                                                    {NULL, 0, false}};

static const struct choice format_choices[] = {{"json", CONFIG_FORMAT_JSON, false},
                                               {"vm", CONFIG_FORMAT_VM, false},
                                               {"otlp", CONFIG_FORMAT_OTLP, false},
                                               {"telegraf", CONFIG_FORMAT_TELEGRAF, false},
                                               {NULL, 0, false}};

static const struct choice fsync_choices[] = {{"never", CONFIG_FSYNC_NEVER, false},
                                              {"batch", CONFIG_FSYNC_BATCH, false},
                                              {"interval", CONFIG_FSYNC_INTERVAL, false},
                                              {NULL, 0, false}};

static const struct choice compression_choices[] = {{"auto", CONFIG_COMPRESSION_AUTO, false},
                                                    {"gzip", CONFIG_COMPRESSION_GZIP, false},
                                                    {"none", CONFIG_COMPRESSION_NONE, false},
                                                    {NULL, 0, false}};

static const struct choice log_level_choices[] = {{"error", LOG_LVL_ERR, false},
                                                  {"warn", LOG_LVL_WARN, false},
                                                  {"info", LOG_LVL_INFO, false},
                                                  {"debug", LOG_LVL_DEBUG, false},
                                                  {NULL, 0, false}};

static const struct choice log_target_choices[] = {
    {"stderr", LOG_TARGET_STDERR, false}, {"syslog", LOG_TARGET_SYSLOG, false}, {NULL, 0, false}};

/* The enums stored through FT_ENUM must be int-sized. */
_Static_assert(sizeof(enum config_scheme) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sample_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_target) == sizeof(int), "enum size");

static void job_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void job_release(void *base);
static void relabel_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void relabel_release(void *base);
static void metric_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void output_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void global_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void status_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void top_check(struct ctx *x, void *base, const struct node *map, const char *path);
static void init_prometheus(void *base);
static void init_probe(void *base);
static void init_json(void *base);

#define BA(k, t, m, ...) FLD(k, t, struct config_basic_auth, m, __VA_ARGS__)
static const struct field basic_auth_fields[] = {
    BA("username", FT_STR, username, .desc = "User name."),
    BA("password", FT_STR, password, .flags = CF_SECRET,
       .desc = "Password (prefer password_file)."),
    BA("password_file", FT_PATH, password_file, .flags = CF_NONEMPTY,
       .desc = "File holding the password, read at load and reload; white space trimmed."),
};
#undef BA
static const char *const basic_auth_unsupported[] = {"username_file", "username_ref",
                                                     "password_ref", NULL};
static const struct section basic_auth_section = {
    .name = "basic_auth", FIELDS(basic_auth_fields), .unsupported = basic_auth_unsupported};

#define AU(k, t, m, ...) FLD(k, t, struct config_authorization, m, __VA_ARGS__)
static const struct field authorization_fields[] = {
    AU("type", FT_STR, type, .def = "Bearer", .flags = CF_NONEMPTY,
       .desc = "Authorization scheme (not Basic: use basic_auth)."),
    AU("credentials", FT_STR, credentials, .flags = CF_SECRET,
       .desc = "Credentials (prefer credentials_file)."),
    AU("credentials_file", FT_PATH, credentials_file, .flags = CF_NONEMPTY,
       .desc = "File holding the credentials, read at load and reload; white space trimmed."),
};
#undef AU
static const char *const authorization_unsupported[] = {"credentials_ref", NULL};
static const struct section authorization_section = {.name = "authorization",
                                                     FIELDS(authorization_fields),
                                                     .unsupported = authorization_unsupported};

#define TL(k, t, m, ...) FLD(k, t, struct config_tls, m, __VA_ARGS__)
static const struct field tls_fields[] = {
    TL("ca_file", FT_PATH, ca_file, .flags = CF_NONEMPTY,
       .desc = "CA certificates to verify the server with."),
    TL("cert_file", FT_PATH, cert_file, .flags = CF_NONEMPTY,
       .desc = "Client certificate (with key_file)."),
    TL("key_file", FT_PATH, key_file, .flags = CF_NONEMPTY, .desc = "Client key (with cert_file)."),
    TL("server_name", FT_STR, server_name, .flags = CF_NONEMPTY,
       .desc = "Server name to verify and send with SNI."),
    TL("insecure_skip_verify", FT_BOOL, insecure_skip_verify, .def = "false",
       .desc = "Do not verify the server certificate."),
};
#undef TL
static const char *const tls_unsupported[] = {
    "ca", "cert", "key", "ca_ref", "cert_ref", "key_ref", "min_version", "max_version", NULL};
static const struct section tls_section = {
    .name = "tls_config", FIELDS(tls_fields), .unsupported = tls_unsupported};

/* The HTTP client keys every kind shares, for a struct with a struct config_http member @m. */
#define HTTP_CLIENT_FIELDS(st, m)                                                                  \
    FLD("basic_auth", FT_SECTION, st, m.basic_auth, .sub = &basic_auth_section,                    \
        .desc = "HTTP basic authentication."),                                                     \
        FLD("authorization", FT_SECTION, st, m.authorization, .sub = &authorization_section,       \
            .desc = "Authorization header (default type Bearer)."),                                \
        FLD("tls_config", FT_SECTION, st, m.tls, .sub = &tls_section, .desc = "TLS settings.")

/* A target group, in static_configs or in a file_sd file (a temporary: targets are resolved). */
struct sd_group {
    char **targets;
    size_t ntargets;
    struct label *labels;
    size_t nlabels;
};

static const struct field group_fields[] = {
    FLDN("targets", FT_STRLIST, struct sd_group, targets, ntargets,
         .desc = "Addresses (host:port) to scrape."),
    FLDN("labels", FT_LABELS, struct sd_group, labels, nlabels, .flags = CF_RESERVED_OK,
         .desc = "Labels of every target of the group (__scheme__, __metrics_path__, "
                 "__param_<name> and instance override the job's)."),
};
static const struct section group_section = {.name = "static_configs[]", FIELDS(group_fields)};

struct sd_file {
    char **files;
    size_t nfiles;
    int64_t refresh_ms;
};

static const struct field sd_file_fields[] = {
    FLDN("files", FT_STRLIST, struct sd_file, files, nfiles, .flags = CF_REQUIRED | CF_NONEMPTY,
         .desc = "Globs of .json, .yml or .yaml files of target groups, read at load and reload."),
    FLD("refresh_interval", FT_DURATION, struct sd_file, refresh_ms, .def = "5m",
        .desc = "How often the files are checked (glob, size, mtime); a change reloads the "
                "targets."),
};
static const struct section sd_file_section = {.name = "file_sd_configs[]", FIELDS(sd_file_fields)};

#define RL(k, t, m, ...) FLD(k, t, struct config_relabel, m, __VA_ARGS__)
static const struct field relabel_fields[] = {
    FLDN("source_labels", FT_STRLIST, struct config_relabel, source_labels, nsource_labels,
         .flags = CF_LABELNAME, .desc = "Labels whose values are joined with separator."),
    RL("separator", FT_STR, separator, .def = ";", .desc = "Joins the source label values."),
    RL("regex", FT_STR, regex, .def = "(.*)",
       .desc = "POSIX extended regex, anchored at both ends (RE2-only syntax is rejected)."),
    RL("target_label", FT_STR, target_label, .flags = CF_NONEMPTY,
       .desc = "Label written by replace."),
    RL("replacement", FT_STR, replacement, .def = "$1",
       .desc = "Value written by replace ($1, ${1}: regex groups)."),
    RL("action", FT_ENUM, action, .def = "replace", .choices = action_choices,
       .desc = "replace, keep, drop, labeldrop or labelkeep."),
    RL("modulus", FT_INT, modulus, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "For hashmod (not supported yet)."),
};
#undef RL
static const struct section relabel_section = {.name = "metric_relabel_configs[]",
                                               FIELDS(relabel_fields),
                                               .size = sizeof(struct config_relabel),
                                               .check = relabel_check,
                                               .release = relabel_release};

/* Known Prometheus scrape_config keys pollster rejects (fnmatch patterns). */
static const char *const scrape_unsupported[] = {
    "relabel_configs",
    "*_sd_configs",
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "enable_http2",
    "http_headers",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "native_histogram_*",
    "convert_classic_histograms_to_nhcb",
    "scrape_native_histograms",
    "scrape_protocols",
    "fallback_scrape_protocol",
    "target_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
    "track_timestamps_staleness",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "scrape_failure_log_file",
    NULL,
};

#define SC(k, t, m, ...) FLD(k, t, struct config_job, m, __VA_ARGS__)
static const struct field scrape_fields[] = {
    SC("job_name", FT_STR, name, .flags = CF_REQUIRED | CF_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("scrape_interval", FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("scrape_timeout", FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to scrape_interval."),
    SC("metrics_path", FT_STR, scrape.metrics_path, .def = "/metrics", .flags = CF_NONEMPTY,
       .desc = "Path of the targets' metrics."),
    SC("scheme", FT_ENUM, scrape.scheme, .def = "http", .choices = scheme_choices,
       .desc = "http or https."),
    FLDN("params", FT_PARAMS, struct config_job, scrape.params, scrape.nparams,
         .desc = "Query parameters: name: [values]."),
    SC("static_configs", FT_DEFER, name, .desc = "Target groups: [{targets: [...], labels: {}}]."),
    SC("file_sd_configs", FT_DEFER, name, .desc = "Files of target groups: [{files: [globs]}]."),
    SC("honor_labels", FT_BOOL, scrape.honor_labels, .def = "false",
       .desc = "Keep scraped labels that clash with target labels."),
    SC("honor_timestamps", FT_BOOL, scrape.honor_timestamps, .def = "true",
       .desc = "Keep the timestamps in the scraped data."),
    SC("enable_compression", FT_BOOL, scrape.enable_compression, .def = "true",
       .desc = "Ask targets for gzip (Accept-Encoding); false saves the decompression CPU "
               "for targets on fast local links."),
    SC("sample_limit", FT_INT, scrape.sample_limit, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Fail a scrape with more samples (0: no limit)."),
    SC("label_limit", FT_INT, scrape.label_limit, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Fail a scrape with a sample with more labels (0: no limit)."),
    SC("body_size_limit", FT_SIZE, body_size_limit, .def = "0",
       .desc = "Largest uncompressed body (0: pollster's default, 10MiB)."),
    HTTP_CLIENT_FIELDS(struct config_job, http),
    SC("bearer_token", FT_STR, http.authorization.credentials, .flags = CF_SECRET,
       .desc = "Legacy: authorization with type Bearer."),
    SC("bearer_token_file", FT_PATH, http.authorization.credentials_file, .flags = CF_NONEMPTY,
       .desc = "Legacy: authorization credentials_file with type Bearer."),
    SC("follow_redirects", FT_BOOL, http.follow_redirects, .def = "true",
       .desc = "Follow HTTP redirects (http and https only)."),
    FLDN("metric_relabel_configs", FT_LIST, struct config_job, scrape.relabels, scrape.nrelabels,
         .sub = &relabel_section, .desc = "Rules applied to scraped samples."),
};
static const struct section scrape_section = {.name = "scrape_configs[]",
                                              FIELDS(scrape_fields),
                                              .unsupported = scrape_unsupported,
                                              .size = sizeof(struct config_job),
                                              .init = init_prometheus,
                                              .check = job_check,
                                              .release = job_release};

static const struct field probe_fields[] = {
    SC("name", FT_STR, name, .flags = CF_REQUIRED | CF_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("urls", FT_DEFER, name, .flags = CF_REQUIRED, .desc = "http or https URLs to check."),
    SC("interval", FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    FLDN("valid_status_codes", FT_INTLIST, struct config_job, probe.valid_status_codes,
         probe.nvalid_status_codes, .min = 100, .max = 599, .desc = "Default: any 2xx."),
    FLDN("fail_if_body_matches_regexp", FT_REGEXES, struct config_job, probe.fail_if_body_matches,
         probe.nfail_if_body_matches, .desc = "Fail when the body matches any (POSIX ERE)."),
    FLDN("fail_if_body_not_matches_regexp", FT_REGEXES, struct config_job,
         probe.fail_if_body_not_matches, probe.nfail_if_body_not_matches,
         .desc = "Fail when the body does not match one of them (POSIX ERE)."),
    SC("method", FT_ENUM, probe.method, .def = "GET", .choices = method_choices,
       .desc = "GET or HEAD."),
    FLDN("headers", FT_HEADERS, struct config_job, http.headers, http.nheaders,
         .desc = "Request headers (values are not shown anywhere)."),
    HTTP_CLIENT_FIELDS(struct config_job, http),
    SC("follow_redirects", FT_BOOL, http.follow_redirects, .def = "true",
       .desc = "Follow HTTP redirects (http and https only)."),
    SC("body_size_limit", FT_SIZE, body_size_limit, .def = "0",
       .desc = "Largest uncompressed body (0: pollster's default, 10MiB)."),
    FLDN("labels", FT_LABELS, struct config_job, labels, nlabels,
         .desc = "Labels of every target."),
};
static const struct section probe_section = {.name = "probes[]",
                                             FIELDS(probe_fields),
                                             .size = sizeof(struct config_job),
                                             .init = init_probe,
                                             .check = job_check,
                                             .release = job_release};

#define JM(k, t, m, ...) FLD(k, t, struct config_json_metric, m, __VA_ARGS__)
static const struct field json_metric_fields[] = {
    JM("name", FT_STR, name, .flags = CF_REQUIRED | CF_NONEMPTY,
       .desc = "Metric name (Prometheus syntax)."),
    JM("path", FT_STR, path, .flags = CF_REQUIRED | CF_NONEMPTY,
       .desc = "Where the value is in the body (json job path syntax)."),
    JM("type", FT_ENUM, type, .def = "gauge", .choices = metric_type_choices,
       .desc = "gauge, counter or untyped."),
    FLDN("labels", FT_LABELS, struct config_json_metric, labels, nlabels,
         .desc = "Labels of the metric."),
    JM("label", FT_STR, label, .flags = CF_NONEMPTY,
       .desc = "Label name taking the key or index matched by a wildcard (comma-separated "
               "names, one per wildcard in path order)."),
    JM("required", FT_BOOL, required, .def = "false",
       .desc = "Fail the run when the path matches nothing."),
};
#undef JM
static const struct section json_metric_section = {.name = "metrics[]",
                                                   FIELDS(json_metric_fields),
                                                   .size = sizeof(struct config_json_metric),
                                                   .check = metric_check};

static const struct field json_fields[] = {
    SC("name", FT_STR, name, .flags = CF_REQUIRED | CF_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("url", FT_DEFER, name, .flags = CF_REQUIRED, .desc = "http or https URL of the JSON."),
    SC("interval", FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    FLDN("headers", FT_HEADERS, struct config_job, http.headers, http.nheaders,
         .desc = "Request headers (values are not shown anywhere)."),
    HTTP_CLIENT_FIELDS(struct config_job, http),
    SC("follow_redirects", FT_BOOL, http.follow_redirects, .def = "true",
       .desc = "Follow HTTP redirects (http and https only)."),
    SC("body_size_limit", FT_SIZE, body_size_limit, .def = "0",
       .desc = "Largest uncompressed body (0: pollster's default, 10MiB)."),
    FLDN("labels", FT_LABELS, struct config_job, labels, nlabels,
         .desc = "Labels of every sample."),
    FLDN("metrics", FT_LIST, struct config_job, json.metrics, json.nmetrics, .flags = CF_REQUIRED,
         .sub = &json_metric_section, .desc = "What to read from the body."),
};
#undef SC
static const struct section json_section = {.name = "json_jobs[]",
                                            FIELDS(json_fields),
                                            .size = sizeof(struct config_job),
                                            .init = init_json,
                                            .check = job_check,
                                            .release = job_release};

#define OUT_FILE (1u << CONFIG_OUTPUT_FILE)
#define OUT_HTTP (1u << CONFIG_OUTPUT_HTTP)
#define OU(k, t, m, ...) FLD(k, t, struct config_output, m, __VA_ARGS__)
static const struct field output_fields[] = {
    OU("type", FT_ENUM, type, .flags = CF_REQUIRED, .choices = output_type_choices,
       .desc = "stdout, file or http."),
    OU("format", FT_ENUM, format, .def = "json", .choices = format_choices,
       .desc = "json, vm, otlp or telegraf."),
    OU("path", FT_PATH, path, .flags = CF_NONEMPTY, .only = OUT_FILE,
       .desc = "file: the file appended to (required)."),
    OU("fsync", FT_ENUM, fsync, .def = "never", .choices = fsync_choices,
       .only = OUT_FILE | OUT_HTTP,
       .desc = "file, and http's spool: never, batch (after every batch) or interval (every "
               "flush_interval)."),
    OU("url", FT_STR, url, .flags = CF_NONEMPTY, .only = OUT_HTTP,
       .desc = "http: where batches are POSTed (required)."),
    FLDN("headers", FT_HEADERS, struct config_output, http.headers, http.nheaders, .only = OUT_HTTP,
         .desc = "http: request headers (values are not shown anywhere)."),
    OU("basic_auth", FT_SECTION, http.basic_auth, .sub = &basic_auth_section, .only = OUT_HTTP,
       .desc = "http: basic authentication."),
    OU("authorization", FT_SECTION, http.authorization, .sub = &authorization_section,
       .only = OUT_HTTP, .desc = "http: Authorization header."),
    OU("tls_config", FT_SECTION, http.tls, .sub = &tls_section, .only = OUT_HTTP,
       .desc = "http: TLS settings."),
    OU("timeout", FT_DURATION, timeout_ms, .def = "10s", .only = OUT_HTTP,
       .desc = "http: deadline of one request."),
    OU("batch_max_bytes", FT_SIZE, batch_max_bytes, .def = "1MiB", .only = OUT_HTTP,
       .desc = "http: largest request body."),
    OU("flush_interval", FT_DURATION, flush_interval_ms, .def = "1s", .only = OUT_FILE | OUT_HTTP,
       .desc = "http: longest wait before sending a partial batch; file: fsync period."),
    OU("queue_max_bytes", FT_SIZE, queue_max_bytes, .def = "64MiB", .only = OUT_HTTP,
       .desc = "http: memory queue bound; beyond it the queue moves to the spool, or without "
               "one the oldest batches are dropped and counted."),
    OU("spool_dir", FT_PATH, spool_dir, .flags = CF_NONEMPTY, .only = OUT_HTTP,
       .desc = "http: disk spool directory: batches go there while the sink fails, beyond "
               "queue_max_bytes and at exit (none: batches wait in memory only)."),
    OU("spool_max_bytes", FT_SIZE, spool_max_bytes, .def = "1GiB", .only = OUT_HTTP,
       .desc = "http: disk spool bound; beyond it the oldest data is dropped and counted."),
    OU("retry_initial", FT_DURATION, retry_initial_ms, .def = "1s", .only = OUT_HTTP,
       .desc = "http: first retry delay (full-jitter exponential backoff)."),
    OU("retry_max", FT_DURATION, retry_max_ms, .def = "1m", .only = OUT_HTTP,
       .desc = "http: longest retry delay."),
    OU("compression", FT_ENUM, compression, .def = "auto", .choices = compression_choices,
       .only = OUT_HTTP,
       .desc = "http: gzip, none, or auto (none for a sink on loopback, where compressing costs "
               "CPU and saves nothing; gzip otherwise)."),
};
#undef OU
static const struct section output_section = {.name = "outputs[]",
                                              FIELDS(output_fields),
                                              .size = sizeof(struct config_output),
                                              .check = output_check};

#define GL(k, t, m, ...) FLD(k, t, struct config_global, m, __VA_ARGS__)
static const struct field global_fields[] = {
    GL("scrape_interval", FT_DURATION, scrape_interval_ms, .def = CONFIG_DEFAULT_SCRAPE_INTERVAL,
       .desc = "Default interval of every job."),
    GL("scrape_timeout", FT_DURATION, scrape_timeout_ms, .def = CONFIG_DEFAULT_SCRAPE_TIMEOUT,
       .desc = "Default timeout of every job (capped to the interval when not set)."),
    FLDN("external_labels", FT_LABELS, struct config_global, external_labels, nexternal_labels,
         .desc = "Labels the outputs add to every batch."),
    GL("shutdown_timeout", FT_DURATION, shutdown_timeout_ms, .def = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT,
       .desc = "pollster: how long SIGTERM waits for runs and outputs."),
};
#undef GL
static const char *const global_unsupported[] = {
    "evaluation_interval",
    "rule_query_offset",
    "query_log_file",
    "scrape_failure_log_file",
    "scrape_protocols",
    "body_size_limit",
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "always_scrape_classic_histograms",
    "convert_classic_histograms_to_nhcb",
    "scrape_native_histograms",
    NULL,
};
static const struct section global_section = {.name = "global",
                                              FIELDS(global_fields),
                                              .unsupported = global_unsupported,
                                              .check = global_check};

static const struct field status_fields[] = {
    FLD("listen", FT_STR, struct config_status, listen, .def = CONFIG_DEFAULT_STATUS_LISTEN,
        .flags = CF_NONEMPTY, .desc = "ADDR:PORT or [V6ADDR]:PORT of the status server."),
};
static const struct section status_section = {
    .name = "status", FIELDS(status_fields), .check = status_check};

static const struct field log_fields[] = {
    FLD("level", FT_ENUM, struct config_log, level, .def = "info", .choices = log_level_choices,
        .desc = "error, warn, info or debug."),
    FLD("target", FT_ENUM, struct config_log, target, .def = "stderr",
        .choices = log_target_choices, .desc = "stderr or syslog."),
};
static const struct section log_section = {.name = "log", FIELDS(log_fields)};

#define TOP(k, t, m, ...) FLD(k, t, struct config, m, __VA_ARGS__)
static const struct field top_fields[] = {
    TOP("global", FT_SECTION, global, .flags = CF_FIRST | CF_DEFAULTS, .sub = &global_section,
        .desc = "Defaults of every job."),
    FLDN("scrape_configs", FT_LIST, struct config, jobs, njobs, .flags = CF_SHARED,
         .sub = &scrape_section, .desc = "Prometheus scrape jobs (a subset of prometheus.yml)."),
    FLDN("probes", FT_LIST, struct config, jobs, njobs, .flags = CF_SHARED, .sub = &probe_section,
         .desc = "Blackbox-style HTTP checks."),
    FLDN("json_jobs", FT_LIST, struct config, jobs, njobs, .flags = CF_SHARED, .sub = &json_section,
         .desc = "Metrics read from JSON bodies."),
    FLDN("outputs", FT_LIST, struct config, outputs, noutputs, .sub = &output_section,
         .desc = "Where batches go (default: stdout, json)."),
    TOP("status", FT_SECTION, status, .flags = CF_DEFAULTS, .sub = &status_section,
        .desc = "The status server."),
    TOP("log", FT_SECTION, log, .flags = CF_DEFAULTS, .sub = &log_section, .desc = "Logging."),
};
#undef TOP
static const char *const top_unsupported[] = {
    "rule_files",          "alerting", "remote_write", "remote_read", "storage",
    "scrape_config_files", "tracing",  "otlp",         "runtime",     NULL};
static const struct section top_section = {
    .name = "", FIELDS(top_fields), .unsupported = top_unsupported, .check = top_check};

static void
init_prometheus(void *base)
{
    ((struct config_job *)base)->kind = CONFIG_JOB_PROMETHEUS;
}

static void
init_probe(void *base)
{
    ((struct config_job *)base)->kind = CONFIG_JOB_PROBE;
}

static void
init_json(void *base)
{
    ((struct config_job *)base)->kind = CONFIG_JOB_JSON;
}

static const struct section *
job_section(enum config_job_kind k)
{
    switch (k) {
    case CONFIG_JOB_PROBE:
        return &probe_section;
    case CONFIG_JOB_JSON:
        return &json_section;
    default:
        return &scrape_section;
    }
}

/* Freeing, driven by the tables */

static void
labels_free(struct label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)l[i].name);
        free((char *)l[i].value);
    }
    free(l);
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static void
section_release(const struct section *s, void *base)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct field *f = &s->fields[i];
        void *p = (char *)base + f->off;
        size_t *pn = (size_t *)((char *)base + f->off_n);

        switch (f->type) {
        case FT_STR:
        case FT_PATH:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case FT_LABELS:
            labels_free(*(struct label **)p, *pn);
            *(struct label **)p = NULL;
            *pn = 0;
            break;
        case FT_HEADERS: {
            struct config_header *h = *(struct config_header **)p;
            for (size_t j = 0; j < *pn; j++) {
                free(h[j].name);
                free(h[j].value);
            }
            free(h);
            *(struct config_header **)p = NULL;
            *pn = 0;
            break;
        }
        case FT_STRLIST:
        case FT_REGEXES:
            strv_free(*(char ***)p, *pn);
            *(char ***)p = NULL;
            *pn = 0;
            break;
        case FT_INTLIST:
            free(*(int **)p);
            *(int **)p = NULL;
            *pn = 0;
            break;
        case FT_PARAMS: {
            struct config_param *pa = *(struct config_param **)p;
            for (size_t j = 0; j < *pn; j++) {
                free(pa[j].name);
                strv_free(pa[j].values, pa[j].nvalues);
            }
            free(pa);
            *(struct config_param **)p = NULL;
            *pn = 0;
            break;
        }
        case FT_SECTION:
            section_release(f->sub, p);
            break;
        case FT_LIST:
            if (!(f->flags & CF_SHARED)) {
                char *arr = *(char **)p;
                for (size_t j = 0; j < *pn; j++) {
                    section_release(f->sub, arr + j * f->sub->size);
                }
                free(arr);
                *(char **)p = NULL;
                *pn = 0;
            }
            break;
        default:
            break;
        }
    }
    if (s->release != NULL) {
        s->release(base);
    }
}

static void
target_release(struct config_target *t)
{
    free(t->url);
    free(t->instance);
    labels_free(t->labels, t->nlabels);
}

static void
job_release(void *base)
{
    struct config_job *j = base;

    for (size_t i = 0; i < j->ntargets; i++) {
        target_release(&j->targets[i]);
    }
    free(j->targets);
    j->targets = NULL;
    j->ntargets = 0;
    for (size_t i = 0; i < j->scrape.nfile_sd_globs; i++) {
        free(j->scrape.file_sd_globs[i]);
    }
    free(j->scrape.file_sd_globs);
    j->scrape.file_sd_globs = NULL;
    j->scrape.nfile_sd_globs = 0;
}

static void
relabel_release(void *base)
{
    struct config_relabel *r = base;

    if (r->re != NULL) {
        regfree(r->re);
        free(r->re);
        r->re = NULL;
    }
}

void
config_free(struct config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->njobs; i++) {
        section_release(job_section(c->jobs[i].kind), &c->jobs[i]);
    }
    free(c->jobs);
    c->jobs = NULL;
    c->njobs = 0;
    section_release(&top_section, c);
    free(c->source);
    free(c->path);
    free(c);
}

/* Scalar parsing */

static int
parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    char *end;
    long long v;

    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    for (; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -EINVAL;
        }
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

/* YAML 1.1 booleans, as Prometheus' YAML library reads them. */
static int
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *
choice_name(const struct choice *c, int v)
{
    for (; c->name != NULL; c++) {
        if (!c->unsupported && c->value == v) {
            return c->name;
        }
    }
    return "?";
}

static void
choices_text(const struct choice *c, bool supported, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (; c->name != NULL; c++) {
        if (c->unsupported == supported) {
            continue;
        }
        int w = snprintf(buf + off, len - off, "%s%s", off > 0 ? ", " : "", c->name);
        if (w < 0 || (size_t)w >= len - off) {
            break;
        }
        off += (size_t)w;
    }
}

static char *
path_resolve(const struct ctx *x, const char *p)
{
    if (p[0] == '/' || x->dir == NULL) {
        return strdup(p);
    }
    return xprintf("%s/%s", x->dir, p);
}

/*
 * Parses scalar text @s into the field at @p. @at is the value's node, or NULL for a default
 * (defaults are as trusted as code: a bad one is reported as an internal error).
 */
static bool
set_scalar(struct ctx *x, const struct field *f, void *p, const char *s, const struct node *at)
{
    char buf[256];
    int rc;

    struct node nowhere = {.file = x->cfg->path};

    if (at == NULL) {
        at = &nowhere; /* an error here is about the whole file */
    }
    switch (f->type) {
    case FT_STR:
    case FT_PATH: {
        char *v;
        if ((f->flags & CF_NONEMPTY) && *s == '\0') {
            cerr(x, at, "%s must not be empty", f->key);
            return false;
        }
        if ((f->flags & CF_LABELNAME) && !is_label_name(s)) {
            cerr(x, at, "invalid label name \"%s\" for %s", s, f->key);
            return false;
        }
        v = f->type == FT_PATH && at->line > 0 ? path_resolve(x, s) : strdup(s);
        if (v == NULL) {
            oom(x);
            return false;
        }
        free(*(char **)p);
        *(char **)p = v;
        return true;
    }
    case FT_DURATION: {
        int64_t ms;
        rc = units_parse_duration(s, &ms);
        if (rc != 0) {
            cerr(x, at, "%s duration \"%s\" for %s", rc == -ERANGE ? "out of range" : "invalid", s,
                 f->key);
            return false;
        }
        *(int64_t *)p = ms;
        return true;
    }
    case FT_SIZE: {
        uint64_t n;
        rc = units_parse_size(s, &n);
        if (rc != 0) {
            cerr(x, at, "%s size \"%s\" for %s", rc == -ERANGE ? "out of range" : "invalid", s,
                 f->key);
            return false;
        }
        *(uint64_t *)p = n;
        return true;
    }
    case FT_INT: {
        int64_t n;
        rc = parse_int(s, &n);
        if (rc != 0) {
            cerr(x, at, "%s integer \"%s\" for %s", rc == -ERANGE ? "out of range" : "invalid", s,
                 f->key);
            return false;
        }
        if (n < f->min || n > f->max) {
            if (f->max == INT64_MAX) {
                cerr(x, at, "%s must be at least %lld, got %s", f->key, (long long)f->min, s);
            }
            else {
                cerr(x, at, "%s must be between %lld and %lld, got %s", f->key, (long long)f->min,
                     (long long)f->max, s);
            }
            return false;
        }
        *(int64_t *)p = n;
        return true;
    }
    case FT_BOOL:
        if (parse_bool(s, (bool *)p) != 0) {
            cerr(x, at, "invalid boolean \"%s\" for %s (expected true or false)", s, f->key);
            return false;
        }
        return true;
    case FT_ENUM:
        for (const struct choice *c = f->choices; c->name != NULL; c++) {
            if (strcasecmp(c->name, s) != 0) {
                continue;
            }
            if (c->unsupported) {
                choices_text(f->choices, true, buf, sizeof(buf));
                cerr(x, at, "%s \"%s\" is not supported by pollster yet (supported: %s)", f->key, s,
                     buf);
                return false;
            }
            *(int *)p = c->value;
            return true;
        }
        choices_text(f->choices, true, buf, sizeof(buf));
        cerr(x, at, "invalid %s \"%s\" (expected one of: %s)", f->key, s, buf);
        return false;
    default:
        return false;
    }
}

static const char *
type_noun(enum ftype t)
{
    switch (t) {
    case FT_DURATION:
        return "a duration";
    case FT_SIZE:
        return "a size";
    case FT_INT:
        return "an integer";
    case FT_BOOL:
        return "a boolean";
    case FT_LABELS:
    case FT_HEADERS:
    case FT_PARAMS:
    case FT_SECTION:
        return "a mapping";
    case FT_STRLIST:
    case FT_INTLIST:
    case FT_REGEXES:
    case FT_LIST:
        return "a sequence";
    default:
        return "a string";
    }
}

static bool
expect_kind(struct ctx *x, const struct node *v, enum node_kind kind, const char *noun,
            const char *what)
{
    if (v->kind == kind) {
        if (kind == NODE_SCALAR && strlen(v->str) != v->len) {
            cerr(x, v, "%s must not contain a NUL character", what);
            return false;
        }
        return true;
    }
    cerr(x, v, "expected %s for %s, got a %s", noun, what, node_kind_name(v));
    return false;
}

/*
 * RE2 (Prometheus, blackbox_exporter) and POSIX ERE (regcomp) agree on the common syntax; the
 * constructs that differ are rejected here rather than silently meaning something else (glibc
 * reads "\d" as "d"). Returns NULL, or what is wrong.
 */
static const char *
regex_not_posix(const char *re, char *buf, size_t len)
{
    int depth = 0;

    for (const char *p = re; *p != '\0'; p++) {
        switch (*p) {
        case '\\':
            if (p[1] == '\0') {
                return "trailing backslash";
            }
            if (isalnum((unsigned char)p[1]) && strchr("wWsSbB", p[1]) == NULL) {
                snprintf(buf, len, "\\%c is not supported in POSIX extended regular expressions%s",
                         p[1], p[1] == 'd' ? " (use [0-9])" : "");
                return buf;
            }
            p++;
            break;
        case '[': {
            /* a bracket expression: "]" first is literal; skip [:class:] and friends */
            const char *q = p + 1;
            if (*q == '^') {
                q++;
            }
            if (*q == ']') {
                q++;
            }
            while (*q != '\0' && *q != ']') {
                if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
                    const char *end = strchr(q + 2, q[1]);
                    if (end == NULL || end[1] != ']') {
                        break;
                    }
                    q = end + 2;
                    continue;
                }
                if (*q == '\\' && isalpha((unsigned char)q[1])) {
                    snprintf(buf, len,
                             "\\%c inside brackets is not supported in POSIX extended regular "
                             "expressions",
                             q[1]);
                    return buf;
                }
                q++;
            }
            if (*q == '\0') {
                return NULL; /* regcomp reports the unmatched [ */
            }
            p = q;
            break;
        }
        case '(':
            if (p[1] == '?') {
                return "(?...) groups and flags are not supported in POSIX extended regular "
                       "expressions";
            }
            depth++;
            break;
        case ')':
            if (depth == 0) {
                return "unmatched )";
            }
            depth--;
            break;
        case '*':
        case '+':
        case '?':
        case '}':
            if (p[1] == '?') {
                snprintf(buf, len,
                         "lazy quantifier %c? is not supported in POSIX extended regular "
                         "expressions",
                         *p);
                return buf;
            }
            break;
        default:
            break;
        }
    }
    return NULL;
}

/*
 * What glibc's regcomp() builds from a regex can be far larger than its text. It copies every
 * repeated item (x{2,5} is five copies of x, x+ is "x x*"), so nested repetitions multiply: "a"
 * followed by 24 "+" asks for 16 million copies, gigabytes. Its memory also grows with the square
 * of the number of groups, alternatives and optional items (?, *, {0,n}): 5000 "a?" take 200 MB,
 * 50000 take 19 GB; 50000 "()" overflow its stack, and so do 100000 nested groups. With
 * submatches (the relabel regexes), 1000 "a?" take 26 MB, and the compiled regex keeps most of
 * it. Prometheus' RE2 refuses such regexes too. These limits keep one regcomp() under about 50 MB
 * and all the regexes of a config under about 500 MB.
 */
#define REGEX_DEPTH_MAX 100            /* nested groups */
#define REGEX_EXPANDED_MAX 100000u     /* elements, once repetitions are expanded */
#define REGEX_BRANCHES_MAX 1000u       /* groups, alternatives and optional items, expanded */
#define REGEX_CONFIG_COST_MAX 10000000 /* all the regexes of a config (see regex_too_large) */

/* The size of a part of a regex once its repetitions are expanded. */
struct regex_cost {
    uint64_t elems;
    uint64_t branches; /* groups, alternatives and optional items */
};

/* A group being measured (the whole regex is level 0). */
struct regex_level {
    struct regex_cost sum;  /* the group so far */
    struct regex_cost last; /* its last item: what a repetition repeats */
};

/*
 * Parses the interval at @p ("{n}", "{n,}", "{n,m}" or "{,m}") into the number of copies regcomp
 * makes of the repeated item, @optional of them optional. Returns the closing "}", or NULL when
 * @p does not start an interval (regcomp then reads "{" literally or rejects it).
 */
static const char *
regex_interval(const char *p, uint64_t *copies, uint64_t *optional)
{
    uint64_t n[2] = {0, 0};
    bool digits[2] = {false, false};
    int i = 0;

    for (p++; *p != '}'; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n[i] <= REGEX_EXPANDED_MAX) { /* saturated: regcomp stops at 32767 anyway */
                n[i] = n[i] * 10 + (uint64_t)(*p - '0');
            }
            digits[i] = true;
        }
        else if (*p == ',' && i == 0) {
            i = 1;
        }
        else {
            return NULL;
        }
    }
    if (i == 0 && !digits[0]) {
        return NULL; /* "{}" */
    }
    if (i == 0) {
        *copies = n[0]; /* {n} */
        *optional = 0;
    }
    else if (!digits[1]) {
        *copies = n[0] + 1; /* {n,}: n copies and a starred one */
        *optional = 1;
    }
    else {
        *copies = n[1] > n[0] ? n[1] : n[0]; /* {n,m}: m copies, m - n of them optional */
        *optional = *copies - n[0];
    }
    if (*copies == 0) {
        *copies = 1; /* {0}: the item is still parsed once */
    }
    return p;
}

/*
 * Appends @item to @l or, when @copies > 0, replaces the last item of @l with @copies copies of
 * it, @optional of them optional. Returns NULL, or (in @buf) why the regex is too large.
 */
static const char *
regex_level_add(struct regex_level *l, struct regex_cost item, uint64_t copies, uint64_t optional,
                char *buf, size_t len)
{
    if (copies > 0) {
        item.elems = l->last.elems * copies;
        item.branches = l->last.branches * copies + optional;
        l->sum.elems -= l->last.elems;
        l->sum.branches -= l->last.branches;
    }
    l->sum.elems += item.elems;
    l->sum.branches += item.branches;
    l->last = item;
    /* checked at every step, which keeps the products above far from overflowing */
    if (l->sum.elems > REGEX_EXPANDED_MAX) {
        snprintf(buf, len, "too large once its repetitions are expanded (more than %u elements)",
                 REGEX_EXPANDED_MAX);
        return buf;
    }
    if (l->sum.branches > REGEX_BRANCHES_MAX) {
        snprintf(buf, len,
                 "too complex once its repetitions are expanded (more than %u groups, "
                 "alternatives and optional items)",
                 REGEX_BRANCHES_MAX);
        return buf;
    }
    return NULL;
}

/*
 * Checks @re, which regex_not_posix() accepted, against REGEX_DEPTH_MAX, REGEX_EXPANDED_MAX and
 * REGEX_BRANCHES_MAX. Returns NULL, or (in @buf) what is wrong. Sets *@cost to an estimate of
 * the memory it takes, at most 2000000: branches squared plus ten per element.
 */
static const char *
regex_too_large(const char *re, uint64_t *cost, char *buf, size_t len)
{
    struct regex_level lv[REGEX_DEPTH_MAX + 1];
    const char *why = NULL;
    size_t d = 0;

    lv[0] = (struct regex_level){{0, 0}, {0, 0}};
    for (const char *p = re; *p != '\0' && why == NULL; p++) {
        struct regex_cost item = {1, 0}; /* an atom, unless the switch says otherwise */
        uint64_t copies = 0, optional = 0;
        const char *end;

        switch (*p) {
        case '\\':
            if (p[1] != '\0') {
                p++;
            }
            break;
        case '[':
            /* one atom: "]" first is literal; skip [:class:] and friends */
            end = p + 1;
            if (*end == '^') {
                end++;
            }
            if (*end == ']') {
                end++;
            }
            while (*end != '\0' && *end != ']') {
                const char *close = NULL;
                if (*end == '[' && (end[1] == ':' || end[1] == '.' || end[1] == '=')) {
                    close = strchr(end + 2, end[1]);
                }
                end = close != NULL && close[1] == ']' ? close + 2 : end + 1;
            }
            if (*end == '\0') {
                return NULL; /* regcomp reports the unmatched [ */
            }
            p = end;
            break;
        case '(':
            if (d == REGEX_DEPTH_MAX) {
                snprintf(buf, len, "groups nested more than %d deep", REGEX_DEPTH_MAX);
                return buf;
            }
            d++;
            lv[d] = (struct regex_level){{0, 0}, {0, 0}};
            continue;
        case ')':
            if (d > 0) { /* else regex_not_posix() rejected it: an atom is a safe guess */
                item = (struct regex_cost){lv[d].sum.elems + 1, lv[d].sum.branches + 1};
                d--;
            }
            break;
        case '|':
            item = (struct regex_cost){0, 1};
            break;
        case '*':
        case '?':
            copies = 1;
            optional = 1;
            break;
        case '+':
            copies = 2; /* x+ is "x x*" */
            optional = 1;
            break;
        case '{':
            end = regex_interval(p, &copies, &optional);
            if (end != NULL) {
                p = end;
            }
            break;
        default:
            break;
        }
        why = regex_level_add(&lv[d], item, copies, optional, buf, len);
    }
    /* groups left open: regcomp builds them before it reports the missing ")" */
    while (why == NULL && d > 0) {
        struct regex_cost group = {lv[d].sum.elems + 1, lv[d].sum.branches + 1};
        d--;
        why = regex_level_add(&lv[d], group, 0, 0, buf, len);
    }
    *cost = lv[0].sum.branches * lv[0].sum.branches + 10 * lv[0].sum.elems;
    return why;
}

/*
 * Checks @re (REG_EXTENDED). With @out, also compiles it anchored as Prometheus anchors it,
 * "^(" re ")$", into a new regex_t. Returns NULL, or the reason it is invalid (in @buf or
 * static). The user's regex is compiled on its own first so that errors are about the text the
 * user wrote, and the parenthesis balance is checked so the anchoring cannot change its meaning.
 * The regexes of one load (@x) together stay within REGEX_CONFIG_COST_MAX.
 */
static const char *
regex_compile(struct ctx *x, const char *re, regex_t **out, char *buf, size_t len)
{
    regex_t plain;
    const char *why = regex_not_posix(re, buf, len);
    uint64_t cost = 0;
    regex_t *r;
    char *a;
    int rc;

    if (why == NULL) {
        why = regex_too_large(re, &cost, buf, len);
    }
    if (why == NULL && cost > REGEX_CONFIG_COST_MAX - x->regex_cost) {
        why = "too complex together with the regexes before it: compiling them all would take "
              "over about 500 MB";
    }
    if (why != NULL) {
        return why;
    }
    x->regex_cost += cost;
    rc = regcomp(&plain, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &plain, buf, len);
        regfree(&plain);
        return buf;
    }
    regfree(&plain);
    if (out == NULL) {
        return NULL;
    }
    a = xprintf("^(%s)$", re);
    r = malloc(sizeof(*r));
    if (a == NULL || r == NULL) {
        free(a);
        free(r);
        return "out of memory";
    }
    rc = regcomp(r, a, REG_EXTENDED);
    free(a);
    if (rc != 0) {
        regerror(rc, r, buf, len);
        regfree(r);
        free(r);
        return buf;
    }
    *out = r;
    return NULL;
}

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static int
param_cmp(const void *a, const void *b)
{
    return strcmp(((const struct config_param *)a)->name, ((const struct config_param *)b)->name);
}

static bool
set_labels(struct ctx *x, const struct field *f, void *p, const struct node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct label *l;
    size_t n = 0;
    bool ok = true;

    if (!expect_kind(x, v, NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    l = calloc(map_len(v) + 1, sizeof(*l));
    if (l == NULL) {
        oom(x);
        return false;
    }
    for (size_t i = 0; i < map_len(v); i++) {
        const struct node *k = map_key(v, i), *val = map_val(v, i);
        if (!is_label_name(k->str)) {
            cerr(x, k, "invalid label name \"%s\" in %s", k->str, f->key);
            ok = false;
            continue;
        }
        if (!(f->flags & CF_RESERVED_OK) && strncmp(k->str, "__", 2) == 0) {
            cerr(x, k, "label name \"%s\" in %s is reserved (names starting with __ are internal)",
                 k->str, f->key);
            ok = false;
            continue;
        }
        if (!node_is_null(val) && !expect_kind(x, val, NODE_SCALAR, "a string", k->str)) {
            ok = false;
            continue;
        }
        l[n].name = strdup(k->str);
        l[n].value = strdup(node_is_null(val) ? "" : val->str);
        n++;
        if (l[n - 1].name == NULL || l[n - 1].value == NULL) {
            oom(x);
            ok = false;
            break;
        }
    }
    if (!ok) {
        labels_free(l, n);
        return false;
    }
    qsort(l, n, sizeof(*l), label_cmp);
    labels_free(*(struct label **)p, *pn);
    *(struct label **)p = l;
    *pn = n;
    return true;
}

static bool
set_headers(struct ctx *x, const struct field *f, void *p, const struct node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct config_header *h;
    size_t n = 0;
    bool ok = true;

    if (!expect_kind(x, v, NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    h = calloc(map_len(v) + 1, sizeof(*h));
    if (h == NULL) {
        oom(x);
        return false;
    }
    for (size_t i = 0; i < map_len(v) && ok; i++) {
        const struct node *k = map_key(v, i), *val = map_val(v, i);
        if (!is_header_name(k->str)) {
            cerr(x, k, "invalid header name \"%s\" in %s", k->str, f->key);
            ok = false;
            break;
        }
        if (val->kind != NODE_SCALAR) {
            cerr(x, val, "expected a string for header \"%s\", got a %s", k->str,
                 node_kind_name(val));
            ok = false;
            break;
        }
        if (strcspn(val->str, "\r\n") != strlen(val->str) || strlen(val->str) != val->len) {
            cerr(x, val, "value of header \"%s\" must not contain CR, LF or NUL", k->str);
            ok = false;
            break;
        }
        h[n].name = strdup(k->str);
        h[n].value = strdup(node_is_null(val) ? "" : val->str);
        n++;
        if (h[n - 1].name == NULL || h[n - 1].value == NULL) {
            oom(x);
            ok = false;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            free(h[i].name);
            free(h[i].value);
        }
        free(h);
        return false;
    }
    for (size_t i = 0; i < *pn; i++) {
        free((*(struct config_header **)p)[i].name);
        free((*(struct config_header **)p)[i].value);
    }
    free(*(struct config_header **)p);
    *(struct config_header **)p = h;
    *pn = n;
    return true;
}

/* Sequences of scalars: FT_STRLIST, FT_REGEXES, FT_INTLIST. */
static bool
set_list(struct ctx *x, const struct field *f, void *p, const struct node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    char **sv = NULL;
    int *iv = NULL;
    size_t n = 0;
    bool ok = true;
    char buf[256];

    if (!expect_kind(x, v, NODE_SEQ, "a sequence", f->key)) {
        return false;
    }
    if (f->type == FT_INTLIST) {
        iv = calloc(v->n + 1, sizeof(*iv));
    }
    else {
        sv = calloc(v->n + 1, sizeof(*sv));
    }
    if (iv == NULL && sv == NULL) {
        oom(x);
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct node *it = v->kids[i];
        char what[PATH_MAX_TEXT];

        snprintf(what, sizeof(what), "%s[%zu]", f->key, i);
        if (!expect_kind(x, it, NODE_SCALAR, f->type == FT_INTLIST ? "an integer" : "a string",
                         what)) {
            ok = false;
            continue;
        }
        if (f->type == FT_INTLIST) {
            int64_t n64;
            int rc = parse_int(it->str, &n64);
            if (rc != 0) {
                cerr(x, it, "invalid integer \"%s\" in %s", it->str, f->key);
                ok = false;
            }
            else if (n64 < f->min || n64 > f->max) {
                cerr(x, it, "%s in %s is out of range (%lld..%lld)", it->str, f->key,
                     (long long)f->min, (long long)f->max);
                ok = false;
            }
            else {
                iv[n++] = (int)n64;
            }
            continue;
        }
        if ((f->flags & CF_NONEMPTY) && it->len == 0) {
            cerr(x, it, "empty string in %s", f->key);
            ok = false;
            continue;
        }
        if ((f->flags & CF_LABELNAME) && !is_label_name(it->str)) {
            cerr(x, it, "invalid label name \"%s\" in %s", it->str, f->key);
            ok = false;
            continue;
        }
        if (f->type == FT_REGEXES) {
            const char *why = regex_compile(x, it->str, NULL, buf, sizeof(buf));
            if (why != NULL) {
                cerr(x, it, "invalid regex \"%s\" in %s: %s", it->str, what, why);
                ok = false;
                continue;
            }
        }
        sv[n] = strdup(it->str);
        if (sv[n++] == NULL) {
            oom(x);
            ok = false;
        }
    }
    if (!ok) {
        free(iv);
        strv_free(sv, sv != NULL ? n : 0);
        return false;
    }
    if (f->type == FT_INTLIST) {
        free(*(int **)p);
        *(int **)p = iv;
    }
    else {
        strv_free(*(char ***)p, *pn);
        *(char ***)p = sv;
    }
    *pn = n;
    return true;
}

static bool
set_params(struct ctx *x, const struct field *f, void *p, const struct node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct config_param *pa;
    size_t n = 0;
    bool ok = true;

    if (!expect_kind(x, v, NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    pa = calloc(map_len(v) + 1, sizeof(*pa));
    if (pa == NULL) {
        oom(x);
        return false;
    }
    for (size_t i = 0; i < map_len(v) && ok; i++) {
        const struct node *k = map_key(v, i), *val = map_val(v, i);
        char what[PATH_MAX_TEXT];

        snprintf(what, sizeof(what), "%s.%s", f->key, k->str);
        if (k->len == 0) {
            cerr(x, k, "empty parameter name in %s", f->key);
            ok = false;
            break;
        }
        if (!expect_kind(x, val, NODE_SEQ, "a sequence", what)) {
            ok = false;
            break;
        }
        pa[n].name = strdup(k->str);
        pa[n].values = calloc(val->n + 1, sizeof(char *));
        n++;
        if (pa[n - 1].name == NULL || pa[n - 1].values == NULL) {
            oom(x);
            ok = false;
            break;
        }
        for (size_t j = 0; j < val->n; j++) {
            const struct node *it = val->kids[j];
            if (!expect_kind(x, it, NODE_SCALAR, "a string", what)) {
                ok = false;
                break;
            }
            pa[n - 1].values[j] = strdup(it->str);
            if (pa[n - 1].values[j] == NULL) {
                oom(x);
                ok = false;
                break;
            }
            pa[n - 1].nvalues++;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            free(pa[i].name);
            strv_free(pa[i].values, pa[i].nvalues);
        }
        free(pa);
        return false;
    }
    qsort(pa, n, sizeof(*pa), param_cmp);
    for (size_t i = 0; i < *pn; i++) {
        free((*(struct config_param **)p)[i].name);
        strv_free((*(struct config_param **)p)[i].values, (*(struct config_param **)p)[i].nvalues);
    }
    free(*(struct config_param **)p);
    *(struct config_param **)p = pa;
    *pn = n;
    return true;
}

static void map_section(struct ctx *x, const struct section *s, void *base, const struct node *map,
                        const char *path);

static void
path_join(char *buf, size_t len, const char *path, const char *key)
{
    snprintf(buf, len, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
}

static bool
set_list_of_sections(struct ctx *x, const struct field *f, void *base, const struct node *v,
                     const char *path)
{
    char **parr = (char **)((char *)base + f->off);
    size_t *pn = (size_t *)((char *)base + f->off_n);
    char lpath[PATH_MAX_TEXT];

    path_join(lpath, sizeof(lpath), path, f->key);
    if (!expect_kind(x, v, NODE_SEQ, "a sequence", lpath)) {
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        char ipath[PATH_MAX_TEXT + 24];
        char *arr = grow(*parr, *pn, f->sub->size);
        if (arr == NULL) {
            oom(x);
            return false;
        }
        *parr = arr;
        (*pn)++;
        snprintf(ipath, sizeof(ipath), "%s[%zu]", lpath, i);
        map_section(x, f->sub, arr + (*pn - 1) * f->sub->size, v->kids[i], ipath);
    }
    return true;
}

/* Maps the non-null value @v of field @f. Returns true when the field was set. */
static bool
set_field(struct ctx *x, const struct field *f, void *base, const struct node *v, const char *path)
{
    void *p = (char *)base + f->off;
    char sub[PATH_MAX_TEXT];

    switch (f->type) {
    case FT_STR:
    case FT_PATH:
    case FT_DURATION:
    case FT_SIZE:
    case FT_INT:
    case FT_BOOL:
    case FT_ENUM:
        if (!expect_kind(x, v, NODE_SCALAR, type_noun(f->type), f->key)) {
            return false;
        }
        return set_scalar(x, f, p, v->str, v);
    case FT_LABELS:
        return set_labels(x, f, p, v);
    case FT_HEADERS:
        return set_headers(x, f, p, v);
    case FT_STRLIST:
    case FT_INTLIST:
    case FT_REGEXES:
        return set_list(x, f, p, v);
    case FT_PARAMS:
        return set_params(x, f, p, v);
    case FT_SECTION:
        path_join(sub, sizeof(sub), path, f->key);
        map_section(x, f->sub, p, v, sub);
        return true;
    case FT_LIST:
        return set_list_of_sections(x, f, base, v, path);
    case FT_DEFER:
        return true;
    }
    return false;
}

/* Sets every field of @s that has a default (and unset durations to -1). */
static void
apply_defaults(struct ctx *x, const struct section *s, void *base)
{
    if (s->init != NULL) {
        s->init(base);
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const struct field *f = &s->fields[i];
        void *p = (char *)base + f->off;

        if (f->type == FT_DURATION && f->def == NULL) {
            *(int64_t *)p = -1;
        }
        else if (f->type == FT_SECTION && (f->flags & CF_DEFAULTS)) {
            apply_defaults(x, f->sub, p);
        }
        else if (f->def != NULL) {
            set_scalar(x, f, p, f->def, NULL);
        }
    }
}

static const struct field *
field_find(const struct section *s, const char *key)
{
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->fields[i].key, key) == 0) {
            return &s->fields[i];
        }
    }
    return NULL;
}

static bool
key_unsupported(const struct section *s, const char *key)
{
    if (s->unsupported == NULL) {
        return false;
    }
    for (const char *const *u = s->unsupported; *u != NULL; u++) {
        if (fnmatch(*u, key, 0) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Maps mapping @map onto @base with table @s: defaults first, then every key (CF_FIRST keys
 * before the others), then the required keys are checked and the section's check hook runs.
 */
static void
map_section(struct ctx *x, const struct section *s, void *base, const struct node *map,
            const char *path)
{
    char where[PATH_MAX_TEXT + 8];

    apply_defaults(x, s, base);
    if (map->kind != NODE_MAP) {
        cerr(x, map, "expected a mapping for %s, got a %s", path[0] != '\0' ? path : "the file",
             node_kind_name(map));
        return;
    }
    if (path[0] != '\0') {
        snprintf(where, sizeof(where), "in %s", path);
    }
    else {
        snprintf(where, sizeof(where), "at top level");
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < map_len(map); i++) {
            const struct node *k = map_key(map, i), *v = map_val(map, i);
            const struct field *f = field_find(s, k->str);

            if (pass == 0) {
                if (f != NULL && (f->flags & CF_FIRST) && !node_is_null(v)) {
                    set_field(x, f, base, v, path);
                }
                continue;
            }
            if (f == NULL) {
                if (key_unsupported(s, k->str)) {
                    cerr(x, k, "unsupported key \"%s\" %s (not supported by pollster yet)", k->str,
                         where);
                }
                else {
                    cerr(x, k, "unknown key \"%s\" %s", k->str, where);
                }
                continue;
            }
            if ((f->flags & CF_FIRST) || node_is_null(v)) {
                continue;
            }
            set_field(x, f, base, v, path);
        }
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const struct field *f = &s->fields[i];
        const struct node *v = map_get(map, f->key);
        if ((f->flags & CF_REQUIRED) && v == NULL) {
            cerr(x, map, "missing required key \"%s\" %s", f->key, where);
        }
    }
    if (s->check != NULL) {
        s->check(x, base, map, path);
    }
}

/* URLs and targets */

/*
 * A copy of @url with its userinfo (user:password@) replaced by "<secret>", for messages and
 * the summary. NULL when out of memory.
 */
static char *
url_redact(const char *url)
{
    const char *auth = strstr(url, "://");
    const char *end, *at = NULL;

    auth = auth != NULL ? auth + 3 : url; /* "user:pw@host" without a scheme too */
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at == NULL) {
        return strdup(url);
    }
    return xprintf("%.*s<secret>%s", (int)(auth - url), url, at);
}

/*
 * Checks @url with curl_url(): an http or https URL with a host. Returns NULL, or why not.
 * With @hostport, also returns "host[:port]" (malloc'ed) there.
 */
static const char *
url_check(const char *url, char **hostport)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    const char *why = NULL;
    CURLUcode uc;

    if (u == NULL) {
        return "out of memory";
    }
    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        why = curl_url_strerror(uc);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        why = "only http and https are allowed";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        why = "no host";
        goto out;
    }
    if (hostport != NULL) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
            *hostport = xprintf("%s:%s", host, port);
        }
        else {
            *hostport = strdup(host);
        }
        if (*hostport == NULL) {
            why = "out of memory";
        }
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return why;
}

static const char *
labels_get(const struct label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            return l[i].value;
        }
    }
    return NULL;
}

static bool
labels_equal(const struct label *a, size_t na, const struct label *b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].value, b[i].value) != 0) {
            return false;
        }
    }
    return true;
}

/*
 * Adds a target to @job: copies @url, @instance and those of @labels (sorted by name) that are
 * neither "__" labels, nor "instance", nor empty. A target identical to one already there is
 * dropped, as Prometheus does. 0 or -ENOMEM.
 */
static int
target_add(struct config_job *job, const char *url, const char *instance,
           const struct label *labels, size_t nlabels)
{
    struct config_target t = {0};
    struct config_target *arr;

    t.labels = calloc(nlabels + 1, sizeof(*t.labels));
    t.url = strdup(url);
    t.instance = strdup(instance);
    if (t.labels == NULL || t.url == NULL || t.instance == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (strncmp(labels[i].name, "__", 2) == 0 || strcmp(labels[i].name, "instance") == 0 ||
            labels[i].value[0] == '\0') {
            continue;
        }
        t.labels[t.nlabels].name = strdup(labels[i].name);
        t.labels[t.nlabels].value = strdup(labels[i].value);
        t.nlabels++;
        if (t.labels[t.nlabels - 1].name == NULL || t.labels[t.nlabels - 1].value == NULL) {
            goto fail;
        }
    }
    qsort(t.labels, t.nlabels, sizeof(*t.labels), label_cmp);
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct config_target *o = &job->targets[i];
        if (strcmp(o->url, t.url) == 0 && strcmp(o->instance, t.instance) == 0 &&
            labels_equal(o->labels, o->nlabels, t.labels, t.nlabels)) {
            target_release(&t);
            return 0;
        }
    }
    arr = grow(job->targets, job->ntargets, sizeof(*arr));
    if (arr == NULL) {
        goto fail;
    }
    job->targets = arr;
    job->targets[job->ntargets++] = t;
    return 0;
fail:
    target_release(&t);
    return -ENOMEM;
}

/* Percent-encodes @s: unreserved characters and those in @keep stay; with @plus, ' ' is '+'. */
static void
url_escape(struct strbuf *sb, const char *s, const char *keep, bool plus)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c) != NULL || (keep != NULL && strchr(keep, c) != NULL)) {
            strbuf_putc(sb, (char)c);
        }
        else if (plus && c == ' ') {
            strbuf_putc(sb, '+');
        }
        else {
            strbuf_printf(sb, "%%%02X", c);
        }
    }
}

static bool
address_valid(const char *a)
{
    if (*a == '\0') {
        return false;
    }
    for (; *a != '\0'; a++) {
        if ((unsigned char)*a <= ' ' || strchr("/?#@\\", *a) != NULL) {
            return false;
        }
    }
    return true;
}

/*
 * Resolves the targets of one target group of scrape job @job (as Prometheus does): each address
 * gets the group's labels, __address__, and the job's scheme, metrics_path and params unless the
 * group's __scheme__, __metrics_path__ or __param_<name> labels override them. @gnode is the
 * group's mapping (positions of the targets).
 */
static void
group_resolve(struct ctx *x, struct config_job *job, const struct sd_group *g,
              const struct node *gnode, const char *path)
{
    const struct node *tn = map_get(gnode, "targets");
    const struct config_scrape *sc = &job->scrape;
    const char *scheme = labels_get(g->labels, g->nlabels, "__scheme__");
    const char *mpath = labels_get(g->labels, g->nlabels, "__metrics_path__");
    const char *inst = labels_get(g->labels, g->nlabels, "instance");
    struct config_param *params = NULL;
    size_t nparams = 0;
    struct strbuf sb;

    if (scheme == NULL) {
        scheme = sc->scheme == CONFIG_SCHEME_HTTPS ? "https" : "http";
    }
    if (mpath == NULL) {
        mpath = sc->metrics_path;
    }
    if (tn == NULL || tn->kind != NODE_SEQ || tn->n != g->ntargets) {
        return; /* already reported */
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        cerr(x, gnode, "invalid __scheme__ \"%s\" in %s (expected http or https)", scheme, path);
        return;
    }
    if (mpath[0] != '/') {
        cerr(x, gnode, "invalid __metrics_path__ \"%s\" in %s (must start with /)", mpath, path);
        return;
    }
    /* the job's params, the first value of each replaced by a __param_<name> label */
    params = calloc(sc->nparams + g->nlabels + 1, sizeof(*params));
    if (params == NULL) {
        oom(x);
        return;
    }
    for (size_t i = 0; i < sc->nparams; i++) {
        params[nparams++] = sc->params[i]; /* shallow: values borrowed */
    }
    const char **firsts = calloc(sc->nparams + g->nlabels + 1, sizeof(*firsts));
    if (firsts == NULL) {
        free(params);
        oom(x);
        return;
    }
    for (size_t i = 0; i < g->nlabels; i++) {
        const char *name = g->labels[i].name;
        size_t j;
        if (strncmp(name, "__param_", 8) != 0 || name[8] == '\0') {
            continue;
        }
        for (j = 0; j < nparams; j++) {
            if (strcmp(params[j].name, name + 8) == 0) {
                break;
            }
        }
        if (j == nparams) {
            params[nparams].name = (char *)name + 8;
            params[nparams].values = NULL;
            params[nparams].nvalues = 0;
            nparams++;
        }
        firsts[j] = g->labels[i].value;
    }
    /* params and firsts move together: sort by index order of names */
    for (size_t i = 1; i < nparams; i++) {
        for (size_t j = i; j > 0 && strcmp(params[j - 1].name, params[j].name) > 0; j--) {
            struct config_param tp = params[j];
            const char *tf = firsts[j];
            params[j] = params[j - 1];
            firsts[j] = firsts[j - 1];
            params[j - 1] = tp;
            firsts[j - 1] = tf;
        }
    }
    strbuf_init(&sb);
    for (size_t i = 0; i < g->ntargets; i++) {
        const char *addr = g->targets[i];
        const struct node *at = tn->kids[i];
        const char *why;
        char sep = '?';

        if (!address_valid(addr)) {
            cerr(x, at, "invalid target address \"%s\" in %s (expected host:port)", addr, path);
            continue;
        }
        strbuf_reset(&sb);
        strbuf_printf(&sb, "%s://%s", scheme, addr);
        url_escape(&sb, mpath, "$&+,/:;=@", false);
        for (size_t p = 0; p < nparams; p++) {
            size_t nv = params[p].nvalues;
            if (nv == 0 && firsts[p] != NULL) {
                nv = 1; /* a __param_<name> label of a name the job does not have */
            }
            for (size_t v = 0; v < nv; v++) {
                const char *val = v == 0 && firsts[p] != NULL ? firsts[p] : params[p].values[v];
                strbuf_putc(&sb, sep);
                sep = '&';
                url_escape(&sb, params[p].name, NULL, true);
                strbuf_putc(&sb, '=');
                url_escape(&sb, val, NULL, true);
            }
        }
        if (sb.oom) {
            oom(x);
            break;
        }
        why = url_check(sb.data, NULL);
        if (why != NULL) {
            cerr(x, at, "invalid URL \"%s\" for target \"%s\" in %s: %s", sb.data, addr, path, why);
            continue;
        }
        if (target_add(job, sb.data, inst != NULL && inst[0] != '\0' ? inst : addr, g->labels,
                       g->nlabels) != 0) {
            oom(x);
            break;
        }
    }
    strbuf_release(&sb);
    free(firsts);
    free(params);
}

/* Maps target group @gnode (static_configs item or file_sd group) and resolves its targets. */
static void
group_load(struct ctx *x, struct config_job *job, const struct node *gnode, const char *path)
{
    struct sd_group g = {0};
    size_t before = x->nerr;

    map_section(x, &group_section, &g, gnode, path);
    if (x->nerr == before) {
        group_resolve(x, job, &g, gnode, path);
    }
    section_release(&group_section, &g);
}

/* Prometheus' rule for file_sd paths: a known extension, "*" only in the last element. */
static bool
sd_path_valid(const char *p)
{
    static const char *const exts[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
    const char *star = strchr(p, '*');
    size_t len = strlen(p);
    bool ext = false;

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(p + len - el, exts[i]) == 0) {
            ext = true;
        }
    }
    if (!ext) {
        return false;
    }
    return star == NULL || (strchr(star + 1, '*') == NULL && strchr(star, '/') == NULL);
}

/* Reads one file_sd file: a sequence of target groups, errors at the file's own positions. */
static void
sd_file_load(struct ctx *x, struct config_job *job, const char *file, const struct node *at)
{
    struct doc d = {0};
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(file, FILE_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        cerr(x, at, "cannot read file_sd file \"%s\": %s", file, strerror(-rc));
        return;
    }
    d.file = strdup(file);
    if (d.file == NULL) {
        free(buf);
        oom(x);
        return;
    }
    if (doc_parse(x, &d, buf, len) == 0 && d.root != NULL) {
        if (d.root->kind != NODE_SEQ) {
            cerr(x, d.root, "expected a sequence of target groups, got a %s",
                 node_kind_name(d.root));
        }
        else {
            for (size_t i = 0; i < d.root->n; i++) {
                char gpath[64];
                snprintf(gpath, sizeof(gpath), "target_groups[%zu]", i);
                group_load(x, job, d.root->kids[i], gpath);
            }
        }
    }
    doc_release(&d);
    free(buf);
}

static void
file_sd_load(struct ctx *x, struct config_job *job, const struct node *item, const char *path)
{
    struct sd_file sf = {0};
    size_t before = x->nerr;
    const struct node *fn;

    map_section(x, &sd_file_section, &sf, item, path);
    fn = map_get(item, "files");
    if (x->nerr != before || fn == NULL || fn->kind != NODE_SEQ || fn->n != sf.nfiles) {
        section_release(&sd_file_section, &sf);
        return;
    }
    if (sf.refresh_ms > 0 &&
        (job->scrape.file_sd_refresh_ms == 0 || sf.refresh_ms < job->scrape.file_sd_refresh_ms)) {
        job->scrape.file_sd_refresh_ms = sf.refresh_ms;
    }
    for (size_t i = 0; i < sf.nfiles; i++) {
        const struct node *at = fn->kids[i];
        glob_t gl;
        char *pattern;
        int rc;

        if (!sd_path_valid(sf.files[i])) {
            cerr(x, at,
                 "invalid file_sd path \"%s\": must end in .json, .yml or .yaml, with \"*\" only "
                 "in the last path element",
                 sf.files[i]);
            continue;
        }
        pattern = path_resolve(x, sf.files[i]);
        if (pattern == NULL) {
            oom(x);
            break;
        }
        char **g =
            realloc(job->scrape.file_sd_globs, (job->scrape.nfile_sd_globs + 1) * sizeof(*g));
        char *keep = strdup(pattern);
        if (g == NULL || keep == NULL) {
            free(keep);
            if (g != NULL) {
                job->scrape.file_sd_globs = g;
            }
            free(pattern);
            oom(x);
            break;
        }
        job->scrape.file_sd_globs = g;
        g[job->scrape.nfile_sd_globs++] = keep;
        rc = glob(pattern, 0, NULL, &gl);
        if (rc == 0) {
            for (size_t k = 0; k < gl.gl_pathc; k++) {
                sd_file_load(x, job, gl.gl_pathv[k], at);
            }
        }
        else if (rc == GLOB_NOSPACE) {
            oom(x);
        }
        else if (rc == GLOB_ABORTED) {
            cerr(x, at, "cannot read the directory of \"%s\"", pattern);
        }
        /* GLOB_NOMATCH: no file yet, no target yet (as Prometheus) */
        globfree(&gl);
        free(pattern);
    }
    section_release(&sd_file_section, &sf);
}

/* Secrets and the HTTP client */

static void
trim(char *s)
{
    size_t len = strlen(s), start = 0;

    while (len > 0 && isspace((unsigned char)s[len - 1])) {
        s[--len] = '\0';
    }
    while (isspace((unsigned char)s[start])) {
        start++;
    }
    memmove(s, s + start, len - start + 1);
}

/* Reads secret file @file (the value of @key at @at) into *@out. Never shows the content. */
static void
secret_read(struct ctx *x, const char *key, const char *file, const struct node *at, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(file, SECRET_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        cerr(x, at, "cannot read %s \"%s\": %s", key, file,
             rc == -EFBIG ? "file too large" : strerror(-rc));
        return;
    }
    if (strlen(buf) != len) {
        cerr(x, at, "%s \"%s\" contains a NUL byte", key, file);
        free(buf);
        return;
    }
    trim(buf);
    free(*out);
    *out = buf;
}

static void
file_check(struct ctx *x, const char *key, const char *file, const struct node *at)
{
    if (file != NULL && at != NULL && access(file, R_OK) != 0) {
        cerr(x, at, "cannot read %s \"%s\": %s", key, file, strerror(errno));
    }
}

/*
 * Resolves the HTTP client settings of the section @map (a job or an http output): the rules
 * between basic_auth, authorization and the legacy bearer_token*, the secret files, the TLS
 * files.
 */
static void
http_resolve(struct ctx *x, struct config_http *h, const struct node *map)
{
    const struct node *ba = map_get(map, "basic_auth");
    const struct node *au = map_get(map, "authorization");
    const struct node *bt = map_get(map, "bearer_token");
    const struct node *btf = map_get(map, "bearer_token_file");
    const struct node *tls = map_get(map, "tls_config");

    if (ba != NULL && ba->kind == NODE_MAP) {
        const struct node *pw = map_get(ba, "password"), *pwf = map_get(ba, "password_file");
        if (pw != NULL && pwf != NULL) {
            cerr(x, pwf, "at most one of basic_auth password and password_file may be set");
        }
        else if (pwf != NULL && h->basic_auth.password_file != NULL) {
            secret_read(x, "password_file", h->basic_auth.password_file, pwf,
                        &h->basic_auth.password);
        }
        if (h->basic_auth.username == NULL && (h->basic_auth.username = strdup("")) == NULL) {
            oom(x);
        }
    }
    if (bt != NULL && btf != NULL) {
        cerr(x, btf, "at most one of bearer_token and bearer_token_file may be set");
    }
    else if ((bt != NULL || btf != NULL) && au != NULL) {
        cerr(x, bt != NULL ? bt : btf,
             "bearer_token and bearer_token_file cannot be combined with authorization");
    }
    else if (bt != NULL || btf != NULL) {
        free(h->authorization.type);
        h->authorization.type = strdup("Bearer");
        if (h->authorization.type == NULL) {
            oom(x);
        }
        if (btf != NULL && h->authorization.credentials_file != NULL) {
            secret_read(x, "bearer_token_file", h->authorization.credentials_file, btf,
                        &h->authorization.credentials);
        }
    }
    if (au != NULL && au->kind == NODE_MAP) {
        const struct node *cr = map_get(au, "credentials"), *crf = map_get(au, "credentials_file");
        const struct node *n = map_get(au, "type");
        if (n != NULL && h->authorization.type != NULL &&
            strcasecmp(h->authorization.type, "basic") == 0) {
            cerr(x, n, "authorization type cannot be \"%s\": use basic_auth",
                 h->authorization.type);
        }
        if (cr != NULL && crf != NULL) {
            cerr(x, crf,
                 "at most one of authorization credentials and credentials_file may be set");
        }
        else if (cr == NULL && crf == NULL) {
            cerr(x, au, "authorization requires credentials or credentials_file");
        }
        else if (crf != NULL && h->authorization.credentials_file != NULL) {
            secret_read(x, "credentials_file", h->authorization.credentials_file, crf,
                        &h->authorization.credentials);
        }
    }
    if (ba != NULL && (au != NULL || bt != NULL || btf != NULL)) {
        const char *other = au != NULL   ? "authorization"
                            : bt != NULL ? "bearer_token"
                                         : "bearer_token_file";
        cerr(x, map_get_key(map, other), "at most one of basic_auth and %s may be set", other);
    }
    if (tls != NULL && tls->kind == NODE_MAP) {
        file_check(x, "ca_file", h->tls.ca_file, map_get(tls, "ca_file"));
        file_check(x, "cert_file", h->tls.cert_file, map_get(tls, "cert_file"));
        file_check(x, "key_file", h->tls.key_file, map_get(tls, "key_file"));
        if ((h->tls.cert_file == NULL) != (h->tls.key_file == NULL)) {
            cerr(x, tls, "tls_config needs both cert_file and key_file, or neither");
        }
    }
}

/* Job checks */

static const char *
job_name_key(enum config_job_kind k)
{
    return k == CONFIG_JOB_PROMETHEUS ? "job_name" : "name";
}

/* Interval and timeout: Prometheus' defaults and rules, with @ikey / @tkey as the keys. */
static void
schedule_resolve(struct ctx *x, struct config_job *job, const struct node *map, const char *ikey,
                 const char *tkey)
{
    const struct config_global *g = &x->cfg->global;
    const struct node *iv = map_get(map, ikey), *tv = map_get(map, tkey);
    char b1[32], b2[32];

    if (job->interval_ms < 0) {
        job->interval_ms = g->scrape_interval_ms;
    }
    else if (job->interval_ms == 0) {
        cerr(x, iv, "%s must be greater than 0", ikey);
        job->interval_ms = g->scrape_interval_ms;
    }
    if (job->timeout_ms < 0) {
        job->timeout_ms =
            g->scrape_timeout_ms < job->interval_ms ? g->scrape_timeout_ms : job->interval_ms;
    }
    else if (job->timeout_ms == 0) {
        cerr(x, tv, "%s must be greater than 0", tkey);
    }
    else if (job->timeout_ms > job->interval_ms) {
        cerr(x, tv, "%s (%s) must not exceed %s (%s) for job \"%s\"", tkey,
             fmt_ms(job->timeout_ms, b1, sizeof(b1)), ikey,
             fmt_ms(job->interval_ms, b2, sizeof(b2)), job->name != NULL ? job->name : "");
    }
}

/* Adds the target of a probe or json URL (the scalar @un). */
static void
url_target(struct ctx *x, struct config_job *job, const struct node *un, const char *path)
{
    const char *inst = labels_get(job->labels, job->nlabels, "instance");
    char *hostport = NULL, *red = NULL;
    const char *why;

    if (!expect_kind(x, un, NODE_SCALAR, "a string", "url")) {
        return;
    }
    why = url_check(un->str, job->kind == CONFIG_JOB_JSON ? &hostport : NULL);
    red = url_redact(un->str);
    if (red == NULL) {
        free(hostport);
        oom(x);
        return;
    }
    if (why != NULL) {
        cerr(x, un, "invalid URL \"%s\" in %s: %s", red, path, why);
    }
    else if (target_add(job, un->str,
                        inst != NULL && inst[0] != '\0' ? inst
                        : hostport != NULL              ? hostport
                                                        : red,
                        job->labels, job->nlabels) != 0) {
        oom(x);
    }
    free(hostport);
    free(red);
}

static void
job_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_job *job = base;
    const char *key = job_name_key(job->kind);
    const struct node *nn = map_get(map, key), *n;
    char sub[PATH_MAX_TEXT + 40];

    if (nn != NULL && job->name != NULL) {
        job->line = nn->line;
        for (size_t i = 0; i + 1 < x->cfg->njobs; i++) {
            const struct config_job *o = &x->cfg->jobs[i];
            if (o != job && o->name != NULL && strcmp(o->name, job->name) == 0) {
                cerr(x, nn, "duplicate %s \"%s\" (first defined at line %d)", key, job->name,
                     o->line);
                break;
            }
        }
    }
    if (job->kind == CONFIG_JOB_PROMETHEUS) {
        schedule_resolve(x, job, map, "scrape_interval", "scrape_timeout");
    }
    else {
        schedule_resolve(x, job, map, "interval", "timeout");
    }
    if (job->body_size_limit == 0) {
        job->body_size_limit = CONFIG_DEFAULT_BODY_SIZE_LIMIT;
    }
    http_resolve(x, &job->http, map);
    switch (job->kind) {
    case CONFIG_JOB_PROMETHEUS:
        n = map_get(map, "metrics_path");
        if (n != NULL && job->scrape.metrics_path != NULL && job->scrape.metrics_path[0] != '/') {
            cerr(x, n, "metrics_path \"%s\" must start with /", job->scrape.metrics_path);
            break;
        }
        n = map_get(map, "static_configs");
        if (n != NULL && expect_kind(x, n, NODE_SEQ, "a sequence", "static_configs")) {
            for (size_t i = 0; i < n->n; i++) {
                snprintf(sub, sizeof(sub), "%s.static_configs[%zu]", path, i);
                group_load(x, job, n->kids[i], sub);
            }
        }
        n = map_get(map, "file_sd_configs");
        if (n != NULL && expect_kind(x, n, NODE_SEQ, "a sequence", "file_sd_configs")) {
            for (size_t i = 0; i < n->n; i++) {
                snprintf(sub, sizeof(sub), "%s.file_sd_configs[%zu]", path, i);
                file_sd_load(x, job, n->kids[i], sub);
            }
        }
        break;
    case CONFIG_JOB_PROBE:
        n = map_get(map, "urls");
        if (n != NULL && expect_kind(x, n, NODE_SEQ, "a sequence", "urls")) {
            if (n->n == 0) {
                cerr(x, n, "urls must not be empty in %s", path);
            }
            for (size_t i = 0; i < n->n; i++) {
                url_target(x, job, n->kids[i], path);
            }
        }
        break;
    case CONFIG_JOB_JSON:
        n = map_get(map, "url");
        if (n != NULL) {
            url_target(x, job, n, path);
        }
        n = map_get(map, "metrics");
        if (n != NULL && n->kind == NODE_SEQ && n->n == 0) {
            cerr(x, n, "metrics must not be empty in %s", path);
        }
        break;
    }
}

static void
relabel_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_relabel *r = base;
    const struct node *rn = map_get(map, "regex"), *tl = map_get(map, "target_label");
    const struct node *an = map_get(map, "action");
    const char *action = choice_name(action_choices, (int)r->action);
    char buf[256];

    if (r->regex != NULL) {
        const char *why = regex_compile(x, r->regex, &r->re, buf, sizeof(buf));
        if (why != NULL) {
            cerr(x, rn != NULL ? rn : map, "invalid regex \"%s\" in %s: %s", r->regex, path, why);
        }
    }
    if (an != NULL && (an->kind != NODE_SCALAR || strcasecmp(an->str, action) != 0)) {
        return; /* a bad action, already reported */
    }
    switch (r->action) {
    case CONFIG_RELABEL_REPLACE:
        if (r->target_label == NULL) {
            cerr(x, map, "relabel action replace requires target_label in %s", path);
        }
        else if (strchr(r->target_label, '$') == NULL && !is_label_name(r->target_label)) {
            cerr(x, tl, "invalid target_label \"%s\" in %s", r->target_label, path);
        }
        break;
    case CONFIG_RELABEL_LABELDROP:
    case CONFIG_RELABEL_LABELKEEP: {
        static const char *const others[] = {"source_labels", "separator", "target_label",
                                             "replacement", "modulus"};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
            const struct node *k = map_get_key(map, others[i]);
            if (k != NULL && map_get(map, others[i]) != NULL) {
                cerr(x, k, "relabel action %s takes only regex, not %s, in %s", action, others[i],
                     path);
            }
        }
        break;
    }
    default:
        break;
    }
}

static void
metric_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_json_metric *m = base;
    const struct node *n = map_get(map, "name");

    if (m->name != NULL && n != NULL && m->name[0] != '\0' && !is_metric_name(m->name)) {
        cerr(x, n, "invalid metric name \"%s\" in %s", m->name, path);
        return;
    }
    if (m->name == NULL || m->path == NULL || m->path[0] == '\0') {
        return; /* reported as missing or empty */
    }
    /* The json job kind owns the path grammar: its check gives the precise message. */
    struct job_json_metric_opts opts = {
        .name = m->name,
        .path = m->path,
        .type = m->type,
        .labels = m->labels,
        .nlabels = m->nlabels,
        .label = m->label,
        .required = m->required,
    };
    char why[256];
    if (job_json_metric_check(&opts, why, sizeof(why)) != 0) {
        const struct node *pn = map_get(map, "path");
        cerr(x, pn != NULL ? pn : n, "%s in %s", why, path);
    }
}

static void
output_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_output *o = base;
    const char *tname = config_output_type_name(o->type);
    const struct node *n;
    char b1[32], b2[32];
    size_t self = (size_t)(o - x->cfg->outputs);

    if (map_get(map, "type") == NULL) {
        return; /* reported as missing */
    }
    for (size_t i = 0; i < map_len(map); i++) {
        const struct node *k = map_key(map, i);
        const struct field *f = field_find(&output_section, k->str);
        if (f != NULL && f->only != 0 && !(f->only & (1u << o->type)) &&
            !node_is_null(map_val(map, i))) {
            cerr(x, k, "key \"%s\" does not apply to output type %s in %s", k->str, tname, path);
        }
    }
    switch (o->type) {
    case CONFIG_OUTPUT_FILE:
        if (map_get(map, "path") == NULL) {
            cerr(x, map, "missing required key \"path\" for output type file in %s", path);
        }
        break;
    case CONFIG_OUTPUT_HTTP:
        n = map_get(map, "url");
        if (n == NULL) {
            cerr(x, map, "missing required key \"url\" for output type http in %s", path);
        }
        else if (o->url != NULL) {
            const char *why = url_check(o->url, NULL);
            if (why != NULL) {
                char *red = url_redact(o->url);
                cerr(x, n, "invalid URL \"%s\" in %s: %s", red != NULL ? red : "", path, why);
                free(red);
            }
        }
        http_resolve(x, &o->http, map);
        if (o->timeout_ms == 0) {
            cerr(x, map_get(map, "timeout"), "timeout must be greater than 0");
        }
        if (o->batch_max_bytes == 0) {
            cerr(x, map_get(map, "batch_max_bytes"), "batch_max_bytes must be greater than 0");
        }
        else if (o->queue_max_bytes < o->batch_max_bytes) {
            n = map_get(map, "queue_max_bytes");
            cerr(x, n != NULL ? n : map, "queue_max_bytes must be at least batch_max_bytes in %s",
                 path);
        }
        if (o->retry_initial_ms == 0) {
            cerr(x, map_get(map, "retry_initial"), "retry_initial must be greater than 0");
        }
        else if (o->retry_max_ms < o->retry_initial_ms) {
            n = map_get(map, "retry_max");
            cerr(x, n != NULL ? n : map_get(map, "retry_initial"),
                 "retry_max (%s) must not be less than retry_initial (%s) in %s",
                 fmt_ms(o->retry_max_ms, b1, sizeof(b1)),
                 fmt_ms(o->retry_initial_ms, b2, sizeof(b2)), path);
        }
        break;
    default:
        break;
    }
    if (o->flush_interval_ms == 0) {
        cerr(x, map_get(map, "flush_interval"), "flush_interval must be greater than 0");
    }
    /* two outputs must not share a file or a spool */
    for (size_t i = 0; i < self; i++) {
        const struct config_output *p = &x->cfg->outputs[i];
        if (o->type == CONFIG_OUTPUT_FILE && p->type == CONFIG_OUTPUT_FILE && o->path != NULL &&
            p->path != NULL && strcmp(o->path, p->path) == 0) {
            cerr(x, map_get(map, "path"), "path \"%s\" is already used by outputs[%zu]", o->path,
                 i);
        }
        if (o->spool_dir != NULL && p->spool_dir != NULL &&
            strcmp(o->spool_dir, p->spool_dir) == 0) {
            cerr(x, map_get(map, "spool_dir"), "spool_dir \"%s\" is already used by outputs[%zu]",
                 o->spool_dir, i);
        }
    }
}

static void
global_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_global *g = base;
    const struct node *iv = map_get(map, "scrape_interval"), *tv = map_get(map, "scrape_timeout");
    char b1[32], b2[32];
    int64_t def;

    if (g->scrape_interval_ms == 0) {
        cerr(x, iv, "scrape_interval must be greater than 0");
        units_parse_duration(CONFIG_DEFAULT_SCRAPE_INTERVAL, &g->scrape_interval_ms);
    }
    if (tv == NULL || tv->kind != NODE_SCALAR || units_parse_duration(tv->str, &def) != 0) {
        /* unset (or invalid, already reported): the default, capped to the interval */
        units_parse_duration(CONFIG_DEFAULT_SCRAPE_TIMEOUT, &def);
        g->scrape_timeout_ms = def < g->scrape_interval_ms ? def : g->scrape_interval_ms;
    }
    else if (g->scrape_timeout_ms == 0) {
        cerr(x, tv, "scrape_timeout must be greater than 0");
    }
    else if (g->scrape_timeout_ms > g->scrape_interval_ms) {
        cerr(x, tv, "scrape_timeout (%s) must not exceed scrape_interval (%s) in global",
             fmt_ms(g->scrape_timeout_ms, b1, sizeof(b1)),
             fmt_ms(g->scrape_interval_ms, b2, sizeof(b2)));
    }
}

static void
status_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config_status *s = base;
    const struct node *n = map_get(map, "listen");
    char host[256], err[512];
    unsigned port;

    if (n != NULL && s->listen != NULL &&
        status_parse_listen(s->listen, host, sizeof(host), &port, err, sizeof(err)) != 0) {
        cerr(x, n, "%s", err);
    }
}

static void
top_check(struct ctx *x, void *base, const struct node *map, const char *path)
{
    struct config *c = base;
    const struct node *n = map_get(map, "outputs");

    if (n == NULL) {
        struct config_output *o = grow(NULL, 0, sizeof(*o));
        if (o == NULL) {
            oom(x);
            return;
        }
        c->outputs = o;
        c->noutputs = 1;
        apply_defaults(x, &output_section, o);
        o->type = CONFIG_OUTPUT_STDOUT;
    }
    else if (n->kind == NODE_SEQ && n->n == 0) {
        cerr(x, n, "outputs must not be empty (leave it out for one stdout output)");
    }
}

/* Loading */

static struct config *
load_buffer(const char *name, const char *buf, size_t len, struct config_errors *errs)
{
    struct config_errors local;
    struct ctx x = {0};
    struct doc d = {0};
    struct config *c;
    const char *slash = strrchr(name, '/');
    size_t first_error;

    config_errors_init(&local);
    x.errs = errs != NULL ? errs : &local;
    first_error = x.errs->n;
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->path = strdup(name)) == NULL || (d.file = strdup(name)) == NULL) {
        config_errors_add(x.errs, name, 0, 0, "out of memory");
        free(d.file);
        config_free(c);
        config_errors_release(&local);
        return NULL;
    }
    x.cfg = c;
    if (slash != NULL) {
        x.dir = slash == name ? strdup("/") : strndup(name, (size_t)(slash - name));
        if (x.dir == NULL) {
            oom(&x);
        }
    }
    if (!x.oom && doc_parse(&x, &d, buf, len) == 0) {
        static const struct node empty = {.kind = NODE_MAP, .line = 1, .col = 1};
        struct node root = empty;
        root.file = d.file;
        map_section(&x, &top_section, c, d.root != NULL ? d.root : &root, "");
    }
    doc_release(&d);
    free(x.dir);
    errors_sort(x.errs, first_error);
    config_errors_release(&local);
    if (x.nerr > 0) {
        config_free(c);
        return NULL;
    }
    return c;
}

/* load_buffer(), keeping a copy of the text in the config (what a file_sd refresh re-parses). */
static struct config *
load_keep(const char *name, const char *yaml, size_t len, struct config_errors *errs)
{
    struct config *c = load_buffer(name, yaml, len, errs);

    if (c != NULL) {
        c->source = malloc(len + 1);
        if (c->source == NULL) {
            config_errors_add(errs, name, 0, 0, "out of memory");
            config_free(c);
            return NULL;
        }
        memcpy(c->source, yaml, len);
        c->source[len] = '\0';
        c->source_len = len;
    }
    return c;
}

struct config *
config_load_string(const char *name, const char *yaml, size_t len, struct config_errors *errs)
{
    return load_keep(name, yaml, len, errs);
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
    struct config *c;
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, FILE_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        config_errors_add(errs, path, 0, 0, "cannot read config file: %s",
                          rc == -EFBIG ? "file too large" : strerror(-rc));
        return NULL;
    }
    c = load_keep(path, buf, len, errs);
    free(buf);
    return c;
}

/* Queries and printing */

size_t
config_target_count(const struct config *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->njobs; i++) {
        n += c->jobs[i].ntargets;
    }
    return n;
}

const char *
config_job_kind_name(enum config_job_kind k)
{
    switch (k) {
    case CONFIG_JOB_PROBE:
        return "probe";
    case CONFIG_JOB_JSON:
        return "json";
    default:
        return "prometheus";
    }
}

const char *
config_format_name(enum config_format f)
{
    return choice_name(format_choices, (int)f);
}

const char *
config_output_type_name(enum config_output_type t)
{
    return choice_name(output_type_choices, (int)t);
}

static void
summary_url(FILE *f, const char *prefix, const char *url)
{
    char *red = url_redact(url);

    fprintf(f, "%s%s\n", prefix, red != NULL ? red : "<out of memory>");
    free(red);
}

void
config_summary(FILE *f, const struct config *c)
{
    size_t ntargets = config_target_count(c);
    char b1[32], b2[32];

    fprintf(f, "%s: %zu job%s, %zu target%s, %zu output%s\n", c->path, c->njobs,
            c->njobs == 1 ? "" : "s", ntargets, ntargets == 1 ? "" : "s", c->noutputs,
            c->noutputs == 1 ? "" : "s");
    for (size_t i = 0; i < c->njobs; i++) {
        const struct config_job *j = &c->jobs[i];
        fprintf(f, "job %s (%s): interval %s, timeout %s, %zu target%s", j->name,
                config_job_kind_name(j->kind), fmt_ms(j->interval_ms, b1, sizeof(b1)),
                fmt_ms(j->timeout_ms, b2, sizeof(b2)), j->ntargets, j->ntargets == 1 ? "" : "s");
        if (j->http.basic_auth.username != NULL) {
            fprintf(f, ", basic auth");
        }
        if (j->http.authorization.type != NULL) {
            fprintf(f, ", %s auth", j->http.authorization.type);
        }
        if (j->http.tls.insecure_skip_verify) {
            fprintf(f, ", TLS verification off");
        }
        fprintf(f, "\n");
        for (size_t t = 0; t < j->ntargets && t < SUMMARY_MAX_URLS; t++) {
            summary_url(f, "  ", j->targets[t].url);
        }
        if (j->ntargets > SUMMARY_MAX_URLS) {
            fprintf(f, "  ... and %zu more\n", j->ntargets - SUMMARY_MAX_URLS);
        }
    }
    for (size_t i = 0; i < c->noutputs; i++) {
        const struct config_output *o = &c->outputs[i];
        fprintf(f, "output %s (%s)", config_output_type_name(o->type),
                config_format_name(o->format));
        switch (o->type) {
        case CONFIG_OUTPUT_FILE:
            fprintf(f, ": %s\n", o->path);
            break;
        case CONFIG_OUTPUT_HTTP:
            summary_url(f, ": ", o->url);
            if (o->spool_dir != NULL) {
                fprintf(f, "  spool %s\n", o->spool_dir);
            }
            break;
        default:
            fprintf(f, "\n");
            break;
        }
    }
    fprintf(f, "status listen %s\n", c->status.listen);
}

static const char *
type_word(const struct field *f)
{
    switch (f->type) {
    case FT_STR:
        return f->flags & CF_SECRET ? "secret" : "string";
    case FT_PATH:
        return "path";
    case FT_DURATION:
        return "duration";
    case FT_SIZE:
        return "size";
    case FT_INT:
        return "integer";
    case FT_BOOL:
        return "boolean";
    case FT_ENUM:
        return "enum";
    case FT_LABELS:
        return "labels";
    case FT_HEADERS:
        return "headers";
    case FT_STRLIST:
        return "strings";
    case FT_INTLIST:
        return "integers";
    case FT_REGEXES:
        return "regexes";
    case FT_PARAMS:
        return "params";
    case FT_SECTION:
        return "section";
    case FT_LIST:
        return "list";
    default:
        return "list";
    }
}

static void
reference_section(FILE *f, const struct section *s, int indent)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct field *fl = &s->fields[i];
        fprintf(f, "%*s%-*s %-9s %-9s %s%s\n", indent, "", 32 - indent, fl->key, type_word(fl),
                fl->def != NULL ? fl->def : "-", fl->flags & CF_REQUIRED ? "(required) " : "",
                fl->desc);
        if (fl->type == FT_SECTION || fl->type == FT_LIST) {
            reference_section(f, fl->sub, indent + 2);
        }
        else if (fl->type == FT_DEFER && strcmp(fl->key, "static_configs") == 0) {
            reference_section(f, &group_section, indent + 2);
        }
        else if (fl->type == FT_DEFER && strcmp(fl->key, "file_sd_configs") == 0) {
            reference_section(f, &sd_file_section, indent + 2);
        }
    }
    if (s->unsupported != NULL) {
        fprintf(f, "%*snot supported yet:", indent, "");
        for (const char *const *u = s->unsupported; *u != NULL; u++) {
            fprintf(f, " %s", *u);
        }
        fprintf(f, "\n");
    }
}

void
config_reference(FILE *f)
{
    fprintf(f, "%-32s %-9s %-9s %s\n", "key", "type", "default", "description");
    reference_section(f, &top_section, 0);
}
