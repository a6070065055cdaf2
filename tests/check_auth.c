/*
 * End-to-end tests of the HTTP client settings as a pasted prometheus.yml writes them: every
 * auth kind (basic_auth with password or username/password files, bearer_token(_file),
 * authorization with a custom type or credentials_file, oauth2 client credentials against an
 * evhttp token endpoint, http_headers values/secrets/files) on every job kind (scrape_configs,
 * probes, json_jobs) and on the http output, checking the exact headers the server received;
 * oauth2 token caching and failures; proxy_url / no_proxy / proxy_from_environment with an
 * evhttp proxy that records the request line; TLS (ca, ca_file, client certificates, versions)
 * against `openssl s_server` with certificates made at test time.
 * Every config goes through config_load_string and setup_targets (or the output registry), the
 * code path of the daemon.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../agent/config.h" /* the config module, not autoconf's header */
#include "engine.h"
#include "loop.h"
#include "mock_server.h"
#include "mock_sink.h"
#include "output.h"
#include "outputs.h"
#include "setup.h"
#include "strbuf.h"
#include "testutil.h"

static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;
static int pipefd[2];
static struct mock_sink *sink;
static char dir[64]; /* secret files */

/* An evhttp server of the test's own: the token endpoint and the forward proxy. */
struct side {
    struct evhttp *http;
    unsigned port;
    unsigned requests;
    int status;         /* token: the answer's status (0: 200) */
    int expires_in;     /* token: 0 = no expires_in */
    bool params_only;   /* token: 401 unless the credentials come in the form */
    const char *answer; /* token: this body instead of the JSON token */
    const char *ctype;  /* token: its Content-Type */
    char auth[256];     /* the last request's Authorization */
    char body[512];     /* the last request's body */
    char uri[512];      /* the last request's URI as sent (a proxy sees absolute URIs) */
    char headers[2048]; /* the last request's headers, "Name: value\n" */
};
static struct side token, proxy;

static void
side_record(struct side *s, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *a = evhttp_find_header(h, "Authorization");
    size_t n = evbuffer_get_length(in), off = 0;

    s->requests++;
    snprintf(s->auth, sizeof(s->auth), "%s", a != NULL ? a : "");
    snprintf(s->uri, sizeof(s->uri), "%s", evhttp_request_get_uri(req));
    n = n < sizeof(s->body) - 1 ? n : sizeof(s->body) - 1;
    evbuffer_copyout(in, s->body, n);
    s->body[n] = '\0';
    s->headers[0] = '\0';
    for (struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        off += (size_t)snprintf(s->headers + off,
                                off < sizeof(s->headers) ? sizeof(s->headers) - off : 0, "%s: %s\n",
                                kv->key, kv->value);
        if (off >= sizeof(s->headers)) {
            break;
        }
    }
}

static void
token_cb(struct evhttp_request *req, void *arg)
{
    struct side *s = arg;
    struct evbuffer *out = evbuffer_new();

    side_record(s, req);
    if ((s->status != 0 && s->status != 200) ||
        (s->params_only && (s->auth[0] != '\0' || strstr(s->body, "client_secret=") == NULL))) {
        evbuffer_add_printf(out, "{\"error\":\"invalid_client\"}");
        evhttp_send_reply(req, s->status, "No", out);
    }
    else if (s->answer != NULL) {
        evbuffer_add_printf(out, "%s", s->answer);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", s->ctype);
        evhttp_send_reply(req, 200, "OK", out);
    }
    else {
        evbuffer_add_printf(out, "{\"access_token\":\"t0ken\",\"token_type\":\"bearer\"");
        if (s->expires_in > 0) {
            evbuffer_add_printf(out, ",\"expires_in\":%d", s->expires_in);
        }
        evbuffer_add_printf(out, "}");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_send_reply(req, 200, "OK", out);
    }
    evbuffer_free(out);
}

/* The proxy answers every request itself, with a tiny exposition (it needs no upstream). */
static void
proxy_cb(struct evhttp_request *req, void *arg)
{
    struct side *s = arg;
    struct evbuffer *out = evbuffer_new();

    side_record(s, req);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT) {
        evhttp_send_reply(req, 403, "Forbidden", NULL);
    }
    else {
        evbuffer_add_printf(out, "via_proxy 1\n");
        evhttp_send_reply(req, 200, "OK", out);
    }
    evbuffer_free(out);
}

static void
side_start(struct side *s, void (*cb)(struct evhttp_request *, void *))
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(s, 0, sizeof(*s));
    s->http = evhttp_new(loop_base(lp));
    ck_assert_ptr_nonnull(s->http);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_CONNECT);
    evhttp_set_gencb(s->http, cb, s);
    bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    ck_assert_ptr_nonnull(bs);
    ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
}

