/*
 * Tests for the http output against a scripted mock sink on the same loop: delivery in order,
 * batching, gzip, retries with backoff and Retry-After, rejection without retry, resets and
 * timeouts, the memory bound, the spool across an outage and a restart, the drain, and the books
 * (collected + recovered = delivered + dropped + pending) after each.
 */
#include "build-config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "enc_otlp.h"
#include "enc_json.h"
#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "mock_oneshot.h"
#include "mock_sink.h"
#include "out_http.h"
#include "recpack.h"
#include "sample.h"
#include "setup.h"
#include "stats.h"
#include "strbuf.h"
#include "testutil.h"

static struct loop *lp;
static struct mock_sink *sink;
static char spool_dir[64];
static char logbuf[1 << 16];

static void
log_capture(enum log_level lvl, const char *line, void *arg)
{
    size_t n = strlen(logbuf);

    (void)lvl;
    (void)arg;
    snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
}

static void
setup(void)
{
    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    sink = mock_sink_new(loop_base(lp));
    ck_assert_ptr_nonnull(sink);
    snprintf(spool_dir, sizeof(spool_dir), "/tmp/pollster-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spool_dir));
    logbuf[0] = '\0';
    log_set_sink(log_capture, NULL);
}

static void
rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static void
teardown(void)
{
    log_set_sink(NULL, NULL);
    mock_sink_free(sink);
    loop_free(lp);
    rm_rf(spool_dir);
}

static struct out_http_opts
opts(const char *url_path, bool with_spool)
{
    static char url[128];
    struct out_http_opts o = {
        .what = "outputs[0]",
        .url = url,
        .enc = &enc_json,
        .timeout_ms = 2000,
        .batch_max_bytes = 1 << 20,
        .flush_interval_ms = 50,
        .queue_max_bytes = 64 << 20,
        .spool_dir = with_spool ? spool_dir : NULL,
        .spool_max_bytes = 64 << 20,
        .spool_fsync = SPOOL_FSYNC_NEVER,
        .retry_initial_ms = 20,
        .retry_max_ms = 100,
        .gzip = true,
    };

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_sink_port(sink), url_path);
    return o;
}

typedef bool cond_fn(void *arg);

struct waiter {
    cond_fn *fn;
    void *arg;
    struct event *ev;
    double deadline;
    bool met;
};

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;

    (void)fd;
    (void)what;
    if (w->fn(w->arg)) {
        w->met = true;
        loop_stop(lp);
        return;
    }
    if (now_ms() > w->deadline) {
        loop_stop(lp);
        return;
    }
    struct timeval tv = {0, 5000};
    evtimer_add(w->ev, &tv);
}

/* Runs the loop until @fn(@arg) holds (checked every 5 ms) or @ms pass; returns whether it held. */
static bool
run_until(cond_fn *fn, void *arg, double ms)
{
    struct waiter w = {.fn = fn, .arg = arg, .deadline = now_ms() + ms};
    struct timeval tv = {0, 1000};

    w.ev = evtimer_new(loop_base(lp), poll_cb, &w);
    evtimer_add(w.ev, &tv);
    loop_run(lp);
    event_free(w.ev);
    return w.met;
}

static size_t want_accepted;

/* The sink accepted want_accepted requests and the output @arg (if any) has settled them. */
static bool
accepted_enough(void *arg)
{
    return mock_sink_accepted(sink) >= want_accepted && (arg == NULL || !out_http_ops.busy(arg));
}

static bool
never(void *arg)
{
    (void)arg;
    return false;
}

static void
stats_of(void *h, struct output_stats *st)
{
    memset(st, 0, sizeof(*st));
    out_http_ops.stats(h, st);
}

/* The output @arg holds nothing more: everything delivered or dropped. */
static bool
nothing_pending(void *arg)
{
    struct output_stats st;

    stats_of(arg, &st);
    return st.pending_samples == 0;
}

/* collected + recovered = delivered + dropped + pending, asserted. */
static void
assert_books(void *h)
{
    struct output_stats st;

    stats_of(h, &st);
    testutil_assert_books(&st);
}

static void
write_lines(void *h, int from, int to)
{
    char line[64];

    for (int i = from; i < to; i++) {
        int n = snprintf(line, sizeof(line), "{\"n\":%d}\n", i);
        ck_assert_int_eq(out_http_ops.write(h, line, (size_t)n, 2), 0);
    }
}

