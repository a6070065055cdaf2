/*
 * Tests for the json job kind. Unit level, driving the kind's functions directly with a batch:
 * the path grammar (valid paths reach the right values, invalid ones give precise errors),
 * per-metric checks, wildcard expansion into labels, value coercions, huge numbers, nesting
 * limits, parse errors with their offsets, required paths, and chunk splits at every offset
 * giving identical results. Integration, through the engine's once mode against mock targets on
 * the same loop: an Elasticsearch-cluster-health-like document and a nested stats document,
 * HTTP errors, invalid bodies, size limits, and a failing target next to a good one.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc_json.h"
#include "api_targets.h"
#include "engine.h"
#include "job_json.h"
#include "log.h"
#include "loop.h"
#include "mock_server.h"
#include "out_stdout.h"
#include "stats.h"
#include "strbuf.h"
#include "testutil.h"

/* ---- unit helpers ---- */

static char *
read_fixture(const char *name, size_t *len)
{
    char path[1024];
    const char *fx = getenv("FIXTURES");

    snprintf(path, sizeof(path), "%s/%s", fx != NULL ? fx : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void *
new_state(const struct job_json_metric_opts *m, size_t n)
{
    char err[256] = "";
    void *st = job_json_new(m, n, err, sizeof(err));

    ck_assert_msg(st != NULL, "job_json_new: %s", err);
    return st;
}

/*
 * One run as scrape.c drives it: prepare, the body in pieces cut at @cuts (ascending offsets),
 * the transfer aborted at the first failed feed, finish with @status.
 */
static void
run_cuts(void *st, struct batch *b, const char *doc, size_t len, const size_t *cuts, size_t ncuts,
         long status)
{
    struct scrape_result res = {.rc = CURLE_OK, .http_status = status};
    size_t at = 0;
    bool failed = false;

    batch_clear(b);
    b->ok = false;
    b->reason = REASON_NONE;
    b->error[0] = '\0';
    ck_assert_int_eq(job_json.prepare(st, NULL, b), 0);
    for (size_t i = 0; i <= ncuts && !failed; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end > at) {
            failed = job_json.feed(st, doc + at, end - at, b) != 0;
            at = end;
        }
    }
    if (failed) {
        ck_assert(!b->ok);
        res.rc = CURLE_WRITE_ERROR;
    }
    else {
        b->ok = true;
    }
    res.body_bytes = at;
    job_json.finish(st, &res, NULL, b);
}

static void
run_doc(void *st, struct batch *b, const char *doc)
{
    run_cuts(st, b, doc, strlen(doc), NULL, 0, 200);
}

/* The batch as text: ok, reason, error, then every sample with its labels and exact value. */
static char *
render(const struct batch *b)
{
    size_t cap = 4096 + b->nsamples * 256, n = 0;
    char *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    n += (size_t)snprintf(out + n, cap - n, "ok=%d reason=%s error=%s scraped=%lld\n", b->ok,
                          reason_name(b->reason), b->error, (long long)b->samples_scraped);
    for (size_t i = 0; i < b->nsamples; i++) {
        const struct sample *s = &b->samples[i];
        n += (size_t)snprintf(out + n, cap - n, "%s{", s->name);
        for (uint32_t k = 0; k < s->nlabels; k++) {
            n += (size_t)snprintf(out + n, cap - n, "%s=\"%s\",", s->labels[k].name,
                                  s->labels[k].value);
        }
        n += (size_t)snprintf(out + n, cap - n, "} %a %s\n", s->value,
                              sample_type_name((enum sample_type)s->type));
    }
    return out;
}

/* The sample @name with label @lk=@lv (any labels when @lk is NULL); NULL when absent. */
static const struct sample *
find(const struct batch *b, const char *name, const char *lk, const char *lv)
{
    for (size_t i = 0; i < b->nsamples; i++) {
        const struct sample *s = &b->samples[i];
        if (strcmp(s->name, name) != 0) {
            continue;
        }
        if (lk == NULL) {
            return s;
        }
        for (uint32_t k = 0; k < s->nlabels; k++) {
            if (strcmp(s->labels[k].name, lk) == 0 && strcmp(s->labels[k].value, lv) == 0) {
                return s;
            }
        }
    }
    return NULL;
}

static double
value(const struct batch *b, const char *name, const char *lk, const char *lv)
{
    const struct sample *s = find(b, name, lk, lv);

    ck_assert_msg(s != NULL, "no sample %s %s=%s in\n%s", name, lk != NULL ? lk : "",
                  lv != NULL ? lv : "", render(b));
    return s->value;
}

static double
absent(const struct batch *b)
{
    return value(b, JOB_JSON_ABSENT_METRIC, NULL, NULL);
}

static size_t
count(const struct batch *b, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < b->nsamples; i++) {
        n += strcmp(b->samples[i].name, name) == 0;
    }
    return n;
}

static struct batch B;

static void
unit_setup(void)
{
    batch_init(&B);
}

static void
unit_teardown(void)
{
    batch_release(&B);
    arena_free_cache();
}

/* ---- path grammar ---- */

/* Each path, evaluated over DOC, yields the values listed (in order), as metric "m". */
static const char GRAMMAR_DOC[] =
    "{\"a\":{\"b\":{\"c\":1},\"arr\":[10,{\"c\":11},[12,13]]},\"x.y\":{\"z w\":2},"
    "\"*\":3,\"q\\\"uote\":4,\"back\\\\slash\":5,\"sq'\":6,\"-_9\":7,\"0\":8,\"\":9,"
    "\"caf\u00e9\":10,\"top\":[{\"k\":20},{\"k\":21}],\"o\":{\"m1\":{\"v\":30},\"m2\":{\"v\":31}}}";

START_TEST(test_path_valid)
{
    static const struct {
        const char *path;
        const char *label;
        size_t wild;
        size_t n;
        double v[4];
    } cases[] = {
        {"a.b.c", NULL, 0, 1, {1}},
        {"a.arr[0]", NULL, 0, 1, {10}},
        {"a.arr[1].c", NULL, 0, 1, {11}},
        {"a.arr[2][1]", NULL, 0, 1, {13}},
        {"a[\"b\"].c", NULL, 0, 1, {1}},
        {"a['b']['c']", NULL, 0, 1, {1}},
        {"[\"x.y\"][\"z w\"]", NULL, 0, 1, {2}},
        {"[\"*\"]", NULL, 0, 1, {3}},
        {"[\"q\\\"uote\"]", NULL, 0, 1, {4}},
        {"['back\\\\slash']", NULL, 0, 1, {5}},
        {"['sq\\'']", NULL, 0, 1, {6}},
        {"[\"sq'\"]", NULL, 0, 1, {6}},
        {"-_9", NULL, 0, 1, {7}},
        {"0", NULL, 0, 1, {8}},
        {"[\"\"]", NULL, 0, 1, {9}},
        {"[\"caf\xc3\xa9\"]", NULL, 0, 1, {10}},
        {"top[*].k", "i", 1, 2, {20, 21}},
        {"top.*.k", "i", 1, 2, {20, 21}},
        {"o.*.v", "m", 1, 2, {30, 31}},
        {"o[*]['v']", "m", 1, 2, {30, 31}},
        {"a.arr[*][*]", "i,j", 2, 3, {11, 12, 13}},
        {"a.arr[00]", NULL, 0, 1, {10}},
    };
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct job_json_path *p = job_json_path_compile(cases[i].path, err, sizeof(err));
        ck_assert_msg(p != NULL, "%s: %s", cases[i].path, err);
        ck_assert_uint_eq(job_json_path_wildcards(p), cases[i].wild);
        job_json_path_free(p);

        struct job_json_metric_opts m = {
            .name = "m", .path = cases[i].path, .type = SAMPLE_GAUGE, .label = cases[i].label};
        void *st = new_state(&m, 1);
        run_doc(st, &B, GRAMMAR_DOC);
        ck_assert_msg(B.ok, "%s: %s", cases[i].path, B.error);
        ck_assert_msg(count(&B, "m") == cases[i].n, "%s:\n%s", cases[i].path, render(&B));
        for (size_t k = 0; k < cases[i].n; k++) {
            ck_assert_msg(B.samples[k].value == cases[i].v[k], "%s: value %zu\n%s", cases[i].path,
                          k, render(&B));
        }
        job_json.free(st);
    }
}
END_TEST

