/*
 * Integration tests for loop.c + scrape.c against mock targets on loopback, in one process and
 * one event loop: every failure mode is classified with the right reason and an error text that
 * says what happened, deadlines fire on time, and a hanging target never delays the others.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "loop.h"
#include "mock_server.h"
#include "sample.h"
#include "easypool.h"
#include "scrape.h"

/* A job kind for the tests: keeps the body and the transport result. */
struct body_kind {
    char body[4096];
    size_t len;
    long status;
    int finished;
};

static int
body_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct body_kind *k = state;
    size_t room = sizeof(k->body) - 1 - k->len;

    if (len > room) {
        len = room;
    }
    memcpy(k->body + k->len, data, len);
    k->len += len;
    k->body[k->len] = '\0';
    return 0;
}

static void
body_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct body_kind *k = state;

    k->status = res->http_status;
    k->finished++;
    if (b->ok && scrape_reason_for_status(res->http_status) != REASON_NONE) {
        batch_fail(b, scrape_reason_for_status(res->http_status), "HTTP %ld", res->http_status);
    }
}

static const struct job_kind body_kind = {
    .name = "body",
    .feed = body_feed,
    .finish = body_finish,
};

struct run {
    struct scrape *s;
    struct body_kind k;
    struct batch b;
    double started;
    double elapsed;
    bool done;
};

static struct loop *lp;
static struct mock_server *mock;
static int pending;

static void
setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    mock = mock_server_new(loop_base(lp));
    ck_assert_ptr_nonnull(mock);
}

static void
teardown(void)
{
    mock_server_free(mock);
    loop_free(lp);
    curl_global_cleanup();
    arena_free_cache();
}

static void
done_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct run *r = arg;

    r->done = true;
    r->elapsed = clock_mono_s() - r->started;
    if (--pending == 0) {
        loop_stop(lp);
    }
}

static char *
url_for(const char *path)
{
    static char url[8][256];
    static int i;

    i = (i + 1) % 8;
    if (strncmp(path, "http", 4) == 0) {
        snprintf(url[i], sizeof(url[i]), "%s", path);
    }
    else {
        snprintf(url[i], sizeof(url[i]), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    }
    return url[i];
}

static void
run_start(struct run *r, const char *path, int64_t timeout_ms, uint64_t limit)
{
    static const struct httpc_opts http = {.follow_redirects = true};
    struct scrape_opts o = {
        .url = url_for(path),
        .timeout_ms = timeout_ms,
        .body_limit = limit,
        .max_redirects = 5,
        .http = &http,
    };

    memset(r, 0, sizeof(*r));
    batch_init(&r->b);
    r->s = scrape_new(lp, &o, &body_kind, &r->k, done_cb, r);
    ck_assert_ptr_nonnull(r->s);
    r->started = clock_mono_s();
    ck_assert_int_eq(scrape_start(r->s, &r->b), 0);
    pending++;
}

static void
run_free(struct run *r)
{
    scrape_free(r->s);
    batch_release(&r->b);
}

static void
run_one(struct run *r, const char *path, int64_t timeout_ms, uint64_t limit)
{
    run_start(r, path, timeout_ms, limit);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r->done);
    ck_assert_int_eq(r->k.finished, 1);
}

START_TEST(test_ok)
{
    struct run r;

    run_one(&r, "/ok", 2000, 0);
    ck_assert(r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_NONE);
    ck_assert_int_eq(r.b.http_status, 200);
    ck_assert_str_eq(r.k.body, "hello\n");
    ck_assert_str_eq(r.b.error, "");
    ck_assert(r.b.ts_ms > 1600000000000LL);
    ck_assert(r.b.duration_s > 0 && r.b.duration_s < 2);
    run_free(&r);
}
END_TEST

START_TEST(test_http_500_and_404)
{
    struct run r;

    run_one(&r, "/status/500", 2000, 0);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_HTTP_5XX);
    ck_assert_str_eq(r.b.error, "HTTP 500");
    ck_assert_int_eq(r.b.http_status, 500);
    run_free(&r);
    run_one(&r, "/status/404", 2000, 0);
    ck_assert_int_eq(r.b.reason, REASON_HTTP_4XX);
    run_free(&r);
}
END_TEST

START_TEST(test_timeout_waiting_for_response)
{
    struct run r;

    run_one(&r, "/hang", 400, 0);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_TIMEOUT);
    ck_assert_str_eq(r.b.error,
                     "timeout after 400 ms (connected, waiting for response, 0 bytes received)");
    /* The deadline fires at 400 ms, give or take a generous margin. */
    ck_assert_msg(r.elapsed >= 0.39 && r.elapsed < 1.5, "elapsed %.3f s", r.elapsed);
    run_free(&r);
}
END_TEST

