/*
 * Unit tests for enc_json.c, the native JSON encoder: samples and whole batches, checked by the
 * strict validator and json-c (tests/jsonref.c) and byte for byte against an independent encoder
 * written here, including batches whose strings are shared the way the Prometheus parser shares
 * them (the per-batch cache). The string and number writers are tested in check_jsonw.c.
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
#include "sample.h"
#include "strbuf.h"

/* ---- samples and batches ---- */

START_TEST(test_sample_table)
{
    static const struct label l1[] = {{"a", "b"}};
    static const struct label l3[] = {{"cpu", "0"}, {"mode", "idle"}, {"z", "quo\"te"}};
    static const struct label lnull[] = {{"k", NULL}};
    static const struct {
        struct sample s;
        const char *out;
    } cases[] = {
        {{.name = "node_load1", .type = SAMPLE_GAUGE, .value = 0.42},
         "{\"name\":\"node_load1\",\"labels\":{},\"value\":0.42,\"type\":\"gauge\"}"},
        {{.name = "x", .labels = l1, .nlabels = 1, .type = SAMPLE_COUNTER, .value = 3},
         "{\"name\":\"x\",\"labels\":{\"a\":\"b\"},\"value\":3,\"type\":\"counter\"}"},
        {{.name = "cpu",
          .labels = l3,
          .nlabels = 3,
          .value = NAN,
          .has_ts = true,
          .ts_ms = 1764220800000},
         "{\"name\":\"cpu\",\"labels\":{\"cpu\":\"0\",\"mode\":\"idle\",\"z\":\"quo\\\"te\"},"
         "\"value\":\"NaN\",\"type\":\"untyped\",\"ts_ms\":1764220800000}"},
        {{.name = "h", .type = SAMPLE_HISTOGRAM, .value = INFINITY, .has_ts = true, .ts_ms = -5},
         "{\"name\":\"h\",\"labels\":{},\"value\":\"+Inf\",\"type\":\"histogram\",\"ts_ms\":-5}"},
        {{.name = NULL, .labels = lnull, .nlabels = 1, .type = 99, .value = -1e-7},
         "{\"name\":\"\",\"labels\":{\"k\":\"\"},\"value\":-1e-07,\"type\":\"untyped\"}"},
        {{.name = "s", .type = SAMPLE_STATESET, .value = 1, .has_ts = true, .ts_ms = INT64_MIN},
         "{\"name\":\"s\",\"labels\":{},\"value\":1,\"type\":\"stateset\","
         "\"ts_ms\":-9223372036854775808}"},
    };
    struct strbuf sb;
    struct json_object *o;
    size_t i;

    strbuf_init(&sb);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(&sb);
        enc_json_sample(&sb, &cases[i].s);
        ck_assert_str_eq(sb.data, cases[i].out);
        ck_assert(jsonref_valid(sb.data, sb.len));
        o = jsonref_parse(sb.data, sb.len);
        json_object_put(o);
    }
    strbuf_release(&sb);
}
END_TEST

static struct json_object *
t_get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    T_REQUIRE(json_object_object_get_ex(o, key, &v), "missing key %s", key);
    return v;
}

/* Checks the keys of @o are exactly @keys, in that order. */
static void
t_check_keys(struct json_object *o, const char *const *keys, size_t nkeys)
{
    size_t i = 0;

    ck_assert(json_object_is_type(o, json_type_object));
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        ck_assert_uint_lt(i, nkeys);
        ck_assert_str_eq(key, keys[i]);
        i++;
    }
    ck_assert_uint_eq(i, nkeys);
}

/* Encodes @b, checks the line shape, and returns the parsed object (caller puts it). */
static struct json_object *
t_encode_batch(struct strbuf *sb, const struct batch *b)
{
    strbuf_reset(sb);
    T_REQUIRE(enc_json_batch(sb, b) == 0, "enc_json_batch failed");
    T_REQUIRE(sb->len > 0 && sb->data[sb->len - 1] == '\n', "no newline: %s", sb->data);
    T_REQUIRE(memchr(sb->data, '\n', sb->len) == sb->data + sb->len - 1, "two lines: %s", sb->data);
    T_REQUIRE(jsonref_valid(sb->data, sb->len - 1), "invalid JSON: %s", sb->data);
    return jsonref_parse(sb->data, sb->len);
}

