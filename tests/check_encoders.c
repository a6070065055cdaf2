/*
 * Unit tests for the vm, otlp and telegraf encoders (enc_vm.c, enc_otlp.c, enc_telegraf.c) and
 * for the encoder table (encoders.c). Every record is wrapped into a document the way outputs
 * frame them, checked by a strict RFC 8259 validator written here (json-c accepts NaN, Infinity
 * and more, and keeps only one of two equal keys, so it cannot judge validity alone; this one
 * also rejects duplicate keys), then parsed back with json-c and compared field by field with
 * the batch: names, label sets (with a model of the override rule and of the U+FFFD replacement
 * of invalid UTF-8 that is independent of the encoders), values bit for bit, timestamps, and for
 * otlp the histogram bucket conversion and the int64-as-string fields.
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
#include "jsonref.h"
#include "jsonw.h"
#include "enc_otlp.h"
#include "enc_telegraf.h"
#include "enc_vm.h"
#include "encoder.h"
#include "sample.h"
#include "strbuf.h"

/*
 * Check writes a record to a pipe for every passing ck_assert_*(); the loops below check
 * thousands of values, so they fail through this instead.
 */
#define T_REQUIRE(expr, ...)                                                                       \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

#define T_N(a) (sizeof(a) / sizeof((a)[0]))
#define T_TS 1764220800123 /* the batches' start, ms */
#define T_MAX_KV 64

static const char *const t_spell_native[3] = {"NaN", "+Inf", "-Inf"};
static const char *const t_spell_proto[3] = {"NaN", "Infinity", "-Infinity"};

/* ---- strict JSON validation (RFC 8259, UTF-8, no duplicate keys) ---- */

/* Length of the valid, shortest-form, non-surrogate UTF-8 sequence at @s, or 0. */
static size_t
t_utf8_seq(const unsigned char *s, size_t n)
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
 * one U+FFFD. Only called where t_utf8_seq() returned 0.
 */
static size_t
t_utf8_bad(const unsigned char *s, size_t n)
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
static void
t_utf8_fix(const char *s, char *out, size_t outsz)
{
    const unsigned char *u = (const unsigned char *)(s == NULL ? "" : s);
    size_t n = strlen((const char *)u), i = 0, o = 0, k;

    while (i < n) {
        k = t_utf8_seq(u + i, n - i);
        T_REQUIRE(o + 4 < outsz, "t_utf8_fix: too long");
        if (k > 0) {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        }
        else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += t_utf8_bad(u + i, n - i);
        }
    }
    out[o] = '\0';
}

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

    for (i = 0; i < T_N(good); i++) {
        ck_assert_msg(jsonref_valid_unique(good[i], strlen(good[i])), "%s", good[i]);
    }
    for (i = 0; i < T_N(bad); i++) {
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
    for (i = 0; i < T_N(cases); i++) {
        t_utf8_fix(cases[i][0], out, sizeof(out));
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

/* ---- json-c helpers ---- */

/* Parses exactly @n bytes of strict JSON (asserted) with json-c; the caller puts the result. */
static json_object *
t_parse(const char *s, size_t n)
{
    struct json_tokener *tok = json_tokener_new();
    json_object *o;

    T_REQUIRE(tok != NULL, "json_tokener_new");
    T_REQUIRE(jsonref_valid_unique(s, n), "not strict JSON: %.*s", (int)(n > 3000 ? 3000 : n), s);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, s, (int)n);
    T_REQUIRE(o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                  json_tokener_get_parse_end(tok) == n,
              "json-c: %s", json_tokener_error_desc(json_tokener_get_error(tok)));
    json_tokener_free(tok);
    return o;
}

static json_object *
t_get(json_object *o, const char *key)
{
    json_object *v = NULL;

    T_REQUIRE(json_object_is_type(o, json_type_object), "not an object (looking for %s)", key);
    T_REQUIRE(json_object_object_get_ex(o, key, &v), "no key %s in %s", key,
              json_object_to_json_string(o));
    return v;
}

static bool
t_has(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

/* Asserts that @o has exactly the keys @keys, in that order. */
static void
t_keys(json_object *o, const char *const *keys, size_t n)
{
    size_t i = 0;

    T_REQUIRE(json_object_is_type(o, json_type_object), "not an object");
    T_REQUIRE((size_t)json_object_object_length(o) == n, "%d keys, want %zu: %s",
              json_object_object_length(o), n, json_object_to_json_string(o));
    json_object_object_foreach(o, k, v)
    {
        (void)v;
        T_REQUIRE(strcmp(k, keys[i]) == 0, "key %zu is %s, want %s", i, k, keys[i]);
        i++;
    }
}

static json_object *
t_idx(json_object *a, size_t i)
{
    T_REQUIRE(json_object_is_type(a, json_type_array), "not an array");
    T_REQUIRE(i < json_object_array_length(a), "index %zu beyond %zu", i,
              json_object_array_length(a));
    return json_object_array_get_idx(a, i);
}

static size_t
t_len(json_object *a)
{
    T_REQUIRE(json_object_is_type(a, json_type_array), "not an array");
    return json_object_array_length(a);
}

/* Asserts that @o is the string @want once invalid UTF-8 in @want is replaced. */
static void
t_str_is(json_object *o, const char *want)
{
    char fixed[4096];

    t_utf8_fix(want, fixed, sizeof(fixed));
    T_REQUIRE(json_object_is_type(o, json_type_string), "not a string: %s",
              json_object_to_json_string(o));
    T_REQUIRE((size_t)json_object_get_string_len(o) == strlen(fixed) &&
                  memcmp(json_object_get_string(o), fixed, strlen(fixed)) == 0,
              "string %s, want %s", json_object_get_string(o), fixed);
}

static bool
t_same_double(double a, double b)
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
static void
t_value_is(json_object *o, double want, const char *const spell[3])
{
    double got;

    if (!isfinite(want)) {
        t_str_is(o, spell[isnan(want) ? 0 : want > 0 ? 1 : 2]);
        return;
    }
    if (json_object_is_type(o, json_type_int)) {
        got = (double)json_object_get_int64(o);
    }
    else {
        T_REQUIRE(json_object_is_type(o, json_type_double), "not a number: %s",
                  json_object_to_json_string(o));
        got = json_object_get_double(o);
    }
    T_REQUIRE(t_same_double(got, want), "value %.17g, want %.17g", got, want);
}

static void
t_int_is(json_object *o, int64_t want)
{
    T_REQUIRE(json_object_is_type(o, json_type_int), "not an integer: %s",
              json_object_to_json_string(o));
    T_REQUIRE(json_object_get_int64(o) == want, "%" PRId64 ", want %" PRId64,
              json_object_get_int64(o), want);
}

/* Asserts that @o is the decimal string of @want (proto3 JSON's 64-bit integers). */
static void
t_u64str_is(json_object *o, uint64_t want)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRIu64, want);
    t_str_is(o, buf);
}

/* ---- batches ---- */

static const struct label t_targets[] = {{"env", "prod"}, {"region", "eu\"1"}};

static void
t_batch(struct batch *b)
{
    batch_init(b);
    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = t_targets;
    b->ntarget_labels = T_N(t_targets);
    b->ts_ms = T_TS;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;
}

