/*
 * Tests for httpc.c, the HTTP client setup every transfer shares: the one URL redactor (also on
 * strings that are no valid URL), loopback detection, deep copies of the client settings, and
 * that credentials never follow a redirect to another host:port, and that the engine shows no
 * URL userinfo. Every auth kind on every job kind is in check_auth.c.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/config.h" /* the config module, not autoconf's header */
#include "engine.h"
#include "httpc.h"
#include "loop.h"
#include "mock_server.h"
#include "sample.h"
#include "scrape.h"
#include "setup.h"
#include "testutil.h"

START_TEST(test_redact)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"http://127.0.0.1:9100/metrics", "http://127.0.0.1:9100/metrics"},
        {"https://user:secret@example.org/x?y=1", "https://example.org/x?y=1"},
        {"http://user@example.org/", "http://example.org/"},
        {"http://example.org/a@b", "http://example.org/a@b"},
        {"http://example.org/?q=a@b#c@d", "http://example.org/?q=a@b#c@d"},
        /* curl rejects these; their error messages must not echo the password either */
        {"http://u:secret@127.0.0.1:99999/", "http://127.0.0.1:99999/"},
        {"u:secret@host:1", "host:1"},
        {"u:secret@host:1/metrics", "host:1/metrics"},
        {"http://u:se@cret@host/x", "http://host/x"},
        {"//u:secret@host/x", "//host/x"},
        {"HTTPS://u:secret@[::1]:8443/x", "HTTPS://[::1]:8443/x"},
        {"git+ssh://u:secret@h", "git+ssh://h"},
        {"http://u:secret@", "http://"},
        {"@", ""},
        {"", ""},
        {"host:1", "host:1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = httpc_redact_url_dup(cases[i].in);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(strcmp(r, cases[i].out) == 0, "%s: got %s, want %s", cases[i].in, r,
                      cases[i].out);
        ck_assert_ptr_null(strstr(r, "secret"));
        free(r);
    }
}
END_TEST

START_TEST(test_loopback_detection)
{
    ck_assert(httpc_url_is_loopback("http://127.0.0.1:8428/api/v1/import"));
    ck_assert(httpc_url_is_loopback("http://127.1.2.3/x"));
    ck_assert(httpc_url_is_loopback("http://localhost:8428/"));
    ck_assert(httpc_url_is_loopback("https://[::1]:8428/"));
    ck_assert(!httpc_url_is_loopback("http://10.0.0.1:8428/"));
    ck_assert(!httpc_url_is_loopback("https://vm.example.org/api/v1/import"));
    ck_assert(!httpc_url_is_loopback("http://127.example.org/"));
    ck_assert(!httpc_url_is_loopback("not a url"));
}
END_TEST

/* Address literals skip libcurl's DNS cache pruning (scrape.c): only real literals qualify. */
START_TEST(test_ip_literal_detection)
{
    ck_assert(httpc_url_host_is_ip("http://127.0.0.1:9100/metrics"));
    ck_assert(httpc_url_host_is_ip("http://10.1.2.3/metrics"));
    ck_assert(httpc_url_host_is_ip("https://[::1]:9100/metrics"));
    ck_assert(httpc_url_host_is_ip("http://[2001:db8::7]/metrics"));
    ck_assert(httpc_url_host_is_ip("http://user:pw@192.0.2.1:80/x"));
    ck_assert(!httpc_url_host_is_ip("http://localhost:9100/metrics"));
    ck_assert(!httpc_url_host_is_ip("http://node1.example.org:9100/metrics"));
    ck_assert(!httpc_url_host_is_ip("http://10.1.2.3.nip.io/metrics"));
    ck_assert(httpc_url_host_is_ip("http://1234/metrics")); /* curl reads it as 0.0.4.210 */
    ck_assert(!httpc_url_host_is_ip("not a url"));
}
END_TEST

START_TEST(test_opts_copy)
{
    char *hdrs[] = {"X-A: 1", "Authorization: Bearer t"};
    struct httpc_opts src = {.username = "u",
                             .password = "p",
                             .ca_file = "/ca",
                             .follow_redirects = true,
                             .no_compression = true,
                             .headers = hdrs,
                             .nheaders = 2};
    struct httpc_opts dst, empty = {0};

    ck_assert_int_eq(httpc_opts_copy(&dst, &src), 0);
    ck_assert_str_eq(dst.username, "u");
    ck_assert_ptr_ne(dst.username, src.username);
    ck_assert_str_eq(dst.password, "p");
    ck_assert_str_eq(dst.ca_file, "/ca");
    ck_assert_ptr_null(dst.cert_file);
    ck_assert(dst.follow_redirects && dst.no_compression && !dst.head);
    ck_assert_uint_eq(dst.nheaders, 2);
    ck_assert_str_eq(dst.headers[1], "Authorization: Bearer t");
    httpc_opts_release(&dst);
    ck_assert_ptr_null(dst.headers);
    ck_assert_int_eq(httpc_opts_copy(&dst, &empty), 0);
    ck_assert_ptr_null(dst.headers);
    httpc_opts_release(&dst);
    ck_assert_int_eq(httpc_check_curl(), 0);
    ck_assert_str_eq(HTTPC_USER_AGENT, "pollster/" PACKAGE_VERSION);
}
END_TEST

