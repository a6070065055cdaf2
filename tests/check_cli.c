/*
 * End-to-end tests of the pollster binary ($POLLSTER_BIN): command-line errors and exit codes,
 * --once against mock targets served by a forked child on loopback (JSON fields asserted after
 * parsing with json-c), concurrency of several targets, the built-in default, configs, reloads
 * and SIGTERM during a run. The harness is cli_harness.c; daemon mode (--daemonize, pidfiles,
 * systemd notification, log reopening) is tested in check_cli_daemon.c.
 */
#include "build-config.h"

#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cli_harness.h"
#include "mock_server.h"
#include "testutil.h"

START_TEST(test_help_and_version)
{
    struct cmd c;

    run(&c, 10, 0, (const char *const[]){"--help", NULL});
    ck_assert_int_eq(c.status, 0);
    ck_assert_ptr_nonnull(strstr(c.out, "Usage: pollster"));
    ck_assert_ptr_nonnull(strstr(c.out, "--once"));
    ck_assert_ptr_nonnull(strstr(c.out, "--status-listen"));
    run(&c, 10, 0, (const char *const[]){"--version", NULL});
    ck_assert_int_eq(c.status, 0);
    ck_assert_msg(
        strncmp(c.out, "pollster " PACKAGE_VERSION " (git ", 15 + strlen(PACKAGE_VERSION)) == 0,
        "%s", c.out);
    ck_assert_msg(strstr(c.out, ", built 20") != NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, "\nlibraries: libcurl ") != NULL && strstr(c.out, ", libevent ") &&
                      strstr(c.out, ", json-c ") && strstr(c.out, ", libyaml "),
                  "%s", c.out);
    ck_assert_msg(
        strstr(c.out, "\nfeatures: kinds prometheus, probe, json, tcp; outputs stdout, ") != NULL,
        "%s", c.out);
}
END_TEST

/* Error texts keep the capitals of names: "tls: OpenSSL/3.0...", not "tls: openSSL/3.0...". */
START_TEST(test_error_capitals)
{
    struct cmd c;
    char target[128];

    snprintf(target, sizeof(target), "https://127.0.0.1:%u/ok", mock_port); /* plain HTTP */
    run(&c, 20, 0, (const char *const[]){"--once", "--format", "table", "--target", target, NULL});
    ck_assert_int_eq(c.status, 1);
    ck_assert_msg(strstr(c.out, "  tls: OpenSSL/") != NULL, "%s", c.out);
}
END_TEST

/* A start-up failure is said once, not once on stderr and once more in the log. */
START_TEST(test_errors_said_once)
{
    struct cmd c;
    char listen[64];

    snprintf(listen, sizeof(listen), "127.0.0.1:%u", mock_port); /* the mock holds it */
    run(&c, 10, 0,
        (const char *const[]){"--status-listen", listen, "--target", "http://127.0.0.1:1/", NULL});
    ck_assert_int_eq(c.status, 2);
    const char *first = strstr(c.err, "cannot listen on");
    ck_assert_msg(first != NULL && strstr(first + 1, "cannot listen on") == NULL, "%s", c.err);
}
END_TEST

