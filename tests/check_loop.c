/*
 * Tests for loop.c's failure path: when the multi handle fails, every transfer in flight gets
 * CURLE_FAILED_INIT exactly once, even when a completion callback cancels or restarts another
 * failed transfer (as the http output does when it moves its queue to the spool). And libevent's
 * own messages reach the log rate limited.
 */
#include "build-config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "mock_server.h"

#define N 3

static struct loop *lp;
static struct mock_server *mock;
static struct loop_xfer xf[N];
static int done_count[N];
static CURLcode done_rc[N];
/* What the first completion does to another transfer not completed yet: 0 nothing, 1 cancel
 * and restart it, 2 cancel it. */
static int action;
static int first = -1, victim = -1;

static void
done_cb(struct loop_xfer *x, CURLcode rc)
{
    int i = (int)(x - xf);

    done_count[i]++;
    done_rc[i] = rc;
    if (first >= 0) {
        return;
    }
    first = i;
    for (int j = 0; j < N && action != 0; j++) {
        if (j != i && done_count[j] == 0) {
            victim = j;
            break;
        }
    }
    if (victim >= 0) {
        loop_xfer_cancel(lp, &xf[victim]);
        if (action == 1) {
            ck_assert_int_eq(loop_xfer_start(lp, &xf[victim]), 0);
        }
    }
}

static void
inject_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loop_inject_failure(arg);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loop_stop(arg);
}

static void
run_case(int act)
{
    char url[128];

    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    mock = mock_server_new(loop_base(lp));
    ck_assert_ptr_nonnull(mock);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hang", mock_server_port(mock));
    memset(done_count, 0, sizeof(done_count));
    action = act;
    first = victim = -1;
    for (int i = 0; i < N; i++) {
        memset(&xf[i], 0, sizeof(xf[i]));
        xf[i].easy = curl_easy_init();
        curl_easy_setopt(xf[i].easy, CURLOPT_URL, url);
        curl_easy_setopt(xf[i].easy, CURLOPT_TIMEOUT_MS, 5000L);
        xf[i].done = done_cb;
        ck_assert_int_eq(loop_xfer_start(lp, &xf[i]), 0);
    }
    ck_assert_uint_eq(loop_in_flight(lp), N);
    struct timeval t1 = {0, 100000}, t2 = {0, 400000};
    struct event *inject = evtimer_new(loop_base(lp), inject_cb, lp);
    struct event *stop = evtimer_new(loop_base(lp), stop_cb, lp);
    evtimer_add(inject, &t1);
    evtimer_add(stop, &t2);
    loop_run(lp);
    event_free(inject);
    event_free(stop);
}

static void
end_case(void)
{
    for (int i = 0; i < N; i++) {
        loop_xfer_cancel(lp, &xf[i]);
        curl_easy_cleanup(xf[i].easy);
    }
    mock_server_free(mock);
    loop_free(lp);
}

START_TEST(test_failure_fails_each_transfer_once)
{
    run_case(0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(done_count[i], 1);
        ck_assert_int_eq(done_rc[i], CURLE_FAILED_INIT);
        ck_assert_msg(strstr(xf[i].errbuf, "loop_inject_failure") != NULL, "%s", xf[i].errbuf);
    }
    ck_assert_uint_eq(loop_in_flight(lp), 0);
    end_case();
}
END_TEST

START_TEST(test_restarted_transfer_gets_no_stale_failure)
{
    run_case(1);
    ck_assert_int_ge(victim, 0);
    for (int i = 0; i < N; i++) {
        /* The victim was restarted by the first completion: it is still running. */
        ck_assert_int_eq(done_count[i], i == victim ? 0 : 1);
    }
    ck_assert(xf[victim].active);
    ck_assert_uint_eq(loop_in_flight(lp), 1);
    end_case();
}
END_TEST

START_TEST(test_cancelled_transfer_gets_no_completion)
{
    run_case(2);
    ck_assert_int_ge(victim, 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(done_count[i], i == victim ? 0 : 1);
    }
    ck_assert_uint_eq(loop_in_flight(lp), 0);
    end_case();
}
END_TEST

static int log_lines;
static char first_line[256];

static void
count_cb(enum log_level lvl, const char *line, void *arg)
{
    (void)lvl;
    (void)arg;
    if (log_lines++ == 0) {
        snprintf(first_line, sizeof(first_line), "%s", line);
    }
}

/*
 * libevent's messages go through the log, rate limited: an event added without a base makes
 * libevent warn on every call (as a failing accept() did, as fast as the loop turned).
 */
START_TEST(test_libevent_messages_rate_limited)
{
    struct loop *l = loop_new();
    struct event *ev = calloc(1, event_get_struct_event_size());
    uint64_t suppressed = log_suppressed_total();

    ck_assert_ptr_nonnull(l);
    ck_assert_ptr_nonnull(ev);
    log_set_sink(count_cb, NULL);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_ne(event_add(ev, NULL), 0);
    }
    log_set_sink(NULL, NULL);
    ck_assert_int_ge(log_lines, 1);
    ck_assert_int_le(log_lines, 2);
    ck_assert_msg(strncmp(first_line, "libevent: ", 10) == 0, "%s", first_line);
    ck_assert_uint_ge(log_suppressed_total() - suppressed, 998);
    free(ev);
    loop_free(l);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("failure");

    tcase_add_test(tc, test_failure_fails_each_transfer_once);
    tcase_add_test(tc, test_restarted_transfer_gets_no_stale_failure);
    tcase_add_test(tc, test_cancelled_transfer_gets_no_completion);
    suite_add_tcase(s, tc);
    tc = tcase_create("log");
    tcase_add_test(tc, test_libevent_messages_rate_limited);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