static void
put_file(const char *name, const char *text)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void
setup(void)
{
    testutil_once_setup(&lp, &mock, &eng, pipefd);
    sink = mock_sink_new(loop_base(lp));
    ck_assert_ptr_nonnull(sink);
    side_start(&token, token_cb);
    side_start(&proxy, proxy_cb);
    snprintf(dir, sizeof(dir), "%s/check_auth.XXXXXX", "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    put_file("pw", "s3cret\n");
    put_file("user", "  u\n");
    put_file("token", "s3cret\n");
    put_file("hdr", "f3\n");
    put_file("client_secret", "s3cret\n");
}

static void
teardown(void)
{
    static const char *const files[] = {"pw", "user", "token", "hdr", "client_secret"};
    char path[128];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    evhttp_free(token.http);
    evhttp_free(proxy.http);
    mock_sink_free(sink);
    testutil_once_teardown(lp, mock, eng, pipefd);
}

/* @tmpl with @PORT@ (target), @TOK@ (token endpoint), @PROXY@, @SINK@, @DIR@ replaced. */
static void
expand(const char *tmpl, char *out, size_t outlen)
{
    struct strbuf sb;
    char num[16];

    strbuf_init(&sb);
    for (const char *p = tmpl; *p != '\0';) {
        static const char *const keys[] = {"@PORT@", "@TOK@", "@PROXY@", "@SINK@", "@DIR@"};
        size_t k = 0;
        while (k < 5 && strncmp(p, keys[k], strlen(keys[k])) != 0) {
            k++;
        }
        if (k == 5) {
            strbuf_putc(&sb, *p++);
            continue;
        }
        unsigned ports[] = {mock_server_port(mock), token.port, proxy.port, mock_sink_port(sink),
                            0};
        if (k == 4) {
            strbuf_puts(&sb, dir);
        }
        else {
            snprintf(num, sizeof(num), "%u", ports[k]);
            strbuf_puts(&sb, num);
        }
        p += strlen(keys[k]);
    }
    ck_assert(!sb.oom && sb.len < outlen);
    memcpy(out, sb.data, sb.len + 1);
    strbuf_release(&sb);
}

static struct config *
load(const char *tmpl)
{
    char yaml[4096];
    struct config_errors errs;

    expand(tmpl, yaml, sizeof(yaml));
    config_errors_init(&errs);
    struct config *c = config_load_string("pollster.yaml", yaml, strlen(yaml), &errs);
    if (c == NULL) {
        char text[2048] = "";
        for (size_t i = 0; i < errs.n; i++) {
            strncat(text, errs.v[i].text, sizeof(text) - strlen(text) - 2);
            strcat(text, "\n");
        }
        ck_abort_msg("config rejected:\n%s\n%s", yaml, text);
    }
    config_errors_release(&errs);
    return c;
}

/* Runs every job of @tmpl once; returns the batches (caller puts). */
static json_object *
run_jobs(const char *tmpl)
{
    char err[512];
    struct config *c = load(tmpl);

    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    engine_run_once(eng);
    json_object *lines = testutil_read_lines(pipefd[0]);
    config_free(c);
    return lines;
}

/* The poll of run_until. */
struct waiter {
    bool (*fn)(void);
    struct event *ev;
    struct timespec deadline;
    bool met;
};

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    struct timespec now;
    struct timeval tv = {0, 2000};

    (void)fd;
    (void)what;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (w->fn()) {
        w->met = true;
        loop_stop(lp);
        return;
    }
    if (now.tv_sec > w->deadline.tv_sec ||
        (now.tv_sec == w->deadline.tv_sec && now.tv_nsec >= w->deadline.tv_nsec)) {
        loop_stop(lp);
        return;
    }
    evtimer_add(w->ev, &tv);
}

/* Runs the loop until @fn says so or 3 s passed; whether @fn was met. */
static bool
run_until(bool (*fn)(void))
{
    struct waiter w = {.fn = fn};
    struct timeval tv = {0, 1000};

    clock_gettime(CLOCK_MONOTONIC, &w.deadline);
    w.deadline.tv_sec += 3;
    w.ev = evtimer_new(loop_base(lp), poll_cb, &w);
    evtimer_add(w.ev, &tv);
    loop_run(lp);
    event_free(w.ev);
    return w.met;
}

static bool
sink_got_one(void)
{
    return mock_sink_requests(sink) >= 1;
}

/* Opens the first output of @tmpl, sends one line through it; returns the sink's headers. */
static const char *
run_output(const char *tmpl)
{
    char err[512];
    struct config *c = load(tmpl);
    struct output out = {0};

    ck_assert_msg(
        c->outputs[0].type->open(&c->outputs[0], "outputs[0]", lp, &out, err, sizeof(err)) == 0,
        "%s", err);
    ck_assert_int_eq(out.ops->write(out.state, "{\"n\":1}\n", 8, 1), 0);
    out.ops->drain(out.state);
    ck_assert_msg(run_until(sink_got_one), "the sink got nothing");
    out.ops->free(out.state);
    config_free(c);
    return mock_sink_headers(sink);
}

