/*
 * json: one JSON document per run, turned into samples through compiled paths. Body bytes go
 * through a small scanner on their way to json-c's incremental tokener. The scanner keeps its
 * state across chunks, where json-c 0.16 keeps some in local variables of one call, so that a
 * body gives the same result however it is cut: it checks UTF-8 and the number grammar itself,
 * enforces the depth limit at the exact byte, finds the end of the top-level value (data after
 * it is an error), notices an empty body, and rewrites integers too large for 64 bits (which
 * json-c clamps to INT64_MIN / UINT64_MAX) into doubles by feeding ".0" after their digits.
 * The tree lives from the first byte to the end of finish; the paths are walked over it once,
 * in finish, and the samples' label strings are copied into the batch's arena.
 */
#include "build-config.h"

#include "job_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "conf.h"
#include "conf_http.h"
#include "clock.h"
#include "conf_targets.h"
#include "log.h"
#include "scrape.h"
#include "strbuf.h"

/* Integer literals with this many digits may not fit 64 bits: they are read as doubles. */
#define JJ_BIG_DIGITS 19
/* The largest array index a path may name. */
#define JJ_MAX_INDEX 2147483647UL
#define JJ_STR2(x) #x
#define JJ_STR(x) JJ_STR2(x)
#define JJ_DEPTH_ERROR "nesting deeper than " JJ_STR(JOB_JSON_MAX_DEPTH) " levels"
/* How much of a non-numeric string a "matched no number" error quotes. */
#define JJ_WHY_STRING_MAX 40

enum jj_seg_kind { JJ_SEG_KEY, JJ_SEG_INDEX, JJ_SEG_WILD };

struct jj_seg {
    enum jj_seg_kind kind;
    char *key;    /* owned: JJ_SEG_KEY */
    size_t index; /* JJ_SEG_INDEX */
};

struct job_json_path {
    char *text;          /* owned: as written, for messages */
    struct jj_seg *segs; /* owned */
    size_t nsegs;
    size_t nwild;
};

/* One label of a metric's samples: a fixed value or the match of wildcard @wild. */
struct jj_label {
    char *name;  /* owned */
    char *value; /* owned; NULL for a wildcard label */
    int wild;    /* -1, or the wildcard's position in the path */
};

struct jj_metric {
    char *name; /* owned; borrowed by samples: the state outlives every batch it fills */
    enum sample_type type;
    struct job_json_path *path; /* owned */
    struct jj_label *labels;    /* owned, sorted by name; borrowed by samples like name */
    size_t nlabels;
    bool required;
    size_t absent; /* absent values in the last run's document */
};

/* Where the scanner is: outside tokens, or in which token. */
enum jj_scan {
    JJ_SCAN_OUT = 0,
    JJ_SCAN_STRING,
    JJ_SCAN_ESCAPE, /* after a backslash */
    JJ_SCAN_WORD,   /* true, false, null, NaN, Infinity */
    JJ_SCAN_NUMBER,
};

/* Where a number is in RFC 8259's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
enum jj_num {
    JJ_NUM_MINUS,
    JJ_NUM_ZERO,
    JJ_NUM_INT,
    JJ_NUM_DOT,
    JJ_NUM_FRAC,
    JJ_NUM_EXP,
    JJ_NUM_EXP_SIGN,
    JJ_NUM_EXP_DIGITS,
};

struct jj_job {
    struct jj_metric *metrics; /* owned */
    size_t nmetrics;
    size_t maxwild;    /* most wildcards in one path */
    const char **wild; /* owned array [maxwild]: the current match of each wildcard */
    char (*index)[24]; /* owned array [maxwild]: text of array indexes matched */

    /* One run, from prepare to the end of finish. */
    json_tokener *tok;              /* owned */
    json_object *root;              /* owned: the document, once done */
    bool skip;                      /* non-2xx response: the body is not parsed */
    bool failed;                    /* the body was found invalid (the batch says why) */
    bool done;                      /* the document is complete: only white space may follow */
    bool seen;                      /* a byte other than white space was seen */
    uint64_t offset;                /* body bytes fed before the current chunk */
    enum jj_scan scan;              /* scanner state */
    char quote;                     /* the quote of the string being scanned */
    unsigned depth;                 /* arrays and objects open */
    bool top_done;                  /* the top-level value ended: only white space may follow */
    enum jj_num num;                /* the number being scanned */
    uint64_t ndigits;               /* digits of its integer part */
    unsigned utf8_need;             /* continuation bytes the current UTF-8 sequence still needs */
    unsigned char utf8_lo, utf8_hi; /* the range of the next continuation byte */

    struct log_limit absent_log; /* the absent paths' log line, rate-limited per target */
};

/* The walk of one metric's path over a document. */
struct jj_eval {
    struct batch *b;
    const struct jj_metric *m;
    size_t produced; /* samples of this metric */
    size_t absent;   /* absent values of this metric */
    size_t unusable; /* of which values that were there but not numbers */
    char why[80];    /* the first unusable value, described */
    bool oom;
};

/* ---- path grammar ---- */

static bool
is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* 'c', or '\xNN' for bytes that are not printable ASCII. */
static const char *
char_desc(char *buf, size_t len, char c)
{
    unsigned char u = (unsigned char)c;

    if (u >= 0x20 && u < 0x7f) {
        snprintf(buf, len, "'%c'", c);
    }
    else {
        snprintf(buf, len, "'\\x%02x'", u);
    }
    return buf;
}

void
job_json_path_free(struct job_json_path *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nsegs; i++) {
        free(p->segs[i].key);
    }
    free(p->segs);
    free(p->text);
    free(p);
}

size_t
job_json_path_wildcards(const struct job_json_path *p)
{
    return p->nwild;
}

/* Writes `invalid path "TEXT": WHAT` to @err; always returns -EINVAL. */
static int path_err(const char *text, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
path_err(const char *text, char *err, size_t errlen, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "invalid path \"%s\": %s", text, what);
    return -EINVAL;
}