START_TEST(test_path_invalid)
{
    static const struct {
        const char *path;
        const char *err;
    } cases[] = {
        {"", "invalid path \"\": empty path"},
        {"a..b", "invalid path \"a..b\": empty key at offset 2"},
        {".a", "invalid path \".a\": empty key at offset 0"},
        {"a.", "invalid path \"a.\": empty key at offset 2"},
        {"a.[0]", "invalid path \"a.[0]\": empty key at offset 2"},
        {"a b", "invalid path \"a b\": unexpected character ' ' at offset 1 (quote keys with "
                "other characters: [\"...\"])"},
        {"a.b/c", "invalid path \"a.b/c\": unexpected character '/' at offset 3 (quote keys "
                  "with other characters: [\"...\"])"},
        {"a.\xc3\xa9", "invalid path \"a.\xc3\xa9\": unexpected character '\\xc3' at offset 2 "
                       "(quote keys with other characters: [\"...\"])"},
        {"$.a", "invalid path \"$.a\": unexpected character '$' at offset 0 (quote keys with "
                "other characters: [\"...\"])"},
        {"a*", "invalid path \"a*\": unexpected character '*' at offset 1 (quote keys with "
               "other characters: [\"...\"])"},
        {"*a", "invalid path \"*a\": unexpected character 'a' at offset 1 (expected '.' or '[')"},
        {"a[0]b", "invalid path \"a[0]b\": unexpected character 'b' at offset 4 (expected '.' "
                  "or '[')"},
        {"a]", "invalid path \"a]\": unexpected character ']' at offset 1 (quote keys with "
               "other characters: [\"...\"])"},
        {"a[0", "invalid path \"a[0\": expected ']' at offset 3"},
        {"a[*x]", "invalid path \"a[*x]\": expected ']' at offset 3"},
        {"a[]", "invalid path \"a[]\": expected an index, * or a quoted key at offset 2"},
        {"a[", "invalid path \"a[\": expected an index, * or a quoted key at offset 2"},
        {"a[x]", "invalid path \"a[x]\": expected an index, * or a quoted key at offset 2"},
        {"a[ 0]", "invalid path \"a[ 0]\": expected an index, * or a quoted key at offset 2"},
        {"a[-1]", "invalid path \"a[-1]\": negative index at offset 2"},
        {"a[2147483648]", "invalid path \"a[2147483648]\": index too large at offset 2 (at most "
                          "2147483647)"},
        {"a[99999999999999999999999]", "invalid path \"a[99999999999999999999999]\": index too "
                                       "large at offset 2 (at most 2147483647)"},
        {"a[\"x", "invalid path \"a[\"x\": unterminated string at offset 2"},
        {"a['x\"]", "invalid path \"a['x\"]\": unterminated string at offset 2"},
        {"a[\"x\"", "invalid path \"a[\"x\"\": expected ']' at offset 5"},
        {"a[\"x\\n\"]", "invalid path \"a[\"x\\n\"]\": invalid escape 'n' at offset 4 (only \\\", "
                        "\\' and \\\\)"},
        {"a[\"x\\", "invalid path \"a[\"x\\\": invalid escape '\\x00' at offset 4 (only \\\", \\' "
                    "and \\\\)"},
    };
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        struct job_json_path *p = job_json_path_compile(cases[i].path, err, sizeof(err));
        ck_assert_msg(p == NULL, "%s compiled", cases[i].path);
        ck_assert_str_eq(err, cases[i].err);
    }
}
END_TEST

START_TEST(test_metric_errors)
{
    static const struct label dup[] = {{"queue", "x"}};
    static const struct label bad[] = {{"0x", "y"}};
    static const struct {
        struct job_json_metric_opts m;
        const char *err;
    } cases[] = {
        {{.name = "m", .path = "a..b"}, "invalid path \"a..b\": empty key at offset 2"},
        {{.name = "9m", .path = "a"}, "invalid metric name \"9m\""},
        {{.name = "a-b", .path = "a"}, "invalid metric name \"a-b\""},
        {{.name = "m", .path = "a", .type = SAMPLE_HISTOGRAM},
         "type histogram is not supported (gauge, counter or untyped)"},
        {{.name = "m", .path = "q.*.d"}, "path \"q.*.d\" has 1 wildcard but label is not set"},
        {{.name = "m", .path = "q.*.*", .label = "a"},
         "path \"q.*.*\" has 2 wildcards but label \"a\" names 1"},
        {{.name = "m", .path = "q.*", .label = "a,b"},
         "path \"q.*\" has 1 wildcard but label \"a,b\" names 2"},
        {{.name = "m", .path = "q.d", .label = "queue"},
         "label \"queue\" is set but path \"q.d\" has no wildcard"},
        {{.name = "m", .path = "q.*", .label = "9q"}, "invalid label name \"9q\" in label \"9q\""},
        {{.name = "m", .path = "q.*", .label = "__name__"},
         "invalid label name \"__name__\" in label \"__name__\""},
        {{.name = "m", .path = "q.*.*", .label = "a,"}, "invalid label name \"\" in label \"a,\""},
        {{.name = "m", .path = "q.*.*", .label = "a, a"}, "label \"a\" given twice"},
        {{.name = "m", .path = "q.*", .label = "queue", .labels = dup, .nlabels = 1},
         "label \"queue\" given twice"},
        {{.name = "m", .path = "q", .labels = bad, .nlabels = 1}, "invalid label name \"0x\""},
    };
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(job_json_metric_check(&cases[i].m, err, sizeof(err)), -EINVAL);
        ck_assert_str_eq(err, cases[i].err);
    }

    /* job_json_new names the metric and its position. */
    struct job_json_metric_opts ms[] = {
        {.name = "ok_metric", .path = "a", .type = SAMPLE_GAUGE},
        {.name = "queue_depth", .path = "queues..depth", .type = SAMPLE_GAUGE},
    };
    ck_assert_ptr_null(job_json_new(ms, 2, err, sizeof(err)));
    ck_assert_str_eq(err, "metrics[1] (queue_depth): invalid path \"queues..depth\": empty key at "
                          "offset 7");
    ck_assert_ptr_null(job_json_new(ms, 0, err, sizeof(err)));
    ck_assert_str_eq(err, "no metrics");

    /* Valid: spaces around the names of the label list, counter, untyped. */
    struct job_json_metric_opts good = {
        .name = "m", .path = "a.*.b[*]", .type = SAMPLE_COUNTER, .label = " x , y "};
    ck_assert_int_eq(job_json_metric_check(&good, err, sizeof(err)), 0);
    good.type = SAMPLE_UNTYPED;
    ck_assert_int_eq(job_json_metric_check(&good, err, sizeof(err)), 0);
}
END_TEST

/* ---- extraction ---- */

