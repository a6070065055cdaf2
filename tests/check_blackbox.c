/*
 * Probe parity with the real blackbox_exporter (Debian's prometheus-blackbox-exporter 0.23): it
 * runs on a free loopback port next to `pollster --once`, both probing the same local targets
 * (an HTTP mock, `openssl s_server -WWW` for HTTPS and TLS, a closed port), and the test compares
 * per target the metric names with their label sets, and the values that must agree (success,
 * status, ssl, version, redirects, lengths, address, TLS version, expiries and the certificate's
 * fingerprint and names). Timings are only checked to be present.
 * Also: the tcp_probes config (targets, rejected blackbox keys). Exits 77 (skip) without the
 * exporter or openssl; .ci/run installs both.
 */
#include "build-config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "engine.h"
#include "job_probe.h"
#include "loop.h"
#include "mock_server.h"
#include "probe_tcp.h"
#include "testproc.h"
#include "testutil.h"

#define BLACKBOX_DEFAULT "/usr/bin/prometheus-blackbox-exporter"

static char dir[64];
static unsigned mock_port, tls_port, closed_port, bb_port;

/*
 * A probe both sides run: @prober "http" or "tcp", @target its target (%M mock port, %T TLS port,
 * %C closed port), and @settings the module's settings, which are also the pollster job's keys
 * (the names are the same): a YAML flow fragment after "preferred_ip_protocol: ip4" (%D: the
 * test's directory).
 */
struct pcase {
    const char *name;
    const char *prober;
    const char *target;
    const char *settings;
    int success; /* the probe_success both must report */
};

