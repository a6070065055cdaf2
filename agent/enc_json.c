/*
 * The native JSON encoder (DESIGN.md, "Output JSON"): streams a batch as one line of JSON text
 * into a struct strbuf. The strings and numbers in it are written by jsonw (the JSON text writer
 * every text encoder shares); this file owns the line's shape and what makes it cheap per sample.
 *
 * Speed matters here (DESIGN.md, "Performance targets": 500 ns per sample for everything), so:
 *
 *   - a sample's writer reserves room per variable-length piece (plus the fixed text that
 *     follows it) and stores through a local pointer into sb->data with jsonw's inline
 *     jsonw_put_*() writers, instead of calling an append per piece;
 *   - within one batch, the text a sample repeats from the previous one (its name and the
 *     labels up to the first that differs) is copied from the output in one piece, and later
 *     label names and values found at the same position in the previous sample are copied too,
 *     when the sample points to the same strings: the Prometheus parser shares them between
 *     the consecutive samples of a family (see struct enc_cache).
 *
 * tests/check_enc_json.c compares whole batches with an independent encoder written there.
 */
#include "build-config.h"

#include "enc_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "jsonw.h"

#define ENC_JSON_CACHE_LABELS 8 /* label positions whose text is remembered */
/* },"value":<number>,"ts_ms":<int64>} around a sample's type text */
#define ENC_JSON_TAIL_MAX (10 + JSONW_NUM_MAX + 9 + JSONW_I64_MAX + 1)

const struct encoder enc_json = {
    .name = "json",
    .content_type = "application/x-ndjson",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = enc_json_batch,
};

/* JSON text this call has already written: sb->data[off .. off + len) (offsets: data moves). */
struct enc_ref {
    const void *key; /* borrowed: what the text encodes; NULL: unused */
    size_t off;
    size_t len;
};

/*
 * What one enc_json_batch() call remembers of the previous sample: where its text is and which
 * strings it encodes. The Prometheus parser gives the consecutive samples of a family one name
 * string, reuses the previous sample's label name and value strings position by position where
 * they are equal, and its whole label array when all labels are. So a sample usually repeats
 * the previous one's text from its '{' up to its last label value or so, and that text is copied
 * in one piece instead of being escaped again; later label names it repeats are copied too.
 *
 * While enc_json_batch() runs the batch is read-only, so the same address means the same string
 * (NULL, written "", matches NULL) and therefore the same text. The cache lives on
 * enc_json_batch()'s stack, so it never outlives the batch whose addresses it holds: the next
 * batch may have other strings at the same addresses (its arena reuses the memory).
 */
struct enc_cache {
    const char *name; /* borrowed: its name; before the first sample, the cache's own address */
    size_t start;     /* its text {"name":..,"labels":{ starts at sb->data + start */
    size_t lstart;    /* and its labels' members at sb->data + lstart */
    uint32_t npos;    /* label positions recorded: min(nlabels, ENC_JSON_CACHE_LABELS) */
    const char *lname[ENC_JSON_CACHE_LABELS];  /* borrowed: its label i's name */
    const char *lvalue[ENC_JSON_CACHE_LABELS]; /* borrowed: and value */
    /*
     * Label i's "<value>" is sb->data[lstart + vstart[i] .. lstart + vend[i]); its "<name>":
     * ends at vstart[i] and starts at 0 (i = 0) or at vend[i - 1] + 1 (after the ',').
     */
    size_t vstart[ENC_JSON_CACHE_LABELS];
    size_t vend[ENC_JSON_CACHE_LABELS];
    struct enc_ref type[SAMPLE_TYPE__COUNT]; /* ,"type":"<name>" by type (key: the name) */
};

/*
 * Copies @n bytes between buffers that do not overlap with fixed-size moves (overlapping ones
 * at the end), so the short texts of a sample need no call to memcpy.
 */