#define PROM_JOB                                                                                   \
    "scrape_configs:\n"                                                                            \
    "  - job_name: prom\n"                                                                         \
    "    metrics_path: /simple\n"                                                                  \
    "    static_configs: [{targets: ['127.0.0.1:@PORT@']}]\n"
#define PROBE_JOB                                                                                  \
    "probes:\n"                                                                                    \
    "  - name: probe\n"                                                                            \
    "    urls: ['http://127.0.0.1:@PORT@/ok']\n"
#define JSON_JOB                                                                                   \
    "json_jobs:\n"                                                                                 \
    "  - name: json\n"                                                                             \
    "    url: 'http://127.0.0.1:@PORT@/file/json_es_cluster_health.json'\n"                        \
    "    metrics: [{name: es_active_shards, path: active_shards}]\n"
#define HTTP_OUT                                                                                   \
    "outputs:\n"                                                                                   \
    "  - type: http\n"                                                                             \
    "    url: 'http://127.0.0.1:@SINK@/write'\n"

static const char *const jobs[] = {PROM_JOB, PROBE_JOB, JSON_JOB, HTTP_OUT};
#define NJOBS 4

/* Each auth kind as a pasted prometheus.yml writes it, and the header line it must send. */
static const struct {
    const char *name;
    const char *yaml;
    const char *want[3]; /* header lines the server must see */
} auths[] = {
    {"basic_auth",
     "    basic_auth: {username: u, password: s3cret}\n",
     {"Authorization: Basic dTpzM2NyZXQ="}},
    {"basic_auth password_file",
     "    basic_auth: {username: u, password_file: @DIR@/pw}\n",
     {"Authorization: Basic dTpzM2NyZXQ="}},
    {"basic_auth username_file",
     "    basic_auth: {username_file: @DIR@/user, password_file: @DIR@/pw}\n",
     {"Authorization: Basic dTpzM2NyZXQ="}},
    {"bearer_token", "    bearer_token: s3cret\n", {"Authorization: Bearer s3cret"}},
    {"bearer_token_file", "    bearer_token_file: @DIR@/token\n", {"Authorization: Bearer s3cret"}},
    {"authorization",
     "    authorization: {credentials: s3cret}\n",
     {"Authorization: Bearer s3cret"}},
    {"authorization custom type",
     "    authorization: {type: Token, credentials: s3cret}\n",
     {"Authorization: Token s3cret"}},
    {"authorization credentials_file",
     "    authorization: {type: ApiKey, credentials_file: @DIR@/token}\n",
     {"Authorization: ApiKey s3cret"}},
    {"oauth2",
     "    oauth2:\n"
     "      client_id: id\n"
     "      client_secret: s3cret\n"
     "      token_url: http://127.0.0.1:@TOK@/token\n"
     "      scopes: [read, 'write:all']\n"
     "      endpoint_params: {audience: 'https://x/'}\n",
     {"Authorization: Bearer t0ken"}},
    {"oauth2 client_secret_file",
     "    oauth2:\n"
     "      client_id: id\n"
     "      client_secret_file: @DIR@/client_secret\n"
     "      token_url: http://127.0.0.1:@TOK@/token\n",
     {"Authorization: Bearer t0ken"}},
    {"http_headers",
     "    http_headers:\n"
     "      X-Scope-OrgID: {values: [v1], secrets: [s3cret], files: [@DIR@/hdr]}\n"
     "      X-Other: {values: [o]}\n",
     {"X-Scope-OrgID: v1", "X-Scope-OrgID: s3cret", "X-Scope-OrgID: f3"}},
};
#define NAUTHS (sizeof(auths) / sizeof(auths[0]))

/* Every auth kind on every job kind and on the http output: the exact header lines arrive. */
START_TEST(test_every_auth_on_every_kind)
{
    const size_t a = (size_t)_i / NJOBS, k = (size_t)_i % NJOBS;
    char tmpl[2048];
    const char *seen;

    snprintf(tmpl, sizeof(tmpl), "%s%s", jobs[k], auths[a].yaml);
    if (k == 3) {
        seen = run_output(tmpl);
    }
    else {
        /* The target refuses a request without the right Authorization (401). */
        if (strncmp(auths[a].want[0], "Authorization: ", 15) == 0) {
            mock_server_require_auth(mock, auths[a].want[0] + 15);
        }
        json_object *lines = run_jobs(tmpl);
        ck_assert_int_eq(json_object_array_length(lines), 1);
        json_object *b = json_object_array_get_idx(lines, 0);
        ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s on %s: %s",
                      auths[a].name, jobs[k], testutil_str(b, "error"));
        /* No secret in any output. */
        ck_assert_ptr_null(strstr(json_object_to_json_string(lines), "s3cret"));
        json_object_put(lines);
        seen = mock_server_last_headers(mock);
    }
    for (size_t i = 0; i < 3 && auths[a].want[i] != NULL; i++) {
        char line[128];
        snprintf(line, sizeof(line), "%s\n", auths[a].want[i]);
        ck_assert_msg(strstr(seen, line) != NULL, "%s on job %zu: no \"%s\" in\n%s", auths[a].name,
                      k, auths[a].want[i], seen);
    }
    if (strncmp(auths[a].name, "oauth2", 6) == 0) {
        /* The token request: client id and secret as basic auth, the form as Go sends it. */
        ck_assert_uint_eq(token.requests, 1);
        ck_assert_str_eq(token.auth, "Basic aWQ6czNjcmV0");
        if (strcmp(auths[a].name, "oauth2") == 0) {
            ck_assert_str_eq(token.body, "audience=https%3A%2F%2Fx%2F&grant_type=client_"
                                         "credentials&scope=read+write%3Aall");
        }
        else {
            ck_assert_str_eq(token.body, "grant_type=client_credentials");
        }
    }
}
END_TEST