/* --interval alone below the default timeout: the default deadline shrinks to the interval. */
START_TEST(test_default_timeout_fits_interval)
{
    struct cmd c;
    char target[128];

    snprintf(target, sizeof(target), "http://127.0.0.1:%u/ok", mock_port);
    run(&c, 20, 1.5 * slowdown(),
        (const char *const[]){"--interval", "500ms", "--target", target, "--status-listen",
                              "127.0.0.1:0", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_ge(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(testutil_sample_value(b, "scrape_timeout_seconds", NULL, NULL) == 0.5);
    json_object_put(lines);

    /* the same in once mode, the URL given after the options without --target */
    run(&c, 20, 0, (const char *const[]){"--once", "--interval", "5s", target, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "url")), target);
    ck_assert(testutil_sample_value(b, "scrape_timeout_seconds", NULL, NULL) == 5);
    json_object_put(lines);

    /* the built-in default (it collects itself) takes --interval too, and its deadline fits */
    run(&c, 20, 2.5 * slowdown(),
        (const char *const[]){"--interval", "1s", "--status-listen", "127.0.0.1:0", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    lines = testutil_parse_lines(c.out);
    ck_assert_int_ge(json_object_array_length(lines), 1);
    b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(b, "job")), "pollster");
    ck_assert(testutil_sample_value(b, "scrape_timeout_seconds", NULL, NULL) == 1);
    json_object_put(lines);
}
END_TEST

static const struct {
    const char *args[8];
    const char *err;
} usage_cases[] = {
    {{"--bogus", NULL}, "pollster: unknown option \"--bogus\" (see pollster --help)\n"},
    {{"--once", "--timeout", "5x", NULL},
     "pollster: --timeout: invalid duration \"5x\" (expected e.g. 500ms, 10s, 1m30s) (see "
     "pollster --help)\n"},
    {{"--interval", "0", NULL},
     "pollster: --interval: invalid duration \"0\" (expected e.g. 500ms, 10s, 1m30s) (see "
     "pollster --help)\n"},
    {{"--once", "--target", NULL},
     "pollster: option --target needs an argument (see pollster "
     "--help)\n"},
    {{"--once", "--target", "ftp://127.0.0.1/", NULL},
     "pollster: --target: invalid URL \"ftp://127.0.0.1/\": only http and https are allowed\n"},
    {{"--once", "--target", "http://", NULL}, NULL},
    {{"--once", "--kind", "nope", "--target", "http://127.0.0.1/", NULL},
     "pollster: unknown --kind \"nope\" (available: prometheus, probe, json, tcp)\n"},
    {{"--log-level", "loud", NULL},
     "pollster: --log-level: invalid level \"loud\" (error, warn, info, debug) (see pollster "
     "--help)\n"},
    {{"--body-size-limit", "10XB", NULL},
     "pollster: --body-size-limit: invalid size \"10XB\" (expected e.g. 512KiB, 10MiB) (see "
     "pollster --help)\n"},
    {{"--target", "http://127.0.0.1/", "--interval", "1s", "--timeout", "2s", NULL},
     "pollster: --timeout (2000 ms) must not exceed --interval (1000 ms)\n"},
    {{"--valid-status-code", "99", NULL},
     "pollster: --valid-status-code: invalid HTTP status code \"99\" (see pollster --help)\n"},
    {{"--once", "--fail-if-body-matches", "(", "--target", "http://127.0.0.1/", NULL}, NULL},
    {{"stray", NULL}, "pollster: unexpected argument \"stray\" (see pollster --help)\n"},
    {{"--once", "--kind", "json", NULL},
     "pollster: --kind applies to --target URL (without --target or -c, pollster collects its "
     "own /metrics only) (see pollster --help)\n"},
    {{"--job", "x", "--valid-status-code", "200", NULL},
     "pollster: --valid-status-code applies to --target URL (without --target or -c, pollster "
     "collects its own /metrics only) (see pollster --help)\n"},
    {{"-c", "x.yaml", "http://127.0.0.1/", NULL},
     "pollster: a target (--target or a URL argument) cannot be combined with -c (put the target "
     "in the file) (see pollster --help)\n"},
    {{"--once", "localhost:9100", NULL},
     "pollster: unexpected argument \"localhost:9100\": a target needs its scheme: "
     "http://localhost:9100 (see pollster --help)\n"},
    {{"--check-config", "-c", "x.yaml", "http://127.0.0.1/", NULL},
     "pollster: --check-config only validates -c FILE: --target would be ignored (see pollster "
     "--help)\n"},
    {{"--once", "ftp://127.0.0.1/", NULL},
     "pollster: --target: invalid URL \"ftp://127.0.0.1/\": only http and https are allowed\n"},
    {{"--chek-config", NULL},
     "pollster: unknown option \"--chek-config\" (did you mean \"--check-config\"?) (see "
     "pollster --help)\n"},
    {{"--no-expand-envs", NULL},
     "pollster: unknown option \"--no-expand-envs\" (did you mean \"--no-expand-env\"?) (see "
     "pollster --help)\n"},
    {{"--status_listen=127.0.0.1:1", NULL},
     "pollster: unknown option \"--status_listen=127.0.0.1:1\" (did you mean "
     "\"--status-listen\"?) (see pollster --help)\n"},
    {{"--once", "--kind", "promethues", "--target", "http://127.0.0.1/", NULL},
     "pollster: unknown --kind \"promethues\" (did you mean \"prometheus\"? available: "
     "prometheus, probe, json, tcp)\n"},
    {{"--once", "--format", "telegarf", "--target", "http://127.0.0.1/", NULL},
     "pollster: unknown --format \"telegarf\" (did you mean \"telegraf\"? available: json, vm, "
     "otlp, telegraf, remote_write)\n"},
    {{"--interval", "15", NULL},
     "pollster: --interval: invalid duration \"15\" (did you mean \"15s\"?) (see pollster "
     "--help)\n"},
    {{"--timeout", "1.5s", NULL},
     "pollster: --timeout: invalid duration \"1.5s\" (Prometheus durations take no fractions: did "
     "you mean \"1500ms\"?) (see pollster --help)\n"},
    {{"--body-size-limit", "1.5MB", NULL},
     "pollster: --body-size-limit: invalid size \"1.5MB\" (sizes take no fractions: did you mean "
     "\"1536KiB\"?) (see pollster --help)\n"},
    {{"--parse", "/dev/null", "--format", "openmetric", NULL},
     "pollster: --format \"openmetric\": did you mean \"openmetrics\"? expected prom or "
     "openmetrics with --parse\n"},
    {{"--once", "--target", "127.0.0.1:9100", NULL},
     "pollster: --target: invalid URL \"127.0.0.1:9100\": no scheme: add http:// "
     "(http://127.0.0.1:9100)\n"},
    {{"--format", "table", "--target", "http://127.0.0.1/", NULL},
     "pollster: --format table is for --once on stdout (the daemon and --output-file write a "
     "data stream: JSON lines, e.g. | jq)\n"},
    {{"--check-config", "-c", "/dev/null", "--once", NULL},
     "pollster: --check-config only validates -c FILE: --once would be ignored (see pollster "
     "--help)\n"},
    {{"--check-config", "-c", "/dev/null", "--status-listen", "127.0.0.1:0", NULL},
     "pollster: --check-config only validates -c FILE: --status-listen would be ignored (see "
     "pollster --help)\n"},
    {{"--log-format", "yaml", NULL},
     "pollster: --log-format: invalid format \"yaml\" (text, logfmt, json) (see pollster "
     "--help)\n"},
    {{"--log-level", "wran", NULL},
     "pollster: --log-level: invalid level \"wran\" (did you mean \"warn\"? error, warn, info, "
     "debug) (see pollster --help)\n"},
};

START_TEST(test_bad_usage_exit_2)
{
    for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
        struct cmd c;
        run(&c, 10, 0, usage_cases[i].args);
        ck_assert_msg(c.status == 2, "case %zu (%s): exit %d, stderr %s", i, usage_cases[i].args[0],
                      c.status, c.err);
        ck_assert_uint_eq(c.outlen, 0);
        if (usage_cases[i].err != NULL) {
            ck_assert_str_eq(c.err, usage_cases[i].err);
        }
        else {
            /* One line naming the cause. */
            ck_assert_msg(strncmp(c.err, "pollster: ", 10) == 0 &&
                              strchr(c.err, '\n') == c.err + c.errlen - 1,
                          "case %zu: %s", i, c.err);
        }
    }
}
END_TEST

START_TEST(test_once_closed_port)
{
    struct cmd c;
    char target[64];

    snprintf(target, sizeof(target), "http://127.0.0.1:%u/", mock_closed_port());
    run(&c, 10, 0, (const char *const[]){"--once", "--target", target, "--timeout", "5s", NULL});
    ck_assert_int_eq(c.status, 1);
    ck_assert(c.elapsed < 5 * slowdown());
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(!bool_field(b, "ok"));
    ck_assert_str_eq(testutil_str(b, "reason"), "connect");
    ck_assert_str_eq(testutil_str(b, "error"), "connect: connection refused");
    ck_assert_str_eq(testutil_str(b, "url"), target);
    ck_assert_ptr_nonnull(strstr(c.err, "connect: connection refused reason=connect"));
    json_object_put(lines);
}
END_TEST

START_TEST(test_once_ok)
{
    struct cmd c;

    run(&c, 10, 0, (const char *const[]){"--once", "--target", url("/ok"), NULL});
    ck_assert_int_eq(c.status, 0);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(bool_field(b, "ok"));
    ck_assert_str_eq(testutil_str(b, "job"), "probe");
    ck_assert_str_eq(testutil_str(b, "status"), "200");
    json_object_put(lines);
}
END_TEST

/* --format prints what an output of that format sends: one document per batch, per line. */
START_TEST(test_once_formats)
{
    struct cmd c;

    run(&c, 10, 0,
        (const char *const[]){"--once", "--kind", "prometheus", "--format", "vm", "--target",
                              url("/simple"), NULL});
    ck_assert_int_eq(c.status, 0);
    json_object *lines = testutil_parse_lines(c.out);
    /* up_like plus the four synthetic series (no relabeling rules), one line each. */
    ck_assert_int_eq(json_object_array_length(lines), 5);
    json_object *m = testutil_field(json_object_array_get_idx(lines, 0), "metric");
    ck_assert_str_eq(testutil_str(m, "__name__"), "up_like");
    ck_assert_str_eq(testutil_str(m, "job"), "prometheus");
    json_object_put(lines);

    run(&c, 10, 0,
        (const char *const[]){"--once", "--kind", "prometheus", "--format", "otlp", "--target",
                              url("/simple"), NULL});
    ck_assert_int_eq(c.status, 0);
    lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *rm = testutil_field(json_object_array_get_idx(lines, 0), "resourceMetrics");
    ck_assert_int_eq(json_object_array_length(rm), 1);
    json_object_put(lines);

    run(&c, 10, 0,
        (const char *const[]){"--once", "--kind", "prometheus", "--format", "telegraf", "--target",
                              url("/simple"), NULL});
    ck_assert_int_eq(c.status, 0);
    lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *ms = testutil_field(json_object_array_get_idx(lines, 0), "metrics");
    ck_assert_int_ge(json_object_array_length(ms), 1);
    json_object_put(lines);

    run(&c, 10, 0,
        (const char *const[]){"--once", "--format", "xml", "--target", url("/ok"), NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "unknown --format \"xml\"") != NULL, "%s", c.err);
}
END_TEST

/* Several targets run concurrently: wall time is about the slowest, not the sum. */
START_TEST(test_once_concurrent)
{
    struct cmd c;

    run(&c, 20, 0,
        (const char *const[]){"--once", "--timeout", "2s", "--target", url("/hang"), "--target",
                              url("/slow/1500"), "--target", url("/slow/1500"), "--target",
                              url("/slow/1500"), "--target", url("/ok"), NULL});
    ck_assert_int_eq(c.status, 1);
    /* The sum would be 6.5 s. */
    ck_assert_msg(c.elapsed < 3.5 * slowdown(), "took %.2f s", c.elapsed);
    ck_assert(c.elapsed >= 1.9);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 5);
    int ok = 0;
    for (size_t i = 0; i < 5; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        if (bool_field(b, "ok")) {
            ok++;
        }
        else {
            ck_assert_str_eq(testutil_str(b, "reason"), "timeout");
            ck_assert_str_eq(
                testutil_str(b, "error"),
                "timeout after 2000 ms (connected, waiting for response, 0 bytes received)");
        }
    }
    ck_assert_int_eq(ok, 4);
    json_object_put(lines);
}
END_TEST