/* batch_add() with labels as an array of name, value pairs; returns the sample. */
static struct sample *
t_add(struct batch *b, const char *name, enum sample_type type, double value, size_t n,
      const char *const *kv)
{
    struct label *l = NULL;
    struct sample *s;
    size_t i;

    if (n > 0) {
        l = arena_alloc(&b->arena, n * sizeof(*l));
        T_REQUIRE(l != NULL, "arena_alloc");
        for (i = 0; i < n; i++) {
            l[i].name = kv[2 * i];
            l[i].value = kv[2 * i + 1];
        }
    }
    s = batch_push(b);
    T_REQUIRE(s != NULL, "batch_push");
    s->name = name;
    s->labels = l;
    s->nlabels = (uint32_t)n;
    s->type = (uint8_t)type;
    s->value = value;
    return s;
}

#define T_ADD(b, name, type, value, ...)                                                           \
    t_add((b), (name), (type), (value), T_N(((const char *const[]){__VA_ARGS__})) / 2,             \
          (const char *const[]){__VA_ARGS__})
#define T_ADD0(b, name, type, value) t_add((b), (name), (type), (value), 0, NULL)

static struct sample *
t_with_ts(struct sample *s, int64_t ts)
{
    s->has_ts = true;
    s->ts_ms = ts;
    return s;
}

static int64_t
t_ts(const struct batch *b, const struct sample *s)
{
    return s->has_ts ? s->ts_ms : b->ts_ms;
}

/* A histogram series: buckets (le, cumulative count) ending in +Inf, then _sum, _count. */
static void
t_add_hist(struct batch *b, const char *bucket, const char *sum, const char *count, const char *lk,
           const char *lv, size_t nb, const char *const *les, const double *cum, double sumv)
{
    size_t i;

    for (i = 0; i < nb; i++) {
        T_ADD(b, bucket, SAMPLE_HISTOGRAM, cum[i], lk, lv, "le", les[i]);
    }
    T_ADD(b, sum, SAMPLE_HISTOGRAM, sumv, lk, lv);
    T_ADD(b, count, SAMPLE_HISTOGRAM, cum[nb - 1], lk, lv);
}

/*
 * The mixed batch most tests use: gauges, counters, untyped with its own timestamp, NaN and
 * infinities, info and stateset, a histogram with three series, a summary with two, an
 * incomplete histogram, a counter without _total.
 */
static void
t_mixed_batch(struct batch *b)
{
    static const char *const les[] = {"0.1", "0.5", "1", "+Inf"};
    static const double get[] = {2, 5, 7, 8}, post[] = {0, 0, 1, 1}, put[] = {0, 0, 0, 0};

    t_batch(b);
    T_ADD0(b, "node_load1", SAMPLE_GAUGE, 0.42);
    T_ADD(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 123456.78, "cpu", "0", "mode", "idle");
    T_ADD(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 0.1 + 0.2, "cpu", "0", "mode", "user");
    t_with_ts(T_ADD(b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220800000);
    T_ADD(b, "temp", SAMPLE_GAUGE, INFINITY, "sensor", "a");
    t_with_ts(T_ADD(b, "temp", SAMPLE_GAUGE, -INFINITY, "sensor", "b"), 1764220799999);
    T_ADD(b, "build_info", SAMPLE_INFO, 1, "version", "1.2");
    T_ADD(b, "state", SAMPLE_STATESET, 1, "state", "ok");
    t_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "GET", 4,
               les, get, 3.25);
    t_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "POST", 4,
               les, post, 0.75);
    t_add_hist(b, "req_seconds_bucket", "req_seconds_sum", "req_seconds_count", "method", "PUT", 4,
               les, put, 0);
    T_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 0.012, "svc", "a", "quantile", "0.5");
    T_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 0.25, "svc", "a", "quantile", "0.9");
    T_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, 1.5, "svc", "a", "quantile", "0.99");
    T_ADD(b, "rpc_seconds_sum", SAMPLE_SUMMARY, 17.5, "svc", "a");
    T_ADD(b, "rpc_seconds_count", SAMPLE_SUMMARY, 42, "svc", "a");
    T_ADD(b, "rpc_seconds", SAMPLE_SUMMARY, NAN, "svc", "b", "quantile", "0.5");
    T_ADD(b, "rpc_seconds_sum", SAMPLE_SUMMARY, 0, "svc", "b");
    T_ADD(b, "rpc_seconds_count", SAMPLE_SUMMARY, 0, "svc", "b");
    T_ADD(b, "bad_seconds_bucket", SAMPLE_HISTOGRAM, 3, "le", "1"); /* no +Inf bucket */
    T_ADD0(b, "bad_seconds_sum", SAMPLE_HISTOGRAM, 2);
    T_ADD0(b, "bad_seconds_count", SAMPLE_HISTOGRAM, 3);
    T_ADD0(b, "legacy_counter", SAMPLE_COUNTER, 5);
}

/* Labels that need escaping or replacement everywhere: names, values, job, instance, targets. */
static const struct label t_odd_targets[] = {
    {"t\"k", "v\\\n"},
    {"\xC3\xBC", "\xC3\xB1\t"},
    {"bad", "\xFF\xFE"},
};

static void
t_odd_batch(struct batch *b)
{
    t_batch(b);
    b->job = "jo\"b\\";
    b->instance = "in\nst\x01";
    b->target_labels = t_odd_targets;
    b->ntarget_labels = T_N(t_odd_targets);
    T_ADD(b, "we\"ird\nname", SAMPLE_GAUGE, 1.5, "q", "a\"b\\c\nd\te\x01\x1f", "utf",
          "\xE6\x97\xA5\xE6\x9C\xAC \xC3\xA9 \xF0\x9F\x8E\x89", "bad", "\xFF\xFE x \xC3", "trunc",
          "\xE2\x82", "k\"\\", "</script>");
    T_ADD(b,
          "c\xFF"
          "d",
          SAMPLE_COUNTER, -2.5e-300, "\xED\xA0\x80", "surrogate");
    T_ADD(b, "h_bucket", SAMPLE_HISTOGRAM, 1, "p\"", "\"", "le", "+Inf");
    T_ADD(b, "h_sum", SAMPLE_HISTOGRAM, 0.5, "p\"", "\"");
    T_ADD(b, "h_count", SAMPLE_HISTOGRAM, 1, "p\"", "\"");
}

/* The synthetic samples of a failed scrape (engine.c add_synthetic()), nothing else. */
static void
t_failed_batch(struct batch *b)
{
    t_batch(b);
    batch_fail(b, REASON_TIMEOUT, "timeout after 10000 ms (connected, 0 bytes received)");
    T_ADD0(b, "up", SAMPLE_GAUGE, 0);
    T_ADD0(b, "scrape_duration_seconds", SAMPLE_GAUGE, 10.0012);
    T_ADD0(b, "scrape_samples_scraped", SAMPLE_GAUGE, 0);
    T_ADD0(b, "scrape_timeout_seconds", SAMPLE_GAUGE, 10);
}

/* ---- the identity label model ---- */

struct t_kv {
    const char *k;
    const char *v;
};

static void
t_kv_set(struct t_kv *kv, size_t *n, const char *k, const char *v)
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
    T_REQUIRE(*n < T_MAX_KV, "too many labels");
    kv[*n].k = k;
    kv[*n].v = v;
    (*n)++;
}

/*
 * What the vm "metric" object (@vm: with __name__, without target or sample labels named
 * __name__) or the telegraf "tags" object of @s must hold.
 */
