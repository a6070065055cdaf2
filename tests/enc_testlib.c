/*
 * Helpers of the encoder tests (see enc_testlib.h): each asserts what it reads, so a test fails
 * at the first mismatch with what was expected and what was found.
 */
#include "build-config.h"

#include "enc_testlib.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "enc_otlp.h"
#include "jsonref.h"

/* ---- strict JSON validation (RFC 8259, UTF-8, no duplicate keys) ---- */

/* Length of the valid, shortest-form, non-surrogate UTF-8 sequence at @s, or 0. */
static size_t
et_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, k;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    }
    else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (k = 2; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return need;
}

/*
 * Length of the maximal subpart at @s (a prefix of a valid sequence that cannot be completed,
 * or one bad byte): what the Unicode "substitution of maximal subparts" practice replaces with
 * one U+FFFD. Only called where et_utf8_seq() returned 0.
 */
static size_t
et_utf8_bad(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, k;

    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    }
    else {
        return 1;
    }
    if (n < 2 || s[1] < lo || s[1] > hi) {
        return 1;
    }
    for (k = 2; k < need && k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            break;
        }
    }
    return k;
}

/* Writes @s as JSON text decodes back from the encoders: invalid UTF-8 replaced by U+FFFD. */
void
et_utf8_fix(const char *s, char *out, size_t outsz)
{
    const unsigned char *u = (const unsigned char *)(s == NULL ? "" : s);
    size_t n = strlen((const char *)u), i = 0, o = 0, k;

    while (i < n) {
        k = et_utf8_seq(u + i, n - i);
        ET_REQUIRE(o + 4 < outsz, "et_utf8_fix: too long");
        if (k > 0) {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        }
        else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += et_utf8_bad(u + i, n - i);
        }
    }
    out[o] = '\0';
}

/* ---- json-c helpers ---- */

/* Parses exactly @n bytes of strict JSON (asserted) with json-c; the caller puts the result. */
json_object *
et_parse(const char *s, size_t n)
{
    struct json_tokener *tok = json_tokener_new();
    json_object *o;

    ET_REQUIRE(tok != NULL, "json_tokener_new");
    ET_REQUIRE(jsonref_valid_unique(s, n), "not strict JSON: %.*s", (int)(n > 3000 ? 3000 : n), s);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, s, (int)n);
    ET_REQUIRE(o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == n,
               "json-c: %s", json_tokener_error_desc(json_tokener_get_error(tok)));
    json_tokener_free(tok);
    return o;
}

json_object *
et_get(json_object *o, const char *key)
{
    json_object *v = NULL;

    ET_REQUIRE(json_object_is_type(o, json_type_object), "not an object (looking for %s)", key);
    ET_REQUIRE(json_object_object_get_ex(o, key, &v), "no key %s in %s", key,
               json_object_to_json_string(o));
    return v;
}

static bool
et_has(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

/* Asserts that @o has exactly the keys @keys, in that order. */
void
et_keys(json_object *o, const char *const *keys, size_t n)
{
    size_t i = 0;

    ET_REQUIRE(json_object_is_type(o, json_type_object), "not an object");
    ET_REQUIRE((size_t)json_object_object_length(o) == n, "%d keys, want %zu: %s",
               json_object_object_length(o), n, json_object_to_json_string(o));
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        ET_REQUIRE(strcmp(k, keys[i]) == 0, "key %zu is %s, want %s", i, k, keys[i]);
        i++;
    }
}

json_object *
et_idx(json_object *a, size_t i)
{
    ET_REQUIRE(json_object_is_type(a, json_type_array), "not an array");
    ET_REQUIRE(i < json_object_array_length(a), "index %zu beyond %zu", i,
               json_object_array_length(a));
    return json_object_array_get_idx(a, i);
}

size_t
et_len(json_object *a)
{
    ET_REQUIRE(json_object_is_type(a, json_type_array), "not an array");
    return json_object_array_length(a);
}

/* Asserts that @o is the string @want once invalid UTF-8 in @want is replaced. */
void
et_str_is(json_object *o, const char *want)
{
    char fixed[4096];

    et_utf8_fix(want, fixed, sizeof(fixed));
    ET_REQUIRE(json_object_is_type(o, json_type_string), "not a string: %s",
               json_object_to_json_string(o));
    ET_REQUIRE((size_t)json_object_get_string_len(o) == strlen(fixed) &&
                   memcmp(json_object_get_string(o), fixed, strlen(fixed)) == 0,
               "string %s, want %s", json_object_get_string(o), fixed);
}