static const struct pcase cases[] = {
    {"http_ok", "http", "http://127.0.0.1:%M/ok", "", 1},
    {"http_404", "http", "http://127.0.0.1:%M/status/404", "", 0},
    {"http_redirect", "http", "http://127.0.0.1:%M/redirect/2", "", 1},
    {"http_refused", "http", "http://127.0.0.1:%C/", "", 0},
    {"http_lastmod", "http", "http://127.0.0.1:%M/lastmod", "", 1},
    {"http_post", "http", "http://127.0.0.1:%M/ok",
     ", method: POST, body: 'x=1', valid_http_versions: [HTTP/1.1], valid_status_codes: [200],"
     " fail_if_header_not_matches: [{header: X-Absent, regexp: x, allow_missing: true}],"
     " fail_if_body_not_matches_regexp: ['^hel+o']",
     1},
    {"http_header_fail", "http", "http://127.0.0.1:%M/ok",
     ", fail_if_header_matches: [{header: Content-Type, regexp: 'text/'}]", 0},
    {"http_body_fail", "http", "http://127.0.0.1:%M/ok", ", fail_if_body_matches_regexp: ['hello']",
     0},
    {"http_not_ssl", "http", "http://127.0.0.1:%M/ok", ", fail_if_not_ssl: true", 0},
    {"http_version_fail", "http", "http://127.0.0.1:%M/ok", ", valid_http_versions: [HTTP/2.0]", 0},
    {"https_insecure", "http", "https://127.0.0.1:%T/page.txt",
     ", tls_config: {insecure_skip_verify: true}", 1},
    {"https_ca", "http", "https://127.0.0.1:%T/page.txt", ", tls_config: {ca_file: %D/srv.pem}", 1},
    {"https_ssl_fail", "http", "https://127.0.0.1:%T/page.txt",
     ", fail_if_ssl: true, tls_config: {insecure_skip_verify: true}", 0},
    {"tcp_ok", "tcp", "127.0.0.1:%M", "", 1},
    {"tcp_refused", "tcp", "127.0.0.1:%C", "", 0},
    {"tcp_tls", "tcp", "127.0.0.1:%T", ", tls: true, tls_config: {insecure_skip_verify: true}", 1},
    {"tcp_tls_ca", "tcp", "127.0.0.1:%T", ", tls: true, tls_config: {ca_file: %D/srv.pem}", 1},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Families whose values must be equal on both sides (the rest: timings, only present). */
static const char *const must_agree[] = {
    "probe_success",
    "probe_http_status_code",
    "probe_http_ssl",
    "probe_http_version",
    "probe_http_redirects",
    "probe_http_content_length",
    "probe_http_uncompressed_body_length",
    "probe_ip_protocol",
    "probe_ip_addr_hash",
    "probe_failed_due_to_regex",
    "probe_tls_version_info",
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_ssl_last_chain_info",
    "probe_http_last_modified_timestamp_seconds",
    NULL,
};

static bool
in_list(const char *const *l, const char *name)
{
    for (size_t i = 0; l[i] != NULL; i++) {
        if (strcmp(l[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static void
expand(char *out, size_t len, const char *fmt)
{
    size_t o = 0;

    for (const char *p = fmt; *p != '\0' && o + 8 < len; p++) {
        if (p[0] == '%' && p[1] == 'D') {
            o += (size_t)snprintf(out + o, len - o, "%s", dir);
            p++;
        }
        else if (p[0] == '%' && (p[1] == 'M' || p[1] == 'T' || p[1] == 'C')) {
            unsigned port = p[1] == 'M' ? mock_port : p[1] == 'T' ? tls_port : closed_port;
            o += (size_t)snprintf(out + o, len - o, "%u", port);
            p++;
        }
        else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static int tls_stdin[2] = {-1, -1};

/* openssl s_server -WWW (serving @dir's files, so both sides get the same body) on a free port with
 * a certificate for 127.0.0.1 made now. */
static pid_t
tls_server_start(void)
{
    char cmd[1024], cert[128], key[128], accept_arg[64];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/srv.key -out %s/srv.pem -days 3 -subj '/O=Pollster Test/CN=127.0.0.1' "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:probe.test >/dev/null 2>&1",
             dir, dir);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof(cmd), "%s/page.txt", dir);
    write_file(cmd, "a page served over TLS\n");
    tls_port = mock_closed_port();
    snprintf(cert, sizeof(cert), "%s/srv.pem", dir);
    snprintf(key, sizeof(key), "%s/srv.key", dir);
    snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", tls_port);
    ck_assert_int_eq(pipe(tls_stdin), 0); /* s_server stops when its stdin ends */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(tls_stdin[0], 0);
        dup2(null, 1);
        dup2(null, 2);
        if (chdir(dir) != 0) { /* -WWW serves files from here */
            _exit(127);
        }
        execlp("openssl", "openssl", "s_server", "-quiet", "-WWW", "-accept", accept_arg, "-cert",
               cert, "-key", key, (char *)NULL);
        _exit(127);
    }
    close(tls_stdin[0]);
    for (int i = 0; i < 500 && !testproc_port_open(tls_port); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(testproc_port_open(tls_port), "openssl s_server did not start on %u", tls_port);
    return pid;
}

static pid_t
blackbox_start(void)
{
    char cfg[128], text[8192], settings[512], cfg_arg[160], listen_arg[64], log[128];
    size_t o = 0;

    snprintf(cfg, sizeof(cfg), "%s/blackbox.yml", dir);
    o += (size_t)snprintf(text + o, sizeof(text) - o, "modules:\n");
    for (size_t i = 0; i < NCASES; i++) {
        expand(settings, sizeof(settings), cases[i].settings);
        o += (size_t)snprintf(
            text + o, sizeof(text) - o,
            "  %s: {prober: %s, timeout: 5s, %s: {preferred_ip_protocol: ip4%s}}\n", cases[i].name,
            cases[i].prober, cases[i].prober, settings);
    }
    ck_assert_uint_lt(o, sizeof(text) - 1);
    write_file(cfg, text);
    bb_port = testproc_free_port();
    snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
    snprintf(listen_arg, sizeof(listen_arg), "--web.listen-address=127.0.0.1:%u", bb_port);
    snprintf(log, sizeof(log), "%s/blackbox.log", dir);
    char *argv[] = {(char *)testproc_binary("BLACKBOX_EXPORTER", BLACKBOX_DEFAULT), cfg_arg,
                    listen_arg, NULL};
    pid_t pid = testproc_spawn(argv, log);
    ck_assert_msg(testproc_wait_ready(bb_port, "/metrics", 30) == 0,
                  "blackbox_exporter did not start (see %s)", log);
    return pid;
}

/* The pollster config: one job per case, with the module's settings as its keys. */
static void
pollster_config(const char *path)
{
    char text[8192], target[256], settings[512];
    size_t o = 0;

    o += (size_t)snprintf(text + o, sizeof(text) - o,
                          "global: {scrape_interval: 10s, scrape_timeout: 5s}\n");
    for (int tcp = 0; tcp < 2; tcp++) {
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s:\n", tcp ? "tcp_probes" : "probes");
        for (size_t i = 0; i < NCASES; i++) {
            if ((strcmp(cases[i].prober, "tcp") == 0) != tcp) {
                continue;
            }
            expand(target, sizeof(target), cases[i].target);
            expand(settings, sizeof(settings), cases[i].settings);
            o += (size_t)snprintf(text + o, sizeof(text) - o,
                                  "  - {name: %s, %s: ['%s'], preferred_ip_protocol: ip4%s}\n",
                                  cases[i].name, tcp ? "targets" : "urls", target, settings);
        }
    }
    ck_assert_uint_lt(o, sizeof(text) - 1);
    write_file(path, text);
}

/* One series: "name" or "name{a=\"x\",b=\"y\"}" (labels sorted by name) and its value. */
struct series {
    char key[512];
    char name[128];
    double value;
};

struct series_set {
    struct series s[64];
    size_t n;
};

static void
set_add(struct series_set *set, const char *name, const char *labels, double v)
{
    ck_assert_uint_lt(set->n, 64);
    struct series *s = &set->s[set->n++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    if (labels[0] != '\0') {
        snprintf(s->key, sizeof(s->key), "%s{%s}", name, labels);
    }
    else {
        snprintf(s->key, sizeof(s->key), "%s", name);
    }
    s->value = v;
}

static const struct series *
set_find(const struct series_set *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->s[i].key, key) == 0) {
            return &set->s[i];
        }
    }
    return NULL;
}

/* blackbox_exporter's /probe answer (text format, labels already sorted) as a set. */
static void
blackbox_probe(const struct pcase *c, struct series_set *set)
{
    char target[256], path[512], *body = NULL;

    expand(target, sizeof(target), c->target);
    snprintf(path, sizeof(path), "/probe?module=%s&target=%s", c->name, target);
    ck_assert_int_eq(testproc_get(bb_port, path, &body), 200);
    memset(set, 0, sizeof(*set));
    for (char *line = strtok(body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char name[128], labels[384] = "";
        char *sp = strrchr(line, ' ');
        if (line[0] == '#' || sp == NULL) {
            continue;
        }
        *sp = '\0';
        char *brace = strchr(line, '{');
        if (brace != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(brace - line), line);
            snprintf(labels, sizeof(labels), "%.*s", (int)(strlen(brace) - 2), brace + 1);
        }
        else {
            snprintf(name, sizeof(name), "%s", line);
        }
        set_add(set, name, labels, strtod(sp + 1, NULL));
    }
    free(body);
}

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* pollster's batch of job @name (from its JSON lines) as a set, without the scrape_* series. */
static void
pollster_set(json_object *lines, const char *name, struct series_set *set)
{
    json_object *batch = NULL;

    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        if (strcmp(json_object_get_string(testutil_field(b, "job")), name) == 0) {
            batch = b;
        }
    }
    ck_assert_msg(batch != NULL, "pollster printed no batch for %s", name);
    memset(set, 0, sizeof(*set));
    json_object *samples = testutil_field(batch, "samples");
    for (size_t i = 0; i < json_object_array_length(samples); i++) {
        json_object *s = json_object_array_get_idx(samples, i);
        const char *sname = json_object_get_string(testutil_field(s, "name"));
        char labels[384] = "", *keys[8];
        size_t nk = 0, o = 0;
        if (strncmp(sname, "probe_", 6) != 0) {
            continue; /* up, scrape_*: pollster's own */
        }
        json_object_object_foreach(testutil_field(s, "labels"), k, v)
        {
            ck_assert_uint_lt(nk, 8);
            keys[nk++] = k;
            (void)v;
        }
        qsort(keys, nk, sizeof(keys[0]), label_cmp);
        for (size_t j = 0; j < nk; j++) {
            json_object *lv = testutil_field(testutil_field(s, "labels"), keys[j]);
            o += (size_t)snprintf(labels + o, sizeof(labels) - o, "%s%s=\"%s\"", j > 0 ? "," : "",
                                  keys[j], json_object_get_string(lv));
        }
        set_add(set, sname, labels, json_object_get_double(testutil_field(s, "value")));
    }
}

static json_object *
pollster_once(const char *cfg)
{
    char out[128], log[128];

    snprintf(out, sizeof(out), "%s/pollster.out", dir);
    snprintf(log, sizeof(log), "%s/pollster.log", dir);
    char *argv[] = {getenv("POLLSTER_BIN"), "--once", "-c", (char *)cfg, NULL};
    ck_assert_ptr_nonnull(argv[0]);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(lfd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    /* 1: some probes fail, as they should (404, refused). */
    ck_assert_int_eq(testproc_wait_exit(pid, 30), 1);
    int fd = open(out, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    json_object *lines = testutil_read_lines(fd);
    close(fd);
    return lines;
}

START_TEST(test_same_metrics_as_blackbox_exporter)
{
    char cfg[128];
    struct series_set bb, ps;

    snprintf(dir, sizeof(dir), "/tmp/pollster-bb-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pid_t mock = mock_server_spawn(&mock_port, 120);
    ck_assert_int_gt(mock, 0);
    closed_port = mock_closed_port();
    pid_t tls = tls_server_start();
    pid_t bbx = blackbox_start();
    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    pollster_config(cfg);
    json_object *lines = pollster_once(cfg);
    ck_assert_uint_eq(json_object_array_length(lines), NCASES);

    for (size_t i = 0; i < NCASES; i++) {
        const struct pcase *c = &cases[i];
        blackbox_probe(c, &bb);
        pollster_set(lines, c->name, &ps);
        ck_assert_msg(bb.n > 3, "%s: blackbox_exporter answered %zu series", c->name, bb.n);
        for (size_t j = 0; j < bb.n; j++) {
            const struct series *b = &bb.s[j];
            const struct series *p = set_find(&ps, b->key);
            ck_assert_msg(p != NULL, "%s: pollster lacks %s", c->name, b->key);
            if (in_list(must_agree, b->name)) {
                ck_assert_msg(p->value == b->value, "%s: %s is %.17g, blackbox_exporter: %.17g",
                              c->name, b->key, p->value, b->value);
            }
            else {
                ck_assert_msg(p->value >= 0 && p->value < 5, "%s: %s = %g", c->name, b->key,
                              p->value);
            }
        }
        ck_assert_msg(set_find(&bb, "probe_success")->value == c->success,
                      "%s: probe_success is not %d", c->name, c->success);
        for (size_t j = 0; j < ps.n; j++) {
            ck_assert_msg(set_find(&bb, ps.s[j].key) != NULL,
                          "%s: pollster has %s, blackbox_exporter does not", c->name, ps.s[j].key);
        }
    }
    /* The TLS targets did report TLS facts (so the comparison above compared them). */
    pollster_set(lines, "https_ca", &ps);
    ck_assert_ptr_nonnull(set_find(&ps, "probe_tls_version_info{version=\"TLS 1.3\"}"));
    ck_assert(set_find(&ps, "probe_ssl_last_chain_expiry_timestamp_seconds")->value > 1e9);
    bool info = false;
    for (size_t i = 0; i < ps.n; i++) {
        info = info || (strcmp(ps.s[i].name, "probe_ssl_last_chain_info") == 0 &&
                        strstr(ps.s[i].key, "issuer=\"CN=127.0.0.1,O=Pollster Test\"") != NULL &&
                        strstr(ps.s[i].key, "subjectalternative=\"localhost,probe.test\"") != NULL);
    }
    ck_assert_msg(info, "no probe_ssl_last_chain_info with the test certificate's names");
    pollster_set(lines, "tcp_tls", &ps);
    ck_assert(set_find(&ps, "probe_ssl_earliest_cert_expiry")->value > 1e9);
    json_object_put(lines);

    testproc_stop(bbx);
    close(tls_stdin[1]);
    kill(tls, SIGTERM);
    ck_assert_int_ge(testproc_wait_exit(tls, 10), 0);
    mock_server_stop(mock);
    testproc_rmtree(dir);
}
END_TEST

/*
 * Every run of a target reports its TLS facts: the probe's easy handle lives across runs, and a
 * resumed TLS session would carry no certificates (no probe_ssl_earliest_cert_expiry).
 */
START_TEST(test_tls_facts_every_run)
{
    struct loop *lp;
    struct mock_server *mock;
    struct engine *eng;
    int pipefd[2];
    char url[128], err[256];
    struct probe_opts po;
    struct probe_tcp_opts to = {.preferred_ip = PROBE_CONN_IP4};

    snprintf(dir, sizeof(dir), "/tmp/pollster-bb-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pid_t tls = tls_server_start();
    testutil_once_setup(&lp, &mock, &eng, pipefd);
    memset(&po, 0, sizeof(po));
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/page.txt", tls_port);
    struct target_spec spec = {
        .job = "https",
        .url = url,
        .timeout_ms = 5000,
        .body_limit = 1 << 20,
        .fresh_connect = true,
        .http = {.insecure_skip_verify = true},
        .kind = &job_probe,
        .kind_state = job_probe_new(&po, err, sizeof(err)),
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/", tls_port);
    spec.job = "tcp_tls";
    spec.kind = &probe_tcp;
    spec.kind_state = probe_tcp_new(&to, err, sizeof(err));
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(engine_run_once(eng), 0);
        json_object *lines = testutil_read_lines(pipefd[0]);
        ck_assert_uint_eq(json_object_array_length(lines), 2);
        for (size_t i = 0; i < 2; i++) {
            json_object *b = json_object_array_get_idx(lines, i);
            ck_assert_msg(testutil_sample_value(b, "probe_ssl_earliest_cert_expiry", NULL, NULL) >
                              1e9,
                          "run %d of %s", run, testutil_str(b, "job"));
            ck_assert_ptr_nonnull(
                testutil_find_sample(b, "probe_tls_version_info", "version", "TLS 1.3"));
        }
        json_object_put(lines);
    }
    testutil_once_teardown(lp, mock, eng, pipefd);
    close(tls_stdin[1]);
    kill(tls, SIGTERM);
    ck_assert_int_ge(testproc_wait_exit(tls, 10), 0);
    testproc_rmtree(dir);
}
END_TEST

/* tcp_probes: host:port targets become connect URLs; the checks name the place and cause. */
START_TEST(test_tcp_url)
{
    const char *why = NULL;
    char *u = probe_tcp_url_dup("127.0.0.1:22", false, &why);

    ck_assert_str_eq(u, "http://127.0.0.1:22/");
    free(u);
    u = probe_tcp_url_dup("[::1]:443", true, &why);
    ck_assert_str_eq(u, "https://[::1]:443/");
    free(u);
    ck_assert_ptr_null(probe_tcp_url_dup("host", false, &why));
    ck_assert_str_eq(why, "not host:port");
    ck_assert_ptr_null(probe_tcp_url_dup("host:0", false, &why));
    ck_assert_str_eq(why, "the port must be a number in 1..65535");
    ck_assert_ptr_null(probe_tcp_url_dup("host:http", false, &why));
    ck_assert_ptr_null(probe_tcp_url_dup("::1:22", false, &why));
    ck_assert_str_eq(why, "an IPv6 address must be in brackets: [::1]:port");
    ck_assert_ptr_null(probe_tcp_url_dup("a/b:22", false, &why));
}
END_TEST

/* The config's errors as one string (caller frees), or NULL when it loads. */
static char *
load_error(const char *yaml)
{
    struct config_errors e;
    char *buf = NULL;
    size_t len = 0;

    config_errors_init(&e);
    struct config *c = config_load_string("bb.yaml", yaml, strlen(yaml), &e);
    if (c != NULL) {
        config_free(c);
        config_errors_release(&e);
        return NULL;
    }
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    config_errors_print(f, &e);
    fclose(f);
    config_errors_release(&e);
    return buf;
}

START_TEST(test_tcp_config)
{
    char *m = load_error("tcp_probes:\n  - {name: t, targets: ['127.0.0.1:22', 'x:99999']}\n");

    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "tcp_probes[0].targets[1]: \"x:99999\": the port must be a number "
                            "in 1..65535") != NULL,
                  "%s", m);
    free(m);
    m = load_error("tcp_probes:\n  - {name: t, targets: ['h:1'], query_response: []}\n");
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "query_response") != NULL, "%s", m);
    free(m);
    m = load_error("probes:\n  - {name: p, urls: ['http://h/'], compression: gzip}\n");
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "compression") != NULL && strstr(m, "not supported") != NULL, "%s", m);
    free(m);
    m = load_error("probes:\n  - {name: p, urls: ['http://h/'], valid_http_versions: [HTTP/9]}\n");
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "unknown version \"HTTP/9\"") != NULL, "%s", m);
    free(m);
    m = load_error("probes:\n  - {name: p, urls: ['http://h/'], fail_if_header_matches: "
                   "[{header: X, regexp: '(a'}]}\n");
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "fail_if_header_matches[0].regexp: invalid regular expression") != NULL,
                  "%s", m);
    free(m);
    ck_assert_ptr_null(load_error("tcp_probes:\n  - {name: t, targets: ['127.0.0.1:22'], tls: "
                                  "true, preferred_ip_protocol: ip4}\n"));
}
END_TEST

int
main(void)
{
    if (testproc_binary("BLACKBOX_EXPORTER", BLACKBOX_DEFAULT) == NULL ||
        system("openssl version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: prometheus-blackbox-exporter or openssl is not installed "
                        "(apt-get install prometheus-blackbox-exporter openssl)\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("blackbox");
    TCase *tc = tcase_create("compare");
    TCase *tu = tcase_create("config");
    tcase_add_test(tc, test_same_metrics_as_blackbox_exporter);
    tcase_add_test(tc, test_tls_facts_every_run);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tu, test_tcp_url);
    tcase_add_test(tu, test_tcp_config);
    suite_add_tcase(s, tu);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