START_TEST(test_once_builtin_default)
{
    struct cmd c;

    run(&c, 15, 0, (const char *const[]){"--once", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(bool_field(b, "ok"));
    ck_assert_str_eq(testutil_str(b, "job"), "pollster");
    ck_assert_ptr_nonnull(strstr(testutil_str(b, "url"), "/metrics"));
    json_object_put(lines);
}
END_TEST

START_TEST(test_once_json_kind)
{
    struct cmd c;

    run(&c, 20, 0,
        (const char *const[]){"--once", "--kind", "json", "--target",
                              url("/file/json_es_cluster_health.json"), "--metric",
                              "es_active_shards=active_shards", "--metric",
                              "es_index_shards=indices.*.active_shards@index", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(b, "job"), "json");
    ck_assert_ptr_nonnull(testutil_find_sample(b, "es_active_shards", NULL, NULL));
    ck_assert_int_ge(testutil_count_samples(b, "es_index_shards"), 2);
    json_object_put(lines);

    run(&c, 20, 0,
        (const char *const[]){"--once", "--kind", "json", "--target", url("/ok"), "--metric",
                              "x=a..b", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "invalid path \"a..b\"") != NULL, "%s", c.err);
    run(&c, 20, 0, (const char *const[]){"--once", "--kind", "json", "--target", url("/ok"), NULL});
    ck_assert_int_eq(c.status, 2);
}
END_TEST

START_TEST(test_parse_fixture)
{
    struct cmd c;
    char path[1024];
    const char *fx = getenv("FIXTURES");

    snprintf(path, sizeof(path), "%s/node_exporter.prom", fx != NULL ? fx : "tests/fixtures");
    run(&c, 20, 0, (const char *const[]){"--parse", path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 507);
    json_object *first = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(first, "name"), "go_gc_duration_seconds");
    ck_assert_str_eq(testutil_str(first, "type"), "summary");
    json_object_put(lines);
}
END_TEST

START_TEST(test_parse_errors)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-cli-XXXXXX";
    char bad[300], om[300];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(bad, sizeof(bad), "%s/bad.prom", dir);
    snprintf(om, sizeof(om), "%s/om.txt", dir);
    FILE *f = fopen(bad, "w");
    fputs("# TYPE up gauge\nup 1\nup{job=\"a\" 1\n", f);
    fclose(f);
    f = fopen(om, "w");
    fputs("# TYPE up gauge\nup 1\n", f);
    fclose(f);

    run(&c, 20, 0, (const char *const[]){"--parse", bad, NULL});
    ck_assert_int_eq(c.status, 1);
    ck_assert_uint_eq(c.outlen, 0);
    ck_assert_msg(strstr(c.err, ": parse error at line 3: ") != NULL, "%s", c.err);
    /* Valid text format, but OpenMetrics requires "# EOF". */
    run(&c, 20, 0, (const char *const[]){"--parse", om, NULL});
    ck_assert_int_eq(c.status, 0);
    run(&c, 20, 0, (const char *const[]){"--parse", om, "--format", "openmetrics", NULL});
    ck_assert_int_eq(c.status, 1);
    ck_assert_msg(strstr(c.err, "parse error at line") != NULL, "%s", c.err);
    run(&c, 20, 0, (const char *const[]){"--parse", om, "--format", "xml", NULL});
    ck_assert_int_eq(c.status, 2);
    unlink(bad);
    unlink(om);
    rmdir(dir);
}
END_TEST

static char cfg_dir[64], cfg_path[128];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void
write_config(const char *jobs)
{
    char text[2048];

    /* Runs under valgrind take several times longer: so may the scrapes. */
    int ms = (int)(300 * slowdown());
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:0'}\n"
             "global: {scrape_interval: %dms, scrape_timeout: %dms}\n%s",
             ms, ms, jobs);
    write_file(cfg_path, text);
}

static void
job_a_only(void)
{
    char jobs[512];

    snprintf(jobs, sizeof(jobs),
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: test}}]\n",
             mock_port);
    write_config(jobs);
}

static void
reload_add_b(pid_t pid)
{
    char jobs[768];

    snprintf(jobs, sizeof(jobs),
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: test}}]\n"
             "probes:\n"
             "  - name: b\n"
             "    urls: ['http://127.0.0.1:%u/ok']\n",
             mock_port, mock_port);
    write_config(jobs);
    if (pid > 0) {
        kill(pid, SIGHUP);
    }
}

/* Wall-clock ms when reload_broken and reload_only_b sent their SIGHUP (runs carry ts_ms). */
static int64_t broken_sent_ms, only_b_sent_ms;

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
reload_only_b(pid_t pid)
{
    char jobs[512];

    snprintf(jobs, sizeof(jobs),
             "probes:\n"
             "  - name: b\n"
             "    urls: ['http://127.0.0.1:%u/ok']\n",
             mock_port);
    write_config(jobs);
    only_b_sent_ms = wall_ms();
    if (pid > 0) {
        kill(pid, SIGHUP);
    }
}

static void
reload_broken(pid_t pid)
{
    write_config("scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n");
    broken_sent_ms = wall_ms();
    if (pid > 0) {
        kill(pid, SIGHUP);
    }
}

static void
config_setup(void)
{
    cli_setup();
    snprintf(cfg_dir, sizeof(cfg_dir), "/tmp/pollster-cfg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cfg_dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/pollster.yaml", cfg_dir);
    memset(mid_fn, 0, sizeof(mid_fn));
}

static void
config_teardown(void)
{
    unlink(cfg_path);
    rmdir(cfg_dir);
    cli_teardown();
}

START_TEST(test_config_once_and_job_filter)
{
    struct cmd c;

    reload_add_b(0 /* no process: just writes the file */);
    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 2);
    json_object_put(lines);

    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, "--job", "a", NULL});
    ck_assert_int_eq(c.status, 0);
    lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(b, "job"), "a");
    ck_assert_str_eq(testutil_str(testutil_field(b, "labels"), "env"), "test");
    ck_assert_ptr_nonnull(testutil_find_sample(b, "up_like", NULL, NULL));
    json_object_put(lines);

    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, "--job", "zz", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "has no job named \"zz\"") != NULL, "%s", c.err);
    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, "--job", "B", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "has no job named \"B\" (did you mean \"b\"?)\n") != NULL, "%s",
                  c.err);
}
END_TEST