/* A bare segment at *@pos (after a '.' or at the start): a key or "*". */
static int
parse_bare(struct job_json_path *p, const char *text, size_t *pos, char *err, size_t errlen)
{
    struct jj_seg *s = &p->segs[p->nsegs];
    size_t start = *pos, i = *pos;
    char cb[16];

    if (text[i] == '*') {
        s->kind = JJ_SEG_WILD;
        p->nwild++;
        p->nsegs++;
        *pos = i + 1;
        return 0;
    }
    while (is_key_char(text[i])) {
        i++;
    }
    if (i == start) {
        if (text[i] == '\0' || text[i] == '.' || text[i] == '[') {
            return path_err(text, err, errlen, "empty key at offset %zu", start);
        }
        return path_err(text, err, errlen,
                        "unexpected character %s at offset %zu (quote keys with other "
                        "characters: [\"...\"])",
                        char_desc(cb, sizeof(cb), text[i]), i);
    }
    s->kind = JJ_SEG_KEY;
    s->key = strndup(text + start, i - start);
    if (s->key == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->nsegs++;
    *pos = i;
    return 0;
}

/* A quoted key starting at the quote at *@pos; leaves *@pos after the closing quote. */
static int
parse_quoted(struct job_json_path *p, const char *text, size_t *pos, char *err, size_t errlen)
{
    struct jj_seg *s = &p->segs[p->nsegs];
    size_t open = *pos, i = *pos + 1, n = 0;
    char q = text[open], cb[16];
    char *key = malloc(strlen(text + open) + 1);

    if (key == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    while (text[i] != q) {
        if (text[i] == '\0') {
            free(key);
            return path_err(text, err, errlen, "unterminated string at offset %zu", open);
        }
        if (text[i] == '\\') {
            char e = text[i + 1];
            if (e != '"' && e != '\'' && e != '\\') {
                free(key);
                return path_err(text, err, errlen,
                                "invalid escape %s at offset %zu (only \\\", \\' and \\\\)",
                                char_desc(cb, sizeof(cb), e), i);
            }
            key[n++] = e;
            i += 2;
            continue;
        }
        key[n++] = text[i++];
    }
    key[n] = '\0';
    s->kind = JJ_SEG_KEY;
    s->key = key;
    p->nsegs++;
    *pos = i + 1;
    return 0;
}

/* A bracket segment at the '[' at *@pos: [N], [*] or ["key"]. */
static int
parse_bracket(struct job_json_path *p, const char *text, size_t *pos, char *err, size_t errlen)
{
    struct jj_seg *s = &p->segs[p->nsegs];
    size_t i = *pos + 1;
    char c = text[i];

    if (c == '*') {
        s->kind = JJ_SEG_WILD;
        p->nwild++;
        p->nsegs++;
        i++;
    }
    else if (c >= '0' && c <= '9') {
        size_t start = i, v = 0;
        bool big = false;
        while (text[i] >= '0' && text[i] <= '9') {
            v = v * 10 + (size_t)(text[i] - '0');
            big = big || v > JJ_MAX_INDEX;
            i++;
        }
        if (big) {
            return path_err(text, err, errlen, "index too large at offset %zu (at most %lu)", start,
                            JJ_MAX_INDEX);
        }
        s->kind = JJ_SEG_INDEX;
        s->index = v;
        p->nsegs++;
    }
    else if (c == '"' || c == '\'') {
        int rc = parse_quoted(p, text, &i, err, errlen);
        if (rc != 0) {
            return rc;
        }
    }
    else if (c == '-' && text[i + 1] >= '0' && text[i + 1] <= '9') {
        return path_err(text, err, errlen, "negative index at offset %zu", i);
    }
    else {
        return path_err(text, err, errlen, "expected an index, * or a quoted key at offset %zu", i);
    }
    if (text[i] != ']') {
        return path_err(text, err, errlen, "expected ']' at offset %zu", i);
    }
    *pos = i + 1;
    return 0;
}

struct job_json_path *
job_json_path_compile(const char *text, char *err, size_t errlen)
{
    struct job_json_path *p = calloc(1, sizeof(*p));
    size_t len = strlen(text), pos = 0;
    bool after_key = false;
    char cb[16];
    int rc = 0;

    if (p == NULL || (p->text = strdup(text)) == NULL ||
        (p->segs = calloc(len + 1, sizeof(*p->segs))) == NULL) {
        snprintf(err, errlen, "out of memory");
        job_json_path_free(p);
        return NULL;
    }
    if (len == 0) {
        path_err(text, err, errlen, "empty path");
        job_json_path_free(p);
        return NULL;
    }
    while (rc == 0 && pos < len) {
        char c = text[pos];
        if (c == '[') {
            rc = parse_bracket(p, text, &pos, err, errlen);
            after_key = false;
        }
        else if (pos == 0 || c == '.') {
            pos += pos == 0 ? 0 : 1;
            rc = parse_bare(p, text, &pos, err, errlen);
            after_key = rc == 0 && p->segs[p->nsegs - 1].kind == JJ_SEG_KEY;
        }
        else if (after_key) {
            rc = path_err(text, err, errlen,
                          "unexpected character %s at offset %zu (quote keys with other "
                          "characters: [\"...\"])",
                          char_desc(cb, sizeof(cb), c), pos);
        }
        else {
            rc = path_err(text, err, errlen,
                          "unexpected character %s at offset %zu (expected '.' or '[')",
                          char_desc(cb, sizeof(cb), c), pos);
        }
    }
    if (rc != 0) {
        job_json_path_free(p);
        return NULL;
    }
    return p;
}

/* ---- metrics ---- */

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool
is_metric_name(const char *s)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9')) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s == '-' || (!is_key_char(*s) && *s != ':')) {
            return false;
        }
    }
    return true;
}

/* A Prometheus label name that is not reserved (no "__" prefix): [a-zA-Z_][a-zA-Z0-9_]* */
static bool
is_label_name(const char *s)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9') || strncmp(s, "__", 2) == 0) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s == '-' || !is_key_char(*s)) {
            return false;
        }
    }
    return true;
}

