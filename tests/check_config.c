/*
 * Tests for config.c: every class of config error with its exact FILE:LINE:COL message (a table
 * of invalid inputs), defaults, target resolution (Prometheus' reserved labels, params, instance),
 * file_sd files (fixtures under $FIXTURES/config), secret files (written to a mkdtemp directory,
 * never into the source tree), a realistic prometheus.yml that loads unchanged, and a summary that
 * never shows a secret.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "job_json.h"
#include "job_probe.h"
#include "job_prom.h"
#include "kinds.h"
#include "out_file.h"
#include "out_http.h"
#include "out_stdout.h"
#include "outputs.h"
#include "setup.h"

/* The kinds' and output types' own settings of a loaded job or output. */
#define PROM(j) ((const struct job_prom_conf *)(j)->opts)
#define PROBE(j) ((const struct job_probe_conf *)(j)->opts)
#define JSONJ(j) ((const struct job_json_conf *)(j)->opts)
#define HTTPO(o) ((const struct out_http_conf *)(o)->opts)
#define FILEO(o) ((const struct out_file_conf *)(o)->opts)

/* Loads @yaml as "pollster.yaml". */
static struct config *
load(const char *yaml, struct config_errors *e)
{
    return config_load_string("pollster.yaml", yaml, strlen(yaml), e);
}

/* The errors as one string, one per line (malloc'ed). */
static char *
errors_text(const struct config_errors *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(f);
    config_errors_print(f, e);
    fclose(f);
    return buf;
}

/* Loads @yaml, which must be valid. */
static struct config *
load_ok(const char *yaml)
{
    struct config_errors e;
    struct config *c;

    config_errors_init(&e);
    c = load(yaml, &e);
    if (c == NULL || e.n != 0) {
        char *text = errors_text(&e);
        ck_abort_msg("unexpected errors:\n%s", text);
    }
    config_errors_release(&e);
    return c;
}

/* Loads @yaml, which must fail with exactly the @n errors in @want (in order). */
static void
load_fails(const char *name, const char *yaml, const char *const *want, size_t n)
{
    struct config_errors e;
    struct config *c;
    char *text;

    config_errors_init(&e);
    c = load(yaml, &e);
    text = errors_text(&e);
    ck_assert_msg(c == NULL, "%s: loaded", name);
    ck_assert_msg(e.n == n, "%s: %zu errors, want %zu:\n%s", name, e.n, n, text);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strcmp(e.v[i].text, want[i]) == 0, "%s: error %zu is\n  %s\nwant\n  %s", name,
                      i, e.v[i].text, want[i]);
    }
    free(text);
    config_errors_release(&e);
}

static const struct config_job *
job_named(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->njobs; i++) {
        if (strcmp(c->jobs[i].name, name) == 0) {
            return &c->jobs[i];
        }
    }
    ck_abort_msg("no job %s", name);
    return NULL;
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

static const char *
fixtures(void)
{
    const char *f = getenv("FIXTURES");
    return f != NULL ? f : "tests/fixtures";
}

/* A scratch directory for files a test needs (secrets, TLS files, configs). */
#define TMP_MAX_FILES 16
static char tmp_dir[64];
static char tmp_paths[TMP_MAX_FILES][128];
static size_t tmp_n;

static void
tmp_setup(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/check_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    tmp_n = 0;
}

static void
tmp_teardown(void)
{
    for (size_t i = 0; i < tmp_n; i++) {
        unlink(tmp_paths[i]);
    }
    rmdir(tmp_dir);
}

