/*
 * The "otlp" output format: OTLP/HTTP with JSON bodies, an ExportMetricsServiceRequest in the
 * proto3 JSON mapping as the OTLP specification restricts it (lowerCamelCase field names, enums
 * as integers, 64-bit integers as decimal strings, non-finite doubles as "NaN", "Infinity",
 * "-Infinity"). A record is one element of resourceMetrics, for one batch:
 *
 *   {"resource":{"attributes":[service.name = job, service.instance.id = instance, then the
 *     target labels]},"scopeMetrics":[{"scope":{"name":"pollster","version":VERSION},
 *     "metrics":[...]}]}
 *
 * and a document wraps records as {"resourceMetrics":[r1,r2,...]}. A batch without samples
 * writes an empty record, which the framing leaves out.
 *
 * Samples become metrics:
 *   - counters: a monotonic cumulative sum (aggregationTemporality 2), named as exposed (with
 *     its _total); an OpenMetrics foo_created next to foo_total with the same labels becomes
 *     the data point's startTimeUnixNano instead of a series of its own;
 *   - gauges, untyped, info, stateset: a gauge;
 *   - histograms and gauge histograms: explicit-bucket histogram data points (cumulative),
 *     named after the family, one per series (the labels without "le"), with the cumulative
 *     le buckets turned into per-bucket counts, +Inf last and left out of explicitBounds;
 *   - summaries: summary data points, one per series (the labels without "quantile").
 * Consecutive data points of one kind and name share one metric. A histogram or summary series
 * is read from consecutive samples with equal labels (every client library writes a series
 * that way); when one is incomplete or inconsistent (no +Inf bucket, buckets out of order or
 * decreasing, no _count or a _count other than the +Inf bucket, a count that is not a whole
 * number, a bad le or quantile, differing timestamps, a stray sample), its samples are written
 * as gauges named as exposed, so nothing is lost.
 *
 * Values are written as asDouble. Timestamps (ms) become timeUnixNano = ms * 10^6; a negative
 * one is written 0 (fixed64 cannot hold it). Strings and finite doubles go through jsonw.c's
 * writers.
 */
#include "build-config.h"

#include "enc_otlp.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

#define ENC_OTLP_U64_MAX 20                     /* "18446744073709551615" */
#define ENC_OTLP_BOUNDS_CACHE 64                /* parsed le / quantile values kept per series */
#define ENC_OTLP_MS_MAX INT64_C(18446744073709) /* the last ms whose ns fit in a uint64 */
#define ENC_OTLP_TWO64 18446744073709551616.0   /* 2^64 */
#define ENC_OTLP_CREATED_MAX 18446744072.0      /* seconds whose ns (rounded) fit in a uint64 */

enum otlp_kind {
    OTLP_GAUGE = 0,
    OTLP_SUM,
    OTLP_HISTOGRAM,
    OTLP_SUMMARY,
};

/* The part a sample plays in its family, from its name's suffix. */
enum otlp_role {
    ROLE_VALUE = 0, /* a gauge's or counter's value, a summary's quantile */
    ROLE_BUCKET,
    ROLE_SUM,
    ROLE_COUNT,
    ROLE_CREATED,
    ROLE_OTHER, /* a histogram sample without a histogram suffix */
};

struct otlp_class {
    uint8_t kind; /* enum otlp_kind */
    uint8_t role; /* enum otlp_role */
    size_t base;  /* length of the family name: the sample name without its role's suffix */
    size_t len;   /* length of the sample name */
};

/* The metric being written: the data points of the next sample join it when they can. */
struct otlp_writer {
    struct strbuf *sb;
    const struct batch *b; /* borrowed */
    bool open;             /* a metric's dataPoints array is open */
    bool any;              /* a metric was written: the next one needs a comma */
    uint8_t kind;          /* of the open metric */
    const char *name;      /* borrowed: the open metric's name (name_len bytes) */
    size_t name_len;
    char bts[ENC_OTLP_U64_MAX + 8]; /* "timeUnixNano" of the batch start, quoted */
    size_t btslen;
};

