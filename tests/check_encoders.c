/*
 * Unit tests for the vm and telegraf encoders (enc_vm.c, enc_telegraf.c) and for the encoder
 * table (encoders.c); the otlp encoder's are in check_enc_otlp.c, the helpers both use in
 * enc_testlib.c. Every record is wrapped into a document the way outputs frame them, checked by
 * a strict RFC 8259 validator (jsonref.c: json-c accepts NaN, Infinity and more, and keeps only
 * one of two equal keys, so it cannot judge validity alone; this one also rejects duplicate keys),
 * then parsed back with json-c and compared field by field with the batch: names, label sets
 * (with a model of the override rule and of the U+FFFD replacement of invalid UTF-8 that is
 * independent of the encoders), values bit for bit and timestamps.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc_json.h"
#include "enc_otlp.h"
#include "enc_telegraf.h"
#include "enc_testlib.h"
#include "enc_vm.h"
#include "encoder.h"
#include "jsonref.h"
#include "jsonw.h"
#include "sample.h"
#include "strbuf.h"

static const char *const t_spell_native[3] = {"NaN", "+Inf", "-Inf"};

/* ---- the test oracles ---- */

START_TEST(test_validator)
{
    static const char *const good[] = {
        "{}",
        "[]",
        "{\"a\":[1,-0.5,1e+06,2E-3,\"x\\u00e9\\n\",true,false,null]}",
        "\"caf\xC3\xA9\"",
        "0",
        "{\"a\":{\"a\":1}}",
    };
    static const char *const bad[] = {
        "{\"a\":1,\"a\":2}", "[NaN]",   "[+Inf]", "[Infinity]", "[1,]",
        "{\"a\":1,}",        "[01]",    "[1.]",   "[.5]",       "\"\x01\"",
        "\"\xFF\"",          "\"\\x\"", "{a:1}",  "[1] x",      "",
    };
    size_t i;

    for (i = 0; i < ET_N(good); i++) {
        ck_assert_msg(jsonref_valid_unique(good[i], strlen(good[i])), "%s", good[i]);
    }
    for (i = 0; i < ET_N(bad); i++) {
        ck_assert_msg(!jsonref_valid_unique(bad[i], strlen(bad[i])), "%s", bad[i]);
    }
}
END_TEST