/* Writes @content to @name in the scratch directory; returns its path. */
static const char *
tmp_write(const char *name, const char *content)
{
    FILE *f;

    ck_assert_uint_lt(tmp_n, TMP_MAX_FILES);
    snprintf(tmp_paths[tmp_n], sizeof(tmp_paths[0]), "%s/%s", tmp_dir, name);
    f = fopen(tmp_paths[tmp_n], "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    return tmp_paths[tmp_n++];
}

/*
 * Invalid inputs and every error each must produce, exactly. Covers: unknown and unsupported keys,
 * timeouts, duplicate names, every scalar type, secrets files, URLs, regexes, shape mismatches,
 * YAML syntax, labels, required keys, targets, outputs, auth rules.
 */
static const struct invalid_case {
    const char *name;
    const char *yaml;
    const char *errors[6];
} invalid_cases[] = {
    {"unknown key (typo)",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    scrape_intervall: 10s\n",
     {"pollster.yaml:3:5: unknown key \"scrape_intervall\" in scrape_configs[0] (did you mean "
      "\"scrape_interval\"?)"}},
    {"unsupported known Prometheus key",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    track_timestamps_staleness: true\n",
     {"pollster.yaml:3:5: unsupported key \"track_timestamps_staleness\" in scrape_configs[0] (not "
      "supported by pollster yet)"}},
    {"unsupported service discovery",
     "scrape_configs:\n"
     "  - job_name: k8s\n"
     "    kubernetes_sd_configs:\n"
     "      - role: pod\n",
     {"pollster.yaml:3:5: job \"k8s\": kubernetes_sd_configs is not supported: pollster has no "
      "kubernetes client; use http_sd_configs or file_sd_configs (and a tool that writes the "
      "targets)"}},
    {"unsupported native_histogram_*",
     "scrape_configs:\n"
     "  - job_name: n\n"
     "    native_histogram_bucket_limit: 10\n",
     {"pollster.yaml:3:5: unsupported key \"native_histogram_bucket_limit\" in scrape_configs[0] "
      "(not supported by pollster yet)"}},
    {"unknown top-level key",
     "scrape_config:\n"
     "  - job_name: x\n",
     {"pollster.yaml:1:1: unknown key \"scrape_config\" at top level (did you mean "
      "\"scrape_configs\"?)"}},
    {"unsupported global key",
     "global:\n"
     "  evaluation_interval: 15s\n"
     "  scrape_failure_log_file: /tmp/f.log\n",
     {"pollster.yaml:3:3: unsupported key \"scrape_failure_log_file\" in global (not supported by "
      "pollster yet)"}},
    {"timeout above interval",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    scrape_interval: 10s\n"
     "    scrape_timeout: 15s\n",
     {"pollster.yaml:4:21: scrape_timeout (15s) must not exceed scrape_interval (10s) for job "
      "\"node\""}},
    {"global timeout above interval",
     "global:\n"
     "  scrape_interval: 5s\n"
     "  scrape_timeout: 6s\n",
     {"pollster.yaml:3:19: scrape_timeout (6s) must not exceed scrape_interval (5s) in global"}},
    {"probe timeout above interval",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    interval: 1s\n"
     "    timeout: 2s\n",
     {"pollster.yaml:5:14: timeout (2s) must not exceed interval (1s) for job \"p\""}},
    {"duplicate job_name",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "  - job_name: node\n",
     {"pollster.yaml:3:15: duplicate job_name \"node\" (first defined at line 2)"}},
    {"duplicate name across kinds",
     "scrape_configs:\n"
     "  - job_name: app\n"
     "probes:\n"
     "  - name: web\n"
     "    urls: ['http://a/']\n"
     "json_jobs:\n"
     "  - name: app\n"
     "    url: http://a/\n"
     "    metrics: [{name: m, path: a}]\n"
     "  - name: web\n"
     "    url: http://a/\n"
     "    metrics: [{name: m, path: a}]\n",
     {"pollster.yaml:7:11: duplicate name \"app\" (first defined at line 2)",
      "pollster.yaml:10:11: duplicate name \"web\" (first defined at line 4)"}},
    {"invalid duration",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    scrape_interval: 10x\n",
     {"pollster.yaml:3:22: invalid duration \"10x\" for scrape_interval"}},
    {"duration without unit",
     "global:\n"
     "  scrape_interval: 10\n",
     {"pollster.yaml:2:20: invalid duration \"10\" for scrape_interval (did you mean \"10s\"?)"}},
    {"zero interval",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    scrape_interval: 0s\n",
     {"pollster.yaml:3:22: scrape_interval must be greater than 0"}},
    {"invalid size",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    body_size_limit: 10QB\n",
     {"pollster.yaml:3:22: invalid size \"10QB\" for body_size_limit"}},
    {"float integer",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    sample_limit: 1.5\n",
     {"pollster.yaml:3:19: invalid integer \"1.5\" for sample_limit"}},
    {"garbage integer",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    sample_limit: lots\n",
     {"pollster.yaml:3:19: invalid integer \"lots\" for sample_limit"}},
    {"overflowing integer",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    sample_limit: 99999999999999999999\n",
     {"pollster.yaml:3:19: out of range integer \"99999999999999999999\" for sample_limit"}},
    {"negative integer",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    label_limit: -1\n",
     {"pollster.yaml:3:18: label_limit must be at least 0, got -1"}},
    {"line_size_limit over 1MiB",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    line_size_limit: 2MiB\n",
     {"pollster.yaml:3:22: line_size_limit must be between 1 byte and 1MiB (2097152 given)"}},
    {"invalid boolean",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    honor_labels: maybe\n",
     {"pollster.yaml:3:19: invalid boolean \"maybe\" for honor_labels (expected true or false)"}},
    {"invalid scheme",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    scheme: ftp\n",
     {"pollster.yaml:3:13: invalid scheme \"ftp\" (expected one of: http, https)"}},
    {"hashmod without target_label",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - action: hashmod\n"
     "        modulus: 4\n",
     {"pollster.yaml:4:9: relabel action hashmod requires target_label in "
      "scrape_configs[0].metric_relabel_configs[0]"}},
    {"unknown relabel action",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - action: explode\n",
     {"pollster.yaml:4:17: invalid action \"explode\" (expected one of: replace, keep, drop, "
      "labeldrop, labelkeep, keepequal, dropequal, hashmod, labelmap, lowercase, uppercase)"}},
    {"missing password_file",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    basic_auth: {username: u, password_file: /nonexistent/pw}\n",
     {"pollster.yaml:3:46: cannot read password_file \"/nonexistent/pw\": No such file or "
      "directory"}},
    {"missing credentials_file",
     "json_jobs:\n"
     "  - name: j\n"
     "    url: http://a/\n"
     "    metrics: [{name: m, path: a}]\n"
     "    authorization:\n"
     "      credentials_file: /nonexistent/token\n",
     {"pollster.yaml:6:25: cannot read credentials_file \"/nonexistent/token\": No such file or "
      "directory"}},
    {"missing ca_file",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['https://a/']\n"
     "    tls_config: {ca_file: /nonexistent/ca.pem}\n",
     {"pollster.yaml:4:27: cannot read ca_file \"/nonexistent/ca.pem\": No such file or "
      "directory"}},
    {"cert_file without key_file",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    tls_config:\n"
     "      insecure_skip_verify: true\n"
     "      cert_file: /dev/null\n",
     {"pollster.yaml:4:7: tls_config needs a client certificate (cert or cert_file) and its key "
      "(key or key_file), or neither"}},
    {"tls server_name (libcurl cannot send another SNI)",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    tls_config: {server_name: node.internal}\n",
     {"pollster.yaml:3:31: tls_config.server_name is not supported: libcurl sends the URL's "
      "host as TLS SNI and verifies the certificate against it, with no way to name another; "
      "put the certificate's name in the target address (and resolve it to the target) "
      "instead"}},
    {"probe URL not http",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['ftp://example.org/']\n",
     {"pollster.yaml:3:12: invalid URL \"ftp://example.org/\" in probes[0]: only http and https "
      "are allowed"}},
    {"probe URL malformed",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://exa mple.org/']\n",
     {"pollster.yaml:3:12: invalid URL \"http://exa mple.org/\" in probes[0]: Bad hostname"}},
    {"json URL with bad port",
     "json_jobs:\n"
     "  - name: j\n"
     "    url: 'http://127.0.0.1:99999/stats'\n"
     "    metrics: [{name: m, path: a}]\n",
     {"pollster.yaml:3:10: invalid URL \"http://127.0.0.1:99999/stats\" in json_jobs[0]: Port "
      "number was not a decimal number between 0 and 65535"}},
    {"output URL redacts userinfo",
     "outputs:\n"
     "  - type: http\n"
     "    url: 'http://user:hunter2@/import'\n",
     {"pollster.yaml:3:10: invalid URL \"http:///import\" in outputs[0]: No host part in "
      "the URL"}},
    {"output name used twice",
     "outputs:\n"
     "  - {type: stdout, name: main}\n"
     "  - {type: file, path: /tmp/x, name: main}\n",
     {"pollster.yaml:3:38: output name \"main\" is used twice: each output needs its own"}},
    {"output name with brackets, quotes or too long",
     "outputs:\n"
     "  - {type: stdout, name: 'http[0]'}\n"
     "  - {type: stdout, name: 'a\"b'}\n"
     "  - {type: stdout, name: "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\n",
     {"pollster.yaml:2:26: invalid output name \"http[0]\": at most 64 printable ASCII "
      "characters, without quotes, backslashes or brackets",
      "pollster.yaml:3:26: invalid output name \"a\"b\": at most 64 printable ASCII "
      "characters, without quotes, backslashes or brackets",
      "pollster.yaml:4:26: invalid output name "
      "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": at most 64 "
      "printable ASCII characters, without quotes, backslashes or brackets"}},
    {"invalid relabel regex",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - source_labels: [__name__]\n"
     "        regex: '('\n"
     "        action: drop\n",
     {"pollster.yaml:5:16: invalid regex \"(\" in scrape_configs[0].metric_relabel_configs[0]: "
      "Unmatched ( or \\("}},
    {"regex escape with no POSIX spelling",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [__name__], regex: 'go_\\pL+', action: keep}\n",
     {"pollster.yaml:4:44: invalid regex \"go_\\pL+\" in "
      "scrape_configs[0].metric_relabel_configs[0]: \\p is not supported in POSIX extended regular "
      "expressions (no Unicode classes)"}},
    {"RE2-only regex flags",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [__name__], regex: '(?i)go_.*', action: keep}\n",
     {"pollster.yaml:4:44: invalid regex \"(?i)go_.*\" in "
      "scrape_configs[0].metric_relabel_configs[0]: (?...) groups and flags are not supported in "
      "POSIX extended regular expressions"}},
    {"RE2-only lazy quantifier",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [__name__], regex: 'a.*?b', action: keep}\n",
     {"pollster.yaml:4:44: invalid regex \"a.*?b\" in scrape_configs[0].metric_relabel_configs[0]: "
      "lazy quantifier *? is not supported in POSIX extended regular expressions"}},
    {"unbalanced ) in regex",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [__name__], regex: 'a)|(b', action: keep}\n",
     {"pollster.yaml:4:44: invalid regex \"a)|(b\" in scrape_configs[0].metric_relabel_configs[0]: "
      "unmatched )"}},
    {"regex repetitions expand too far",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [__name__], regex: '(a{1000}){1000}', action: keep}\n",
     {"pollster.yaml:4:44: invalid regex \"(a{1000}){1000}\" in "
      "scrape_configs[0].metric_relabel_configs[0]: invalid repeat count \"{1000}\": nested "
      "repetitions count more than 1000"}},
    {"regex with too many optional items once expanded",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    fail_if_body_matches_regexp: ['((a?){100}){10}']\n",
     {"pollster.yaml:4:35: invalid regex \"((a?){100}){10}\" in fail_if_body_matches_regexp[0]: "
      "too "
      "complex once its repetitions are expanded (more than 1000 groups, alternatives and optional "
      "items)"}},
    {"invalid probe body regex",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    fail_if_body_matches_regexp: ['ok', '[a-']\n",
     {"pollster.yaml:4:41: invalid regex \"[a-\" in fail_if_body_matches_regexp[1]: Unmatched [, "
      "[^, [:, [., or [="}},
    {"replace without target_label",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - source_labels: [a]\n",
     {"pollster.yaml:4:9: relabel action replace requires target_label in "
      "scrape_configs[0].metric_relabel_configs[0]"}},
    {"labeldrop with other fields",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {regex: tmp_.*, action: labeldrop, source_labels: [a]}\n",
     {"pollster.yaml:4:44: relabel action labeldrop takes only regex, not source_labels in "
      "scrape_configs[0].metric_relabel_configs[0]"}},
    {"invalid source label",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metric_relabel_configs:\n"
     "      - {source_labels: [ok, 'not-ok'], action: drop}\n",
     {"pollster.yaml:4:30: invalid label name \"not-ok\" in source_labels"}},
    {"mapping expected, sequence given",
     "global:\n"
     "  - scrape_interval: 10s\n",
     {"pollster.yaml:2:3: expected a mapping for global, got a sequence"}},
    {"sequence expected, scalar given",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    static_configs:\n"
     "      - targets: 'a:1'\n",
     {"pollster.yaml:4:18: expected a sequence for targets, got a scalar"}},
    {"string expected, mapping given",
     "scrape_configs:\n"
     "  - job_name: {a: b}\n",
     {"pollster.yaml:2:15: expected a string for job_name, got a mapping"}},
    {"top level not a mapping",
     "- a\n"
     "- b\n",
     {"pollster.yaml:1:1: expected a mapping for the file, got a sequence"}},
    {"YAML syntax: bad indentation",
     "global:\n"
     "  scrape_interval: 10s\n"
     "   scrape_timeout: 5s\n",
     {"pollster.yaml:3:18: mapping values are not allowed in this context"}},
    {"YAML syntax: unclosed flow sequence",
     "scrape_configs: [{job_name: a}\n"
     "probes: []\n",
     {"pollster.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at line "
      "1, column 17)"}},
    {"YAML syntax: tab indentation",
     "global:\n"
     "\tscrape_interval: 10s\n",
     {"pollster.yaml:2:1: found character that cannot start any token (while scanning for the next "
      "token at line 2, column 1)"}},
    {"duplicate key",
     "global:\n"
     "  scrape_interval: 10s\n"
     "  scrape_interval: 20s\n",
     {"pollster.yaml:3:3: duplicate key \"scrape_interval\" (first at line 2, column 3)"}},
    {"undefined alias",
     "scrape_configs:\n"
     "  - job_name: a\n"
     "    params: *nothing\n",
     {"pollster.yaml:3:13: undefined alias \"nothing\""}},
    {"two documents",
     "global: {}\n"
     "---\n"
     "global: {}\n",
     {"pollster.yaml:2:1: only one YAML document is allowed"}},
    {"invalid label name",
     "global:\n"
     "  external_labels:\n"
     "    1region: eu\n",
     {"pollster.yaml:3:5: invalid label name \"1region\" in external_labels"}},
    {"reserved label name",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    labels: {__tenant: x}\n",
     {"pollster.yaml:4:14: label name \"__tenant\" in labels is reserved (names starting with __ "
      "are internal)"}},
    {"missing job_name",
     "scrape_configs:\n"
     "  - static_configs: [{targets: ['a:1']}]\n",
     {"pollster.yaml:2:5: missing required key \"job_name\" in scrape_configs[0]"}},
    {"missing probe urls and json metrics",
     "probes:\n"
     "  - name: p\n"
     "json_jobs:\n"
     "  - name: j\n"
     "    url: http://a/\n",
     {"pollster.yaml:2:5: missing required key \"urls\" in probes[0]",
      "pollster.yaml:4:5: missing required key \"metrics\" in json_jobs[0]"}},
    {"empty probe urls",
     "probes:\n"
     "  - name: p\n"
     "    urls: []\n",
     {"pollster.yaml:3:11: urls must not be empty in probes[0]"}},
    {"invalid metric name",
     "json_jobs:\n"
     "  - name: j\n"
     "    url: http://a/\n"
     "    metrics:\n"
     "      - {name: 'app-queue', path: queue.depth}\n"
     "      - {name: ok, path: ''}\n"
     "      - {name: ok2, path: x, type: histogram}\n",
     {"pollster.yaml:5:16: invalid metric name \"app-queue\" in json_jobs[0].metrics[0]",
      "pollster.yaml:6:26: path must not be empty",
      "pollster.yaml:7:36: invalid type \"histogram\" (expected one of: gauge, counter, untyped)"}},
    {"invalid json paths",
     "json_jobs:\n"
     "  - name: j\n"
     "    url: http://a/\n"
     "    metrics:\n"
     "      - {name: a, path: 'x..y'}\n"
     "      - {name: b, path: 'q.*.depth'}\n"
     "      - {name: c, path: 'q.*.d.*', label: 'queue,node'}\n",
     {"pollster.yaml:5:25: invalid path \"x..y\": empty key at offset 2 in "
      "json_jobs[0].metrics[0]",
      "pollster.yaml:6:25: path \"q.*.depth\" has 1 wildcard but label is not set in "
      "json_jobs[0].metrics[1]"}},
    {"invalid target address",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    static_configs:\n"
     "      - targets: ['http://a:1/metrics', '', 'ok:1']\n",
     {"pollster.yaml:4:19: target \"http://a:1/metrics\" in scrape_configs[0].static_configs[0]: "
      "invalid target address \"http://a:1/metrics\" (expected host:port)",
      "pollster.yaml:4:41: invalid target address \"\" in scrape_configs[0].static_configs[0] "
      "(expected host:port)"}},
    {"invalid __scheme__ label",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    static_configs:\n"
     "      - targets: ['a:1']\n"
     "        labels: {__scheme__: gopher}\n",
     {"pollster.yaml:4:19: target \"a:1\" in scrape_configs[0].static_configs[0]: invalid "
      "__scheme__ \"gopher\" (expected http or https)"}},
    {"metrics_path without slash",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    metrics_path: metrics\n",
     {"pollster.yaml:3:19: metrics_path \"metrics\" must start with /"}},
    {"invalid listen address",
     "status:\n"
     "  listen: '127.0.0.1'\n",
     {"pollster.yaml:2:11: invalid listen address \"127.0.0.1\": expected ADDR:PORT"}},
    {"invalid log level",
     "log:\n"
     "  level: verbose\n"
     "  target: journald\n",
     {"pollster.yaml:2:10: invalid level \"verbose\" (expected one of: error, warn, info, debug)",
      "pollster.yaml:3:11: invalid target \"journald\" (expected one of: stderr, syslog)"}},
    {"invalid status code",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    valid_status_codes: [200, 700, x]\n",
     {"pollster.yaml:4:31: 700 in valid_status_codes is out of range (100..599)",
      "pollster.yaml:4:36: invalid integer \"x\" in valid_status_codes"}},
    {"output key for another type",
     "outputs:\n"
     "  - type: stdout\n"
     "    url: http://a/\n"
     "  - type: file\n"
     "    path: /tmp/x.jsonl\n"
     "    compression: gzip\n",
     {"pollster.yaml:3:5: key \"url\" does not apply to output type stdout in outputs[0]",
      "pollster.yaml:6:5: key \"compression\" does not apply to output type file in outputs[1]"}},
    {"output requirements",
     "outputs:\n"
     "  - type: http\n"
     "  - type: file\n"
     "  - format: vm\n",
     {"pollster.yaml:2:5: missing required key \"url\" for output type http in outputs[0]",
      "pollster.yaml:3:5: missing required key \"path\" for output type file in outputs[1]",
      "pollster.yaml:4:5: missing required key \"type\" in outputs[2]"}},
    {"invalid output type and format",
     "outputs:\n"
     "  - type: kafka\n"
     "    format: protobuf\n",
     {"pollster.yaml:2:11: invalid type \"kafka\" (expected one of: stdout, file, http, "
      "remote_write, nats)",
      "pollster.yaml:3:13: invalid format \"protobuf\" (expected one of: json, vm, otlp, "
      "telegraf, remote_write)"}},
    {"empty outputs",
     "outputs: []\n",
     {"pollster.yaml:1:10: outputs must not be empty (leave it out for one stdout output)"}},
    {"output bounds",
     "outputs:\n"
     "  - type: http\n"
     "    url: http://a/\n"
     "    batch_max_bytes: 2MiB\n"
     "    queue_max_bytes: 1MiB\n"
     "    retry_initial: 10s\n"
     "    retry_max: 1s\n",
     {"pollster.yaml:5:22: queue_max_bytes must be at least batch_max_bytes in outputs[0]",
      "pollster.yaml:7:16: retry_max (1s) must not be less than retry_initial (10s) in "
      "outputs[0]"}},
    {"shared output file and spool",
     "outputs:\n"
     "  - {type: file, path: /tmp/m.jsonl}\n"
     "  - {type: file, path: /tmp/m.jsonl}\n"
     "  - {type: http, url: 'http://a/', spool_dir: /tmp/s}\n"
     "  - {type: http, url: 'http://b/', spool_dir: /tmp/s}\n",
     {"pollster.yaml:3:24: path \"/tmp/m.jsonl\" is already used by outputs[0]",
      "pollster.yaml:5:47: spool_dir \"/tmp/s\" is already used by outputs[2]"}},
    {"password and password_file",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    basic_auth: {username: u, password: p, password_file: /dev/null}\n",
     {"pollster.yaml:3:59: at most one of basic_auth password and password_file may be set"}},
    {"bearer_token with authorization",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    bearer_token: t\n"
     "    authorization: {credentials: c}\n",
     {"pollster.yaml:4:5: at most one of bearer_token and authorization may be set"}},
    {"basic_auth with authorization",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    basic_auth: {username: u, password: p}\n"
     "    authorization: {credentials: c}\n",
     {"pollster.yaml:4:5: at most one of basic_auth and authorization may be set"}},
    {"authorization type Basic",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    authorization: {type: Basic, credentials: c}\n",
     {"pollster.yaml:3:27: authorization type cannot be \"Basic\": use basic_auth"}},
    {"authorization without credentials",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    authorization: {type: Bearer}\n",
     {"pollster.yaml:3:20: authorization requires credentials or credentials_file"}},
    {"invalid header",
     "probes:\n"
     "  - name: p\n"
     "    urls: ['http://a/']\n"
     "    headers: {'Bad Header': x}\n",
     {"pollster.yaml:4:15: invalid header name \"Bad Header\" in headers"}},
    {"params not a list",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    params: {module: http_2xx}\n",
     {"pollster.yaml:3:22: expected a sequence for params.module, got a scalar"}},
    {"file_sd path without extension",
     "scrape_configs:\n"
     "  - job_name: node\n"
     "    file_sd_configs:\n"
     "      - files: ['/etc/targets/*']\n",
     {"pollster.yaml:4:17: invalid file_sd path \"/etc/targets/*\": must end in .json, .yml or "
      ".yaml, with \"*\" only in the last path element"}},
    {"merge key with a scalar",
     "scrape_configs:\n"
     "  - <<: 3\n"
     "    job_name: a\n",
     {"pollster.yaml:2:9: merge key \"<<\" expects a mapping or a sequence of mappings"}},
    {"complex mapping key",
     "global:\n"
     "  ? [a, b]\n"
     "  : c\n",
     {"pollster.yaml:2:5: mapping keys must be scalars, got a sequence"}},
    {"NUL in string",
     "scrape_configs:\n"
     "  - job_name: \"a\\0b\"\n",
     {"pollster.yaml:2:15: job_name must not contain a NUL character"}},
};

