/*
 * The "remote_write" output format (enc_remote_write.h): label sets built once per sample and
 * shared by the protobuf writer and the readable dump.
 *
 * The wire format (prometheus/prompb remote.proto, types.proto) written here:
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 * Every length is known before a byte is written, so a series is written in one pass into room
 * reserved once.
 */
#include "build-config.h"

#include "enc_remote_write.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "stale.h"

#define RW_NAME "__name__"

/* Protobuf keys: (field << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited). */
#define RW_KEY_TIMESERIES 0x0a /* WriteRequest.timeseries, 1, LEN */
#define RW_KEY_LABELS 0x0a     /* TimeSeries.labels, 1, LEN */
#define RW_KEY_SAMPLES 0x12    /* TimeSeries.samples, 2, LEN */
#define RW_KEY_NAME 0x0a       /* Label.name, 1, LEN */
#define RW_KEY_VALUE 0x12      /* Label.value, 2, LEN */
#define RW_KEY_SVALUE 0x09     /* Sample.value, 1, I64 */
#define RW_KEY_TS 0x10         /* Sample.timestamp, 2, VARINT */

void
enc_rw_scratch_release(struct enc_rw_scratch *x)
{
    free(x->labels);
    free(x->lens);
    free(x->common);
    free(x->clens);
    free(x->tmp);
    free(x->pieces);
    free(x->coff);
    free(x->idx);
    free(x->tpl);
    free(x->tpl_names);
    strbuf_release(&x->cenc);
    if (x->arena_ready) {
        arena_release(&x->arena);
    }
    memset(x, 0, sizeof(*x));
}

static int
grow_one(void **p, size_t size, size_t n)
{
    void *q = realloc(*p, size * n);

    if (q == NULL) {
        return -ENOMEM;
    }
    *p = q;
    return 0;
}

/* Room for @n labels in every array (a series has at most that many). */
static int
scratch_grow(struct enc_rw_scratch *x, size_t n)
{
    if (n <= x->cap) {
        return 0;
    }
    size_t c = x->cap > 0 ? x->cap : 32;
    while (c < n) {
        c *= 2;
    }
    if (grow_one((void **)&x->labels, sizeof(*x->labels), c) != 0 ||
        grow_one((void **)&x->common, sizeof(*x->common), c) != 0 ||
        grow_one((void **)&x->tmp, sizeof(*x->tmp), c) != 0 ||
        grow_one((void **)&x->lens, sizeof(*x->lens), 2 * c) != 0 ||
        grow_one((void **)&x->clens, sizeof(*x->clens), 2 * c) != 0 ||
        grow_one((void **)&x->pieces, sizeof(*x->pieces), 2 * c + 2) != 0 ||
        grow_one((void **)&x->coff, sizeof(*x->coff), c + 1) != 0 ||
        grow_one((void **)&x->idx, sizeof(*x->idx), c) != 0 ||
        grow_one((void **)&x->tpl, sizeof(*x->tpl), 2 * c + 2) != 0 ||
        grow_one((void **)&x->tpl_names, sizeof(*x->tpl_names), c) != 0) {
        return -ENOMEM; /* the arrays that grew stay usable; cap is unchanged */
    }
    x->cap = c;
    return 0;
}

static inline const char *
str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static inline bool
is_name_label(const char *name)
{
    return name[0] == '_' && strcmp(name, RW_NAME) == 0;
}

/*
 * Sorts @n labels by name, stably (insertion sort: a series has few labels, usually written
 * sorted already, so this is n - 1 comparisons), then keeps the last of equal names (the later,
 * more specific one). Returns the new count.
 */
static size_t
sort_dedup(struct label *l, size_t n)
{
    size_t k = 0;

    for (size_t i = 1; i < n; i++) {
        struct label t = l[i];
        size_t j = i;
        while (j > 0 && strcmp(l[j - 1].name, t.name) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(l[i].name, l[i + 1].name) == 0) {
            continue;
        }
        l[k++] = l[i];
    }
    return k;
}

