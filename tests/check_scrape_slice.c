/*
 * Tests for the slices of scrape.c (issue 13 item 2): a body is parsed, and a run finished, a
 * bounded amount per loop turn, so other events run in between (counted by a zero-delay
 * "ticker" timer: no timing assertion); the bytes reach the kind whole and in order; a failure
 * in a waiting chunk stops the transfer with the kind's reason; a scrape freed in the middle
 * leaks nothing; and a big prometheus scrape (200,000 series, built by the mock) gives the same
 * samples, limits and errors as a scrape made in one go.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "engine.h"
#include "job_prom.h"
#include "loop.h"
#include "mock_server.h"
#include "relabel.h"
#include "sample.h"
#include "scrape.h"
#include "stats.h"

#define BIG 200000
/* The engine tests' target: smaller (valgrind), its pass over the samples slowed by a regex. */
#define ENGINE_SERIES 50000

static struct loop *lp;
static struct mock_server *mock;
static struct event *ticker;
static unsigned long ticks;
/* What the ticker does the first time a run is held after its transfer (engine tests). */
static void (*on_held)(void);
static struct engine *eng;

/* The ticker's period: zero (every loop turn), or 1 ms where a test waits for a schedule. */
static struct timeval tick_every;

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    ticks++;
    if (on_held != NULL && loop_held(lp) > 0) {
        void (*fn)(void) = on_held;
        on_held = NULL;
        fn();
    }
    evtimer_add(ticker, &tick_every);
}

static void
setup(void)
{
    static const struct timeval zero = {0, 0};

    curl_global_init(CURL_GLOBAL_DEFAULT);
    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    mock = mock_server_new(loop_base(lp));
    ck_assert_ptr_nonnull(mock);
    ticker = evtimer_new(loop_base(lp), tick_cb, NULL);
    ck_assert_ptr_nonnull(ticker);
    ticks = 0;
    tick_every = zero;
    on_held = NULL;
    eng = NULL;
    evtimer_add(ticker, &zero);
}

static void
teardown(void)
{
    engine_free(eng);
    event_free(ticker);
    mock_server_free(mock);
    loop_free(lp);
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
}

/* Spends a little more than one slice, as a big body's parse would. */
static void
busy(void)
{
    double t0 = clock_mono_s();

    while (clock_mono_s() - t0 < SCRAPE_SLICE_S * 1.5) {
    }
}

/*
 * A slow kind: every feed and every finish_more call takes more than a slice; each notes the
 * ticker's count when it ran. It keeps the body to check it arrived whole and in order.
 */
#define MAXCALLS 4096
struct slow_kind {
    char *body;
    size_t len, cap;
    unsigned long feed_ticks[MAXCALLS];
    size_t nfeeds;
    unsigned long more_ticks[MAXCALLS];
    size_t nmore, more_want;
    int finished;
    size_t fail_at;  /* > 0: the feed call of this number fails (parse) */
    size_t break_at; /* > 0: the feed (or finish_more) call of this number stops the loop */
    bool break_in_more;
};

static int
slow_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct slow_kind *k = state;

    busy();
    if (k->nfeeds < MAXCALLS) {
        k->feed_ticks[k->nfeeds] = ticks;
    }
    k->nfeeds++;
    if (k->len + len > k->cap) {
        k->cap = (k->len + len) * 2;
        k->body = realloc(k->body, k->cap);
        ck_assert_ptr_nonnull(k->body);
    }
    memcpy(k->body + k->len, data, len);
    k->len += len;
    if (!k->break_in_more && k->break_at == k->nfeeds) {
        event_base_loopbreak(loop_base(lp));
    }
    if (k->fail_at == k->nfeeds) {
        batch_fail(b, REASON_PARSE, "parse error in chunk %zu", k->nfeeds);
        return -EINVAL;
    }
    return 0;
}

static void
slow_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct slow_kind *k = state;

    (void)res;
    (void)easy;
    (void)b;
    k->finished++;
}