/* One histogram or summary series: samples [first, end) of the batch. */
struct otlp_series {
    size_t first;
    size_t end;
    const struct sample *count;   /* borrowed */
    const struct sample *sum;     /* borrowed; NULL: none (histograms only) */
    const struct sample *created; /* borrowed; NULL: none */
    uint64_t created_ns;
    size_t n;                             /* buckets (+Inf included) or quantiles */
    double parsed[ENC_OTLP_BOUNDS_CACHE]; /* the first le or quantile values */
};

/* Writes @u in decimal, quoted, into @buf (ENC_OTLP_U64_MAX + 2 bytes); returns the length. */
static size_t
fmt_u64_quoted(char *buf, uint64_t u)
{
    char tmp[ENC_OTLP_U64_MAX + 2];
    char *p = tmp + sizeof(tmp);
    size_t n;

    *--p = '"';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    *--p = '"';
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(buf, p, n);
    return n;
}

/* A uint64 field's value, the proto3 JSON way: a decimal string. */
static void
put_u64(struct strbuf *sb, uint64_t u)
{
    char buf[ENC_OTLP_U64_MAX + 2];

    strbuf_put(sb, buf, fmt_u64_quoted(buf, u));
}

/* Writes the quoted nanoseconds of @ms into @buf (ENC_OTLP_U64_MAX + 8 bytes). */
static size_t
fmt_time_ns(char *buf, int64_t ms)
{
    size_t n;

    if (ms <= 0) {
        memcpy(buf, "\"0\"", 3);
        return 3;
    }
    if (ms > ENC_OTLP_MS_MAX) {
        return fmt_u64_quoted(buf, UINT64_MAX);
    }
    /* ms followed by six zeros: exact without a multiplication */
    n = fmt_u64_quoted(buf, (uint64_t)ms) - 1;
    memcpy(buf + n, "000000\"", 7);
    return n + 7;
}

/* A double field's value: proto3 JSON spells the non-finite ones as strings. */
static void
put_double(struct strbuf *sb, double v)
{
    if (isfinite(v)) {
        jsonw_double(sb, v);
    }
    else if (isnan(v)) {
        STRBUF_PUT_LIT(sb, "\"NaN\"");
    }
    else if (v > 0) {
        STRBUF_PUT_LIT(sb, "\"Infinity\"");
    }
    else {
        STRBUF_PUT_LIT(sb, "\"-Infinity\"");
    }
}

/* Length of @name without its suffix @sfx, or 0 when it does not end so. */
static inline size_t
strip_suffix(const char *name, size_t len, const char *sfx, size_t n)
{
    if (len > n && memcmp(name + len - n, sfx, n) == 0) {
        return len - n;
    }
    return 0;
}

#define STRIP(name, len, lit) strip_suffix((name), (len), (lit), sizeof(lit) - 1)

/* A name suffix that gives a sample its role in a family of some type. */
struct otlp_suffix {
    const char *text;
    size_t len;
    uint8_t role;
};

/* The suffixes by family type, tried in order; len is strlen(text). */
static const struct otlp_suffix hist_sfx[] = {
    {"_bucket", 7, ROLE_BUCKET},   {"_sum", 4, ROLE_SUM}, {"_count", 6, ROLE_COUNT},
    {"_created", 8, ROLE_CREATED}, {NULL, 0, 0},
};
static const struct otlp_suffix ghist_sfx[] = {
    {"_bucket", 7, ROLE_BUCKET},
    {"_gsum", 5, ROLE_SUM},
    {"_gcount", 7, ROLE_COUNT},
    {NULL, 0, 0},
};
static const struct otlp_suffix summary_sfx[] = {
    {"_sum", 4, ROLE_SUM},
    {"_count", 6, ROLE_COUNT},
    {"_created", 8, ROLE_CREATED},
    {NULL, 0, 0},
};

/*
 * Sets c->base and c->role from the first suffix of @sfx that @name (@len bytes) has. The last
 * byte is compared first: it rules most suffixes out without a memcmp.
 */
static bool
match_suffix(struct otlp_class *c, const char *name, size_t len, const struct otlp_suffix *sfx)
{
    for (; sfx->text != NULL; sfx++) {
        if (len > sfx->len && name[len - 1] == sfx->text[sfx->len - 1] &&
            memcmp(name + len - sfx->len, sfx->text, sfx->len) == 0) {
            c->base = len - sfx->len;
            c->role = sfx->role;
            return true;
        }
    }
    return false;
}

