/*
 * http_sd_configs and the SD machinery shared with dns_sd: the config keys and their errors, the
 * check of an SD answer (sdhttp_groups), and the pollster binary against an SD server in this
 * process (evhttp on the test's own event_base) whose answer changes (targets join and leave
 * without disturbing the others), then fails (the last good list stays, the failure is counted
 * and logged with the redacted URL), then is down while pollster restarts (the list persisted in
 * the state directory is scraped).
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"
#include "config.h"
#include "mock_server.h"
#include "sdcache.h"
#include "sdhttp.h"
#include "strbuf.h"
#include "testutil.h"

/* Config errors */

static const struct {
    const char *name;
    const char *yaml;
    const char *want; /* in the first error */
} bad_configs[] = {
    {"http_sd without url", "scrape_configs:\n  - job_name: a\n    http_sd_configs: [{}]\n",
     "3:23: missing required key \"url\""},
    {"http_sd ftp url",
     "scrape_configs:\n  - job_name: a\n    http_sd_configs: [{url: 'ftp://h/x'}]\n",
     "3:29: invalid http_sd url \"ftp://h/x\": only http and https are allowed"},
    {"http_sd url password not shown",
     "scrape_configs:\n  - job_name: a\n    http_sd_configs: [{url: 'ftp://u:hunter2@h/x'}]\n",
     "invalid http_sd url \"ftp://h/x\""},
    {"http_sd zero refresh",
     "scrape_configs:\n  - job_name: a\n"
     "    http_sd_configs: [{url: 'http://h/', refresh_interval: 0s}]\n",
     "refresh_interval must be greater than 0"},
    {"http_sd unknown key",
     "scrape_configs:\n  - job_name: a\n    http_sd_configs: [{url: 'http://h/', files: [x]}]\n",
     "unknown key \"files\" in scrape_configs[0].http_sd_configs[0]"},
    {"http_sd oauth2 without token_url",
     "scrape_configs:\n  - job_name: a\n"
     "    http_sd_configs: [{url: 'http://h/', oauth2: {client_id: x}}]\n",
     "oauth2 needs token_url"},
    {"http_sd tls server_name as the client takes it",
     "scrape_configs:\n  - job_name: a\n"
     "    http_sd_configs: [{url: 'https://h/', tls_config: {server_name: x}}]\n",
     "tls_config.server_name is not supported: libcurl sends the URL's host as TLS SNI"},
    {"dns_sd without names",
     "scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{type: SRV}]\n",
     "missing required key \"names\""},
    {"dns_sd A without port",
     "scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x.test], type: A}]\n",
     "3:46: dns_sd_configs of type A need a port"},
    {"dns_sd MX without port",
     "scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x], type: MX}]\n",
     "dns_sd_configs of type MX need a port"},
    {"dns_sd NS",
     "scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x], type: NS}]\n",
     "type \"NS\" is not supported by pollster yet (supported: SRV, A, AAAA, MX)"},
    {"dns_sd bad type",
     "scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x], type: TXT}]\n",
     "invalid type \"TXT\""},
    {"dns_sd port range",
     "scrape_configs:\n  - job_name: a\n"
     "    dns_sd_configs: [{names: [x], type: A, port: 70000}]\n",
     "port"},
    {"consul", "scrape_configs:\n  - job_name: svc\n    consul_sd_configs: [{server: x}]\n",
     "3:5: job \"svc\": consul_sd_configs is not supported: pollster has no consul client; use "
     "http_sd_configs or file_sd_configs"},
    {"ec2", "scrape_configs:\n  - job_name: aws\n    ec2_sd_configs: [{region: x}]\n",
     "job \"aws\": ec2_sd_configs is not supported"},
};

START_TEST(test_bad_config)
{
    struct config_errors errs;
    const char *yaml = bad_configs[_i].yaml;

    config_errors_init(&errs);
    struct config *c = config_load_string("p.yaml", yaml, strlen(yaml), &errs);
    ck_assert_msg(c == NULL, "%s: accepted", bad_configs[_i].name);
    ck_assert_int_ge(errs.n, 1);
    ck_assert_msg(strstr(errs.v[0].text, bad_configs[_i].want) != NULL, "%s: got %s, want %s",
                  bad_configs[_i].name, errs.v[0].text, bad_configs[_i].want);
    ck_assert_msg(strstr(errs.v[0].text, "hunter2") == NULL, "%s", errs.v[0].text);
    config_errors_release(&errs);
}
END_TEST