START_TEST(test_invalid_cases)
{
    const struct invalid_case *c = &invalid_cases[_i];
    size_t n = 0;

    while (n < sizeof(c->errors) / sizeof(c->errors[0]) && c->errors[n] != NULL) {
        n++;
    }
    load_fails(c->name, c->yaml, c->errors, n);
}
END_TEST

START_TEST(test_multiple_errors)
{
    static const char yaml[] = "global:\n"
                               "  scrape_interval: 10x\n"
                               "scrape_configs:\n"
                               "  - job_name: node\n"
                               "    scrape_intervall: 10s\n"
                               "    sample_limit: 1.5\n"
                               "  - job_name: node\n"
                               "    track_timestamps_staleness: true\n"
                               "probes:\n"
                               "  - name: p\n"
                               "    urls: ['ftp://x/']\n"
                               "status: {listen: nope}\n";
    static const char *const want[] = {
        "pollster.yaml:2:20: invalid duration \"10x\" for scrape_interval",
        "pollster.yaml:5:5: unknown key \"scrape_intervall\" in scrape_configs[0] (did you mean "
        "\"scrape_interval\"?)",
        "pollster.yaml:6:19: invalid integer \"1.5\" for sample_limit",
        "pollster.yaml:7:15: duplicate job_name \"node\" (first defined at line 4)",
        "pollster.yaml:8:5: unsupported key \"track_timestamps_staleness\" in "
        "scrape_configs[1] (not supported by pollster yet)",
        "pollster.yaml:11:12: invalid URL \"ftp://x/\" in probes[0]: only http and https are "
        "allowed",
        "pollster.yaml:12:18: invalid listen address \"nope\": expected ADDR:PORT",
    };
    load_fails("multiple", yaml, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(test_unsupported_vs_typo)
{
    struct config_errors e;

    config_errors_init(&e);
    ck_assert_ptr_null(load("scrape_configs:\n"
                            "  - job_name: a\n"
                            "    track_timestamps_staleness: true\n"
                            "    track_timestamps_stalenes: true\n",
                            &e));
    ck_assert_uint_eq(e.n, 2);
    ck_assert_str_eq(e.v[0].text,
                     "pollster.yaml:3:5: unsupported key \"track_timestamps_staleness\" in "
                     "scrape_configs[0] (not supported by pollster yet)");
    ck_assert_str_eq(e.v[1].text,
                     "pollster.yaml:4:5: unknown key \"track_timestamps_stalenes\" in "
                     "scrape_configs[0] (did you mean \"track_timestamps_staleness\"?)");
    ck_assert_int_eq(e.v[1].line, 4);
    ck_assert_int_eq(e.v[1].col, 5);
    ck_assert_str_eq(e.v[1].file, "pollster.yaml");
    config_errors_release(&e);
}
END_TEST

START_TEST(test_missing_config_file)
{
    struct config_errors e;

    config_errors_init(&e);
    ck_assert_ptr_null(config_load("/nonexistent/pollster.yaml", &e));
    ck_assert_uint_eq(e.n, 1);
    ck_assert_str_eq(e.v[0].text,
                     "/nonexistent/pollster.yaml: cannot read config file: No such file or "
                     "directory");
    config_errors_release(&e);
    /* errs may be NULL when the caller only wants success or failure */
    ck_assert_ptr_null(config_load("/nonexistent/pollster.yaml", NULL));
    ck_assert_ptr_null(load("global: [", NULL));
}
END_TEST

START_TEST(test_errors_api)
{
    struct config_errors e;
    char *text;

    config_errors_init(&e);
    config_errors_add(&e, "f.yaml", 3, 7, "bad %s", "thing");
    config_errors_add(&e, "f.yaml", 4, 0, "no column");
    config_errors_add(&e, "f.yaml", 0, 0, "whole file");
    text = errors_text(&e);
    ck_assert_str_eq(text, "f.yaml:3:7: bad thing\nf.yaml:4: no column\nf.yaml: whole file\n");
    free(text);
    for (int i = 0; i < CONFIG_ERRORS_MAX + 5; i++) {
        config_errors_add(&e, "f.yaml", i + 1, 1, "error %d", i);
    }
    ck_assert_uint_eq(e.n, CONFIG_ERRORS_MAX);
    ck_assert_uint_eq(e.dropped, 8);
    text = errors_text(&e);
    ck_assert_ptr_nonnull(strstr(text, "\n8 more errors not shown\n"));
    free(text);
    config_errors_release(&e);
    ck_assert_uint_eq(e.n, 0);
    config_errors_release(&e); /* released twice is fine */
}
END_TEST

START_TEST(test_alias_bomb)
{
    struct config_errors e;
    char yaml[2048];
    size_t off = 0;

    /* ten aliases per level: a6 (10^7 nodes once expanded) is the first over the limit */
    off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                                "*a%d]\n",
                                i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                                i - 1);
    }
    config_errors_init(&e);
    ck_assert_ptr_null(load(yaml, &e));
    ck_assert_uint_eq(e.n, 1);
    ck_assert_str_eq(e.v[0].text, "pollster.yaml:7:5: document too large (more than 10000000 "
                                  "nodes after alias expansion)");
    config_errors_release(&e);
}
END_TEST

