/*
 * The remote_write output end to end, against real receivers started here on loopback ports:
 * Debian's prometheus (--web.enable-remote-write-receiver) and victoria-metrics (/api/v1/write).
 * The pollster binary scrapes a mock target serving the real node_exporter fixture plus a
 * target exposing NaN, +Inf and -Inf, and a file output with format remote_write records the
 * readable dump of every series it sent.
 *
 *   - Outage and kill -9: both receivers are stopped mid-run, pollster is killed with SIGKILL
 *     during the outage and started again, then the receivers come back. Every line of the dump
 *     must then be in Prometheus (a range query) and in VictoriaMetrics (/api/v1/export) with
 *     the same labels, timestamp and value: zero missing, zero wrong.
 *   - Staleness: a stock prometheus.yml with a top-level remote_write list; a reload removes a
 *     target, and both receivers then answer an instant query for its series with nothing (the
 *     staleness markers ended them), while the remaining target's series are still there; then
 *     that target stops answering, and its series go stale too (up stays, at 0).
 *
 * Without either binary (PROMETHEUS / VICTORIA_METRICS or /usr/bin/...) the test is reported as
 * SKIP (exit 77), never as a pass; .ci/run installs both.
 */
#include "build-config.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mock_server.h"
#include "testproc.h"
#include "testutil.h"

static char dir[64];
static char cfg_path[128];
static char out_path[128];
static unsigned prom_port, vm_port, status_port, mock_port;
static pid_t mock_pid;
static char fixtures[512]; /* $FIXTURES at start (the tests point it elsewhere) */

/* The special target's exposition: the non-finite values and a tiny one (VictoriaMetrics flushes
 * subnormals to 0). */
static const char special_text[] = "# TYPE special_value gauge\n"
                                   "special_value{kind=\"nan\"} NaN\n"
                                   "special_value{kind=\"pinf\"} +Inf\n"
                                   "special_value{kind=\"ninf\"} -Inf\n"
                                   "special_value{kind=\"tiny\"} 1e-300\n";

static const char *
prom_binary(void)
{
    return testproc_binary("PROMETHEUS", "/usr/bin/prometheus");
}

static pid_t
prom_start(void)
{
    char cfg[128], data[128], listen[64], log[128];

    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("global: {}\n", f);
    fclose(f);
    snprintf(cfg, sizeof(cfg), "--config.file=%s/prometheus.yml", dir);
    snprintf(data, sizeof(data), "--storage.tsdb.path=%s/promdata", dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", prom_port);
    snprintf(log, sizeof(log), "%s/prometheus.log", dir);
    char *argv[] = {(char *)prom_binary(), cfg, data, listen, "--web.enable-remote-write-receiver",
                    "--log.level=warn",    NULL};
    pid_t pid = testproc_spawn(argv, log);
    ck_assert_msg(testproc_wait_ready(prom_port, "/-/ready", 30) == 0,
                  "prometheus did not become ready on port %u (see %s)", prom_port, log);
    return pid;
}

static pid_t
vm_start(void)
{
    return testproc_vm_start(dir, vm_port);
}

static void
stop(pid_t pid)
{
    testproc_stop(pid);
}

static pid_t
pollster_start(void)
{
    return testproc_pollster(dir, cfg_path);
}

/* The sum of self metric @name over the remote_write outputs; NAN if unreadable. */
static double
self_metric(const char *name)
{
    char *body = NULL;
    double v = NAN;

    if (testproc_get(status_port, "/metrics", &body) == 200) {
        v = 0;
        for (const char *p = strstr(body, name); p != NULL; p = strstr(p + 1, name)) {
            if ((p == body || p[-1] == '\n') && strncmp(p + strlen(name), "{", 1) == 0) {
                const char *e = strchr(p, '}');
                if (e != NULL && strstr(p, "type=\"remote_write\"") != NULL &&
                    strstr(p, "type=\"remote_write\"") < e) {
                    v += strtod(e + 2, NULL);
                }
            }
        }
    }
    free(body);
    return v;
}

static void
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;

    ck_assert_msg(in != NULL && out != NULL, "cannot copy %s to %s", from, to);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    fclose(out);
}