static void
classify(const struct sample *s, struct otlp_class *c)
{
    const char *name = jsonw_str_or_empty(s->name);
    size_t len = strlen(name), k;

    c->len = len;
    c->base = len;
    c->role = ROLE_VALUE;
    switch (s->type) {
    case SAMPLE_COUNTER:
        c->kind = OTLP_SUM;
        k = STRIP(name, len, "_created");
        if (k > 0) {
            c->base = k;
            c->role = ROLE_CREATED;
            break;
        }
        k = STRIP(name, len, "_total");
        if (k > 0) {
            c->base = k;
        }
        break;
    case SAMPLE_HISTOGRAM:
        c->kind = OTLP_HISTOGRAM;
        if (!match_suffix(c, name, len, hist_sfx)) {
            c->role = ROLE_OTHER;
        }
        break;
    case SAMPLE_GAUGEHISTOGRAM:
        c->kind = OTLP_HISTOGRAM;
        if (!match_suffix(c, name, len, ghist_sfx)) {
            c->role = ROLE_OTHER;
        }
        break;
    case SAMPLE_SUMMARY:
        c->kind = OTLP_SUMMARY;
        match_suffix(c, name, len, summary_sfx); /* else a quantile: ROLE_VALUE */
        break;
    default:
        c->kind = OTLP_GAUGE;
        break;
    }
}

/* Whether @a (class @ca) and @b (class @cb) belong to one family: same type and family name. */
static inline bool
same_family(const struct sample *a, const struct otlp_class *ca, const struct sample *b,
            const struct otlp_class *cb)
{
    return a->type == b->type && ca->base == cb->base &&
           (a->name == b->name ||
            memcmp(jsonw_str_or_empty(a->name), jsonw_str_or_empty(b->name), ca->base) == 0);
}

static inline bool
str_eq(const char *a, const char *b)
{
    return a == b || strcmp(jsonw_str_or_empty(a), jsonw_str_or_empty(b)) == 0;
}

/* Whether @a and @b have the same labels in the same order, ignoring any named @skip. */
static bool
labels_equal(const struct sample *a, const struct sample *b, const char *skip)
{
    uint32_t i = 0, j = 0;

    if (a->labels == b->labels && a->nlabels == b->nlabels) {
        return true;
    }
    for (;;) {
        while (i < a->nlabels && skip != NULL && str_eq(a->labels[i].name, skip)) {
            i++;
        }
        while (j < b->nlabels && skip != NULL && str_eq(b->labels[j].name, skip)) {
            j++;
        }
        if (i == a->nlabels || j == b->nlabels) {
            return i == a->nlabels && j == b->nlabels;
        }
        if (!str_eq(a->labels[i].name, b->labels[j].name) ||
            !str_eq(a->labels[i].value, b->labels[j].value)) {
            return false;
        }
        i++;
        j++;
    }
}

static const char *
label_value(const struct sample *s, const char *name)
{
    uint32_t i;

    for (i = 0; i < s->nlabels; i++) {
        if (str_eq(s->labels[i].name, name)) {
            return jsonw_str_or_empty(s->labels[i].value);
        }
    }
    return NULL;
}

/* Parses all of @s as a number (not NaN), as an le or quantile label value. */
static bool
parse_number(const char *s, double *v)
{
    char *end;

    if (s == NULL || *s == '\0') {
        return false;
    }
    *v = strtod(s, &end);
    return *end == '\0' && !isnan(*v);
}

/* Whether @v is a count a uint64 field can hold exactly: a whole number in [0, 2^64). */
static inline bool
is_count(double v)
{
    return v >= 0 && v < ENC_OTLP_TWO64 && v == floor(v);
}

/*
 * The nanoseconds since the epoch of a _created value @v (seconds), rounded to the nearest
 * nanosecond from its whole seconds and fraction separately (@v * 1e9 in one double would be
 * off by up to 128 ns). False when @v is no usable start time.
 */