/*
 * Writes a job whose relabel regex (in @section: metric_relabel_configs or relabel_configs) is
 * @prefix, then @n times @rep, then @suffix (malloc'ed).
 */
static char *
regex_yaml_in(const char *section, const char *prefix, const char *rep, size_t n,
              const char *suffix)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "scrape_configs:\n"
            "  - job_name: node\n"
            "    %s:\n"
            "      - source_labels: [__name__]\n"
            "        action: keep\n"
            "        regex: '%s",
            section, prefix);
    for (size_t i = 0; i < n; i++) {
        fputs(rep, f);
    }
    fprintf(f, "%s'\n", suffix);
    fclose(f);
    return buf;
}

static char *
regex_yaml(const char *prefix, const char *rep, size_t n, const char *suffix)
{
    return regex_yaml_in("metric_relabel_configs", prefix, rep, n, suffix);
}

/* Loads @yaml, which must fail with one error ending in @want. */
static void
regex_rejected(char *yaml, const char *want)
{
    struct config_errors e;
    size_t n, w = strlen(want);

    config_errors_init(&e);
    ck_assert_ptr_null(load(yaml, &e));
    ck_assert_uint_eq(e.n, 1);
    n = strlen(e.v[0].text);
    ck_assert_msg(n > w && strcmp(e.v[0].text + n - w, want) == 0,
                  "error %.200s... does not end in %s", e.v[0].text, want);
    config_errors_release(&e);
    free(yaml);
}

/*
 * Regexes glibc's regcomp() cannot compile in bounded memory: each was an out-of-memory abort
 * (the first one found by tests/fuzz/fuzz_config) or a stack overflow at load time. Realistic
 * large regexes still load.
 */
#define CLOSE10 ")+)+)+)+)+)+)+)+)+)+"
START_TEST(test_regex_limits)
{
    static const char complex[] = "too complex once its repetitions are expanded (more than 1000 "
                                  "groups, alternatives and optional items)";
    static const char slow[] = "too slow to compile: more than 10 loops (*, +, {n,}) around "
                               "groups that can match nothing, as in (x*)*, once its repetitions "
                               "are expanded";
    struct config *c;
    char *yaml;

    /* "a" then 30 "+": RE2 refuses stacked operators (regcomp: a billion copies of "a") */
    regex_rejected(regex_yaml("go_a", "+", 30, ""), "invalid nested repetition operator at \"++\"");
    /* 30 nested "(a+)+", valid RE2: a billion copies; in relabel_configs too, whose rules were
       compiled although the check had refused the regex (fuzz_config: out of memory) */
    regex_rejected(regex_yaml("", "(", 30, "a+" CLOSE10 CLOSE10 CLOSE10), complex);
    regex_rejected(regex_yaml_in("relabel_configs", "", "(", 30, "a+" CLOSE10 CLOSE10 CLOSE10),
                   complex);
    regex_rejected(regex_yaml_in("relabel_configs", "", "a{1000}", 101, ""),
                   "too large once its repetitions are expanded (more than 100000 elements)");
    regex_rejected(regex_yaml_in("relabel_configs", "", "(x*){1000}", 1, ""), complex);
    /* each loop around what can match nothing doubles regcomp's time: 30 take hours */
    regex_rejected(regex_yaml_in("relabel_configs", "((x*)*){30}", "", 0, ""), slow);
    regex_rejected(regex_yaml("", "(x|)*", 11, ""), slow);
    regex_rejected(regex_yaml("", "(^)+", 11, ""), slow);
    /* 100000 nested groups, 50000 "()": stack overflows; 50000 "a?": 19 GB */
    regex_rejected(regex_yaml("", "(", 100000, "a"), "groups nested more than 100 deep");
    regex_rejected(regex_yaml("(", "()", 50000, ")"), complex);
    regex_rejected(regex_yaml("", "a?", 50000, ""), complex);
    regex_rejected(regex_yaml("x", "|y", 5000, ""), complex);
    /* each within the limits, but ten take about 400 MB with submatches: the tenth is refused */
    regex_rejected(
        strdup("probes:\n"
               "  - name: p\n"
               "    urls: ['http://a/']\n"
               "    fail_if_body_matches_regexp: ['(a?){500}', '(a?){500}', '(a?){500}',\n"
               "      '(a?){500}', '(a?){500}', '(a?){500}', '(a?){500}', '(a?){500}',\n"
               "      '(a?){500}', '(a?){500}']\n"),
        "fail_if_body_matches_regexp[9]: too complex together with the regexes before "
        "it: compiling them all would take over about 500 MB");

    /* a keep list of 300 metric names (10 kB), a dotted quad, nested counts */
    yaml = regex_yaml("node_metric_0_seconds_total", "|node_metric_N_seconds_total", 299, "");
    c = load_ok(yaml);
    ck_assert_int_eq(
        regexec(PROM(&c->jobs[0])->relabels[0].re, "node_metric_N_seconds_total", 0, NULL, 0), 0);
    config_free(c);
    free(yaml);
    /* ten such loops, the limit, and loops around what cannot match nothing */
    yaml = regex_yaml("(a|b|)+c*(d*)*", "(x*)*", 8, "(x+)*(x+)*(x+)*");
    c = load_ok(yaml);
    config_free(c);
    free(yaml);
    yaml = regex_yaml("[0-9]{1,3}(\\.[0-9]{1,3}){3}|(a{100}){10}", "", 0, "");
    c = load_ok(yaml);
    ck_assert_int_eq(regexec(PROM(&c->jobs[0])->relabels[0].re, "10.0.0.1", 0, NULL, 0), 0);
    config_free(c);
    free(yaml);
}
END_TEST

START_TEST(test_empty_config)
{
    static const char *const inputs[] = {"", "---\n", "# only a comment\n", "{}\n"};

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct config *c = load_ok(inputs[i]);
        ck_assert_str_eq(c->path, "pollster.yaml");
        ck_assert_int_eq(c->global.scrape_interval_ms, 60000);
        ck_assert_int_eq(c->global.scrape_timeout_ms, 10000);
        ck_assert_int_eq(c->global.shutdown_timeout_ms, 5000);
        ck_assert_uint_eq(c->global.nexternal_labels, 0);
        ck_assert_uint_eq(c->njobs, 0);
        ck_assert_uint_eq(config_target_count(c), 0);
        ck_assert_uint_eq(c->noutputs, 1); /* the implied stdout output */
        ck_assert_ptr_eq(c->outputs[0].type, &out_stdout_type);
        ck_assert_str_eq(c->outputs[0].format, "json");
        ck_assert_str_eq(c->status.listen, CONFIG_DEFAULT_STATUS_LISTEN);
        ck_assert_int_eq(c->log.level, LOG_LVL_INFO);
        ck_assert_int_eq(c->log.target, LOG_TARGET_STDERR);
        config_free(c);
    }
    config_free(NULL);
}
END_TEST

/* global's target_limit and keep_dropped_targets are the defaults of every scrape job. */
START_TEST(test_global_target_limits)
{
    struct config *c = load_ok("global: {target_limit: 3, keep_dropped_targets: 5}\n"
                               "scrape_configs:\n"
                               "  - job_name: a\n"
                               "    static_configs: [{targets: ['h:1']}]\n"
                               "  - job_name: b\n"
                               "    target_limit: 9\n"
                               "    keep_dropped_targets: 0\n"
                               "    static_configs: [{targets: ['h:1']}]\n");
    const struct job_prom_conf *a = c->jobs[0].opts, *b = c->jobs[1].opts;

    ck_assert_int_eq(a->target_limit, 3);
    ck_assert_int_eq(a->keep_dropped_targets, 5);
    ck_assert_int_eq(b->target_limit, 9);
    ck_assert_int_eq(b->keep_dropped_targets, 0);
    config_free(c);
}
END_TEST

START_TEST(test_scrape_defaults)
{
    struct config *c = load_ok("scrape_configs:\n"
                               "  - job_name: node\n"
                               "    static_configs: [{targets: ['127.0.0.1:9100']}]\n");
    const struct config_job *j = &c->jobs[0];

    ck_assert_uint_eq(c->njobs, 1);
    ck_assert_ptr_eq(j->kind, &job_prom_kind);
    ck_assert_str_eq(j->name, "node");
    ck_assert_int_eq(j->line, 2);
    ck_assert_int_eq(j->interval_ms, 60000);
    ck_assert_int_eq(j->timeout_ms, 10000);
    ck_assert_uint_eq(j->body_size_limit, CONFIG_DEFAULT_BODY_SIZE_LIMIT);
    ck_assert_str_eq(PROM(j)->metrics_path, "/metrics");
    ck_assert_int_eq(PROM(j)->scheme, JOB_PROM_SCHEME_HTTP);
    ck_assert(!PROM(j)->honor_labels);
    ck_assert(PROM(j)->honor_timestamps);
    ck_assert_int_eq(PROM(j)->sample_limit, 0);
    ck_assert_int_eq(PROM(j)->label_limit, 0);
    ck_assert_uint_eq(PROM(j)->nrelabels, 0);
    ck_assert(j->http.follow_redirects);
    ck_assert_ptr_null(j->http.basic_auth.username);
    ck_assert_ptr_null(j->http.authorization.type);
    ck_assert_ptr_null(j->http.tls.ca_file);
    ck_assert_uint_eq(j->ntargets, 1);
    ck_assert_str_eq(j->targets[0].url, "http://127.0.0.1:9100/metrics");
    ck_assert_str_eq(j->targets[0].instance, "127.0.0.1:9100");
    ck_assert_uint_eq(j->targets[0].nlabels, 0);
    config_free(c);
}
END_TEST

