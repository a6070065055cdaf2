/*
 * Unit tests for the otlp encoder (enc_otlp.c), split from check_encoders.c (whose helpers,
 * in enc_testlib.c, they share): every document is checked by a strict RFC 8259 validator, then
 * parsed back with json-c and compared field by field with the batch: the resource and scope,
 * metric kinds, attributes, values bit for bit, times as int64-as-string fields, the conversion of
 * cumulative histogram buckets and of summaries, and the fallback to gauges of whatever is not
 * whole.
 */
#include "build-config.h"

#include <check.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc_otlp.h"
#include "enc_testlib.h"
#include "encoder.h"
#include "sample.h"
#include "strbuf.h"

static const char *const t_spell_proto[3] = {"NaN", "Infinity", "-Infinity"};

enum t_kind { T_GAUGE, T_SUM, T_HIST, T_SUMMARY };

/*
 * Asserts that metric @i of @metrics is named @name and of @kind with @npoints data points;
 * returns the dataPoints array.
 */
static json_object *
t_metric(json_object *metrics, size_t i, const char *name, enum t_kind kind, size_t npoints)
{
    static const char *const kinds[] = {"gauge", "sum", "histogram", "summary"};
    static const char *const gkeys[] = {"dataPoints"};
    static const char *const skeys[] = {"aggregationTemporality", "isMonotonic", "dataPoints"};
    static const char *const hkeys[] = {"aggregationTemporality", "dataPoints"};
    const char *mkeys[] = {"name", kinds[kind]};
    json_object *m = et_idx(metrics, i), *k;

    et_keys(m, mkeys, 2);
    et_str_is(et_get(m, "name"), name);
    k = et_get(m, kinds[kind]);
    switch (kind) {
    case T_SUM:
        et_keys(k, skeys, 3);
        et_int_is(et_get(k, "aggregationTemporality"), 2); /* CUMULATIVE */
        ET_REQUIRE(json_object_is_type(et_get(k, "isMonotonic"), json_type_boolean) &&
                       json_object_get_boolean(et_get(k, "isMonotonic")),
                   "isMonotonic");
        break;
    case T_HIST:
        et_keys(k, hkeys, 2);
        et_int_is(et_get(k, "aggregationTemporality"), 2);
        break;
    default:
        et_keys(k, gkeys, 1);
        break;
    }
    ET_REQUIRE(et_len(et_get(k, "dataPoints")) == npoints, "%s: %zu points, want %zu", name,
               et_len(et_get(k, "dataPoints")), npoints);
    return et_get(k, "dataPoints");
}

static uint64_t
t_ns(int64_t ms)
{
    return ms <= 0 ? 0 : (uint64_t)ms * 1000000u;
}

/* Asserts a gauge or sum data point for @s: its labels, times and asDouble. */
static void
t_number_point(json_object *p, const struct batch *b, const struct sample *s, uint64_t start)
{
    static const char *const keys[] = {"attributes", "timeUnixNano", "asDouble"};
    static const char *const skeys[] = {"attributes", "startTimeUnixNano", "timeUnixNano",
                                        "asDouble"};
    struct et_kv kv[ET_MAX_KV];
    size_t n = et_sample_kv(s, NULL, kv);

    if (start != 0) {
        et_keys(p, skeys, 4);
        et_u64str_is(et_get(p, "startTimeUnixNano"), start);
    }
    else {
        et_keys(p, keys, 3);
    }
    et_attrs_is(et_get(p, "attributes"), kv, n);
    et_u64str_is(et_get(p, "timeUnixNano"), t_ns(et_ts(b, s)));
    et_value_is(et_get(p, "asDouble"), s->value, t_spell_proto);
}

/*
 * Asserts that samples [@from, @to) of @b are written as gauges from metric *@mi on, one
 * metric per run of equal names; advances *@mi.
 */
static void
t_gauges(json_object *metrics, size_t *mi, const struct batch *b, size_t from, size_t to)
{
    json_object *pts;
    size_t i = from, j, k;

    while (i < to) {
        for (j = i + 1; j < to && strcmp(b->samples[j].name, b->samples[i].name) == 0; j++) {
        }
        pts = t_metric(metrics, (*mi)++, b->samples[i].name, T_GAUGE, j - i);
        for (k = i; k < j; k++) {
            t_number_point(et_idx(pts, k - i), b, &b->samples[k], 0);
        }
        i = j;
    }
}