static inline size_t
varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline char *
put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static inline char *
put_bytes(char *p, unsigned char key, const char *s, size_t n)
{
    *p++ = (char)key;
    p = put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* The size of a Label entry of TimeSeries (key, length, message) with these lengths. */
static inline size_t
label_entry_len(size_t nlen, size_t vlen)
{
    size_t lsz = 2 + varint_len(nlen) + nlen + varint_len(vlen) + vlen;

    return 1 + varint_len(lsz) + lsz;
}

static inline char *
put_label_entry(char *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
    *p++ = RW_KEY_LABELS;
    p = put_varint(p, 2 + varint_len(nlen) + nlen + varint_len(vlen) + vlen);
    p = put_bytes(p, RW_KEY_NAME, name, nlen);
    return put_bytes(p, RW_KEY_VALUE, value, vlen);
}

/*
 * Once per record (samples [@from, @to) of @b): job, instance and the target labels (a target
 * label overrides job and instance), sorted, with their lengths, and where __name__ falls among
 * them. The label of a name "__name__" is left out (the sample's name wins). Only the record's
 * samples are looked at (a batch in records is not scanned once per record). 0 or -ENOMEM.
 */
static int
common_init(struct enc_rw_scratch *x, const struct batch *b, size_t from, size_t to)
{
    size_t n = 0, most = 0;

    for (size_t i = from; i < to; i++) {
        if (b->samples[i].nlabels > most) {
            most = b->samples[i].nlabels;
        }
    }
    /* A series: job, instance, the target labels, the sample's labels and __name__. */
    if (scratch_grow(x, 3 + b->ntarget_labels + most) != 0) {
        return -ENOMEM;
    }
    struct label *c = x->common;
    if (b->job != NULL) {
        c[n++] = (struct label){"job", b->job};
    }
    if (b->instance != NULL) {
        c[n++] = (struct label){"instance", b->instance};
    }
    for (uint32_t i = 0; i < b->ntarget_labels; i++) {
        const char *name = str_or_empty(b->target_labels[i].name);
        if (!is_name_label(name)) {
            c[n++] = (struct label){name, str_or_empty(b->target_labels[i].value)};
        }
    }
    n = sort_dedup(c, n);
    x->ncommon = n;
    x->tpl_ok = false; /* the template's runs are this batch's */
    x->name_ptr = NULL;
    x->name_pos = 0;
    strbuf_reset(&x->cenc);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(c[i].name), vl = strlen(c[i].value);
        x->clens[2 * i] = nl;
        x->clens[2 * i + 1] = vl;
        if (strcmp(c[i].name, RW_NAME) < 0) {
            x->name_pos = i + 1;
        }
        x->coff[i] = x->cenc.len;
        if (vl > 0 && strbuf_room(&x->cenc, label_entry_len(nl, vl))) {
            char *e = put_label_entry(x->cenc.data + x->cenc.len, c[i].name, nl, c[i].value, vl);
            x->cenc.len = (size_t)(e - x->cenc.data);
        }
    }
    x->coff[n] = x->cenc.len;
    return x->cenc.oom ? -ENOMEM : 0;
}

/* Appends @l to the series being built unless its value is empty (empty = no label). */
static inline void
emit_label(struct enc_rw_scratch *x, size_t *n, struct label l, size_t nlen, size_t vlen)
{
    if (vlen == 0) {
        return;
    }
    x->labels[*n] = l;
    x->lens[2 * *n] = nlen;
    x->lens[2 * *n + 1] = vlen;
    (*n)++;
}

/* Appends a slot: the common run [@a, @b), when not empty. */
static inline void
slot_run(struct enc_rw_scratch *x, size_t a, size_t b)
{
    if (b > a) {
        x->tpl[x->ntpl++] = (struct enc_rw_slot){.a = (uint32_t)a, .b = (uint32_t)b};
    }
}

/*
 * The template of @s's series (x->tpl): common_init()'s labels merged with @s's (sorted, the
 * sample's winning on equal names, the last of its own equal names), __name__ at its place.
 * Runs of common labels stay runs, so their encoded bytes are copied whole.
 */
