/*
 * OpenMetrics 1.0: Metrics and MetricPoints (the parser's fourth file; see prom_parse.c). The
 * specification (prometheus/docs, docs/specs/om/open_metrics_spec.md) says, under "Data Model":
 * "Metrics are defined by a unique LabelSet within a MetricFamily" and "If more than one
 * MetricPoint is exposed for a Metric, then its MetricPoints MUST have monotonically increasing
 * timestamps"; under "MetricFamily": "Every Metric within a MetricFamily MUST have a unique
 * LabelSet"; and under "Text format": "Metrics MUST NOT be interleaved" and "MetricPoints MUST NOT
 * be interleaved", with examples of both. Here:
 *
 * - A Metric is the run of its family's samples with one LabelSet: the sample's labels but those
 *   of its MetricPoint, "le" on a (gauge) histogram's _bucket, "quantile" on a summary's quantile
 *   and, on a stateset, the label named after the family. Labels with an empty value count as
 *   absent ("Empty label values SHOULD be treated as if the label was not present"). Once the
 *   samples move on to another LabelSet, an earlier one of the family may not come back. A
 *   LabelSet's hash is a 64-bit sum over its labels (any order is the same set); every Metric of
 *   the body is noted in a list (its tag, the index of its first sample in the batch, its line)
 *   and its 32-bit tag in an open-addressing table of 4 bytes a slot, looked up one line late
 *   with its slot prefetched (a table of 200,000 Metrics is not in the caches). A tag found again
 *   is compared label by label with the samples noted under it before the error is given: a
 *   collision is no error (nor is a LabelSet too large to compare). Likewise an error about a
 *   MetricPoint is given only when all of its samples have the line's LabelSet.
 * - A MetricPoint is a run of samples of one Metric: a sample whose name was already seen in the
 *   current MetricPoint (a bucket, quantile or state: the same series again, just before), or
 *   that has another timestamp than the MetricPoint, starts the next one. Its samples share one
 *   timestamp; one without a timestamp stays in the current MetricPoint (leniency: only differing
 *   timestamps split). A second MetricPoint needs a timestamp above the previous one's, and both
 *   need one: so a sample repeated without a timestamp ("foo 1" then "foo 2") is a duplicate, and
 *   a sample of an earlier MetricPoint (its timestamp) after a later one is an error.
 */
#include "build-config.h"

#include "prom_parse-internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "wordhash.h"

/* Table slots (4 bytes) and noted Metrics (12) above these are given back at reset and idle. */
#define METRIC_SLOTS_KEEP 65536
#define METRIC_ENTS_KEEP 16384
/* LabelSets with more labels than this are not compared (then no error is given). */
#define METRIC_CMP_MAX 4096

/* The sample kinds of a family, by suffix; bit KIND_x of prom_parser.om_metric.seen. */
enum {
    KIND_BARE,
    KIND_TOTAL,
    KIND_CREATED,
    KIND_BUCKET,
    KIND_COUNT,
    KIND_SUM,
    KIND_GCOUNT,
    KIND_GSUM,
    KIND_INFO,
    KIND_OTHER,
};

static const char *const kind_sfx[] = {
    [KIND_BARE] = "",          [KIND_TOTAL] = "_total", [KIND_CREATED] = "_created",
    [KIND_BUCKET] = "_bucket", [KIND_COUNT] = "_count", [KIND_SUM] = "_sum",
    [KIND_GCOUNT] = "_gcount", [KIND_GSUM] = "_gsum",   [KIND_INFO] = "_info",
};

/* ---- hashing: 8 bytes a step, the same result for the same bytes whichever way they come ---- */

struct mhash {
    uint64_t h;
    uint64_t acc; /* bytes not yet mixed, little-endian */
    unsigned n;   /* how many */
};

static inline void
mh_word(struct mhash *m, uint64_t w)
{
    m->h = wordhash_step(m->h, w);
}

