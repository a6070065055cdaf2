/*
 * Tests for what the config loader tells a user beyond "error": keys only a Prometheus server
 * uses (accepted with one warning each), did-you-mean for every name looked up, hints for
 * durations, sizes and indentation, and ${VAR} expansion from the environment.
 */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "job_prom.h"

static struct config *
load(const char *yaml, struct config_errors *e)
{
    return config_load_string("pollster.yaml", yaml, strlen(yaml), e);
}

/* Loads @yaml, which must fail with exactly one error, @want. */
static void
fails_with(const char *name, const char *yaml, const char *want)
{
    struct config_errors e;
    struct config *c;

    config_errors_init(&e);
    c = load(yaml, &e);
    ck_assert_msg(c == NULL, "%s: loaded", name);
    ck_assert_msg(e.n == 1, "%s: %zu errors, first: %s", name, e.n, e.n > 0 ? e.v[0].text : "");
    ck_assert_msg(strcmp(e.v[0].text, want) == 0, "%s: error is\n  %s\nwant\n  %s", name,
                  e.v[0].text, want);
    config_errors_release(&e);
}

static const char *
label(const struct label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            return l[i].value;
        }
    }
    return NULL;
}

#define IGNORED "ignored: evaluated by a Prometheus server, not by an agent"

START_TEST(test_server_only_warnings)
{
    static const char yaml[] = "global:\n"
                               "  scrape_interval: 15s\n"
                               "  evaluation_interval: 15s\n"
                               "  rule_query_offset: 1m\n"
                               "  query_log_file: /tmp/q.log\n"
                               "runtime: {gogc: 50}\n"
                               "alerting:\n"
                               "  alertmanagers: [{static_configs: [{targets: ['am:9093']}]}]\n"
                               "rule_files: ['rules/*.yml']\n"
                               "remote_read: [{url: 'http://r/read'}]\n"
                               "storage: {tsdb: {out_of_order_time_window: 10m}}\n"
                               "tracing: {endpoint: 'otel:4317'}\n"
                               "otlp: {promote_resource_attributes: [service.name]}\n"
                               "scrape_configs:\n"
                               "  - job_name: node\n"
                               "    static_configs: [{targets: ['a:9100']}]\n";
    static const char *const want[] = {
        "pollster.yaml:3:3: warning: key \"evaluation_interval\" in global " IGNORED,
        "pollster.yaml:4:3: warning: key \"rule_query_offset\" in global " IGNORED,
        "pollster.yaml:5:3: warning: key \"query_log_file\" in global " IGNORED,
        "pollster.yaml:6:1: warning: key \"runtime\" at top level " IGNORED,
        "pollster.yaml:7:1: warning: key \"alerting\" at top level " IGNORED,
        "pollster.yaml:9:1: warning: key \"rule_files\" at top level " IGNORED,
        "pollster.yaml:10:1: warning: key \"remote_read\" at top level " IGNORED,
        "pollster.yaml:11:1: warning: key \"storage\" at top level " IGNORED,
        "pollster.yaml:12:1: warning: key \"tracing\" at top level " IGNORED,
        "pollster.yaml:13:1: warning: key \"otlp\" at top level " IGNORED,
    };
    struct config_errors e;
    struct config *c;
    char *buf = NULL;
    size_t len = 0;

    config_errors_init(&e);
    c = load(yaml, &e);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(e.n, 0);
    ck_assert_uint_eq(e.nwarn, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < e.nwarn; i++) {
        ck_assert_str_eq(e.warn[i].text, want[i]);
    }
    ck_assert_uint_eq(c->njobs, 1);
    ck_assert_int_eq(c->global.scrape_interval_ms, 15000);
    FILE *f = open_memstream(&buf, &len);
    config_errors_print_warnings(f, &e);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, want[0]));
    ck_assert_ptr_nonnull(strstr(buf, want[9]));
    free(buf);
    config_free(c);
    config_errors_release(&e);

    /* an empty server-only key ignores nothing: no warning */
    config_errors_init(&e);
    c = load("rule_files:\nalerting: ~\n", &e);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(e.nwarn, 0);
    config_free(c);
    config_errors_release(&e);

    /* warnings do not make an error, nor hide one */
    config_errors_init(&e);
    ck_assert_ptr_null(
        load("rule_files: [a.yml]\nremote_write: [{url: 'http://a/', sigv4: {}}]\n", &e));
    ck_assert_uint_eq(e.n, 1);
    ck_assert_uint_eq(e.nwarn, 1);
    ck_assert_str_eq(e.v[0].text, "pollster.yaml:2:35: unsupported key \"sigv4\" in "
                                  "remote_write[0] (not supported by pollster yet)");
    config_errors_release(&e);
}
END_TEST