START_TEST(test_timeout_mid_body)
{
    struct run r;

    run_one(&r, "/midbody", 400, 0);
    ck_assert_int_eq(r.b.reason, REASON_TIMEOUT);
    ck_assert_str_eq(r.b.error, "timeout after 400 ms (connected, mid-body, 5 bytes received)");
    run_free(&r);
}
END_TEST

START_TEST(test_connection_refused)
{
    struct run r;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", mock_closed_port());
    run_one(&r, url, 2000, 0);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_CONNECT);
    ck_assert_str_eq(r.b.error, "connect: connection refused");
    ck_assert_int_eq(r.b.http_status, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_too_large_content_length)
{
    struct run r;

    run_one(&r, "/big/100000", 2000, 50000);
    ck_assert_int_eq(r.b.reason, REASON_TOO_LARGE);
    ck_assert_str_eq(r.b.error, "body larger than 50000 bytes");
    run_free(&r);
}
END_TEST

START_TEST(test_too_large_chunked)
{
    struct run r;

    /* No Content-Length: only the write callback can stop it (curl 7.88). */
    run_one(&r, "/bigchunked/200000", 2000, 50000);
    ck_assert_int_eq(r.b.reason, REASON_TOO_LARGE);
    ck_assert_str_eq(r.b.error, "body larger than 50000 bytes");
    ck_assert(r.k.len <= 4095);
    run_free(&r);
    /* Exactly at the limit is fine. */
    run_one(&r, "/bigchunked/50000", 2000, 50000);
    ck_assert(r.b.ok);
    run_free(&r);
}
END_TEST

START_TEST(test_redirect_chain)
{
    struct run r;

    run_one(&r, "/redirect/3", 2000, 0);
    ck_assert(r.b.ok);
    ck_assert_str_eq(r.k.body, "hello\n");
    run_free(&r);
    /* More than max_redirects (5). */
    run_one(&r, "/redirect/9", 2000, 0);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_PROTOCOL);
    ck_assert_str_eq(r.b.error, "too many redirects (more than 5)");
    run_free(&r);
}
END_TEST

START_TEST(test_redirect_to_other_protocol_refused)
{
    struct run r;

    run_one(&r, "/ftp-redirect", 2000, 0);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_PROTOCOL);
    ck_assert_msg(strstr(r.b.error, "protocol not allowed") != NULL, "%s", r.b.error);
    run_free(&r);
}
END_TEST

START_TEST(test_gzip_chunked)
{
    struct run r;

    run_one(&r, "/gzip", 2000, 0);
    ck_assert(r.b.ok);
    ck_assert_uint_eq(r.k.len, 1700);
    ck_assert(strncmp(r.k.body, "compressed hello\ncompressed hello\n", 34) == 0);
    run_free(&r);
}
END_TEST

START_TEST(test_hanging_target_does_not_delay_others)
{
    struct run hang, fast[3];

    run_start(&hang, "/hang", 1500, 0);
    run_start(&fast[0], "/ok", 1500, 0);
    run_start(&fast[1], "/slow/100", 1500, 0);
    run_start(&fast[2], "/gzip", 1500, 0);
    ck_assert_int_eq(loop_run(lp), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert(fast[i].b.ok);
        ck_assert_msg(fast[i].elapsed < 0.8, "healthy target %d took %.3f s", i, fast[i].elapsed);
        run_free(&fast[i]);
    }
    ck_assert_int_eq(hang.b.reason, REASON_TIMEOUT);
    ck_assert(hang.elapsed >= 1.49);
    run_free(&hang);
}
END_TEST

START_TEST(test_handle_reused_across_runs)
{
    struct run r;

    run_start(&r, "/ok", 2000, 0);
    loop_run(lp);
    for (int i = 0; i < 5; i++) {
        ck_assert(r.b.ok);
        batch_clear(&r.b);
        r.k.len = 0;
        r.done = false;
        ck_assert_int_eq(scrape_start(r.s, &r.b), 0);
        ck_assert(scrape_busy(r.s));
        ck_assert_int_eq(scrape_start(r.s, &r.b), -EBUSY);
        pending++;
        loop_run(lp);
        ck_assert(r.done);
    }
    ck_assert_int_eq(r.k.finished, 6);
    ck_assert_str_eq(r.k.body, "hello\n");
    run_free(&r);
}
END_TEST