/* Asserts the sink got exactly lines from..to-1 in order (each once). */
static void
assert_lines(int from, int to)
{
    const char *all = mock_sink_all(sink);
    char line[64];
    const char *p = all;

    for (int i = from; i < to; i++) {
        int n = snprintf(line, sizeof(line), "{\"n\":%d}\n", i);
        ck_assert_msg(strncmp(p, line, (size_t)n) == 0, "expected line %d at offset %zu: %.40s", i,
                      (size_t)(p - all), p);
        p += n;
    }
    ck_assert_msg(*p == '\0', "unexpected data after the last line: %.60s", p);
}

START_TEST(test_delivers_in_order_batched_gzip)
{
    struct out_http_opts o = opts("/api/v1/import", false);
    char err[256];

    o.batch_max_bytes = 100; /* about 10 lines per request */
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 50);
    want_accepted = 5;
    ck_assert(run_until(accepted_enough, h, 3000));
    run_until(never, NULL, 200); /* nothing more arrives */
    assert_lines(0, 50);
    ck_assert_str_eq(mock_sink_content_encoding(sink), "gzip");
    ck_assert_str_eq(mock_sink_content_type(sink), "application/x-ndjson");
    /* Records are never split, and a request stops at the first record past batch_max_bytes. */
    for (size_t i = 0; i < mock_sink_accepted(sink); i++) {
        size_t len;
        mock_sink_body(sink, i, &len);
        ck_assert_uint_le(len, 100 + 12);
    }
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(st.collected, 100);
    ck_assert_uint_eq(st.delivered, 100);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_eq(st.requests, mock_sink_accepted(sink));
    ck_assert(st.last_success > 0);
    assert_books(h);
    out_http_ops.flush(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_flush_interval_sends_partial_batch)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    o.flush_interval_ms = 300;
    o.gzip = false;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    double t0 = now_ms();
    write_lines(h, 0, 3);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    double waited = mock_sink_arrival_ms(sink, 0) - t0;
    ck_assert_msg(waited >= 250, "sent after %.0f ms, before the flush interval", waited);
    ck_assert_str_eq(mock_sink_content_encoding(sink), "");
    assert_lines(0, 3);
    out_http_ops.free(h);
}
END_TEST

static struct mock_oneshot *oneshot;
static unsigned want_answered;

static bool
oneshot_answered_enough(void *arg)
{
    return mock_oneshot_answered(oneshot) >= want_answered && !out_http_ops.busy(arg);
}

/*
 * A sink whose kept connection dies as each request reuses it: every request succeeds on
 * libcurl's retry, the seventh too (libcurl counts retries in the easy handle, which is made anew
 * after a request that connected; before, the seventh failed "Connection died, tried 5 times").
 */
START_TEST(test_dying_kept_connections_never_fail_a_request)
{
    struct out_http_opts o = opts("/", false);
    struct output_stats st;
    char err[256], url[128];
    const unsigned requests = 15;

    oneshot = mock_oneshot_new(loop_base(lp));
    ck_assert_ptr_nonnull(oneshot);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", mock_oneshot_port(oneshot));
    o.url = url;
    o.flush_interval_ms = 1;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    for (unsigned i = 0; i < requests; i++) {
        write_lines(h, (int)i, (int)i + 1);
        want_answered = i + 1;
        ck_assert(run_until(oneshot_answered_enough, h, 5000));
    }
    stats_of(h, &st);
    ck_assert_uint_eq(st.requests, requests);
    ck_assert_msg(st.failed_requests == 0, "%llu failed requests: %s",
                  (unsigned long long)st.failed_requests, st.last_error);
    ck_assert_uint_eq(st.delivered, 2 * requests);
    ck_assert_uint_eq(mock_oneshot_accepted(oneshot), requests);
    out_http_ops.free(h);
    mock_oneshot_free(oneshot);
}
END_TEST

