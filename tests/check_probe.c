/*
 * Tests for the probe job kind through the engine's once mode: mock targets on the same loop,
 * output captured from the stdout output on a pipe and parsed back with json-c, so the
 * assertions are on the JSON fields a user sees.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api_targets.h"
#include "enc_json.h"
#include "engine.h"
#include "job_probe.h"
#include "loop.h"
#include "mock_server.h"
#include "out_stdout.h"
#include "probe_conn.h"
#include "stats.h"
#include "strbuf.h"
#include "testutil.h"

TESTUTIL_ONCE_FIXTURE

static void
add(const char *path, int64_t timeout_ms, const struct probe_opts *po)
{
    char url[256], err[256];
    struct probe_opts def;

    memset(&def, 0, sizeof(def));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    void *st = job_probe_new(po != NULL ? po : &def, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    struct target_spec spec = {
        .job = "web",
        .url = url,
        .timeout_ms = timeout_ms,
        .body_limit = 1 << 20,
        .fresh_connect = true,
        .http = {.follow_redirects = true},
        .kind = &job_probe,
        .kind_state = st,
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
}

static bool
has_sample(json_object *batch, const char *name)
{
    return testutil_find_sample(batch, name, NULL, NULL) != NULL;
}

START_TEST(test_probe_ok_fields)
{
    add("/ok", 2000, NULL);
    ck_assert_int_eq(engine_run_once(eng), 0);
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);

    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(json_object_get_string(testutil_field(b, "job")), "web");
    ck_assert_int_eq(json_object_get_int(testutil_field(b, "status")), 200);
    ck_assert(json_object_is_type(testutil_field(b, "error"), json_type_null));
    ck_assert(!json_object_object_get_ex(b, "reason", NULL));
    ck_assert(json_object_get_int64(testutil_field(b, "ts_ms")) > 1600000000000LL);
    ck_assert(testutil_sample_value(b, "probe_success", NULL, NULL) == 1);
    ck_assert(testutil_sample_value(b, "probe_http_status_code", NULL, NULL) == 200);
    ck_assert(testutil_sample_value(b, "probe_http_content_length", NULL, NULL) == 6);
    ck_assert(testutil_sample_value(b, "probe_http_uncompressed_body_length", NULL, NULL) == 6);
    ck_assert(testutil_sample_value(b, "probe_http_redirects", NULL, NULL) == 0);
    ck_assert(testutil_sample_value(b, "probe_http_ssl", NULL, NULL) == 0);
    ck_assert(testutil_sample_value(b, "probe_http_version", NULL, NULL) == 1.1);
    ck_assert(testutil_sample_value(b, "probe_duration_seconds", NULL, NULL) > 0);
    static const char *const phases[] = {"resolve", "connect", "tls", "processing", "transfer"};
    for (int i = 0; i < 5; i++) {
        double v = testutil_sample_value(b, "probe_http_duration_seconds", "phase", phases[i]);
        ck_assert(v >= 0 && v < 2);
    }
    ck_assert(testutil_sample_value(b, "probe_http_duration_seconds", "phase", "connect") > 0);
    ck_assert(!has_sample(b, "probe_ssl_earliest_cert_expiry"));
    ck_assert(!has_sample(b, "probe_tls_version_info"));
    ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 0);
    /* blackbox_exporter 0.23 prints 3.668918509e+09 for 127.0.0.1 */
    ck_assert(testutil_sample_value(b, "probe_ip_addr_hash", NULL, NULL) == 3668918509.0);
    ck_assert(testutil_sample_value(b, "probe_ip_protocol", NULL, NULL) == 4);
    double dns = testutil_sample_value(b, "probe_dns_lookup_time_seconds", NULL, NULL);
    ck_assert(dns >= 0 && dns < 2);
    ck_assert(testutil_sample_value(b, "up", NULL, NULL) == 1);
    ck_assert(testutil_sample_value(b, "scrape_samples_scraped", NULL, NULL) == 17);
    ck_assert(testutil_sample_value(b, "scrape_timeout_seconds", NULL, NULL) == 2);
    json_object_put(lines);
}
END_TEST