static inline void
mh_byte(struct mhash *m, unsigned char c)
{
    m->acc |= (uint64_t)c << (8 * m->n);
    if (++m->n == 8) {
        mh_word(m, m->acc);
        m->acc = 0;
        m->n = 0;
    }
}

static inline void
mh_bytes(struct mhash *m, const char *s, size_t n)
{
    uint64_t w;

    if (m->n == 0) {
        for (; n >= 8; s += 8, n -= 8) {
            memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            w = __builtin_bswap64(w);
#endif
            mh_word(m, w);
        }
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* The last bytes at once, as mh_byte() would have gathered them: in registers. */
        m->acc = wordhash_tail(s, n);
        m->n = (unsigned)n;
        return;
#endif
    }
    for (size_t i = 0; i < n; i++) {
        mh_byte(m, (unsigned char)s[i]);
    }
}

static inline uint64_t
mh_end(struct mhash *m, size_t len)
{
    if (m->n != 0) {
        mh_word(m, m->acc);
    }
    return wordhash_mix(m->h ^ len);
}

/*
 * The byte(s) that the escaped value of @sp has at raw offset *@i, as prom_parse.c resolves them
 * (\\ \" \n; any other pair is kept as it is), in @out; advances *@i. Returns 1 or 2.
 */
static size_t
resolve_at(const struct span *sp, size_t *i, char out[2])
{
    char c = sp->value[(*i)++];

    if (c != '\\') {
        out[0] = c;
        return 1;
    }
    c = sp->value[(*i)++]; /* a backslash is never last: it would have escaped the quote */
    if (c == 'n' || c == '\\' || c == '"') {
        out[0] = c == 'n' ? '\n' : c;
        return 1;
    }
    out[0] = '\\';
    out[1] = c;
    return 2;
}

/* The hash of a label value: its bytes with the escapes resolved. */
static uint64_t
value_hash(uint64_t seed, const struct span *sp)
{
    struct mhash m = {seed, 0, 0};
    size_t len = 0;
    char r[2];

    if (!sp->esc) {
        mh_bytes(&m, sp->value, sp->vlen);
        return mh_end(&m, sp->vlen);
    }
    for (size_t i = 0; i < sp->vlen;) {
        size_t k = resolve_at(sp, &i, r);
        for (size_t x = 0; x < k; x++, len++) {
            mh_byte(&m, (unsigned char)r[x]);
        }
    }
    return mh_end(&m, len);
}

/* ---- which samples and labels ---- */

/* A family: its name and type (the current one, or that of a Metric noted earlier). */
struct famv {
    const char *name;
    size_t len;
    uint8_t type;
};

static struct famv
cur_fam(const struct prom_parser *p, uint8_t type)
{
    return (struct famv){p->cur, p->cur_len, type};
}

/* The length of the family's name without the suffix its samples may repeat (counter, info). */
static size_t
family_base(struct famv f)
{
    const char *strip = f.type == SAMPLE_COUNTER ? "_total"
                        : f.type == SAMPLE_INFO  ? "_info"
                                                 : NULL;
    size_t sl = strip != NULL ? strlen(strip) : 0;

    if (sl != 0 && f.len > sl && memcmp(f.name + f.len - sl, strip, sl) == 0) {
        return f.len - sl;
    }
    return f.len;
}

static unsigned
sample_kind(struct famv f, const char *name, size_t nlen)
{
    size_t base = family_base(f);

    if (nlen < base) {
        return KIND_OTHER;
    }
    for (unsigned k = 0; k < KIND_OTHER; k++) {
        if (span_is(name + base, nlen - base, kind_sfx[k])) {
            return k;
        }
    }
    return KIND_OTHER;
}

