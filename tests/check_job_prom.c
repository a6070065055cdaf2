/*
 * Tests for the prometheus job kind through the engine's once mode against mock targets on the
 * same loop: fixtures parse completely, the format follows Content-Type, the request carries the
 * Prometheus headers, failures forward no partial samples, and the scrape semantics
 * (honor_labels, honor_timestamps, sample_limit, label_limit, metric relabeling, synthetic
 * series) match Prometheus'.
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
#include "engine.h"
#include "job_prom.h"
#include "loop.h"
#include "mock_server.h"
#include "out_stdout.h"
#include "stats.h"
#include "testutil.h"

TESTUTIL_ONCE_FIXTURE

static const struct label static_labels[] = {{"env", "prod"}, {"team", "db"}};

static void
add(const char *path, struct prom_opts *po, bool with_labels)
{
    char url[2048], err[256];
    struct prom_opts def = {.honor_timestamps = true};

    if (po == NULL) {
        po = &def;
    }
    po->timeout_ms = 2000;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    struct target_spec spec = {
        .job = "node",
        .url = url,
        .instance = "db1:9100",
        .labels = with_labels ? static_labels : NULL,
        .nlabels = with_labels ? 2 : 0,
        .timeout_ms = 2000,
        .body_limit = 1 << 20,
        .kind = &job_prom,
        .kind_state = job_prom_new(po),
    };
    ck_assert_ptr_nonnull(spec.kind_state);
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
}

/* Runs once and returns the single batch line. */
static json_object *
run_one(json_object **lines)
{
    engine_run_once(eng);
    *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(*lines), 1);
    return json_object_array_get_idx(*lines, 0);
}

static size_t
count_lines_without_comments(const char *name)
{
    char path[1024], line[65536];
    const char *fx = getenv("FIXTURES");
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/%s", fx != NULL ? fx : "tests/fixtures", name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] != '#' && line[0] != '\n') {
            n++;
        }
    }
    fclose(f);
    return n;
}

START_TEST(test_fixtures_scrape_completely)
{
    static const char *const fixtures[] = {"node_exporter.prom", "prometheus_self.prom",
                                           "victoriametrics_self.prom"};
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        json_object *lines;
        snprintf(path, sizeof(path), "/file/%s", fixtures[i]);
        add(path, NULL, true);
        json_object *b = run_one(&lines);
        size_t want = count_lines_without_comments(fixtures[i]);
        ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s: %s", fixtures[i],
                      testutil_str(b, "error"));
        ck_assert_str_eq(testutil_str(b, "instance"), "db1:9100");
        ck_assert_str_eq(testutil_str(testutil_field(b, "labels"), "env"), "prod");
        ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), want + 4);
        ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == (double)want);
        ck_assert(testutil_sample_value(b, "up", NULL, NULL) == 1);
        ck_assert(testutil_find_sample(b, "scrape_samples_post_metric_relabeling", NULL, NULL) ==
                  NULL);
        json_object_put(lines);
        /* One target per engine run: start the next one fresh. */
        teardown();
        setup();
    }
}
END_TEST

START_TEST(test_gzip_chunked_fixture)
{
    json_object *lines;

    add("/gzfile/node_exporter.prom", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) ==
              (double)count_lines_without_comments("node_exporter.prom"));
    ck_assert(testutil_sample_value(b, "node_load1", NULL, NULL) >= 0);
    json_object_put(lines);
}
END_TEST

START_TEST(test_body_size_limit)
{
    char url[256], err[256];
    struct prom_opts po = {.honor_timestamps = true, .timeout_ms = 2000};
    json_object *lines;

    /* The limit applies to the decoded body: a gzip bomb cannot get past it. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/gzfile/node_exporter.prom",
             mock_server_port(mock));
    struct target_spec spec = {
        .job = "node",
        .url = url,
        .timeout_ms = 2000,
        .body_limit = 20000,
        .kind = &job_prom,
        .kind_state = job_prom_new(&po),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    json_object *b = run_one(&lines);
    ck_assert_str_eq(testutil_str(b, "reason"), "too_large");
    ck_assert_str_eq(testutil_str(b, "error"), "body larger than 20000 bytes");
    ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), 4);
    json_object_put(lines);
}
END_TEST

/* A label with an empty value is no label, as in Prometheus (and before relabeling). */
START_TEST(test_empty_label_values_dropped)
{
    json_object *lines;

    add("/text/x%7Ba%3D%22%22%2Cb%3D%221%22%2Cc%3D%22%22%7D%201%0Ay%7Bd%3D%22%22%7D%202%0A", NULL,
        false);
    json_object *b = run_one(&lines);
    json_object *x = testutil_find_sample(b, "x", NULL, NULL);
    json_object *xl = testutil_field(x, "labels");
    ck_assert_int_eq(json_object_object_length(xl), 1);
    ck_assert_str_eq(testutil_str(xl, "b"), "1");
    json_object *y = testutil_find_sample(b, "y", NULL, NULL);
    ck_assert_int_eq(json_object_object_length(testutil_field(y, "labels")), 0);
    json_object_put(lines);
}
END_TEST

START_TEST(test_request_headers)
{
    json_object *lines;

    add("/file/node_exporter.prom", NULL, false);
    run_one(&lines);
    const char *h = mock_server_last_headers(mock);
    ck_assert_msg(strstr(h, "Accept: application/openmetrics-text;version=1.0.0") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "text/plain;version=0.0.4") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "X-Prometheus-Scrape-Timeout-Seconds: 2\n") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "User-Agent: pollster/" PACKAGE_VERSION "\n") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "Accept-Encoding: ") != NULL, "%s", h);
    json_object_put(lines);
}
END_TEST

