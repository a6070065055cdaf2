/*
 * A reload replaces outputs live (issue 14): the pollster binary runs as a daemon, its config is
 * rewritten and SIGHUP sent. The sinks (mock_sink) and the scraped target (mock_server) run on
 * this process's loop, pumped between checks. The tests count samples end to end: what the sinks
 * accepted against the output's books in /metrics, which continue under the output's name.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "mock_server.h"
#include "mock_sink.h"
#include "testproc.h"
#include "testutil.h"

static struct event_base *base;
static struct mock_server *target;
static struct mock_sink *sink_a, *sink_b;
static char dir[64];
static char cfg[128];
static unsigned status_port;
static pid_t pid;

/* Time allowance factor: 4 when the binary runs under valgrind (VALGRIND set, as check_cli). */
static double
slowdown(void)
{
    const char *vg = getenv("VALGRIND");

    return vg != NULL && *vg != '\0' ? 4.0 : 1.0;
}

static void
setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    target = mock_server_new(base);
    sink_a = mock_sink_new(base);
    sink_b = mock_sink_new(base);
    ck_assert(target != NULL && sink_a != NULL && sink_b != NULL);
    snprintf(dir, sizeof(dir), "/tmp/pollster-reload-out-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    status_port = testproc_free_port();
    pid = -1;
}

static void
teardown(void)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        testproc_wait_exit(pid, 10);
    }
    mock_sink_free(sink_a);
    mock_sink_free(sink_b);
    mock_server_free(target);
    event_base_free(base);
    testproc_rmtree(dir);
    curl_global_cleanup();
}

/* "http://127.0.0.1:PORT/write" of @m (a static buffer per sink). */
static const char *
url_of(const struct mock_sink *m)
{
    static char a[64], b[64];
    char *buf = m == sink_a ? a : b;

    snprintf(buf, 64, "http://127.0.0.1:%u/write", mock_sink_port(m));
    return buf;
}

/* Writes @text as the config (atomically). */
static void
write_text(const char *text)
{
    char tmp[160];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", cfg);
    f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, cfg), 0);
}

/*
 * Writes the config (atomically): the status server, job "a" scraping /series/3 every 200 ms
 * unless @jobs is false, and @outputs (YAML list items, printf-style).
 */
static void __attribute__((format(printf, 2, 3))) write_cfg(bool jobs, const char *outputs, ...)
{
    char list[2048], job[256] = "scrape_configs: []\n", text[3072];
    va_list ap;

    va_start(ap, outputs);
    vsnprintf(list, sizeof(list), outputs, ap);
    va_end(ap);
    if (jobs) {
        snprintf(job, sizeof(job),
                 "scrape_configs:\n"
                 "  - job_name: a\n"
                 "    metrics_path: /series/3\n"
                 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
                 mock_server_port(target));
    }
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "global: {scrape_interval: 200ms, scrape_timeout: 200ms}\n%soutputs:\n%s",
             status_port, job, list);
    write_text(text);
}

