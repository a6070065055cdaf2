/*
 * End-to-end against a real VictoriaMetrics (Debian's victoria-metrics, started here on loopback
 * with a temporary data directory): the pollster binary scrapes mock targets serving real
 * node_exporter output and forwards with `format: vm` and a spool, while a file output records
 * what was collected. Mid-run VictoriaMetrics is stopped (an outage), pollster is killed with
 * SIGKILL during the outage and started again, then VictoriaMetrics comes back. Every sample in
 * the file must then be in VictoriaMetrics (/api/v1/export) with the same labels, timestamp and
 * value: zero missing.
 *
 * Without the victoria-metrics binary (VICTORIA_METRICS or /usr/bin/victoria-metrics) the test
 * is reported as SKIP (exit 77), never as a pass; .ci/run installs it.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "mock_server.h"
#include "testproc.h"
#include "testutil.h"

static char dir[64];
static char cfg_path[128];
static char out_path[128];
static unsigned vm_port, status_port, mock_port;
static pid_t mock_pid;

static pid_t
pollster_start(void)
{
    return testproc_pollster(dir, cfg_path);
}

/* VmHWM of @pid in KiB (0 if unreadable). */
static long
peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = 0;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

/* The value of self metric @name (its output="http[0]" series); NAN if unreadable. */
static double
self_metric(const char *name)
{
    return testproc_output_metric(status_port, name, "http");
}

static void
write_config(void)
{
    FILE *f = fopen(cfg_path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "global:\n"
            "  scrape_interval: 500ms\n"
            "  scrape_timeout: 400ms\n"
            "  external_labels: {test: vm}\n"
            "scrape_configs:\n"
            "  - job_name: node\n"
            "    metrics_path: /file/node_exporter.prom\n"
            "    static_configs: [{targets: ['127.0.0.1:%u'], labels: {env: ci}}]\n"
            "  - job_name: tiny\n"
            "    metrics_path: /simple\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "outputs:\n"
            /* The spool first: a batch in the file was in the spool before it (kill -9). */
            "  - type: http\n"
            "    url: http://127.0.0.1:%u/api/v1/import\n"
            "    format: vm\n"
            "    flush_interval: 200ms\n"
            "    retry_initial: 100ms\n"
            "    retry_max: 500ms\n"
            "    batch_max_bytes: 256KiB\n"
            "    spool_dir: %s/spool\n"
            "  - type: file\n"
            "    path: %s\n"
            "status:\n"
            "  listen: 127.0.0.1:%u\n",
            mock_port, mock_port, vm_port, dir, out_path, status_port);
    fclose(f);
}

/* "k=v," pairs of @labels sorted by name: a series key comparable between the two sides. */
static void
series_key(json_object *labels, char *buf, size_t cap)
{
    const char *names[128];
    size_t n = testutil_label_names(labels, names, 128), off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        json_object *lv = json_object_object_get(labels, names[i]);
        off +=
            (size_t)snprintf(buf + off, cap - off, "%s=%s,", names[i], json_object_get_string(lv));
    }
}

static double
json_value(json_object *v)
{
    if (json_object_is_type(v, json_type_string)) {
        return strtod(json_object_get_string(v), NULL); /* "NaN", "+Inf", "-Inf" */
    }
    return json_object_get_double(v);
}