static void
metric_release(struct jj_metric *m)
{
    free(m->name);
    job_json_path_free(m->path);
    for (size_t i = 0; i < m->nlabels; i++) {
        free(m->labels[i].name);
        free(m->labels[i].value);
    }
    free(m->labels);
    memset(m, 0, sizeof(*m));
}

static int
label_cmp(const void *a, const void *b)
{
    const struct jj_label *x = a, *y = b;

    return strcmp(x->name, y->name);
}

/* Appends the comma-separated names of @list as wildcard labels 0, 1, ... to @m. */
static int
add_wild_labels(struct jj_metric *m, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    int wild = 0;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        char *name = strndup(p, n);
        if (name == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (!is_label_name(name)) {
            snprintf(err, errlen, "invalid label name \"%s\" in label \"%s\"", name, list);
            free(name);
            return -EINVAL;
        }
        m->labels[m->nlabels].name = name;
        m->labels[m->nlabels].wild = wild++;
        m->nlabels++;
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

static size_t
count_names(const char *list)
{
    size_t n = 1;

    for (; *list != '\0'; list++) {
        n += *list == ',';
    }
    return n;
}

/* Builds @m from @o, checking everything; on failure @m is released and @err says why. */
static int
metric_build(struct jj_metric *m, const struct job_json_metric_opts *o, char *err, size_t errlen)
{
    size_t nnames = o->label != NULL ? count_names(o->label) : 0;
    int rc = -EINVAL;

    memset(m, 0, sizeof(*m));
    if (!is_metric_name(o->name)) {
        snprintf(err, errlen, "invalid metric name \"%s\"", o->name != NULL ? o->name : "");
        goto fail;
    }
    if (o->type != SAMPLE_GAUGE && o->type != SAMPLE_COUNTER && o->type != SAMPLE_UNTYPED) {
        snprintf(err, errlen, "type %s is not supported (gauge, counter or untyped)",
                 sample_type_name(o->type));
        goto fail;
    }
    m->path = job_json_path_compile(o->path != NULL ? o->path : "", err, errlen);
    if (m->path == NULL) {
        rc = strcmp(err, "out of memory") == 0 ? -ENOMEM : -EINVAL;
        goto fail;
    }
    if (m->path->nwild > 0 && o->label == NULL) {
        snprintf(err, errlen, "path \"%s\" has %zu wildcard%s but label is not set", o->path,
                 m->path->nwild, m->path->nwild == 1 ? "" : "s");
        goto fail;
    }
    if (m->path->nwild == 0 && o->label != NULL) {
        snprintf(err, errlen, "label \"%s\" is set but path \"%s\" has no wildcard", o->label,
                 o->path);
        goto fail;
    }
    if (nnames != m->path->nwild) {
        snprintf(err, errlen, "path \"%s\" has %zu wildcard%s but label \"%s\" names %zu", o->path,
                 m->path->nwild, m->path->nwild == 1 ? "" : "s", o->label, nnames);
        goto fail;
    }
    m->name = strdup(o->name);
    m->labels = calloc(o->nlabels + nnames + 1, sizeof(*m->labels));
    if (m->name == NULL || m->labels == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < o->nlabels; i++) {
        if (!is_label_name(o->labels[i].name) || o->labels[i].value == NULL) {
            snprintf(err, errlen, "invalid label name \"%s\"",
                     o->labels[i].name != NULL ? o->labels[i].name : "");
            goto fail;
        }
        struct jj_label *l = &m->labels[m->nlabels];
        l->name = strdup(o->labels[i].name);
        l->value = strdup(o->labels[i].value);
        l->wild = -1;
        m->nlabels++;
        if (l->name == NULL || l->value == NULL) {
            goto oom;
        }
    }
    if (nnames > 0) {
        rc = add_wild_labels(m, o->label, err, errlen);
        if (rc != 0) {
            goto fail;
        }
        rc = -EINVAL;
    }
    qsort(m->labels, m->nlabels, sizeof(*m->labels), label_cmp);
    for (size_t i = 1; i < m->nlabels; i++) {
        if (strcmp(m->labels[i - 1].name, m->labels[i].name) == 0) {
            snprintf(err, errlen, "label \"%s\" given twice", m->labels[i].name);
            goto fail;
        }
    }
    m->type = o->type;
    m->required = o->required;
    return 0;

oom:
    snprintf(err, errlen, "out of memory");
    rc = -ENOMEM;
fail:
    metric_release(m);
    return rc;
}

int
job_json_metric_check(const struct job_json_metric_opts *o, char *err, size_t errlen)
{
    struct jj_metric m;
    int rc = metric_build(&m, o, err, errlen);

    if (rc == 0) {
        metric_release(&m);
    }
    return rc;
}

/* ---- the run: parsing ---- */

static void
run_reset(struct jj_job *j)
{
    json_object_put(j->root);
    j->root = NULL;
    if (j->tok != NULL) {
        json_tokener_free(j->tok);
        j->tok = NULL;
    }
    j->skip = false;
    j->failed = false;
    j->done = false;
    j->seen = false;
    j->offset = 0;
    j->scan = JJ_SCAN_OUT;
    j->depth = 0;
    j->top_done = false;
    j->ndigits = 0;
    j->utf8_need = 0;
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
parse_fail(struct jj_job *j, struct batch *b, uint64_t at, const char *what)
{
    j->failed = true;
    batch_fail(b, REASON_PARSE, "json parse error at offset %llu: %s", (unsigned long long)at,
               what);
    return -EINVAL;
}

static const char *
tok_error(enum json_tokener_error e)
{
    /* The scanner stops hostile nesting first; json-c's own limit is a backstop. */
    if (e == json_tokener_error_depth) {
        return JJ_DEPTH_ERROR;
    }
    return json_tokener_error_desc(e);
}

/*
 * Gives @n bytes to the tokener. @base is the body offset of @p[0]; @injected marks the ".0"
 * the scanner adds after a big integer (not body bytes: an error there is placed at @base).
 */
static int
tok_feed(struct jj_job *j, const char *p, size_t n, uint64_t base, bool injected, struct batch *b)
{
    while (n > 0) {
        if (j->done) {
            /* The scanner stops at data after the document; this is a backstop. */
            for (size_t k = 0; k < n && !injected; k++) {
                if (!is_ws(p[k])) {
                    return parse_fail(j, b, base + k, "unexpected data after the JSON document");
                }
            }
            return 0;
        }
        int len = n > INT_MAX ? INT_MAX : (int)n;
        json_object *o = json_tokener_parse_ex(j->tok, p, len);
        enum json_tokener_error e = json_tokener_get_error(j->tok);
        size_t end = json_tokener_get_parse_end(j->tok);
        if (e == json_tokener_success) {
            j->root = o;
            j->done = true;
            p += end;
            n -= end;
            base += end;
            continue;
        }
        if (e != json_tokener_continue) {
            return parse_fail(j, b, injected ? base : base + end, tok_error(e));
        }
        p += len;
        n -= (size_t)len;
        base += (uint64_t)len;
    }
    return 0;
}

/*
 * One byte of UTF-8 (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing beyond
 * U+10FFFF). json-c 0.16's JSON_TOKENER_VALIDATE_UTF8 keeps its state in a local variable of
 * json_tokener_parse_ex, so it rejects a character split across two chunks: the scanner checks
 * instead, with its state in the job.
 */
static bool
utf8_byte(struct jj_job *j, unsigned char u)
{
    if (j->utf8_need > 0) {
        if (u < j->utf8_lo || u > j->utf8_hi) {
            return false;
        }
        j->utf8_need--;
        j->utf8_lo = 0x80;
        j->utf8_hi = 0xbf;
        return true;
    }
    if (u < 0x80) {
        return true;
    }
    j->utf8_lo = 0x80;
    j->utf8_hi = 0xbf;
    if (u >= 0xc2 && u <= 0xdf) {
        j->utf8_need = 1;
    }
    else if (u >= 0xe0 && u <= 0xef) {
        j->utf8_need = 2;
        j->utf8_lo = u == 0xe0 ? 0xa0 : 0x80;
        j->utf8_hi = u == 0xed ? 0x9f : 0xbf;
    }
    else if (u >= 0xf0 && u <= 0xf4) {
        j->utf8_need = 3;
        j->utf8_lo = u == 0xf0 ? 0x90 : 0x80;
        j->utf8_hi = u == 0xf4 ? 0x8f : 0xbf;
    }
    else {
        return false;
    }
    return true;
}

/* Feeds @data[*@start, @i) (the bytes not fed yet before @data[@i]); *@start becomes @i. */
static int
flush(struct jj_job *j, const char *data, size_t *start, size_t i, struct batch *b)
{
    int rc = 0;

    if (i > *start) {
        rc = tok_feed(j, data + *start, i - *start, j->offset + *start, false, b);
    }
    *start = i;
    return rc;
}

/*
 * The scanner found a problem at @data[@i]: the bytes before it go to the tokener first, so
 * that errors are reported in body order whatever the chunks.
 */
static int
scan_fail(struct jj_job *j, const char *data, size_t start, size_t i, struct batch *b,
          const char *what)
{
    int rc = flush(j, data, &start, i, b);

    if (rc != 0) {
        return rc;
    }
    return parse_fail(j, b, j->offset + i, what);
}

/* What a byte does to the number being scanned (RFC 8259's grammar, checked byte by byte). */
enum jj_num_step { JJ_NUM_MORE, JJ_NUM_END, JJ_NUM_BAD, JJ_NUM_WORD };

static enum jj_num_step
num_step(struct jj_job *j, char c)
{
    bool digit = is_digit(c), e = c == 'e' || c == 'E';
    /*
     * What may not follow a number: a sign, and letters too (json-c 0.16 reads "-5" + "Infinity"
     * cut after the 5 as -Infinity, as it only looks at the current input).
     */
    bool bad_end = c == '+' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

    switch (j->num) {
    case JJ_NUM_MINUS:
        if (c == 'I') {
            return JJ_NUM_WORD; /* -Infinity */
        }
        j->num = c == '0' ? JJ_NUM_ZERO : JJ_NUM_INT;
        j->ndigits = 1;
        return digit ? JJ_NUM_MORE : JJ_NUM_BAD;
    case JJ_NUM_ZERO:
    case JJ_NUM_INT:
        if (digit) {
            j->ndigits++;
            return j->num == JJ_NUM_ZERO ? JJ_NUM_BAD : JJ_NUM_MORE;
        }
        if (c == '.' || e) {
            j->num = c == '.' ? JJ_NUM_DOT : JJ_NUM_EXP;
            return JJ_NUM_MORE;
        }
        return bad_end ? JJ_NUM_BAD : JJ_NUM_END;
    case JJ_NUM_DOT:
        j->num = JJ_NUM_FRAC;
        return digit ? JJ_NUM_MORE : JJ_NUM_BAD;
    case JJ_NUM_FRAC:
        if (digit) {
            return JJ_NUM_MORE;
        }
        if (e) {
            j->num = JJ_NUM_EXP;
            return JJ_NUM_MORE;
        }
        return c == '.' || bad_end ? JJ_NUM_BAD : JJ_NUM_END;
    case JJ_NUM_EXP:
        if (c == '+' || c == '-') {
            j->num = JJ_NUM_EXP_SIGN;
            return JJ_NUM_MORE;
        }
        /* fall through */
    case JJ_NUM_EXP_SIGN:
        j->num = JJ_NUM_EXP_DIGITS;
        return digit ? JJ_NUM_MORE : JJ_NUM_BAD;
    case JJ_NUM_EXP_DIGITS:
    default:
        if (digit) {
            return JJ_NUM_MORE;
        }
        return c == '.' || bad_end ? JJ_NUM_BAD : JJ_NUM_END;
    }
}

/*
 * The number ended before @data[@i]. An integer of JJ_BIG_DIGITS digits or more gets ".0"
 * after it: json-c 0.16 clamps integers beyond 64 bits to INT64_MIN / UINT64_MAX, while it reads
 * a double with strtod (correctly rounded).
 */
static int
number_end(struct jj_job *j, const char *data, size_t *start, size_t i, struct batch *b)
{
    j->scan = JJ_SCAN_OUT;
    j->top_done = j->depth == 0;
    if (j->num != JJ_NUM_INT || j->ndigits < JJ_BIG_DIGITS) {
        return 0;
    }
    int rc = flush(j, data, start, i, b);
    if (rc == 0) {
        rc = tok_feed(j, ".0", 2, j->offset + i, true, b);
    }
    return rc;
}

/*
 * Scans @data (body offset j->offset) and feeds it to the tokener. Besides the checks above,
 * the scanner sees where the top-level value ends, so data after it is reported the same way
 * whatever the chunks.
 */
static int
parse_chunk(struct jj_job *j, const char *data, size_t len, struct batch *b)
{
    size_t start = 0;
    int rc = 0;

    for (size_t i = 0; i < len && rc == 0; i++) {
        char c = data[i];
        if (c == '\0') {
            return scan_fail(j, data, start, i, b, "unexpected NUL byte");
        }
        if (((unsigned char)c >= 0x80 || j->utf8_need > 0) && !utf8_byte(j, (unsigned char)c)) {
            return scan_fail(j, data, start, i, b, "invalid UTF-8");
        }
        switch (j->scan) {
        case JJ_SCAN_NUMBER:
            switch (num_step(j, c)) {
            case JJ_NUM_MORE:
                continue;
            case JJ_NUM_BAD:
                return scan_fail(j, data, start, i, b, "invalid number");
            case JJ_NUM_WORD:
                j->scan = JJ_SCAN_WORD;
                continue;
            case JJ_NUM_END:
                break;
            }
            rc = number_end(j, data, &start, i, b);
            break;
        case JJ_SCAN_WORD:
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                continue;
            }
            j->scan = JJ_SCAN_OUT;
            j->top_done = j->depth == 0;
            break;
        case JJ_SCAN_STRING:
            if (c == '\\') {
                j->scan = JJ_SCAN_ESCAPE;
            }
            else if (c == j->quote) {
                j->scan = JJ_SCAN_OUT;
                j->top_done = j->depth == 0;
            }
            continue;
        case JJ_SCAN_ESCAPE:
            /* json-c checks escapes (and keeps \u state, surrogate pairs included, in the
             * tokener: they may span chunks). */
            j->scan = JJ_SCAN_STRING;
            continue;
        default:
            break;
        }
        if (rc != 0 || is_ws(c)) {
            continue;
        }
        /* Outside strings and tokens. */
        if (j->top_done) {
            return scan_fail(j, data, start, i, b, "unexpected data after the JSON document");
        }
        j->seen = true;
        if (c == '"' || c == '\'') {
            j->scan = JJ_SCAN_STRING;
            j->quote = c;
        }
        else if (c == '-' || is_digit(c)) {
            j->scan = JJ_SCAN_NUMBER;
            j->num = c == '-' ? JJ_NUM_MINUS : c == '0' ? JJ_NUM_ZERO : JJ_NUM_INT;
            j->ndigits = c != '-';
        }
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            j->scan = JJ_SCAN_WORD;
        }
        else if (c == '[' || c == '{') {
            if (++j->depth > JOB_JSON_MAX_DEPTH) {
                return scan_fail(j, data, start, i, b, JJ_DEPTH_ERROR);
            }
        }
        else if ((c == ']' || c == '}') && j->depth > 0) {
            j->top_done = --j->depth == 0;
        }
    }
    if (rc != 0) {
        return rc;
    }
    return flush(j, data, &start, len, b);
}

/* The body ended: completes the document (a number at the very end, missing closers, ...). */
static int
parse_finish(struct jj_job *j, struct batch *b)
{
    size_t start = 0;

    if (j->utf8_need > 0) {
        return parse_fail(j, b, j->offset, "invalid UTF-8 (truncated sequence)");
    }
    if (j->scan == JJ_SCAN_NUMBER) {
        if (j->num != JJ_NUM_ZERO && j->num != JJ_NUM_INT && j->num != JJ_NUM_FRAC &&
            j->num != JJ_NUM_EXP_DIGITS) {
            return parse_fail(j, b, j->offset, "invalid number");
        }
        if (number_end(j, "", &start, 0, b) != 0) {
            return -EINVAL;
        }
    }
    if (j->done) {
        return 0;
    }
    if (!j->seen) {
        return parse_fail(j, b, j->offset, "empty body");
    }
    /* json-c takes a NUL byte as the end of the input. */
    json_object *o = json_tokener_parse_ex(j->tok, "", 1);
    enum json_tokener_error e = json_tokener_get_error(j->tok);
    if (e == json_tokener_success) {
        j->root = o;
        j->done = true;
        return 0;
    }
    return parse_fail(j, b, j->offset,
                      e == json_tokener_continue ? "unexpected end of data" : tok_error(e));
}

/* ---- the run: extracting samples ---- */

/* Parses a numeric string (see job_json.h). */
static bool
parse_number_string(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len, *q;
    double sign = 1;
    char *end = NULL;

    while (p < e && (is_ws(*p) || *p == '\f' || *p == '\v')) {
        p++;
    }
    while (e > p && (is_ws(e[-1]) || e[-1] == '\f' || e[-1] == '\v')) {
        e--;
    }
    q = p;
    if (q < e && (*q == '+' || *q == '-')) {
        sign = *q == '-' ? -1 : 1;
        q++;
    }
    size_t n = (size_t)(e - q);
    if (q == p && n == 3 && strncasecmp(q, "nan", 3) == 0) {
        *out = NAN;
        return true;
    }
    if ((n == 3 && strncasecmp(q, "inf", 3) == 0) ||
        (n == 8 && strncasecmp(q, "infinity", 8) == 0)) {
        *out = sign * INFINITY;
        return true;
    }
    /* digits [. digits] or . digits, then an optional exponent: nothing strtod adds (hex). */
    const char *r = q;
    size_t int_digits = 0, frac_digits = 0;
    while (r < e && *r >= '0' && *r <= '9') {
        r++;
        int_digits++;
    }
    if (r < e && *r == '.') {
        r++;
        while (r < e && *r >= '0' && *r <= '9') {
            r++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0) {
        return false;
    }
    if (r < e && (*r == 'e' || *r == 'E')) {
        r++;
        if (r < e && (*r == '+' || *r == '-')) {
            r++;
        }
        if (r == e || *r < '0' || *r > '9') {
            return false;
        }
        while (r < e && *r >= '0' && *r <= '9') {
            r++;
        }
    }
    if (r != e) {
        return false;
    }
    /* What follows @e is white space or the NUL json-c keeps after every string. */
    *out = strtod(p, &end);
    return end == e;
}

/* Describes an unusable value for a "matched no number" error. */
static void
describe(char *buf, size_t len, json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_object:
        snprintf(buf, len, "an object");
        break;
    case json_type_array:
        snprintf(buf, len, "an array");
        break;
    default: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v), cut = n;
        if (cut > JJ_WHY_STRING_MAX) {
            cut = JJ_WHY_STRING_MAX;
            while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
                cut--; /* not in the middle of a UTF-8 sequence */
            }
        }
        snprintf(buf, len, "string \"%.*s%s\"", (int)cut, s, cut < n ? "..." : "");
        break;
    }
    }
}