START_TEST(test_wildcard_labels)
{
    static const struct label env[] = {{"zone", "eu"}, {"env", "prod"}};
    struct job_json_metric_opts m[] = {
        {.name = "queue_depth",
         .path = "queues.*.depth",
         .type = SAMPLE_GAUGE,
         .label = "queue",
         .labels = env,
         .nlabels = 2},
        {.name = "worker_busy", .path = "workers[*].busy", .type = SAMPLE_GAUGE, .label = "worker"},
        {.name = "pool", .path = "db.pools.*.*", .type = SAMPLE_GAUGE, .label = "pool, stat"},
    };
    void *st = new_state(m, 3);

    run_doc(st, &B,
            "{\"queues\":{\"a.b\":{\"depth\":1},\"c\":{\"depth\":2},\"empty\":{}},"
            "\"workers\":[{\"busy\":true},{\"busy\":false},{\"idle\":1}],"
            "\"db\":{\"pools\":{\"p\":{\"open\":3,\"idle\":4},\"r\":{\"open\":5}}}}");
    ck_assert_msg(B.ok, "%s", B.error);
    char *text = render(&B);
    /* Labels sorted by name; members in document order; indexes from 0. */
    ck_assert_str_eq(text, "ok=1 reason= error= scraped=7\n"
                           "queue_depth{env=\"prod\",queue=\"a.b\",zone=\"eu\",} 0x1p+0 gauge\n"
                           "queue_depth{env=\"prod\",queue=\"c\",zone=\"eu\",} 0x1p+1 gauge\n"
                           "worker_busy{worker=\"0\",} 0x1p+0 gauge\n"
                           "worker_busy{worker=\"1\",} 0x0p+0 gauge\n"
                           "pool{pool=\"p\",stat=\"open\",} 0x1.8p+1 gauge\n"
                           "pool{pool=\"p\",stat=\"idle\",} 0x1p+2 gauge\n"
                           "pool{pool=\"r\",stat=\"open\",} 0x1.4p+2 gauge\n"
                           "json_samples_absent{} 0x1p+1 gauge\n");
    free(text);

    /* A wildcard over an empty object or array matches nothing and counts nothing. */
    run_doc(st, &B, "{\"queues\":{},\"workers\":[],\"db\":{\"pools\":{}}}");
    ck_assert(B.ok);
    ck_assert_uint_eq(B.nsamples, 1);
    ck_assert(absent(&B) == 0);
    /* A wildcard over a scalar, or missing parents: absent, counted once per metric. */
    run_doc(st, &B, "{\"queues\":3,\"workers\":\"x\"}");
    ck_assert(B.ok);
    ck_assert_uint_eq(B.nsamples, 1);
    ck_assert(absent(&B) == 3);
    job_json.free(st);
}
END_TEST

START_TEST(test_coercions)
{
    static const struct {
        const char *json; /* the value */
        bool present;
        double v;
    } cases[] = {
        {"1", true, 1},
        {"-2.5", true, -2.5},
        {"1.5e3", true, 1500},
        {"-0", true, 0},
        {"true", true, 1},
        {"false", true, 0},
        {"\"42\"", true, 42},
        {"\" 42\\n\"", true, 42},
        {"\"-1.5e-3\"", true, -1.5e-3},
        {"\"+.5\"", true, 0.5},
        {"\"7.\"", true, 7},
        {"\"0042\"", true, 42},
        {"\"1e400\"", true, INFINITY},
        {"\"NaN\"", true, NAN},
        {"\"nan\"", true, NAN},
        {"\"+Inf\"", true, INFINITY},
        {"\"-Inf\"", true, -INFINITY},
        {"\"inf\"", true, INFINITY},
        {"\"Infinity\"", true, INFINITY},
        {"\"-infinity\"", true, -INFINITY},
        {"NaN", true, NAN},
        {"Infinity", true, INFINITY},
        {"-Infinity", true, -INFINITY},
        {"null", false, 0},
        {"\"\"", false, 0},
        {"\"  \"", false, 0},
        {"\"abc\"", false, 0},
        {"\"12abc\"", false, 0},
        {"\"1 2\"", false, 0},
        {"\"0x10\"", false, 0},
        {"\"-nan\"", false, 0},
        {"\"nan(1)\"", false, 0},
        {"\"infin\"", false, 0},
        {"\"1e\"", false, 0},
        {"\".\"", false, 0},
        {"\"true\"", false, 0},
        {"\"1\\u00002\"", false, 0},
        {"{}", false, 0},
        {"[1]", false, 0},
    };
    struct job_json_metric_opts m = {.name = "v", .path = "v", .type = SAMPLE_UNTYPED};
    void *st = new_state(&m, 1);
    char doc[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(doc, sizeof(doc), "{\"v\":%s}", cases[i].json);
        run_doc(st, &B, doc);
        ck_assert_msg(B.ok, "%s: %s", doc, B.error);
        const struct sample *s = find(&B, "v", NULL, NULL);
        ck_assert_msg((s != NULL) == cases[i].present, "%s:\n%s", doc, render(&B));
        ck_assert(absent(&B) == (cases[i].present ? 0 : 1));
        if (s == NULL) {
            continue;
        }
        ck_assert_uint_eq(s->type, SAMPLE_UNTYPED);
        if (isnan(cases[i].v)) {
            ck_assert_msg(isnan(s->value), "%s: %g", doc, s->value);
        }
        else {
            ck_assert_msg(s->value == cases[i].v, "%s: %.17g", doc, s->value);
        }
    }
    /* A missing member is absent like null. */
    run_doc(st, &B, "{\"w\":1}");
    ck_assert(B.ok);
    ck_assert_uint_eq(B.nsamples, 1);
    ck_assert(absent(&B) == 1);
    ck_assert_int_eq(B.samples_scraped, 0);
    job_json.free(st);
}
END_TEST

START_TEST(test_huge_numbers)
{
    static const struct {
        const char *json;
        double v;
    } cases[] = {
        {"9007199254740993", 9007199254740992.0}, /* 2^53 + 1: nearest double */
        {"9007199254740995", 9007199254740996.0}, /* ties to even */
        {"9223372036854775807", 9223372036854775807.0},
        {"9223372036854775808", 9223372036854775808.0},
        {"18446744073709551615", 18446744073709551615.0},
        {"18446744073709551616", 18446744073709551616.0},
        {"-9223372036854775808", -9223372036854775808.0},
        {"-9223372036854775809", -9223372036854775809.0},
        {"123456789012345678901234567890", 123456789012345678901234567890.0},
        {"-123456789012345678901234567890", -123456789012345678901234567890.0},
        {"1e308", 1e308},
        {"1e400", INFINITY},
        {"-1e400", -INFINITY},
        {"1e-400", 0},
        {"\"123456789012345678901234567890\"", 123456789012345678901234567890.0},
    };
    struct job_json_metric_opts m = {.name = "v", .path = "[0]", .type = SAMPLE_GAUGE};
    void *st = new_state(&m, 1);
    char doc[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(doc, sizeof(doc), "[%s]", cases[i].json);
        size_t len = strlen(doc);
        /* Also with the number cut anywhere: the rewrite of big integers spans chunks. */
        for (size_t cut = 0; cut <= len; cut++) {
            run_cuts(st, &B, doc, len, &cut, 1, 200);
            ck_assert_msg(B.ok, "%s: %s", doc, B.error);
            ck_assert_msg(value(&B, "v", NULL, NULL) == cases[i].v, "%s cut %zu: %.17g", doc, cut,
                          value(&B, "v", NULL, NULL));
        }
    }
    /* A huge integer as the whole document (ends with the body) and at the end of a line. */
    run_doc(st, &B, "123456789012345678901234567890");
    ck_assert_msg(B.ok, "%s", B.error);
    run_doc(st, &B, "[123456789012345678901234567890\n]\n");
    ck_assert(value(&B, "v", NULL, NULL) == 123456789012345678901234567890.0);
    /* A 1000-digit integer. */
    char big[1100] = "[";
    memset(big + 1, '9', 1000);
    strcpy(big + 1001, "]");
    run_doc(st, &B, big);
    ck_assert_msg(B.ok, "%s", B.error);
    ck_assert(value(&B, "v", NULL, NULL) == INFINITY);
    job_json.free(st);
}
END_TEST

