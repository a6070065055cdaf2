/*
 * Unit tests for prom_parse.c, the streaming Prometheus text / OpenMetrics parser: tables of valid
 * inputs with the samples they must give and of invalid inputs with the exact error they must
 * give (each also fed at every split offset and byte by byte), the real exporter fixtures (sample
 * counts, and identical results for every single split offset and byte-by-byte feeding), number
 * conversion against strtod(), the 1 MiB line limit and its memory bound, and the API contract
 * (sticky errors, reset, content types).
 *
 * Fixtures are read from $FIXTURES (default "tests/fixtures").
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_parse.h"
#include "prom_parse-internal.h" /* om_mkey_drop: LabelSet hashes that collide */

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define TEXT PROM_FORMAT_TEXT
#define OM PROM_FORMAT_OPENMETRICS

#define MAX_EXP_SAMPLES 8
#define MAX_EXP_LABELS 4

static const char *const fixture_names[] = {"node_exporter.prom", "prometheus_self.prom",
                                            "victoriametrics_self.prom"};
#define NFIXTURES (sizeof(fixture_names) / sizeof(fixture_names[0]))

struct exp_sample {
    const char *name;
    const char *labels[2 * MAX_EXP_LABELS + 1]; /* name, value, ..., NULL */
    double value;
    enum sample_type type;
    bool has_ts;
    int64_t ts;
};

/* Initializers for struct exp_sample (clang-format mangles brace-only macros). */
/* clang-format off */
#define NOL {NULL}
#define L(...) {__VA_ARGS__, NULL}
#define S(name, labels, value, type) {name, labels, value, type, false, 0}
#define STS(name, labels, value, type, ts) {name, labels, value, type, true, ts}
/* clang-format on */

struct valid_case {
    const char *desc;
    enum prom_format fmt;
    const char *in;
    size_t n;
    struct exp_sample s[MAX_EXP_SAMPLES];
};