/* The mock does reject: without credentials each kind's run fails with HTTP 401. */
START_TEST(test_no_auth_is_rejected)
{
    mock_server_require_auth(mock, "Bearer s3cret");
    json_object *lines = run_jobs(jobs[_i]);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_int_eq(json_object_get_int(testutil_field(b, "status")), 401);
    json_object_put(lines);
}
END_TEST

#define OAUTH2_JOB                                                                                 \
    PROM_JOB "    oauth2:\n"                                                                       \
             "      client_id: id\n"                                                               \
             "      client_secret: s3cret\n"                                                       \
             "      token_url: http://127.0.0.1:@TOK@/token\n"

static json_object *
scrape_again(void)
{
    engine_run_once(eng);
    return testutil_read_lines(pipefd[0]);
}

/* A token is fetched once and reused until 10 s before it expires. */
START_TEST(test_oauth2_token_is_cached)
{
    char err[512];

    token.expires_in = 3600;
    struct config *c = load(OAUTH2_JOB);
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 3; i++) {
        json_object *lines = scrape_again();
        json_object *b = json_object_array_get_idx(lines, 0);
        ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s",
                      testutil_str(b, "error"));
        json_object_put(lines);
    }
    ck_assert_uint_eq(token.requests, 1);
    config_free(c);
}
END_TEST

/* Targets with the same oauth2 settings share one token source: one request, one token. */
START_TEST(test_oauth2_token_is_shared)
{
#define OA                                                                                         \
    "    oauth2: {client_id: id, client_secret: s3cret, token_url: "                               \
    "'http://127.0.0.1:@TOK@/token'}\n"
    json_object *lines = run_jobs("scrape_configs:\n"
                                  "  - job_name: a\n"
                                  "    metrics_path: /simple\n"
                                  "    static_configs: [{targets: ['127.0.0.1:@PORT@', "
                                  "'localhost:@PORT@']}]\n" OA "  - job_name: b\n"
                                  "    metrics_path: /simple\n"
                                  "    static_configs: [{targets: ['127.0.0.1:@PORT@']}]\n" OA);
#undef OA
    ck_assert_uint_eq(json_object_array_length(lines), 3);
    for (size_t i = 0; i < 3; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s",
                      testutil_str(b, "error"));
    }
    ck_assert_uint_eq(token.requests, 1);
    ck_assert_msg(strstr(mock_server_last_headers(mock), "Authorization: Bearer t0ken\n") != NULL,
                  "%s", mock_server_last_headers(mock));
    json_object_put(lines);
}
END_TEST

/*
 * An endpoint that wants the credentials in the form: basic auth is tried first and refused, then
 * the form works, as with Go's oauth2; the style is remembered for the next fetch.
 */
START_TEST(test_oauth2_credentials_in_form)
{
    char err[512];

    token.params_only = true;
    token.expires_in = 5; /* within the margin: every run fetches */
    struct config *c = load(OAUTH2_JOB "      endpoint_params: {audience: a}\n");
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    json_object *lines = scrape_again();
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    json_object_put(lines);
    ck_assert_uint_eq(token.requests, 2);
    ck_assert_str_eq(token.auth, "");
    ck_assert_str_eq(token.body,
                     "audience=a&client_id=id&client_secret=s3cret&grant_type=client_credentials");
    lines = scrape_again();
    ck_assert(json_object_get_boolean(testutil_field(json_object_array_get_idx(lines, 0), "ok")));
    json_object_put(lines);
    ck_assert_uint_eq(token.requests, 3);
    config_free(c);
}
END_TEST

/* A token that expires within the 10 s margin is fetched anew for every scrape. */
START_TEST(test_oauth2_short_token_is_refetched)
{
    char err[512];

    token.expires_in = 5;
    struct config *c = load(OAUTH2_JOB);
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 2; i++) {
        json_object *lines = scrape_again();
        ck_assert(
            json_object_get_boolean(testutil_field(json_object_array_get_idx(lines, 0), "ok")));
        json_object_put(lines);
    }
    ck_assert_uint_eq(token.requests, 2);
    config_free(c);
}
END_TEST