START_TEST(test_check_config)
{
    struct cmd c;

    job_a_only();
    run(&c, 10, 0, (const char *const[]){"--check-config", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 0);
    ck_assert_ptr_nonnull(strstr(c.out, "job a (prometheus)"));
    reload_broken(0);
    run(&c, 10, 0, (const char *const[]){"--check-config", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "pollster.yaml:5:5: unknown key \"scrape_intervall\"") != NULL,
                  "%s", c.err);
    run(&c, 10, 0, (const char *const[]){"--check-config", NULL});
    ck_assert_int_eq(c.status, 2);
    run(&c, 10, 0, (const char *const[]){"-c", cfg_path, "--target", url("/ok"), NULL});
    ck_assert_int_eq(c.status, 2);
}
END_TEST

/*
 * Every prometheus.yml in tests/fixtures/prometheus passes --check-config (exit 0), warnings
 * (server-only keys) on stderr; Debian's stock file among them; ${VAR} expanded, the password
 * from the environment shown nowhere.
 */
START_TEST(test_prometheus_fixtures)
{
    const char *fixtures = getenv("FIXTURES");
    char dir[512], path[1024];
    struct cmd c;
    int n = 0;

    ck_assert_msg(fixtures != NULL, "FIXTURES not set");
    setenv("POLLSTER_FIXTURE_REGION", "eu1", 1);
    setenv("POLLSTER_FIXTURE_NODE", "10.1.2.3", 1);
    setenv("POLLSTER_FIXTURE_PASSWORD", "fixture-s3cret", 1);
    snprintf(dir, sizeof(dir), "%s/prometheus", fixtures);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".yml") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        run(&c, 10, 0, (const char *const[]){"--check-config", "-c", path, NULL});
        ck_assert_msg(c.status == 0, "%s: exit %d: %s", path, c.status, c.err);
        ck_assert_msg(strstr(c.out, "fixture-s3cret") == NULL &&
                          strstr(c.err, "fixture-s3cret") == NULL,
                      "%s shows the password", path);
        if (strcmp(de->d_name, "debian-prometheus.yml") == 0) {
            ck_assert_msg(strstr(c.err, "debian-prometheus.yml:5:3: warning: key "
                                        "\"evaluation_interval\" in global ignored: evaluated by "
                                        "a Prometheus server, not by an agent\n") != NULL,
                          "%s", c.err);
            ck_assert_ptr_nonnull(strstr(c.err, "warning: key \"alerting\" at top level"));
            ck_assert_ptr_nonnull(strstr(c.out, "job node (prometheus)"));
        }
        if (strcmp(de->d_name, "ux-env.yml") == 0) {
            ck_assert_ptr_nonnull(strstr(c.out, "http://10.1.2.3:9100/metrics"));
        }
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 3);
}
END_TEST

/* ${VAR} in a config run with --once: expanded, an error when unset, literal with the flag. */
START_TEST(test_env_expansion_and_warnings)
{
    char jobs[512], err[512], line[256];
    struct cmd c;

    snprintf(line, sizeof(line),
             "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: '${UX_CLI_ENV}'}}]\n",
             mock_port);
    snprintf(jobs, sizeof(jobs),
             "rule_files: ['alerts.yml']\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "%s",
             line);
    write_config(jobs);
    setenv("UX_CLI_ENV", "staging", 1);
    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    /* the daemon and --once log the warning */
    ck_assert_msg(strstr(c.err, "pollster.yaml:3:1: warning: key \"rule_files\" at top level "
                                "ignored") != NULL,
                  "%s", c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(testutil_field(b, "labels"), "env"), "staging");
    json_object_put(lines);

    run(&c, 20, 0, (const char *const[]){"--once", "--no-expand-env", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    lines = testutil_parse_lines(c.out);
    b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(testutil_field(b, "labels"), "env"), "${UX_CLI_ENV}");
    json_object_put(lines);

    unsetenv("UX_CLI_ENV");
    run(&c, 20, 0, (const char *const[]){"--check-config", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 2);
    /* line 7 (write_config puts two lines first), the column of the quoted value */
    snprintf(err, sizeof(err),
             "%s:7:%d: environment variable \"UX_CLI_ENV\" is not set (referenced as "
             "${UX_CLI_ENV}; write $$ for a literal $, or run with --no-expand-env)\n",
             cfg_path, (int)(strstr(line, "'${") - line) + 1);
    ck_assert_msg(strstr(c.err, err) != NULL, "%s", c.err);
}
END_TEST

/* Every example in conf/ must pass --check-config. */
START_TEST(test_conf_examples_valid)
{
    const char *dir = getenv("CONF_DIR");
    char path[512];
    struct cmd c;
    int n = 0;

    ck_assert_msg(dir != NULL, "CONF_DIR not set");
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        run(&c, 10, 0, (const char *const[]){"--check-config", "-c", path, NULL});
        ck_assert_msg(c.status == 0, "%s: %s", path, c.err);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 1);
}
END_TEST

static char sd_path[200];

/* Rewrites the file_sd file: the target now has label group=two. */
static void
sd_change(pid_t pid)
{
    char text[256];

    (void)pid;
    snprintf(text, sizeof(text), "- targets: ['127.0.0.1:%u']\n  labels: {group: two}\n",
             mock_port);
    write_file(sd_path, text);
}

/* file_sd files are checked every refresh_interval: a change rebuilds the targets, no SIGHUP. */
START_TEST(test_file_sd_refresh)
{
    struct cmd c;
    char jobs[512], text[256];

    snprintf(sd_path, sizeof(sd_path), "%s/targets.yml", cfg_dir);
    snprintf(text, sizeof(text), "- targets: ['127.0.0.1:%u']\n  labels: {group: one}\n",
             mock_port);
    write_file(sd_path, text);
    snprintf(jobs, sizeof(jobs),
             "scrape_configs:\n"
             "  - job_name: sd\n"
             "    metrics_path: /simple\n"
             "    file_sd_configs: [{files: ['targets.yml'], refresh_interval: 100ms}]\n");
    write_config(jobs);
    mid_fn[0] = sd_change;
    mid_at[0] = 1.5;
    run(&c, 30, 3.5, (const char *const[]){"-c", cfg_path, NULL});
    mid_fn[0] = NULL;
    unlink(sd_path);
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "file_sd files changed") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "0 targets kept, 0 added, 0 removed, 1 changed") != NULL, "%s",
                  c.err);
    snprintf(text, sizeof(text), "target changed: sd/127.0.0.1:%u: label group one -> two\n",
             mock_port);
    ck_assert_msg(strstr(c.err, text) != NULL, "%s", c.err);
    json_object *lines = testutil_parse_lines(c.out);
    size_t one = 0, two = 0, n = json_object_array_length(lines);
    for (size_t i = 0; i < n; i++) {
        const char *g =
            testutil_str(testutil_field(json_object_array_get_idx(lines, i), "labels"), "group");
        one += strcmp(g, "one") == 0;
        two += strcmp(g, "two") == 0;
        /* Once a run of the new group was written, no run of the old one follows. */
        ck_assert_msg(!(two > 0 && strcmp(g, "one") == 0), "group one after group two");
    }
    json_object_put(lines);
    ck_assert_msg(one >= 1 && two >= 1, "%zu runs of group one, %zu of group two", one, two);
}
END_TEST

/*
 * A sink that is down (its requests hang until their timeout) slows neither collection nor
 * another output: the file output gets every run on schedule.
 */
