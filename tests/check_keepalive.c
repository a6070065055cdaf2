/*
 * Keep-alive per target: N targets on N distinct ports, scraped M rounds one at a time (as a
 * spread schedule runs them: only one transfer is in the multi handle at any moment), open N
 * connections, not N x M. Each server counts the connections it accepted (evhttp's bufferevent
 * callback runs once per accepted connection). The cache is re-sized as scrapes come and go.
 */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "loop.h"
#include "mock_oneshot.h"
#include "sample.h"
#include "scrape.h"

#define NTARGETS 20
#define ROUNDS 5

struct counting_server {
    struct evhttp *http;
    unsigned port;
    unsigned accepted; /* connections */
    unsigned requests;
};

static struct loop *lp;
static struct counting_server servers[NTARGETS];

static struct bufferevent *
accept_bev_cb(struct event_base *base, void *arg)
{
    struct counting_server *cs = arg;

    cs->accepted++;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
    struct counting_server *cs = arg;
    struct evbuffer *buf = evbuffer_new();

    cs->requests++;
    evbuffer_add_printf(buf, "# TYPE x gauge\nx %u\n", cs->requests);
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

static void
server_start(struct counting_server *cs, struct event_base *base)
{
    memset(cs, 0, sizeof(*cs));
    cs->http = evhttp_new(base);
    ck_assert_ptr_nonnull(cs->http);
    evhttp_set_bevcb(cs->http, accept_bev_cb, cs);
    evhttp_set_gencb(cs->http, metrics_cb, cs);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(cs->http, "127.0.0.1", 0);
    ck_assert_ptr_nonnull(bs);
    struct sockaddr_storage ss;
    ev_socklen_t len = sizeof(ss);
    ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len), 0);
    cs->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A kind that only counts the bytes; the transport result is what matters here. */
static int
count_feed(void *state, const char *data, size_t len, struct batch *b)
{
    *(size_t *)state += len;
    return 0;
}

static const struct job_kind count_kind = {.name = "count", .feed = count_feed};

struct target {
    char url[64];
    struct scrape *s;
    struct batch b;
    size_t bytes;
    bool ok;
};

static struct target targets[NTARGETS];

static void
done_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct target *t = arg;

    t->ok = b->ok;
    loop_stop(lp);
}

static void
setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    for (int i = 0; i < NTARGETS; i++) {
        server_start(&servers[i], loop_base(lp));
    }
}

static void
teardown(void)
{
    for (int i = 0; i < NTARGETS; i++) {
        evhttp_free(servers[i].http);
    }
    loop_free(lp);
    curl_global_cleanup();
    arena_free_cache();
}

static void
targets_new(bool fresh_connect)
{
    for (int i = 0; i < NTARGETS; i++) {
        struct target *t = &targets[i];
        memset(t, 0, sizeof(*t));
        batch_init(&t->b);
        snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%u/metrics", servers[i].port);
        struct scrape_opts o = {.url = t->url, .timeout_ms = 5000, .fresh_connect = fresh_connect};
        t->s = scrape_new(lp, &o, &count_kind, &t->bytes, done_cb, t);
        ck_assert_ptr_nonnull(t->s);
    }
}

static void
targets_free(void)
{
    for (int i = 0; i < NTARGETS; i++) {
        scrape_free(targets[i].s);
        batch_release(&targets[i].b);
    }
}

/* Runs one scrape of target @i to completion. */
static void
scrape_one(int i)
{
    struct target *t = &targets[i];

    batch_clear(&t->b);
    t->ok = false;
    ck_assert_int_eq(scrape_start(t->s, &t->b), 0);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert_msg(t->ok, "scrape of %s failed: %s", t->url, t->b.error);
}

static unsigned
accepted_total(void)
{
    unsigned n = 0;

    for (int i = 0; i < NTARGETS; i++) {
        n += servers[i].accepted;
    }
    return n;
}

START_TEST(test_one_connection_per_target)
{
    uint64_t connects = 0;

    targets_new(false);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < NTARGETS; i++) {
            scrape_one(i);
        }
    }
    for (int i = 0; i < NTARGETS; i++) {
        ck_assert_uint_eq(servers[i].requests, ROUNDS);
        ck_assert_msg(servers[i].accepted == 1, "target %d: %u connections for %d scrapes", i,
                      servers[i].accepted, ROUNDS);
        connects += scrape_take_connects(targets[i].s);
        ck_assert_uint_eq(scrape_take_connects(targets[i].s), 0); /* taken: reset */
    }
    ck_assert_uint_eq(accepted_total(), NTARGETS);
    /* The self metric's source agrees with the servers. */
    ck_assert_uint_eq(connects, NTARGETS);
    targets_free();
}
END_TEST