/* "[[[...1...]]]" nested @depth deep (arrays, or objects when @obj). */
static char *
nested(unsigned depth, bool obj)
{
    char *s = malloc(depth * 6 + 8), *p = s;

    for (unsigned i = 0; i < depth; i++) {
        p += sprintf(p, "%s", obj ? "{\"a\":" : "[");
    }
    *p++ = '1';
    for (unsigned i = 0; i < depth; i++) {
        *p++ = obj ? '}' : ']';
    }
    *p = '\0';
    return s;
}

START_TEST(test_depth_limit)
{
    struct job_json_metric_opts m = {.name = "v", .path = "a", .type = SAMPLE_GAUGE};
    void *st = new_state(&m, 1);
    char want[128];

    for (int obj = 0; obj < 2; obj++) {
        char *ok = nested(JOB_JSON_MAX_DEPTH, obj);
        char *deep = nested(JOB_JSON_MAX_DEPTH + 1, obj);
        run_doc(st, &B, ok);
        ck_assert_msg(B.ok, "%s", B.error);
        size_t at = (size_t)(strrchr(deep, obj ? '{' : '[') - deep);
        snprintf(want, sizeof(want),
                 "json parse error at offset %zu: nesting deeper than 64 levels", at);
        /* Same error whatever the chunks. */
        size_t len = strlen(deep);
        for (size_t cut = 0; cut <= len; cut += 7) {
            run_cuts(st, &B, deep, len, &cut, 1, 200);
            ck_assert(!B.ok);
            ck_assert_int_eq(B.reason, REASON_PARSE);
            ck_assert_str_eq(B.error, want);
            ck_assert_uint_eq(B.nsamples, 0);
        }
        free(ok);
        free(deep);
    }
    /* A megabyte of '[': rejected at the 65th, without reading the rest. */
    size_t n = 1 << 20;
    char *flood = malloc(n);
    memset(flood, '[', n);
    struct scrape_result res = {.rc = CURLE_WRITE_ERROR};
    batch_clear(&B);
    ck_assert_int_eq(job_json.prepare(st, NULL, &B), 0);
    ck_assert_int_ne(job_json.feed(st, flood, n, &B), 0);
    job_json.finish(st, &res, NULL, &B);
    ck_assert_str_eq(B.error, "json parse error at offset 64: nesting deeper than 64 levels");
    free(flood);
    /* Nesting inside strings does not count. */
    run_doc(st, &B,
            "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}");
    ck_assert_msg(B.ok, "%s", B.error);
    job_json.free(st);
}
END_TEST

START_TEST(test_parse_errors)
{
    static const struct {
        const char *body;
        const char *err;
    } cases[] = {
        {"", "json parse error at offset 0: empty body"},
        {" \n\t ", "json parse error at offset 4: empty body"},
        {"{\"a\":1", "json parse error at offset 6: unexpected end of data"},
        {"{\"a\":tru}", "json parse error at offset 8: boolean expected"},
        {"{\"a\":1,}", "json parse error at offset 7: unexpected character"},
        {"[1,]", "json parse error at offset 3: unexpected character"},
        {"{\"a\":01}", "json parse error at offset 6: invalid number"},
        {"{\"a\" 1}", "json parse error at offset 5: object property name separator ':' expected"},
        {"{\"a\":1} x", "json parse error at offset 8: unexpected data after the JSON document"},
        {"{}{}", "json parse error at offset 2: unexpected data after the JSON document"},
        {"\"s\" 1", "json parse error at offset 4: unexpected data after the JSON document"},
        {"1 2", "json parse error at offset 2: unexpected data after the JSON document"},
        {"true false", "json parse error at offset 5: unexpected data after the JSON document"},
        {"[1]]", "json parse error at offset 3: unexpected data after the JSON document"},
        {"1x", "json parse error at offset 1: invalid number"},
        {"[-5Infinity]", "json parse error at offset 3: invalid number"},
        {"[0true]", "json parse error at offset 2: invalid number"},
        {"[-Infinity,-Inf]", "json parse error at offset 15: unexpected character"},
        {"]", "json parse error at offset 0: unexpected character"},
        {"{\"a\":1 /* c */}", "json parse error at offset 7: object value separator ',' "
                              "expected"},
        {"[01]", "json parse error at offset 2: invalid number"},
        {"01", "json parse error at offset 1: invalid number"},
        {"[1e]", "json parse error at offset 3: invalid number"},
        {"[-]", "json parse error at offset 2: invalid number"},
        {"[--1]", "json parse error at offset 2: invalid number"},
        {"[-01]", "json parse error at offset 3: invalid number"},
        {"[1.]", "json parse error at offset 3: invalid number"},
        {"[1.e5]", "json parse error at offset 3: invalid number"},
        {"[1e+]", "json parse error at offset 4: invalid number"},
        {"[1.2.3]", "json parse error at offset 4: invalid number"},
        {"[1-2]", "json parse error at offset 2: invalid number"},
        {"[1e5e5]", "json parse error at offset 4: invalid number"},
        {"[1234567-8]", "json parse error at offset 8: invalid number"},
        {"-", "json parse error at offset 1: invalid number"},
        {"1e", "json parse error at offset 2: invalid number"},
        {"[.5]", "json parse error at offset 1: unexpected character"},
        {"[\"a\\u12x\"]", "json parse error at offset 7: invalid string sequence"},
        {"[nul]", "json parse error at offset 4: null expected"},
        {"[tRue]", "json parse error at offset 2: boolean expected"},
        {"[\"\\x\"]", "json parse error at offset 3: invalid string sequence"},
        {"{\"a\":1}\n{\"a\":2}\n",
         "json parse error at offset 8: unexpected data after the JSON document"},
        {"[\"a\xff\"]", "json parse error at offset 3: invalid UTF-8"},
        {"[\"a\xc3(\"]", "json parse error at offset 4: invalid UTF-8"},
        {"[\"\xed\xa0\x80\"]", "json parse error at offset 3: invalid UTF-8"},
        {"[\"\xc0\xaf\"]", "json parse error at offset 2: invalid UTF-8"},
        {"[\"a\xc3", "json parse error at offset 4: invalid UTF-8 (truncated sequence)"},
        {"[\"abc", "json parse error at offset 5: unexpected end of data"},
        {"<html>", "json parse error at offset 0: unexpected character"},
        {"[12345678901234567890123 x]", "json parse error at offset 25: array value separator "
                                        "',' expected"},
    };
    struct job_json_metric_opts m = {.name = "v", .path = "a", .type = SAMPLE_GAUGE};
    void *st = new_state(&m, 1);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].body);
        /* Identical at every chunk split, and byte by byte. */
        for (size_t cut = 0; cut <= len; cut++) {
            run_cuts(st, &B, cases[i].body, len, &cut, 1, 200);
            ck_assert_msg(!B.ok, "%s", cases[i].body);
            ck_assert_int_eq(B.reason, REASON_PARSE);
            ck_assert_msg(strcmp(B.error, cases[i].err) == 0, "body %s cut %zu: %s", cases[i].body,
                          cut, B.error);
            ck_assert_uint_eq(B.nsamples, 0);
            ck_assert_int_eq(B.samples_scraped, 0);
        }
        size_t *cuts = malloc((len + 1) * sizeof(*cuts));
        for (size_t k = 0; k < len; k++) {
            cuts[k] = k + 1;
        }
        run_cuts(st, &B, cases[i].body, len, cuts, len, 200);
        ck_assert_str_eq(B.error, cases[i].err);
        free(cuts);
    }
    /* A NUL byte (json-c would take it for the end of the input), in a string or outside. */
    static const char nul1[] = "[\"a\0\"]", nul2[] = "{\"a\":1}\0";
    for (size_t cut = 0; cut <= sizeof(nul1) - 1; cut++) {
        run_cuts(st, &B, nul1, sizeof(nul1) - 1, &cut, 1, 200);
        ck_assert_str_eq(B.error, "json parse error at offset 3: unexpected NUL byte");
    }
    run_cuts(st, &B, nul2, sizeof(nul2) - 1, NULL, 0, 200);
    ck_assert_str_eq(B.error, "json parse error at offset 7: unexpected NUL byte");
    job_json.free(st);
}
END_TEST