/* Warnings are kept apart from errors, in the same FILE:LINE:COL shapes, and bounded. */
START_TEST(test_warnings_api)
{
    struct config_errors e;
    char *buf = NULL;
    size_t len = 0;

    config_errors_init(&e);
    config_errors_warn(&e, "f.yml", 3, 7, "key %s", "x");
    config_errors_warn(&e, "f.yml", 4, 0, "line only");
    config_errors_warn(&e, NULL, 0, 0, "whole file");
    config_errors_warn(NULL, "f.yml", 1, 1, "ignored");
    ck_assert_uint_eq(e.n, 0);
    ck_assert_uint_eq(e.nwarn, 3);
    ck_assert_str_eq(e.warn[0].text, "f.yml:3:7: warning: key x");
    ck_assert_str_eq(e.warn[1].text, "f.yml:4: warning: line only");
    ck_assert_str_eq(e.warn[2].text, "<config>: warning: whole file");
    for (int i = 0; i < CONFIG_ERRORS_MAX; i++) {
        config_errors_warn(&e, "f.yml", i + 1, 1, "w");
    }
    ck_assert_uint_eq(e.nwarn, CONFIG_ERRORS_MAX);
    ck_assert_uint_eq(e.warn_dropped, 3);
    FILE *f = open_memstream(&buf, &len);
    config_errors_print_warnings(f, &e);
    config_errors_print(f, &e); /* no errors: prints nothing */
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "f.yml:3:7: warning: key x\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\n3 more warnings not shown\n"));
    free(buf);
    config_errors_release(&e);
    ck_assert_uint_eq(e.nwarn, 0);
    ck_assert_ptr_null(e.warn);
}
END_TEST

/* Debian's own /etc/prometheus/prometheus.yml loads, with one warning per server-only key. */
START_TEST(test_debian_prometheus_yml)
{
    const char *dir = getenv("FIXTURES");
    char path[512];
    struct config_errors e;
    struct config *c;

    snprintf(path, sizeof(path), "%s/prometheus/debian-prometheus.yml",
             dir != NULL ? dir : "tests/fixtures");
    config_errors_init(&e);
    c = config_load(path, &e);
    ck_assert_msg(c != NULL, "%s: %s", path, e.n > 0 ? e.v[0].text : "");
    ck_assert_uint_eq(c->njobs, 2);
    ck_assert_uint_eq(e.nwarn, 2);
    ck_assert_ptr_nonnull(strstr(e.warn[0].text, "\"evaluation_interval\" in global " IGNORED));
    ck_assert_ptr_nonnull(strstr(e.warn[1].text, "\"alerting\" at top level " IGNORED));
    config_free(c);
    config_errors_release(&e);
}
END_TEST