START_TEST(test_retries_5xx_and_reset_then_delivers_in_order)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    mock_sink_script(sink, (struct mock_sink_answer){.status = 503, .body = "overloaded"});
    mock_sink_script(sink, (struct mock_sink_answer){.reset = true});
    mock_sink_script(sink, (struct mock_sink_answer){.status = 500});
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 10);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    write_lines(h, 10, 20);
    want_accepted = 2;
    ck_assert(run_until(accepted_enough, h, 5000));
    assert_lines(0, 20);
    struct output_stats st;
    stats_of(h, &st);
    /* curl itself resends a request whose reused connection was reset before any answer. */
    ck_assert_uint_eq(mock_sink_requests(sink), 5);
    ck_assert_uint_ge(st.failed_requests, 2);
    ck_assert_uint_le(st.failed_requests, 3);
    ck_assert_uint_eq(st.retries, st.failed_requests);
    ck_assert_uint_eq(st.delivered, 40);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    ck_assert(!st.failing);
    ck_assert(st.failing_since == 0); /* back: the streak is over, its last error stays */
    ck_assert_msg(strstr(st.last_error, "HTTP 50") != NULL || strstr(st.last_error, "eset") != NULL,
                  "%s", st.last_error);
    ck_assert_msg(strstr(logbuf, "HTTP 503: overloaded") != NULL, "%s", logbuf);
    ck_assert_msg(strstr(logbuf, "outputs[0]") != NULL, "%s", logbuf);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

/*
 * An uncompressed request is read from the queue in place (no copy into a body buffer): when its
 * reused connection is reset, curl sends it again on a new connection (rewinding it through the
 * seek callback if it must), the output never sees a failure, and the body arrives whole.
 */
