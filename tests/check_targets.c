/*
 * Tests for the target pipeline (conf_targets_from_labels and relabel_configs in scrape_configs):
 * the label set Prometheus builds for a discovered target, relabeling, dropped targets kept
 * with their discovered labels, default ports, per-target schedules from __scrape_interval__ /
 * __scrape_timeout__, the errors a relabeled target can have (each at its target), file_sd's
 * __meta_filepath, and target_limit failing every run of the job as Prometheus does.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_targets.h"
#include "conf_targets.h"
#include "config.h"
#include "engine.h"
#include "job_prom.h"
#include "kinds.h"
#include "mock_server.h"
#include "sample.h"
#include "setup.h"
#include "strbuf.h"
#include "testutil.h"

static const char *
get(const struct label *l, size_t n, const char *name)
{
    return conf_targets_label_get(l, n, name);
}

START_TEST(test_relabel_builds_and_drops)
{
    struct config *c =
        testutil_load_ok("global: {scrape_interval: 30s, scrape_timeout: 5s}\n"
                         "scrape_configs:\n"
                         "  - job_name: n\n"
                         "    static_configs:\n"
                         "      - targets: ['a:1', 'b', 'drop-me:3']\n"
                         "        labels: {__meta_zone: eu, env: Prod}\n"
                         "    relabel_configs:\n"
                         "      - {source_labels: [__address__], regex: 'drop-.*', "
                         "action: drop}\n"
                         "      - {source_labels: [__meta_zone], target_label: zone}\n"
                         "      - {source_labels: [env], target_label: env, action: "
                         "lowercase}\n");
    const struct config_job *j = &c->jobs[0];

    ck_assert_uint_eq(j->ntargets, 2);
    ck_assert_str_eq(j->targets[0].url, "http://a:1/metrics");
    ck_assert_str_eq(j->targets[0].instance, "a:1");
    /* no port: the scheme's default one, in the URL and the instance (as Prometheus 2.42) */
    ck_assert_str_eq(j->targets[1].url, "http://b:80/metrics");
    ck_assert_str_eq(j->targets[1].instance, "b:80");
    ck_assert_str_eq(get(j->targets[0].labels, j->targets[0].nlabels, "zone"), "eu");
    ck_assert_str_eq(get(j->targets[0].labels, j->targets[0].nlabels, "env"), "prod");
    /* __meta_ and the job label (the job's own name) are not target labels */
    ck_assert_uint_eq(j->targets[0].nlabels, 2);
    ck_assert_int_eq(j->targets[0].interval_ms, 30000);
    ck_assert_int_eq(j->targets[0].timeout_ms, 5000);
    /* an active target keeps the labels it was discovered with (before lowercase) */
    const struct config_target *t0 = &j->targets[0];
    ck_assert_str_eq(get(t0->discovered, t0->ndiscovered, "__address__"), "a:1");
    ck_assert_str_eq(get(t0->discovered, t0->ndiscovered, "env"), "Prod");
    ck_assert_str_eq(get(t0->discovered, t0->ndiscovered, "__meta_zone"), "eu");
    ck_assert_str_eq(get(t0->discovered, t0->ndiscovered, "job"), "n");
    ck_assert_uint_eq(t0->ndiscovered, 8);

    /* --check-config's summary counts it */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_summary(f, c);
    fclose(f);
    ck_assert_msg(strstr(text, "job n (prometheus): interval 30s, timeout 5s, 2 targets (1 dropped "
                               "by relabel_configs)\n") != NULL,
                  "%s", text);
    free(text);

    /* the dropped one, with the labels it was discovered with */
    ck_assert_uint_eq(j->ndropped, 1);
    const struct config_dropped *d = &j->dropped[0];
    ck_assert_str_eq(get(d->labels, d->nlabels, "__address__"), "drop-me:3");
    ck_assert_str_eq(get(d->labels, d->nlabels, "__meta_zone"), "eu");
    ck_assert_str_eq(get(d->labels, d->nlabels, "env"), "Prod");
    ck_assert_str_eq(get(d->labels, d->nlabels, "job"), "n");
    ck_assert_str_eq(get(d->labels, d->nlabels, "__scheme__"), "http");
    ck_assert_str_eq(get(d->labels, d->nlabels, "__metrics_path__"), "/metrics");
    ck_assert_str_eq(get(d->labels, d->nlabels, "__scrape_interval__"), "30s");
    ck_assert_str_eq(get(d->labels, d->nlabels, "__scrape_timeout__"), "5s");
    ck_assert_uint_eq(d->nlabels, 8);
    for (size_t i = 1; i < d->nlabels; i++) {
        ck_assert_int_lt(strcmp(d->labels[i - 1].name, d->labels[i].name), 0);
    }
    config_free(c);
}
END_TEST