/* Prometheus' timeout rules: a job's default timeout is the global one capped to its interval. */
START_TEST(test_timeout_capping)
{
    struct config *c = load_ok("global: {scrape_interval: 5s}\n"
                               "scrape_configs:\n"
                               "  - {job_name: a}\n"
                               "  - {job_name: b, scrape_interval: 2s}\n"
                               "  - {job_name: c, scrape_interval: 1m, scrape_timeout: 30s}\n"
                               "probes:\n"
                               "  - {name: p, urls: ['http://a/'], interval: 500ms}\n"
                               "json_jobs:\n"
                               "  - {name: j, url: 'http://a/', timeout: 1s,\n"
                               "     metrics: [{name: m, path: a}]}\n");

    /* the global default timeout (10s) is capped to the global interval */
    ck_assert_int_eq(c->global.scrape_interval_ms, 5000);
    ck_assert_int_eq(c->global.scrape_timeout_ms, 5000);
    ck_assert_int_eq(job_named(c, "a")->interval_ms, 5000);
    ck_assert_int_eq(job_named(c, "a")->timeout_ms, 5000);
    ck_assert_int_eq(job_named(c, "b")->interval_ms, 2000);
    ck_assert_int_eq(job_named(c, "b")->timeout_ms, 2000);
    ck_assert_int_eq(job_named(c, "c")->interval_ms, 60000);
    ck_assert_int_eq(job_named(c, "c")->timeout_ms, 30000);
    ck_assert_int_eq(job_named(c, "p")->interval_ms, 500);
    ck_assert_int_eq(job_named(c, "p")->timeout_ms, 500);
    ck_assert_int_eq(job_named(c, "j")->interval_ms, 5000);
    ck_assert_int_eq(job_named(c, "j")->timeout_ms, 1000);
    config_free(c);
}
END_TEST

/* An http output's spool settings, and the source text every config keeps for file_sd refresh. */
START_TEST(test_http_output_spool_settings)
{
    static const char yaml[] = "outputs:\n"
                               "  - type: http\n"
                               "    url: http://vm.example.org/api/v1/import\n"
                               "    format: vm\n"
                               "    spool_dir: /var/lib/pollster/spool\n"
                               "    fsync: batch\n"
                               "    compression: none\n";
    struct config *c = load_ok(yaml);
    const struct config_output *h = &c->outputs[0];

    ck_assert_int_eq(HTTPO(h)->fsync, SPOOL_FSYNC_BATCH);
    ck_assert_int_eq(HTTPO(h)->compression, OUT_HTTP_COMPRESSION_NONE);
    ck_assert_str_eq(HTTPO(h)->spool_dir, "/var/lib/pollster/spool");
    ck_assert_ptr_nonnull(c->source);
    ck_assert_uint_eq(c->source_len, strlen(yaml));
    ck_assert_str_eq(c->source, yaml);
    config_free(c);

    static const char *const want[] = {
        "pollster.yaml:4:18: invalid compression \"zstd\" (expected one of: auto, gzip, none)"};
    load_fails("compression zstd",
               "outputs:\n"
               "  - type: http\n"
               "    url: http://vm.example.org/api/v1/import\n"
               "    compression: zstd\n",
               want, 1);
}
END_TEST

/* Outputs are named TYPE[N] (N per type, outputs then remote_write) unless they say otherwise. */
START_TEST(test_output_names)
{
    struct config *c = load_ok("outputs:\n"
                               "  - type: stdout\n"
                               "  - {type: http, url: 'http://127.0.0.1:1/a'}\n"
                               "  - {type: http, url: 'http://127.0.0.1:1/b', name: 'vm main'}\n"
                               "  - {type: http, url: 'http://127.0.0.1:1/c'}\n"
                               "remote_write:\n"
                               "  - url: http://127.0.0.1:1/rw\n"
                               "  - url: http://127.0.0.1:1/rw2\n"
                               "    name: mimir\n");
    static const char *const want[] = {"stdout[0]", "http[0]",         "vm main",
                                       "http[2]",   "remote_write[0]", "mimir"};
    static const bool named[] = {false, false, true, false, false, true};

    ck_assert_uint_eq(c->noutputs, 6);
    for (size_t i = 0; i < c->noutputs; i++) {
        ck_assert_str_eq(c->outputs[i].name, want[i]);
        ck_assert_int_eq(c->outputs[i].named, named[i]);
    }
    config_free(c);
    c = load_ok("scrape_configs: []\n");
    ck_assert_uint_eq(c->noutputs, 1);
    ck_assert_str_eq(c->outputs[0].name, "stdout[0]");
    config_free(c);
}
END_TEST

/* A reload's output plan: kept, added, removed, replaced by name, and what changed. */
START_TEST(test_output_rename_is_a_change)
{
    struct config *a = load_ok("outputs: [{type: stdout}, {type: stdout, name: b}]\n");
    struct config *b = load_ok("outputs: [{type: stdout}, {type: stdout, name: c}]\n");
    struct config *c = load_ok("outputs: [{type: stdout}, {type: file, path: /tmp/x, name: b}]\n");
    struct config *d = load_ok("outputs: [{type: stdout}, {type: stdout, name: b}]\n");
    struct config *e = load_ok("outputs: [{type: http, url: 'http://127.0.0.1:1/a', name: h,"
                               " spool_dir: /tmp/s}]\n");
    struct config *f = load_ok("outputs: [{type: http, url: 'http://127.0.0.1:2/b', name: h,"
                               " spool_dir: /tmp/s}, {type: stdout}]\n");
    struct setup_output_plan plan[4];
    struct strbuf sb;

    strbuf_init(&sb);
    ck_assert(setup_outputs_changed(a, b));
    setup_outputs_plan(a, b, plan);
    ck_assert_int_eq(plan[0].change, SETUP_OUTPUT_KEEP);
    ck_assert_int_eq(plan[1].change, SETUP_OUTPUT_ADD);
    setup_outputs_describe(a, b, plan, &sb);
    ck_assert_str_eq(sb.data, "kept stdout[0], added c, removed b");
    ck_assert(setup_outputs_changed(a, c));
    setup_outputs_plan(a, c, plan);
    ck_assert_int_eq(plan[1].change, SETUP_OUTPUT_REPLACE);
    ck_assert_ptr_null(plan[1].after);
    strbuf_reset(&sb);
    setup_outputs_describe(a, c, plan, &sb);
    ck_assert_str_eq(sb.data, "kept stdout[0], replaced b (type stdout -> file)");
    ck_assert(!setup_outputs_changed(a, d));
    /* the same spool directory: the old instance closes before the new one opens it */
    setup_outputs_plan(e, f, plan);
    ck_assert_int_eq(plan[0].change, SETUP_OUTPUT_REPLACE);
    ck_assert_ptr_eq(plan[0].after, &e->outputs[0]);
    ck_assert_int_eq(plan[1].change, SETUP_OUTPUT_ADD);
    strbuf_reset(&sb);
    setup_outputs_describe(e, f, plan, &sb);
    ck_assert_str_eq(sb.data,
                     "replaced h (http://127.0.0.1:1/a -> http://127.0.0.1:2/b), added stdout[0]");
    /* any setting is a change; one the summary does not show reads "settings" */
    struct config *g = load_ok("outputs: [{type: http, url: 'http://127.0.0.1:1/a', name: h,"
                               " spool_dir: /tmp/s, flush_interval: 5s}]\n");
    ck_assert(setup_outputs_changed(e, g));
    setup_outputs_plan(e, g, plan);
    strbuf_reset(&sb);
    setup_outputs_describe(e, g, plan, &sb);
    ck_assert_str_eq(sb.data, "replaced h (settings)");
    /* remote_write: its rules, queue and client settings count too */
    struct config *r1 = load_ok("remote_write: [{url: 'http://127.0.0.1:1/w'}]\n");
    struct config *r2 =
        load_ok("remote_write: [{url: 'http://127.0.0.1:1/w', write_relabel_configs:"
                " [{source_labels: [__name__], regex: 'go_.*', action: drop}]}]\n");
    struct config *r3 = load_ok("remote_write: [{url: 'http://127.0.0.1:1/w',"
                                " queue_config: {max_shards: 2}}]\n");
    struct config *r4 = load_ok("remote_write: [{url: 'http://127.0.0.1:1/w',"
                                " headers: {X-Scope-OrgID: a}}]\n");
    struct config *r5 = load_ok("remote_write: [{url: 'http://127.0.0.1:1/w'}]\n");
    ck_assert(setup_outputs_changed(r1, r2));
    ck_assert(setup_outputs_changed(r1, r3));
    ck_assert(setup_outputs_changed(r1, r4));
    ck_assert(!setup_outputs_changed(r1, r5));
    struct config *s0 = load_ok("outputs: [{type: stdout}]\n");
    struct config *s1 = load_ok("outputs: [{type: stdout, queue_max_bytes: 1MiB}]\n");
    ck_assert(setup_outputs_changed(s0, s1) && !setup_outputs_changed(s1, s1));
    config_free(s0);
    config_free(s1);
    config_free(r1);
    config_free(r2);
    config_free(r3);
    config_free(r4);
    config_free(r5);
    strbuf_release(&sb);
    config_free(a);
    config_free(b);
    config_free(c);
    config_free(d);
    config_free(e);
    config_free(f);
    config_free(g);
}
END_TEST

START_TEST(test_output_defaults)
{
    struct config *c = load_ok("outputs:\n"
                               "  - type: http\n"
                               "    url: http://127.0.0.1:8428/api/v1/import\n"
                               "  - type: file\n"
                               "    path: /var/log/pollster/metrics.jsonl\n"
                               "    format: telegraf\n"
                               "    fsync: interval\n"
                               "  - type: stdout\n"
                               "    format: otlp\n");
    const struct config_output *h = &c->outputs[0], *f = &c->outputs[1], *s = &c->outputs[2];

    ck_assert_uint_eq(c->noutputs, 3);
    ck_assert_ptr_eq(h->type, &out_http_type);
    ck_assert_str_eq(h->format, "json");
    ck_assert_str_eq(HTTPO(h)->url, "http://127.0.0.1:8428/api/v1/import");
    ck_assert_int_eq(HTTPO(h)->timeout_ms, 10000);
    ck_assert_uint_eq(HTTPO(h)->batch_max_bytes, 1u << 20);
    ck_assert_int_eq(HTTPO(h)->flush_interval_ms, 1000);
    ck_assert_uint_eq(HTTPO(h)->queue_max_bytes, 64u << 20);
    ck_assert_ptr_null(HTTPO(h)->spool_dir);
    ck_assert_uint_eq(HTTPO(h)->spool_max_bytes, 1u << 30);
    ck_assert_int_eq(HTTPO(h)->retry_initial_ms, 1000);
    ck_assert_int_eq(HTTPO(h)->retry_max_ms, 60000);
    ck_assert_int_eq(HTTPO(h)->compression, OUT_HTTP_COMPRESSION_AUTO);
    ck_assert_ptr_eq(f->type, &out_file_type);
    ck_assert_str_eq(f->format, "telegraf");
    ck_assert_str_eq(FILEO(f)->path, "/var/log/pollster/metrics.jsonl");
    ck_assert_int_eq(FILEO(f)->fsync, OUT_FILE_FSYNC_BATCH);
    ck_assert_ptr_eq(s->type, &out_stdout_type);
    ck_assert_str_eq(s->format, "otlp");
    config_free(c);
}
END_TEST