static const struct valid_case valid_cases[] = {
    /* ---- text format ---- */
    {"minimal", TEXT, "a 1\n", 1, {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"no final newline",
     TEXT,
     "a 1\nb 2",
     2,
     {S("a", NOL, 1, SAMPLE_UNTYPED), S("b", NOL, 2, SAMPLE_UNTYPED)}},
    {"empty body", TEXT, "", 0, {S(NULL, NOL, 0, 0)}},
    {"blank lines, comments, help",
     TEXT,
     "\n   \n\t\n# HELP a Some help \\\\ with \\n escapes\n# just a comment\n#nospace\n"
     "#\n# HELP\n# TYPE\n# HELPER text\n#\tHELP\ta\ttabbed help\na 1\n",
     1,
     {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"labels, blanks and trailing comma",
     TEXT,
     "a{x=\"1\", y = \"2\" ,\t} 3\n",
     1,
     {S("a", L("x", "1", "y", "2"), 3, SAMPLE_UNTYPED)}},
    {"empty label set, blank before brace, none after",
     TEXT,
     "a {} 1\nb { x=\"y\" }2\n",
     2,
     {S("a", NOL, 1, SAMPLE_UNTYPED), S("b", L("x", "y"), 2, SAMPLE_UNTYPED)}},
    {"leading and trailing blanks", TEXT, "  \ta 1 \t\n", 1, {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"label value escapes",
     TEXT,
     "a{x=\"q\\\"b\\\\c\\nd\"} 1\n",
     1,
     {S("a", L("x", "q\"b\\c\nd"), 1, SAMPLE_UNTYPED)}},
    {"OpenMetrics: unknown escapes kept as two characters, in help text too",
     OM,
     "# HELP a bad \\t escape\na{x=\"\\t\\q\\\\\"} 1\n# EOF\n",
     1,
     {S("a", L("x", "\\t\\q\\"), 1, SAMPLE_UNTYPED)}},
    {"unknown escapes kept as two characters",
     TEXT,
     "a{x=\"\\t\\q\\\\\"} 1\n",
     1,
     {S("a", L("x", "\\t\\q\\"), 1, SAMPLE_UNTYPED)}},
    {"special characters and UTF-8 in values",
     TEXT,
     "a{x=\"{}=,# \",y=\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\",z=\"\"} 1\n",
     1,
     {S("a", L("x", "{}=,# ", "y", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", "z", ""), 1,
        SAMPLE_UNTYPED)}},
    {"metric name characters",
     TEXT,
     "_a:b_c9 1\n:x 2\n",
     2,
     {S("_a:b_c9", NOL, 1, SAMPLE_UNTYPED), S(":x", NOL, 2, SAMPLE_UNTYPED)}},
    {"special values",
     TEXT,
     "a NaN\nb nan\nc +Inf\nd -Inf\ne inf\nf Infinity\ng -infinity\nh INF\n",
     8,
     {S("a", NOL, NAN, SAMPLE_UNTYPED), S("b", NOL, NAN, SAMPLE_UNTYPED),
      S("c", NOL, INFINITY, SAMPLE_UNTYPED), S("d", NOL, -INFINITY, SAMPLE_UNTYPED),
      S("e", NOL, INFINITY, SAMPLE_UNTYPED), S("f", NOL, INFINITY, SAMPLE_UNTYPED),
      S("g", NOL, -INFINITY, SAMPLE_UNTYPED), S("h", NOL, INFINITY, SAMPLE_UNTYPED)}},
    {"decimal values",
     TEXT,
     "a 1e3\nb -1.5E-3\nc .5\nd 5.\ne 1.78068e+06\nf +7\ng 007\nh 0.1\n",
     8,
     {S("a", NOL, 1000, SAMPLE_UNTYPED), S("b", NOL, -0.0015, SAMPLE_UNTYPED),
      S("c", NOL, 0.5, SAMPLE_UNTYPED), S("d", NOL, 5, SAMPLE_UNTYPED),
      S("e", NOL, 1780680, SAMPLE_UNTYPED), S("f", NOL, 7, SAMPLE_UNTYPED),
      S("g", NOL, 7, SAMPLE_UNTYPED), S("h", NOL, 0.1, SAMPLE_UNTYPED)}},
    {"values needing correct rounding",
     TEXT,
     "a 9007199254740993\nb 123456789012345678901234567890\nc 1e-400\nd 1.7976931348623157e308\n"
     "e 2.2250738585072011e-308\nf 0e999999\ng -0\n",
     7,
     {S("a", NOL, 9007199254740992.0, SAMPLE_UNTYPED),
      S("b", NOL, 1.2345678901234568e+29, SAMPLE_UNTYPED), S("c", NOL, 0, SAMPLE_UNTYPED),
      S("d", NOL, 1.7976931348623157e308, SAMPLE_UNTYPED),
      S("e", NOL, 2.2250738585072011e-308, SAMPLE_UNTYPED), S("f", NOL, 0, SAMPLE_UNTYPED),
      S("g", NOL, -0.0, SAMPLE_UNTYPED)}},
    {"timestamps",
     TEXT,
     "a 1 1700000000000\nb{x=\"y\"} 2 -5\nc\t3\t0\t\n",
     3,
     {STS("a", NOL, 1, SAMPLE_UNTYPED, 1700000000000), STS("b", L("x", "y"), 2, SAMPLE_UNTYPED, -5),
      STS("c", NOL, 3, SAMPLE_UNTYPED, 0)}},
    {"timestamp limits",
     TEXT,
     "a 1 9223372036854775807\nb 1 -9223372036854775808\n",
     2,
     {STS("a", NOL, 1, SAMPLE_UNTYPED, INT64_MAX), STS("b", NOL, 1, SAMPLE_UNTYPED, INT64_MIN)}},
    {"types follow the last TYPE line",
     TEXT,
     "# TYPE a counter\na 1\na_total 2\nb 3\n# TYPE g gauge\ng{x=\"1\"} 4\ng_total 5\n",
     5,
     {S("a", NOL, 1, SAMPLE_COUNTER), S("a_total", NOL, 2, SAMPLE_COUNTER),
      S("b", NOL, 3, SAMPLE_UNTYPED), S("g", L("x", "1"), 4, SAMPLE_GAUGE),
      S("g_total", NOL, 5, SAMPLE_UNTYPED)}},
    {"counter family named with _total",
     TEXT,
     "# TYPE c_total counter\nc_total 1\n",
     1,
     {S("c_total", NOL, 1, SAMPLE_COUNTER)}},
    {"histogram suffixes",
     TEXT,
     "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
     "h_sum 3.5\nh_count 2\nh_created 5\n",
     5,
     {S("h_bucket", L("le", "0.5"), 1, SAMPLE_HISTOGRAM),
      S("h_bucket", L("le", "+Inf"), 2, SAMPLE_HISTOGRAM), S("h_sum", NOL, 3.5, SAMPLE_HISTOGRAM),
      S("h_count", NOL, 2, SAMPLE_HISTOGRAM), S("h_created", NOL, 5, SAMPLE_UNTYPED)}},
    {"summary suffixes",
     TEXT,
     "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\ns_bucket 4\n",
     4,
     {S("s", L("quantile", "0.5"), 1, SAMPLE_SUMMARY), S("s_sum", NOL, 2, SAMPLE_SUMMARY),
      S("s_count", NOL, 3, SAMPLE_SUMMARY), S("s_bucket", NOL, 4, SAMPLE_UNTYPED)}},
    {"TYPE blanks, untyped, HELP does not change the family",
     TEXT,
     "#  TYPE \t u \t untyped \t\n# HELP v x\nu 1\n# TYPE g gauge\n# HELP other help\ng 2\n",
     2,
     {S("u", NOL, 1, SAMPLE_UNTYPED), S("g", NOL, 2, SAMPLE_GAUGE)}},
    {"TYPE after samples is lenient",
     TEXT,
     "a 1\n# TYPE a gauge\na 2\n# TYPE a counter\na 3\n",
     3,
     {S("a", NOL, 1, SAMPLE_UNTYPED), S("a", NOL, 2, SAMPLE_GAUGE),
      S("a", NOL, 3, SAMPLE_COUNTER)}},
    {"# EOF is a comment in text",
     TEXT,
     "a 1\n# EOF\nb 2\n",
     2,
     {S("a", NOL, 1, SAMPLE_UNTYPED), S("b", NOL, 2, SAMPLE_UNTYPED)}},
    {"shared strings stay correct",
     TEXT,
     "m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",b=\"2\"} 2\nm{a=\"1\",b=\"3\"} 3\nm{a=\"1\"} 4\nn 5\n"
     "m{a=\"1\",b=\"\\\\\"} 6\nm{a=\"1\",b=\"\\\\\"} 7\n",
     7,
     {S("m", L("a", "1", "b", "2"), 1, SAMPLE_UNTYPED), S("m", L("a", "1", "b", "2"), 2, 0),
      S("m", L("a", "1", "b", "3"), 3, 0), S("m", L("a", "1"), 4, 0), S("n", NOL, 5, 0),
      S("m", L("a", "1", "b", "\\"), 6, 0), S("m", L("a", "1", "b", "\\"), 7, 0)}},

    /* ---- OpenMetrics ---- */
    {"OM minimal", OM, "a 1\n# EOF\n", 1, {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"OM no final newline after # EOF", OM, "a 1\n# EOF", 1, {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"OM empty exposition", OM, "# EOF\n", 0, {S(NULL, NOL, 0, 0)}},
    {"OM counter with metadata and _created",
     OM,
     "# TYPE a_seconds counter\n# UNIT a_seconds seconds\n"
     "# HELP a_seconds Help \\\"q\\\" \\\\ \\n.\n"
     "a_seconds_total{x=\"1\",} 1\na_seconds_created{x=\"1\"} 1.7e9\n# EOF\n",
     2,
     {S("a_seconds_total", L("x", "1"), 1, SAMPLE_COUNTER),
      S("a_seconds_created", L("x", "1"), 1.7e9, SAMPLE_COUNTER)}},
    {"OM empty HELP and UNIT",
     OM,
     "# HELP a \n# UNIT a \na 1\n# EOF\n",
     1,
     {S("a", NOL, 1, SAMPLE_UNTYPED)}},
    {"OM timestamps are seconds",
     OM,
     "a 1 1.5\nb 1 1520879607.789\nc 1 1.001\nd 1 -1.5\ne 1 1e3\nf 1 0.0005\ng 1 -0.0009\n"
     "h 1 9223372036854775.807\n# EOF\n",
     8,
     {STS("a", NOL, 1, SAMPLE_UNTYPED, 1500), STS("b", NOL, 1, SAMPLE_UNTYPED, 1520879607789),
      STS("c", NOL, 1, SAMPLE_UNTYPED, 1001), STS("d", NOL, 1, SAMPLE_UNTYPED, -1500),
      STS("e", NOL, 1, SAMPLE_UNTYPED, 1000000), STS("f", NOL, 1, SAMPLE_UNTYPED, 0),
      STS("g", NOL, 1, SAMPLE_UNTYPED, 0), STS("h", NOL, 1, SAMPLE_UNTYPED, INT64_MAX)}},
    {"OM histogram with exemplars",
     OM,
     "# TYPE h histogram\nh_bucket{le=\"1\"} 2 # {trace_id=\"abc\"} 0.5 1.2\n"
     "h_bucket{le=\"+Inf\"} 3 123 # {} 1\nh_count 3\nh_sum 1.5\nh_created 1.6e9\n# EOF\n",
     5,
     {S("h_bucket", L("le", "1"), 2, SAMPLE_HISTOGRAM),
      STS("h_bucket", L("le", "+Inf"), 3, SAMPLE_HISTOGRAM, 123000),
      S("h_count", NOL, 3, SAMPLE_HISTOGRAM), S("h_sum", NOL, 1.5, SAMPLE_HISTOGRAM),
      S("h_created", NOL, 1.6e9, SAMPLE_HISTOGRAM)}},
    {"OM gaugehistogram, summary",
     OM,
     "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum 2\n"
     "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns_sum 2\ns_count 3\n# EOF\n",
     6,
     {S("g_bucket", L("le", "+Inf"), 1, SAMPLE_GAUGEHISTOGRAM),
      S("g_gcount", NOL, 1, SAMPLE_GAUGEHISTOGRAM), S("g_gsum", NOL, 2, SAMPLE_GAUGEHISTOGRAM),
      S("s", L("quantile", "0.9"), 1, SAMPLE_SUMMARY), S("s_sum", NOL, 2, SAMPLE_SUMMARY),
      S("s_count", NOL, 3, SAMPLE_SUMMARY)}},
    {"OM stateset, info, unknown, gauge",
     OM,
     "# TYPE st stateset\nst{st=\"a\"} 1\nst{st=\"b\"} 0\n# TYPE i info\ni_info{v=\"1.0\"} 1\n"
     "# TYPE u unknown\nu 7\n# TYPE g gauge\ng NaN\n# EOF\n",
     5,
     {S("st", L("st", "a"), 1, SAMPLE_STATESET), S("st", L("st", "b"), 0, SAMPLE_STATESET),
      S("i_info", L("v", "1.0"), 1, SAMPLE_INFO), S("u", NOL, 7, SAMPLE_UNTYPED),
      S("g", NOL, NAN, SAMPLE_GAUGE)}},
    /* The value rules (OpenMetrics 1.0, "Metric types"): what they allow. */
    {"OM values the rules allow: quantile NaN (no events), +Inf total, created before 1970",
     OM,
     "# TYPE s summary\ns{quantile=\"0\"} NaN\ns{quantile=\"1.0\"} 0\ns_created -5\n"
     "# TYPE c counter\nc_total +Inf\nc_created 1.5e9\n# EOF\n",
     5,
     {S("s", L("quantile", "0"), NAN, SAMPLE_SUMMARY),
      S("s", L("quantile", "1.0"), 0, SAMPLE_SUMMARY), S("s_created", NOL, -5, SAMPLE_SUMMARY),
      S("c_total", NOL, INFINITY, SAMPLE_COUNTER), S("c_created", NOL, 1.5e9, SAMPLE_COUNTER)}},
    {"OM exemplars within their bucket (at its le), a negative-le histogram without a sum",
     OM,
     "# TYPE h histogram\nh_bucket{le=\"-1\"} 1 # {} -2\nh_bucket{le=\"0.5\"} 1 # {} 0.5\n"
     "h_bucket{le=\"+Inf\"} 2 # {} 1e300\n# TYPE u_seconds histogram\n# UNIT u_seconds seconds\n# "
     "EOF\n",
     3,
     {S("h_bucket", L("le", "-1"), 1, SAMPLE_HISTOGRAM),
      S("h_bucket", L("le", "0.5"), 1, SAMPLE_HISTOGRAM),
      S("h_bucket", L("le", "+Inf"), 2, SAMPLE_HISTOGRAM)}},
    {"OM values the rules allow: negative le and gsum, float-rendered integer buckets",
     OM,
     "# TYPE g gaugehistogram\ng_bucket{le=\"-1\"} 0\ng_bucket{le=\"+Inf\"} 2\ng_gcount 2\n"
     "g_gsum -3.5\n"
     "# TYPE h histogram\nh_bucket{le=\"1e-05\"} 0\nh_bucket{le=\"+inf\"} 17.0\n# EOF\n",
     6,
     {S("g_bucket", L("le", "-1"), 0, SAMPLE_GAUGEHISTOGRAM),
      S("g_bucket", L("le", "+Inf"), 2, SAMPLE_GAUGEHISTOGRAM),
      S("g_gcount", NOL, 2, SAMPLE_GAUGEHISTOGRAM), S("g_gsum", NOL, -3.5, SAMPLE_GAUGEHISTOGRAM),
      S("h_bucket", L("le", "1e-05"), 0, SAMPLE_HISTOGRAM),
      S("h_bucket", L("le", "+inf"), 17, SAMPLE_HISTOGRAM)}},
    {"OM histogram MetricPoints: labels in any order, a new timestamp starts a new point",
     OM,
     "# TYPE h histogram\nh_bucket{a=\"x\",le=\"1\"} 1 10\nh_bucket{le=\"+Inf\",a=\"x\"} 2 10\n"
     "h_count{a=\"x\"} 2 10\nh_sum{a=\"x\"} 1.5 10\nh_bucket{a=\"x\",le=\"+Inf\"} 4 20\n"
     "h_bucket{a=\"y\",le=\"+Inf\"} 0\n# EOF\n",
     6,
     {STS("h_bucket", L("a", "x", "le", "1"), 1, SAMPLE_HISTOGRAM, 10000),
      STS("h_bucket", L("le", "+Inf", "a", "x"), 2, SAMPLE_HISTOGRAM, 10000),
      STS("h_count", L("a", "x"), 2, SAMPLE_HISTOGRAM, 10000),
      STS("h_sum", L("a", "x"), 1.5, SAMPLE_HISTOGRAM, 10000),
      STS("h_bucket", L("a", "x", "le", "+Inf"), 4, SAMPLE_HISTOGRAM, 20000),
      S("h_bucket", L("a", "y", "le", "+Inf"), 0, SAMPLE_HISTOGRAM)}},
    {"OM exemplars on a counter total, 128 characters of labels (a multi-byte one counts once)",
     OM,
     "# TYPE c counter\nc_total 1 # "
     "{a="
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"} 1\n"
     "# TYPE d counter\nd_total 2 # "
     "{a="
     "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
     "\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\"} 1\n# EOF\n",
     2,
     {S("c_total", NOL, 1, SAMPLE_COUNTER), S("d_total", NOL, 2, SAMPLE_COUNTER)}},
    {"OM families that do not clash: a gauge owns no suffix",
     OM,
     "# TYPE foo gauge\nfoo 1\n# TYPE foo_total gauge\nfoo_total 2\n# EOF\n",
     2,
     {S("foo", NOL, 1, SAMPLE_GAUGE), S("foo_total", NOL, 2, SAMPLE_GAUGE)}},
    {"OM families without metadata",
     OM,
     "x 1\nx{a=\"b\"} 2\ny_total 3\n# EOF\n",
     3,
     {S("x", NOL, 1, SAMPLE_UNTYPED), S("x", L("a", "b"), 2, SAMPLE_UNTYPED),
      S("y_total", NOL, 3, SAMPLE_UNTYPED)}},
    {"OM escapes and UTF-8",
     OM,
     "a{x=\"\\\\\\\"\\n\xc3\xa9\"} -Inf\n# EOF\n",
     1,
     {S("a", L("x", "\\\"\n\xc3\xa9"), -INFINITY, SAMPLE_UNTYPED)}},
    /*
     * Metrics and MetricPoints (OpenMetrics 1.0, "Text format" > "MetricPoint": the spec's
     * correct example verbatim; "Metric types": its stateset, info and gauge examples).
     */
    {"OM the spec's MetricPoints example: two Metrics of two MetricPoints each",
     OM,
     "# TYPE foo_seconds summary\n# UNIT foo_seconds seconds\n"
     "foo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_sum{a=\"bb\"} 0 123\n"
     "foo_seconds_count{a=\"bb\"} 0 456\nfoo_seconds_sum{a=\"bb\"} 0 456\n"
     "foo_seconds_count{a=\"ccc\"} 0 123\nfoo_seconds_sum{a=\"ccc\"} 0 123\n"
     "foo_seconds_count{a=\"ccc\"} 0 456\nfoo_seconds_sum{a=\"ccc\"} 0 456\n# EOF\n",
     8,
     {STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 123000),
      STS("foo_seconds_sum", L("a", "bb"), 0, SAMPLE_SUMMARY, 123000),
      STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 456000),
      STS("foo_seconds_sum", L("a", "bb"), 0, SAMPLE_SUMMARY, 456000),
      STS("foo_seconds_count", L("a", "ccc"), 0, SAMPLE_SUMMARY, 123000),
      STS("foo_seconds_sum", L("a", "ccc"), 0, SAMPLE_SUMMARY, 123000),
      STS("foo_seconds_count", L("a", "ccc"), 0, SAMPLE_SUMMARY, 456000),
      STS("foo_seconds_sum", L("a", "ccc"), 0, SAMPLE_SUMMARY, 456000)}},
    {"OM stateset Metrics: the state label is the MetricPoint's, not the Metric's",
     OM,
     "# TYPE foo stateset\nfoo{entity=\"controller\",foo=\"a\"} 1.0\n"
     "foo{entity=\"controller\",foo=\"bb\"} 0.0\nfoo{foo=\"ccc\",entity=\"controller\"} 0.0\n"
     "foo{entity=\"replica\",foo=\"a\"} 1.0\nfoo{entity=\"replica\",foo=\"bb\"} 0.0\n"
     "foo{entity=\"replica\",foo=\"ccc\"} 1.0\n# EOF\n",
     6,
     {S("foo", L("entity", "controller", "foo", "a"), 1, SAMPLE_STATESET),
      S("foo", L("entity", "controller", "foo", "bb"), 0, SAMPLE_STATESET),
      S("foo", L("foo", "ccc", "entity", "controller"), 0, SAMPLE_STATESET),
      S("foo", L("entity", "replica", "foo", "a"), 1, SAMPLE_STATESET),
      S("foo", L("entity", "replica", "foo", "bb"), 0, SAMPLE_STATESET),
      S("foo", L("entity", "replica", "foo", "ccc"), 1, SAMPLE_STATESET)}},
    {"OM info Metrics, gauge MetricPoints with increasing timestamps, counter total and created",
     OM,
     "# TYPE foo info\nfoo_info{entity=\"controller\",name=\"pretty name\",version=\"8.2.7\"} 1.0\n"
     "foo_info{entity=\"replica\",name=\"prettier name\",version=\"8.1.9\"} 1.0\n"
     "# TYPE g gauge\ng 17.0 123\ng 18.0 456\ng{a=\"\"} 19.0 789\n"
     "# TYPE c counter\nc_total 17.0 1520879607.789\nc_created 1520430000.123 1520879607.789\n"
     "c_total 18 1520879608\n# EOF\n",
     8,
     {S("foo_info", L("entity", "controller", "name", "pretty name", "version", "8.2.7"), 1,
        SAMPLE_INFO),
      S("foo_info", L("entity", "replica", "name", "prettier name", "version", "8.1.9"), 1,
        SAMPLE_INFO),
      STS("g", NOL, 17, SAMPLE_GAUGE, 123000), STS("g", NOL, 18, SAMPLE_GAUGE, 456000),
      STS("g", L("a", ""), 19, SAMPLE_GAUGE, 789000),
      STS("c_total", NOL, 17, SAMPLE_COUNTER, 1520879607789),
      STS("c_created", NOL, 1520430000.123, SAMPLE_COUNTER, 1520879607789),
      STS("c_total", NOL, 18, SAMPLE_COUNTER, 1520879608000)}},
    {"OM histogram with several Metrics, quantiles of two summary Metrics",
     OM,
     "# TYPE h histogram\nh_bucket{a=\"x\",le=\"1\"} 0\nh_bucket{a=\"x\",le=\"+Inf\"} 1\n"
     "h_created{a=\"x\"} 5\nh_bucket{le=\"+Inf\",a=\"y\"} 2\nh_bucket{a=\"z\",le=\"+Inf\"} 3\n"
     "# TYPE s summary\ns{quantile=\"0.5\",b=\"1\"} 1\ns{b=\"1\",quantile=\"0.9\"} 2\n"
     "s{quantile=\"0.5\",b=\"2\"} 3\n# EOF\n",
     8,
     {S("h_bucket", L("a", "x", "le", "1"), 0, SAMPLE_HISTOGRAM),
      S("h_bucket", L("a", "x", "le", "+Inf"), 1, SAMPLE_HISTOGRAM),
      S("h_created", L("a", "x"), 5, SAMPLE_HISTOGRAM),
      S("h_bucket", L("le", "+Inf", "a", "y"), 2, SAMPLE_HISTOGRAM),
      S("h_bucket", L("a", "z", "le", "+Inf"), 3, SAMPLE_HISTOGRAM),
      S("s", L("quantile", "0.5", "b", "1"), 1, SAMPLE_SUMMARY),
      S("s", L("b", "1", "quantile", "0.9"), 2, SAMPLE_SUMMARY),
      S("s", L("quantile", "0.5", "b", "2"), 3, SAMPLE_SUMMARY)}},
    /* The text format stays lenient: what OpenMetrics refuses below is fine there. */
    {"text: the spec's Metrics interleaved",
     TEXT,
     "# TYPE foo_seconds summary\n# UNIT foo_seconds seconds\n"
     "foo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_count{a=\"ccc\"} 0 123\n"
     "foo_seconds_count{a=\"bb\"} 0 456\nfoo_seconds_count{a=\"ccc\"} 0 456\n",
     4,
     {STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 123),
      STS("foo_seconds_count", L("a", "ccc"), 0, SAMPLE_SUMMARY, 123),
      STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 456),
      STS("foo_seconds_count", L("a", "ccc"), 0, SAMPLE_SUMMARY, 456)}},
    {"text: the spec's MetricPoints interleaved",
     TEXT,
     "# TYPE foo_seconds summary\n# UNIT foo_seconds seconds\n"
     "foo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_count{a=\"bb\"} 0 456\n"
     "foo_seconds_sum{a=\"bb\"} 0 123\nfoo_seconds_sum{a=\"bb\"} 0 456\n",
     4,
     {STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 123),
      STS("foo_seconds_count", L("a", "bb"), 0, SAMPLE_SUMMARY, 456),
      STS("foo_seconds_sum", L("a", "bb"), 0, SAMPLE_SUMMARY, 123),
      STS("foo_seconds_sum", L("a", "bb"), 0, SAMPLE_SUMMARY, 456)}},
    {"text: repeated samples, timestamps going back, a histogram Metric coming back",
     TEXT,
     "foo 1\nfoo 2\nbar 1 20\nbar 2 10\n# TYPE h histogram\nh_bucket{a=\"x\",le=\"+Inf\"} 1\n"
     "h_bucket{a=\"y\",le=\"+Inf\"} 1\nh_bucket{a=\"x\",le=\"+Inf\"} 1\n",
     7,
     {S("foo", NOL, 1, SAMPLE_UNTYPED), S("foo", NOL, 2, SAMPLE_UNTYPED),
      STS("bar", NOL, 1, SAMPLE_UNTYPED, 20), STS("bar", NOL, 2, SAMPLE_UNTYPED, 10),
      S("h_bucket", L("a", "x", "le", "+Inf"), 1, SAMPLE_HISTOGRAM),
      S("h_bucket", L("a", "y", "le", "+Inf"), 1, SAMPLE_HISTOGRAM),
      S("h_bucket", L("a", "x", "le", "+Inf"), 1, SAMPLE_HISTOGRAM)}},
};

struct invalid_case {
    enum prom_format fmt;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *error;
};

static const struct invalid_case invalid_cases[] = {
    /* ---- text format: samples ---- */
    {TEXT, "a\n", 0, "parse error at line 1: missing value for metric \"a\""},
    {TEXT, "a{x=\"y\"}\n", 0, "parse error at line 1: missing value for metric \"a\""},
    {TEXT, "node_load1 12x\n", 0,
     "parse error at line 1: invalid value \"12x\" for metric \"node_load1\""},
    {TEXT, "a 1\nb 2\n\n# c\nc x\n", 0,
     "parse error at line 5: invalid value \"x\" for metric \"c\""},
    {TEXT, "a 1e400\n", 0, "parse error at line 1: value \"1e400\" out of range for metric \"a\""},
    {TEXT, "a -1e309\n", 0,
     "parse error at line 1: value \"-1e309\" out of range for metric \"a\""},
    {TEXT, "a 0x10\n", 0, "parse error at line 1: invalid value \"0x10\" for metric \"a\""},
    {TEXT, "a 0x1p3\n", 0, "parse error at line 1: invalid value \"0x1p3\" for metric \"a\""},
    {TEXT, "a 1_000\n", 0, "parse error at line 1: invalid value \"1_000\" for metric \"a\""},
    {TEXT, "a +NaN\n", 0, "parse error at line 1: invalid value \"+NaN\" for metric \"a\""},
    {TEXT, "a infin\n", 0, "parse error at line 1: invalid value \"infin\" for metric \"a\""},
    {TEXT, "a .\n", 0, "parse error at line 1: invalid value \".\" for metric \"a\""},
    {TEXT, "a 1e\n", 0, "parse error at line 1: invalid value \"1e\" for metric \"a\""},
    {TEXT, "a 1e+\n", 0, "parse error at line 1: invalid value \"1e+\" for metric \"a\""},
    {TEXT, "a -\n", 0, "parse error at line 1: invalid value \"-\" for metric \"a\""},
    {TEXT, "a 1.2.3\n", 0, "parse error at line 1: invalid value \"1.2.3\" for metric \"a\""},
    {TEXT, "a 1\r\n", 0, "parse error at line 1: invalid value \"1\\r\" for metric \"a\""},
    {TEXT, "a 1 12x\n", 0, "parse error at line 1: invalid timestamp \"12x\" for metric \"a\""},
    {TEXT, "a 1 1.5\n", 0, "parse error at line 1: invalid timestamp \"1.5\" for metric \"a\""},
    {TEXT, "a 1 +5\n", 0, "parse error at line 1: invalid timestamp \"+5\" for metric \"a\""},
    {TEXT, "a 1 9223372036854775808\n", 0,
     "parse error at line 1: timestamp \"9223372036854775808\" out of range for metric \"a\""},
    {TEXT, "a 1 2 3\n", 0,
     "parse error at line 1: unexpected \"3\" after timestamp of metric \"a\""},
    {TEXT, "a 1 # {x=\"y\"} 1\n", 0,
     "parse error at line 1: invalid timestamp \"#\" for metric \"a\""},
    {TEXT, "1a 1\n", 0,
     "parse error at line 1: expected a metric name at the start of the line, got \"1a 1\""},
    {TEXT, "{x=\"y\"} 1\n", 0,
     "parse error at line 1: expected a metric name at the start of the line, got \"{x=\\\"y\\\"} "
     "1\""},
    {TEXT, "a-b 1\n", 0, "parse error at line 1: unexpected \"-b 1\" after metric name \"a\""},
    {TEXT, "a{foo} 1\n", 0, "parse error at line 1: expected '=' after label name \"foo\""},
    {TEXT, "a{job=\"x\",job=\"y\"} 1\n", 0, "parse error at line 1: duplicate label \"job\""},
    {TEXT, "a{x=\"abc} 1\n", 0, "parse error at line 1: unterminated label value for label \"x\""},
    {TEXT, "a{x=\"abc\\\"} 1\n", 0,
     "parse error at line 1: unterminated label value for label \"x\""},
    {TEXT, "a{x=\"abc\\", 0, "parse error at line 1: unterminated label value for label \"x\""},
    {TEXT, "a{x=\"1\" y=\"2\"} 1\n", 0,
     "parse error at line 1: expected ',' or '}' after value of label \"x\", got \"y=\\\"2\\\"} "
     "1\""},
    {TEXT, "a{x=\"1\",,y=\"2\"} 1\n", 0,
     "parse error at line 1: expected label name or '}' in labels of metric \"a\", got "
     "\",y=\\\"2\\\"} 1\""},
    {TEXT, "a{,} 1\n", 0,
     "parse error at line 1: expected label name or '}' in labels of metric \"a\", got \",} 1\""},
    {TEXT, "a{1x=\"y\"} 1\n", 0,
     "parse error at line 1: expected label name or '}' in labels of metric \"a\", got "
     "\"1x=\\\"y\\\"} 1\""},
    {TEXT, "a{x=y} 1\n", 0,
     "parse error at line 1: expected '\"' to start the value of label \"x\", got \"y} 1\""},
    {TEXT, "a{x=\"y\"\n", 0, "parse error at line 1: missing '}' after labels of metric \"a\""},
    {TEXT, "a{x=\"y\",\n", 0, "parse error at line 1: missing '}' after labels of metric \"a\""},
    {TEXT, "a{x=\"\xff\"} 1\n", 0, "parse error at line 1: invalid UTF-8 in value of label \"x\""},
    {TEXT, "a{x=\"\xed\xa0\x80\"} 1\n", 0,
     "parse error at line 1: invalid UTF-8 in value of label \"x\""},
    {TEXT, "a{x=\"\xc0\xaf\"} 1\n", 0,
     "parse error at line 1: invalid UTF-8 in value of label \"x\""},
    {TEXT, "a{x=\"\xe2\x9c\"} 1\n", 0,
     "parse error at line 1: invalid UTF-8 in value of label \"x\""},
    {TEXT, "a{x=\"\\\xff\"} 1\n", 0,
     "parse error at line 1: invalid UTF-8 in value of label \"x\""},
    {TEXT, "a{x=\"a\0b\"} 1\n", 14, "parse error at line 1: NUL byte in value of label \"x\""},
    {TEXT, "a{x=\"\\\0\"} 1\n", 12, "parse error at line 1: NUL byte in value of label \"x\""},
    {TEXT, "a\0 1\n", 5, "parse error at line 1: unexpected \"\\x00 1\" after metric name \"a\""},
    /* ---- text format: metadata ---- */
    {TEXT, "# TYPE a foo\n", 0,
     "parse error at line 1: invalid metric type \"foo\" for metric \"a\""},
    {TEXT, "# TYPE a\n", 0, "parse error at line 1: invalid metric type \"\" for metric \"a\""},
    {TEXT, "# TYPE a gaugehistogram\n", 0,
     "parse error at line 1: invalid metric type \"gaugehistogram\" for metric \"a\""},
    {TEXT, "# TYPE a counter gauge\n", 0,
     "parse error at line 1: invalid metric type \"counter gauge\" for metric \"a\""},
    {TEXT, "# HELP 1a x\n", 0,
     "parse error at line 1: expected a metric name after \"# HELP\", got \"1a x\""},
    {TEXT, "# HELP a{ x\n", 0,
     "parse error at line 1: expected a metric name after \"# HELP\", got \"a{ x\""},
    {TEXT, "# TYPE  \n", 0,
     "parse error at line 1: expected a metric name after \"# TYPE\", got \"\""},
    {TEXT, "# HELP a \xff\n", 0,
     "parse error at line 1: help text of metric \"a\" is not valid UTF-8"},
    /* ---- OpenMetrics ---- */
    {OM, "", 0, "parse error at line 1: missing \"# EOF\""},
    {OM, "a 1\n", 0, "parse error at line 2: missing \"# EOF\""},
    {OM, "a 1", 0, "parse error at line 2: missing \"# EOF\""},
    {OM, "# EOF\na 1\n", 0, "parse error at line 2: unexpected data after \"# EOF\""},
    {OM, "# EOF\n\n", 0, "parse error at line 2: unexpected data after \"# EOF\""},
    {OM, "# EOF \n", 0,
     "parse error at line 1: invalid line \"# EOF \": OpenMetrics allows only # HELP, # TYPE, # "
     "UNIT "
     "and # EOF"},
    {OM, "a 1\n\n# EOF\n", 0, "parse error at line 2: empty line (not allowed in OpenMetrics)"},
    {OM, "# hello\n# EOF\n", 0,
     "parse error at line 1: invalid line \"# hello\": OpenMetrics allows only # HELP, # TYPE, # "
     "UNIT and # EOF"},
    {OM, "a  1\n# EOF\n", 0,
     "parse error at line 1: expected ' ' and a value after metric \"a\", got \"  1\""},
    {OM, "a\t1\n# EOF\n", 0,
     "parse error at line 1: expected ' ' and a value after metric \"a\", got \"\\t1\""},
    {OM, "a \n# EOF\n", 0, "parse error at line 1: missing value for metric \"a\""},
    {OM, " a 1\n# EOF\n", 0,
     "parse error at line 1: expected a metric name at the start of the line, got \" a 1\""},
    {OM, "a{x=\"1\", y=\"2\"} 1\n# EOF\n", 0,
     "parse error at line 1: expected label name or '}' in labels of metric \"a\", got "
     "\" y=\\\"2\\\"} 1\""},
    {OM, "a 1 \n# EOF\n", 0,
     "parse error at line 1: unexpected whitespace after value of metric \"a\""},
    {OM, "a 1  2\n# EOF\n", 0,
     "parse error at line 1: unexpected whitespace after value of metric \"a\""},
    {OM, "a 1 2 x\n# EOF\n", 0,
     "parse error at line 1: unexpected \" x\" after timestamp of metric \"a\""},
    {OM, "a 1 NaN\n# EOF\n", 0,
     "parse error at line 1: invalid timestamp \"NaN\" for metric \"a\""},
    {OM, "a 1 Inf\n# EOF\n", 0,
     "parse error at line 1: invalid timestamp \"Inf\" for metric \"a\""},
    {OM, "a 1 1e30\n# EOF\n", 0,
     "parse error at line 1: timestamp \"1e30\" out of range for metric \"a\""},
    {OM, "a 1 9223372036854775.808\n# EOF\n", 0,
     "parse error at line 1: timestamp \"9223372036854775.808\" out of range for metric \"a\""},
    {OM, "# HELP a ends with \\\n# EOF\n", 0,
     "parse error at line 1: invalid escape \"\\\\\" in help text of metric \"a\""},
    /* The value rules (OpenMetrics 1.0, "Metric types"): what they refuse. */
    {OM, "# TYPE c counter\nc_total -1\n# EOF\n", 0,
     "parse error at line 2: counter \"c_total\" must not be NaN or negative, got -1"},
    {OM, "# TYPE c counter\nc_total NaN\n# EOF\n", 0,
     "parse error at line 2: counter \"c_total\" must not be NaN or negative, got nan"},
    {OM, "# TYPE h histogram\nh_bucket 1\n# EOF\n", 0,
     "parse error at line 2: bucket \"h_bucket\" has no le label"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n# EOF\n", 0,
     "parse error at line 2: bucket \"h_bucket\" has an invalid le \"NaN\""},
    {OM, "# TYPE h histogram\nh_bucket{le=\"one\"} 1\n# EOF\n", 0,
     "parse error at line 2: bucket \"h_bucket\" has an invalid le \"one\""},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n", 0,
     "parse error at line 2: bucket \"h_bucket\" must be a non-negative integer, got 1.5"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} -2\n# EOF\n", 0,
     "parse error at line 2: bucket \"h_bucket\" must be a non-negative integer, got -2"},
    {OM, "# TYPE h histogram\nh_count NaN\n# EOF\n", 0,
     "parse error at line 2: count \"h_count\" must be a non-negative integer, got nan"},
    {OM, "# TYPE h histogram\nh_sum -0.5\n# EOF\n", 0,
     "parse error at line 2: sum \"h_sum\" must not be NaN or negative, got -0.5"},
    {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} NaN\n# EOF\n", 0,
     "parse error at line 2: bucket \"g_bucket\" must be a non-negative integer, got nan"},
    {OM, "# TYPE g gaugehistogram\ng_gcount -1\n# EOF\n", 0,
     "parse error at line 2: gcount \"g_gcount\" must be a non-negative integer, got -1"},
    {OM, "# TYPE g gaugehistogram\ng_gsum NaN\n# EOF\n", 0,
     "parse error at line 2: gsum \"g_gsum\" must not be NaN"},
    {OM, "# TYPE s summary\ns_count 1.5\n# EOF\n", 0,
     "parse error at line 2: count \"s_count\" must be a non-negative integer, got 1.5"},
    {OM, "# TYPE s summary\ns_sum NaN\n# EOF\n", 0,
     "parse error at line 2: sum \"s_sum\" must not be NaN or negative, got nan"},
    {OM, "# TYPE s summary\ns 1\n# EOF\n", 0,
     "parse error at line 2: summary sample \"s\" has no quantile label"},
    {OM, "# TYPE s summary\ns{quantile=\"1.5\"} 1\n# EOF\n", 0,
     "parse error at line 2: quantile \"1.5\" of \"s\" is not a number between 0 and 1"},
    {OM, "# TYPE s summary\ns{quantile=\"0.5\"} -1\n# EOF\n", 0,
     "parse error at line 2: quantile value of \"s\" must not be negative, got -1"},
    {OM, "# TYPE st stateset\nst{st=\"a\"} 2\n# EOF\n", 0,
     "parse error at line 2: stateset \"st\" value must be 0 or 1, got 2"},
    {OM, "# TYPE st stateset\nst{state=\"a\"} 1\n# EOF\n", 0,
     "parse error at line 2: stateset \"st\" has no label \"st\" naming its state"},
    {OM, "# TYPE i info\ni_info{v=\"x\"} 0\n# EOF\n", 0,
     "parse error at line 2: info \"i_info\" value must be 1, got 0"},
    {OM, "# TYPE c counter\nc_total 1\nc_created NaN\n# EOF\n", 0,
     "parse error at line 3: created \"c_created\" must be a timestamp (a finite number), got "
     "nan"},
    {OM, "# TYPE s summary\ns_created +Inf\n# EOF\n", 0,
     "parse error at line 2: created \"s_created\" must be a timestamp (a finite number), got "
     "inf"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_created -Inf\n# EOF\n", 0,
     "parse error at line 3: created \"h_created\" must be a timestamp (a finite number), got "
     "-inf"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count{le=\"+Inf\"} 1\n# EOF\n", 0,
     "parse error at line 3: \"h_count\" must not have a label \"le\" (only its _bucket samples "
     "do)"},
    {OM, "# TYPE h histogram\nh_created{le=\"1\"} 1\n# EOF\n", 0,
     "parse error at line 2: \"h_created\" must not have a label \"le\" (only its _bucket "
     "samples do)"},
    {OM, "# TYPE g gaugehistogram\ng_gsum{le=\"1\"} 1\n# EOF\n", 0,
     "parse error at line 2: \"g_gsum\" must not have a label \"le\" (only its _bucket samples "
     "do)"},
    {OM, "# TYPE s summary\ns_sum{quantile=\"0.5\"} 1\n# EOF\n", 0,
     "parse error at line 2: \"s_sum\" must not have a label \"quantile\" (only its quantile "
     "samples do)"},
    {OM, "# TYPE i info\n# UNIT i seconds\n# EOF\n", 0,
     "parse error at line 2: unit \"seconds\" is not a suffix of metric \"i\""},
    {OM, "# TYPE i_seconds info\n# UNIT i_seconds seconds\n# EOF\n", 0,
     "parse error at line 2: info family \"i_seconds\" must not have a unit"},
    {OM, "# UNIT s_bytes bytes\n# TYPE s_bytes stateset\n# EOF\n", 0,
     "parse error at line 2: stateset family \"s_bytes\" must not have a unit"},
    {OM,
     "# TYPE h histogram\nh_bucket{le=\"-1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
     "h_sum 0\n# EOF\n",
     0,
     "parse error at line 6: histogram \"h\": the MetricPoint from line 2 has buckets below 0 and "
     "a sum (a sum only without negative buckets)"},
    {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum -1\n# EOF\n", 0,
     "parse error at line 5: gauge histogram \"g\": the MetricPoint from line 2 has a gsum of -1 "
     "but no bucket below 0"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"1\"} 1 # {} 1.5\nh_bucket{le=\"+Inf\"} 1\n# EOF\n", 0,
     "parse error at line 2: exemplar value 1.5 of bucket \"h_bucket\" is not within the bucket "
     "(le \"1\")"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 # {} NaN\n# EOF\n", 0,
     "parse error at line 2: exemplar value nan of bucket \"h_bucket\" is not within the bucket "
     "(le \"+Inf\")"},
    /* Family names whose samples would clash (OpenMetrics 1.0, "Suffixes"). */
    {OM, "# TYPE foo counter\nfoo_total 1\n# TYPE foo_created gauge\nfoo_created 2\n# EOF\n", 0,
     "parse error at line 3: metric family \"foo_created\" clashes with the samples of family "
     "\"foo\""},
    {OM, "# TYPE foo counter\n# TYPE foo_total gauge\n# EOF\n", 0,
     "parse error at line 2: metric family \"foo_total\" clashes with the samples of family "
     "\"foo\""},
    {OM, "# TYPE h_count gauge\n# TYPE h histogram\n# EOF\n", 0,
     "parse error at line 2: metric family \"h_count\" clashes with the samples of family "
     "\"h\""},
    /* Exemplars: where the spec allows them, and their size. */
    {OM, "# TYPE g gauge\ng 1 # {} 1\n# EOF\n", 0,
     "parse error at line 2: exemplar on \"g\": OpenMetrics allows them on counter totals and "
     "histogram buckets only"},
    {OM, "u 1 # {} 1\n# EOF\n", 0,
     "parse error at line 1: exemplar on \"u\": OpenMetrics allows them on counter totals and "
     "histogram buckets only"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1 # {} 1\n# EOF\n", 0,
     "parse error at line 3: exemplar on \"h_count\": OpenMetrics allows them on counter totals "
     "and histogram buckets only"},
    {OM,
     "# TYPE c counter\nc_total 1 # "
     "{a="
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"} 1\n# EOF\n",
     0,
     "parse error at line 2: exemplar of metric \"c_total\" has 129 characters of labels (at "
     "most 128)"},
    /* Across one histogram MetricPoint. */
    {OM, "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n# EOF\n", 0,
     "parse error at line 3: bucket \"h_bucket\": le 1 after le 2 (buckets go by increasing le, "
     "each once)"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n# EOF\n", 0,
     "parse error at line 3: bucket \"h_bucket\": le 1 after le 1 (buckets go by increasing le, "
     "each once)"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 3\n# EOF\n", 0,
     "parse error at line 3: bucket \"h_bucket\": 3 is below the previous bucket's 5 (buckets "
     "are cumulative)"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n# EOF\n", 0,
     "parse error at line 4: histogram \"h\": the MetricPoint from line 2 has no +Inf bucket"},
    {OM, "# TYPE h histogram\nh_sum 1\nh_count 0\n# EOF\n", 0,
     "parse error at line 4: histogram \"h\": the MetricPoint from line 2 has no +Inf bucket"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 4\nh_sum 1\n# EOF\n", 0,
     "parse error at line 5: histogram \"h\": the MetricPoint from line 2 has a count of 4 and a "
     "+Inf bucket of 3"},
    {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 3\ng_gcount 2\ng_gsum 1\nx 1\n# EOF\n", 0,
     "parse error at line 5: histogram \"g\": the MetricPoint from line 2 has a count of 2 and a "
     "+Inf bucket of 3"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n# EOF\n", 0,
     "parse error at line 4: histogram \"h\": the MetricPoint from line 2 has a count without a "
     "sum (both or neither)"},
    {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 3\ng_gsum 3\n# EOF\n", 0,
     "parse error at line 4: histogram \"g\": the MetricPoint from line 2 has a sum without a "
     "count (both or neither)"},
    {OM,
     "# TYPE h histogram\nh_bucket{a=\"x\",le=\"+Inf\"} 1\nh_bucket{a=\"y\",le=\"1\"} 1\n"
     "# EOF\n",
     0, "parse error at line 4: histogram \"h\": the MetricPoint from line 3 has no +Inf bucket"},
    {OM, "# HELP a\n# EOF\n", 0,
     "parse error at line 1: expected ' ' after metric name \"a\" in # HELP line, got \"\""},
    {OM, "# TYPE a  gauge\n# EOF\n", 0,
     "parse error at line 1: invalid metric type \" gauge\" for metric \"a\""},
    {OM, "# TYPE a untyped\n# EOF\n", 0,
     "parse error at line 1: invalid metric type \"untyped\" for metric \"a\""},
    {OM, "# TYPE 9 gauge\n# EOF\n", 0,
     "parse error at line 1: expected a metric name after \"# TYPE \", got \"9 gauge\""},
    {OM, "# UNIT a seconds\n# EOF\n", 0,
     "parse error at line 1: unit \"seconds\" is not a suffix of metric \"a\""},
    {OM, "# UNIT a_xseconds seconds\n# EOF\n", 0,
     "parse error at line 1: unit \"seconds\" is not a suffix of metric \"a_xseconds\""},
    {OM, "# UNIT a_s s-1\n# EOF\n", 0,
     "parse error at line 1: invalid unit \"s-1\" for metric \"a_s\""},
    {OM, "a 1\n# TYPE a gauge\n# EOF\n", 0,
     "parse error at line 2: # TYPE line for metric \"a\" after its samples"},
    {OM, "a_total 1\n# TYPE a counter\n# EOF\n", 0,
     "parse error at line 2: # TYPE line for metric \"a\" after samples of \"a_total\""},
    {OM, "# TYPE a counter\na_total 1\n# HELP a help\n# EOF\n", 0,
     "parse error at line 3: # HELP line for metric \"a\" after its samples"},
    {OM, "# TYPE a gauge\n# TYPE a gauge\n# EOF\n", 0,
     "parse error at line 2: duplicate # TYPE line for metric \"a\""},
    {OM, "# HELP a x\n# HELP b y\n# HELP a z\n# EOF\n", 0,
     "parse error at line 3: duplicate # HELP line for metric \"a\""},
    {OM, "# HELP a x\n# HELP b y\n# TYPE a gauge\n# EOF\n", 0,
     "parse error at line 3: metric family \"a\" is interleaved with another family"},
    {OM, "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n", 0,
     "parse error at line 5: metric family \"a\" is interleaved with another family"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nx 1\nh_count 1\n# EOF\n", 0,
     "parse error at line 4: metric family \"h\" is interleaved with another family"},
    {OM, "x 1\ny 1\nx 2\n# EOF\n", 0,
     "parse error at line 3: metric family \"x\" is interleaved with another family"},
    /* Metrics and MetricPoints: the spec's incorrect examples verbatim, then the other types. */
    {OM,
     "# TYPE foo_seconds summary\n# UNIT foo_seconds seconds\n"
     "foo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_count{a=\"ccc\"} 0 123\n"
     "foo_seconds_count{a=\"bb\"} 0 456\nfoo_seconds_count{a=\"ccc\"} 0 456\n# EOF\n",
     0,
     "parse error at line 5: metric family \"foo_seconds\": the Metric {a=\"bb\"} from line 3 is "
     "interleaved with others (another began on line 4)"},
    {OM,
     "# TYPE foo_seconds summary\n# UNIT foo_seconds seconds\n"
     "foo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_count{a=\"bb\"} 0 456\n"
     "foo_seconds_sum{a=\"bb\"} 0 123\nfoo_seconds_sum{a=\"bb\"} 0 456\n# EOF\n",
     0,
     "parse error at line 5: metric family \"foo_seconds\": the Metric {a=\"bb\"} has a "
     "MetricPoint at timestamp 123 after the one from line 4 at 456 (MetricPoints are not "
     "interleaved and go by increasing timestamp)"},
    {OM, "# TYPE foo gauge\nfoo 1\nfoo 2\n# EOF\n", 0,
     "parse error at line 3: metric family \"foo\": the Metric {} has another MetricPoint after "
     "the one from line 2, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM, "foo{a=\"\"} 1 5\nfoo 2\n# EOF\n", 0,
     "parse error at line 2: metric family \"foo\": the Metric {} has another MetricPoint after "
     "the one from line 1, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM, "# TYPE foo gauge\nfoo 1 5\nfoo 2 5\n# EOF\n", 0,
     "parse error at line 3: metric family \"foo\": the Metric {} has a MetricPoint at timestamp "
     "5 after the one from line 2 at 5 (MetricPoints are not interleaved and go by increasing "
     "timestamp)"},
    {OM, "# TYPE c counter\nc_total{x=\"1\"} 1 1.5\nc_total{x=\"1\"} 2 -0.25\n# EOF\n", 0,
     "parse error at line 3: metric family \"c\": the Metric {x=\"1\"} has a MetricPoint at "
     "timestamp -0.25 after the one from line 2 at 1.5 (MetricPoints are not interleaved and go "
     "by increasing timestamp)"},
    {OM, "# TYPE st stateset\nst{e=\"a\",st=\"x\"} 1\nst{e=\"a\",st=\"x\"} 1\n# EOF\n", 0,
     "parse error at line 3: metric family \"st\": the Metric {e=\"a\"} has another MetricPoint "
     "after the one from line 2, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM,
     "# TYPE st stateset\nst{e=\"a\",st=\"x\"} 1\nst{e=\"b\",st=\"x\"} 1\nst{st=\"y\",e=\"a\"} 0\n"
     "# EOF\n",
     0,
     "parse error at line 4: metric family \"st\": the Metric {e=\"a\"} from line 2 is "
     "interleaved with others (another began on line 3)"},
    {OM, "# TYPE i info\ni_info{v=\"1\"} 1\ni_info{v=\"1\"} 1\n# EOF\n", 0,
     "parse error at line 3: metric family \"i\": the Metric {v=\"1\"} has another MetricPoint "
     "after the one from line 2, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM, "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.5\"} 1\n# EOF\n", 0,
     "parse error at line 3: metric family \"s\": the Metric {} has another MetricPoint after "
     "the one from line 2, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM, "# TYPE s summary\ns_count 1\ns_sum 1\ns_count 1\n# EOF\n", 0,
     "parse error at line 4: metric family \"s\": the Metric {} has another MetricPoint after "
     "the one from line 2, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM,
     "# TYPE h histogram\nh_bucket{a=\"x\",le=\"+Inf\"} 1\nh_count{a=\"x\"} 1\nh_sum{a=\"x\"} 1\n"
     "h_bucket{a=\"y\",le=\"+Inf\"} 1\nh_bucket{le=\"+Inf\",a=\"x\"} 1 9\n# EOF\n",
     0,
     "parse error at line 6: metric family \"h\": the Metric {a=\"x\"} from line 2 is "
     "interleaved with others (another began on line 5)"},
    {OM, "x{a=\"1\",b=\"2\"} 1\nx{c=\"3\"} 1\nx{b=\"2\",a=\"1\"} 1\n# EOF\n", 0,
     "parse error at line 3: metric family \"x\": the Metric {b=\"2\",a=\"1\"} from line 1 is "
     "interleaved with others (another began on line 2)"},
    {OM, "x{a=\"\\\\q\"} 1\nx{a=\"z\"} 1\nx{a=\"\\q\"} 1\n# EOF\n", 0,
     "parse error at line 3: metric family \"x\": the Metric {a=\"\\q\"} from line 1 is "
     "interleaved with others (another began on line 2)"},
    {OM, "x{a=\"\\\\q\"} 1\nx{a=\"\\q\"} 2\n# EOF\n", 0,
     "parse error at line 2: metric family \"x\": the Metric {a=\"\\q\"} has another MetricPoint "
     "after the one from line 1, without timestamps (a Metric's MetricPoints need increasing "
     "timestamps)"},
    {OM, "x{a=\"\\\"\\n\\\\\",b=\"1\"} 1 2\nx{b=\"1\",a=\"\\\"\\n\\\\\"} 2 1\n# EOF\n", 0,
     "parse error at line 2: metric family \"x\": the Metric {b=\"1\",a=\"\\\"\\n\\\\\"} has a "
     "MetricPoint at timestamp 1 after the one from line 1 at 2 (MetricPoints are not "
     "interleaved and go by increasing timestamp)"},
    {OM, "a 1 # x\n# EOF\n", 0,
     "parse error at line 1: expected \"# {\" to start an exemplar after metric \"a\", got \"# "
     "x\""},
    {OM, "a 1 # {x=\"y\"}\n# EOF\n", 0,
     "parse error at line 1: missing exemplar value for metric \"a\""},
    {OM, "a 1 # {x=\"y\"} abc\n# EOF\n", 0,
     "parse error at line 1: invalid exemplar value \"abc\" for metric \"a\""},
    {OM, "a 1 # {x=\"y\"} 1 2 3\n# EOF\n", 0,
     "parse error at line 1: unexpected \" 3\" after exemplar of metric \"a\""},
    {OM, "a 1 # {x=\"y\"} 1 z\n# EOF\n", 0,
     "parse error at line 1: invalid exemplar timestamp \"z\" for metric \"a\""},
    {OM, "a 1 # {x=\"y\",x=\"z\"} 1\n# EOF\n", 0, "parse error at line 1: duplicate label \"x\""},
    {OM, "a 1 # {x=y} 1\n# EOF\n", 0,
     "parse error at line 1: expected '\"' to start the value of label \"x\", got \"y} 1\""},
    {OM, "a 1 # {x=\"y\"\n# EOF\n", 0,
     "parse error at line 1: missing '}' after labels of exemplar of metric \"a\""},
};

/* ---- helpers ---- */

static struct prom_parser *tp;
static struct batch tb;

static void
setup(void)
{
    tp = prom_parser_new();
    ck_assert_ptr_nonnull(tp);
    batch_init(&tb);
}

static void
teardown(void)
{
    prom_parser_free(tp);
    batch_release(&tb);
    arena_free_cache();
}

/*
 * Parses @len bytes of @in into @b (cleared first): the first @split bytes in one feed, then the
 * rest in pieces of @chunk bytes (0: one piece), then finish. Returns the first failure.
 */
static int
parse_split(struct prom_parser *p, struct batch *b, enum prom_format fmt, const char *in,
            size_t len, size_t split, size_t chunk)
{
    size_t off, n;
    int rc;

    batch_clear(b);
    prom_parser_reset(p, fmt, b);
    rc = prom_parser_feed(p, in, split);
    for (off = split; rc == 0 && off < len; off += n) {
        n = chunk == 0 || len - off < chunk ? len - off : chunk;
        rc = prom_parser_feed(p, in + off, n);
    }
    if (rc == 0) {
        rc = prom_parser_finish(p);
    }
    return rc;
}

static bool
same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

/* Whether two batches hold the same samples; writes the first difference into @why. */
static bool
same_samples(const struct batch *a, const struct batch *b, char *why, size_t whylen)
{
    size_t i;
    uint32_t j;

    if (a->nsamples != b->nsamples) {
        snprintf(why, whylen, "%zu samples instead of %zu", b->nsamples, a->nsamples);
        return false;
    }
    for (i = 0; i < a->nsamples; i++) {
        const struct sample *x = &a->samples[i], *y = &b->samples[i];
        bool same = strcmp(x->name, y->name) == 0 && x->nlabels == y->nlabels &&
                    x->type == y->type && x->has_ts == y->has_ts && x->ts_ms == y->ts_ms &&
                    same_double(x->value, y->value);

        for (j = 0; same && j < x->nlabels; j++) {
            same = strcmp(x->labels[j].name, y->labels[j].name) == 0 &&
                   strcmp(x->labels[j].value, y->labels[j].value) == 0;
        }
        if (!same) {
            snprintf(why, whylen, "sample %zu differs (%s vs %s)", i, x->name, y->name);
            return false;
        }
    }
    return true;
}

static void
check_sample(const char *desc, size_t i, const struct sample *got, const struct exp_sample *want)
{
    uint32_t n = 0, j;

    ck_assert_msg(strcmp(got->name, want->name) == 0, "%s: sample %zu: name \"%s\", want \"%s\"",
                  desc, i, got->name, want->name);
    while (want->labels[2 * n] != NULL) {
        n++;
    }
    ck_assert_msg(got->nlabels == n, "%s: sample %zu: %u labels, want %u", desc, i, got->nlabels,
                  n);
    ck_assert_msg(n == 0 || got->labels != NULL, "%s: sample %zu: NULL labels", desc, i);
    ck_assert_msg(n != 0 || got->labels == NULL, "%s: sample %zu: labels not NULL", desc, i);
    for (j = 0; j < n; j++) {
        ck_assert_msg(strcmp(got->labels[j].name, want->labels[2 * j]) == 0,
                      "%s: sample %zu: label %u name \"%s\", want \"%s\"", desc, i, j,
                      got->labels[j].name, want->labels[2 * j]);
        ck_assert_msg(strcmp(got->labels[j].value, want->labels[2 * j + 1]) == 0,
                      "%s: sample %zu: label %u value \"%s\", want \"%s\"", desc, i, j,
                      got->labels[j].value, want->labels[2 * j + 1]);
    }
    if (isnan(want->value)) {
        ck_assert_msg(isnan(got->value), "%s: sample %zu: value %g, want NaN", desc, i, got->value);
    }
    else {
        ck_assert_msg(got->value == want->value && !signbit(got->value) == !signbit(want->value),
                      "%s: sample %zu: value %.17g, want %.17g", desc, i, got->value, want->value);
    }
    ck_assert_msg(got->type == want->type, "%s: sample %zu: type %s, want %s", desc, i,
                  sample_type_name(got->type), sample_type_name(want->type));
    ck_assert_msg(got->has_ts == want->has_ts, "%s: sample %zu: has_ts %d, want %d", desc, i,
                  got->has_ts, want->has_ts);
    if (want->has_ts) {
        ck_assert_msg(got->ts_ms == want->ts, "%s: sample %zu: ts %lld, want %lld", desc, i,
                      (long long)got->ts_ms, (long long)want->ts);
    }
}

static char *
read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("FIXTURES");
    char path[4096];
    FILE *f;
    long size;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/fixtures", name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (set FIXTURES)", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}