static bool
slow_more(void *state, struct batch *b)
{
    struct slow_kind *k = state;

    (void)b;
    if (k->nmore >= k->more_want) {
        return false;
    }
    busy();
    k->more_ticks[k->nmore++] = ticks;
    if (k->break_in_more && k->break_at == k->nmore) {
        event_base_loopbreak(loop_base(lp));
    }
    return k->nmore < k->more_want;
}

static const struct job_kind slow_kind = {
    .name = "slow",
    .feed = slow_feed,
    .finish = slow_finish,
    .finish_more = slow_more,
};

struct run {
    struct scrape *s;
    struct batch b;
    bool done;
    unsigned in_flight_at_done;
};

static void
done_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct run *r = arg;

    (void)s;
    (void)b;
    r->done = true;
    r->in_flight_at_done = loop_in_flight(lp);
    loop_stop(lp);
}

static void
run_start(struct run *r, const char *path, const struct job_kind *kind, void *state)
{
    static const struct httpc_opts http = {.follow_redirects = true};
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    struct scrape_opts o = {.url = url, .timeout_ms = 20000, .http = &http};
    memset(r, 0, sizeof(*r));
    batch_init(&r->b);
    r->s = scrape_new(lp, &o, kind, state, done_cb, r);
    ck_assert_ptr_nonnull(r->s);
    ck_assert_int_eq(scrape_start(r->s, &r->b), 0);
}

static void
run_free(struct run *r)
{
    scrape_free(r->s);
    batch_release(&r->b);
}

static struct slow_kind *
slow_new(void)
{
    struct slow_kind *k = calloc(1, sizeof(*k));

    ck_assert_ptr_nonnull(k);
    return k;
}

static void
slow_free(struct run *r, struct slow_kind *k)
{
    run_free(r);
    free(k->body);
    free(k);
}

/* The body of /series/@n, as the mock makes it. */
static char *
series_body(long n, size_t *len)
{
    size_t cap = (size_t)n * 32 + 1, off = 0;
    char *s = malloc(cap);

    ck_assert_ptr_nonnull(s);
    for (long i = 0; i < n; i++) {
        off += (size_t)snprintf(s + off, cap - off, "s{i=\"%ld\"} %ld\n", i, i);
    }
    *len = off;
    return s;
}

START_TEST(test_feed_in_slices)
{
    struct slow_kind *k = slow_new();
    struct run r;
    size_t want_len;
    char *want = series_body(20000, &want_len);

    run_start(&r, "/series/20000", &slow_kind, k);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r.done);
    ck_assert(r.b.ok);
    ck_assert_int_eq(k->finished, 1);
    /* The whole body, in order. */
    ck_assert_uint_eq(k->len, want_len);
    ck_assert(memcmp(k->body, want, want_len) == 0);
    /* Each feed took more than a slice: the ticker ran between any two of them. */
    ck_assert_uint_ge(k->nfeeds, 10);
    for (size_t i = 1; i < k->nfeeds && i < MAXCALLS; i++) {
        ck_assert_msg(k->feed_ticks[i] > k->feed_ticks[i - 1], "feeds %zu and %zu in one loop turn",
                      i - 1, i);
    }
    ck_assert_uint_eq(r.in_flight_at_done, 0);
    slow_free(&r, k);
    free(want);
}
END_TEST

START_TEST(test_finish_more_in_slices)
{
    struct slow_kind *k = slow_new();
    struct run r;

    k->more_want = 20;
    run_start(&r, "/ok", &slow_kind, k);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r.done);
    ck_assert_uint_eq(k->nmore, 20);
    for (size_t i = 1; i < k->nmore; i++) {
        ck_assert_msg(k->more_ticks[i] > k->more_ticks[i - 1],
                      "finish_more calls %zu and %zu in one loop turn", i - 1, i);
    }
    /* The hold (a drain waits for the run) is let go of before the run is handed over. */
    ck_assert_uint_eq(r.in_flight_at_done, 0);
    ck_assert_uint_eq(k->len, 6);
    ck_assert(memcmp(k->body, "hello\n", 6) == 0);
    slow_free(&r, k);
}
END_TEST