START_TEST(test_required)
{
    struct job_json_metric_opts m[] = {
        {.name = "first", .path = "a", .type = SAMPLE_GAUGE},
        {.name = "depth",
         .path = "queues.*.depth",
         .type = SAMPLE_GAUGE,
         .label = "queue",
         .required = true},
        {.name = "status", .path = "status", .type = SAMPLE_GAUGE, .required = true},
    };
    void *st = new_state(m, 3);

    /* All there: ok. */
    run_doc(st, &B, "{\"a\":1,\"queues\":{\"q\":{\"depth\":2},\"r\":{}},\"status\":\"3\"}");
    ck_assert_msg(B.ok, "%s", B.error);
    ck_assert(absent(&B) == 1); /* queue r has no depth: required is met by q */

    static const struct {
        const char *body;
        const char *err;
    } cases[] = {
        {"{\"a\":1,\"queues\":{},\"status\":1}", "path queues.*.depth matched nothing"},
        {"{\"a\":1,\"status\":1}", "path queues.*.depth matched nothing"},
        {"{\"a\":1,\"queues\":{\"q\":{\"depth\":null}},\"status\":1}",
         "path queues.*.depth matched nothing"},
        {"{\"a\":1,\"queues\":{\"q\":{\"depth\":{}}},\"status\":1}",
         "path queues.*.depth matched no number (an object)"},
        {"{\"a\":1,\"queues\":{\"q\":{\"depth\":1}},\"status\":\"green\"}",
         "path status matched no number (string \"green\")"},
        {"{\"a\":1,\"queues\":{\"q\":{\"depth\":1}},\"status\":[]}",
         "path status matched no number (an array)"},
        {"{\"a\":1,\"queues\":{\"q\":{\"depth\":1}},\"status\":"
         "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9\"}",
         "path status matched no number (string \""
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\")"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_doc(st, &B, cases[i].body);
        ck_assert_msg(!B.ok, "%s", cases[i].body);
        ck_assert_int_eq(B.reason, REASON_PARSE);
        ck_assert_str_eq(B.error, cases[i].err);
        /* No partial samples: "first" was found but is not forwarded. */
        ck_assert_uint_eq(B.nsamples, 0);
        ck_assert_int_eq(B.samples_scraped, 0);
    }
    /* The state is reusable after a failure. */
    run_doc(st, &B, "{\"queues\":{\"q\":{\"depth\":2}},\"status\":3}");
    ck_assert_msg(B.ok, "%s", B.error);
    ck_assert(value(&B, "depth", "queue", "q") == 2);
    job_json.free(st);
}
END_TEST

/* Log lines at warn level and above, as the sink received them. */
static char logged[4096];

static void
log_capture(enum log_level lvl, const char *line, void *arg)
{
    size_t n = strlen(logged);

    (void)arg;
    if (lvl <= LOG_LVL_WARN) {
        snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
    }
}

/* Which paths were absent: named in the batch's warning and logged, rate-limited. */
START_TEST(test_absent_paths_named)
{
    struct job_json_metric_opts m[] = {
        {.name = "a", .path = "a", .type = SAMPLE_GAUGE},
        {.name = "bc", .path = "b.c", .type = SAMPLE_GAUGE},
        {.name = "x", .path = "list[*].x", .type = SAMPLE_GAUGE, .label = "i"},
    };
    void *st = new_state(m, 3);

    log_set_sink(log_capture, NULL);
    logged[0] = '\0';
    run_doc(st, &B, "{\"a\":1,\"list\":[{\"x\":1},{},{\"y\":2}]}");
    ck_assert_msg(B.ok, "%s", B.error);
    ck_assert(absent(&B) == 3);
    ck_assert_str_eq(B.warning, "json: 3 absent values, paths: b.c, list[*].x");
    ck_assert_ptr_nonnull(strstr(logged, "json: 3 absent values, paths: b.c, list[*].x"));

    /* The same again: not logged again (rate-limited), still in the batch. */
    logged[0] = '\0';
    run_doc(st, &B, "{\"a\":1,\"list\":[{\"x\":1},{},{\"y\":2}]}");
    ck_assert_str_eq(B.warning, "json: 3 absent values, paths: b.c, list[*].x");
    ck_assert_str_eq(logged, "");

    /* Other paths absent: logged at once. */
    run_doc(st, &B, "{\"b\":{\"c\":2},\"list\":[{\"x\":1}]}");
    ck_assert_str_eq(B.warning, "json: 1 absent value, path: a");
    ck_assert_ptr_nonnull(strstr(logged, "json: 1 absent value, path: a"));

    /* Everything there: no warning. */
    run_doc(st, &B, "{\"a\":0,\"b\":{\"c\":2},\"list\":[]}");
    ck_assert_str_eq(B.warning, "");
    log_set_sink(NULL, NULL);
    job_json.free(st);
}
END_TEST

START_TEST(test_http_status_not_parsed)
{
    struct job_json_metric_opts m = {.name = "v", .path = "a", .type = SAMPLE_GAUGE};
    void *st = new_state(&m, 1);
    static const char body[] = "{\"a\":1}";

    /* finish sees the status (body_start skips parsing in a real transfer). */
    run_cuts(st, &B, body, strlen(body), NULL, 0, 503);
    ck_assert(!B.ok);
    ck_assert_int_eq(B.reason, REASON_HTTP_5XX);
    ck_assert_str_eq(B.error, "HTTP 503");
    ck_assert_uint_eq(B.nsamples, 0);
    run_cuts(st, &B, body, strlen(body), NULL, 0, 404);
    ck_assert_int_eq(B.reason, REASON_HTTP_4XX);
    /* A failed transport: finish frees the run and adds nothing. */
    batch_clear(&B);
    ck_assert_int_eq(job_json.prepare(st, NULL, &B), 0);
    ck_assert_int_eq(job_json.feed(st, "{\"a\":", 5, &B), 0);
    batch_fail(&B, REASON_TIMEOUT, "timeout");
    struct scrape_result res = {.rc = CURLE_OPERATION_TIMEDOUT};
    job_json.finish(st, &res, NULL, &B);
    ck_assert_uint_eq(B.nsamples, 0);
    ck_assert_str_eq(B.error, "timeout");
    /* Freed in the middle of a run (the engine cancels and frees the target). */
    ck_assert_int_eq(job_json.prepare(st, NULL, &B), 0);
    ck_assert_int_eq(job_json.feed(st, "{\"a\":[1,2", 9, &B), 0);
    job_json.free(st);
    job_json.free(NULL);
}
END_TEST

/* The metrics the fixtures are read with (unit and integration tests). */
static const struct label billing[] = {{"service", "billing"}};
static const struct job_json_metric_opts app_metrics[] = {
    {.name = "app_uptime_seconds", .path = "uptime_seconds", .type = SAMPLE_GAUGE},
    {.name = "app_healthy", .path = "healthy", .type = SAMPLE_GAUGE, .required = true},
    {.name = "app_maintenance", .path = "maintenance", .type = SAMPLE_GAUGE},
    {.name = "app_version", .path = "version", .type = SAMPLE_GAUGE},
    {.name = "http_requests_total",
     .path = "http.requests_total",
     .type = SAMPLE_COUNTER,
     .labels = billing,
     .nlabels = 1},
    {.name = "http_errors_total", .path = "http.errors_total", .type = SAMPLE_COUNTER},
    {.name = "http_latency_ms",
     .path = "http.latency_ms.*",
     .type = SAMPLE_GAUGE,
     .label = "quantile"},
    {.name = "queue_depth",
     .path = "queues.*.depth",
     .type = SAMPLE_GAUGE,
     .label = "queue",
     .required = true},
    {.name = "queue_publish_rate",
     .path = "queues.*.rate.publish",
     .type = SAMPLE_GAUGE,
     .label = "queue"},
    {.name = "worker_jobs_total",
     .path = "workers[*].jobs_processed",
     .type = SAMPLE_COUNTER,
     .label = "worker"},
    {.name = "worker_busy", .path = "workers.*.busy", .type = SAMPLE_GAUGE, .label = "worker"},
    {.name = "db_pool_connections",
     .path = "db.pools.*.*",
     .type = SAMPLE_GAUGE,
     .label = "pool,state"},
    {.name = "cache_hit_ratio", .path = "cache.hit_ratio", .type = SAMPLE_GAUGE},
    {.name = "cache_evictions_total", .path = "cache.evictions_total", .type = SAMPLE_COUNTER},
    {.name = "cache_bytes", .path = "cache.bytes", .type = SAMPLE_GAUGE},
    {.name = "cache_min_free", .path = "cache.min_free", .type = SAMPLE_GAUGE},
    {.name = "gc_pause_ns_total", .path = "gc.pause_ns_total", .type = SAMPLE_COUNTER},
    {.name = "gc_last_pause_seconds", .path = "gc.last_pause_s", .type = SAMPLE_GAUGE},
    {.name = "spaced", .path = "[\"name with spaces\"].value", .type = SAMPLE_GAUGE},
    {.name = "unicode_size",
     .path = "unicode[\"gr\xc3\xb6\xc3\x9f"
             "e\"]",
     .type = SAMPLE_GAUGE},
    {.name = "unicode_temp",
     .path = "unicode[\"temp_\xc2\xb0"
             "C\"]",
     .type = SAMPLE_GAUGE},
    {.name = "unicode_any", .path = "unicode.*.*", .type = SAMPLE_GAUGE, .label = "k1,k2"},
    {.name = "missing_thing", .path = "no.such.path", .type = SAMPLE_GAUGE},
};
#define APP_NMETRICS (sizeof(app_metrics) / sizeof(app_metrics[0]))

static const struct job_json_metric_opts es_metrics[] = {
    {.name = "es_cluster_nodes", .path = "number_of_nodes", .type = SAMPLE_GAUGE, .required = true},
    {.name = "es_cluster_data_nodes", .path = "number_of_data_nodes", .type = SAMPLE_GAUGE},
    {.name = "es_cluster_active_shards", .path = "active_shards", .type = SAMPLE_GAUGE},
    {.name = "es_cluster_unassigned_shards", .path = "unassigned_shards", .type = SAMPLE_GAUGE},
    {.name = "es_cluster_active_shards_percent",
     .path = "active_shards_percent_as_number",
     .type = SAMPLE_GAUGE},
    {.name = "es_cluster_timed_out", .path = "timed_out", .type = SAMPLE_GAUGE},
    {.name = "es_cluster_status", .path = "status", .type = SAMPLE_GAUGE},
    {.name = "es_index_active_shards",
     .path = "indices.*.active_shards",
     .type = SAMPLE_GAUGE,
     .label = "index"},
    {.name = "es_index_unassigned_shards",
     .path = "indices.*.unassigned_shards",
     .type = SAMPLE_GAUGE,
     .label = "index"},
    {.name = "es_index_primaries",
     .path = "indices[\"logs-2024.05.01\"].active_primary_shards",
     .type = SAMPLE_GAUGE},
};
#define ES_NMETRICS (sizeof(es_metrics) / sizeof(es_metrics[0]))

/* What the app fixture yields; the unit and the integration tests both check it. */
#define APP_SAMPLES 32
#define APP_ABSENT 9

START_TEST(test_app_fixture_values)
{
    size_t len;
    char *doc = read_fixture("json_app_stats.json", &len);
    void *st = new_state(app_metrics, APP_NMETRICS);

    run_cuts(st, &B, doc, len, NULL, 0, 200);
    ck_assert_msg(B.ok, "%s", B.error);
    char *text = render(&B);
    ck_assert_msg(B.samples_scraped == APP_SAMPLES, "%s", text);
    ck_assert_msg(absent(&B) == APP_ABSENT, "%s", text);
    free(text);
    ck_assert(value(&B, "app_uptime_seconds", NULL, NULL) == 1209600.25);
    ck_assert(value(&B, "app_healthy", NULL, NULL) == 1);
    ck_assert(value(&B, "app_maintenance", NULL, NULL) == 0);
    ck_assert_ptr_null(find(&B, "app_version", NULL, NULL));
    ck_assert(value(&B, "http_requests_total", "service", "billing") == 48213377);
    ck_assert_uint_eq(find(&B, "http_requests_total", NULL, NULL)->type, SAMPLE_COUNTER);
    ck_assert(value(&B, "http_errors_total", NULL, NULL) == 1274);
    ck_assert(value(&B, "http_latency_ms", "quantile", "p99") == 250.75);
    ck_assert_uint_eq(count(&B, "http_latency_ms"), 3);
    ck_assert(value(&B, "queue_depth", "queue", "emails") == 12);
    ck_assert(value(&B, "queue_depth", "queue", "invoices.high") == 0);
    ck_assert(value(&B, "queue_depth", "queue", "reports") == 7);
    ck_assert_ptr_null(find(&B, "queue_depth", "queue", "dead-letter"));
    ck_assert_uint_eq(count(&B, "queue_publish_rate"), 2);
    ck_assert(value(&B, "worker_jobs_total", "worker", "0") == 1048576);
    ck_assert(value(&B, "worker_jobs_total", "worker", "1") == 998001);
    ck_assert_ptr_null(find(&B, "worker_jobs_total", "worker", "2"));
    ck_assert(value(&B, "worker_busy", "worker", "2") == 1);
    ck_assert_uint_eq(count(&B, "db_pool_connections"), 4);
    ck_assert(value(&B, "db_pool_connections", "pool", "replica") == 10);
    ck_assert(value(&B, "cache_hit_ratio", NULL, NULL) == 0.9375);
    ck_assert(value(&B, "cache_evictions_total", NULL, NULL) == 18446744073709551615.0);
    ck_assert(value(&B, "cache_bytes", NULL, NULL) == 12345678901234567890123.0);
    ck_assert(value(&B, "cache_min_free", NULL, NULL) == -9223372036854775809.0);
    ck_assert(value(&B, "gc_pause_ns_total", NULL, NULL) == 9007199254740992.0);
    ck_assert(value(&B, "gc_last_pause_seconds", NULL, NULL) == 1.5e-3);
    ck_assert(value(&B, "spaced", NULL, NULL) == 5);
    ck_assert(value(&B, "unicode_size", NULL, NULL) == 42);
    ck_assert(value(&B, "unicode_temp", NULL, NULL) == 21.5);
    ck_assert(value(&B, "unicode_any", "k2", "\xe5\x80\xa4") == 3);
    ck_assert(value(&B, "unicode_any", "k1", "\xe5\x90\x8d\xe5\x89\x8d") == 3);
    job_json.free(st);
    free(doc);
}
END_TEST

/* Every split of every fixture gives what the whole body gives (and so does byte by byte). */
START_TEST(test_chunk_splits)
{
    static const char *const fixtures[] = {"json_app_stats.json", "json_es_cluster_health.json"};

    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *doc = read_fixture(fixtures[f], &len);
        void *st =
            f == 0 ? new_state(app_metrics, APP_NMETRICS) : new_state(es_metrics, ES_NMETRICS);
        run_cuts(st, &B, doc, len, NULL, 0, 200);
        ck_assert_msg(B.ok, "%s: %s", fixtures[f], B.error);
        char *want = render(&B);
        for (size_t cut = 0; cut <= len; cut++) {
            run_cuts(st, &B, doc, len, &cut, 1, 200);
            char *got = render(&B);
            ck_assert_msg(strcmp(got, want) == 0, "%s cut at %zu:\n%s\nwant:\n%s", fixtures[f], cut,
                          got, want);
            free(got);
        }
        /* Three pieces, cut at every pair of offsets 37 apart, and byte by byte. */
        for (size_t a = 0; a + 37 <= len; a += 13) {
            size_t cuts[2] = {a, a + 37};
            run_cuts(st, &B, doc, len, cuts, 2, 200);
            char *got = render(&B);
            ck_assert_str_eq(got, want);
            free(got);
        }
        size_t *cuts = malloc(len * sizeof(*cuts));
        for (size_t k = 0; k < len; k++) {
            cuts[k] = k + 1;
        }
        run_cuts(st, &B, doc, len, cuts, len, 200);
        char *got = render(&B);
        ck_assert_str_eq(got, want);
        free(got);
        free(cuts);
        free(want);
        job_json.free(st);
        free(doc);
    }
}
END_TEST