bool
et_same_double(double a, double b)
{
    if (a == 0 && b == 0) {
        return true; /* -0 is written 0 */
    }
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/*
 * Asserts that @o holds @want: a JSON number read back bit for bit, or for non-finite values
 * the string @spell[0] (NaN), [1] (+inf), [2] (-inf).
 */
void
et_value_is(json_object *o, double want, const char *const spell[3])
{
    double got;

    if (!isfinite(want)) {
        et_str_is(o, spell[isnan(want) ? 0 : want > 0 ? 1 : 2]);
        return;
    }
    if (json_object_is_type(o, json_type_int)) {
        got = (double)json_object_get_int64(o);
    }
    else {
        ET_REQUIRE(json_object_is_type(o, json_type_double), "not a number: %s",
                   json_object_to_json_string(o));
        got = json_object_get_double(o);
    }
    ET_REQUIRE(et_same_double(got, want), "value %.17g, want %.17g", got, want);
}

void
et_int_is(json_object *o, int64_t want)
{
    ET_REQUIRE(json_object_is_type(o, json_type_int), "not an integer: %s",
               json_object_to_json_string(o));
    ET_REQUIRE(json_object_get_int64(o) == want, "%" PRId64 ", want %" PRId64,
               json_object_get_int64(o), want);
}

/* Asserts that @o is the decimal string of @want (proto3 JSON's 64-bit integers). */
void
et_u64str_is(json_object *o, uint64_t want)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRIu64, want);
    et_str_is(o, buf);
}

/* ---- batches ---- */

static const struct label t_targets[] = {{"env", "prod"}, {"region", "eu\"1"}};

void
et_batch(struct batch *b)
{
    batch_init(b);
    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = t_targets;
    b->ntarget_labels = ET_N(t_targets);
    b->ts_ms = ET_TS;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;
}

/* batch_add() with labels as an array of name, value pairs; returns the sample. */
struct sample *
et_add(struct batch *b, const char *name, enum sample_type type, double value, size_t n,
       const char *const *kv)
{
    struct label *l = NULL;
    struct sample *s;
    size_t i;

    if (n > 0) {
        l = arena_alloc(&b->arena, n * sizeof(*l));
        ET_REQUIRE(l != NULL, "arena_alloc");
        for (i = 0; i < n; i++) {
            l[i].name = kv[2 * i];
            l[i].value = kv[2 * i + 1];
        }
    }
    s = batch_push(b);
    ET_REQUIRE(s != NULL, "batch_push");
    s->name = name;
    s->labels = l;
    s->nlabels = (uint32_t)n;
    s->type = (uint8_t)type;
    s->value = value;
    return s;
}

struct sample *
et_with_ts(struct sample *s, int64_t ts)
{
    s->has_ts = true;
    s->ts_ms = ts;
    return s;
}

int64_t
et_ts(const struct batch *b, const struct sample *s)
{
    return s->has_ts ? s->ts_ms : b->ts_ms;
}

/* A histogram series: buckets (le, cumulative count) ending in +Inf, then _sum, _count. */
static void
et_add_hist(struct batch *b, const char *bucket, const char *sum, const char *count, const char *lk,
            const char *lv, size_t nb, const char *const *les, const double *cum, double sumv)
{
    size_t i;

    for (i = 0; i < nb; i++) {
        ET_ADD(b, bucket, SAMPLE_HISTOGRAM, cum[i], lk, lv, "le", les[i]);
    }
    ET_ADD(b, sum, SAMPLE_HISTOGRAM, sumv, lk, lv);
    ET_ADD(b, count, SAMPLE_HISTOGRAM, cum[nb - 1], lk, lv);
}

/*
 * The mixed batch most tests use: gauges, counters, untyped with its own timestamp, NaN and
 * infinities, info and stateset, a histogram with three series, a summary with two, an
 * incomplete histogram, a counter without _total.
 */