static size_t
t_identity(const struct batch *b, const struct sample *s, bool vm, struct t_kv *kv)
{
    size_t n = 0;
    uint32_t i;

    if (vm) {
        t_kv_set(kv, &n, "__name__", s->name);
    }
    if (b->job != NULL) {
        t_kv_set(kv, &n, "job", b->job);
    }
    if (b->instance != NULL) {
        t_kv_set(kv, &n, "instance", b->instance);
    }
    for (i = 0; i < b->ntarget_labels; i++) {
        if (vm && b->target_labels[i].name != NULL &&
            strcmp(b->target_labels[i].name, "__name__") == 0) {
            continue;
        }
        t_kv_set(kv, &n, b->target_labels[i].name, b->target_labels[i].value);
    }
    for (i = 0; i < s->nlabels; i++) {
        if (vm && s->labels[i].name != NULL && strcmp(s->labels[i].name, "__name__") == 0) {
            continue;
        }
        t_kv_set(kv, &n, s->labels[i].name, s->labels[i].value);
    }
    return n;
}

/* Asserts that JSON object @o holds exactly the members @kv (keys after UTF-8 replacement). */
static void
t_object_is(json_object *o, const struct t_kv *kv, size_t n)
{
    char key[1024];
    size_t i;

    T_REQUIRE(json_object_is_type(o, json_type_object), "not an object");
    T_REQUIRE((size_t)json_object_object_length(o) == n, "%d members, want %zu: %s",
              json_object_object_length(o), n, json_object_to_json_string(o));
    for (i = 0; i < n; i++) {
        t_utf8_fix(kv[i].k, key, sizeof(key));
        t_str_is(t_get(o, key), kv[i].v);
    }
}

/* Asserts that an OTLP attributes array holds exactly @kv, in order, as string values. */
static void
t_attrs_is(json_object *a, const struct t_kv *kv, size_t n)
{
    static const char *const akeys[] = {"key", "value"};
    static const char *const vkeys[] = {"stringValue"};
    json_object *e;
    size_t i;

    T_REQUIRE(t_len(a) == n, "%zu attributes, want %zu: %s", t_len(a), n,
              json_object_to_json_string(a));
    for (i = 0; i < n; i++) {
        e = t_idx(a, i);
        t_keys(e, akeys, 2);
        t_str_is(t_get(e, "key"), kv[i].k);
        t_keys(t_get(e, "value"), vkeys, 1);
        t_str_is(t_get(t_get(e, "value"), "stringValue"), kv[i].v);
    }
}

/* The labels of @s as key/value pairs, leaving out one named @skip (NULL: none). */
static size_t
t_sample_kv(const struct sample *s, const char *skip, struct t_kv *kv)
{
    size_t n = 0;
    uint32_t i;

    for (i = 0; i < s->nlabels; i++) {
        if (skip != NULL && strcmp(s->labels[i].name, skip) == 0) {
            continue;
        }
        T_REQUIRE(n < T_MAX_KV, "too many labels");
        kv[n].k = s->labels[i].name;
        kv[n].v = s->labels[i].value;
        n++;
    }
    return n;
}

/* ---- encoding and framing ---- */

/* Encodes @b with @enc into a new strbuf (asserting success) that the caller releases. */
static void
t_encode(const struct encoder *enc, const struct batch *b, struct strbuf *rec)
{
    strbuf_init(rec);
    T_REQUIRE(enc->encode(rec, b) == 0, "%s: encode failed", enc->name);
    T_REQUIRE(!rec->oom, "oom");
}

/* Frames @n records as outputs do (encoder.h): empty records contribute nothing. */
static void
t_document(const struct encoder *enc, const struct strbuf *recs, size_t n, struct strbuf *doc)
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
    T_REQUIRE(!doc->oom, "oom");
}

/* Parses a one-line document (otlp, telegraf): exactly one '\n', at the end. */
static json_object *
t_parse_doc(const struct strbuf *doc)
{
    T_REQUIRE(doc->len > 0 && doc->data[doc->len - 1] == '\n', "document does not end in \\n");
    T_REQUIRE(memchr(doc->data, '\n', doc->len - 1) == NULL, "document is more than one line");
    return t_parse(doc->data, doc->len - 1);
}

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
    struct t_kv kv[T_MAX_KV];
    char *copy, *v, *tok_end, tok[64];
    json_object *o, *a;
    size_t nkv, tl;
    double d;

    copy = malloc(n + 1);
    T_REQUIRE(copy != NULL, "malloc");
    memcpy(copy, line, n);
    copy[n] = '\0';
    /* inside a JSON string a '"' is escaped, so this text only occurs as the structure */
    v = strstr(copy, vals);
    T_REQUIRE(v != NULL, "no values in %s", copy);
    v += sizeof(vals) - 1;
    tok_end = strstr(v, tss);
    T_REQUIRE(tok_end != NULL && tok_end > v && (size_t)(tok_end - v) < sizeof(tok),
              "bad values in %s", copy);
    tl = (size_t)(tok_end - v);
    memcpy(tok, v, tl);
    tok[tl] = '\0';
    if (isnan(s->value)) {
        T_REQUIRE(strcmp(tok, "NaN") == 0, "value %s, want NaN", tok);
    }
    else if (isinf(s->value)) {
        T_REQUIRE(strcmp(tok, s->value > 0 ? "+Inf" : "-Inf") == 0, "value %s", tok);
    }
    else {
        T_REQUIRE(jsonref_valid_unique(tok, tl), "value %s is not a JSON number", tok);
        d = strtod(tok, NULL);
        T_REQUIRE(t_same_double(d, s->value), "value %s, want %.17g", tok, s->value);
    }
    memmove(v + 1, tok_end, strlen(tok_end) + 1);
    *v = '0';

    o = t_parse(copy, strlen(copy));
    t_keys(o, keys, 3);
    nkv = t_identity(b, s, true, kv);
    t_object_is(t_get(o, "metric"), kv, nkv);
    a = t_get(o, "values");
    T_REQUIRE(t_len(a) == 1, "values");
    a = t_get(o, "timestamps");
    T_REQUIRE(t_len(a) == 1, "timestamps");
    t_int_is(t_idx(a, 0), t_ts(b, s));
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
        T_REQUIRE(nl != NULL, "line %zu missing", i);
        t_vm_line(p, (size_t)(nl - p), b, &b->samples[i]);
        p = nl + 1;
    }
    T_REQUIRE(p == end, "extra text after %zu lines: %s", b->nsamples, p);
}

/* Encodes @b with vm, checks the record and the one-record document. */
static void
t_vm_roundtrip(const struct batch *b)
{
    struct strbuf rec, doc;

    t_encode(&enc_vm, b, &rec);
    t_vm_check(rec.data, rec.len, b);
    strbuf_init(&doc);
    encoder_document(&enc_vm, &doc, rec.data, rec.len);
    T_REQUIRE(doc.len == rec.len && (rec.len == 0 || memcmp(doc.data, rec.data, rec.len) == 0),
              "vm document differs from its record");
    strbuf_release(&doc);
    strbuf_release(&rec);
}

