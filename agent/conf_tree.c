/*
 * The config file as a tree of positioned nodes (see conf_tree.h). Blocking file I/O: start-up
 * and reload only, never on the loop.
 */
#include "build-config.h"

#include "conf_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"
#include "strbuf.h"

#define NODE_WEIGHT_MAX 10000000u /* nodes in a document after alias expansion */

struct conf_anchor {
    char *name;
    struct conf_node *node;
};

struct frame {
    struct conf_node *node;
    char *anchor; /* owned */
};

const char *
conf_tree_kind_name(const struct conf_node *n)
{
    switch (n->kind) {
    case CONF_NODE_SEQ:
        return "sequence";
    case CONF_NODE_MAP:
        return "mapping";
    default:
        return "scalar";
    }
}

bool
conf_tree_is_null(const struct conf_node *n)
{
    if (n == NULL) {
        return true;
    }
    if (n->kind != CONF_NODE_SCALAR || !n->plain) {
        return false;
    }
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

size_t
conf_tree_len(const struct conf_node *m)
{
    return m->n / 2;
}

const struct conf_node *
conf_tree_key(const struct conf_node *m, size_t i)
{
    return m->kids[2 * i];
}

const struct conf_node *
conf_tree_val(const struct conf_node *m, size_t i)
{
    return m->kids[2 * i + 1];
}

/* The value of @key in mapping @m, or NULL when absent or null. */
const struct conf_node *
conf_tree_get(const struct conf_node *m, const char *key)
{
    if (m == NULL || m->kind != CONF_NODE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < conf_tree_len(m); i++) {
        if (strcmp(conf_tree_key(m, i)->str, key) == 0) {
            const struct conf_node *v = conf_tree_val(m, i);
            return conf_tree_is_null(v) ? NULL : v;
        }
    }
    return NULL;
}

/* The key node of @key in mapping @m (for positions), or NULL. */
const struct conf_node *
conf_tree_get_key(const struct conf_node *m, const char *key)
{
    if (m == NULL || m->kind != CONF_NODE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < conf_tree_len(m); i++) {
        if (strcmp(conf_tree_key(m, i)->str, key) == 0) {
            return conf_tree_key(m, i);
        }
    }
    return NULL;
}

static struct conf_node *
node_new(struct conf_doc *d, enum conf_node_kind kind, const yaml_mark_t *mark)
{
    struct conf_node *n = calloc(1, sizeof(*n));

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
node_append(struct conf_node *parent, struct conf_node *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap == 0 ? 8 : parent->cap * 2;
        struct conf_node **k = realloc(parent->kids, cap * sizeof(*k));
        if (k == NULL) {
            return -ENOMEM;
        }
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

void
conf_tree_release(struct conf_doc *d)
{
    struct conf_node *n = d->all;

    while (n != NULL) {
        struct conf_node *next = n->all_next;
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
anchor_add(struct conf_doc *d, const char *name, struct conf_node *n)
{
    struct conf_anchor *a = conf_grow(d->anchors, d->nanchors, sizeof(*a));
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
static struct conf_node *
anchor_find(const struct conf_doc *d, const char *name)
{
    for (size_t i = d->nanchors; i > 0; i--) {
        if (strcmp(d->anchors[i - 1].name, name) == 0) {
            return d->anchors[i - 1].node;
        }
    }
    return NULL;
}

static const struct conf_node *
pairs_find(struct conf_node **kids, size_t n, const char *key)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (strcmp(kids[i]->str, key) == 0) {
            return kids[i];
        }
    }
    return NULL;
}

static int
pairs_add(struct conf_node ***kids, size_t *n, size_t *cap, struct conf_node *k,
          struct conf_node *v)
{
    if (*n + 2 > *cap) {
        size_t c = *cap == 0 ? 8 : *cap * 2;
        struct conf_node **p = realloc(*kids, c * sizeof(*p));
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
map_finish(struct conf_ctx *x, struct conf_node *m)
{
    struct conf_node **kids = NULL;
    size_t n = 0, cap = 0;
    struct conf_node *merges[64];
    size_t nmerges = 0;

    for (size_t i = 0; i + 1 < m->n; i += 2) {
        struct conf_node *k = m->kids[i], *v = m->kids[i + 1];
        const struct conf_node *first;

        if (k->kind != CONF_NODE_SCALAR) {
            conf_err(x, k, "mapping keys must be scalars, got a %s", conf_tree_kind_name(k));
            continue;
        }
        if (k->plain && strcmp(k->str, "<<") == 0) {
            if (nmerges < sizeof(merges) / sizeof(merges[0])) {
                merges[nmerges++] = v;
            }
            else {
                conf_err(x, k, "too many merge keys");
            }
            continue;
        }
        first = pairs_find(kids, n, k->str);
        if (first != NULL) {
            conf_err(x, k, "duplicate key \"%s\" (first at line %d, column %d)", k->str,
                     first->line, first->col);
            continue;
        }
        if (pairs_add(&kids, &n, &cap, k, v) != 0) {
            free(kids);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < nmerges; i++) {
        struct conf_node *src = merges[i];
        struct conf_node *one[1] = {src};
        struct conf_node **srcs = one;
        size_t nsrcs = 1;

        if (src->kind == CONF_NODE_SEQ) {
            srcs = src->kids;
            nsrcs = src->n;
        }
        for (size_t j = 0; j < nsrcs; j++) {
            if (srcs[j]->kind != CONF_NODE_MAP) {
                conf_err(x, srcs[j],
                         "merge key \"<<\" expects a mapping or a sequence of mappings");
                continue;
            }
            for (size_t p = 0; p < conf_tree_len(srcs[j]); p++) {
                struct conf_node *k = srcs[j]->kids[2 * p], *v = srcs[j]->kids[2 * p + 1];
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
weigh(struct conf_node *n)
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
tree_yaml_error(struct conf_ctx *x, const struct conf_doc *d, const yaml_parser_t *p,
                const char *buf, size_t len)
{
    const char *problem = p->problem != NULL ? p->problem : "unknown error";
    int line, col;

    if (p->error == YAML_MEMORY_ERROR) {
        conf_oom(x);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(buf, len, p->problem_offset, &line, &col);
        conf_err_at(x, d->file, line, col, "%s", problem);
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context != NULL) {
        conf_err_at(x, d->file, line, col, "%s (%s at line %zu, column %zu)", problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
    }
    else {
        conf_err_at(x, d->file, line, col, "%s", problem);
    }
}

/*
 * Parses @len bytes of @buf (named d->file) into d->root. Returns 0, or -EINVAL / -ENOMEM after
 * reporting. A tree is always left in @d for conf_tree_release, even after an error.
 */
int
conf_tree_parse(struct conf_ctx *x, struct conf_doc *d, const char *buf, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct frame *stack = NULL;
    size_t depth = 0;
    int ndocs = 0, rc = 0;
    bool done = false;

    if (!yaml_parser_initialize(&p)) {
        conf_oom(x);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done) {
        struct conf_node *n = NULL;
        char *anchor = NULL;

        if (!yaml_parser_parse(&p, &ev)) {
            tree_yaml_error(x, d, &p, buf, len);
            rc = -EINVAL;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                conf_err_at(x, d->file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                            "only one YAML document is allowed");
                rc = -EINVAL;
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = node_new(d, CONF_NODE_SCALAR, &ev.start_mark);
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
            struct frame *s = conf_grow(stack, depth, sizeof(*s));
            const yaml_char_t *a = ev.type == YAML_SEQUENCE_START_EVENT
                                       ? ev.data.sequence_start.anchor
                                       : ev.data.mapping_start.anchor;
            if (s == NULL) {
                rc = -ENOMEM;
                break;
            }
            stack = s;
            stack[depth].node =
                node_new(d, ev.type == YAML_SEQUENCE_START_EVENT ? CONF_NODE_SEQ : CONF_NODE_MAP,
                         &ev.start_mark);
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
            if (n->kind == CONF_NODE_MAP && map_finish(x, n) != 0) {
                rc = -ENOMEM;
                break;
            }
            weigh(n);
            if (n->weight > NODE_WEIGHT_MAX) {
                conf_err(x, n, "document too large (more than %u nodes after alias expansion)",
                         NODE_WEIGHT_MAX);
                rc = -E2BIG;
            }
            break;
        case YAML_ALIAS_EVENT:
            n = anchor_find(d, (const char *)ev.data.alias.anchor);
            if (n == NULL) {
                conf_err_at(x, d->file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                            "undefined alias \"%s\"", (const char *)ev.data.alias.anchor);
                rc = -EINVAL;
                /* a null stands in, so the mapping around it keeps its key/value pairs */
                n = node_new(d, CONF_NODE_SCALAR, &ev.start_mark);
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
            conf_oom(x);
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
            conf_oom(x);
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
    if (rc == 0 && d->root != NULL && d->root->kind == CONF_NODE_SCALAR &&
        conf_tree_is_null(d->root)) {
        d->root = NULL; /* "---" alone, or an empty document */
    }
    return rc;
}

/* Environment expansion */

static bool
env_name_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/* Values where $ means something else (regex anchors, capture groups): never expanded. */
static bool
env_raw_key(const char *key)
{
    size_t n = strlen(key);

    return strcmp(key, "regex") == 0 || strcmp(key, "replacement") == 0 ||
           (n >= 6 && strcmp(key + n - 6, "regexp") == 0);
}

/* Expands scalar @n in place; reports and returns false on a bad or unset reference. */
static bool
env_expand_scalar(struct conf_ctx *x, struct conf_node *n)
{
    struct strbuf sb;
    const char *p = n->str;

    if (strchr(n->str, '$') == NULL) {
        return true;
    }
    strbuf_init(&sb);
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            strbuf_puts(&sb, p);
            break;
        }
        strbuf_append(&sb, p, (size_t)(dollar - p));
        if (dollar[1] == '$') {
            strbuf_putc(&sb, '$');
            p = dollar + 2;
            continue;
        }
        if (dollar[1] != '{') {
            strbuf_putc(&sb, '$');
            p = dollar + 1;
            continue;
        }
        const char *name = dollar + 2, *end = name;
        while (env_name_char(*end, end == name)) {
            end++;
        }
        if (end == name || *end != '}') {
            conf_err(x, n,
                     "invalid ${...} reference: expected ${NAME}, NAME made of letters, digits "
                     "and _ (write $$ for a literal $)");
            strbuf_release(&sb);
            return false;
        }
        char var[256];
        size_t len = (size_t)(end - name);
        if (len >= sizeof(var)) {
            conf_err(x, n, "environment variable name too long in ${...} (at most %zu characters)",
                     sizeof(var) - 1);
            strbuf_release(&sb);
            return false;
        }
        memcpy(var, name, len);
        var[len] = '\0';
        const char *val = getenv(var);
        if (val == NULL) {
            conf_err(x, n,
                     "environment variable \"%s\" is not set (referenced as ${%s}; write $$ for "
                     "a literal $, or run with --no-expand-env)",
                     var, var);
            strbuf_release(&sb);
            return false;
        }
        strbuf_puts(&sb, val);
        p = end + 1;
    }
    if (sb.oom) {
        strbuf_release(&sb);
        conf_oom(x);
        return false;
    }
    free(n->str);
    n->str = sb.data != NULL ? sb.data : strdup("");
    n->len = sb.data != NULL ? sb.len : 0;
    if (n->str == NULL) {
        conf_oom(x);
        return false;
    }
    return true;
}

void
conf_tree_expand_env(struct conf_ctx *x, struct conf_node *root)
{
    if (root == NULL || root->expanded) {
        return;
    }
    root->expanded = true;
    switch (root->kind) {
    case CONF_NODE_SCALAR:
        env_expand_scalar(x, root);
        break;
    case CONF_NODE_SEQ:
        for (size_t i = 0; i < root->n; i++) {
            conf_tree_expand_env(x, root->kids[i]);
        }
        break;
    case CONF_NODE_MAP:
        for (size_t i = 0; i + 1 < root->n; i += 2) {
            if (!env_raw_key(root->kids[i]->str)) {
                conf_tree_expand_env(x, root->kids[i + 1]);
            }
        }
        break;
    }
}

/* Reads a whole file. 0, or a negative errno (-EFBIG past @max). */
int
conf_tree_read_file(const char *path, size_t max, char **out, size_t *outlen)
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