static void
emit(struct jj_job *j, struct jj_eval *ev, double v)
{
    const struct jj_metric *m = ev->m;
    struct batch *b = ev->b;
    struct label *ls = NULL;

    if (m->nlabels > 0) {
        ls = arena_alloc(&b->arena, sizeof(*ls) * m->nlabels);
        if (ls == NULL) {
            ev->oom = true;
            return;
        }
    }
    for (size_t k = 0; k < m->nlabels; k++) {
        ls[k].name = m->labels[k].name;
        if (m->labels[k].wild < 0) {
            ls[k].value = m->labels[k].value;
            continue;
        }
        ls[k].value = arena_strdup(&b->arena, j->wild[m->labels[k].wild]);
        if (ls[k].value == NULL) {
            ev->oom = true;
            return;
        }
    }
    struct sample *s = batch_push(b);
    if (s == NULL) {
        ev->oom = true;
        return;
    }
    s->name = m->name;
    s->labels = ls;
    s->nlabels = (uint32_t)m->nlabels;
    s->type = (uint8_t)m->type;
    s->value = v;
    ev->produced++;
}

static void
leaf(struct jj_job *j, struct jj_eval *ev, json_object *v)
{
    double d;

    switch (json_object_get_type(v)) {
    case json_type_null:
        ev->absent++;
        return;
    case json_type_boolean:
        d = json_object_get_boolean(v) ? 1 : 0;
        break;
    case json_type_double:
    case json_type_int:
        /* int64 and uint64 alike; (double) rounds to nearest beyond 2^53. */
        d = json_object_get_double(v);
        break;
    case json_type_string:
        if (parse_number_string(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                                &d)) {
            break;
        }
        /* fall through */
    default:
        if (ev->unusable++ == 0) {
            describe(ev->why, sizeof(ev->why), v);
        }
        ev->absent++;
        return;
    }
    emit(j, ev, d);
}