/* The log of the pollster under test (a static buffer). */
static const char *
plog(void)
{
    static char buf[1 << 20];
    char path[160];
    FILE *f;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/pollster.log", dir);
    f = fopen(path, "r");
    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

typedef bool until_fn(const void *arg);

/* Runs this process's loop (the sinks, the target) until @until holds or @secs pass. */
static bool
pump(double secs, until_fn *until, const void *arg)
{
    double end = testproc_now_s() + secs;

    while (testproc_now_s() < end) {
        for (int i = 0; i < 20; i++) {
            event_base_loop(base, EVLOOP_NONBLOCK);
            usleep(2000);
        }
        if (until != NULL && until(arg)) {
            return true;
        }
    }
    return until == NULL;
}

struct want_accepted {
    const struct mock_sink *m;
    size_t n;
};

static bool
accepted_at_least(const void *arg)
{
    const struct want_accepted *w = arg;

    return mock_sink_accepted(w->m) >= w->n;
}

static bool
log_has(const void *arg)
{
    return strstr(plog(), arg) != NULL;
}

/* Self metric pollster_output_@what of output @name (type http). NAN when absent. */
static double
books(const char *name, const char *what)
{
    char series[256];

    snprintf(series, sizeof(series), "pollster_output_%s{output=\"%s\",type=\"http\"}", what, name);
    return testproc_metric(status_port, series);
}

static double
dropped(const char *name, const char *reason)
{
    char series[256];

    snprintf(series, sizeof(series),
             "pollster_output_dropped_samples_total{output=\"%s\",type=\"http\",reason=\"%s\"}",
             name, reason);
    return testproc_metric(status_port, series);
}

/* Every sample output @name took has been delivered, and none is pending. */
static bool
settled(const void *arg)
{
    double collected = books(arg, "samples_total");
    double delivered = books(arg, "delivered_samples_total");
    double pending = books(arg, "pending_samples");

    return collected > 0 && collected == delivered && pending == 0;
}

/*
 * Samples the sinks accepted, each batch (job, instance, ts_ms) counted once in @unique; all of
 * them, duplicates (re-sent after a hand-off: at least once) included, returned.
 */
static size_t
sink_samples(struct mock_sink *const *sinks, size_t nsinks, size_t *unique)
{
    char(*keys)[96] = NULL;
    size_t nkeys = 0, total = 0;

    *unique = 0;
    for (size_t s = 0; s < nsinks; s++) {
        for (size_t i = 0; i < mock_sink_accepted(sinks[s]); i++) {
            size_t len;
            json_object *lines = testutil_parse_lines(mock_sink_body(sinks[s], i, &len));
            ck_assert_ptr_nonnull(lines);
            for (size_t k = 0; k < json_object_array_length(lines); k++) {
                json_object *b = json_object_array_get_idx(lines, k);
                size_t n = json_object_array_length(testutil_field(b, "samples"));
                char key[96];
                bool seen = false;
                snprintf(key, sizeof(key), "%s/%s/%lld", testutil_str(b, "job"),
                         testutil_str(b, "instance"),
                         (long long)json_object_get_int64(testutil_field(b, "ts_ms")));
                for (size_t j = 0; j < nkeys && !seen; j++) {
                    seen = strcmp(keys[j], key) == 0;
                }
                total += n;
                if (!seen) {
                    keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
                    ck_assert_ptr_nonnull(keys);
                    snprintf(keys[nkeys++], sizeof(keys[0]), "%s", key);
                    *unique += n;
                }
            }
            json_object_put(lines);
        }
    }
    free(keys);
    return total;
}

/* SIGHUP, then waits for the reload's log line (@want) to appear. */
static void
reload(const char *want)
{
    kill(pid, SIGHUP);
    ck_assert_msg(pump(10 * slowdown(), log_has, want), "no \"%s\" in: %s", want, plog());
}

/* Starts pollster -c cfg; under VALGRIND=valgrind make check it runs under valgrind too. */
static void
start(void)
{
    const char *vg = getenv("VALGRIND");
    char log[160];
    char *argv[12];
    size_t n = 0;

    if (vg != NULL && *vg != '\0') {
        argv[n++] = (char *)vg;
        argv[n++] = "--quiet";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
    }
    argv[n++] = getenv("POLLSTER_BIN");
    ck_assert_ptr_nonnull(argv[n - 1]);
    argv[n++] = "-c";
    argv[n++] = cfg;
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/pollster.log", dir);
    pid = testproc_spawn(argv, log);
    ck_assert_msg(testproc_wait_ready(status_port, "/-/ready", 10 * slowdown()) == 0, "%s", plog());
}

static void
stop(void)
{
    testproc_stop(pid);
    pid = -1;
}

/* A reload adds an output: it gets batches from then on, and the one there keeps getting them. */
START_TEST(test_reload_adds_output)
{
    write_cfg(true, "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n",
              url_of(sink_a));
    start();
    struct want_accepted wa = {sink_a, 2};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    write_cfg(true,
              "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n"
              "  - {type: http, name: b, url: '%s', flush_interval: 100ms}\n",
              url_of(sink_a), url_of(sink_b));
    reload("outputs: kept a, added b");
    struct want_accepted wb = {sink_b, 2};
    wa.n = mock_sink_accepted(sink_a) + 2;
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wb), "%s", plog());
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    ck_assert_double_eq(testproc_metric(status_port, "pollster_config_last_reload_successful"), 1);
    ck_assert_ptr_null(strstr(plog(), "reload failed"));
    stop();
}
END_TEST

