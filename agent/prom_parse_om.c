/*
 * The OpenMetrics 1.0 rules on single sample values (the parser's third file; see prom_parse.c):
 * what the specification's "Metric types" sections require of each value, by the family's type
 * and the sample's suffix. Counter totals, histogram and gauge histogram buckets and counts, and
 * summary counts and sums are never NaN nor negative; bucket and count values are integers;
 * buckets carry an "le" that is a number, not NaN; a summary's quantile samples carry a
 * "quantile" between 0 and 1 and a value that is not negative (NaN: no events); stateset samples
 * name their state in a label named after the family, with a value 0 or 1; info values are 1.
 * Across the samples of one histogram or gauge histogram MetricPoint (its samples are contiguous:
 * same family, same labels but le, same timestamp): buckets sorted by increasing le, each le once,
 * cumulative values, a +Inf bucket, a _count (_gcount) equal to it, and a count if and only if
 * a sum (_sum, _gsum). A MetricPoint is checked when the next sample is not of it, or at
 * "# EOF". Negative buckets exclude a histogram's sum; a gauge histogram's gsum is negative only
 * beside a negative bucket. Samples that are not buckets (quantiles) carry no "le" ("quantile")
 * label. A _created value is a Timestamp: a finite number. Info and stateset families have no
 * unit (prom_parse_meta.c). Exemplars: on counter totals and histogram buckets only, with at most
 * 128 UTF-8 characters of label names and values, and on a bucket a value not above its le.
 * An info MetricPoint's labels may not repeat its Metric's: in the text format both are one label
 * set, where a repeated name is already a duplicate label (prom_parse.c).
 */
#include "build-config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif

#include "prom_parse-internal.h"

#include <math.h>
#include <stdio.h>

#include "fnv.h"

/* The label @lname[@len] among the line's first @nl labels, or NULL. */
static const struct span *
find_label_n(const struct prom_parser *p, size_t nl, const char *lname, size_t len)
{
    for (size_t i = 0; i < nl; i++) {
        const struct span *sp = &p->spans[i];
        if (sp->nlen == len && memcmp(sp->name, lname, len) == 0) {
            return sp;
        }
    }
    return NULL;
}

static const struct span *
find_label(const struct prom_parser *p, size_t nl, const char *lname)
{
    return find_label_n(p, nl, lname, strlen(lname));
}

/* The label value of @sp as a number (le, quantile); false when it is not one. */
static bool
label_number(const struct prom_parser *p, const struct span *sp, double *out)
{
    char buf[64], *end;

    if (sp->esc || sp->vlen == 0 || sp->vlen >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, sp->value, sp->vlen);
    buf[sp->vlen] = '\0';
    *out = strtod_l(buf, &end, p->c_locale);
    return *end == '\0';
}

/* The sample's suffix after its family's name: "" for the bare name. */
static bool
suffix_is(const struct prom_parser *p, const char *name, size_t nlen, const char *sfx)
{
    size_t sl = strlen(sfx);

    return nlen == p->cur_len + sl && memcmp(name + p->cur_len, sfx, sl) == 0;
}

/*
 * A counter-like value (total, sum: @integer false) is not NaN nor negative; a count or bucket
 * (@integer true) is besides an integer.
 */
static int
check_nonneg(struct prom_parser *p, const char *name, size_t nlen, double v, const char *what,
             bool integer)
{
    char q1[QUOTE_MAX];

    if (isnan(v) || v < 0 || (integer && v != floor(v))) {
        return prom_parse_fail(p, "%s %s must %s, got %.17g", what,
                               prom_parse_quote(q1, name, nlen),
                               integer ? "be a non-negative integer" : "not be NaN or negative", v);
    }
    return 0;
}

/* The Metric of the current line: its labels but le, in any order. */
static uint64_t
point_key(const struct prom_parser *p, size_t nl)
{
    uint64_t key = 0;

    for (size_t i = 0; i < nl; i++) {
        const struct span *sp = &p->spans[i];
        if (sp->nlen == 2 && memcmp(sp->name, "le", 2) == 0) {
            continue;
        }
        uint64_t h = fnv64(FNV64_INIT, sp->name, sp->nlen);
        h = fnv64(fnv64(h, "=", 1), sp->value, sp->vlen);
        key += h; /* a sum: the same labels in another order are the same point */
    }
    return key;
}

