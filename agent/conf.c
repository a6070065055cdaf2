/*
 * The config core (see conf.h): errors, the table-driven mapping of a node tree onto structs,
 * scalar parsing, defaults, freeing and the reference text.
 */
#include "build-config.h"

#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_regex.h"
#include "units.h"

/* Small helpers */

char *
conf_vprintf(const char *fmt, va_list ap)
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

char *
conf_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = conf_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

/*
 * Makes room for element @n of an array whose capacity is implied by its count: arrays grown
 * only through here are full exactly when the count is 0 or a power of two. New room is zeroed.
 */
void *
conf_grow(void *arr, size_t n, size_t elem)
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

bool
conf_is_label_name(const char *s)
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

bool
conf_is_metric_name(const char *s)
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
bool
conf_is_header_name(const char *s)
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

const char *
conf_fmt_ms(int64_t ms, char *buf, size_t len)
{
    return units_format_duration(ms, buf, len);
}

void
conf_err_at(struct conf_ctx *x, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    x->nerr++;
    va_start(ap, fmt);
    msg = conf_vprintf(fmt, ap);
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

void
conf_oom(struct conf_ctx *x)
{
    if (!x->oom) {
        x->oom = true;
        conf_err_at(x, x->cfg->path, 0, 0, "out of memory");
    }
}

void
conf_err(struct conf_ctx *x, const struct conf_node *at, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = conf_vprintf(fmt, ap);
    va_end(ap);
    if (msg == NULL) {
        x->nerr++;
        if (x->errs != NULL) {
            x->errs->dropped++;
        }
        return;
    }
    conf_err_at(x, at->file, at->line, at->col, "%s", msg);
    free(msg);
}

void
conf_warn(struct conf_ctx *x, const struct conf_node *at, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = conf_vprintf(fmt, ap);
    va_end(ap);
    config_errors_warn(x->errs, at->file, at->line, at->col, "%s",
                       msg != NULL ? msg : "(out of memory)");
    free(msg);
}

void
conf_err_name(struct conf_ctx *x, const struct conf_node *at, const char *what, const char *word,
              const struct suggest *sg, const char *expected)
{
    char hint[SUGGEST_WORD_MAX + 32];

    conf_err(x, at, "invalid %s \"%s\" (%sexpected one of: %s)", what, word,
             suggest_phrase(sg, "", hint, sizeof(hint)), expected != NULL ? expected : "?");
}

/* One resource an item of the config uses (conf_claim). */
struct conf_claim {
    const char *what; /* borrowed: a constant */
    char *value;      /* owned */
    char *owner;      /* owned */
};

void
conf_claim(struct conf_ctx *x, const struct conf_node *at, const char *what, const char *value,
           const char *owner)
{
    struct conf_claim *c;

    for (size_t i = 0; i < x->nclaims; i++) {
        if (strcmp(x->claims[i].what, what) == 0 && strcmp(x->claims[i].value, value) == 0) {
            conf_err(x, at, "%s \"%s\" is already used by %s", what, value, x->claims[i].owner);
            return;
        }
    }
    c = conf_grow(x->claims, x->nclaims, sizeof(*c));
    if (c == NULL) {
        conf_oom(x);
        return;
    }
    x->claims = c;
    c[x->nclaims].what = what;
    c[x->nclaims].value = strdup(value);
    c[x->nclaims].owner = strdup(owner);
    x->nclaims++;
    if (c[x->nclaims - 1].value == NULL || c[x->nclaims - 1].owner == NULL) {
        conf_oom(x);
    }
}

/* Frees the claims of @x (the end of a load). */
void
conf_claims_release(struct conf_ctx *x)
{
    for (size_t i = 0; i < x->nclaims; i++) {
        free(x->claims[i].value);
        free(x->claims[i].owner);
    }
    free(x->claims);
    x->claims = NULL;
    x->nclaims = 0;
}

/* Freeing, driven by the tables */

/* Where field @f of section @s lives: in @base, or in the section's opts struct. */
static void *
field_base(const struct conf_section *s, const struct conf_field *f, void *base)
{
    if (f->flags & CONF_F_OPTS) {
        return *(void **)((char *)base + s->opts_off);
    }
    return base;
}

void
conf_labels_free(struct label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)l[i].name);
        free((char *)l[i].value);
    }
    free(l);
}