/* The count is real: a scrape that must not reuse (probes) connects every time and says so. */
START_TEST(test_fresh_connect_counts_every_connection)
{
    uint64_t connects = 0;

    targets_new(true);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < NTARGETS; i++) {
            scrape_one(i);
        }
    }
    for (int i = 0; i < NTARGETS; i++) {
        connects += scrape_take_connects(targets[i].s);
    }
    ck_assert_uint_eq(accepted_total(), 2 * NTARGETS);
    ck_assert_uint_eq(connects, 2 * NTARGETS);
    targets_free();
}
END_TEST

START_TEST(test_cache_resized_with_targets)
{
    long base = loop_max_connects(lp);

    ck_assert_int_eq(base, LOOP_CONN_SLACK);
    targets_new(false);
    ck_assert_int_eq(loop_max_connects(lp), base + NTARGETS);
    for (int i = 0; i < NTARGETS; i++) {
        scrape_one(i);
    }
    /*
     * Half the targets go (a reload): the cache shrinks. curl evicts the oldest idle
     * connections, which may be kept targets' (the removed ones' were used last): a kept target
     * reconnects at most once, then keeps its connection again.
     */
    for (int i = NTARGETS / 2; i < NTARGETS; i++) {
        scrape_free(targets[i].s);
        targets[i].s = NULL;
    }
    ck_assert_int_eq(loop_max_connects(lp), base + NTARGETS / 2);
    for (int i = 0; i < NTARGETS / 2; i++) {
        scrape_one(i);
    }
    unsigned after_first = accepted_total();
    for (int i = 0; i < NTARGETS / 2; i++) {
        ck_assert_uint_le(servers[i].accepted, 2);
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < NTARGETS / 2; i++) {
            scrape_one(i);
        }
    }
    ck_assert_uint_eq(accepted_total(), after_first);
    targets_free();
    ck_assert_int_eq(loop_max_connects(lp), base);
}
END_TEST

/* A rebuilt multi handle (after a multi error) gets the same cache size. */
START_TEST(test_cache_size_survives_rebuild)
{
    targets_new(false);
    loop_inject_failure(lp);
    event_base_loop(loop_base(lp), EVLOOP_NONBLOCK); /* the rebuild runs */
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < NTARGETS; i++) {
            scrape_one(i);
        }
    }
    ck_assert_uint_eq(accepted_total(), NTARGETS);
    targets_free();
}
END_TEST

/*
 * Every run on a reused connection that dies succeeds on libcurl's retry, however many there are:
 * the handle is set up afresh after a run that connected, so libcurl's retry count (kept in the
 * handle, reset only when it gives up) never reaches its limit of 5. Before, the seventh run failed
 * with "Connection died, tried 5 times before giving up".
 */
START_TEST(test_dying_kept_connections_never_fail_a_run)
{
    struct mock_oneshot *srv = mock_oneshot_new(loop_base(lp));
    const unsigned runs = 15;

    ck_assert_ptr_nonnull(srv);
    struct target *t = &targets[0];
    memset(t, 0, sizeof(*t));
    batch_init(&t->b);
    snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%u/metrics", mock_oneshot_port(srv));
    struct scrape_opts o = {.url = t->url, .timeout_ms = 5000};
    t->s = scrape_new(lp, &o, &count_kind, &t->bytes, done_cb, t);
    ck_assert_ptr_nonnull(t->s);
    for (unsigned r = 0; r < runs; r++) {
        scrape_one(0); /* fails the test with the run's error */
    }
    ck_assert_uint_eq(mock_oneshot_answered(srv), runs);
    /* Each run after the first: the kept connection died, the retry opened a new one. */
    ck_assert_uint_eq(mock_oneshot_accepted(srv), runs);
    ck_assert_uint_eq(scrape_take_connects(t->s), runs);
    scrape_free(t->s);
    batch_release(&t->b);
    mock_oneshot_free(srv);
}
END_TEST

static Suite *
keepalive_suite(void)
{
    Suite *s = suite_create("keepalive");
    TCase *tc = tcase_create("keepalive");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_one_connection_per_target);
    tcase_add_test(tc, test_fresh_connect_counts_every_connection);
    tcase_add_test(tc, test_cache_resized_with_targets);
    tcase_add_test(tc, test_cache_size_survives_rebuild);
    tcase_add_test(tc, test_dying_kept_connections_never_fail_a_run);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(keepalive_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