/* \u escapes (surrogate pairs included) in keys and values decode the same at every cut. */
START_TEST(test_escapes_split)
{
    static const char doc[] =
        "{\"\\ud83d\\ude00\":1,\"a\\u00e9\\u20AC\":2,\"lone\\ud83d\":3,"
        "\"\\ud83d\\ud83d\\ude00\":4,\"\\ude00x\":5,\"\\ud83dq\":6,\"\\ud83d\\n\":7,"
        "\"v\\ud83d\\u0041\":\"8\",\"e\\\"\\\\\\/\\b\\f\\n\\r\\t\":9}";
    struct job_json_metric_opts m = {.name = "k", .path = "*", .type = SAMPLE_GAUGE, .label = "k"};
    void *st = new_state(&m, 1);
    size_t len = strlen(doc);

    run_cuts(st, &B, doc, len, NULL, 0, 200);
    ck_assert_msg(B.ok, "%s", B.error);
    ck_assert_uint_eq(count(&B, "k"), 9);
    ck_assert(value(&B, "k", "k", "\xf0\x9f\x98\x80") == 1);
    ck_assert(value(&B, "k", "k", "a\xc3\xa9\xe2\x82\xac") == 2);
    ck_assert(value(&B, "k", "k", "lone\xef\xbf\xbd") == 3);
    ck_assert(value(&B, "k", "k", "\xef\xbf\xbd\xf0\x9f\x98\x80") == 4);
    ck_assert(value(&B, "k", "k", "e\"\\/\b\f\n\r\t") == 9);
    char *want = render(&B);
    for (size_t cut = 0; cut <= len; cut++) {
        run_cuts(st, &B, doc, len, &cut, 1, 200);
        char *got = render(&B);
        ck_assert_msg(strcmp(got, want) == 0, "cut at %zu:\n%s\nwant:\n%s", cut, got, want);
        free(got);
    }
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t k = 0; k < len; k++) {
        cuts[k] = k + 1;
    }
    run_cuts(st, &B, doc, len, cuts, len, 200);
    char *got = render(&B);
    ck_assert_str_eq(got, want);
    free(got);
    free(cuts);
    free(want);
    job_json.free(st);
}
END_TEST