static void
t_fill_batch(struct batch *b)
{
    static const struct label tl[] = {{"env", "prod"}, {"dc", "eu1"}};

    batch_init(b);
    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = tl;
    b->ntarget_labels = 2;
    b->ts_ms = 1764220800123;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;
    ck_assert_int_eq(batch_add(b, "node_load1", SAMPLE_GAUGE, 0.42, 0), 0);
    ck_assert_int_eq(batch_add(b, "x", SAMPLE_UNTYPED, NAN, 1, "le", "+Inf"), 0);
    b->samples[1].has_ts = true;
    b->samples[1].ts_ms = 1764220800000;
    ck_assert_int_eq(batch_add(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 123456.78, 2, "cpu",
                               "0", "mode", "idle"),
                     0);
}

START_TEST(test_batch_ok)
{
    static const char *const keys[] = {"ts_ms",  "job",        "instance", "url",    "ok",
                                       "status", "duration_s", "error",    "labels", "samples"};
    static const char *const skeys[] = {"name", "labels", "value", "type"};
    static const char *const skeys_ts[] = {"name", "labels", "value", "type", "ts_ms"};
    struct strbuf sb;
    struct batch b;
    struct json_object *o, *samples, *s, *l;

    strbuf_init(&sb);
    t_fill_batch(&b);
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(
        sb.data,
        "{\"ts_ms\":1764220800123,\"job\":\"node\",\"instance\":\"127.0.0.1:9100\","
        "\"url\":\"http://127.0.0.1:9100/metrics\",\"ok\":true,\"status\":200,"
        "\"duration_s\":0.0123,\"error\":null,\"labels\":{\"env\":\"prod\",\"dc\":\"eu1\"},"
        "\"samples\":[{\"name\":\"node_load1\",\"labels\":{},\"value\":0.42,\"type\":\"gauge\"},"
        "{\"name\":\"x\",\"labels\":{\"le\":\"+Inf\"},\"value\":\"NaN\",\"type\":\"untyped\","
        "\"ts_ms\":1764220800000},{\"name\":\"node_cpu_seconds_total\",\"labels\":{\"cpu\":\"0\","
        "\"mode\":\"idle\"},\"value\":123456.78,\"type\":\"counter\"}]}\n");

    t_check_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
    ck_assert_int_eq(json_object_get_int64(t_get(o, "ts_ms")), 1764220800123);
    ck_assert_str_eq(json_object_get_string(t_get(o, "job")), "node");
    ck_assert_str_eq(json_object_get_string(t_get(o, "instance")), "127.0.0.1:9100");
    ck_assert_str_eq(json_object_get_string(t_get(o, "url")), "http://127.0.0.1:9100/metrics");
    ck_assert(json_object_is_type(t_get(o, "ok"), json_type_boolean));
    ck_assert(json_object_get_boolean(t_get(o, "ok")));
    ck_assert_int_eq(json_object_get_int(t_get(o, "status")), 200);
    ck_assert(json_object_get_double(t_get(o, "duration_s")) == 0.0123);
    ck_assert(json_object_is_type(t_get(o, "error"), json_type_null));
    l = t_get(o, "labels");
    ck_assert_int_eq(json_object_object_length(l), 2);
    ck_assert_str_eq(json_object_get_string(t_get(l, "env")), "prod");
    ck_assert_str_eq(json_object_get_string(t_get(l, "dc")), "eu1");

    samples = t_get(o, "samples");
    ck_assert(json_object_is_type(samples, json_type_array));
    ck_assert_uint_eq(json_object_array_length(samples), 3);
    s = json_object_array_get_idx(samples, 0);
    t_check_keys(s, skeys, 4);
    ck_assert_str_eq(json_object_get_string(t_get(s, "name")), "node_load1");
    ck_assert_int_eq(json_object_object_length(t_get(s, "labels")), 0);
    ck_assert(json_object_get_double(t_get(s, "value")) == 0.42);
    ck_assert_str_eq(json_object_get_string(t_get(s, "type")), "gauge");
    s = json_object_array_get_idx(samples, 1);
    t_check_keys(s, skeys_ts, 5);
    ck_assert_str_eq(json_object_get_string(t_get(s, "value")), "NaN");
    ck_assert_str_eq(json_object_get_string(t_get(t_get(s, "labels"), "le")), "+Inf");
    ck_assert_int_eq(json_object_get_int64(t_get(s, "ts_ms")), 1764220800000);
    s = json_object_array_get_idx(samples, 2);
    l = t_get(s, "labels");
    ck_assert_str_eq(json_object_get_string(t_get(l, "cpu")), "0");
    ck_assert_str_eq(json_object_get_string(t_get(l, "mode")), "idle");
    ck_assert(json_object_get_double(t_get(s, "value")) == 123456.78);
    ck_assert_str_eq(json_object_get_string(t_get(s, "type")), "counter");
    json_object_put(o);

    /* Appends: a second line goes after the first. */
    ck_assert_int_eq(enc_json_batch(&sb, &b), 0);
    ck_assert_ptr_eq(strchr(sb.data, '\n') + 1, sb.data + sb.len / 2);

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_failed)
{
    static const char *const keys[] = {"ts_ms", "job",    "instance", "url",
                                       "ok",    "reason", "status",   "duration_s",
                                       "error", "labels", "samples"};
    struct strbuf sb;
    struct batch b;
    struct json_object *o;

    strbuf_init(&sb);
    t_fill_batch(&b);
    batch_fail(&b, REASON_TIMEOUT, "timeout after %d ms (connected, %d bytes received)", 10000, 0);
    b.http_status = 0;
    b.url = NULL;
    b.instance = NULL;
    b.job = NULL;
    b.ntarget_labels = 0;
    b.target_labels = NULL;
    b.nsamples = 0;
    o = t_encode_batch(&sb, &b);
    t_check_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
    ck_assert(json_object_is_type(t_get(o, "job"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "instance"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "url"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "ok"), json_type_boolean));
    ck_assert(!json_object_get_boolean(t_get(o, "ok")));
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "timeout");
    ck_assert(json_object_is_type(t_get(o, "status"), json_type_null));
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")),
                     "timeout after 10000 ms (connected, 0 bytes received)");
    ck_assert_int_eq(json_object_object_length(t_get(o, "labels")), 0);
    ck_assert_uint_eq(json_object_array_length(t_get(o, "samples")), 0);
    json_object_put(o);

    /* An HTTP failure keeps its status; the error text is escaped. */
    batch_fail(&b, REASON_HTTP_5XX, "HTTP %d \"%s\"\n", 503, "Service Unavailable");
    b.http_status = 503;
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "http_5xx");
    ck_assert_int_eq(json_object_get_int(t_get(o, "status")), 503);
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")),
                     "HTTP 503 \"Service Unavailable\"\n");
    json_object_put(o);

    /* Not ok without a reason is a bug somewhere; it still reads as a valid reason. */
    batch_clear(&b);
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "internal");
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")), "");
    json_object_put(o);

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_oom)
{
    struct strbuf sb;
    struct batch b;

    strbuf_init(&sb);
    t_fill_batch(&b);
    strbuf_puts(&sb, "line\n");
    sb.oom = true;
    ck_assert_int_eq(enc_json_batch(&sb, &b), -ENOMEM);
    ck_assert_str_eq(sb.data, "line\n");
    ck_assert_uint_eq(sb.len, 5);
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_fuzz)
{
    static const char *const names[] = {"job", "instance", "url", "error"};
    unsigned char str[6][40];
    size_t len[6];
    char want[3 * BATCH_ERROR_MAX + 1];
    struct label tl[2];
    struct strbuf sb;
    struct batch b;
    struct json_object *o, *l, *s;
    const char *got[4];
    size_t k, wlen;
    int i;

    strbuf_init(&sb);
    batch_init(&b);
    for (i = 0; i < 5000; i++) {
        batch_clear(&b);
        for (k = 0; k < 6; k++) {
            len[k] = jsonref_random_string(str[k], sizeof(str[k]) - 1, jsonref_rng() % 2 == 0);
            /* C strings: the batch fields cannot carry NULs */
            str[k][len[k]] = '\0';
            len[k] = strlen((char *)str[k]);
        }
        b.job = (char *)str[0];
        b.instance = (char *)str[1];
        b.url = (char *)str[2];
        batch_fail(&b, (enum reason)(1 + jsonref_rng() % (REASON__COUNT - 1)), "%s",
                   (char *)str[3]);
        tl[0].name = (char *)str[4];
        tl[0].value = (char *)str[5];
        b.target_labels = tl;
        b.ntarget_labels = 1;
        b.ts_ms = (int64_t)jsonref_rng();
        b.duration_s = (double)(jsonref_rng() % 100000) / 1000.0;
        T_REQUIRE(batch_add(&b, (char *)str[4], SAMPLE_GAUGE, (double)(int64_t)jsonref_rng(), 1,
                            (char *)str[5], (char *)str[0]) == 0,
                  "batch_add");

        o = t_encode_batch(&sb, &b);
        got[0] = json_object_get_string(t_get(o, "job"));
        got[1] = json_object_get_string(t_get(o, "instance"));
        got[2] = json_object_get_string(t_get(o, "url"));
        got[3] = json_object_get_string(t_get(o, "error"));
        for (k = 0; k < 4; k++) {
            if (k < 3) {
                wlen = jsonref_utf8_sanitize(str[k], len[k], want);
            }
            else {
                wlen = jsonref_utf8_sanitize((unsigned char *)b.error, strlen(b.error), want);
            }
            want[wlen] = '\0';
            T_REQUIRE(strcmp(got[k], want) == 0, "%s differs: %s", names[k], sb.data);
        }
        T_REQUIRE(json_object_get_int64(t_get(o, "ts_ms")) == b.ts_ms, "ts_ms: %s", sb.data);
        T_REQUIRE(json_object_get_double(t_get(o, "duration_s")) == b.duration_s, "duration_s");
        l = t_get(o, "labels");
        T_REQUIRE(json_object_object_length(l) == 1, "labels: %s", sb.data);
        s = json_object_array_get_idx(t_get(o, "samples"), 0);
        T_REQUIRE(json_object_get_double(t_get(s, "value")) == b.samples[0].value, "value");
        json_object_put(o);
    }
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

/* ---- the per-batch cache: whole batches against an independent encoder ---- */

/* A C string as the encoder writes it: "" when NULL. */
static void
t_ref_cstr(struct strbuf *out, const char *s)
{
    jsonref_string(out, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void
t_ref_number(struct strbuf *out, double v)
{
    char buf[64];

    if (isnan(v)) {
        strbuf_puts(out, "\"NaN\"");
    }
    else if (isinf(v)) {
        strbuf_puts(out, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    }
    else {
        jsonref_double(buf, sizeof(buf), v);
        strbuf_puts(out, buf);
    }
}

static void
t_ref_labels(struct strbuf *out, const struct label *l, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            strbuf_putc(out, ',');
        }
        t_ref_cstr(out, l[i].name);
        strbuf_putc(out, ':');
        t_ref_cstr(out, l[i].value);
    }
}

/* The sample object enc_json_sample() must write, built piece by piece. */
static void
t_ref_sample(struct strbuf *out, const struct sample *s)
{
    strbuf_puts(out, "{\"name\":");
    t_ref_cstr(out, s->name);
    strbuf_puts(out, ",\"labels\":{");
    t_ref_labels(out, s->labels, s->nlabels);
    strbuf_puts(out, "},\"value\":");
    t_ref_number(out, s->value);
    strbuf_printf(out, ",\"type\":\"%s\"", sample_type_name((enum sample_type)s->type));
    if (s->has_ts) {
        strbuf_printf(out, ",\"ts_ms\":%" PRId64, s->ts_ms);
    }
    strbuf_putc(out, '}');
}

/* The line enc_json_batch() must write (enc_json.h), built piece by piece. */
static void
t_ref_batch(struct strbuf *out, const struct batch *b)
{
    const char *const keys[] = {",\"job\":", ",\"instance\":", ",\"url\":"};
    const char *const vals[] = {b->job, b->instance, b->url};
    size_t i;

    strbuf_printf(out, "{\"ts_ms\":%" PRId64, b->ts_ms);
    for (i = 0; i < 3; i++) {
        strbuf_puts(out, keys[i]);
        if (vals[i] == NULL) {
            strbuf_puts(out, "null");
        }
        else {
            t_ref_cstr(out, vals[i]);
        }
    }
    if (b->ok) {
        strbuf_puts(out, ",\"ok\":true");
    }
    else {
        strbuf_printf(out, ",\"ok\":false,\"reason\":\"%s\"",
                      reason_name(b->reason == REASON_NONE ? REASON_INTERNAL : b->reason));
    }
    if (b->http_status == 0) {
        strbuf_puts(out, ",\"status\":null");
    }
    else {
        strbuf_printf(out, ",\"status\":%d", b->http_status);
    }
    strbuf_puts(out, ",\"duration_s\":");
    t_ref_number(out, b->duration_s);
    strbuf_puts(out, ",\"error\":");
    if (b->ok) {
        strbuf_puts(out, "null");
    }
    else {
        jsonref_string(out, b->error, strnlen(b->error, sizeof(b->error)));
    }
    strbuf_puts(out, ",\"labels\":{");
    t_ref_labels(out, b->target_labels, b->ntarget_labels);
    strbuf_puts(out, "},\"samples\":[");
    for (i = 0; i < b->nsamples; i++) {
        if (i > 0) {
            strbuf_putc(out, ',');
        }
        t_ref_sample(out, &b->samples[i]);
    }
    strbuf_puts(out, "]}\n");
}

/*
 * Appends @b to @sb with enc_json_batch() and checks the new line byte for byte against
 * t_ref_batch(), and every sample against enc_json_sample() alone. @sb may hold earlier lines:
 * the cache's offsets must be those of this line.
 */
static void
t_check_batch_ref(struct strbuf *sb, const struct batch *b)
{
    struct strbuf ref, one;
    size_t start = sb->len, i;

    strbuf_init(&ref);
    strbuf_init(&one);
    T_REQUIRE(enc_json_batch(sb, b) == 0, "enc_json_batch failed");
    t_ref_batch(&ref, b);
    T_REQUIRE(!ref.oom, "oom");
    T_REQUIRE(sb->len - start == ref.len && memcmp(sb->data + start, ref.data, ref.len) == 0,
              "batch differs:\n got  %s\n want %s", sb->data + start, ref.data);
    T_REQUIRE(jsonref_valid(ref.data, ref.len - 1), "invalid JSON: %s", ref.data);
    for (i = 0; i < b->nsamples; i++) {
        strbuf_reset(&one);
        strbuf_reset(&ref);
        enc_json_sample(&one, &b->samples[i]);
        t_ref_sample(&ref, &b->samples[i]);
        T_REQUIRE(one.len == ref.len && memcmp(one.data, ref.data, ref.len) == 0,
                  "sample %zu differs:\n got  %s\n want %s", i, one.data, ref.data);
    }
    strbuf_release(&ref);
    strbuf_release(&one);
}

/* What prom_parse.c's emit() and build_labels() keep to share strings between samples. */
struct t_sharer {
    const char *last_name;
    const struct label *last; /* the last label array built */
    uint32_t nlast;
};

static const char *
t_share_str(struct batch *b, const char *prev, const char *s)
{
    const char *p;

    if (prev != NULL && strcmp(prev, s) == 0) {
        return prev;
    }
    p = arena_strdup(&b->arena, s);
    T_REQUIRE(p != NULL, "arena_strdup");
    return p;
}

/*
 * Appends a sample whose strings are shared the way the parser shares them: the previous name
 * when equal, the last label array when all @n labels (@kv: name, value, ...) are equal, else
 * a new array reusing the last array's name and value strings position by position.
 */
static struct sample *
t_push_shared(struct batch *b, struct t_sharer *sh, const char *name, uint32_t n,
              const char *const *kv, double value, enum sample_type type)
{
    struct label *arr;
    struct sample *s;
    const struct label *labels = NULL;
    bool same = n > 0 && sh->last != NULL && sh->nlast == n;
    uint32_t i;

    for (i = 0; same && i < n; i++) {
        same = strcmp(sh->last[i].name, kv[2 * i]) == 0 &&
               strcmp(sh->last[i].value, kv[2 * i + 1]) == 0;
    }
    if (same) {
        labels = sh->last;
    }
    else if (n > 0) {
        arr = arena_alloc(&b->arena, n * sizeof(*arr));
        T_REQUIRE(arr != NULL, "arena_alloc");
        for (i = 0; i < n; i++) {
            arr[i].name = t_share_str(b, i < sh->nlast ? sh->last[i].name : NULL, kv[2 * i]);
            arr[i].value = t_share_str(b, i < sh->nlast ? sh->last[i].value : NULL, kv[2 * i + 1]);
        }
        labels = sh->last = arr;
        sh->nlast = n;
    }
    sh->last_name = t_share_str(b, sh->last_name, name);
    s = batch_push(b);
    T_REQUIRE(s != NULL, "batch_push");
    s->name = sh->last_name;
    s->labels = labels;
    s->nlabels = n;
    s->type = (uint8_t)type;
    s->value = value;
    return s;
}

/*
 * Batches shaped like the parser's: families whose samples share the name string, label name
 * strings and equal value strings (some needing escapes or replacement, some longer than one
 * reservation), whole label arrays, type changes, timestamps, more labels than the cache
 * remembers, and a label array reused with fewer labels.
 */
START_TEST(test_batch_shared_strings)
{
    static const char *const cpu_kv[][4] = {
        {"cpu", "0", "mode", "idle"},   {"cpu", "0", "mode", "user"},
        {"cpu", "1", "mode", "idle"},   {"cpu", "1", "mode", "us\"er"},
        {"cpu", "1", "mode", "us\"er"}, {"cpu", "1", "mode", ""},
    };
    static const char *const odd_kv[][6] = {
        {"path", "C:\\tmp\n", "q\"", "\xFF\xFE", "le", "+Inf"},
        {"path", "C:\\tmp\n", "q\"", "\xFF\xFE", "le", "0.5"},
        {"path", "C:\\tmp\n", "q\"", "caf\xC3\xA9", "le", "0.5"},
        {"path", "D:\\", "q\"", "caf\xC3\xA9", "le", "0.5"},
        {"path", "D:\\", "r", "caf\xC3\xA9", "le", "0.5"},
    };
    const char *many[24];
    char *longname = malloc(3000), *longval = malloc(2000);
    struct t_sharer sh = {NULL, NULL, 0};
    struct strbuf sb;
    struct batch b;
    struct sample *s;
    size_t i;

    ck_assert_ptr_nonnull(longname);
    ck_assert_ptr_nonnull(longval);
    memset(longname, 'n', 2999);
    longname[2999] = '\0';
    longname[1500] = '"';
    memset(longval, 'v', 1999);
    longval[1999] = '\0';
    for (i = 0; i < 24; i++) {
        many[i] = i % 2 == 0 ? "lbl" : (i % 4 == 1 ? "x" : "y\ty");
    }

    strbuf_init(&sb);
    t_fill_batch(&b);
    batch_clear(&b);
    b.ok = true;
    for (i = 0; i < 6; i++) {
        s = t_push_shared(&b, &sh, "node_cpu_seconds_total", 2, cpu_kv[i], 100.25 * (double)i,
                          SAMPLE_COUNTER);
        s->has_ts = i % 2 == 1;
        s->ts_ms = 1764220800000 + (int64_t)i;
    }
    for (i = 0; i < 5; i++) {
        t_push_shared(&b, &sh, "we\"ird_\x01name", 3, odd_kv[i], 1.0 / (double)(i + 3),
                      i == 2 ? SAMPLE_GAUGE : SAMPLE_HISTOGRAM);
    }
    t_push_shared(&b, &sh, "we\"ird_\x01name", 0, NULL, NAN, SAMPLE_UNTYPED);
    t_push_shared(&b, &sh, "we\"ird_\x01name", 1, odd_kv[4], -INFINITY, SAMPLE_UNTYPED);
    for (i = 0; i < 4; i++) {
        many[2 * i + 1] = i < 2 ? "x" : "z"; /* 12 labels: positions past the cache's too */
        t_push_shared(&b, &sh, "many", 12, many, (double)i, SAMPLE_GAUGE);
    }
    for (i = 0; i < 3; i++) {
        const char *kv[4] = {"long", longval, "other", i == 1 ? "a" : "b"};

        t_push_shared(&b, &sh, longname, 2, kv, (double)i, SAMPLE_SUMMARY);
    }
    /* The same label array with fewer labels, then with all of them again. */
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];
    s->nlabels = 1;
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 3];
    /* An out-of-range type twice, and NULL names and values, which are written "". */
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[0];
    s->type = 99;
    s->name = NULL;
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];
    s->labels = arena_alloc(&b.arena, 2 * sizeof(struct label));
    ck_assert_ptr_nonnull(s->labels);
    memcpy((struct label *)s->labels, (struct label[]){{NULL, "v"}, {"k", NULL}},
           2 * sizeof(struct label));
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];

    strbuf_puts(&sb, "an earlier line\n");
    t_check_batch_ref(&sb, &b);
    t_check_batch_ref(&sb, &b); /* again, appended: nothing carried over */

    batch_release(&b);
    strbuf_release(&sb);
    free(longname);
    free(longval);
}
END_TEST