/* Starts a run whose finish_more (10 slices) stops the loop at its call @at: it is held then. */
static struct slow_kind *
stop_in_finish(struct run *r, size_t at)
{
    struct slow_kind *k = slow_new();

    k->more_want = 10;
    k->break_in_more = true;
    k->break_at = at;
    run_start(r, "/ok", &slow_kind, k);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(!r->done);
    ck_assert_uint_eq(loop_in_flight(lp), 1);
    return k;
}

/* While finish_more slices are left, the loop counts the run in flight and it is busy. */
START_TEST(test_held_while_finishing)
{
    struct run r;
    struct slow_kind *k = stop_in_finish(&r, 3);

    ck_assert(scrape_busy(r.s));
    ck_assert_int_eq(scrape_start(r.s, &r.b), -EBUSY);
    /* Go on: the run ends after its last slice. */
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r.done);
    ck_assert_uint_eq(k->nmore, 10);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
    slow_free(&r, k);
}
END_TEST

START_TEST(test_failure_in_waiting_chunk)
{
    struct slow_kind *k = slow_new();
    struct run r;

    k->fail_at = 4;
    run_start(&r, "/series/50000", &slow_kind, k);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r.done);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_PARSE);
    ck_assert_str_eq(r.b.error, "parse error in chunk 4");
    ck_assert_uint_eq(k->nfeeds, 4); /* nothing fed after the failure */
    ck_assert_int_eq(k->finished, 1);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
    slow_free(&r, k);
}
END_TEST

/* Freed with chunks waiting and the transfer on (a target removed, a shutdown): no leak. */
START_TEST(test_free_mid_feed)
{
    struct slow_kind *k = slow_new();
    struct run r;

    k->break_at = 3;
    run_start(&r, "/series/50000", &slow_kind, k);
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(!r.done);
    ck_assert_uint_eq(k->nfeeds, 3);
    slow_free(&r, k);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
}
END_TEST

START_TEST(test_free_mid_finish)
{
    struct run r;
    struct slow_kind *k = stop_in_finish(&r, 2);

    slow_free(&r, k);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
}
END_TEST

/* The prometheus kind on a body of BIG series (made by the mock): sliced, and counting. */
static void
prom_run(struct run *r, const char *path, struct prom_opts *po, void **state)
{
    po->honor_timestamps = true;
    po->timeout_ms = 20000;
    *state = job_prom_new(po);
    ck_assert_ptr_nonnull(*state);
    run_start(r, path, &job_prom, *state);
    unsigned long t0 = ticks;
    ck_assert_int_eq(loop_run(lp), 0);
    ck_assert(r->done);
    /* Other events ran while it was parsed and finished (not one turn for all of it). */
    ck_assert_uint_gt(ticks - t0, 10);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
}

static void
prom_free_run(struct run *r, void *state)
{
    scrape_free(r->s);
    job_prom.free(state);
    batch_release(&r->b);
}

START_TEST(test_prom_big_same_samples)
{
    struct prom_opts po = {0};
    struct run r;
    void *state;
    char want[32];

    prom_run(&r, "/series/200000", &po, &state);
    ck_assert_msg(r.b.ok, "%s", r.b.error);
    ck_assert_uint_eq(r.b.nsamples, BIG);
    ck_assert_int_eq(r.b.samples_scraped, BIG);
    ck_assert_int_eq(r.b.samples_post_relabel, -1);
    for (size_t i = 0; i < BIG; i++) {
        const struct sample *s = &r.b.samples[i];
        snprintf(want, sizeof(want), "%zu", i);
        ck_assert_str_eq(s->name, "s");
        ck_assert_uint_eq(s->nlabels, 1);
        ck_assert_str_eq(s->labels[0].name, "i");
        ck_assert_str_eq(s->labels[0].value, want);
        ck_assert(s->value == (double)i);
    }
    prom_free_run(&r, state);
}
END_TEST