/* Each name a user types, mistyped: the one error names the closest known name. */
static const struct {
    const char *name, *yaml, *error;
} typo_cases[] = {
    {"global key", "global:\n  scrape_intreval: 15s\n",
     "pollster.yaml:2:3: unknown key \"scrape_intreval\" in global (did you mean "
     "\"scrape_interval\"?)"},
    {"server-only key", "global:\n  evaluation_intervl: 15s\n",
     "pollster.yaml:2:3: unknown key \"evaluation_intervl\" in global (did you mean "
     "\"evaluation_interval\"?)"},
    {"top-level key", "outptus: []\n",
     "pollster.yaml:1:1: unknown key \"outptus\" at top level (did you mean \"outputs\"?)"},
    {"job kind section", "probs:\n  - name: p\n",
     "pollster.yaml:1:1: unknown key \"probs\" at top level (did you mean \"probes\"?)"},
    {"scrape key", "scrape_configs:\n  - job_name: a\n    metrics_pth: /m\n",
     "pollster.yaml:3:5: unknown key \"metrics_pth\" in scrape_configs[0] (did you mean "
     "\"metrics_path\"?)"},
    {"scrape section", "scrape_configs:\n  - job_name: a\n    static_config: []\n",
     "pollster.yaml:3:5: unknown key \"static_config\" in scrape_configs[0] (did you mean "
     "\"static_configs\"?)"},
    {"target group key",
     "scrape_configs:\n  - job_name: a\n    static_configs:\n"
     "      - targtes: ['a:1']\n",
     "pollster.yaml:4:9: unknown key \"targtes\" in scrape_configs[0].static_configs[0] (did you "
     "mean \"targets\"?)"},
    {"probe key", "probes:\n  - name: p\n    urls: ['http://a/']\n    intreval: 5s\n",
     "pollster.yaml:4:5: unknown key \"intreval\" in probes[0] (did you mean \"interval\"?)"},
    {"output key", "outputs:\n  - type: http\n    url: http://a/\n    batch_max_byte: 1MiB\n",
     "pollster.yaml:4:5: unknown key \"batch_max_byte\" in outputs[0] (did you mean "
     "\"batch_max_bytes\"?)"},
    {"status key", "status:\n  lisen: 127.0.0.1:1\n",
     "pollster.yaml:2:3: unknown key \"lisen\" in status (did you mean \"listen\"?)"},
    {"output type", "outputs:\n  - type: flie\n    path: /tmp/x\n",
     "pollster.yaml:2:11: invalid type \"flie\" (did you mean \"file\"? expected one of: stdout, "
     "file, http, remote_write, nats)"},
    {"format", "outputs:\n  - type: stdout\n    format: jsn\n",
     "pollster.yaml:3:13: invalid format \"jsn\" (did you mean \"json\"? expected one of: json, "
     "vm, otlp, telegraf, remote_write)"},
    {"enum choice", "scrape_configs:\n  - job_name: a\n    scheme: htps\n",
     "pollster.yaml:3:13: invalid scheme \"htps\" (did you mean \"https\"? expected one of: http, "
     "https)"},
    {"log level", "log:\n  level: wran\n",
     "pollster.yaml:2:10: invalid level \"wran\" (did you mean \"warn\"? expected one of: error, "
     "warn, info, debug)"},
    {"nothing close", "global:\n  frobnicate: 1\n",
     "pollster.yaml:2:3: unknown key \"frobnicate\" in global"},
    {"nothing close (enum)", "log:\n  level: loud\n",
     "pollster.yaml:2:10: invalid level \"loud\" (expected one of: error, warn, info, debug)"},
};

START_TEST(test_did_you_mean)
{
    fails_with(typo_cases[_i].name, typo_cases[_i].yaml, typo_cases[_i].error);
}
END_TEST