START_TEST(test_in_place_body_rewound_on_reset_connection)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    mock_sink_script(sink, (struct mock_sink_answer){.status = 200});
    mock_sink_script(sink, (struct mock_sink_answer){.reset = true});
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 10);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    write_lines(h, 10, 8000); /* larger than curl's upload buffer (64 KiB) */
    want_accepted = 2;
    ck_assert(run_until(accepted_enough, h, 5000));
    assert_lines(0, 8000);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(mock_sink_requests(sink), 3);
    ck_assert_uint_eq(st.failed_requests, 0);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.delivered, 16000);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_retry_after_is_honoured)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    mock_sink_script(sink, (struct mock_sink_answer){.status = 429, .retry_after = 1});
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 1);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    double gap = mock_sink_arrival_ms(sink, 1) - mock_sink_arrival_ms(sink, 0);
    /* retry_max is 100 ms: only Retry-After explains a second's wait. */
    ck_assert_msg(gap >= 950, "retried after %.0f ms despite Retry-After: 1", gap);
    assert_lines(0, 1);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_4xx_rejected_not_retried)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    mock_sink_script(sink, (struct mock_sink_answer){.status = 400, .body = "cannot parse line 1"});
    o.flush_interval_ms = 20;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 3);
    ck_assert(!run_until(never, NULL, 300));
    ck_assert_uint_eq(mock_sink_requests(sink), 1);
    write_lines(h, 3, 5);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    assert_lines(3, 5);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_REJECTED], 6);
    ck_assert_uint_eq(st.delivered, 4);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert(!st.failing && st.failing_since == 0); /* the sink answered: it is up */
    ck_assert_str_eq(st.last_error, "HTTP 400: cannot parse line 1");
    ck_assert_msg(strstr(logbuf, "HTTP 400: cannot parse line 1") != NULL, "%s", logbuf);
    ck_assert_msg(strstr(logbuf, "not retried") != NULL, "%s", logbuf);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_timeout_is_retried)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    o.timeout_ms = 200;
    mock_sink_script(sink, (struct mock_sink_answer){.delay_ms = 1000});
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 2);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    /* The slow answer may still arrive and be counted by the sink: at least once. */
    const char *all = mock_sink_all(sink);
    ck_assert_ptr_nonnull(strstr(all, "{\"n\":1}\n"));
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_ge(st.failed_requests, 1);
    ck_assert_msg(strstr(logbuf, "imeout") != NULL || strstr(logbuf, "timed out") != NULL, "%s",
                  logbuf);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_memory_bound_drops_oldest_and_counts)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    mock_sink_stop(sink);
    o.queue_max_bytes = 100; /* 10 lines of 10 bytes */
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 30);
    run_until(never, NULL, 100);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_le(st.queue_bytes, 100 + 10);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_QUEUE_FULL], 0);
    ck_assert(st.failing);
    /* failing since the first failure, and why (the sink is not listening) */
    ck_assert(st.failing_since > 1.6e9 && st.failing_since <= (double)time(NULL) + 1);
    ck_assert_msg(strstr(st.last_error, "connect") != NULL, "%s", st.last_error);
    ck_assert_msg(strstr(logbuf, "queue_max_bytes") != NULL, "%s", logbuf);
    assert_books(h);
    /* Exit with the sink down and no spool: what is left is counted as lost at shutdown. */
    out_http_ops.flush(h);
    stats_of(h, &st);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_SHUTDOWN], 0);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_spool_healthy_sink_in_order)
{
    struct out_http_opts o = opts("/", true);
    char err[256];

    o.batch_max_bytes = 100;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 5);
    run_until(never, NULL, 100);
    write_lines(h, 5, 30);
    want_accepted = 3;
    ck_assert(run_until(accepted_enough, h, 3000));
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 30);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_memory_overflow_spills_to_spool_in_order)
{
    struct out_http_opts o = opts("/", true);
    char err[256];

    /* The first request hangs while batches pile up past queue_max_bytes. */
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503, .delay_ms = 400});
    o.queue_max_bytes = 100;
    o.batch_max_bytes = 60;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 3);
    run_until(never, NULL, 100);
    ck_assert_uint_eq(mock_sink_requests(sink), 1);
    write_lines(h, 3, 40);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_le(st.queue_bytes, 100);
    ck_assert_uint_gt(st.spool_bytes, 0);
    assert_books(h);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 40);
    stats_of(h, &st);
    ck_assert_uint_eq(st.delivered, 80);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_spool_outage_and_restart_lose_nothing)
{
    struct out_http_opts o = opts("/", true);
    char err[256];

    mock_sink_stop(sink);
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 40);
    run_until(never, NULL, 300);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(st.pending_samples, 80);
    ck_assert_uint_gt(st.spool_bytes, 0);
    ck_assert_uint_eq(st.queue_bytes, 0);
    assert_books(h);
    /* A stop during the outage: everything stays in the spool. */
    out_http_ops.drain(h);
    ck_assert(!out_http_ops.busy(h));
    out_http_ops.flush(h);
    out_http_ops.free(h);

    /* The next start, sink still down, collects more; then the sink comes back. */
    h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    stats_of(h, &st);
    ck_assert_uint_eq(st.recovered, 80);
    write_lines(h, 40, 60);
    run_until(never, NULL, 200);
    ck_assert_int_eq(mock_sink_start(sink), 0);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 5000));
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 60);
    stats_of(h, &st);
    ck_assert_uint_eq(st.delivered, 120);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_spool_survives_abandon_without_flush)
{
    /* kill -9 in miniature: the output is freed without drain or flush, the spool stays. */
    struct out_http_opts o = opts("/", true);
    char err[256];

    mock_sink_script(sink, (struct mock_sink_answer){.status = 503});
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503});
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503});
    o.retry_initial_ms = 1000;
    o.retry_max_ms = 1000;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 25);
    run_until(never, NULL, 200);
    out_http_ops.free(h);
    h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(st.recovered, 50);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 10000));
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 25);
    out_http_ops.free(h);
}
END_TEST

/* The path of the only segment file in the spool directory (into @buf). */
static void
only_segment(char *buf, size_t size)
{
    DIR *d = opendir(spool_dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".seg") != NULL) {
            snprintf(buf, size, "%s/%s", spool_dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    ck_assert_int_eq(n, 1);
}

/*
 * A record damaged in the spool between two runs (issue 13 item 7): the next run delivers every
 * record after it, and the lost samples appear as dropped{reason="corrupt"} with the books
 * balanced (they count as recovered: they were in the spool).
 */
START_TEST(test_spool_corruption_counted_in_books)
{
    struct out_http_opts o = opts("/", true);
    char err[256], path[512];

    mock_sink_stop(sink);
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    run_until(never, NULL, 100); /* the first request fails: the sink is down */
    write_lines(h, 0, 40);       /* one record per line, straight to the spool */
    out_http_ops.drain(h);
    out_http_ops.flush(h);
    out_http_ops.free(h);

    /* Damage line 20's payload (not its header): only that record is lost. */
    only_segment(path, sizeof(path));
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    static char file[1 << 16];
    size_t n = fread(file, 1, sizeof(file) - 1, f);
    file[n] = '\0';
    char *line = memmem(file, n, "{\"n\":20}", 8);
    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(fseek(f, line - file + 5, SEEK_SET), 0);
    ck_assert_int_eq(fputc('9', f), '9');
    fclose(f);

    ck_assert_int_eq(mock_sink_start(sink), 0);
    h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    ck_assert(run_until(nothing_pending, h, 5000));
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_eq(st.recovered, 80);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_CORRUPT], 2);
    ck_assert_uint_eq(st.delivered, 78);
    assert_books(h);
    const char *all = mock_sink_all(sink);
    ck_assert_ptr_null(strstr(all, "{\"n\":20}"));
    ck_assert_ptr_nonnull(strstr(all, "{\"n\":19}\n{\"n\":21}\n"));
    ck_assert_ptr_nonnull(strstr(all, "{\"n\":39}\n"));
    out_http_ops.free(h);
}
END_TEST