/* The label of the MetricPoint rather than the Metric on a sample of this kind, or NULL. */
static const char *
point_label(struct famv f, unsigned kind, size_t *len)
{
    const char *l = NULL;

    if ((f.type == SAMPLE_HISTOGRAM || f.type == SAMPLE_GAUGEHISTOGRAM) && kind == KIND_BUCKET) {
        l = "le";
    }
    else if (f.type == SAMPLE_SUMMARY && kind == KIND_BARE) {
        l = "quantile";
    }
    else if (f.type == SAMPLE_STATESET) {
        *len = f.len;
        return f.name;
    }
    *len = l != NULL ? strlen(l) : 0;
    return l;
}

/* The point label of batch sample @s of family @f, or NULL. */
static const char *
sample_point_label(struct famv f, const struct sample *s, size_t *len)
{
    return point_label(f, sample_kind(f, s->name, strlen(s->name)), len);
}

/* Whether label @l of a sample is of its Metric: not its point label @pl[@pll], not empty. */
static bool
label_of_metric(const struct label *l, const char *pl, size_t pll)
{
    return l->value[0] != '\0' &&
           !(pl != NULL && strncmp(l->name, pl, pll) == 0 && l->name[pll] == '\0');
}

/* The Metric's labels of sample @s of family @f; false when too many to compare. */
static bool
count_of_metric(struct famv f, const struct sample *s, size_t *n)
{
    size_t pll;
    const char *pl = sample_point_label(f, s, &pll);

    *n = 0;
    if (s->nlabels > METRIC_CMP_MAX) {
        return false;
    }
    for (uint32_t j = 0; j < s->nlabels; j++) {
        *n += label_of_metric(&s->labels[j], pl, pll);
    }
    return true;
}

/* Whether batch samples @a and @b of family @f have the same Metric (false: cannot tell). */
static bool
same_metric_samples(struct famv f, const struct sample *a, const struct sample *b)
{
    size_t na, nb, pll;
    const char *pl = sample_point_label(f, a, &pll);

    if (!fam_match(f.name, f.len, f.type, b->name, strlen(b->name), true) ||
        !count_of_metric(f, a, &na) || !count_of_metric(f, b, &nb) || na != nb) {
        return false;
    }
    for (uint32_t i = 0; i < a->nlabels; i++) {
        const struct label *l = &a->labels[i];
        uint32_t j;

        if (!label_of_metric(l, pl, pll)) {
            continue;
        }
        for (j = 0; j < b->nlabels; j++) {
            const struct label *m = &b->labels[(i + j) % b->nlabels];
            if (strcmp(m->name, l->name) == 0) {
                if (strcmp(m->value, l->value) != 0) {
                    return false;
                }
                break;
            }
        }
        if (j == b->nlabels) {
            return false;
        }
    }
    return true;
}

/* Whether label @sp is of the Metric: not the point label @pl[@pll], not empty. */
static inline bool
of_metric(const struct span *sp, const char *pl, size_t pll)
{
    return sp->vlen != 0 && !(pl != NULL && sp->nlen == pll && memcmp(sp->name, pl, pll) == 0);
}

/* The hash of the LabelSet of the line's Metric: a sum over its labels, so any order is one. */
static uint64_t
labelset_hash(const struct prom_parser *p, size_t nl, const char *pl, size_t pll)
{
    uint64_t key = 0;

    for (size_t i = 0; i < nl; i++) {
        const struct span *sp = &p->spans[i];
        if (of_metric(sp, pl, pll)) {
            struct mhash m = {UINT64_C(0x243f6a8885a308d3), 0, 0};
            mh_bytes(&m, sp->name, sp->nlen);
            key += value_hash(mh_end(&m, sp->nlen), sp);
        }
    }
    return key;
}

/* Raw label value @sp (escapes resolved) == the C string @v. */
static bool
value_eq(const struct span *sp, const char *v)
{
    size_t j = 0;
    char r[2];

    if (!sp->esc) {
        return strncmp(v, sp->value, sp->vlen) == 0 && v[sp->vlen] == '\0';
    }
    for (size_t i = 0; i < sp->vlen;) {
        size_t k = resolve_at(sp, &i, r);
        for (size_t x = 0; x < k; x++) {
            if (v[j++] != r[x]) {
                return false;
            }
        }
    }
    return v[j] == '\0';
}