START_TEST(test_schedule_and_url_from_labels)
{
    struct config *c = testutil_load_ok("scrape_configs:\n"
                                        "  - job_name: n\n"
                                        "    scheme: https\n"
                                        "    params: {m: [a, b]}\n"
                                        "    static_configs: [{targets: ['h', '[::1]', 'x:9']}]\n"
                                        "    relabel_configs:\n"
                                        "      - {source_labels: [__address__], regex: 'x:9', "
                                        "target_label: __scrape_interval__, replacement: 2m}\n"
                                        "      - {source_labels: [__address__], regex: 'x:9', "
                                        "target_label: __scrape_timeout__, replacement: 1m30s}\n"
                                        "      - {source_labels: [__address__], regex: 'x:9', "
                                        "target_label: __param_m, replacement: 'c d'}\n"
                                        "      - {source_labels: [__address__], regex: 'x:9', "
                                        "target_label: __metrics_path__, replacement: 'p'}\n"
                                        "      - {source_labels: [__address__], regex: 'x:9', "
                                        "target_label: instance, replacement: 'named'}\n");
    const struct config_job *j = &c->jobs[0];

    ck_assert_uint_eq(j->ntargets, 3);
    ck_assert_str_eq(j->targets[0].url, "https://h:443/metrics?m=a&m=b");
    ck_assert_str_eq(j->targets[1].url, "https://[::1]:443/metrics?m=a&m=b");
    ck_assert_str_eq(j->targets[1].instance, "[::1]:443");
    /* a relative path gets its "/" as Go's url.URL writes it; the first value is replaced */
    ck_assert_str_eq(j->targets[2].url, "https://x:9/p?m=c+d&m=b");
    ck_assert_str_eq(j->targets[2].instance, "named");
    ck_assert_int_eq(j->targets[2].interval_ms, 120000);
    ck_assert_int_eq(j->targets[2].timeout_ms, 90000);
    ck_assert_int_eq(j->targets[0].interval_ms, 60000);
    config_free(c);
}
END_TEST

START_TEST(test_errors_after_relabeling)
{
    testutil_load_fails(
        "scrape_configs:\n"
        "  - job_name: n\n"
        "    static_configs: [{targets: ['a:1']}]\n"
        "    relabel_configs:\n"
        "      - {target_label: __scrape_timeout__, replacement: 2m}\n",
        "pollster.yaml:3:33: target \"a:1\" in scrape_configs[0].static_configs[0]: scrape "
        "timeout cannot be greater than scrape interval (2m > 1m)");
    testutil_load_fails(
        "scrape_configs:\n"
        "  - job_name: n\n"
        "    static_configs: [{targets: ['a:1']}]\n"
        "    relabel_configs:\n"
        "      - {target_label: __scrape_interval__, replacement: soon}\n",
        "pollster.yaml:3:33: target \"a:1\" in scrape_configs[0].static_configs[0]: error "
        "parsing scrape interval \"soon\" (__scrape_interval__)");
    testutil_load_fails(
        "scrape_configs:\n"
        "  - job_name: n\n"
        "    static_configs: [{targets: ['a:1']}]\n"
        "    relabel_configs:\n"
        "      - {target_label: __scheme__, replacement: ftp}\n",
        "pollster.yaml:3:33: target \"a:1\" in scrape_configs[0].static_configs[0]: invalid "
        "__scheme__ \"ftp\" (expected http or https)");
    /* A URL as a target is fine when a rule moves it out of __address__ ... */
    struct config *c =
        testutil_load_ok("scrape_configs:\n"
                         "  - job_name: bb\n"
                         "    static_configs: [{targets: ['https://x.org/a']}]\n"
                         "    relabel_configs:\n"
                         "      - {source_labels: [__address__], target_label: __param_t}\n"
                         "      - {target_label: __address__, replacement: 'bb:9115'}\n");
    ck_assert_str_eq(c->jobs[0].targets[0].url, "http://bb:9115/metrics?t=https%3A%2F%2Fx.org%2Fa");
    config_free(c);
    /* ... and an error when it stays there */
    testutil_load_fails(
        "scrape_configs:\n"
        "  - job_name: bb\n"
        "    static_configs: [{targets: ['https://x.org/a']}]\n",
        "pollster.yaml:3:33: target \"https://x.org/a\" in "
        "scrape_configs[0].static_configs[0]: invalid target address \"https://x.org/a\" "
        "(expected host:port)");
    /* an invalid rule is reported at its key, and no target is built from it */
    testutil_load_fails("scrape_configs:\n"
                        "  - job_name: n\n"
                        "    static_configs: [{targets: ['a:1']}]\n"
                        "    relabel_configs:\n"
                        "      - {action: hashmod, target_label: s}\n",
                        "pollster.yaml:5:10: relabel action hashmod requires a non-zero modulus in "
                        "scrape_configs[0].relabel_configs[0]");
}
END_TEST