void
et_mixed_batch(struct batch *b)
{
    static const char *const les[] = {"0.1", "0.5", "1", "+Inf"};
    static const double get[] = {2, 5, 7, 8}, post[] = {0, 0, 1, 1}, put[] = {0, 0, 0, 0};

    et_batch(b);
    ET_ADD0(b, "node_load1", SAMPLE_GAUGE, 0.42);
    ET_ADD(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 123456.78, "cpu", "0", "mode", "idle");
    ET_ADD(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 0.1 + 0.2, "cpu", "0", "mode", "user");
    et_with_ts(ET_ADD(b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220800000);
    ET_ADD(b, "temp", SAMPLE_GAUGE, INFINITY, "sensor", "a");
    et_with_ts(ET_ADD(b, "temp", SAMPLE_GAUGE, -INFINITY, "sensor", "b"), 1764220799999);
    ET_ADD(b, "build_info", SAMPLE_INFO, 1, "version", "1.2");
    ET_ADD(b, "state", SAMPLE_STATESET, 1, "state", "ok");
    et_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "GET", 4,
                les, get, 3.25);
    et_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "POST",
                4, les, post, 0.75);
    et_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "PUT", 4,
                les, put, 0);
    ET_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 0.012, "svc", "a", "quantile", "0.5");
    ET_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 0.25, "svc", "a", "quantile", "0.9");
    ET_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 1.5, "svc", "a", "quantile", "0.99");
    ET_ADD(b, "rpc_seconds_sum", SAMPLE_SUMMARY, 17.5, "svc", "a");
    ET_ADD(b, "rpc_seconds_count", SAMPLE_SUMMARY, 42, "svc", "a");
    ET_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, NAN, "svc", "b", "quantile", "0.5");
    ET_ADD(b, "rpc_seconds_sum", SAMPLE_SUMMARY, 0, "svc", "b");
    ET_ADD(b, "rpc_seconds_count", SAMPLE_SUMMARY, 0, "svc", "b");
    ET_ADD(b, "bad_seconds_bucket", SAMPLE_HISTOGRAM, 3, "le", "1"); /* no +Inf bucket */
    ET_ADD0(b, "bad_seconds_sum", SAMPLE_HISTOGRAM, 2);
    ET_ADD0(b, "bad_seconds_count", SAMPLE_HISTOGRAM, 3);
    ET_ADD0(b, "legacy_counter", SAMPLE_COUNTER, 5);
}

/* Labels that need escaping or replacement everywhere: names, values, job, instance, targets. */
static const struct label t_odd_targets[] = {
    {"t\"k", "v\\\n"},
    {"\xC3\xBC", "\xC3\xB1\t"},
    {"bad", "\xFF\xFE"},
};

void
et_odd_batch(struct batch *b)
{
    et_batch(b);
    b->job = "jo\"b\\";
    b->instance = "in\nst\x01";
    b->target_labels = t_odd_targets;
    b->ntarget_labels = ET_N(t_odd_targets);
    ET_ADD(b, "we\"ird\nname", SAMPLE_GAUGE, 1.5, "q", "a\"b\\c\nd\te\x01\x1f", "utf",
           "\xE6\x97\xA5\xE6\x9C\xAC \xC3\xA9 \xF0\x9F\x8E\x89", "bad", "\xFF\xFE x \xC3", "trunc",
           "\xE2\x82", "k\"\\", "</script>");
    ET_ADD(b,
           "c\xFF"
           "d",
           SAMPLE_COUNTER, -2.5e-300, "\xED\xA0\x80", "surrogate");
    ET_ADD(b, "h_bucket", SAMPLE_HISTOGRAM, 1, "p\"", "\"", "le", "+Inf");
    ET_ADD(b, "h_sum", SAMPLE_HISTOGRAM, 0.5, "p\"", "\"");
    ET_ADD(b, "h_count", SAMPLE_HISTOGRAM, 1, "p\"", "\"");
}

/* The synthetic samples of a failed scrape (engine.c add_synthetic()), nothing else. */
void
et_failed_batch(struct batch *b)
{
    et_batch(b);
    batch_fail(b, REASON_TIMEOUT, "timeout after 10000 ms (connected, 0 bytes received)");
    ET_ADD0(b, "up", SAMPLE_GAUGE, 0);
    ET_ADD0(b, "scrape_duration_seconds", SAMPLE_GAUGE, 10.0012);
    ET_ADD0(b, "scrape_samples_scraped", SAMPLE_GAUGE, 0);
    ET_ADD0(b, "scrape_timeout_seconds", SAMPLE_GAUGE, 10);
}

/* ---- the identity label model ---- */

static void
et_kv_set(struct et_kv *kv, size_t *n, const char *k, const char *v)
{
    size_t i;

    k = k == NULL ? "" : k;
    v = v == NULL ? "" : v;
    for (i = 0; i < *n; i++) {
        if (strcmp(kv[i].k, k) == 0) {
            kv[i].v = v; /* a later label wins */
            return;
        }
    }
    ET_REQUIRE(*n < ET_MAX_KV, "too many labels");
    kv[*n].k = k;
    kv[*n].v = v;
    (*n)++;
}

/*
 * What the vm "metric" object (@vm: with __name__, without target or sample labels named
 * __name__) or the telegraf "tags" object of @s must hold.
 */