START_TEST(test_compression_off)
{
    char url[256], err[256];
    struct prom_opts po = {.honor_timestamps = true, .timeout_ms = 2000};
    json_object *lines;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/gzfile/node_exporter.prom",
             mock_server_port(mock));
    struct target_spec spec = {
        .job = "node",
        .url = url,
        .timeout_ms = 2000,
        .http = {.no_compression = true},
        .kind = &job_prom,
        .kind_state = job_prom_new(&po),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    json_object *b = run_one(&lines);
    const char *h = mock_server_last_headers(mock);
    ck_assert_msg(strstr(h, "Accept-Encoding") == NULL, "%s", h);
    /* This mock sends gzip regardless; without Accept-Encoding curl does not decode it. */
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    json_object_put(lines);
}
END_TEST

START_TEST(test_openmetrics_by_content_type)
{
    json_object *lines;

    /* Valid OpenMetrics (with # EOF and a float-seconds timestamp) served as such. */
    add("/om/%23%20TYPE%20a%20counter%0Aa_total%201%201700000000.5%0A%23%20EOF%0A", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    json_object *s = testutil_find_sample(b, "a_total", NULL, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(json_object_get_int64(testutil_field(s, "ts_ms")), 1700000000500LL);
    ck_assert_str_eq(testutil_str(s, "type"), "counter");
    json_object_put(lines);
}
END_TEST

START_TEST(test_openmetrics_without_eof_fails)
{
    json_object *lines;

    add("/om/a%201%0A", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "parse");
    ck_assert_msg(strncmp(testutil_str(b, "error"), "parse error at line", 19) == 0, "%s",
                  testutil_str(b, "error"));
    ck_assert(testutil_find_sample(b, "a", NULL, NULL) == NULL);
    json_object_put(lines);
}
END_TEST

START_TEST(test_malformed_body_no_partial_samples)
{
    json_object *lines;

    add("/text/good%201%0Agood2%202%0Abad%7Bx%3D%22y%22%201%0A", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "parse");
    ck_assert_msg(strncmp(testutil_str(b, "error"), "parse error at line 3: ", 23) == 0, "%s",
                  testutil_str(b, "error"));
    /* Only the synthetic series: up, duration, scraped, timeout. */
    ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), 4);
    ck_assert(testutil_sample_value(b, "up", NULL, NULL) == 0);
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == 0);
    json_object_put(lines);
}
END_TEST

START_TEST(test_http_error_not_parsed)
{
    json_object *lines;

    add("/status/503", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert_str_eq(testutil_str(b, "reason"), "http_5xx");
    ck_assert_str_eq(testutil_str(b, "error"), "HTTP 503");
    ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), 4);
    json_object_put(lines);
}
END_TEST

START_TEST(test_empty_body_is_ok)
{
    json_object *lines;

    add("/text/", NULL, false);
    json_object *b = run_one(&lines);
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == 0);
    json_object_put(lines);
}
END_TEST

START_TEST(test_honor_labels)
{
    static const char body[] =
        "/text/m%7Bjob%3D%22x%22%2Cinstance%3D%22i%22%2Cenv%3D%22dev%22%2Cexported_env%3D%22q%22%"
        "2Cok%3D%221%22%7D%201%0A";
    json_object *lines;
    struct prom_opts po = {.honor_timestamps = true};

    add(body, NULL, true);
    json_object *b = run_one(&lines);
    json_object *s = testutil_find_sample(b, "m", NULL, NULL);
    json_object *l = testutil_field(s, "labels");
    /* Conflicts with target labels (job, instance, env) get exported_, repeated if needed. */
    ck_assert_str_eq(testutil_str(l, "exported_job"), "x");
    ck_assert_str_eq(testutil_str(l, "exported_instance"), "i");
    /* exported_env is taken by an exposed label: the prefix repeats. */
    ck_assert_str_eq(testutil_str(l, "exported_env"), "q");
    ck_assert_str_eq(testutil_str(l, "exported_exported_env"), "dev");
    ck_assert_str_eq(testutil_str(l, "ok"), "1");
    ck_assert(!json_object_object_get_ex(l, "job", NULL));
    json_object_put(lines);

    teardown();
    setup();
    po.honor_labels = true;
    add(body, &po, true);
    b = run_one(&lines);
    l = testutil_field(testutil_find_sample(b, "m", NULL, NULL), "labels");
    ck_assert_str_eq(testutil_str(l, "job"), "x");
    ck_assert_str_eq(testutil_str(l, "env"), "dev");
    json_object_put(lines);
}
END_TEST