/* Follows the path from segment @si (wildcard @wi next) over @node; recurses at wildcards. */
static void
walk(struct jj_job *j, struct jj_eval *ev, json_object *node, size_t si, size_t wi)
{
    const struct job_json_path *p = ev->m->path;

    for (; si < p->nsegs; si++) {
        const struct jj_seg *s = &p->segs[si];
        json_object *next = NULL;
        if (s->kind == JJ_SEG_KEY) {
            if (!json_object_is_type(node, json_type_object) ||
                !json_object_object_get_ex(node, s->key, &next)) {
                ev->absent++;
                return;
            }
            node = next;
            continue;
        }
        if (s->kind == JJ_SEG_INDEX) {
            if (!json_object_is_type(node, json_type_array) ||
                s->index >= json_object_array_length(node)) {
                ev->absent++;
                return;
            }
            node = json_object_array_get_idx(node, s->index);
            continue;
        }
        if (json_object_is_type(node, json_type_object)) {
            struct json_object_iterator it = json_object_iter_begin(node);
            struct json_object_iterator end = json_object_iter_end(node);
            for (; !json_object_iter_equal(&it, &end) && !ev->oom; json_object_iter_next(&it)) {
                j->wild[wi] = json_object_iter_peek_name(&it);
                walk(j, ev, json_object_iter_peek_value(&it), si + 1, wi + 1);
            }
            return;
        }
        if (json_object_is_type(node, json_type_array)) {
            size_t n = json_object_array_length(node);
            for (size_t i = 0; i < n && !ev->oom; i++) {
                snprintf(j->index[wi], sizeof(j->index[wi]), "%zu", i);
                j->wild[wi] = j->index[wi];
                walk(j, ev, json_object_array_get_idx(node, i), si + 1, wi + 1);
            }
            return;
        }
        ev->absent++;
        return;
    }
    leaf(j, ev, node);
}