/* Every sample of the file output as key "series@ts" -> value. */
static json_object *
expected_samples(size_t *count)
{
    FILE *f = fopen(out_path, "r");
    static char line[1 << 22];
    json_object *want = json_object_new_object();
    char key[8192];

    ck_assert_ptr_nonnull(f);
    *count = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        json_object *b = json_tokener_parse(line);
        ck_assert_msg(b != NULL, "unparseable line in %s: %.80s", out_path, line);
        int64_t ts = json_object_get_int64(testutil_field(b, "ts_ms"));
        json_object *samples = testutil_field(b, "samples");
        for (size_t i = 0; i < json_object_array_length(samples); i++) {
            json_object *s = json_object_array_get_idx(samples, i);
            json_object *labels = json_object_new_object();
            json_object_object_add(labels, "__name__",
                                   json_object_new_string(testutil_str(s, "name")));
            json_object_object_add(labels, "job", json_object_new_string(testutil_str(b, "job")));
            json_object_object_add(labels, "instance",
                                   json_object_new_string(testutil_str(b, "instance")));
            json_object_object_foreach(testutil_field(b, "labels"), tk, tv)
            {
                json_object_object_add(labels, tk, json_object_get(tv));
            }
            json_object_object_foreach(testutil_field(s, "labels"), sk, sv)
            {
                json_object_object_add(labels, sk, json_object_get(sv));
            }
            json_object *sts = NULL;
            int64_t t =
                json_object_object_get_ex(s, "ts_ms", &sts) ? json_object_get_int64(sts) : ts;
            series_key(labels, key, sizeof(key) - 32);
            size_t kl = strlen(key);
            snprintf(key + kl, sizeof(key) - kl, "@%lld", (long long)t);
            json_object_object_add(want, key,
                                   json_object_new_double(json_value(testutil_field(s, "value"))));
            json_object_put(labels);
            (*count)++;
        }
        json_object_put(b);
    }
    fclose(f);
    return want;
}

struct tally {
    size_t found, extra, dup, wrong;
    json_object *seen; /* keys found */
};