/* A key valid one level up or down, and values a strict parser refuses with a good guess. */
static const struct {
    const char *name, *yaml, *error;
} hint_cases[] = {
    {"labels one level too far left",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    static_configs:\n"
     "      - targets: ['a:9100']\n"
     "    labels:\n"
     "      env: prod\n",
     "pollster.yaml:5:5: unknown key \"labels\" in scrape_configs[0] (it belongs in "
     "static_configs: "
     "check the indentation)"},
    {"job key one level too far right",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    static_configs:\n"
     "      - targets: ['a:9100']\n"
     "        scrape_interval: 5s\n",
     "pollster.yaml:5:9: unknown key \"scrape_interval\" in scrape_configs[0].static_configs[0] "
     "(it "
     "belongs in scrape_configs[0]: check the indentation)"},
    {"global key at top level",
     "global:\n"
     "  scrape_interval: 5s\n"
     "scrape_timeout: 2s\n",
     "pollster.yaml:3:1: unknown key \"scrape_timeout\" at top level (it belongs in global: check "
     "the indentation)"},
    {"top-level key inside global",
     "global:\n"
     "  scrape_interval: 5s\n"
     "  status: {listen: '127.0.0.1:1'}\n",
     "pollster.yaml:3:3: unknown key \"status\" in global (it belongs at top level: check the "
     "indentation)"},
    {"job list inside global",
     "global:\n"
     "  scrape_interval: 5s\n"
     "  scrape_configs:\n"
     "    - job_name: a\n",
     "pollster.yaml:3:3: unknown key \"scrape_configs\" in global (it belongs at top level: check "
     "the indentation)"},
    {"duration without unit", "global:\n  scrape_interval: 15\n",
     "pollster.yaml:2:20: invalid duration \"15\" for scrape_interval (did you mean \"15s\"?)"},
    {"duration with a fraction", "global:\n  scrape_timeout: 1.5s\n",
     "pollster.yaml:2:19: invalid duration \"1.5s\" for scrape_timeout (Prometheus durations take "
     "no fractions: did you mean \"1500ms\"?)"},
    {"size with a fraction", "scrape_configs:\n  - job_name: a\n    body_size_limit: 1.5GB\n",
     "pollster.yaml:3:22: invalid size \"1.5GB\" for body_size_limit (sizes take no fractions: did "
     "you mean \"1536MiB\"?)"},
};

START_TEST(test_hints)
{
    fails_with(hint_cases[_i].name, hint_cases[_i].yaml, hint_cases[_i].error);
}
END_TEST

START_TEST(test_env_expansion)
{
    static const char yaml[] =
        "global:\n"
        "  scrape_interval: ${UX_INTERVAL}\n"
        "  external_labels: {region: '${UX_REGION}', price: 'costs $$5', raw: 'a$b'}\n"
        "scrape_configs:\n"
        "  - job_name: node\n"
        "    static_configs:\n"
        "      - targets: ['${UX_HOST}:9100']\n"
        "        labels: &l {dc: 'x-${UX_REGION}-${UX_EMPTY}y', lit: '$${UX_REGION}'}\n"
        "      - targets: ['b:9100']\n"
        "        labels: *l\n"
        "    basic_auth: {username: u, password: '${UX_SECRET}'}\n"
        "    metric_relabel_configs:\n"
        "      - {source_labels: [a], regex: '(.*)$', target_label: b, replacement: '${1}'}\n";
    struct config_errors e;
    struct config *c;
    const struct config_job *j;

    setenv("UX_INTERVAL", "20s", 1);
    setenv("UX_REGION", "eu1", 1);
    setenv("UX_HOST", "10.0.0.7", 1);
    setenv("UX_SECRET", "hunter2", 1);
    setenv("UX_EMPTY", "", 1);
    config_errors_init(&e);
    c = load(yaml, &e);
    ck_assert_msg(c != NULL, "%s", e.n > 0 ? e.v[0].text : "");
    ck_assert_int_eq(c->global.scrape_interval_ms, 20000);
    ck_assert_str_eq(label(c->global.external_labels, c->global.nexternal_labels, "region"), "eu1");
    ck_assert_str_eq(label(c->global.external_labels, c->global.nexternal_labels, "price"),
                     "costs $5");
    ck_assert_str_eq(label(c->global.external_labels, c->global.nexternal_labels, "raw"), "a$b");
    j = &c->jobs[0];
    ck_assert_uint_eq(j->ntargets, 2);
    ck_assert_str_eq(j->targets[0].url, "http://10.0.0.7:9100/metrics");
    ck_assert_str_eq(label(j->targets[0].labels, j->targets[0].nlabels, "dc"), "x-eu1-y");
    /* $$ is expanded once, also where an alias shares the node */
    ck_assert_str_eq(label(j->targets[0].labels, j->targets[0].nlabels, "lit"), "${UX_REGION}");
    ck_assert_str_eq(label(j->targets[1].labels, j->targets[1].nlabels, "lit"), "${UX_REGION}");
    ck_assert_str_eq(j->http.basic_auth.password, "hunter2");
    /* regex and replacement keep their $ */
    const struct job_prom_conf *pc = j->opts;
    ck_assert_uint_eq(pc->nrelabels, 1);
    ck_assert_str_eq(pc->relabels[0].regex, "(.*)$");
    ck_assert_str_eq(pc->relabels[0].replacement, "${1}");
    config_free(c);
    config_errors_release(&e);

    /* keys are not expanded */
    config_errors_init(&e);
    ck_assert_ptr_null(load("global:\n  external_labels: {'${UX_REGION}': x}\n", &e));
    ck_assert_str_eq(e.v[0].text,
                     "pollster.yaml:2:21: invalid label name \"${UX_REGION}\" in external_labels");
    config_errors_release(&e);

    /* --no-expand-env: taken as written */
    config_set_expand_env(false);
    config_errors_init(&e);
    c = load("global:\n  external_labels: {region: '${UX_NOT_SET}'}\n", &e);
    config_set_expand_env(true);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(label(c->global.external_labels, c->global.nexternal_labels, "region"),
                     "${UX_NOT_SET}");
    config_free(c);
    config_errors_release(&e);
}
END_TEST