/* Lines that are neither empty (or blank) nor comments: one sample each. */
static size_t
count_sample_lines(const char *buf, size_t len)
{
    size_t n = 0, i = 0;

    while (i < len) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t')) {
            i++;
        }
        if (i < len && buf[i] != '\n' && buf[i] != '#') {
            n++;
        }
        while (i < len && buf[i] != '\n') {
            i++;
        }
        i++;
    }
    return n;
}

/* ---- valid and invalid inputs ---- */

START_TEST(test_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    size_t len = strlen(c->in), i;
    int rc;

    rc = parse_split(tp, &tb, c->fmt, c->in, len, len, 0);
    ck_assert_msg(rc == 0, "%s: rc %d: %s", c->desc, rc, prom_parser_error(tp));
    ck_assert_str_eq(prom_parser_error(tp), "");
    ck_assert_msg(tb.nsamples == c->n, "%s: %zu samples, want %zu", c->desc, tb.nsamples, c->n);
    for (i = 0; i < c->n; i++) {
        check_sample(c->desc, i, &tb.samples[i], &c->s[i]);
    }
}
END_TEST

START_TEST(test_valid_split)
{
    const struct valid_case *c = &valid_cases[_i];
    size_t len = strlen(c->in), k;
    struct batch ref;
    char why[256];
    int rc;

    batch_init(&ref);
    ck_assert_int_eq(parse_split(tp, &ref, c->fmt, c->in, len, len, 0), 0);
    for (k = 0; k <= len; k++) {
        rc = parse_split(tp, &tb, c->fmt, c->in, len, k, 0);
        if (rc != 0) {
            ck_abort_msg("%s: split at %zu: %s", c->desc, k, prom_parser_error(tp));
        }
        if (!same_samples(&ref, &tb, why, sizeof(why))) {
            ck_abort_msg("%s: split at %zu: %s", c->desc, k, why);
        }
    }
    rc = parse_split(tp, &tb, c->fmt, c->in, len, 0, 1);
    ck_assert_msg(rc == 0, "%s: byte by byte: %s", c->desc, prom_parser_error(tp));
    ck_assert_msg(same_samples(&ref, &tb, why, sizeof(why)), "%s: byte by byte: %s", c->desc, why);
    batch_release(&ref);
}
END_TEST