START_TEST(test_utf8_model)
{
    static const char *const cases[][2] = {
        {"plain", "plain"},
        {"caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x8E\x89", "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x8E\x89"},
        {"a\xFF"
         "b",
         "a\xEF\xBF\xBD"
         "b"},
        {"\xE2\x82", "\xEF\xBF\xBD"}, /* one maximal subpart */
        {"\xE2\x82x", "\xEF\xBF\xBDx"},
        {"\xC3", "\xEF\xBF\xBD"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate: 3 bad bytes */
        {"\xF0\x9F\x8E", "\xEF\xBF\xBD"},
    };
    char out[64];
    struct strbuf sb;
    json_object *o;
    size_t i;

    strbuf_init(&sb);
    for (i = 0; i < ET_N(cases); i++) {
        et_utf8_fix(cases[i][0], out, sizeof(out));
        ck_assert_str_eq(out, cases[i][1]);
        /* and the model agrees with what jsonw_string() writes */
        strbuf_reset(&sb);
        jsonw_string(&sb, cases[i][0], strlen(cases[i][0]));
        o = json_tokener_parse(sb.data);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(json_object_get_string(o), cases[i][1]);
        json_object_put(o);
    }
    strbuf_release(&sb);
}
END_TEST

/* ---- vm checks ---- */

/*
 * Checks one vm line (without its '\n') against @s: the value is taken out first (non-finite
 * values are bare tokens VictoriaMetrics reads, not JSON), then the rest parsed as JSON.
 */
static void
t_vm_line(const char *line, size_t n, const struct batch *b, const struct sample *s)
{
    static const char *const keys[] = {"metric", "values", "timestamps"};
    static const char vals[] = "},\"values\":[";
    static const char tss[] = "],\"timestamps\":[";
    struct et_kv kv[ET_MAX_KV];
    char *copy, *v, *tok_end, tok[64];
    json_object *o, *a;
    size_t nkv, tl;
    double d;

    copy = malloc(n + 1);
    ET_REQUIRE(copy != NULL, "malloc");
    memcpy(copy, line, n);
    copy[n] = '\0';
    /* inside a JSON string a '"' is escaped, so this text only occurs as the structure */
    v = strstr(copy, vals);
    ET_REQUIRE(v != NULL, "no values in %s", copy);
    v += sizeof(vals) - 1;
    tok_end = strstr(v, tss);
    ET_REQUIRE(tok_end != NULL && tok_end > v && (size_t)(tok_end - v) < sizeof(tok),
               "bad values in %s", copy);
    tl = (size_t)(tok_end - v);
    memcpy(tok, v, tl);
    tok[tl] = '\0';
    if (isnan(s->value)) {
        ET_REQUIRE(strcmp(tok, "NaN") == 0, "value %s, want NaN", tok);
    }
    else if (isinf(s->value)) {
        ET_REQUIRE(strcmp(tok, s->value > 0 ? "+Inf" : "-Inf") == 0, "value %s", tok);
    }
    else {
        ET_REQUIRE(jsonref_valid_unique(tok, tl), "value %s is not a JSON number", tok);
        d = strtod(tok, NULL);
        ET_REQUIRE(et_same_double(d, s->value), "value %s, want %.17g", tok, s->value);
    }
    memmove(v + 1, tok_end, strlen(tok_end) + 1);
    *v = '0';

    o = et_parse(copy, strlen(copy));
    et_keys(o, keys, 3);
    nkv = et_identity(b, s, true, kv);
    et_object_is(et_get(o, "metric"), kv, nkv);
    a = et_get(o, "values");
    ET_REQUIRE(et_len(a) == 1, "values");
    a = et_get(o, "timestamps");
    ET_REQUIRE(et_len(a) == 1, "timestamps");
    et_int_is(et_idx(a, 0), et_ts(b, s));
    json_object_put(o);
    free(copy);
}

/* Checks a vm record: one line per sample of @b, in order. */
static void
t_vm_check(const char *rec, size_t len, const struct batch *b)
{
    const char *p = rec, *end = rec + len, *nl;
    size_t i;

    for (i = 0; i < b->nsamples; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        ET_REQUIRE(nl != NULL, "line %zu missing", i);
        t_vm_line(p, (size_t)(nl - p), b, &b->samples[i]);
        p = nl + 1;
    }
    ET_REQUIRE(p == end, "extra text after %zu lines: %s", b->nsamples, p);
}

/* Encodes @b with vm, checks the record and the one-record document. */
static void
t_vm_roundtrip(const struct batch *b)
{
    struct strbuf rec, doc;

    et_encode(&enc_vm, b, &rec);
    t_vm_check(rec.data, rec.len, b);
    strbuf_init(&doc);
    encoder_document(&enc_vm, &doc, rec.data, rec.len);
    ET_REQUIRE(doc.len == rec.len && (rec.len == 0 || memcmp(doc.data, rec.data, rec.len) == 0),
               "vm document differs from its record");
    strbuf_release(&doc);
    strbuf_release(&rec);
}

START_TEST(test_vm_golden)
{
    struct strbuf rec;
    struct batch b;

    et_batch(&b);
    b.ntarget_labels = 1;
    ET_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    et_with_ts(ET_ADD(&b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220800000);
    ET_ADD(&b, "y", SAMPLE_GAUGE, -INFINITY, "a", "q\"");
    ET_ADD0(&b, "z", SAMPLE_GAUGE, INFINITY);
    et_encode(&enc_vm, &b, &rec);
    ck_assert_str_eq(rec.data,
                     "{\"metric\":{\"__name__\":\"node_load1\",\"job\":\"node\",\"instance\":"
                     "\"127.0.0.1:9100\",\"env\":\"prod\"},\"values\":[0.42],\"timestamps\":["
                     "1764220800123]}\n"
                     "{\"metric\":{\"__name__\":\"x\",\"job\":\"node\",\"instance\":"
                     "\"127.0.0.1:9100\",\"env\":\"prod\",\"le\":\"+Inf\"},\"values\":[NaN],"
                     "\"timestamps\":[1764220800000]}\n"
                     "{\"metric\":{\"__name__\":\"y\",\"job\":\"node\",\"instance\":"
                     "\"127.0.0.1:9100\",\"env\":\"prod\",\"a\":\"q\\\"\"},\"values\":[-Inf],"
                     "\"timestamps\":[1764220800123]}\n"
                     "{\"metric\":{\"__name__\":\"z\",\"job\":\"node\",\"instance\":"
                     "\"127.0.0.1:9100\",\"env\":\"prod\"},\"values\":[+Inf],"
                     "\"timestamps\":[1764220800123]}\n");
    t_vm_check(rec.data, rec.len, &b);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

START_TEST(test_vm_mixed)
{
    struct batch b;

    et_mixed_batch(&b);
    t_vm_roundtrip(&b);
    batch_release(&b);
}
END_TEST

START_TEST(test_vm_escaping)
{
    struct strbuf rec;
    struct batch b;
    json_object *o;

    et_odd_batch(&b);
    t_vm_roundtrip(&b);
    /* spot-check one decoded value against a literal, not only against the model */
    et_encode(&enc_vm, &b, &rec);
    *strchr(rec.data, '\n') = '\0';
    *strstr(rec.data, "[1.5]") = '\0';
    strcat(rec.data, "[1],\"timestamps\":[1]}");
    o = et_parse(rec.data, strlen(rec.data));
    et_str_is(et_get(et_get(o, "metric"), "q"), "a\"b\\c\nd\te\x01\x1f");
    et_str_is(et_get(et_get(o, "metric"), "bad"), "\xEF\xBF\xBD\xEF\xBF\xBD x \xEF\xBF\xBD");
    et_str_is(et_get(et_get(o, "metric"), "__name__"), "we\"ird\nname");
    et_str_is(et_get(et_get(o, "metric"), "job"), "jo\"b\\");
    json_object_put(o);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

/* Target and sample labels replacing job, instance and each other; __name__ labels dropped. */
static void
t_override_batch(struct batch *b, const struct label *tl, size_t ntl)
{
    et_batch(b);
    b->target_labels = tl;
    b->ntarget_labels = (uint32_t)ntl;
    ET_ADD0(b, "a", SAMPLE_GAUGE, 1);
    ET_ADD(b, "b", SAMPLE_GAUGE, 2, "instance", "si", "zone", "sz");
    ET_ADD(b, "c", SAMPLE_GAUGE, 3, "x", "1");
    ET_ADD(b, "d", SAMPLE_GAUGE, 4, "job", "sj", "__name__", "evil");
    ET_ADD0(b, "e", SAMPLE_GAUGE, 5);
    ET_ADD(b, "f", SAMPLE_COUNTER, 6, "jab", "1", "zzz", "2", "instance", "i2");
    ET_ADD(b, "g", SAMPLE_COUNTER, 7, "zone", "");
}

START_TEST(test_vm_overrides)
{
    static const struct label tl[] = {{"job", "tjob"}, {"zone", "z1"}};
    static const struct label none[] = {{NULL, NULL}};
    struct et_kv kv[ET_MAX_KV];
    struct batch b;
    size_t n;

    t_override_batch(&b, tl, ET_N(tl));
    /* the model itself: the target's job replaces the batch's, the sample's replaces both */
    n = et_identity(&b, &b.samples[0], true, kv);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(kv[1].k, "job");
    ck_assert_str_eq(kv[1].v, "tjob");
    n = et_identity(&b, &b.samples[3], true, kv);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(kv[0].v, "d");
    ck_assert_str_eq(kv[1].v, "sj");
    t_vm_roundtrip(&b);

    b.job = NULL; /* left out, as is a NULL instance */
    b.instance = NULL;
    t_vm_roundtrip(&b);
    b.ntarget_labels = 0;
    t_vm_roundtrip(&b);
    b.target_labels = none; /* a NULL name and value are written "" */
    b.ntarget_labels = 1;
    t_vm_roundtrip(&b);
    batch_release(&b);
}
END_TEST

START_TEST(test_vm_failed_and_empty)
{
    struct strbuf rec;
    struct batch b;

    et_failed_batch(&b);
    t_vm_roundtrip(&b);
    et_encode(&enc_vm, &b, &rec);
    ck_assert_ptr_nonnull(strstr(rec.data, "{\"__name__\":\"up\","));
    ck_assert_ptr_nonnull(strstr(rec.data, "\"values\":[0]"));
    strbuf_release(&rec);

    batch_clear(&b);
    b.ok = true;
    et_encode(&enc_vm, &b, &rec);
    ck_assert_uint_eq(rec.len, 0);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

START_TEST(test_vm_document)
{
    struct strbuf recs[3], doc;
    struct batch b[3];
    size_t i, lines = 0;
    const char *p;

    et_mixed_batch(&b[0]);
    et_batch(&b[1]); /* no samples: an empty record */
    et_odd_batch(&b[2]);
    for (i = 0; i < 3; i++) {
        et_encode(&enc_vm, &b[i], &recs[i]);
    }
    et_document(&enc_vm, recs, 3, &doc);
    for (p = doc.data; (p = strchr(p, '\n')) != NULL; p++) {
        lines++;
    }
    ck_assert_uint_eq(lines, b[0].nsamples + b[2].nsamples);
    /* the document is the records one after the other */
    t_vm_check(doc.data, recs[0].len, &b[0]);
    t_vm_check(doc.data + recs[0].len, recs[2].len, &b[2]);
    ck_assert_uint_eq(doc.len, recs[0].len + recs[2].len);
    strbuf_release(&doc);
    for (i = 0; i < 3; i++) {
        strbuf_release(&recs[i]);
        batch_release(&b[i]);
    }
}
END_TEST

/* ---- telegraf checks ---- */

static bool
t_ends_with(const char *s, const char *sfx, size_t *base)
{
    size_t n = strlen(s), k = strlen(sfx);

    if (n > k && strcmp(s + n - k, sfx) == 0) {
        *base = n - k;
        return true;
    }
    return false;
}

static bool
t_same_labels(const struct sample *a, const struct sample *b)
{
    uint32_t i;

    if (a->nlabels != b->nlabels) {
        return false;
    }
    for (i = 0; i < a->nlabels; i++) {
        if (strcmp(a->labels[i].name, b->labels[i].name) != 0 ||
            strcmp(a->labels[i].value, b->labels[i].value) != 0) {
            return false;
        }
    }
    return true;
}

/*
 * The telegraf model of pairing: samples @i and @i + 1 are the _count and _sum of one
 * histogram or summary series (either order). Sets *@count to the index of the _count.
 */
static bool
t_tg_pair(const struct batch *b, size_t i, size_t *count)
{
    const struct sample *x = &b->samples[i], *y;
    size_t bx, by;

    if (i + 1 >= b->nsamples) {
        return false;
    }
    y = x + 1;
    if (x->type != y->type || (x->type != SAMPLE_HISTOGRAM && x->type != SAMPLE_SUMMARY) ||
        x->has_ts != y->has_ts || (x->has_ts && x->ts_ms != y->ts_ms) || !t_same_labels(x, y)) {
        return false;
    }
    if (t_ends_with(x->name, "_count", &bx) && t_ends_with(y->name, "_sum", &by) && bx == by &&
        memcmp(x->name, y->name, bx) == 0) {
        *count = i;
        return true;
    }
    if (t_ends_with(x->name, "_sum", &bx) && t_ends_with(y->name, "_count", &by) && bx == by &&
        memcmp(x->name, y->name, bx) == 0) {
        *count = i + 1;
        return true;
    }
    return false;
}

/*
 * Checks the telegraf metric objects of @b in array @a from index *@ai on; advances *@ai.
 * Returns the number of metric objects.
 */
static size_t
t_tg_check(json_object *a, size_t *ai, const struct batch *b)
{
    static const char *const keys[] = {"fields", "name", "tags", "timestamp"};
    struct et_kv kv[ET_MAX_KV];
    char name[1024];
    json_object *m, *f;
    size_t i = 0, nkv, c, nm = 0;
    int64_t ts;

    while (i < b->nsamples) {
        const struct sample *s = &b->samples[i];
        bool pair = t_tg_pair(b, i, &c);

        m = et_idx(a, (*ai)++);
        nm++;
        et_keys(m, keys, 4);
        et_str_is(et_get(m, "name"), "prometheus");
        f = et_get(m, "fields");
        ET_REQUIRE(json_object_object_length(f) == (pair ? 2 : 1), "fields: %s",
                   json_object_to_json_string(f));
        if (pair) {
            /* _count first, the order Go writes the keys in */
            const char *const fk[] = {b->samples[c].name, b->samples[c == i ? i + 1 : i].name};

            et_keys(f, fk, 2);
            et_value_is(et_get(f, b->samples[i].name), b->samples[i].value, t_spell_native);
            et_value_is(et_get(f, b->samples[i + 1].name), b->samples[i + 1].value, t_spell_native);
        }
        else {
            et_utf8_fix(s->name, name, sizeof(name));
            et_value_is(et_get(f, name), s->value, t_spell_native);
        }
        nkv = et_identity(b, s, false, kv);
        et_object_is(et_get(m, "tags"), kv, nkv);
        ts = et_ts(b, s);
        et_int_is(et_get(m, "timestamp"), ts / 1000); /* truncated toward zero, like Go */
        i += pair ? 2 : 1;
    }
    return nm;
}

/* Encodes @b, frames it as a one-record document, checks it; returns the metric count. */
static size_t
t_tg_roundtrip(const struct batch *b)
{
    static const char *const dkeys[] = {"metrics"};
    struct strbuf rec, doc;
    json_object *o;
    size_t ai = 0, nm;

    et_encode(&enc_telegraf, b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_telegraf, &doc, rec.data, rec.len);
    o = et_parse_doc(&doc);
    et_keys(o, dkeys, 1);
    nm = t_tg_check(et_get(o, "metrics"), &ai, b);
    ET_REQUIRE(ai == et_len(et_get(o, "metrics")), "extra metrics");
    json_object_put(o);
    strbuf_release(&doc);
    strbuf_release(&rec);
    return nm;
}

START_TEST(test_telegraf_golden)
{
    struct strbuf rec, doc;
    struct batch b;

    et_batch(&b);
    b.ntarget_labels = 1;
    ET_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    et_with_ts(ET_ADD(&b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220801999);
    ET_ADD0(&b, "y_sum", SAMPLE_SUMMARY, -INFINITY);
    ET_ADD0(&b, "y_count", SAMPLE_SUMMARY, 3);
    et_encode(&enc_telegraf, &b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_telegraf, &doc, rec.data, rec.len);
    ck_assert_str_eq(doc.data,
                     "{\"metrics\":[{\"fields\":{\"node_load1\":0.42},\"name\":\"prometheus\","
                     "\"tags\":{\"job\":\"node\",\"instance\":\"127.0.0.1:9100\",\"env\":\"prod\"},"
                     "\"timestamp\":1764220800},"
                     "{\"fields\":{\"x\":\"NaN\"},\"name\":\"prometheus\",\"tags\":{\"job\":"
                     "\"node\",\"instance\":\"127.0.0.1:9100\",\"env\":\"prod\",\"le\":\"+Inf\"},"
                     "\"timestamp\":1764220801},"
                     "{\"fields\":{\"y_count\":3,\"y_sum\":\"-Inf\"},\"name\":\"prometheus\","
                     "\"tags\":{\"job\":\"node\",\"instance\":\"127.0.0.1:9100\",\"env\":\"prod\"},"
                     "\"timestamp\":1764220800}]}\n");
    ck_assert_uint_eq(t_tg_roundtrip(&b), 3);
    strbuf_release(&doc);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_mixed)
{
    struct batch b;

    et_mixed_batch(&b);
    /*
     * The req_seconds series (3) and rpc_seconds series (2) each pair their _sum and _count;
     * bad_seconds_sum/_count pair too (the pairing does not judge the buckets).
     */
    ck_assert_uint_eq(b.nsamples, 38);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 38 - 6);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_pairs)
{
    struct batch b;

    et_batch(&b);
    ET_ADD(&b, "a_count", SAMPLE_HISTOGRAM, 2, "k", "v"); /* count before sum: paired */
    ET_ADD(&b, "a_sum", SAMPLE_HISTOGRAM, 1, "k", "v");
    ET_ADD(&b, "a_sum", SAMPLE_HISTOGRAM, 1, "k", "w"); /* labels differ: not paired */
    ET_ADD(&b, "a_count", SAMPLE_HISTOGRAM, 2, "k", "x");
    ET_ADD0(&b, "b_sum", SAMPLE_SUMMARY, 1); /* family differs */
    ET_ADD0(&b, "bb_count", SAMPLE_SUMMARY, 1);
    ET_ADD0(&b, "c_sum", SAMPLE_GAUGE, 1); /* not a histogram or summary */
    ET_ADD0(&b, "c_count", SAMPLE_GAUGE, 1);
    ET_ADD0(&b, "d_sum", SAMPLE_SUMMARY, 1); /* types differ */
    ET_ADD0(&b, "d_count", SAMPLE_HISTOGRAM, 1);
    et_with_ts(ET_ADD0(&b, "e_sum", SAMPLE_SUMMARY, 1), 5); /* timestamps differ */
    ET_ADD0(&b, "e_count", SAMPLE_SUMMARY, 1);
    et_with_ts(ET_ADD0(&b, "ee_sum", SAMPLE_SUMMARY, 1), 5); /* other timestamp */
    et_with_ts(ET_ADD0(&b, "ee_count", SAMPLE_SUMMARY, 1), 6);
    et_with_ts(ET_ADD0(&b, "f_sum", SAMPLE_SUMMARY, 1), 5); /* same timestamp: paired */
    et_with_ts(ET_ADD0(&b, "f_count", SAMPLE_SUMMARY, 1), 5);
    ET_ADD0(&b, "_sum", SAMPLE_SUMMARY, 1); /* no family name */
    ET_ADD0(&b, "_count", SAMPLE_SUMMARY, 1);
    ET_ADD0(&b, "g_sum", SAMPLE_SUMMARY, 1); /* three in a row: the first two pair */
    ET_ADD0(&b, "g_count", SAMPLE_SUMMARY, 1);
    ET_ADD0(&b, "g_count", SAMPLE_SUMMARY, 1);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 21 - 3);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_escaping_overrides)
{
    static const struct label tl[] = {{"job", "tjob"}, {"zone", "z1"}};
    struct batch b;

    et_odd_batch(&b);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 4);
    batch_release(&b);
    t_override_batch(&b, tl, ET_N(tl));
    ck_assert_uint_eq(t_tg_roundtrip(&b), b.nsamples);
    b.job = NULL;
    b.instance = NULL;
    b.ntarget_labels = 0;
    ck_assert_uint_eq(t_tg_roundtrip(&b), b.nsamples);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_timestamps)
{
    struct batch b;

    et_batch(&b);
    b.ts_ms = 1999; /* 1 s */
    ET_ADD0(&b, "a", SAMPLE_GAUGE, 1);
    et_with_ts(ET_ADD0(&b, "b", SAMPLE_GAUGE, 1), -1500); /* -1 s, as Go truncates */
    et_with_ts(ET_ADD0(&b, "c", SAMPLE_GAUGE, 1), 999);   /* 0 s */
    et_with_ts(ET_ADD0(&b, "d", SAMPLE_GAUGE, 1), INT64_MAX);
    et_with_ts(ET_ADD0(&b, "e", SAMPLE_GAUGE, 1), INT64_MIN);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 5);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_failed_empty_document)
{
    static const char *const dkeys[] = {"metrics"};
    struct strbuf recs[4], doc;
    struct batch b[4];
    json_object *o;
    size_t i, ai = 0;

    et_failed_batch(&b[0]);
    ck_assert_uint_eq(t_tg_roundtrip(&b[0]), 4);
    et_batch(&b[1]);
    et_mixed_batch(&b[2]);
    et_batch(&b[3]);
    for (i = 0; i < 4; i++) {
        et_encode(&enc_telegraf, &b[i], &recs[i]);
    }
    ck_assert_uint_eq(recs[1].len, 0);
    /* a document of only an empty record is an empty list */
    et_document(&enc_telegraf, &recs[1], 1, &doc);
    ck_assert_str_eq(doc.data, "{\"metrics\":[]}\n");
    strbuf_release(&doc);
    /* several records: one list of every batch's metrics */
    et_document(&enc_telegraf, recs, 4, &doc);
    o = et_parse_doc(&doc);
    et_keys(o, dkeys, 1);
    t_tg_check(et_get(o, "metrics"), &ai, &b[0]);
    t_tg_check(et_get(o, "metrics"), &ai, &b[2]);
    ck_assert_uint_eq(ai, et_len(et_get(o, "metrics")));
    json_object_put(o);
    strbuf_release(&doc);
    for (i = 0; i < 4; i++) {
        strbuf_release(&recs[i]);
        batch_release(&b[i]);
    }
}
END_TEST

/* ---- all encoders ---- */

START_TEST(test_find)
{
    static const char *const names[] = {"json", "vm", "otlp", "telegraf"};
    const struct encoder *const want[] = {&enc_json, &enc_vm, &enc_otlp, &enc_telegraf};
    const struct encoder *e;
    size_t i;

    for (i = 0; i < ET_N(names); i++) {
        e = encoder_find(names[i]);
        ck_assert_ptr_eq(e, want[i]);
        ck_assert_str_eq(e->name, names[i]);
        ck_assert_ptr_nonnull(e->encode);
        ck_assert_ptr_nonnull(e->content_type);
        ck_assert_ptr_nonnull(e->doc_open);
        ck_assert_ptr_nonnull(e->doc_sep);
        ck_assert_ptr_nonnull(e->doc_close);
    }
    ck_assert_ptr_null(encoder_find("unknown"));
    ck_assert_ptr_null(encoder_find(""));
    ck_assert_ptr_null(encoder_find("VM"));
    ck_assert_ptr_null(encoder_find("json "));

    ck_assert_str_eq(enc_vm.content_type, "application/json");
    ck_assert_str_eq(enc_vm.doc_open, "");
    ck_assert_str_eq(enc_vm.doc_sep, "");
    ck_assert_str_eq(enc_vm.doc_close, "");
    ck_assert_str_eq(enc_otlp.content_type, "application/json");
    ck_assert_str_eq(enc_otlp.doc_open, "{\"resourceMetrics\":[");
    ck_assert_str_eq(enc_otlp.doc_sep, ",");
    ck_assert_str_eq(enc_otlp.doc_close, "]}\n");
    ck_assert_str_eq(enc_telegraf.content_type, "application/json");
    ck_assert_str_eq(enc_telegraf.doc_open, "{\"metrics\":[");
    ck_assert_str_eq(enc_telegraf.doc_sep, ",");
    ck_assert_str_eq(enc_telegraf.doc_close, "]}\n");
}
END_TEST

/* An oom strbuf: -ENOMEM, and the buffer holds what it held before. */
START_TEST(test_oom)
{
    const struct encoder *const encs[] = {&enc_vm, &enc_otlp, &enc_telegraf};
    struct strbuf sb;
    struct batch b, empty;
    size_t i;

    et_mixed_batch(&b);
    et_batch(&empty);
    for (i = 0; i < ET_N(encs); i++) {
        strbuf_init(&sb);
        strbuf_puts(&sb, "line\n");
        sb.oom = true;
        ck_assert_int_eq(encs[i]->encode(&sb, &b), -ENOMEM);
        ck_assert_str_eq(sb.data, "line\n");
        ck_assert_uint_eq(sb.len, 5);
        ck_assert_int_eq(encs[i]->encode(&sb, &empty), -ENOMEM);
        ck_assert_uint_eq(sb.len, 5);
        /* after a reset the same buffer works, and appends after earlier text */
        strbuf_reset(&sb);
        strbuf_puts(&sb, "line\n");
        ck_assert_int_eq(encs[i]->encode(&sb, &b), 0);
        ck_assert_uint_gt(sb.len, 5);
        ck_assert_int_eq(memcmp(sb.data, "line\n", 5), 0);
        if (encs[i] == &enc_vm) {
            t_vm_check(sb.data + 5, sb.len - 5, &b);
        }
        strbuf_release(&sb);
    }
    batch_release(&b);
    batch_release(&empty);
}
END_TEST

/* Two records appended to one strbuf are two whole records (the label cache starts over). */
START_TEST(test_append)
{
    static const struct label tl2[] = {{"other", "target"}};
    struct strbuf sb, one;
    struct batch a, b;
    size_t alen;

    et_mixed_batch(&a);
    et_odd_batch(&b);
    b.target_labels = tl2;
    b.ntarget_labels = 1;
    strbuf_init(&sb);
    ck_assert_int_eq(enc_vm.encode(&sb, &a), 0);
    et_encode(&enc_vm, &a, &one);
    alen = one.len;
    ck_assert_uint_eq(sb.len, alen);
    strbuf_release(&one);
    ck_assert_int_eq(enc_vm.encode(&sb, &b), 0);
    t_vm_check(sb.data, alen, &a);
    t_vm_check(sb.data + alen, sb.len - alen, &b);
    strbuf_release(&sb);
    batch_release(&a);
    batch_release(&b);
}
END_TEST

/* A deterministic PRNG (xorshift64*) so a failure reproduces. */
static uint64_t t_rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
t_rng(void)
{
    t_rng_state ^= t_rng_state >> 12;
    t_rng_state ^= t_rng_state << 25;
    t_rng_state ^= t_rng_state >> 27;
    return t_rng_state * 0x2545F4914F6CDD1DULL;
}

/*
 * Random batches: label names that collide with job, instance, target labels and __name__;
 * families whose _sum/_count may or may not pair; histograms that may or may not be whole;
 * values including NaN and infinities. vm and telegraf are checked against their models,
 * otlp for validity and for keeping every sample.
 */
START_TEST(test_random)
{
    static const char *const lnames[] = {"job",      "instance", "env",      "a", "b",
                                         "__name__", "le",       "quantile", "j", "i"};
    static const char *const lvalues[] = {"",    "1",           "x\"y", "+Inf",
                                          "0.5", "caf\xC3\xA9", "\xFF", "2"};
    static const char *const snames[] = {"m_sum",     "m_count", "m_bucket", "m",      "m_total",
                                         "m_created", "n_sum",   "n_count",  "m_gsum", "m_gcount"};
    static const double values[] = {0, 1, 2, 3, 0.5, -1, NAN, INFINITY, -INFINITY, 1e300};
    struct label tl[4];
    struct batch b;
    json_object *o, *metrics;
    int round;
    size_t ns, i, j, nl, ntl;

    for (round = 0; round < 300; round++) {
        et_batch(&b);
        b.job = t_rng() % 5 == 0 ? NULL : "job";
        b.instance = t_rng() % 5 == 0 ? NULL : "inst";
        ntl = t_rng() % 4;
        for (i = 0; i < ntl; i++) { /* distinct names: the config's target labels are */
            tl[i].name = lnames[(round + i * 3) % ET_N(lnames)];
            tl[i].value = lvalues[t_rng() % ET_N(lvalues)];
        }
        b.target_labels = tl;
        b.ntarget_labels = (uint32_t)ntl;
        ns = t_rng() % 30;
        for (i = 0; i < ns; i++) {
            const char *kv[8];

            nl = t_rng() % 4;
            for (j = 0; j < nl; j++) { /* distinct names in one sample, as the parser checks */
                kv[2 * j] = lnames[(i + j * 4 + (size_t)round) % ET_N(lnames)];
                kv[2 * j + 1] = lvalues[t_rng() % ET_N(lvalues)];
            }
            struct sample *s = et_add(&b, snames[t_rng() % ET_N(snames)],
                                      (enum sample_type)(t_rng() % (SAMPLE_TYPE__COUNT + 1)),
                                      values[t_rng() % ET_N(values)], nl, kv);
            if (t_rng() % 4 == 0) {
                et_with_ts(s, (int64_t)(t_rng() % 4000) - 1000);
            }
        }
        t_vm_roundtrip(&b);
        t_tg_roundtrip(&b);
        o = et_otlp_doc(&b, &metrics);
        ET_REQUIRE(et_otlp_count(metrics) == b.nsamples, "round %d: otlp lost samples", round);
        json_object_put(o);
        batch_release(&b);
    }
}
END_TEST

static Suite *
encoders_suite(void)
{
    Suite *s = suite_create("encoders");
    TCase *tc;

    tc = tcase_create("oracle");
    tcase_add_test(tc, test_validator);
    tcase_add_test(tc, test_utf8_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("table");
    tcase_add_checked_fixture(tc, NULL, et_cache_teardown);
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_append);
    suite_add_tcase(s, tc);

    tc = tcase_create("vm");
    tcase_add_checked_fixture(tc, NULL, et_cache_teardown);
    tcase_add_test(tc, test_vm_golden);
    tcase_add_test(tc, test_vm_mixed);
    tcase_add_test(tc, test_vm_escaping);
    tcase_add_test(tc, test_vm_overrides);
    tcase_add_test(tc, test_vm_failed_and_empty);
    tcase_add_test(tc, test_vm_document);
    suite_add_tcase(s, tc);

    tc = tcase_create("telegraf");
    tcase_add_checked_fixture(tc, NULL, et_cache_teardown);
    tcase_add_test(tc, test_telegraf_golden);
    tcase_add_test(tc, test_telegraf_mixed);
    tcase_add_test(tc, test_telegraf_pairs);
    tcase_add_test(tc, test_telegraf_escaping_overrides);
    tcase_add_test(tc, test_telegraf_timestamps);
    tcase_add_test(tc, test_telegraf_failed_empty_document);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, et_cache_teardown);
    tcase_add_test(tc, test_random);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(encoders_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