START_TEST(test_down_sink_does_not_slow_collection)
{
    struct cmd c;
    char jobs[1024], out[160];

    snprintf(out, sizeof(out), "%s/file.jsonl", cfg_dir);
    snprintf(jobs, sizeof(jobs),
             "probes:\n"
             "  - name: p\n"
             "    urls: ['http://127.0.0.1:%u/ok']\n"
             "outputs:\n"
             "  - type: http\n"
             "    url: http://127.0.0.1:%u/hang\n"
             "    timeout: 5s\n"
             "    flush_interval: 50ms\n"
             "  - type: http\n"
             "    url: http://127.0.0.1:%u/\n"
             "    flush_interval: 50ms\n"
             "  - type: file\n"
             "    path: %s\n",
             mock_port, mock_port, mock_closed_port(), out);
    write_config(jobs);
    run(&c, 30, 2.0, (const char *const[]){"-c", cfg_path, "--shutdown-timeout", "200ms", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    char line[8192];
    int64_t prev = 0, worst = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        json_object *b = json_tokener_parse(line);
        ck_assert_ptr_nonnull(b);
        int64_t ts = json_object_get_int64(testutil_field(b, "ts_ms"));
        if (prev != 0 && ts - prev > worst) {
            worst = ts - prev;
        }
        prev = ts;
        n++;
        json_object_put(b);
    }
    fclose(f);
    unlink(out);
    /* 2 s at a 300 ms interval: 6 or 7 runs (fewer under valgrind), each 300 ms after the last. */
    ck_assert_msg(n >= 4, "%zu runs written to the file in 2 s", n);
    ck_assert_msg(worst <= 400 * slowdown(), "a run came %lld ms after the previous one",
                  (long long)worst);
    /* The hanging sink was left at the deadline, its batches counted as lost (no spool). */
    ck_assert_msg(strstr(c.err, "not delivered and nowhere to keep them") != NULL, "%s", c.err);
}
END_TEST

START_TEST(test_config_reload)
{
    struct cmd c;

    job_a_only();
    broken_sent_ms = only_b_sent_ms = 0;
    mid_fn[0] = reload_add_b;
    mid_at[0] = 1.0;
    mid_fn[1] = reload_broken;
    mid_at[1] = 2.0;
    mid_fn[2] = reload_only_b;
    mid_at[2] = 3.0;
    run(&c, 30, 4.0, (const char *const[]){"-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "1 targets kept, 1 added, 0 removed") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "1 targets kept, 0 added, 1 removed") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "reload of ") != NULL &&
                      strstr(c.err, "keeping the running") != NULL,
                  "%s", c.err);
    ck_assert_msg(strstr(c.err, "pollster.yaml:5:5: unknown key \"scrape_intervall\"") != NULL,
                  "%s", c.err);
    json_object *lines = testutil_parse_lines(c.out);
    size_t n = json_object_array_length(lines), a_after_broken = 0, b = 0, a_after_removal = 0;
    /* Windows from the signals' times, not from the start: pollster starts slowly under load. */
    ck_assert(broken_sent_ms > 0 && only_b_sent_ms > broken_sent_ms);
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(lines, i);
        int64_t ts = json_object_get_int64(testutil_field(l, "ts_ms"));
        if (strcmp(testutil_str(l, "job"), "b") == 0) {
            b++;
        }
        else if (ts > only_b_sent_ms + (int64_t)(300 * slowdown())) {
            a_after_removal++; /* started after the reload had time to apply */
        }
        else if (ts > broken_sent_ms && ts < only_b_sent_ms) {
            a_after_broken++;
        }
    }
    ck_assert_msg(b >= 2, "%zu runs of the job added by the reload", b);
    ck_assert_msg(a_after_broken >= 1, "job a stopped after the broken reload");
    ck_assert_msg(a_after_removal == 0, "job a still ran %zu times after its removal",
                  a_after_removal);
    json_object_put(lines);
}
END_TEST

/* Blocking GET of http://127.0.0.1:@port@path into @buf; the HTTP status or -1. */
static long
http_get(unsigned port, const char *path, char *buf, size_t cap)
{
    char u[128];
    size_t len = 0;
    long code = -1;
    FILE *mem = fmemopen(buf, cap, "w");
    CURL *h = curl_easy_init();

    snprintf(u, sizeof(u), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_easy_cleanup(h);
    len = (size_t)ftell(mem);
    fclose(mem);
    buf[len < cap ? len : cap - 1] = '\0';
    return code;
}

/* --log-format: logfmt and json lines a machine reads; --log-level debug logs every run. */
START_TEST(test_log_format_and_debug_runs)
{
    struct cmd c;
    char down[64], ok[128];

    snprintf(down, sizeof(down), "http://127.0.0.1:%u/", mock_closed_port());
    snprintf(ok, sizeof(ok), "http://127.0.0.1:%u/ok", mock_port);
    run(&c, 10, 0, (const char *const[]){"--once", "--log-format", "json", "--target", down, NULL});
    ck_assert_int_eq(c.status, 1);
    json_object *line = json_tokener_parse(c.err);
    ck_assert_msg(line != NULL, "not one JSON line: %s", c.err);
    ck_assert_str_eq(testutil_str(line, "level"), "warn");
    ck_assert_msg(strstr(testutil_str(line, "msg"), "connect: connection refused") != NULL, "%s",
                  c.err);
    ck_assert_msg(strncmp(testutil_str(line, "ts"), "20", 2) == 0, "%s", c.err);
    json_object_put(line);

    run(&c, 10, 0,
        (const char *const[]){"--once", "--log-format", "logfmt", "--target", down, NULL});
    ck_assert_msg(strncmp(c.err, "ts=20", 5) == 0 && strstr(c.err, " level=warn msg=\"") != NULL &&
                      strcmp(c.err + c.errlen - 2, "\"\n") == 0,
                  "%s", c.err);

    run(&c, 10, 0, (const char *const[]){"--once", "--log-level", "debug", "--target", ok, NULL});
    ck_assert_int_eq(c.status, 0);
    ck_assert_msg(strstr(c.err, " debug engine: probe/") != NULL &&
                      strstr(c.err, "/ok: run ok in ") != NULL &&
                      strstr(c.err, "ms: HTTP 200, ") != NULL,
                  "%s", c.err);

    /* each output request, at debug */
    char text[512];
    snprintf(text, sizeof(text),
             "scrape_configs: [{job_name: a, metrics_path: /simple, static_configs: [{targets: "
             "['127.0.0.1:%u']}]}]\n"
             "outputs: [{type: http, url: 'http://127.0.0.1:%u/ok'}]\n",
             mock_port, mock_port);
    write_file(cfg_path, text);
    run(&c, 20, 0, (const char *const[]){"--once", "--log-level", "debug", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, ": request acknowledged") != NULL, "%s", c.err);

    run(&c, 10, 0, (const char *const[]){"--once", "--log-format", "jsno", "--target", ok, NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "--log-format: invalid format \"jsno\" (did you mean \"json\"?") !=
                      NULL,
                  "%s", c.err);
}
END_TEST

/* Job a's interval and job b's labels change, job c goes and job d comes. */
static void
reload_change_targets(pid_t pid)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:0'}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    scrape_interval: 2s\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "  - job_name: b\n"
             "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: prod}}]\n"
             "  - job_name: d\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
             mock_port, mock_port, mock_port);
    write_file(cfg_path, text);
    kill(pid, SIGHUP);
}