START_TEST(test_invalid)
{
    const struct invalid_case *c = &invalid_cases[_i];
    size_t len = c->len != 0 ? c->len : strlen(c->in), k;
    int rc;

    rc = parse_split(tp, &tb, c->fmt, c->in, len, len, 0);
    ck_assert_msg(rc == -EINVAL, "input %zu: rc %d, want -EINVAL", (size_t)_i, rc);
    ck_assert_str_eq(prom_parser_error(tp), c->error);
    /* The same error wherever the input is split, and byte by byte. */
    for (k = 0; k <= len; k++) {
        rc = parse_split(tp, &tb, c->fmt, c->in, len, k, 0);
        if (rc != -EINVAL || strcmp(prom_parser_error(tp), c->error) != 0) {
            ck_abort_msg("input %zu split at %zu: rc %d, error \"%s\"", (size_t)_i, k, rc,
                         prom_parser_error(tp));
        }
    }
    rc = parse_split(tp, &tb, c->fmt, c->in, len, 0, 1);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_str_eq(prom_parser_error(tp), c->error);
}
END_TEST

START_TEST(test_error_is_sticky)
{
    static const char bad[] = "a 1\nb x\nc 3\n";
    char msg[BATCH_ERROR_MAX];

    prom_parser_reset(tp, TEXT, &tb);
    ck_assert_int_eq(prom_parser_feed(tp, bad, sizeof(bad) - 1), -EINVAL);
    ck_assert_uint_eq(tb.nsamples, 1); /* the line before the error */
    snprintf(msg, sizeof(msg), "%s", prom_parser_error(tp));
    ck_assert_str_eq(msg, "parse error at line 2: invalid value \"x\" for metric \"b\"");
    ck_assert_int_eq(prom_parser_feed(tp, "d 4\n", 4), -EINVAL);
    ck_assert_int_eq(prom_parser_finish(tp), -EINVAL);
    ck_assert_uint_eq(tb.nsamples, 1);
    ck_assert_str_eq(prom_parser_error(tp), msg);

    /* reset clears it; the same parser serves the next body, in the other format too */
    batch_clear(&tb);
    prom_parser_reset(tp, OM, &tb);
    ck_assert_str_eq(prom_parser_error(tp), "");
    ck_assert_int_eq(prom_parser_feed(tp, "x 1\n# EOF\n", 10), 0);
    ck_assert_int_eq(prom_parser_finish(tp), 0);
    ck_assert_uint_eq(tb.nsamples, 1);
}
END_TEST

