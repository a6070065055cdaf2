/*
 * Tests for status.c: listen-address parsing, and the server answering /healthz and /metrics
 * (self metrics in Prometheus text format) to an evhttp client on the same loop.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "sample.h"
#include "stats.h"
#include "status.h"
#include "units.h"

static const struct {
    const char *in;
    int rc;
    const char *host;
    unsigned port;
} listen_cases[] = {
    {"127.0.0.1:9464", 0, "127.0.0.1", 9464},
    {"[::1]:0", 0, "::1", 0},
    {"localhost:80", 0, "localhost", 80},
    {"0.0.0.0:65535", 0, "0.0.0.0", 65535},
    {"127.0.0.1", -EINVAL, NULL, 0},
    {":9464", -EINVAL, NULL, 0},
    {"127.0.0.1:", -EINVAL, NULL, 0},
    {"127.0.0.1:65536", -EINVAL, NULL, 0},
    {"127.0.0.1:http", -EINVAL, NULL, 0},
    {"[::1]9464", -EINVAL, NULL, 0},
    {"", -EINVAL, NULL, 0},
};

START_TEST(test_parse_listen)
{
    for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
        char host[64] = "", err[256] = "";
        unsigned port = 12345;
        int rc =
            units_parse_listen(listen_cases[i].in, host, sizeof(host), &port, err, sizeof(err));
        ck_assert_msg(rc == listen_cases[i].rc, "\"%s\": rc %d", listen_cases[i].in, rc);
        if (rc == 0) {
            ck_assert_str_eq(host, listen_cases[i].host);
            ck_assert_uint_eq(port, listen_cases[i].port);
        }
        else {
            ck_assert_msg(strstr(err, "listen address") != NULL, "%s", err);
        }
    }
}
END_TEST

struct fetch {
    struct event_base *base;
    int code;
    char body[65536];
};

static void
fetch_done_cb(struct evhttp_request *req, void *arg)
{
    struct fetch *f = arg;

    if (req != NULL) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n >= sizeof(f->body)) {
            n = sizeof(f->body) - 1;
        }
        f->code = evhttp_request_get_response_code(req);
        evbuffer_remove(in, f->body, n);
        f->body[n] = '\0';
    }
    event_base_loopbreak(f->base);
}

static void
fetch_method(struct event_base *base, unsigned port, enum evhttp_cmd_type cmd, const char *path,
             struct fetch *f)
{
    struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req;

    memset(f, 0, sizeof(*f));
    f->base = base;
    req = evhttp_request_new(fetch_done_cb, f);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    ck_assert_int_eq(evhttp_make_request(c, req, cmd, path), 0);
    event_base_dispatch(base);
    evhttp_connection_free(c);
}

static void
fetch(struct event_base *base, unsigned port, const char *path, struct fetch *f)
{
    fetch_method(base, port, EVHTTP_REQ_GET, path, f);
}

static void
render(struct strbuf *sb, void *arg)
{
    stats_render(sb, 3);
}

static void
render_targets(struct strbuf *sb, void *arg)
{
    strbuf_puts(sb, "{\"status\":\"success\"}");
}

static int reloads;

static int
reload(void *arg, char *err, size_t errlen)
{
    reloads++;
    if (reloads == 2) {
        snprintf(err, errlen, "pollster.yaml:3:1: unknown key \"x\"");
        return -EINVAL;
    }
    return 0;
}

static const struct status_hooks hooks = {
    .metrics = render, .targets = render_targets, .reload = reload};
static const struct status_hooks metrics_only = {.metrics = render};

START_TEST(test_serves_health_and_metrics)
{
    struct event_base *base = event_base_new();
    char err[256];
    struct fetch f;
    struct batch b;

    batch_init(&b);
    b.ok = false;
    b.reason = REASON_TIMEOUT;
    b.duration_s = 0.3;
    stats_record_run(stats_job_get("node \"x\""), &b);
    b.ok = true;
    b.reason = REASON_NONE;
    stats_record_run(stats_job_get("node \"x\""), &b);

    struct status *st = status_new(base, "127.0.0.1:0", &hooks, NULL, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_uint_ne(status_port(st), 0);

    fetch(base, status_port(st), "/healthz", &f);
    ck_assert_int_eq(f.code, 200);
    ck_assert_str_eq(f.body, "ok\n");

    fetch(base, status_port(st), "/metrics", &f);
    ck_assert_int_eq(f.code, 200);
    ck_assert_ptr_nonnull(strstr(f.body, "# TYPE pollster_runs_total counter\n"));
    ck_assert_ptr_nonnull(
        strstr(f.body, "pollster_runs_total{job=\"node \\\"x\\\"\",result=\"ok\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(f.body, "pollster_runs_total{job=\"node \\\"x\\\"\",result=\"failed\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        f.body, "pollster_collect_failures_total{job=\"node \\\"x\\\"\",reason=\"timeout\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        f.body, "pollster_collect_failures_total{job=\"node \\\"x\\\"\",reason=\"dns\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(
        f.body, "pollster_run_duration_seconds_bucket{job=\"node \\\"x\\\"\",le=\"0.25\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(
        f.body, "pollster_run_duration_seconds_bucket{job=\"node \\\"x\\\"\",le=\"0.5\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(f.body, "pollster_transfers_in_flight 3\n"));
    ck_assert_ptr_nonnull(strstr(f.body, "process_cpu_seconds_total "));
    ck_assert_ptr_nonnull(strstr(f.body, "process_resident_memory_bytes "));
    ck_assert_ptr_nonnull(strstr(f.body, "pollster_log_lines_suppressed_total 0\n"));

    fetch(base, status_port(st), "/nope", &f);
    ck_assert_int_eq(f.code, 404);

    fetch(base, status_port(st), "/api/v1/targets", &f);
    ck_assert_int_eq(f.code, 200);
    ck_assert_str_eq(f.body, "{\"status\":\"success\"}");

    fetch(base, status_port(st), "/-/reload", &f);
    ck_assert_int_eq(f.code, 405);
    ck_assert_int_eq(reloads, 0);
    /* Off by default (status.enable_lifecycle): a cross-site POST cannot reload. */
    fetch_method(base, status_port(st), EVHTTP_REQ_POST, "/-/reload", &f);
    ck_assert_int_eq(f.code, 403);
    ck_assert_str_eq(f.body, "Lifecycle API is not enabled (status.enable_lifecycle).\n");
    ck_assert_int_eq(reloads, 0);
    struct status_limits lim = {
        .lifecycle = true, .max_connections = 8, .request_timeout_ms = 30000};
    status_set_limits(st, &lim);
    fetch_method(base, status_port(st), EVHTTP_REQ_POST, "/-/reload", &f);
    ck_assert_int_eq(f.code, 200);
    ck_assert_str_eq(f.body, "reloaded\n");
    fetch_method(base, status_port(st), EVHTTP_REQ_POST, "/-/reload", &f);
    ck_assert_int_eq(f.code, 500);
    ck_assert_str_eq(f.body, "pollster.yaml:3:1: unknown key \"x\"\n");
    ck_assert_int_eq(reloads, 2);

    status_free(st);
    event_base_free(base);
    batch_release(&b);
    stats_free_all();
    arena_free_cache();
}
END_TEST

START_TEST(test_bind_failure_reported)
{
    struct event_base *base = event_base_new();
    char err[256];

    struct status *a = status_new(base, "127.0.0.1:0", &metrics_only, NULL, err, sizeof(err));
    char addr[64];
    ck_assert_ptr_nonnull(a);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", status_port(a));
    ck_assert_ptr_null(status_new(base, addr, &metrics_only, NULL, err, sizeof(err)));
    ck_assert_msg(strncmp(err, "cannot listen on 127.0.0.1:", 27) == 0, "%s", err);
    ck_assert_ptr_null(status_new(base, "nonsense", &metrics_only, NULL, err, sizeof(err)));
    status_free(a);
    event_base_free(base);
}
END_TEST

static Suite *
status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("server");

    tcase_add_test(tc, test_parse_listen);
    tcase_add_test(tc, test_serves_health_and_metrics);
    tcase_add_test(tc, test_bind_failure_reported);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(status_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