/* A reload says which targets it added, removed, and changed, and what changed in each. */
START_TEST(test_reload_logs_target_changes)
{
    struct cmd c;
    char text[1024], want[256];

    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:0'}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    scrape_interval: 1s\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "  - job_name: b\n"
             "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: test}}]\n"
             "  - job_name: c\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
             mock_port, mock_port, mock_port);
    write_file(cfg_path, text);
    mid_fn[0] = reload_change_targets;
    mid_at[0] = 1.0;
    run(&c, 30, 2.0 * slowdown(), (const char *const[]){"-c", cfg_path, NULL});
    memset(mid_fn, 0, sizeof(mid_fn));
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    snprintf(want, sizeof(want),
             "config: reload: target changed: a/127.0.0.1:%u: interval 1s -> 2s", mock_port);
    ck_assert_msg(strstr(c.err, want) != NULL, "%s", c.err);
    snprintf(want, sizeof(want),
             "config: reload: target changed: b/127.0.0.1:%u: label env test -> prod\n", mock_port);
    ck_assert_msg(strstr(c.err, want) != NULL, "%s", c.err);
    snprintf(want, sizeof(want), "config: reload: target removed: c/127.0.0.1:%u\n", mock_port);
    ck_assert_msg(strstr(c.err, want) != NULL, "%s", c.err);
    snprintf(want, sizeof(want), "config: reload: target added: d/127.0.0.1:%u\n", mock_port);
    ck_assert_msg(strstr(c.err, want) != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "0 targets kept, 1 added, 1 removed, 2 changed") != NULL, "%s",
                  c.err);
}
END_TEST

/* log.format changes from logfmt to json. */
static void
reload_log_format(pid_t pid)
{
    write_file(cfg_path, "log: {format: json}\n"
                         "status: {listen: '127.0.0.1:0'}\n"
                         "scrape_configs: []\n");
    kill(pid, SIGHUP);
}

/* log.format sets the shape of the lines, a reload changes it, --log-format wins over both. */
START_TEST(test_log_format_from_config_and_reload)
{
    struct cmd c;

    write_file(cfg_path, "log: {format: logfmt}\n"
                         "status: {listen: '127.0.0.1:0'}\n"
                         "scrape_configs: []\n");
    mid_fn[0] = reload_log_format;
    mid_at[0] = 1.0;
    run(&c, 30, 2.0 * slowdown(), (const char *const[]){"-c", cfg_path, NULL});
    memset(mid_fn, 0, sizeof(mid_fn));
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "level=info msg=\"engine: running 0 target(s)\"") != NULL, "%s",
                  c.err);
    ck_assert_msg(strstr(c.err, "level=info msg=\"config: log format logfmt -> json\"") != NULL,
                  "%s", c.err);
    ck_assert_msg(strstr(c.err, "\"level\":\"info\",\"msg\":\"config: reload of ") != NULL, "%s",
                  c.err);

    run(&c, 30, 1.0 * slowdown(),
        (const char *const[]){"--log-format", "text", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "Z info engine: running 0 target(s)") != NULL, "%s", c.err);
    ck_assert_ptr_null(strstr(c.err, "\"level\":"));
}
END_TEST

static unsigned reload_port_a, reload_port_b;
static char reload_page[65536];

/* status.listen and log.level change, and a target is added: all applied by the reload. */
static void
reload_move_status(pid_t pid)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "log: {level: debug}\n"
             "global: {scrape_interval: 300ms, scrape_timeout: 300ms}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u', 'localhost:%u']}]\n",
             reload_port_b, mock_port, mock_port);
    write_file(cfg_path, text);
    kill(pid, SIGHUP);
}

/* The output changes (stdout -> file): applied too, and the page says so. */
static void
reload_change_output(pid_t pid)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "outputs: [{type: file, path: '%s/other.jsonl'}]\n",
             reload_port_b, mock_port, cfg_dir);
    write_file(cfg_path, text);
    kill(pid, SIGHUP);
}

static void
reload_fetch_page(pid_t pid)
{
    (void)pid;
    http_get(reload_port_b, "/", reload_page, sizeof(reload_page));
}

START_TEST(test_reload_applies_status_log_and_outputs)
{
    struct cmd c;
    char text[512], page_a[256];

    reload_port_a = mock_closed_port();
    reload_port_b = mock_closed_port();
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "global: {scrape_interval: 300ms, scrape_timeout: 300ms}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
             reload_port_a, mock_port);
    write_file(cfg_path, text);
    reload_page[0] = '\0';
    mid_fn[0] = reload_move_status;
    mid_at[0] = 1.0;
    mid_fn[1] = reload_change_output;
    mid_at[1] = 2.5;
    mid_fn[2] = reload_fetch_page;
    mid_at[2] = 3.0;
    run(&c, 30, 3.5 * slowdown(), (const char *const[]){"-c", cfg_path, NULL});
    memset(mid_fn, 0, sizeof(mid_fn));
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    snprintf(page_a, sizeof(page_a),
             "config: status server moved from 127.0.0.1:%u to 127.0.0.1:%u", reload_port_a,
             reload_port_b);
    ck_assert_msg(strstr(c.err, page_a) != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "config: log level info -> debug") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "config: reload: target added: a/localhost:") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, " debug engine: a/localhost:") != NULL, "debug not applied: %s",
                  c.err);
    ck_assert_msg(strstr(c.err, "; outputs: added file[0], removed stdout[0]") != NULL, "%s",
                  c.err);
    ck_assert_msg(strstr(c.err, "engine: output stdout[0]: the removed instance is closed") != NULL,
                  "%s", c.err);
    ck_assert_ptr_null(strstr(c.err, "reload failed"));
    /* the old address is let go, the new one serves the page with the new output */
    ck_assert_int_eq(http_get(reload_port_a, "/healthz", text, sizeof(text)), -1);
    ck_assert_msg(strstr(reload_page, "<span class=\"up\">successful</span>") != NULL &&
                      strstr(reload_page, "file[0]") != NULL &&
                      strstr(reload_page, "stdout[0]") == NULL,
                  "%s", reload_page);
}
END_TEST

static unsigned status_port_fixed;

/* Waits until the targets API shows a run in flight, then sends SIGTERM. */
static void
term_when_in_flight(pid_t pid)
{
    static char body[65536];
    double start = now_s();

    while (now_s() - start < 6 * slowdown()) {
        if (http_get(status_port_fixed, "/api/v1/targets", body, sizeof(body)) == 200 &&
            strstr(body, "\"inFlight\":true") != NULL) {
            break;
        }
        usleep(20000);
    }
    kill(pid, SIGTERM);
}

static double second_signal_at;

/* Sends SIGTERM twice, 300 ms apart, once a run is in flight. */
static void
term_twice_when_in_flight(pid_t pid)
{
    term_when_in_flight(pid);
    usleep((useconds_t)(300000 * slowdown()));
    second_signal_at = now_s();
    kill(pid, SIGTERM);
}

/* A second signal does not wait for the drain: pollster exits at once, with status 0. */
START_TEST(test_second_sigterm_exits_at_once)
{
    struct cmd c;
    char listen[64];

    status_port_fixed = mock_closed_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", status_port_fixed);
    memset(mid_fn, 0, sizeof(mid_fn));
    mid_fn[0] = term_twice_when_in_flight;
    mid_at[0] = 0.2;
    run(&c, 30, 0,
        (const char *const[]){"--target", url("/hang"), "--interval", "4s", "--timeout", "4s",
                              "--status-listen", listen, "--shutdown-timeout", "10s", NULL});
    double exited_after = now_s() - second_signal_at;
    mid_fn[0] = NULL;
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "SIGTERM received, draining 1 in-flight") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "second signal, stopping at once") != NULL, "%s", c.err);
    /* The drain alone would wait for the hanging run's 4 s timeout. */
    ck_assert_msg(exited_after < 1.5 * slowdown(), "exited %.1f s after the second signal",
                  exited_after);
}
END_TEST