/* Defaults as Prometheus has them; the config keeps what sdrun needs. */
START_TEST(test_config_defaults)
{
    const char *yaml = "scrape_configs:\n"
                       "  - job_name: a\n"
                       "    http_sd_configs: [{url: 'http://127.0.0.1/sd',\n"
                       "                       basic_auth: {username: u, password: p}}]\n"
                       "    dns_sd_configs: [{names: [_x._tcp.test]},\n"
                       "                     {names: [h.test], type: AAAA, port: 9100,\n"
                       "                      refresh_interval: 5s}]\n";
    struct config_errors errs;

    config_errors_init(&errs);
    struct config *c = config_load_string("p.yaml", yaml, strlen(yaml), &errs);
    ck_assert_msg(c != NULL, "%s", errs.n > 0 ? errs.v[0].text : "?");
    ck_assert_uint_eq(c->jobs[0].nsds, 3);
    const struct config_sd *h = &c->jobs[0].sds[0], *s = &c->jobs[0].sds[1],
                           *a = &c->jobs[0].sds[2];
    ck_assert_int_eq(h->mech, CONFIG_SD_HTTP);
    ck_assert_int_eq(h->refresh_ms, 60000);
    ck_assert_str_eq(h->http.basic_auth.password, "p");
    ck_assert_int_eq(s->mech, CONFIG_SD_DNS);
    ck_assert_int_eq(s->type, CONFIG_SD_DNS_SRV);
    ck_assert_int_eq(s->refresh_ms, 30000);
    ck_assert_int_eq(a->type, CONFIG_SD_DNS_AAAA);
    ck_assert_int_eq(a->port, 9100);
    ck_assert_int_eq(a->refresh_ms, 5000);
    /* Keys differ by what is asked, and name the job and the mechanism. */
    ck_assert_str_ne(s->key, a->key);
    ck_assert_ptr_nonnull(strstr(h->key, "a-http-"));
    ck_assert_ptr_nonnull(strstr(s->key, "a-dns-"));
    config_free(c);
    config_errors_release(&errs);
}
END_TEST

/* Answers */

static const struct {
    const char *body;
    const char *want; /* the list, or the error */
    bool ok;
} answers[] = {
    {"[]", "[]\n", true},
    {" [ ] \n", "[]\n", true},
    {"[{\"targets\":[\"a:1\",\"b:2\"],\"labels\":{\"env\":\"p\"}}]",
     "[{\"targets\":[\"a:1\",\"b:2\"],\"labels\":{\"env\":\"p\",\"__meta_url\":\"http://h/"
     "sd\"}}]\n",
     true},
    /* __meta_url is ours, as in Prometheus (which checked: it overrides the group's) */
    {"[{\"targets\":[\"a:1\"],\"labels\":{\"__meta_url\":\"x\"}}]",
     "[{\"targets\":[\"a:1\"],\"labels\":{\"__meta_url\":\"http://h/sd\"}}]\n", true},
    /* Prometheus 2.42 answers: json: unknown field "x" */
    {"[{\"targets\":[],\"x\":1}]", "target group 0: unknown field \"x\"", false},
    {"[{\"labels\":null}]", "[{\"targets\":[],\"labels\":{\"__meta_url\":\"http://h/sd\"}}]\n",
     true},
    {"{\"targets\":[]}", "expected a JSON list of target groups", false},
    {"[1]", "target group 0 is not an object", false},
    {"[{\"targets\":\"a:1\"}]", "target group 0: \"targets\" is not a list", false},
    {"[{},{\"targets\":[1]}]", "target group 1: target 0 is not a string", false},
    {"[{\"labels\":{\"a-b\":\"x\"}}]", "target group 0: invalid label name \"a-b\"", false},
    {"[{\"labels\":{\"a\":1}}]", "target group 0: label \"a\" is not a string", false},
    {"[{\"targets\":[]}", "invalid JSON", false},
    {"[] x", "invalid JSON at byte 3", false},
    {"", "invalid JSON", false},
    {"[{\"targets\":[],}]", "invalid JSON", false},
};

START_TEST(test_answer)
{
    struct strbuf out;
    char err[256] = "";

    strbuf_init(&out);
    int rc = sdhttp_groups("http://user:pw@h/sd", answers[_i].body, strlen(answers[_i].body), &out,
                           err, sizeof(err));
    if (answers[_i].ok) {
        ck_assert_msg(rc == 0, "%s: %s", answers[_i].body, err);
        ck_assert_str_eq(out.data, answers[_i].want);
    }
    else {
        ck_assert_msg(rc == -EINVAL, "%s: accepted", answers[_i].body);
        ck_assert_msg(strstr(err, answers[_i].want) != NULL, "%s: got %s", answers[_i].body, err);
    }
    strbuf_release(&out);
}
END_TEST