static const struct {
    const char *name, *yaml, *error;
} env_errors[] = {
    {"unset variable",
     "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['${UX_NOT_SET}:1']}]\n",
     "pollster.yaml:3:33: environment variable \"UX_NOT_SET\" is not set (referenced as "
     "${UX_NOT_SET}; write $$ for a literal $, or run with --no-expand-env)"},
    {"name starting with a digit", "global:\n  external_labels: {a: 'x${1abc}'}\n",
     "pollster.yaml:2:24: invalid ${...} reference: expected ${NAME}, NAME made of letters, digits "
     "and _ (write $$ for a literal $)"},
    {"unclosed", "global:\n  external_labels: {a: '${UX_REGION'}\n",
     "pollster.yaml:2:24: invalid ${...} reference: expected ${NAME}, NAME made of letters, digits "
     "and _ (write $$ for a literal $)"},
    {"empty name", "status:\n  listen: '${}'\n",
     "pollster.yaml:2:11: invalid ${...} reference: expected ${NAME}, NAME made of letters, digits "
     "and _ (write $$ for a literal $)"},
};

START_TEST(test_env_errors)
{
    unsetenv("UX_NOT_SET");
    fails_with(env_errors[_i].name, env_errors[_i].yaml, env_errors[_i].error);
}
END_TEST

static char inc_dir[64];