START_TEST(test_misuse)
{
    ck_assert_int_eq(prom_parser_feed(tp, "a 1\n", 4), -EINVAL);
    ck_assert_ptr_nonnull(strstr(prom_parser_error(tp), "before prom_parser_reset"));
    prom_parser_reset(tp, TEXT, &tb);
    ck_assert_int_eq(prom_parser_feed(tp, "a 1\n", 4), 0);
    ck_assert_int_eq(prom_parser_finish(tp), 0);
    ck_assert_int_eq(prom_parser_finish(tp), -EINVAL);
    prom_parser_reset(tp, TEXT, &tb);
    ck_assert_int_eq(prom_parser_finish(tp), 0);
    ck_assert_int_eq(prom_parser_feed(tp, "a 1\n", 4), -EINVAL);
    prom_parser_free(NULL);
}
END_TEST

/* Consecutive samples share equal strings in the arena instead of copying them again. */
START_TEST(test_shared_strings)
{
    static const char in[] = "m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",b=\"2\"} 2\nm{a=\"1\",b=\"3\"} 3\n";

    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, sizeof(in) - 1, sizeof(in) - 1, 0), 0);
    ck_assert_uint_eq(tb.nsamples, 3);
    ck_assert_ptr_eq(tb.samples[0].name, tb.samples[1].name);
    ck_assert_ptr_eq(tb.samples[0].labels, tb.samples[1].labels);
    ck_assert_ptr_ne(tb.samples[1].labels, tb.samples[2].labels);
    ck_assert_ptr_eq(tb.samples[1].labels[0].value, tb.samples[2].labels[0].value);
    ck_assert_ptr_eq(tb.samples[1].labels[1].name, tb.samples[2].labels[1].name);
    ck_assert_str_eq(tb.samples[2].labels[1].value, "3");
}
END_TEST