/* The open MetricPoint is complete: its +Inf bucket, and its count equal to it. */
static int
point_close(struct prom_parser *p)
{
    char q1[QUOTE_MAX];

    if (!p->om_point.open) {
        return 0;
    }
    p->om_point.open = false;
    const struct fam *f = &p->fams[p->om_point.fam];
    const char *fname = prom_parse_quote(q1, p->names + f->off, f->len);
    if (!p->om_point.inf) {
        return prom_parse_fail(p, "histogram %s: the MetricPoint from line %zu has no +Inf bucket",
                               fname, p->om_point.lineno);
    }
    if (p->om_point.count && p->om_point.count_value != p->om_point.inf_value) {
        return prom_parse_fail(p,
                               "histogram %s: the MetricPoint from line %zu has a count of %.17g "
                               "and a +Inf bucket of %.17g",
                               fname, p->om_point.lineno, p->om_point.count_value,
                               p->om_point.inf_value);
    }
    if (p->om_point.count != p->om_point.sum) {
        return prom_parse_fail(p,
                               "histogram %s: the MetricPoint from line %zu has a %s without a "
                               "%s (both or neither)",
                               fname, p->om_point.lineno, p->om_point.count ? "count" : "sum",
                               p->om_point.count ? "sum" : "count");
    }
    /* A sum of negative observations is no counter; a gauge histogram's may then go negative. */
    if (f->type == SAMPLE_HISTOGRAM && p->om_point.sum && p->om_point.neg_le) {
        return prom_parse_fail(p,
                               "histogram %s: the MetricPoint from line %zu has buckets below 0 "
                               "and a sum (a sum only without negative buckets)",
                               fname, p->om_point.lineno);
    }
    if (f->type == SAMPLE_GAUGEHISTOGRAM && p->om_point.sum && p->om_point.sum_value < 0 &&
        !p->om_point.neg_le) {
        return prom_parse_fail(p,
                               "gauge histogram %s: the MetricPoint from line %zu has a gsum of "
                               "%.17g but no bucket below 0",
                               fname, p->om_point.lineno, p->om_point.sum_value);
    }
    return 0;
}

/* UTF-8 characters in s[0..n), an escape pair counting as the one character it stands for. */
static size_t
utf8_chars(const char *s, size_t n, bool esc)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++) {
        if (esc && s[i] == '\\') {
            i++;
        }
        else if (((unsigned char)s[i] & 0xc0) == 0x80) {
            continue; /* a continuation byte */
        }
        c++;
    }
    return c;
}

int
prom_parse_om_exemplar_labels(struct prom_parser *p, size_t from, const char *name, size_t nlen)
{
    char q1[QUOTE_MAX];
    size_t chars = 0;

    for (size_t i = from; i < p->nspans; i++) {
        const struct span *sp = &p->spans[i];
        chars += sp->nlen + utf8_chars(sp->value, sp->vlen, sp->esc);
    }
    if (chars > 128) {
        return prom_parse_fail(p,
                               "exemplar of metric %s has %zu characters of labels (at most 128)",
                               prom_parse_quote(q1, name, nlen), chars);
    }
    p->om_exemplar = true;
    return 0;
}

int
prom_parse_om_end(struct prom_parser *p)
{
    int rc = prom_parse_metric_flush(p);

    return rc != 0 ? rc : point_close(p);
}

/* A bucket of the open MetricPoint, threshold @th: sorted, cumulative; the +Inf one noted. */
static int
point_bucket(struct prom_parser *p, const char *name, size_t nlen, double th, double v)
{
    char q1[QUOTE_MAX];

    if (p->om_point.any_bucket && !(th > p->om_point.le)) {
        return prom_parse_fail(p,
                               "bucket %s: le %.17g after le %.17g (buckets go by increasing le, "
                               "each once)",
                               prom_parse_quote(q1, name, nlen), th, p->om_point.le);
    }
    if (p->om_point.any_bucket && v < p->om_point.bucket) {
        return prom_parse_fail(p,
                               "bucket %s: %.17g is below the previous bucket's %.17g (buckets "
                               "are cumulative)",
                               prom_parse_quote(q1, name, nlen), v, p->om_point.bucket);
    }
    p->om_point.any_bucket = true;
    p->om_point.neg_le |= th < 0;
    p->om_point.le = th;
    p->om_point.bucket = v;
    if (isinf(th) && th > 0) {
        p->om_point.inf = true;
        p->om_point.inf_value = v;
    }
    return 0;
}

/*
 * A histogram or gauge histogram bucket: its le, its value, its exemplar's value (a bucket covers
 * the values up to its le: "the value of the exemplar MUST be within this range"), then its place
 * in the point.
 */