/*
 * A reload removes an output holding batches: they are still delivered (the sink is up), then
 * the output is closed and no batch reaches its sink any more.
 */
START_TEST(test_reload_removes_output_after_draining)
{
    write_cfg(true,
              "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n"
              "  - {type: http, name: b, url: '%s', flush_interval: 1h}\n",
              url_of(sink_a), url_of(sink_b));
    start();
    struct want_accepted wa = {sink_a, 3};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    ck_assert_uint_eq(mock_sink_accepted(sink_b), 0); /* b holds its batches (flush_interval) */
    double held = books("b", "pending_samples");
    ck_assert_msg(held > 0, "b holds nothing: %s", plog());

    write_cfg(true, "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n",
              url_of(sink_a));
    reload("outputs: kept a, removed b");
    ck_assert_msg(
        pump(10 * slowdown(), log_has, "engine: output b: the removed instance is closed"), "%s",
        plog());
    ck_assert_uint_ge(mock_sink_accepted(sink_b), 1);
    size_t unique, total = sink_samples(&sink_b, 1, &unique);
    ck_assert_uint_ge(unique, (size_t)held); /* what it held, and what came until the reload */
    ck_assert_uint_eq(total, unique);
    ck_assert(isnan(books("b", "samples_total"))); /* gone from /metrics */
    ck_assert_ptr_null(strstr(plog(), "reason reload"));

    /* from now on nothing reaches b's sink; a still gets batches */
    size_t b_then = mock_sink_accepted(sink_b);
    wa.n = mock_sink_accepted(sink_a) + 3;
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    ck_assert_uint_eq(mock_sink_accepted(sink_b), b_then);
    stop();
}
END_TEST

/*
 * A reload changes the URL of output h (no spool): batches collected before reach the old sink,
 * later ones the new sink; none is lost and the books of h continue across the replacement.
 */
START_TEST(test_reload_changes_url_books_continue)
{
    char want[256];

    write_cfg(true, "  - {type: http, name: h, url: '%s', flush_interval: 500ms}\n",
              url_of(sink_a));
    start();
    struct want_accepted wa = {sink_a, 2};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    double before = books("h", "samples_total");
    ck_assert(before > 0);

    write_cfg(true, "  - {type: http, name: h, url: '%s', flush_interval: 500ms}\n",
              url_of(sink_b));
    snprintf(want, sizeof(want), "outputs: replaced h (%s -> %s)", url_of(sink_a), url_of(sink_b));
    reload(want);
    ck_assert_double_ge(books("h", "samples_total"), before); /* not reset */
    struct want_accepted wb = {sink_b, 2};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wb), "%s", plog());

    /* collection stops (h is kept as it is): everything h took must be at one sink or the other */
    write_cfg(false, "  - {type: http, name: h, url: '%s', flush_interval: 500ms}\n",
              url_of(sink_b));
    reload("targets kept, 0 added, 1 removed");
    ck_assert_msg(pump(10 * slowdown(), settled, "h"), "%s", plog());
    struct mock_sink *both[] = {sink_a, sink_b};
    size_t unique, total = sink_samples(both, 2, &unique);
    double collected = books("h", "samples_total");
    ck_assert_msg((double)unique == collected, "sinks %zu, books %.0f", unique, collected);
    ck_assert_uint_eq(total, unique);
    ck_assert_double_eq(books("h", "delivered_samples_total"), collected);
    ck_assert_double_eq(dropped("h", "reload"), 0);
    ck_assert_double_eq(dropped("h", "shutdown"), 0);
    ck_assert(strstr(plog(), "engine: output h: the replaced instance is closed") != NULL);
    stop();
}
END_TEST

/*
 * The sink is down and batches pile up in h's spool; a reload points h at a live sink with the
 * same spool: the old instance closes the spool, the new one opens it and sends it all.
 */
