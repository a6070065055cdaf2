/*
 * Tests for the status pages (status_page.c), HTML escaping (html.c), config redaction
 * (redact.c) and /api/v1/targets' filters (api_targets.c): an engine in once mode with a healthy,
 * a failing and a never-collected target, rendered and read back as text.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api_targets.h"
#include "engine.h"
#include "html.h"
#include "loop.h"
#include "mock_server.h"
#include "enc_json.h"
#include "out_stdout.h"
#include "redact.h"
#include "status.h"
#include "status_page.h"
#include "strbuf.h"
#include "testutil.h"

TESTUTIL_ONCE_FIXTURE

static void
add(const char *job, const char *url)
{
    static const struct label lab[] = {{"team", "<ops&co>"}};

    testutil_add_probe(eng, job, url, lab, 1, NULL);
}

/* A healthy and a failing target in job "web", run once, then a never-run one in job "db". */
static void
three_targets(void)
{
    char ok[128], down[128];

    snprintf(ok, sizeof(ok), "http://127.0.0.1:%u/ok", mock_server_port(mock));
    snprintf(down, sizeof(down), "http://127.0.0.1:%u/", mock_closed_port());
    add("web", ok);
    add("web", down);
    ck_assert_int_eq(engine_run_once(eng), 1);
    add("db", "http://127.0.0.1:1/never");
}

static void
expect(const char *hay, const char *needle)
{
    ck_assert_msg(hay != NULL && strstr(hay, needle) != NULL, "\"%s\" not in the page", needle);
}