static bool
created_ns(double v, uint64_t *ns)
{
    double secs, frac;
    uint64_t nanos;

    if (!(v > 0 && v < ENC_OTLP_CREATED_MAX)) {
        return false;
    }
    secs = floor(v);
    frac = v - secs; /* exact */
    nanos = (uint64_t)llround(frac * 1e9);
    *ns = (uint64_t)secs * UINT64_C(1000000000) + nanos;
    return true;
}

static inline int64_t
sample_ts(const struct batch *b, const struct sample *s)
{
    return s->has_ts ? s->ts_ms : b->ts_ms;
}

/* ---- writing ---- */

/* "attributes":[...] from @s's labels, leaving out any named @skip (NULL: none). */
static void
put_attributes(struct strbuf *sb, const struct sample *s, const char *skip)
{
    bool first = true;
    uint32_t i;

    STRBUF_PUT_LIT(sb, "\"attributes\":[");
    for (i = 0; i < s->nlabels; i++) {
        if (skip != NULL && str_eq(s->labels[i].name, skip)) {
            continue;
        }
        STRBUF_PUT_LIT_SEP(sb, !first, ",{\"key\":");
        jsonw_cstr(sb, s->labels[i].name);
        STRBUF_PUT_LIT(sb, ",\"value\":{\"stringValue\":");
        jsonw_cstr(sb, s->labels[i].value);
        STRBUF_PUT_LIT(sb, "}}");
        first = false;
    }
    STRBUF_PUT_LIT(sb, "]");
}

static void
put_resource_attr(struct strbuf *sb, bool comma, const char *key, const char *value)
{
    STRBUF_PUT_LIT_SEP(sb, comma, ",{\"key\":");
    jsonw_cstr(sb, key);
    STRBUF_PUT_LIT(sb, ",\"value\":{\"stringValue\":");
    jsonw_cstr(sb, value);
    STRBUF_PUT_LIT(sb, "}}");
}

/* ,"timeUnixNano":"..." of @s (with the optional start time before it). */
static void
put_times(struct otlp_writer *w, const struct sample *s, const uint64_t *start_ns)
{
    char buf[ENC_OTLP_U64_MAX + 8];

    if (start_ns != NULL) {
        STRBUF_PUT_LIT(w->sb, ",\"startTimeUnixNano\":");
        put_u64(w->sb, *start_ns);
    }
    STRBUF_PUT_LIT(w->sb, ",\"timeUnixNano\":");
    if (s->has_ts) {
        strbuf_put(w->sb, buf, fmt_time_ns(buf, s->ts_ms));
    }
    else {
        strbuf_put(w->sb, w->bts, w->btslen);
    }
}

static void
metric_close(struct otlp_writer *w)
{
    if (w->open) {
        STRBUF_PUT_LIT(w->sb, "]}}");
        w->open = false;
    }
}

/*
 * Starts a data point of a metric of @kind named @name (@len bytes): in the open metric when
 * it is of that kind and name (after a comma), else in a new one.
 */
static void
point_begin(struct otlp_writer *w, uint8_t kind, const char *name, size_t len)
{
    if (w->open && w->kind == kind && w->name_len == len &&
        (w->name == name || memcmp(w->name, name, len) == 0)) {
        STRBUF_PUT_LIT(w->sb, ",");
        return;
    }
    metric_close(w);
    STRBUF_PUT_LIT_SEP(w->sb, w->any, ",{\"name\":");
    jsonw_string(w->sb, name, len);
    switch (kind) {
    case OTLP_SUM:
        STRBUF_PUT_LIT(w->sb, ",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,"
                              "\"dataPoints\":[");
        break;
    case OTLP_HISTOGRAM:
        STRBUF_PUT_LIT(w->sb, ",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[");
        break;
    case OTLP_SUMMARY:
        STRBUF_PUT_LIT(w->sb, ",\"summary\":{\"dataPoints\":[");
        break;
    default:
        STRBUF_PUT_LIT(w->sb, ",\"gauge\":{\"dataPoints\":[");
        break;
    }
    w->open = true;
    w->any = true;
    w->kind = kind;
    w->name = name;
    w->name_len = len;
}