static int
check_bucket(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v,
             bool exemplar)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const struct span *le = find_label(p, nl, "le");
    double th;
    int rc;

    if (le == NULL) {
        return prom_parse_fail(p, "bucket %s has no le label", prom_parse_quote(q1, name, nlen));
    }
    if (!label_number(p, le, &th) || isnan(th)) {
        return prom_parse_fail(p, "bucket %s has an invalid le %s",
                               prom_parse_quote(q1, name, nlen),
                               prom_parse_quote(q2, le->value, le->vlen));
    }
    if (exemplar && !(p->om_exemplar_value <= th)) {
        return prom_parse_fail(p,
                               "exemplar value %.17g of bucket %s is not within the bucket (le %s)",
                               p->om_exemplar_value, prom_parse_quote(q1, name, nlen),
                               prom_parse_quote(q2, le->value, le->vlen));
    }
    rc = check_nonneg(p, name, nlen, v, "bucket", true);
    return rc != 0 ? rc : point_bucket(p, name, nlen, th, v);
}

/* The _count or _gcount of the open MetricPoint. */
static int
point_count(struct prom_parser *p, const char *name, size_t nlen, double v, const char *what)
{
    p->om_point.count = true;
    p->om_point.count_value = v;
    return check_nonneg(p, name, nlen, v, what, true);
}

/*
 * Closes the open MetricPoint when the current sample is not of it, and opens one for a
 * histogram or gauge histogram sample.
 */
static int
point_track(struct prom_parser *p, uint8_t type, size_t nl, bool has_ts, int64_t ts)
{
    bool hist = type == SAMPLE_HISTOGRAM || type == SAMPLE_GAUGEHISTOGRAM;
    uint64_t key;
    int rc;

    if (!hist && !p->om_point.open) {
        return 0; /* a counter, summary, ... sample with no point open: nothing to hash */
    }
    key = point_key(p, nl);

    /* Another timestamp is another MetricPoint of the same Metric (a sample without one is not). */
    if (p->om_point.open && (!hist || p->cur_idx != p->om_point.fam || key != p->om_point.key ||
                             (has_ts && p->om_point.has_ts && ts != p->om_point.ts))) {
        rc = point_close(p);
        if (rc != 0) {
            return rc;
        }
    }
    if (hist && !p->om_point.open) {
        p->om_point.open = true;
        p->om_point.fam = p->cur_idx;
        p->om_point.key = key;
        p->om_point.lineno = p->lineno;
        p->om_point.any_bucket = false;
        p->om_point.inf = false;
        p->om_point.count = false;
        p->om_point.sum = false;
        p->om_point.neg_le = false;
        p->om_point.has_ts = false;
    }
    if (hist && has_ts) {
        p->om_point.has_ts = true;
        p->om_point.ts = ts;
    }
    return 0;
}

static int
check_quantile(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const struct span *q = find_label(p, nl, "quantile");
    double qv;

    if (q == NULL) {
        return prom_parse_fail(p, "summary sample %s has no quantile label",
                               prom_parse_quote(q1, name, nlen));
    }
    if (!label_number(p, q, &qv) || !(qv >= 0 && qv <= 1)) {
        return prom_parse_fail(p, "quantile %s of %s is not a number between 0 and 1",
                               prom_parse_quote(q2, q->value, q->vlen),
                               prom_parse_quote(q1, name, nlen));
    }
    if (v < 0) {
        return prom_parse_fail(p, "quantile value of %s must not be negative, got %.17g",
                               prom_parse_quote(q1, name, nlen), v);
    }
    return 0;
}

/*
 * What every sample of a histogram's, gauge histogram's or summary's Metric but its buckets or
 * quantiles lacks: the "le" ("quantile") label (the spec: "A Histogram's Metric's LabelSet MUST NOT
 * have a "le" label name"; "A Quantile's Metric's LabelSet MUST NOT have "quantile" label name").
 */
static int
check_no_label(struct prom_parser *p, const char *name, size_t nlen, size_t nl, const char *lname)
{
    char q1[QUOTE_MAX];

    if (find_label(p, nl, lname) != NULL) {
        return prom_parse_fail(p, "%s must not have a label \"%s\" (only its %s samples do)",
                               prom_parse_quote(q1, name, nlen), lname,
                               lname[0] == 'l' ? "_bucket" : "quantile");
    }
    return 0;
}

/* A _created sample's value is a Timestamp: a real number (negative ones allowed). */
static int
check_created(struct prom_parser *p, const char *name, size_t nlen, double v)
{
    char q1[QUOTE_MAX];

    if (!isfinite(v)) {
        return prom_parse_fail(p, "created %s must be a timestamp (a finite number), got %.17g",
                               prom_parse_quote(q1, name, nlen), v);
    }
    return 0;
}