START_TEST(test_probe_status_codes)
{
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    add("/status/500", 2000, NULL);
    po.valid_status_codes[0] = 404;
    po.n_valid_status_codes = 1;
    add("/status/404", 2000, &po);
    add("/ok", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 2);
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 3);
    for (size_t i = 0; i < 3; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        const char *url = json_object_get_string(testutil_field(b, "url"));
        bool ok = json_object_get_boolean(testutil_field(b, "ok"));
        if (strstr(url, "/status/500") != NULL) {
            ck_assert(!ok);
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "reason")), "http_5xx");
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "error")),
                             "HTTP 500 is not a valid status code");
            ck_assert(testutil_sample_value(b, "probe_http_status_code", NULL, NULL) == 500);
            ck_assert(testutil_sample_value(b, "probe_success", NULL, NULL) == 0);
        }
        else if (strstr(url, "/status/404") != NULL) {
            ck_assert(ok);
            ck_assert(testutil_sample_value(b, "probe_success", NULL, NULL) == 1);
        }
        else {
            ck_assert(!ok); /* 200 is not in [404] */
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "error")),
                             "HTTP 200 is not a valid status code");
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "reason")), "internal");
        }
    }
    json_object_put(lines);
}
END_TEST

START_TEST(test_probe_regexes)
{
    static const char *const bad[] = {"ERROR", NULL};
    static const char *const want[] = {"^status: (ok|healthy)", NULL};
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    po.fail_if_body_matches = bad;
    po.fail_if_body_not_matches = want;
    add("/text/status:%20healthy%0A", 2000, &po);
    add("/text/status:%20ERROR%0A", 2000, &po);
    add("/text/nothing", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 2);
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 3);
    for (size_t i = 0; i < 3; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        const char *url = json_object_get_string(testutil_field(b, "url"));
        if (strstr(url, "healthy") != NULL) {
            ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
            ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 0);
        }
        else if (strstr(url, "ERROR") != NULL) {
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "error")),
                             "body matched fail_if_body_matches_regexp \"ERROR\"");
            ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 1);
        }
        else {
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "error")),
                             "body did not match fail_if_body_not_matches_regexp "
                             "\"^status: (ok|healthy)\"");
            ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 1);
        }
    }
    json_object_put(lines);
}
END_TEST

START_TEST(test_probe_bad_regex_rejected)
{
    static const char *const bad[] = {"(unclosed", NULL};
    struct probe_opts po;
    char err[256];

    memset(&po, 0, sizeof(po));
    po.fail_if_body_matches = bad;
    ck_assert_ptr_null(job_probe_new(&po, err, sizeof(err)));
    static const char want[] = "fail_if_body_matches_regexp: invalid regular expression "
                               "\"(unclosed\": ";
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0 && strlen(err) > strlen(want), "%s", err);
}
END_TEST

START_TEST(test_probe_redirects_counted)
{
    add("/redirect/3", 2000, NULL);
    ck_assert_int_eq(engine_run_once(eng), 0);
    json_object *lines = testutil_read_lines(pipefd[0]);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(testutil_sample_value(b, "probe_http_redirects", NULL, NULL) == 4);
    ck_assert(testutil_sample_value(b, "probe_http_status_code", NULL, NULL) == 200);
    json_object_put(lines);
}
END_TEST

START_TEST(test_probe_failures_concurrent)
{
    char url[64];
    char err[256];
    struct probe_opts def;

    memset(&def, 0, sizeof(def));
    add("/hang", 1000, NULL);
    add("/ok", 1000, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", mock_closed_port());
    struct target_spec spec = {
        .job = "web",
        .url = url,
        .timeout_ms = 1000,
        .kind = &job_probe,
        .kind_state = job_probe_new(&def, err, sizeof(err)),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    ck_assert_int_eq(engine_run_once(eng), 2);
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert_int_eq(json_object_array_length(lines), 3);
    /* Results arrive as they finish: the hanging target last. */
    json_object *last = json_object_array_get_idx(lines, 2);
    ck_assert_str_eq(json_object_get_string(testutil_field(last, "reason")), "timeout");
    ck_assert(testutil_sample_value(last, "probe_success", NULL, NULL) == 0);
    ck_assert(testutil_sample_value(last, "up", NULL, NULL) == 0);
    for (size_t i = 0; i < 2; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        if (!json_object_get_boolean(testutil_field(b, "ok"))) {
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "reason")), "connect");
            ck_assert_str_eq(json_object_get_string(testutil_field(b, "error")),
                             "connect: connection refused");
        }
    }
    json_object_put(lines);
}
END_TEST