/* The binary against an SD server in this process */

static struct event_base *base;
static struct evhttp *sd_http;
static unsigned sd_port;
static const char *sd_body; /* what /sd answers; NULL: HTTP 503 */
static const char *sd_type = "application/json";
static unsigned sd_requests;
static char dir[64], cfg[128], out_path[128], err_path[128];
static pid_t mock;     /* the scrape targets (a forked mock_server) */
static unsigned mport; /* its port */

static void
sd_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = evbuffer_new();

    (void)arg;
    sd_requests++;
    if (sd_body == NULL) {
        evhttp_send_reply(req, 503, "Unavailable", NULL);
    }
    else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", sd_type);
        evbuffer_add(b, sd_body, strlen(sd_body));
        evhttp_send_reply(req, 200, "OK", b);
    }
    evbuffer_free(b);
}

static void
sd_server_start(void)
{
    struct evhttp_bound_socket *s;

    sd_http = evhttp_new(base);
    ck_assert_ptr_nonnull(sd_http);
    evhttp_set_cb(sd_http, "/sd", sd_cb, NULL);
    s = evhttp_bind_socket_with_handle(sd_http, "127.0.0.1", (ev_uint16_t)sd_port);
    ck_assert_ptr_nonnull(s);
    if (sd_port == 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &len);
        sd_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
}

static void
sd_server_stop(void)
{
    evhttp_free(sd_http);
    sd_http = NULL;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Under VALGRIND=valgrind the binary runs under valgrind: its deadlines grow by this much. */
static int
slow(void)
{
    const char *vg = getenv("VALGRIND");
    return vg != NULL && *vg != '\0' ? 10 : 1;
}

/* Serves the SD server for @ms. */
static void
pump(long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    struct strbuf sb;
    char buf[4096];
    size_t n;

    strbuf_init(&sb);
    if (f != NULL) {
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
            strbuf_append(&sb, buf, n);
        }
        fclose(f);
    }
    strbuf_putc(&sb, '\0');
    return sb.data;
}

/* Occurrences of @needle in @path. */
static size_t
count_in(const char *path, const char *needle)
{
    char *text = slurp(path);
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    free(text);
    return n;
}

/* Serves until @path holds @needle @times times; fails the test after @limit seconds. */
static void
wait_for(const char *path, const char *needle, size_t times, double limit)
{
    double end = now_s() + limit * (slow() > 1 ? 4 : 1);

    while (count_in(path, needle) < times) {
        if (now_s() > end) {
            char *text = slurp(path);
            ck_abort_msg("no \"%s\" (x%zu) in %s after %.0f s:\n%s", needle, times, path, limit,
                         text);
            free(text);
        }
        pump(50);
    }
}

/* Starts the binary with @args (stdout and stderr appended to out_path and err_path). */
static pid_t
spawn(const char *const *args)
{
    const char *bin = getenv("POLLSTER_BIN");
    const char *vg = getenv("VALGRIND");
    const char *argv[32];
    size_t n = 0;
    sigset_t stopsigs, old;

    ck_assert_msg(bin != NULL, "POLLSTER_BIN not set");
    if (vg != NULL && *vg != '\0') {
        argv[n++] = vg;
        argv[n++] = "--quiet";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
    }
    argv[n++] = bin;
    for (size_t i = 0; args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    /* As mock_server_spawn: no SIGTERM may reach Check's handler in the child. */
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stopsigs, &old);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int o = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (o < 0 || e < 0) {
            _exit(126);
        }
        dup2(o, 1);
        dup2(e, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_gt(pid, 0);
    return pid;
}

/* Serves until @pid exits (SIGKILL after @limit seconds); its exit status. */
static int
reap(pid_t pid, double limit)
{
    double end = now_s() + limit;
    int st = 0;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            break;
        }
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("pollster did not exit within %.0f s", limit);
        }
        pump(20);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
e2e_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_sd.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    snprintf(out_path, sizeof(out_path), "%s/out.jsonl", dir);
    snprintf(err_path, sizeof(err_path), "%s/err.log", dir);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    /* Before the SD server: the child must not inherit (and keep open) its listening socket. */
    mock = mock_server_spawn(&mport, 120);
    ck_assert_int_gt(mock, 0);
    sd_port = 0;
    sd_body = NULL;
    sd_requests = 0;
    sd_server_start();
}