/* A failed token fetch fails the scrape with its reason; the target is not asked. */
START_TEST(test_oauth2_failure_fails_the_scrape)
{
    unsigned before = mock_server_requests(mock);

    token.status = 401;
    json_object *lines = run_jobs(OAUTH2_JOB);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "http_4xx");
    ck_assert_str_eq(testutil_str(b, "error"), "oauth2: token endpoint answered HTTP 401");
    ck_assert_uint_eq(mock_server_requests(mock), before);
    ck_assert_ptr_null(strstr(json_object_to_json_string(lines), "s3cret"));
    json_object_put(lines);
}
END_TEST

/* Token answers as Go's oauth2 reads them: forms (also as text/plain), JSON; bad ones fail. */
START_TEST(test_oauth2_token_encodings)
{
    static const struct {
        const char *ctype, *answer, *want, *error;
    } cases[] = {
        {"application/x-www-form-urlencoded", "access_token=f%2Frm&token_type=bearer&scope=x",
         "Bearer f/rm", NULL},
        {"text/plain; charset=utf-8", "token_type=mac&access_token=t3xt", "MAC t3xt", NULL},
        {"application/json", "{\"access_token\":\"j\",\"token_type\":\"Custom\"}", "Custom j",
         NULL},
        {"application/json", "{\"token_type\":\"bearer\"}", NULL,
         "oauth2: token response has no access_token"},
        {"application/json", "[1]", NULL, "oauth2: token response is not a JSON object"},
        {"application/x-www-form-urlencoded", "access_token=%zz", NULL,
         "oauth2: token response is not valid form encoding"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char tmpl[512];
        token.answer = cases[i].answer;
        token.ctype = cases[i].ctype;
        char job[16];
        /* a job (and a token source: the scope differs) of its own for each case */
        snprintf(job, sizeof(job), "enc%zu", i);
        snprintf(tmpl, sizeof(tmpl),
                 "scrape_configs:\n"
                 "  - job_name: %s\n"
                 "    metrics_path: /simple\n"
                 "    static_configs: [{targets: ['127.0.0.1:@PORT@']}]\n"
                 "    oauth2: {client_id: id, scopes: [%s], token_url: "
                 "'http://127.0.0.1:@TOK@/token'}\n",
                 job, job);
        /* The target answers 401 unless the Authorization is exactly the token's. */
        mock_server_require_auth(mock, cases[i].want);
        json_object *lines = run_jobs(tmpl), *b = NULL;
        for (size_t k = 0; k < json_object_array_length(lines); k++) {
            if (strcmp(testutil_str(json_object_array_get_idx(lines, k), "job"), job) == 0) {
                b = json_object_array_get_idx(lines, k);
            }
        }
        ck_assert_ptr_nonnull(b);
        if (cases[i].want != NULL) {
            ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "case %zu: %s", i,
                          testutil_str(b, "error"));
        }
        else {
            ck_assert_str_eq(testutil_str(b, "reason"), "parse");
            ck_assert_str_eq(testutil_str(b, "error"), cases[i].error);
        }
        json_object_put(lines);
    }
}
END_TEST

/* A probe whose token cannot be had reports probe_success 0 and no figures of an earlier run. */
START_TEST(test_oauth2_failure_fails_the_probe)
{
    char err[512];

    token.expires_in = 1; /* within the margin: every run fetches */
    struct config *c = load(PROBE_JOB "    oauth2: {client_id: id, client_secret: s3cret, "
                                      "token_url: 'http://127.0.0.1:@TOK@/token'}\n");
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    json_object *lines = scrape_again();
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_double_eq(testutil_sample_value(b, "probe_http_status_code", NULL, NULL), 200);
    json_object_put(lines);

    token.status = 503;
    lines = scrape_again();
    b = json_object_array_get_idx(lines, 0);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_str_eq(testutil_str(b, "reason"), "http_5xx");
    ck_assert_double_eq(testutil_sample_value(b, "probe_success", NULL, NULL), 0);
    ck_assert_double_eq(testutil_sample_value(b, "probe_http_status_code", NULL, NULL), 0);
    ck_assert_int_eq(json_object_get_int(testutil_field(b, "status")), 0);
    json_object_put(lines);
    config_free(c);
}
END_TEST

START_TEST(test_oauth2_endpoint_down)
{
    char tmpl[1024];

    snprintf(tmpl, sizeof(tmpl),
             PROM_JOB "    oauth2: {client_id: id, client_secret: s, token_url: "
                      "'http://127.0.0.1:%u/token'}\n",
             mock_closed_port());
    json_object *lines = run_jobs(tmpl);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_str_eq(testutil_str(b, "reason"), "connect");
    ck_assert_msg(strncmp(testutil_str(b, "error"), "oauth2: token request failed: ", 30) == 0,
                  "%s", testutil_str(b, "error"));
    json_object_put(lines);
}
END_TEST

static struct output failing_out;