/* A small deterministic generator for the mutation test (the same sequence everywhere). */
static uint32_t
next_rand(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/*
 * Mutated documents (mostly invalid) give the same result, error offset and text included,
 * whole and cut in random places: json-c 0.16 alone does not (numbers cut before a sign or a
 * letter, UTF-8 cut in a character).
 */
START_TEST(test_mutations_split)
{
    static const char *const docs[] = {
        "[[1,2],{\"a\":[true,\"3\"]},\"x\",123456789012345678901234,"
        "{\"queues\":{\"q\":{\"depth\":-1.5e-3}}},-Infinity,NaN,null,false]",
        "{\"a\\ud83d\\ude00\":[1.5e-3,-0.0,\"x\\u00e9\",null,true,false,NaN,-Infinity,"
        "12345678901234567890123],\"k\":{\"\\ud83d\":\"\\n\", \"\xc3\xa9\": 0}}",
    };
    static const char alphabet[] = "{}[]\",:0123456789.eE-+ \ntruefalsenullNaNInfinity\\u'dD8"
                                   "\xc3\xa9\xff\xf0\x9f";
    struct job_json_metric_opts m[] = {
        {.name = "a", .path = "queues.*.depth", .type = SAMPLE_GAUGE, .label = "q"},
        {.name = "b", .path = "*", .type = SAMPLE_GAUGE, .label = "k"},
        {.name = "c", .path = "[*][*]", .type = SAMPLE_GAUGE, .label = "i,j"},
        {.name = "d", .path = "*[*]", .type = SAMPLE_GAUGE, .label = "k,i"},
    };
    void *st = new_state(m, 4);
    uint32_t seed = 42;
    char doc[512];

    for (size_t d = 0; d < 2; d++) {
        for (int it = 0; it < 3000; it++) {
            size_t len = strlen(docs[d]);
            memcpy(doc, docs[d], len);
            for (uint32_t k = 0, n = 1 + next_rand(&seed) % 3; k < n; k++) {
                size_t at = next_rand(&seed) % len;
                char c = alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
                switch (next_rand(&seed) % 3) {
                case 0:
                    doc[at] = c;
                    break;
                case 1:
                    memmove(doc + at, doc + at + 1, len - at - 1);
                    len--;
                    break;
                default:
                    memmove(doc + at + 1, doc + at, len - at);
                    doc[at] = c;
                    len++;
                    break;
                }
            }
            run_cuts(st, &B, doc, len, NULL, 0, 200);
            char *want = render(&B);
            size_t cuts[6], ncuts = 1 + next_rand(&seed) % 6;
            for (size_t k = 0; k < ncuts; k++) {
                cuts[k] = next_rand(&seed) % (len + 1);
                for (size_t x = k; x > 0 && cuts[x] < cuts[x - 1]; x--) {
                    size_t t = cuts[x];
                    cuts[x] = cuts[x - 1];
                    cuts[x - 1] = t;
                }
            }
            run_cuts(st, &B, doc, len, cuts, ncuts, 200);
            char *got = render(&B);
            ck_assert_msg(strcmp(got, want) == 0, "%.*s\ncut:\n%s\nwhole:\n%s", (int)len, doc, got,
                          want);
            free(got);
            free(want);
        }
    }
    job_json.free(st);
}
END_TEST

/* ---- integration: through the engine against mock targets ---- */

TESTUTIL_ONCE_FIXTURE

static const struct label target_labels[] = {{"env", "prod"}};

static void
add(const char *instance, const char *path, const struct job_json_metric_opts *m, size_t n,
    uint64_t body_limit)
{
    char url[4096], err[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    struct target_spec spec = {
        .job = "app",
        .url = url,
        .instance = instance,
        .labels = target_labels,
        .nlabels = 1,
        .timeout_ms = 5000,
        .body_limit = body_limit,
        .kind = &job_json,
        .kind_state = new_state(m, n),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
}

/* The batch line of @instance among @lines. */
static json_object *
batch_of(json_object *lines, const char *instance)
{
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        if (strcmp(testutil_str(b, "instance"), instance) == 0) {
            return b;
        }
    }
    ck_abort_msg("no batch for %s", instance);
    return NULL;
}

static json_object *
run_one(json_object **lines)
{
    engine_run_once(eng);
    *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(*lines), 1);
    return json_object_array_get_idx(*lines, 0);
}

static size_t
nsamples(json_object *b)
{
    return json_object_array_length(testutil_field(b, "samples"));
}

START_TEST(test_es_cluster_health)
{
    json_object *lines;

    add("es1:9200", "/file/json_es_cluster_health.json", es_metrics, ES_NMETRICS, 1 << 20);
    json_object *b = run_one(&lines);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert_str_eq(testutil_str(testutil_field(b, "labels"), "env"), "prod");
    ck_assert(testutil_sample_value(b, "es_cluster_nodes", NULL, NULL) == 3);
    ck_assert(testutil_sample_value(b, "es_cluster_active_shards_percent", NULL, NULL) ==
              96.42857142857143);
    ck_assert(testutil_sample_value(b, "es_cluster_timed_out", NULL, NULL) == 0);
    ck_assert_ptr_null(testutil_find_sample(b, "es_cluster_status", NULL, NULL));
    ck_assert_uint_eq(testutil_count_samples(b, "es_index_active_shards"), 4);
    ck_assert(testutil_sample_value(b, "es_index_active_shards", "index", "logs-2024.05.02") == 10);
    ck_assert(testutil_sample_value(b, "es_index_active_shards", "index", ".kibana_1") == 2);
    ck_assert(testutil_sample_value(b, "es_index_unassigned_shards", "index", "metrics-app") == 1);
    ck_assert(testutil_sample_value(b, "es_index_primaries", NULL, NULL) == 5);
    ck_assert(testutil_sample_value(b, JOB_JSON_ABSENT_METRIC, NULL, NULL) == 1);
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == 15);
    ck_assert(testutil_sample_value(b, "up", NULL, NULL) == 1);
    /* 15 samples, json_samples_absent, and the engine's 4 synthetic series. */
    ck_assert_uint_eq(nsamples(b), 15 + 1 + 4);
    json_object_put(lines);
    /* The targets API names the absent path. */
    struct strbuf sb;
    strbuf_init(&sb);
    api_targets_render(&sb, eng);
    ck_assert_msg(strstr(sb.data, "\"lastWarning\":\"json: 1 absent value, path: ") != NULL, "%s",
                  sb.data);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_nested_stats)
{
    json_object *lines;

    add("app1:8080", "/file/json_app_stats.json", app_metrics, APP_NMETRICS, 1 << 20);
    json_object *b = run_one(&lines);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert_uint_eq(nsamples(b), APP_SAMPLES + 1 + 4);
    ck_assert(testutil_sample_value(b, JOB_JSON_ABSENT_METRIC, NULL, NULL) == APP_ABSENT);
    ck_assert(testutil_sample_value(b, "queue_depth", "queue", "invoices.high") == 0);
    ck_assert(testutil_sample_value(b, "cache_evictions_total", NULL, NULL) ==
              18446744073709551615.0);
    ck_assert(testutil_sample_value(b, "cache_bytes", NULL, NULL) == 12345678901234567890123.0);
    json_object *s = testutil_find_sample(b, "http_requests_total", NULL, NULL);
    ck_assert_str_eq(testutil_str(s, "type"), "counter");
    ck_assert_str_eq(testutil_str(testutil_field(s, "labels"), "service"), "billing");
    s = testutil_find_sample(b, "db_pool_connections", "pool", "primary");
    ck_assert_str_eq(testutil_str(testutil_field(s, "labels"), "state"), "open");
    ck_assert(testutil_sample_value(b, "unicode_any", "k1", "\xe5\x90\x8d\xe5\x89\x8d") == 3);
    json_object_put(lines);
}
END_TEST