START_TEST(test_honor_timestamps)
{
    json_object *lines;
    struct prom_opts po = {.honor_timestamps = false};

    add("/text/a%201%201700000000000%0A", &po, false);
    json_object *b = run_one(&lines);
    ck_assert(!json_object_object_get_ex(testutil_find_sample(b, "a", NULL, NULL), "ts_ms", NULL));
    json_object_put(lines);
    teardown();
    setup();
    add("/text/a%201%201700000000000%0A", NULL, false);
    b = run_one(&lines);
    ck_assert_int_eq(
        json_object_get_int64(testutil_field(testutil_find_sample(b, "a", NULL, NULL), "ts_ms")),
        1700000000000LL);
    json_object_put(lines);
}
END_TEST

START_TEST(test_sample_limit)
{
    json_object *lines;
    struct prom_opts po = {.honor_timestamps = true, .sample_limit = 100};

    add("/file/node_exporter.prom", &po, false);
    json_object *b = run_one(&lines);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "limit");
    ck_assert_str_eq(testutil_str(b, "error"), "sample_limit exceeded: more than 100 samples");
    ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), 4);
    json_object_put(lines);
}
END_TEST

/*
 * Prometheus' label limits count and measure the series as stored: __name__, the sample's
 * labels and the target labels (job "node", instance "db1:9100", env, team); a scrape that
 * breaks one fails with Prometheus' message.
 */
static const struct {
    const char *path;
    bool with_labels;
    uint64_t limit, name_len, value_len;
    const char *error; /* NULL: the scrape succeeds */
} limit_cases[] = {
    {"/text/a%7Bx%3D%221%22%2Cy%3D%222%22%7D%201%0A", false, 5, 0, 0, NULL},
    {"/text/a%7Bx%3D%221%22%2Cy%3D%222%22%7D%201%0A", false, 4, 0, 0,
     "label_limit exceeded (metric: a, number of labels: 5, limit: 4)"},
    {"/text/a%7Bx%3D%221%22%2Cy%3D%222%22%7D%201%0A", true, 7, 0, 0, NULL},
    {"/text/a%7Bx%3D%221%22%2Cy%3D%222%22%7D%201%0A", true, 6, 0, 0,
     "label_limit exceeded (metric: a, number of labels: 7, limit: 6)"},
    /* honor_labels: false renames an exposed job to exported_job: 4 labels, as in Prometheus */
    {"/text/a%7Bjob%3D%22j%22%7D%201%0A", false, 4, 0, 0, NULL},
    {"/text/a%7Bjob%3D%22j%22%7D%201%0A", false, 3, 0, 0,
     "label_limit exceeded (metric: a, number of labels: 4, limit: 3)"},
    {"/text/a%7Ba_very_long_label%3D%221%22%7D%201%0A", false, 0, 17, 0, NULL},
    {"/text/a%7Ba_very_long_label%3D%221%22%7D%201%0A", false, 0, 16, 0,
     "label_name_length_limit exceeded (metric: a, label name: a_very_long_label, length: 17, "
     "limit: 16)"},
    {"/text/a%7Bx%3D%22123456789%22%7D%201%0A", false, 0, 0, 9, NULL},
    {"/text/a%7Bx%3D%22123456789%22%7D%201%0A", false, 0, 0, 8,
     "label_value_length_limit exceeded (metric: a, label name: x, value: \"123456789\", length: "
     "9, limit: 8)"},
    {"/text/long_metric_name%201%0A", false, 0, 0, 10,
     "label_value_length_limit exceeded (metric: long_metric_name, label name: __name__, value: "
     "\"long_metric_name\", length: 16, limit: 10)"},
    {"/text/a%201%0A", true, 0, 0, 5,
     "label_value_length_limit exceeded (metric: a, label name: instance, value: \"db1:9100\", "
     "length: 8, limit: 5)"},
};