START_TEST(test_sigterm_waits_for_in_flight_run)
{
    struct cmd c;
    char listen[64];

    status_port_fixed = mock_closed_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", status_port_fixed);
    memset(mid_fn, 0, sizeof(mid_fn));
    mid_fn[0] = term_when_in_flight;
    mid_at[0] = 0.2;
    run(&c, 30, 0,
        (const char *const[]){"--target", url("/slow/1200"), "--interval", "2s", "--timeout", "2s",
                              "--status-listen", listen, "--shutdown-timeout", "3s", NULL});
    mid_fn[0] = NULL;
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.err, "SIGTERM received, draining 1 in-flight") != NULL, "%s", c.err);
    json_object *lines = testutil_parse_lines(c.out);
    ck_assert_int_ge(json_object_array_length(lines), 1);
    json_object *last = json_object_array_get_idx(lines, json_object_array_length(lines) - 1);
    /* The run in flight at SIGTERM finished and was written before exit. */
    ck_assert(json_object_get_boolean(testutil_field(last, "ok")));
    json_object_put(lines);
}
END_TEST

/* The password planted in every URL, credential and header of the redaction test. */
#define PLANTED "s3cretPW"

static char seen_targets[65536], seen_metrics[65536], seen_page[65536], seen_config[65536];

/* While the daemon runs: what the status server shows, then SIGTERM. */
static void
fetch_status_then_term(pid_t pid)
{
    double start = now_s();

    /* Wait for every target's first run, so the API shows their URLs and errors. */
    while (now_s() - start < 6 * slowdown()) {
        if (http_get(status_port_fixed, "/api/v1/targets", seen_targets, sizeof(seen_targets)) ==
                200 &&
            strstr(seen_targets, "\"health\":\"unknown\"") == NULL) {
            break;
        }
        usleep(50000);
    }
    http_get(status_port_fixed, "/metrics", seen_metrics, sizeof(seen_metrics));
    http_get(status_port_fixed, "/", seen_page, sizeof(seen_page));
    http_get(status_port_fixed, "/config", seen_config, sizeof(seen_config));
    kill(pid, SIGTERM);
}

static void
assert_no_password(const char *where, const char *text)
{
    ck_assert_msg(strstr(text, PLANTED) == NULL, "%s shows the password: %s", where, text);
}

/*
 * A password in a URL's userinfo shows up nowhere: not in stdout, stderr, --check-config, an
 * output file or the status server, for command-line targets (a valid URL, a port curl
 * rejects, no scheme at all) and for the targets and outputs of a config file.
 */
START_TEST(test_password_shown_nowhere)
{
    struct cmd c;
    char u[256], text[4096], out_path[160];

    /* Command line: a valid URL, with each kind that derives an instance from it. */
    snprintf(u, sizeof(u), "http://u:" PLANTED "@127.0.0.1:%u/simple", mock_port);
    static const char *const kinds[] = {"prometheus", "probe"};
    for (size_t i = 0; i < 2; i++) {
        run(&c, 20, 0, (const char *const[]){"--once", "--kind", kinds[i], "--target", u, NULL});
        ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
        ck_assert_msg(strstr(c.out, "\"url\":\"http://127.0.0.1:") != NULL, "%s", c.out);
        assert_no_password("stdout", c.out);
        assert_no_password("stderr", c.err);
    }
    /* A run that fails logs the URL too. */
    snprintf(u, sizeof(u), "http://u:" PLANTED "@127.0.0.1:%u/status/500", mock_port);
    run(&c, 20, 0, (const char *const[]){"--once", "--target", u, NULL});
    ck_assert_int_eq(c.status, 1);
    ck_assert_msg(strstr(c.err, "run failed") != NULL, "%s", c.err);
    assert_no_password("stdout", c.out);
    assert_no_password("stderr", c.err);
    /* URLs curl rejects: the error names them without the userinfo. */
    static const char *const bad[] = {"http://u:" PLANTED "@127.0.0.1:99999/",
                                      "u:" PLANTED "@host:1", "ftp://u:" PLANTED "@host/"};
    for (size_t i = 0; i < 3; i++) {
        run(&c, 20, 0, (const char *const[]){"--once", "--target", bad[i], NULL});
        ck_assert_int_eq(c.status, 2);
        ck_assert_msg(strstr(c.err, "invalid URL") != NULL, "%s", c.err);
        assert_no_password("stdout", c.out);
        assert_no_password("stderr", c.err);
    }

    /* A config file: URLs with userinfo, credentials and header values, an output file. */
    snprintf(out_path, sizeof(out_path), "%s/out.jsonl", cfg_dir);
    status_port_fixed = mock_closed_port();
    int ms = (int)(300 * slowdown());
    snprintf(text, sizeof(text),
             "status: {listen: '127.0.0.1:%u'}\n"
             "global: {scrape_interval: %dms, scrape_timeout: %dms}\n"
             "scrape_configs:\n"
             "  - job_name: a\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    basic_auth: {username: u, password: " PLANTED "}\n"
             "  - job_name: b\n"
             "    metrics_path: /status/401\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    authorization: {credentials: " PLANTED "}\n"
             "probes:\n"
             "  - name: c\n"
             "    urls: ['http://u:" PLANTED "@127.0.0.1:%u/ok',\n"
             "           'http://u:" PLANTED "@127.0.0.1:%u/status/503']\n"
             "    headers: {X-Key: " PLANTED "}\n"
             "json_jobs:\n"
             "  - name: d\n"
             "    url: 'http://u:" PLANTED "@127.0.0.1:%u/file/json_es_cluster_health.json'\n"
             "    metrics: [{name: es_active_shards, path: active_shards}]\n"
             "outputs:\n"
             "  - {type: stdout}\n"
             "  - {type: file, path: '%s'}\n"
             "  - type: http\n"
             "    url: 'http://u:" PLANTED "@127.0.0.1:%u/ok'\n"
             "    authorization: {credentials: " PLANTED "}\n",
             status_port_fixed, ms, ms, mock_port, mock_port, mock_port, mock_port, mock_port,
             out_path, mock_port);
    write_file(cfg_path, text);

    run(&c, 10, 0, (const char *const[]){"--check-config", "-c", cfg_path, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(c.out, "job d (json)") != NULL, "%s", c.out);
    assert_no_password("--check-config stdout", c.out);
    assert_no_password("--check-config stderr", c.err);

    run(&c, 20, 0, (const char *const[]){"--once", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 1); /* b (401) and the 503 probe fail */
    assert_no_password("--once stdout", c.out);
    assert_no_password("--once stderr", c.err);

    memset(mid_fn, 0, sizeof(mid_fn));
    seen_targets[0] = seen_metrics[0] = seen_page[0] = seen_config[0] = '\0';
    mid_fn[0] = fetch_status_then_term;
    mid_at[0] = 0.3;
    run(&c, 30, 0, (const char *const[]){"-c", cfg_path, NULL});
    mid_fn[0] = NULL;
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(strstr(seen_targets, "\"scrapeUrl\":\"http://127.0.0.1:") != NULL, "%s",
                  seen_targets);
    ck_assert_msg(strstr(seen_metrics, "pollster_") != NULL, "%s", seen_metrics);
    assert_no_password("daemon stdout", c.out);
    assert_no_password("daemon stderr", c.err);
    assert_no_password("/api/v1/targets", seen_targets);
    assert_no_password("/metrics", seen_metrics);
    assert_no_password("/", seen_page);
    assert_no_password("/config", seen_config);
    ck_assert_msg(strstr(seen_config, "password: &lt;secret&gt;") != NULL, "%s", seen_config);
    char *file = read_all(out_path);
    ck_assert_msg(strstr(file, "\"url\":\"http://127.0.0.1:") != NULL, "%s", file);
    assert_no_password("the output file", file);
    free(file);
    unlink(out_path);

    /* A config the loader rejects names the bad targets and URLs without their userinfo. */
    write_file(cfg_path, "scrape_configs:\n"
                         "  - job_name: a\n"
                         "    static_configs: [{targets: ['u:" PLANTED "@h:1']}]\n"
                         "probes:\n"
                         "  - {name: p, urls: ['http://u:" PLANTED "@h:99999/']}\n"
                         "outputs:\n"
                         "  - {type: http, url: 'http://u:" PLANTED "@/x'}\n");
    run(&c, 10, 0, (const char *const[]){"--check-config", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "invalid target address") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "invalid URL \"http://h:99999/\"") != NULL, "%s", c.err);
    ck_assert_msg(strstr(c.err, "invalid URL \"http:///x\"") != NULL, "%s", c.err);
    assert_no_password("--check-config errors", c.err);
    assert_no_password("--check-config stdout", c.out);
    run(&c, 10, 0, (const char *const[]){"--once", "-c", cfg_path, NULL});
    ck_assert_int_eq(c.status, 2);
    assert_no_password("--once errors", c.err);
}
END_TEST

/*
 * A child that accepts connections on a loopback port for @secs seconds, appends each request's
 * head to @path (NULL: nowhere) and answers 200 with @body as @ctype. Returns its pid; the port
 * in *@port.
 */
static pid_t
capture_server(unsigned *port, const char *path, int secs, const char *ctype, const char *body)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0) {
        close(fd);
        return pid;
    }
    alarm((unsigned)secs);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        char buf[8192];
        ssize_t n = c >= 0 ? read(c, buf, sizeof(buf)) : -1;
        if (n > 0) {
            FILE *f = path != NULL ? fopen(path, "a") : NULL;
            if (f != NULL) {
                fwrite(buf, 1, (size_t)n, f);
                fclose(f);
            }
            char head[256];
            int hl = snprintf(head, sizeof(head),
                              "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              ctype, strlen(body));
            if (write(c, head, (size_t)hl) < 0 || write(c, body, strlen(body)) < 0) {
                _exit(1);
            }
        }
        if (c >= 0) {
            close(c);
        }
    }
}