/*
 * Asserts a histogram data point: @attrs (the series labels), @count, @sum (NAN with
 * @has_sum false: none), the per-bucket counts @per and the bounds @bounds (@nb of them;
 * @nb + 1 counts), @start (0: none), @ts_ms.
 */
static void
t_hist_point(json_object *p, const struct et_kv *attrs, size_t nattrs, uint64_t count, bool has_sum,
             double sum, const uint64_t *per, const double *bounds, size_t nb, uint64_t start,
             int64_t ts_ms)
{
    const char *keys[8];
    size_t nk = 0, i;

    keys[nk++] = "attributes";
    if (start != 0) {
        keys[nk++] = "startTimeUnixNano";
    }
    keys[nk++] = "timeUnixNano";
    keys[nk++] = "count";
    if (has_sum) {
        keys[nk++] = "sum";
    }
    keys[nk++] = "bucketCounts";
    keys[nk++] = "explicitBounds";
    et_keys(p, keys, nk);
    et_attrs_is(et_get(p, "attributes"), attrs, nattrs);
    if (start != 0) {
        et_u64str_is(et_get(p, "startTimeUnixNano"), start);
    }
    et_u64str_is(et_get(p, "timeUnixNano"), t_ns(ts_ms));
    et_u64str_is(et_get(p, "count"), count);
    if (has_sum) {
        et_value_is(et_get(p, "sum"), sum, t_spell_proto);
    }
    ET_REQUIRE(et_len(et_get(p, "bucketCounts")) == nb + 1, "bucketCounts");
    ET_REQUIRE(et_len(et_get(p, "explicitBounds")) == nb, "explicitBounds");
    for (i = 0; i <= nb; i++) {
        et_u64str_is(et_idx(et_get(p, "bucketCounts"), i), per[i]);
    }
    for (i = 0; i < nb; i++) {
        et_value_is(et_idx(et_get(p, "explicitBounds"), i), bounds[i], t_spell_proto);
    }
}

/* Asserts a summary data point (@nq quantiles @q with values @v). */
static void
t_summary_point(json_object *p, const struct et_kv *attrs, size_t nattrs, uint64_t count,
                double sum, const double *q, const double *v, size_t nq, uint64_t start,
                int64_t ts_ms)
{
    static const char *const qkeys[] = {"quantile", "value"};
    const char *keys[8];
    size_t nk = 0, i;

    keys[nk++] = "attributes";
    if (start != 0) {
        keys[nk++] = "startTimeUnixNano";
    }
    keys[nk++] = "timeUnixNano";
    keys[nk++] = "count";
    keys[nk++] = "sum";
    if (nq > 0) {
        keys[nk++] = "quantileValues";
    }
    et_keys(p, keys, nk);
    et_attrs_is(et_get(p, "attributes"), attrs, nattrs);
    if (start != 0) {
        et_u64str_is(et_get(p, "startTimeUnixNano"), start);
    }
    et_u64str_is(et_get(p, "timeUnixNano"), t_ns(ts_ms));
    et_u64str_is(et_get(p, "count"), count);
    et_value_is(et_get(p, "sum"), sum, t_spell_proto);
    if (nq == 0) {
        return;
    }
    ET_REQUIRE(et_len(et_get(p, "quantileValues")) == nq, "quantileValues");
    for (i = 0; i < nq; i++) {
        json_object *e = et_idx(et_get(p, "quantileValues"), i);

        et_keys(e, qkeys, 2);
        et_value_is(et_get(e, "quantile"), q[i], t_spell_proto);
        et_value_is(et_get(e, "value"), v[i], t_spell_proto);
    }
}