/*
 * The failure message says what happens to the batches: once the spool had to drop some to stay
 * within spool_max_bytes, not "kept in the spool" but how many were dropped since the sink
 * failed (issue 13 item 7).
 */
START_TEST(test_failure_message_says_dropped)
{
    struct out_http_opts o = opts("/", true);
    char err[256];

    mock_sink_stop(sink);
    o.spool_max_bytes = 8 << 10; /* 4 KiB segments */
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 800); /* ~20 KB in memory: the spill must delete segments */
    run_until(never, NULL, 200);
    struct output_stats st;
    stats_of(h, &st);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_SPOOL_FULL], 0);
    ck_assert_msg(strstr(logbuf, "the spool is full or failing: ") != NULL, "%s", logbuf);
    ck_assert_msg(strstr(logbuf, "samples dropped since the sink failed") != NULL, "%s", logbuf);
    ck_assert_msg(strstr(logbuf, "kept in the spool") == NULL, "%s", logbuf);
    assert_books(h);
    out_http_ops.flush(h);
    out_http_ops.free(h);
}
END_TEST

/*
 * When the queue empties after an outage was drained from the spool, the output frees its grown
 * buffers and gives memory back to the system, once per episode (issue 13 item 7: RSS stayed at
 * 85 MB with 7.6 MB in use). Ordinary traffic does not trigger it.
 */
START_TEST(test_memory_given_back_once_after_drain)
{
    struct out_http_opts o = opts("/", true);
    char err[256];
    struct output_stats st;

    o.batch_max_bytes = 100; /* several requests to drain */
    mock_sink_stop(sink);
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 40);
    run_until(never, NULL, 200);
    stats_of(h, &st);
    ck_assert_uint_eq(st.memory_given_back, 0);
    ck_assert_int_eq(mock_sink_start(sink), 0);
    ck_assert(run_until(nothing_pending, h, 5000));
    ck_assert_uint_gt(mock_sink_accepted(sink), 2);
    stats_of(h, &st);
    ck_assert_uint_eq(st.memory_given_back, 1);
    /* Healthy traffic afterwards: no more. */
    write_lines(h, 40, 50);
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 50);
    stats_of(h, &st);
    ck_assert_uint_eq(st.memory_given_back, 1);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_drain_sends_at_once)
{
    struct out_http_opts o = opts("/", false);
    char err[256];

    o.flush_interval_ms = 60000;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 4);
    ck_assert(out_http_ops.busy(h));
    out_http_ops.drain(h);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    ck_assert(!out_http_ops.busy(h));
    assert_lines(0, 4);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_otlp_documents_frame_records)
{
    struct out_http_opts o = opts("/v1/metrics", false);
    char err[256];

    o.enc = &enc_otlp;
    o.gzip = false;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(out_http_ops.write(h, "{\"a\":1}", 7, 1), 0);
    ck_assert_int_eq(out_http_ops.write(h, "{\"b\":2}", 7, 1), 0);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    ck_assert_str_eq(mock_sink_body(sink, 0, NULL),
                     "{\"resourceMetrics\":[{\"a\":1},{\"b\":2}]}\n");
    ck_assert_str_eq(mock_sink_content_type(sink), enc_otlp.content_type);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_auth_and_headers_reach_the_sink)
{
    struct out_http_opts o = opts("/", false);
    char err[256];
    char *hdrs[] = {"X-Scope-OrgID: tenant1", "Authorization: Bearer s3cret"};
    struct httpc_opts http = {.headers = hdrs, .nheaders = 2};

    o.http = &http;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 0, 1);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    const char *seen = mock_sink_headers(sink);
    ck_assert_msg(strstr(seen, "X-Scope-OrgID: tenant1\n") != NULL, "%s", seen);
    ck_assert_msg(strstr(seen, "Authorization: Bearer s3cret\n") != NULL, "%s", seen);
    ck_assert_msg(strstr(seen, "User-Agent: pollster/") != NULL, "%s", seen);
    out_http_ops.free(h);

    struct httpc_opts basic = {.username = "u", .password = "p"};
    o.http = &basic;
    h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_nonnull(h);
    write_lines(h, 1, 2);
    want_accepted = 2;
    ck_assert(run_until(accepted_enough, h, 3000));
    seen = mock_sink_headers(sink);
    ck_assert_msg(strstr(seen, "Authorization: Basic dTpw\n") != NULL, "%s", seen);
    /* The secret never reaches the log. */
    ck_assert_ptr_null(strstr(logbuf, "s3cret"));
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_bad_spool_dir_is_an_error)
{
    struct out_http_opts o = opts("/", false);
    char err[256] = "";

    o.spool_dir = "/proc/version/spool";
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(err, "/proc/version/spool") != NULL, "%s", err);
}
END_TEST