START_TEST(test_html_escape)
{
    struct strbuf sb;

    strbuf_init(&sb);
    html_escape(&sb, "<a href=\"x\">Tom & Jerry's</a>");
    ck_assert_str_eq(sb.data, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    strbuf_reset(&sb);
    html_escape(&sb, NULL);
    html_escape(&sb, "plain");
    html_escapef(&sb, " %d<", 42);
    ck_assert_str_eq(sb.data, "plain 42&lt;");
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_redact)
{
    static const char in[] =
        "scrape_configs:\n"
        "  - job_name: a\n"
        "    basic_auth:\n"
        "      username: bob\n"
        "      password: hunter2\n"
        "      password_file: /etc/pw\n"
        "    authorization:\n"
        "      credentials: \"s3cr3t\"\n"
        "    oauth2:\n"
        "      client_secret: abc\n"
        "      token_url: https://u:p@auth.example/token\n"
        "    bearer_token: tok # comment\n"
        "    http_headers:\n"
        "      X-Key:\n"
        "        secrets: [one, two]\n"
        "      X-Other:\n"
        "        secrets:\n"
        "          - three\n"
        "          - four\n"
        "        values: [visible]\n"
        "    tls_config:\n"
        "      key: |\n"
        "        -----BEGIN KEY-----\n"
        "        MIIE\n"
        "      cert_file: /c.pem\n"
        "outputs:\n"
        "  - url: http://user:pw@sink:8428/api?x=1\n"
        "    headers:\n"
        "      Authorization: Basic Zm9v\n"
        "      X-Tenant: 7\n"
        "    basic_auth: {username: u, password: 'p,w', 'bearer_token': x}\n"
        "    json: {\"password\": \"a\\\"b\", \"url\": \"http://a:b@h/\", \"n\": 1}\n";
    static const char want[] =
        "scrape_configs:\n"
        "  - job_name: a\n"
        "    basic_auth:\n"
        "      username: bob\n"
        "      password: <secret>\n"
        "      password_file: /etc/pw\n"
        "    authorization:\n"
        "      credentials: <secret>\n"
        "    oauth2:\n"
        "      client_secret: <secret>\n"
        "      token_url: https://<secret>@auth.example/token\n"
        "    bearer_token: <secret>\n"
        "    http_headers:\n"
        "      X-Key:\n"
        "        secrets: <secret>\n"
        "      X-Other:\n"
        "        secrets:\n"
        "          - <secret>\n"
        "          - <secret>\n"
        "        values: <secret>\n"
        "    tls_config:\n"
        "      key: <secret>\n"
        "        <secret>\n"
        "        <secret>\n"
        "      cert_file: /c.pem\n"
        "outputs:\n"
        "  - url: http://<secret>@sink:8428/api?x=1\n"
        "    headers:\n"
        "      Authorization: <secret>\n"
        "      X-Tenant: <secret>\n"
        "    basic_auth: {username: u, password: <secret>, 'bearer_token': <secret>}\n"
        "    json: {\"password\": <secret>, \"url\": \"http://<secret>@h/\", \"n\": 1}\n";
    struct strbuf sb;

    strbuf_init(&sb);
    redact_yaml(&sb, in, sizeof(in) - 1);
    ck_assert_str_eq(sb.data, want);
    ck_assert(redact_key_is_secret("bearer_token", 12));
    ck_assert(!redact_key_is_secret("bearer_token_file", 17));
    ck_assert(!redact_key_is_secret("keep", 4));
    ck_assert(redact_key_is_secret("headers", 7));
    strbuf_release(&sb);
}
END_TEST

/* The page a person reads: each target's state, reason, error and history, grouped by job. */
START_TEST(test_index_page)
{
    struct status_page_view v = {.engine = eng, .config_path = "/etc/pollster.yaml"};
    struct strbuf sb;
    int code = 200;

    three_targets();
    v.reload_ms = 1700000000000LL;
    v.reload_ok = false;
    snprintf(v.reload_error, sizeof(v.reload_error), "line 3: bad <key>");
    strbuf_init(&sb);
    ck_assert_str_eq(status_page_cb(&sb, "/", "", &code, &v), "text/html; charset=utf-8");
    ck_assert_int_eq(code, 200);
    ck_assert(!sb.oom);
    expect(sb.data, "<!DOCTYPE html>");
    expect(sb.data, "3 targets: 1 up, 1 down, 1 not collected yet");
    expect(sb.data, "Job web <span class=\"muted\">(1/2 up)</span>");
    expect(sb.data, "Job db <span class=\"muted\">(0/1 up)</span>");
    expect(sb.data, "<td class=\"up\">up</td>");
    expect(sb.data, "<td class=\"down\">down</td><td><strong>connect</strong>: <span "
                    "class=\"err\">connection refused</span>");
    expect(sb.data, "not collected yet");
    expect(sb.data, "<title>last 1 runs, 0 failed, longest");
    expect(sb.data, "<title>last 1 runs, 1 failed, longest");
    expect(sb.data, "fill=\"#dc2626\"");
    expect(sb.data, "<th scope=\"row\">stdout[0] <span class=\"muted\">stdout</span></th>"
                    "<td>json</td>");
    expect(sb.data, "/etc/pollster.yaml");
    expect(sb.data, "failed</span>, the previous configuration stays in force: <span "
                    "class=\"err\">line 3: bad &lt;key&gt;</span>");
    expect(sb.data, "<a href=\"/metrics\">Metrics</a>");
    ck_assert_ptr_null(strstr(sb.data, "<script"));
    ck_assert_ptr_null(strstr(sb.data, "http-equiv=\"refresh\""));

    /* /targets shows the labels, escaped; ?refresh= bounded */
    strbuf_reset(&sb);
    ck_assert_ptr_nonnull(status_page_cb(&sb, "/targets", "refresh=999999", &code, &v));
    expect(sb.data, "team=&quot;&lt;ops&amp;co&gt;&quot;");
    expect(sb.data, "<meta http-equiv=\"refresh\" content=\"3600\">");
    ck_assert_ptr_null(strstr(sb.data, "<ops"));

    strbuf_reset(&sb);
    ck_assert_ptr_null(status_page_cb(&sb, "/nope", "", &code, &v));
    strbuf_release(&sb);
}
END_TEST

/* An output's name (given, or TYPE[N] by type) is what the page and the self metrics show. */
START_TEST(test_output_names)
{
    struct status_page_view v = {.engine = eng, .config_path = "/etc/pollster.yaml"};
    struct output a = {.ops = &out_stdout_ops, .state = out_stdout_new(pipefd[1])};
    struct output b = {.ops = &out_stdout_ops, .state = out_stdout_new(pipefd[1])};
    const char *name, *type, *format;
    struct output_stats st;
    struct strbuf sb;
    int code = 200;

    /* setup() added stdout[0] */
    ck_assert_int_eq(engine_add_output(eng, "vm main", &enc_json, &a), 0);
    ck_assert_int_eq(engine_add_output(eng, NULL, &enc_json, &b), 0);
    ck_assert_uint_eq(engine_output_count(eng), 3);
    ck_assert_int_eq(engine_output_info(eng, 1, &name, &type, &format, &st), 0);
    ck_assert_str_eq(name, "vm main");
    ck_assert_int_eq(engine_output_info(eng, 2, &name, &type, &format, &st), 0);
    ck_assert_str_eq(name, "stdout[2]");
    strbuf_init(&sb);
    ck_assert_str_eq(status_page_cb(&sb, "/outputs", "", &code, &v), "text/html; charset=utf-8");
    expect(sb.data, "<th scope=\"row\">stdout[0] <span class=\"muted\">stdout</span></th>");
    expect(sb.data, "<th scope=\"row\">vm main <span class=\"muted\">stdout</span></th>");
    expect(sb.data, "<th scope=\"row\">stdout[2] <span class=\"muted\">stdout</span></th>");
    strbuf_reset(&sb);
    engine_render_metrics(&sb, eng);
    expect(sb.data, "pollster_output_samples_total{output=\"stdout[0]\",type=\"stdout\"} 0\n");
    expect(sb.data, "pollster_output_samples_total{output=\"vm main\",type=\"stdout\"} 0\n");
    expect(sb.data, "pollster_output_dropped_samples_total{output=\"stdout[2]\",type=\"stdout\","
                    "reason=\"queue_full\"} 0\n");
    ck_assert_ptr_null(strstr(sb.data, "outputs["));
    strbuf_release(&sb);
}
END_TEST

static int
fake_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    (void)state;
    (void)data;
    (void)len;
    (void)nsamples;
    return 0;
}