START_TEST(test_empty_address_is_dropped)
{
    struct config *c = testutil_load_ok("scrape_configs:\n"
                                        "  - job_name: n\n"
                                        "    static_configs: [{targets: ['a:1', 'b:2']}]\n"
                                        "    relabel_configs:\n"
                                        "      - {source_labels: [__address__], regex: 'b:2', "
                                        "target_label: __address__, replacement: ''}\n");

    ck_assert_uint_eq(c->jobs[0].ntargets, 1);
    ck_assert_uint_eq(c->jobs[0].ndropped, 1);
    ck_assert_str_eq(
        get(c->jobs[0].dropped[0].labels, c->jobs[0].dropped[0].nlabels, "__address__"), "b:2");
    config_free(c);
}
END_TEST

/* keep_dropped_targets bounds the dropped targets kept (Prometheus' key, 0: all). */
START_TEST(test_keep_dropped_targets)
{
    static const char yaml[] =
        "scrape_configs:\n"
        "  - job_name: n\n"
        "    keep_dropped_targets: %d\n"
        "    static_configs: [{targets: ['a:1', 'b:1', 'c:1', 'd:1']}]\n"
        "    relabel_configs:\n"
        "      - {source_labels: [__address__], regex: 'a:1', action: keep}\n";
    char buf[512];

    for (int keep = 0; keep <= 2; keep++) {
        snprintf(buf, sizeof(buf), yaml, keep);
        struct config *c = testutil_load_ok(buf);
        ck_assert_uint_eq(c->jobs[0].ntargets, 1);
        ck_assert_uint_eq(c->jobs[0].ndropped, keep == 0 ? 3 : (size_t)keep);
        ck_assert_str_eq(
            get(c->jobs[0].dropped[0].labels, c->jobs[0].dropped[0].nlabels, "__address__"), "b:1");
        config_free(c);
    }
}
END_TEST

/* file_sd targets carry __meta_filepath, as Prometheus' file SD sets it. */
START_TEST(test_file_sd_meta_filepath)
{
    char dir[] = "/tmp/check_targets.XXXXXX", file[128], yaml[512];
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/t.yml", dir);
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("- targets: ['a:1']\n", f);
    fclose(f);
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n"
             "  - job_name: n\n"
             "    file_sd_configs: [{files: ['%s/*.yml']}]\n"
             "    relabel_configs:\n"
             "      - {source_labels: [__meta_filepath], target_label: from}\n",
             dir);
    struct config *c = testutil_load_ok(yaml);
    ck_assert_uint_eq(c->jobs[0].ntargets, 1);
    ck_assert_str_eq(get(c->jobs[0].targets[0].labels, c->jobs[0].targets[0].nlabels, "from"),
                     file);
    config_free(c);
    unlink(file);
    rmdir(dir);
}
END_TEST

/* Over target_limit, every run of the job fails before any request, with Prometheus' words. */
START_TEST(test_target_limit)
{
    struct config *c =
        testutil_load_ok("scrape_configs:\n"
                         "  - job_name: n\n"
                         "    target_limit: 1\n"
                         "    static_configs: [{targets: ['a:1', 'b:1', 'c:1']}]\n"
                         "    relabel_configs:\n"
                         "      - {source_labels: [__address__], regex: 'c.*', action: drop}\n"
                         "  - job_name: ok\n"
                         "    target_limit: 2\n"
                         "    static_configs: [{targets: ['a:1', 'b:1']}]\n");
    char err[256];
    struct batch b;

    for (size_t j = 0; j < 2; j++) {
        const struct config_job *job = &c->jobs[j];
        void *st = job->kind->state_new(job, err, sizeof(err));
        ck_assert_ptr_nonnull(st);
        batch_init(&b);
        b.ok = true;
        int rc = job->kind->ops->prepare(st, NULL, &b);
        if (j == 0) {
            ck_assert_int_eq(rc, -E2BIG);
            ck_assert(!b.ok);
            ck_assert_int_eq(b.reason, REASON_LIMIT);
            ck_assert_str_eq(b.error, "target_limit exceeded (number of targets: 2, limit: 1)");
        }
        else {
            ck_assert_int_eq(rc, 0);
            ck_assert(b.ok);
        }
        batch_release(&b);
        job->kind->ops->free(st);
    }
    config_free(c);
}
END_TEST