static void
setup_dirs(const char *tag)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    snprintf(dir, sizeof(dir), "/tmp/pollster-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/pollster.yaml", dir);
    snprintf(out_path, sizeof(out_path), "%s/sent.txt", dir);
    prom_port = mock_closed_port();
    vm_port = mock_closed_port();
    status_port = mock_closed_port();
    /* The mock serves /file/ from $FIXTURES: here, the node fixture and the special target. */
    char src[600], dst[128];
    snprintf(src, sizeof(src), "%s/node_exporter.prom", fixtures);
    snprintf(dst, sizeof(dst), "%s/node_exporter.prom", dir);
    copy_file(src, dst);
    snprintf(dst, sizeof(dst), "%s/special.prom", dir);
    FILE *f = fopen(dst, "w");
    ck_assert_ptr_nonnull(f);
    fputs(special_text, f);
    fclose(f);
    setenv("FIXTURES", dir, 1);
    mock_pid = mock_server_spawn(&mock_port, 240);
    ck_assert_int_gt(mock_pid, 0);
}

/* Appends @s to @sb with the dump's escapes (\\, \", \n). */
static void
put_escaped(char *buf, size_t cap, size_t *off, const char *s)
{
    for (; *s != '\0' && *off + 3 < cap; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            buf[(*off)++] = '\\';
            buf[(*off)++] = *s == '\n' ? 'n' : *s;
        }
        else {
            buf[(*off)++] = *s;
        }
    }
    buf[*off] = '\0';
}

/* `{a="b", c="d"}@TS` of a receiver's label object, as the dump writes it. */
static void
series_key(json_object *labels, int64_t ts, char *buf, size_t cap)
{
    const char *names[128];
    size_t n = testutil_label_names(labels, names, 128), off = 0;

    buf[off++] = '{';
    for (size_t i = 0; i < n && off + 8 < cap; i++) {
        off += (size_t)snprintf(buf + off, cap - off, "%s%s=\"", i > 0 ? ", " : "", names[i]);
        put_escaped(buf, cap - 32, &off,
                    json_object_get_string(json_object_object_get(labels, names[i])));
        buf[off++] = '"';
    }
    snprintf(buf + off, cap - off, "}@%lld", (long long)ts);
}

/* Every line of the dump as key "{labels}@ts" -> value (a JSON double; NaN kept as a string). */
static json_object *
expected_samples(size_t *count)
{
    FILE *f = fopen(out_path, "r");
    static char line[1 << 16];
    json_object *want = json_object_new_object();
    char key[sizeof(line) + 32];

    ck_assert_ptr_nonnull(f);
    *count = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *vs = strrchr(line, ' ');
        ck_assert_ptr_nonnull(vs);
        *vs++ = '\0';
        char *tss = strrchr(line, ' ');
        ck_assert_ptr_nonnull(tss);
        *tss++ = '\0';
        snprintf(key, sizeof(key), "%s@%s", line, tss);
        json_object_object_add(want, key, json_object_new_string(vs));
        (*count)++;
    }
    fclose(f);
    return want;
}

struct tally {
    double rel_tolerance; /* 0 for Prometheus (exact); VictoriaMetrics rounds to ~16 digits */
    size_t found, extra, wrong, nan_skipped;
    json_object *seen;
};

static void
tally_one(struct tally *t, json_object *want, const char *key, const char *got_s, bool verbose)
{
    json_object *w = json_object_object_get(want, key);

    if (w == NULL) {
        if (verbose && t->extra < 5) {
            fprintf(stderr, "not in the dump: %s %s\n", key, got_s);
        }
        t->extra++;
        return;
    }
    if (json_object_object_get_ex(t->seen, key, NULL)) {
        return;
    }
    json_object_object_add(t->seen, key, NULL);
    double got = strtod(got_s, NULL), exp = strtod(json_object_get_string(w), NULL);
    if (!(got == exp || (isnan(got) && isnan(exp)) ||
          fabs(got - exp) <= t->rel_tolerance * fabs(exp))) {
        if (verbose && t->wrong < 5) {
            fprintf(stderr, "value differs for %s: want %s got %s\n", key,
                    json_object_get_string(w), got_s);
        }
        t->wrong++;
    }
    t->found++;
}

static void
tally_reset(struct tally *t, double rel_tolerance)
{
    json_object_put(t->seen);
    memset(t, 0, sizeof(*t));
    t->rel_tolerance = rel_tolerance;
    t->seen = json_object_new_object();
}

/*
 * @line with VictoriaMetrics' bare NaN, +Inf, -Inf and Inf value tokens quoted, so json-c reads
 * it (the caller frees the result).
 */