START_TEST(test_otlp_golden)
{
    struct strbuf rec, doc;
    struct batch b;

    et_batch(&b);
    b.ntarget_labels = 1;
    ET_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    et_encode(&enc_otlp, &b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_otlp, &doc, rec.data, rec.len);
    ck_assert_str_eq(doc.data,
                     "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
                     "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"node\"}},"
                     "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":"
                     "\"127.0.0.1:9100\"}},"
                     "{\"key\":\"env\",\"value\":{\"stringValue\":\"prod\"}}]},"
                     "\"scopeMetrics\":[{\"scope\":{\"name\":\"pollster\",\"version\":"
                     "\"" PACKAGE_VERSION "\"},\"metrics\":[{\"name\":\"node_load1\",\"gauge\":"
                     "{\"dataPoints\":[{\"attributes\":[],\"timeUnixNano\":"
                     "\"1764220800123000000\",\"asDouble\":0.42}]}}]}]}]}\n");
    strbuf_release(&doc);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_mixed)
{
    static const double bounds[] = {0.1, 0.5, 1};
    static const uint64_t get[] = {2, 3, 2, 1}, post[] = {0, 0, 1, 0}, put[] = {0, 0, 0, 0};
    static const double qa[] = {0.5, 0.9, 0.99}, va[] = {0.012, 0.25, 1.5};
    static const double qb[] = {0.5}, vb[] = {NAN};
    struct et_kv kv[1];
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    et_mixed_batch(&b);
    o = et_otlp_doc(&b, &metrics);
    ck_assert_uint_eq(et_len(metrics), 12);

    pts = t_metric(metrics, mi++, "node_load1", T_GAUGE, 1);
    t_number_point(et_idx(pts, 0), &b, &b.samples[0], 0);
    pts = t_metric(metrics, mi++, "node_cpu_seconds_total", T_SUM, 2);
    t_number_point(et_idx(pts, 0), &b, &b.samples[1], 0);
    t_number_point(et_idx(pts, 1), &b, &b.samples[2], 0);
    pts = t_metric(metrics, mi++, "x", T_GAUGE, 1);
    t_number_point(et_idx(pts, 0), &b, &b.samples[3], 0); /* NaN, own timestamp */
    t_gauges(metrics, &mi, &b, 4, 8);                     /* temp (2 points), build_info, state */

    pts = t_metric(metrics, mi++, "req_seconds", T_HIST, 3);
    kv[0].k = "method";
    kv[0].v = "GET";
    t_hist_point(et_idx(pts, 0), kv, 1, 8, true, 3.25, get, bounds, 3, 0, ET_TS);
    kv[0].v = "POST";
    t_hist_point(et_idx(pts, 1), kv, 1, 1, true, 0.75, post, bounds, 3, 0, ET_TS);
    kv[0].v = "PUT";
    t_hist_point(et_idx(pts, 2), kv, 1, 0, true, 0, put, bounds, 3, 0, ET_TS);

    pts = t_metric(metrics, mi++, "rpc_seconds", T_SUMMARY, 2);
    kv[0].k = "svc";
    kv[0].v = "a";
    t_summary_point(et_idx(pts, 0), kv, 1, 42, 17.5, qa, va, 3, 0, ET_TS);
    kv[0].v = "b";
    t_summary_point(et_idx(pts, 1), kv, 1, 0, 0, qb, vb, 1, 0, ET_TS);

    /* the histogram without +Inf: its samples as gauges, named as exposed */
    t_gauges(metrics, &mi, &b, 34, 37);
    pts = t_metric(metrics, mi++, "legacy_counter", T_SUM, 1);
    t_number_point(et_idx(pts, 0), &b, &b.samples[37], 0);
    ck_assert_uint_eq(mi, et_len(metrics));
    ck_assert_uint_eq(et_otlp_count(metrics), b.nsamples);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_escaping)
{
    static const double bounds[] = {0};
    static const uint64_t per[] = {1};
    struct et_kv kv[1] = {{"p\"", "\""}};
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    et_odd_batch(&b);
    o = et_otlp_doc(&b, &metrics); /* checks the escaped resource attributes */
    t_gauges(metrics, &mi, &b, 0, 1);
    pts = t_metric(metrics, mi++,
                   "c\xFF"
                   "d",
                   T_SUM, 1);
    t_number_point(et_idx(pts, 0), &b, &b.samples[1], 0);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(et_idx(pts, 0), kv, 1, 1, true, 0.5, per, bounds, 0, 0, ET_TS);
    ck_assert_uint_eq(mi, et_len(metrics));
    json_object_put(o);
    batch_release(&b);
}
END_TEST