/*
 * Whether the line's Metric (labels p->spans[0..@nl) but @pl) has the LabelSet of the Metric of
 * batch sample @si, of the current family. False when it cannot tell (too many labels).
 */
static bool
same_labelset(const struct prom_parser *p, size_t nl, const char *pl, size_t pll, size_t si,
              uint8_t type)
{
    const struct sample *s = &p->out->samples[si];
    size_t spl, mine = 0, theirs = 0;
    const char *sp_l;

    if (nl > METRIC_CMP_MAX || s->nlabels > METRIC_CMP_MAX ||
        !fam_match(p->cur, p->cur_len, type, s->name, strlen(s->name), true)) {
        return false;
    }
    sp_l = sample_point_label(cur_fam(p, type), s, &spl);
    for (uint32_t j = 0; j < s->nlabels; j++) {
        const struct label *l = &s->labels[j];
        theirs += l->value[0] != '\0' &&
                  !(sp_l != NULL && strlen(l->name) == spl && memcmp(l->name, sp_l, spl) == 0);
    }
    for (size_t i = 0; i < nl; i++) {
        const struct span *sp = &p->spans[i];
        uint32_t j;

        if (!of_metric(sp, pl, pll)) {
            continue;
        }
        mine++;
        /* Mostly in the same order: look at the same index first. */
        for (j = 0; j < s->nlabels; j++) {
            uint32_t k = (uint32_t)((i + j) % s->nlabels);
            if (strncmp(s->labels[k].name, sp->name, sp->nlen) == 0 &&
                s->labels[k].name[sp->nlen] == '\0') {
                if (!value_eq(sp, s->labels[k].value)) {
                    return false;
                }
                break;
            }
        }
        if (j == s->nlabels) {
            return false;
        }
    }
    return mine == theirs;
}

/* ---- errors ---- */

/*
 * Appends s[0..n) to @buf at *@o as error text: printable ASCII and (already validated) UTF-8 as
 * they are, other control characters as \t, \r or \xNN. False, having stopped at a character
 * boundary, when fewer than 5 bytes (for "...}") would be left of @size.
 */
static bool
text_put(char *buf, size_t size, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t adv = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        char piece[8];
        size_t plen = adv;

        if (c == '\t' || c == '\r') {
            piece[0] = '\\';
            piece[1] = c == '\t' ? 't' : 'r';
            plen = 2;
        }
        else if (c < 0x20 || c == 0x7f) {
            snprintf(piece, sizeof(piece), "\\x%02x", c);
            plen = 4;
        }
        else {
            adv = adv > n - i ? n - i : adv;
            plen = adv;
            memcpy(piece, s + i, adv);
        }
        if (*o + plen + 5 > size) {
            return false;
        }
        memcpy(buf + *o, piece, plen);
        *o += plen;
        i += adv;
    }
    return true;
}

/* "{a=\"b\",...}": the line's Metric as written, cut with "...}" to fit @size bytes. */
static const char *
labelset_text(char *buf, size_t size, const struct prom_parser *p, size_t nl, const char *pl,
              size_t pll)
{
    size_t o = 0;
    bool first = true, fits = true;

    buf[o++] = '{';
    for (size_t i = 0; i < nl && fits; i++) {
        const struct span *sp = &p->spans[i];
        if (of_metric(sp, pl, pll)) {
            fits = text_put(buf, size, &o, ",", first ? 0 : 1) &&
                   text_put(buf, size, &o, sp->name, sp->nlen) &&
                   text_put(buf, size, &o, "=\"", 2) &&
                   text_put(buf, size, &o, sp->value, sp->vlen) && text_put(buf, size, &o, "\"", 1);
            first = false;
        }
    }
    memcpy(buf + o, fits ? "}" : "...}", fits ? 2 : 5);
    return buf;
}