void
conf_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void
conf_release(const struct conf_section *s, void *base)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct conf_field *f = &s->fields[i];
        char *fb = field_base(s, f, base);
        void *p = fb + f->off;
        size_t *pn = (size_t *)(fb + f->off_n);

        if (fb == NULL) {
            continue; /* opts never allocated */
        }
        switch (f->type) {
        case CONF_FT_STR:
        case CONF_FT_PATH:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case CONF_FT_LABELS:
            conf_labels_free(*(struct label **)p, *pn);
            *(struct label **)p = NULL;
            *pn = 0;
            break;
        case CONF_FT_HEADERS: {
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
        case CONF_FT_STRLIST:
        case CONF_FT_REGEXES:
            conf_strv_free(*(char ***)p, *pn);
            *(char ***)p = NULL;
            *pn = 0;
            break;
        case CONF_FT_INTLIST:
            free(*(int **)p);
            *(int **)p = NULL;
            *pn = 0;
            break;
        case CONF_FT_PARAMS: {
            struct config_param *pa = *(struct config_param **)p;
            for (size_t j = 0; j < *pn; j++) {
                free(pa[j].name);
                conf_strv_free(pa[j].values, pa[j].nvalues);
            }
            free(pa);
            *(struct config_param **)p = NULL;
            *pn = 0;
            break;
        }
        case CONF_FT_SECTION:
            conf_release(f->sub, p);
            break;
        case CONF_FT_LIST:
            if (!(f->flags & CONF_F_SHARED)) {
                char *arr = *(char **)p;
                for (size_t j = 0; j < *pn; j++) {
                    conf_release(f->sub, arr + j * f->sub->size);
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
    if (s->opts_size > 0) {
        void **opts = (void **)((char *)base + s->opts_off);
        free(*opts);
        *opts = NULL;
    }
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

const char *
conf_choice_name(const struct conf_choice *c, int v)
{
    for (; c->name != NULL; c++) {
        if (!c->unsupported && c->value == v) {
            return c->name;
        }
    }
    return "?";
}

static void
choices_text(const struct conf_choice *c, bool supported, char *buf, size_t len)
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

char *
conf_path_resolve(const struct conf_ctx *x, const char *p)
{
    if (p[0] == '/' || x->dir == NULL) {
        return strdup(p);
    }
    return conf_printf("%s/%s", x->dir, p);
}

/*
 * Parses scalar text @s into the field at @p. @at is the value's node, or NULL for a default
 * (defaults are as trusted as code: a bad one is reported as an internal error).
 */
static bool
set_scalar(struct conf_ctx *x, const struct conf_field *f, void *p, const char *s,
           const struct conf_node *at)
{
    char buf[256];
    int rc;

    struct conf_node nowhere = {.file = x->cfg->path};

    if (at == NULL) {
        at = &nowhere; /* an error here is about the whole file */
    }
    switch (f->type) {
    case CONF_FT_STR:
    case CONF_FT_PATH: {
        char *v;
        if ((f->flags & CONF_F_NONEMPTY) && *s == '\0') {
            conf_err(x, at, "%s must not be empty", f->key);
            return false;
        }
        if ((f->flags & CONF_F_LABELNAME) && !conf_is_label_name(s)) {
            conf_err(x, at, "invalid label name \"%s\" for %s", s, f->key);
            return false;
        }
        v = f->type == CONF_FT_PATH && at->line > 0 ? conf_path_resolve(x, s) : strdup(s);
        if (v == NULL) {
            conf_oom(x);
            return false;
        }
        free(*(char **)p);
        *(char **)p = v;
        return true;
    }
    case CONF_FT_DURATION: {
        int64_t ms;
        rc = units_parse_duration(s, &ms);
        if (rc != 0) {
            conf_err(x, at, "%s duration \"%s\" for %s%s",
                     rc == -ERANGE ? "out of range" : "invalid", s, f->key,
                     units_duration_hint(s, buf, sizeof(buf)));
            return false;
        }
        *(int64_t *)p = ms;
        return true;
    }
    case CONF_FT_SIZE: {
        uint64_t n;
        rc = units_parse_size(s, &n);
        if (rc != 0) {
            conf_err(x, at, "%s size \"%s\" for %s%s", rc == -ERANGE ? "out of range" : "invalid",
                     s, f->key, units_size_hint(s, buf, sizeof(buf)));
            return false;
        }
        *(uint64_t *)p = n;
        return true;
    }
    case CONF_FT_INT: {
        int64_t n;
        rc = parse_int(s, &n);
        if (rc != 0) {
            conf_err(x, at, "%s integer \"%s\" for %s", rc == -ERANGE ? "out of range" : "invalid",
                     s, f->key);
            return false;
        }
        if (n < f->min || n > f->max) {
            if (f->max == INT64_MAX) {
                conf_err(x, at, "%s must be at least %lld, got %s", f->key, (long long)f->min, s);
            }
            else {
                conf_err(x, at, "%s must be between %lld and %lld, got %s", f->key,
                         (long long)f->min, (long long)f->max, s);
            }
            return false;
        }
        *(int64_t *)p = n;
        return true;
    }
    case CONF_FT_BOOL:
        if (parse_bool(s, (bool *)p) != 0) {
            conf_err(x, at, "invalid boolean \"%s\" for %s (expected true or false)", s, f->key);
            return false;
        }
        return true;
    case CONF_FT_ENUM:
        for (const struct conf_choice *c = f->choices; c->name != NULL; c++) {
            if (strcasecmp(c->name, s) != 0) {
                continue;
            }
            if (c->unsupported) {
                choices_text(f->choices, true, buf, sizeof(buf));
                conf_err(x, at, "%s \"%s\" is not supported by pollster yet (supported: %s)",
                         f->key, s, buf);
                return false;
            }
            *(int *)p = c->value;
            return true;
        }
        choices_text(f->choices, true, buf, sizeof(buf));
        {
            struct suggest sg;
            suggest_init(&sg, s);
            for (const struct conf_choice *c = f->choices; c->name != NULL; c++) {
                suggest_add(&sg, c->name);
            }
            conf_err_name(x, at, f->key, s, &sg, buf);
        }
        return false;
    default:
        return false;
    }
}

static const char *
type_noun(enum conf_ftype t)
{
    switch (t) {
    case CONF_FT_DURATION:
        return "a duration";
    case CONF_FT_SIZE:
        return "a size";
    case CONF_FT_INT:
        return "an integer";
    case CONF_FT_BOOL:
        return "a boolean";
    case CONF_FT_LABELS:
    case CONF_FT_HEADERS:
    case CONF_FT_PARAMS:
    case CONF_FT_SECTION:
        return "a mapping";
    case CONF_FT_STRLIST:
    case CONF_FT_INTLIST:
    case CONF_FT_REGEXES:
    case CONF_FT_LIST:
        return "a sequence";
    default:
        return "a string";
    }
}

bool
conf_expect(struct conf_ctx *x, const struct conf_node *v, enum conf_node_kind kind,
            const char *noun, const char *what)
{
    if (v->kind == kind) {
        if (kind == CONF_NODE_SCALAR && strlen(v->str) != v->len) {
            conf_err(x, v, "%s must not contain a NUL character", what);
            return false;
        }
        return true;
    }
    conf_err(x, v, "expected %s for %s, got a %s", noun, what, conf_tree_kind_name(v));
    return false;
}

int
conf_label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static int
param_cmp(const void *a, const void *b)
{
    return strcmp(((const struct config_param *)a)->name, ((const struct config_param *)b)->name);
}

static bool
set_labels(struct conf_ctx *x, const struct conf_field *f, void *p, const struct conf_node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct label *l;
    size_t n = 0;
    bool ok = true;

    if (!conf_expect(x, v, CONF_NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    l = calloc(conf_tree_len(v) + 1, sizeof(*l));
    if (l == NULL) {
        conf_oom(x);
        return false;
    }
    for (size_t i = 0; i < conf_tree_len(v); i++) {
        const struct conf_node *k = conf_tree_key(v, i), *val = conf_tree_val(v, i);
        if (!conf_is_label_name(k->str)) {
            conf_err(x, k, "invalid label name \"%s\" in %s", k->str, f->key);
            ok = false;
            continue;
        }
        if (!(f->flags & CONF_F_RESERVED_OK) && strncmp(k->str, "__", 2) == 0) {
            conf_err(x, k,
                     "label name \"%s\" in %s is reserved (names starting with __ are internal)",
                     k->str, f->key);
            ok = false;
            continue;
        }
        if (!conf_tree_is_null(val) && !conf_expect(x, val, CONF_NODE_SCALAR, "a string", k->str)) {
            ok = false;
            continue;
        }
        l[n].name = strdup(k->str);
        l[n].value = strdup(conf_tree_is_null(val) ? "" : val->str);
        n++;
        if (l[n - 1].name == NULL || l[n - 1].value == NULL) {
            conf_oom(x);
            ok = false;
            break;
        }
    }
    if (!ok) {
        conf_labels_free(l, n);
        return false;
    }
    qsort(l, n, sizeof(*l), conf_label_cmp);
    conf_labels_free(*(struct label **)p, *pn);
    *(struct label **)p = l;
    *pn = n;
    return true;
}

static bool
set_headers(struct conf_ctx *x, const struct conf_field *f, void *p, const struct conf_node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct config_header *h;
    size_t n = 0;
    bool ok = true;

    if (!conf_expect(x, v, CONF_NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    h = calloc(conf_tree_len(v) + 1, sizeof(*h));
    if (h == NULL) {
        conf_oom(x);
        return false;
    }
    for (size_t i = 0; i < conf_tree_len(v) && ok; i++) {
        const struct conf_node *k = conf_tree_key(v, i), *val = conf_tree_val(v, i);
        if (!conf_is_header_name(k->str)) {
            conf_err(x, k, "invalid header name \"%s\" in %s", k->str, f->key);
            ok = false;
            break;
        }
        if (val->kind != CONF_NODE_SCALAR) {
            conf_err(x, val, "expected a string for header \"%s\", got a %s", k->str,
                     conf_tree_kind_name(val));
            ok = false;
            break;
        }
        if (strcspn(val->str, "\r\n") != strlen(val->str) || strlen(val->str) != val->len) {
            conf_err(x, val, "value of header \"%s\" must not contain CR, LF or NUL", k->str);
            ok = false;
            break;
        }
        h[n].name = strdup(k->str);
        h[n].value = strdup(conf_tree_is_null(val) ? "" : val->str);
        n++;
        if (h[n - 1].name == NULL || h[n - 1].value == NULL) {
            conf_oom(x);
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

/* Sequences of scalars: CONF_FT_STRLIST, CONF_FT_REGEXES, CONF_FT_INTLIST. */
static bool
set_list(struct conf_ctx *x, const struct conf_field *f, void *p, const struct conf_node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    char **sv = NULL;
    int *iv = NULL;
    size_t n = 0;
    bool ok = true;
    char buf[256];

    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", f->key)) {
        return false;
    }
    if (f->type == CONF_FT_INTLIST) {
        iv = calloc(v->n + 1, sizeof(*iv));
    }
    else {
        sv = calloc(v->n + 1, sizeof(*sv));
    }
    if (iv == NULL && sv == NULL) {
        conf_oom(x);
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct conf_node *it = v->kids[i];
        char what[CONF_PATH_MAX];

        snprintf(what, sizeof(what), "%s[%zu]", f->key, i);
        if (!conf_expect(x, it, CONF_NODE_SCALAR,
                         f->type == CONF_FT_INTLIST ? "an integer" : "a string", what)) {
            ok = false;
            continue;
        }
        if (f->type == CONF_FT_INTLIST) {
            int64_t n64;
            int rc = parse_int(it->str, &n64);
            if (rc != 0) {
                conf_err(x, it, "invalid integer \"%s\" in %s", it->str, f->key);
                ok = false;
            }
            else if (n64 < f->min || n64 > f->max) {
                conf_err(x, it, "%s in %s is out of range (%lld..%lld)", it->str, f->key,
                         (long long)f->min, (long long)f->max);
                ok = false;
            }
            else {
                iv[n++] = (int)n64;
            }
            continue;
        }
        if ((f->flags & CONF_F_NONEMPTY) && it->len == 0) {
            conf_err(x, it, "empty string in %s", f->key);
            ok = false;
            continue;
        }
        if ((f->flags & CONF_F_LABELNAME) && !conf_is_label_name(it->str)) {
            conf_err(x, it, "invalid label name \"%s\" in %s", it->str, f->key);
            ok = false;
            continue;
        }
        if (f->type == CONF_FT_REGEXES) {
            const char *why = conf_regex_compile(x, it->str, NULL, buf, sizeof(buf));
            if (why != NULL) {
                conf_err(x, it, "invalid regex \"%s\" in %s: %s", it->str, what, why);
                ok = false;
                continue;
            }
        }
        sv[n] = strdup(it->str);
        if (sv[n++] == NULL) {
            conf_oom(x);
            ok = false;
        }
    }
    if (!ok) {
        free(iv);
        conf_strv_free(sv, sv != NULL ? n : 0);
        return false;
    }
    if (f->type == CONF_FT_INTLIST) {
        free(*(int **)p);
        *(int **)p = iv;
    }
    else {
        conf_strv_free(*(char ***)p, *pn);
        *(char ***)p = sv;
    }
    *pn = n;
    return true;
}

static bool
set_params(struct conf_ctx *x, const struct conf_field *f, void *p, const struct conf_node *v)
{
    size_t *pn = (size_t *)((char *)p - f->off + f->off_n);
    struct config_param *pa;
    size_t n = 0;
    bool ok = true;

    if (!conf_expect(x, v, CONF_NODE_MAP, "a mapping", f->key)) {
        return false;
    }
    pa = calloc(conf_tree_len(v) + 1, sizeof(*pa));
    if (pa == NULL) {
        conf_oom(x);
        return false;
    }
    for (size_t i = 0; i < conf_tree_len(v) && ok; i++) {
        const struct conf_node *k = conf_tree_key(v, i), *val = conf_tree_val(v, i);
        char what[CONF_PATH_MAX];

        snprintf(what, sizeof(what), "%s.%s", f->key, k->str);
        if (k->len == 0) {
            conf_err(x, k, "empty parameter name in %s", f->key);
            ok = false;
            break;
        }
        if (!conf_expect(x, val, CONF_NODE_SEQ, "a sequence", what)) {
            ok = false;
            break;
        }
        pa[n].name = strdup(k->str);
        pa[n].values = calloc(val->n + 1, sizeof(char *));
        n++;
        if (pa[n - 1].name == NULL || pa[n - 1].values == NULL) {
            conf_oom(x);
            ok = false;
            break;
        }
        for (size_t j = 0; j < val->n; j++) {
            const struct conf_node *it = val->kids[j];
            if (!conf_expect(x, it, CONF_NODE_SCALAR, "a string", what)) {
                ok = false;
                break;
            }
            pa[n - 1].values[j] = strdup(it->str);
            if (pa[n - 1].values[j] == NULL) {
                conf_oom(x);
                ok = false;
                break;
            }
            pa[n - 1].nvalues++;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            free(pa[i].name);
            conf_strv_free(pa[i].values, pa[i].nvalues);
        }
        free(pa);
        return false;
    }
    qsort(pa, n, sizeof(*pa), param_cmp);
    for (size_t i = 0; i < *pn; i++) {
        free((*(struct config_param **)p)[i].name);
        conf_strv_free((*(struct config_param **)p)[i].values,
                       (*(struct config_param **)p)[i].nvalues);
    }
    free(*(struct config_param **)p);
    *(struct config_param **)p = pa;
    *pn = n;
    return true;
}

static void
path_join(char *buf, size_t len, const char *path, const char *key)
{
    snprintf(buf, len, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
}

static bool
set_list_of_sections(struct conf_ctx *x, const struct conf_field *f, void *base,
                     const struct conf_node *v, const char *path)
{
    char **parr = (char **)((char *)base + f->off);
    size_t *pn = (size_t *)((char *)base + f->off_n);
    char lpath[CONF_PATH_MAX];

    path_join(lpath, sizeof(lpath), path, f->key);
    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", lpath)) {
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        char ipath[CONF_PATH_MAX + 24];
        char *arr = conf_grow(*parr, *pn, f->sub->size);
        if (arr == NULL) {
            conf_oom(x);
            return false;
        }
        *parr = arr;
        (*pn)++;
        snprintf(ipath, sizeof(ipath), "%s[%zu]", lpath, i);
        conf_map(x, f->sub, arr + (*pn - 1) * f->sub->size, v->kids[i], ipath);
    }
    return true;
}

/* Maps the non-null value @v of field @f. Returns true when the field was set. */
static bool
set_field(struct conf_ctx *x, const struct conf_field *f, void *base, const struct conf_node *v,
          const char *path)
{
    void *p = (char *)base + f->off;
    char sub[CONF_PATH_MAX];

    switch (f->type) {
    case CONF_FT_STR:
    case CONF_FT_PATH:
    case CONF_FT_DURATION:
    case CONF_FT_SIZE:
    case CONF_FT_INT:
    case CONF_FT_BOOL:
    case CONF_FT_ENUM:
        if (!conf_expect(x, v, CONF_NODE_SCALAR, type_noun(f->type), f->key)) {
            return false;
        }
        return set_scalar(x, f, p, v->str, v);
    case CONF_FT_LABELS:
        return set_labels(x, f, p, v);
    case CONF_FT_HEADERS:
        return set_headers(x, f, p, v);
    case CONF_FT_STRLIST:
    case CONF_FT_INTLIST:
    case CONF_FT_REGEXES:
        return set_list(x, f, p, v);
    case CONF_FT_PARAMS:
        return set_params(x, f, p, v);
    case CONF_FT_SECTION:
        path_join(sub, sizeof(sub), path, f->key);
        conf_map(x, f->sub, p, v, sub);
        return true;
    case CONF_FT_LIST:
        return set_list_of_sections(x, f, base, v, path);
    case CONF_FT_DEFER:
        return true;
    }
    return false;
}

/* Sets every field of @s that has a default (and unset durations to -1). */
void
conf_defaults(struct conf_ctx *x, const struct conf_section *s, void *base)
{
    if (s->opts_size > 0) {
        void **opts = (void **)((char *)base + s->opts_off);
        if (*opts == NULL && (*opts = calloc(1, s->opts_size)) == NULL) {
            conf_oom(x);
            return;
        }
    }
    if (s->init != NULL) {
        s->init(base);
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const struct conf_field *f = &s->fields[i];
        void *p = (char *)field_base(s, f, base) + f->off;

        if (f->type == CONF_FT_DURATION && f->def == NULL) {
            *(int64_t *)p = -1;
        }
        else if (f->type == CONF_FT_SECTION && (f->flags & CONF_F_DEFAULTS)) {
            conf_defaults(x, f->sub, p);
        }
        else if (f->def != NULL) {
            set_scalar(x, f, p, f->def, NULL);
        }
    }
}

const struct conf_field *
conf_field_find(const struct conf_section *s, const char *key)
{
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->fields[i].key, key) == 0) {
            return &s->fields[i];
        }
    }
    return NULL;
}

/* True when @key matches one of the fnmatch patterns of @list (NULL-terminated; may be NULL). */
static bool
key_listed(const char *const *list, const char *key)
{
    if (list == NULL) {
        return false;
    }
    for (const char *const *u = list; *u != NULL; u++) {
        if (fnmatch(*u, key, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* The key of @s whose sub-section has @key (a key indented one level too little), or NULL. */
static const struct conf_field *
key_below(const struct conf_section *s, const char *key)
{
    for (size_t i = 0; i < s->nfields; i++) {
        if (s->fields[i].sub != NULL && conf_field_find(s->fields[i].sub, key) != NULL) {
            return &s->fields[i];
        }
    }
    return NULL;
}

/* Offers the literal names of @list (patterns are no names) to @sg. */
static void
suggest_list(struct suggest *sg, const char *const *list)
{
    for (const char *const *u = list; list != NULL && *u != NULL; u++) {
        if (strpbrk(*u, "*?[") == NULL) {
            suggest_add(sg, *u);
        }
    }
}

/* True when @key is one of the keys beyond the table that the foreign hook takes for @s. */
static bool
foreign_has(struct conf_ctx *x, const struct conf_section *s, const char *key)
{
    struct suggest sg;

    if (x->foreign_for != s || x->foreign_names == NULL) {
        return false;
    }
    suggest_init(&sg, key);
    x->foreign_names(&sg);
    return sg.dist == 0 && strcmp(sg.best, key) == 0;
}

/*
 * Reports key @k, which section @s does not know: the indentation when the key belongs one
 * level down (in a sub-section of @s) or up (in @outer, at @outer_path), else the closest known
 * key.
 */
static void
unknown_key(struct conf_ctx *x, const struct conf_section *s, const struct conf_section *outer,
            const char *outer_path, const struct conf_node *k, const char *where)
{
    const struct conf_field *below = key_below(s, k->str);
    struct suggest sg;
    char hint[128];

    if (below != NULL) {
        conf_err(x, k, "unknown key \"%s\" %s (it belongs in %s: check the indentation)", k->str,
                 where, below->key);
        return;
    }
    if (outer != NULL &&
        (conf_field_find(outer, k->str) != NULL || foreign_has(x, outer, k->str))) {
        conf_err(x, k, "unknown key \"%s\" %s (it belongs %s%s: check the indentation)", k->str,
                 where, outer_path[0] != '\0' ? "in " : "at top level",
                 outer_path[0] != '\0' ? outer_path : "");
        return;
    }
    suggest_init(&sg, k->str);
    for (size_t i = 0; i < s->nfields; i++) {
        suggest_add(&sg, s->fields[i].key);
    }
    suggest_list(&sg, s->unsupported);
    suggest_list(&sg, s->server_only);
    if (x->foreign_for == s && x->foreign_names != NULL) {
        x->foreign_names(&sg);
    }
    conf_err(x, k, "unknown key \"%s\" %s%s", k->str, where,
             suggest_paren(&sg, "", hint, sizeof(hint)));
}

/*
 * Maps mapping @map onto @base with table @s: defaults first, then every key (CONF_F_FIRST keys
 * before the others), then the required keys are checked and the section's check hook runs.
 */
void
conf_map(struct conf_ctx *x, const struct conf_section *s, void *base, const struct conf_node *map,
         const char *path)
{
    const struct conf_section *outer = x->cur;
    const char *saved_path = x->cur_path;
    const char *outer_path = saved_path != NULL ? saved_path : "";
    char where[CONF_PATH_MAX + 8];

    conf_defaults(x, s, base);
    if (s->opts_size > 0 && *(void **)((char *)base + s->opts_off) == NULL) {
        return; /* out of memory, reported */
    }
    if (map->kind != CONF_NODE_MAP) {
        conf_err(x, map, "expected a mapping for %s, got a %s", path[0] != '\0' ? path : "the file",
                 conf_tree_kind_name(map));
        return;
    }
    if (path[0] != '\0') {
        snprintf(where, sizeof(where), "in %s", path);
    }
    else {
        snprintf(where, sizeof(where), "at top level");
    }
    x->cur = s;
    x->cur_path = path;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < conf_tree_len(map); i++) {
            const struct conf_node *k = conf_tree_key(map, i), *v = conf_tree_val(map, i);
            const struct conf_field *f = conf_field_find(s, k->str);

            if (pass == 0) {
                if (f != NULL && (f->flags & CONF_F_FIRST) && !conf_tree_is_null(v)) {
                    set_field(x, f, field_base(s, f, base), v, path);
                }
                continue;
            }
            if (f == NULL) {
                if (x->foreign != NULL && x->foreign_for == s && x->foreign(x, k, v, where)) {
                    continue;
                }
                if (key_listed(s->server_only, k->str)) {
                    if (conf_tree_is_null(v)) {
                        continue; /* nothing to ignore ("rule_files:" with only comments) */
                    }
                    conf_warn(x, k,
                              "key \"%s\" %s ignored: evaluated by a Prometheus server, not by "
                              "an agent",
                              k->str, where);
                }
                else if (key_listed(s->unsupported, k->str)) {
                    conf_err(x, k, "unsupported key \"%s\" %s (not supported by pollster yet)",
                             k->str, where);
                }
                else {
                    unknown_key(x, s, outer, outer_path, k, where);
                }
                continue;
            }
            if ((f->flags & CONF_F_FIRST) || conf_tree_is_null(v)) {
                continue;
            }
            set_field(x, f, field_base(s, f, base), v, path);
        }
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const struct conf_field *f = &s->fields[i];
        const struct conf_node *v = conf_tree_get(map, f->key);
        if ((f->flags & CONF_F_REQUIRED) && v == NULL) {
            conf_err(x, map, "missing required key \"%s\"%s%s %s", f->key,
                     s->what != NULL ? " for " : "", s->what != NULL ? s->what : "", where);
        }
    }
    if (s->check != NULL) {
        s->check(x, base, map, path);
    }
    x->cur = outer;
    x->cur_path = saved_path;
}

/* URLs and targets */

static const char *
type_word(const struct conf_field *f)
{
    switch (f->type) {
    case CONF_FT_STR:
        return f->flags & CONF_F_SECRET ? "secret" : "string";
    case CONF_FT_PATH:
        return "path";
    case CONF_FT_DURATION:
        return "duration";
    case CONF_FT_SIZE:
        return "size";
    case CONF_FT_INT:
        return "integer";
    case CONF_FT_BOOL:
        return "boolean";
    case CONF_FT_ENUM:
        return "enum";
    case CONF_FT_LABELS:
        return "labels";
    case CONF_FT_HEADERS:
        return "headers";
    case CONF_FT_STRLIST:
        return "strings";
    case CONF_FT_INTLIST:
        return "integers";
    case CONF_FT_REGEXES:
        return "regexes";
    case CONF_FT_PARAMS:
        return "params";
    case CONF_FT_SECTION:
        return "section";
    case CONF_FT_LIST:
        return "list";
    default:
        return "list";
    }
}

void
conf_reference_field(FILE *f, const struct conf_field *fl, int indent, const char *prefix)
{
    fprintf(f, "%*s%-*s %-9s %-9s %s%s%s\n", indent, "", 32 - indent, fl->key, type_word(fl),
            fl->def != NULL ? fl->def : "-", fl->flags & CONF_F_REQUIRED ? "(required) " : "",
            prefix, fl->desc);
    if (fl->sub != NULL) {
        conf_reference(f, fl->sub, indent + 2);
    }
}

void
conf_reference(FILE *f, const struct conf_section *s, int indent)
{
    for (size_t i = 0; i < s->nfields; i++) {
        conf_reference_field(f, &s->fields[i], indent, "");
    }
    if (s->unsupported != NULL) {
        fprintf(f, "%*snot supported yet:", indent, "");
        for (const char *const *u = s->unsupported; *u != NULL; u++) {
            fprintf(f, " %s", *u);
        }
        fprintf(f, "\n");
    }
    if (s->server_only != NULL) {
        fprintf(f, "%*signored (Prometheus server only):", indent, "");
        for (const char *const *u = s->server_only; *u != NULL; u++) {
            fprintf(f, " %s", *u);
        }
        fprintf(f, "\n");
    }
}