/* Redirects: two mock servers on the same loop, 127.0.0.1 on two ports. */
static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;
static int pipefd[2];
static struct mock_server *other;

static void
setup(void)
{
    testutil_once_setup(&lp, &mock, &eng, pipefd);
    other = mock_server_new(loop_base(lp));
    ck_assert_ptr_nonnull(other);
}

static void
teardown(void)
{
    mock_server_free(other);
    testutil_once_teardown(lp, mock, eng, pipefd);
}

static void
xfer_done_cb(struct scrape *s, struct batch *b, void *arg)
{
    (void)s;
    (void)b;
    (void)arg;
    loop_stop(lp);
}

static const struct job_kind plain_kind = {.name = "plain"};

/* One transfer of @url with @h; returns whether it succeeded (2xx after redirects). */
static bool
fetch(const char *url, const struct httpc_opts *h)
{
    struct scrape_opts o = {.url = url, .timeout_ms = 3000, .http = h};
    struct batch b;

    batch_init(&b);
    struct scrape *s = scrape_new(lp, &o, &plain_kind, NULL, xfer_done_cb, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(scrape_start(s, &b), 0);
    ck_assert_int_eq(loop_run(lp), 0);
    long status = b.http_status;
    bool ok = b.ok && status == 200;
    scrape_free(s);
    batch_release(&b);
    return ok;
}

START_TEST(test_credentials_stay_on_host)
{
    char *hdrs[] = {"Authorization: Bearer s3cret", "X-Tenant: t1"};
    struct httpc_opts bearer = {.follow_redirects = true, .headers = hdrs, .nheaders = 2};
    struct httpc_opts basic = {.follow_redirects = true, .username = "u", .password = "s3cret"};
    char url[256];
    unsigned before;

    /* Same host and port: the header follows the redirect (the first server checks it). */
    mock_server_require_auth(mock, "Bearer s3cret");
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/to/%u/ok", mock_server_port(mock),
             mock_server_port(mock));
    ck_assert(fetch(url, &bearer));

    /* Another port: the configured Authorization header stays behind, other headers go. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/to/%u/ok", mock_server_port(mock),
             mock_server_port(other));
    before = mock_server_requests(other);
    ck_assert(fetch(url, &bearer));
    ck_assert_uint_eq(mock_server_requests(other), before + 1);
    const char *seen = mock_server_last_headers(other);
    ck_assert_msg(strstr(seen, "Authorization") == NULL, "%s", seen);
    ck_assert_msg(strstr(seen, "s3cret") == NULL, "%s", seen);
    ck_assert_msg(strstr(seen, "X-Tenant: t1\n") != NULL, "%s", seen);

    /* Basic auth: the same. */
    mock_server_require_auth(mock, "Basic dTpzM2NyZXQ=");
    before = mock_server_requests(other);
    ck_assert(fetch(url, &basic));
    ck_assert_uint_eq(mock_server_requests(other), before + 1);
    seen = mock_server_last_headers(other);
    ck_assert_msg(strstr(seen, "Authorization") == NULL, "%s", seen);

    /* And a target that demands the credentials after such a redirect does not get them. */
    mock_server_require_auth(other, "Basic dTpzM2NyZXQ=");
    ck_assert(!fetch(url, &basic));
}
END_TEST

/* The engine shows a target's URL, instance and errors without the URL's userinfo. */
START_TEST(test_engine_shows_no_userinfo)
{
    char url[256], inst[64], err[256], want[256];
    json_object *lines;

    snprintf(url, sizeof(url), "http://u:s3cret@127.0.0.1:%u/ok", mock_server_port(mock));
    snprintf(inst, sizeof(inst), "u:s3cret@127.0.0.1:%u", mock_server_port(mock));
    struct target_spec spec = {
        .job = "j",
        .url = url,
        .instance = inst,
        .timeout_ms = 2000,
        .interval_ms = 1000,
        .kind = &plain_kind,
    };
    /* A spec the engine rejects: the error names the URL without the password. */
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "s3cret") == NULL && strstr(err, "http://127.0.0.1:") != NULL, "%s",
                  err);
    spec.interval_ms = 0;
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    engine_run_once(eng);
    lines = testutil_read_lines(pipefd[0]);
    json_object *b = json_object_array_get_idx(lines, 0);
    snprintf(want, sizeof(want), "http://127.0.0.1:%u/ok", mock_server_port(mock));
    ck_assert_str_eq(testutil_str(b, "url"), want);
    ck_assert_str_eq(testutil_str(b, "instance"), inst + 9);
    ck_assert_ptr_null(strstr(json_object_to_json_string(lines), "s3cret"));
    json_object_put(lines);
}
END_TEST

static Suite *
httpc_suite(void)
{
    Suite *s = suite_create("httpc");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, test_redact);
    tcase_add_test(tc, test_loopback_detection);
    tcase_add_test(tc, test_ip_literal_detection);
    tcase_add_test(tc, test_opts_copy);
    suite_add_tcase(s, tc);

    tc = tcase_create("redirects");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_credentials_stay_on_host);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("userinfo");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_engine_shows_no_userinfo);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(httpc_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