START_TEST(test_targets_api)
{
    struct strbuf sb;

    add("/ok", 1000, NULL);
    add("/status/500", 1000, NULL);
    strbuf_init(&sb);
    api_targets_render(&sb, eng);
    json_object *before = json_tokener_parse(sb.data);
    ck_assert_ptr_nonnull(before);
    json_object *list = testutil_field(testutil_field(before, "data"), "activeTargets");
    ck_assert_int_eq(json_object_array_length(list), 2);
    ck_assert_str_eq(testutil_str(json_object_array_get_idx(list, 0), "health"), "unknown");
    json_object_put(before);

    ck_assert_int_eq(engine_run_once(eng), 1);
    strbuf_reset(&sb);
    api_targets_render(&sb, eng);
    json_object *after = json_tokener_parse(sb.data);
    ck_assert_msg(after != NULL, "%s", sb.data);
    list = testutil_field(testutil_field(after, "data"), "activeTargets");
    for (size_t i = 0; i < 2; i++) {
        json_object *t = json_object_array_get_idx(list, i);
        ck_assert_str_eq(testutil_str(t, "job"), "web");
        ck_assert_str_eq(testutil_str(t, "kind"), "probe");
        ck_assert_int_eq(strlen(testutil_str(t, "lastScrape")), 24); /* 2026-11-27T08:00:00.123Z */
        ck_assert(json_object_get_double(testutil_field(t, "lastScrapeDuration")) > 0);
        if (strstr(testutil_str(t, "scrapeUrl"), "/ok") != NULL) {
            ck_assert_str_eq(testutil_str(t, "health"), "up");
            ck_assert(json_object_is_type(testutil_field(t, "reason"), json_type_null));
            ck_assert_str_eq(testutil_str(t, "lastError"), "");
        }
        else {
            ck_assert_str_eq(testutil_str(t, "health"), "down");
            ck_assert_str_eq(testutil_str(t, "reason"), "http_5xx");
            ck_assert_str_eq(testutil_str(t, "lastError"), "HTTP 500 is not a valid status code");
        }
    }
    json_object_put(after);
    strbuf_release(&sb);
}
END_TEST

/*
 * The accessor api_targets.c reads, and the exact bytes it renders for a target that never ran
 * (no times in it): the API's field order and formats must not drift.
 */