size_t
et_identity(const struct batch *b, const struct sample *s, bool vm, struct et_kv *kv)
{
    size_t n = 0;
    uint32_t i;

    if (vm) {
        et_kv_set(kv, &n, "__name__", s->name);
    }
    if (b->job != NULL) {
        et_kv_set(kv, &n, "job", b->job);
    }
    if (b->instance != NULL) {
        et_kv_set(kv, &n, "instance", b->instance);
    }
    for (i = 0; i < b->ntarget_labels; i++) {
        if (vm && b->target_labels[i].name != NULL &&
            strcmp(b->target_labels[i].name, "__name__") == 0) {
            continue;
        }
        et_kv_set(kv, &n, b->target_labels[i].name, b->target_labels[i].value);
    }
    for (i = 0; i < s->nlabels; i++) {
        if (vm && s->labels[i].name != NULL && strcmp(s->labels[i].name, "__name__") == 0) {
            continue;
        }
        et_kv_set(kv, &n, s->labels[i].name, s->labels[i].value);
    }
    return n;
}

/* Asserts that JSON object @o holds exactly the members @kv (keys after UTF-8 replacement). */
void
et_object_is(json_object *o, const struct et_kv *kv, size_t n)
{
    char key[1024];
    size_t i;

    ET_REQUIRE(json_object_is_type(o, json_type_object), "not an object");
    ET_REQUIRE((size_t)json_object_object_length(o) == n, "%d members, want %zu: %s",
               json_object_object_length(o), n, json_object_to_json_string(o));
    for (i = 0; i < n; i++) {
        et_utf8_fix(kv[i].k, key, sizeof(key));
        et_str_is(et_get(o, key), kv[i].v);
    }
}

/* Asserts that an OTLP attributes array holds exactly @kv, in order, as string values. */
void
et_attrs_is(json_object *a, const struct et_kv *kv, size_t n)
{
    static const char *const akeys[] = {"key", "value"};
    static const char *const vkeys[] = {"stringValue"};
    json_object *e;
    size_t i;

    ET_REQUIRE(et_len(a) == n, "%zu attributes, want %zu: %s", et_len(a), n,
               json_object_to_json_string(a));
    for (i = 0; i < n; i++) {
        e = et_idx(a, i);
        et_keys(e, akeys, 2);
        et_str_is(et_get(e, "key"), kv[i].k);
        et_keys(et_get(e, "value"), vkeys, 1);
        et_str_is(et_get(et_get(e, "value"), "stringValue"), kv[i].v);
    }
}

/* The labels of @s as key/value pairs, leaving out one named @skip (NULL: none). */
size_t
et_sample_kv(const struct sample *s, const char *skip, struct et_kv *kv)
{
    size_t n = 0;
    uint32_t i;

    for (i = 0; i < s->nlabels; i++) {
        if (skip != NULL && strcmp(s->labels[i].name, skip) == 0) {
            continue;
        }
        ET_REQUIRE(n < ET_MAX_KV, "too many labels");
        kv[n].k = s->labels[i].name;
        kv[n].v = s->labels[i].value;
        n++;
    }
    return n;
}

/* ---- encoding and framing ---- */

/* Encodes @b with @enc into a new strbuf (asserting success) that the caller releases. */
void
et_encode(const struct encoder *enc, const struct batch *b, struct strbuf *rec)
{
    strbuf_init(rec);
    ET_REQUIRE(enc->encode(rec, b) == 0, "%s: encode failed", enc->name);
    ET_REQUIRE(!rec->oom, "oom");
}

/* Frames @n records as outputs do (encoder.h): empty records contribute nothing. */
void
et_document(const struct encoder *enc, const struct strbuf *recs, size_t n, struct strbuf *doc)
{
    bool first = true;
    size_t i;

    strbuf_init(doc);
    strbuf_puts(doc, enc->doc_open);
    for (i = 0; i < n; i++) {
        if (recs[i].len == 0) {
            continue;
        }
        if (!first) {
            strbuf_puts(doc, enc->doc_sep);
        }
        strbuf_append(doc, recs[i].data, recs[i].len);
        first = false;
    }
    strbuf_puts(doc, enc->doc_close);
    ET_REQUIRE(!doc->oom, "oom");
}

/* Parses a one-line document (otlp, telegraf): exactly one '\n', at the end. */
json_object *
et_parse_doc(const struct strbuf *doc)
{
    ET_REQUIRE(doc->len > 0 && doc->data[doc->len - 1] == '\n', "document does not end in \\n");
    ET_REQUIRE(memchr(doc->data, '\n', doc->len - 1) == NULL, "document is more than one line");
    return et_parse(doc->data, doc->len - 1);
}