/*
 * Names the paths that had absent values in b->warning ("json: 3 absent values, paths: a.b, c")
 * and logs it, rate-limited per target: at once when the set of paths changes, then at growing
 * intervals; one line when nothing is absent any more.
 */
static void
report_absent(struct jj_job *j, struct batch *b, size_t absent)
{
    char prefix[256], list[BATCH_ERROR_MAX];
    size_t o = 0, paths = 0, more = 0;
    unsigned h = 2166136261u;

    snprintf(prefix, sizeof(prefix), "%s/%s", b->job != NULL ? b->job : "",
             b->instance != NULL ? b->instance : "");
    if (absent == 0) {
        log_release(&j->absent_log, clock_mono_ms(), prefix);
        return;
    }
    list[0] = '\0';
    for (size_t i = 0; i < j->nmetrics; i++) {
        const char *path = j->metrics[i].path->text;
        if (j->metrics[i].absent == 0) {
            continue;
        }
        for (const char *c = path; *c != '\0'; c++) {
            h = (h ^ (unsigned char)*c) * 16777619u;
        }
        /* Room for this path and what comes around it ("json: N absent values, paths: ",
         * " and N more"). */
        if (more == 0 && o + strlen(path) + 2 + 80 < sizeof(list)) {
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", paths > 0 ? ", " : "", path);
        }
        else {
            more++;
        }
        paths++;
    }
    if (more > 0) {
        snprintf(list + o, sizeof(list) - o, " and %zu more", more);
    }
    /* list leaves room for the rest (see above); the precision says so to the compiler too */
    snprintf(b->warning, sizeof(b->warning), "json: %zu absent value%s, path%s: %.*s", absent,
             absent == 1 ? "" : "s", paths == 1 ? "" : "s", (int)(sizeof(b->warning) - 56), list);
    log_complain(&j->absent_log, clock_mono_ms(), (int)(h & 0x7fffffffu) | 1, prefix, "%s",
                 b->warning);
}