START_TEST(test_probe_and_json)
{
    struct config *c = load_ok("probes:\n"
                               "  - name: web\n"
                               "    urls: ['https://example.org/', 'http://example.org:8080/x']\n"
                               "    valid_status_codes: [200, 301]\n"
                               "    fail_if_body_matches_regexp: ['[Ee]rror']\n"
                               "    method: HEAD\n"
                               "    headers: {X-Probe: 'yes'}\n"
                               "    labels: {team: web}\n"
                               "json_jobs:\n"
                               "  - name: app\n"
                               "    url: http://127.0.0.1:8080/stats\n"
                               "    labels: {app: queue}\n"
                               "    metrics:\n"
                               "      - {name: app_queue_depth, path: queue.depth}\n"
                               "      - name: app_requests_total\n"
                               "        path: 'requests.*'\n"
                               "        type: counter\n"
                               "        label: handler\n"
                               "        labels: {unit: req}\n"
                               "        required: true\n");
    const struct config_job *p = job_named(c, "web"), *j = job_named(c, "app");

    ck_assert_ptr_eq(p->kind, &job_probe_kind);
    ck_assert_uint_eq(p->ntargets, 2);
    ck_assert_str_eq(p->targets[0].url, "https://example.org/");
    ck_assert_str_eq(p->targets[0].instance, "https://example.org/");
    ck_assert_str_eq(label(p->targets[1].labels, p->targets[1].nlabels, "team"), "web");
    ck_assert_uint_eq(PROBE(p)->nvalid_status_codes, 2);
    ck_assert_int_eq(PROBE(p)->valid_status_codes[1], 301);
    ck_assert_uint_eq(PROBE(p)->nfail_if_body_matches, 1);
    ck_assert_str_eq(PROBE(p)->fail_if_body_matches[0], "[Ee]rror");
    ck_assert_uint_eq(PROBE(p)->nfail_if_body_not_matches, 0);
    ck_assert_int_eq(PROBE(p)->method, JOB_PROBE_METHOD_HEAD);
    ck_assert_uint_eq(p->http.nheaders, 1);
    ck_assert_str_eq(p->http.headers[0].name, "X-Probe");
    ck_assert_str_eq(p->http.headers[0].value, "yes");

    ck_assert_ptr_eq(j->kind, &job_json_kind);
    ck_assert_uint_eq(j->ntargets, 1);
    ck_assert_str_eq(j->targets[0].url, "http://127.0.0.1:8080/stats");
    ck_assert_str_eq(j->targets[0].instance, "127.0.0.1:8080");
    ck_assert_str_eq(label(j->targets[0].labels, j->targets[0].nlabels, "app"), "queue");
    ck_assert_uint_eq(JSONJ(j)->nmetrics, 2);
    ck_assert_str_eq(JSONJ(j)->metrics[0].name, "app_queue_depth");
    ck_assert_str_eq(JSONJ(j)->metrics[0].path, "queue.depth");
    ck_assert_int_eq(JSONJ(j)->metrics[0].type, SAMPLE_GAUGE);
    ck_assert(!JSONJ(j)->metrics[0].required);
    ck_assert_ptr_null(JSONJ(j)->metrics[0].label);
    ck_assert_int_eq(JSONJ(j)->metrics[1].type, SAMPLE_COUNTER);
    ck_assert_str_eq(JSONJ(j)->metrics[1].label, "handler");
    ck_assert_str_eq(JSONJ(j)->metrics[1].labels[0].value, "req");
    ck_assert(JSONJ(j)->metrics[1].required);
    config_free(c);
}
END_TEST

/* Prometheus' reserved labels of a target group override the job's scheme, path and params. */
START_TEST(test_reserved_labels)
{
    struct config *c = load_ok("scrape_configs:\n"
                               "  - job_name: bb\n"
                               "    metrics_path: /probe\n"
                               "    params:\n"
                               "      module: [http_2xx, extra]\n"
                               "      debug: ['true']\n"
                               "    static_configs:\n"
                               "      - targets: ['blackbox:9115']\n"
                               "        labels:\n"
                               "          __param_target: 'https://example.org/a b?x=1&y=2'\n"
                               "          __param_module: tcp_connect\n"
                               "          __scheme__: https\n"
                               "          __metrics_path__: '/other path'\n"
                               "          __address__: ignored:1\n"
                               "          __meta_whatever: x\n"
                               "          env: prod\n"
                               "          team: ''\n"
                               "      - targets: ['b:1', 'a:1']\n");
    const struct config_job *j = &c->jobs[0];
    const struct config_target *t = &j->targets[0];

    ck_assert_uint_eq(j->ntargets, 3);
    /* The job's params win over a group's __param_<name> (Prometheus 2.42 sets them last). */
    ck_assert_str_eq(t->url, "https://blackbox:9115/other%20path?debug=true&module=http_2xx&"
                             "module=extra&target=https%3A%2F%2Fexample.org%2Fa+b%3Fx%3D1%26y%3D2");
    ck_assert_str_eq(t->instance, "blackbox:9115");
    /* no "__" label and no empty label remains */
    ck_assert_uint_eq(t->nlabels, 1);
    ck_assert_str_eq(t->labels[0].name, "env");
    ck_assert_str_eq(t->labels[0].value, "prod");
    /* the next group has the job's own values; targets stay in document order */
    ck_assert_str_eq(j->targets[1].url, "http://b:1/probe?debug=true&module=http_2xx&module=extra");
    ck_assert_str_eq(j->targets[2].instance, "a:1");
    config_free(c);
}
END_TEST

START_TEST(test_instance_label_and_dedup)
{
    struct config *c = load_ok("scrape_configs:\n"
                               "  - job_name: node\n"
                               "    scheme: https\n"
                               "    static_configs:\n"
                               "      - targets: ['10.0.0.1:9100', '[::1]:9100', '10.0.0.1:9100']\n"
                               "        labels: {zone: b, instance: db-1, az: a}\n"
                               "      - targets: ['10.0.0.1:9100']\n"
                               "        labels: {zone: b, instance: db-1, az: a}\n");
    const struct config_job *j = &c->jobs[0];

    /* identical targets are kept once, as Prometheus does */
    ck_assert_uint_eq(j->ntargets, 2);
    ck_assert_str_eq(j->targets[0].url, "https://10.0.0.1:9100/metrics");
    ck_assert_str_eq(j->targets[0].instance, "db-1");
    ck_assert_str_eq(j->targets[1].url, "https://[::1]:9100/metrics");
    ck_assert_uint_eq(j->targets[0].nlabels, 2); /* sorted, instance taken out */
    ck_assert_str_eq(j->targets[0].labels[0].name, "az");
    ck_assert_str_eq(j->targets[0].labels[1].name, "zone");
    ck_assert_uint_eq(config_target_count(c), 2);
    config_free(c);
}
END_TEST

START_TEST(test_yaml_features)
{
    /* anchors, aliases and merge keys as found in prometheus.yml files; YAML 1.1 booleans */
    struct config *c = load_ok("scrape_configs:\n"
                               "  - &base\n"
                               "    job_name: one\n"
                               "    scrape_interval: 30s\n"
                               "    honor_labels: yes\n"
                               "    static_configs: &targets [{targets: ['a:1']}]\n"
                               "  - <<: *base\n"
                               "    job_name: two\n"
                               "    honor_labels: off\n"
                               "  - job_name: three\n"
                               "    static_configs: *targets\n"
                               "    follow_redirects: False\n");
    const struct config_job *two = job_named(c, "two"), *three = job_named(c, "three");

    ck_assert(PROM(job_named(c, "one"))->honor_labels);
    ck_assert_int_eq(two->interval_ms, 30000);
    ck_assert(!PROM(two)->honor_labels);
    ck_assert_uint_eq(two->ntargets, 1);
    ck_assert_str_eq(three->targets[0].url, "http://a:1/metrics");
    ck_assert(!three->http.follow_redirects);
    config_free(c);

    /* JSON is YAML too */
    c = load_ok(
        "{\"global\": {\"scrape_interval\": \"20s\"},\n"
        " \"scrape_configs\": [{\"job_name\": \"j\",\n"
        "   \"static_configs\": [{\"targets\": [\"h:1\"], \"labels\": {\"a\": \"b\"}}]}]}\n");
    ck_assert_int_eq(c->jobs[0].interval_ms, 20000);
    ck_assert_str_eq(c->jobs[0].targets[0].labels[0].value, "b");
    config_free(c);
}
END_TEST