static char *
quote_tokens(const char *line)
{
    static const char *const toks[] = {"NaN", "+Inf", "-Inf", "Inf"};
    size_t n = strlen(line);
    char *out = malloc(2 * n + 1), *o = out;

    ck_assert_ptr_nonnull(out);
    for (const char *p = line; *p != '\0';) {
        bool done = false;
        if (p > line && (p[-1] == '[' || p[-1] == ',')) {
            for (size_t i = 0; i < 4 && !done; i++) {
                size_t l = strlen(toks[i]);
                if (strncmp(p, toks[i], l) == 0 && (p[l] == ',' || p[l] == ']')) {
                    o += sprintf(o, "\"%s\"", toks[i]);
                    p += l;
                    done = true;
                }
            }
        }
        if (!done) {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Everything in VictoriaMetrics against @want. */
static void
compare_vm(json_object *want, struct tally *t, bool verbose)
{
    char *body = NULL;
    char key[1 << 16], num[64];

    /* It stores a decimal mantissa of at most 64 bits: 2^64 comes back as 1.8446744073709548e19. */
    tally_reset(t, 1e-15);
    ck_assert_int_eq(testproc_get(vm_port, "/internal/force_flush", NULL), 200);
    ck_assert_int_eq(
        testproc_get(vm_port, "/api/v1/export?match[]=%7B__name__%3D~%22.%2B%22%7D", &body), 200);
    for (char *line = strtok(body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *q = quote_tokens(line);
        json_object *o = json_tokener_parse(q);
        free(q);
        ck_assert_msg(o != NULL, "unparseable export line: %.80s", line);
        json_object *vals = testutil_field(o, "values");
        json_object *tss = testutil_field(o, "timestamps");
        for (size_t i = 0; i < json_object_array_length(tss); i++) {
            series_key(testutil_field(o, "metric"),
                       json_object_get_int64(json_object_array_get_idx(tss, i)), key, sizeof(key));
            json_object *v = json_object_array_get_idx(vals, i);
            double d = json_object_is_type(v, json_type_string)
                           ? strtod(json_object_get_string(v), NULL)
                           : json_object_get_double(v);
            if (isnan(d)) {
                continue; /* a staleness marker (VictoriaMetrics keeps them), not in the dump */
            }
            snprintf(num, sizeof(num), "%.17g", d);
            tally_one(t, want, key, num, verbose);
        }
        json_object_put(o);
    }
    free(body);
}

/* Everything in Prometheus (a range query over the last hour) against @want. */
static void
compare_prom(json_object *want, struct tally *t, bool verbose)
{
    char *body = NULL;
    char path[256], key[1 << 16];

    tally_reset(t, 0);
    snprintf(path, sizeof(path),
             "/api/v1/query?query=%%7B__name__%%3D~%%22.%%2B%%22%%7D%%5B1h%%5D&time=%lld",
             (long long)time(NULL) + 1);
    ck_assert_int_eq(testproc_get(prom_port, path, &body), 200);
    json_object *o = json_tokener_parse(body);
    ck_assert_ptr_nonnull(o);
    json_object *res = testutil_field(testutil_field(o, "data"), "result");
    for (size_t i = 0; i < json_object_array_length(res); i++) {
        json_object *s = json_object_array_get_idx(res, i);
        json_object *vals = testutil_field(s, "values");
        for (size_t k = 0; k < json_object_array_length(vals); k++) {
            json_object *pair = json_object_array_get_idx(vals, k);
            double ts = json_object_get_double(json_object_array_get_idx(pair, 0));
            series_key(testutil_field(s, "metric"), llround(ts * 1000), key, sizeof(key));
            tally_one(t, want, key, json_object_get_string(json_object_array_get_idx(pair, 1)),
                      verbose);
        }
    }
    json_object_put(o);
    free(body);
}

static void
report_missing(json_object *want, struct tally *t, const char *who, bool skip_nan)
{
    int shown = 0;

    json_object_object_foreach(want, k, v)
    {
        if (skip_nan && strcmp(json_object_get_string(v), "NaN") == 0) {
            continue;
        }
        if (!json_object_object_get_ex(t->seen, k, NULL) && shown++ < 10) {
            fprintf(stderr, "%s: missing %s %s\n", who, k, json_object_get_string(v));
        }
    }
}

/* NaN lines of the dump (VictoriaMetrics drops NaN samples on ingestion). */
static size_t
nan_count(json_object *want)
{
    size_t n = 0;

    json_object_object_foreach(want, k, v)
    {
        (void)k;
        n += strcmp(json_object_get_string(v), "NaN") == 0;
    }
    return n;
}

START_TEST(test_outage_and_kill9_lose_nothing_in_prometheus_and_vm)
{
    setup_dirs("rw");
    FILE *f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "global:\n"
            "  scrape_interval: 500ms\n"
            "  scrape_timeout: 400ms\n"
            "  external_labels: {region: eu1}\n"
            "scrape_configs:\n"
            "  - job_name: node\n"
            "    metrics_path: /file/node_exporter.prom\n"
            "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: ci}}]\n"
            "  - job_name: special\n"
            "    metrics_path: /file/special.prom\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "outputs:\n"
            /* The spools first: a line in the dump was in both spools before it (kill -9). */
            "  - type: remote_write\n"
            "    url: http://127.0.0.1:%u/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, "
            "max_backoff: 500ms}\n"
            "    spool_dir: %s/spool-prom\n"
            "  - type: remote_write\n"
            "    url: http://127.0.0.1:%u/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, "
            "max_backoff: 500ms}\n"
            "    spool_dir: %s/spool-vm\n"
            "  - type: file\n"
            "    path: %s\n"
            "    format: remote_write\n"
            "status:\n"
            "  listen: 127.0.0.1:%u\n",
            mock_port, mock_port, prom_port, dir, vm_port, dir, out_path, status_port);
    fclose(f);

    pid_t prom = prom_start(), vm = vm_start();
    pid_t p = pollster_start();
    sleep(3);
    ck_assert_msg(self_metric("pollster_output_delivered_samples_total") > 0,
                  "nothing delivered with the receivers up (see %s/pollster.log)", dir);

    /* Outage: collection continues into the spools. */
    stop(prom);
    stop(vm);
    sleep(3);
    double pending = self_metric("pollster_output_pending_samples");
    double spool = self_metric("pollster_output_spool_bytes");
    ck_assert_msg(spool > 0 && pending > 0, "spool %.0f bytes, %.0f pending during the outage",
                  spool, pending);

    /* kill -9 during the outage, then a start that is still cut off. */
    kill(p, SIGKILL);
    ck_assert_int_eq(testproc_wait_exit(p, 10), 128 + SIGKILL);
    p = pollster_start();
    sleep(2);
    ck_assert_msg(self_metric("pollster_output_recovered_samples_total") > 0,
                  "nothing recovered from the spools after kill -9");

    /* The receivers are back: everything drains; SIGTERM keeps the rest for one more start. */
    prom = prom_start();
    vm = vm_start();
    double start = testproc_now_s();
    while (testproc_now_s() - start < 60 && self_metric("pollster_output_pending_samples") > 6000) {
        usleep(100000);
    }
    kill(p, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(p, 30), 0);
    p = pollster_start();
    start = testproc_now_s();
    while (testproc_now_s() - start < 60 &&
           !(self_metric("pollster_output_pending_samples") == 0)) {
        usleep(100000);
    }
    ck_assert_msg(self_metric("pollster_output_dropped_samples_total") == 0, "samples dropped");
    kill(p, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(p, 30), 0);

    size_t nwant = 0;
    json_object *want = expected_samples(&nwant);
    size_t nnan = nan_count(want);
    struct tally t = {0};
    compare_prom(want, &t, true);
    report_missing(want, &t, "prometheus", false);
    fprintf(stderr,
            "prometheus: %zu series-samples sent, %zu found, %zu missing, %zu wrong values, %zu "
            "not in the dump\n",
            nwant, t.found, nwant - t.found, t.wrong, t.extra);
    ck_assert_uint_gt(nwant, 5000);
    ck_assert_uint_gt(nnan, 0);
    ck_assert_uint_eq(t.found, nwant);
    ck_assert_uint_eq(t.wrong, 0);
    /* Newly created series become searchable in VictoriaMetrics a moment after force_flush. */
    for (int i = 0; i < 30; i++) {
        compare_vm(want, &t, false);
        if (t.found == nwant - nnan) {
            break;
        }
        sleep(1);
    }
    compare_vm(want, &t, true);
    report_missing(want, &t, "victoria-metrics", true);
    fprintf(stderr,
            "victoria-metrics: %zu sent (%zu NaN, which it drops), %zu found, %zu missing, %zu "
            "wrong values, %zu not in the dump\n",
            nwant, nnan, t.found, nwant - nnan - t.found, t.wrong, t.extra);
    ck_assert_uint_eq(t.found, nwant - nnan);
    ck_assert_uint_eq(t.wrong, 0);
    json_object_put(t.seen);
    json_object_put(want);
    stop(prom);
    stop(vm);
    mock_server_stop(mock_pid);
    testproc_rmtree(dir);
}
END_TEST

static void
write_stock_config(bool with_special)
{
    FILE *f = fopen(cfg_path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "global:\n"
            "  scrape_interval: 500ms\n"
            "  scrape_timeout: 400ms\n"
            "scrape_configs:\n"
            "  - job_name: node\n"
            "    metrics_path: /file/node_exporter.prom\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
            mock_port);
    if (with_special) {
        fprintf(f,
                "  - job_name: special\n"
                "    metrics_path: /file/special.prom\n"
                "    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
                mock_port);
    }
    fprintf(f,
            "remote_write:\n"
            "  - url: http://127.0.0.1:%u/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 100ms}\n"
            "  - url: http://127.0.0.1:%u/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 100ms}\n"
            "status:\n"
            "  listen: 127.0.0.1:%u\n",
            prom_port, vm_port, status_port);
    fclose(f);
}

/* The number of series an instant query of @q (URL-encoded) returns from @port. */
static size_t
instant_count(unsigned port, const char *q)
{
    char path[512], *body = NULL;

    snprintf(path, sizeof(path), "/api/v1/query?query=%s&time=%lld", q, (long long)time(NULL));
    ck_assert_int_eq(testproc_get(port, path, &body), 200);
    json_object *o = json_tokener_parse(body);
    ck_assert_ptr_nonnull(o);
    size_t n = json_object_array_length(testutil_field(testutil_field(o, "data"), "result"));
    json_object_put(o);
    free(body);
    return n;
}

START_TEST(test_removed_target_goes_stale_in_prometheus_and_vm)
{
    setup_dirs("rwstale");
    write_stock_config(true);
    pid_t prom = prom_start(), vm = vm_start();
    pid_t p = pollster_start();
    sleep(2);
    ck_assert_int_eq(testproc_get(vm_port, "/internal/force_flush", NULL), 200);
    ck_assert_uint_eq(instant_count(prom_port, "special_value"), 4);
    ck_assert_uint_eq(instant_count(prom_port, "node_load1"), 1);
    for (int i = 0; i < 20 && instant_count(vm_port, "special_value") < 3; i++) {
        sleep(1); /* new series become searchable a moment later */
    }
    ck_assert_uint_eq(instant_count(vm_port, "special_value"), 3); /* the NaN one is not kept */

    /* The target goes away: its series get staleness markers. */
    write_stock_config(false);
    kill(p, SIGHUP);
    sleep(2);
    ck_assert_int_eq(testproc_get(vm_port, "/internal/force_flush", NULL), 200);
    ck_assert_uint_eq(instant_count(prom_port, "special_value"), 0);
    ck_assert_uint_eq(instant_count(prom_port, "up%7Bjob%3D%22special%22%7D"), 0);
    ck_assert_uint_eq(instant_count(prom_port, "node_load1"), 1);
    ck_assert_uint_eq(instant_count(prom_port, "up%7Bjob%3D%22node%22%7D"), 1);
    size_t vm_left = instant_count(vm_port, "special_value");
    ck_assert_msg(vm_left == 0, "victoria-metrics still shows %zu special_value series", vm_left);
    ck_assert_uint_eq(instant_count(vm_port, "node_load1"), 1);

    /* The target stops answering: the failed runs mark every series it had stale, and up is 0. */
    mock_server_stop(mock_pid);
    sleep(2);
    ck_assert_int_eq(testproc_get(vm_port, "/internal/force_flush", NULL), 200);
    ck_assert_uint_eq(instant_count(prom_port, "node_load1"), 0);
    ck_assert_uint_eq(instant_count(prom_port, "up%7Bjob%3D%22node%22%7D%3D%3D0"), 1);
    ck_assert_uint_eq(instant_count(vm_port, "node_load1"), 0);
    kill(p, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(p, 30), 0);
    stop(prom);
    stop(vm);
    testproc_rmtree(dir);
}
END_TEST

int
main(void)
{
    if (prom_binary() == NULL || testproc_vm_binary() == NULL) {
        fprintf(stderr, "SKIP: prometheus or victoria-metrics is not installed (apt-get install "
                        "prometheus victoria-metrics, or set PROMETHEUS / VICTORIA_METRICS)\n");
        return 77;
    }
    const char *fx = getenv("FIXTURES");
    snprintf(fixtures, sizeof(fixtures), "%s", fx != NULL ? fx : "tests/fixtures");
    Suite *s = suite_create("remote_write_sinks");
    TCase *tc = tcase_create("receivers");
    tcase_add_test(tc, test_outage_and_kill9_lose_nothing_in_prometheus_and_vm);
    tcase_add_test(tc, test_removed_target_goes_stale_in_prometheus_and_vm);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