/* A gauge or sum data point holding @s's value; @name_len: strlen of its name. */
static void
put_number_point(struct otlp_writer *w, uint8_t kind, const struct sample *s, size_t name_len,
                 const uint64_t *start_ns)
{
    point_begin(w, kind, jsonw_str_or_empty(s->name), name_len);
    STRBUF_PUT_LIT(w->sb, "{");
    put_attributes(w->sb, s, NULL);
    put_times(w, s, start_ns);
    STRBUF_PUT_LIT(w->sb, ",\"asDouble\":");
    put_double(w->sb, s->value);
    STRBUF_PUT_LIT(w->sb, "}");
}

/*
 * Writes the counter sample at @i (class @c), paired with an adjacent _created of the same
 * series when there is one; returns the number of samples used.
 */
static size_t
put_counter(struct otlp_writer *w, size_t i, const struct otlp_class *c)
{
    const struct batch *b = w->b;
    const struct sample *s = &b->samples[i], *t, *value, *created;
    struct otlp_class ct;
    uint64_t ns;

    if (i + 1 < b->nsamples) {
        t = s + 1;
        classify(t, &ct);
        if (ct.kind == OTLP_SUM && ct.role != c->role && same_family(s, c, t, &ct) &&
            labels_equal(s, t, NULL)) {
            value = c->role == ROLE_CREATED ? t : s;
            created = c->role == ROLE_CREATED ? s : t;
            if (created_ns(created->value, &ns)) {
                put_number_point(w, OTLP_SUM, value, value == s ? c->len : ct.len, &ns);
                return 2;
            }
        }
    }
    /* a _created without its counter, or with an unusable value: keep it as a gauge */
    put_number_point(w, c->role == ROLE_CREATED ? OTLP_GAUGE : OTLP_SUM, s, c->len, NULL);
    return 1;
}

/* Whether @s has the time of the first sample of @ser: a data point has one time. */
static inline bool
same_ts(const struct batch *b, const struct otlp_series *ser, const struct sample *s)
{
    return sample_ts(b, s) == sample_ts(b, &b->samples[ser->first]);
}

/* Fills the _sum/_count/_created fields of @ser from @s; false when it repeats or is bad. */
static bool
check_common(struct otlp_series *ser, const struct sample *s, uint8_t role)
{
    switch (role) {
    case ROLE_SUM:
        if (ser->sum != NULL) {
            return false;
        }
        ser->sum = s;
        return true;
    case ROLE_COUNT:
        if (ser->count != NULL || !is_count(s->value)) {
            return false;
        }
        ser->count = s;
        return true;
    case ROLE_CREATED:
        if (ser->created != NULL || !created_ns(s->value, &ser->created_ns)) {
            return false;
        }
        ser->created = s;
        return true;
    default:
        return false;
    }
}

/* Whether the samples of @ser make one consistent histogram data point; fills @ser. */
static bool
check_histogram(const struct batch *b, struct otlp_series *ser)
{
    double prev_le = -INFINITY, prev_count = 0, le;
    bool have_inf = false;
    struct otlp_class c;
    size_t k;

    for (k = ser->first; k < ser->end; k++) {
        const struct sample *s = &b->samples[k];

        if (!same_ts(b, ser, s)) {
            return false;
        }
        classify(s, &c);
        if (c.role != ROLE_BUCKET) {
            if (!check_common(ser, s, c.role)) {
                return false;
            }
            continue;
        }
        if (have_inf || !parse_number(label_value(s, "le"), &le) || !(le > prev_le) ||
            !is_count(s->value) || s->value < prev_count) {
            return false;
        }
        if (ser->n < ENC_OTLP_BOUNDS_CACHE) {
            ser->parsed[ser->n] = le;
        }
        ser->n++;
        prev_le = le;
        prev_count = s->value;
        have_inf = isinf(le);
    }
    return have_inf && ser->count != NULL && ser->count->value == prev_count;
}