/* More labels than the pairwise duplicate check handles. */
START_TEST(test_many_labels)
{
    char in[4096];
    size_t o = 0;
    int i;

    o += (size_t)snprintf(in + o, sizeof(in) - o, "m{");
    for (i = 0; i < 100; i++) {
        o += (size_t)snprintf(in + o, sizeof(in) - o, "l%d=\"v%d\",", i, i);
    }
    o += (size_t)snprintf(in + o, sizeof(in) - o, "} 1\n");
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, o, o, 0), 0);
    ck_assert_uint_eq(tb.samples[0].nlabels, 100);
    ck_assert_str_eq(tb.samples[0].labels[99].name, "l99");
    ck_assert_str_eq(tb.samples[0].labels[99].value, "v99");

    o -= 4; /* before "} 1\n" */
    o += (size_t)snprintf(in + o, sizeof(in) - o, "l37=\"again\"} 1\n");
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, o, o, 0), -EINVAL);
    ck_assert_str_eq(prom_parser_error(tp), "parse error at line 1: duplicate label \"l37\"");
}
END_TEST

/* ---- numbers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random decimals, parsed by the parser (fast path or not) and by strtod: bit-identical. */
START_TEST(test_floats_match_strtod)
{
    char in[128], num[96];
    size_t n, len;
    int i, j, ndig, dot;
    double want;

    for (i = 0; i < 20000; i++) {
        n = 0;
        if (rng() % 4 == 0) {
            num[n++] = '-';
        }
        ndig = 1 + (int)(rng() % 24);
        dot = (int)(rng() % (uint64_t)(ndig + 2)) - 1; /* -1: no dot */
        for (j = 0; j < ndig; j++) {
            if (j == dot) {
                num[n++] = '.';
            }
            num[n++] = (char)('0' + rng() % 10);
        }
        if (rng() % 3 == 0) {
            n += (size_t)snprintf(num + n, sizeof(num) - n, "e%d", (int)(rng() % 80) - 40);
        }
        num[n] = '\0';
        want = strtod(num, NULL);
        len = (size_t)snprintf(in, sizeof(in), "a %s\n", num);
        if (parse_split(tp, &tb, TEXT, in, len, len, 0) != 0) {
            ck_abort_msg("%s: %s", num, prom_parser_error(tp));
        }
        if (!same_double(tb.samples[0].value, want)) {
            ck_abort_msg("%s: got %.17g, want %.17g", num, tb.samples[0].value, want);
        }
    }
}
END_TEST

/* Numbers longer than the parser's stack buffer go through its heap copy. */
START_TEST(test_long_numbers)
{
    char in[1024];
    size_t len;

    len = (size_t)snprintf(in, sizeof(in), "a 0.%0300d1\nb 1%0300d\nc 1%0300de-300\n", 0, 0, 0);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, len, len, 0), 0);
    ck_assert_uint_eq(tb.nsamples, 3);
    ck_assert(same_double(tb.samples[0].value, 1e-301));
    ck_assert(same_double(tb.samples[1].value, 1e300));
    ck_assert(same_double(tb.samples[2].value, 1.0));
}
END_TEST

/* ---- fixtures ---- */

START_TEST(test_fixture_counts)
{
    size_t len, want;
    char *buf = read_fixture(fixture_names[_i], &len);
    uint32_t typed = 0;
    size_t i;

    want = count_sample_lines(buf, len);
    ck_assert_uint_gt(want, 0);
    ck_assert_msg(parse_split(tp, &tb, TEXT, buf, len, len, 0) == 0, "%s: %s", fixture_names[_i],
                  prom_parser_error(tp));
    ck_assert_msg(tb.nsamples == want, "%s: %zu samples, want %zu", fixture_names[_i], tb.nsamples,
                  want);
    for (i = 0; i < tb.nsamples; i++) {
        typed += tb.samples[i].type != SAMPLE_UNTYPED;
    }
    /* node_exporter and Prometheus type every family; VictoriaMetrics types none. */
    if (strcmp(fixture_names[_i], "victoriametrics_self.prom") == 0) {
        ck_assert_uint_eq(typed, 0);
    }
    else {
        ck_assert_uint_gt(typed, tb.nsamples * 9 / 10);
    }
    free(buf);
}
END_TEST