/* A timestamp in milliseconds as the seconds it was written in: "123", "1.5", "-0.25". */
static const char *
ts_text(char *buf, size_t size, int64_t ts)
{
    uint64_t u = ts < 0 ? (uint64_t)0 - (uint64_t)ts : (uint64_t)ts;
    unsigned ms = (unsigned)(u % 1000);
    int n = snprintf(buf, size, "%s%" PRIu64, ts < 0 ? "-" : "", u / 1000);

    if (ms != 0 && n > 0 && (size_t)n < size) {
        snprintf(buf + n, size - (size_t)n, ".%03u", ms);
        for (char *e = buf + strlen(buf) - 1; *e == '0'; e--) {
            *e = '\0';
        }
    }
    return buf;
}

/* ---- the table of the body's Metrics ---- */

static uint64_t
slot_hash(const struct prom_parser *p, uint64_t key)
{
    return wordhash_mix(key ^ ((uint64_t)p->cur_idx * WORDHASH_K));
}

/*
 * Doubles the table, or makes the body's first one: room for as many Metrics as the previous
 * body had, so that a big body does not grow it step by step every time.
 */
static int
table_grow(struct prom_parser *p)
{
    size_t ncap = p->om_mcap != 0 ? p->om_mcap * 2 : 256;

    while (p->om_mcap == 0 && (p->om_mlast + 1) * 5 > ncap * 4) {
        ncap *= 2;
    }
    uint32_t *t = calloc(ncap, sizeof(*t));

    if (t == NULL) {
        return prom_parse_oom(p);
    }
    for (size_t i = 0; i < p->om_mcap; i++) {
        uint32_t tag = p->om_mtab[i];
        if (tag != 0) {
            size_t j = (size_t)(tag >> 1) & (ncap - 1);
            while (t[j] != 0) {
                j = (j + 1) & (ncap - 1);
            }
            t[j] = tag;
        }
    }
    free(p->om_mtab);
    p->om_mtab = t;
    p->om_mcap = ncap;
    return 0;
}

/*
 * The Metric noted before entry @ent, with its tag, whose LabelSet is that of entry @ent (of
 * family @f), or NULL. A tag is found in the table so rarely that a look through the list of
 * Metrics costs nothing to speak of.
 */
static const struct om_metric_ent *
find_noted(const struct prom_parser *p, struct famv f, size_t ent)
{
    const struct om_metric_ent *x = &p->om_ments[ent];
    const struct sample *xs = &p->out->samples[x->sample - p->base];

    for (size_t i = 0; i < ent; i++) {
        const struct om_metric_ent *e = &p->om_ments[i];
        if (e->tag != x->tag) {
            continue;
        }
        /*
         * A Metric whose first sample a window's cut took (a big body: job_prom.c) is compared
         * by family and 64-bit LabelSet hash: a false error then needs two LabelSets of one
         * family with the same hash (about 1 in 10^9 for a body of 200,000 Metrics).
         */
        if (e->sample < p->base
                ? e->fam == x->fam && e->key == x->key
                : same_metric_samples(f, xs, &p->out->samples[e->sample - p->base])) {
            return e;
        }
    }
    return NULL;
}