START_TEST(test_vm_golden)
{
    struct strbuf rec;
    struct batch b;

    t_batch(&b);
    b.ntarget_labels = 1;
    T_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    t_with_ts(T_ADD(&b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220800000);
    T_ADD(&b, "y", SAMPLE_GAUGE, -INFINITY, "a", "q\"");
    T_ADD0(&b, "z", SAMPLE_GAUGE, INFINITY);
    t_encode(&enc_vm, &b, &rec);
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

    t_mixed_batch(&b);
    t_vm_roundtrip(&b);
    batch_release(&b);
}
END_TEST

START_TEST(test_vm_escaping)
{
    struct strbuf rec;
    struct batch b;
    json_object *o;

    t_odd_batch(&b);
    t_vm_roundtrip(&b);
    /* spot-check one decoded value against a literal, not only against the model */
    t_encode(&enc_vm, &b, &rec);
    *strchr(rec.data, '\n') = '\0';
    *strstr(rec.data, "[1.5]") = '\0';
    strcat(rec.data, "[1],\"timestamps\":[1]}");
    o = t_parse(rec.data, strlen(rec.data));
    t_str_is(t_get(t_get(o, "metric"), "q"), "a\"b\\c\nd\te\x01\x1f");
    t_str_is(t_get(t_get(o, "metric"), "bad"), "\xEF\xBF\xBD\xEF\xBF\xBD x \xEF\xBF\xBD");
    t_str_is(t_get(t_get(o, "metric"), "__name__"), "we\"ird\nname");
    t_str_is(t_get(t_get(o, "metric"), "job"), "jo\"b\\");
    json_object_put(o);
    strbuf_release(&rec);
    batch_release(&b);
}
END_TEST

/* Target and sample labels replacing job, instance and each other; __name__ labels dropped. */
static void
t_override_batch(struct batch *b, const struct label *tl, size_t ntl)
{
    t_batch(b);
    b->target_labels = tl;
    b->ntarget_labels = (uint32_t)ntl;
    T_ADD0(b, "a", SAMPLE_GAUGE, 1);
    T_ADD(b, "b", SAMPLE_GAUGE, 2, "instance", "si", "zone", "sz");
    T_ADD(b, "c", SAMPLE_GAUGE, 3, "x", "1");
    T_ADD(b, "d", SAMPLE_GAUGE, 4, "job", "sj", "__name__", "evil");
    T_ADD0(b, "e", SAMPLE_GAUGE, 5);
    T_ADD(b, "f", SAMPLE_COUNTER, 6, "jab", "1", "zzz", "2", "instance", "i2");
    T_ADD(b, "g", SAMPLE_COUNTER, 7, "zone", "");
}

START_TEST(test_vm_overrides)
{
    static const struct label tl[] = {{"job", "tjob"}, {"zone", "z1"}};
    static const struct label none[] = {{NULL, NULL}};
    struct t_kv kv[T_MAX_KV];
    struct batch b;
    size_t n;

    t_override_batch(&b, tl, T_N(tl));
    /* the model itself: the target's job replaces the batch's, the sample's replaces both */
    n = t_identity(&b, &b.samples[0], true, kv);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(kv[1].k, "job");
    ck_assert_str_eq(kv[1].v, "tjob");
    n = t_identity(&b, &b.samples[3], true, kv);
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

    t_failed_batch(&b);
    t_vm_roundtrip(&b);
    t_encode(&enc_vm, &b, &rec);
    ck_assert_ptr_nonnull(strstr(rec.data, "{\"__name__\":\"up\","));
    ck_assert_ptr_nonnull(strstr(rec.data, "\"values\":[0]"));
    strbuf_release(&rec);

    batch_clear(&b);
    b.ok = true;
    t_encode(&enc_vm, &b, &rec);
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

    t_mixed_batch(&b[0]);
    t_batch(&b[1]); /* no samples: an empty record */
    t_odd_batch(&b[2]);
    for (i = 0; i < 3; i++) {
        t_encode(&enc_vm, &b[i], &recs[i]);
    }
    t_document(&enc_vm, recs, 3, &doc);
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
    struct t_kv kv[T_MAX_KV];
    char name[1024];
    json_object *m, *f;
    size_t i = 0, nkv, c, nm = 0;
    int64_t ts;

    while (i < b->nsamples) {
        const struct sample *s = &b->samples[i];
        bool pair = t_tg_pair(b, i, &c);

        m = t_idx(a, (*ai)++);
        nm++;
        t_keys(m, keys, 4);
        t_str_is(t_get(m, "name"), "prometheus");
        f = t_get(m, "fields");
        T_REQUIRE(json_object_object_length(f) == (pair ? 2 : 1), "fields: %s",
                  json_object_to_json_string(f));
        if (pair) {
            /* _count first, the order Go writes the keys in */
            const char *const fk[] = {b->samples[c].name, b->samples[c == i ? i + 1 : i].name};

            t_keys(f, fk, 2);
            t_value_is(t_get(f, b->samples[i].name), b->samples[i].value, t_spell_native);
            t_value_is(t_get(f, b->samples[i + 1].name), b->samples[i + 1].value, t_spell_native);
        }
        else {
            t_utf8_fix(s->name, name, sizeof(name));
            t_value_is(t_get(f, name), s->value, t_spell_native);
        }
        nkv = t_identity(b, s, false, kv);
        t_object_is(t_get(m, "tags"), kv, nkv);
        ts = t_ts(b, s);
        t_int_is(t_get(m, "timestamp"), ts / 1000); /* truncated toward zero, like Go */
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

    t_encode(&enc_telegraf, b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_telegraf, &doc, rec.data, rec.len);
    o = t_parse_doc(&doc);
    t_keys(o, dkeys, 1);
    nm = t_tg_check(t_get(o, "metrics"), &ai, b);
    T_REQUIRE(ai == t_len(t_get(o, "metrics")), "extra metrics");
    json_object_put(o);
    strbuf_release(&doc);
    strbuf_release(&rec);
    return nm;
}

START_TEST(test_telegraf_golden)
{
    struct strbuf rec, doc;
    struct batch b;

    t_batch(&b);
    b.ntarget_labels = 1;
    T_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    t_with_ts(T_ADD(&b, "x", SAMPLE_UNTYPED, NAN, "le", "+Inf"), 1764220801999);
    T_ADD0(&b, "y_sum", SAMPLE_SUMMARY, -INFINITY);
    T_ADD0(&b, "y_count", SAMPLE_SUMMARY, 3);
    t_encode(&enc_telegraf, &b, &rec);
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

    t_mixed_batch(&b);
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

    t_batch(&b);
    T_ADD(&b, "a_count", SAMPLE_HISTOGRAM, 2, "k", "v"); /* count before sum: paired */
    T_ADD(&b, "a_sum", SAMPLE_HISTOGRAM, 1, "k", "v");
    T_ADD(&b, "a_sum", SAMPLE_HISTOGRAM, 1, "k", "w"); /* labels differ: not paired */
    T_ADD(&b, "a_count", SAMPLE_HISTOGRAM, 2, "k", "x");
    T_ADD0(&b, "b_sum", SAMPLE_SUMMARY, 1); /* family differs */
    T_ADD0(&b, "bb_count", SAMPLE_SUMMARY, 1);
    T_ADD0(&b, "c_sum", SAMPLE_GAUGE, 1); /* not a histogram or summary */
    T_ADD0(&b, "c_count", SAMPLE_GAUGE, 1);
    T_ADD0(&b, "d_sum", SAMPLE_SUMMARY, 1); /* types differ */
    T_ADD0(&b, "d_count", SAMPLE_HISTOGRAM, 1);
    t_with_ts(T_ADD0(&b, "e_sum", SAMPLE_SUMMARY, 1), 5); /* timestamps differ */
    T_ADD0(&b, "e_count", SAMPLE_SUMMARY, 1);
    t_with_ts(T_ADD0(&b, "ee_sum", SAMPLE_SUMMARY, 1), 5); /* other timestamp */
    t_with_ts(T_ADD0(&b, "ee_count", SAMPLE_SUMMARY, 1), 6);
    t_with_ts(T_ADD0(&b, "f_sum", SAMPLE_SUMMARY, 1), 5); /* same timestamp: paired */
    t_with_ts(T_ADD0(&b, "f_count", SAMPLE_SUMMARY, 1), 5);
    T_ADD0(&b, "_sum", SAMPLE_SUMMARY, 1); /* no family name */
    T_ADD0(&b, "_count", SAMPLE_SUMMARY, 1);
    T_ADD0(&b, "g_sum", SAMPLE_SUMMARY, 1); /* three in a row: the first two pair */
    T_ADD0(&b, "g_count", SAMPLE_SUMMARY, 1);
    T_ADD0(&b, "g_count", SAMPLE_SUMMARY, 1);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 21 - 3);
    batch_release(&b);
}
END_TEST

START_TEST(test_telegraf_escaping_overrides)
{
    static const struct label tl[] = {{"job", "tjob"}, {"zone", "z1"}};
    struct batch b;

    t_odd_batch(&b);
    ck_assert_uint_eq(t_tg_roundtrip(&b), 4);
    batch_release(&b);
    t_override_batch(&b, tl, T_N(tl));
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

    t_batch(&b);
    b.ts_ms = 1999; /* 1 s */
    T_ADD0(&b, "a", SAMPLE_GAUGE, 1);
    t_with_ts(T_ADD0(&b, "b", SAMPLE_GAUGE, 1), -1500); /* -1 s, as Go truncates */
    t_with_ts(T_ADD0(&b, "c", SAMPLE_GAUGE, 1), 999);   /* 0 s */
    t_with_ts(T_ADD0(&b, "d", SAMPLE_GAUGE, 1), INT64_MAX);
    t_with_ts(T_ADD0(&b, "e", SAMPLE_GAUGE, 1), INT64_MIN);
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

    t_failed_batch(&b[0]);
    ck_assert_uint_eq(t_tg_roundtrip(&b[0]), 4);
    t_batch(&b[1]);
    t_mixed_batch(&b[2]);
    t_batch(&b[3]);
    for (i = 0; i < 4; i++) {
        t_encode(&enc_telegraf, &b[i], &recs[i]);
    }
    ck_assert_uint_eq(recs[1].len, 0);
    /* a document of only an empty record is an empty list */
    t_document(&enc_telegraf, &recs[1], 1, &doc);
    ck_assert_str_eq(doc.data, "{\"metrics\":[]}\n");
    strbuf_release(&doc);
    /* several records: one list of every batch's metrics */
    t_document(&enc_telegraf, recs, 4, &doc);
    o = t_parse_doc(&doc);
    t_keys(o, dkeys, 1);
    t_tg_check(t_get(o, "metrics"), &ai, &b[0]);
    t_tg_check(t_get(o, "metrics"), &ai, &b[2]);
    ck_assert_uint_eq(ai, t_len(t_get(o, "metrics")));
    json_object_put(o);
    strbuf_release(&doc);
    for (i = 0; i < 4; i++) {
        strbuf_release(&recs[i]);
        batch_release(&b[i]);
    }
}
END_TEST

/* ---- otlp checks ---- */

/* Checks the resource and scope of resourceMetrics element @rm of @b; returns its metrics. */
static json_object *
t_otlp_resource(json_object *rm, const struct batch *b)
{
    static const char *const rmkeys[] = {"resource", "scopeMetrics"};
    static const char *const rkeys[] = {"attributes"};
    static const char *const smkeys[] = {"scope", "metrics"};
    static const char *const skeys[] = {"name", "version"};
    struct t_kv kv[T_MAX_KV];
    json_object *sm;
    size_t n = 0;
    uint32_t i;

    t_keys(rm, rmkeys, 2);
    t_keys(t_get(rm, "resource"), rkeys, 1);
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
    t_attrs_is(t_get(t_get(rm, "resource"), "attributes"), kv, n);
    T_REQUIRE(t_len(t_get(rm, "scopeMetrics")) == 1, "scopeMetrics");
    sm = t_idx(t_get(rm, "scopeMetrics"), 0);
    t_keys(sm, smkeys, 2);
    t_keys(t_get(sm, "scope"), skeys, 2);
    t_str_is(t_get(t_get(sm, "scope"), "name"), "pollster");
    t_str_is(t_get(t_get(sm, "scope"), "version"), PACKAGE_VERSION);
    return t_get(sm, "metrics");
}

/*
 * Encodes @b into a one-record otlp document and parses it; *@metrics: its metrics array (NULL
 * for a batch without samples).
 */
static json_object *
t_otlp_doc(const struct batch *b, json_object **metrics)
{
    static const char *const dkeys[] = {"resourceMetrics"};
    struct strbuf rec, doc;
    json_object *o;

    t_encode(&enc_otlp, b, &rec);
    strbuf_init(&doc);
    encoder_document(&enc_otlp, &doc, rec.data, rec.len);
    o = t_parse_doc(&doc);
    t_keys(o, dkeys, 1);
    if (b->nsamples == 0) {
        /* an empty record: the document lists nothing */
        T_REQUIRE(rec.len == 0 && t_len(t_get(o, "resourceMetrics")) == 0, "empty batch");
        *metrics = NULL;
    }
    else {
        T_REQUIRE(t_len(t_get(o, "resourceMetrics")) == 1, "resourceMetrics");
        *metrics = t_otlp_resource(t_idx(t_get(o, "resourceMetrics"), 0), b);
    }
    strbuf_release(&doc);
    strbuf_release(&rec);
    return o;
}

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
    json_object *m = t_idx(metrics, i), *k;

    t_keys(m, mkeys, 2);
    t_str_is(t_get(m, "name"), name);
    k = t_get(m, kinds[kind]);
    switch (kind) {
    case T_SUM:
        t_keys(k, skeys, 3);
        t_int_is(t_get(k, "aggregationTemporality"), 2); /* CUMULATIVE */
        T_REQUIRE(json_object_is_type(t_get(k, "isMonotonic"), json_type_boolean) &&
                      json_object_get_boolean(t_get(k, "isMonotonic")),
                  "isMonotonic");
        break;
    case T_HIST:
        t_keys(k, hkeys, 2);
        t_int_is(t_get(k, "aggregationTemporality"), 2);
        break;
    default:
        t_keys(k, gkeys, 1);
        break;
    }
    T_REQUIRE(t_len(t_get(k, "dataPoints")) == npoints, "%s: %zu points, want %zu", name,
              t_len(t_get(k, "dataPoints")), npoints);
    return t_get(k, "dataPoints");
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
    struct t_kv kv[T_MAX_KV];
    size_t n = t_sample_kv(s, NULL, kv);

    if (start != 0) {
        t_keys(p, skeys, 4);
        t_u64str_is(t_get(p, "startTimeUnixNano"), start);
    }
    else {
        t_keys(p, keys, 3);
    }
    t_attrs_is(t_get(p, "attributes"), kv, n);
    t_u64str_is(t_get(p, "timeUnixNano"), t_ns(t_ts(b, s)));
    t_value_is(t_get(p, "asDouble"), s->value, t_spell_proto);
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
            t_number_point(t_idx(pts, k - i), b, &b->samples[k], 0);
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
t_hist_point(json_object *p, const struct t_kv *attrs, size_t nattrs, uint64_t count, bool has_sum,
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
    t_keys(p, keys, nk);
    t_attrs_is(t_get(p, "attributes"), attrs, nattrs);
    if (start != 0) {
        t_u64str_is(t_get(p, "startTimeUnixNano"), start);
    }
    t_u64str_is(t_get(p, "timeUnixNano"), t_ns(ts_ms));
    t_u64str_is(t_get(p, "count"), count);
    if (has_sum) {
        t_value_is(t_get(p, "sum"), sum, t_spell_proto);
    }
    T_REQUIRE(t_len(t_get(p, "bucketCounts")) == nb + 1, "bucketCounts");
    T_REQUIRE(t_len(t_get(p, "explicitBounds")) == nb, "explicitBounds");
    for (i = 0; i <= nb; i++) {
        t_u64str_is(t_idx(t_get(p, "bucketCounts"), i), per[i]);
    }
    for (i = 0; i < nb; i++) {
        t_value_is(t_idx(t_get(p, "explicitBounds"), i), bounds[i], t_spell_proto);
    }
}

/* Asserts a summary data point (@nq quantiles @q with values @v). */
static void
t_summary_point(json_object *p, const struct t_kv *attrs, size_t nattrs, uint64_t count, double sum,
                const double *q, const double *v, size_t nq, uint64_t start, int64_t ts_ms)
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
    t_keys(p, keys, nk);
    t_attrs_is(t_get(p, "attributes"), attrs, nattrs);
    if (start != 0) {
        t_u64str_is(t_get(p, "startTimeUnixNano"), start);
    }
    t_u64str_is(t_get(p, "timeUnixNano"), t_ns(ts_ms));
    t_u64str_is(t_get(p, "count"), count);
    t_value_is(t_get(p, "sum"), sum, t_spell_proto);
    if (nq == 0) {
        return;
    }
    T_REQUIRE(t_len(t_get(p, "quantileValues")) == nq, "quantileValues");
    for (i = 0; i < nq; i++) {
        json_object *e = t_idx(t_get(p, "quantileValues"), i);

        t_keys(e, qkeys, 2);
        t_value_is(t_get(e, "quantile"), q[i], t_spell_proto);
        t_value_is(t_get(e, "value"), v[i], t_spell_proto);
    }
}