/* Record @i of the packing tests: 100 lines of about 80 bytes, like an encoded batch. */
static size_t
big_record(char *buf, size_t cap, int i)
{
    size_t n = 0;

    for (int k = 0; k < 100; k++) {
        n += (size_t)snprintf(buf + n, cap - n,
                              "{\"n\":%d,\"k\":%d,\"instance\":\"127.0.0.1:9100\",\"v\":%d}\n", i,
                              k, i * k);
    }
    return n;
}

static bool
sink_got_request(void *arg)
{
    (void)arg;
    return mock_sink_requests(sink) > 0;
}

/* Writes records @from..@to-1 and appends their text to @want. */
static void
write_big(void *h, int from, int to, struct strbuf *want)
{
    char buf[16384];

    for (int i = from; i < to; i++) {
        size_t n = big_record(buf, sizeof(buf), i);
        ck_assert_int_eq(out_http_ops.write(h, buf, n, 100), 0);
        strbuf_append(want, buf, n);
    }
}

/*
 * While the sink lags, records pushed onto a queue past RECPACK_AT are kept packed (the queue
 * holds far fewer bytes than their text), and reach the sink whole and in order, read in place
 * or not; once the queue is empty it holds nothing.
 */
static void
packed_queue_delivers(bool gzip)
{
    struct out_http_opts o = opts("/", false);
    struct strbuf want;
    struct output_stats st;
    char err[256];

    strbuf_init(&want);
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503, .delay_ms = 300});
    o.gzip = gzip;
    o.batch_max_bytes = 256 * 1024;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_big(h, 0, 1, &want);
    ck_assert(run_until(sink_got_request, NULL, 5000)); /* it hangs, then fails */
    write_big(h, 1, 600, &want);
    stats_of(h, &st);
    ck_assert_uint_gt(out_http_buffer_bytes(h), 0);
    ck_assert_uint_gt(want.len, 3 * RECPACK_AT);
    ck_assert_msg(st.queue_bytes < RECPACK_AT + want.len / 4, "queue %llu bytes for %zu of text",
                  (unsigned long long)st.queue_bytes, want.len);
    ck_assert(run_until(nothing_pending, h, 10000));
    ck_assert_msg(strcmp(mock_sink_all(sink), want.data) == 0, "the sink got other data");
    stats_of(h, &st);
    ck_assert_uint_eq(st.queue_bytes, 0);
    /* Caught up: the packing state and (read in place) the request body are gone; gzip keeps
     * its compressed body's buffer for the next request. */
    if (!gzip) {
        ck_assert_uint_eq(out_http_buffer_bytes(h), 0);
    }
    ck_assert_uint_eq(st.delivered, 600 * 100);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    assert_books(h);
    out_http_ops.free(h);
    strbuf_release(&want);
}