START_TEST(test_reload_hands_spool_over)
{
    char spool[160], want[256], down[64];

    snprintf(spool, sizeof(spool), "%s/spool", dir);
    snprintf(down, sizeof(down), "http://127.0.0.1:%u/write", mock_closed_port());
    write_cfg(true,
              "  - {type: http, name: h, url: '%s', flush_interval: 100ms, spool_dir: '%s',"
              " retry_initial: 100ms, retry_max: 200ms}\n",
              down, spool);
    start();
    double end = testproc_now_s() + 10 * slowdown();
    while (testproc_now_s() < end &&
           !(books("h", "spool_bytes") > 0 && books("h", "samples_total") >= 60)) {
        pump(0.2, NULL, NULL);
    }
    double before = books("h", "samples_total");
    ck_assert_msg(before >= 60 && books("h", "delivered_samples_total") == 0, "%s", plog());

    write_cfg(true,
              "  - {type: http, name: h, url: '%s', flush_interval: 100ms, spool_dir: '%s',"
              " retry_initial: 100ms, retry_max: 200ms}\n",
              url_of(sink_b), spool);
    snprintf(want, sizeof(want), "outputs: replaced h (%s -> %s)", down, url_of(sink_b));
    reload(want);
    ck_assert_double_ge(books("h", "samples_total"), before);
    ck_assert_msg(
        strstr(plog(), "engine: output h: the replaced instance closed its spool with ") != NULL,
        "%s", plog());
    write_cfg(false,
              "  - {type: http, name: h, url: '%s', flush_interval: 100ms, spool_dir: '%s',"
              " retry_initial: 100ms, retry_max: 200ms}\n",
              url_of(sink_b), spool);
    reload("targets kept, 0 added, 1 removed");
    ck_assert_msg(pump(15 * slowdown(), settled, "h"), "%s", plog());
    size_t unique;
    sink_samples(&sink_b, 1, &unique); /* duplicates allowed: at least once */
    double collected = books("h", "samples_total");
    ck_assert_msg((double)unique == collected, "sink %zu, books %.0f: %s", unique, collected,
                  plog());
    ck_assert_double_eq(books("h", "recovered_samples_total"), 0); /* handed over, not new */
    ck_assert_double_eq(books("h", "delivered_samples_total"), collected);
    ck_assert_double_eq(dropped("h", "reload"), 0);
    ck_assert_double_eq(dropped("h", "shutdown"), 0);
    stop();
}
END_TEST

/*
 * A reload whose new output cannot open (its spool directory is locked) is refused as a whole:
 * the old outputs and targets stay in force, and the reload counts as failed.
 */
START_TEST(test_reload_refused_when_output_cannot_open)
{
    char locked[160], lockfile[192];

    snprintf(locked, sizeof(locked), "%s/locked", dir);
    snprintf(lockfile, sizeof(lockfile), "%s/lock", locked);
    ck_assert_int_eq(mkdir(locked, 0750), 0);
    int fd = open(lockfile, O_RDWR | O_CREAT, 0640);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);

    write_cfg(true, "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n",
              url_of(sink_a));
    start();
    struct want_accepted wa = {sink_a, 2};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    write_cfg(false,
              "  - {type: http, name: a, url: '%s', flush_interval: 200ms}\n"
              "  - {type: http, name: b, url: '%s', spool_dir: '%s'}\n",
              url_of(sink_b), url_of(sink_b), locked);
    reload("config: reload failed: b: spool");
    ck_assert_msg(strstr(plog(), "is locked by another process; keeping the running") != NULL, "%s",
                  plog());
    ck_assert_double_eq(testproc_metric(status_port, "pollster_config_last_reload_successful"), 0);
    ck_assert(isnan(books("b", "samples_total")));
    /* the old config in force: a still sends to sink A, the job still runs */
    wa.n = mock_sink_accepted(sink_a) + 3;
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    ck_assert_uint_eq(mock_sink_accepted(sink_b), 0);
    close(fd);
    stop();
}
END_TEST

/*
 * With inputs (a relay) the outputs are not replaced: a relay acknowledges records by each
 * output's books. The reload is refused, saying so, and counts as failed.
 */
START_TEST(test_reload_with_relay_refuses_output_change)
{
    char text[1024];
    unsigned nats = mock_closed_port(); /* the relay never connects: it needs not */

    for (int round = 0; round < 2; round++) {
        snprintf(text, sizeof(text),
                 "status: {listen: '127.0.0.1:%u'}\n"
                 "scrape_configs: []\n"
                 "inputs:\n"
                 "  - {type: nats, url: 'nats://127.0.0.1:%u', format: json, stream: m,"
                 " subject: 'm.*'}\n"
                 "outputs:\n"
                 "  - {type: http, name: a, url: '%s'}\n",
                 status_port, nats, url_of(round == 0 ? sink_a : sink_b));
        write_text(text);
        if (round == 0) {
            start();
        }
    }
    reload("config: reload failed: the outputs changed, but inputs relay records to them");
    ck_assert_double_eq(testproc_metric(status_port, "pollster_config_last_reload_successful"), 0);
    ck_assert_double_eq(books("a", "samples_total"), 0); /* still there, untouched */
    stop();
}
END_TEST