static bool
output_failed(void)
{
    struct output_stats st;

    memset(&st, 0, sizeof(st));
    failing_out.ops->stats(failing_out.state, &st);
    return st.failed_requests >= 1;
}

/* The http output: a failed token fetch fails the request (retried later); the sink sees none. */
START_TEST(test_oauth2_failure_fails_the_output_request)
{
    char err[512];

    token.status = 401;
    struct config *c = load(HTTP_OUT "    oauth2: {client_id: id, client_secret: s3cret, "
                                     "token_url: 'http://127.0.0.1:@TOK@/token'}\n");
    ck_assert_int_eq(
        c->outputs[0].type->open(&c->outputs[0], "outputs[0]", lp, &failing_out, err, sizeof(err)),
        0);
    ck_assert_int_eq(failing_out.ops->write(failing_out.state, "{\"n\":1}\n", 8, 1), 0);
    failing_out.ops->drain(failing_out.state);
    ck_assert(run_until(output_failed));
    /* basic auth, then the credentials in the form: both refused */
    ck_assert_uint_eq(token.requests, 2);
    ck_assert_uint_eq(mock_sink_requests(sink), 0);
    failing_out.ops->free(failing_out.state);
    config_free(c);
}
END_TEST

/* proxy_url: the request goes to the proxy with the target's absolute URL. */
START_TEST(test_proxy_url)
{
    char tmpl[1024], want[128];
    unsigned closed = mock_closed_port();

    snprintf(tmpl, sizeof(tmpl),
             "scrape_configs:\n"
             "  - job_name: p\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    proxy_url: http://127.0.0.1:@PROXY@/\n"
             "    basic_auth: {username: u, password: s3cret}\n",
             closed);
    json_object *lines = run_jobs(tmpl);
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert_double_eq(testutil_sample_value(b, "via_proxy", NULL, NULL), 1);
    snprintf(want, sizeof(want), "http://127.0.0.1:%u/metrics", closed);
    ck_assert_str_eq(proxy.uri, want);
    ck_assert_str_eq(proxy.auth, "Basic dTpzM2NyZXQ=");
    json_object_put(lines);
}
END_TEST

/* no_proxy: a listed host is reached directly. */
START_TEST(test_no_proxy)
{
    json_object *lines = run_jobs(PROM_JOB "    proxy_url: http://127.0.0.1:@PROXY@/\n"
                                           "    no_proxy: 127.0.0.1\n");
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s", testutil_str(b, "error"));
    ck_assert_uint_eq(proxy.requests, 0);
    json_object_put(lines);
}
END_TEST