/* A sink failing since 2023-11-14 22:13:20 UTC with an error to escape; or a healthy one. */
static void
fake_stats(const void *state, struct output_stats *st)
{
    st->type = "http";
    st->failing = state != NULL;
    st->failing_since = state != NULL ? 1700000000.0 : 0;
    snprintf(st->last_error, sizeof(st->last_error), "%s",
             state != NULL ? "HTTP 503 <b>busy</b>" : "HTTP 400");
}

/* A failing output says since when and why; a healthy one says ok. */
START_TEST(test_output_failing_since)
{
    static const struct output_ops fake = {
        .name = "http", .write = fake_write, .stats = fake_stats};
    static int down;
    struct status_page_view v = {.engine = eng, .config_path = "/etc/pollster.yaml"};
    struct output a = {.ops = &fake, .state = &down}, b = {.ops = &fake, .state = NULL};
    struct strbuf sb;
    int code = 200;

    ck_assert_int_eq(engine_add_output(eng, "sink", &enc_json, &a), 0);
    ck_assert_int_eq(engine_add_output(eng, "fine", &enc_json, &b), 0);
    strbuf_init(&sb);
    ck_assert_str_eq(status_page_cb(&sb, "/outputs", "", &code, &v), "text/html; charset=utf-8");
    expect(sb.data, "<th scope=\"row\">sink <span class=\"muted\">http</span></th><td>json</td>"
                    "<td><span class=\"down\">failing</span> since 2023-11-14 22:13:20 UTC "
                    "<span class=\"muted\">(");
    expect(sb.data,
           " ago)</span>: <span class=\"err\">HTTP 503 &lt;b&gt;busy&lt;/b&gt;</span></td>");
    expect(sb.data, "<th scope=\"row\">fine <span class=\"muted\">http</span></th><td>json</td>"
                    "<td class=\"up\">ok</td>");
    strbuf_reset(&sb);
    engine_render_metrics(&sb, eng);
    expect(sb.data,
           "pollster_output_failing_since_timestamp_seconds{output=\"sink\",type=\"http\"} "
           "1700000000\n");
    expect(sb.data,
           "pollster_output_failing_since_timestamp_seconds{output=\"fine\",type=\"http\"} "
           "0\n");
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_config_page)
{
    static const char text[] = "scrape_configs:\n  - job_name: x\n    bearer_token: abc<def\n";
    struct status_page_view v = {.engine = eng,
                                 .config_path = "c.yaml",
                                 .config_text = text,
                                 .config_len = sizeof(text) - 1};
    struct strbuf sb;
    int code = 200;

    strbuf_init(&sb);
    ck_assert_ptr_nonnull(status_page_cb(&sb, "/config", "", &code, &v));
    expect(sb.data, "    bearer_token: &lt;secret&gt;\n");
    expect(sb.data, "none since start");
    ck_assert_ptr_null(strstr(sb.data, "abc"));
    strbuf_release(&sb);
}
END_TEST