/* "{a=\"b\",...}": the Metric of batch sample @s of family @f, cut with "...}" to fit @size. */
static const char *
sample_labelset_text(char *buf, size_t size, struct famv f, const struct sample *s)
{
    size_t o = 0, pll;
    const char *pl = sample_point_label(f, s, &pll);
    bool first = true, fits = true;

    buf[o++] = '{';
    for (uint32_t i = 0; i < s->nlabels && fits; i++) {
        const struct label *l = &s->labels[i];
        if (label_of_metric(l, pl, pll)) {
            fits = text_put(buf, size, &o, ",", first ? 0 : 1) &&
                   text_put(buf, size, &o, l->name, strlen(l->name)) &&
                   text_put(buf, size, &o, "=\"", 2) &&
                   text_put(buf, size, &o, l->value, strlen(l->value)) &&
                   text_put(buf, size, &o, "\"", 1);
            first = false;
        }
    }
    memcpy(buf + o, fits ? "}" : "...}", fits ? 2 : 5);
    return buf;
}

/*
 * The line starts a Metric of the current family, with the LabelSet of hash @key: it is noted,
 * and its slot in the table fetched into the cache while the parser goes on to the next line;
 * prom_parse_metric_flush() looks it up then. The table holds 4 bytes a Metric (at most 4/5
 * full), so that it mostly stays in the caches; the list, written in order, is read only when a
 * tag is found.
 */
static int
metric_enter(struct prom_parser *p, uint64_t key)
{
    struct om_metric_state *m = &p->om_metric;
    uint32_t tag = (uint32_t)(slot_hash(p, key) >> 32) | 1u;
    size_t si = p->base + p->out->nsamples;
    struct om_metric_ent *ne;
    int rc;

    if (si > UINT32_MAX || p->cur_idx > UINT32_MAX) {
        return 0; /* not noted: no error can be confirmed for it */
    }
    if ((p->om_mn + 1) * 5 > p->om_mcap * 4) {
        rc = table_grow(p);
        if (rc != 0) {
            return rc;
        }
    }
    if (p->om_mn == p->om_ments_cap) {
        ne = grow(p->om_ments, &p->om_ments_cap,
                  p->om_mn + 1 > p->om_mlast ? p->om_mn + 1 : p->om_mlast, sizeof(*ne), 64);
        if (ne == NULL) {
            return prom_parse_oom(p);
        }
        p->om_ments = ne;
    }
    __builtin_prefetch(&p->om_mtab[(tag >> 1) & (p->om_mcap - 1)], 1);
    m->pending = true;
    m->pend_fam = p->cur_idx;
    m->pend_prev_lineno = m->open ? m->lineno : 0;
    p->om_ments[p->om_mn++] = (struct om_metric_ent){
        .key = key,
        .tag = tag,
        .sample = (uint32_t)si,
        .lineno = p->lineno > UINT32_MAX ? UINT32_MAX : (uint32_t)p->lineno,
        .fam = (uint32_t)p->cur_idx,
    };
    return 0;
}

int
prom_parse_metric_flush(struct prom_parser *p)
{
    struct om_metric_state *m = &p->om_metric;
    const struct om_metric_ent *x, *e;
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    bool looked = false;
    size_t j, ent;

    if (!m->pending) {
        if (p->cut_err != 0) { /* found at a window's cut (prom_parser_set_out()) */
            p->err = p->cut_err;
            memcpy(p->errmsg, p->cut_msg, sizeof(p->errmsg));
            p->cut_err = 0;
        }
        return p->err;
    }
    m->pending = false;
    ent = p->om_mn - 1;
    x = &p->om_ments[ent];
    for (j = (size_t)(x->tag >> 1) & (p->om_mcap - 1); p->om_mtab[j] != 0;
         j = (j + 1) & (p->om_mcap - 1)) {
        if (p->om_mtab[j] == x->tag && !looked) {
            const struct fam *fm = &p->fams[m->pend_fam];
            struct famv f = {p->names + fm->off, fm->len, fm->type};

            e = find_noted(p, f, ent);
            if (e != NULL) {
                size_t here = p->lineno;
                int rc;

                p->lineno = x->lineno; /* the error is that line's */
                rc = prom_parse_fail(
                    p,
                    "metric family %s: the Metric %s from line %" PRIu32
                    " is interleaved with others (another began on line %zu)",
                    prom_parse_quote(q1, f.name, f.len),
                    sample_labelset_text(q2, sizeof(q2), f, &p->out->samples[x->sample - p->base]),
                    e->lineno, m->pend_prev_lineno);
                p->lineno = here;
                return rc;
            }
            looked = true; /* every Metric with this tag has another LabelSet */
        }
    }
    p->om_mtab[j] = x->tag;
    return 0;
}