START_TEST(test_target_info)
{
    struct engine_target_info info;
    struct strbuf sb;
    char want[1024];

    ck_assert_uint_eq(engine_target_count(eng), 0);
    ck_assert_int_eq(engine_target_info(eng, 0, &info), -ENOENT);
    add("/ok", 1000, NULL);
    ck_assert_uint_eq(engine_target_count(eng), 1);
    ck_assert_int_eq(engine_target_info(eng, 1, &info), -ENOENT);
    ck_assert_int_eq(engine_target_info(eng, 0, &info), 0);
    ck_assert_str_eq(info.job, "web");
    ck_assert_str_eq(info.kind, "probe");
    ck_assert_ptr_nonnull(strstr(info.display_url, "/ok"));
    ck_assert_int_eq(info.health, ENGINE_HEALTH_UNKNOWN);
    ck_assert_int_eq(info.last_ts_ms, 0);
    ck_assert_int_eq(info.next_ts_ms, 0); /* once mode: no schedule */
    ck_assert_int_eq(info.last_reason, REASON_NONE);
    ck_assert_str_eq(info.last_error, "");
    ck_assert(!info.in_flight);

    strbuf_init(&sb);
    api_targets_render(&sb, eng);
    snprintf(want, sizeof(want),
             "{\"status\":\"success\",\"data\":{\"activeTargets\":[{\"job\":\"web\",\"scrapePool\":"
             "\"web\","
             "\"kind\":\"probe\",\"scrapeUrl\":\"%s\",\"instance\":\"%s\",\"discoveredLabels\":{},"
             "\"labels\":{},"
             "\"health\":\"unknown\",\"lastScrape\":null,\"lastScrapeDuration\":0,"
             "\"lastSamples\":0,\"reason\":null,\"lastError\":\"\",\"lastWarning\":\"\","
             "\"nextScrape\":null,"
             "\"scrapeInterval\":\"0s\",\"scrapeTimeout\":\"1s\",\"inFlight\":false,"
             "\"skippedOverlaps\":0,\"skippedLate\":0}],\"droppedTargets\":[]}}",
             info.display_url, info.instance);
    ck_assert_str_eq(sb.data, want);

    ck_assert_int_eq(engine_run_once(eng), 0);
    ck_assert_int_eq(engine_target_info(eng, 0, &info), 0);
    ck_assert_int_eq(info.health, ENGINE_HEALTH_UP);
    ck_assert_int_gt(info.last_ts_ms, 0);
    ck_assert(info.last_duration_s > 0);
    ck_assert_uint_gt(info.last_samples, 0);
    ck_assert_int_eq(info.last_reason, REASON_NONE);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_timeout_over_interval_rejected)
{
    char err[256];
    struct probe_opts def;

    memset(&def, 0, sizeof(def));
    struct target_spec spec = {
        .job = "web",
        .url = "http://127.0.0.1:1/",
        .interval_ms = 1000,
        .timeout_ms = 2000,
        .kind = &job_probe,
        .kind_state = job_probe_new(&def, err, sizeof(err)),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(
        err, "http://127.0.0.1:1/: timeout (2000 ms) must not exceed the interval (1000 ms)");
}
END_TEST

START_TEST(test_fnv32a)
{
    /* FNV-1a 32 reference values (the empty string is the offset basis). */
    ck_assert_uint_eq(probe_conn_fnv32a("", 0), 2166136261u);
    ck_assert_uint_eq(probe_conn_fnv32a("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(probe_conn_fnv32a("\x7f\0\0\x01", 4), 3668918509u); /* 127.0.0.1 */
}
END_TEST

static json_object *
batch_for(json_object *lines, const char *url_part)
{
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        if (strstr(json_object_get_string(testutil_field(b, "url")), url_part) != NULL) {
            return b;
        }
    }
    ck_abort_msg("no batch for %s", url_part);
    return NULL;
}

static const char *
error_of(json_object *b)
{
    return json_object_get_string(testutil_field(b, "error"));
}

/* valid_http_versions, fail_if_ssl / fail_if_not_ssl on a plain HTTP/1.1 target. */
START_TEST(test_probe_version_and_ssl_rules)
{
    static const char *const h2[] = {"HTTP/2.0"};
    static const char *const h11[] = {"HTTP/1.0", "HTTP/1.1"};
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    po.valid_http_versions = h2;
    po.n_valid_http_versions = 1;
    add("/text/v2", 2000, &po);
    po.valid_http_versions = h11;
    po.n_valid_http_versions = 2;
    add("/text/v11", 2000, &po);
    memset(&po, 0, sizeof(po));
    po.fail_if_not_ssl = true;
    add("/text/notssl", 2000, &po);
    memset(&po, 0, sizeof(po));
    po.fail_if_ssl = true;
    add("/text/ssl", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 2);
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert_str_eq(error_of(batch_for(lines, "/v2")), "HTTP/1.1 is not in valid_http_versions");
    ck_assert(testutil_sample_value(batch_for(lines, "/v2"), "probe_success", NULL, NULL) == 0);
    ck_assert(testutil_sample_value(batch_for(lines, "/v11"), "probe_success", NULL, NULL) == 1);
    ck_assert_str_eq(error_of(batch_for(lines, "/notssl")),
                     "final request was not over TLS (fail_if_not_ssl)");
    ck_assert(testutil_sample_value(batch_for(lines, "/ssl"), "probe_success", NULL, NULL) == 1);
    json_object_put(lines);
}
END_TEST

/* fail_if_header_matches / fail_if_header_not_matches, allow_missing. */
START_TEST(test_probe_header_rules)
{
    struct job_probe_header_match text = {"Content-Type", "text/plain", false};
    struct job_probe_header_match json = {"content-type", "^application/json", false};
    struct job_probe_header_match missing = {"X-Absent", "x", false};
    struct job_probe_header_match missing_ok = {"X-Absent", "x", true};
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    po.header_matches = &text;
    po.n_header_matches = 1;
    add("/text/hm", 2000, &po);
    memset(&po, 0, sizeof(po));
    po.header_not_matches = &json;
    po.n_header_not_matches = 1;
    add("/text/hn", 2000, &po);
    po.header_not_matches = &missing;
    add("/text/missing", 2000, &po);
    po.header_not_matches = &missing_ok;
    add("/text/allowed", 2000, &po);
    memset(&po, 0, sizeof(po));
    po.header_matches = &json;
    po.n_header_matches = 1;
    add("/text/nomatch", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 3);
    json_object *lines = testutil_read_lines(pipefd[0]);
    json_object *b = batch_for(lines, "/hm");
    ck_assert_str_eq(error_of(b), "fail_if_header_matches: header \"Content-Type\" matched "
                                  "\"text/plain\"");
    ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 1);
    ck_assert_str_eq(error_of(batch_for(lines, "/hn")),
                     "fail_if_header_not_matches: header \"content-type\" did not match "
                     "\"^application/json\"");
    ck_assert_str_eq(error_of(batch_for(lines, "/missing")),
                     "fail_if_header_not_matches: header \"X-Absent\" is missing");
    b = batch_for(lines, "/allowed");
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert(testutil_sample_value(b, "probe_failed_due_to_regex", NULL, NULL) == 0);
    ck_assert(json_object_get_boolean(testutil_field(batch_for(lines, "/nomatch"), "ok")));
    json_object_put(lines);
}
END_TEST

/* method and body go on the wire; ip_protocol_fallback: false with ip6 cannot reach 127.0.0.1. */
START_TEST(test_probe_method_body_ip)
{
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    po.method = "PUT";
    po.body = "payload=1";
    add("/text/put", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 0);
    ck_assert_ptr_nonnull(strstr(mock_server_last_headers(mock), "Content-Length: 9\n"));
    json_object *lines = testutil_read_lines(pipefd[0]);
    ck_assert(testutil_sample_value(batch_for(lines, "/put"), "probe_success", NULL, NULL) == 1);
    json_object_put(lines);

    memset(&po, 0, sizeof(po));
    po.preferred_ip = PROBE_CONN_IP6;
    po.no_ip_fallback = true;
    add("/text/ip6only", 2000, &po);
    memset(&po, 0, sizeof(po));
    po.preferred_ip = PROBE_CONN_IP4;
    po.no_ip_fallback = true;
    add("/text/ip4only", 2000, &po);
    ck_assert_int_eq(engine_run_once(eng), 1);
    lines = testutil_read_lines(pipefd[0]);
    json_object *b = batch_for(lines, "/ip6only");
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert(testutil_sample_value(b, "probe_success", NULL, NULL) == 0);
    ck_assert(
        testutil_sample_value(batch_for(lines, "/ip4only"), "probe_ip_protocol", NULL, NULL) == 4);
    json_object_put(lines);
}
END_TEST

static Suite *
probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("once");
    TCase *tu = tcase_create("units");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_probe_ok_fields);
    tcase_add_test(tc, test_probe_status_codes);
    tcase_add_test(tc, test_probe_regexes);
    tcase_add_test(tc, test_probe_redirects_counted);
    tcase_add_test(tc, test_probe_failures_concurrent);
    tcase_add_test(tc, test_timeout_over_interval_rejected);
    tcase_add_test(tc, test_targets_api);
    tcase_add_test(tc, test_target_info);
    tcase_add_test(tc, test_probe_version_and_ssl_rules);
    tcase_add_test(tc, test_probe_header_rules);
    tcase_add_test(tc, test_probe_method_body_ip);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tcase_add_test(tu, test_probe_bad_regex_rejected);
    tcase_add_test(tu, test_fnv32a);
    suite_add_tcase(s, tu);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(probe_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