START_TEST(test_fixture_node_exporter_samples)
{
    size_t len, i;
    char *buf = read_fixture("node_exporter.prom", &len);
    const struct sample *s;
    bool seen_os = false;

    ck_assert_int_eq(parse_split(tp, &tb, TEXT, buf, len, len, 0), 0);
    check_sample(
        "node_exporter", 0, &tb.samples[0],
        &(struct exp_sample)S("go_gc_duration_seconds", L("quantile", "0"), 0, SAMPLE_SUMMARY));
    check_sample("node_exporter", 5, &tb.samples[5],
                 &(struct exp_sample)S("go_gc_duration_seconds_sum", NOL, 0, SAMPLE_SUMMARY));
    check_sample("node_exporter", 9, &tb.samples[9],
                 &(struct exp_sample)S("go_memstats_alloc_bytes", NOL, 1780680, SAMPLE_GAUGE));
    for (i = 0; i < tb.nsamples; i++) {
        s = &tb.samples[i];
        if (strcmp(s->name, "node_os_info") == 0) {
            seen_os = true;
            ck_assert_uint_eq(s->nlabels, 12);
            ck_assert_str_eq(s->labels[6].name, "pretty_name");
            ck_assert_str_eq(s->labels[6].value, "Debian GNU/Linux 12 (bookworm)");
        }
    }
    ck_assert(seen_os);
    s = &tb.samples[tb.nsamples - 1];
    check_sample("node_exporter", tb.nsamples - 1, s,
                 &(struct exp_sample)S("promhttp_metric_handler_requests_total", L("code", "503"),
                                       0, SAMPLE_COUNTER));
    free(buf);
}
END_TEST

/*
 * Every single split offset, and byte by byte, gives exactly the one-shot result. That is one full
 * parse per byte of the fixture: ~10 s natively, but most of an hour under valgrind, where memory
 * errors and not the split logic are the point: there it tries every offset of the first and last
 * 2 KiB and every 97th in between (a prime, so the offset within a line keeps changing).
 */
START_TEST(test_fixture_splits)
{
    const size_t edge = 2048, stride = RUNNING_ON_VALGRIND ? 97 : 1;
    size_t len, k;
    char *buf = read_fixture(fixture_names[_i], &len);
    struct batch ref;
    char why[256];
    int rc;

    batch_init(&ref);
    ck_assert_int_eq(parse_split(tp, &ref, TEXT, buf, len, len, 0), 0);
    /* A passing ck_assert*() costs a message in CK_FORK=no mode: only call Check on failure. */
    for (k = 0; k <= len; k += k < edge || k + edge >= len ? 1 : stride) {
        rc = parse_split(tp, &tb, TEXT, buf, len, k, 0);
        if (rc != 0) {
            ck_abort_msg("%s: split at %zu: %s", fixture_names[_i], k, prom_parser_error(tp));
        }
        if (!same_samples(&ref, &tb, why, sizeof(why))) {
            ck_abort_msg("%s: split at %zu: %s", fixture_names[_i], k, why);
        }
    }
    rc = parse_split(tp, &tb, TEXT, buf, len, 0, 1);
    ck_assert_msg(rc == 0, "%s: byte by byte: %s", fixture_names[_i], prom_parser_error(tp));
    ck_assert_msg(same_samples(&ref, &tb, why, sizeof(why)), "%s: byte by byte: %s",
                  fixture_names[_i], why);
    batch_release(&ref);
    free(buf);
}
END_TEST

/*
 * Prometheus' own output is also valid OpenMetrics once "# EOF" is appended (node_exporter's uses
 * "untyped" and VictoriaMetrics' blanks in label sets, which OpenMetrics does not allow).
 */
START_TEST(test_fixture_as_openmetrics)
{
    static const char name[] = "prometheus_self.prom";
    size_t len, n;
    char *buf = read_fixture(name, &len), *om;
    struct batch ref;
    char why[256];

    batch_init(&ref);
    ck_assert_int_eq(parse_split(tp, &ref, TEXT, buf, len, len, 0), 0);
    om = malloc(len + 6);
    ck_assert_ptr_nonnull(om);
    memcpy(om, buf, len);
    memcpy(om + len, "# EOF\n", 6);
    n = len + 6;
    ck_assert_msg(parse_split(tp, &tb, OM, om, n, n, 0) == 0, "%s: %s", name,
                  prom_parser_error(tp));
    ck_assert_msg(same_samples(&ref, &tb, why, sizeof(why)), "%s: %s", name, why);
    ck_assert_int_eq(parse_split(tp, &tb, OM, om, n, 0, 4093), 0);
    ck_assert(same_samples(&ref, &tb, why, sizeof(why)));
    batch_release(&ref);
    free(om);
    free(buf);
}
END_TEST

/*
 * OpenMetrics: tens of thousands of Metrics in one family (the table of Metrics grows), in an
 * order that is not sorted; one that comes back at the end is found, and named with its line.
 * The table is given back when the parser goes idle.
 */
START_TEST(test_om_many_metrics)
{
    const size_t n = 50000;
    size_t cap = 64 * n + 256, len = 0;
    char *in = malloc(cap);
    int rc;

    ck_assert_ptr_nonnull(in);
    len += (size_t)snprintf(in + len, cap - len, "# TYPE m gauge\n");
    for (size_t i = 0; i < n; i++) {
        len +=
            (size_t)snprintf(in + len, cap - len, "m{i=\"%zu\",j=\"x\"} %zu\n", (i * 7919) % n, i);
    }
    memcpy(in + len, "# EOF\n", 7);
    rc = parse_split(tp, &tb, OM, in, len + 6, len + 6, 0);
    ck_assert_msg(rc == 0, "%s", prom_parser_error(tp));
    ck_assert_uint_eq(tb.nsamples, n);
    size_t busy = prom_parser_mem_size(tp);
    ck_assert_uint_gt(busy, n * 4);
    prom_parser_idle(tp);
    ck_assert_uint_lt(prom_parser_mem_size(tp) + n * 4, busy);

    /* Line 2 is m{i="0"}: it comes back on line n + 2, after line n + 1's Metric. */
    len += (size_t)snprintf(in + len, cap - len, "m{j=\"x\",i=\"0\"} 1\n# EOF\n");
    rc = parse_split(tp, &tb, OM, in, strlen(in), strlen(in), 0);
    ck_assert_int_eq(rc, -EINVAL);
    char want[256];
    snprintf(want, sizeof(want),
             "parse error at line %zu: metric family \"m\": the Metric {j=\"x\",i=\"0\"} from line "
             "2 is interleaved with others (another began on line %zu)",
             n + 2, n + 1);
    ck_assert_str_eq(prom_parser_error(tp), want);
    /* The text format takes it. */
    in[len - 6] = '\0';
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, len - 6, len - 6, 0), 0);
    ck_assert_uint_eq(tb.nsamples, n + 1);
    free(in);
}
END_TEST

/*
 * Hash collisions give no false error: with most bits of every LabelSet hash dropped (then all
 * of them), each valid OpenMetrics input parses as before, and so do 2,000 Metrics in one family.
 */
START_TEST(test_om_collisions_no_false_error)
{
    static const uint64_t drops[] = {~UINT64_C(3), ~UINT64_C(0)};
    struct batch ref;
    char why[256], line[64];
    size_t cap = 64 * 2000 + 64, len = 0;
    char *in = malloc(cap);

    ck_assert_ptr_nonnull(in);
    len += (size_t)snprintf(in + len, cap - len, "# TYPE m counter\n");
    for (size_t i = 0; i < 2000; i++) {
        snprintf(line, sizeof(line), "m_total{i=\"%zu\"} %zu\n", (i * 7) % 2000, i);
        len += (size_t)snprintf(in + len, cap - len, "%s", line);
    }
    len += (size_t)snprintf(in + len, cap - len, "# EOF\n");
    batch_init(&ref);
    for (size_t d = 0; d < sizeof(drops) / sizeof(drops[0]); d++) {
        for (size_t c = 0; c < sizeof(valid_cases) / sizeof(valid_cases[0]); c++) {
            const struct valid_case *vc = &valid_cases[c];
            size_t n = strlen(vc->in);
            if (vc->fmt != OM) {
                continue;
            }
            tp->om_mkey_drop = 0;
            ck_assert_int_eq(parse_split(tp, &ref, OM, vc->in, n, n, 0), 0);
            tp->om_mkey_drop = drops[d];
            ck_assert_msg(parse_split(tp, &tb, OM, vc->in, n, n, 0) == 0, "%s: %s", vc->desc,
                          prom_parser_error(tp));
            ck_assert_msg(same_samples(&ref, &tb, why, sizeof(why)), "%s: %s", vc->desc, why);
        }
        tp->om_mkey_drop = drops[d];
        ck_assert_msg(parse_split(tp, &tb, OM, in, len, len, 0) == 0, "%s", prom_parser_error(tp));
        ck_assert_uint_eq(tb.nsamples, 2000);
    }
    /* Two LabelSets with one hash read as one Metric: the second's _sum is no repeat. */
    static const char merged[] = "# TYPE s summary\ns_count{a=\"1\"} 1\ns_sum{a=\"2\"} 1\n"
                                 "s_sum{a=\"1\"} 1\n# EOF\n";
    tp->om_mkey_drop = ~UINT64_C(0);
    ck_assert_msg(parse_split(tp, &tb, OM, merged, strlen(merged), strlen(merged), 0) == 0, "%s",
                  prom_parser_error(tp));
    /* With a few bits left, a Metric that comes back is still found. */
    tp->om_mkey_drop = ~UINT64_C(3);
    len -= 6;
    len += (size_t)snprintf(in + len, cap - len, "m_total{i=\"0\"} 1\n# EOF\n");
    ck_assert_int_eq(parse_split(tp, &tb, OM, in, len, len, 0), -EINVAL);
    ck_assert_str_eq(
        prom_parser_error(tp),
        "parse error at line 2002: metric family \"m\": the Metric {i=\"0\"} from line "
        "2 is interleaved with others (another began on line 2001)");
    batch_release(&ref);
    free(in);
}
END_TEST

/* ---- the line length limit ---- */

#define MIB (1024 * 1024)

static size_t
heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

/* Between bodies the parser holds no line tail, and parses as before afterwards. */
START_TEST(test_idle_frees_buffers)
{
    static const char in[] = "# HELP a x\n# TYPE a counter\na_total{l=\"1\"} 1\n"
                             "a_total{l=\"2\"} 2\nb{x=\"y\",z=\"w\"} 3\n";

    struct prom_parser *fresh = prom_parser_new();
    ck_assert_ptr_nonnull(fresh);
    size_t bare = prom_parser_mem_size(fresh);
    prom_parser_free(fresh);
    for (int round = 0; round < 3; round++) {
        /* in pieces of 7 bytes: the tail buffer is used */
        ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, sizeof(in) - 1, 0, 7), 0);
        ck_assert_uint_eq(tb.nsamples, 3);
        ck_assert_str_eq(tb.samples[2].name, "b");
        size_t busy = prom_parser_mem_size(tp);
        ck_assert_uint_gt(busy, bare + 4000);
        prom_parser_idle(tp);
        ck_assert_uint_le(prom_parser_mem_size(tp) + 4000, busy);
        /* the samples are the batch's */
        ck_assert_str_eq(tb.samples[2].labels[1].value, "w");
    }
    ck_assert_int_eq(prom_parser_feed(tp, "c 1\n", 4), -EINVAL); /* reset comes first */
}
END_TEST