/* The command line's HTTP settings reach the request, and their secrets show nowhere. */
START_TEST(test_cli_http_settings)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-clihttp-XXXXXX", req[128], pw[128], tok[128], url[128];
    unsigned port;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(req, sizeof(req), "%s/requests", dir);
    snprintf(pw, sizeof(pw), "%s/pw", dir);
    snprintf(tok, sizeof(tok), "%s/token", dir);
    write_file(pw, "pw\n");
    write_file(tok, "T0K3N\n");
    pid_t srv = capture_server(&port, req, 20, "text/plain", "ok\n");
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
    run(&c, 10, 0,
        (const char *const[]){"--once", "--target", url, "--header", "X-Tenant: 7",
                              "--basic-auth-user", "u", "--password-file", pw, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    run(&c, 10, 0,
        (const char *const[]){"--once", "--target", url, "--bearer-token-file", tok, NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_ptr_null(strstr(c.out, "T0K3N"));
    ck_assert_ptr_null(strstr(c.err, "T0K3N"));
    char *got = read_all(req);
    ck_assert_msg(strstr(got, "\r\nX-Tenant: 7\r\n") != NULL, "%s", got);
    ck_assert_msg(strstr(got, "\r\nAuthorization: Basic dTpwdw==\r\n") != NULL, "%s", got);
    ck_assert_msg(strstr(got, "\r\nAuthorization: Bearer T0K3N\r\n") != NULL, "%s", got);
    free(got);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);

    /* bad uses, each named */
    run(&c, 10, 0, (const char *const[]){"--once", "--target", url, "--password-file", pw, NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "--password-file needs --basic-auth-user") != NULL, "%s", c.err);
    run(&c, 10, 0, (const char *const[]){"--once", "--target", url, "--header", "nocolon", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "--header: expected 'Name: value'") != NULL, "%s", c.err);
    run(&c, 10, 0,
        (const char *const[]){"--once", "--target", url, "--ca-file", "/nonexistent/ca.pem", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "--ca-file: cannot read /nonexistent/ca.pem") != NULL, "%s", c.err);
    unlink(req);
    unlink(pw);
    unlink(tok);
    rmdir(dir);
}
END_TEST

/* --log-level debug logs each SD refresh and what it found. */
START_TEST(test_debug_logs_sd_refresh)
{
    struct cmd c;
    char text[512];
    unsigned port;
    pid_t srv =
        capture_server(&port, NULL, 20, "application/json", "[{\"targets\": [\"127.0.0.1:1\"]}]");

    snprintf(text, sizeof(text),
             "scrape_configs:\n  - job_name: s\n"
             "    http_sd_configs: [{url: 'http://127.0.0.1:%u/sd'}]\n",
             port);
    write_file(cfg_path, text);
    run(&c, 20, 0, (const char *const[]){"--once", "--log-level", "debug", "-c", cfg_path, NULL});
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    ck_assert_msg(strstr(c.err, " debug sd: job \"s\": http_sd http://127.0.0.1:") != NULL &&
                      strstr(c.err, " bytes, the target list changed") != NULL,
                  "%s", c.err);
}
END_TEST

static Suite *
cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("binary");

    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_bad_usage_exit_2);
    tcase_add_test(tc, test_once_closed_port);
    tcase_add_test(tc, test_default_timeout_fits_interval);
    tcase_add_test(tc, test_error_capitals);
    tcase_add_test(tc, test_errors_said_once);
    tcase_add_test(tc, test_cli_http_settings);
    tcase_add_test(tc, test_once_ok);
    tcase_add_test(tc, test_once_concurrent);
    tcase_add_test(tc, test_once_builtin_default);
    tcase_add_test(tc, test_parse_fixture);
    tcase_add_test(tc, test_once_json_kind);
    tcase_add_test(tc, test_once_formats);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_sigterm_waits_for_in_flight_run);
    tcase_add_test(tc, test_second_sigterm_exits_at_once);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    TCase *tconf = tcase_create("config");
    tcase_add_checked_fixture(tconf, config_setup, config_teardown);
    tcase_add_test(tconf, test_config_once_and_job_filter);
    tcase_add_test(tconf, test_check_config);
    tcase_add_test(tconf, test_config_reload);
    tcase_add_test(tconf, test_log_format_and_debug_runs);
    tcase_add_test(tconf, test_debug_logs_sd_refresh);
    tcase_add_test(tconf, test_reload_applies_status_log_and_outputs);
    tcase_add_test(tconf, test_log_format_from_config_and_reload);
    tcase_add_test(tconf, test_reload_logs_target_changes);
    tcase_add_test(tconf, test_down_sink_does_not_slow_collection);
    tcase_add_test(tconf, test_file_sd_refresh);
    tcase_add_test(tconf, test_conf_examples_valid);
    tcase_add_test(tconf, test_prometheus_fixtures);
    tcase_add_test(tconf, test_env_expansion_and_warnings);
    tcase_add_test(tconf, test_password_shown_nowhere);
    tcase_set_timeout(tconf, 120);
    suite_add_tcase(s, tconf);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