START_TEST(test_prom_big_relabel)
{
    char err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));
    const char *src[] = {"i"};

    ck_assert_ptr_nonnull(rules);
    /* Keeps the series whose i ends in 7: every tenth, from all over the body. */
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_KEEP, src, 1, NULL, ".*7", NULL, NULL,
                                       err, sizeof(err)),
                     0);
    struct prom_opts po = {.rules = rules, .nrules = 1};
    struct run r;
    void *state;
    char want[32];

    prom_run(&r, "/series/200000", &po, &state);
    ck_assert_msg(r.b.ok, "%s", r.b.error);
    ck_assert_int_eq(r.b.samples_scraped, BIG);
    ck_assert_int_eq(r.b.samples_post_relabel, BIG / 10);
    ck_assert_uint_eq(r.b.nsamples, BIG / 10);
    for (size_t i = 0; i < BIG / 10; i++) {
        snprintf(want, sizeof(want), "%zu", i * 10 + 7);
        ck_assert_str_eq(r.b.samples[i].labels[0].value, want);
        ck_assert(r.b.samples[i].value == (double)(i * 10 + 7));
    }
    prom_free_run(&r, state);
}
END_TEST

/* sample_limit after relabeling (with rules), a label limit deep in the body, a parse error. */
START_TEST(test_prom_big_limits_and_errors)
{
    char err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));

    ck_assert_ptr_nonnull(rules);
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_LABELDROP, NULL, 0, NULL, "absent", NULL,
                                       NULL, err, sizeof(err)),
                     0);
    struct prom_opts po = {.rules = rules, .nrules = 1, .sample_limit = 150000};
    struct run r;
    void *state;

    prom_run(&r, "/series/200000", &po, &state);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_LIMIT);
    ck_assert_str_eq(r.b.error, "sample_limit exceeded: 200000 samples (limit 150000)");
    ck_assert_uint_eq(r.b.nsamples, 0);
    prom_free_run(&r, state);

    /* The first value of six characters is series 100000's, half-way through. */
    struct prom_opts lv = {.label_value_length_limit = 5};
    prom_run(&r, "/series/200000", &lv, &state);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_LIMIT);
    ck_assert_str_eq(r.b.error, "label_value_length_limit exceeded (metric: s, label name: i, "
                                "value: \"100000\", length: 6, limit: 5)");
    ck_assert_uint_eq(r.b.nsamples, 0);
    prom_free_run(&r, state);

    struct prom_opts pe = {0};
    prom_run(&r, "/series/200000/bad/150001", &pe, &state);
    ck_assert(!r.b.ok);
    ck_assert_int_eq(r.b.reason, REASON_PARSE);
    ck_assert_msg(strncmp(r.b.error, "parse error at line 150001: ", 28) == 0, "%s", r.b.error);
    ck_assert_uint_eq(r.b.nsamples, 0);
    prom_free_run(&r, state);
}
END_TEST

/*
 * The engine with one prometheus target on /series/ENGINE_SERIES (no outputs: the runs are
 * counted), with a metric relabeling rule that needs regexec for every sample: the pass over the
 * samples takes many slices.
 */
static void
engine_big(int64_t interval_ms)
{
    char url[256], err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));
    const char *src[] = {"i"};

    ck_assert_ptr_nonnull(rules);
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_REPLACE, src, 1, NULL, "([0-9]+)", "j",
                                       "x$1", err, sizeof(err)),
                     0);
    struct prom_opts po = {
        .honor_timestamps = true, .timeout_ms = 20000, .rules = rules, .nrules = 1};

    eng = engine_new(lp);
    ck_assert_ptr_nonnull(eng);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/series/%d", mock_server_port(mock),
             ENGINE_SERIES);
    struct target_spec spec = {
        .job = "big",
        .url = url,
        .interval_ms = interval_ms,
        .timeout_ms = 20000 < interval_ms || interval_ms == 0 ? 20000 : interval_ms,
        .kind = &job_prom,
        .kind_state = job_prom_new(&po),
    };
    ck_assert_ptr_nonnull(spec.kind_state);
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
}