/*
 * How many samples the metrics stand for: a number point one (two with a start time: its
 * _created), a histogram point its buckets, count, sum and start time, a summary point its
 * quantiles, count, sum and start time. Every sample must be somewhere.
 */
static size_t
t_otlp_count(json_object *metrics)
{
    size_t n = 0, i, j;

    for (i = 0; metrics != NULL && i < t_len(metrics); i++) {
        json_object *m = t_idx(metrics, i), *k, *pts;
        bool hist = t_has(m, "histogram"), summ = t_has(m, "summary");

        k = t_has(m, "gauge") ? t_get(m, "gauge")
            : t_has(m, "sum") ? t_get(m, "sum")
            : hist            ? t_get(m, "histogram")
                              : t_get(m, "summary");
        pts = t_get(k, "dataPoints");
        T_REQUIRE(t_len(pts) > 0, "a metric without data points");
        for (j = 0; j < t_len(pts); j++) {
            json_object *p = t_idx(pts, j);

            n += t_has(p, "startTimeUnixNano") ? 1 : 0;
            if (hist) {
                n += t_len(t_get(p, "bucketCounts")) + 1 + (t_has(p, "sum") ? 1 : 0);
            }
            else if (summ) {
                n += 2 + (t_has(p, "quantileValues") ? t_len(t_get(p, "quantileValues")) : 0);
            }
            else {
                n++;
            }
        }
    }
    return n;
}