/* Walks every metric's path over the document; fails @b on a required miss or OOM. */
static void
extract(struct jj_job *j, struct batch *b)
{
    size_t produced = 0, absent = 0;

    for (size_t i = 0; i < j->nmetrics; i++) {
        struct jj_eval ev = {.b = b, .m = &j->metrics[i]};
        walk(j, &ev, j->root, 0, 0);
        if (ev.oom) {
            batch_fail(b, REASON_INTERNAL, "out of memory");
            return;
        }
        if (ev.produced == 0 && ev.m->required) {
            if (ev.unusable > 0) {
                batch_fail(b, REASON_PARSE, "path %s matched no number (%s)", ev.m->path->text,
                           ev.why);
            }
            else {
                batch_fail(b, REASON_PARSE, "path %s matched nothing", ev.m->path->text);
            }
            return;
        }
        produced += ev.produced;
        absent += ev.absent;
        j->metrics[i].absent = ev.absent;
    }
    b->samples_scraped = (int64_t)produced;
    report_absent(j, b, absent);
    if (batch_add(b, JOB_JSON_ABSENT_METRIC, SAMPLE_GAUGE, (double)absent, 0) != 0) {
        batch_fail(b, REASON_INTERNAL, "out of memory");
    }
}

/* ---- the kind ---- */

static void
jj_free(void *state)
{
    struct jj_job *j = state;

    if (j == NULL) {
        return;
    }
    run_reset(j);
    for (size_t i = 0; i < j->nmetrics; i++) {
        metric_release(&j->metrics[i]);
    }
    free(j->metrics);
    free(j->wild);
    free(j->index);
    free(j);
}

void *
job_json_new(const struct job_json_metric_opts *metrics, size_t n, char *err, size_t errlen)
{
    struct jj_job *j = calloc(1, sizeof(*j));
    char why[256];

    if (j == NULL || (j->metrics = calloc(n + 1, sizeof(*j->metrics))) == NULL) {
        snprintf(err, errlen, "out of memory");
        jj_free(j);
        return NULL;
    }
    if (n == 0) {
        snprintf(err, errlen, "no metrics");
        jj_free(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (metric_build(&j->metrics[i], &metrics[i], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "metrics[%zu] (%s): %s", i,
                     metrics[i].name != NULL ? metrics[i].name : "", why);
            jj_free(j);
            return NULL;
        }
        j->nmetrics++;
        if (j->metrics[i].path->nwild > j->maxwild) {
            j->maxwild = j->metrics[i].path->nwild;
        }
    }
    j->wild = calloc(j->maxwild + 1, sizeof(*j->wild));
    j->index = calloc(j->maxwild + 1, sizeof(*j->index));
    if (j->wild == NULL || j->index == NULL) {
        snprintf(err, errlen, "out of memory");
        jj_free(j);
        return NULL;
    }
    return j;
}

/* Sets no request option: headers, auth and TLS are the scrape's. */
static int
jj_prepare(void *state, CURL *easy, struct batch *b)
{
    struct jj_job *j = state;

    (void)easy;
    run_reset(j);
    /*
     * The scanner enforces JOB_JSON_MAX_DEPTH at the exact byte; json-c counts levels its own
     * way, so its limit is set beyond ours and is only a backstop.
     */
    j->tok = json_tokener_new_ex(JOB_JSON_MAX_DEPTH + 2);
    if (j->tok == NULL) {
        batch_fail(b, REASON_INTERNAL, "out of memory");
        return -ENOMEM;
    }
    json_tokener_set_flags(j->tok, JSON_TOKENER_STRICT);
    return 0;
}

static int
jj_body_start(void *state, CURL *easy, struct batch *b)
{
    struct jj_job *j = state;
    long status = 0;

    (void)b;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    /* Not the document: the status fails the run in finish. */
    j->skip = scrape_reason_for_status(status) != REASON_NONE;
    return 0;
}

static int
jj_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct jj_job *j = state;

    if (j->skip) {
        return 0;
    }
    if (j->tok == NULL) {
        batch_fail(b, REASON_INTERNAL, "json: run not prepared");
        return -EINVAL;
    }
    if (j->failed) {
        return -EINVAL;
    }
    int rc = parse_chunk(j, data, len, b);
    j->offset += len;
    return rc;
}