/* Whether the samples of @ser make one consistent summary data point; fills @ser. */
static bool
check_summary(const struct batch *b, struct otlp_series *ser)
{
    struct otlp_class c;
    double q;
    size_t k;

    for (k = ser->first; k < ser->end; k++) {
        const struct sample *s = &b->samples[k];

        if (!same_ts(b, ser, s)) {
            return false;
        }
        classify(s, &c);
        if (c.role != ROLE_VALUE) {
            if (!check_common(ser, s, c.role)) {
                return false;
            }
            continue;
        }
        if (!parse_number(label_value(s, "quantile"), &q) || q < 0 || q > 1) {
            return false;
        }
        if (ser->n < ENC_OTLP_BOUNDS_CACHE) {
            ser->parsed[ser->n] = q;
        }
        ser->n++;
    }
    return ser->count != NULL && ser->sum != NULL;
}

/* The le or quantile value of the @k-th bucket or quantile sample @s of @ser (checked). */
static double
series_parsed(const struct otlp_series *ser, size_t k, const struct sample *s, const char *label)
{
    double v = 0;

    if (k < ENC_OTLP_BOUNDS_CACHE) {
        return ser->parsed[k];
    }
    parse_number(label_value(s, label), &v);
    return v;
}

/* The start of a histogram or summary data point, up to its count and sum. */
static void
put_series_head(struct otlp_writer *w, const struct otlp_series *ser, const char *skip)
{
    STRBUF_PUT_LIT(w->sb, "{");
    put_attributes(w->sb, ser->count, skip);
    put_times(w, ser->count, ser->created != NULL ? &ser->created_ns : NULL);
    STRBUF_PUT_LIT(w->sb, ",\"count\":");
    put_u64(w->sb, (uint64_t)ser->count->value);
    if (ser->sum != NULL) {
        STRBUF_PUT_LIT(w->sb, ",\"sum\":");
        put_double(w->sb, ser->sum->value);
    }
}

static void
put_histogram_point(struct otlp_writer *w, const struct otlp_series *ser)
{
    const struct batch *b = w->b;
    uint64_t prev = 0, cum;
    struct otlp_class c;
    size_t k, nb = 0;
    bool first = true;

    put_series_head(w, ser, "le");
    STRBUF_PUT_LIT(w->sb, ",\"bucketCounts\":[");
    for (k = ser->first; k < ser->end; k++) {
        classify(&b->samples[k], &c);
        if (c.role != ROLE_BUCKET) {
            continue;
        }
        cum = (uint64_t)b->samples[k].value;
        if (!first) {
            STRBUF_PUT_LIT(w->sb, ",");
        }
        put_u64(w->sb, cum - prev); /* cumulative counts never decrease (checked) */
        prev = cum;
        first = false;
    }
    STRBUF_PUT_LIT(w->sb, "],\"explicitBounds\":[");
    for (k = ser->first; k < ser->end && nb + 1 < ser->n; k++) {
        classify(&b->samples[k], &c);
        if (c.role != ROLE_BUCKET) {
            continue;
        }
        if (nb > 0) {
            STRBUF_PUT_LIT(w->sb, ",");
        }
        /* finite: only the last bound is infinite, and it is left out */
        jsonw_double(w->sb, series_parsed(ser, nb, &b->samples[k], "le"));
        nb++;
    }
    STRBUF_PUT_LIT(w->sb, "]}");
}

static void
put_summary_point(struct otlp_writer *w, const struct otlp_series *ser)
{
    const struct batch *b = w->b;
    struct otlp_class c;
    size_t k, nq = 0;

    put_series_head(w, ser, "quantile");
    if (ser->n > 0) {
        STRBUF_PUT_LIT(w->sb, ",\"quantileValues\":[");
        for (k = ser->first; k < ser->end; k++) {
            classify(&b->samples[k], &c);
            if (c.role != ROLE_VALUE) {
                continue;
            }
            STRBUF_PUT_LIT_SEP(w->sb, nq > 0, ",{\"quantile\":");
            jsonw_double(w->sb, series_parsed(ser, nq, &b->samples[k], "quantile"));
            STRBUF_PUT_LIT(w->sb, ",\"value\":");
            put_double(w->sb, b->samples[k].value);
            STRBUF_PUT_LIT(w->sb, "}");
            nq++;
        }
        STRBUF_PUT_LIT(w->sb, "]");
    }
    STRBUF_PUT_LIT(w->sb, "}");
}