START_TEST(test_otlp_golden)
{
    struct strbuf rec, doc;
    struct batch b;

    t_batch(&b);
    b.ntarget_labels = 1;
    T_ADD0(&b, "node_load1", SAMPLE_GAUGE, 0.42);
    t_encode(&enc_otlp, &b, &rec);
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
    struct t_kv kv[1];
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    t_mixed_batch(&b);
    o = t_otlp_doc(&b, &metrics);
    ck_assert_uint_eq(t_len(metrics), 12);

    pts = t_metric(metrics, mi++, "node_load1", T_GAUGE, 1);
    t_number_point(t_idx(pts, 0), &b, &b.samples[0], 0);
    pts = t_metric(metrics, mi++, "node_cpu_seconds_total", T_SUM, 2);
    t_number_point(t_idx(pts, 0), &b, &b.samples[1], 0);
    t_number_point(t_idx(pts, 1), &b, &b.samples[2], 0);
    pts = t_metric(metrics, mi++, "x", T_GAUGE, 1);
    t_number_point(t_idx(pts, 0), &b, &b.samples[3], 0); /* NaN, own timestamp */
    t_gauges(metrics, &mi, &b, 4, 8);                    /* temp (2 points), build_info, state */

    pts = t_metric(metrics, mi++, "req_seconds", T_HIST, 3);
    kv[0].k = "method";
    kv[0].v = "GET";
    t_hist_point(t_idx(pts, 0), kv, 1, 8, true, 3.25, get, bounds, 3, 0, T_TS);
    kv[0].v = "POST";
    t_hist_point(t_idx(pts, 1), kv, 1, 1, true, 0.75, post, bounds, 3, 0, T_TS);
    kv[0].v = "PUT";
    t_hist_point(t_idx(pts, 2), kv, 1, 0, true, 0, put, bounds, 3, 0, T_TS);

    pts = t_metric(metrics, mi++, "rpc_seconds", T_SUMMARY, 2);
    kv[0].k = "svc";
    kv[0].v = "a";
    t_summary_point(t_idx(pts, 0), kv, 1, 42, 17.5, qa, va, 3, 0, T_TS);
    kv[0].v = "b";
    t_summary_point(t_idx(pts, 1), kv, 1, 0, 0, qb, vb, 1, 0, T_TS);

    /* the histogram without +Inf: its samples as gauges, named as exposed */
    t_gauges(metrics, &mi, &b, 34, 37);
    pts = t_metric(metrics, mi++, "legacy_counter", T_SUM, 1);
    t_number_point(t_idx(pts, 0), &b, &b.samples[37], 0);
    ck_assert_uint_eq(mi, t_len(metrics));
    ck_assert_uint_eq(t_otlp_count(metrics), b.nsamples);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_escaping)
{
    static const double bounds[] = {0};
    static const uint64_t per[] = {1};
    struct t_kv kv[1] = {{"p\"", "\""}};
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    t_odd_batch(&b);
    o = t_otlp_doc(&b, &metrics); /* checks the escaped resource attributes */
    t_gauges(metrics, &mi, &b, 0, 1);
    pts = t_metric(metrics, mi++,
                   "c\xFF"
                   "d",
                   T_SUM, 1);
    t_number_point(t_idx(pts, 0), &b, &b.samples[1], 0);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(t_idx(pts, 0), kv, 1, 1, true, 0.5, per, bounds, 0, 0, T_TS);
    ck_assert_uint_eq(mi, t_len(metrics));
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
        t_batch(&b);
        switch (i) {
        case 0: /* no +Inf bucket */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 1: /* decreasing cumulative counts */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 3, "le", "1");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 2);
            break;
        case 2: /* buckets without a count */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_sum", SAMPLE_HISTOGRAM, 1);
            break;
        case 3: /* count other than the +Inf bucket */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 3);
            break;
        case 4: /* not whole numbers */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1.5, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1.5);
            break;
        case 5: /* an le that is no number */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "abc");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 6: /* a bucket without le (so a series of its own, without +Inf) */
            T_ADD0(&b, "h_bucket", SAMPLE_HISTOGRAM, 1);
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 7: /* bounds out of order */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "0.5");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 8: /* timestamps differ */
            t_with_ts(T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf"), 1000);
            t_with_ts(T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1), 2000);
            break;
        case 9: /* a repeated count */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 10: /* a summary without _sum */
            T_ADD(&b, "s", SAMPLE_SUMMARY, 1, "quantile", "0.5");
            T_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        case 11: /* a quantile outside [0, 1] */
            T_ADD(&b, "s", SAMPLE_SUMMARY, 1, "quantile", "1.5");
            T_ADD0(&b, "s_sum", SAMPLE_SUMMARY, 1);
            T_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        case 12: /* a histogram sample without a histogram suffix */
            T_ADD0(&b, "h", SAMPLE_HISTOGRAM, 1);
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 13: /* a NaN bucket, and a negative count */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, NAN, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, NAN);
            T_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, -1, "le", "+Inf");
            T_ADD0(&b, "g_count", SAMPLE_HISTOGRAM, -1);
            break;
        case 14: /* a bucket after +Inf, and an le of NaN */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "2");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            T_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, 1, "le", "NaN");
            T_ADD(&b, "g_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "g_count", SAMPLE_HISTOGRAM, 1);
            break;
        case 15: /* a repeated bound */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "1.0");
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            break;
        default: /* an unusable _created (0 s), and a summary quantile without its label */
            T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "+Inf");
            T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 1);
            T_ADD0(&b, "h_created", SAMPLE_HISTOGRAM, 0);
            T_ADD0(&b, "s", SAMPLE_SUMMARY, 1);
            T_ADD0(&b, "s_sum", SAMPLE_SUMMARY, 1);
            T_ADD0(&b, "s_count", SAMPLE_SUMMARY, 1);
            break;
        }
        o = t_otlp_doc(&b, &metrics);
        mi = 0;
        t_gauges(metrics, &mi, &b, 0, b.nsamples);
        T_REQUIRE(mi == t_len(metrics), "case %zu: %zu metrics, want %zu", i, t_len(metrics), mi);
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
    struct t_kv kv[1] = {{"s", "good"}};
    json_object *o, *metrics, *pts;
    struct batch b;
    size_t mi = 0;

    t_batch(&b);
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "s", "bad1", "le", "1");
    T_ADD(&b, "h_count", SAMPLE_HISTOGRAM, 1, "s", "bad1");
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "s", "good", "le", "1");
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 2, "s", "good", "le", "+Inf");
    T_ADD(&b, "h_count", SAMPLE_HISTOGRAM, 2, "s", "good");
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 5, "s", "bad2", "le", "+Inf");
    T_ADD(&b, "h_sum", SAMPLE_HISTOGRAM, 5, "s", "bad2");
    o = t_otlp_doc(&b, &metrics);
    t_gauges(metrics, &mi, &b, 0, 2);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(t_idx(pts, 0), kv, 1, 2, false, 0, per, bounds, 1, 0, T_TS);
    t_gauges(metrics, &mi, &b, 5, 7);
    ck_assert_uint_eq(mi, t_len(metrics));
    ck_assert_uint_eq(t_otlp_count(metrics), b.nsamples);
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

    t_batch(&b);
    T_ADD(&b, "foo_total", SAMPLE_COUNTER, 17, "a", "1");
    T_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220000.123456789, "a", "1");
    T_ADD(&b, "foo_total", SAMPLE_COUNTER, 18, "a", "2");             /* no _created */
    T_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220001.5, "a", "3"); /* _created first */
    T_ADD(&b, "foo_total", SAMPLE_COUNTER, 19, "a", "3");
    T_ADD(&b, "foo_created", SAMPLE_COUNTER, 1764220002, "a", "4"); /* alone: a gauge */
    T_ADD(&b, "foo_total", SAMPLE_COUNTER, 20, "a", "5");
    T_ADD(&b, "foo_created", SAMPLE_COUNTER, -1, "a", "5");  /* unusable: a gauge */
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 1, "le", "0.5"); /* [8] */
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 3, "le", "1");
    T_ADD(&b, "h_bucket", SAMPLE_HISTOGRAM, 4, "le", "+Inf");
    T_ADD0(&b, "h_count", SAMPLE_HISTOGRAM, 4);
    T_ADD0(&b, "h_sum", SAMPLE_HISTOGRAM, NAN);
    T_ADD0(&b, "h_created", SAMPLE_HISTOGRAM, 1764220003);
    T_ADD(&b, "g_bucket", SAMPLE_GAUGEHISTOGRAM, 3, "le", "10"); /* [14] */
    T_ADD(&b, "g_bucket", SAMPLE_GAUGEHISTOGRAM, 3, "le", "+Inf");
    T_ADD0(&b, "g_gcount", SAMPLE_GAUGEHISTOGRAM, 3);
    T_ADD0(&b, "g_gsum", SAMPLE_GAUGEHISTOGRAM, -INFINITY);
    T_ADD(&b, "s", SAMPLE_SUMMARY, 2, "quantile", "0.5"); /* [18] */
    T_ADD0(&b, "s_count", SAMPLE_SUMMARY, 5);
    T_ADD0(&b, "s_sum", SAMPLE_SUMMARY, INFINITY);
    T_ADD0(&b, "s_created", SAMPLE_SUMMARY, 1764220004.25);
    T_ADD0(&b, "t_count", SAMPLE_SUMMARY, 0); /* [22] no quantiles */
    T_ADD0(&b, "t_sum", SAMPLE_SUMMARY, 0);
    o = t_otlp_doc(&b, &metrics);

    pts = t_metric(metrics, mi++, "foo_total", T_SUM, 3);
    t_number_point(t_idx(pts, 0), &b, &b.samples[0], UINT64_C(1764220000123456717));
    t_number_point(t_idx(pts, 1), &b, &b.samples[2], 0);
    t_number_point(t_idx(pts, 2), &b, &b.samples[4], UINT64_C(1764220001500000000));
    t_gauges(metrics, &mi, &b, 5, 6);
    pts = t_metric(metrics, mi++, "foo_total", T_SUM, 1);
    t_number_point(t_idx(pts, 0), &b, &b.samples[6], 0);
    t_gauges(metrics, &mi, &b, 7, 8);
    pts = t_metric(metrics, mi++, "h", T_HIST, 1);
    t_hist_point(t_idx(pts, 0), NULL, 0, 4, true, NAN, hper, hb, 2, UINT64_C(1764220003000000000),
                 T_TS);
    pts = t_metric(metrics, mi++, "g", T_HIST, 1);
    t_hist_point(t_idx(pts, 0), NULL, 0, 3, true, -INFINITY, gper, gb, 1, 0, T_TS);
    pts = t_metric(metrics, mi++, "s", T_SUMMARY, 1);
    t_summary_point(t_idx(pts, 0), NULL, 0, 5, INFINITY, q, v, 1, UINT64_C(1764220004250000000),
                    T_TS);
    pts = t_metric(metrics, mi++, "t", T_SUMMARY, 1);
    t_summary_point(t_idx(pts, 0), NULL, 0, 0, 0, NULL, NULL, 0, 0, T_TS);
    ck_assert_uint_eq(mi, t_len(metrics));
    ck_assert_uint_eq(t_otlp_count(metrics), b.nsamples);
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

    t_batch(&b);
    for (i = 0; i < NB; i++) {
        snprintf(les[i], sizeof(les[i]), "%.3g", 0.001 * (double)(i + 1) * (double)(i + 1));
        bounds[i] = strtod(les[i], NULL);
        per[i] = i % 3;
        cum += (double)per[i];
        T_ADD(&b, "big_bucket", SAMPLE_HISTOGRAM, cum, "le", les[i]);
    }
    /* the +Inf bucket makes the total 2^60: exact as a double, far beyond 2^53 */
    per[NB] = (UINT64_C(1) << 60) - (uint64_t)cum;
    cum = 1152921504606846976.0;
    T_ADD(&b, "big_bucket", SAMPLE_HISTOGRAM, cum, "le", "+Inf");
    T_ADD0(&b, "big_count", SAMPLE_HISTOGRAM, cum);
    T_ADD0(&b, "big_sum", SAMPLE_HISTOGRAM, 1e300);
    o = t_otlp_doc(&b, &metrics);
    pts = t_metric(metrics, 0, "big", T_HIST, 1);
    t_hist_point(t_idx(pts, 0), NULL, 0, (uint64_t)cum, true, 1e300, per, bounds, NB, 0, T_TS);
    json_object_put(o);
    batch_release(&b);
}
END_TEST