static inline void
copy_text(char *dst, const char *src, size_t n)
{
    uint64_t a, b;
    uint32_t c, d;
    size_t i;

    if (n >= 16) {
        for (i = 0; i + 16 < n; i += 16) {
            memcpy(dst + i, src + i, 16);
        }
        memcpy(dst + n - 16, src + n - 16, 16);
    }
    else if (n >= 8) {
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    }
    else if (n >= 4) {
        memcpy(&c, src, 4);
        memcpy(&d, src + n - 4, 4);
        memcpy(dst, &c, 4);
        memcpy(dst + n - 4, &d, 4);
    }
    else if (n > 0) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/*
 * Stores a copy of the text at sb->data[@from .. @to) at @p, after making room for it and
 * @slack more bytes; returns the end, or NULL when sb became oom.
 */
static inline char *
put_copy(struct strbuf *sb, char *p, size_t from, size_t to, size_t slack)
{
    if (!jsonw_ensure(sb, &p, to - from + slack)) {
        return NULL;
    }
    copy_text(p, sb->data + from, to - from);
    return p + (to - from);
}

/* Empties @c: no previous sample, no type text. */
static void
enc_cache_init(struct enc_cache *c)
{
    c->name = (const char *)c; /* no sample's name: it is not a string of the batch */
    c->start = 0;
    c->lstart = 0;
    c->npos = 0;
    memset(c->type, 0, sizeof(c->type));
}

/*
 * Appends one sample object, preceded by ',' when @comma, copying what it repeats of the
 * previous sample's text (see struct enc_cache) and recording its own in @c. On oom it stops
 * where it was; the caller tests sb->oom.
 */
static void
put_sample(struct strbuf *sb, const struct sample *s, struct enc_cache *c, bool comma)
{
    const struct label *l = s->labels;
    const char *type = NULL;
    struct enc_ref *tr = NULL;
    size_t slack, tlen, start, lstart, to, nfrom, next_nfrom;
    uint32_t n = s->nlabels, npos = c->npos, k = 0, lim, j;
    bool name_hit;
    char *p;

    /* The type text first: its length is part of the slack every piece reserves. */
    if (s->type < SAMPLE_TYPE__COUNT) {
        tr = &c->type[s->type];
    }
    if (tr != NULL && tr->key != NULL) {
        tlen = tr->len;
    }
    else {
        type = sample_type_name((enum sample_type)s->type);
        tlen = 9 + strlen(type) + 1;
    }
    /*
     * Every piece of variable length makes room for itself plus this much, which covers the
     * fixed text written until the next piece: ',"labels":{', a ',' and a ':', or the tail.
     */
    slack = 11 + 2 + ENC_JSON_TAIL_MAX + tlen;
    if (!strbuf_room(sb, 1 + 8 + slack)) {
        return;
    }
    p = sb->data + sb->len;
    if (comma) {
        *p++ = ',';
    }
    start = (size_t)(p - sb->data);

    /* Labels equal to the previous sample's at the same positions: k of them, then a name? */
    lim = n < npos ? n : npos;
    while (k < lim && l[k].name == c->lname[k] && l[k].value == c->lvalue[k]) {
        k++;
    }
    name_hit = k < lim && l[k].name == c->lname[k];
    to = name_hit ? c->vstart[k] : k > 0 ? c->vend[k - 1] : 0; /* relative to lstart */

    if (s->name == c->name) {
        /* {"name":"<name>","labels":{ and the repeated labels: one copy */
        p = put_copy(sb, p, c->start, c->lstart + to, slack);
        if (p == NULL) {
            return;
        }
        lstart = start + (c->lstart - c->start);
    }
    else {
        memcpy(p, "{\"name\":", 8);
        p = jsonw_put_cstr_at(sb, p + 8, s->name, slack);
        if (p == NULL) {
            return;
        }
        memcpy(p, ",\"labels\":{", 11);
        p += 11;
        lstart = (size_t)(p - sb->data);
        if (to > 0) {
            p = put_copy(sb, p, c->lstart, c->lstart + to, slack);
            if (p == NULL) {
                return;
            }
        }
    }

    /*
     * The rest of the labels; a name or value the previous sample had at the same position is
     * copied. Positions below k keep their offsets (relative to lstart); the others are
     * overwritten as they are written, so the previous sample's vend[j] is kept for j + 1.
     */
    nfrom = k > 0 ? c->vend[k - 1] + 1 : 0;
    for (j = k; j < n; j++) {
        if (j > k || !name_hit) {
            if (j > 0) {
                *p++ = ',';
            }
            if (j < npos && l[j].name == c->lname[j]) {
                p = put_copy(sb, p, c->lstart + nfrom, c->lstart + c->vstart[j], slack);
            }
            else {
                p = jsonw_put_cstr_at(sb, p, l[j].name, slack);
                if (p != NULL) {
                    *p++ = ':';
                }
            }
            if (p == NULL) {
                return;
            }
        }
        if (j >= ENC_JSON_CACHE_LABELS) {
            p = jsonw_put_cstr_at(sb, p, l[j].value, slack);
        }
        else {
            next_nfrom = c->vend[j] + 1;
            if (j < npos && l[j].value == c->lvalue[j]) {
                p = put_copy(sb, p, c->lstart + c->vstart[j], c->lstart + c->vend[j], slack);
                /* same text, so the same length: vend[j] - vstart[j] stays */
                c->vstart[j] = (size_t)(p - sb->data) - lstart - (c->vend[j] - c->vstart[j]);
            }
            else {
                c->vstart[j] = (size_t)(p - sb->data) - lstart;
                p = jsonw_put_cstr_at(sb, p, l[j].value, slack);
            }
            if (p == NULL) {
                return;
            }
            c->vend[j] = (size_t)(p - sb->data) - lstart;
            c->lname[j] = l[j].name;
            c->lvalue[j] = l[j].value;
            nfrom = next_nfrom;
        }
    }
    c->name = s->name;
    c->start = start;
    c->lstart = lstart;
    c->npos = n < ENC_JSON_CACHE_LABELS ? n : ENC_JSON_CACHE_LABELS;

    /* },"value":<v>,"type":"<type>"[,"ts_ms":<ts>]}: within the slack */
    memcpy(p, "},\"value\":", 10);
    p = jsonw_put_double(p + 10, s->value);
    if (type == NULL) {
        copy_text(p, sb->data + tr->off, tlen);
    }
    else {
        memcpy(p, ",\"type\":\"", 9); /* type names need no escaping */
        memcpy(p + 9, type, tlen - 10);
        p[tlen - 1] = '"';
        if (tr != NULL) {
            tr->key = type;
            tr->off = (size_t)(p - sb->data);
            tr->len = tlen;
        }
    }
    p += tlen;
    if (s->has_ts) {
        memcpy(p, ",\"ts_ms\":", 9);
        p = jsonw_put_i64(p + 9, s->ts_ms);
    }
    *p++ = '}';
    sb->len = (size_t)(p - sb->data);
    *p = '\0';
}

/* Appends one sample object; see enc_json.h. */
void
enc_json_sample(struct strbuf *sb, const struct sample *s)
{
    struct enc_cache c;

    enc_cache_init(&c);
    put_sample(sb, s, &c, false);
}

/* Appends the members of the target labels object (without braces), in array order. */
static void
put_target_labels(struct strbuf *sb, const struct label *labels, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            STRBUF_PUT_LIT(sb, ",");
        }
        jsonw_cstr(sb, labels[i].name);
        STRBUF_PUT_LIT(sb, ":");
        jsonw_cstr(sb, labels[i].value);
    }
}