/*
 * The line starts another MetricPoint of the current Metric: it needs a timestamp above the
 * previous MetricPoint's, which needs one too.
 */
static int
point_next(struct prom_parser *p, size_t nl, const char *pl, size_t pll, uint8_t type, bool has_ts,
           int64_t ts)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX], t1[32], t2[32];
    struct om_metric_state *m = &p->om_metric;

    if (!has_ts || !m->has_ts || ts <= m->ts) {
        /*
         * Only when every sample of the MetricPoint has the line's LabelSet: not when one of
         * another LabelSet with the same hash took part in it.
         */
        /* Those a window's cut took are not looked at (prom_parser_set_out). */
        for (size_t i = m->pt_sample > p->base ? m->pt_sample - p->base : 0; i < p->out->nsamples;
             i++) {
            if (!same_labelset(p, nl, pl, pll, i, type)) {
                return 1;
            }
        }
        if (!has_ts || !m->has_ts) {
            return prom_parse_fail(p,
                                   "metric family %s: the Metric %s has another MetricPoint after "
                                   "the one from line %zu, without timestamps (a Metric's "
                                   "MetricPoints need increasing timestamps)",
                                   prom_parse_quote(q1, p->cur, p->cur_len),
                                   labelset_text(q2, sizeof(q2), p, nl, pl, pll), m->pt_lineno);
        }
        return prom_parse_fail(
            p,
            "metric family %s: the Metric %s has a MetricPoint at timestamp %s "
            "after the one from line %zu at %s (MetricPoints are not "
            "interleaved and go by increasing timestamp)",
            prom_parse_quote(q1, p->cur, p->cur_len), labelset_text(q2, sizeof(q2), p, nl, pl, pll),
            ts_text(t1, sizeof(t1), ts), m->pt_lineno, ts_text(t2, sizeof(t2), m->ts));
    }
    return 0;
}

/* The line starts a MetricPoint (of a new Metric when @metric). */
static void
point_start(struct prom_parser *p, bool metric, uint64_t key, unsigned kind, bool has_ts,
            int64_t ts)
{
    struct om_metric_state *m = &p->om_metric;

    if (metric) {
        m->open = true;
        m->fam = p->cur_idx;
        m->key = key;
        m->sample = p->base + p->out->nsamples;
        m->lineno = p->lineno;
    }
    m->seen = 1u << kind;
    m->has_ts = has_ts;
    m->ts = ts;
    m->pt_lineno = p->lineno;
    m->pt_sample = p->base + p->out->nsamples;
}

/* The hash labelset_hash() gives a line with the labels of batch sample @s (none is a point's). */
static uint64_t
sample_labels_hash(const struct sample *s)
{
    uint64_t key = 0;

    for (uint32_t i = 0; i < s->nlabels; i++) {
        size_t nl = strlen(s->labels[i].name), vl = strlen(s->labels[i].value);
        struct mhash m = {UINT64_C(0x243f6a8885a308d3), 0, 0};
        if (vl == 0) {
            continue;
        }
        mh_bytes(&m, s->labels[i].name, nl);
        struct mhash v = {mh_end(&m, nl), 0, 0};
        mh_bytes(&v, s->labels[i].value, vl);
        key += mh_end(&v, vl);
    }
    return key;
}