/*
 * An output opened for a reload that fails later (the new status address is taken) is closed
 * again: the old output keeps its sink, the new sink gets nothing.
 */
START_TEST(test_reload_refused_later_closes_new_outputs)
{
    char text[1024];

    write_cfg(true, "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n",
              url_of(sink_a));
    start();
    struct want_accepted wa = {sink_a, 2};
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "scrape_configs: []\n"
             "outputs:\n"
             "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n",
             mock_server_port(target), url_of(sink_b)); /* the target's port: taken */
    write_text(text);
    reload("config: reload failed: status.listen: ");
    wa.n = mock_sink_accepted(sink_a) + 3;
    ck_assert_msg(pump(10 * slowdown(), accepted_at_least, &wa), "%s", plog());
    ck_assert_uint_eq(mock_sink_accepted(sink_b), 0);
    ck_assert_uint_eq(mock_sink_requests(sink_b), 0);
    stop();
}
END_TEST

/*
 * Writes the config: job "a", output a to sink A, and with @down output b to that URL; @global
 * extra keys of global (", key: value").
 */
static void
write_ab(const char *global, const char *down)
{
    char text[1400], b[256] = "";

    if (down != NULL) {
        snprintf(b, sizeof(b),
                 "  - {type: http, name: b, url: '%s', flush_interval: 100ms,"
                 " retry_initial: 100ms, retry_max: 100ms}\n",
                 down);
    }
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "global: {scrape_interval: 200ms, scrape_timeout: 200ms%s}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /series/3\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "outputs:\n"
             "  - {type: http, name: a, url: '%s', flush_interval: 100ms}\n%s",
             status_port, global, mock_server_port(target), url_of(sink_a), b);
    write_text(text);
}

/*
 * A removed output whose sink is down (no spool) cannot deliver what it holds: after the
 * shutdown timeout (changed by the same reload, 5s -> 1s) it gives up and counts it dropped,
 * reason reload.
 */
START_TEST(test_reload_removed_output_gives_up_after_timeout)
{
    char down[64];

    snprintf(down, sizeof(down), "http://127.0.0.1:%u/write", mock_closed_port());
    write_ab("", down);
    start();
    double end = testproc_now_s() + 10 * slowdown();
    while (testproc_now_s() < end && !(books("b", "pending_samples") > 0)) {
        pump(0.2, NULL, NULL);
    }
    ck_assert_msg(books("b", "pending_samples") > 0, "%s", plog());

    write_ab(", shutdown_timeout: 1s", NULL);
    reload("outputs: kept a, removed b");
    ck_assert(strstr(plog(), "config: shutdown_timeout 5s -> 1s") != NULL);
    ck_assert_msg(pump(10 * slowdown(), log_has,
                       "engine: output b: the replaced or removed instance could not deliver "
                       "everything within 1000 ms; giving up"),
                  "%s", plog());
    ck_assert_msg(strstr(plog(), "samples of the replaced or removed instance were not delivered "
                                 "(dropped, reason reload)") != NULL,
                  "%s", plog());
    ck_assert(strstr(plog(), "engine: output b: the removed instance is closed") != NULL);
    ck_assert(isnan(books("b", "samples_total")));
    stop();
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("reload_outputs");
    TCase *tc = tcase_create("reload");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reload_adds_output);
    tcase_add_test(tc, test_reload_removes_output_after_draining);
    tcase_add_test(tc, test_reload_changes_url_books_continue);
    tcase_add_test(tc, test_reload_hands_spool_over);
    tcase_add_test(tc, test_reload_refused_when_output_cannot_open);
    tcase_add_test(tc, test_reload_with_relay_refuses_output_change);
    tcase_add_test(tc, test_reload_refused_later_closes_new_outputs);
    tcase_add_test(tc, test_reload_removed_output_gives_up_after_timeout);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