/*
 * Appends @b as one JSON line; see enc_json.h. Called on the loop thread by outputs (through
 * the encoder table) and by --once / --parse; reads @b only.
 */
int
enc_json_batch(struct strbuf *sb, const struct batch *b)
{
    struct enc_cache cache; /* starts empty for every batch: see struct enc_cache */
    size_t start = sb->len;
    const char *reason;
    size_t i;

    enc_cache_init(&cache);
    STRBUF_PUT_LIT(sb, "{\"ts_ms\":");
    jsonw_i64(sb, b->ts_ms);
    STRBUF_PUT_LIT(sb, ",\"job\":");
    jsonw_cstr_or_null(sb, b->job);
    STRBUF_PUT_LIT(sb, ",\"instance\":");
    jsonw_cstr_or_null(sb, b->instance);
    STRBUF_PUT_LIT(sb, ",\"url\":");
    jsonw_cstr_or_null(sb, b->url);
    if (b->ok) {
        STRBUF_PUT_LIT(sb, ",\"ok\":true");
    }
    else {
        reason = b->reason == REASON_NONE ? reason_name(REASON_INTERNAL) : reason_name(b->reason);
        STRBUF_PUT_LIT(sb, ",\"ok\":false,\"reason\":\"");
        strbuf_put(sb, reason, strlen(reason)); /* reason names need no escaping */
        STRBUF_PUT_LIT(sb, "\"");
    }
    STRBUF_PUT_LIT(sb, ",\"status\":");
    if (b->http_status == 0) {
        STRBUF_PUT_LIT(sb, "null");
    }
    else {
        jsonw_i64(sb, b->http_status);
    }
    STRBUF_PUT_LIT(sb, ",\"duration_s\":");
    jsonw_double(sb, b->duration_s);
    STRBUF_PUT_LIT(sb, ",\"error\":");
    if (b->ok) {
        STRBUF_PUT_LIT(sb, "null");
    }
    else {
        jsonw_string(sb, b->error, strnlen(b->error, sizeof(b->error)));
    }
    STRBUF_PUT_LIT(sb, ",\"labels\":{");
    put_target_labels(sb, b->target_labels, b->ntarget_labels);
    STRBUF_PUT_LIT(sb, "},\"samples\":[");
    for (i = 0; i < b->nsamples && !sb->oom; i++) {
        put_sample(sb, &b->samples[i], &cache, i > 0);
    }
    STRBUF_PUT_LIT(sb, "]}\n");

    if (sb->oom) {
        if (sb->data != NULL) {
            sb->len = start;
            sb->data[start] = '\0';
        }
        return -ENOMEM;
    }
    return 0;
}