/* Regexes are anchored as Prometheus anchors them, and the user's groups move up by one. */
START_TEST(test_relabel_regex)
{
    struct config *c = load_ok("scrape_configs:\n"
                               "  - job_name: n\n"
                               "    metric_relabel_configs:\n"
                               "      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n"
                               "      - {source_labels: [a, b], separator: '-', regex: '(.+)-x',\n"
                               "         target_label: c, replacement: 'v$1'}\n"
                               "      - {regex: 'tmp|id', action: LabelDrop}\n"
                               "      - {source_labels: [__name__], action: keep}\n");
    const struct job_prom_conf *s = PROM(&c->jobs[0]);
    regmatch_t m[4];

    ck_assert_uint_eq(s->nrelabels, 4);
    ck_assert_int_eq(s->relabels[0].action, CONFIG_RELABEL_DROP);
    ck_assert_int_eq(regexec(s->relabels[0].re, "go_gc_duration_seconds", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(s->relabels[0].re, "xgo_gc", 0, NULL, 0), 0);
    ck_assert_int_eq(s->relabels[1].action, CONFIG_RELABEL_REPLACE);
    ck_assert_str_eq(s->relabels[1].separator, "-");
    ck_assert_str_eq(s->relabels[1].target_label, "c");
    ck_assert_str_eq(s->relabels[1].replacement, "v$1");
    ck_assert_uint_eq(s->relabels[1].nsource_labels, 2);
    ck_assert_int_eq(regexec(s->relabels[1].re, "abc-x", 4, m, 0), 0);
    ck_assert_int_eq(m[2].rm_so, 0); /* the user's group 1 is group 2 */
    ck_assert_int_eq(m[2].rm_eo, 3);
    ck_assert_int_eq(s->relabels[2].action, CONFIG_RELABEL_LABELDROP);
    ck_assert_int_eq(regexec(s->relabels[2].re, "id", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(s->relabels[2].re, "idx", 0, NULL, 0), 0);
    /* the defaults */
    ck_assert_str_eq(s->relabels[3].regex, "(.*)");
    ck_assert_str_eq(s->relabels[3].separator, ";");
    ck_assert_str_eq(s->relabels[3].replacement, "$1");
    ck_assert_ptr_null(s->relabels[3].target_label);
    ck_assert_int_eq(regexec(s->relabels[3].re, "", 0, NULL, 0), 0);
    config_free(c);
}
END_TEST

START_TEST(test_file_sd)
{
    char path[512], want[600];
    struct config *c;
    const struct config_job *j;

    snprintf(path, sizeof(path), "%s/config/filesd.yaml", fixtures());
    c = config_load(path, NULL);
    ck_assert_msg(c != NULL, "%s did not load", path);
    j = &c->jobs[0];
    ck_assert_str_eq(c->path, path);
    ck_assert_int_eq(j->file_sd_refresh_ms, 60000);
    ck_assert_uint_eq(j->ntargets, 4);
    ck_assert_str_eq(j->targets[0].url, "http://10.0.0.1:9100/metrics?format=prometheus");
    ck_assert_str_eq(label(j->targets[0].labels, j->targets[0].nlabels, "team"), "infra");
    ck_assert_str_eq(j->targets[2].url, "http://10.0.0.3:9100/probe?format=prometheus&"
                                        "target=http%3A%2F%2Fx%2F%3Fa%3Db");
    ck_assert_uint_eq(j->targets[2].nlabels, 0);
    /* sd_b.yaml is JSON */
    ck_assert_str_eq(j->targets[3].url, "http://10.0.1.1:9100/metrics?format=prometheus");
    ck_assert_str_eq(j->targets[3].instance, "db-1");
    ck_assert_str_eq(label(j->targets[3].labels, j->targets[3].nlabels, "env"), "dev");
    config_free(c);

    /* errors in a target file carry that file's own positions */
    struct config_errors e;
    config_errors_init(&e);
    snprintf(path, sizeof(path), "%s/config/filesd_bad.yaml", fixtures());
    ck_assert_ptr_null(config_load(path, &e));
    ck_assert_uint_eq(e.n, 3);
    snprintf(want, sizeof(want),
             "%s/config/badsd_groups.yaml:2:3: unknown key \"lables\" in target_groups[0] (did you "
             "mean \"labels\"?)",
             fixtures());
    ck_assert_str_eq(e.v[0].text, want);
    snprintf(want, sizeof(want),
             "%s/config/badsd_groups.yaml:3:13: target \"bad/addr\" in target_groups[1]: invalid "
             "target address \"bad/addr\" (expected host:port)",
             fixtures());
    ck_assert_str_eq(e.v[1].text, want);
    snprintf(want, sizeof(want),
             "%s/config/badsd_groups.yaml:5:12: invalid label name \"1x\" in labels", fixtures());
    ck_assert_str_eq(e.v[2].text, want);
    config_errors_release(&e);
}
END_TEST

START_TEST(test_example_config)
{
    char path[512];
    struct config *c;

    snprintf(path, sizeof(path), "%s/config/pollster.yaml", fixtures());
    c = config_load(path, NULL);
    ck_assert_msg(c != NULL, "%s did not load", path);
    ck_assert_uint_eq(c->njobs, 3);
    ck_assert_uint_eq(c->noutputs, 2);
    ck_assert_int_eq(c->global.shutdown_timeout_ms, 3000);
    ck_assert_str_eq(c->global.external_labels[0].name, "region");
    ck_assert_uint_eq(job_named(c, "node")->body_size_limit, 10u << 20);
    ck_assert_str_eq(c->outputs[0].format, "vm");
    ck_assert_str_eq(HTTPO(&c->outputs[0])->spool_dir, "/var/lib/pollster/spool");
    config_free(c);
}
END_TEST

START_TEST(test_file_sd_json_and_missing)
{
    struct config_errors e;
    struct config *c;
    char want[512];

    tmp_write("targets.json",
              "[{\"targets\": [\"h1:9100\", \"h2:9100\"],\n"
              "  \"labels\": {\"rack\": \"r1\"}},\n"
              " {\"targets\": [\"h3:9100\"], \"labels\": {\"bad label\": \"x\"}}]\n");
    tmp_write("conf.yaml", "scrape_configs:\n"
                           "  - job_name: sd\n"
                           "    file_sd_configs: [{files: ['*.json']}]\n");
    config_errors_init(&e);
    c = config_load(tmp_paths[1], &e);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(e.n, 1);
    snprintf(want, sizeof(want), "%s/targets.json:3:38: invalid label name \"bad label\" in labels",
             tmp_dir);
    ck_assert_str_eq(e.v[0].text, want);
    config_errors_release(&e);

    tmp_write("targets.json", "[{\"targets\": [\"h1:9100\", \"h2:9100\"],\n"
                              "  \"labels\": {\"rack\": \"r1\"}}]\n");
    c = config_load(tmp_paths[1], NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->jobs[0].ntargets, 2);
    ck_assert_str_eq(c->jobs[0].targets[1].labels[0].value, "r1");
    config_free(c);
}
END_TEST

START_TEST(test_secret_files)
{
    struct config *c;

    tmp_write("pw", "  s3cret-pw \n");
    tmp_write("token", "t0ken\n");
    tmp_write("legacy", "l3gacy\n");
    tmp_write("conf.yaml", "scrape_configs:\n"
                           "  - job_name: a\n"
                           "    basic_auth: {username: admin, password_file: pw}\n"
                           "  - job_name: b\n"
                           "    authorization: {type: Token, credentials_file: token}\n"
                           "  - job_name: c\n"
                           "    bearer_token_file: legacy\n"
                           "  - job_name: d\n"
                           "    bearer_token: inline\n"
                           "  - job_name: e\n"
                           "    basic_auth: {password: only}\n");
    c = config_load(tmp_paths[3], NULL);
    ck_assert_ptr_nonnull(c);
    /* relative paths are resolved against the config file's directory; content is trimmed */
    ck_assert_str_eq(job_named(c, "a")->http.basic_auth.username, "admin");
    ck_assert_str_eq(job_named(c, "a")->http.basic_auth.password, "s3cret-pw");
    ck_assert_str_eq(job_named(c, "a")->http.basic_auth.password_file, tmp_paths[0]);
    ck_assert_str_eq(job_named(c, "b")->http.authorization.type, "Token");
    ck_assert_str_eq(job_named(c, "b")->http.authorization.credentials, "t0ken");
    ck_assert_str_eq(job_named(c, "c")->http.authorization.type, "Bearer");
    ck_assert_str_eq(job_named(c, "c")->http.authorization.credentials, "l3gacy");
    ck_assert_str_eq(job_named(c, "d")->http.authorization.type, "Bearer");
    ck_assert_str_eq(job_named(c, "d")->http.authorization.credentials, "inline");
    ck_assert_str_eq(job_named(c, "e")->http.basic_auth.username, "");
    ck_assert_str_eq(job_named(c, "e")->http.basic_auth.password, "only");
    config_free(c);
}
END_TEST

/* A scrape_configs section as found in a real prometheus.yml, with secret and TLS files. */
static const char prometheus_yml[] =
    "# my global config\n"
    "global:\n"
    "  scrape_interval: 15s # Set the scrape interval to every 15 seconds. Default is every 1 "
    "minute.\n"
    "  scrape_timeout: 10s\n"
    "  external_labels:\n"
    "    monitor: 'codelab-monitor'\n"
    "\n"
    "scrape_configs:\n"
    "  # The job name is added as a label `job=<job_name>` to any timeseries scraped from this "
    "config.\n"
    "  - job_name: \"prometheus\"\n"
    "    static_configs:\n"
    "      - targets: [\"localhost:9090\"]\n"
    "\n"
    "  - job_name: 'node'\n"
    "    scrape_interval: 30s\n"
    "    scrape_timeout: 20s\n"
    "    scheme: https\n"
    "    basic_auth:\n"
    "      username: prometheus\n"
    "      password_file: pw\n"
    "    tls_config:\n"
    "      ca_file: ca.pem\n"
    "      cert_file: cert.pem\n"
    "      key_file: key.pem\n"
    "      min_version: TLS12\n"
    "      insecure_skip_verify: false\n"
    "    static_configs:\n"
    "      - targets:\n"
    "          - 'node1.example.com:9100'\n"
    "          - 'node2.example.com:9100'\n"
    "        labels:\n"
    "          env: production\n"
    "          dc: eu-west-1\n"
    "    metric_relabel_configs:\n"
    "      - source_labels: [__name__]\n"
    "        regex: 'go_(gc|memstats)_.*'\n"
    "        action: drop\n"
    "      - source_labels: [__name__, mode]\n"
    "        separator: '_'\n"
    "        regex: 'node_cpu_seconds_total_(idle|iowait)'\n"
    "        action: keep\n"
    "      - regex: 'id|path'\n"
    "        action: labeldrop\n"
    "      - source_labels: [device]\n"
    "        regex: '(.*)p[0-9]+'\n"
    "        target_label: disk\n"
    "        replacement: '${1}'\n"
    "\n"
    "  - job_name: 'blackbox'\n"
    "    metrics_path: /probe\n"
    "    params:\n"
    "      module: [http_2xx]\n"
    "    honor_labels: true\n"
    "    honor_timestamps: false\n"
    "    sample_limit: 5000\n"
    "    label_limit: 30\n"
    "    body_size_limit: 5MB\n"
    "    follow_redirects: false\n"
    "    authorization:\n"
    "      credentials_file: token\n"
    "    static_configs:\n"
    "      - targets:\n"
    "        - 'blackbox.internal:9115'\n"
    "        labels:\n"
    "          __param_target: 'https://example.com/health?full=1'\n";

START_TEST(test_prometheus_yml)
{
    struct config_errors e;
    struct config *c;
    const struct config_job *j;

    tmp_write("pw", "n0de-pw\n");
    tmp_write("token", "bl4ckbox-token\n");
    tmp_write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    tmp_write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    tmp_write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    const char *path = tmp_write("prometheus.yml", prometheus_yml);
    config_errors_init(&e);
    c = config_load(path, &e);
    if (c == NULL) {
        ck_abort_msg("prometheus.yml did not load:\n%s", errors_text(&e));
    }
    config_errors_release(&e);

    ck_assert_uint_eq(c->njobs, 3);
    ck_assert_str_eq(c->global.external_labels[0].value, "codelab-monitor");

    j = job_named(c, "prometheus");
    ck_assert_int_eq(j->interval_ms, 15000);
    ck_assert_int_eq(j->timeout_ms, 10000);
    ck_assert_str_eq(j->targets[0].url, "http://localhost:9090/metrics");

    j = job_named(c, "node");
    ck_assert_int_eq(j->interval_ms, 30000);
    ck_assert_int_eq(j->timeout_ms, 20000);
    ck_assert_uint_eq(j->ntargets, 2);
    ck_assert_str_eq(j->targets[1].url, "https://node2.example.com:9100/metrics");
    ck_assert_str_eq(j->targets[1].instance, "node2.example.com:9100");
    ck_assert_uint_eq(j->targets[1].nlabels, 2);
    ck_assert_str_eq(j->targets[1].labels[0].name, "dc");
    ck_assert_str_eq(j->http.basic_auth.username, "prometheus");
    ck_assert_str_eq(j->http.basic_auth.password, "n0de-pw");
    ck_assert_str_eq(j->http.tls.ca_file, tmp_paths[2]);
    ck_assert_str_eq(j->http.tls.cert_file, tmp_paths[3]);
    ck_assert_str_eq(j->http.tls.key_file, tmp_paths[4]);
    ck_assert_int_eq(j->http.tls.min_version, CONFIG_TLS12);
    ck_assert(!j->http.tls.insecure_skip_verify);
    ck_assert_uint_eq(PROM(j)->nrelabels, 4);
    ck_assert_int_eq(PROM(j)->relabels[0].action, CONFIG_RELABEL_DROP);
    ck_assert_int_eq(regexec(PROM(j)->relabels[0].re, "go_memstats_alloc_bytes", 0, NULL, 0), 0);
    ck_assert_int_eq(PROM(j)->relabels[1].action, CONFIG_RELABEL_KEEP);
    ck_assert_int_eq(regexec(PROM(j)->relabels[1].re, "node_cpu_seconds_total_idle", 0, NULL, 0),
                     0);
    ck_assert_int_eq(PROM(j)->relabels[2].action, CONFIG_RELABEL_LABELDROP);
    ck_assert_str_eq(PROM(j)->relabels[3].replacement, "${1}");

    j = job_named(c, "blackbox");
    ck_assert_str_eq(j->targets[0].url, "http://blackbox.internal:9115/probe?module=http_2xx&"
                                        "target=https%3A%2F%2Fexample.com%2Fhealth%3Ffull%3D1");
    ck_assert_uint_eq(j->targets[0].nlabels, 0);
    ck_assert(PROM(j)->honor_labels);
    ck_assert(!PROM(j)->honor_timestamps);
    ck_assert_int_eq(PROM(j)->sample_limit, 5000);
    ck_assert_int_eq(PROM(j)->label_limit, 30);
    ck_assert_uint_eq(j->body_size_limit, 5u << 20);
    ck_assert(!j->http.follow_redirects);
    ck_assert_str_eq(j->http.authorization.type, "Bearer");
    ck_assert_str_eq(j->http.authorization.credentials, "bl4ckbox-token");
    config_free(c);
}
END_TEST

static char *
summary_text(const struct config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(f);
    config_summary(f, c);
    fclose(f);
    return buf;
}

START_TEST(test_summary_has_no_secrets)
{
    static const char *const secrets[] = {"pa55word", "t0ken", "k3y",   "hunter2",
                                          "outpw",    "cr3d",  "fil3pw"};
    struct config_errors e;
    struct config *c;
    char *text;

    tmp_write("pw", "fil3pw\n");
    tmp_write("conf.yaml", "scrape_configs:\n"
                           "  - {job_name: a, basic_auth: {username: u, password: pa55word},\n"
                           "     static_configs: [{targets: ['h:1']}]}\n"
                           "  - {job_name: b, bearer_token: t0ken}\n"
                           "  - {job_name: c, basic_auth: {username: u, password_file: pw}}\n"
                           "probes:\n"
                           "  - name: p\n"
                           "    urls: ['https://bob:hunter2@example.org/private']\n"
                           "    headers: {X-Api-Key: k3y}\n"
                           "outputs:\n"
                           "  - type: http\n"
                           "    url: 'https://writer:outpw@vm.example.org/api/v1/import'\n"
                           "    authorization: {credentials: cr3d}\n"
                           "    headers: {X-Api-Key: k3y}\n");
    c = config_load(tmp_paths[1], NULL);
    ck_assert_ptr_nonnull(c);
    /* the probe's instance is the URL, with its userinfo redacted */
    ck_assert_str_eq(job_named(c, "p")->targets[0].instance, "https://example.org/private");
    ck_assert_str_eq(job_named(c, "p")->targets[0].url, "https://bob:hunter2@example.org/private");
    text = summary_text(c);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "summary shows \"%s\":\n%s", secrets[i],
                      text);
    }
    ck_assert_ptr_nonnull(strstr(text, "  https://example.org/private\n"));
    ck_assert_ptr_nonnull(strstr(text, "output http (json): https://vm.example.org/"));
    free(text);
    config_free(c);

    /* nor in errors */
    config_errors_init(&e);
    ck_assert_ptr_null(
        load("probes:\n"
             "  - {name: p, urls: ['https://bob:hunter2@exa mple.org/', 'bob:hunter2@h/']}\n"
             "outputs:\n"
             "  - {type: http, url: 'ftp://writer:outpw@h/'}\n",
             &e));
    text = errors_text(&e);
    ck_assert_uint_eq(e.n, 3);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "errors show \"%s\":\n%s", secrets[i],
                      text);
    }
    free(text);
    config_errors_release(&e);
}
END_TEST