/* Histograms and summaries that are not whole: every one falls back to gauges. */
START_TEST(test_otlp_incomplete)
{
    struct batch b;
    json_object *o, *metrics;
    size_t mi = 0, i;

    for (i = 0; i < 17; i++) {
        et_batch(&b);
        switch (i) {
        case 0: /* no +Inf bucket */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 1: /* decreasing cumulative counts */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 3, "le", "1");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 2);
            break;
        case 2: /* buckets without a count */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_sum", SAMPLE_HISTOGRAM, 1);
            break;
        case 3: /* count other than the +Inf bucket */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 3);
            break;
        case 4: /* not whole numbers */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1.5, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1.5);
            break;
        case 5: /* an le that is no number */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "abc");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 6: /* a bucket without le (so a series of its own, without +Inf) */
            ET_ADD0(&b, "h_bucket", SAMPLE_HISTOGRAM, 1);
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 7: /* bounds out of order */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "0.5");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 8: /* timestamps differ */
            et_with_ts(ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf"), 1000);
            et_with_ts(ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1), 2000);
            break;
        case 9: /* a repeated count */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 10: /* a summary without _sum */
            ET_ADD(&b, "s", SAMPLE_SUMMARY, 1, "quantile", "0.5");
            ET_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        case 11: /* a quantile outside [0, 1] */
            ET_ADD(&b, "s", SAMPLE_SUMMARY, 1, "quantile", "1.5");
            ET_ADD0(&b, "s_sum", SAMPLE_SUMMARY, 1);
            ET_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        case 12: /* a histogram sample without a histogram suffix */
            ET_ADD0(&b, "h", SAMPLE_HISTOGRAM, 1);
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 13: /* a NaN bucket, and a negative count */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, NAN, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, NAN);
            ET_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, -1, "le", "+Inf");
            ET_ADD0(&b, "g_count", SAMPLE_HISTOGRAM, -1);
            break;
        case 14: /* a bucket after +Inf, and an le of NaN */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "2");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            ET_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, 1, "le", "NaN");
            ET_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "g_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 15: /* a repeated bound */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1.0");
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        default: /* an unusable _created (0 s), and a summary quantile without its label */
            ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            ET_ADD0(&b, "h_created", SAMPLE_HISTOGRAM, 0);
            ET_ADD0(&b, "s", SAMPLE_SUMMARY, 1);
            ET_ADD0(&b, "s_sum", SAMPLE_SUMMARY, 1);
            ET_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        }
        o = et_otlp_doc(&b, &metrics);
        mi = 0;
        t_gauges(metrics, &mi, &b, 0, b.nsamples);
        ET_REQUIRE(mi == et_len(metrics), "case %zu: %zu metrics, want %zu", i, et_len(metrics),
                   mi);
        json_object_put(o);
        batch_release(&b);
    }
}
END_TEST

/* A good series between bad ones: the good one stays a histogram; order is kept. */
START_TEST(test_otlp_partial)
{
    static const double bounds[] = {1};
    static const uint64_t per[] = {1, 1};
    struct et_kv kv[1] = {{"s", "good"}};
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    et_batch(&b);
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "s", "bad1", "le", "1");
    ET_ADD(&b, "h_count", SAMPLE_HISTOGRAM, 1, "s", "bad1");
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "s", "good", "le", "1");
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "s", "good", "le", "+Inf");
    ET_ADD(&b, "h_count", SAMPLE_HISTOGRAM, 2, "s", "good");
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 5, "s", "bad2", "le", "+Inf");
    ET_ADD(&b, "h_sum", SAMPLE_HISTOGRAM, 5, "s", "bad2");
    o = et_otlp_doc(&b, &metrics);
    t_gauges(metrics, &mi, &b, 0, 2);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(et_idx(pts, 0), kv, 1, 2, false, 0, per, bounds, 1, 0, ET_TS);
    t_gauges(metrics, &mi, &b, 5, 7);
    ck_assert_uint_eq(mi, et_len(metrics));
    ck_assert_uint_eq(et_otlp_count(metrics), b.nsamples);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