/*
 * The cache keys on addresses, which only stand for the same text within one batch: after a
 * batch is cleared its arena hands the same addresses out again for other strings, and a
 * caller may rewrite a buffer between two batches. The second line must show the new text.
 */
START_TEST(test_batch_cache_reset)
{
    static const char *const kv1[] = {"device", "sda", "mode", "ro"};
    static const char *const kv2[] = {"devicE", "sdb", "mOde", "rw\"x"};
    static const char *const kv3[] = {"dev", "s", "m", "r"};
    const char *const *kvs[] = {kv1, kv2, kv3};
    const char *const names[] = {"node_disk_info", "node_disk_inf\n", "n"};
    const char *first_name = NULL, *first_label = NULL;
    struct t_sharer sh;
    struct strbuf sb;
    struct batch b;
    char buf[32];
    size_t i, j;

    strbuf_init(&sb);
    t_fill_batch(&b);
    for (i = 0; i < 3; i++) {
        batch_clear(&b);
        b.ok = true;
        memset(&sh, 0, sizeof(sh));
        for (j = 0; j < 3; j++) {
            t_push_shared(&b, &sh, names[i], 2, kvs[i], (double)j, SAMPLE_GAUGE);
        }
        if (i == 0) {
            first_name = b.samples[0].name;
            first_label = b.samples[0].labels[0].name;
        }
        else {
            /* the scenario under test: same addresses, other strings */
            ck_assert_ptr_eq(b.samples[0].name, first_name);
            ck_assert_ptr_eq(b.samples[0].labels[0].name, first_label);
        }
        t_check_batch_ref(&sb, &b);
    }

    /* A buffer rewritten between two batches encoded into the same strbuf. */
    batch_clear(&b);
    b.ok = true;
    strcpy(buf, "first");
    for (j = 0; j < 2; j++) {
        ck_assert_int_eq(batch_add(&b, buf, SAMPLE_GAUGE, 1.5, 1, buf, buf), 0);
    }
    t_check_batch_ref(&sb, &b);
    strcpy(buf, "2nd \"one\", longer");
    t_check_batch_ref(&sb, &b);
    strcpy(buf, "3");
    t_check_batch_ref(&sb, &b);
    ck_assert_ptr_null(strstr(sb.data + sb.len - 120, "first"));

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

/*
 * Random batches over a small pool of strings (plain, escaped, invalid UTF-8, empty, NULL,
 * longer than one reservation), so addresses repeat within a sample, across positions and
 * across samples, with label arrays shared whole, shortened or partly reused.
 */
START_TEST(test_batch_random_shared)
{
    enum { POOL = 24, MAXL = 12 };
    static char pool[POOL][1100];
    const char *ptrs[POOL];
    struct label *arr;
    struct strbuf sb;
    struct batch b;
    struct sample *s, *prev;
    size_t n, k;
    uint32_t nl, j;
    int round, i, ns;

    for (k = 0; k < POOL; k++) {
        n = k < 2 ? 1050 : jsonref_random_string((unsigned char *)pool[k], 30, k % 3 != 0);
        if (k < 2) {
            memset(pool[k], k == 0 ? 'a' : '\\', n);
        }
        pool[k][n] = '\0';
        ptrs[k] = pool[k];
    }
    ptrs[2] = NULL;
    ptrs[3] = "";
    ptrs[4] = pool[5] + 1; /* a suffix of another pool string */

    strbuf_init(&sb);
    t_fill_batch(&b);
    for (round = 0; round < 400; round++) {
        batch_clear(&b);
        b.ok = jsonref_rng() % 4 != 0;
        b.reason = (enum reason)(jsonref_rng() % REASON__COUNT);
        ns = (int)(jsonref_rng() % 40);
        for (i = 0; i < ns; i++) {
            s = batch_push(&b);
            ck_assert_ptr_nonnull(s);
            prev = i > 0 ? &b.samples[i - 1] : NULL;
            s->name =
                prev != NULL && jsonref_rng() % 4 != 0 ? prev->name : ptrs[jsonref_rng() % POOL];
            if (prev != NULL && prev->nlabels > 0 && jsonref_rng() % 5 == 0) {
                s->labels = prev->labels;
                s->nlabels = (uint32_t)(jsonref_rng() % (prev->nlabels + 1));
            }
            else {
                nl = (uint32_t)(jsonref_rng() % (MAXL + 1));
                arr = nl > 0 ? arena_alloc(&b.arena, nl * sizeof(*arr)) : NULL;
                T_REQUIRE(nl == 0 || arr != NULL, "arena_alloc");
                for (j = 0; j < nl; j++) {
                    const struct label *pl =
                        prev != NULL && j < prev->nlabels ? &prev->labels[j] : NULL;

                    arr[j].name = pl != NULL && jsonref_rng() % 4 != 0 ? pl->name
                                                                       : ptrs[jsonref_rng() % POOL];
                    arr[j].value = pl != NULL && jsonref_rng() % 2 != 0
                                       ? pl->value
                                       : ptrs[jsonref_rng() % POOL];
                }
                s->labels = arr;
                s->nlabels = nl;
            }
            s->type = (uint8_t)(jsonref_rng() % (SAMPLE_TYPE__COUNT + 2));
            s->has_ts = jsonref_rng() % 3 == 0;
            s->ts_ms = (int64_t)jsonref_rng();
            s->value =
                (double)(int64_t)(jsonref_rng() % 2000000) / (double)(1 + jsonref_rng() % 1000);
        }
        if (sb.len > 1000000) {
            strbuf_reset(&sb);
        }
        t_check_batch_ref(&sb, &b);
    }
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_encoder_entry)
{
    ck_assert_str_eq(enc_json.name, "json");
    ck_assert_ptr_eq(enc_json.encode, enc_json_batch);
}
END_TEST

static void
cache_teardown(void)
{
    arena_free_cache();
}

static Suite *
enc_json_suite(void)
{
    Suite *s = suite_create("enc_json");
    TCase *tc;

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
    tcase_add_test(tc, test_sample_table);
    tcase_add_test(tc, test_batch_ok);
    tcase_add_test(tc, test_batch_failed);
    tcase_add_test(tc, test_batch_oom);
    tcase_add_test(tc, test_batch_fuzz);
    tcase_add_test(tc, test_batch_shared_strings);
    tcase_add_test(tc, test_batch_cache_reset);
    tcase_add_test(tc, test_batch_random_shared);
    tcase_add_test(tc, test_encoder_entry);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(enc_json_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