/*
 * A request leaves once OUT_HTTP_SEND_AT bytes wait, not batch_max_bytes (1 MiB here, with a
 * flush interval too long to matter), so little waits in memory behind a sink that answers
 * fast; behind a slow answer what gathered leaves in the next request, past OUT_HTTP_SEND_AT,
 * so one request per round trip still carries up to batch_max_bytes.
 */
START_TEST(test_request_leaves_at_send_threshold_and_grows_behind_slow_sink)
{
    struct out_http_opts o = opts("/", false);
    struct strbuf want;
    size_t len0, len1, rec = big_record((char[16384]){0}, 16384, 0);
    char err[256];

    strbuf_init(&want);
    o.gzip = false;
    o.flush_interval_ms = 60000;
    ck_assert_uint_eq(o.batch_max_bytes, 1 << 20);
    mock_sink_script(sink, (struct mock_sink_answer){.delay_ms = 400});
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    int first = (int)(OUT_HTTP_SEND_AT / rec) + 1;
    write_big(h, 0, first, &want);
    ck_assert(run_until(sink_got_request, NULL, 3000));
    /* While the first waits for its answer, three times as much gathers. */
    write_big(h, first, 4 * first, &want);
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, NULL, 3000));
    mock_sink_body(sink, 0, &len0);
    ck_assert_uint_ge(len0, OUT_HTTP_SEND_AT);
    ck_assert_uint_lt(len0, OUT_HTTP_SEND_AT + 2 * rec);
    want_accepted = 2;
    ck_assert(run_until(accepted_enough, NULL, 3000));
    mock_sink_body(sink, 1, &len1);
    ck_assert_msg(len1 >= 2 * OUT_HTTP_SEND_AT && len1 <= o.batch_max_bytes,
                  "second request %zu bytes", len1);
    /* The rest, less than a request's worth, waits for the flush interval (or a drain). */
    ck_assert_uint_eq(mock_sink_requests(sink), 2);
    out_http_ops.drain(h);
    ck_assert(run_until(nothing_pending, h, 5000));
    ck_assert_msg(strcmp(mock_sink_all(sink), want.data) == 0, "the sink got other data");
    assert_books(h);
    out_http_ops.free(h);
    strbuf_release(&want);
}
END_TEST

/*
 * An output type that counts requests in samples (remote_write's max_samples_per_send) sends at
 * that count, not at OUT_HTTP_SEND_AT bytes: its batch_max_bytes only guards memory.
 */
START_TEST(test_sample_counted_requests_leave_at_their_count)
{
    struct out_http_opts o = opts("/", false);
    struct strbuf want;
    char err[256];

    strbuf_init(&want);
    o.gzip = false;
    o.flush_interval_ms = 60000;
    o.batch_max_bytes = 8 << 20;
    o.batch_max_samples = 10000;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_big(h, 0, 90, &want); /* 9,000 samples in ~490 KB: past OUT_HTTP_SEND_AT */
    ck_assert_uint_gt(want.len, OUT_HTTP_SEND_AT);
    run_until(never, NULL, 300);
    ck_assert_uint_eq(mock_sink_requests(sink), 0);
    write_big(h, 90, 100, &want); /* 10,000 */
    want_accepted = 1;
    ck_assert(run_until(accepted_enough, h, 3000));
    ck_assert_msg(strcmp(mock_sink_all(sink), want.data) == 0, "the sink got other data");
    out_http_ops.free(h);
    strbuf_release(&want);
}
END_TEST

/* A compress hook that refuses a body holding "BAD" (a damaged record), else copies it. */
static int
refuse_bad(struct strbuf *out, const char *in, size_t len)
{
    strbuf_reset(out);
    if (memmem(in, len, "BAD", 3) != NULL) {
        return -EIO;
    }
    strbuf_append(out, in, len);
    return out->oom ? -ENOMEM : 0;
}

/*
 * A request whose records cannot make a body (the compress hook says -EIO: a damaged record) is
 * dropped as corrupt, counted, and the next ones go on; before, it was retried for ever and
 * held everything behind it.
 */