/* OpenMetrics: _created as start times, gauge histograms, the OpenMetrics sample order. */
START_TEST(test_otlp_created)
{
    static const double hb[] = {0.5, 1}, gb[] = {10};
    static const uint64_t hper[] = {1, 2, 1}, gper[] = {3, 0};
    static const double q[] = {0.5}, v[] = {2};
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    et_batch(&b);
    ET_ADD(&b, "foo_total", SAMPLE_COUNTER, 17, "a", "1");
    ET_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220000.123456789, "a", "1");
    ET_ADD(&b, "foo_total", SAMPLE_COUNTER, 18, "a", "2");             /* no _created */
    ET_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220001.5, "a", "3"); /* _created first */
    ET_ADD(&b, "foo_total", SAMPLE_COUNTER, 19, "a", "3");
    ET_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220002, "a", "4"); /* alone: a gauge */
    ET_ADD(&b, "foo_total", SAMPLE_COUNTER, 20, "a", "5");
    ET_ADD(&b, "foo_created", SAMPLE_COUNTER, -1, "a", "5");  /* unusable: a gauge */
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "0.5"); /* [8] */
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 3, "le", "1");
    ET_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 4, "le", "+Inf");
    ET_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 4);
    ET_ADD0(&b, "h_sum", SAMPLE_HISTOGRAM, NAN);
    ET_ADD0(&b, "h_created", SAMPLE_HISTOGRAM, 1764220003);
    ET_ADD(&b, "g_bucket", SAMPLE_GAUGEHISTOGRAM, 3, "le", "10"); /* [14] */
    ET_ADD(&b, "g_bucket", SAMPLE_GAUGEHISTOGRAM, 3, "le", "+Inf");
    ET_ADD0(&b, "g_gcount", SAMPLE_GAUGEHISTOGRAM, 3);
    ET_ADD0(&b, "g_gsum", SAMPLE_GAUGEHISTOGRAM, -INFINITY);
    ET_ADD(&b, "s", SAMPLE_SUMMARY, 2, "quantile", "0.5"); /* [18] */
    ET_ADD0(&b, "s_count", SAMPLE_SUMMARY, 5);
    ET_ADD0(&b, "s_sum", SAMPLE_SUMMARY, INFINITY);
    ET_ADD0(&b, "s_created", SAMPLE_SUMMARY, 1764220004.25);
    ET_ADD0(&b, "t_count", SAMPLE_SUMMARY, 0); /* [22] no quantiles */
    ET_ADD0(&b, "t_sum", SAMPLE_SUMMARY, 0);
    o = et_otlp_doc(&b, &metrics);

    pts = t_metric(metrics, mi++, "foo_total", T_SUM, 3);
    t_number_point(et_idx(pts, 0), &b, &b.samples[0], UINT64_C(1764220000123456717));
    t_number_point(et_idx(pts, 1), &b, &b.samples[2], 0);
    t_number_point(et_idx(pts, 2), &b, &b.samples[4], UINT64_C(1764220001500000000));
    t_gauges(metrics, &mi, &b, 5, 6);
    pts = t_metric(metrics, mi++, "foo_total", T_SUM, 1);
    t_number_point(et_idx(pts, 0), &b, &b.samples[6], 0);
    t_gauges(metrics, &mi, &b, 7, 8);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(et_idx(pts, 0), NULL, 0, 4, true, NAN, hper, hb, 2, UINT64_C(1764220003000000000),
                 ET_TS);
    pts = t_metric(metrics, mi++, "g", T_HIST, 1);
    t_hist_point(et_idx(pts, 0), NULL, 0, 3, true, -INFINITY, gper, gb, 1, 0, ET_TS);
    pts = t_metric(metrics, mi++, "s", T_SUMMARY, 1);
    t_summary_point(et_idx(pts, 0), NULL, 0, 5, INFINITY, q, v, 1, UINT64_C(1764220004250000000),
                    ET_TS);
    pts = t_metric(metrics, mi++, "t", T_SUMMARY, 1);
    t_summary_point(et_idx(pts, 0), NULL, 0, 0, 0, NULL, NULL, 0, 0, ET_TS);
    ck_assert_uint_eq(mi, et_len(metrics));
    ck_assert_uint_eq(et_otlp_count(metrics), b.nsamples);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