/* A 2 MiB line fed in 64 KiB chunks fails once it passes 1 MiB, holding at most ~1 MiB. */
START_TEST(test_long_line_chunked)
{
    const size_t chunk = 65536, big = 2 * MIB;
    char *in = malloc(big + 16);
    size_t off, n, heap0, heap_max = 0, mem_max = 0;
    int rc = 0;

    ck_assert_ptr_nonnull(in);
    memcpy(in, "a 1\n", 4);
    memset(in + 4, 'x', big);
    memcpy(in + 4 + big, "\nb 2\n", 5);
    prom_parser_reset(tp, TEXT, &tb);
    heap0 = heap_in_use();
    for (off = 0; off < big + 9; off += n) {
        n = big + 9 - off < chunk ? big + 9 - off : chunk;
        rc = prom_parser_feed(tp, in + off, n);
        if (heap_in_use() > heap0 && heap_in_use() - heap0 > heap_max) {
            heap_max = heap_in_use() - heap0;
        }
        if (prom_parser_mem_size(tp) > mem_max) {
            mem_max = prom_parser_mem_size(tp);
        }
        if (rc != 0) {
            break;
        }
    }
    ck_assert_int_eq(rc, -E2BIG);
    ck_assert_uint_le(off, PROM_PARSE_LINE_MAX + chunk); /* failed as soon as it passed 1 MiB */
    ck_assert_str_eq(prom_parser_error(tp), "line 2 longer than 1048576 bytes");
    ck_assert_uint_eq(tb.nsamples, 1);
    ck_assert_uint_le(mem_max, PROM_PARSE_LINE_MAX + 16384);
    ck_assert_uint_le(heap_max, PROM_PARSE_LINE_MAX + 65536);
    /* further feeds are no-ops */
    ck_assert_int_eq(prom_parser_feed(tp, "c 3\n", 4), -E2BIG);
    ck_assert_int_eq(prom_parser_finish(tp), -E2BIG);
    ck_assert_uint_eq(tb.nsamples, 1);
    /* and the buffer is given back at the next reset */
    prom_parser_reset(tp, TEXT, &tb);
    ck_assert_uint_lt(prom_parser_mem_size(tp), 65536);
    free(in);
}
END_TEST

/* The same 2 MiB line in one feed fails without copying anything. */
START_TEST(test_long_line_one_shot)
{
    const size_t big = 2 * MIB;
    char *in = malloc(big + 16);
    size_t heap0, heap1;

    ck_assert_ptr_nonnull(in);
    memcpy(in, "a 1\n", 4);
    memset(in + 4, 'x', big);
    memcpy(in + 4 + big, "\nb 2\n", 5);
    prom_parser_reset(tp, OM, &tb);
    heap0 = heap_in_use();
    ck_assert_int_eq(prom_parser_feed(tp, in, big + 9), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 2 longer than 1048576 bytes");
    ck_assert_uint_lt(prom_parser_mem_size(tp), 65536);
    heap1 = heap_in_use();
    /* the batch's first arena block and sample array, but no copy of the line */
    ck_assert_uint_lt(heap1 > heap0 ? heap1 - heap0 : 0, MIB / 4);

    /* Unterminated at the end of the body: also rejected, at feed time. */
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, big + 4, big + 4, 0), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 2 longer than 1048576 bytes");
    free(in);
}
END_TEST

/* Fills @in with the line a{x="xx...x"} 1 of @len bytes plus its '\n'. */
static void
make_line(char *in, size_t len)
{
    memcpy(in, "a{x=\"", 5);
    memset(in + 5, 'x', len - 5 - 4);
    memcpy(in + len - 4, "\"} 1\n", 5);
}

/* A line of exactly PROM_PARSE_LINE_MAX bytes (without '\n') is fine; one byte more is not. */
START_TEST(test_line_max_boundary)
{
    const size_t max = PROM_PARSE_LINE_MAX;
    char *in = malloc(max + 2);

    ck_assert_ptr_nonnull(in);
    make_line(in, max);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max + 1, max + 1, 0), 0);
    ck_assert_uint_eq(strlen(tb.samples[0].labels[0].value), max - 9);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max + 1, 7, 65536), 0);
    ck_assert_uint_eq(tb.nsamples, 1);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max, max, 0), 0); /* no '\n' */
    ck_assert_uint_eq(tb.nsamples, 1);

    make_line(in, max + 1);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max + 2, max + 2, 0), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 1 longer than 1048576 bytes");
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max + 2, 7, 65536), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 1 longer than 1048576 bytes");
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, max + 1, max + 1, 0), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 1 longer than 1048576 bytes");
    free(in);
}
END_TEST

/*
 * A smaller cap (line_size_limit): a line of exactly the cap is fine, one byte more is -E2BIG
 * however the body is cut, the error names the cap; 0 restores the default.
 */
START_TEST(test_line_max_configured)
{
    char in[256];

    prom_parser_set_line_max(tp, 100);
    make_line(in, 100);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, 101, 101, 0), 0);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, 101, 7, 13), 0);
    make_line(in, 101);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, 102, 102, 0), -E2BIG);
    ck_assert_str_eq(prom_parser_error(tp), "line 1 longer than 100 bytes");
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, 102, 7, 13), -E2BIG);
    ck_assert_int_eq(parse_split(tp, &tb, OM, in, 102, 50, 1), -E2BIG);
    prom_parser_set_line_max(tp, 0);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, 102, 102, 0), 0);
}
END_TEST

/* ---- helpers of the API ---- */

START_TEST(test_content_type)
{
    static const struct {
        const char *ct;
        enum prom_format want;
    } cases[] = {
        {NULL, TEXT},
        {"", TEXT},
        {"text/plain; version=0.0.4; charset=utf-8", TEXT},
        {"application/openmetrics-text; version=1.0.0; charset=utf-8", OM},
        {"application/openmetrics-text;version=0.0.1", OM},
        {"Application/OpenMetrics-Text", OM},
        {"  application/openmetrics-text", OM},
        {"application/openmetrics-textual", TEXT},
        {"application/openmetrics", TEXT},
        {"application/json", TEXT},
    };
    enum prom_format f;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(prom_parse_format_from_content_type(cases[i].ct) == cases[i].want,
                      "content type %s", cases[i].ct != NULL ? cases[i].ct : "(null)");
    }
    ck_assert_int_eq(prom_parse_format_from_name("prom", &f), 0);
    ck_assert_int_eq(f, TEXT);
    ck_assert_int_eq(prom_parse_format_from_name("openmetrics", &f), 0);
    ck_assert_int_eq(f, OM);
    ck_assert_int_eq(prom_parse_format_from_name("text", &f), 0);
    ck_assert_int_eq(f, TEXT);
    ck_assert_int_eq(prom_parse_format_from_name("json", &f), -EINVAL);
    ck_assert_int_eq(prom_parse_format_from_name(NULL, &f), -EINVAL);
    ck_assert_str_eq(prom_parse_format_name(OM), "openmetrics");
    ck_assert_str_eq(prom_parse_format_name(TEXT), "prom");
    ck_assert_str_eq(PROM_PARSE_ACCEPT,
                     "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
}
END_TEST

/* Error messages quote input safely: escaped, cut, and valid UTF-8 within BATCH_ERROR_MAX. */
START_TEST(test_error_quoting)
{
    char in[600];
    const char *err;
    size_t len;

    len = (size_t)snprintf(in, sizeof(in), "%0200d 1\n", 0);
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, len, len, 0), -EINVAL);
    ck_assert_str_eq(prom_parser_error(tp),
                     "parse error at line 1: expected a metric name at the start of the line, got "
                     "\"0000000000000000000000000000000000000000000000000000000000...\"");

    memset(in, 0, sizeof(in));
    memcpy(in, "a ", 2);
    for (len = 2; len < 2 + 3 * 150; len += 3) {
        memcpy(in + len, "\xe2\x9c\x93", 3); /* U+2713 */
    }
    in[len++] = '\n';
    ck_assert_int_eq(parse_split(tp, &tb, TEXT, in, len, len, 0), -EINVAL);
    err = prom_parser_error(tp);
    ck_assert_uint_lt(strlen(err), BATCH_ERROR_MAX);
    ck_assert_ptr_nonnull(strstr(err, "\xe2\x9c\x93...\" for metric \"a\""));
}
END_TEST

/*
 * A big body in windows (prom_parser_set_out() after every sample here): the same outcome as the
 * whole body's parse, also where a rule needs the sample before the cut: a series repeated right
 * after it, a Metric interleaved whose lookup the cut makes early (a syntax error on the next
 * line is still the one told, as in the whole parse).
 */
static const char *const window_cases[] = {
    ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
     "h_count 1\nh_sum 1\n# EOF\n"),
    "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\nb{ 1\n# EOF\n",
    "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n",
};

START_TEST(test_windows_same_as_whole)
{
    const char *body = window_cases[_i];
    struct prom_parser *whole = prom_parser_new(), *win = prom_parser_new();
    struct batch bw, bx[2];
    int rw, rx = 0, cur = 0;

    ck_assert(whole != NULL && win != NULL);
    batch_init(&bw);
    batch_init(&bx[0]);
    batch_init(&bx[1]);
    prom_parser_reset(whole, PROM_FORMAT_OPENMETRICS, &bw);
    rw = prom_parser_feed(whole, body, strlen(body));
    if (rw == 0) {
        rw = prom_parser_finish(whole);
    }
    ck_assert_int_ne(rw, 0);
    prom_parser_reset(win, PROM_FORMAT_OPENMETRICS, &bx[0]);
    for (const char *l = body; *l != '\0' && rx == 0;) {
        const char *nl = strchr(l, '\n');
        rx = prom_parser_feed(win, l, (size_t)(nl - l) + 1);
        l = nl + 1;
        if (rx == 0 && bx[cur].nsamples > 0) {
            cur = !cur;
            batch_clear(&bx[cur]);
            rx = prom_parser_set_out(win, &bx[cur]);
        }
    }
    if (rx == 0) {
        rx = prom_parser_finish(win);
    }
    ck_assert_int_eq(rx, rw);
    ck_assert_str_eq(prom_parser_error(win), prom_parser_error(whole));
    prom_parser_free(whole);
    prom_parser_free(win);
    batch_release(&bw);
    batch_release(&bx[0]);
    batch_release(&bx[1]);
}
END_TEST

/*
 * A second pass from a mark inside an OpenMetrics histogram's MetricPoint (after its +Inf
 * bucket): the rules across lines are not checked again (the first pass did), so the rest of the
 * MetricPoint, without its buckets, parses.
 */
START_TEST(test_resume_inside_a_metricpoint)
{
    static const char head[] =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n";
    static const char rest[] = "h_count 1\nh_sum 1\n# EOF\n";
    struct prom_parser *first = prom_parser_new(), *again = prom_parser_new();
    struct prom_parse_mark m;
    struct batch b1, b2;
    const char *tail;
    size_t tail_len;

    ck_assert(first != NULL && again != NULL);
    batch_init(&b1);
    batch_init(&b2);
    prom_parser_reset(first, PROM_FORMAT_OPENMETRICS, &b1);
    ck_assert_int_eq(prom_parser_feed(first, head, strlen(head)), 0);
    ck_assert_int_eq(prom_parser_mark(first, &m, &tail, &tail_len), 0);
    ck_assert_uint_eq(tail_len, 0);
    ck_assert_int_eq(prom_parser_resume(again, &m, &b2), 0);
    ck_assert_int_eq(prom_parser_feed(again, rest, strlen(rest)), 0);
    ck_assert_msg(prom_parser_finish(again) == 0, "%s", prom_parser_error(again));
    ck_assert_uint_eq(b2.nsamples, 2);
    ck_assert_str_eq(b2.samples[1].name, "h_sum");
    ck_assert_uint_eq(b2.samples[1].type, SAMPLE_HISTOGRAM);
    prom_parse_mark_release(&m);
    prom_parser_free(first);
    prom_parser_free(again);
    batch_release(&b1);
    batch_release(&b2);
}
END_TEST

static Suite *
prom_parse_suite(void)
{
    Suite *s = suite_create("prom_parse");
    TCase *tc;

    tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_valid_split, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_test(tc, test_shared_strings);
    tcase_add_test(tc, test_many_labels);
    tcase_add_test(tc, test_idle_frees_buffers);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_test(tc, test_error_is_sticky);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_error_quoting);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_floats_match_strtod);
    tcase_add_test(tc, test_long_numbers);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_fixture_counts, 0, NFIXTURES);
    tcase_add_test(tc, test_fixture_node_exporter_samples);
    tcase_add_test(tc, test_fixture_as_openmetrics);
    tcase_add_test(tc, test_om_many_metrics);
    tcase_add_test(tc, test_om_collisions_no_false_error);
    suite_add_tcase(s, tc);

    /* Tens of thousands of full parses per fixture: seconds natively, minutes under valgrind. */
    tc = tcase_create("splits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_fixture_splits, 0, NFIXTURES);
    tcase_set_timeout(tc, 3600);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_long_line_chunked);
    tcase_add_test(tc, test_long_line_one_shot);
    tcase_add_test(tc, test_line_max_boundary);
    tcase_add_test(tc, test_line_max_configured);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_content_type);
    tcase_add_test(tc, test_resume_inside_a_metricpoint);
    tcase_add_loop_test(tc, test_windows_same_as_whole, 0,
                        (int)(sizeof(window_cases) / sizeof(window_cases[0])));
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(prom_parse_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