/* Without proxy_from_environment the environment's proxy is not used; with it, it is. */
START_TEST(test_proxy_from_environment)
{
    char env[64], tmpl[512], want[128];
    unsigned closed = mock_closed_port();

    snprintf(env, sizeof(env), "http://127.0.0.1:%u/", proxy.port);
    setenv("http_proxy", env, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    json_object *lines = run_jobs(PROM_JOB);
    ck_assert(json_object_get_boolean(testutil_field(json_object_array_get_idx(lines, 0), "ok")));
    ck_assert_uint_eq(proxy.requests, 0);
    json_object_put(lines);

    snprintf(tmpl, sizeof(tmpl),
             "scrape_configs:\n"
             "  - job_name: envp\n"
             "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
             "    proxy_from_environment: true\n",
             closed);
    lines = run_jobs(tmpl); /* both jobs run again: only envp goes through the proxy */
    ck_assert_uint_eq(json_object_array_length(lines), 2);
    ck_assert_uint_eq(proxy.requests, 1);
    snprintf(want, sizeof(want), "http://127.0.0.1:%u/metrics", closed);
    ck_assert_str_eq(proxy.uri, want);
    json_object_put(lines);
    unsetenv("http_proxy");
}
END_TEST

/* proxy_connect_header goes to the proxy with CONNECT (an https target). */
START_TEST(test_proxy_connect_header)
{
    json_object *lines =
        run_jobs("probes:\n"
                 "  - name: p\n"
                 "    urls: ['https://127.0.0.1:@PORT@/ok']\n"
                 "    proxy_url: http://127.0.0.1:@PROXY@/\n"
                 "    proxy_connect_header: {Proxy-Authorization: ['Basic cHg6cHc=']}\n"
                 "    http_headers: {X-Server-Only: {values: [yes]}}\n");
    json_object *b = json_object_array_get_idx(lines, 0);
    ck_assert(!json_object_get_boolean(testutil_field(b, "ok")));
    ck_assert_uint_eq(proxy.requests, 1);
    ck_assert_msg(strstr(proxy.headers, "Proxy-Authorization: Basic cHg6cHc=\n") != NULL, "%s",
                  proxy.headers);
    /* The request's own headers are not sent to the proxy. */
    ck_assert_msg(strstr(proxy.headers, "X-Server-Only") == NULL, "%s", proxy.headers);
    json_object_put(lines);
}
END_TEST

/* scrape_protocols: the Accept header follows the order, with Prometheus' q-values. */
START_TEST(test_scrape_protocols_accept)
{
    json_object *lines = run_jobs(PROM_JOB "    scrape_protocols: [PrometheusText0.0.4, "
                                           "OpenMetricsText1.0.0]\n");
    ck_assert(json_object_get_boolean(testutil_field(json_object_array_get_idx(lines, 0), "ok")));
    ck_assert_msg(strstr(mock_server_last_headers(mock),
                         "Accept: text/plain;version=0.0.4;q=0.6,application/openmetrics-text;"
                         "version=1.0.0;q=0.5,*/*;q=0.4\n") != NULL,
                  "%s", mock_server_last_headers(mock));
    json_object_put(lines);
}
END_TEST

/* global's scrape settings are every scrape job's defaults; a job's own keys win. */
START_TEST(test_global_scrape_defaults)
{
    json_object *lines = run_jobs("global:\n"
                                  "  scrape_protocols: [OpenMetricsText0.0.1]\n"
                                  "  label_limit: 2\n"
                                  "  sample_limit: 1000\n"
                                  "  body_size_limit: 1KiB\n" PROM_JOB "  - job_name: own\n"
                                  "    metrics_path: /simple\n"
                                  "    static_configs: [{targets: ['localhost:@PORT@']}]\n"
                                  "    label_limit: 3\n"
                                  "    scrape_protocols: [PrometheusText0.0.4]\n");
    ck_assert_uint_eq(json_object_array_length(lines), 2);
    for (size_t i = 0; i < 2; i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        const char *job = testutil_str(b, "job");
        if (strcmp(job, "prom") == 0) {
            /* up_like{job, instance} and __name__: 3 labels over global's 2 */
            ck_assert_str_eq(testutil_str(b, "error"),
                             "label_limit exceeded (metric: up_like, number of labels: 3, limit: "
                             "2)");
        }
        else {
            ck_assert_msg(json_object_get_boolean(testutil_field(b, "ok")), "%s",
                          testutil_str(b, "error"));
        }
    }
    json_object_put(lines);

    struct config *c = load("global: {scrape_protocols: [OpenMetricsText0.0.1], body_size_limit: "
                            "1KiB, sample_limit: 7}\n" PROM_JOB);
    ck_assert_uint_eq(c->jobs[0].body_size_limit, 1024);
    config_free(c);
    /* the Accept header of a job that inherits global's protocols */
    lines = run_jobs("global: {scrape_protocols: [OpenMetricsText0.0.1]}\n" PROM_JOB);
    ck_assert_msg(strstr(mock_server_last_headers(mock),
                         "Accept: application/openmetrics-text;version=0.0.1;q=0.6,*/*;q=0.5\n") !=
                      NULL,
                  "%s", mock_server_last_headers(mock));
    json_object_put(lines);
}
END_TEST

/* A reload that changes an output's credentials or proxy reopens it; an equal one keeps it. */
START_TEST(test_output_identity_covers_client_settings)
{
    struct config *a = load(HTTP_OUT "    bearer_token: one\n");
    struct config *b = load(HTTP_OUT "    bearer_token: one\n");
    struct config *c = load(HTTP_OUT "    bearer_token: two\n");
    struct config *d = load(HTTP_OUT "    bearer_token: one\n    proxy_url: http://p:1/\n");

    ck_assert(setup_same_outputs(a, b));
    ck_assert(!setup_same_outputs(a, c));
    ck_assert(!setup_same_outputs(a, d));
    config_free(a);
    config_free(b);
    config_free(c);
    config_free(d);
}
END_TEST

/* --check-config and the daemon share the loader: what it refuses, both refuse. */
START_TEST(test_refused_at_load)
{
    static const struct {
        const char *yaml, *error;
    } cases[] = {
        {PROM_JOB "    tls_config: {server_name: x}\n",
         "pollster.yaml:5:31: tls_config.server_name is not supported"},
        {PROM_JOB "    proxy_url: http://p:1/\n    proxy_from_environment: true\n",
         "pollster.yaml:5:5: if proxy_from_environment is set, proxy_url must not be set"},
        {PROM_JOB "    no_proxy: x\n", "pollster.yaml:5:5: no_proxy needs proxy_url"},
        /* the proxy's password is not echoed */
        {PROM_JOB "    proxy_url: 'ftp://u:pw@p:1/'\n",
         "pollster.yaml:5:16: invalid proxy_url \"ftp://p:1/\": expected http://, https://, "
         "socks5:// or socks5h:// and host:port"},
        {PROM_JOB "    proxy_connect_header: {A: [b]}\n",
         "pollster.yaml:5:5: proxy_connect_header needs proxy_url or proxy_from_environment"},
        {PROM_JOB "    oauth2: {client_id: a, token_url: 'http://t/'}\n"
                  "    basic_auth: {username: u}\n",
         "pollster.yaml:6:5: at most one of oauth2 and basic_auth may be set"},
        {PROM_JOB "    oauth2: {client_id: a}\n", "pollster.yaml:5:13: oauth2 needs token_url"},
        {PROM_JOB "    oauth2: {token_url: 'ftp://t/', client_id: a}\n",
         "pollster.yaml:5:25: invalid oauth2 token_url \"ftp://t/\""},
        {PROM_JOB "    http_headers: {Authorization: {values: [x]}}\n",
         "pollster.yaml:5:20: http_headers cannot set \"Authorization\""},
        {PROM_JOB "    http_headers: {X-A: {value: [x]}}\n",
         "pollster.yaml:5:26: unknown key \"value\" in http_headers.X-A"},
        {PROM_JOB "    tls_config: {min_version: TLS13, max_version: TLS12}\n",
         "pollster.yaml:5:51: tls_config max_version (TLS12) must not be lower than min_version"},
        {PROM_JOB "    tls_config: {ca: x, ca_file: /dev/null}\n",
         "pollster.yaml:5:34: at most one of tls_config ca and ca_file may be set"},
        {PROM_JOB "    scrape_protocols: [PrometheusProto]\n",
         "pollster.yaml:5:24: scrape protocol \"PrometheusProto\" is not supported"},
        {PROM_JOB "    scrape_protocols: [OpenMetricsText1.0.0, OpenMetricsText1.0.0]\n",
         "pollster.yaml:5:46: duplicate scrape protocol \"OpenMetricsText1.0.0\""},
        {PROM_JOB "    scrape_protocols: [Text]\n",
         "pollster.yaml:5:24: unknown scrape protocol \"Text\""},
        {"global: {scrape_protocols: [PrometheusProto]}\n" PROM_JOB,
         "pollster.yaml:3:5: global scrape protocol \"PrometheusProto\" is not supported"},
        {HTTP_OUT "    follow_redirects: true\n",
         "pollster.yaml:4:23: follow_redirects: true is not supported for an output"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[2048];
        struct config_errors errs;

        expand(cases[i].yaml, yaml, sizeof(yaml));
        config_errors_init(&errs);
        struct config *c = config_load_string("pollster.yaml", yaml, strlen(yaml), &errs);
        ck_assert_msg(c == NULL, "case %zu accepted", i);
        ck_assert_msg(errs.n >= 1 &&
                          strncmp(errs.v[0].text, cases[i].error, strlen(cases[i].error)) == 0,
                      "case %zu: got \"%s\", want \"%s...\"", i, errs.n > 0 ? errs.v[0].text : "",
                      cases[i].error);
        config_errors_release(&errs);
    }
}
END_TEST

/* A pasted prometheus.yml with every client key loads; its summary shows no secret. */
START_TEST(test_fixture_loads)
{
    char path[512];
    struct config_errors errs;
    const char *fx = getenv("FIXTURES");

    ck_assert_msg(fx != NULL, "FIXTURES is not set");
    snprintf(path, sizeof(path), "%s/config/http_client.yaml", fx);
    config_errors_init(&errs);
    struct config *c = config_load(path, &errs);
    ck_assert_msg(c != NULL, "%s", errs.n > 0 ? errs.v[0].text : "");
    ck_assert_uint_eq(c->njobs, 4);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    config_summary(f, c);
    fclose(f);
    ck_assert_msg(strstr(text, "s3cret") == NULL && strstr(text, "proxy.example.org") == NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "oauth2 auth, proxy") != NULL, "%s", text);
    free(text);
    config_free(c);
    config_errors_release(&errs);
}
END_TEST

static Suite *
auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("every_kind");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_every_auth_on_every_kind, 0, (int)(NAUTHS * NJOBS));
    tcase_add_loop_test(tc, test_no_auth_is_rejected, 0, NJOBS - 1);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("oauth2");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_oauth2_token_is_cached);
    tcase_add_test(tc, test_oauth2_token_is_shared);
    tcase_add_test(tc, test_oauth2_credentials_in_form);
    tcase_add_test(tc, test_oauth2_short_token_is_refetched);
    tcase_add_test(tc, test_oauth2_failure_fails_the_scrape);
    tcase_add_test(tc, test_oauth2_endpoint_down);
    tcase_add_test(tc, test_oauth2_failure_fails_the_probe);
    tcase_add_test(tc, test_oauth2_token_encodings);
    tcase_add_test(tc, test_oauth2_failure_fails_the_output_request);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("proxy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_url);
    tcase_add_test(tc, test_no_proxy);
    tcase_add_test(tc, test_proxy_from_environment);
    tcase_add_test(tc, test_proxy_connect_header);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("scrape");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_scrape_protocols_accept);
    tcase_add_test(tc, test_refused_at_load);
    tcase_add_test(tc, test_fixture_loads);
    tcase_add_test(tc, test_global_scrape_defaults);
    tcase_add_test(tc, test_output_identity_covers_client_settings);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