static void
e2e_teardown(void)
{
    char cmd[128];

    if (getenv("CHECK_SD_KEEP") != NULL) {
        char *t = slurp(err_path);
        fprintf(stderr, "%s", t);
        free(t);
    }

    if (sd_http != NULL) {
        sd_server_stop();
    }
    mock_server_stop(mock);
    event_base_free(base);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/*
 * One target joins, one leaves, the one that stays keeps its schedule (the reload keeps it); a
 * failing SD leaves the targets; a restart during the outage scrapes the persisted list.
 */
START_TEST(test_http_sd_lifecycle)
{
    unsigned status_port = mock_closed_port();
    char text[2048], one[256], two[256], both[600], metrics_url[64];

    snprintf(one, sizeof(one),
             "{\"targets\":[\"127.0.0.1:%u\"],\"labels\":{\"__metrics_path__\":\"/simple\","
             "\"g\":\"one\"}}",
             mport);
    snprintf(two, sizeof(two),
             "{\"targets\":[\"127.0.0.1:%u\"],\"labels\":{\"__metrics_path__\":\"/simple\","
             "\"g\":\"two\"}}",
             mport);
    snprintf(both, sizeof(both), "[%s,%s]", one, two);
    static const char fmt[] = "global: {scrape_interval: %dms, scrape_timeout: %dms, state_dir: "
                              "state}\n"
                              "status: {listen: '127.0.0.1:%u'}\n"
                              "scrape_configs:\n"
                              "  - job_name: sd\n"
                              "    http_sd_configs:\n"
                              "      - url: 'http://user:hunter2@127.0.0.1:%u/sd'\n"
                              "        refresh_interval: %dms\n";

    /* --once fetches before it scrapes (timeouts a loaded machine cannot miss: it runs once) */
    snprintf(text, sizeof(text), fmt, 5000, 4000, status_port, sd_port, 4000);
    write_text(cfg, text); /* the state directory does not exist yet: it is created */
    char once_list[300];
    snprintf(once_list, sizeof(once_list), "[%s]", one);
    sd_body = once_list;
    pid_t p = spawn((const char *const[]){"--once", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 0);
    ck_assert_uint_eq(count_in(out_path, "\"g\":\"one\""), 1);
    ck_assert_uint_eq(count_in(out_path, "\"ok\":true"), 1);

    snprintf(text, sizeof(text), fmt, 200 * slow(), 150 * slow(), status_port, sd_port,
             100 * slow());
    write_text(cfg, text);

    /* the daemon: one target, then two (one kept), then one (the other removed) */
    p = spawn((const char *const[]){"-c", cfg, NULL});
    wait_for(out_path, "\"g\":\"one\"", 3, 20);
    sd_body = both;
    wait_for(err_path, "SD refresh of", 1, 20);
    ck_assert_uint_eq(count_in(err_path, "1 targets kept, 1 added, 0 removed"), 1);
    wait_for(out_path, "\"g\":\"two\"", 2, 20);
    char only_two[300];
    snprintf(only_two, sizeof(only_two), "[%s]", two);
    sd_body = only_two;
    wait_for(err_path, "1 targets kept, 0 added, 1 removed", 1, 20);
    size_t ones = count_in(out_path, "\"g\":\"one\"");
    wait_for(out_path, "\"g\":\"two\"", count_in(out_path, "\"g\":\"two\"") + 3, 20);
    ck_assert_uint_le(count_in(out_path, "\"g\":\"one\""), ones + 1); /* one in flight at most */

    /* failures: 503, then an answer that is no list; the targets stay */
    sd_body = NULL;
    wait_for(err_path, "refresh failed: server returned HTTP 503", 1, 20);
    sd_body = "{\"not\":\"a list\"}";
    wait_for(err_path, "refresh failed: expected a JSON list of target groups", 1, 20);
    size_t twos = count_in(out_path, "\"g\":\"two\"");
    wait_for(out_path, "\"g\":\"two\"", twos + 3, 20);
    snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%u/metrics", status_port);
    long code = 0;
    char *m = NULL;
    for (int i = 0; i < 2; i++) {
        free(m);
        m = testutil_http(metrics_url, NULL, 2000, &code);
    }
    ck_assert_int_eq(code, 200);
    const char *f = strstr(m, "pollster_sd_refresh_failures_total{job=\"sd\",mechanism=\"http\"} ");
    ck_assert_msg(f != NULL, "%s", m);
    ck_assert_int_ge(atoi(f + strlen("pollster_sd_refresh_failures_total{job=\"sd\","
                                     "mechanism=\"http\"} ")),
                     2);
    ck_assert_ptr_nonnull(strstr(m, "pollster_sd_refreshes_total{job=\"sd\",mechanism=\"http\"}"));
    free(m);
    kill(p, SIGTERM);
    ck_assert_int_eq(reap(p, 30 * slow()), 0);
    ck_assert_uint_eq(count_in(err_path, "hunter2"), 0);
    ck_assert_uint_ge(count_in(err_path, "http_sd http://127.0.0.1:"), 1);

    /* the SD server is down: a restart scrapes the persisted list (and says SD failed) */
    sd_server_stop();
    size_t before = count_in(out_path, "\"g\":\"two\"");
    p = spawn((const char *const[]){"--once", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 1);
    ck_assert_uint_eq(count_in(out_path, "\"g\":\"two\""), before + 1);
    ck_assert_uint_ge(count_in(err_path, "refresh failed: connect"), 1);
    p = spawn((const char *const[]){"--check-config", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 0);
    ck_assert_uint_eq(count_in(out_path, "1 job, 1 target, 1 output"), 1);
    char b[32];
    snprintf(text, sizeof(text),
             "  http_sd http://127.0.0.1:%u/sd, refresh %s, last good list in %s/state/sd-sd-http-",
             sd_port, conf_fmt_ms(100 * slow(), b, sizeof(b)), dir);
    ck_assert_msg(count_in(out_path, text) == 1, "no \"%s\"", text);
}
END_TEST

/* Without a state directory the list lives in memory: a restart during an outage has none. */
START_TEST(test_http_sd_memory_only)
{
    char text[1024], list[300];

    unsetenv("STATE_DIRECTORY");
    snprintf(list, sizeof(list),
             "[{\"targets\":[\"127.0.0.1:%u\"],\"labels\":{\"__metrics_path__\":\"/simple\"}}]",
             mport);
    snprintf(text, sizeof(text),
             "scrape_configs:\n"
             "  - job_name: sd\n"
             "    http_sd_configs: [{url: 'http://127.0.0.1:%u/sd'}]\n",
             sd_port);
    write_text(cfg, text);
    sd_body = list;
    sd_type = "application/json; charset=utf-8";
    pid_t p = spawn((const char *const[]){"--once", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 0);
    ck_assert_uint_eq(count_in(out_path, "\"ok\":true"), 1);
    /* Prometheus' Content-Type rule */
    sd_type = "text/plain";
    p = spawn((const char *const[]){"--once", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 1);
    ck_assert_uint_ge(count_in(err_path, "unsupported Content-Type \"text/plain\""), 1);
    sd_type = "application/json";
    sd_server_stop();
    p = spawn((const char *const[]){"--once", "-c", cfg, NULL});
    ck_assert_int_eq(reap(p, 30 * slow()), 1);
    ck_assert_uint_eq(count_in(out_path, "\"ok\":true"), 1); /* no target this time */
    ck_assert_uint_eq(count_in(err_path, "cannot read the cached"), 0);
}
END_TEST

/*
 * SIGTERM stops discovery: a fetch that hangs (its deadline is the refresh interval, 30 s here)
 * does not hold the drain until shutdown_timeout (20 s here).
 */
START_TEST(test_hanging_sd_does_not_delay_shutdown)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "global: {scrape_interval: 1s, shutdown_timeout: 20s}\n"
             "scrape_configs:\n"
             "  - job_name: sd\n"
             "    metrics_path: /simple\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    http_sd_configs: [{url: 'http://127.0.0.1:%u/hang', refresh_interval: 30s}]\n",
             mport, mport);
    write_text(cfg, text);
    pid_t p = spawn((const char *const[]){"-c", cfg, NULL});
    wait_for(out_path, "\"ok\":true", 1, 20);
    double t0 = now_s();
    kill(p, SIGTERM);
    ck_assert_int_eq(reap(p, 30 * slow()), 0);
    ck_assert_msg(now_s() - t0 < 3.0 * slow(), "exit took %.1f s", now_s() - t0);
    ck_assert_uint_eq(count_in(err_path, "timeout reached"), 0);
}
END_TEST

static Suite *
sd_suite(void)
{
    Suite *s = suite_create("sd");
    TCase *tc = tcase_create("config");
    tcase_add_loop_test(tc, test_bad_config, 0, sizeof(bad_configs) / sizeof(bad_configs[0]));
    tcase_add_test(tc, test_config_defaults);
    tcase_add_loop_test(tc, test_answer, 0, sizeof(answers) / sizeof(answers[0]));
    suite_add_tcase(s, tc);

    TCase *te = tcase_create("http_sd");
    tcase_add_checked_fixture(te, e2e_setup, e2e_teardown);
    tcase_add_test(te, test_http_sd_lifecycle);
    tcase_add_test(te, test_http_sd_memory_only);
    tcase_add_test(te, test_hanging_sd_does_not_delay_shutdown);
    tcase_set_timeout(te, 240);
    suite_add_tcase(s, te);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sd_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