static void
tpl_build(struct enc_rw_scratch *x, const struct sample *s)
{
    const struct label *l = s->labels;
    uint32_t *t = x->idx, m = 0, k = 0;
    size_t ci = 0, si = 0, run = 0;
    bool name_left = true;

    for (uint32_t i = 0; i < s->nlabels; i++) {
        x->tpl_names[i] = l[i].name;
        if (!is_name_label(str_or_empty(l[i].name))) {
            t[m++] = i;
        }
    }
    for (uint32_t i = 1; i < m; i++) { /* stable insertion sort, as sort_dedup */
        uint32_t v = t[i], j = i;
        while (j > 0 && strcmp(str_or_empty(l[t[j - 1]].name), str_or_empty(l[v].name)) > 0) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = v;
    }
    for (uint32_t i = 0; i < m; i++) {
        if (i + 1 < m && strcmp(str_or_empty(l[t[i]].name), str_or_empty(l[t[i + 1]].name)) == 0) {
            continue;
        }
        t[k++] = t[i];
    }
    x->ntpl = 0;
    for (;;) {
        bool name_now = ci == x->name_pos && name_left;
        const char *cn = name_now ? RW_NAME : ci < x->ncommon ? x->common[ci].name : NULL;
        if (cn == NULL && si == k) {
            break;
        }
        const char *sn = si < k ? str_or_empty(l[t[si]].name) : NULL;
        int cmp = cn == NULL ? 1 : sn == NULL ? -1 : strcmp(cn, sn);
        if (cmp < 0 && !name_now) {
            ci++; /* the run goes on */
            continue;
        }
        slot_run(x, run, ci);
        if (cmp < 0) {
            x->tpl[x->ntpl++] =
                (struct enc_rw_slot){.j = ENC_RW_SLOT_NAME, .nlen = sizeof(RW_NAME) - 1};
            name_left = false;
        }
        else {
            if (cmp == 0 && !name_now) {
                ci++; /* the sample's label replaces the common one */
            }
            x->tpl[x->ntpl++] = (struct enc_rw_slot){.j = t[si], .nlen = strlen(sn)};
            si++;
        }
        run = ci;
    }
    slot_run(x, run, ci);
    x->tpl_n = s->nlabels;
    x->tpl_ok = true;
}

/* Whether the template was made for @s's label names (the same strings, in the same order). */
static inline bool
tpl_fits(const struct enc_rw_scratch *x, const struct sample *s)
{
    if (!x->tpl_ok || s->nlabels != x->tpl_n) {
        return false;
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (s->labels[i].name != x->tpl_names[i]) {
            return false;
        }
    }
    return true;
}

/* Appends a piece: one label, unless its value is empty (= no label). */
static inline void
piece_label(struct enc_rw_scratch *x, size_t *np, const char *name, size_t nlen, const char *value,
            size_t vlen)
{
    if (vlen > 0) {
        x->pieces[(*np)++] =
            (struct enc_rw_piece){.name = name, .value = value, .nlen = nlen, .vlen = vlen};
    }
}

/*
 * The series of @s as sent, as pieces (x->pieces): its template (made anew when its label names
 * changed) filled with @s's values. Returns the number of pieces.
 */
static size_t
pieces_build(struct enc_rw_scratch *x, const struct sample *s)
{
    size_t np = 0;

    if (!tpl_fits(x, s)) {
        tpl_build(x, s);
    }
    for (size_t i = 0; i < x->ntpl; i++) {
        const struct enc_rw_slot *sl = &x->tpl[i];
        if (sl->b > 0) {
            if (np > 0 && x->pieces[np - 1].b == sl->a && sl->a > 0) {
                x->pieces[np - 1].b = sl->b; /* joins the run before (a label between was empty) */
            }
            else {
                x->pieces[np++] = (struct enc_rw_piece){.a = sl->a, .b = sl->b};
            }
        }
        else if (sl->j == ENC_RW_SLOT_NAME) {
            const char *name = str_or_empty(s->name);
            if (name != x->name_ptr) {
                x->name_ptr = name;
                x->name_len = strlen(name);
            }
            piece_label(x, &np, RW_NAME, sl->nlen, name, x->name_len);
        }
        else {
            const struct label *l = &s->labels[sl->j];
            const char *v = str_or_empty(l->value);
            piece_label(x, &np, str_or_empty(l->name), sl->nlen, v, strlen(v));
        }
    }
    return np;
}

/* The label set of @np pieces into x->labels and x->lens; returns the count. */
static size_t
pieces_expand(struct enc_rw_scratch *x, size_t np)
{
    size_t n = 0;

    for (size_t i = 0; i < np; i++) {
        const struct enc_rw_piece *p = &x->pieces[i];
        if (p->b == 0) {
            emit_label(x, &n, (struct label){p->name, p->value}, p->nlen, p->vlen);
            continue;
        }
        for (size_t c = p->a; c < p->b; c++) {
            emit_label(x, &n, x->common[c], x->clens[2 * c], x->clens[2 * c + 1]);
        }
    }
    return n;
}