/*
 * Writes the histogram or summary series starting at sample @i (class @c): the consecutive
 * samples of its family with the same labels but "le" / "quantile". Returns how many samples
 * it used.
 */
static size_t
put_series(struct otlp_writer *w, size_t i, const struct otlp_class *c)
{
    const struct batch *b = w->b;
    const struct sample *s = &b->samples[i];
    const char *skip = c->kind == OTLP_HISTOGRAM ? "le" : "quantile";
    struct otlp_series ser;
    struct otlp_class cg;
    bool ok;
    size_t g, k;

    for (g = i + 1; g < b->nsamples; g++) {
        classify(&b->samples[g], &cg);
        if (cg.kind != c->kind || !same_family(s, c, &b->samples[g], &cg) ||
            !labels_equal(s, &b->samples[g], skip)) {
            break;
        }
    }
    memset(&ser, 0, offsetof(struct otlp_series, parsed));
    ser.first = i;
    ser.end = g;
    ok = c->kind == OTLP_HISTOGRAM ? check_histogram(b, &ser) : check_summary(b, &ser);
    if (ok) {
        point_begin(w, c->kind, jsonw_str_or_empty(s->name), c->base);
        if (c->kind == OTLP_HISTOGRAM) {
            put_histogram_point(w, &ser);
        }
        else {
            put_summary_point(w, &ser);
        }
    }
    else {
        for (k = i; k < g; k++) {
            put_number_point(w, OTLP_GAUGE, &b->samples[k],
                             strlen(jsonw_str_or_empty(b->samples[k].name)), NULL);
        }
    }
    return g - i;
}

/*
 * Appends one resourceMetrics element for @b, or nothing when it has no samples. Returns 0, or
 * -ENOMEM with @sb truncated back to its length at the call. Called on the loop thread.
 */
static int
encode_otlp(struct strbuf *sb, const struct batch *b)
{
    struct otlp_writer w;
    struct otlp_class c;
    size_t start = sb->len;
    bool comma = false;
    uint32_t k;
    size_t i = 0;

    if (b->nsamples == 0) {
        return sb->oom ? -ENOMEM : 0;
    }
    memset(&w, 0, sizeof(w));
    w.sb = sb;
    w.b = b;
    w.btslen = fmt_time_ns(w.bts, b->ts_ms);

    STRBUF_PUT_LIT(sb, "{\"resource\":{\"attributes\":[");
    if (b->job != NULL) {
        put_resource_attr(sb, comma, "service.name", b->job);
        comma = true;
    }
    if (b->instance != NULL) {
        put_resource_attr(sb, comma, "service.instance.id", b->instance);
        comma = true;
    }
    for (k = 0; k < b->ntarget_labels; k++) {
        put_resource_attr(sb, comma, b->target_labels[k].name, b->target_labels[k].value);
        comma = true;
    }
    STRBUF_PUT_LIT(sb, "]},\"scopeMetrics\":[{\"scope\":{\"name\":\"pollster\",\"version\":");
    jsonw_cstr(sb, PACKAGE_VERSION);
    STRBUF_PUT_LIT(sb, "},\"metrics\":[");
    while (i < b->nsamples && !sb->oom) {
        classify(&b->samples[i], &c);
        switch (c.kind) {
        case OTLP_SUM:
            i += put_counter(&w, i, &c);
            break;
        case OTLP_HISTOGRAM:
        case OTLP_SUMMARY:
            i += put_series(&w, i, &c);
            break;
        default:
            put_number_point(&w, OTLP_GAUGE, &b->samples[i], c.len, NULL);
            i++;
            break;
        }
    }
    metric_close(&w);
    STRBUF_PUT_LIT(sb, "]}]}");

    if (sb->oom) {
        if (sb->data != NULL) {
            sb->len = start;
            sb->data[start] = '\0';
        }
        return -ENOMEM;
    }
    return 0;
}

const struct encoder enc_otlp = {
    .name = "otlp",
    .content_type = "application/json",
    .doc_open = "{\"resourceMetrics\":[",
    .doc_sep = ",",
    .doc_close = "]}\n",
    .encode = encode_otlp,
};