START_TEST(test_otlp_timestamps)
{
    json_object *o, *metrics, *pts;
    struct batch b;

    t_batch(&b);
    b.job = NULL; /* no service.name, no service.instance.id */
    b.instance = NULL;
    t_with_ts(T_ADD0(&b, "a", SAMPLE_GAUGE, 1), -5);        /* before 1970: 0 */
    t_with_ts(T_ADD0(&b, "a", SAMPLE_GAUGE, 2), 0);         /* 0 */
    t_with_ts(T_ADD0(&b, "a", SAMPLE_GAUGE, 3), 1);         /* 1000000 */
    t_with_ts(T_ADD0(&b, "a", SAMPLE_GAUGE, 4), INT64_MAX); /* beyond uint64 ns: the max */
    o = t_otlp_doc(&b, &metrics);
    pts = t_metric(metrics, 0, "a", T_GAUGE, 4);
    t_u64str_is(t_get(t_idx(pts, 0), "timeUnixNano"), 0);
    t_u64str_is(t_get(t_idx(pts, 1), "timeUnixNano"), 0);
    t_u64str_is(t_get(t_idx(pts, 2), "timeUnixNano"), 1000000);
    t_u64str_is(t_get(t_idx(pts, 3), "timeUnixNano"), UINT64_MAX);
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

    t_failed_batch(&b[0]);
    t_batch(&b[1]);
    t_odd_batch(&b[2]);
    t_batch(&b[3]);
    for (i = 0; i < 4; i++) {
        t_encode(&enc_otlp, &b[i], &recs[i]);
    }
    ck_assert_uint_eq(recs[1].len, 0);
    ck_assert_uint_eq(recs[3].len, 0);
    t_document(&enc_otlp, &recs[1], 1, &doc);
    ck_assert_str_eq(doc.data, "{\"resourceMetrics\":[]}\n");
    strbuf_release(&doc);

    t_document(&enc_otlp, recs, 4, &doc);
    o = t_parse_doc(&doc);
    t_keys(o, dkeys, 1);
    rms = t_get(o, "resourceMetrics");
    ck_assert_uint_eq(t_len(rms), 2);
    metrics = t_otlp_resource(t_idx(rms, 0), &b[0]);
    t_gauges(metrics, &mi, &b[0], 0, b[0].nsamples);
    ck_assert_uint_eq(mi, 4);
    metrics = t_otlp_resource(t_idx(rms, 1), &b[2]);
    ck_assert_uint_eq(t_otlp_count(metrics), b[2].nsamples);
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

    for (i = 0; i < T_N(names); i++) {
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

    t_mixed_batch(&b);
    t_batch(&empty);
    for (i = 0; i < T_N(encs); i++) {
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

    t_mixed_batch(&a);
    t_odd_batch(&b);
    b.target_labels = tl2;
    b.ntarget_labels = 1;
    strbuf_init(&sb);
    ck_assert_int_eq(enc_vm.encode(&sb, &a), 0);
    t_encode(&enc_vm, &a, &one);
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
        t_batch(&b);
        b.job = t_rng() % 5 == 0 ? NULL : "job";
        b.instance = t_rng() % 5 == 0 ? NULL : "inst";
        ntl = t_rng() % 4;
        for (i = 0; i < ntl; i++) { /* distinct names: the config's target labels are */
            tl[i].name = lnames[(round + i * 3) % T_N(lnames)];
            tl[i].value = lvalues[t_rng() % T_N(lvalues)];
        }
        b.target_labels = tl;
        b.ntarget_labels = (uint32_t)ntl;
        ns = t_rng() % 30;
        for (i = 0; i < ns; i++) {
            const char *kv[8];

            nl = t_rng() % 4;
            for (j = 0; j < nl; j++) { /* distinct names in one sample, as the parser checks */
                kv[2 * j] = lnames[(i + j * 4 + (size_t)round) % T_N(lnames)];
                kv[2 * j + 1] = lvalues[t_rng() % T_N(lvalues)];
            }
            struct sample *s = t_add(&b, snames[t_rng() % T_N(snames)],
                                     (enum sample_type)(t_rng() % (SAMPLE_TYPE__COUNT + 1)),
                                     values[t_rng() % T_N(values)], nl, kv);
            if (t_rng() % 4 == 0) {
                t_with_ts(s, (int64_t)(t_rng() % 4000) - 1000);
            }
        }
        t_vm_roundtrip(&b);
        t_tg_roundtrip(&b);
        o = t_otlp_doc(&b, &metrics);
        T_REQUIRE(t_otlp_count(metrics) == b.nsamples, "round %d: otlp lost samples", round);
        json_object_put(o);
        batch_release(&b);
    }
}
END_TEST

static void
cache_teardown(void)
{
    arena_free_cache();
}

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
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_append);
    suite_add_tcase(s, tc);

    tc = tcase_create("vm");
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
    tcase_add_test(tc, test_vm_golden);
    tcase_add_test(tc, test_vm_mixed);
    tcase_add_test(tc, test_vm_escaping);
    tcase_add_test(tc, test_vm_overrides);
    tcase_add_test(tc, test_vm_failed_and_empty);
    tcase_add_test(tc, test_vm_document);
    suite_add_tcase(s, tc);

    tc = tcase_create("telegraf");
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
    tcase_add_test(tc, test_telegraf_golden);
    tcase_add_test(tc, test_telegraf_mixed);
    tcase_add_test(tc, test_telegraf_pairs);
    tcase_add_test(tc, test_telegraf_escaping_overrides);
    tcase_add_test(tc, test_telegraf_timestamps);
    tcase_add_test(tc, test_telegraf_failed_empty_document);
    suite_add_tcase(s, tc);

    tc = tcase_create("otlp");
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
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

    tc = tcase_create("random");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
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