/* ---- otlp documents ---- */

/* Checks the resource and scope of resourceMetrics element @rm of @b; returns its metrics. */
json_object *
et_otlp_resource(json_object *rm, const struct batch *b)
{
    static const char *const rmkeys[] = {"resource", "scopeMetrics"};
    static const char *const rkeys[] = {"attributes"};
    static const char *const smkeys[] = {"scope", "metrics"};
    static const char *const skeys[] = {"name", "version"};
    struct et_kv kv[ET_MAX_KV];
    json_object *sm;
    size_t n = 0;
    uint32_t i;

    et_keys(rm, rmkeys, 2);
    et_keys(et_get(rm, "resource"), rkeys, 1);
    if (b->job != NULL) {
        kv[n].k = "service.name";
        kv[n++].v = b->job;
    }
    if (b->instance != NULL) {
        kv[n].k = "service.instance.id";
        kv[n++].v = b->instance;
    }
    for (i = 0; i < b->ntarget_labels; i++) {
        kv[n].k = b->target_labels[i].name == NULL ? "" : b->target_labels[i].name;
        kv[n++].v = b->target_labels[i].value == NULL ? "" : b->target_labels[i].value;
    }
    et_attrs_is(et_get(et_get(rm, "resource"), "attributes"), kv, n);
    ET_REQUIRE(et_len(et_get(rm, "scopeMetrics")) == 1, "scopeMetrics");
    sm = et_idx(et_get(rm, "scopeMetrics"), 0);
    et_keys(sm, smkeys, 2);
    et_keys(et_get(sm, "scope"), skeys, 2);
    et_str_is(et_get(et_get(sm, "scope"), "name"), "pollster");
    et_str_is(et_get(et_get(sm, "scope"), "version"), PACKAGE_VERSION);
    return et_get(sm, "metrics");
}

/*
 * Encodes @b into a one-record otlp document and parses it; *@metrics: its metrics array (NULL
 * for a batch without samples).
 */
json_object *
et_otlp_doc(const struct batch *b, json_object **metrics)
{
    static const char *const dkeys[] = {"resourceMetrics"};
    struct strbuf rec, doc;
    json_object *o;

    et_encode(&enc_otlp, b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_otlp, &doc, rec.data, rec.len);
    o = et_parse_doc(&doc);
    et_keys(o, dkeys, 1);
    if (b->nsamples == 0) {
        /* an empty record: the document lists nothing */
        ET_REQUIRE(rec.len == 0 && et_len(et_get(o, "resourceMetrics")) == 0, "empty batch");
        *metrics = NULL;
    }
    else {
        ET_REQUIRE(et_len(et_get(o, "resourceMetrics")) == 1, "resourceMetrics");
        *metrics = et_otlp_resource(et_idx(et_get(o, "resourceMetrics"), 0), b);
    }
    strbuf_release(&doc);
    strbuf_release(&rec);
    return o;
}

/*
 * How many samples the metrics stand for: a number point one (two with a start time: its
 * _created), a histogram point its buckets, count, sum and start time, a summary point its
 * quantiles, count, sum and start time. Every sample must be somewhere.
 */
size_t
et_otlp_count(json_object *metrics)
{
    size_t n = 0, i, j;

    for (i = 0; metrics != NULL && i < et_len(metrics); i++) {
        json_object *m = et_idx(metrics, i), *k, *pts;
        bool hist = et_has(m, "histogram"), summ = et_has(m, "summary");

        k = et_has(m, "gauge") ? et_get(m, "gauge")
            : et_has(m, "sum") ? et_get(m, "sum")
            : hist             ? et_get(m, "histogram")
                               : et_get(m, "summary");
        pts = et_get(k, "dataPoints");
        ET_REQUIRE(et_len(pts) > 0, "a metric without data points");
        for (j = 0; j < et_len(pts); j++) {
            json_object *p = et_idx(pts, j);

            n += et_has(p, "startTimeUnixNano") ? 1 : 0;
            if (hist) {
                n += et_len(et_get(p, "bucketCounts")) + 1 + (et_has(p, "sum") ? 1 : 0);
            }
            else if (summ) {
                n += 2 + (et_has(p, "quantileValues") ? et_len(et_get(p, "quantileValues")) : 0);
            }
            else {
                n++;
            }
        }
    }
    return n;
}

void
et_cache_teardown(void)
{
    arena_free_cache();
}