/* The function SD mechanisms call, without a load in progress. */
START_TEST(test_from_labels_direct)
{
    struct config *c =
        testutil_load_ok("scrape_configs:\n"
                         "  - job_name: n\n"
                         "    metrics_path: /m\n"
                         "    relabel_configs:\n"
                         "      - {source_labels: [__meta_keep], regex: 'no', action: drop}\n"
                         "      - {action: labelmap, regex: '__meta_sd_(.*)'}\n");
    struct config_job *job = &c->jobs[0];
    struct conf_targets_defaults d;
    const struct label found[] = {
        {"__address__", "10.1.2.3:9100"}, {"__meta_sd_rack", "r7"}, {"__meta_keep", "yes"}};
    const struct label gone[] = {{"__address__", "10.1.2.4:9100"}, {"__meta_keep", "no"}};
    char err[256];

    job_prom_target_defaults(job, job->interval_ms, job->timeout_ms, &d);
    ck_assert_int_eq(conf_targets_from_labels(job, &d, found, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(conf_targets_from_labels(job, &d, found, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(conf_targets_from_labels(job, &d, gone, 2, err, sizeof(err)), 1);
    ck_assert_uint_eq(job->ntargets, 1); /* the same target twice is one target */
    ck_assert_str_eq(job->targets[0].url, "http://10.1.2.3:9100/m");
    ck_assert_str_eq(get(job->targets[0].labels, job->targets[0].nlabels, "rack"), "r7");
    ck_assert_uint_eq(job->ndropped, 1);
    const struct label bad[] = {{"__address__", "a b:1"}};
    ck_assert_int_eq(conf_targets_from_labels(job, &d, bad, 1, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "invalid target address \"a b:1\" (expected host:port)");
    config_free(c);
}
END_TEST

/*
 * A target's own timeout (__scrape_timeout__) is its deadline and what it tells the exporter
 * (X-Prometheus-Scrape-Timeout-Seconds), as in Prometheus.
 */
START_TEST(test_target_timeout_reaches_the_request)
{
    struct loop *lp;
    struct mock_server *mock;
    struct engine *eng;
    int pipefd[2];
    char yaml[1024], err[256];

    testutil_once_setup(&lp, &mock, &eng, pipefd);
    snprintf(yaml, sizeof(yaml),
             "scrape_configs:\n"
             "  - job_name: n\n"
             "    scrape_timeout: 2s\n"
             "    metrics_path: /file/node_exporter.prom\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    relabel_configs:\n"
             "      - {target_label: __scrape_timeout__, replacement: 7s}\n",
             mock_server_port(mock));
    struct config *c = testutil_load_ok(yaml);
    ck_assert_int_eq(setup_targets(eng, c, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(engine_run_once(eng), 0);
    const char *h = mock_server_last_headers(mock);
    ck_assert_msg(strstr(h, "X-Prometheus-Scrape-Timeout-Seconds: 7\n") != NULL, "%s", h);
    struct engine_target_info info;
    ck_assert_int_eq(engine_target_info(eng, 0, &info), 0);
    ck_assert_int_eq(info.timeout_ms, 7000);
    struct strbuf sb;
    strbuf_init(&sb);
    api_targets_render(&sb, eng);
    ck_assert_msg(strstr(sb.data, "\"discoveredLabels\":{\"__address__\":\"127.0.0.1:") != NULL,
                  "%s", sb.data);
    ck_assert_msg(strstr(sb.data, "\"__scrape_timeout__\":\"2s\"") != NULL, "%s", sb.data);
    strbuf_release(&sb);
    json_object_put(testutil_read_lines(pipefd[0]));
    config_free(c);
    testutil_once_teardown(lp, mock, eng, pipefd);
}
END_TEST

static Suite *
targets_suite(void)
{
    Suite *s = suite_create("targets");
    TCase *tc = tcase_create("pipeline");

    tcase_add_test(tc, test_relabel_builds_and_drops);
    tcase_add_test(tc, test_schedule_and_url_from_labels);
    tcase_add_test(tc, test_errors_after_relabeling);
    tcase_add_test(tc, test_empty_address_is_dropped);
    tcase_add_test(tc, test_file_sd_meta_filepath);
    tcase_add_test(tc, test_keep_dropped_targets);
    tcase_add_test(tc, test_target_limit);
    tcase_add_test(tc, test_from_labels_direct);
    tcase_add_test(tc, test_target_timeout_reaches_the_request);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(targets_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