/* More buckets than the encoder keeps parsed bounds for, and counts beyond 2^53. */
START_TEST(test_otlp_many_buckets)
{
    enum { NB = 100 };
    static char les[NB][16];
    double bounds[NB], cum = 0;
    uint64_t per[NB + 1];
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t i;

    et_batch(&b);
    for (i = 0; i < NB; i++) {
        snprintf(les[i], sizeof(les[i]), "%.3g", 0.001 * (double)(i + 1) * (double)(i + 1));
        bounds[i] = strtod(les[i], NULL);
        per[i] = i % 3;
        cum += (double)per[i];
        ET_ADD(&b, "big_bucket", SAMPLE_HISTOGRAM, cum, "le", les[i]);
    }
    /* the +Inf bucket makes the total 2^60: exact as a double, far beyond 2^53 */
    per[NB] = (UINT64_C(1) << 60) - (uint64_t)cum;
    cum = 1152921504606846976.0;
    ET_ADD(&b, "big_bucket", SAMPLE_HISTOGRAM, cum, "le", "+Inf");
    ET_ADD0(&b, "big_count", SAMPLE_HISTOGRAM, cum);
    ET_ADD0(&b, "big_sum", SAMPLE_HISTOGRAM, 1e300);
    o = et_otlp_doc(&b, &metrics);
    pts = t_metric(metrics, 0, "big", T_HIST, 1);
    t_hist_point(et_idx(pts, 0), NULL, 0, (uint64_t)cum, true, 1e300, per, bounds, NB, 0, ET_TS);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_timestamps)
{
    json_object *o, *metrics, *pts;
    struct batch b;

    et_batch(&b);
    b.job = NULL; /* no service.name, no service.instance.id */
    b.instance = NULL;
    et_with_ts(ET_ADD0(&b, "a", SAMPLE_GAUGE, 1), -5);        /* before 1970: 0 */
    et_with_ts(ET_ADD0(&b, "a", SAMPLE_GAUGE, 2), 0);         /* 0 */
    et_with_ts(ET_ADD0(&b, "a", SAMPLE_GAUGE, 3), 1);         /* 1000000 */
    et_with_ts(ET_ADD0(&b, "a", SAMPLE_GAUGE, 4), INT64_MAX); /* beyond uint64 ns: the max */
    o = et_otlp_doc(&b, &metrics);
    pts = t_metric(metrics, 0, "a", T_GAUGE, 4);
    et_u64str_is(et_get(et_idx(pts, 0), "timeUnixNano"), 0);
    et_u64str_is(et_get(et_idx(pts, 1), "timeUnixNano"), 0);
    et_u64str_is(et_get(et_idx(pts, 2), "timeUnixNano"), 1000000);
    et_u64str_is(et_get(et_idx(pts, 3), "timeUnixNano"), UINT64_MAX);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_failed_empty_document)
{
    static const char *const dkeys[] = {"resourceMetrics"};
    struct strbuf recs[4], doc;
    struct batch b[4];
    json_object *o, *metrics, *rms;
    size_t i, mi = 0;

    et_failed_batch(&b[0]);
    et_batch(&b[1]);
    et_odd_batch(&b[2]);
    et_batch(&b[3]);
    for (i = 0; i < 4; i++) {
        et_encode(&enc_otlp, &b[i], &recs[i]);
    }
    ck_assert_uint_eq(recs[1].len, 0);
    ck_assert_uint_eq(recs[3].len, 0);
    et_document(&enc_otlp, &recs[1], 1, &doc);
    ck_assert_str_eq(doc.data, "{\"resourceMetrics\":[]}\n");
    strbuf_release(&doc);

    et_document(&enc_otlp, recs, 4, &doc);
    o = et_parse_doc(&doc);
    et_keys(o, dkeys, 1);
    rms = et_get(o, "resourceMetrics");
    ck_assert_uint_eq(et_len(rms), 2);
    metrics = et_otlp_resource(et_idx(rms, 0), &b[0]);
    t_gauges(metrics, &mi, &b[0], 0, b[0].nsamples);
    ck_assert_uint_eq(mi, 4);
    metrics = et_otlp_resource(et_idx(rms, 1), &b[2]);
    ck_assert_uint_eq(et_otlp_count(metrics), b[2].nsamples);
    json_object_put(o);
    strbuf_release(&doc);
    for (i = 0; i < 4; i++) {
        strbuf_release(&recs[i]);
        batch_release(&b[i]);
    }
}
END_TEST

static Suite *
enc_otlp_suite(void)
{
    Suite *s = suite_create("enc_otlp");
    TCase *tc;

    tc = tcase_create("otlp");
    tcase_add_checked_fixture(tc, NULL, et_cache_teardown);
    tcase_add_test(tc, test_otlp_golden);
    tcase_add_test(tc, test_otlp_mixed);
    tcase_add_test(tc, test_otlp_escaping);
    tcase_add_test(tc, test_otlp_incomplete);
    tcase_add_test(tc, test_otlp_partial);
    tcase_add_test(tc, test_otlp_created);
    tcase_add_test(tc, test_otlp_many_buckets);
    tcase_add_test(tc, test_otlp_timestamps);
    tcase_add_test(tc, test_otlp_failed_empty_document);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(enc_otlp_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