START_TEST(test_idle_targets_hold_no_handle)
{
    struct run r[3];
    uint64_t made = easypool_made();
    size_t idle = easypool_idle();

    /* Runs in flight hold a handle each; when they end the handles wait in the pool. */
    for (int i = 0; i < 3; i++) {
        run_start(&r[i], "/slow/50", 2000, 0);
    }
    ck_assert_uint_eq(easypool_idle(), idle > 3 ? idle - 3 : 0);
    ck_assert_uint_le(easypool_made() - made, 3);
    loop_run(lp);
    uint64_t made_all = easypool_made();
    ck_assert_uint_ge(easypool_idle(), 3);
    /* One run at a time, target after target: they share the pool's handles, no new one. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++) {
            ck_assert(r[i].b.ok);
            ck_assert_str_eq(r[i].k.body, "slow hello\n");
            batch_clear(&r[i].b);
            r[i].k.len = 0;
            ck_assert_int_eq(scrape_start(r[i].s, &r[i].b), 0);
            pending++;
            loop_run(lp);
            ck_assert(r[i].done);
        }
    }
    ck_assert_uint_eq(easypool_made(), made_all);
    ck_assert_uint_ge(easypool_idle(), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(r[i].k.finished, 4);
        run_free(&r[i]);
    }
    /* The last scrape gone, the pool holds nothing. */
    ck_assert_uint_eq(easypool_idle(), 0);
}
END_TEST

START_TEST(test_reason_table)
{
    ck_assert_int_eq(scrape_reason_for(CURLE_OK), REASON_NONE);
    ck_assert_int_eq(scrape_reason_for(CURLE_COULDNT_RESOLVE_HOST), REASON_DNS);
    ck_assert_int_eq(scrape_reason_for(CURLE_COULDNT_CONNECT), REASON_CONNECT);
    ck_assert_int_eq(scrape_reason_for(CURLE_OPERATION_TIMEDOUT), REASON_TIMEOUT);
    ck_assert_int_eq(scrape_reason_for(CURLE_PEER_FAILED_VERIFICATION), REASON_TLS);
    ck_assert_int_eq(scrape_reason_for(CURLE_BAD_CONTENT_ENCODING), REASON_PROTOCOL);
    ck_assert_int_eq(scrape_reason_for(CURLE_RECV_ERROR), REASON_NETWORK);
    ck_assert_int_eq(scrape_reason_for(CURLE_SEND_ERROR), REASON_NETWORK);
    ck_assert_int_eq(scrape_reason_for(CURLE_GOT_NOTHING), REASON_NETWORK);
    ck_assert_int_eq(scrape_reason_for(CURLE_PARTIAL_FILE), REASON_NETWORK);
    ck_assert_int_eq(scrape_reason_for(CURLE_WEIRD_SERVER_REPLY), REASON_PROTOCOL);
    ck_assert_int_eq(scrape_reason_for(CURLE_TOO_MANY_REDIRECTS), REASON_PROTOCOL);
    ck_assert_int_eq(scrape_reason_for(CURLE_OUT_OF_MEMORY), REASON_INTERNAL);
    ck_assert_int_eq(scrape_reason_for_status(204), REASON_NONE);
    ck_assert_int_eq(scrape_reason_for_status(429), REASON_HTTP_4XX);
    ck_assert_int_eq(scrape_reason_for_status(503), REASON_HTTP_5XX);
    ck_assert_int_eq(scrape_reason_for_status(302), REASON_INTERNAL);
    ck_assert_int_eq(httpc_check_curl(), 0);
}
END_TEST

static Suite *
scrape_suite(void)
{
    Suite *s = suite_create("scrape");
    TCase *tc = tcase_create("transfers");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ok);
    tcase_add_test(tc, test_http_500_and_404);
    tcase_add_test(tc, test_timeout_waiting_for_response);
    tcase_add_test(tc, test_timeout_mid_body);
    tcase_add_test(tc, test_connection_refused);
    tcase_add_test(tc, test_too_large_content_length);
    tcase_add_test(tc, test_too_large_chunked);
    tcase_add_test(tc, test_redirect_chain);
    tcase_add_test(tc, test_redirect_to_other_protocol_refused);
    tcase_add_test(tc, test_gzip_chunked);
    tcase_add_test(tc, test_hanging_target_does_not_delay_others);
    tcase_add_test(tc, test_handle_reused_across_runs);
    tcase_add_test(tc, test_idle_targets_hold_no_handle);
    tcase_add_test(tc, test_reason_table);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(scrape_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