START_TEST(test_failures_and_the_loop_carries_on)
{
    static const struct job_json_metric_opts m[] = {
        {.name = "depth",
         .path = "queues.*.depth",
         .type = SAMPLE_GAUGE,
         .label = "queue",
         .required = true},
    };
    char deep[400];
    json_object *lines;
    size_t n = 0;

    for (int i = 0; i < 100; i++) {
        n += (size_t)sprintf(deep + n, "%%5B");
    }
    char deep_path[420];
    snprintf(deep_path, sizeof(deep_path), "/text/%s", deep);
    add("good", "/text/%7B%22queues%22%3A%7B%22q1%22%3A%7B%22depth%22%3A4%7D%7D%7D", m, 1, 1 << 20);
    add("http", "/status/503", m, 1, 1 << 20);
    add("invalid", "/text/%7B%22queues%22%3A%7B%22q1%22%3A%7B%22depth%22%3A4%7D%7D", m, 1, 1 << 20);
    add("missing", "/text/%7B%22queue%22%3A%7B%7D%7D", m, 1, 1 << 20);
    add("deep", deep_path, m, 1, 1 << 20);
    add("large", "/file/json_app_stats.json", m, 1, 512);
    add("empty", "/text/", m, 1, 1 << 20);
    add("html", "/text/%3Chtml%3Eoops%3C%2Fhtml%3E", m, 1, 1 << 20);

    ck_assert_int_eq(engine_run_once(eng), 7);
    lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 8);

    json_object *b = batch_of(lines, "good");
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert(testutil_sample_value(b, "depth", "queue", "q1") == 4);

    static const struct {
        const char *instance, *reason, *error;
    } bad[] = {
        {"http", "http_5xx", "HTTP 503"},
        {"invalid", "parse", "json parse error at offset 28: unexpected end of data"},
        {"missing", "parse", "path queues.*.depth matched nothing"},
        {"deep", "parse", "json parse error at offset 64: nesting deeper than 64 levels"},
        {"large", "too_large", "body larger than 512 bytes"},
        {"empty", "parse", "json parse error at offset 0: empty body"},
        {"html", "parse", "json parse error at offset 0: unexpected character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = batch_of(lines, bad[i].instance);
        ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
        ck_assert_str_eq(testutil_str(b, "reason"), bad[i].reason);
        ck_assert_str_eq(testutil_str(b, "error"), bad[i].error);
        /* Only the engine's synthetic series: no partial samples, no json_samples_absent. */
        ck_assert_uint_eq(nsamples(b), 4);
        ck_assert(testutil_sample_value(b, "up", NULL, NULL) == 0);
        ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == 0);
    }
    json_object_put(lines);

    /* The same targets run again: state is reset between runs. */
    ck_assert_int_eq(engine_run_once(eng), 7);
    lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 8);
    b = batch_of(lines, "good");
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    json_object_put(lines);
}
END_TEST

static Suite *
job_json_suite(void)
{
    Suite *s = suite_create("job_json");
    TCase *tc = tcase_create("paths");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_path_valid);
    tcase_add_test(tc, test_path_invalid);
    tcase_add_test(tc, test_metric_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("extract");
    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, test_wildcard_labels);
    tcase_add_test(tc, test_absent_paths_named);
    tcase_add_test(tc, test_coercions);
    tcase_add_test(tc, test_huge_numbers);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_http_status_not_parsed);
    tcase_add_test(tc, test_app_fixture_values);
    tcase_add_test(tc, test_chunk_splits);
    tcase_add_test(tc, test_escapes_split);
    tcase_add_test(tc, test_mutations_split);
    /* Byte-by-byte runs of the fixtures take a while under valgrind. */
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);

    tc = tcase_create("scrape");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_es_cluster_health);
    tcase_add_test(tc, test_nested_stats);
    tcase_add_test(tc, test_failures_and_the_loop_carries_on);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(job_json_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