START_TEST(test_label_limits)
{
    json_object *lines;
    struct prom_opts po = {.honor_timestamps = true,
                           .label_limit = limit_cases[_i].limit,
                           .label_name_length_limit = limit_cases[_i].name_len,
                           .label_value_length_limit = limit_cases[_i].value_len};

    add(limit_cases[_i].path, &po, limit_cases[_i].with_labels);
    json_object *b = run_one(&lines);
    if (limit_cases[_i].error == NULL) {
        ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "case %d: %s", _i,
                      testutil_str(b, "error"));
    }
    else {
        ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
        ck_assert_str_eq(testutil_str(b, "reason"), "limit");
        ck_assert_str_eq(testutil_str(b, "error"), limit_cases[_i].error);
        ck_assert_uint_eq(testutil_count_samples(b, "a"), 0);
    }
    json_object_put(lines);
}
END_TEST

START_TEST(test_metric_relabel)
{
    json_object *lines;
    char err[256];
    struct relabel_rule *rules = calloc(3, sizeof(*rules));
    const char *name[] = {"__name__"};

    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_DROP, name, 1, NULL, "go_.*", NULL, NULL,
                                       err, sizeof(err)),
                     0);
    ck_assert_int_eq(relabel_rule_init(&rules[1], RELABEL_LABELDROP, NULL, 0, NULL, "cpu", NULL,
                                       NULL, err, sizeof(err)),
                     0);
    const char *src[] = {"__name__", "mode"};
    ck_assert_int_eq(relabel_rule_init(&rules[2], RELABEL_REPLACE, src, 2, "/",
                                       "node_cpu_seconds_total/(.*)", "kind", "cpu_$1", err,
                                       sizeof(err)),
                     0);
    struct prom_opts po = {.honor_timestamps = true, .rules = rules, .nrules = 3};
    add("/file/node_exporter.prom", &po, false);
    json_object *b = run_one(&lines);
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_uint_eq(testutil_count_samples(b, "go_goroutines"), 0);
    ck_assert_uint_eq(testutil_count_samples(b, "node_load1"), 1);
    double scraped = testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL);
    double post = testutil_sample_value(b, "scrape_samples_post_metric_relabeling", NULL, NULL);
    ck_assert(scraped == (double)count_lines_without_comments("node_exporter.prom"));
    ck_assert(post < scraped);
    ck_assert_uint_eq(json_object_array_length(testutil_field(b, "samples")), (size_t)post + 5);
    json_object *s = testutil_find_sample(b, "node_cpu_seconds_total", "mode", "idle");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(testutil_str(testutil_field(s, "labels"), "kind"), "cpu_idle");
    ck_assert(!json_object_object_get_ex(testutil_field(s, "labels"), "cpu", NULL));
    json_object_put(lines);
}
END_TEST

/*
 * Targets share parsers: a parser goes back to a small free list once its body is parsed, and
 * the next body gets it with its own target's line_size_limit (not the previous target's).
 */
START_TEST(test_parsers_are_shared_with_each_targets_limit)
{
    json_object *lines;
    struct prom_opts po = {.honor_timestamps = true, .line_size_limit = 40};

    job_prom_free_cache();
    add("/file/node_exporter.prom", &po, false);
    json_object *b = run_one(&lines);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "limit");
    json_object_put(lines);
    ck_assert_uint_eq(job_prom_cached_parsers(), 1);
    teardown();
    setup();
    add("/file/node_exporter.prom", NULL, false);
    b = run_one(&lines);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) ==
              (double)count_lines_without_comments("node_exporter.prom"));
    json_object_put(lines);
    ck_assert_uint_eq(job_prom_cached_parsers(), 1);
    job_prom_free_cache();
    ck_assert_uint_eq(job_prom_cached_parsers(), 0);
}
END_TEST

static Suite *
job_prom_suite(void)
{
    Suite *s = suite_create("job_prom");
    TCase *tc = tcase_create("scrape");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fixtures_scrape_completely);
    tcase_add_test(tc, test_request_headers);
    tcase_add_test(tc, test_empty_label_values_dropped);
    tcase_add_test(tc, test_gzip_chunked_fixture);
    tcase_add_test(tc, test_compression_off);
    tcase_add_test(tc, test_body_size_limit);
    tcase_add_test(tc, test_openmetrics_by_content_type);
    tcase_add_test(tc, test_openmetrics_without_eof_fails);
    tcase_add_test(tc, test_malformed_body_no_partial_samples);
    tcase_add_test(tc, test_http_error_not_parsed);
    tcase_add_test(tc, test_empty_body_is_ok);
    tcase_add_test(tc, test_honor_labels);
    tcase_add_test(tc, test_honor_timestamps);
    tcase_add_test(tc, test_sample_limit);
    tcase_add_loop_test(tc, test_label_limits, 0,
                        (int)(sizeof(limit_cases) / sizeof(limit_cases[0])));
    tcase_add_test(tc, test_metric_relabel);
    tcase_add_test(tc, test_parsers_are_shared_with_each_targets_limit);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(job_prom_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