/* A histogram's or gauge histogram's sample (@gauge: the latter's _gcount and _gsum names). */
static int
check_histogram(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v,
                bool gauge, bool exemplar)
{
    char q1[QUOTE_MAX];
    int rc;

    if (suffix_is(p, name, nlen, "_bucket")) {
        return check_bucket(p, name, nlen, nl, v, exemplar);
    }
    rc = check_no_label(p, name, nlen, nl, "le");
    if (rc != 0) {
        return rc;
    }
    if (suffix_is(p, name, nlen, gauge ? "_gcount" : "_count")) {
        return point_count(p, name, nlen, v, gauge ? "gcount" : "count");
    }
    if (suffix_is(p, name, nlen, gauge ? "_gsum" : "_sum")) {
        p->om_point.sum = true;
        p->om_point.sum_value = v;
        if (!gauge) {
            return check_nonneg(p, name, nlen, v, "sum", false);
        }
        if (isnan(v)) {
            return prom_parse_fail(p, "gsum %s must not be NaN", prom_parse_quote(q1, name, nlen));
        }
        return 0;
    }
    return suffix_is(p, name, nlen, "_created") ? check_created(p, name, nlen, v) : 0;
}

static int
check_summary(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v)
{
    int rc;

    if (suffix_is(p, name, nlen, "")) {
        return check_quantile(p, name, nlen, nl, v);
    }
    rc = check_no_label(p, name, nlen, nl, "quantile");
    if (rc != 0) {
        return rc;
    }
    if (suffix_is(p, name, nlen, "_count")) {
        return check_nonneg(p, name, nlen, v, "count", true);
    }
    if (suffix_is(p, name, nlen, "_sum")) {
        return check_nonneg(p, name, nlen, v, "sum", false);
    }
    return suffix_is(p, name, nlen, "_created") ? check_created(p, name, nlen, v) : 0;
}

int
prom_parse_om_check_value(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                          size_t nl, double v, bool has_ts, int64_t ts)
{
    char q1[QUOTE_MAX];
    bool exemplar = p->om_exemplar;
    int rc = point_track(p, type, nl, has_ts, ts);

    if (rc != 0) {
        return rc;
    }
    if (exemplar) {
        /* The spec gives exemplars to counter totals and (gauge) histogram buckets only. */
        p->om_exemplar = false;
        if (!(type == SAMPLE_COUNTER && suffix_is(p, name, nlen, "_total")) &&
            !((type == SAMPLE_HISTOGRAM || type == SAMPLE_GAUGEHISTOGRAM) &&
              suffix_is(p, name, nlen, "_bucket"))) {
            return prom_parse_fail(p,
                                   "exemplar on %s: OpenMetrics allows them on counter totals "
                                   "and histogram buckets only",
                                   prom_parse_quote(q1, name, nlen));
        }
    }
    switch (type) {
    case SAMPLE_COUNTER:
        if (suffix_is(p, name, nlen, "_created")) {
            return check_created(p, name, nlen, v);
        }
        return suffix_is(p, name, nlen, "_total") ? check_nonneg(p, name, nlen, v, "counter", false)
                                                  : 0;
    case SAMPLE_HISTOGRAM:
    case SAMPLE_GAUGEHISTOGRAM:
        return check_histogram(p, name, nlen, nl, v, type == SAMPLE_GAUGEHISTOGRAM, exemplar);
    case SAMPLE_SUMMARY:
        return check_summary(p, name, nlen, nl, v);
    case SAMPLE_STATESET:
        /* Each state's sample names its state in a label named after the family. */
        if (find_label_n(p, nl, p->cur, p->cur_len) == NULL) {
            char q2[QUOTE_MAX];
            return prom_parse_fail(p, "stateset %s has no label %s naming its state",
                                   prom_parse_quote(q1, name, nlen),
                                   prom_parse_quote(q2, p->cur, p->cur_len));
        }
        if (v != 0 && v != 1) {
            return prom_parse_fail(p, "stateset %s value must be 0 or 1, got %.17g",
                                   prom_parse_quote(q1, name, nlen), v);
        }
        return 0;
    case SAMPLE_INFO:
        if (v != 1) {
            return prom_parse_fail(p, "info %s value must be 1, got %.17g",
                                   prom_parse_quote(q1, name, nlen), v);
        }
        return 0;
    default:
        return 0;
    }
}