static bool held_seen;

/* A reload without the target while its run is being finished: it is retired, then freed. */
static void
reload_without_target(void)
{
    size_t kept, added, removed;

    held_seen = true;
    engine_reload_begin(eng);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_uint_eq(engine_target_count(eng), 0);
}

START_TEST(test_engine_reload_mid_finish)
{
    engine_big(0);
    on_held = reload_without_target;
    ck_assert_int_ge(engine_run_once(eng), 0);
    ck_assert(held_seen);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
    ck_assert_uint_eq(engine_target_count(eng), 0);
}
END_TEST

static void
stop_loop(void)
{
    held_seen = true;
    loop_stop(lp);
}

/* The loop stops (a second signal, a failure) while a run is being finished: freed, no leak. */
START_TEST(test_engine_free_mid_finish)
{
    engine_big(0);
    on_held = stop_loop;
    engine_run_once(eng);
    ck_assert(held_seen);
    ck_assert_uint_eq(loop_held(lp), 1);
    engine_free(eng);
    eng = NULL;
    ck_assert_uint_eq(loop_in_flight(lp), 0);
}
END_TEST

static void
sigterm(void)
{
    held_seen = true;
    raise(SIGTERM);
}

/* SIGTERM while a run is being finished: the drain waits for it, and the run counts. */
START_TEST(test_engine_drain_waits_for_slices)
{
    struct engine_target_info info;

    /* Its first tick is up to an interval away: the ticker need not spin meanwhile. */
    tick_every.tv_usec = 1000;
    engine_big(5000);
    on_held = sigterm;
    ck_assert_int_eq(engine_run(eng, 600000), 0); /* the test's timeout bounds it */
    ck_assert(held_seen);
    ck_assert_int_eq(engine_target_info(eng, 0, &info), 0);
    ck_assert_msg(info.last_reason == REASON_NONE, "%s", info.last_error);
    ck_assert_uint_ge(info.last_samples, ENGINE_SERIES);
    ck_assert_uint_eq(loop_in_flight(lp), 0);
}
END_TEST

/*
 * A --once run of a big target ends when its run does: the memory given back on the worker
 * after it (malloc_trim) re-checks the drain, rather than leaving it to the drain deadline (an
 * hour here: with the old code the test runs into Check's timeout).
 */
START_TEST(test_engine_once_big_ends)
{
    struct engine_target_info info;

    engine_big(0);
    engine_set_drain_timeout(eng, 3600 * 1000);
    ck_assert_int_eq(engine_run_once(eng), 0);
    ck_assert_int_eq(engine_target_info(eng, 0, &info), 0);
    ck_assert_uint_ge(info.last_samples, ENGINE_SERIES);
}
END_TEST

static Suite *
slice_suite(void)
{
    Suite *s = suite_create("scrape_slice");
    TCase *tc = tcase_create("slices");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_feed_in_slices);
    tcase_add_test(tc, test_finish_more_in_slices);
    tcase_add_test(tc, test_held_while_finishing);
    tcase_add_test(tc, test_failure_in_waiting_chunk);
    tcase_add_test(tc, test_free_mid_feed);
    tcase_add_test(tc, test_free_mid_finish);
    tcase_add_test(tc, test_prom_big_same_samples);
    tcase_add_test(tc, test_prom_big_relabel);
    tcase_add_test(tc, test_prom_big_limits_and_errors);
    tcase_add_test(tc, test_engine_once_big_ends);
    tcase_add_test(tc, test_engine_reload_mid_finish);
    tcase_add_test(tc, test_engine_free_mid_finish);
    tcase_add_test(tc, test_engine_drain_waits_for_slices);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(slice_suite());

    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