/* Parses @sb as an /api/v1/targets document: the number of active and dropped targets. */
static void
count_api(const struct strbuf *sb, size_t *active, size_t *dropped)
{
    json_object *doc = json_tokener_parse(sb->data);
    ck_assert_ptr_nonnull(doc);
    json_object *data = testutil_field(doc, "data");
    *active = json_object_array_length(testutil_field(data, "activeTargets"));
    *dropped = json_object_array_length(testutil_field(data, "droppedTargets"));
    json_object_put(doc);
}

START_TEST(test_api_filters)
{
    static const struct label dl[] = {{"__address__", "gone:80"}};
    struct strbuf sb;
    char err[256];
    size_t a, d;
    int code = 200;

    three_targets();
    strbuf_init(&sb);
    ck_assert_int_eq(api_targets_render_query(&sb, eng, "", err, sizeof(err)), 0);
    count_api(&sb, &a, &d);
    ck_assert_uint_eq(a, 3);
    expect(sb.data, "\"scrapePool\":\"web\"");
    expect(sb.data, "\"scrapeTimeout\":\"2s\"");

    strbuf_reset(&sb);
    ck_assert_int_eq(api_targets_render_query(&sb, eng, "scrapePool=web", err, sizeof(err)), 0);
    count_api(&sb, &a, &d);
    ck_assert_uint_eq(a, 2);

    strbuf_reset(&sb);
    ck_assert_int_eq(
        api_targets_render_query(&sb, eng, "state=dropped&scrapePool=web", err, sizeof(err)), 0);
    count_api(&sb, &a, &d);
    ck_assert_uint_eq(a, 0);

    strbuf_reset(&sb);
    ck_assert_int_eq(
        api_targets_render_query(&sb, eng, "state=ACTIVE&scrapePool=d%62", err, sizeof(err)), 0);
    count_api(&sb, &a, &d);
    ck_assert_uint_eq(a, 1);

    strbuf_reset(&sb);
    ck_assert_int_eq(api_targets_render_query(&sb, eng, "state=up", err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "state=up: expected active, dropped or any");
    ck_assert_uint_eq(sb.len, 0);

    /* through the page hook: a 400 with Prometheus' error document */
    struct status_page_view v = {.engine = eng};
    ck_assert_str_eq(status_page_cb(&sb, "/api/v1/targets", "state=up", &code, &v),
                     "application/json");
    ck_assert_int_eq(code, 400);
    ck_assert_str_eq(sb.data, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                              "\"state=up: expected active, dropped or any\"}");

    /* a reload that keeps no target and drops one: the filters apply to droppedTargets too */
    size_t kept, added, removed;
    engine_reload_begin(eng);
    ck_assert_int_eq(engine_add_dropped(eng, "web", dl, 1, NULL), 0);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(removed, 3);
    static const struct {
        const char *query;
        size_t active, dropped;
    } cases[] = {
        {"", 0, 1},
        {"state=dropped", 0, 1},
        {"state=active", 0, 0},
        {"state=any&scrapePool=web", 0, 1},
        {"scrapePool=db", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(&sb);
        ck_assert_int_eq(api_targets_render_query(&sb, eng, cases[i].query, err, sizeof(err)), 0);
        count_api(&sb, &a, &d);
        ck_assert_msg(a == cases[i].active && d == cases[i].dropped, "%s: %zu active, %zu dropped",
                      cases[i].query, a, d);
    }
    expect(sb.data, "\"droppedTargets\":[]");
    strbuf_release(&sb);
}
END_TEST

static Suite *
status_page_suite(void)
{
    Suite *s = suite_create("status_page");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_html_escape);
    tcase_add_test(tc, test_redact);
    tcase_add_test(tc, test_index_page);
    tcase_add_test(tc, test_config_page);
    tcase_add_test(tc, test_output_names);
    tcase_add_test(tc, test_output_failing_since);
    tcase_add_test(tc, test_api_filters);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(status_page_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