START_TEST(test_request_that_cannot_be_built_is_dropped_as_corrupt)
{
    struct out_http_opts o = opts("/", false);
    struct output_stats st;
    char err[256];

    o.gzip = false;
    o.compress = refuse_bad;
    o.content_encoding = "identity";
    o.batch_max_bytes = 1; /* one record a request */
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_lines(h, 0, 2);
    ck_assert_int_eq(out_http_ops.write(h, "{\"BAD\":1}\n", 10, 5), 0);
    write_lines(h, 2, 4);
    ck_assert(run_until(nothing_pending, h, 5000));
    assert_lines(0, 4);
    stats_of(h, &st);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_CORRUPT], 5);
    ck_assert_uint_eq(st.delivered, 4 * 2);
    ck_assert_msg(strstr(logbuf, "dropped as corrupt") != NULL, "%s", logbuf);
    assert_books(h);
    out_http_ops.free(h);
}
END_TEST

START_TEST(test_long_queue_is_packed_in_place_path)
{
    packed_queue_delivers(false);
}
END_TEST

START_TEST(test_long_queue_is_packed_gzip_path)
{
    packed_queue_delivers(true);
}
END_TEST

/* Packed records spilled to the spool go there as text, in order with the rest. */
START_TEST(test_packed_records_spill_as_text)
{
    struct out_http_opts o = opts("/", true);
    struct strbuf want;
    struct output_stats st;
    char err[256];

    strbuf_init(&want);
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503, .delay_ms = 300});
    o.queue_max_bytes = RECPACK_AT + RECPACK_AT / 4;
    void *h = out_http_new(lp, &o, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    write_big(h, 0, 1, &want);
    ck_assert(run_until(sink_got_request, NULL, 5000));
    write_big(h, 1, 600, &want);
    stats_of(h, &st);
    ck_assert_uint_gt(st.spool_bytes, 0);
    ck_assert(run_until(nothing_pending, h, 10000));
    ck_assert_msg(strcmp(mock_sink_all(sink), want.data) == 0, "the sink got other data");
    stats_of(h, &st);
    ck_assert_uint_eq(st.delivered, 600 * 100);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    assert_books(h);
    out_http_ops.free(h);
    strbuf_release(&want);
}
END_TEST

static Suite *
out_http_suite(void)
{
    Suite *s = suite_create("out_http");
    TCase *tc = tcase_create("sink");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_delivers_in_order_batched_gzip);
    tcase_add_test(tc, test_flush_interval_sends_partial_batch);
    tcase_add_test(tc, test_dying_kept_connections_never_fail_a_request);
    tcase_add_test(tc, test_retries_5xx_and_reset_then_delivers_in_order);
    tcase_add_test(tc, test_in_place_body_rewound_on_reset_connection);
    tcase_add_test(tc, test_retry_after_is_honoured);
    tcase_add_test(tc, test_4xx_rejected_not_retried);
    tcase_add_test(tc, test_timeout_is_retried);
    tcase_add_test(tc, test_memory_bound_drops_oldest_and_counts);
    tcase_add_test(tc, test_spool_healthy_sink_in_order);
    tcase_add_test(tc, test_memory_overflow_spills_to_spool_in_order);
    tcase_add_test(tc, test_spool_outage_and_restart_lose_nothing);
    tcase_add_test(tc, test_spool_survives_abandon_without_flush);
    tcase_add_test(tc, test_spool_corruption_counted_in_books);
    tcase_add_test(tc, test_failure_message_says_dropped);
    tcase_add_test(tc, test_memory_given_back_once_after_drain);
    tcase_add_test(tc, test_drain_sends_at_once);
    tcase_add_test(tc, test_otlp_documents_frame_records);
    tcase_add_test(tc, test_bad_spool_dir_is_an_error);
    tcase_add_test(tc, test_auth_and_headers_reach_the_sink);
    tcase_add_test(tc, test_request_leaves_at_send_threshold_and_grows_behind_slow_sink);
    tcase_add_test(tc, test_sample_counted_requests_leave_at_their_count);
    tcase_add_test(tc, test_request_that_cannot_be_built_is_dropped_as_corrupt);
    tcase_add_test(tc, test_long_queue_is_packed_in_place_path);
    tcase_add_test(tc, test_long_queue_is_packed_gzip_path);
    tcase_add_test(tc, test_packed_records_spill_as_text);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    /* The mock sink's reset makes its own writes hit a closed socket; pollster ignores SIGPIPE too.
     */
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(out_http_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    arena_free_cache();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
