/*
 * The OpenMetrics 1.0 rules on single sample values (the parser's third file; see prom_parse.c):
 * what the specification's "Metric types" sections require of each value, by the family's type
 * and the sample's suffix. Counter totals, histogram and gauge histogram buckets and counts, and
 * summary counts and sums are never NaN nor negative; bucket and count values are integers;
 * buckets carry an "le" that is a number, not NaN; a summary's quantile samples carry a
 * "quantile" between 0 and 1 and a value that is not negative (NaN: no events); stateset values
 * are 0 or 1 and info values 1. Rules across samples (le order, +Inf bucket, count = +Inf
 * bucket) are not checked here.
 */
#include "build-config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif

#include "prom_parse-internal.h"

#include <math.h>
#include <stdio.h>

/* The value of label @lname among the line's first @nl labels, or NULL. */
static const struct span *
find_label(const struct prom_parser *p, size_t nl, const char *lname)
{
    size_t len = strlen(lname);

    for (size_t i = 0; i < nl; i++) {
        const struct span *sp = &p->spans[i];
        if (sp->nlen == len && memcmp(sp->name, lname, len) == 0) {
            return sp;
        }
    }
    return NULL;
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

/* A histogram or gauge histogram bucket: its le, then its value. */
static int
check_bucket(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const struct span *le = find_label(p, nl, "le");
    double th;

    if (le == NULL) {
        return prom_parse_fail(p, "bucket %s has no le label", prom_parse_quote(q1, name, nlen));
    }
    if (!label_number(p, le, &th) || isnan(th)) {
        return prom_parse_fail(p, "bucket %s has an invalid le %s",
                               prom_parse_quote(q1, name, nlen),
                               prom_parse_quote(q2, le->value, le->vlen));
    }
    return check_nonneg(p, name, nlen, v, "bucket", true);
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

int
prom_parse_om_check_value(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                          size_t nl, double v)
{
    char q1[QUOTE_MAX];

    switch (type) {
    case SAMPLE_COUNTER:
        return suffix_is(p, name, nlen, "_total") ? check_nonneg(p, name, nlen, v, "counter", false)
                                                  : 0;
    case SAMPLE_HISTOGRAM:
        if (suffix_is(p, name, nlen, "_bucket")) {
            return check_bucket(p, name, nlen, nl, v);
        }
        if (suffix_is(p, name, nlen, "_count")) {
            return check_nonneg(p, name, nlen, v, "count", true);
        }
        return suffix_is(p, name, nlen, "_sum") ? check_nonneg(p, name, nlen, v, "sum", false) : 0;
    case SAMPLE_GAUGEHISTOGRAM:
        if (suffix_is(p, name, nlen, "_bucket")) {
            return check_bucket(p, name, nlen, nl, v);
        }
        if (suffix_is(p, name, nlen, "_gcount")) {
            return check_nonneg(p, name, nlen, v, "gcount", true);
        }
        if (suffix_is(p, name, nlen, "_gsum") && isnan(v)) {
            return prom_parse_fail(p, "gsum %s must not be NaN", prom_parse_quote(q1, name, nlen));
        }
        return 0;
    case SAMPLE_SUMMARY:
        if (suffix_is(p, name, nlen, "_count")) {
            return check_nonneg(p, name, nlen, v, "count", true);
        }
        if (suffix_is(p, name, nlen, "_sum")) {
            return check_nonneg(p, name, nlen, v, "sum", false);
        }
        return suffix_is(p, name, nlen, "") ? check_quantile(p, name, nlen, nl, v) : 0;
    case SAMPLE_STATESET:
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