static void
write_in(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", inc_dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void
remove_in(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", inc_dir, name);
    unlink(path);
}

/* Loads main.yml of the scratch directory. */
static struct config *
load_main(const char *text, struct config_errors *e)
{
    char path[256];

    write_in("main.yml", text);
    snprintf(path, sizeof(path), "%s/main.yml", inc_dir);
    return config_load(path, e);
}

/* scrape_config_files: jobs from other files, after the main file's, with their own paths. */
START_TEST(test_scrape_config_files)
{
    struct config_errors e;
    struct config *c;
    char want[512];

    snprintf(inc_dir, sizeof(inc_dir), "/tmp/check_config_ux.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(inc_dir));
    snprintf(want, sizeof(want), "%s/jobs", inc_dir);
    ck_assert_int_eq(mkdir(want, 0700), 0);
    write_in("jobs/b.yml", "scrape_configs:\n"
                           "  - job_name: b\n"
                           "    basic_auth: {username: u, password_file: pw}\n"
                           "    static_configs: [{targets: ['${UX_INC_HOST}:2']}]\n");
    write_in("jobs/a.yml", "scrape_configs:\n  - job_name: a\n");
    write_in("jobs/empty.yml", "");
    write_in("jobs/pw", "from-the-jobs-dir\n");
    setenv("UX_INC_HOST", "10.9.8.7", 1);
    config_errors_init(&e);
    c = load_main("scrape_config_files: ['jobs/*.yml', 'none/*.yml']\n"
                  "scrape_configs:\n"
                  "  - job_name: main\n",
                  &e);
    ck_assert_msg(c != NULL, "%s", e.n > 0 ? e.v[0].text : "");
    ck_assert_uint_eq(c->njobs, 3);
    ck_assert_str_eq(c->jobs[0].name, "main");
    ck_assert_str_eq(c->jobs[1].name, "a"); /* sorted file names */
    ck_assert_str_eq(c->jobs[2].name, "b");
    ck_assert_str_eq(c->jobs[2].targets[0].url, "http://10.9.8.7:2/metrics");
    ck_assert_str_eq(c->jobs[2].http.basic_auth.password, "from-the-jobs-dir");
    ck_assert_uint_eq(e.nwarn, 1);
    snprintf(
        want, sizeof(want),
        "%s/main.yml:1:37: warning: scrape_config_files pattern \"none/*.yml\" matches no file",
        inc_dir);
    ck_assert_str_eq(e.warn[0].text, want);
    config_free(c);
    config_errors_release(&e);

    /* errors in an included file carry its own positions; a job name is unique across files */
    write_in("jobs/c.yml", "scrape_configs:\n"
                           "  - job_name: main\n"
                           "    scrape_intreval: 5s\n"
                           "global: {}\n");
    config_errors_init(&e);
    ck_assert_ptr_null(load_main("scrape_config_files: [jobs/c.yml]\n"
                                 "scrape_configs:\n"
                                 "  - job_name: main\n",
                                 &e));
    ck_assert_uint_eq(e.n, 3);
    snprintf(want, sizeof(want),
             "%s/jobs/c.yml:2:15: duplicate job_name \"main\" (first defined at "
             "%s/main.yml:3)",
             inc_dir, inc_dir);
    ck_assert_str_eq(e.v[0].text, want);
    snprintf(want, sizeof(want),
             "%s/jobs/c.yml:3:5: unknown key \"scrape_intreval\" in "
             "scrape_configs[0] (did you mean \"scrape_interval\"?)",
             inc_dir);
    ck_assert_str_eq(e.v[1].text, want);
    snprintf(want, sizeof(want),
             "%s/jobs/c.yml:4:1: unknown key \"global\" in a scrape config "
             "file (it holds only scrape_configs)",
             inc_dir);
    ck_assert_str_eq(e.v[2].text, want);
    config_errors_release(&e);

    /* "*" only in the last path element, as Prometheus checks */
    config_errors_init(&e);
    ck_assert_ptr_null(load_main("scrape_config_files: ['*/jobs.yml']\n", &e));
    ck_assert_uint_eq(e.n, 1);
    snprintf(want, sizeof(want),
             "%s/main.yml:1:23: invalid scrape_config_files pattern "
             "\"*/jobs.yml\": \"*\" may only be in the last path element",
             inc_dir);
    ck_assert_str_eq(e.v[0].text, want);
    config_errors_release(&e);

    remove_in("jobs/a.yml");
    remove_in("jobs/b.yml");
    remove_in("jobs/c.yml");
    remove_in("jobs/empty.yml");
    remove_in("jobs/pw");
    remove_in("main.yml");
    snprintf(want, sizeof(want), "%s/jobs", inc_dir);
    rmdir(want);
    rmdir(inc_dir);
}
END_TEST

START_TEST(test_reference_lists_ignored_keys)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    config_reference(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "ignored (Prometheus server only): rule_files alerting"));
    ck_assert_ptr_nonnull(strstr(buf, "evaluation_interval"));
    free(buf);
}
END_TEST

static Suite *
config_ux_suite(void)
{
    Suite *s = suite_create("config_ux");
    TCase *tc = tcase_create("ux");

    tcase_add_test(tc, test_server_only_warnings);
    tcase_add_test(tc, test_warnings_api);
    tcase_add_test(tc, test_debian_prometheus_yml);
    tcase_add_loop_test(tc, test_did_you_mean, 0,
                        (int)(sizeof(typo_cases) / sizeof(typo_cases[0])));
    tcase_add_loop_test(tc, test_hints, 0, (int)(sizeof(hint_cases) / sizeof(hint_cases[0])));
    tcase_add_test(tc, test_env_expansion);
    tcase_add_loop_test(tc, test_env_errors, 0, (int)(sizeof(env_errors) / sizeof(env_errors[0])));
    tcase_add_test(tc, test_scrape_config_files);
    tcase_add_test(tc, test_reference_lists_ignored_keys);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_ux_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