/*
 * The series of @s as a label set (x->labels, x->lens), for the readable dump and for the
 * write relabeling, which then runs. Returns the count, 0 when a rule dropped the series, or
 * -ENOMEM.
 */
static long
label_set(struct enc_rw_scratch *x, const struct sample *s, const struct relabel_rule *rules,
          size_t nrules)
{
    size_t n = pieces_expand(x, pieces_build(x, s));

    if (nrules == 0) {
        return (long)n;
    }
    /* Relabeling sees the label set without __name__ (that is the sample's name). */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_name_label(x->labels[i].name)) {
            x->tmp[k++] = x->labels[i];
        }
    }
    struct sample r = {.name = s->name, .labels = x->tmp, .nlabels = (uint32_t)k};
    if (!x->arena_ready) {
        arena_init(&x->arena);
        x->arena_ready = true;
    }
    if (!relabel_apply(rules, nrules, &r, &x->arena)) {
        return 0;
    }
    /* When r.labels is still x->tmp it fits (no realloc under it); else it is arena memory. */
    if (scratch_grow(x, (size_t)r.nlabels + 1) != 0) {
        return -ENOMEM;
    }
    n = 0;
    for (uint32_t i = 0; i < r.nlabels; i++) {
        x->labels[n++] =
            (struct label){str_or_empty(r.labels[i].name), str_or_empty(r.labels[i].value)};
    }
    x->labels[n++] = (struct label){RW_NAME, str_or_empty(r.name)};
    n = sort_dedup(x->labels, n);
    k = 0;
    for (size_t i = 0; i < n; i++) {
        emit_label(x, &k, x->labels[i], strlen(x->labels[i].name), strlen(x->labels[i].value));
    }
    return (long)k;
}

/* Appends one timeseries entry: the @np pieces in x->pieces and one sample. */
static void
put_series(struct strbuf *sb, const struct enc_rw_scratch *x, size_t np, double v, int64_t ts)
{
    size_t labels_len = 0;
    uint64_t bits;

    for (size_t i = 0; i < np; i++) {
        const struct enc_rw_piece *p = &x->pieces[i];
        labels_len += p->b > 0 ? x->coff[p->b] - x->coff[p->a] : label_entry_len(p->nlen, p->vlen);
    }
    size_t ssz = 1 + 8 + 1 + varint_len((uint64_t)ts);
    size_t total = labels_len + 1 + varint_len(ssz) + ssz;
    size_t rec = 1 + varint_len(total) + total;
    if (!strbuf_room(sb, rec)) {
        return;
    }
    char *p = sb->data + sb->len;
    *p++ = RW_KEY_TIMESERIES;
    p = put_varint(p, total);
    for (size_t i = 0; i < np; i++) {
        const struct enc_rw_piece *q = &x->pieces[i];
        if (q->b > 0) {
            size_t n = x->coff[q->b] - x->coff[q->a];
            memcpy(p, x->cenc.data + x->coff[q->a], n);
            p += n;
        }
        else {
            p = put_label_entry(p, q->name, q->nlen, q->value, q->vlen);
        }
    }
    *p++ = RW_KEY_SAMPLES;
    p = put_varint(p, ssz);
    *p++ = RW_KEY_SVALUE;
    memcpy(&bits, &v, sizeof(bits));
    for (int i = 0; i < 8; i++) {
        *p++ = (char)(bits >> (8 * i)); /* fixed64 is little-endian on the wire */
    }
    *p++ = RW_KEY_TS;
    p = put_varint(p, (uint64_t)ts);
    sb->len += rec;
    sb->data[sb->len] = '\0';
}

/* The pieces of the @n labels in x->labels (after relabeling: no common runs). */
static size_t
pieces_of_labels(struct enc_rw_scratch *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x->pieces[i] = (struct enc_rw_piece){.name = x->labels[i].name,
                                             .value = x->labels[i].value,
                                             .nlen = x->lens[2 * i],
                                             .vlen = x->lens[2 * i + 1]};
    }
    return n;
}

/* Appends a label value with Prometheus' escapes (\\, \", \n). */
static void
put_escaped(struct strbuf *sb, const char *s)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc != NULL) {
            strbuf_put(sb, run, (size_t)(s - run));
            strbuf_put(sb, esc, 2);
            run = s + 1;
        }
    }
    strbuf_put(sb, run, (size_t)(s - run));
}