static void
jj_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct jj_job *j = state;

    (void)easy;
    if (b->ok && scrape_reason_for_status(res->http_status) != REASON_NONE) {
        batch_fail(b, scrape_reason_for_status(res->http_status), "HTTP %ld", res->http_status);
    }
    if (b->ok && j->tok == NULL) {
        batch_fail(b, REASON_INTERNAL, "json: run not prepared");
    }
    if (b->ok && !j->failed && parse_finish(j, b) == 0) {
        extract(j, b);
    }
    run_reset(j);
    if (!b->ok) {
        /* A failed run forwards no partial samples. */
        b->nsamples = 0;
        b->samples_scraped = 0;
    }
}

const struct job_kind job_json = {
    .name = "json",
    .prepare = jj_prepare,
    .body_start = jj_body_start,
    .feed = jj_feed,
    .finish = jj_finish,
    .free = jj_free,
};

/* The json kind in the config: json_jobs */

static const struct conf_choice metric_type_choices[] = {{"gauge", SAMPLE_GAUGE, false},
                                                         {"counter", SAMPLE_COUNTER, false},
                                                         {"untyped", SAMPLE_UNTYPED, false},
                                                         {NULL, 0, false}};

_Static_assert(sizeof(enum sample_type) == sizeof(int), "enum size");

static void metric_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                         const char *path);
static void json_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);

#define JM(k, t, m, ...) CONF_FLD(k, t, struct job_json_conf_metric, m, __VA_ARGS__)
static const struct conf_field json_metric_fields[] = {
    JM("name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Metric name (Prometheus syntax)."),
    JM("path", CONF_FT_STR, path, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Where the value is in the body (json job path syntax)."),
    JM("type", CONF_FT_ENUM, type, .def = "gauge", .choices = metric_type_choices,
       .desc = "gauge, counter or untyped."),
    CONF_FLDN("labels", CONF_FT_LABELS, struct job_json_conf_metric, labels, nlabels,
              .desc = "Labels of the metric."),
    JM("label", CONF_FT_STR, label, .flags = CONF_F_NONEMPTY,
       .desc = "Label name taking the key or index matched by a wildcard (comma-separated "
               "names, one per wildcard in path order)."),
    JM("required", CONF_FT_BOOL, required, .def = "false",
       .desc = "Fail the run when the path matches nothing."),
};
#undef JM
static const struct conf_section json_metric_section = {.name = "metrics[]",
                                                        CONF_FIELDS(json_metric_fields),
                                                        .size = sizeof(struct job_json_conf_metric),
                                                        .check = metric_check};

#define SC(k, t, m, ...) CONF_FLD(k, t, struct config_job, m, __VA_ARGS__)
static const struct conf_field json_fields[] = {
    SC("name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("url", CONF_FT_DEFER, name, .flags = CONF_F_REQUIRED,
       .desc = "http or https URL of the JSON."),
    SC("interval", CONF_FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", CONF_FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    CONF_HTTP_JOB_FIELDS,
    CONF_FLDN("labels", CONF_FT_LABELS, struct config_job, labels, nlabels,
              .desc = "Labels of every sample."),
    CONF_FLDN("metrics", CONF_FT_LIST, struct job_json_conf, metrics, nmetrics,
              .flags = CONF_F_REQUIRED | CONF_F_OPTS, .sub = &json_metric_section,
              .desc = "What to read from the body."),
};
#undef SC
static const struct conf_section json_section = {.name = "json_jobs[]",
                                                 CONF_FIELDS(json_fields),
                                                 .opts_off = offsetof(struct config_job, opts),
                                                 .opts_size = sizeof(struct job_json_conf),
                                                 .check = json_check};

static void
metric_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct job_json_conf_metric *m = base;
    const struct conf_node *n = conf_tree_get(map, "name");

    if (m->name != NULL && n != NULL && m->name[0] != '\0' && !conf_is_metric_name(m->name)) {
        conf_err(x, n, "invalid metric name \"%s\" in %s", m->name, path);
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
        const struct conf_node *pn = conf_tree_get(map, "path");
        conf_err(x, pn != NULL ? pn : n, "%s in %s", why, path);
    }
}

/* One target, the URL; its instance is the URL's host[:port]. */
static void
json_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_job *job = base;
    const struct conf_node *n = conf_tree_get(map, "url");

    if (n != NULL) {
        conf_targets_url(x, job, n, true, path);
    }
    n = conf_tree_get(map, "metrics");
    if (n != NULL && n->kind == CONF_NODE_SEQ && n->n == 0) {
        conf_err(x, n, "metrics must not be empty in %s", path);
    }
}

static void *
json_state_new(const struct config_job *job, char *err, size_t errlen)
{
    const struct job_json_conf *jc = job->opts;
    struct job_json_metric_opts *m = calloc(jc->nmetrics, sizeof(*m));
    void *state;

    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < jc->nmetrics; i++) {
        const struct job_json_conf_metric *cm = &jc->metrics[i];
        m[i] = (struct job_json_metric_opts){
            .name = cm->name,
            .path = cm->path,
            .type = cm->type,
            .labels = cm->labels,
            .nlabels = cm->nlabels,
            .label = cm->label,
            .required = cm->required,
        };
    }
    state = job_json_new(m, jc->nmetrics, err, errlen);
    free(m);
    return state;
}

static void
json_identity(const struct config_job *job, struct strbuf *sb)
{
    const struct job_json_conf *jc = job->opts;

    for (size_t i = 0; i < jc->nmetrics; i++) {
        const struct job_json_conf_metric *m = &jc->metrics[i];
        strbuf_printf(sb, "J%s|%s|%d|%s|%d|", m->name, m->path, (int)m->type,
                      m->label ? m->label : "", m->required);
        for (size_t k = 0; k < m->nlabels; k++) {
            strbuf_printf(sb, "%s=%s,", m->labels[k].name, m->labels[k].value);
        }
        strbuf_putc(sb, '\x1f');
    }
}

const struct kind job_json_kind = {
    .name = "json",
    .section = "json_jobs",
    .name_key = "name",
    .interval_key = "interval",
    .timeout_key = "timeout",
    .desc = "Metrics read from JSON bodies.",
    .conf = &json_section,
    .ops = &job_json,
    .state_new = json_state_new,
    .identity = json_identity,
};