START_TEST(test_summary_content)
{
    struct config *c =
        load_ok("global: {scrape_interval: 15s}\n"
                "scrape_configs:\n"
                "  - job_name: node\n"
                "    basic_auth: {username: u, password: p}\n"
                "    static_configs: [{targets: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1']}]\n"
                "probes:\n"
                "  - {name: web, urls: ['https://example.org/'], interval: 1m30s,\n"
                "     timeout: 5s}\n"
                "outputs:\n"
                "  - {type: file, path: /var/log/m.jsonl, format: vm}\n"
                "status: {listen: '[::1]:9999'}\n");
    char *text = summary_text(c);

    ck_assert_str_eq(text, "pollster.yaml: 2 jobs, 6 targets, 1 output\n"
                           "job node (prometheus): interval 15s, timeout 10s, 5 targets, basic "
                           "auth\n"
                           "  http://a:1/metrics\n"
                           "  http://b:1/metrics\n"
                           "  http://c:1/metrics\n"
                           "  ... and 2 more\n"
                           "job web (probe): interval 1m30s, timeout 5s, 1 target\n"
                           "  https://example.org/\n"
                           "output file (vm): /var/log/m.jsonl\n"
                           "status listen [::1]:9999\n");
    free(text);
    config_free(c);
}
END_TEST

START_TEST(test_reference)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(f);
    config_reference(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\n  scrape_interval "));
    ck_assert_ptr_nonnull(strstr(buf, "\n  metric_relabel_configs "));
    ck_assert_ptr_nonnull(strstr(buf, "\n    replacement "));
    ck_assert_ptr_nonnull(strstr(buf, "relabel_configs"));
    ck_assert_ptr_nonnull(strstr(buf, "(required)"));
    free(buf);
}
END_TEST

/* Every registered kind and output type is complete and found by its name (and section). */
START_TEST(test_registries)
{
    for (size_t i = 0; i < kinds_count; i++) {
        const struct kind *k = kinds_table[i];
        ck_assert_ptr_eq(kinds_find(k->name), k);
        ck_assert_ptr_eq(kinds_find_section(k->section), k);
        ck_assert_str_eq(k->ops->name, k->name);
        ck_assert(k->conf != NULL && k->state_new != NULL && k->identity != NULL);
        ck_assert(k->conf->opts_size > 0);
        ck_assert_ptr_nonnull(conf_field_find(k->conf, k->name_key));
        ck_assert_ptr_nonnull(conf_field_find(k->conf, k->interval_key));
        ck_assert_ptr_nonnull(conf_field_find(k->conf, k->timeout_key));
    }
    for (size_t i = 0; i < outputs_count; i++) {
        const struct output_type *t = outputs_table[i];
        ck_assert_ptr_eq(outputs_find(t->name), t);
        ck_assert(t->conf != NULL && t->open != NULL);
        ck_assert_str_eq(t->conf->fields[0].key, "type");
        ck_assert_str_eq(t->conf->fields[1].key, "format");
    }
    ck_assert_ptr_null(kinds_find("nope"));
    ck_assert_ptr_null(kinds_find_section("outputs"));
    ck_assert_ptr_null(outputs_find("kafka"));
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_invalid_cases, 0,
                        (int)(sizeof(invalid_cases) / sizeof(invalid_cases[0])));
    tcase_add_test(tc, test_multiple_errors);
    tcase_add_test(tc, test_unsupported_vs_typo);
    tcase_add_test(tc, test_missing_config_file);
    tcase_add_test(tc, test_errors_api);
    tcase_add_test(tc, test_alias_bomb);
    tcase_add_test(tc, test_regex_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("defaults");
    tcase_add_test(tc, test_empty_config);
    tcase_add_test(tc, test_scrape_defaults);
    tcase_add_test(tc, test_global_target_limits);
    tcase_add_test(tc, test_timeout_capping);
    tcase_add_test(tc, test_output_defaults);
    tcase_add_test(tc, test_output_names);
    tcase_add_test(tc, test_output_rename_is_a_change);
    tcase_add_test(tc, test_http_output_spool_settings);
    tcase_add_test(tc, test_probe_and_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("targets");
    tcase_add_test(tc, test_reserved_labels);
    tcase_add_test(tc, test_instance_label_and_dedup);
    tcase_add_test(tc, test_yaml_features);
    tcase_add_test(tc, test_relabel_regex);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_file_sd);
    tcase_add_test(tc, test_example_config);
    tcase_add_test(tc, test_file_sd_json_and_missing);
    tcase_add_test(tc, test_secret_files);
    tcase_add_test(tc, test_prometheus_yml);
    suite_add_tcase(s, tc);

    tc = tcase_create("summary");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_summary_has_no_secrets);
    tcase_add_test(tc, test_summary_content);
    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_registries);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