/* Appends one dump line: the @n labels in x->labels, the timestamp, the value. */
static void
put_series_text(struct strbuf *sb, const struct enc_rw_scratch *x, size_t n, double v, int64_t ts)
{
    char num[JSONW_I64_MAX];

    STRBUF_PUT_LIT(sb, "{");
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            STRBUF_PUT_LIT(sb, ", ");
        }
        strbuf_puts(sb, x->labels[i].name);
        STRBUF_PUT_LIT(sb, "=\"");
        put_escaped(sb, x->labels[i].value);
        STRBUF_PUT_LIT(sb, "\"");
    }
    STRBUF_PUT_LIT(sb, "} ");
    strbuf_put(sb, num, jsonw_fmt_i64(num, ts));
    STRBUF_PUT_LIT(sb, " ");
    if (isfinite(v)) {
        jsonw_double(sb, v);
    }
    else if (stale_is_marker(v)) {
        STRBUF_PUT_LIT(sb, "StaleNaN");
    }
    else if (isnan(v)) {
        STRBUF_PUT_LIT(sb, "NaN");
    }
    else {
        strbuf_puts(sb, v > 0 ? "+Inf" : "-Inf");
    }
    STRBUF_PUT_LIT(sb, "\n");
}

/* Samples [@from, @to) of @b's samples and staleness markers. */
static int
encode_series(struct strbuf *sb, const struct batch *b, size_t from, size_t to,
              const struct relabel_rule *rules, size_t nrules, struct enc_rw_scratch *x,
              uint32_t *nseries, bool text)
{
    size_t start = sb->len;
    uint32_t written = 0;
    int rc = 0;

    if (common_init(x, b, from, to) != 0) {
        return -ENOMEM;
    }
    for (size_t i = from; i < to && !sb->oom; i++) {
        const struct sample *s = &b->samples[i];
        int64_t ts = s->has_ts ? s->ts_ms : b->ts_ms;
        if (!text && nrules == 0) {
            /* The hot path: common labels copied as encoded runs. */
            put_series(sb, x, pieces_build(x, s), s->value, ts);
            written++;
            continue;
        }
        long n = label_set(x, s, rules, nrules);
        if (n < 0) {
            rc = -ENOMEM;
            break;
        }
        if (n == 0) {
            continue;
        }
        if (text) {
            put_series_text(sb, x, (size_t)n, s->value, ts);
        }
        else {
            put_series(sb, x, pieces_of_labels(x, (size_t)n), s->value, ts);
        }
        written++;
    }
    if (x->arena_ready) {
        arena_release(&x->arena);
    }
    if (rc == 0 && sb->oom) {
        rc = -ENOMEM;
    }
    if (rc != 0) {
        if (sb->data != NULL) {
            sb->len = start;
            sb->data[start] = '\0';
        }
        written = 0;
    }
    if (nseries != NULL) {
        *nseries = written;
    }
    return rc;
}

int
enc_remote_write_encode(struct strbuf *sb, const struct batch *b, const struct relabel_rule *rules,
                        size_t nrules, struct enc_rw_scratch *x, uint32_t *nseries)
{
    return encode_series(sb, b, 0, b->nsamples + b->nstale, rules, nrules, x, nseries, false);
}

int
enc_remote_write_encode_range(struct strbuf *sb, const struct batch *b, size_t from, size_t to,
                              const struct relabel_rule *rules, size_t nrules,
                              struct enc_rw_scratch *x, uint32_t *nseries)
{
    return encode_series(sb, b, from, to, rules, nrules, x, nseries, false);
}

static int
encode_rw(struct strbuf *sb, const struct batch *b)
{
    struct enc_rw_scratch x = {0};
    int rc = encode_series(sb, b, 0, b->nsamples + b->nstale, NULL, 0, &x, NULL, false);

    enc_rw_scratch_release(&x);
    return rc;
}

static int
encode_rw_text(struct strbuf *sb, const struct batch *b)
{
    struct enc_rw_scratch x = {0};
    int rc = encode_series(sb, b, 0, b->nsamples + b->nstale, NULL, 0, &x, NULL, true);

    enc_rw_scratch_release(&x);
    return rc;
}

const struct encoder enc_remote_write = {
    .name = "remote_write",
    .content_type = "application/x-protobuf",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_rw,
    .encode_text = encode_rw_text,
};