/* Exports everything from VictoriaMetrics and compares it with @want. */
static void
compare(json_object *want, struct tally *t, bool verbose)
{
    char *body = NULL;
    char key[8192];

    json_object_put(t->seen);
    memset(t, 0, sizeof(*t));
    t->seen = json_object_new_object();
    ck_assert_int_eq(
        testproc_get(vm_port, "/api/v1/export?match[]=%7B__name__%3D~%22.%2B%22%7D", &body), 200);
    for (char *line = strtok(body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_object *o = json_tokener_parse(line);
        ck_assert_msg(o != NULL, "unparseable export line: %.80s", line);
        series_key(testutil_field(o, "metric"), key, sizeof(key) - 32);
        size_t kl = strlen(key);
        json_object *vals = testutil_field(o, "values");
        json_object *tss = testutil_field(o, "timestamps");
        for (size_t i = 0; i < json_object_array_length(tss); i++) {
            snprintf(key + kl, sizeof(key) - kl, "@%lld",
                     (long long)json_object_get_int64(json_object_array_get_idx(tss, i)));
            json_object *w = json_object_object_get(want, key);
            if (w == NULL) {
                if (verbose && t->extra < 5) {
                    fprintf(stderr, "not in the file: %s\n", key);
                }
                t->extra++;
                continue;
            }
            if (json_object_object_get_ex(t->seen, key, NULL)) {
                t->dup++;
                continue;
            }
            json_object_object_add(t->seen, key, NULL);
            double got = json_value(json_object_array_get_idx(vals, i));
            double exp = json_object_get_double(w);
            bool same =
                got == exp || (isnan(got) && isnan(exp)) || fabs(got - exp) <= 1e-12 * fabs(exp);
            if (!same) {
                if (verbose && t->wrong < 5) {
                    fprintf(stderr, "value differs for %s: want %.17g got %.17g\n", key, exp, got);
                }
                t->wrong++;
            }
            t->found++;
        }
        json_object_put(o);
    }
    free(body);
    if (verbose) {
        int shown = 0;
        json_object_object_foreach(want, k, v)
        {
            (void)v;
            if (!json_object_object_get_ex(t->seen, k, NULL) && shown++ < 10) {
                fprintf(stderr, "missing: %s\n", k);
            }
        }
    }
}

START_TEST(test_outage_and_kill9_lose_nothing)
{
    if (testproc_vm_binary() == NULL) {
        return; /* main() reports SKIP */
    }
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    snprintf(dir, sizeof(dir), "/tmp/pollster-vm-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/pollster.yaml", dir);
    snprintf(out_path, sizeof(out_path), "%s/collected.jsonl", dir);
    vm_port = mock_closed_port();
    status_port = mock_closed_port();
    mock_pid = mock_server_spawn(&mock_port, 120);
    ck_assert_int_gt(mock_pid, 0);
    write_config();

    pid_t vm = testproc_vm_start(dir, vm_port);
    pid_t p = pollster_start();
    sleep(3);
    double delivered_before = self_metric("pollster_output_delivered_samples_total");
    ck_assert_msg(delivered_before > 0, "nothing delivered with VictoriaMetrics up");

    /* Outage: collection continues into the spool; memory holds no queue. */
    testproc_stop(vm);
    sleep(3);
    double spool = self_metric("pollster_output_spool_bytes");
    double queue = self_metric("pollster_output_queue_bytes");
    double pending = self_metric("pollster_output_pending_samples");
    ck_assert_msg(spool > 0 && pending > 0, "spool %.0f bytes, %.0f pending during the outage",
                  spool, pending);
    ck_assert_msg(queue <= 1 << 20, "memory queue %.0f bytes during the outage", queue);
    fprintf(stderr,
            "outage: spool %.0f bytes, %.0f samples pending, queue %.0f bytes, pollster peak RSS "
            "%.1f MiB\n",
            spool, pending, queue, (double)peak_rss_kb(p) / 1024.0);

    /* kill -9 during the outage, then a new start that is still cut off. */
    kill(p, SIGKILL);
    ck_assert_int_eq(testproc_wait_exit(p, 10), 128 + SIGKILL);
    p = pollster_start();
    sleep(2);
    double recovered = self_metric("pollster_output_recovered_samples_total");
    ck_assert_msg(recovered > 0, "nothing recovered from the spool after kill -9");

    /* The sink is back: everything drains. */
    vm = testproc_vm_start(dir, vm_port);
    double start = testproc_now_s();
    while (testproc_now_s() - start < 60 && self_metric("pollster_output_pending_samples") > 3000) {
        usleep(100000);
    }
    kill(p, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(p, 30), 0);
    /* What is left after SIGTERM waits in the spool: one more start delivers it. */
    p = pollster_start();
    start = testproc_now_s();
    while (testproc_now_s() - start < 60 &&
           !(self_metric("pollster_output_pending_samples") == 0)) {
        usleep(100000);
    }
    kill(p, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(p, 30), 0);
    ck_assert_int_eq(testproc_get(vm_port, "/internal/force_flush", NULL), 200);

    size_t nwant = 0;
    json_object *want = expected_samples(&nwant);
    struct tally t = {0};
    /* Newly created series become searchable a moment after force_flush: ask until stable. */
    for (int i = 0; i < 30; i++) {
        compare(want, &t, false);
        if (t.found == nwant) {
            break;
        }
        sleep(1);
    }
    compare(want, &t, true);
    fprintf(stderr,
            "VictoriaMetrics: %zu samples collected, %zu found, %zu missing, %zu wrong values, "
            "%zu duplicates, %zu not in the file (batches written to the spool just before "
            "kill -9)\n",
            nwant, t.found, nwant - t.found, t.wrong, t.dup, t.extra);
    json_object_put(t.seen);
    ck_assert_uint_gt(nwant, 5000);
    ck_assert_uint_eq(t.found, nwant);
    ck_assert_uint_eq(t.wrong, 0);
    json_object_put(want);
    testproc_stop(vm);
    mock_server_stop(mock_pid);
    testproc_rmtree(dir);
}
END_TEST

int
main(void)
{
    if (testproc_vm_binary() == NULL) {
        fprintf(stderr,
                "SKIP: victoria-metrics is not installed (apt-get install victoria-metrics, "
                "or set VICTORIA_METRICS)\n");
        return 77;
    }
    Suite *s = suite_create("vm");
    TCase *tc = tcase_create("victoria-metrics");
    tcase_add_test(tc, test_outage_and_kill9_lose_nothing);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