int
prom_parse_metric_cut(struct prom_parser *p)
{
    const struct batch *b = p->out;
    const struct sample *s;
    size_t nlen;

    p->cut_ok = false;
    if (b->nsamples == 0) {
        return 0;
    }
    s = &b->samples[b->nsamples - 1];
    nlen = strlen(s->name);
    if (nlen > p->cut_cap) {
        char *nb = grow(p->cut_name, &p->cut_cap, nlen, 1, 128);
        if (nb == NULL) {
            return prom_parse_oom(p);
        }
        p->cut_name = nb;
    }
    memcpy(p->cut_name, s->name, nlen);
    p->cut_nlen = nlen;
    p->cut_nl = s->nlabels;
    p->cut_key = sample_labels_hash(s);
    p->cut_ok = true;
    return 0;
}

/* Whether the line's sample is the previous sample's series again: same name, same labels. */
static bool
same_series(const struct prom_parser *p, const char *name, size_t nlen, size_t nl)
{
    const struct batch *b = p->out;
    const struct sample *prev;

    if (b->nsamples == 0) {
        /* Right after a window's cut: by the hash of the labels (a false match needs a 64-bit
           collision between two series of one Metric). */
        return p->cut_ok && p->cut_nlen == nlen && mem_eq(p->cut_name, name, nlen) &&
               p->cut_nl == nl && labelset_hash(p, nl, NULL, 0) == p->cut_key;
    }
    if (p->last_name == NULL) {
        return false;
    }
    prev = &b->samples[b->nsamples - 1];
    return prev->name == p->last_name && p->last_nlen == nlen && mem_eq(prev->name, name, nlen) &&
           prev->nlabels == nl &&
           (nl == 0 || (prev->labels == p->last_labels && p->label_bytes == 0));
}

int
prom_parse_metric_sample(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                         size_t nl, bool has_ts, int64_t ts)
{
    struct om_metric_state *m = &p->om_metric;
    struct famv f = cur_fam(p, type);
    unsigned kind = sample_kind(f, name, nlen);
    size_t pll;
    const char *pl = point_label(f, kind, &pll);
    uint64_t key = labelset_hash(p, nl, pl, pll) & ~p->om_mkey_drop;
    bool repeat;
    int rc = prom_parse_metric_flush(p);

    if (rc != 0) {
        return rc;
    }
    if (!m->open || m->fam != p->cur_idx || m->key != key) {
        rc = metric_enter(p, key);
        if (rc == 0) {
            point_start(p, true, key, kind, has_ts, ts);
        }
        return rc;
    }
    /* The same Metric: this MetricPoint, or the next one. */
    repeat = pl != NULL ? same_series(p, name, nlen, nl) : (m->seen >> kind) & 1u;
    if (repeat || (has_ts && m->has_ts && ts != m->ts)) {
        rc = point_next(p, nl, pl, pll, type, has_ts, ts);
        if (rc < 0) {
            return rc;
        }
        /* rc 1: another LabelSet after all (a hash collision): a new Metric. */
        point_start(p, rc == 1, key, kind, has_ts, ts);
        return 0;
    }
    m->seen |= 1u << kind;
    if (has_ts && !m->has_ts) {
        m->has_ts = true;
        m->ts = ts;
    }
    return 0;
}

void
prom_parse_metric_reset(struct prom_parser *p, bool idle)
{
    p->om_metric.open = false;
    p->om_metric.pending = false;
    if (p->om_mbody) {
        p->om_mlast = p->om_mn; /* the body that ends */
    }
    p->om_mbody = !idle;
    if (p->om_mcap > METRIC_SLOTS_KEEP || p->om_ments_cap > METRIC_ENTS_KEEP ||
        (idle && p->om_mn == 0)) {
        free(p->om_mtab);
        p->om_mtab = NULL;
        p->om_mcap = 0;
        free(p->om_ments);
        p->om_ments = NULL;
        p->om_ments_cap = 0;
    }
    else if (p->om_mn != 0) {
        memset(p->om_mtab, 0, p->om_mcap * sizeof(*p->om_mtab));
    }
    p->om_mn = 0;
}
